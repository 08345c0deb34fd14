/* imap_fetch_render: the data items of one message's FETCH response.
 *
 * Offers: imap_fetch_render writes "* SEQ FETCH (ITEMS)\r\n" for a parsed
 * request (struct imap_fetch) from the message's metadata and bytes;
 * imap_fetch_render_needs says beforehand whether the bytes are needed
 * (none, the header, the whole message), so that a FLAGS or UID fetch
 * opens no file; imap_fetch_render_sets_seen says whether the session
 * must set \Seen first (RFC 9051 6.4.5: BODY[...] without PEEK, RFC822,
 * RFC822.TEXT, BINARY[...]).
 *
 * What it writes, in this order (RFC 9051 allows any; UID first is what
 * clients like, and the simple items come before the literals, as
 * Dovecot sends them):
 *   UID, FLAGS, MODSEQ, INTERNALDATE, RFC822.SIZE, ENVELOPE, BODY,
 *   BODYSTRUCTURE, RFC822.HEADER, RFC822.TEXT, RFC822, then every
 *   BODY[...] / BINARY[...] / BINARY.SIZE[...] in the order asked.
 * - UID also for UID FETCH (IMAP_FETCH_R_UID); FLAGS also when this FETCH
 *   set \Seen (RFC 3501 6.4.5: the changed flags SHOULD be sent), and then
 *   MODSEQ too under CONDSTORE (RFC 7162 3.2); MODSEQ also with
 *   CHANGEDSINCE (RFC 7162 3.1.4.1).
 * - FLAGS in Dovecot's order (\Answered \Flagged \Deleted \Seen \Draft
 *   \Recent, then keywords).  IMAP4rev2 has no \Recent (RFC 9051
 *   Appendix E; the grammar keeps it only as obsolete-flag-recent), so
 *   it is left out when rev2 is enabled.  A keyword name that is not an
 *   atom (the store read it from a file) cannot be sent and is skipped.
 * - INTERNALDATE as "dd-Mon-yyyy hh:mm:ss +zzzz" with the day zero-padded
 *   as Dovecot sends it (date-day-fixed allows both); a zone beyond
 *   +-23:59 is sent as +0000, a year beyond 0..9999 as the epoch.
 * - ENVELOPE, BODY, BODYSTRUCTURE from the cached texts when given, else
 *   from imap_mime (UTF-8 strings with rev2 or UTF8=ACCEPT; message/global
 *   as a message with rev2).
 * - BODY[section]<origin> (imap_mime_section_resolve): a literal of the
 *   window [origin, origin + length) clamped at the end; an origin past
 *   the end gives an empty literal; the origin is echoed (RFC 9051
 *   6.4.5).  A part that does not exist, or HEADER/TEXT of a part that is
 *   no message, gives an empty literal as Dovecot gives it.  A NUL in the
 *   data, which no IMAP literal may carry (CHAR8), is sent as 0x80 as
 *   Dovecot sends it (same size).  HEADER.FIELDS names are echoed in
 *   upper case as Dovecot echoes them.  RFC822, RFC822.HEADER and
 *   RFC822.TEXT are BODY[], BODY.PEEK[HEADER] and BODY[TEXT]; they are
 *   not in IMAP4rev2's grammar but are rendered for any session (the
 *   grammar decides whether to accept them).
 * - The whole message (BODY[], RFC822) is sent from data with no parse
 *   when the caller has data in wire form (data_wire), or as stored with
 *   its wire size (data_sized: made wire form straight into the literal
 *   of that size, not a window; data of another wire length fails the
 *   response with NO_DATA, and the caller may give the wire form); when
 *   nothing else needs the tree, none is made.
 * - BINARY[section]<origin> (RFC 3516): the part with its transfer
 *   encoding undone; a literal8 "~{n}" only when the bytes sent hold a
 *   NUL (Dovecot sends literal8 for every base64 or QP part; both are
 *   valid, a plain literal is the one every client reads).  A part that
 *   does not exist gives an empty literal, BINARY.SIZE of it 0; an
 *   unknown encoding fails the whole response (IMAP_FETCH_RENDER_UNKNOWN_CTE:
 *   the session answers NO [UNKNOWN-CTE]).
 *
 * Trusts: the request (imap_fetch_parse bounded it), the metadata, and a
 * mime tree when given (it must be of data).  The message bytes are
 * untrusted (mime_parse).
 *
 * Fails: with nothing appended (out truncated back): TOO_BIG when the
 * response would pass opts->max or out's own cap (never a cut response),
 * NOMEM, UNKNOWN_CTE, NO_DATA when bytes are needed and none were given
 * (or data_sized data is not of the wire size given).
 * Memory beyond out: the parse tree, and one decoded part for BINARY. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "crlf.h"
#include "imap_fetch_render.h"
#include "imap_mime.h"
#include "imap_preview.h"
#include "imap_string.h"
#include "imap_types.h"

struct render {
	struct buf *out;
	const struct imap_fetch *f;
	const struct imap_fetch_msg *m;
	const struct mime_message *mime;
	unsigned int flags;       /* IMAP_FETCH_R_* */
	unsigned int strflags;    /* IMAP_STR_UTF8, IMAP_MIME_GLOBAL for imap_mime */
	bool first;
	int rc;                   /* first error */
};

/* ---- needs, \Seen ---- */

static bool section_header_only(const struct imap_section *s)
{
	return s->kind == IMAP_SECTION_BODY && s->nparts == 0 &&
	       (s->text == IMAP_SECTION_HEADER || s->text == IMAP_SECTION_HEADER_FIELDS ||
		s->text == IMAP_SECTION_HEADER_FIELDS_NOT);
}

enum imap_fetch_need imap_fetch_render_needs(const struct imap_fetch *f, unsigned int cached)
{
	enum imap_fetch_need need = IMAP_FETCH_NEED_NONE;
	unsigned int items = f->items & ~cached;

	if (items & (IMAP_FETCH_BODY | IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_RFC822 | IMAP_FETCH_RFC822_TEXT |
		     IMAP_FETCH_PREVIEW))
		return IMAP_FETCH_NEED_MESSAGE;
	if (items & (IMAP_FETCH_ENVELOPE | IMAP_FETCH_RFC822_HEADER))
		need = IMAP_FETCH_NEED_HEADER;
	for (unsigned int i = 0; i < f->nsections; i++) {
		if (!section_header_only(&f->sections[i]))
			return IMAP_FETCH_NEED_MESSAGE;
		need = IMAP_FETCH_NEED_HEADER;
	}
	return need;
}

bool imap_fetch_render_sets_seen(const struct imap_fetch *f, unsigned int flags, bool read_only)
{
	return f->sets_seen && !read_only && !(flags & IMAP_FLAG_SEEN);
}

/* ---- output helpers: every write goes through these; the first
 * failure sticks in r->rc and later writes do nothing ---- */

static void fail_errno(struct render *r)
{
	if (r->rc == IMAP_FETCH_RENDER_OK)
		r->rc = errno == ENOMEM ? IMAP_FETCH_RENDER_NOMEM : IMAP_FETCH_RENDER_TOO_BIG;
}

static void put(struct render *r, const char *p, size_t n)
{
	if (r->rc == IMAP_FETCH_RENDER_OK && buf_append(r->out, p, n) < 0)
		fail_errno(r);
}

static void puts_(struct render *r, const char *s)
{
	put(r, s, strlen(s));
}

static void putf(struct render *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct render *r, const char *fmt, ...)
{
	va_list ap;

	if (r->rc != IMAP_FETCH_RENDER_OK)
		return;
	va_start(ap, fmt);
	if (buf_vprintf(r->out, fmt, ap) < 0)
		fail_errno(r);
	va_end(ap);
}

/* A string in the form its bytes allow (quoted, or a literal). */
static void render_string(struct render *r, const char *p, size_t n)
{
	if (r->rc == IMAP_FETCH_RENDER_OK && imap_write_string(r->out, p, n, r->strflags & IMAP_STR_UTF8) < 0)
		fail_errno(r);
}

/* The separator before every item but the first. */
static void item(struct render *r, const char *name)
{
	if (!r->first)
		put(r, " ", 1);
	r->first = false;
	puts_(r, name);
}

/* Fail early, before copying, when " {n}\r\n" and n bytes cannot fit. */
static bool room_for_literal(struct render *r, size_t n, bool binary)
{
	size_t need, digits = 1;

	if (r->rc != IMAP_FETCH_RENDER_OK)
		return false;
	for (size_t v = n; v >= 10; v /= 10)
		digits++;
	if (__builtin_add_overflow(r->out->len, n, &need) ||
	    __builtin_add_overflow(need, digits + 5 + (binary ? 1 : 0), &need) || need > r->out->max) {
		r->rc = IMAP_FETCH_RENDER_TOO_BIG;
		return false;
	}
	return true;
}

/* ---- simple items ---- */

static bool keyword_ok(const char *k)
{
	if (k == NULL || *k == '\0')
		return false;
	for (const char *p = k; *p; p++)
		if (!imap_is_atom_char((unsigned char)*p))
			return false;
	return true;
}

static void render_flags(struct render *r)
{
	static const struct { unsigned int bit; const char *name; } sys[] = {
		{ IMAP_FLAG_ANSWERED, "\\Answered" }, { IMAP_FLAG_FLAGGED, "\\Flagged" },
		{ IMAP_FLAG_DELETED, "\\Deleted" }, { IMAP_FLAG_SEEN, "\\Seen" },
		{ IMAP_FLAG_DRAFT, "\\Draft" }, { IMAP_FLAG_RECENT, "\\Recent" },
	};
	unsigned int flags = r->m->flags;
	bool sep = false;

	if (r->flags & IMAP_FETCH_R_REV2)
		flags &= ~IMAP_FLAG_RECENT;
	item(r, "FLAGS (");
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		if (!(flags & sys[i].bit))
			continue;
		if (sep)
			put(r, " ", 1);
		puts_(r, sys[i].name);
		sep = true;
	}
	for (unsigned int i = 0; i < r->m->nkeywords; i++) {
		if (!keyword_ok(r->m->keywords[i]))
			continue;
		if (sep)
			put(r, " ", 1);
		puts_(r, r->m->keywords[i]);
		sep = true;
	}
	put(r, ")", 1);
}

/* RFC 9051 section 9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz". */
static void render_internaldate(struct render *r)
{
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int zone = r->m->zone;
	int64_t local;
	time_t t;
	struct tm tm;

	if (zone < -(23 * 60 + 59) || zone > 23 * 60 + 59)
		zone = 0;
	if (__builtin_add_overflow(r->m->internal_date, (int64_t)zone * 60, &local) ||
	    (t = (time_t)local) != local || gmtime_r(&t, &tm) == NULL ||
	    tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		t = 0;
		zone = 0;
		gmtime_r(&t, &tm);
	}
	item(r, "INTERNALDATE ");
	putf(r, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, months[tm.tm_mon],
	     tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone < 0 ? '-' : '+',
	     (zone < 0 ? -zone : zone) / 60, (zone < 0 ? -zone : zone) % 60);
}

/* The string flags of imap_mime's writers under render flags. */
static unsigned int render_strflags(unsigned int flags)
{
	if (flags & IMAP_FETCH_R_REV2)
		return IMAP_STR_UTF8 | IMAP_MIME_GLOBAL;
	if (flags & IMAP_FETCH_R_UTF8)
		return IMAP_STR_UTF8;
	return 0;
}

unsigned int imap_fetch_render_form(unsigned int flags)
{
	return flags & IMAP_FETCH_R_REV2 ? 2 : flags & IMAP_FETCH_R_UTF8 ? 1 : 0;
}

int imap_fetch_render_structure(struct buf *out, int which, const struct mime_message *mime, unsigned int flags)
{
	const struct mime_part *root = mime->root;

	if (which < 0)
		return imap_envelope_write(out, mime->data + root->header.offset, root->header.size,
					   render_strflags(flags));
	return imap_bodystructure_write(out, mime, which, render_strflags(flags));
}

/* ENVELOPE, BODY or BODYSTRUCTURE: the cached text, or computed. */
static void render_structure(struct render *r, const char *name, const char *cached, size_t cached_len,
			     int which)
{
	item(r, name);
	if (r->rc != IMAP_FETCH_RENDER_OK)
		return;
	if (cached != NULL) {
		put(r, cached, cached_len);
		return;
	}
	if (r->mime == NULL) {
		r->rc = IMAP_FETCH_RENDER_NO_DATA;
		return;
	}
	if (which < 0) {
		const struct mime_part *root = r->mime->root;
		if (imap_envelope_write(r->out, r->mime->data + root->header.offset, root->header.size,
					r->strflags) < 0)
			fail_errno(r);
	} else if (imap_bodystructure_write(r->out, r->mime, which, r->strflags) < 0) {
		fail_errno(r);
	}
}

/* ---- sections ---- */

static const char *section_text_name(enum imap_section_text t)
{
	switch (t) {
	case IMAP_SECTION_HEADER: return "HEADER";
	case IMAP_SECTION_HEADER_FIELDS: return "HEADER.FIELDS";
	case IMAP_SECTION_HEADER_FIELDS_NOT: return "HEADER.FIELDS.NOT";
	case IMAP_SECTION_TEXT: return "TEXT";
	case IMAP_SECTION_MIME: return "MIME";
	case IMAP_SECTION_WHOLE: break;
	}
	return "";
}

/* A header field name echoed in upper case (as Dovecot does): an atom
 * when it can be one, else quoted (field names are printable ASCII). */
static void render_field_name(struct render *r, const char *name)
{
	size_t n = strlen(name);
	struct buf up;

	buf_init(&up, n);
	if (r->rc == IMAP_FETCH_RENDER_OK && buf_append(&up, name, n) < 0)
		fail_errno(r);
	for (size_t i = 0; r->rc == IMAP_FETCH_RENDER_OK && i < n; i++)
		if (up.data[i] >= 'a' && up.data[i] <= 'z')
			up.data[i] = (char)(up.data[i] - 'a' + 'A');
	if (r->rc == IMAP_FETCH_RENDER_OK && imap_write_astring(r->out, buf_cstr(&up), n, 0) < 0)
		fail_errno(r);
	buf_free(&up);
}

/* "BODY[1.2.HEADER.FIELDS (A B)]<origin>" as the response names it. */
static void render_section_name(struct render *r, const struct imap_section *s)
{
	item(r, s->kind == IMAP_SECTION_BODY ? "BODY[" : s->kind == IMAP_SECTION_BINARY ? "BINARY[" : "BINARY.SIZE[");
	for (unsigned int i = 0; i < s->nparts; i++)
		putf(r, i > 0 ? ".%u" : "%u", (unsigned int)s->parts[i]);
	if (s->text != IMAP_SECTION_WHOLE) {
		if (s->nparts > 0)
			put(r, ".", 1);
		puts_(r, section_text_name(s->text));
	}
	if (s->text == IMAP_SECTION_HEADER_FIELDS || s->text == IMAP_SECTION_HEADER_FIELDS_NOT) {
		put(r, " (", 2);
		for (unsigned int i = 0; i < s->nfields; i++) {
			if (i > 0)
				put(r, " ", 1);
			render_field_name(r, s->fields[i]);
		}
		put(r, ")", 1);
	}
	put(r, "]", 1);
	if (s->partial && s->kind != IMAP_SECTION_BINARY_SIZE)
		putf(r, "<%llu>", (unsigned long long)s->offset);
}

/* The window [start, start + len) of a total-byte text, clamped. */
static void window(const struct imap_section *s, size_t total, size_t *start_r, size_t *len_r)
{
	uint64_t start = s->partial ? s->offset : 0, len = total;

	if (start >= total) {
		*start_r = total;
		*len_r = 0;
		return;
	}
	len = total - start;
	if (s->partial && s->length < len)
		len = s->length;
	*start_r = (size_t)start;
	*len_r = (size_t)len;
}

static void literal_prefix(struct render *r, size_t n, bool binary)
{
	put(r, " ", 1);
	if (r->rc == IMAP_FETCH_RENDER_OK && imap_write_literal_prefix(r->out, n, binary) < 0)
		fail_errno(r);
}

/* A NUL cannot travel in a literal (RFC 9051 CHAR8): sent as 0x80. */
static void replace_nuls(struct buf *b, size_t from)
{
	char *p = b->data + from, *end = b->data + b->len;

	while (p < end && (p = memchr(p, '\0', (size_t)(end - p))) != NULL)
		*p++ = (char)0x80;
}

/* The imap_mime form of a section. */
static void mime_section(const struct imap_section *s, struct imap_mime_section *ms)
{
	memset(ms, 0, sizeof(*ms));
	ms->parts = s->parts;
	ms->nparts = s->nparts;
	ms->fields = s->fields;
	ms->nfields = s->nfields;
	switch (s->text) {
	case IMAP_SECTION_WHOLE: ms->text = IMAP_MIME_WHOLE; break;
	case IMAP_SECTION_HEADER: ms->text = IMAP_MIME_HEADER; break;
	case IMAP_SECTION_HEADER_FIELDS: ms->text = IMAP_MIME_HEADER_FIELDS; break;
	case IMAP_SECTION_HEADER_FIELDS_NOT: ms->text = IMAP_MIME_HEADER_FIELDS_NOT; break;
	case IMAP_SECTION_TEXT: ms->text = IMAP_MIME_TEXT; break;
	case IMAP_SECTION_MIME: ms->text = IMAP_MIME_MIME; break;
	}
}

/* Whether a section is the whole message: its wire bytes are data
 * itself when data is in wire form (no parse needed). */
static bool section_whole(const struct imap_section *s)
{
	return s->kind == IMAP_SECTION_BODY && s->nparts == 0 && s->text == IMAP_SECTION_WHOLE;
}

/* Whether section s is the whole message and data can give it without
 * a parse: data in wire form, or as stored with its wire size known
 * (then not a window of it). */
static bool whole_from_data(const struct imap_fetch_msg *m, const struct imap_section *s)
{
	return section_whole(s) && m->data != NULL && (m->data_wire || (m->data_sized && !s->partial));
}

/* Whether the items not cached need the parsed message (else data does:
 * BODY[], RFC822, simple items). */
static bool render_needs_tree(const struct imap_fetch *f, unsigned int cached, const struct imap_fetch_msg *m)
{
	struct imap_section whole = { .kind = IMAP_SECTION_BODY, .text = IMAP_SECTION_WHOLE };

	if ((f->items & ~cached) & (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY | IMAP_FETCH_BODYSTRUCTURE |
				    IMAP_FETCH_PREVIEW | IMAP_FETCH_RFC822_HEADER | IMAP_FETCH_RFC822_TEXT))
		return true;
	if ((f->items & IMAP_FETCH_RFC822) && !whole_from_data(m, &whole))
		return true;
	for (unsigned int i = 0; i < f->nsections; i++)
		if (!whole_from_data(m, &f->sections[i]))
			return true;
	return false;
}

bool imap_fetch_render_wants_wire(const struct imap_fetch *f)
{
	for (unsigned int i = 0; i < f->nsections; i++)
		if (f->sections[i].kind != IMAP_SECTION_BODY || (section_whole(&f->sections[i]) && f->sections[i].partial))
			return true;
	return false;
}

/* Write the item's name (the section's, or name); false when the
 * section cannot be rendered (an error is set). */
static bool section_start(struct render *r, const struct imap_section *s, const char *name)
{
	if (name != NULL)
		item(r, name);
	else
		render_section_name(r, s);
	if (r->rc == IMAP_FETCH_RENDER_OK && r->mime == NULL && !whole_from_data(r->m, s))
		r->rc = IMAP_FETCH_RENDER_NO_DATA;
	return r->rc == IMAP_FETCH_RENDER_OK;
}

/* The literal of window [start, start + len) of p, NULs as 0x80. */
static void render_literal(struct render *r, const char *p, size_t start, size_t len)
{
	if (!room_for_literal(r, len, false))
		return;
	literal_prefix(r, len, false);
	size_t at = r->out->len;
	put(r, p + start, len);
	if (r->rc == IMAP_FETCH_RENDER_OK)
		replace_nuls(r->out, at);
}

/* The whole message from data as stored, made wire form straight into
 * the literal, whose length is the caller's size: data of another wire
 * length (the file changed since it was measured) is NO_DATA. */
static void render_sized(struct render *r)
{
	size_t len = (size_t)r->m->size, at;
	char *p;

	if ((uint64_t)len != r->m->size) {
		r->rc = IMAP_FETCH_RENDER_TOO_BIG;
		return;
	}
	if (!room_for_literal(r, len, false))
		return;
	literal_prefix(r, len, false);
	if (r->rc != IMAP_FETCH_RENDER_OK)
		return;
	at = r->out->len;
	if ((p = buf_room(r->out, len)) == NULL) {
		fail_errno(r);
		return;
	}
	if (crlf_expand(p, len, r->m->data, r->m->len, '\n') != len) {
		r->rc = IMAP_FETCH_RENDER_NO_DATA;
		return;
	}
	buf_extend(r->out, len);
	replace_nuls(r->out, at);
}

/* The literal of BODY[section]<partial> (also RFC822.*: name given). */
static void render_body(struct render *r, const struct imap_section *s, const char *name)
{
	struct imap_mime_section ms;
	struct imap_mime_data d;
	size_t start, len, at;
	int rc;

	if (!section_start(r, s, name))
		return;
	if (whole_from_data(r->m, s)) {   /* no parse needed, whether one was made or not */
		if (!r->m->data_wire) {
			render_sized(r);
			return;
		}
		window(s, r->m->len, &start, &len);
		render_literal(r, r->m->data, start, len);
		return;
	}
	mime_section(s, &ms);
	rc = imap_mime_section_resolve(r->mime, &ms, &d);
	if (rc == IMAP_MIME_NOMEM) {
		r->rc = IMAP_FETCH_RENDER_NOMEM;
		return;
	}
	/* no such part, HEADER/TEXT of no message: empty, as Dovecot */
	window(s, rc == IMAP_MIME_OK ? d.wire_size : 0, &start, &len);
	if (room_for_literal(r, len, false)) {
		literal_prefix(r, len, false);
		at = r->out->len;
		if (r->rc == IMAP_FETCH_RENDER_OK && len > 0 &&
		    imap_mime_data_write(r->mime, &d, start, len, r->out) < 0)
			fail_errno(r);
		if (r->rc == IMAP_FETCH_RENDER_OK)
			replace_nuls(r->out, at);
	}
	imap_mime_data_free(&d);
}

/* BINARY[section]<partial> and BINARY.SIZE[section] (RFC 3516). */
static void render_binary(struct render *r, const struct imap_section *s)
{
	struct buf dec;
	size_t start, len, size;
	int rc;

	if (!section_start(r, s, NULL))
		return;
	if (s->kind == IMAP_SECTION_BINARY_SIZE) {
		rc = imap_binary_size(r->mime, s->parts, s->nparts, &size);
		if (rc == IMAP_MIME_NO_PART)
			size = 0;   /* as Dovecot */
		else if (rc == IMAP_MIME_UNKNOWN_CTE)
			r->rc = IMAP_FETCH_RENDER_UNKNOWN_CTE;
		else if (rc != IMAP_MIME_OK)
			r->rc = IMAP_FETCH_RENDER_NOMEM;
		putf(r, " %zu", size);
		return;
	}
	/* Decoded bytes are never more than the wire form, at most twice
	 * the stored message (every bare LF doubled). */
	buf_init(&dec, r->mime->len > (SIZE_MAX - 64) / 2 ? SIZE_MAX : 2 * r->mime->len + 64);
	rc = imap_binary_decode(r->mime, s->parts, s->nparts, &dec);
	if (rc == IMAP_MIME_UNKNOWN_CTE)
		r->rc = IMAP_FETCH_RENDER_UNKNOWN_CTE;
	else if (rc == IMAP_MIME_NOMEM || rc == IMAP_MIME_TOO_BIG)
		r->rc = IMAP_FETCH_RENDER_NOMEM;
	else if (rc != IMAP_MIME_OK)
		buf_reset(&dec);    /* no such part: empty, as Dovecot */
	window(s, dec.len, &start, &len);
	if (r->rc == IMAP_FETCH_RENDER_OK) {
		const char *p = dec.data != NULL ? dec.data + start : "";
		bool nul = memchr(p, '\0', len) != NULL;
		if (room_for_literal(r, len, nul)) {
			literal_prefix(r, len, nul);
			put(r, p, len);
		}
	}
	buf_free(&dec);
}

static void render_section(struct render *r, const struct imap_section *s)
{
	if (s->kind == IMAP_SECTION_BODY)
		render_body(r, s, NULL);
	else
		render_binary(r, s);
}

static void render_rfc822(struct render *r, const char *name, enum imap_section_text text)
{
	struct imap_section s;

	memset(&s, 0, sizeof(s));
	s.kind = IMAP_SECTION_BODY;
	s.text = text;
	render_body(r, &s, name);
}

/* PREVIEW (RFC 8970): the given text, or one made from the message. */
static void render_preview(struct render *r)
{
	const struct imap_fetch_msg *m = r->m;
	struct buf made;

	item(r, "PREVIEW ");
	if (m->preview != NULL) {
		render_string(r, m->preview, m->preview_len);
		return;
	}
	buf_init(&made, 8 * IMAP_PREVIEW_CHARS);
	if (imap_preview_make(m->data, m->data != NULL ? m->len : 0, r->mime, &made) < 0)
		r->rc = IMAP_FETCH_RENDER_NOMEM;
	else
		render_string(r, made.data != NULL ? made.data : "", made.len);
	buf_free(&made);
}

/* ---- the response ---- */

static void render_items(struct render *r)
{
	const struct imap_fetch *f = r->f;
	const struct imap_fetch_msg *m = r->m;
	unsigned int items = f->items;

	/* RFC 7162 3.1: under CONDSTORE an implicit \Seen brings UID and MODSEQ. */
	if ((items & IMAP_FETCH_UID) || (r->flags & IMAP_FETCH_R_UID) ||
	    (m->seen_set && (r->flags & IMAP_FETCH_R_CONDSTORE))) {
		item(r, "UID ");
		putf(r, "%u", (unsigned int)m->uid);
	}
	if ((items & IMAP_FETCH_FLAGS) || m->seen_set)
		render_flags(r);
	if ((items & IMAP_FETCH_MODSEQ) || f->changedsince_set ||
	    (m->seen_set && (r->flags & IMAP_FETCH_R_CONDSTORE))) {
		item(r, "MODSEQ ");
		putf(r, "(%llu)", (unsigned long long)m->modseq);
	}
	if (items & IMAP_FETCH_INTERNALDATE)
		render_internaldate(r);
	if (items & IMAP_FETCH_EMAILID) {
		item(r, "EMAILID ");
		putf(r, "(E%016llx)", (unsigned long long)m->emailid);
	}
	if (items & IMAP_FETCH_THREADID) {
		item(r, "THREADID ");
		put(r, "NIL", 3);   /* RFC 8474 5.2: no threads kept */
	}
	if (items & IMAP_FETCH_RFC822_SIZE) {
		item(r, "RFC822.SIZE ");
		putf(r, "%llu", (unsigned long long)m->size);
	}
	if (items & IMAP_FETCH_ENVELOPE)
		render_structure(r, "ENVELOPE ", m->envelope, m->envelope_len, -1);
	if (items & IMAP_FETCH_BODY)
		render_structure(r, "BODY ", m->body, m->body_len, 0);
	if (items & IMAP_FETCH_BODYSTRUCTURE)
		render_structure(r, "BODYSTRUCTURE ", m->bodystructure, m->bodystructure_len, 1);
	if (items & IMAP_FETCH_PREVIEW)
		render_preview(r);
	if (items & IMAP_FETCH_RFC822_HEADER)
		render_rfc822(r, "RFC822.HEADER", IMAP_SECTION_HEADER);
	if (items & IMAP_FETCH_RFC822_TEXT)
		render_rfc822(r, "RFC822.TEXT", IMAP_SECTION_TEXT);
	if (items & IMAP_FETCH_RFC822)
		render_rfc822(r, "RFC822", IMAP_SECTION_WHOLE);
	for (unsigned int i = 0; i < f->nsections && r->rc == IMAP_FETCH_RENDER_OK; i++)
		render_section(r, &f->sections[i]);
}

int imap_fetch_render(struct buf *out, const struct imap_fetch *f, const struct imap_fetch_msg *m,
		      const struct imap_fetch_render_opts *opts)
{
	struct render r;
	struct mime_message *parsed = NULL;
	size_t start = out->len, saved_max = out->max, limit;
	unsigned int cached = (m->envelope ? IMAP_FETCH_ENVELOPE : 0) | (m->body ? IMAP_FETCH_BODY : 0) |
		(m->bodystructure ? IMAP_FETCH_BODYSTRUCTURE : 0) | (m->preview ? IMAP_FETCH_PREVIEW : 0);

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.f = f;
	r.m = m;
	r.mime = m->mime;
	r.flags = opts->flags;
	r.first = true;
	r.strflags = render_strflags(r.flags);
	if (r.mime == NULL && m->data != NULL &&
	    imap_fetch_render_needs(f, cached) != IMAP_FETCH_NEED_NONE && render_needs_tree(f, cached, m)) {
		const char *error;
		if (mime_parse(m->data, m->len, &parsed, &error) < 0)
			return IMAP_FETCH_RENDER_NOMEM;
		r.mime = parsed;
	}
	/* opts->max bounds this response: out's cap lowered for the call */
	if (!__builtin_add_overflow(start, opts->max, &limit) && limit < out->max)
		out->max = limit;
	putf(&r, "* %u FETCH (", (unsigned int)m->seq);
	render_items(&r);
	put(&r, ")\r\n", 3);
	out->max = saved_max;
	mime_message_free(&parsed);
	if (r.rc != IMAP_FETCH_RENDER_OK)
		buf_truncate(out, start);
	return r.rc;
}
