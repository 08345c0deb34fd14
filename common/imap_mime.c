/* imap_mime: what IMAP FETCH shows of a parsed message.
 *
 * Offers:
 *  - imap_envelope_write: ENVELOPE (RFC 3501 / RFC 9051 7.5.2) of a
 *    message header: date, subject, from, sender, reply-to, to, cc,
 *    bcc, in-reply-to, message-id, in one pass over the header.  As
 *    Dovecot does, the last of repeated text fields counts and repeated
 *    address fields are joined.  Text fields are unfolded (RFC 5322
 *    2.2.3: CRLF removed, white space kept) and trimmed (NIL when
 *    absent, "" when empty); address fields go through
 *    mime_address_list_parse and are NIL when they hold no address;
 *    Sender and Reply-To absent or empty take the From list, as the
 *    RFCs require.  Encoded words are not decoded (the client does).
 *    Message parts are written "message" "rfc822" in lower case.
 *  - imap_bodystructure_write: BODYSTRUCTURE with every extension field
 *    (body-fld-md5, -dsp, -lang, -loc; multipart params, dsp, lang, loc)
 *    or BODY without them.  Sizes and line counts are those of the wire
 *    form (every line end CRLF).  Where the RFC leaves a choice it
 *    writes what Dovecot writes: a text part without a charset gets
 *    ("charset" "us-ascii") appended to its parameters; languages are
 *    always a list; a multipart without children shows one empty
 *    text/plain part (the grammar needs one); a message part that could
 *    not be parsed (limits) shows an all-NIL envelope and an empty
 *    text/plain body.  message/global is a message only with
 *    IMAP_MIME_GLOBAL (IMAP4rev2), a basic part otherwise.
 *  - imap_mime_section_resolve: the ranges of BODY[section] (RFC 3501
 *    6.4.5), walked as Dovecot walks part paths: in a multipart the n-th
 *    child; in any other part only 1 (the part itself), followed by more
 *    numbers only in a message part, whose message they then walk.  The
 *    section spec has the fields of imap_fetch.h's struct imap_section
 *    (the command parser's), so imapd copies them over.  HEADER.FIELDS
 *    and .NOT return the fields in message order, each with its
 *    continuation lines, then always the blank line (Dovecot leaves it
 *    out of .NOT when the header has none).  A part that does not exist
 *    (IMAP_MIME_NO_PART) or HEADER/TEXT of a part that is no message
 *    (IMAP_MIME_NOT_MESSAGE) are errors here; Dovecot answers both with
 *    an empty string, and imapd should too.  imap_mime_data_write sends
 *    any window of a section with bare LFs as CRLF (RFC 3501 <partial>),
 *    without copying the message.
 *  - imap_binary_decode / imap_binary_size: BINARY[] and BINARY.SIZE[]
 *    (RFC 3516): base64 and quoted-printable undone, identity encodings
 *    sent as they are (in wire form), unknown ones refused
 *    (IMAP_MIME_UNKNOWN_CTE).  BINARY[] of the whole message is BODY[]
 *    (Dovecot rewrites every part to binary there).

 * Trusts: the tree from mime_parse (offsets within the message) and the
 * header bytes (parsed as untrusted).  Recursion over the tree is
 * bounded by MIME_MAX_DEPTH.
 *
 * Fails: -1 when the output buffer reaches its cap or memory runs out;
 * section lookups return an IMAP_MIME_* code for the caller's reply. */
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "mime_header.h"

/* ---- ENVELOPE ---- */

enum {
	ENV_DATE, ENV_SUBJECT, ENV_FROM, ENV_SENDER, ENV_REPLY_TO,
	ENV_TO, ENV_CC, ENV_BCC, ENV_IN_REPLY_TO, ENV_MESSAGE_ID, ENV_COUNT
};

static const char *const imap_env_names[ENV_COUNT] = {
	"Date", "Subject", "From", "Sender", "Reply-To",
	"To", "Cc", "Bcc", "In-Reply-To", "Message-ID",
};

struct imap_env {
	struct buf *out;
	unsigned int flags;
	struct buf tmp;
	struct mime_arena arena;
	int failed;
};

static void env_put(struct imap_env *e, const char *s)
{
	if (!e->failed && buf_append_str(e->out, s) < 0)
		e->failed = 1;
}

static void env_nstring(struct imap_env *e, const char *p, size_t n)
{
	if (!e->failed && imap_write_nstring(e->out, p, n, e->flags) < 0)
		e->failed = 1;
}

static void env_text(struct imap_env *e, const struct mime_str *v)
{
	if (v->p == NULL) {
		env_put(e, "NIL");
		return;
	}
	buf_reset(&e->tmp);
	if (mime_unfold(v->p, v->len, &e->tmp) < 0) {
		e->failed = 1;
		return;
	}
	env_nstring(e, e->tmp.data ? e->tmp.data : "", e->tmp.len);
}

static int env_blank(const struct mime_str *v)
{
	for (size_t i = 0; v->p != NULL && i < v->len; i++)
		if (v->p[i] != ' ' && v->p[i] != '\t' && v->p[i] != '\r' && v->p[i] != '\n')
			return 0;
	return 1;
}

static void env_addresses(struct imap_env *e, const struct mime_address_list *list)
{
	int open_group = 0;

	if (list->n == 0) {
		env_put(e, "NIL");
		return;
	}
	env_put(e, "(");
	for (size_t i = 0; i < list->n; i++) {
		const struct mime_address *a = &list->addrs[i];
		if (a->host.p == NULL)
			open_group = a->mailbox.p != NULL;
		env_put(e, "(");
		env_nstring(e, a->name.p, a->name.len);
		env_put(e, " ");
		env_nstring(e, a->route.p, a->route.len);
		env_put(e, " ");
		env_nstring(e, a->mailbox.p, a->mailbox.len);
		env_put(e, " ");
		env_nstring(e, a->host.p, a->host.len);
		env_put(e, ")");
	}
	if (open_group)
		env_put(e, "(NIL NIL NIL NIL)");   /* cut by MIME_MAX_ADDRESSES */
	env_put(e, ")");
}

int imap_envelope_write(struct buf *out, const char *header, size_t len, unsigned int flags)
{
	struct mime_str text[ENV_COUNT];
	struct mime_address_list lists[ENV_COUNT];
	int nonblank[ENV_COUNT];
	struct mime_header_iter it;
	struct mime_field f;
	struct imap_env e;

	memset(&e, 0, sizeof(e));
	memset(text, 0, sizeof(text));
	memset(lists, 0, sizeof(lists));
	memset(nonblank, 0, sizeof(nonblank));
	e.out = out;
	e.flags = flags;
	buf_init(&e.tmp, len + 1);
	mime_arena_init(&e.arena);
	/* One pass.  As Dovecot does: the last Date, Subject, In-Reply-To
	 * and Message-ID count; address fields that occur twice are joined. */
	mime_header_iter_init(&it, header, len);
	while (!e.failed && mime_header_next(&it, &f)) {
		int i;
		for (i = 0; i < ENV_COUNT; i++)
			if (mime_field_is(&f.name, imap_env_names[i], strlen(imap_env_names[i])))
				break;
		if (i == ENV_COUNT || f.name.len == 0)
			continue;
		if (i < ENV_FROM || i > ENV_BCC) {
			text[i] = f.value;
			continue;
		}
		if (!env_blank(&f.value))
			nonblank[i] = 1;
		if (mime_address_list_parse(f.value.p, f.value.len, &e.arena, &lists[i]) < 0)
			e.failed = 1;
	}
	env_put(&e, "(");
	for (int i = 0; i < ENV_COUNT; i++) {
		int src = i;
		if (i > 0)
			env_put(&e, " ");
		/* RFC 3501 7.4.2: Sender and Reply-To absent or empty are From */
		if ((i == ENV_SENDER || i == ENV_REPLY_TO) && !nonblank[i])
			src = ENV_FROM;
		if (i >= ENV_FROM && i <= ENV_BCC)
			env_addresses(&e, &lists[src]);
		else
			env_text(&e, &text[i]);
	}
	env_put(&e, ")");
	for (int i = 0; i < ENV_COUNT; i++)
		mime_address_list_free(&lists[i]);
	buf_free(&e.tmp);
	mime_arena_free(&e.arena);
	return e.failed ? -1 : 0;
}

/* ---- BODYSTRUCTURE ---- */

struct imap_bs {
	struct buf *out;
	const struct mime_message *msg;
	int extended;
	unsigned int flags;
	int failed;
};

static void bs_put(struct imap_bs *w, const char *s)
{
	if (!w->failed && buf_append_str(w->out, s) < 0)
		w->failed = 1;
}

static void bs_str(struct imap_bs *w, const struct mime_str *s)
{
	if (!w->failed && imap_write_nstring(w->out, s->p, s->len, w->flags) < 0)
		w->failed = 1;
}

static void bs_params(struct imap_bs *w, const struct mime_param *params, unsigned int n,
		      int add_charset)
{
	if (n == 0 && !add_charset) {
		bs_put(w, "NIL");
		return;
	}
	bs_put(w, "(");
	for (unsigned int i = 0; i < n; i++) {
		if (i > 0)
			bs_put(w, " ");
		bs_str(w, &params[i].name);
		bs_put(w, " ");
		bs_str(w, &params[i].value);
	}
	if (add_charset)
		bs_put(w, n > 0 ? " \"charset\" \"us-ascii\"" : "\"charset\" \"us-ascii\"");
	bs_put(w, ")");
}

static void bs_size(struct imap_bs *w, size_t n)
{
	if (!w->failed && buf_printf(w->out, " %zu", n) < 0)
		w->failed = 1;
}

/* body-fld-dsp SP body-fld-lang SP body-fld-loc */
static void bs_dsp_lang_loc(struct imap_bs *w, const struct mime_part *part)
{
	if (part->disposition.p == NULL) {
		bs_put(w, " NIL");
	} else {
		bs_put(w, " (");
		bs_str(w, &part->disposition);
		bs_put(w, " ");
		bs_params(w, part->disp_params, part->n_disp_params, 0);
		bs_put(w, ")");
	}
	if (part->n_languages == 0) {
		bs_put(w, " NIL");
	} else {
		bs_put(w, " (");
		for (unsigned int i = 0; i < part->n_languages; i++) {
			if (i > 0)
				bs_put(w, " ");
			bs_str(w, &part->languages[i]);
		}
		bs_put(w, ")");
	}
	bs_put(w, " ");
	bs_str(w, &part->location);
}

static void bs_empty_text(struct imap_bs *w)
{
	bs_put(w, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0");
	bs_put(w, w->extended ? " NIL NIL NIL NIL)" : ")");
}

static void bs_part(struct imap_bs *w, const struct mime_part *part);

static void bs_message(struct imap_bs *w, const struct mime_part *part)
{
	const struct mime_part *m = part->children;

	bs_put(w, " ");
	if (m == NULL) {
		bs_put(w, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ");
		bs_empty_text(w);
	} else {
		if (!w->failed && imap_envelope_write(w->out, w->msg->data + m->header.offset,
						      m->header.size, w->flags) < 0)
			w->failed = 1;
		bs_put(w, " ");
		bs_part(w, m);
	}
	bs_size(w, part->body.lines);
}

static void bs_part(struct imap_bs *w, const struct mime_part *part)
{
	int is_text = mime_part_is(part, "text", NULL), is_message;

	if (w->failed)
		return;
	if (part->flags & MIME_PART_MULTIPART) {
		bs_put(w, "(");
		if (part->children == NULL)
			bs_empty_text(w);
		for (const struct mime_part *c = part->children; c != NULL; c = c->next)
			bs_part(w, c);
		bs_put(w, " ");
		bs_str(w, &part->subtype);
		if (w->extended) {
			bs_put(w, " ");
			bs_params(w, part->params, part->n_params, 0);
			bs_dsp_lang_loc(w, part);
		}
		bs_put(w, ")");
		return;
	}
	is_message = (part->flags & MIME_PART_MESSAGE) &&
		(!(part->flags & MIME_PART_GLOBAL) || (w->flags & IMAP_MIME_GLOBAL));
	bs_put(w, "(");
	if (is_message) {
		/* body-type-msg: written as Dovecot writes it */
		bs_put(w, (part->flags & MIME_PART_GLOBAL) ? "\"message\" \"global\"" : "\"message\" \"rfc822\"");
	} else {
		bs_str(w, &part->type);
		bs_put(w, " ");
		bs_str(w, &part->subtype);
	}
	bs_put(w, " ");
	bs_params(w, part->params, part->n_params,
		  is_text && mime_param_find(part->params, part->n_params, "charset") == NULL);
	bs_put(w, " ");
	bs_str(w, &part->id);
	bs_put(w, " ");
	bs_str(w, &part->description);
	bs_put(w, " ");
	if (part->encoding.p == NULL)
		bs_put(w, "\"7bit\"");
	else
		bs_str(w, &part->encoding);
	bs_size(w, part->body.wire_size);
	if (is_message)
		bs_message(w, part);
	else if (is_text)
		bs_size(w, part->body.lines);
	if (w->extended) {
		bs_put(w, " ");
		bs_str(w, &part->md5);
		bs_dsp_lang_loc(w, part);
	}
	bs_put(w, ")");
}

int imap_bodystructure_write(struct buf *out, const struct mime_message *msg, int extended,
			     unsigned int flags)
{
	struct imap_bs w = { out, msg, extended, flags, 0 };

	bs_part(&w, msg->root);
	return w.failed ? -1 : 0;
}

/* ---- sections ---- */

/* The part a path names (RFC 3501 6.4.5, walked as Dovecot walks it):
 * in a multipart the n-th child; in any other part only 1, which names
 * the part itself and may be followed by more numbers only in a
 * message part, whose message they then walk.  *empty_r = 1: the empty
 * part shown in a multipart without children. */
static int imap_path_part(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
			  const struct mime_part **part_r, int *empty_r)
{
	const struct mime_part *part = msg->root;

	*empty_r = 0;
	for (unsigned int k = 0; k < nparts; k++) {
		uint32_t n = parts[k];
		int more = k + 1 < nparts;
		if (part->flags & MIME_PART_MULTIPART) {
			if (part->children == NULL && n == 1 && !more) {
				*empty_r = 1;
				break;
			}
			if ((part = mime_part_child(part, n)) == NULL)
				return IMAP_MIME_NO_PART;
		} else if (n != 1 || (more && !(part->flags & MIME_PART_MESSAGE))) {
			return IMAP_MIME_NO_PART;
		}
		if (more && (part->flags & MIME_PART_MESSAGE)) {
			if (part->children == NULL)
				return IMAP_MIME_NO_PART;
			part = part->children;
		}
	}
	*part_r = part;
	return IMAP_MIME_OK;
}

static int imap_range_add(struct imap_mime_data *d, size_t offset, size_t size, size_t wire)
{
	if (size == 0)
		return 0;
	if (d->n > 0 && d->ranges[d->n - 1].offset + d->ranges[d->n - 1].size == offset) {
		d->ranges[d->n - 1].size += size;
		d->ranges[d->n - 1].wire_size += wire;
	} else {
		if (d->n == d->cap) {
			size_t cap = d->cap ? d->cap * 2 : 4;
			struct imap_mime_range *r = realloc(d->ranges, cap * sizeof(*r));
			if (r == NULL)
				return -1;
			d->ranges = r;
			d->cap = cap;
		}
		d->ranges[d->n].offset = offset;
		d->ranges[d->n].size = size;
		d->ranges[d->n].wire_size = wire;
		d->n++;
	}
	d->wire_size += wire;
	return 0;
}

static int imap_region_add(struct imap_mime_data *d, const struct mime_region *r)
{
	return imap_range_add(d, r->offset, r->size, r->wire_size);
}

/* Wire size of raw bytes: every LF not after a CR (within them) adds one. */
static size_t imap_wire_size(const char *p, size_t n)
{
	size_t wire = n;

	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		if (nl == NULL)
			break;
		size_t j = (size_t)(nl - p);
		if (j == 0 || p[j - 1] != '\r')
			wire++;
		i = j + 1;
	}
	return wire;
}

static int imap_header_fields(const struct mime_message *msg, const struct mime_region *h,
			      const struct imap_mime_section *sec, int not, struct imap_mime_data *d)
{
	struct mime_header_iter it;
	struct mime_field f;
	const char *hp = msg->data + h->offset;
	int last_terminated = 1;

	mime_header_iter_init(&it, hp, h->size);
	while (mime_header_next(&it, &f)) {
		int match = 0;
		for (unsigned int i = 0; i < sec->nfields && !match; i++)
			match = f.name.len > 0 && mime_field_is(&f.name, sec->fields[i], strlen(sec->fields[i]));
		if (match == not)
			continue;
		if (imap_range_add(d, h->offset + f.offset, f.size, imap_wire_size(hp + f.offset, f.size)) < 0)
			return IMAP_MIME_NOMEM;
		last_terminated = f.terminated;
	}
	d->crlf_after = last_terminated ? 1 : 2;
	d->wire_size += 2 * d->crlf_after;
	return IMAP_MIME_OK;
}

int imap_mime_section_resolve(const struct mime_message *msg, const struct imap_mime_section *sec,
			 struct imap_mime_data *d)
{
	const struct mime_part *part, *m;
	int empty, rc;

	memset(d, 0, sizeof(*d));
	if ((rc = imap_path_part(msg, sec->parts, sec->nparts, &part, &empty)) != IMAP_MIME_OK)
		return rc;
	if (sec->nparts > 0)
		d->part = empty ? NULL : part;
	if (sec->text == IMAP_MIME_WHOLE || sec->text == IMAP_MIME_MIME) {
		if (sec->nparts == 0 && sec->text == IMAP_MIME_MIME)
			return IMAP_MIME_NO_PART;   /* MIME needs a part number */
		if (empty)
			return IMAP_MIME_OK;
		if (sec->nparts == 0) {
			rc = imap_region_add(d, &part->header) < 0 || imap_region_add(d, &part->body) < 0;
		} else {
			rc = imap_region_add(d, sec->text == IMAP_MIME_MIME ? &part->header : &part->body) < 0;
		}
		return rc ? IMAP_MIME_NOMEM : IMAP_MIME_OK;
	}
	/* HEADER, HEADER.FIELDS[.NOT], TEXT: of the message, or of a message part's message */
	if (sec->nparts == 0) {
		m = part;
	} else {
		if (empty || !(part->flags & MIME_PART_MESSAGE))
			return IMAP_MIME_NOT_MESSAGE;
		if ((m = part->children) == NULL)
			return IMAP_MIME_OK;   /* a message part not parsed (limits): empty */
	}
	switch (sec->text) {
	case IMAP_MIME_HEADER:
		return imap_region_add(d, &m->header) < 0 ? IMAP_MIME_NOMEM : IMAP_MIME_OK;
	case IMAP_MIME_TEXT:
		return imap_region_add(d, &m->body) < 0 ? IMAP_MIME_NOMEM : IMAP_MIME_OK;
	case IMAP_MIME_HEADER_FIELDS:
	case IMAP_MIME_HEADER_FIELDS_NOT:
		return imap_header_fields(msg, &m->header, sec, sec->text == IMAP_MIME_HEADER_FIELDS_NOT, d);
	default:
		return IMAP_MIME_NO_PART;
	}
}

void imap_mime_data_free(struct imap_mime_data *d)
{
	free(d->ranges);
	memset(d, 0, sizeof(*d));
}

struct imap_window {
	struct buf *out;
	size_t skip, take;
	int failed;
};

static void win_emit(struct imap_window *w, const char *p, size_t n)
{
	if (w->skip >= n) {
		w->skip -= n;
		return;
	}
	p += w->skip;
	n -= w->skip;
	w->skip = 0;
	if (n > w->take)
		n = w->take;
	if (n > 0 && buf_append(w->out, p, n) < 0)
		w->failed = 1;
	w->take -= n;
}

/* Emit one range in wire form. */
static void win_range(struct imap_window *w, const char *data, const struct imap_mime_range *r)
{
	const char *p = data + r->offset;
	size_t n = r->size, i = 0;

	if (w->skip >= r->wire_size) {
		w->skip -= r->wire_size;
		return;
	}
	if (r->wire_size == r->size) {
		win_emit(w, p, n);
		return;
	}
	while (i < n && w->take > 0 && !w->failed) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t j = nl != NULL ? (size_t)(nl - p) : n;
		if (nl != NULL && (j == 0 || p[j - 1] != '\r')) {
			win_emit(w, p + i, j - i);
			win_emit(w, "\r\n", 2);
		} else {
			win_emit(w, p + i, (nl != NULL ? j + 1 : j) - i);
		}
		i = nl != NULL ? j + 1 : n;
	}
}

int imap_mime_data_write(const struct mime_message *msg, const struct imap_mime_data *d,
		       size_t start, size_t len, struct buf *out)
{
	struct imap_window w = { out, start, len, 0 };

	for (size_t i = 0; i < d->n && w.take > 0 && !w.failed; i++)
		win_range(&w, msg->data, &d->ranges[i]);
	for (unsigned int i = 0; i < d->crlf_after && w.take > 0 && !w.failed; i++)
		win_emit(&w, "\r\n", 2);
	return w.failed ? -1 : 0;
}

/* ---- BINARY (RFC 3516) ---- */

/* The body of path to decode; *part_r NULL for the whole message or the
 * empty part. */
static int imap_binary_part(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
			    const struct mime_part **part_r, enum mime_cte *cte_r)
{
	const struct mime_part *part;
	int empty, rc;

	*part_r = NULL;
	*cte_r = MIME_CTE_IDENTITY;
	if ((rc = imap_path_part(msg, parts, nparts, &part, &empty)) != IMAP_MIME_OK)
		return rc;
	if (nparts == 0 || empty)
		return IMAP_MIME_OK;
	*part_r = part;
	*cte_r = mime_cte_of(&part->encoding);
	return *cte_r == MIME_CTE_UNKNOWN ? IMAP_MIME_UNKNOWN_CTE : IMAP_MIME_OK;
}

/* Decode BINARY[path] into out, or only count its bytes (out NULL). */
static int imap_binary(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
		       struct buf *out, size_t *size_r)
{
	const struct mime_part *part;
	enum mime_cte cte;
	const char *body;
	size_t body_len, before = out != NULL ? out->len : 0;
	int rc = imap_binary_part(msg, parts, nparts, &part, &cte);

	*size_r = 0;
	if (rc != IMAP_MIME_OK)
		return rc;
	if (cte == MIME_CTE_IDENTITY) {
		struct imap_mime_section sec = { parts, nparts, IMAP_MIME_WHOLE, NULL, 0 };
		struct imap_mime_data d;
		if ((rc = imap_mime_section_resolve(msg, &sec, &d)) != IMAP_MIME_OK)
			return rc;
		*size_r = d.wire_size;
		if (out != NULL && imap_mime_data_write(msg, &d, 0, d.wire_size, out) < 0)
			rc = IMAP_MIME_TOO_BIG;
		imap_mime_data_free(&d);
		return rc;
	}
	body = msg->data + part->body.offset;
	body_len = part->body.size;
	if (out == NULL) {
		*size_r = cte == MIME_CTE_BASE64 ? mime_base64_decoded_size(body, body_len)
			: mime_qp_decoded_size(body, body_len);
		return IMAP_MIME_OK;
	}
	rc = cte == MIME_CTE_BASE64 ? mime_base64_decode(body, body_len, out) : mime_qp_decode(body, body_len, out);
	*size_r = out->len - before;
	return rc < 0 ? IMAP_MIME_TOO_BIG : IMAP_MIME_OK;
}

int imap_binary_decode(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
		       struct buf *out)
{
	size_t size;

	return imap_binary(msg, parts, nparts, out, &size);
}

int imap_binary_size(const struct mime_message *msg, const uint32_t *parts, unsigned int nparts,
		     size_t *size_r)
{
	return imap_binary(msg, parts, nparts, NULL, size_r);
}
