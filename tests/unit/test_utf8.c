/* Unit tests for common/utf8.c: well-formed and malformed sequences
 * (RFC 3629 4) and encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

static void test_utf8_valid_and_malformed(void **state)
{
	static const char *const good[] = {
		"", "ascii \x01\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
		"\xed\x9f\xbf",
	};
	static const char *const bad[] = {
		"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80", "\xc3", "\xe2\x82", "\xc3\x28", "\xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(utf8_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(utf8_valid(bad[i], strlen(bad[i])));
	assert_true(utf8_valid("a\0b", 3));
	/* never reads past n */
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 2), 0);
	assert_int_equal(utf8_seq_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
	assert_int_equal(utf8_seq_len((const unsigned char *)"a", 1), 0);
	assert_int_equal(utf8_seq_len((const unsigned char *)"", 0), 0);
}

static void test_utf8_encode(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(utf8_encode('A', out), 1);
	assert_int_equal(utf8_encode(0xe9, out), 2);
	assert_memory_equal(out, "\xc3\xa9", 2);
	assert_int_equal(utf8_encode(0x20ac, out), 3);
	assert_memory_equal(out, "\xe2\x82\xac", 3);
	assert_int_equal(utf8_encode(0x1f600, out), 4);
	assert_memory_equal(out, "\xf0\x9f\x98\x80", 4);
	assert_int_equal(utf8_encode(0xd800, out), 0);
	assert_int_equal(utf8_encode(0x110000, out), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_valid_and_malformed),
		cmocka_unit_test(test_utf8_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
