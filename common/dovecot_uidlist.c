/* dovecot_uidlist: Dovecot's Maildir `dovecot-uidlist`, version 3.
 *
 * Offers: a parser of a whole file held in memory (header and records),
 * a parser of the records appended after a previous parse (the store
 * reads the tail of the file incrementally), a writer of one header line
 * and one record line into a struct buf, and a mailbox GUID generator.
 *
 * The format, as Dovecot documents it (doc.dovecot.org, "Maildir Mailbox
 * Format") and as Dovecot 2.3.19 was seen to read and write it (checked
 * by tests/integration/test_dovecot_formats.py against the real server):
 *
 *   3 V1796335595 N6 G9513bd0cebe7116b271c000083ecc375
 *   1 :1796335595.M226294P7207.vm,S=33,W=37
 *   4 W42 :1700000000.P1Q1.host
 *   6 :1700000001.P2Q2.host
 *
 * - Line 1, the header: the version "3", a space, then fields, each one
 *   key byte followed by its value, separated by spaces, in any order:
 *   V the UIDVALIDITY, N the next UID, G the 128-bit mailbox GUID in hex.
 *   Dovecot keeps fields it does not know through a rewrite (we do too:
 *   hdr.fields) and writes V N G in that order.  V or N missing or 0 is a
 *   broken header to Dovecot: an error here.
 * - Every other line is a record: the UID, a space, fields (key 'A'-'Z'
 *   and a value, no spaces), then a field starting with ':' whose rest of
 *   the line is the file name.  Known record keys: W the virtual size
 *   (RFC822.SIZE: CRLF line ends) and S the size on disk, written only
 *   when the name has no ,W= / ,S=; also G (message GUID), P (POP3 UIDL)
 *   and O (POP3 order).  Dovecot trusts W: it reports RFC822.SIZE from it
 *   without reading the message, so a wrong W is a wrong size to clients.
 * - UIDs are strictly ascending over the whole file (Dovecot: "UIDs not
 *   ordered" = broken file) and below 2^32 - 1.
 * - New messages are APPENDED as record lines without rewriting the
 *   header, so N in the header can be stale: a record may carry a UID >=
 *   N, and the next UID is max(N, last UID + 1) (what Dovecot computes).
 *   Only a full rewrite (temp file + rename(), so a new inode) updates
 *   the header, drops expunged records and changes old lines; a reader
 *   that read the file up to an offset can read the lines after it with
 *   dovecot_uidlist_parse_tail as long as the inode is the same.
 *   Expunged messages may keep their record until the next rewrite.
 * - Writers hold the dotlock DOVECOT_UIDLIST_LOCK_NAME; readers need no
 *   lock.  A last line without its LF is an append in progress: it is not
 *   parsed, and ul->end stops before it.
 * - File names in records: Dovecot compares records with files by BASE
 *   name (up to the first ':'), so a record may name the file with or
 *   without its ":2,FLAGS" info; a record written with old flags still
 *   matches the file after its flags changed.  Dovecot 2.3 writes the
 *   base name only (it cuts the name at ':'), and so do we.  A name with
 *   '/' is a broken file to Dovecot; one with CR or LF is never listed.
 *   The same base name twice (a file restored after its expunge was
 *   appended again) is not an error: Dovecot keeps the later UID.
 *
 * Stricter than Dovecot, since a file Dovecot wrote never needs it: no
 * leading zeros or overflow in numbers, no duplicate V/N/G/W/S fields,
 * field bytes printable ASCII, record keys 'A'-'Z' (Dovecot drops other
 * fields with a warning), no NUL/CR in names, a header without "3 " is
 * refused (versions 1 and 2, Courier's and Dovecot 1.0's, are not read:
 * Dovecot 2.3 reads version 1 and rewrites it as version 3 on first use).
 * Dovecot, at a bad record line, logs "Broken file", keeps the records
 * before it and gives the rest new UIDs; here the whole parse fails, and
 * ul->end (the start of the bad line) lets a caller that wants Dovecot's
 * behaviour parse p[0, ul->end) again.
 *
 * Trusts: nothing in the text; every count and length is bounded by the
 * DOVECOT_UIDLIST_* limits.  Parsers take (pointer, length) and never read
 * past it; records point into the caller's text, which must outlive them.
 *
 * Fails: a parser returns -1 with a static *error_r naming the defect and
 * ul->end at the start of the bad line; a writer returns -1 with errno
 * (EINVAL for bad values, EMSGSIZE or ENOMEM from the buf) and leaves the
 * buf as it was. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dovecot_uidlist.h"
#include "imap_types.h"

#define UIDLIST_ALLOC_MIN 64

static int uidlist_fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* A field byte: printable ASCII, no space. */
static bool uidlist_field_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* The next space-separated token of [*pp, end): false at the end. */
static bool uidlist_token(const char **pp, const char *end, const char **tok_r, size_t *len_r)
{
	const char *p = *pp, *t;

	while (p < end && *p == ' ')
		p++;
	if (p == end) {
		*pp = p;
		return false;
	}
	t = p;
	while (p < end && *p != ' ')
		p++;
	*tok_r = t;
	*len_r = (size_t)(p - t);
	*pp = p;
	return true;
}

int dovecot_uidlist_field(const char *fields, size_t len, char key, const char **val_r, size_t *vlen_r)
{
	const char *p = fields, *t;
	size_t tl;

	if (fields == NULL)
		return 0;
	while (uidlist_token(&p, fields + len, &t, &tl))
		if (t[0] == key) {
			*val_r = t + 1;
			*vlen_r = tl - 1;
			return 1;
		}
	return 0;
}

/* The GUID's digits, as written. */
static const char uidlist_hex[] = "0123456789abcdef";

/* The value of the hex digit c (either case), or -1. */
static int uidlist_hex_digit(unsigned char c)
{
	const char *d = c != '\0' ? strchr(uidlist_hex, c >= 'A' && c <= 'F' ? c + ('a' - 'A') : c) : NULL;

	return d != NULL ? (int)(d - uidlist_hex) : -1;
}

static int uidlist_guid_parse(const char *s, size_t len, unsigned char guid[DOVECOT_GUID_SIZE])
{
	if (len != 2 * DOVECOT_GUID_SIZE)
		return -1;
	for (size_t i = 0; i < DOVECOT_GUID_SIZE; i++) {
		int hi = uidlist_hex_digit((unsigned char)s[2 * i]);
		int lo = uidlist_hex_digit((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		guid[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* A u32 field value: 1..UINT32_MAX, no leading zero. */
static int uidlist_u32(const char *s, size_t len, uint32_t *r)
{
	uint64_t v;

	if (imap_number_parse(s, len, UINT32_MAX, true, &v) < 0 || v == 0)
		return -1;
	*r = (uint32_t)v;
	return 0;
}

/* A size field value: 0, or digits without a leading zero. */
static int uidlist_u64(const char *s, size_t len, uint64_t *r)
{
	if (len == 1 && s[0] == '0') {
		*r = 0;
		return 0;
	}
	return imap_number_parse(s, len, UINT64_MAX, true, r);
}

/* ---- the header ---- */

static int uidlist_header_field(struct dovecot_uidlist_header *h, const char *t, size_t tl, unsigned *seen,
				const char **error_r)
{
	for (size_t i = 0; i < tl; i++)
		if (!uidlist_field_byte((unsigned char)t[i]))
			return uidlist_fail(error_r, "bad byte in a header field");
	switch (t[0]) {
	case 'V':
		if ((*seen & 1) != 0 || uidlist_u32(t + 1, tl - 1, &h->uidvalidity) < 0)
			return uidlist_fail(error_r, "bad or repeated UIDVALIDITY (V) in the header");
		*seen |= 1;
		break;
	case 'N':
		if ((*seen & 2) != 0 || uidlist_u32(t + 1, tl - 1, &h->nextuid) < 0)
			return uidlist_fail(error_r, "bad or repeated next UID (N) in the header");
		*seen |= 2;
		break;
	case 'G':
		if ((*seen & 4) != 0 || uidlist_guid_parse(t + 1, tl - 1, h->guid) < 0)
			return uidlist_fail(error_r, "bad or repeated mailbox GUID (G) in the header");
		*seen |= 4;
		h->has_guid = true;
		break;
	default:
		break;   /* kept in h->fields */
	}
	return 0;
}

static int uidlist_header_parse(const char *line, size_t len, struct dovecot_uidlist_header *h,
				const char **error_r)
{
	const char *p, *end = line + len, *t, *last = NULL;
	size_t tl;
	unsigned seen = 0;

	if (len < 2 || line[0] < '0' || line[0] > '9' || line[1] != ' ')
		return uidlist_fail(error_r, "no version in the header");
	if (line[0] != '0' + DOVECOT_UIDLIST_VERSION)
		return uidlist_fail(error_r, "unsupported dovecot-uidlist version (not 3)");
	p = line + 2;
	while (uidlist_token(&p, end, &t, &tl)) {
		if (uidlist_header_field(h, t, tl, &seen, error_r) < 0)
			return -1;
		if (h->fields == NULL)
			h->fields = t;
		last = t + tl;
	}
	if ((seen & 3) != 3)
		return uidlist_fail(error_r, "no UIDVALIDITY (V) or next UID (N) in the header");
	h->fields_len = (size_t)(last - h->fields);
	return 0;
}

/* ---- records ---- */

static int uidlist_rec_field(struct dovecot_uidlist_rec *r, const char *t, size_t tl, const char **error_r)
{
	if (t[0] < 'A' || t[0] > 'Z')
		return uidlist_fail(error_r, "bad field key in a record");
	for (size_t i = 1; i < tl; i++)
		if (!uidlist_field_byte((unsigned char)t[i]))
			return uidlist_fail(error_r, "bad byte in a record field");
	if (t[0] == 'W') {
		if (r->has_vsize || uidlist_u64(t + 1, tl - 1, &r->vsize) < 0)
			return uidlist_fail(error_r, "bad or repeated virtual size (W) in a record");
		r->has_vsize = true;
	} else if (t[0] == 'S') {
		if (r->has_size || uidlist_u64(t + 1, tl - 1, &r->size) < 0)
			return uidlist_fail(error_r, "bad or repeated size (S) in a record");
		r->has_size = true;
	}
	return 0;
}

/* A usable file name byte: not NUL, CR, LF (never listed) or '/'. */
static bool uidlist_name_byte(unsigned char c)
{
	return c != '\0' && c != '\r' && c != '\n' && c != '/';
}

static int uidlist_name_parse(struct dovecot_uidlist_rec *r, const char *name, size_t len, const char **error_r)
{
	const char *colon;

	if (len == 0 || len > DOVECOT_UIDLIST_NAME_MAX)
		return uidlist_fail(error_r, "empty or too long file name in a record");
	for (size_t i = 0; i < len; i++)
		if (!uidlist_name_byte((unsigned char)name[i]))
			return uidlist_fail(error_r, "bad byte in a record's file name");
	colon = memchr(name, ':', len);
	r->name = name;
	r->name_len = len;
	r->base_len = colon != NULL ? (size_t)(colon - name) : len;
	if (r->base_len == 0)
		return uidlist_fail(error_r, "empty base name in a record");
	return 0;
}

/* Parse one record line (its LF cut off) into r; its UID must be above prev. */
static int uidlist_rec_parse(const char *line, size_t len, uint32_t prev, struct dovecot_uidlist_rec *r,
			     const char **error_r)
{
	const char *p = line, *end = line + len, *fields, *fields_end, *t;
	uint64_t uid;
	size_t tl;

	memset(r, 0, sizeof(*r));
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	if (p == end || *p != ' ' ||
	    imap_number_parse(line, (size_t)(p - line), DOVECOT_UIDLIST_UID_MAX, true, &uid) < 0)
		return uidlist_fail(error_r, "bad UID in a record");
	if (uid <= prev)
		return uidlist_fail(error_r, "record UIDs not ascending");
	r->uid = (uint32_t)uid;
	while (p < end && *p == ' ')
		p++;
	fields = fields_end = p;
	for (;;) {
		const char *q = p;
		if (!uidlist_token(&q, end, &t, &tl))
			return uidlist_fail(error_r, "no file name in a record");
		if (t[0] == ':')
			break;
		if (uidlist_rec_field(r, t, tl, error_r) < 0)
			return -1;
		fields_end = q;
		p = q;
	}
	if (fields_end > fields) {
		r->fields = fields;
		r->fields_len = (size_t)(fields_end - fields);
	}
	/* The name is the rest of the line after the ':' (spaces included). */
	return uidlist_name_parse(r, t + 1, (size_t)(end - t - 1), error_r);
}

static int uidlist_grow(struct dovecot_uidlist *ul, size_t *alloc)
{
	size_t na;
	struct dovecot_uidlist_rec *nr;

	if (ul->n < *alloc)
		return 0;
	na = *alloc == 0 ? UIDLIST_ALLOC_MIN : *alloc * 2;
	if (na > DOVECOT_UIDLIST_RECORDS_MAX)
		na = DOVECOT_UIDLIST_RECORDS_MAX;
	nr = reallocarray(ul->recs, na, sizeof(*nr));
	if (nr == NULL)
		return -1;
	ul->recs = nr;
	*alloc = na;
	return 0;
}

/* Parse the record lines of p[off, len) into ul, after UID prev. */
static int uidlist_records_parse(const char *p, size_t len, size_t off, uint32_t prev,
				 struct dovecot_uidlist *ul, const char **error_r)
{
	size_t alloc = 0;

	ul->end = off;
	while (off < len) {
		size_t room = len - off < DOVECOT_UIDLIST_LINE_MAX ? len - off : DOVECOT_UIDLIST_LINE_MAX;
		const char *nl = memchr(p + off, '\n', room);
		size_t llen;

		if (nl == NULL) {
			if (room == DOVECOT_UIDLIST_LINE_MAX)
				return uidlist_fail(error_r, "record line too long");
			break;   /* an append in progress */
		}
		llen = (size_t)(nl - (p + off));
		if (ul->n == DOVECOT_UIDLIST_RECORDS_MAX)
			return uidlist_fail(error_r, "too many records");
		if (uidlist_grow(ul, &alloc) < 0)
			return uidlist_fail(error_r, "out of memory");
		if (uidlist_rec_parse(p + off, llen, prev, &ul->recs[ul->n], error_r) < 0)
			return -1;
		prev = ul->recs[ul->n].uid;
		ul->n++;
		off += llen + 1;
		ul->end = off;
	}
	return 0;
}

/* ul->nextuid from the header's N and the last record. */
static void uidlist_nextuid(struct dovecot_uidlist *ul)
{
	ul->nextuid = ul->hdr.nextuid;
	if (ul->n > 0 && ul->recs[ul->n - 1].uid >= ul->nextuid)
		ul->nextuid = ul->recs[ul->n - 1].uid + 1;   /* UID_MAX + 1 still fits */
}

/* Free the records of a failed parse, keeping ul->end. */
static int uidlist_parse_failed(struct dovecot_uidlist *ul)
{
	size_t end = ul->end;

	dovecot_uidlist_free(ul);
	ul->end = end;
	return -1;
}

int dovecot_uidlist_parse(const char *p, size_t len, struct dovecot_uidlist *ul, const char **error_r)
{
	size_t room = len < DOVECOT_UIDLIST_LINE_MAX ? len : DOVECOT_UIDLIST_LINE_MAX;
	const char *nl;

	memset(ul, 0, sizeof(*ul));
	nl = len > 0 ? memchr(p, '\n', room) : NULL;
	if (nl == NULL)
		return uidlist_fail(error_r, room == DOVECOT_UIDLIST_LINE_MAX ? "header line too long"
									      : "no complete header line");
	if (uidlist_header_parse(p, (size_t)(nl - p), &ul->hdr, error_r) < 0) {
		memset(&ul->hdr, 0, sizeof(ul->hdr));
		return -1;
	}
	if (uidlist_records_parse(p, len, (size_t)(nl - p) + 1, 0, ul, error_r) < 0)
		return uidlist_parse_failed(ul);
	uidlist_nextuid(ul);
	return 0;
}

int dovecot_uidlist_parse_tail(const char *p, size_t len, uint32_t after_uid, struct dovecot_uidlist *ul,
			       const char **error_r)
{
	memset(ul, 0, sizeof(*ul));
	if (uidlist_records_parse(p, len, 0, after_uid, ul, error_r) < 0)
		return uidlist_parse_failed(ul);
	uidlist_nextuid(ul);
	return 0;
}

void dovecot_uidlist_free(struct dovecot_uidlist *ul)
{
	free(ul->recs);
	memset(ul, 0, sizeof(*ul));
}

/* ---- writing ---- */

/* Undo a partial append: b back to len old, errno kept. */
static int uidlist_write_failed(struct buf *b, size_t old)
{
	buf_truncate(b, old);
	return -1;
}

/* Append " FIELD" for every field of fields[0, len) whose key is not in
 * skip; each must be printable ASCII, with a key 'A'-'Z' in a record. */
static int uidlist_fields_write(struct buf *b, const char *fields, size_t len, const char *skip, bool record)
{
	const char *p = fields, *t;
	size_t tl;

	if (fields == NULL)
		return 0;
	while (uidlist_token(&p, fields + len, &t, &tl)) {
		for (size_t i = 0; i < tl; i++)
			if (!uidlist_field_byte((unsigned char)t[i])) {
				errno = EINVAL;
				return -1;
			}
		if (record && (t[0] < 'A' || t[0] > 'Z')) {
			errno = EINVAL;
			return -1;
		}
		if (strchr(skip, t[0]) != NULL)
			continue;
		if (buf_putc(b, ' ') < 0 || buf_append(b, t, tl) < 0)
			return -1;
	}
	return 0;
}

/* End a line started at old: its LF, and its length checked. */
static int uidlist_line_end(struct buf *b, size_t old)
{
	if (buf_putc(b, '\n') < 0)
		return -1;
	if (b->len - old > DOVECOT_UIDLIST_LINE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

int dovecot_uidlist_write_header(struct buf *b, const struct dovecot_uidlist_header *h)
{
	size_t old = b->len;

	if (h->uidvalidity == 0 || h->nextuid == 0) {
		errno = EINVAL;
		return -1;
	}
	if (buf_printf(b, "%d V%" PRIu32 " N%" PRIu32, DOVECOT_UIDLIST_VERSION, h->uidvalidity, h->nextuid) < 0)
		return uidlist_write_failed(b, old);
	if (h->has_guid) {
		char g[2 * DOVECOT_GUID_SIZE];
		for (size_t i = 0; i < DOVECOT_GUID_SIZE; i++) {
			g[2 * i] = uidlist_hex[h->guid[i] >> 4];
			g[2 * i + 1] = uidlist_hex[h->guid[i] & 15];
		}
		if (buf_append(b, " G", 2) < 0 || buf_append(b, g, sizeof(g)) < 0)
			return uidlist_write_failed(b, old);
	}
	if (uidlist_fields_write(b, h->fields, h->fields_len, "VNG", false) < 0 || uidlist_line_end(b, old) < 0)
		return uidlist_write_failed(b, old);
	return 0;
}

int dovecot_uidlist_write_record(struct buf *b, const struct dovecot_uidlist_rec *r)
{
	size_t old = b->len;

	if (r->uid == 0 || r->uid > DOVECOT_UIDLIST_UID_MAX || r->name == NULL || r->base_len == 0 ||
	    r->base_len > r->name_len || r->base_len > DOVECOT_UIDLIST_NAME_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (size_t i = 0; i < r->base_len; i++)
		if (!uidlist_name_byte((unsigned char)r->name[i]) || r->name[i] == ':') {
			errno = EINVAL;
			return -1;
		}
	if (buf_printf(b, "%" PRIu32, r->uid) < 0 ||
	    (r->has_vsize && buf_printf(b, " W%" PRIu64, r->vsize) < 0) ||
	    (r->has_size && buf_printf(b, " S%" PRIu64, r->size) < 0) ||
	    uidlist_fields_write(b, r->fields, r->fields_len, "WS", true) < 0 ||
	    buf_append(b, " :", 2) < 0 || buf_append(b, r->name, r->base_len) < 0 ||
	    uidlist_line_end(b, old) < 0)
		return uidlist_write_failed(b, old);
	return 0;
}

int dovecot_uidlist_guid_new(unsigned char guid[DOVECOT_GUID_SIZE])
{
	ssize_t n;

	do
		n = getrandom(guid, DOVECOT_GUID_SIZE, 0);
	while (n < 0 && errno == EINTR);
	if (n != DOVECOT_GUID_SIZE) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	return 0;
}
