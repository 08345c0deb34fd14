/* dkim_canon: DKIM canonicalization, RFC 6376 3.4.
 *
 * Offers:
 *  - dkim_canon_header: one header field, simple (3.4.1: as it is, line
 *    ends as CRLF) or relaxed (3.4.2: name in lower case, unfolded, runs
 *    of WSP as one SP, no WSP around the colon or at the end);
 *  - dkim_body_*: the body, simple (3.4.3: empty lines at the end
 *    removed, a missing final CRLF added, an empty body is one CRLF) or
 *    relaxed (3.4.4: also runs of WSP as one SP and none at line ends,
 *    an empty body stays empty), hashed with SHA-256 as it streams.
 *
 * Line ends: the queue stores LF, the wire has CRLF; both end a line
 * here.  A CR not followed by LF is an ordinary byte.
 *
 * Memory: the body state is a count of held-back empty lines and two
 * flags, whatever the input; nothing is buffered.
 *
 * Trusts: nothing; takes (pointer, length).  Fails only on memory or
 * OpenSSL errors, which dkim_body_final reports. */
#include <errno.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim_canon.h"

static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int canon_header_simple(const char *p, size_t n, int crlf, struct buf *out)
{
	/* drop the field's own final line end; it is added back below */
	if (n > 0 && p[n - 1] == '\n')
		n -= (n > 1 && p[n - 2] == '\r') ? 2 : 1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) {
			if (buf_append(out, "\r\n", 2) < 0)
				return -1;
		} else if (buf_putc(out, p[i]) < 0) {
			return -1;
		}
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

static int canon_header_relaxed(const char *p, size_t n, size_t colon, int crlf, struct buf *out)
{
	size_t name_end = colon;
	int wsp = 0, any = 0;

	while (name_end > 0 && is_wsp(p[name_end - 1]))
		name_end--;
	for (size_t i = 0; i < name_end; i++) {
		char c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (buf_putc(out, c) < 0)
			return -1;
	}
	if (buf_putc(out, ':') < 0)
		return -1;
	for (size_t i = colon + 1; i < n; i++) {
		char c = p[i];
		/* unfolding removes CRLF (or LF); a bare CR stays */
		if (c == '\n' || (c == '\r' && i + 1 < n && p[i + 1] == '\n'))
			continue;
		if (is_wsp(c)) {
			wsp = 1;
			continue;
		}
		if (wsp && any && buf_putc(out, ' ') < 0)
			return -1;
		wsp = 0;
		any = 1;
		if (buf_putc(out, c) < 0)
			return -1;
	}
	return crlf ? buf_append(out, "\r\n", 2) : 0;
}

/* RFC 5322 2.2 (and 4.5's obsolete WSP before the colon): a name of
 * printable bytes, then white space, then the colon. */
static int header_name_ok(const char *p, size_t colon)
{
	size_t i = 0;

	while (i < colon && p[i] >= 0x21 && p[i] <= 0x7e)
		i++;
	if (i == 0)
		return 0;
	while (i < colon && is_wsp(p[i]))
		i++;
	return i == colon;
}

int dkim_canon_header(enum dkim_canon_mode mode, const char *p, size_t n, int crlf, struct buf *out)
{
	const char *colon = memchr(p, ':', n);
	size_t mark = out->len;
	int rc;

	if (colon == NULL || !header_name_ok(p, (size_t)(colon - p))) {
		errno = EINVAL;
		return -1;
	}
	if (mode == DKIM_CANON_RELAXED)
		rc = canon_header_relaxed(p, n, (size_t)(colon - p), crlf, out);
	else
		rc = canon_header_simple(p, n, crlf, out);
	if (rc < 0)
		buf_truncate(out, mark);
	return rc;
}

int dkim_body_init(struct dkim_body *b, enum dkim_canon_mode mode, uint64_t limit, struct buf *copy)
{
	memset(b, 0, sizeof(*b));
	b->relaxed = mode == DKIM_CANON_RELAXED;
	b->limit = limit;
	b->copy = copy;
	b->md = EVP_MD_CTX_new();
	if (b->md == NULL || EVP_DigestInit_ex(b->md, EVP_sha256(), NULL) != 1) {
		dkim_body_free(b);
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Hash canonical bytes, up to the limit. */
static void emit(struct dkim_body *b, const char *p, size_t n)
{
	if (n > 0 && b->limit - b->hashed < n)
		b->over_limit = 1;   /* the verifier reports l= shorter than the body */
	if (b->hashed >= b->limit)
		return;
	if (n > b->limit - b->hashed)
		n = (size_t)(b->limit - b->hashed);
	b->hashed += n;
	if (EVP_DigestUpdate(b->md, p, n) != 1)
		b->failed = 1;
	if (b->copy != NULL && buf_append(b->copy, p, n) < 0)
		b->failed = 1;
}

/* Content follows on this line: held-back empty lines were not at the
 * end of the body after all. */
static void line_start(struct dkim_body *b)
{
	if (b->line_started)
		return;
	for (; b->empty_lines > 0 && b->hashed < b->limit; b->empty_lines--)
		emit(b, "\r\n", 2);
	b->empty_lines = 0;
	b->line_started = 1;
}

/* A byte that belongs to the current line (not a line end). */
static void body_byte(struct dkim_body *b, char c)
{
	if (b->relaxed && is_wsp(c)) {
		b->pending_wsp = 1;
		return;
	}
	line_start(b);
	if (b->pending_wsp) {
		/* relaxed: a run inside the line becomes one SP */
		emit(b, " ", 1);
		b->pending_wsp = 0;
	}
	emit(b, &c, 1);
}

static void body_line_end(struct dkim_body *b)
{
	if (b->line_started)
		emit(b, "\r\n", 2);
	else if (b->empty_lines < UINT64_MAX)
		b->empty_lines++;
	b->line_started = 0;
	b->pending_wsp = 0;   /* relaxed: white space at a line end goes */
}

void dkim_body_update(struct dkim_body *b, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (b->pending_cr) {
			b->pending_cr = 0;
			if (c == '\n') {
				body_line_end(b);
				continue;
			}
			body_byte(b, '\r');
		}
		if (c == '\r')
			b->pending_cr = 1;
		else if (c == '\n')
			body_line_end(b);
		else
			body_byte(b, c);
	}
}

int dkim_body_final(struct dkim_body *b, unsigned char out[32])
{
	unsigned int len = 0;

	if (b->pending_cr) {
		b->pending_cr = 0;
		body_byte(b, '\r');
	}
	/* relaxed: white space on a last line without its line end is
	 * not at the end of a line (3.4.4 speaks of lines ended by CRLF):
	 * it stays, as one SP, as python3-dkim and others hash it */
	if (b->pending_wsp) {
		b->pending_wsp = 0;
		line_start(b);
		emit(b, " ", 1);
	}
	/* a last line without its line end gets one (3.4.3, 3.4.4) */
	if (b->line_started)
		emit(b, "\r\n", 2);
	else if (!b->relaxed && b->hashed == 0)
		emit(b, "\r\n", 2);   /* simple: an empty body is one CRLF */
	if (b->failed || EVP_DigestFinal_ex(b->md, out, &len) != 1 || len != 32)
		return -1;
	return 0;
}

void dkim_body_free(struct dkim_body *b)
{
	EVP_MD_CTX_free(b->md);
	b->md = NULL;
}
