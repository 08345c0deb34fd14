/* Unit tests for common/smtp_reply.c: reply grammar (RFC 5321 4.2),
 * enhanced status codes (RFC 3463), EHLO keywords, limits, summaries,
 * and the status and reason both clients make of a reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_reply.h"

static int parse(struct smtp_reply *r, const char *text, size_t *used_r)
{
	const char *err = NULL;
	size_t used = 0;
	int ret;

	smtp_reply_init(r);
	ret = smtp_reply_parse(r, text, strlen(text), &used, &err);
	if (used_r != NULL)
		*used_r = used;
	return ret;
}

static void test_single_line_reply_with_enhanced_code(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(parse(&r, "550 5.1.1 <x@y>: user unknown\r\n", NULL), 0);
	assert_int_equal(r.code, 550);
	assert_string_equal(r.enh, "5.1.1");
	assert_string_equal(buf_cstr(&r.text), "5.1.1 <x@y>: user unknown");
	assert_int_equal(r.complete, 1);
	smtp_reply_free(&r);
}

static void test_multiline_reply_ends_at_space_line(void **state)
{
	struct smtp_reply r;
	size_t used;
	const char *in = "250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n220 next\r\n";

	(void)state;
	assert_int_equal(parse(&r, in, &used), 0);
	assert_int_equal(used, strlen("250-mx.example\r\n250-PIPELINING\r\n250 SIZE 1000\r\n"));
	assert_int_equal(r.nlines, 3);
	assert_string_equal(buf_cstr(&r.text), "mx.example\nPIPELINING\nSIZE 1000");
	smtp_reply_free(&r);
}

static void test_code_change_within_reply_is_malformed(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(parse(&r, "250-a\r\n251 b\r\n", NULL), -1);
	smtp_reply_free(&r);
}

static void test_bad_codes_are_refused(void **state)
{
	static const char *const bad[] = { "hello\r\n", "25\r\n", "600 no\r\n", "199 no\r\n", "250x\r\n",
					   "2a0 x\r\n", "\r\n" };
	struct smtp_reply r;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(parse(&r, bad[i], NULL), -1);
		smtp_reply_free(&r);
	}
}

static void test_bare_code_and_lf_only_lines_are_accepted(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(parse(&r, "354\n", NULL), 0);
	assert_int_equal(r.code, 354);
	assert_string_equal(r.enh, "");
	smtp_reply_free(&r);
}

static void test_enhanced_code_needs_matching_class_and_shape(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(parse(&r, "450 5.1.1 mismatch\r\n", NULL), 0);
	assert_string_equal(r.enh, "");
	smtp_reply_free(&r);
	assert_int_equal(parse(&r, "550 5.01.1 leading zero\r\n", NULL), 0);
	assert_string_equal(r.enh, "");
	smtp_reply_free(&r);
	assert_int_equal(parse(&r, "550 5.1.1000 too long\r\n", NULL), 0);
	assert_string_equal(r.enh, "");
	smtp_reply_free(&r);
	assert_int_equal(parse(&r, "421 4.4.2\r\n", NULL), 0);
	assert_string_equal(r.enh, "4.4.2");
	smtp_reply_free(&r);
}

static void test_incomplete_reply_asks_for_more(void **state)
{
	struct smtp_reply r;

	(void)state;
	assert_int_equal(parse(&r, "250-first\r\n250-second\r\n", NULL), 1);
	assert_int_equal(r.complete, 0);
	smtp_reply_free(&r);
}

static void test_too_many_lines_are_refused(void **state)
{
	struct smtp_reply r;
	const char *err = NULL;
	int ret = 0;

	(void)state;
	smtp_reply_init(&r);
	for (int i = 0; i <= SMTP_REPLY_LINES_MAX && ret == 0; i++)
		ret = smtp_reply_line(&r, "250-x\r\n", 7, &err);
	assert_int_equal(ret, -1);
	assert_string_equal(err, "too many reply lines");
	smtp_reply_free(&r);
}

static void test_too_much_text_is_refused(void **state)
{
	static char line[SMTP_REPLY_TEXT_MAX / 2];
	struct smtp_reply r;
	const char *err = NULL;
	int ret = 0;

	(void)state;
	memset(line, 'a', sizeof line);
	memcpy(line, "250-", 4);
	smtp_reply_init(&r);
	for (int i = 0; i < 4 && ret == 0; i++)
		ret = smtp_reply_line(&r, line, sizeof line, &err);
	assert_int_equal(ret, -1);
	assert_string_equal(err, "reply text too long");
	smtp_reply_free(&r);
}

static void test_ehlo_extensions_are_read(void **state)
{
	struct smtp_reply r;
	struct smtp_ext ext;

	(void)state;
	assert_int_equal(parse(&r, "250-mx.example greets you\r\n250-pipelining\r\n250-SIZE 10240000\r\n"
				   "250-8BITMIME\r\n250-SMTPUTF8\r\n250-DSN\r\n250-STARTTLS\r\n"
				   "250-AUTH=LOGIN\r\n250-AUTH CRAM-MD5 PLAIN\r\n250 ENHANCEDSTATUSCODES\r\n", NULL), 0);
	smtp_reply_ehlo(&r, &ext);
	assert_true(ext.esmtp && ext.pipelining && ext.eightbitmime && ext.smtputf8 && ext.dsn &&
		    ext.starttls && ext.enhanced && ext.size && ext.auth_plain && ext.auth_login);
	assert_int_equal(ext.size_max, 10240000);
	smtp_reply_free(&r);
}

static void test_ehlo_name_line_is_no_keyword(void **state)
{
	struct smtp_reply r;
	struct smtp_ext ext;

	(void)state;
	assert_int_equal(parse(&r, "250-PIPELINING\r\n250 SIZE\r\n", NULL), 0);
	smtp_reply_ehlo(&r, &ext);
	assert_false(ext.pipelining);        /* the first line names the server */
	assert_true(ext.size);
	assert_int_equal(ext.size_max, 0);   /* SIZE without a limit */
	smtp_reply_free(&r);
}

static void test_ehlo_size_overflow_is_ignored(void **state)
{
	struct smtp_reply r;
	struct smtp_ext ext;

	(void)state;
	assert_int_equal(parse(&r, "250-x\r\n250 SIZE 99999999999999999999999\r\n", NULL), 0);
	smtp_reply_ehlo(&r, &ext);
	assert_true(ext.size);
	assert_int_equal(ext.size_max, 0);
	smtp_reply_free(&r);
}

static void test_summary_is_one_printable_line(void **state)
{
	struct smtp_reply r;
	struct buf out;

	(void)state;
	assert_int_equal(parse(&r, "550-5.7.1 bad\x01 \xc3\xa9\r\n550 5.7.1 second\r\n", NULL), 0);
	buf_init(&out, 1024);
	assert_int_equal(smtp_reply_summary(&r, &out, 100), 0);
	assert_string_equal(buf_cstr(&out), "550 5.7.1 bad? ?? 5.7.1 second");
	buf_reset(&out);
	assert_int_equal(smtp_reply_summary(&r, &out, 5), 0);
	assert_string_equal(buf_cstr(&out), "550 5.7.1...");
	buf_free(&out);
	smtp_reply_free(&r);
}

static void test_enhanced_code_ok_takes_exact_codes_only(void **state)
{
	static const char *const good[] = { "2.0.0", "4.4.1", "5.1.1", "5.7.999", "4.999.0" };
	static const char *const bad[] = { "", "5", "5.1", "3.1.1", "5.1.1 ", "5.01.1", "5.1234.1",
					   "5.1.a", "x.1.1", "5..1" };

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(smtp_enhanced_code_ok(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_false(smtp_enhanced_code_ok(bad[i], strlen(bad[i])));
	/* (pointer, length): what follows the length is not looked at. */
	assert_true(smtp_enhanced_code_ok("5.1.1 text", 5));
}

/* The status fn gives for the reply text. */
static void assert_dsn(const char *(*fn)(const struct smtp_reply *), const char *text, const char *want)
{
	struct smtp_reply r;

	assert_int_equal(parse(&r, text, NULL), 0);
	assert_string_equal(fn(&r), want);
	smtp_reply_free(&r);
}

static void test_dsn_takes_the_enhanced_code_or_the_class_default(void **state)
{
	(void)state;
	assert_dsn(smtp_reply_dsn, "550 5.1.1 no such user\r\n", "5.1.1");
	assert_dsn(smtp_reply_dsn, "452 too many\r\n", "4.0.0");
	assert_dsn(smtp_reply_dsn, "554 no\r\n", "5.0.0");
	assert_dsn(smtp_reply_dsn, "250 ok\r\n", "2.0.0");
	assert_dsn(smtp_reply_dsn, "354 go\r\n", "4.0.0");   /* no class 3 status exists: temporary */
}

static void test_dsn_failure_never_reads_as_success(void **state)
{
	(void)state;
	assert_dsn(smtp_reply_dsn_failure, "250 2.0.0 ok\r\n", "4.0.0");   /* 250 where DATA needs 354 */
	assert_dsn(smtp_reply_dsn_failure, "451 4.3.2 later\r\n", "4.3.2");
	assert_dsn(smtp_reply_dsn_failure, "550 5.7.1 no\r\n", "5.7.1");
}

static void test_said_names_the_server_and_the_command(void **state)
{
	struct smtp_reply r;
	char out[64];

	(void)state;
	parse(&r, "550-5.1.1 first\r\n550 second\r\n", NULL);
	smtp_reply_said(&r, "host mx[192.0.2.1]:25", "RCPT TO command", 300, out, sizeof out);
	/* cut at the buffer: a diagnostic only shortens */
	assert_string_equal(out, "host mx[192.0.2.1]:25 said: 550 5.1.1 first second (in reply to");
	smtp_reply_said(&r, "lmtp x", "DATA", 5, out, sizeof out);
	assert_string_equal(out, "lmtp x said: 550 5.1.1... (in reply to DATA)");
	smtp_reply_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_single_line_reply_with_enhanced_code),
		cmocka_unit_test(test_multiline_reply_ends_at_space_line),
		cmocka_unit_test(test_code_change_within_reply_is_malformed),
		cmocka_unit_test(test_bad_codes_are_refused),
		cmocka_unit_test(test_bare_code_and_lf_only_lines_are_accepted),
		cmocka_unit_test(test_enhanced_code_needs_matching_class_and_shape),
		cmocka_unit_test(test_incomplete_reply_asks_for_more),
		cmocka_unit_test(test_too_many_lines_are_refused),
		cmocka_unit_test(test_too_much_text_is_refused),
		cmocka_unit_test(test_ehlo_extensions_are_read),
		cmocka_unit_test(test_ehlo_name_line_is_no_keyword),
		cmocka_unit_test(test_ehlo_size_overflow_is_ignored),
		cmocka_unit_test(test_summary_is_one_printable_line),
		cmocka_unit_test(test_enhanced_code_ok_takes_exact_codes_only),
		cmocka_unit_test(test_dsn_takes_the_enhanced_code_or_the_class_default),
		cmocka_unit_test(test_dsn_failure_never_reads_as_success),
		cmocka_unit_test(test_said_names_the_server_and_the_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
