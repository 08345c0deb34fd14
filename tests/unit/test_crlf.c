/* Unit tests for common/crlf.c: bare LFs made CRLF, a CRLF kept, a CR
 * at the end of one call and its LF at the start of the next, the room
 * exactly enough and one byte short, and random bytes split anywhere
 * against a byte-by-byte reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crlf.h"

static void expect(const char *src, char prev, const char *want)
{
	char out[256];
	size_t n = strlen(src), w = strlen(want);

	assert_int_equal(crlf_expand(out, sizeof(out), src, n, prev), w);
	assert_memory_equal(out, want, w);
	/* exactly enough room, and one byte short */
	assert_int_equal(crlf_expand(out, w, src, n, prev), w);
	if (w > 0)
		assert_int_equal(crlf_expand(out, w - 1, src, n, prev), SIZE_MAX);
}

static void test_crlf_bare_lf_becomes_crlf_and_crlf_stays(void **state)
{
	(void)state;
	expect("", '\n', "");
	expect("no line end", '\n', "no line end");
	expect("a\nb\n", '\n', "a\r\nb\r\n");
	expect("a\r\nb\r\n", '\n', "a\r\nb\r\n");
	expect("\n\n", '\n', "\r\n\r\n");
	expect("\r\n\n\r\r\n", '\n', "\r\n\r\n\r\r\n");
	expect("x\r", '\n', "x\r");
	/* a CR that ended the previous piece */
	expect("\nrest", '\r', "\nrest");
	expect("\nrest", 'x', "\r\nrest");
}

/* The reference: one byte at a time. */
static size_t reference(char *dst, const char *src, size_t n, char prev)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (src[i] == '\n' && prev != '\r')
			dst[k++] = '\r';
		dst[k++] = src[i];
		prev = src[i];
	}
	return k;
}

static void test_crlf_random_pieces_match_the_reference(void **state)
{
	enum { N = 4096 };
	static char src[N], want[2 * N], got[2 * N];
	const char alphabet[] = "\n\n\r\nab \t\0x";
	(void)state;

	srand(7);
	for (int round = 0; round < 300; round++) {
		size_t n = (size_t)rand() % N, at = 0, k = 0;
		for (size_t i = 0; i < n; i++)
			src[i] = alphabet[rand() % (int)(sizeof(alphabet) - 1)];
		size_t w = reference(want, src, n, '\n');
		char prev = '\n';
		while (at < n) {   /* in pieces, as a reader gets them */
			size_t piece = 1 + (size_t)rand() % 700;
			if (piece > n - at)
				piece = n - at;
			size_t r = crlf_expand(got + k, sizeof(got) - k, src + at, piece, prev);
			assert_int_not_equal(r, SIZE_MAX);
			k += r;
			prev = src[at + piece - 1];
			at += piece;
		}
		assert_int_equal(k, w);
		assert_memory_equal(got, want, w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf_bare_lf_becomes_crlf_and_crlf_stays),
		cmocka_unit_test(test_crlf_random_pieces_match_the_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
