/* imap_mime: IMAP views of a parsed message: ENVELOPE, BODY and
 * BODYSTRUCTURE (RFC 3501 / RFC 9051 7.5.2), FETCH BODY[section] byte
 * ranges and BINARY[] decoding (RFC 3516).  See imap_mime.c. */
#ifndef POSTERN_IMAP_MIME_H
#define POSTERN_IMAP_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_string.h"
#include "mime.h"

/* Flags: IMAP_STR_UTF8 (imap_string.h) and: */
#define IMAP_MIME_GLOBAL 0x100   /* message/global shown as a message (IMAP4rev2, RFC 9051) */

/* Append the ENVELOPE of a message header (header[0..len)).  0 or -1
 * (out's cap, or ENOMEM). */
int imap_envelope_write(struct buf *out, const char *header, size_t len, unsigned int flags);
/* Append BODYSTRUCTURE (extended = 1) or BODY (extended = 0) of msg.  0 or -1. */
int imap_bodystructure_write(struct buf *out, const struct mime_message *msg, int extended,
			     unsigned int flags);

enum imap_mime_text {
	IMAP_MIME_WHOLE,               /* BODY[] or BODY[1.2]: the part's body */
	IMAP_MIME_HEADER,
	IMAP_MIME_HEADER_FIELDS,
	IMAP_MIME_HEADER_FIELDS_NOT,
	IMAP_MIME_TEXT,
	IMAP_MIME_MIME,
};

/* A section spec (fields as imap_fetch.h's struct imap_section has them). */
struct imap_mime_section {
	const uint32_t *parts;           /* part path, each >= 1 */
	unsigned int nparts;             /* 0 = the whole message */
	enum imap_mime_text text;
	const char *const *fields;       /* HEADER.FIELDS[.NOT] names */
	unsigned int nfields;
};

/* A run of the stored message and its wire size (bare LF as CRLF). */
struct imap_mime_range {
	size_t offset, size, wire_size;
};

/* What a section is: ranges of the stored message in order, then
 * crlf_after times CRLF; wire_size is the literal's length. */
struct imap_mime_data {
	struct imap_mime_range *ranges;
	size_t n, cap;
	unsigned int crlf_after;
	size_t wire_size;
	const struct mime_part *part;    /* the part the path named (NULL: whole message or none) */
};

/* Results of imap_mime_section_resolve and imap_binary_decode. */
#define IMAP_MIME_OK 0
#define IMAP_MIME_NO_PART (-1)      /* no such part (Dovecot then sends an empty string) */
#define IMAP_MIME_NOT_MESSAGE (-2)  /* HEADER/TEXT of a part that is not message/rfc822 */
#define IMAP_MIME_NOMEM (-3)
#define IMAP_MIME_UNKNOWN_CTE (-4)  /* BINARY of a part in an unknown encoding (RFC 3516 UNKNOWN-CTE) */
#define IMAP_MIME_TOO_BIG (-5)      /* the decoded part passed out's cap */

/* Find the byte ranges of a section.  IMAP_MIME_OK with *d filled
 * (free it with imap_mime_data_free), or an IMAP_MIME_* error. */
int imap_mime_section_resolve(const struct mime_message *msg, const struct imap_mime_section *sec,
			 struct imap_mime_data *d);
/* Free the ranges of a section (d may be zeroed or resolved). */
void imap_mime_data_free(struct imap_mime_data *d);
/* Append wire bytes [start, start + len) of a section (clamped at its
 * end; RFC 3501 <partial>).  0 or -1 (out's cap). */
int imap_mime_data_write(const struct mime_message *msg, const struct imap_mime_data *d,
		       size_t start, size_t len, struct buf *out);
/* BINARY[parts]: the part's body with its Content-Transfer-Encoding
 * undone, appended to out (nparts 0: the whole message, as BODY[]).
 * IMAP_MIME_OK or an IMAP_MIME_* error. */
int imap_binary_decode(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
		       struct buf *out);
/* BINARY.SIZE[parts] into *size_r; IMAP_MIME_OK or an error. */
int imap_binary_size(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
		     size_t *size_r);

#endif
