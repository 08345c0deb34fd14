/* Unit tests for common/fdrecord.c: a record's end found across reads
 * (also when its empty line is split), one descriptor taken with the
 * record, a second one refused (EPROTO) with the first kept for the
 * caller, none taken where none may come, and plain reads of a pipe. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "fdrecord.h"
#include "sockets.h"

static void test_fdrecord_end_across_reads(void **state)
{
	const char rec[] = "a=1\nb=2\n\nnext";
	size_t scanned = 0;

	(void)state;
	assert_int_equal(fdrecord_end(rec, 3, &scanned), 0);
	assert_int_equal(fdrecord_end(rec, 8, &scanned), 0);    /* "a=1\nb=2\n": the empty line not yet */
	assert_int_equal(fdrecord_end(rec, 9, &scanned), 9);    /* its second LF arrived alone */
	scanned = 0;
	assert_int_equal(fdrecord_end(rec, sizeof(rec) - 1, &scanned), 9);
	scanned = 0;
	assert_int_equal(fdrecord_end("\n", 1, &scanned), 1);   /* the empty record */
	scanned = 0;
	assert_int_equal(fdrecord_end("", 0, &scanned), 0);
}

static int pipe_fd(void)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	close(p[1]);
	return p[0];
}

static void test_fdrecord_takes_one_descriptor_and_refuses_a_second(void **state)
{
	int sv[2], fd = -1, a = pipe_fd(), b = pipe_fd();
	char buf[64];
	size_t n;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(fd_send(sv[0], a, "x=1\n", 4), 0);
	assert_int_equal(fdrecord_recv(sv[1], 0, buf, sizeof(buf), &n, &fd), 0);
	assert_int_equal(n, 4);
	assert_true(fd >= 0);
	int first = fd;
	assert_int_equal(fd_send(sv[0], b, "\n", 1), 0);
	assert_int_equal(fdrecord_recv(sv[1], 0, buf, sizeof(buf), &n, &fd), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fd, first);                            /* kept for the caller */
	close(fd);
	/* A record that may carry none. */
	fd = FDRECORD_NO_FD;
	assert_int_equal(fd_send(sv[0], a, "y", 1), 0);
	assert_int_equal(fdrecord_recv(sv[1], 0, buf, sizeof(buf), &n, &fd), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fd, FDRECORD_NO_FD);
	/* End of input. */
	fd = -1;
	close(sv[0]);
	assert_int_equal(fdrecord_recv(sv[1], 0, buf, sizeof(buf), &n, &fd), 0);
	assert_int_equal(n, 0);
	assert_int_equal(fd, -1);
	close(sv[1]);
	close(a);
	close(b);
}

static void test_fdrecord_plain_reads_a_pipe(void **state)
{
	int p[2], fd = -1;
	char buf[64];
	size_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "k=v\n\n", 5), 5);
	close(p[1]);
	assert_int_equal(fdrecord_recv(p[0], 1, buf, sizeof(buf), &n, &fd), 0);
	assert_int_equal(n, 5);
	assert_int_equal(fd, -1);
	assert_int_equal(fdrecord_recv(p[0], 1, buf, sizeof(buf), &n, &fd), 0);
	assert_int_equal(n, 0);
	close(p[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdrecord_end_across_reads),
		cmocka_unit_test(test_fdrecord_takes_one_descriptor_and_refuses_a_second),
		cmocka_unit_test(test_fdrecord_plain_reads_a_pipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
