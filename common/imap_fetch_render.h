/* imap_fetch_render: one message's untagged FETCH response ("* SEQ FETCH
 * (...)\r\n", RFC 3501 / RFC 9051 7.5.2, RFC 3516, RFC 7162) written
 * into a buffer from the parsed request (imap_fetch.h), the message's
 * metadata and, when the items need them, its bytes.  No I/O, no store
 * access: the session gathers the inputs and sends the output.  See
 * imap_fetch_render.c. */
#ifndef POSTERN_IMAP_FETCH_RENDER_H
#define POSTERN_IMAP_FETCH_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_fetch.h"
#include "mime.h"

/* What of the message a request needs. */
enum imap_fetch_need {
	IMAP_FETCH_NEED_NONE,      /* metadata only: data may be NULL */
	IMAP_FETCH_NEED_HEADER,    /* the top header through its blank line (any prefix holding it) */
	IMAP_FETCH_NEED_MESSAGE,   /* the whole message */
};

/* Render options (struct imap_fetch_render_opts.flags). */
#define IMAP_FETCH_R_REV2      0x01  /* IMAP4rev2 enabled: no \Recent, UTF-8 strings, message/global */
#define IMAP_FETCH_R_UTF8      0x02  /* UTF8=ACCEPT enabled (IMAP4rev1): UTF-8 in quoted strings */
#define IMAP_FETCH_R_CONDSTORE 0x04  /* CONDSTORE enabled: MODSEQ goes with an implicit \Seen */
#define IMAP_FETCH_R_UID       0x08  /* UID FETCH: UID in every response (RFC 9051 6.4.9) */

struct imap_fetch_render_opts {
	unsigned int flags;            /* IMAP_FETCH_R_* */
	size_t max;                    /* most bytes of one response, literals included */
};

/* One message as the session knows it. */
struct imap_fetch_msg {
	uint32_t seq, uid;
	unsigned int flags;            /* IMAP_FLAG_* of imap_types.h, \Recent included */
	const char *const *keywords;   /* keyword names (atoms; others are not sent) */
	unsigned int nkeywords;
	uint64_t modseq;
	uint64_t emailid;              /* RFC 8474 EMAILID ("E" and 16 hex digits) */
	uint64_t size;                 /* RFC822.SIZE: octets with CRLF line ends */
	int64_t internal_date;         /* seconds since the epoch */
	int zone;                      /* of INTERNALDATE, minutes east of UTC */
	bool seen_set;                 /* this FETCH just set \Seen (flags has it): FLAGS is sent unasked */
	const char *data;              /* the message (CRLF line ends), a header prefix, or NULL */
	size_t len;
	bool data_wire;                /* every LF of data follows a CR (the caller made it so):
					* BODY[] and RFC822 are then sent from data, unparsed */
	bool data_sized;               /* data as stored, and size its length in wire form (the
					* caller measured it): BODY[] and RFC822 without a window
					* are made wire form straight into the response, unparsed;
					* data of another wire length fails it (NO_DATA) */
	const struct mime_message *mime;  /* data parsed already, or NULL (parsed here when needed) */
	/* Cached texts of ENVELOPE, BODY and BODYSTRUCTURE as this session
	 * must see them (rev2 and UTF-8 change them), or NULL. */
	const char *envelope, *body, *bodystructure;
	size_t envelope_len, body_len, bodystructure_len;
	const char *preview;           /* PREVIEW text (UTF-8), or NULL: made here from the message */
	size_t preview_len;
};

/* Results of imap_fetch_render. */
#define IMAP_FETCH_RENDER_OK 0
#define IMAP_FETCH_RENDER_TOO_BIG (-1)      /* over opts->max or out's cap: nothing written */
#define IMAP_FETCH_RENDER_UNKNOWN_CTE (-2)  /* BINARY of an unknown encoding: tagged NO [UNKNOWN-CTE] */
#define IMAP_FETCH_RENDER_NOMEM (-3)
#define IMAP_FETCH_RENDER_NO_DATA (-4)      /* the items need bytes that data does not hold */

/* What of the message f needs; cached holds the IMAP_FETCH_ENVELOPE,
 * _BODY and _BODYSTRUCTURE bits the caller can give as cached texts. */
enum imap_fetch_need imap_fetch_render_needs(const struct imap_fetch *f, unsigned int cached);
/* Whether f sets \Seen on a message with these IMAP_FLAG_* flags: an
 * item without PEEK, a read-write mailbox, \Seen not set yet.  The
 * session then sets it (and the MODSEQ) and renders with seen_set. */
bool imap_fetch_render_sets_seen(const struct imap_fetch *f, unsigned int flags, bool read_only);
/* The form of the ENVELOPE, BODY and BODYSTRUCTURE texts under render
 * flags: 0 IMAP4rev1, 1 UTF-8, 2 IMAP4rev2.  Texts of one form may be
 * cached and given back as struct imap_fetch_msg's cached texts. */
unsigned int imap_fetch_render_form(unsigned int flags);
/* Append the ENVELOPE (which < 0), BODY (0) or BODYSTRUCTURE (1) text of
 * a parsed message as imap_fetch_render writes it under render flags.
 * 0 or -1 (out's cap, ENOMEM). */
int imap_fetch_render_structure(struct buf *out, int which, const struct mime_message *mime, unsigned int flags);
/* Whether f wants data in wire form (with data_wire): it asks for
 * BINARY, whose decoding keeps the line ends a part has, or a window of
 * the whole message.  Otherwise every item is the same from the message
 * as stored, bare LFs and all (with data_sized for BODY[] and RFC822). */
bool imap_fetch_render_wants_wire(const struct imap_fetch *f);
/* Append the FETCH response of m for f to out.  IMAP_FETCH_RENDER_OK,
 * or an IMAP_FETCH_RENDER_* error with out as it was. */
int imap_fetch_render(struct buf *out, const struct imap_fetch *f, const struct imap_fetch_msg *m,
		      const struct imap_fetch_render_opts *opts);

#endif
