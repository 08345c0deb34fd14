/* imap_preview: the PREVIEW text of a message (RFC 8970).  See the .c. */
#ifndef POSTERN_IMAP_PREVIEW_H
#define POSTERN_IMAP_PREVIEW_H

#include "buf.h"
#include "mime.h"

#define IMAP_PREVIEW_CHARS 256   /* RFC 8970 3: at most 256 characters */

/* The preview of msg (len bytes, parsed as mime; NULL: nothing to show)
 * into out, replacing what it held: valid UTF-8, at most
 * IMAP_PREVIEW_CHARS characters, possibly empty.  0, or -1 when memory
 * runs out. */
int imap_preview_make(const char *msg, size_t len, const struct mime_message *mime, struct buf *out);

#endif
