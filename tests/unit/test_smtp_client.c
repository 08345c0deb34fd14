/* Unit tests for common/smtp_client.c, the conversation primitives of the
 * SMTP and LMTP clients: the reply reader over a stream (multi-line
 * replies, enhanced codes, pipelined replies read in order, each way a
 * read fails), the command writer (held back for pipelining, flushed,
 * a failed write) and the connect (a full Unix listen queue). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "smtp_client.h"
#include "sockets.h"

struct pair {
	int fd[2];                 /* fd[0] the client's, fd[1] the scripted server's */
	struct stream *s;
	struct smtp_reply r;
};

static void pair_open(struct pair *p, const char *server_says, int timeout_ms)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fd), 0);
	if (server_says != NULL)
		assert_int_equal(write(p->fd[1], server_says, strlen(server_says)), (ssize_t)strlen(server_says));
	p->s = stream_new(p->fd[0], p->fd[0], SMTP_CLIENT_LINE_MAX, timeout_ms);
	assert_non_null(p->s);
	smtp_reply_init(&p->r);
}

static void pair_close(struct pair *p)
{
	stream_free(&p->s);
	close(p->fd[0]);
	if (p->fd[1] >= 0)
		close(p->fd[1]);
	smtp_reply_free(&p->r);
}

/* What the server end has received so far (the client flushed). */
static void pair_received(struct pair *p, char *out, size_t len)
{
	ssize_t n = recv(p->fd[1], out, len - 1, MSG_DONTWAIT);

	out[n > 0 ? n : 0] = '\0';
}

static void test_multiline_reply_is_read_whole(void **state)
{
	struct pair p;
	const char *error = NULL;

	(void)state;
	pair_open(&p, "250-mx.example\r\n250-PIPELINING\r\n250 2.0.0 SIZE 1000\r\n", 1000);
	assert_int_equal(smtp_client_read_reply(p.s, &p.r, &error), 250);
	assert_int_equal(p.r.nlines, 3);
	assert_string_equal(buf_cstr(&p.r.text), "mx.example\nPIPELINING\n2.0.0 SIZE 1000");
	assert_string_equal(p.r.enh, "");   /* the enhanced code counts on the first line only */
	pair_close(&p);
}

static void test_pipelined_replies_are_read_in_order(void **state)
{
	struct pair p;
	const char *error = NULL;
	char got[256];

	(void)state;
	pair_open(&p, "250 2.1.0 sender ok\r\n550 5.1.1 no\r\n451 4.3.0 later\r\n", 1000);
	/* Held back until the flush: one write for the whole window. */
	assert_int_equal(smtp_client_send(p.s, "MAIL FROM:<a@x>", 0), 0);
	assert_int_equal(smtp_client_send(p.s, "RCPT TO:<b@x>", 0), 0);
	pair_received(&p, got, sizeof got);
	assert_string_equal(got, "");
	assert_int_equal(smtp_client_send(p.s, "RCPT TO:<c@x>", 1), 0);
	pair_received(&p, got, sizeof got);
	assert_string_equal(got, "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\n");
	assert_int_equal(smtp_client_read_reply(p.s, &p.r, &error), 250);
	assert_string_equal(p.r.enh, "2.1.0");
	assert_int_equal(smtp_client_read_reply(p.s, &p.r, &error), 550);
	assert_string_equal(p.r.enh, "5.1.1");
	assert_int_equal(smtp_client_read_reply(p.s, &p.r, &error), 451);
	assert_string_equal(buf_cstr(&p.r.text), "4.3.0 later");
	pair_close(&p);
}

static void test_command_sends_and_reads(void **state)
{
	struct pair p;
	const char *error = NULL;
	char got[64];

	(void)state;
	pair_open(&p, "354 go ahead\r\n", 1000);
	assert_int_equal(smtp_client_command(p.s, &p.r, "DATA", &error), 354);
	pair_received(&p, got, sizeof got);
	assert_string_equal(got, "DATA\r\n");
	pair_close(&p);
}

static void read_fails(const char *server_says, int close_server, int timeout_ms, const char *want)
{
	struct pair p;
	const char *error = NULL;

	pair_open(&p, server_says, timeout_ms);
	if (close_server) {
		close(p.fd[1]);
		p.fd[1] = -1;
	}
	assert_int_equal(smtp_client_read_reply(p.s, &p.r, &error), -1);
	assert_non_null(error);
	assert_string_equal(error, want);
	pair_close(&p);
}

static void test_lost_connection_mid_reply(void **state)
{
	(void)state;
	read_fails("250-first line\r\n", 1, 1000, "lost connection");
}

static void test_silent_server_times_out(void **state)
{
	(void)state;
	read_fails("250-first line\r\n", 0, 100, "timeout");
}

static void test_malformed_code_is_an_error(void **state)
{
	(void)state;
	read_fails("25x nonsense\r\n", 0, 1000, "malformed reply code");
	read_fails("250-a\r\n251 b\r\n", 0, 1000, "reply code changes within a reply");
}

static void test_overlong_line_is_an_error(void **state)
{
	char *big = malloc(SMTP_CLIENT_LINE_MAX + 16);

	(void)state;
	assert_non_null(big);
	memset(big, 'a', SMTP_CLIENT_LINE_MAX + 8);
	memcpy(big, "250 ", 4);
	memcpy(big + SMTP_CLIENT_LINE_MAX + 8, "\r\n", 3);
	read_fails(big, 1, 1000, "reply line too long");
	free(big);
}

static void test_too_many_lines_is_an_error(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 65536);
	for (int i = 0; i <= SMTP_REPLY_LINES_MAX; i++)
		assert_int_equal(buf_append_str(&b, "250-x\r\n"), 0);
	assert_int_equal(buf_append_str(&b, "250 end\r\n"), 0);
	read_fails(buf_cstr(&b), 1, 1000, "too many reply lines");
	buf_free(&b);
}

static void test_failed_write_is_minus_two(void **state)
{
	struct pair p;
	const char *error = NULL;

	(void)state;
	pair_open(&p, NULL, 1000);
	close(p.fd[1]);
	p.fd[1] = -1;
	assert_int_equal(smtp_client_command(p.s, &p.r, "QUIT", &error), -2);
	assert_string_equal(error, "write error");
	pair_close(&p);
}

/* A Unix socket whose listen queue is full answers EAGAIN: nothing is
 * connected, so the connect must fail (it once waited for POLLOUT, got
 * it at once and handed back an unconnected socket). */
static void test_connect_to_a_full_unix_queue_fails(void **state)
{
	char dir[] = "/tmp/test_smtp_client_XXXXXX", path[80];
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int lfd, held[8], nheld = 0, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/s", dir);
	lfd = unix_listen(path, 0600, 0);
	assert_true(lfd >= 0);
	snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
	/* Fill the queue (never accepted) until a connect is refused. */
	for (;;) {
		fd = smtp_client_connect((const struct sockaddr *)&un, sizeof un, 500);
		if (fd < 0)
			break;
		assert_true(nheld < 8);
		held[nheld++] = fd;
	}
	assert_int_equal(errno, EAGAIN);
	assert_true(nheld >= 1);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

static void test_connect_to_nothing_fails_with_errno(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/nonexistent/smtp_client.sock" };

	(void)state;
	assert_int_equal(smtp_client_connect((const struct sockaddr *)&un, sizeof un, 500), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multiline_reply_is_read_whole),
		cmocka_unit_test(test_pipelined_replies_are_read_in_order),
		cmocka_unit_test(test_command_sends_and_reads),
		cmocka_unit_test(test_lost_connection_mid_reply),
		cmocka_unit_test(test_silent_server_times_out),
		cmocka_unit_test(test_malformed_code_is_an_error),
		cmocka_unit_test(test_overlong_line_is_an_error),
		cmocka_unit_test(test_too_many_lines_is_an_error),
		cmocka_unit_test(test_failed_write_is_minus_two),
		cmocka_unit_test(test_connect_to_a_full_unix_queue_fails),
		cmocka_unit_test(test_connect_to_nothing_fails_with_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
