/* libFuzzer target for common/dkim_canon.c.  The first byte picks the
 * mode and where to split the rest.  The body hash must not depend on
 * how the body is cut into chunks, and its canonical form ends with
 * CRLF (or is empty, relaxed only), has no bare LF, and, relaxed, no
 * two spaces in a row and none before a CRLF.  A header field's
 * canonical form ends with CRLF and, relaxed, has no line end before. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_canon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void body_hash(enum dkim_canon_mode mode, const char *s, size_t n, size_t cut,
		      struct buf *copy, unsigned char hash[32])
{
	struct dkim_body b;

	if (dkim_body_init(&b, mode, UINT64_MAX, copy) < 0)
		abort();
	dkim_body_update(&b, s, cut);
	dkim_body_update(&b, s + cut, n - cut);
	if (dkim_body_final(&b, hash) < 0)
		abort();
	dkim_body_free(&b);
}

static void check_body_form(enum dkim_canon_mode mode, const struct buf *c)
{
	const char *p = c->data;

	if (c->len == 0) {
		if (mode != DKIM_CANON_RELAXED)
			abort();
		return;
	}
	if (c->len < 2 || p[c->len - 2] != '\r' || p[c->len - 1] != '\n')
		abort();
	for (size_t i = 0; i < c->len; i++) {
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			abort();
		if (mode == DKIM_CANON_RELAXED && i > 0 && p[i - 1] == ' ' && (p[i] == ' ' || p[i] == '\t'))
			abort();
		if (mode == DKIM_CANON_RELAXED && p[i] == '\t')
			abort();
	}
	/* no empty line at the end */
	if (c->len >= 4 && memcmp(p + c->len - 4, "\r\n\r\n", 4) == 0)
		abort();
}

static void check_header(enum dkim_canon_mode mode, const char *s, size_t n)
{
	struct buf out;

	buf_init(&out, 1 << 20);
	if (dkim_canon_header(mode, s, n, 1, &out) == 0) {
		const char *p = out.data;
		if (out.len < 3 || p[out.len - 2] != '\r' || p[out.len - 1] != '\n')
			abort();
		if (mode == DKIM_CANON_RELAXED && memchr(p, '\n', out.len - 1) != NULL)
			abort();
	} else if (out.len != 0) {
		abort();
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum dkim_canon_mode mode;
	const char *s;
	size_t n, cut;
	unsigned char h1[32], h2[32];
	struct buf c1, c2;

	if (size < 1)
		return 0;
	mode = (data[0] & 1) ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	s = (const char *)data + 1;
	n = size - 1;
	cut = n ? (size_t)(data[0] >> 1) % (n + 1) : 0;
	buf_init(&c1, 1 << 22);
	buf_init(&c2, 1 << 22);
	body_hash(mode, s, n, n, &c1, h1);
	body_hash(mode, s, n, cut, &c2, h2);
	if (memcmp(h1, h2, 32) != 0 || c1.len != c2.len || (c1.len > 0 && memcmp(c1.data, c2.data, c1.len) != 0))
		abort();
	check_body_form(mode, &c1);
	check_header(mode, s, n);
	buf_free(&c1);
	buf_free(&c2);
	return 0;
}
