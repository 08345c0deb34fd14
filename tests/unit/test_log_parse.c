/* Unit tests for common/log_parse.c (the lines `postern log` reads back)
 * and common/log_delivery.c (the recipient line and its delays). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "log_delivery.h"
#include "log_parse.h"

static int parse(const char *line, const char *name, struct log_parse_line *l)
{
	return log_parse_line(line, strlen(line), name, l);
}

static void test_parse_rfc3164_and_rfc3339_lines(void **state)
{
	struct log_parse_line l;

	(void)state;
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/smtpd[4622]: connect from unknown[127.0.0.1]",
			       "postern", &l), 1);
	assert_int_equal(l.service_len, 5);
	assert_memory_equal(l.service, "smtpd", 5);
	assert_int_equal(l.pid, 4622);
	assert_int_equal(l.text_len, strlen("connect from unknown[127.0.0.1]"));
	assert_memory_equal(l.text, "connect from", 12);
	assert_int_equal(parse("Dec 14 03:09:09 vm postern/submission/smtpd[7]: x", "postern", &l), 1);
	assert_int_equal(l.service_len, strlen("submission/smtpd"));
	assert_int_equal(parse("2026-12-04T13:39:39.123456+00:00 vm postern/qmgr[1]: ABCDE12345: removed",
			       "postern", &l), 1);
	assert_memory_equal(l.service, "qmgr", 4);
	/* Another program, another syslog name, damaged lines. */
	assert_int_equal(parse("Dec  4 13:39:39 vm postfix/smtpd[4622]: x", "postern", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/smtpd[4622]: x", "postfix", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/smtpd[]: x", "postern", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/smtpd[12", "postern", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/[1]: x", "postern", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern", "postern", &l), 0);
	assert_int_equal(parse("", "postern", &l), 0);
	assert_int_equal(parse("Dec  4 13:39:39 vm postern/smtpd[99999999999]: x", "postern", &l), 0);
}

static void test_queue_ids(void **state)
{
	char id[LOG_PARSE_ID_MAX + 1];
	const char *t;

	(void)state;
	t = "6B12C29BA3F45AB2A18: removed";
	assert_int_equal(log_parse_queue_id(t, strlen(t)), 19);
	t = "NOQUEUE: reject: RCPT from x";
	assert_int_equal(log_parse_queue_id(t, strlen(t)), 7);   /* shaped like one: the caller compares */
	t = "connect from x";
	assert_int_equal(log_parse_queue_id(t, strlen(t)), 0);
	t = "ABCD: x";
	assert_int_equal(log_parse_queue_id(t, strlen(t)), 0);
	t = "ABCDE12345:";
	assert_int_equal(log_parse_queue_id(t, strlen(t)), 0);

	t = "ABCDE12345: sender non-delivery notification: FEDCB54321";
	assert_int_equal(log_parse_next_id(t, strlen(t), id), 1);
	assert_string_equal(id, "FEDCB54321");
	t = "ABCDE12345: forwarded for <a@b> to 2 addresses as 0123456789AB";
	assert_int_equal(log_parse_next_id(t, strlen(t), id), 1);
	assert_string_equal(id, "0123456789AB");
	t = "ABCDE12345: sender non-delivery notification: FEDCB54321 and more";
	assert_int_equal(log_parse_next_id(t, strlen(t), id), 0);
	t = "ABCDE12345: removed";
	assert_int_equal(log_parse_next_id(t, strlen(t), id), 0);
}

/* Run log_delivery with stderr in a temp file; the text after "]: ". */
static char *delivery_line(const struct log_delivery_times *t, const char *relay, const char *status)
{
	static char out[2048];
	FILE *tmp = tmpfile();
	int saved = dup(2);
	size_t n;
	char *p;

	assert_non_null(tmp);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	log_open("test", 1, 0);
	log_delivery("ABCDE12345", "bob@example.test", relay, t, "2.0.0", status, "done");
	assert_int_equal(dup2(saved, 2), 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	p = strstr(out, "]: ");
	assert_non_null(p);
	return p + 3;
}

static void test_delivery_line_and_delays(void **state)
{
	long long now = log_delivery_now_ms();
	struct log_delivery_times t = { .arrival_ms = now - 12340, .active_ms = now - 2340,
					.agent_ms = now - 1840, .setup_ms = 5, .xfer_ms = 1250 };
	char want[512];

	(void)state;
	/* a = 10 s, b = 0.5 s, c below 10 ms is 0, d = 1.2 s (1.25 cut). */
	snprintf(want, sizeof(want), "ABCDE12345: to=<bob@example.test>, relay=h[1.2.3.4]:25, delay=12, "
		 "delays=10/0.5/0/1.2, dsn=2.0.0, status=sent (done)\n");
	assert_string_equal(delivery_line(&t, "h[1.2.3.4]:25", "delivered"), want);
	assert_non_null(strstr(delivery_line(NULL, NULL, "failed"),
			       "relay=none, delay=0, delays=0/0/0/0, dsn=2.0.0, status=bounced (done)"));
	assert_non_null(strstr(delivery_line(NULL, "", "deferred"), "relay=none, "));
	/* A clock that went back is 0, never negative. */
	t.arrival_ms = now + 100000;
	assert_non_null(strstr(delivery_line(&t, "local", "delivered"), "delay=0, delays=0/"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rfc3164_and_rfc3339_lines),
		cmocka_unit_test(test_queue_ids),
		cmocka_unit_test(test_delivery_line_and_delays),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
