/* Unit tests for common/login_handoff.c: the session side takes a
 * hand-off record with exactly one descriptor, answers status=ok, and
 * its stream reads the login's read-ahead first; it drops (unanswered) a
 * record without a descriptor or ticket, or with too much read-ahead;
 * and the login side hands a plain client to a session service end to
 * end, the bytes it read past the login command included, once. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "login_handoff.h"
#include "record.h"
#include "sockets.h"

static void expect_line(struct stream *s, const char *text)
{
	const char *line;
	size_t len;

	assert_int_equal(stream_read_line(s, &line, &len), STREAM_OK);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(line, text, len);
}

/* Nothing to read on fd right now (no status=ok was sent). */
static void assert_no_answer(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	assert_int_equal(poll(&pfd, 1, 0), 0);
}

static void test_receive_reads_the_read_ahead_first_and_answers_ok(void **state)
{
	int conn[2], cl[2];
	struct buf rec;
	struct login_session_client c;
	char ans[32];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	buf_init(&rec, LOGIN_HANDOFF_MAX);
	assert_int_equal(record_put_str(&rec, "ticket", "0123abcd"), 0);
	assert_int_equal(record_put_str(&rec, "client", "192.0.2.9"), 0);
	assert_int_equal(record_put_str(&rec, "tls", "yes"), 0);
	assert_int_equal(record_put(&rec, "pending", "STAT\r\nLI", 8), 0);   /* in two pieces */
	assert_int_equal(record_put(&rec, "pending", "ST\r\n", 4), 0);
	assert_int_equal(record_put_str(&rec, "tag", "A1"), 0);             /* a protocol's own */
	assert_int_equal(record_end(&rec), 0);
	assert_int_equal(fd_send(conn[0], cl[1], rec.data, rec.len), 0);
	close(cl[1]);
	assert_int_equal(write(cl[0], "QUIT\r\n", 6), 6);

	assert_int_equal(login_handoff_receive(conn[1], 2000, 64, 2000, &c), 0);
	assert_string_equal(c.ticket, "0123abcd");
	assert_string_equal(c.client, "192.0.2.9");
	assert_true(c.tls);
	assert_string_equal(record_get(&c.rec, "tag"), "A1");
	assert_int_equal(read(conn[0], ans, sizeof(ans)), 11);
	assert_memory_equal(ans, "status=ok\n\n", 11);
	expect_line(c.s, "STAT\r\n");
	expect_line(c.s, "LIST\r\n");
	expect_line(c.s, "QUIT\r\n");   /* then the client's own bytes */
	login_handoff_done(&c);
	assert_int_equal(c.fd, -1);
	assert_int_equal(c.ticket[0], '\0');
	buf_free(&rec);
	close(cl[0]);
	close(conn[0]);
	close(conn[1]);
}

/* Send rec (with fd unless -1) and expect the hand-off to be dropped. */
static void expect_dropped(const struct buf *rec, int fd)
{
	int conn[2];
	struct login_session_client c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, conn), 0);
	if (fd >= 0)
		assert_int_equal(fd_send(conn[0], fd, rec->data, rec->len), 0);
	else
		assert_int_equal(write(conn[0], rec->data, rec->len), (ssize_t)rec->len);
	shutdown(conn[0], SHUT_WR);
	assert_int_equal(login_handoff_receive(conn[1], 2000, 64, 2000, &c), -1);
	assert_null(c.s);
	assert_int_equal(c.fd, -1);
	assert_no_answer(conn[0]);
	close(conn[0]);
	close(conn[1]);
}

static void test_receive_drops_malformed_hand_offs(void **state)
{
	struct buf rec;
	char big[LOGIN_PENDING_FIELD];
	int cl[2];
	(void)state;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	buf_init(&rec, LOGIN_HANDOFF_MAX);
	/* No descriptor. */
	record_put_str(&rec, "ticket", "ab");
	record_put_str(&rec, "client", "c");
	record_end(&rec);
	expect_dropped(&rec, -1);
	/* No ticket. */
	buf_reset(&rec);
	record_put_str(&rec, "client", "c");
	record_end(&rec);
	expect_dropped(&rec, cl[1]);
	/* More read-ahead than a login may pass on. */
	buf_reset(&rec);
	record_put_str(&rec, "ticket", "ab");
	memset(big, 'x', sizeof(big));
	for (size_t n = 0; n <= LOGIN_PENDING_MAX; n += sizeof(big))
		assert_int_equal(record_put(&rec, "pending", big, sizeof(big)), 0);
	record_end(&rec);
	expect_dropped(&rec, cl[1]);
	/* Not a record. */
	buf_reset(&rec);
	buf_append(&rec, "ticket\n\n", 8);
	expect_dropped(&rec, cl[1]);
	buf_free(&rec);
	close(cl[0]);
	close(cl[1]);
}

/* The session service: one hand-off, then answer the first command. */
static _Noreturn void run_session(int listener)
{
	struct login_session_client c;
	const char *line;
	size_t len;
	int conn = accept(listener, NULL, NULL);

	if (conn < 0 || login_handoff_receive(conn, 2000, 64, 2000, &c) < 0)
		_exit(10);
	if (strcmp(c.ticket, "t1") != 0 || c.tls || strcmp(c.client, "198.51.100.1") != 0)
		_exit(11);
	if (stream_read_line(c.s, &line, &len) != STREAM_OK)
		_exit(12);
	stream_puts(c.s, "got: ");
	stream_write(c.s, line, len);
	if (stream_flush(c.s) < 0)
		_exit(13);
	login_handoff_done(&c);
	_exit(0);
}

static void test_send_plain_client_end_to_end(void **state)
{
	char dir[] = "/tmp/test_login_handoff.XXXXXX", old[4096];
	int cl[2], listener, status;
	struct stream *s;
	struct buf ticket;
	struct login_handoff h = { .service = "t-session", .ticket = &ticket, .client = "198.51.100.1",
				   .ipc_timeout_ms = 2000 };
	const char *line;
	size_t len;
	char out[64];
	pid_t pid;
	(void)state;

	assert_non_null(getcwd(old, sizeof(old)));
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("private", 0700), 0);
	listener = unix_listen("private/t-session", 0600, 4);
	assert_true(listener >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		run_session(listener);
	close(listener);

	/* The login process: it read PASS and, ahead, the next command. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	assert_int_equal(write(cl[0], "PASS x\r\nSTAT\r\n", 14), 14);
	s = stream_new(cl[1], cl[1], 64, 2000);
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_OK);
	assert_int_equal(len, 8);
	buf_init(&ticket, LOGIN_TICKET_MAX);
	buf_set(&ticket, "t1", 2);
	assert_int_equal(login_handoff_send(s, cl[1], cl[1], &h), 0);
	stream_free(&s);
	close(cl[1]);   /* as daemon_serve does */

	/* The client hears from the session, about the command it sent along. */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(read(cl[0], out, sizeof(out)), 11);
	assert_memory_equal(out, "got: STAT\r\n", 11);
	close(cl[0]);

	/* No session service: the client stays the login's. */
	unlink("private/t-session");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, cl), 0);
	s = stream_new(cl[1], cl[1], 64, 2000);
	assert_int_equal(login_handoff_send(s, cl[1], cl[1], &h), -1);
	stream_free(&s);
	close(cl[0]);
	close(cl[1]);
	buf_free(&ticket);
	rmdir("private");
	assert_int_equal(chdir(old), 0);
	rmdir(dir);
}

/* A TCP client gets its replies without Nagle's wait: the stream
 * gathers each reply itself, and Nagle would hold a reply's last
 * segment for the client's delayed ACK (40 ms after a large FETCH). */
static void test_client_open_turns_nagle_off(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	char client[128];
	int on = 0;
	socklen_t olen = sizeof(on);
	(void)state;

	int l = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(l >= 0 && c >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	int fd = accept(l, NULL, NULL);
	assert_true(fd >= 0);
	struct stream *s = login_client_open(fd, fd, 1024, 1000, NULL, 1000, client, sizeof(client));
	assert_non_null(s);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &olen), 0);
	assert_int_not_equal(on, 0);
	stream_free(&s);
	close(fd);
	close(c);
	close(l);
	/* not a socket (inetd on a pipe): opened all the same */
	int p[2];
	assert_int_equal(pipe(p), 0);
	s = login_client_open(p[0], p[1], 1024, 1000, NULL, 1000, client, sizeof(client));
	assert_non_null(s);
	stream_free(&s);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_receive_reads_the_read_ahead_first_and_answers_ok),
		cmocka_unit_test(test_receive_drops_malformed_hand_offs),
		cmocka_unit_test(test_send_plain_client_end_to_end),
		cmocka_unit_test(test_client_open_turns_nagle_off),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
