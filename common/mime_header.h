/* mime_header: RFC 5322 header fields for IMAP and search: field lookup
 * and unfolding, RFC 2047 encoded words, charset conversion to UTF-8,
 * address lists as IMAP ENVELOPE wants them, dates.  See mime_header.c. */
#ifndef POSTERN_MIME_HEADER_H
#define POSTERN_MIME_HEADER_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "mime.h"

#define MIME_MAX_ADDRESSES 10000     /* addresses (group markers included) kept from one field */

/* One header field as stored. */
struct mime_field {
	struct mime_str name;   /* before ':' (trailing white space dropped); empty for a line without ':' */
	struct mime_str value;  /* after ':' up to the line end, folding included */
	size_t offset;          /* of the field's first byte in the header */
	size_t size;            /* the field with every continuation line and the last line end */
	int terminated;         /* the last line has its line end */
};

struct mime_header_iter {
	const char *p;
	size_t len, pos;
};

/* Start walking the header p[0..len) (it may include the blank line). */
void mime_header_iter_init(struct mime_header_iter *it, const char *p, size_t len);
/* The next field into *field; 1, or 0 at the end of the header. */
int mime_header_next(struct mime_header_iter *it, struct mime_field *field);
/* Whether a field name equals name (case-insensitive). */
int mime_field_is(const struct mime_str *field_name, const char *name, size_t name_len);
/* One pass: values[i] = the raw value of the first field called names[i]
 * (p = NULL when absent). */
void mime_header_find(const char *p, size_t len, const char *const *names, size_t n,
		      struct mime_str *values);
/* Append value unfolded (RFC 5322 2.2.3: CR and LF removed) and
 * trimmed of white space at both ends.  0 or -1 (cap). */
int mime_unfold(const char *p, size_t len, struct buf *out);

/* Append the UTF-8 form of n bytes in charset (us-ascii, utf-8,
 * iso-8859-1 and windows-1252 natively, others through iconv).  0, or
 * -1 when the charset is unknown, the bytes are not valid in it, or out
 * is full (out is then as it was). */
int mime_charset_to_utf8(const char *charset, size_t charset_len, const char *p, size_t n,
			 struct buf *out);
/* Append unstructured text with RFC 2047 encoded words decoded to
 * UTF-8 (white space between adjacent words dropped; a word that cannot
 * be decoded is kept as written).  0 or -1 (cap). */
int mime_decode_words(const char *p, size_t len, struct buf *out);

/* An ENVELOPE address (RFC 3501 7.4.2); NIL strings have p == NULL.
 * Group start: mailbox = group name, host NIL; group end: all NIL. */
struct mime_address {
	struct mime_str name, route, mailbox, host;
};

struct mime_address_list {
	struct mime_address *addrs;  /* malloc'd; strings in the arena */
	size_t n, cap;
	int truncated;  /* more than MIME_MAX_ADDRESSES */
	size_t junk;    /* bytes skipped as belonging to no address (0: the field parsed cleanly) */
};

/* Parse an address-list (RFC 5322 3.4 and obsolete forms) and append
 * its addresses to list (zeroed at first), strings in arena.  A missing
 * local part is "MISSING_MAILBOX", a missing domain "MISSING_DOMAIN"
 * (as Dovecot sends them); junk up to the next ',' is skipped.  0, or
 * -1 (ENOMEM). */
int mime_address_list_parse(const char *p, size_t len, struct mime_arena *arena,
			    struct mime_address_list *list);
/* Free the array of a list and zero it. */
void mime_address_list_free(struct mime_address_list *list);

/* Parse an RFC 5322 date-time (with obsolete forms) into *t_r (UTC)
 * and *zone_r (minutes east of UTC).  0, or -1. */
int mime_date_parse(const char *p, size_t len, time_t *t_r, int *zone_r);

#endif
