/* Unit tests for common/front_handoff.c: a client passed with greeted=1
 * and greeted=0 arrives as the same socket (bytes written to the passed
 * end reach its peer, bytes the front only peeked at are still there),
 * blocking; a record with no descriptor, a pipe instead of a socket, an
 * unknown field, a bad value, bytes after the record and end of input
 * are refused with every received descriptor closed; a silent front
 * times out. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "front_handoff.h"
#include "sockets.h"

/* How many descriptors this process has open now. */
static int open_fds(void)
{
	int n = 0;

	for (int fd = 0; fd < 256; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static void test_front_handoff_passes_the_client_and_its_unread_line(void **state)
{
	int conn[2], client[2], greeted = -1;
	const char *error = NULL;
	char got[32], peek[8];

	(void)state;
	for (int g = 0; g <= 1; g++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client), 0);
		assert_int_equal(write(client[1], "EHLO x\r\n", 8), 8);
		/* the front peeks, consuming nothing */
		assert_int_equal(recv(client[0], peek, sizeof peek, MSG_PEEK), 8);
		fd_set_nonblock(client[0], 1);
		assert_int_equal(front_handoff_send(conn[0], client[0], g), 0);
		close(client[0]);
		close(conn[0]);
		int fd = front_handoff_receive(conn[1], 1000, &greeted, &error);
		assert_true(fd >= 0);
		assert_int_equal(greeted, g);
		assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
		assert_true((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
		assert_int_equal(read(fd, got, sizeof got), 8);
		assert_memory_equal(got, "EHLO x\r\n", 8);
		assert_int_equal(write(fd, "250 ok\r\n", 8), 8);
		assert_int_equal(read(client[1], got, sizeof got), 8);
		close(fd);
		close(conn[1]);
		close(client[1]);
	}
}

/* Send rec (with fd attached when fd >= 0) and expect a refusal. */
static void refused(const char *rec, int fd, const char *why)
{
	int conn[2], greeted = 7, before;
	const char *error = NULL;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	if (fd >= 0)
		assert_int_equal(fd_send(conn[0], fd, rec, strlen(rec)), 0);
	else if (*rec != '\0')
		assert_int_equal(write(conn[0], rec, strlen(rec)), (ssize_t)strlen(rec));
	close(conn[0]);
	before = open_fds();
	assert_int_equal(front_handoff_receive(conn[1], 1000, &greeted, &error), -1);
	assert_int_equal(greeted, 0);
	assert_non_null(error);
	assert_non_null(strstr(error, why));
	assert_int_equal(open_fds(), before);   /* whatever came was closed */
	close(conn[1]);
}

static void test_front_handoff_refuses_bad_records(void **state)
{
	int sv[2], p[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	refused("greeted=1\n\n", -1, "without a client");
	refused("greeted=1\n\n", p[0], "no connected stream socket");
	refused("greeted=1\nuser=root\n\n", sv[0], "not greeted=0 or greeted=1");
	refused("greeted=yes\n\n", sv[0], "not greeted=0 or greeted=1");
	refused("\n", sv[0], "not greeted=0 or greeted=1");
	refused("greeted=1\n\nmore", sv[0], "bytes after");
	refused("greeted=1\n", sv[0], "bad record");   /* end of input inside it */
	refused("", -1, "closed before");
	char big[FRONT_HANDOFF_RECORD_MAX + 16];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	refused(big, sv[0], "too long");
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void test_front_handoff_times_out_on_a_silent_front(void **state)
{
	int conn[2], greeted;
	const char *error = NULL;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	assert_int_equal(front_handoff_receive(conn[1], 50, &greeted, &error), -1);
	assert_non_null(strstr(error, "timeout"));
	close(conn[0]);
	close(conn[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front_handoff_passes_the_client_and_its_unread_line),
		cmocka_unit_test(test_front_handoff_refuses_bad_records),
		cmocka_unit_test(test_front_handoff_times_out_on_a_silent_front),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
