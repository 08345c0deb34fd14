/* base64: strict decoding and encoding (RFC 4648 section 4).
 *
 * Offers: base64_decode_strict() for protocol values, where a value has
 * exactly one encoding (no white space, padding required, the bits the
 * padding drops zero), so that a SASL response cannot be smuggled past a
 * check in a second spelling; base64_encode(); and the alphabet table
 * that mime.c's lenient body decoder uses too.
 *
 * Trusts: nothing.  Input is (pointer, length), walked forward only,
 * never past the length; output goes into a capped buf.
 *
 * Fails: -1 on any byte out of place or when the output would pass the
 * buffer's cap; nothing here allocates beyond that buffer, logs or
 * aborts (tests/fuzz/fuzz_sasl.c). */
#include "base64.h"

static const char base64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define B64_ROW16 -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1
const signed char base64_values[256] = {
	B64_ROW16, B64_ROW16,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,          /* '+' '/' */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,          /* '0'-'9' */
	-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,                     /* 'A'-'O' */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,           /* 'P'-'Z' */
	-1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,           /* 'a'-'o' */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,           /* 'p'-'z' */
	B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16, B64_ROW16,
};

/* One quantum of four characters; only the last may end in one or two
 * '='.  Appends 3 - padding bytes. */
static int base64_quantum(const char *q, int last, struct buf *out)
{
	int v[4], pad = 0;
	unsigned char b[3];

	for (int i = 0; i < 4; i++) {
		if (q[i] == '=' && last && i >= 2) {
			pad++;
			v[i] = 0;
			continue;
		}
		if (pad > 0 || (v[i] = base64_values[(unsigned char)q[i]]) < 0)
			return -1;   /* data after padding, or a stray byte */
	}
	b[0] = (unsigned char)(v[0] << 2 | v[1] >> 4);
	b[1] = (unsigned char)((v[1] & 0x0f) << 4 | v[2] >> 2);
	b[2] = (unsigned char)((v[2] & 0x03) << 6 | v[3]);
	/* Canonical encoding only: the bits that padding drops must be 0. */
	if ((pad == 1 && (v[2] & 0x03) != 0) || (pad == 2 && (v[1] & 0x0f) != 0))
		return -1;
	return buf_append(out, b, (size_t)(3 - pad));
}

int base64_decode_strict(const char *p, size_t len, struct buf *out)
{
	if (len % 4 != 0)
		return -1;
	for (size_t i = 0; i < len; i += 4)
		if (base64_quantum(p + i, i + 4 == len, out) < 0)
			return -1;
	return 0;
}

int base64_encode(const void *p, size_t n, struct buf *out)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)b[i] << 16;
		size_t rest = n - i;
		char q[4];

		if (rest > 1)
			v |= (unsigned)b[i + 1] << 8;
		if (rest > 2)
			v |= b[i + 2];
		q[0] = base64_alphabet[v >> 18 & 63];
		q[1] = base64_alphabet[v >> 12 & 63];
		q[2] = rest > 1 ? base64_alphabet[v >> 6 & 63] : '=';
		q[3] = rest > 2 ? base64_alphabet[v & 63] : '=';
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	return 0;
}
