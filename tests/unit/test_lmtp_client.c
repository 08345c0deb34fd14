/* Unit tests for common/lmtp_client.c: destinations of the transport map
 * (host:port, [v6]:port, unix:path, defaults and refusals), and one whole
 * transaction against a scripted server on a Unix socket: per-recipient
 * replies after DATA, dot-stuffing and CRLF on the wire; and the
 * recipient probe (lmtp_probe) against scripted servers. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lmtp_client.h"
#include "sockets.h"

static int parse(const char *s, struct lmtp_dest *d)
{
	const char *error;

	return lmtp_dest_parse(s, strlen(s), d, &error);
}

static void test_lmtp_dest_inet(void **state)
{
	struct lmtp_dest d;
	char text[200];

	(void)state;
	assert_int_equal(parse("127.0.0.1:2424", &d), 0);
	assert_false(d.is_unix);
	assert_string_equal(d.host, "127.0.0.1");
	assert_int_equal(d.port, 2424);
	assert_int_equal(parse("10.0.0.1", &d), 0);
	assert_int_equal(d.port, LMTP_DEFAULT_PORT);
	assert_int_equal(parse("[::1]:25", &d), 0);
	assert_string_equal(d.host, "::1");
	assert_int_equal(d.port, 25);
	lmtp_dest_text(&d, text, sizeof text);
	assert_string_equal(text, "[::1]:25");
}

static void test_lmtp_dest_unix(void **state)
{
	struct lmtp_dest d;

	(void)state;
	assert_int_equal(parse("unix:private/dovecot-lmtp", &d), 0);
	assert_true(d.is_unix);
	assert_string_equal(d.path, "private/dovecot-lmtp");
}

static void test_lmtp_dest_refusals(void **state)
{
	struct lmtp_dest d;
	char longpath[200];

	(void)state;
	assert_int_equal(parse("mail.example.org:24", &d), -1);   /* no DNS in local */
	assert_int_equal(parse("127.0.0.1:0", &d), -1);
	assert_int_equal(parse("127.0.0.1:65536", &d), -1);
	assert_int_equal(parse("127.0.0.1:", &d), -1);
	assert_int_equal(parse("[::1", &d), -1);
	assert_int_equal(parse("[::1]x", &d), -1);
	assert_int_equal(parse("[127.0.0.1]:24", &d), -1);
	assert_int_equal(parse("", &d), -1);
	assert_int_equal(parse("unix:", &d), -1);
	assert_int_equal(parse("unix:a b", &d), -1);
	memset(longpath, 'a', sizeof longpath - 1);
	memcpy(longpath, "unix:", 5);
	longpath[sizeof longpath - 1] = '\0';
	assert_int_equal(parse(longpath, &d), -1);
}

/* A scripted LMTP server: answers, then writes what it read to out_fd. */
static void serve(int lfd, int out_fd)
{
	int c = accept(lfd, NULL, NULL);
	char buf[8192];
	size_t got = 0;
	ssize_t n;
	const char *script[] = { "220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n", "550 5.1.1 no\r\n",
				 "250 ok\r\n", "354 go\r\n" };
	size_t step = 0;

	if (c < 0)
		_exit(1);
	if (write(c, script[step], strlen(script[step])) < 0)
		_exit(1);
	step++;
	while ((n = read(c, buf + got, sizeof buf - got - 1)) > 0) {
		size_t lines = 0;
		got += (size_t)n;
		buf[got] = '\0';
		for (size_t i = 0; i < got; i++)
			lines += buf[i] == '\n';
		/* LHLO, MAIL, 3 RCPT, DATA: one reply per command line. */
		while (step < 7 && step <= lines) {
			if (write(c, script[step], strlen(script[step])) < 0)
				_exit(1);
			step++;
		}
		if (strstr(buf, "\r\n.\r\n") != NULL && step == 7) {
			/* Two accepted recipients: two replies after the dot. */
			if (write(c, "250 2.0.0 a\r\n452 4.2.2 full\r\n", 29) < 0)
				_exit(1);
			step++;
		}
		if (strstr(buf, "QUIT\r\n") != NULL)
			break;
	}
	if (write(out_fd, buf, got) < 0)
		_exit(1);
	_exit(0);
}

static void test_lmtp_deliver_per_recipient(void **state)
{
	char dir[] = "/tmp/test_lmtp_XXXXXX", path[128], msgpath[128], dest[160], wire[8192];
	const char *rcpts[] = { "a@x", "b@x", "c@x" };
	struct lmtp_answer ans[3];
	struct lmtp_dest d;
	int pipefd[2], lfd, mfd;
	const char msg[] = "Subject: t\n\n.dot\nend";
	pid_t pid;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/lmtp", dir);
	snprintf(msgpath, sizeof msgpath, "%s/msg", dir);
	lfd = unix_listen(path, 0600, 1);
	assert_true(lfd >= 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve(lfd, pipefd[1]);
	close(pipefd[1]);
	mfd = open(msgpath, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_int_equal(write(mfd, "XX", 2), 2);
	assert_int_equal(write(mfd, msg, sizeof msg - 1), (ssize_t)sizeof msg - 1);
	snprintf(dest, sizeof dest, "unix:%s", path);
	assert_int_equal(parse(dest, &d), 0);
	/* The path is taken relative to the caller's root: here "/". */
	assert_int_equal(chdir("/"), 0);
	struct lmtp_msg m = { .txn = { .sender = "s@x", .body = { .fd = mfd, .offset = 2, .size = (off_t)sizeof msg - 1 } },
			      .helo = "me", .timeout_ms = 5000 };
	lmtp_deliver(&d, &m, rcpts, 3, ans);
	n = read(pipefd[0], wire, sizeof wire - 1);
	assert_true(n > 0);
	wire[n] = '\0';
	waitpid(pid, NULL, 0);
	assert_int_equal(ans[0].status, LMTP_DELIVERED);
	assert_int_equal(ans[1].status, LMTP_FAILED);
	assert_string_equal(ans[1].dsn, "5.1.1");
	assert_int_equal(ans[2].status, LMTP_DEFERRED);
	assert_string_equal(ans[2].dsn, "4.2.2");
	assert_non_null(strstr(wire, "LHLO me\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\n"));
	assert_non_null(strstr(wire, "DATA\r\nSubject: t\r\n\r\n..dot\r\nend\r\n.\r\nQUIT\r\n"));
	close(mfd);
	close(lfd);
	unlink(path);
	unlink(msgpath);
	rmdir(dir);
}

static void test_lmtp_deliver_refused_connection_defers_all(void **state)
{
	const char *rcpts[] = { "a@x", "b@x" };
	struct lmtp_answer ans[2];
	struct lmtp_dest d = { .is_unix = 1 };
	struct lmtp_msg m = { .txn = { .sender = "", .body = { .fd = -1 } }, .helo = "me", .timeout_ms = 1000 };

	(void)state;
	snprintf(d.path, sizeof d.path, "/nonexistent/lmtp.sock");
	lmtp_deliver(&d, &m, rcpts, 2, ans);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(ans[i].status, LMTP_DEFERRED);
		assert_string_equal(ans[i].dsn, "4.4.1");
	}
}

/* ---- lmtp_probe ---- */

/* A server that sends replies[0] at once and replies[i] after the i-th
 * line it reads, each delay_ms late; then writes what it read to out_fd. */
static _Noreturn void serve_script(int lfd, int out_fd, const char *const *replies, size_t n,
				   int delay_ms)
{
	int c = accept(lfd, NULL, NULL);
	char buf[4096];
	size_t got = 0, step = 0, lines = 0;
	ssize_t r;

	if (c < 0 || write(c, replies[0], strlen(replies[0])) < 0)
		_exit(1);
	step = 1;
	while (got < sizeof buf - 1 && (r = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			lines += buf[got + (size_t)i] == '\n';
		got += (size_t)r;
		while (step < n && step <= lines) {
			usleep((useconds_t)delay_ms * 1000);
			if (write(c, replies[step], strlen(replies[step])) < 0)
				break;
			step++;
		}
	}
	if (write(out_fd, buf, got) < 0)
		_exit(1);
	_exit(0);
}

struct probe_run {
	struct lmtp_answer a;
	char wire[4096];
	long long ms;               /* how long lmtp_probe took */
};

static long long probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run client(d, arg) against a scripted server (serve_script); what the
 * server read goes into wire. */
static void script_run(const char *const *replies, size_t n, int delay_ms,
		       void (*client)(const struct lmtp_dest *d, void *arg), void *arg, char *wire, size_t wlen)
{
	char dir[] = "/tmp/test_lmtp_XXXXXX", path[64];
	struct lmtp_dest d = { .is_unix = 1 };
	int pipefd[2], lfd;
	pid_t pid;
	ssize_t got;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/lmtp", dir);
	lfd = unix_listen(path, 0600, 1);
	assert_true(lfd >= 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		serve_script(lfd, pipefd[1], replies, n, delay_ms);
	close(pipefd[1]);
	assert_int_equal(chdir("/"), 0);
	snprintf(d.path, sizeof d.path, "%s", path);
	client(&d, arg);
	got = read(pipefd[0], wire, wlen - 1);
	wire[got > 0 ? got : 0] = '\0';
	close(pipefd[0]);
	waitpid(pid, NULL, 0);
	close(lfd);
	unlink(path);
	rmdir(dir);
}

struct probe_args {
	struct probe_run *pr;
	int timeout_ms;
};

static void probe_client(const struct lmtp_dest *d, void *arg)
{
	struct probe_args *pa = arg;
	long long t0 = probe_now_ms();

	lmtp_probe(d, "me", "a@x", pa->timeout_ms, &pa->pr->a);
	pa->pr->ms = probe_now_ms() - t0;
}

/* Probe rcpt "a@x" against a scripted server. */
static void probe_against(const char *const *replies, size_t n, int delay_ms, int timeout_ms,
			  struct probe_run *pr)
{
	struct probe_args pa = { .pr = pr, .timeout_ms = timeout_ms };

	script_run(replies, n, delay_ms, probe_client, &pa, pr->wire, sizeof pr->wire);
}

/* Probe a server that takes LHLO and MAIL and answers RCPT with reply. */
static void probe_rcpt_reply(const char *reply, struct probe_run *pr)
{
	const char *const replies[] = { "220 hi\r\n", "250 ok\r\n", "250 2.1.0 ok\r\n", reply,
					"221 bye\r\n" };

	probe_against(replies, 5, 0, 5000, pr);
}

static void test_lmtp_probe_known_recipient_sends_no_mail(void **state)
{
	struct probe_run pr;

	(void)state;
	probe_rcpt_reply("250 2.1.5 ok\r\n", &pr);
	assert_int_equal(pr.a.status, LMTP_DELIVERED);
	assert_string_equal(pr.a.dsn, "2.1.5");
	/* The null sender, one RCPT, and no DATA. */
	assert_string_equal(pr.wire, "LHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@x>\r\nQUIT\r\n");
}

static void test_lmtp_probe_unknown_recipient_fails_with_the_server_code(void **state)
{
	struct probe_run pr;

	(void)state;
	probe_rcpt_reply("550 5.1.1 <a@x> no such user\r\n", &pr);
	assert_int_equal(pr.a.status, LMTP_FAILED);
	assert_string_equal(pr.a.dsn, "5.1.1");
	assert_non_null(strstr(pr.a.reason, "no such user"));
}

static void test_lmtp_probe_temporary_answers_defer(void **state)
{
	/* A refused MAIL FROM:<> is the server's policy, not a verdict on
	 * the recipient: never a 5xx for it. */
	const char *const mail_5xx[] = { "220 hi\r\n", "250 ok\r\n", "550 5.7.1 no null sender\r\n",
					 "221 bye\r\n" };
	struct probe_run pr;

	(void)state;
	probe_rcpt_reply("450 4.2.1 try later\r\n", &pr);
	assert_int_equal(pr.a.status, LMTP_DEFERRED);
	assert_string_equal(pr.a.dsn, "4.2.1");
	probe_against(mail_5xx, 4, 0, 5000, &pr);
	assert_int_equal(pr.a.status, LMTP_DEFERRED);
	assert_int_equal(pr.a.dsn[0], '4');
}

static void test_lmtp_probe_ends_within_its_timeout_as_a_whole(void **state)
{
	/* Each reply 250 ms late: every one within the 600 ms timeout, the
	 * four together not. */
	const char *const replies[] = { "220 hi\r\n", "250 ok\r\n", "250 ok\r\n",
					"250 ok\r\n", "221 bye\r\n" };
	struct probe_run pr;

	(void)state;
	probe_against(replies, 5, 250, 600, &pr);
	assert_int_equal(pr.a.status, LMTP_DEFERRED);
	assert_string_equal(pr.a.dsn, "4.4.2");
	assert_non_null(strstr(pr.a.reason, "timeout"));
	assert_true(pr.ms < 1200);
}

static void test_lmtp_probe_unreachable_defers(void **state)
{
	struct lmtp_dest d = { .is_unix = 1 };
	struct lmtp_answer a;

	(void)state;
	snprintf(d.path, sizeof d.path, "/nonexistent/lmtp.sock");
	lmtp_probe(&d, "me", "a@x", 1000, &a);
	assert_int_equal(a.status, LMTP_DEFERRED);
	assert_string_equal(a.dsn, "4.4.1");
}

/* lmtp_deliver of an empty message from s@x to a@x; arg: its answer. */
static void deliver_one_empty(const struct lmtp_dest *d, void *arg)
{
	const char *rcpt = "a@x";
	struct lmtp_msg m = { .txn = { .sender = "s@x", .body = { .fd = -1 } }, .helo = "me", .timeout_ms = 5000 };

	lmtp_deliver(d, &m, &rcpt, 1, arg);
}

/* A 250 where DATA needs 354 is a protocol error: deferred with a 4.x.x
 * status (it once kept the server's 2.0.0 on a deferral), and no message
 * text is sent. */
static void test_lmtp_deliver_250_to_data_defers_with_4_0_0(void **state)
{
	const char *const replies[] = { "220 hi\r\n", "250 ok\r\n", "250 ok\r\n", "250 ok\r\n",
					"250 2.0.0 whatever\r\n", "221 bye\r\n" };
	char wire[4096];
	struct lmtp_answer a;

	(void)state;
	script_run(replies, 6, 0, deliver_one_empty, &a, wire, sizeof wire);
	assert_int_equal(a.status, LMTP_DEFERRED);
	assert_string_equal(a.dsn, "4.0.0");
	assert_non_null(strstr(a.reason, "said: 250 2.0.0 whatever (in reply to DATA command)"));
	assert_string_equal(wire, "LHLO me\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@x>\r\nDATA\r\nQUIT\r\n");
}

/* lmtp_deliver of an empty message that needs 8BITMIME and SMTPUTF8,
 * with DSN fields, to a@x, b@x and c@x; arg: their answers. */
static void deliver_three_8bit(const struct lmtp_dest *d, void *arg)
{
	const char *rcpts[] = { "a@x", "b@x", "c@x" };
	struct lmtp_msg m = { .txn = { .sender = "s@x", .smtp_size = 3, .eightbit = 1, .smtputf8 = 1, .ret = "FULL",
				       .envid = "e1", .body = { .fd = -1 } },
			      .helo = "me", .timeout_ms = 5000 };

	lmtp_deliver(d, &m, rcpts, 3, arg);
}

/* The transaction is remote delivery's (common/smtp_txn): MAIL carries
 * SIZE, BODY and SMTPUTF8 where LHLO offered them, never DSN fields (the
 * queue keeps that duty), and the RCPTs go pipelined; one answer per
 * accepted recipient after the dot, in RCPT order. */
static void test_lmtp_deliver_pipelines_with_the_mail_parameters_offered(void **state)
{
	const char *const replies[] = {
		"220 hi\r\n", "250-x\r\n250-PIPELINING\r\n250-SIZE 100000\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n",
		"250 2.1.0 ok\r\n", "250 ok\r\n", "550 5.1.1 no\r\n", "250 ok\r\n", "354 go\r\n",
		"250 2.0.0 a\r\n452 4.2.2 full\r\n", "221 bye\r\n" };
	struct lmtp_answer ans[3];
	char wire[4096];

	(void)state;
	script_run(replies, 9, 0, deliver_three_8bit, ans, wire, sizeof wire);
	assert_string_equal(wire, "LHLO me\r\nMAIL FROM:<s@x> SIZE=3 BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<a@x>\r\n"
			    "RCPT TO:<b@x>\r\nRCPT TO:<c@x>\r\nDATA\r\n.\r\nQUIT\r\n");
	assert_int_equal(ans[0].status, LMTP_DELIVERED);
	assert_string_equal(ans[0].dsn, "2.0.0");
	assert_int_equal(ans[1].status, LMTP_FAILED);
	assert_string_equal(ans[1].dsn, "5.1.1");
	assert_non_null(strstr(ans[1].reason, "said: 550 5.1.1 no (in reply to RCPT TO command)"));
	assert_int_equal(ans[2].status, LMTP_DEFERRED);
	assert_string_equal(ans[2].dsn, "4.2.2");
	assert_non_null(strstr(ans[2].reason, "said: 452 4.2.2 full (in reply to end of DATA command)"));
}

/* RFC 6531 3.4: a message that needs SMTPUTF8 is not sent to a server
 * that does not offer it; it fails at once (5.6.7), nothing sent. */
static void test_lmtp_deliver_fails_smtputf8_mail_where_not_offered(void **state)
{
	const char *const replies[] = { "220 hi\r\n", "250-x\r\n250 PIPELINING\r\n", "221 bye\r\n" };
	struct lmtp_answer ans[3];
	char wire[4096];

	(void)state;
	script_run(replies, 3, 0, deliver_three_8bit, ans, wire, sizeof wire);
	assert_string_equal(wire, "LHLO me\r\nQUIT\r\n");
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ans[i].status, LMTP_FAILED);
		assert_string_equal(ans[i].dsn, "5.6.7");
		assert_non_null(strstr(ans[i].reason, "SMTPUTF8 is required, but was not offered by lmtp "));
	}
}

/* An 8-bit recipient address needs SMTPUTF8 even when the message's
 * own fields do not say so (RFC 6531 3.4): refused at once where not
 * offered. */
static void deliver_utf8_rcpt(const struct lmtp_dest *d, void *arg)
{
	const char *rcpts[] = { "a@x", "\xc3\xa9l\xc3\xa8ve@x" };
	struct lmtp_msg m = { .txn = { .sender = "s@x", .body = { .fd = -1 } }, .helo = "me", .timeout_ms = 5000 };

	lmtp_deliver(d, &m, rcpts, 2, arg);
}

static void test_lmtp_deliver_8bit_recipient_needs_smtputf8(void **state)
{
	const char *const replies[] = { "220 hi\r\n", "250 ok\r\n", "221 bye\r\n" };
	struct lmtp_answer ans[2];
	char wire[4096];

	(void)state;
	script_run(replies, 3, 0, deliver_utf8_rcpt, ans, wire, sizeof wire);
	assert_string_equal(wire, "LHLO me\r\nQUIT\r\n");
	assert_int_equal(ans[1].status, LMTP_FAILED);
	assert_string_equal(ans[1].dsn, "5.6.7");
}

/* The probe of an 8-bit address at a server without SMTPUTF8 is no
 * verdict on the address: deferred, nothing asked. */
static void probe_utf8(const struct lmtp_dest *d, void *arg)
{
	lmtp_probe(d, "me", "\xc3\xa9@x", 5000, arg);
}

static void test_lmtp_probe_of_8bit_address_without_smtputf8_defers(void **state)
{
	const char *const replies[] = { "220 hi\r\n", "250 ok\r\n", "221 bye\r\n" };
	struct lmtp_answer a;
	char wire[4096];

	(void)state;
	script_run(replies, 3, 0, probe_utf8, &a, wire, sizeof wire);
	assert_string_equal(wire, "LHLO me\r\nQUIT\r\n");
	assert_int_equal(a.status, LMTP_DEFERRED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lmtp_dest_inet),
		cmocka_unit_test(test_lmtp_dest_unix),
		cmocka_unit_test(test_lmtp_dest_refusals),
		cmocka_unit_test(test_lmtp_deliver_per_recipient),
		cmocka_unit_test(test_lmtp_deliver_refused_connection_defers_all),
		cmocka_unit_test(test_lmtp_probe_known_recipient_sends_no_mail),
		cmocka_unit_test(test_lmtp_probe_unknown_recipient_fails_with_the_server_code),
		cmocka_unit_test(test_lmtp_probe_temporary_answers_defer),
		cmocka_unit_test(test_lmtp_probe_ends_within_its_timeout_as_a_whole),
		cmocka_unit_test(test_lmtp_probe_unreachable_defers),
		cmocka_unit_test(test_lmtp_deliver_250_to_data_defers_with_4_0_0),
		cmocka_unit_test(test_lmtp_deliver_pipelines_with_the_mail_parameters_offered),
		cmocka_unit_test(test_lmtp_deliver_fails_smtputf8_mail_where_not_offered),
		cmocka_unit_test(test_lmtp_deliver_8bit_recipient_needs_smtputf8),
		cmocka_unit_test(test_lmtp_probe_of_8bit_address_without_smtputf8_defers),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
