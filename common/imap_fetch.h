/* imap_fetch: FETCH data items (RFC 3501 6.4.5, RFC 9051 6.4.5, BINARY of
 * RFC 3516, MODSEQ and CHANGEDSINCE / VANISHED of RFC 7162) read from
 * parsed arguments into a typed request: simple items as bits, body
 * sections with their part path, section text, header field list and
 * partial range.  No I/O. */
#ifndef POSTERN_IMAP_FETCH_H
#define POSTERN_IMAP_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "imap_parser.h"

#define IMAP_FETCH_FLAGS         (1u << 0)
#define IMAP_FETCH_INTERNALDATE  (1u << 1)
#define IMAP_FETCH_RFC822_SIZE   (1u << 2)
#define IMAP_FETCH_ENVELOPE      (1u << 3)
#define IMAP_FETCH_BODY          (1u << 4)   /* BODY without [ ]: non-extensible structure */
#define IMAP_FETCH_BODYSTRUCTURE (1u << 5)
#define IMAP_FETCH_UID           (1u << 6)
#define IMAP_FETCH_RFC822        (1u << 7)   /* like BODY[], sets \Seen */
#define IMAP_FETCH_RFC822_HEADER (1u << 8)   /* like BODY.PEEK[HEADER] */
#define IMAP_FETCH_RFC822_TEXT   (1u << 9)   /* like BODY[TEXT], sets \Seen */
#define IMAP_FETCH_MODSEQ        (1u << 10)  /* RFC 7162 */
#define IMAP_FETCH_PREVIEW       (1u << 11)  /* RFC 8970 */
#define IMAP_FETCH_EMAILID       (1u << 12)  /* RFC 8474 */
#define IMAP_FETCH_THREADID      (1u << 13)  /* RFC 8474 */

/* Deepest part path in a section ("1.2.3" has 3). */
#define IMAP_SECTION_PARTS_MAX 64

enum imap_section_kind {
	IMAP_SECTION_BODY,        /* BODY[...] / BODY.PEEK[...] */
	IMAP_SECTION_BINARY,      /* BINARY[...] / BINARY.PEEK[...] */
	IMAP_SECTION_BINARY_SIZE, /* BINARY.SIZE[...] */
};

enum imap_section_text {
	IMAP_SECTION_WHOLE,       /* [] or [1.2]: the message or the part */
	IMAP_SECTION_HEADER,
	IMAP_SECTION_HEADER_FIELDS,
	IMAP_SECTION_HEADER_FIELDS_NOT,
	IMAP_SECTION_TEXT,
	IMAP_SECTION_MIME,        /* only after a part number */
};

struct imap_section {
	enum imap_section_kind kind;
	bool peek;
	unsigned int nparts;
	const uint32_t *parts;            /* part path, each >= 1 */
	enum imap_section_text text;
	unsigned int nfields;
	const char *const *fields;        /* HEADER.FIELDS[.NOT] names, as written */
	bool partial;                     /* <offset.length> given */
	uint64_t offset, length;          /* length >= 1 */
};

struct imap_fetch {
	unsigned int items;               /* IMAP_FETCH_* */
	unsigned int nsections;
	const struct imap_section *sections;
	bool sets_seen;                   /* some item sets \Seen (no PEEK) */
	bool changedsince_set;            /* CHANGEDSINCE modifier (RFC 7162 3.1.4.1) */
	uint64_t changedsince;
	bool vanished;                    /* VANISHED modifier (RFC 7162 3.2.6) */
	bool preview_lazy;                /* PREVIEW (LAZY) (RFC 8970 3.1) */
};

/* Read the fetch-att argument of FETCH: ALL, FAST, FULL, one item, or a
 * list of items.  0, or -1 with *error_r for a tagged BAD. */
int imap_fetch_parse(const struct imap_arg *att, struct arena *a, struct imap_fetch *r,
		     const char **error_r);
/* Read FETCH's optional modifier list ("(CHANGEDSINCE n VANISHED)");
 * VANISHED needs UID FETCH and CHANGEDSINCE. */
int imap_fetch_modifiers(const struct imap_arg *list, bool uid, struct imap_fetch *r,
			 const char **error_r);

#endif
