/* Unit tests for common/fdrecord.c: a record's end found across reads
 * (also when its empty line is split), one descriptor taken with the
 * record, a second one refused (EPROTO) with the first kept for the
 * caller, none taken where none may come, and plain reads of a pipe.
 * fdrecord_read: records with 0, 1 and 2 descriptors, truncated control
 * data, a descriptor where none may come, end of input inside a record,
 * a record over the cap and a timeout; every descriptor it refuses is
 * closed (fcntl(F_GETFD) fails on its number) and the one it keeps is
 * close-on-exec. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- fdrecord_read ---- */

static const struct fdrecord_wait wait_1s = { .first_ms = 1000, .next_ms = 1000 };

/* The n lowest descriptor numbers not open now: where the next n
 * descriptors received go (an inherited one may sit between them). */
static void free_fds(int *out, int n)
{
	for (int fd = 0, k = 0; k < n; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			out[k++] = fd;
}

/* Send len bytes with the nfds descriptors in fds, in one message. */
static void send_fds(int sock, const char *p, size_t len, const int *fds, size_t nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 16)];
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	assert_true(nfds <= 16);
	memset(ctl, 0, sizeof(ctl));
	if (nfds > 0) {
		msg.msg_control = ctl;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	assert_int_equal(sendmsg(sock, &msg, 0), (ssize_t)len);
}

/* None of the n descriptor numbers in fds is open. */
static void assert_closed(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		assert_int_equal(fcntl(fds[i], F_GETFD), -1);
}

static void test_fdrecord_read_with_no_and_one_descriptor(void **state)
{
	int sv[2], fd, a = pipe_fd();
	struct buf b;
	size_t end;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* No descriptor, the record in two pieces. */
	assert_int_equal(write(sv[0], "a=1\n", 4), 4);
	assert_int_equal(write(sv[0], "\n", 1), 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), 1);
	assert_int_equal(end, 5);
	assert_int_equal(fd, -1);
	/* Bytes after the record stay in b, for the caller to judge. */
	assert_int_equal(write(sv[0], "z=0\n\nrest", 9), 9);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), 1);
	assert_int_equal(end, 5);
	assert_int_equal(b.len, 9);
	/* One descriptor, close-on-exec (MSG_CMSG_CLOEXEC). */
	send_fds(sv[0], "b=2\n\n", 5, &a, 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), 1);
	assert_int_equal(end, 5);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	close(fd);
	/* End of input before any byte. */
	close(sv[0]);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), 0);
	assert_int_equal(fd, -1);
	close(sv[1]);
	close(a);
	buf_free(&b);
}

static void test_fdrecord_read_closes_a_second_descriptor_and_the_first(void **state)
{
	int sv[2], fd, a = pipe_fd(), two[2] = { a, a }, got[16];
	struct buf b;
	size_t end;

	(void)state;
	buf_init(&b, 256);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Two in one message: the second is closed by the receive. */
	free_fds(got, 2);
	send_fds(sv[0], "c=3\n\n", 5, two, 2);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), 1);
	assert_int_equal(fd, got[0]);
	assert_closed(got + 1, 1);
	close(fd);
	/* Two in two messages of one record: both closed, EPROTO. */
	free_fds(got, 16);
	send_fds(sv[0], "d=4\n", 4, &a, 1);
	send_fds(sv[0], "\n", 1, &a, 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fd, -1);
	assert_closed(got, 2);
	/* One where none may come: closed, EPROTO. */
	free_fds(got, 16);
	send_fds(sv[0], "e=5\n\n", 5, &a, 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 0, &wait_1s, &end, &fd), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fd, -1);
	assert_closed(got, 1);
	close(sv[0]);
	close(sv[1]);
	close(a);
	buf_free(&b);
}

static void test_fdrecord_read_refuses_truncated_control_data(void **state)
{
	int sv[2], fd, a = pipe_fd(), many[16], got[16];
	struct buf b;
	size_t end;

	(void)state;
	for (size_t i = 0; i < 16; i++)
		many[i] = a;
	buf_init(&b, 256);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* More than fd_recv has room for: MSG_CTRUNC, the ones that came
	 * are closed and the kernel closed the rest. */
	free_fds(got, 16);
	send_fds(sv[0], "f=6\n\n", 5, many, 16);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &wait_1s, &end, &fd), -1);
	assert_int_equal(errno, EPROTO);
	assert_int_equal(fd, -1);
	assert_closed(got, 16);
	close(sv[0]);
	close(sv[1]);
	close(a);
	buf_free(&b);
}

static void test_fdrecord_read_errors_close_the_descriptor(void **state)
{
	static const struct fdrecord_wait quick = { .first_ms = 50, .next_ms = 50 };
	int sv[2], fd, a = pipe_fd(), got[16];
	struct buf b;
	size_t end;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* Nothing at all: a timeout, nothing read. */
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &quick, &end, &fd), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(b.len, 0);
	/* Half a record and a descriptor, then silence: timeout, closed. */
	free_fds(got, 16);
	send_fds(sv[0], "g=7\n", 4, &a, 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &quick, &end, &fd), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_int_equal(fd, -1);
	assert_closed(got, 1);
	/* Over the cap (8 bytes). */
	free_fds(got, 16);
	send_fds(sv[0], "h=12345678\n\n", 12, &a, 1);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &quick, &end, &fd), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_closed(got, 1);
	assert_int_equal(read(sv[1], (char[16]){ 0 }, 16), 4);   /* what was left */
	/* End of input inside the record. */
	free_fds(got, 16);
	send_fds(sv[0], "i=9\n", 4, &a, 1);
	close(sv[0]);
	assert_int_equal(fdrecord_read(sv[1], 0, &b, 1, &quick, &end, &fd), -1);
	assert_int_equal(errno, ECONNRESET);
	assert_int_equal(fd, -1);
	assert_closed(got, 1);
	close(sv[1]);
	close(a);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fdrecord_end_across_reads),
		cmocka_unit_test(test_fdrecord_takes_one_descriptor_and_refuses_a_second),
		cmocka_unit_test(test_fdrecord_plain_reads_a_pipe),
		cmocka_unit_test(test_fdrecord_read_with_no_and_one_descriptor),
		cmocka_unit_test(test_fdrecord_read_closes_a_second_descriptor_and_the_first),
		cmocka_unit_test(test_fdrecord_read_refuses_truncated_control_data),
		cmocka_unit_test(test_fdrecord_read_errors_close_the_descriptor),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
