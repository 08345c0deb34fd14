/* mime_header: RFC 5322 header fields for IMAP FETCH, SEARCH and SORT.
 *
 * Offers:
 *  - mime_header_iter_init / mime_header_next: the fields of a header
 *    one by one (name, raw value with its folding, offset and size with
 *    every continuation line), as HEADER.FIELDS needs them;
 *    mime_header_find: the first occurrence of several fields in one
 *    pass (ENVELOPE); mime_unfold: a value without its folding.
 *  - mime_charset_to_utf8: us-ascii, utf-8, iso-8859-1 and windows-1252
 *    converted here, any other charset through iconv(3) (glibc's, whose
 *    modules must be reachable: in a chroot only the built-in charsets
 *    work, and others then count as unknown).
 *  - mime_decode_words: RFC 2047 encoded words (B and Q, RFC 2231
 *    language suffix allowed) decoded to UTF-8; adjacent words of one
 *    charset are joined before conversion, so a character split across
 *    two words survives; a word that cannot be decoded stays as written.
 *  - mime_address_list_parse: RFC 5322 3.4 address lists (with the
 *    obsolete routes, CFWS everywhere and groups) as IMAP ENVELOPE
 *    addresses: display name (quoted strings unquoted, words joined by
 *    one space, encoded words left as they are, as IMAP wants), source
 *    route ("@a,@b"), local part (unquoted, as Dovecot sends it) and
 *    domain; a comment after an address without a display name becomes
 *    its name; groups as RFC 3501 7.4.2 encodes them (a start marker
 *    with the group name as mailbox and host NIL, an end marker of four
 *    NILs, added when the ';' is missing).
 *  - mime_date_parse: RFC 5322 3.3 date-time and the obsolete forms of
 *    4.3 (two- and three-digit years, alphabetic zones, CFWS anywhere)
 *    to a UTC time_t and the zone offset, for SEARCH SENTBEFORE etc.
 *
 * Trusts: nothing; everything takes (pointer, length), never reads past
 * it, never walks backwards, and has no recursion (comment nesting is a
 * counter).  Charset names reach iconv_open only when they are short
 * and made of letters, digits and "-_.:+".
 *
 * Fails: only when an output buffer reaches its cap or memory runs out;
 * bad input gives a best-effort result, never an error. */
#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime_header.h"
#include "utf8.h"

static int mh_is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* ---- fields ---- */

void mime_header_iter_init(struct mime_header_iter *it, const char *p, size_t len)
{
	it->p = p;
	it->len = len;
	it->pos = 0;
}

/* The line at pos: content length (without the line end) and the
 * position of the next line; whether it ended with LF. */
static int mh_line(const char *p, size_t len, size_t pos, size_t *content_r, size_t *next_r)
{
	const char *nl = memchr(p + pos, '\n', len - pos);
	size_t n = nl != NULL ? (size_t)(nl - (p + pos)) : len - pos;

	*next_r = nl != NULL ? pos + n + 1 : len;
	if (nl != NULL && n > 0 && p[pos + n - 1] == '\r')
		n--;
	*content_r = n;
	return nl != NULL;
}

int mime_header_next(struct mime_header_iter *it, struct mime_field *field)
{
	const char *p = it->p, *colon;
	size_t pos = it->pos, n, next, value_end;
	int lf;

	if (pos >= it->len)
		return 0;
	lf = mh_line(p, it->len, pos, &n, &next);
	if (n == 0) {
		it->pos = it->len;   /* the blank line ends the header */
		return 0;
	}
	field->offset = pos;
	colon = memchr(p + pos, ':', n);
	if (colon != NULL) {
		size_t name_len = (size_t)(colon - (p + pos));
		while (name_len > 0 && mh_is_wsp((unsigned char)p[pos + name_len - 1]))
			name_len--;
		field->name.p = p + pos;
		field->name.len = name_len;
		field->value.p = colon + 1;
	} else {
		field->name.p = p + pos;
		field->name.len = 0;
		field->value.p = p + pos;
	}
	value_end = pos + n;
	pos = next;
	while (pos < it->len && mh_is_wsp((unsigned char)p[pos])) {
		lf = mh_line(p, it->len, pos, &n, &next);
		value_end = pos + n;
		pos = next;
	}
	field->value.len = (size_t)(p + value_end - field->value.p);
	field->size = pos - field->offset;
	field->terminated = lf;
	it->pos = pos;
	return 1;
}

int mime_field_is(const struct mime_str *field_name, const char *name, size_t name_len)
{
	return field_name->len == name_len && strncasecmp(field_name->p, name, name_len) == 0;
}

void mime_header_find(const char *p, size_t len, const char *const *names, size_t n,
		      struct mime_str *values)
{
	struct mime_header_iter it;
	struct mime_field f;
	size_t found = 0;

	for (size_t i = 0; i < n; i++)
		values[i].p = NULL, values[i].len = 0;
	mime_header_iter_init(&it, p, len);
	while (found < n && mime_header_next(&it, &f)) {
		if (f.name.len == 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (values[i].p == NULL && mime_field_is(&f.name, names[i], strlen(names[i]))) {
				values[i] = f.value;
				found++;
				break;
			}
		}
	}
}

int mime_unfold(const char *p, size_t len, struct buf *out)
{
	size_t start = 0, end = len;

	while (start < end && (mh_is_wsp((unsigned char)p[start]) || p[start] == '\r' || p[start] == '\n'))
		start++;
	while (end > start && (mh_is_wsp((unsigned char)p[end - 1]) || p[end - 1] == '\r' ||
			       p[end - 1] == '\n'))
		end--;
	while (start < end) {
		size_t run = 0;
		while (start + run < end && p[start + run] != '\r' && p[start + run] != '\n')
			run++;
		if (run > 0 && buf_append(out, p + start, run) < 0)
			return -1;
		start += run;
		if (start < end)
			start++;
	}
	return 0;
}

/* ---- charsets ---- */

static int mh_name_in(const char *cs, size_t len, const char *const *names)
{
	for (; *names != NULL; names++)
		if (strlen(*names) == len && strncasecmp(cs, *names, len) == 0)
			return 1;
	return 0;
}

static const char *const mh_utf8_names[] = { "utf-8", "utf8", NULL };
static const char *const mh_ascii_names[] = { "us-ascii", "ascii", "ansi_x3.4-1968", "ansi-x3.4-1968",
					      "iso646-us", NULL };
static const char *const mh_latin1_names[] = { "iso-8859-1", "iso8859-1", "iso_8859-1", "latin1",
					       "l1", "iso-ir-100", "cp819", NULL };
static const char *const mh_cp1252_names[] = { "windows-1252", "cp1252", NULL };

/* windows-1252 0x80-0x9f; 0 = undefined. */
static const unsigned short mh_cp1252[32] = {
	0x20ac, 0, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017d, 0,
	0, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0, 0x017e, 0x0178,
};

static void mh_buf_truncate(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

/* One-byte charsets: latin1 (cp1252 = 0) or windows-1252 (cp1252 = 1). */
static int mh_single_byte(const char *p, size_t n, int cp1252, struct buf *out)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 0;
		unsigned char c;
		uint32_t cp;

		while (i + run < n && (unsigned char)p[i + run] < 0x80)
			run++;   /* ASCII runs as they are */
		if (run > 0 && buf_append(out, p + i, run) < 0)
			return -1;
		if ((i += run) == n)
			break;
		c = (unsigned char)p[i++];
		cp = c;
		if (cp1252 && c < 0xa0 && (cp = mh_cp1252[c - 0x80]) == 0)
			return -1;
		if (utf8_encode(cp, out) < 0)
			return -1;
	}
	return 0;
}

static int mh_iconv(const char *cs, size_t cs_len, const char *p, size_t n, struct buf *out)
{
	char name[65], chunk[1024];
	iconv_t cd;
	char *in = (char *)p;
	size_t inleft = n;
	int rc = 0;

	if (cs_len == 0 || cs_len >= sizeof(name))
		return -1;
	for (size_t i = 0; i < cs_len; i++) {
		char c = cs[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_.:+", c) != NULL))
			return -1;
		name[i] = c;
	}
	name[cs_len] = '\0';
	if ((cd = iconv_open("UTF-8", name)) == (iconv_t)-1)
		return -1;
	for (int flush = 0; flush < 2 && rc == 0;) {
		char *o = chunk;
		size_t oleft = sizeof(chunk), r;

		r = flush ? iconv(cd, NULL, NULL, &o, &oleft) : iconv(cd, &in, &inleft, &o, &oleft);
		if (buf_append(out, chunk, (size_t)(o - chunk)) < 0)
			rc = -1;
		else if (r == (size_t)-1 && errno != E2BIG)
			rc = -1;   /* EILSEQ or EINVAL: not valid in that charset */
		else if (r != (size_t)-1 && (flush || inleft == 0))
			flush++;
	}
	iconv_close(cd);
	return rc;
}

int mime_charset_to_utf8(const char *charset, size_t charset_len, const char *p, size_t n,
			 struct buf *out)
{
	size_t old = out->len;
	int rc;

	if (mh_name_in(charset, charset_len, mh_utf8_names)) {
		rc = utf8_valid(p, n) ? buf_append(out, p, n) : -1;
	} else if (mh_name_in(charset, charset_len, mh_ascii_names)) {
		rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++)
			if ((unsigned char)p[i] >= 0x80)
				rc = -1;
		if (rc == 0)
			rc = buf_append(out, p, n);
	} else if (mh_name_in(charset, charset_len, mh_latin1_names)) {
		rc = mh_single_byte(p, n, 0, out);
	} else if (mh_name_in(charset, charset_len, mh_cp1252_names)) {
		rc = mh_single_byte(p, n, 1, out);
	} else {
		rc = mh_iconv(charset, charset_len, p, n, out);
	}
	if (rc < 0)
		mh_buf_truncate(out, old);
	return rc;
}

/* ---- RFC 2047 encoded words ---- */

struct mh_word {
	const char *charset;   /* without an RFC 2231 "*lang" */
	size_t charset_len;
	char enc;              /* 'B' or 'Q' */
	const char *text;
	size_t text_len;
	size_t end;            /* position after "?=" */
};

/* Longest encoded word looked for.  RFC 2047 2 says 75; mailers write
 * longer ones, but a bound keeps text full of "=?" linear. */
#define MH_MAX_WORD 256

/* An encoded word "=?charset?enc?text?=" at p[i]. */
static int mh_word_at(const char *p, size_t len, size_t i, struct mh_word *w)
{
	size_t j = i + 2, k;

	if (len - i < 8 || p[i] != '=' || p[i + 1] != '?')
		return 0;
	if (len - i > MH_MAX_WORD)
		len = i + MH_MAX_WORD;
	w->charset = p + j;
	while (j < len && p[j] != '?' && p[j] > 0x20 && p[j] < 0x7f && p[j] != '(' && p[j] != ')')
		j++;
	if (j == i + 2 || j + 3 > len || p[j] != '?' || p[j + 2] != '?')
		return 0;
	w->charset_len = j - (i + 2);
	{
		const char *star = memchr(w->charset, '*', w->charset_len);
		if (star != NULL)
			w->charset_len = (size_t)(star - w->charset);
	}
	w->enc = p[j + 1];
	if (w->enc == 'b')
		w->enc = 'B';
	else if (w->enc == 'q')
		w->enc = 'Q';
	if ((w->enc != 'B' && w->enc != 'Q') || w->charset_len == 0)
		return 0;
	k = j + 3;
	w->text = p + k;
	while (k + 1 < len && !(p[k] == '?' && p[k + 1] == '=')) {
		if (p[k] == '\r' || p[k] == '\n' || p[k] == ' ' || p[k] == '\t')
			return 0;
		k++;
	}
	if (k + 1 >= len)
		return 0;
	w->text_len = k - (size_t)(w->text - p);
	w->end = k + 2;
	return 1;
}

/* Append the bytes of one word's text. */
static int mh_word_bytes(const struct mh_word *w, struct buf *out)
{
	if (w->enc == 'B')
		return mime_base64_decode(w->text, w->text_len, out);
	return mime_hex_unescape(w->text, w->text_len, '=', 1, out);
}

struct mh_run {
	int active;
	const char *charset;
	size_t charset_len;
	size_t raw_start, raw_end;   /* the words as written */
};

/* Convert the pending run of words; on failure append them as written. */
static int mh_run_flush(struct mh_run *run, const char *p, struct buf *bytes, struct buf *out)
{
	int rc = 0;

	if (!run->active)
		return 0;
	if (mime_charset_to_utf8(run->charset, run->charset_len, bytes->data ? bytes->data : "",
				 bytes->len, out) < 0)
		rc = buf_append(out, p + run->raw_start, run->raw_end - run->raw_start);
	run->active = 0;
	buf_reset(bytes);
	return rc;
}

int mime_decode_words(const char *p, size_t len, struct buf *out)
{
	struct buf bytes;
	struct mh_run run = { 0, NULL, 0, 0, 0 };
	size_t i = 0, ws_start = 0, ws_len = 0;
	int after_word = 0, rc = 0;

	buf_init(&bytes, len + 1);
	while (i < len && rc == 0) {
		struct mh_word w;

		if (mh_word_at(p, len, i, &w)) {
			/* RFC 2047 6.2: white space between adjacent words is dropped */
			if (!(after_word && run.active && w.charset_len == run.charset_len &&
			      strncasecmp(w.charset, run.charset, w.charset_len) == 0)) {
				rc = mh_run_flush(&run, p, &bytes, out);
				if (rc == 0 && !after_word && ws_len > 0)
					rc = buf_append(out, p + ws_start, ws_len);
				run.active = 1;
				run.charset = w.charset;
				run.charset_len = w.charset_len;
				run.raw_start = i;
			}
			if (rc == 0)
				rc = mh_word_bytes(&w, &bytes);
			run.raw_end = w.end;
			ws_len = 0;
			after_word = 1;
			i = w.end;
			continue;
		}
		if (mh_is_wsp((unsigned char)p[i]) || p[i] == '\r' || p[i] == '\n') {
			if (ws_len == 0)
				ws_start = i;
			ws_len = i + 1 - ws_start;
			i++;
			continue;
		}
		rc = mh_run_flush(&run, p, &bytes, out);
		if (rc == 0 && ws_len > 0)
			rc = buf_append(out, p + ws_start, ws_len);
		ws_len = 0;
		after_word = 0;
		if (rc == 0)
			rc = buf_putc(out, p[i]);
		i++;
	}
	if (rc == 0)
		rc = mh_run_flush(&run, p, &bytes, out);
	if (rc == 0 && ws_len > 0)
		rc = buf_append(out, p + ws_start, ws_len);
	buf_free(&bytes);
	return rc;
}

/* ---- addresses (RFC 5322 3.4, 4.4) ---- */

struct mh_lex {
	const char *s;
	size_t n, i;
	struct mime_arena *arena;
	struct buf route, mailbox, host;  /* one address, reused */
	struct buf comment;     /* the last comment skipped, when asked for */
	int failed;
	size_t junk;            /* bytes skipped as no part of an address */
};

static int mh_is_atext(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c >= 0x80 || (c > 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Skip white space and comments; with keep, the text of the last
 * top-level comment goes to lx->comment. */
static void mh_cfws(struct mh_lex *lx, int keep)
{
	while (lx->i < lx->n) {
		char c = lx->s[lx->i];
		if (mh_is_wsp((unsigned char)c) || c == '\r' || c == '\n') {
			lx->i++;
			continue;
		}
		if (c != '(')
			return;
		size_t depth = 1;
		if (keep)
			buf_reset(&lx->comment);
		lx->i++;
		while (lx->i < lx->n && depth > 0) {
			c = lx->s[lx->i++];
			if (c == '\\' && lx->i < lx->n)
				c = lx->s[lx->i++];
			else if (c == '(')
				depth++;
			else if (c == ')' && --depth == 0)
				break;
			if (keep && c != '\r' && c != '\n' && buf_putc(&lx->comment, c) < 0)
				lx->failed = 1;
		}
	}
}

/* A quoted string at s[i] == '"', unquoted into out.  A backslash
 * before a line break escapes nothing (a line break is no character of
 * the string, RFC 5322 2.2.3): both are dropped, as for any fold, so
 * that a field stored with LF and sent with CRLF reads the same. */
static void mh_quoted(struct mh_lex *lx, struct buf *out)
{
	lx->i++;
	while (lx->i < lx->n && lx->s[lx->i] != '"') {
		char c = lx->s[lx->i++];
		if (c == '\\' && lx->i < lx->n)
			c = lx->s[lx->i++];
		if (c == '\r' || c == '\n')
			continue;   /* folding */
		if (buf_putc(out, c) < 0)
			lx->failed = 1;
	}
	if (lx->i < lx->n)
		lx->i++;
}

/* One word (atom or quoted string) appended to out; 0 when none here. */
static int mh_word(struct mh_lex *lx, struct buf *out)
{
	size_t start = lx->i;

	if (lx->i < lx->n && lx->s[lx->i] == '"') {
		mh_quoted(lx, out);
		return 1;
	}
	while (lx->i < lx->n && mh_is_atext((unsigned char)lx->s[lx->i]))
		lx->i++;
	if (lx->i == start)
		return 0;
	if (buf_append(out, lx->s + start, lx->i - start) < 0)
		lx->failed = 1;
	return 1;
}

/* A phrase (display name): words and '.' (obs-phrase) as written, any
 * run of white space and comments between them as one space. */
static void mh_phrase(struct mh_lex *lx, struct buf *out)
{
	buf_reset(out);
	for (;;) {
		size_t mark = out->len, before = lx->i;
		mh_cfws(lx, 0);
		if (out->len > 0 && lx->i > before && buf_putc(out, ' ') < 0)
			lx->failed = 1;
		if (lx->i < lx->n && lx->s[lx->i] == '.') {
			if (buf_putc(out, '.') < 0)
				lx->failed = 1;
			lx->i++;
			continue;
		}
		if (!mh_word(lx, out)) {
			mh_buf_truncate(out, mark);
			return;
		}
	}
}

/* From an opening '[' or '"' past its closer (quoted-pairs kept), the
 * bytes as written appended to out unless it is NULL, unfolded (RFC 5322
 * 2.2.3: the line breaks of a fold dropped, so that a field stored with
 * LF and the same field sent with CRLF read the same). */
static void mh_copy_delimited(struct mh_lex *lx, char close, struct buf *out)
{
	size_t start = lx->i++;

	while (lx->i < lx->n && lx->s[lx->i] != close) {
		if (lx->s[lx->i] == '\\' && lx->i + 1 < lx->n)
			lx->i++;
		lx->i++;
	}
	if (lx->i < lx->n)
		lx->i++;
	for (size_t k = start; out != NULL && k < lx->i && !lx->failed; k++)
		if (lx->s[k] != '\r' && lx->s[k] != '\n' && buf_putc(out, lx->s[k]) < 0)
			lx->failed = 1;
}

/* local-part "@" domain, written without CFWS into mailbox and host
 * (host->len == 0 and no '@': no domain). */
static void mh_addr_spec(struct mh_lex *lx, struct buf *mailbox, struct buf *host, int *at_r)
{
	size_t save;

	buf_reset(mailbox);
	buf_reset(host);
	*at_r = 0;
	for (;;) {
		save = lx->i;
		mh_cfws(lx, 0);
		if (lx->i < lx->n && lx->s[lx->i] == '.') {
			if (buf_putc(mailbox, '.') < 0)
				lx->failed = 1;
			lx->i++;
			continue;
		}
		if (!mh_word(lx, mailbox))
			break;
	}
	/* a comment after the address is left for the display name */
	if (lx->i >= lx->n || lx->s[lx->i] != '@') {
		lx->i = save;
		return;
	}
	*at_r = 1;
	lx->i++;
	mh_cfws(lx, 0);
	if (lx->i < lx->n && lx->s[lx->i] == '[') {
		mh_copy_delimited(lx, ']', host);
		return;
	}
	for (;;) {
		size_t start = lx->i;
		while (lx->i < lx->n && mh_is_atext((unsigned char)lx->s[lx->i]))
			lx->i++;
		if (lx->i > start && buf_append(host, lx->s + start, lx->i - start) < 0)
			lx->failed = 1;
		save = lx->i;
		mh_cfws(lx, 0);
		if (lx->i < lx->n && lx->s[lx->i] == '.') {
			lx->i++;
			mh_cfws(lx, 0);
			if (lx->i < lx->n && mh_is_atext((unsigned char)lx->s[lx->i])) {
				if (buf_putc(host, '.') < 0)
					lx->failed = 1;
				continue;
			}
			/* a trailing dot is dropped */
		} else {
			lx->i = save;
		}
		break;
	}
}

/* obs-route inside '<': "@a, @b:" into route; the position is left
 * unchanged when there is none. */
static void mh_route(struct mh_lex *lx, struct buf *route)
{
	size_t save = lx->i;

	buf_reset(route);
	for (;;) {
		mh_cfws(lx, 0);
		if (lx->i < lx->n && lx->s[lx->i] == ',') {
			lx->i++;
			continue;
		}
		if (lx->i >= lx->n || lx->s[lx->i] != '@')
			break;
		lx->i++;
		mh_cfws(lx, 0);
		if (route->len > 0 && buf_putc(route, ',') < 0)
			lx->failed = 1;
		if (buf_putc(route, '@') < 0)
			lx->failed = 1;
		for (;;) {
			size_t start = lx->i;
			while (lx->i < lx->n && (mh_is_atext((unsigned char)lx->s[lx->i]) || lx->s[lx->i] == '.'))
				lx->i++;
			if (lx->i > start && buf_append(route, lx->s + start, lx->i - start) < 0)
				lx->failed = 1;
			if (lx->i < lx->n && lx->s[lx->i] == '[') {
				mh_copy_delimited(lx, ']', route);
				continue;
			}
			break;
		}
	}
	if (route->len > 0 && lx->i < lx->n && lx->s[lx->i] == ':') {
		lx->i++;
		return;
	}
	buf_reset(route);
	lx->i = save;
}

static struct mime_str mh_str(struct mh_lex *lx, const struct buf *b, int nil_if_empty)
{
	struct mime_str s = { NULL, 0 };

	if (b->len == 0 && nil_if_empty)
		return s;
	s.p = mime_arena_strdup(lx->arena, b->data ? b->data : "", b->len);
	if (s.p == NULL)
		lx->failed = 1;
	else
		s.len = b->len;
	return s;
}

static struct mime_str mh_lit(const char *s)
{
	struct mime_str r = { s, strlen(s) };

	return r;
}

static void mh_add(struct mh_lex *lx, struct mime_address_list *list, struct mime_address a)
{
	if (list->n == MIME_MAX_ADDRESSES) {
		list->truncated = 1;
		return;
	}
	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		struct mime_address *v = realloc(list->addrs, cap * sizeof(*v));
		if (v == NULL) {
			lx->failed = 1;
			return;
		}
		list->addrs = v;
		list->cap = cap;
	}
	list->addrs[list->n++] = a;
}

/* Skip to the next ',' or ';' at the top level (junk after an address). */
static void mh_skip_junk(struct mh_lex *lx)
{
	while (lx->i < lx->n && lx->s[lx->i] != ',' && lx->s[lx->i] != ';') {
		char c = lx->s[lx->i];
		if (c == '"') {
			mh_copy_delimited(lx, '"', NULL);
		} else if (c == '(') {
			mh_cfws(lx, 0);
		} else {
			lx->junk += c != ' ' && c != '\t' && c != '\r' && c != '\n';
			lx->i++;
		}
	}
}

/* One mailbox (name-addr or addr-spec) at the current position. */
static void mh_mailbox(struct mh_lex *lx, struct mime_address_list *list, struct buf *name, int have_name)
{
	struct mime_address a;
	int angle = lx->i < lx->n && lx->s[lx->i] == '<', at;
	size_t start = lx->i;

	buf_reset(&lx->route);
	if (angle) {
		lx->i++;
		mh_route(lx, &lx->route);
	}
	mh_addr_spec(lx, &lx->mailbox, &lx->host, &at);
	if (angle) {
		mh_cfws(lx, 0);
		if (lx->i < lx->n && lx->s[lx->i] == '>')
			lx->i++;
	}
	buf_reset(&lx->comment);
	mh_cfws(lx, 1);
	if (!have_name && lx->comment.len > 0) {
		buf_reset(name);
		if (buf_append(name, lx->comment.data, lx->comment.len) < 0)
			lx->failed = 1;
	}
	a.name = mh_str(lx, name, 1);
	a.route = mh_str(lx, &lx->route, 1);
	a.mailbox = lx->mailbox.len > 0 ? mh_str(lx, &lx->mailbox, 0) : mh_lit("MISSING_MAILBOX");
	a.host = lx->host.len > 0 ? mh_str(lx, &lx->host, 0) : mh_lit("MISSING_DOMAIN");
	if (lx->i == start) {
		lx->i++;   /* nothing parsed: a stray character */
		lx->junk++;
	}
	mh_add(lx, list, a);
}

int mime_address_list_parse(const char *p, size_t len, struct mime_arena *arena,
			    struct mime_address_list *list)
{
	struct mh_lex lx;
	struct mime_address end_marker = { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, { NULL, 0 } };
	struct buf phrase;
	size_t cap;
	int in_group = 0;

	memset(&lx, 0, sizeof(lx));
	lx.s = p;
	lx.n = len;
	lx.arena = arena;
	/* Nothing built from the field is longer than it, but a route:
	 * "@a@b" is written "@a,@b", at most twice the field. */
	if (__builtin_mul_overflow(len, 2, &cap) || __builtin_add_overflow(cap, 16, &cap))
		cap = SIZE_MAX;
	buf_init(&lx.comment, cap);
	buf_init(&lx.route, cap);
	buf_init(&lx.mailbox, cap);
	buf_init(&lx.host, cap);
	buf_init(&phrase, cap);
	while (!lx.failed) {
		size_t save;

		mh_cfws(&lx, 0);
		if (lx.i >= lx.n)
			break;
		if (lx.s[lx.i] == ',') {
			lx.i++;
			continue;
		}
		if (lx.s[lx.i] == ';') {
			lx.i++;
			if (in_group) {
				mh_add(&lx, list, end_marker);
				in_group = 0;
			}
			continue;
		}
		save = lx.i;
		mh_phrase(&lx, &phrase);
		mh_cfws(&lx, 0);
		if (lx.i < lx.n && lx.s[lx.i] == ':' && !in_group) {
			struct mime_address g = end_marker;
			lx.i++;
			g.mailbox = mh_str(&lx, &phrase, 0);
			mh_add(&lx, list, g);
			in_group = 1;
			continue;
		}
		if (lx.i < lx.n && lx.s[lx.i] == '<') {
			mh_mailbox(&lx, list, &phrase, phrase.len > 0);
		} else {
			lx.i = save;
			buf_reset(&phrase);
			mh_mailbox(&lx, list, &phrase, 0);
		}
		mh_skip_junk(&lx);
	}
	if (in_group && !lx.failed)
		mh_add(&lx, list, end_marker);
	list->junk += lx.junk;
	buf_free(&lx.comment);
	buf_free(&lx.route);
	buf_free(&lx.mailbox);
	buf_free(&lx.host);
	buf_free(&phrase);
	if (lx.failed) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void mime_address_list_free(struct mime_address_list *list)
{
	free(list->addrs);
	memset(list, 0, sizeof(*list));
}

/* ---- dates (RFC 5322 3.3, 4.3) ---- */

struct mh_date {
	const char *s;
	size_t n, i;
};

static void mh_date_cfws(struct mh_date *d)
{
	struct mh_lex lx;

	memset(&lx, 0, sizeof(lx));
	lx.s = d->s;
	lx.n = d->n;
	lx.i = d->i;
	mh_cfws(&lx, 0);
	d->i = lx.i;
}

/* Up to max digits; -1 when none. */
static long mh_date_num(struct mh_date *d, int max, int *digits_r)
{
	long v = 0;
	int k = 0;

	while (d->i < d->n && k < max && d->s[d->i] >= '0' && d->s[d->i] <= '9') {
		v = v * 10 + (d->s[d->i++] - '0');
		k++;
	}
	*digits_r = k;
	return k > 0 ? v : -1;
}

static size_t mh_date_alpha(struct mh_date *d, const char **w_r)
{
	size_t start = d->i;

	*w_r = d->s + start;
	while (d->i < d->n && ((d->s[d->i] >= 'a' && d->s[d->i] <= 'z') ||
			       (d->s[d->i] >= 'A' && d->s[d->i] <= 'Z')))
		d->i++;
	return d->i - start;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long mh_days_from_civil(long long y, unsigned m, unsigned day)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

static int mh_zone(const char *w, size_t n, int *zone_r)
{
	static const struct { const char *name; int hours; } zones[] = {
		{ "UT", 0 }, { "GMT", 0 }, { "UTC", 0 }, { "Z", 0 },
		{ "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		{ "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
	};

	for (size_t i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		if (strlen(zones[i].name) == n && strncasecmp(w, zones[i].name, n) == 0) {
			*zone_r = zones[i].hours * 60;
			return 0;
		}
	}
	/* RFC 5322 4.3: military and other alphabetic zones count as -0000 */
	*zone_r = 0;
	return 0;
}

int mime_date_parse(const char *p, size_t len, time_t *t_r, int *zone_r)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	struct mh_date d = { p, len, 0 };
	const char *w;
	size_t wl;
	long day, year, hour, min, sec = 0;
	int month = -1, digits, zone = 0;

	mh_date_cfws(&d);
	if ((wl = mh_date_alpha(&d, &w)) > 0) {
		/* day-of-week, then an optional ',' */
		mh_date_cfws(&d);
		if (d.i < d.n && d.s[d.i] == ',')
			d.i++;
		mh_date_cfws(&d);
	}
	if ((day = mh_date_num(&d, 2, &digits)) < 1 || day > 31)
		return -1;
	mh_date_cfws(&d);
	if (d.i < d.n && d.s[d.i] == '-')
		d.i++;   /* "1-Jan-2024" as some write it */
	wl = mh_date_alpha(&d, &w);
	if (wl >= 3) {
		for (int m = 0; m < 12; m++)
			if (strncasecmp(w, months + 3 * m, 3) == 0)
				month = m + 1;
	}
	if (month < 0)
		return -1;
	mh_date_cfws(&d);
	if (d.i < d.n && d.s[d.i] == '-')
		d.i++;
	if ((year = mh_date_num(&d, 4, &digits)) < 0)
		return -1;
	if (digits == 2)
		year += year < 50 ? 2000 : 1900;   /* RFC 5322 4.3 */
	else if (digits == 3)
		year += 1900;
	else if (digits == 1)
		return -1;
	mh_date_cfws(&d);
	if ((hour = mh_date_num(&d, 2, &digits)) < 0 || hour > 23)
		return -1;
	mh_date_cfws(&d);
	if (d.i >= d.n || d.s[d.i] != ':')
		return -1;
	d.i++;
	mh_date_cfws(&d);
	if ((min = mh_date_num(&d, 2, &digits)) < 0 || min > 59)
		return -1;
	mh_date_cfws(&d);
	if (d.i < d.n && d.s[d.i] == ':') {
		d.i++;
		mh_date_cfws(&d);
		if ((sec = mh_date_num(&d, 2, &digits)) < 0 || sec > 60)
			return -1;
		mh_date_cfws(&d);
	}
	if (d.i < d.n && (d.s[d.i] == '+' || d.s[d.i] == '-')) {
		int sign = d.s[d.i] == '-' ? -1 : 1;
		long z;
		d.i++;
		if ((z = mh_date_num(&d, 4, &digits)) < 0 || digits != 4 || z % 100 > 59)
			return -1;
		zone = sign * (int)(z / 100 * 60 + z % 100);
	} else if ((wl = mh_date_alpha(&d, &w)) > 0) {
		mh_zone(w, wl, &zone);
	}
	*t_r = (time_t)(mh_days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 +
			hour * 3600 + min * 60 + sec - (long long)zone * 60);
	*zone_r = zone;
	return 0;
}
