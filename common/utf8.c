/* utf8: decoding, validating and encoding UTF-8.
 *
 * Offers: utf8_decode (one character), utf8_valid (a whole string),
 * utf8_encode (one code point), all by RFC 3629 section 4's table of
 * well-formed byte sequences: shortest form only, no UTF-16 surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF.
 *
 * Trusts: nothing about the bytes; reads only inside (s, n).
 *
 * Fails: malformed input is a 0 length or false, never a crash. */
#include <errno.h>

#include "utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r)
{
	size_t need;
	uint32_t cp, min;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*cp_r = cp;
	return need;
}

bool utf8_valid(const void *s, size_t n)
{
	const unsigned char *p = s;
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		size_t k;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		if (k == 0)
			return false;
		i += k;
	}
	return true;
}

int utf8_encode(uint32_t cp, struct buf *out)
{
	unsigned char b[4];
	size_t n;

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		errno = EINVAL;
		return -1;
	}
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_append(out, b, n);
}
