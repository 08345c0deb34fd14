/* imap_search_eval: whether one message matches a SEARCH program.
 *
 * Offers: imap_search_needs (what of a message a program reads, so that
 * the session opens no file for a search on flags), imap_search_eval_new
 * (compile a parsed program: search strings converted from CHARSET and
 * folded, sets resolved, cheap keys first), imap_search_eval_match (one
 * message), imap_search_fold (the folding of both sides of a string
 * comparison).
 *
 * What the keys mean (RFC 3501 / RFC 9051 6.4.4; where the RFCs leave
 * room, what Dovecot 2.3 does, checked by tests/integration/
 * test_imap_search_dovecot.py):
 *  - Strings match as substrings after folding both sides with
 *    imap_search_fold: simple case mapping and compatibility
 *    decomposition, as RFC 5051 i;unicode-casemap (the comparator of RFC
 *    5255, Dovecot's) does, over Latin, Greek, Cyrillic, Armenian,
 *    Georgian, ligatures and full-width forms (imap_search_fold.h).  So
 *    "STRASSE" does not find "Straße" (no full case folding) and "cafe"
 *    finds "café" (é is e + U+0301), as in Dovecot.
 *  - Search strings are in CHARSET (default UTF-8; US-ASCII, UTF-8,
 *    ISO-8859-1 and windows-1252 always, others through iconv): unknown
 *    is NO [BADCHARSET], bytes invalid in it BAD.
 *  - Header values are unfolded and their RFC 2047 encoded words decoded
 *    to UTF-8; 8-bit bytes in a header are taken as UTF-8.
 *  - SUBJECT: any Subject field, runs of white space in it read as one
 *    space.  HEADER: any field of that name (of the message header, not
 *    of MIME parts), value as unfolded.  FROM, TO, CC, BCC: the field's
 *    addresses written as "name <local@domain>" (or "local@domain")
 *    joined by ", ", the names decoded: so the string may be part of a
 *    display name, of an address or span both; an unparsable field is
 *    searched as written.  Any of these with "" matches every message
 *    that has the field.
 *  - BODY: the bodies of the text/ and message/ leaf parts at any depth
 *    (inside attached messages too), Content-Transfer-Encoding undone
 *    (base64, quoted-printable), converted from the part's charset to
 *    UTF-8 (a charset unknown, or bytes invalid in it: the bytes as they
 *    are, so ASCII words are still found); no header, no part of another
 *    type.  TEXT: as BODY, and every header of every part (the message
 *    header, MIME part headers, attached messages' headers) as
 *    "Name: value".  A string never spans two parts or two fields.  BODY
 *    "" and TEXT "" match every message.
 *  - SENTBEFORE / SENTON / SENTSINCE: the date of the first Date field in
 *    its own zone; without a Date field that parses, the internal date
 *    (RFC 5256 3's rule for SORT; Dovecot takes 1-Jan-1970 instead).
 *  - BEFORE / ON / SINCE: the internal date's date in the server's zone
 *    (env->zone).  OLDER n: internal date < now - n; YOUNGER n: >= now - n
 *    (RFC 5032; each is the other's complement).
 *  - LARGER / SMALLER: RFC822.SIZE > / < n.  MODSEQ: modseq >= n (RFC 7162
 *    3.1.5: one MODSEQ per message, so the entry name is ignored).
 *  - NEW = RECENT UNSEEN, OLD = NOT RECENT; KEYWORD compares names ASCII
 *    case-insensitively.
 *  - UID set / sequence set: "*" is env->max_uid / env->max_seq; "$" is
 *    the saved result (env->saved, by UID) in either place.
 *
 * How, for speed: AND's keys are reordered cheapest first (flags, sizes,
 * dates and sets; then header keys; then BODY / TEXT) and stop at the
 * first miss, OR tries its cheaper side first, so a message whose flags
 * already decide is never read (msg->load is called only then).  Per
 * message, each header field is decoded at most once per form, the MIME
 * tree is parsed once and each text part decoded and folded once, into
 * buffers kept for the next message.
 *
 * Trusts: the program as imap_search_parse built it (its depth is
 * bounded, so recursion is); nothing of the message: it goes through
 * mime.c and mime_header.c, which take (pointer, length) and bound
 * everything.  Header fields beyond MIME_MAX_HEADER_LINES per header are
 * not looked at.
 *
 * Fails: eval_new with NO/BAD codes for CHARSET, or on memory;
 * eval_match when the message cannot be loaded, memory runs out, or the
 * decoded text of one message passes 8 times its size plus 64 KiB (never
 * for real mail: decoding shrinks or at most triples it). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "imap_search_eval.h"
#include "imap_search_fold.h"
#include "mime.h"
#include "mime_header.h"
#include "utf8.h"

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

/* How costly a key is: the order AND evaluates its keys in. */
enum ev_cost { COST_NONE, COST_HEADER, COST_BODY };

struct ev_node {
	enum imap_search_key key;
	enum ev_cost cost;
	const char *str;              /* KEYWORD as written; string keys folded */
	size_t len;
	const char *field;            /* HEADER's field name */
	size_t field_len;
	int64_t days;                 /* date keys: days since 1970-01-01 */
	uint64_t number;
	struct imap_seqset set;       /* resolved */
	bool saved;                   /* "$": match the UID against the saved result */
	unsigned int count;
	struct ev_node *children;
};

/* The forms of a header value that the keys search. */
enum ev_form { FORM_PLAIN, FORM_LWSP, FORM_ADDR, FORM_COUNT };

struct ev_field {
	struct mime_str name, value;       /* as stored */
	size_t off[FORM_COUNT], len[FORM_COUNT];  /* folded forms in fields_text */
	unsigned int done;                 /* bit per form */
};

struct imap_search_eval {
	struct arena arena;
	struct ev_node root;
	enum imap_search_need need;
	struct imap_seqset saved;
	int64_t now;
	int zone;

	/* The current message; everything below is reset for each. */
	const struct imap_search_msg *msg;
	const char *data;
	size_t len;
	int loaded;                        /* data is set (or known to be missing) */
	struct ev_field *fields;
	size_t nfields, fields_cap;
	int fields_done;
	struct buf fields_text;
	int date_done;
	int64_t sent_days;
	struct mime_message *mime;
	int body_done, headers_done;
	struct buf body;                   /* BODY: folded text parts, NUL between */
	struct buf headers;                /* TEXT: folded "Name: value" of every header, NUL between */
	struct buf tmp1, tmp2, tmp3;       /* scratch */
	struct mime_arena addr_arena;
	const char *error;
};

/* ---- folding ---- */

static const struct search_fold *ev_fold_find(uint32_t cp)
{
	size_t lo = 0, hi = NELEM(fold_table);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < fold_table[mid].cp)
			hi = mid;
		else if (cp > fold_table[mid].cp)
			lo = mid + 1;
		else
			return &fold_table[mid];
	}
	return NULL;
}

/* Write a BMP code point as UTF-8 at s; its length. */
static size_t ev_put_bmp(char *s, uint32_t cp)
{
	if (cp < 0x80) {
		s[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		s[0] = (char)(0xc0 | cp >> 6);
		s[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	s[0] = (char)(0xe0 | cp >> 12);
	s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
	s[2] = (char)(0x80 | (cp & 0x3f));
	return 3;
}

int imap_search_fold(const char *p, size_t n, struct buf *out)
{
	char chunk[1024];
	size_t k = 0, i = 0;

	while (i < n) {
		unsigned char c = (unsigned char)p[i];
		const struct search_fold *f;
		uint32_t cp;
		size_t l;

		/* Room for the longest expansion: 255 BMP characters. */
		if (k > sizeof(chunk) - 3 * 256) {
			if (buf_append(out, chunk, k) < 0)
				return -1;
			k = 0;
		}
		if (c < 0x80) {
			chunk[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
			continue;
		}
		l = utf8_decode((const unsigned char *)p + i, n - i, &cp);
		if (l == 0) {
			chunk[k++] = (char)c;   /* malformed: the byte as it is */
			i++;
		} else if (cp > 0xffff || (f = ev_fold_find(cp)) == NULL) {
			memcpy(chunk + k, p + i, l);
			k += l;
			i += l;
		} else {
			for (unsigned int j = 0; j < f->len; j++)
				k += ev_put_bmp(chunk + k, fold_pool[f->off + j]);
			i += l;
		}
	}
	return k > 0 ? buf_append(out, chunk, k) : 0;
}

/* ---- what a program needs ---- */

static enum imap_search_need ev_node_needs(const struct imap_search_node *n)
{
	enum imap_search_need need = IMAP_SEARCH_NEED_NONE;

	switch (n->key) {
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		return n->len > 0 ? IMAP_SEARCH_NEED_FULL : IMAP_SEARCH_NEED_NONE;
	case IMAP_SEARCH_BCC: case IMAP_SEARCH_CC: case IMAP_SEARCH_FROM: case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TO: case IMAP_SEARCH_HEADER:
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		return IMAP_SEARCH_NEED_HEADER;
	default:
		break;
	}
	for (unsigned int k = 0; k < n->count && need != IMAP_SEARCH_NEED_FULL; k++) {
		enum imap_search_need c = ev_node_needs(&n->children[k]);

		if (c > need)
			need = c;
	}
	return need;
}

enum imap_search_need imap_search_needs(const struct imap_search *s)
{
	return ev_node_needs(&s->root);
}

/* ---- compiling ---- */

struct ev_compile {
	struct imap_search_eval *ev;
	const struct imap_search *s;
	const struct imap_search_env *env;
	struct buf utf8, folded;
	int code;
	const char **error_r;
};

static int ev_fail(struct ev_compile *c, int code, const char *why)
{
	c->code = code;
	*c->error_r = why;
	return -1;
}

/* The search string of n, from CHARSET to UTF-8, folded, in the arena. */
static int ev_needle(struct ev_compile *c, const struct imap_search_node *n, struct ev_node *out)
{
	const char *p = n->str;
	size_t len = n->len;

	buf_reset(&c->utf8);
	buf_reset(&c->folded);
	if (c->s->charset != NULL) {
		if (mime_charset_to_utf8(c->s->charset, strlen(c->s->charset), p, len, &c->utf8) < 0)
			return ev_fail(c, IMAP_SEARCH_EVAL_BADSTRING, "Search string not valid in its charset");
		p = c->utf8.data != NULL ? c->utf8.data : "";
		len = c->utf8.len;
	}
	if (imap_search_fold(p, len, &c->folded) < 0)
		return ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Search string too long");
	out->len = c->folded.len;
	out->str = arena_strndup(&c->ev->arena, c->folded.data != NULL ? c->folded.data : "", out->len);
	return out->str != NULL ? 0 : ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
}

static int ev_set(struct ev_compile *c, const struct imap_search_node *n, uint32_t max, struct ev_node *out)
{
	if (n->set.saved) {
		out->saved = true;
		return 0;
	}
	if (imap_seqset_resolve(&n->set, max, &c->ev->arena, &out->set) < 0)
		return ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
	return 0;
}

/* Order AND's children by cost, keeping the order among equals. */
static void ev_sort_children(struct ev_node *n)
{
	for (unsigned int i = 1; i < n->count; i++) {
		struct ev_node t = n->children[i];
		unsigned int j = i;

		for (; j > 0 && n->children[j - 1].cost > t.cost; j--)
			n->children[j] = n->children[j - 1];
		n->children[j] = t;
	}
}

static int ev_compile_node(struct ev_compile *c, const struct imap_search_node *n, struct ev_node *out)
{
	memset(out, 0, sizeof(*out));
	out->key = n->key;
	out->number = n->number;
	out->days = n->date.days;
	out->cost = COST_NONE;
	switch (n->key) {
	case IMAP_SEARCH_KEYWORD:
	case IMAP_SEARCH_UNKEYWORD:
	case IMAP_SEARCH_EMAILID:
	case IMAP_SEARCH_THREADID:
		out->str = arena_strndup(&c->ev->arena, n->str, n->len);
		out->len = n->len;
		return out->str != NULL ? 0 : ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
	case IMAP_SEARCH_HEADER:
		out->field_len = strlen(n->field);
		out->field = arena_strndup(&c->ev->arena, n->field, out->field_len);
		if (out->field == NULL)
			return ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
		/* fall through */
	case IMAP_SEARCH_BCC: case IMAP_SEARCH_CC: case IMAP_SEARCH_FROM: case IMAP_SEARCH_SUBJECT:
	case IMAP_SEARCH_TO:
		out->cost = COST_HEADER;
		return ev_needle(c, n, out);
	case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_TEXT:
		out->cost = n->len > 0 ? COST_BODY : COST_NONE;
		return ev_needle(c, n, out);
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		out->cost = COST_HEADER;
		return 0;
	case IMAP_SEARCH_UID:
		return ev_set(c, n, c->env->max_uid, out);
	case IMAP_SEARCH_SEQSET:
		return ev_set(c, n, c->env->max_seq, out);
	case IMAP_SEARCH_NOT:
	case IMAP_SEARCH_OR:
	case IMAP_SEARCH_AND:
		out->count = n->count;
		out->children = arena_calloc(&c->ev->arena, n->count ? n->count : 1, sizeof(*out->children));
		if (out->children == NULL)
			return ev_fail(c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
		for (unsigned int k = 0; k < n->count; k++) {
			if (ev_compile_node(c, &n->children[k], &out->children[k]) < 0)
				return -1;
			if (out->children[k].cost > out->cost)
				out->cost = out->children[k].cost;
		}
		if (n->key == IMAP_SEARCH_AND) {
			ev_sort_children(out);
		} else if (n->key == IMAP_SEARCH_OR && out->children[1].cost < out->children[0].cost) {
			struct ev_node t = out->children[0];

			out->children[0] = out->children[1];
			out->children[1] = t;
		}
		return 0;
	default:
		return 0;
	}
}

static void ev_bufs_init(struct imap_search_eval *ev)
{
	buf_init(&ev->fields_text, 0);
	buf_init(&ev->body, 0);
	buf_init(&ev->headers, 0);
	buf_init(&ev->tmp1, 0);
	buf_init(&ev->tmp2, 0);
	buf_init(&ev->tmp3, 0);
	mime_arena_init(&ev->addr_arena);
}

int imap_search_eval_new(const struct imap_search *s, const struct imap_search_env *env,
			 struct imap_search_eval **ev_r, const char **error_r)
{
	struct imap_search_eval *ev = calloc(1, sizeof(*ev));
	struct ev_compile c = { ev, s, env, { 0 }, { 0 }, 0, error_r };
	int rc = 0;

	*ev_r = NULL;
	if (ev == NULL) {
		*error_r = "Out of memory";
		return IMAP_SEARCH_EVAL_NOMEM;
	}
	arena_init(&ev->arena, 16384, IMAP_SEARCH_EVAL_MEM_MAX);
	ev_bufs_init(ev);
	ev->need = imap_search_needs(s);
	ev->now = env->now;
	ev->zone = env->zone;
	buf_init(&c.utf8, IMAP_SEARCH_EVAL_MEM_MAX);
	buf_init(&c.folded, IMAP_SEARCH_EVAL_MEM_MAX);
	/* An unknown charset converts not even the empty string. */
	if (s->charset != NULL && mime_charset_to_utf8(s->charset, strlen(s->charset), "", 0, &c.utf8) < 0)
		rc = ev_fail(&c, IMAP_SEARCH_EVAL_BADCHARSET, "Unknown charset");
	if (rc == 0 && env->saved != NULL && env->saved->count > 0) {
		ev->saved.count = env->saved->count;
		ev->saved.ranges = arena_alloc(&ev->arena, env->saved->count * sizeof(*ev->saved.ranges));
		if (ev->saved.ranges == NULL)
			rc = ev_fail(&c, IMAP_SEARCH_EVAL_NOMEM, "Out of memory");
		else
			memcpy(ev->saved.ranges, env->saved->ranges,
			       env->saved->count * sizeof(*ev->saved.ranges));
	}
	if (rc == 0)
		rc = ev_compile_node(&c, &s->root, &ev->root);
	buf_free(&c.utf8);
	buf_free(&c.folded);
	if (rc < 0) {
		imap_search_eval_free(&ev);
		return c.code;
	}
	*ev_r = ev;
	return 0;
}

void imap_search_eval_free(struct imap_search_eval **evp)
{
	struct imap_search_eval *ev = *evp;

	if (ev == NULL)
		return;
	mime_message_free(&ev->mime);
	free(ev->fields);
	buf_free(&ev->fields_text);
	buf_free(&ev->body);
	buf_free(&ev->headers);
	buf_free(&ev->tmp1);
	buf_free(&ev->tmp2);
	buf_free(&ev->tmp3);
	mime_arena_free(&ev->addr_arena);
	arena_free(&ev->arena);
	free(ev);
	*evp = NULL;
}

/* ---- the message ---- */

static int ev_error(struct imap_search_eval *ev, const char *why)
{
	ev->error = why;
	return -1;
}

static int ev_nomem(struct imap_search_eval *ev)
{
	return ev_error(ev, errno == EMSGSIZE ? "Message text too large to search" : "Out of memory");
}

/* The message bytes: given, or loaded once. */
static int ev_data(struct imap_search_eval *ev)
{
	const struct imap_search_msg *m = ev->msg;
	size_t cap;

	if (ev->loaded)
		return ev->data != NULL ? 0 : ev_error(ev, "Message could not be read");
	ev->loaded = 1;
	if (ev->data == NULL && m->load != NULL && m->load(m->load_ctx, ev->need, &ev->data, &ev->len) < 0)
		ev->data = NULL;
	if (ev->data == NULL)
		return ev_error(ev, "Message could not be read");
	/* Every text made from the message is bounded by its size. */
	if (__builtin_mul_overflow(ev->len, (size_t)8, &cap) || __builtin_add_overflow(cap, (size_t)65536, &cap))
		cap = SIZE_MAX - 1;
	ev->fields_text.max = ev->body.max = ev->headers.max = cap;
	ev->tmp1.max = ev->tmp2.max = ev->tmp3.max = cap;
	return 0;
}

/* The fields of the message header, each decoded only when asked. */
static int ev_fields(struct imap_search_eval *ev)
{
	struct mime_header_iter it;
	struct mime_field f;

	if (ev->fields_done)
		return 0;
	if (ev_data(ev) < 0)
		return -1;
	ev->fields_done = 1;
	mime_header_iter_init(&it, ev->data, ev->len);
	while (ev->nfields < MIME_MAX_HEADER_LINES && mime_header_next(&it, &f)) {
		struct ev_field *e;

		if (f.name.len == 0)
			continue;
		if (ev->nfields == ev->fields_cap) {
			size_t cap = ev->fields_cap ? ev->fields_cap * 2 : 32;
			struct ev_field *n = realloc(ev->fields, cap * sizeof(*n));

			if (n == NULL)
				return ev_error(ev, "Out of memory");
			ev->fields = n;
			ev->fields_cap = cap;
		}
		e = &ev->fields[ev->nfields++];
		e->name = f.name;
		e->value = f.value;
		e->done = 0;
	}
	return 0;
}

/* Append a header value unfolded with its encoded words decoded (runs
 * of white space as one space when lwsp). */
static int ev_decode_value(struct imap_search_eval *ev, const char *p, size_t len, int lwsp, struct buf *out)
{
	buf_reset(&ev->tmp3);
	if (mime_unfold(p, len, &ev->tmp3) < 0)
		return -1;
	if (!lwsp)
		return mime_decode_words(ev->tmp3.data ? ev->tmp3.data : "", ev->tmp3.len, out);
	{
		size_t start = out->len, w = start;

		if (mime_decode_words(ev->tmp3.data ? ev->tmp3.data : "", ev->tmp3.len, out) < 0)
			return -1;
		for (size_t r = start; r < out->len; r++) {
			char c = out->data[r];
			int ws = c == ' ' || c == '\t' || c == '\r' || c == '\n';

			if (ws && w > start && out->data[w - 1] == ' ')
				continue;
			out->data[w++] = ws ? ' ' : c;
		}
		buf_truncate(out, w);
	}
	return 0;
}

static int ev_is(const struct mime_str *s, const char *lit)
{
	return s->p != NULL && s->len == strlen(lit) && memcmp(s->p, lit, s->len) == 0;
}

/* Append one address "name <local@domain>" or "local@domain". */
static int ev_address(const struct mime_address *a, struct buf *out)
{
	int named = a->name.p != NULL && a->name.len > 0;
	int rc = 0;

	if (named) {
		rc = mime_decode_words(a->name.p, a->name.len, out);
		if (rc == 0)
			rc = buf_append(out, " <", 2);
	}
	if (rc == 0 && !ev_is(&a->mailbox, "MISSING_MAILBOX"))
		rc = buf_append(out, a->mailbox.p, a->mailbox.len);
	if (rc == 0 && a->host.len > 0 && !ev_is(&a->host, "MISSING_DOMAIN")) {
		rc = buf_putc(out, '@');
		if (rc == 0)
			rc = buf_append(out, a->host.p, a->host.len);
	}
	if (rc == 0 && named)
		rc = buf_putc(out, '>');
	return rc;
}

/* Append an address-list field as its addresses; 1 when there were
 * none (the caller then searches the value as written). */
static int ev_addresses(struct imap_search_eval *ev, const struct mime_str *value, struct buf *out)
{
	struct mime_address_list list = { 0 };
	int rc = 0;

	mime_arena_free(&ev->addr_arena);
	mime_arena_init(&ev->addr_arena);
	if (mime_address_list_parse(value->p, value->len, &ev->addr_arena, &list) < 0) {
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < list.n && rc == 0; i++) {
		const struct mime_address *a = &list.addrs[i];

		if (a->mailbox.p == NULL) {                /* group end */
			rc = buf_putc(out, ';');
			continue;
		}
		if (out->len > 0 && out->data[out->len - 1] != ':')
			rc = buf_append(out, ", ", 2);
		if (rc < 0)
			break;
		if (a->host.p == NULL) {                   /* group start: its name */
			rc = mime_decode_words(a->mailbox.p, a->mailbox.len, out);
			if (rc == 0)
				rc = buf_putc(out, ':');
			continue;
		}
		rc = ev_address(a, out);
	}
	if (rc == 0 && list.n == 0)
		rc = 1;
	mime_address_list_free(&list);
	return rc;
}

/* Make the folded form of field e. */
static int ev_form(struct imap_search_eval *ev, struct ev_field *e, enum ev_form form)
{
	int rc;

	if (e->done & (1u << form))
		return 0;
	buf_reset(&ev->tmp1);
	if (form == FORM_ADDR) {
		rc = ev_addresses(ev, &e->value, &ev->tmp1);
		if (rc == 1) {
			buf_reset(&ev->tmp1);
			rc = ev_decode_value(ev, e->value.p, e->value.len, 0, &ev->tmp1);
		}
	} else {
		rc = ev_decode_value(ev, e->value.p, e->value.len, form == FORM_LWSP, &ev->tmp1);
	}
	e->off[form] = ev->fields_text.len;
	if (rc < 0 || imap_search_fold(ev->tmp1.data ? ev->tmp1.data : "", ev->tmp1.len, &ev->fields_text) < 0)
		return ev_nomem(ev);
	e->len[form] = ev->fields_text.len - e->off[form];
	e->done |= 1u << form;
	return 0;
}

/* A header key: the string in any field called name (HEADER ""
 * and the like: the field exists). */
static int ev_match_header(struct imap_search_eval *ev, const char *name, size_t name_len, enum ev_form form,
			   const struct ev_node *n)
{
	if (ev_fields(ev) < 0)
		return -1;
	for (size_t i = 0; i < ev->nfields; i++) {
		struct ev_field *e = &ev->fields[i];

		if (!mime_field_is(&e->name, name, name_len))
			continue;
		if (n->len == 0)
			return 1;
		if (ev_form(ev, e, form) < 0)
			return -1;
		/* An empty value holds no needle (and its buffer may be NULL). */
		if (e->len[form] > 0 &&
		    memmem(ev->fields_text.data + e->off[form], e->len[form], n->str, n->len) != NULL)
			return 1;
	}
	return 0;
}

static int64_t ev_floor_days(int64_t t, int zone_minutes)
{
	int64_t local, d;

	if (__builtin_add_overflow(t, (int64_t)zone_minutes * 60, &local))
		local = t;
	d = local / 86400;
	if (local % 86400 < 0)
		d--;
	return d;
}

/* The date of the Date field in its own zone, else of the internal date. */
static int ev_sent_days(struct imap_search_eval *ev, int64_t *days_r)
{
	if (!ev->date_done) {
		time_t t;
		int zone;
		size_t i;

		if (ev_fields(ev) < 0)
			return -1;
		ev->date_done = 1;
		for (i = 0; i < ev->nfields && !mime_field_is(&ev->fields[i].name, "Date", 4); i++)
			;
		if (i < ev->nfields && mime_date_parse(ev->fields[i].value.p, ev->fields[i].value.len, &t, &zone) == 0)
			ev->sent_days = ev_floor_days((int64_t)t, zone);
		else
			ev->sent_days = ev_floor_days(ev->msg->internal_date, ev->zone);
	}
	*days_r = ev->sent_days;
	return 0;
}

/* ---- bodies ---- */

static int ev_mime(struct imap_search_eval *ev)
{
	const char *error;

	if (ev->mime != NULL)
		return 0;
	if (ev_data(ev) < 0)
		return -1;
	if (mime_parse(ev->data, ev->len, &ev->mime, &error) < 0)
		return ev_error(ev, "Out of memory");
	return 0;
}

/* The part after p in depth-first order, or NULL. */
static const struct mime_part *ev_next_part(const struct mime_part *p)
{
	if (p->children != NULL)
		return p->children;
	while (p != NULL && p->next == NULL)
		p = p->parent;
	return p != NULL ? p->next : NULL;
}

/* Append the folded text of a leaf part's body: CTE undone, converted
 * from its charset (or as it is when that fails). */
static int ev_part_text(struct imap_search_eval *ev, const struct mime_part *part, struct buf *out)
{
	buf_reset(&ev->tmp2);
	if (mime_part_text(ev->data, ev->len, part, part->body.size, &ev->tmp1, &ev->tmp2) < 0 || buf_putc(out, '\0') < 0)
		return -1;
	return imap_search_fold(ev->tmp2.data != NULL ? ev->tmp2.data : "", ev->tmp2.len, out);
}

/* BODY's text: every text/ and message/ leaf. */
static int ev_body(struct imap_search_eval *ev)
{
	if (ev->body_done)
		return 0;
	if (ev_mime(ev) < 0)
		return -1;
	for (const struct mime_part *p = ev->mime->root; p != NULL; p = ev_next_part(p)) {
		if (p->children != NULL || (p->flags & MIME_PART_MULTIPART) ||
		    !(mime_part_is(p, "text", NULL) || mime_part_is(p, "message", NULL)))
			continue;
		if (ev_part_text(ev, p, &ev->body) < 0)
			return ev_nomem(ev);
	}
	ev->body_done = 1;
	return 0;
}

/* TEXT's headers: "Name: value" of every field of every part's header. */
static int ev_headers(struct imap_search_eval *ev)
{
	if (ev->headers_done)
		return 0;
	if (ev_mime(ev) < 0)
		return -1;
	for (const struct mime_part *p = ev->mime->root; p != NULL; p = ev_next_part(p)) {
		struct mime_header_iter it;
		struct mime_field f;
		unsigned int lines = 0;

		mime_header_iter_init(&it, ev->data + p->header.offset, p->header.size);
		while (lines++ < MIME_MAX_HEADER_LINES && mime_header_next(&it, &f)) {
			if (f.name.len == 0)
				continue;
			buf_reset(&ev->tmp1);
			if (buf_append(&ev->tmp1, f.name.p, f.name.len) < 0 || buf_append(&ev->tmp1, ": ", 2) < 0 ||
			    ev_decode_value(ev, f.value.p, f.value.len, 0, &ev->tmp1) < 0 ||
			    buf_putc(&ev->headers, '\0') < 0 ||
			    imap_search_fold(ev->tmp1.data, ev->tmp1.len, &ev->headers) < 0)
				return ev_nomem(ev);
		}
	}
	ev->headers_done = 1;
	return 0;
}

static int ev_in(const struct buf *b, const struct ev_node *n)
{
	return b->len >= n->len && memmem(b->data, b->len, n->str, n->len) != NULL;
}

/* ---- evaluation ---- */

static int ev_keyword(const struct imap_search_msg *m, const struct ev_node *n)
{
	for (unsigned int k = 0; k < m->nkeywords; k++)
		if (imap_word_eq(m->keywords[k], strlen(m->keywords[k]), n->str, n->len))
			return 1;
	return 0;
}

static int ev_flag(const struct imap_search_msg *m, unsigned int flag)
{
	return (m->flags & flag) != 0;
}

static int ev_eval(struct imap_search_eval *ev, const struct ev_node *n);

static int ev_eval_strings(struct imap_search_eval *ev, const struct ev_node *n)
{
	switch (n->key) {
	case IMAP_SEARCH_SUBJECT:
		return ev_match_header(ev, "Subject", 7, FORM_LWSP, n);
	case IMAP_SEARCH_FROM:
		return ev_match_header(ev, "From", 4, FORM_ADDR, n);
	case IMAP_SEARCH_TO:
		return ev_match_header(ev, "To", 2, FORM_ADDR, n);
	case IMAP_SEARCH_CC:
		return ev_match_header(ev, "Cc", 2, FORM_ADDR, n);
	case IMAP_SEARCH_BCC:
		return ev_match_header(ev, "Bcc", 3, FORM_ADDR, n);
	case IMAP_SEARCH_HEADER:
		return ev_match_header(ev, n->field, n->field_len, FORM_PLAIN, n);
	case IMAP_SEARCH_BODY:
		if (n->len == 0)
			return 1;
		return ev_body(ev) < 0 ? -1 : ev_in(&ev->body, n);
	case IMAP_SEARCH_TEXT:
		if (n->len == 0)
			return 1;
		if (ev_body(ev) < 0)
			return -1;
		if (ev_in(&ev->body, n))
			return 1;
		return ev_headers(ev) < 0 ? -1 : ev_in(&ev->headers, n);
	default:
		return ev_error(ev, "Unknown search key");
	}
}

/* now - seconds (at most 2^32), saturated. */
static int64_t ev_ago(int64_t now, uint64_t seconds)
{
	int64_t t;

	return __builtin_sub_overflow(now, (int64_t)seconds, &t) ? INT64_MIN : t;
}

static int ev_eval_dates(struct imap_search_eval *ev, const struct ev_node *n)
{
	const struct imap_search_msg *m = ev->msg;
	int64_t d;

	switch (n->key) {
	case IMAP_SEARCH_BEFORE:
		return ev_floor_days(m->internal_date, ev->zone) < n->days;
	case IMAP_SEARCH_ON:
		return ev_floor_days(m->internal_date, ev->zone) == n->days;
	case IMAP_SEARCH_SINCE:
		return ev_floor_days(m->internal_date, ev->zone) >= n->days;
	case IMAP_SEARCH_OLDER:
		return m->internal_date < ev_ago(ev->now, n->number);
	case IMAP_SEARCH_YOUNGER:
		return m->internal_date >= ev_ago(ev->now, n->number);
	default:
		break;
	}
	if (ev_sent_days(ev, &d) < 0)
		return -1;
	if (n->key == IMAP_SEARCH_SENTBEFORE)
		return d < n->days;
	if (n->key == IMAP_SEARCH_SENTON)
		return d == n->days;
	return d >= n->days;
}

static int ev_eval_tree(struct imap_search_eval *ev, const struct ev_node *n)
{
	int r;

	switch (n->key) {
	case IMAP_SEARCH_NOT:
		r = ev_eval(ev, &n->children[0]);
		return r < 0 ? r : !r;
	case IMAP_SEARCH_OR:
		r = ev_eval(ev, &n->children[0]);
		return r != 0 ? r : ev_eval(ev, &n->children[1]);
	default:
		for (unsigned int k = 0; k < n->count; k++)
			if ((r = ev_eval(ev, &n->children[k])) <= 0)
				return r;
		return 1;
	}
}

static int ev_eval(struct imap_search_eval *ev, const struct ev_node *n)
{
	const struct imap_search_msg *m = ev->msg;

	switch (n->key) {
	case IMAP_SEARCH_ALL:        return 1;
	case IMAP_SEARCH_ANSWERED:   return ev_flag(m, IMAP_FLAG_ANSWERED);
	case IMAP_SEARCH_DELETED:    return ev_flag(m, IMAP_FLAG_DELETED);
	case IMAP_SEARCH_DRAFT:      return ev_flag(m, IMAP_FLAG_DRAFT);
	case IMAP_SEARCH_FLAGGED:    return ev_flag(m, IMAP_FLAG_FLAGGED);
	case IMAP_SEARCH_SEEN:       return ev_flag(m, IMAP_FLAG_SEEN);
	case IMAP_SEARCH_RECENT:     return ev_flag(m, IMAP_FLAG_RECENT);
	case IMAP_SEARCH_NEW:        return ev_flag(m, IMAP_FLAG_RECENT) && !ev_flag(m, IMAP_FLAG_SEEN);
	case IMAP_SEARCH_OLD:        return !ev_flag(m, IMAP_FLAG_RECENT);
	case IMAP_SEARCH_UNANSWERED: return !ev_flag(m, IMAP_FLAG_ANSWERED);
	case IMAP_SEARCH_UNDELETED:  return !ev_flag(m, IMAP_FLAG_DELETED);
	case IMAP_SEARCH_UNDRAFT:    return !ev_flag(m, IMAP_FLAG_DRAFT);
	case IMAP_SEARCH_UNFLAGGED:  return !ev_flag(m, IMAP_FLAG_FLAGGED);
	case IMAP_SEARCH_UNSEEN:     return !ev_flag(m, IMAP_FLAG_SEEN);
	case IMAP_SEARCH_KEYWORD:    return ev_keyword(m, n);
	case IMAP_SEARCH_UNKEYWORD:  return !ev_keyword(m, n);
	case IMAP_SEARCH_LARGER:     return m->size > n->number;
	case IMAP_SEARCH_SMALLER:    return m->size < n->number;
	case IMAP_SEARCH_MODSEQ:     return m->modseq >= n->number;
	case IMAP_SEARCH_EMAILID: {  /* objectids are case-sensitive (RFC 8474 4) */
		char id[24];
		int l = snprintf(id, sizeof(id), "E%016llx", (unsigned long long)m->emailid);
		return m->emailid != 0 && (size_t)l == n->len && memcmp(id, n->str, n->len) == 0;
	}
	case IMAP_SEARCH_THREADID:   return 0;   /* no message has one (THREADID NIL) */
	case IMAP_SEARCH_UID:
		return imap_seqset_contains(n->saved ? &ev->saved : &n->set, m->uid);
	case IMAP_SEARCH_SEQSET:
		return n->saved ? imap_seqset_contains(&ev->saved, m->uid) : imap_seqset_contains(&n->set, m->seq);
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE:
	case IMAP_SEARCH_SENTBEFORE: case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
	case IMAP_SEARCH_OLDER: case IMAP_SEARCH_YOUNGER:
		return ev_eval_dates(ev, n);
	case IMAP_SEARCH_NOT: case IMAP_SEARCH_OR: case IMAP_SEARCH_AND:
		return ev_eval_tree(ev, n);
	default:
		return ev_eval_strings(ev, n);
	}
}

/* Forget the previous message, keeping the allocations. */
static void ev_reset(struct imap_search_eval *ev, const struct imap_search_msg *msg)
{
	ev->msg = msg;
	ev->data = msg->data;
	ev->len = msg->data != NULL ? msg->len : 0;
	ev->loaded = 0;
	ev->nfields = 0;
	ev->fields_done = 0;
	ev->date_done = 0;
	ev->body_done = 0;
	ev->headers_done = 0;
	buf_reset(&ev->fields_text);
	buf_reset(&ev->body);
	buf_reset(&ev->headers);
	mime_message_free(&ev->mime);
	ev->error = NULL;
}

int imap_search_eval_match(struct imap_search_eval *ev, const struct imap_search_msg *msg,
			   const char **error_r)
{
	int r;

	ev_reset(ev, msg);
	r = ev_eval(ev, &ev->root);
	if (r < 0)
		*error_r = ev->error != NULL ? ev->error : "Search failed";
	ev->msg = NULL;
	return r;
}
