/* mime: the one MIME parser of Postern.
 *
 * Offers: mime_parse turns a whole stored message (pointer, length; LF
 * or CRLF line ends, both in one message too) into a tree of parts.
 * Every part has its header and its body as byte regions of the stored
 * message, each with its size on the IMAP wire (every line end CRLF)
 * and its line count, so that FETCH can answer sizes and send sections
 * without reading the message again.  The Content-* fields are decoded:
 * type and subtype (RFC 2045 5.2 defaults: text/plain; charset=us-ascii,
 * and message/rfc822 in multipart/digest, RFC 2046 5.1.5), parameters
 * (RFC 2045 quoted strings and comments; RFC 2231 continuations and
 * charset'lang'%XX values merged and converted to UTF-8),
 * Content-Transfer-Encoding, -ID, -Description, -Disposition with its
 * parameters, -Language, -Location and -MD5.  Multiparts are split at
 * their boundaries (RFC 2046 5.1.1); message/rfc822 and message/global
 * bodies are parsed as embedded messages with their own header and
 * subtree.  Also the CTE decoders (base64, quoted-printable) for IMAP
 * BINARY and search, and the arena that holds the tree.
 *
 * Where the RFCs leave room, it does what Dovecot does, because IMAP
 * clients cache BODYSTRUCTURE per UID and an operator may swap Dovecot
 * and Postern over one Maildir tree: part numbers must not move.
 *  - A boundary line is any line that starts with "--" and the boundary
 *    (trailing white space and anything else after it allowed); the
 *    boundaries of the open multiparts are tried innermost first, so a
 *    boundary of an outer multipart also ends the inner parts.  "--"
 *    right after the boundary makes it the close delimiter.
 *  - The line end before a boundary line belongs to the boundary (RFC
 *    2046), also when it ends a header (the header then lacks it and the
 *    body is empty), except after a close delimiter line: that line
 *    keeps its line end, and the part holding the inner multipart ends
 *    after it.
 *  - A multipart without a usable boundary, or whose boundary never
 *    appears, has no children; IMAP then shows one empty text/plain part.
 *  - Content-Type and the other fields: the first occurrence counts.
 *  - A message/rfc822 part is parsed as a message whatever its CTE.
 * It differs from Dovecot where RFC 9051 asks for more: RFC 2231
 * parameters are decoded (Dovecot sends "name*" still encoded), an
 * invalid Content-Type means text/plain (RFC 2045 5.2; Dovecot keeps the
 * bad type), and message/global parts are parsed as messages (RFC 9051).
 *
 * Limits (mime.h), each recorded in msg->limits when reached, none ever
 * a failure:
 *  - MIME_MAX_DEPTH: a multipart or message part that would have
 *    children deeper than this keeps its body whole (an opaque leaf).
 *  - MIME_MAX_PARTS: when a new part would pass the count, structure is
 *    followed no further: the open parts run to the end of the message
 *    and the rest is opaque body of the innermost multipart.
 *  - MIME_MAX_HEADER_LINES: later lines of that header are not looked at
 *    (the header still ends at its blank line).
 *  - MIME_MAX_PARAMS: later parameters of that field are ignored.
 *  - MIME_MAX_FIELD_SIZE: a longer Content-* field is ignored whole.
 *  - MIME_MAX_BOUNDARY: a longer boundary is not a boundary.
 *
 * How: one forward pass over the lines (memchr), an explicit stack of
 * open parts indexed by depth (no recursion), cumulative LF and bare-LF
 * counts so that every region's wire size and line count is a
 * subtraction.  Only Content-* fields are copied (unfolded into one
 * scratch buffer); bodies are never copied.  Once no boundary can end
 * the current part, the rest is only counted.  Strings and parts live
 * in one chunked arena freed at once.  What a parse allocates grows with
 * the message (the stack of open parts, the raw parameters of a field,
 * the arena's chunks), so that a small message costs little: FETCH and
 * the fuzz targets parse one message many times.
 *
 * Trusts: nothing in the message.  Never reads past (data, len), never
 * walks backwards (it looks back one byte within the line memchr just
 * scanned).
 *
 * Fails: mime_parse only on ENOMEM; the decoders only when their output
 * buffer reaches its cap. */
#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "mime.h"
#include "mime_header.h"

/* ---- arena ---- */

/* Chunks grow from FIRST, doubling, to CHUNK (a small message's tree
 * fits the first); an allocation larger than that gets its own chunk. */
#define MIME_ARENA_FIRST 1024
#define MIME_ARENA_CHUNK 16384

struct mime_arena_chunk {
	struct mime_arena_chunk *next;
	max_align_t data[];
};

void mime_arena_init(struct mime_arena *a)
{
	memset(a, 0, sizeof(*a));
}

void *mime_arena_alloc(struct mime_arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	size_t need, size;
	struct mime_arena_chunk *c;
	void *p;

	if (n == 0)
		n = 1;
	if (__builtin_add_overflow(n, align - 1, &need))
		return NULL;
	need &= ~(align - 1);
	if (need > a->left) {
		size = a->total < MIME_ARENA_FIRST ? MIME_ARENA_FIRST
			: a->total < MIME_ARENA_CHUNK ? a->total : MIME_ARENA_CHUNK;
		if (need > size)
			size = need;
		if (__builtin_add_overflow(size, sizeof(*c), &size) ||
		    (c = malloc(size)) == NULL) {
			errno = ENOMEM;
			return NULL;
		}
		c->next = a->chunks;
		a->chunks = c;
		a->next = (char *)c->data;
		a->left = size - sizeof(*c);
		a->total += size;
	}
	p = a->next;
	a->next += need;
	a->left -= need;
	return p;
}

char *mime_arena_strdup(struct mime_arena *a, const char *p, size_t n)
{
	char *s;

	if (n == SIZE_MAX || (s = mime_arena_alloc(a, n + 1)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

void mime_arena_free(struct mime_arena *a)
{
	struct mime_arena_chunk *c = a->chunks, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	mime_arena_init(a);
}

/* ---- small lexical helpers (RFC 2045 5.1, RFC 822 comments) ---- */

static int mime_is_wsp(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* RFC 2045 token characters; bytes >= 0x80 are accepted, as mailers
 * send them unquoted. */
static int mime_is_token(int c)
{
	return c > 0x20 && c != 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip white space and (nested) comments from *i. */
static void mime_skip_cfws(const char *s, size_t n, size_t *i)
{
	size_t depth = 0;

	while (*i < n) {
		char c = s[*i];
		if (depth > 0) {
			if (c == '\\' && *i + 1 < n)
				(*i)++;
			else if (c == '(')
				depth++;
			else if (c == ')')
				depth--;
		} else if (c == '(') {
			depth = 1;
		} else if (!mime_is_wsp((unsigned char)c)) {
			return;
		}
		(*i)++;
	}
}

static size_t mime_token(const char *s, size_t n, size_t *i)
{
	size_t start = *i;

	while (*i < n && mime_is_token((unsigned char)s[*i]))
		(*i)++;
	return *i - start;
}

static int mime_str_eq(const struct mime_str *a, const char *b)
{
	size_t n = strlen(b);

	return a->p != NULL && a->len == n && strncasecmp(a->p, b, n) == 0;
}

/* ---- parser state ---- */

/* A position with the LF and bare-LF counts before it. */
struct mime_pos {
	size_t off, lf, bare;
};

struct mime_frame {
	struct mime_part *part;
	const char *boundary;   /* multipart with a boundary; NULL otherwise */
	size_t boundary_len;
	struct mime_part *last_child;
	int closed;             /* close delimiter seen: epilogue */
	int digest;             /* multipart/digest: children default to message/rfc822 */
	struct mime_pos start, body_start, min_end;
};

/* One parameter as written, before RFC 2231 merging. */
struct mime_raw_param {
	const char *name;       /* base name: without "*N" / "*" */
	size_t name_len;
	int section;            /* RFC 2231 section number, -1 for none */
	int ext;                /* value is charset'lang'%XX (section 0) or %XX */
	const char *value;
	size_t value_len;
	int used;
};

struct mime_parser {
	const char *s;
	size_t len;
	struct mime_message *msg;
	struct mime_frame *stack;   /* open parts by depth: [0..top], stack_cap of MIME_MAX_DEPTH made */
	unsigned int stack_cap;
	unsigned int top;
	int in_header;
	unsigned int header_lines;
	int field_open;
	size_t field_start, field_end;
	int stopped;            /* MIME_MAX_PARTS reached */
	unsigned int active_boundaries;
	int failed;             /* ENOMEM */
	struct mime_pos cur;    /* at the start of the current line */
	struct mime_pos prev_le;  /* at the line end of the previous line */
	struct buf scratch;     /* the unfolded field */
	struct buf tmp, conv;   /* RFC 2231 values */
	struct mime_raw_param *raw;   /* of one field: raw_cap of MIME_MAX_PARAMS made */
	unsigned int raw_cap;
};

/* The array arr of *cap elements of size elem with room for index i
 * (below max, the array's limit): doubled from 4, at most max.  NULL on
 * ENOMEM (p->failed; arr stays the caller's to free). */
static void *mime_array_room(struct mime_parser *p, void *arr, unsigned int *cap, size_t elem,
			     unsigned int i, unsigned int max)
{
	unsigned int n = *cap;
	void *a;

	if (i < n)
		return arr;
	if (i >= max) {   /* never: callers check their limit first */
		p->failed = 1;
		return NULL;
	}
	while (n <= i)
		n = n == 0 ? 4 : n * 2;
	if (n > max)
		n = max;
	if ((a = realloc(arr, (size_t)n * elem)) == NULL) {
		p->failed = 1;
		return NULL;
	}
	*cap = n;
	return a;
}

static struct mime_region mime_region_of(struct mime_pos a, struct mime_pos b)
{
	struct mime_region r;

	r.offset = a.off;
	r.size = b.off - a.off;
	r.wire_size = r.size + (b.bare - a.bare);
	r.lines = b.lf - a.lf;
	return r;
}

static struct mime_pos mime_pos_max(struct mime_pos a, struct mime_pos b)
{
	return a.off >= b.off ? a : b;
}

static struct mime_str mime_arena_str(struct mime_parser *p, const char *s, size_t n)
{
	struct mime_str r = { NULL, 0 };
	char *d = mime_arena_strdup(&p->msg->arena, s, n);

	if (d == NULL) {
		p->failed = 1;
		return r;
	}
	r.p = d;
	r.len = n;
	return r;
}

/* ---- parameters (RFC 2045 5.1, RFC 2231) ---- */

/* Unquote a quoted-string at s[*i] == '"' in place (the output never
 * overtakes the input).  Sets the value; an unterminated string runs to
 * the end. */
static void mime_quoted(char *s, size_t n, size_t *i, const char **v_r, size_t *vlen_r)
{
	size_t w = *i + 1, r = *i + 1;

	*v_r = s + w;
	while (r < n && s[r] != '"') {
		if (s[r] == '\\' && r + 1 < n)
			r++;
		s[w++] = s[r++];
	}
	*vlen_r = w - (size_t)(*v_r - s);
	*i = r < n ? r + 1 : n;
}

/* Split "name*", "name*N", "name*N*" into base name, section, ext. */
static void mime_raw_param_name(struct mime_raw_param *rp, const char *name, size_t n)
{
	const char *star = memchr(name, '*', n);
	size_t i, sec = 0;

	rp->name = name;
	rp->name_len = n;
	rp->section = -1;
	rp->ext = 0;
	if (star == NULL || star == name)
		return;
	i = (size_t)(star - name) + 1;
	if (i == n) {
		rp->name_len = i - 1;
		rp->ext = 1;
		return;
	}
	if (name[i] < '0' || name[i] > '9' || (name[i] == '0' && i + 1 < n && name[i + 1] != '*'))
		return;
	for (; i < n && name[i] >= '0' && name[i] <= '9'; i++) {
		sec = sec * 10 + (size_t)(name[i] - '0');
		if (sec >= MIME_MAX_PARAMS)
			return;   /* no field can have that many sections */
	}
	if (i < n && !(name[i] == '*' && i + 1 == n))
		return;
	rp->name_len = (size_t)(star - name);
	rp->section = (int)sec;
	rp->ext = i < n;
}

/* Read ";" attribute "=" value pairs from s[*i..n) into p->raw; returns
 * the count.  Junk is skipped to the next ';'. */
static unsigned int mime_params_scan(struct mime_parser *p, char *s, size_t n, size_t i)
{
	unsigned int count = 0;
	struct mime_raw_param *raw;

	for (;;) {
		const char *name, *value;
		size_t name_len, value_len;

		mime_skip_cfws(s, n, &i);
		if (i >= n)
			break;
		if (s[i] != ';') {
			/* junk: skip to the next ';' outside quotes */
			int q = 0;
			for (; i < n && (q || s[i] != ';'); i++) {
				if (s[i] == '\\' && q && i + 1 < n)
					i++;
				else if (s[i] == '"')
					q = !q;
			}
			continue;
		}
		i++;
		mime_skip_cfws(s, n, &i);
		name = s + i;
		name_len = mime_token(s, n, &i);
		mime_skip_cfws(s, n, &i);
		if (name_len == 0 || i >= n || s[i] != '=')
			continue;
		i++;
		mime_skip_cfws(s, n, &i);
		if (i < n && s[i] == '"') {
			mime_quoted(s, n, &i, &value, &value_len);
		} else {
			value = s + i;
			value_len = mime_token(s, n, &i);
		}
		if (count == MIME_MAX_PARAMS) {
			p->msg->limits |= MIME_LIMIT_PARAMS;
			break;
		}
		if ((raw = mime_array_room(p, p->raw, &p->raw_cap, sizeof(*raw), count, MIME_MAX_PARAMS)) == NULL)
			break;
		p->raw = raw;
		mime_raw_param_name(&p->raw[count], name, name_len);
		p->raw[count].value = value;
		p->raw[count].value_len = value_len;
		p->raw[count].used = 0;
		count++;
	}
	return count;
}

static int mime_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mime_hex_unescape(const char *p, size_t n, char esc, int underscore_space, struct buf *out)
{
	char chunk[256];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		int h, l;
		char c = p[i];
		if (c == esc && i + 2 < n && (h = mime_hex((unsigned char)p[i + 1])) >= 0 &&
		    (l = mime_hex((unsigned char)p[i + 2])) >= 0) {
			c = (char)(h << 4 | l);
			i += 2;
		} else if (c == '_' && underscore_space) {
			c = ' ';
		}
		chunk[k++] = c;
		if (k == sizeof(chunk)) {
			if (buf_append(out, chunk, k) < 0)
				return -1;
			k = 0;
		}
	}
	return k > 0 ? buf_append(out, chunk, k) : 0;
}

/* RFC 2231 7 attribute-char: what may stay unencoded in the fallback. */
static int mime_is_attr_char(int c)
{
	return mime_is_token(c) && c < 0x80 && c != '*' && c != '\'' && c != '%';
}

/* Whether a raw parameter belongs to the RFC 2231 group of base name. */
static int mime_raw_in_group(const struct mime_raw_param *rp, const char *name, size_t len)
{
	return (rp->section >= 0 || rp->ext) && rp->name_len == len &&
		strncasecmp(rp->name, name, len) == 0;
}

/* Merge the RFC 2231 group of raw[first] into one value in p->conv and
 * its name (with '*' when it could not be converted).  0 when the group
 * yields a value, -1 when it is malformed (no section 0). */
static int mime_rfc2231_merge(struct mime_parser *p, unsigned int n, unsigned int first,
			      int *keep_star_r)
{
	const struct mime_raw_param *r0 = NULL;
	const char *name = p->raw[first].name;
	size_t name_len = p->raw[first].name_len;
	const char *charset = "", *lang = "";
	size_t charset_len = 0, lang_len = 0;
	int ok = 1;

	const struct mime_raw_param *secs[MIME_MAX_PARAMS];

	buf_reset(&p->tmp);
	buf_reset(&p->conv);
	*keep_star_r = 0;
	/* one pass: the first raw parameter of each section; the single
	 * form "name*=" stands for section 0 when it comes first */
	memset(secs, 0, sizeof(secs));
	for (unsigned int j = first; j < n; j++) {
		struct mime_raw_param *q = &p->raw[j];
		unsigned int sec = q->section < 0 ? 0 : (unsigned int)q->section;
		if (!mime_raw_in_group(q, name, name_len))
			continue;
		q->used = 1;
		if (secs[sec] == NULL)
			secs[sec] = q;
	}
	for (unsigned int sec = 0; sec < MIME_MAX_PARAMS && secs[sec] != NULL && ok; sec++) {
		const struct mime_raw_param *rp = secs[sec];
		const char *v = rp->value;
		size_t vlen = rp->value_len;
		if (sec == 0) {
			r0 = rp;
			if (rp->ext) {
				/* charset'lang'value */
				const char *q1 = memchr(v, '\'', vlen), *q2;
				if (q1 != NULL && (q2 = memchr(q1 + 1, '\'', vlen - (size_t)(q1 + 1 - v))) != NULL) {
					charset = v;
					charset_len = (size_t)(q1 - v);
					lang = q1 + 1;
					lang_len = (size_t)(q2 - q1 - 1);
					vlen -= (size_t)(q2 + 1 - v);
					v = q2 + 1;
				}
			}
		}
		if (rp->ext ? mime_hex_unescape(v, vlen, '%', 0, &p->tmp) < 0 : buf_append(&p->tmp, v, vlen) < 0)
			ok = 0;
		if (rp->section < 0)
			break;   /* the single-section form name*= */
	}
	/* sections after a gap are dropped (they are marked used above) */
	if (r0 == NULL || !ok)
		return -1;
	if (charset_len == 0) {
		/* no charset: ASCII by RFC 2231; 8-bit bytes stay as they are */
		return buf_append(&p->conv, p->tmp.data ? p->tmp.data : "", p->tmp.len);
	}
	if (mime_charset_to_utf8(charset, charset_len, p->tmp.data ? p->tmp.data : "", p->tmp.len,
				 &p->conv) == 0)
		return 0;
	/* Unknown charset: keep the RFC 2231 form, as the client may know it. */
	*keep_star_r = 1;
	buf_reset(&p->conv);
	if (buf_append(&p->conv, charset, charset_len) < 0 || buf_putc(&p->conv, '\'') < 0 ||
	    buf_append(&p->conv, lang, lang_len) < 0 || buf_putc(&p->conv, '\'') < 0)
		return -1;
	for (size_t i = 0; i < p->tmp.len; i++) {
		unsigned char c = (unsigned char)p->tmp.data[i];
		if (mime_is_attr_char(c) ? buf_putc(&p->conv, (char)c) < 0
		    : buf_printf(&p->conv, "%%%02X", c) < 0)
			return -1;
	}
	return 0;
}

/* Turn p->raw[0..n) into the part's decoded parameter array. */
static void mime_params_finish(struct mime_parser *p, unsigned int n, struct mime_param **params_r,
			       unsigned int *n_r)
{
	struct mime_param *out;
	unsigned int k = 0;

	*params_r = NULL;
	*n_r = 0;
	if (n == 0)
		return;
	out = mime_arena_alloc(&p->msg->arena, n * sizeof(*out));
	if (out == NULL) {
		p->failed = 1;
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct mime_raw_param *rp = &p->raw[i];
		int star;

		if (rp->used)
			continue;
		if (rp->section < 0 && !rp->ext) {
			/* a plain value yields to an RFC 2231 form of the same name */
			int shadowed = 0;
			for (unsigned int j = 0; j < n && !shadowed; j++)
				shadowed = j != i && mime_raw_in_group(&p->raw[j], rp->name, rp->name_len) &&
					(p->raw[j].section == 0 || p->raw[j].section < 0);
			rp->used = 1;
			if (shadowed)
				continue;
			out[k].name = mime_arena_str(p, rp->name, rp->name_len);
			out[k].value = mime_arena_str(p, rp->value, rp->value_len);
			k++;
			continue;
		}
		if (mime_rfc2231_merge(p, n, i, &star) < 0)
			continue;
		out[k].name = mime_arena_str(p, rp->name, rp->name_len + (star ? 1 : 0));
		if (star && out[k].name.p != NULL)
			((char *)out[k].name.p)[rp->name_len] = '*';
		out[k].value = mime_arena_str(p, p->conv.data ? p->conv.data : "", p->conv.len);
		k++;
	}
	*params_r = out;
	*n_r = k;
}

/* ---- Content-* fields ---- */

/* "type/subtype *(; param)"; an invalid type leaves the part untyped. */
static void mime_content_type(struct mime_parser *p, struct mime_part *part, char *s, size_t n)
{
	size_t i = 0, tlen, slen;
	const char *t, *st;

	mime_skip_cfws(s, n, &i);
	t = s + i;
	tlen = mime_token(s, n, &i);
	mime_skip_cfws(s, n, &i);
	if (tlen == 0 || i >= n || s[i] != '/')
		return;
	i++;
	mime_skip_cfws(s, n, &i);
	st = s + i;
	slen = mime_token(s, n, &i);
	if (slen == 0)
		return;
	part->type = mime_arena_str(p, t, tlen);
	part->subtype = mime_arena_str(p, st, slen);
	mime_params_finish(p, mime_params_scan(p, s, n, i), &part->params, &part->n_params);
}

static void mime_content_disposition(struct mime_parser *p, struct mime_part *part, char *s, size_t n)
{
	size_t i = 0, dlen;
	const char *d;

	mime_skip_cfws(s, n, &i);
	d = s + i;
	dlen = mime_token(s, n, &i);
	if (dlen == 0)
		return;
	part->disposition = mime_arena_str(p, d, dlen);
	mime_params_finish(p, mime_params_scan(p, s, n, i), &part->disp_params, &part->n_disp_params);
}

/* RFC 3282: Language-List = Language-Tag *("," Language-Tag), CFWS around. */
static void mime_content_language(struct mime_parser *p, struct mime_part *part, char *s, size_t n)
{
	struct mime_str tags[MIME_MAX_PARAMS];
	unsigned int k = 0;
	size_t i = 0;

	while (i < n) {
		const char *t;
		size_t tlen;

		mime_skip_cfws(s, n, &i);
		t = s + i;
		tlen = mime_token(s, n, &i);
		if (tlen > 0) {
			if (k == MIME_MAX_PARAMS) {
				p->msg->limits |= MIME_LIMIT_PARAMS;
				break;
			}
			tags[k++] = mime_arena_str(p, t, tlen);
		}
		mime_skip_cfws(s, n, &i);
		while (i < n && s[i] != ',')
			i++;   /* junk */
		if (i < n)
			i++;
	}
	if (k == 0)
		return;
	part->languages = mime_arena_alloc(&p->msg->arena, k * sizeof(*tags));
	if (part->languages == NULL) {
		p->failed = 1;
		return;
	}
	memcpy(part->languages, tags, k * sizeof(*tags));
	part->n_languages = k;
}

/* The value trimmed of white space at both ends (it is already unfolded). */
static void mime_trimmed(struct mime_parser *p, struct mime_str *dst, const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && mime_is_wsp((unsigned char)s[i]))
		i++;
	while (n > i && mime_is_wsp((unsigned char)s[n - 1]))
		n--;
	*dst = mime_arena_str(p, s + i, n - i);
}

/* A complete header field of the current part: interpret Content-*. */
static void mime_field_finish(struct mime_parser *p)
{
	struct mime_part *part = p->stack[p->top].part;
	const char *f = p->s + p->field_start, *colon, *v;
	size_t n = p->field_end - p->field_start, name_len, vlen;
	char *s;

	if (!p->field_open)
		return;
	p->field_open = 0;
	if (n < 9 || strncasecmp(f, "Content-", 8) != 0 || (colon = memchr(f, ':', n)) == NULL)
		return;
	name_len = (size_t)(colon - f);
	while (name_len > 8 && (f[name_len - 1] == ' ' || f[name_len - 1] == '\t'))
		name_len--;
	v = colon + 1;
	vlen = n - (size_t)(v - f);
	if (vlen > MIME_MAX_FIELD_SIZE) {
		p->msg->limits |= MIME_LIMIT_FIELD_SIZE;
		return;
	}
	/* unfold: CR and LF dropped (RFC 5322 2.2.3) */
	buf_reset(&p->scratch);
	for (size_t i = 0; i < vlen;) {
		size_t run = 0;
		while (i + run < vlen && v[i + run] != '\r' && v[i + run] != '\n')
			run++;
		if (run > 0 && buf_append(&p->scratch, v + i, run) < 0) {
			p->failed = 1;
			return;
		}
		i += run;
		if (i < vlen)
			i++;
	}
	if (buf_putc(&p->scratch, '\0') < 0) {
		p->failed = 1;
		return;
	}
	s = p->scratch.data;
	vlen = p->scratch.len - 1;
	f += 8;
	name_len -= 8;
#define MIME_NAME_IS(lit) (name_len == sizeof(lit) - 1 && strncasecmp(f, lit, name_len) == 0)
	if (MIME_NAME_IS("Type")) {
		if (part->type.p == NULL)
			mime_content_type(p, part, s, vlen);
	} else if (MIME_NAME_IS("Transfer-Encoding")) {
		if (part->encoding.p == NULL) {
			size_t i = 0, tlen;
			mime_skip_cfws(s, vlen, &i);
			const char *t = s + i;
			if ((tlen = mime_token(s, vlen, &i)) > 0)
				part->encoding = mime_arena_str(p, t, tlen);
		}
	} else if (MIME_NAME_IS("ID")) {
		if (part->id.p == NULL)
			mime_trimmed(p, &part->id, s, vlen);
	} else if (MIME_NAME_IS("Description")) {
		if (part->description.p == NULL)
			mime_trimmed(p, &part->description, s, vlen);
	} else if (MIME_NAME_IS("MD5")) {
		if (part->md5.p == NULL)
			mime_trimmed(p, &part->md5, s, vlen);
	} else if (MIME_NAME_IS("Location")) {
		if (part->location.p == NULL)
			mime_trimmed(p, &part->location, s, vlen);
	} else if (MIME_NAME_IS("Disposition")) {
		if (part->disposition.p == NULL)
			mime_content_disposition(p, part, s, vlen);
	} else if (MIME_NAME_IS("Language")) {
		if (part->languages == NULL)
			mime_content_language(p, part, s, vlen);
	}
#undef MIME_NAME_IS
}

/* ---- the tree ---- */

static struct mime_part *mime_part_new(struct mime_parser *p, struct mime_frame *parent)
{
	struct mime_part *part = mime_arena_alloc(&p->msg->arena, sizeof(*part));

	if (part == NULL) {
		p->failed = 1;
		return NULL;
	}
	memset(part, 0, sizeof(*part));
	p->msg->n_parts++;
	if (parent != NULL) {
		part->parent = parent->part;
		part->depth = parent->part->depth + 1;
		if (parent->last_child == NULL)
			parent->part->children = part;
		else
			parent->last_child->next = part;
		parent->last_child = part;
		parent->part->n_children++;
	}
	return part;
}

/* Push a new part whose header starts at pos. */
static void mime_push(struct mime_parser *p, struct mime_pos pos, unsigned int flags)
{
	struct mime_frame *parent, *f;
	struct mime_part *part;

	/* the depth checks before every push keep top + 1 below MIME_MAX_DEPTH */
	if ((f = mime_array_room(p, p->stack, &p->stack_cap, sizeof(*f), p->top + 1, MIME_MAX_DEPTH)) == NULL)
		return;
	p->stack = f;
	parent = &p->stack[p->top];
	if ((part = mime_part_new(p, parent)) == NULL)
		return;
	part->flags |= flags;
	f = &p->stack[++p->top];
	memset(f, 0, sizeof(*f));
	f->part = part;
	f->start = f->body_start = pos;   /* min_end stays 0: only a close delimiter sets it */
	p->in_header = 1;
	p->header_lines = 0;
	p->field_open = 0;
}

/* The header of the top part ended (blank line, or the header runs to
 * e): set its type and decide how its body is parsed. */
static void mime_header_done(struct mime_parser *p, struct mime_pos e, int blank_line)
{
	struct mime_frame *f = &p->stack[p->top];
	struct mime_part *part = f->part;
	int in_digest = p->top > 0 && p->stack[p->top - 1].digest;

	mime_field_finish(p);
	p->in_header = 0;
	part->header = mime_region_of(f->start, e);
	f->body_start = e;
	if (part->type.p == NULL) {
		part->flags |= MIME_PART_DEFAULT_TYPE;
		part->type.p = in_digest ? "message" : "text";
		part->type.len = strlen(part->type.p);
		part->subtype.p = in_digest ? "rfc822" : "plain";
		part->subtype.len = strlen(part->subtype.p);
	} else {
		part->flags &= ~(unsigned int)MIME_PART_DEFAULT_TYPE;
	}
	if (mime_str_eq(&part->type, "multipart")) {
		const struct mime_param *b = mime_param_find(part->params, part->n_params, "boundary");
		part->flags |= MIME_PART_MULTIPART;
		if (!blank_line || b == NULL || b->value.len == 0 || b->value.len > MIME_MAX_BOUNDARY)
			return;
		if (part->depth + 1 >= MIME_MAX_DEPTH) {
			p->msg->limits |= MIME_LIMIT_DEPTH;
			return;
		}
		f->boundary = b->value.p;
		f->boundary_len = b->value.len;
		f->digest = mime_str_eq(&part->subtype, "digest");
		p->active_boundaries++;
	} else if (mime_str_eq(&part->type, "message") &&
		   (mime_str_eq(&part->subtype, "rfc822") || mime_str_eq(&part->subtype, "global"))) {
		part->flags |= MIME_PART_MESSAGE;
		if (mime_str_eq(&part->subtype, "global"))
			part->flags |= MIME_PART_GLOBAL;
		if (!blank_line)
			return;
		if (part->depth + 1 >= MIME_MAX_DEPTH) {
			p->msg->limits |= MIME_LIMIT_DEPTH;
			return;
		}
		if (p->msg->n_parts >= MIME_MAX_PARTS) {
			p->msg->limits |= MIME_LIMIT_PARTS;
			return;
		}
		mime_push(p, e, MIME_PART_EMBEDDED);
	}
}

/* Close the top frame at e.  The line end before a boundary line
 * belongs to the boundary even when it ends the header's blank line or
 * the header itself (RFC 2046; Dovecot counts it so too): the header
 * then gives it up and the body is empty.  A part that would end before
 * it starts is empty at e. */
static void mime_close_top(struct mime_parser *p, struct mime_pos e)
{
	struct mime_frame *f = &p->stack[p->top];

	if (e.off < f->start.off)
		f->start = e;
	if (p->in_header)
		mime_header_done(p, e, 0);
	f = &p->stack[p->top];
	if (e.off < f->body_start.off) {
		f->part->header = mime_region_of(f->start, e);
		f->body_start = e;
	}
	f->part->body = mime_region_of(f->body_start, e);
	if (f->boundary != NULL && !f->closed)
		p->active_boundaries--;
	if (p->top > 0)
		p->top--;
}

/* A boundary line of frame k; next = the position after the line. */
static void mime_boundary(struct mime_parser *p, unsigned int k, int close, struct mime_pos next)
{
	struct mime_pos e = p->prev_le;
	struct mime_frame *f;

	while (p->top > k) {
		e = mime_pos_max(e, p->stack[p->top].min_end);
		mime_close_top(p, e);
	}
	f = &p->stack[k];
	if (close) {
		f->closed = 1;
		f->min_end = next;
		p->active_boundaries--;
		return;
	}
	if (p->msg->n_parts >= MIME_MAX_PARTS) {
		p->msg->limits |= MIME_LIMIT_PARTS;
		p->stopped = 1;
		return;
	}
	mime_push(p, next, 0);
}

/* Whether the line is a boundary line of an open multipart: frame index
 * in *k_r and close delimiter or not in *close_r. */
static int mime_boundary_match(const struct mime_parser *p, const char *line, size_t n,
			       unsigned int *k_r, int *close_r)
{
	if (n < 2 || line[0] != '-' || line[1] != '-')
		return 0;
	for (unsigned int i = p->top + 1; i-- > 0;) {
		const struct mime_frame *f = &p->stack[i];
		size_t bl = f->boundary_len;
		if (f->boundary == NULL || f->closed || n - 2 < bl || memcmp(line + 2, f->boundary, bl) != 0)
			continue;
		*k_r = i;
		*close_r = n - 2 - bl >= 2 && line[2 + bl] == '-' && line[3 + bl] == '-';
		return 1;
	}
	return 0;
}

/* A header line of the top part (content without its line end). */
static void mime_header_line(struct mime_parser *p, const char *line, size_t n, struct mime_pos next)
{
	if (n == 0) {
		mime_header_done(p, next, 1);
		return;
	}
	if (p->header_lines >= MIME_MAX_HEADER_LINES) {
		if (p->header_lines++ == MIME_MAX_HEADER_LINES) {
			mime_field_finish(p);
			p->msg->limits |= MIME_LIMIT_HEADER_LINES;
		}
		return;
	}
	p->header_lines++;
	if ((line[0] == ' ' || line[0] == '\t') && p->field_open) {
		p->field_end = p->cur.off + n;
		return;
	}
	mime_field_finish(p);
	p->field_open = 1;
	p->field_start = p->cur.off;
	p->field_end = p->cur.off + n;
}

/* No boundary can end the current part: count the rest. */
static void mime_count_rest(struct mime_parser *p)
{
	const char *end = p->s + p->len, *at = p->s + p->cur.off, *nl;
	size_t lf = 0, bare = 0;

	while (at < end && (nl = memchr(at, '\n', (size_t)(end - at))) != NULL) {
		lf++;
		/* at is a line start, so the byte before it is never a CR */
		bare += !(nl > at && nl[-1] == '\r');
		at = nl + 1;
	}
	p->cur.off = p->len;
	p->cur.lf += lf;
	p->cur.bare += bare;
}

static void mime_parse_lines(struct mime_parser *p)
{
	while (p->cur.off < p->len && !p->failed) {
		const char *line = p->s + p->cur.off, *nl;
		size_t rest = p->len - p->cur.off, n;
		struct mime_pos next;
		unsigned int k;
		int has_cr, close;

		if (!p->in_header && (p->stopped || p->active_boundaries == 0)) {
			mime_count_rest(p);
			break;
		}
		nl = memchr(line, '\n', rest);
		n = nl != NULL ? (size_t)(nl - line) : rest;
		has_cr = nl != NULL && n > 0 && line[n - 1] == '\r';
		next.off = p->cur.off + (nl != NULL ? n + 1 : n);
		next.lf = p->cur.lf + (nl != NULL);
		next.bare = p->cur.bare + (nl != NULL && !has_cr);
		if (has_cr)
			n--;
		if (!p->stopped && p->active_boundaries > 0 &&
		    mime_boundary_match(p, line, n, &k, &close))
			mime_boundary(p, k, close, next);
		else if (p->in_header)
			mime_header_line(p, line, n, next);
		if (nl != NULL) {
			p->prev_le.off = p->cur.off + n;
			p->prev_le.lf = p->cur.lf;
			p->prev_le.bare = p->cur.bare;
		}
		p->cur = next;
	}
}

int mime_parse(const char *data, size_t len, struct mime_message **msg_r, const char **error_r)
{
	struct mime_parser *p;
	struct mime_message *msg;
	int failed;

	*msg_r = NULL;
	msg = calloc(1, sizeof(*msg));
	p = calloc(1, sizeof(*p));
	if (msg == NULL || p == NULL) {
		free(msg);
		free(p);
		*error_r = "out of memory";
		errno = ENOMEM;
		return -1;
	}
	mime_arena_init(&msg->arena);
	msg->data = data;
	msg->len = len;
	p->s = data;
	p->len = len;
	p->msg = msg;
	buf_init(&p->scratch, MIME_MAX_FIELD_SIZE + 1);
	buf_init(&p->tmp, MIME_MAX_FIELD_SIZE);
	buf_init(&p->conv, 4 * MIME_MAX_FIELD_SIZE);
	if ((p->stack = mime_array_room(p, NULL, &p->stack_cap, sizeof(*p->stack), 0, MIME_MAX_DEPTH)) != NULL) {
		memset(&p->stack[0], 0, sizeof(p->stack[0]));
		msg->root = mime_part_new(p, NULL);
	}
	if (msg->root != NULL) {
		msg->root->flags = MIME_PART_EMBEDDED;
		p->stack[0].part = msg->root;
		p->in_header = 1;
		mime_parse_lines(p);
		while (!p->failed) {
			struct mime_pos e = mime_pos_max(p->cur, p->stack[p->top].min_end);
			int last = p->top == 0;
			mime_close_top(p, e);
			if (last)
				break;
		}
	}
	failed = p->failed || msg->root == NULL;
	buf_free(&p->scratch);
	buf_free(&p->tmp);
	buf_free(&p->conv);
	free(p->stack);
	free(p->raw);
	free(p);
	if (failed) {
		mime_message_free(&msg);
		*error_r = "out of memory";
		errno = ENOMEM;
		return -1;
	}
	*msg_r = msg;
	return 0;
}

void mime_message_free(struct mime_message **msg)
{
	if (*msg == NULL)
		return;
	mime_arena_free(&(*msg)->arena);
	free(*msg);
	*msg = NULL;
}

/* ---- queries ---- */

int mime_part_is(const struct mime_part *part, const char *type, const char *subtype)
{
	return mime_str_eq(&part->type, type) && (subtype == NULL || mime_str_eq(&part->subtype, subtype));
}

const struct mime_param *mime_param_find(const struct mime_param *params, unsigned int n,
					 const char *name)
{
	for (unsigned int i = 0; i < n; i++)
		if (mime_str_eq(&params[i].name, name))
			return &params[i];
	return NULL;
}

const char *mime_part_charset(const struct mime_part *part, size_t *len_r)
{
	const struct mime_param *c = mime_param_find(part->params, part->n_params, "charset");

	if (c != NULL) {
		*len_r = c->value.len;
		return c->value.p;
	}
	if (mime_str_eq(&part->type, "text")) {
		*len_r = 8;
		return "us-ascii";
	}
	*len_r = 0;
	return NULL;
}

struct mime_part *mime_part_child(const struct mime_part *part, unsigned int n)
{
	struct mime_part *c = part->children;

	if (n == 0)
		return NULL;
	while (c != NULL && --n > 0)
		c = c->next;
	return c;
}

/* ---- Content-Transfer-Encoding decoders ---- */

enum mime_cte mime_cte_of(const struct mime_str *e)
{
	if (e->p == NULL || mime_str_eq(e, "7bit") || mime_str_eq(e, "8bit") || mime_str_eq(e, "binary"))
		return MIME_CTE_IDENTITY;
	if (mime_str_eq(e, "base64"))
		return MIME_CTE_BASE64;
	if (mime_str_eq(e, "quoted-printable"))
		return MIME_CTE_QP;
	return MIME_CTE_UNKNOWN;
}

/* Where decoded bytes go: appended to out in chunks, or only counted
 * when out is NULL. */
struct mime_sink {
	struct buf *out;
	size_t count;
	size_t k;
	int failed;
	char chunk[1024];
};

static void mime_sink_flush(struct mime_sink *sk)
{
	if (sk->out != NULL && sk->k > 0 && !sk->failed && buf_append(sk->out, sk->chunk, sk->k) < 0)
		sk->failed = 1;
	sk->k = 0;
}

static void mime_sink_put(struct mime_sink *sk, char c)
{
	sk->count++;
	if (sk->out == NULL)
		return;
	sk->chunk[sk->k++] = c;
	if (sk->k == sizeof(sk->chunk))
		mime_sink_flush(sk);
}

static void mime_base64_run(const char *p, size_t len, struct mime_sink *sk)
{
	unsigned int acc = 0, have = 0;

	for (size_t i = 0; i < len && !sk->failed; i++) {
		int v = base64_values[(unsigned char)p[i]];
		if (p[i] == '=')
			break;
		if (v < 0)
			continue;   /* RFC 2045 6.8: bytes outside the alphabet are ignored */
		acc = acc << 6 | (unsigned int)v;
		if (++have == 4) {
			mime_sink_put(sk, (char)(acc >> 16));
			mime_sink_put(sk, (char)(acc >> 8));
			mime_sink_put(sk, (char)acc);
			acc = have = 0;
		}
	}
	if (have == 2) {
		mime_sink_put(sk, (char)(acc >> 4));
	} else if (have == 3) {
		mime_sink_put(sk, (char)(acc >> 10));
		mime_sink_put(sk, (char)(acc >> 2));
	}
	mime_sink_flush(sk);
}

static void mime_qp_run(const char *p, size_t len, struct mime_sink *sk)
{
	size_t i = 0;

	while (i < len && !sk->failed) {
		const char *nl = memchr(p + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - p) : len, next = nl != NULL ? end + 1 : len;
		int soft = 0;

		/* RFC 2045 6.7 (3): trailing white space is deleted */
		while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t' || p[end - 1] == '\r'))
			end--;
		if (end > i && p[end - 1] == '=') {
			soft = 1;
			end--;
		}
		for (; i < end; i++) {
			int h, l;
			char c = p[i];
			if (c == '=' && i + 2 < end && (h = mime_hex((unsigned char)p[i + 1])) >= 0 &&
			    (l = mime_hex((unsigned char)p[i + 2])) >= 0) {
				c = (char)(h << 4 | l);
				i += 2;
			}
			mime_sink_put(sk, c);
		}
		if (nl != NULL && !soft) {
			mime_sink_put(sk, '\r');
			mime_sink_put(sk, '\n');
		}
		i = next;
	}
	mime_sink_flush(sk);
}

int mime_base64_decode(const char *p, size_t len, struct buf *out)
{
	struct mime_sink sk = { .out = out };

	mime_base64_run(p, len, &sk);
	return sk.failed ? -1 : 0;
}

size_t mime_base64_decoded_size(const char *p, size_t len)
{
	struct mime_sink sk = { .out = NULL };

	mime_base64_run(p, len, &sk);
	return sk.count;
}

int mime_qp_decode(const char *p, size_t len, struct buf *out)
{
	struct mime_sink sk = { .out = out };

	mime_qp_run(p, len, &sk);
	return sk.failed ? -1 : 0;
}

size_t mime_qp_decoded_size(const char *p, size_t len)
{
	struct mime_sink sk = { .out = NULL };

	mime_qp_run(p, len, &sk);
	return sk.count;
}
