/* utf8: UTF-8 well-formedness (RFC 3629 4).
 *
 * Offers: utf8_seq_len (one sequence), utf8_valid (a whole string) and
 * utf8_encode (one code point).  Refused as malformed: overlong forms,
 * surrogates (U+D800-DFFF), values past U+10FFFF, truncated sequences
 * and stray continuation bytes.
 *
 * Trusts: nothing; reads at most n bytes.  Fails: by return value only. */
#include "utf8.h"

size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	size_t need;
	unsigned int cp, min;

	if (n == 0)
		return 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2; cp = s[0] & 0x1fu; min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3; cp = s[0] & 0x0fu; min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4; cp = s[0] & 0x07u; min = 0x10000;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

int utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;

	while (i < n) {
		size_t l;
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = utf8_seq_len(s + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

size_t utf8_encode(unsigned int cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp >= 0xd800 && cp <= 0xdfff)
		return 0;
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	if (cp > 0x10ffff)
		return 0;
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}
