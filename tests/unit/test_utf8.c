/* test_utf8: UTF-8 decoding, validation and encoding (common/utf8.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "utf8.h"

static void test_decode_well_formed(void **state)
{
	uint32_t cp;
	(void)state;

	assert_int_equal(utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp), 2);
	assert_int_equal(cp, 0xe9);
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp), 3);
	assert_int_equal(cp, 0x20ac);
	assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp), 4);
	assert_int_equal(cp, 0x10ffff);
}

static void test_decode_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"\x80", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf0\x80\x80\xaf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xff", "\xc3", "\xe2\x82", "\xc3\x41",
	};
	uint32_t cp;
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(utf8_decode((const unsigned char *)bad[i], strlen(bad[i]), &cp), 0);
		assert_false(utf8_valid(bad[i], strlen(bad[i])));
	}
	assert_int_equal(utf8_decode((const unsigned char *)"x", 0, &cp), 0);
	/* A truncated length never reads further. */
	assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 2, &cp), 0);
}

static void test_valid_strings(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(utf8_valid("plain ascii", 11));
	assert_true(utf8_valid("a\0b", 3));
	assert_true(utf8_valid("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 9));
	assert_false(utf8_valid("\xe6\x97\xa5\xe6\x9c", 5));
}

static void test_encode(void **state)
{
	struct buf b;
	(void)state;

	buf_init(&b, 64);
	assert_int_equal(utf8_encode(0x41, &b), 0);
	assert_int_equal(utf8_encode(0xe9, &b), 0);
	assert_int_equal(utf8_encode(0x20ac, &b), 0);
	assert_int_equal(utf8_encode(0x1f600, &b), 0);
	assert_string_equal(buf_cstr(&b), "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_int_equal(utf8_encode(0xd800, &b), -1);
	assert_int_equal(utf8_encode(0x110000, &b), -1);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_well_formed),
		cmocka_unit_test(test_decode_refuses_malformed),
		cmocka_unit_test(test_valid_strings),
		cmocka_unit_test(test_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
