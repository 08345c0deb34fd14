/* Unit tests for common/smtp_cmd.c: verbs, arguments, line ends, control
 * bytes, MAIL/RCPT parameter lists and their bounds, SIZE values, and the
 * extension codecs: xtext, NOTIFY, the BDAT argument. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_cmd.h"

static enum smtp_cmd_status parse(const char *s, struct smtp_cmd *c)
{
	return smtp_cmd_parse(s, strlen(s), c);
}

static void assert_arg(const struct smtp_cmd *c, const char *want)
{
	assert_int_equal(c->arg_len, strlen(want));
	assert_memory_equal(c->arg, want, c->arg_len);
}

static void test_verbs_are_case_insensitive(void **state)
{
	struct smtp_cmd c;
	(void)state;

	assert_int_equal(parse("ehlo client.test\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_EHLO);
	assert_arg(&c, "client.test");
	assert_int_equal(parse("QuIt\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_QUIT);
	assert_int_equal(c.arg_len, 0);
	assert_int_equal(parse("DATA\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_DATA);
	assert_string_equal(smtp_cmd_verb_name(SMTP_VERB_RCPT), "RCPT");
}

static void test_unknown_verb_is_ok_but_unknown(void **state)
{
	struct smtp_cmd c;
	(void)state;

	assert_int_equal(parse("ETRN example.test\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	assert_int_equal(parse("MAILX FROM:<a@b>\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
	assert_int_equal(parse("HEL\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_UNKNOWN);
}

static void test_line_ends_and_spaces(void **state)
{
	struct smtp_cmd c;
	(void)state;

	/* Bare LF accepted for commands; trailing spaces dropped. */
	assert_int_equal(parse("MAIL FROM:<a@b.test>  \n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_MAIL);
	assert_arg(&c, "FROM:<a@b.test>");
	/* No terminator at all (last line at EOF). */
	assert_int_equal(parse("NOOP", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_NOOP);
	assert_int_equal(parse("\r\n", &c), SMTP_CMD_EMPTY);
	assert_int_equal(parse("   \r\n", &c), SMTP_CMD_EMPTY);
	assert_int_equal(smtp_cmd_parse("", 0, &c), SMTP_CMD_EMPTY);
}

static void test_control_bytes_are_refused(void **state)
{
	struct smtp_cmd c;
	(void)state;

	/* A bare CR inside a command (response smuggling) and NUL. */
	assert_int_equal(parse("NOOP\rQUIT\r\n", &c), SMTP_CMD_BADCHAR);
	assert_int_equal(parse("NOOP\r\r\n", &c), SMTP_CMD_BADCHAR);
	assert_int_equal(smtp_cmd_parse("NO\0OP\r\n", 8, &c), SMTP_CMD_BADCHAR);
	assert_int_equal(parse("HELO a\tb\r\n", &c), SMTP_CMD_BADCHAR);
	assert_int_equal(parse("HELO a\x7f\r\n", &c), SMTP_CMD_BADCHAR);
}

static void test_arg_prefix(void **state)
{
	const char *rest;
	size_t n;
	(void)state;

	assert_int_equal(smtp_cmd_arg_prefix("from:<a@b>", 10, "FROM:", &rest, &n), 1);
	assert_int_equal(n, 5);
	assert_memory_equal(rest, "<a@b>", 5);
	assert_int_equal(smtp_cmd_arg_prefix("FROM <a@b>", 10, "FROM:", &rest, &n), 0);
	assert_int_equal(smtp_cmd_arg_prefix("FRO", 3, "FROM:", &rest, &n), 0);
}

static int params(const char *s, struct smtp_param *p, size_t max, size_t *n)
{
	const char *err;
	return smtp_cmd_params(s, strlen(s), p, max, n, &err);
}

static void test_params_parse(void **state)
{
	struct smtp_param p[SMTP_CMD_MAX_PARAMS];
	size_t n;
	(void)state;

	assert_int_equal(params("", p, SMTP_CMD_MAX_PARAMS, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(params(" SIZE=1234 BODY=8BITMIME SMTPUTF8", p, SMTP_CMD_MAX_PARAMS, &n), 0);
	assert_int_equal(n, 3);
	assert_true(smtp_param_is(&p[0], "size"));
	assert_int_equal(p[0].value_len, 4);
	assert_memory_equal(p[0].value, "1234", 4);
	assert_true(smtp_param_is(&p[1], "BODY"));
	assert_memory_equal(p[1].value, "8BITMIME", 8);
	assert_true(smtp_param_is(&p[2], "SMTPUTF8"));
	assert_null(p[2].value);
	assert_false(smtp_param_is(&p[2], "SMTPUTF"));
}

static void test_params_bad_syntax(void **state)
{
	struct smtp_param p[SMTP_CMD_MAX_PARAMS];
	size_t n;
	(void)state;

	assert_int_equal(params("SIZE=1", p, SMTP_CMD_MAX_PARAMS, &n), -1);     /* no space */
	assert_int_equal(params(" SIZE=", p, SMTP_CMD_MAX_PARAMS, &n), -1);     /* empty value */
	assert_int_equal(params(" =1", p, SMTP_CMD_MAX_PARAMS, &n), -1);
	assert_int_equal(params(" -X=1", p, SMTP_CMD_MAX_PARAMS, &n), -1);
	assert_int_equal(params(" A=b=c", p, SMTP_CMD_MAX_PARAMS, &n), -1);
	assert_int_equal(params(" A_B", p, SMTP_CMD_MAX_PARAMS, &n), -1);
	assert_int_equal(params(" A=\xc3\xa9", p, SMTP_CMD_MAX_PARAMS, &n), -1);
	assert_int_equal(params(" AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=1", p, SMTP_CMD_MAX_PARAMS, &n), -1);
}

static void test_params_count_is_bounded(void **state)
{
	struct smtp_param p[4];
	size_t n;
	(void)state;

	assert_int_equal(params(" A B C D", p, 4, &n), 0);
	assert_int_equal(n, 4);
	/* The fifth never touches p[4]. */
	assert_int_equal(params(" A B C D E", p, 4, &n), -1);
	assert_int_equal(params(" A B C D   ", p, 4, &n), 0);
	assert_int_equal(n, 4);
}

/* Issue 9 item 11: every keyword at most once, whatever its case. */
static void test_params_duplicate_refused(void **state)
{
	static const char *const dups[] = {
		" BODY=8BITMIME BODY=7BIT", " SIZE=1 SIZE=2", " SMTPUTF8 SMTPUTF8",
		" body=7bit BODY=7BIT", " RET=HDRS SIZE=1 ret=FULL", " NOTIFY=NEVER NOTIFY=NEVER",
		" ORCPT=rfc822;a@b ORCPT=rfc822;a@b", " A B C D E F G H I J K L M N O a",
	};
	struct smtp_param p[SMTP_CMD_MAX_PARAMS];
	const char *err = NULL;
	size_t n;
	(void)state;

	for (size_t i = 0; i < sizeof(dups) / sizeof(dups[0]); i++) {
		assert_int_equal(smtp_cmd_params(dups[i], strlen(dups[i]), p, SMTP_CMD_MAX_PARAMS, &n, &err), -1);
		assert_string_equal(err, "duplicate parameter");
	}
	/* A keyword that is a prefix of another is no duplicate. */
	assert_int_equal(params(" SMTPUTF8 SMTPUTF SMTP=1", p, SMTP_CMD_MAX_PARAMS, &n), 0);
	assert_int_equal(n, 3);
}

static void test_size_value(void **state)
{
	struct smtp_param p[2];
	unsigned long long v;
	size_t n;
	(void)state;

	assert_int_equal(params(" SIZE=1000", p, 2, &n), 0);
	assert_int_equal(smtp_param_size(&p[0], 5000, &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(smtp_param_size(&p[0], 999, &v), 0);
	assert_int_equal(v, 1000);   /* limit + 1 */
	assert_int_equal(params(" SIZE=99999999999999999999999999", p, 2, &n), 0);
	assert_int_equal(smtp_param_size(&p[0], 5000, &v), 0);
	assert_int_equal(v, 5001);   /* saturated, no overflow */
	assert_int_equal(params(" SIZE=12k", p, 2, &n), 0);
	assert_int_equal(smtp_param_size(&p[0], 5000, &v), -1);
	assert_int_equal(params(" SIZE", p, 2, &n), 0);
	assert_int_equal(smtp_param_size(&p[0], 5000, &v), -1);
}

/* ---- extension value codecs ---- */

static void test_new_verbs_known(void **state)
{
	struct smtp_cmd c;
	(void)state;

	assert_int_equal(parse("starttls\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_STARTTLS);
	assert_int_equal(parse("AUTH PLAIN AGEAYg==\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_AUTH);
	assert_arg(&c, "PLAIN AGEAYg==");
	assert_int_equal(parse("BDAT 10 LAST\r\n", &c), SMTP_CMD_OK);
	assert_int_equal(c.verb, SMTP_VERB_BDAT);
}

static void test_xtext_decode(void **state)
{
	struct buf out;
	(void)state;

	buf_init(&out, 16);
	assert_int_equal(smtp_xtext_decode("a+2Bb+3Dc", 9, &out), 0);
	assert_string_equal(buf_cstr(&out), "a+b=c");
	buf_reset(&out);
	assert_int_equal(smtp_xtext_decode("a+2b", 4, &out), -1);   /* lower-case hex */
	assert_int_equal(smtp_xtext_decode("a+2", 3, &out), -1);    /* short escape */
	assert_int_equal(smtp_xtext_decode("a=b", 3, &out), -1);
	assert_int_equal(smtp_xtext_decode("+0A", 3, &out), -1);    /* decoded control byte */
	assert_int_equal(smtp_xtext_decode("a b", 3, &out), -1);
	buf_reset(&out);
	assert_int_equal(smtp_xtext_decode("0123456789abcdefX", 17, &out), -1);   /* cap */
	buf_free(&out);
}

static int notify(const char *in, char *out)
{
	return smtp_notify_parse(in, strlen(in), out, 32);
}

static void test_notify_values(void **state)
{
	char out[32];
	(void)state;

	assert_int_equal(notify("never", out), 0);
	assert_string_equal(out, "NEVER");
	assert_int_equal(notify("delay,Success", out), 0);
	assert_string_equal(out, "SUCCESS,DELAY");
	assert_int_equal(notify("FAILURE,DELAY,SUCCESS", out), 0);
	assert_string_equal(out, "SUCCESS,FAILURE,DELAY");
	assert_int_equal(notify("NEVER,SUCCESS", out), -1);
	assert_int_equal(notify("SUCCESS,SUCCESS", out), -1);
	assert_int_equal(notify("SUCCESS,", out), -1);
	assert_int_equal(notify("", out), -1);
	assert_int_equal(notify("SOMETIMES", out), -1);
	assert_int_equal(smtp_notify_parse("SUCCESS", 7, out, 4), -1);   /* output bound */
}

static void test_bdat_argument(void **state)
{
	unsigned long long n;
	int last;
	(void)state;

	assert_int_equal(smtp_bdat_parse("0", 1, &n, &last), 0);
	assert_true(n == 0 && last == 0);
	assert_int_equal(smtp_bdat_parse("1234 LAST", 9, &n, &last), 0);
	assert_true(n == 1234 && last == 1);
	assert_int_equal(smtp_bdat_parse("12 last", 7, &n, &last), 0);
	assert_int_equal(last, 1);
	assert_int_equal(smtp_bdat_parse("999999999999999999", 18, &n, &last), 0);
	assert_int_equal(smtp_bdat_parse("1000000000000000000", 19, &n, &last), -1);
	assert_int_equal(smtp_bdat_parse("", 0, &n, &last), -1);
	assert_int_equal(smtp_bdat_parse("-1", 2, &n, &last), -1);
	assert_int_equal(smtp_bdat_parse("12 FIRST", 8, &n, &last), -1);
	assert_int_equal(smtp_bdat_parse("12LAST", 6, &n, &last), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_verbs_are_case_insensitive),
		cmocka_unit_test(test_unknown_verb_is_ok_but_unknown),
		cmocka_unit_test(test_line_ends_and_spaces),
		cmocka_unit_test(test_control_bytes_are_refused),
		cmocka_unit_test(test_arg_prefix),
		cmocka_unit_test(test_params_parse),
		cmocka_unit_test(test_params_bad_syntax),
		cmocka_unit_test(test_params_count_is_bounded),
		cmocka_unit_test(test_params_duplicate_refused),
		cmocka_unit_test(test_size_value),
		cmocka_unit_test(test_new_verbs_known),
		cmocka_unit_test(test_xtext_decode),
		cmocka_unit_test(test_notify_values),
		cmocka_unit_test(test_bdat_argument),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
