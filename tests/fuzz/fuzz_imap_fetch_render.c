/* libFuzzer target for common/imap_fetch_render.c: random message bytes
 * rendered for a few fixed FETCH requests (simple items, structures,
 * sections of nested parts, HEADER.FIELDS, BINARY and BINARY.SIZE, the
 * RFC822 items, PREVIEW), with options and partial windows taken from the first
 * input bytes.  Every response must be one "* N FETCH (...)\r\n" whose
 * literals hold exactly the announced bytes and no NUL outside a
 * literal8, within the max; with a max one byte short of it the render
 * must fail with nothing written.  The message made wire form (every
 * bare LF CRLF) renders the same with data_wire (sent unparsed where it
 * can be) as without, and the same as the message as stored (but for
 * BINARY, which keeps a part's own line ends), also with its wire size
 * given (data_sized); a wrong size gives NO_DATA or the same response.
 *
 * Input: byte 0 options (bit 0 rev2, 1 UTF8=ACCEPT, 2 UID FETCH, 3
 * CONDSTORE, 4 seen_set, 5 partials on, 6 give the mime tree), bytes
 * 1-2 partial origin, byte 3 partial length, then the message. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_fetch_render.h"
#include "imap_parser.h"
#include "imap_types.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const specs[] = {
	"FULL",
	"(UID FLAGS MODSEQ INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE)",
	"(RFC822.HEADER RFC822.TEXT RFC822)",
	"(BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2]"
	" BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODY.PEEK[2.1.MIME] BODY.PEEK[1.1.2] BODY.PEEK[3.2.1.TEXT])",
	"(BODY.PEEK[HEADER.FIELDS (Subject From to)] BODY.PEEK[HEADER.FIELDS.NOT (Received)]"
	" BODY.PEEK[2.HEADER.FIELDS (Content-Type)] BODY.PEEK[1.HEADER.FIELDS.NOT (X)])",
	"(BINARY.PEEK[] BINARY.PEEK[1] BINARY.PEEK[1.1] BINARY.PEEK[2] BINARY.PEEK[2.2] BINARY.PEEK[3])",
	"(BINARY.SIZE[] BINARY.SIZE[1] BINARY.SIZE[1.1] BINARY.SIZE[2] BINARY.SIZE[2.1.1])",
	"(UID PREVIEW (LAZY))",
	"(UID FLAGS BODY.PEEK[] BODY.PEEK[] RFC822)",
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

static struct imap_parser *parsers[NSPECS];
static struct imap_fetch requests[NSPECS];

static void init(void)
{
	struct imap_parser_limits l;

	imap_parser_limits_default(&l);
	for (size_t i = 0; i < NSPECS; i++) {
		char line[1024];
		size_t used;
		const char *err;
		int n = snprintf(line, sizeof(line), "a FETCH 1 %s\r\n", specs[i]);

		parsers[i] = imap_parser_new(&l);
		if (parsers[i] == NULL || n <= 0 || (size_t)n >= sizeof(line) ||
		    imap_parser_feed(parsers[i], line, (size_t)n, &used) != IMAP_PARSE_COMMAND ||
		    imap_fetch_parse(&imap_parser_command(parsers[i])->args[1], imap_parser_arena(parsers[i]),
				     &requests[i], &err) < 0)
			abort();
	}
}

/* One FETCH response: "* N FETCH (" ... ")\r\n", literals whole. */
static void check_response(const char *s, size_t n)
{
	size_t i;

	if (n < 16 || memcmp(s, "* ", 2) != 0 || memcmp(s + n - 3, ")\r\n", 3) != 0 ||
	    strstr(s, " FETCH (") == NULL)
		abort();
	for (i = 0; i < n - 3; i++) {
		if (s[i] == '\0' || s[i] == '\r' || s[i] == '\n')
			abort();   /* outside literals: one line */
		if (s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
			continue;
		}
		if (s[i] == '{' || (s[i] == '~' && s[i + 1] == '{')) {
			int binary = s[i] == '~';
			size_t len = 0, j = i + 1 + (size_t)binary;
			while (j < n && s[j] >= '0' && s[j] <= '9')
				len = len * 10 + (size_t)(s[j++] - '0');
			if (j + 2 >= n || memcmp(s + j, "}\r\n", 3) != 0 || len > n - (j + 3))
				abort();
			if (!binary && memchr(s + j + 3, '\0', len) != NULL)
				abort();
			i = j + 3 + len - 1;
		}
	}
}

/* The message made wire form (every bare LF CRLF), once per input:
 * the same bytes serve every request. */
static void make_wire(const struct imap_fetch_msg *m0, struct buf *wire)
{
	char prev = '\n';

	buf_init(wire, 1 << 24);
	for (size_t i = 0; i < m0->len; i++) {
		char c = m0->data[i];
		if ((c == '\n' && prev != '\r' && buf_putc(wire, '\r') < 0) || buf_putc(wire, c) < 0)
			abort();
		prev = c;
	}
}

static bool same(int ra, const struct buf *a, int rb, const struct buf *b)
{
	return ra == rb && a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* The same response (rc and out, rendered from m0 as stored) for data
 * in wire form (wire, from make_wire), whether the renderer is told so
 * (data_wire) or parses it; for BINARY only the two wire renders agree,
 * as decoding keeps the line ends a part has. */
static void check_wire_same(const struct imap_fetch *f, const struct imap_fetch_msg *m0, const struct buf *wire,
			    unsigned int flags, bool binary, int rc, const struct buf *out)
{
	struct imap_fetch_msg m = *m0;
	struct imap_fetch_render_opts o = { flags, 1 << 24 };
	struct buf a, b;

	m.data = buf_cstr(wire);
	m.len = wire->len;
	buf_init(&a, 1 << 24);
	buf_init(&b, 1 << 24);
	m.data_wire = false;
	int ra = imap_fetch_render(&a, f, &m, &o);
	m.data_wire = true;
	int rb = imap_fetch_render(&b, f, &m, &o);
	if (!same(ra, &a, rb, &b) || (!binary && !same(ra, &a, rc, out)))
		abort();
	if (!binary) {
		/* as stored, with its wire size given: a whole message made
		 * as it is sent */
		m.data = m0->data;
		m.len = m0->len;
		m.data_wire = false;
		m.data_sized = true;
		buf_reset(&b);
		rb = imap_fetch_render(&b, f, &m, &o);
		if (!same(ra, &a, rb, &b))
			abort();
		/* and a wrong one: the response as before but for RFC822.SIZE,
		 * or NO_DATA with nothing written */
		m.size = wire->len + 1;
		buf_reset(&b);
		rb = imap_fetch_render(&b, f, &m, &o);
		if (rb != IMAP_FETCH_RENDER_OK && (rb != IMAP_FETCH_RENDER_NO_DATA || b.len != 0))
			abort();
	}
	buf_free(&a);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	static const char *const kw[] = { "$Forwarded", "bad word", "Junk" };
	struct imap_fetch_msg m;
	struct mime_message *mime = NULL;
	struct buf wire;
	const char *err;
	unsigned int opt;
	uint64_t origin, length;

	if (!ready) {
		init();
		ready = 1;
	}
	if (size < 4)
		return 0;
	opt = data[0];
	origin = (uint64_t)data[1] << 8 | data[2];
	length = (uint64_t)data[3] + 1;
	memset(&m, 0, sizeof(m));
	m.seq = 3;
	m.uid = 77;
	m.flags = IMAP_FLAG_SEEN | IMAP_FLAG_RECENT;
	m.keywords = kw;
	m.nkeywords = 3;
	m.modseq = 5;
	m.size = size - 4;
	m.internal_date = (int64_t)origin * 86400 * 37 - 1000000000;
	m.zone = (int)data[3] * 7 - 900;
	m.seen_set = (opt & 0x10) != 0;
	m.data = (const char *)data + 4;
	m.len = size - 4;
	if (opt & 0x40) {
		if (mime_parse(m.data, m.len, &mime, &err) < 0)
			return 0;
		m.mime = mime;
		m.data = NULL;
	}
	if (m.data != NULL) {
		make_wire(&m, &wire);
		m.size = wire.len;   /* RFC822.SIZE counts the wire form */
	}
	for (size_t i = 0; i < NSPECS; i++) {
		struct imap_fetch f = requests[i];
		struct imap_section secs[16];
		struct imap_fetch_render_opts o = { opt & 0x0f, 1 << 24 };
		struct buf out;
		size_t n;
		int rc;

		if (f.nsections > 16)
			abort();
		for (unsigned int k = 0; k < f.nsections; k++) {
			secs[k] = f.sections[k];
			if ((opt & 0x20) && secs[k].kind != IMAP_SECTION_BINARY_SIZE && (k & 1) == 0) {
				secs[k].partial = true;
				secs[k].offset = origin;
				secs[k].length = length;
			}
		}
		f.sections = secs;
		buf_init(&out, 1 << 24);
		rc = imap_fetch_render(&out, &f, &m, &o);
		if (m.data != NULL)
			check_wire_same(&f, &m, &wire, opt & 0x0f, strstr(specs[i], "BINARY") != NULL, rc, &out);
		if (rc == IMAP_FETCH_RENDER_UNKNOWN_CTE) {
			if (out.len != 0)
				abort();
			buf_free(&out);
			continue;
		}
		if (rc != IMAP_FETCH_RENDER_OK || out.len > o.max)
			abort();
		check_response(out.data, out.len);
		/* one byte short: refused, nothing written */
		n = out.len;
		buf_reset(&out);
		o.max = n - 1;
		if (imap_fetch_render(&out, &f, &m, &o) != IMAP_FETCH_RENDER_TOO_BIG || out.len != 0 ||
		    out.max != (size_t)1 << 24)
			abort();
		buf_free(&out);
	}
	if (m.data != NULL)
		buf_free(&wire);
	mime_message_free(&mime);
	return 0;
}
