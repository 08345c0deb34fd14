/* base64: the one base64 codec of Postern (RFC 4648 section 4).  The
 * strict decoder is for protocol values (SASL responses of SMTP AUTH,
 * POP3 AUTH and IMAP AUTHENTICATE): exactly one encoding per value.  The
 * lenient decoder of message bodies (RFC 2045 6.8) lives in mime.c and
 * shares this alphabet table. */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H

#include <stddef.h>

#include "buf.h"

/* The value (0-63) of each byte of the alphabet, -1 for every other byte. */
extern const signed char base64_values[256];

/* Decode strict base64: padding required, no white space, length a
 * multiple of 4, the bits that padding drops zero.  Appends to out (whose
 * cap bounds the result).  0, or -1 on bad input or when out would pass
 * its cap. */
int base64_decode_strict(const char *p, size_t len, struct buf *out);
/* Encode n bytes as padded base64 and append to out.  0 or -1 (cap). */
int base64_encode(const void *p, size_t n, struct buf *out);

#endif
