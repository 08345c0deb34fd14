/* Unit tests for common/log_parse.c: the lines `postern log` reads back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_rfc3164_and_rfc3339_lines),
		cmocka_unit_test(test_queue_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
