/* Unit tests for common/base64.c: strict decoding (padding, length,
 * stray bytes, non-canonical bits, the output cap), encoding round
 * trips, and the alphabet table that mime.c's lenient decoder shares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base64.h"

static int b64(const char *in, struct buf *out)
{
	buf_reset(out);
	return base64_decode_strict(in, strlen(in), out);
}

static void test_base64_strict(void **state)
{
	struct buf out;
	(void)state;

	buf_init(&out, 64);
	assert_int_equal(b64("", &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(b64("AGFsaWNlAHB3", &out), 0);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "\0alice\0pw", 9);
	assert_int_equal(b64("YQ==", &out), 0);
	assert_string_equal(buf_cstr(&out), "a");
	assert_int_equal(b64("YWI=", &out), 0);
	assert_string_equal(buf_cstr(&out), "ab");
	assert_int_equal(b64("YQ=", &out), -1);      /* length */
	assert_int_equal(b64("YQ", &out), -1);       /* padding missing */
	assert_int_equal(b64("Y===", &out), -1);     /* too much padding */
	assert_int_equal(b64("YQ==YQ==", &out), -1); /* padding inside */
	assert_int_equal(b64("YR==", &out), -1);     /* non-canonical bits */
	assert_int_equal(b64("YWJ=", &out), -1);
	assert_int_equal(b64("YW J", &out), -1);     /* space */
	assert_int_equal(b64("YWJj\r\n", &out), -1); /* no line ends inside a value */
	assert_int_equal(b64("=AAA", &out), -1);
	assert_int_equal(b64("YW-_", &out), -1);     /* the URL alphabet is another one */
	buf_free(&out);
	buf_init(&out, 2);                           /* the cap holds */
	assert_int_equal(b64("YWJj", &out), -1);
	buf_free(&out);
}

static void test_base64_roundtrip(void **state)
{
	unsigned char raw[64];
	struct buf enc, dec;
	(void)state;

	for (size_t n = 0; n < sizeof(raw); n++) {
		for (size_t i = 0; i < n; i++)
			raw[i] = (unsigned char)(i * 37 + n);
		buf_init(&enc, 256);
		buf_init(&dec, 256);
		assert_int_equal(base64_encode(raw, n, &enc), 0);
		assert_int_equal(enc.len, (n + 2) / 3 * 4);
		assert_int_equal(base64_decode_strict(enc.data, enc.len, &dec), 0);
		assert_int_equal(dec.len, n);
		if (n > 0)
			assert_memory_equal(dec.data, raw, n);
		buf_free(&enc);
		buf_free(&dec);
	}
	buf_init(&enc, 7);                           /* the cap holds */
	assert_int_equal(base64_encode("abcdef", 6, &enc), -1);
	buf_free(&enc);
}

static void test_base64_table_is_the_alphabet(void **state)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	int seen = 0;
	(void)state;

	for (int c = 0; c < 256; c++) {
		const char *at = c != 0 ? strchr(alphabet, c) : NULL;
		if (at != NULL) {
			assert_int_equal(base64_values[c], at - alphabet);
			seen++;
		} else {
			assert_int_equal(base64_values[c], -1);
		}
	}
	assert_int_equal(seen, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_strict),
		cmocka_unit_test(test_base64_roundtrip),
		cmocka_unit_test(test_base64_table_is_the_alphabet),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
