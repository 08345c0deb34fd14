/* utf8: decoding, validating and encoding UTF-8 (RFC 3629): no overlong
 * forms, no surrogates, nothing above U+10FFFF.  Pure functions over
 * (pointer, length). */
#ifndef POSTERN_UTF8_H
#define POSTERN_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Length (1 to 4) of the well-formed character at s (n bytes there),
 * its code point in *cp_r; 0 when malformed or n is 0. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp_r);
/* True when all n bytes at s are well-formed UTF-8. */
bool utf8_valid(const void *s, size_t n);
/* Append the encoding of cp; -1 with errno EINVAL for a surrogate or a
 * value above U+10FFFF, or the buf_append error. */
int utf8_encode(uint32_t cp, struct buf *out);

#endif
