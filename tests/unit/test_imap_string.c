/* Unit tests for common/imap_string.c: the form chosen for each kind of
 * bytes (atom, quoted, literal, NIL), escaping, NUL, UTF-8 with and
 * without IMAP4rev2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "imap_string.h"

struct string_case {
	const char *in;
	size_t len;
	unsigned int flags;
	const char *string, *astring;   /* imap_write_string / imap_write_astring */
};

static const struct string_case string_cases[] = {
	{ "hello", 5, 0, "\"hello\"", "hello" },
	{ "", 0, 0, "\"\"", "\"\"" },
	{ "NIL", 3, 0, "\"NIL\"", "\"NIL\"" },
	{ "nil", 3, 0, "\"nil\"", "\"nil\"" },
	{ "NILS", 4, 0, "\"NILS\"", "NILS" },
	{ "a b", 3, 0, "\"a b\"", "\"a b\"" },
	{ "INBOX.Sent]", 11, 0, "\"INBOX.Sent]\"", "INBOX.Sent]" },  /* ']' is an ASTRING-CHAR */
	{ "a(b", 3, 0, "\"a(b\"", "\"a(b\"" },
	{ "50%*", 4, 0, "\"50%*\"", "\"50%*\"" },
	{ "say \"hi\" \\o/", 12, 0, "\"say \\\"hi\\\" \\\\o/\"", "\"say \\\"hi\\\" \\\\o/\"" },
	{ "tab\there", 8, 0, "{8}\r\ntab\there", "{8}\r\ntab\there" },
	{ "two\r\nlines", 10, 0, "{10}\r\ntwo\r\nlines", "{10}\r\ntwo\r\nlines" },
	{ "caf\xc3\xa9", 5, 0, "{5}\r\ncaf\xc3\xa9", "{5}\r\ncaf\xc3\xa9" },
	{ "caf\xc3\xa9", 5, IMAP_STR_UTF8, "\"caf\xc3\xa9\"", "\"caf\xc3\xa9\"" },
	{ "bad\xc3", 4, IMAP_STR_UTF8, "{4}\r\nbad\xc3", "{4}\r\nbad\xc3" },
	{ "a\0b", 3, 0, "{3}\r\na?b", "{3}\r\na?b" },   /* no IMAP string carries NUL */
	{ "del\x7f", 4, 0, "{4}\r\ndel\x7f", "{4}\r\ndel\x7f" },
};

static void test_imap_string_forms(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
		const struct string_case *c = &string_cases[i];
		struct buf out;

		buf_init(&out, 1000);
		assert_int_equal(imap_write_string(&out, c->in, c->len, c->flags), 0);
		assert_int_equal(out.len, strlen(c->string));
		assert_memory_equal(out.data, c->string, out.len);
		buf_reset(&out);
		assert_int_equal(imap_write_astring(&out, c->in, c->len, c->flags), 0);
		assert_int_equal(out.len, strlen(c->astring));
		assert_memory_equal(out.data, c->astring, out.len);
		buf_free(&out);
	}
}

static void test_imap_string_nstring_and_literal_prefix(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 100);
	assert_int_equal(imap_write_nstring(&out, NULL, 0, 0), 0);
	assert_int_equal(imap_write_nstring(&out, "x", 1, 0), 0);
	assert_int_equal(imap_write_literal_prefix(&out, 12, 0), 0);
	assert_int_equal(imap_write_literal_prefix(&out, 0, 1), 0);
	assert_string_equal(buf_cstr(&out), "NIL\"x\"{12}\r\n~{0}\r\n");
	buf_free(&out);
	buf_init(&out, 4);
	assert_int_equal(imap_write_string(&out, "hello", 5, 0), -1);   /* the cap */
	buf_free(&out);
}

static void test_imap_string_atom_chars(void **state)
{
	(void)state;
	assert_true(imap_is_atom_char('a'));
	assert_true(imap_is_atom_char('.'));
	for (const char *p = "(){ %*\"\\]"; *p != '\0'; p++)
		assert_false(imap_is_atom_char(*p));
	assert_false(imap_is_atom_char(0x7f));
	assert_false(imap_is_atom_char(0x80));
	assert_false(imap_is_atom_char('\r'));
	assert_true(imap_is_astring_char(']'));
	assert_int_equal(imap_string_form("abc", 3, 1, 0), IMAP_STR_ATOM);
	assert_int_equal(imap_string_form("abc", 3, 0, 0), IMAP_STR_QUOTED);
	assert_int_equal(imap_string_form("\n", 1, 1, 0), IMAP_STR_LITERAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_imap_string_forms),
		cmocka_unit_test(test_imap_string_nstring_and_literal_prefix),
		cmocka_unit_test(test_imap_string_atom_chars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
