/* crlf: a stored message's bytes in the form IMAP sends them, every
 * line end CRLF. */
#ifndef POSTERN_CRLF_H
#define POSTERN_CRLF_H

#include <stddef.h>
#include <stdint.h>

/* Copy n bytes of src to dst with every LF that does not follow a CR
 * made CRLF (prev: the byte before src, '\n' at a message's start),
 * writing at most room bytes.  The bytes written, or SIZE_MAX when
 * room is too small (dst then holds a part of them). */
size_t crlf_expand(char *dst, size_t room, const char *src, size_t n, char prev);

#endif
