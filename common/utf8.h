/* utf8: UTF-8 well-formedness (RFC 3629), shared by the MIME and IMAP
 * code.  See utf8.c. */
#ifndef POSTERN_UTF8_H
#define POSTERN_UTF8_H

#include <stddef.h>

/* Length (2-4) of the well-formed non-ASCII sequence at s (at most n
 * bytes), or 0 when it is malformed or s[0] is ASCII. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* Whether p[0..n) is well-formed UTF-8 (NUL and other ASCII included). */
int utf8_valid(const char *p, size_t n);
/* Append the UTF-8 form of code point cp (at most U+10FFFF, no
 * surrogates) to out[0..4); returns the length, 0 when cp is invalid. */
size_t utf8_encode(unsigned int cp, char out[4]);

#endif
