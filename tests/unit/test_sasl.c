/* Unit tests for common/sasl.c: mechanism names, response lines ("*",
 * line ends, strict base64), initial responses ("="), the PLAIN message
 * and its checks (authzid, empty parts, NULs, limits) and LOGIN's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "sasl.h"

static void test_sasl_mech_names(void **state)
{
	(void)state;
	assert_int_equal(sasl_mech_parse("PLAIN", 5), SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_parse("plain", 5), SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_parse("Login", 5), SASL_MECH_LOGIN);
	assert_int_equal(sasl_mech_parse("PLAINX", 6), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("PLAI", 4), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("CRAM-MD5", 8), SASL_MECH_NONE);
	assert_int_equal(sasl_mech_parse("", 0), SASL_MECH_NONE);
}

static void test_sasl_response_lines(void **state)
{
	struct buf out;
	(void)state;

	buf_init(&out, 64);
	assert_int_equal(sasl_response_decode("*\r\n", 3, &out), SASL_CANCEL);
	assert_int_equal(sasl_response_decode("*", 1, &out), SASL_CANCEL);
	assert_int_equal(sasl_response_decode("YWxpY2U=\r\n", 10, &out), SASL_OK);
	assert_string_equal(buf_cstr(&out), "alice");
	buf_reset(&out);
	assert_int_equal(sasl_response_decode("YWxpY2U=\n", 9, &out), SASL_OK);
	assert_string_equal(buf_cstr(&out), "alice");
	buf_reset(&out);
	assert_int_equal(sasl_response_decode("\r\n", 2, &out), SASL_OK);   /* an empty response */
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_response_decode("YWxpY2U\r\n", 9, &out), SASL_BAD);
	assert_int_equal(sasl_response_decode("YWxp Y2U=\r\n", 11, &out), SASL_BAD);
	assert_int_equal(sasl_response_decode("**\r\n", 4, &out), SASL_BAD);
	assert_int_equal(sasl_response_decode("=\r\n", 3, &out), SASL_BAD);  /* "=" only as initial */
	buf_free(&out);
	buf_init(&out, 4);   /* the cap holds */
	assert_int_equal(sasl_response_decode("YWxpY2U=", 8, &out), SASL_BAD);
	buf_free(&out);
}

static void test_sasl_initial_response(void **state)
{
	struct buf out;
	(void)state;

	buf_init(&out, 64);
	assert_int_equal(sasl_initial_decode("=", 1, &out), SASL_OK);
	assert_int_equal(out.len, 0);
	assert_int_equal(sasl_initial_decode("YQ==", 4, &out), SASL_OK);
	assert_string_equal(buf_cstr(&out), "a");
	assert_int_equal(sasl_initial_decode("*", 1, &out), SASL_BAD);
	assert_int_equal(sasl_initial_decode("==", 2, &out), SASL_BAD);
	buf_free(&out);
}

static enum sasl_status plain(const char *msg, size_t len, struct buf *u, struct buf *p)
{
	return sasl_plain_parse(msg, len, u, p);
}

static void test_sasl_plain_message(void **state)
{
	struct buf u, p;
	char big[SASL_PASSWORD_MAX + 16];
	(void)state;

	buf_init(&u, SASL_MESSAGE_MAX);
	buf_init(&p, SASL_MESSAGE_MAX);
	assert_int_equal(plain("\0alice\0secret", 13, &u, &p), SASL_OK);
	assert_string_equal(buf_cstr(&u), "alice");
	assert_string_equal(buf_cstr(&p), "secret");
	assert_int_equal(plain("Alice\0alice\0secret", 18, &u, &p), SASL_OK);   /* authzid = authcid */
	assert_int_equal(plain("bob\0alice\0x", 11, &u, &p), SASL_REFUSED);     /* no proxy logins */
	assert_int_equal(u.len, 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(plain("alic\0alice\0x", 12, &u, &p), SASL_REFUSED);
	assert_int_equal(plain("alice\0secret", 12, &u, &p), SASL_BAD);         /* one NUL */
	assert_int_equal(plain("\0alice\0se\0cret", 14, &u, &p), SASL_BAD);     /* three */
	assert_int_equal(plain("\0\0secret", 8, &u, &p), SASL_BAD);             /* no user */
	assert_int_equal(plain("\0alice\0", 7, &u, &p), SASL_BAD);              /* no password */
	assert_int_equal(plain("", 0, &u, &p), SASL_BAD);
	assert_int_equal(plain(NULL, 0, &u, &p), SASL_BAD);                     /* an empty buf */
	/* Limits: a password over SASL_PASSWORD_MAX is no login. */
	memset(big, 'x', sizeof(big));
	big[0] = '\0';
	memcpy(big + 1, "alice", 5);
	big[6] = '\0';
	assert_int_equal(plain(big, 7 + SASL_PASSWORD_MAX, &u, &p), SASL_OK);
	assert_int_equal(p.len, SASL_PASSWORD_MAX);
	assert_int_equal(plain(big, 8 + SASL_PASSWORD_MAX, &u, &p), SASL_REFUSED);
	buf_free(&u);
	buf_free(&p);
	/* A caller's buffer smaller than the limits: refused, never cut. */
	buf_init(&u, 4);
	buf_init(&p, 64);
	assert_int_equal(plain("\0alice\0secret", 13, &u, &p), SASL_REFUSED);
	assert_int_equal(u.len, 0);
	buf_free(&u);
	buf_free(&p);
}

static void test_sasl_login_values(void **state)
{
	struct buf u, p;
	(void)state;

	buf_init(&u, SASL_MESSAGE_MAX);
	buf_init(&p, SASL_MESSAGE_MAX);
	assert_int_equal(sasl_login_check(&u, &p), SASL_BAD);
	buf_set(&u, "alice", 5);
	assert_int_equal(sasl_login_check(&u, &p), SASL_BAD);
	buf_set(&p, "pw", 2);
	assert_int_equal(sasl_login_check(&u, &p), SASL_OK);
	buf_set(&p, "p\0w", 3);
	assert_int_equal(sasl_login_check(&u, &p), SASL_REFUSED);
	buf_set(&p, "pw", 2);
	for (int i = 0; i < SASL_USER_MAX; i++)
		buf_putc(&u, 'a');
	assert_int_equal(sasl_login_check(&u, &p), SASL_REFUSED);
	buf_free(&u);
	buf_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sasl_mech_names),
		cmocka_unit_test(test_sasl_response_lines),
		cmocka_unit_test(test_sasl_initial_response),
		cmocka_unit_test(test_sasl_plain_message),
		cmocka_unit_test(test_sasl_login_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
