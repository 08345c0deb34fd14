/* libFuzzer target for common/mime.c and common/imap_mime.c: parse a
 * message, check the tree's invariants (regions inside the message and
 * inside their parent, header then body, siblings in order, wire sizes
 * and line counts as a recount finds them), write BODYSTRUCTURE, BODY
 * and every ENVELOPE and check that each is one well-formed IMAP
 * parenthesised list, then resolve and write sections (every kind, and
 * part paths up to three levels) and BINARY, checking that the bytes
 * written are exactly the announced size. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_mime.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_region(const char *s, size_t len, const struct mime_region *r)
{
	size_t lf = 0, bare = 0;

	if (r->offset > len || r->size > len - r->offset)
		abort();
	for (size_t i = r->offset; i < r->offset + r->size; i++) {
		if (s[i] != '\n')
			continue;
		lf++;
		if (i == 0 || s[i - 1] != '\r')
			bare++;
	}
	if (r->lines != lf || r->wire_size != r->size + bare)
		abort();
}

static void check_part(const struct mime_message *m, const struct mime_part *p, size_t lo, size_t hi)
{
	size_t pos;
	unsigned int n = 0;

	check_region(m->data, m->len, &p->header);
	check_region(m->data, m->len, &p->body);
	if (p->header.offset < lo || p->header.offset + p->header.size != p->body.offset ||
	    p->body.offset + p->body.size > hi)
		abort();
	if (p->type.p == NULL || p->subtype.p == NULL)
		abort();
	pos = p->body.offset;
	for (const struct mime_part *c = p->children; c != NULL; c = c->next) {
		if (c->parent != p || c->depth != p->depth + 1 || c->depth >= MIME_MAX_DEPTH)
			abort();
		check_part(m, c, pos, p->body.offset + p->body.size);
		pos = c->body.offset + c->body.size;
		n++;
	}
	if (n != p->n_children)
		abort();
	if ((p->flags & MIME_PART_MESSAGE) && n > 1)
		abort();
}

/* Whether out is one IMAP list: strings, literals, atoms, nested lists. */
static void check_list(const char *s, size_t n)
{
	size_t i = 0;
	long depth = 0;

	while (i < n) {
		char c = s[i];
		if (c == '(') {
			depth++;
			i++;
		} else if (c == ')') {
			if (--depth < 0)
				abort();
			i++;
		} else if (c == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\')
					i++;
				else if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
					abort();
			}
			if (i >= n)
				abort();
			i++;
		} else if (c == '{') {
			size_t len = 0;
			for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
				len = len * 10 + (size_t)(s[i] - '0');
			if (i + 3 > n || s[i] != '}' || s[i + 1] != '\r' || s[i + 2] != '\n')
				abort();
			i += 3;
			if (len > n - i || memchr(s + i, '\0', len) != NULL)
				abort();
			i += len;
		} else if (c == ' ' || (c >= '0' && c <= '9') || c == 'N' || c == 'I' || c == 'L') {
			i++;
		} else {
			abort();
		}
		if (depth == 0 && i < n)
			abort();   /* exactly one list */
	}
	if (depth != 0)
		abort();
}

static void envelopes(const struct mime_message *m, const struct mime_part *p, struct buf *out)
{
	if (p->flags & MIME_PART_EMBEDDED) {
		buf_reset(out);
		if (imap_envelope_write(out, m->data + p->header.offset, p->header.size, IMAP_STR_UTF8) != 0)
			abort();
		check_list(out->data, out->len);
	}
	for (const struct mime_part *c = p->children; c != NULL; c = c->next)
		envelopes(m, c, out);
}

static void sections(const struct mime_message *m, const uint32_t *path, unsigned int depth, struct buf *out)
{
	static const char *const fields[] = { "Subject", "content-type", "X" };
	size_t bsize;

	for (int text = IMAP_MIME_WHOLE; text <= IMAP_MIME_MIME; text++) {
		struct imap_mime_section sec = { path, depth, (enum imap_mime_text)text, fields, 3 };
		struct imap_mime_data d;
		if (imap_mime_section_resolve(m, &sec, &d) != IMAP_MIME_OK) {
			imap_mime_data_free(&d);
			continue;
		}
		buf_reset(out);
		if (imap_mime_data_write(m, &d, 0, (size_t)-1, out) < 0 || out->len != d.wire_size)
			abort();
		if (d.wire_size > 2) {
			/* a window: the same bytes as the middle of the whole */
			struct buf w;
			size_t start = d.wire_size / 3, len = d.wire_size / 2;
			buf_init(&w, 1 << 24);
			if (imap_mime_data_write(m, &d, start, len, &w) < 0 || w.len != len ||
			    memcmp(w.data, out->data + start, len) != 0)
				abort();
			buf_free(&w);
		}
		imap_mime_data_free(&d);
	}
	buf_reset(out);
	if (imap_binary_decode(m, path, depth, out) == IMAP_MIME_OK &&
	    (imap_binary_size(m, path, depth, &bsize) != IMAP_MIME_OK || bsize != out->len))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the length. */
	char *s = malloc(size ? size : 1);
	struct mime_message *m;
	const char *error;
	struct buf out;
	uint32_t path[3];

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (mime_parse(s, size, &m, &error) < 0) {
		free(s);
		return 0;
	}
	if (m->root->header.offset != 0 || m->root->body.offset + m->root->body.size != size)
		abort();
	check_part(m, m->root, 0, size);
	buf_init(&out, 1 << 24);
	for (unsigned int flags = 0; flags < 2; flags++) {
		unsigned int f = flags ? IMAP_STR_UTF8 | IMAP_MIME_GLOBAL : 0;
		for (int ext = 0; ext < 2; ext++) {
			buf_reset(&out);
			if (imap_bodystructure_write(&out, m, ext, f) < 0)
				abort();
			check_list(out.data, out.len);
		}
	}
	envelopes(m, m->root, &out);
	sections(m, path, 0, &out);
	for (path[0] = 1; path[0] <= 4; path[0]++) {
		sections(m, path, 1, &out);
		for (path[1] = 1; path[1] <= 3; path[1]++) {
			sections(m, path, 2, &out);
			for (path[2] = 1; path[2] <= 2; path[2]++)
				sections(m, path, 3, &out);
		}
	}
	buf_free(&out);
	mime_message_free(&m);
	free(s);
	return 0;
}
