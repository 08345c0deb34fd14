/* imap_utf7: mailbox names in IMAP's modified UTF-7 (RFC 3501 section
 * 5.1.3, kept by RFC 9051 section 5.1 for IMAP4rev1 clients), converted
 * to and from UTF-8.  Decoding is strict: only the one canonical encoding
 * of a name is accepted, so that two spellings never name one mailbox. */
#ifndef POSTERN_IMAP_UTF7_H
#define POSTERN_IMAP_UTF7_H

#include <stddef.h>

#include "buf.h"

/* Append the UTF-8 form of the modified UTF-7 name (in, len) to out.
 * 0, or -1 with *error_r (static text) and out unchanged. */
int imap_utf7_to_utf8(const char *in, size_t len, struct buf *out, const char **error_r);
/* Append the modified UTF-7 form of the UTF-8 name (in, len) to out.
 * 0, or -1 with *error_r when in is not UTF-8 (or holds NUL). */
int imap_utf8_to_utf7(const char *in, size_t len, struct buf *out, const char **error_r);

#endif
