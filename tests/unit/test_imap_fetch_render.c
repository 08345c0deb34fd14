/* Unit tests for common/imap_fetch_render.c: whole FETCH responses.
 *
 * The golden cases are Dovecot's: tests/unit/data/fetch_render/ holds
 * real messages (nested multipart, message/rfc822 parts, base64 and
 * quoted-printable parts, NUL bytes, a header without body) and
 * golden.txt, what Dovecot 2.3.19 answered to each request, byte for
 * byte; generate.py there writes it (its README says how).  Differences
 * allowed on purpose, the data being the same: Dovecot sends a literal8
 * "~{n}" for every BINARY[] of a base64 or QP part, we only when the
 * bytes hold a NUL; Dovecot sends an ENVELOPE string whose field was
 * folded as a literal, imap_mime quotes it; cases marked "differs" are
 * not compared.  The other tests check what Dovecot cannot show here:
 * partial windows against the whole, IMAP4rev2, \Seen, limits, dates,
 * cached texts and errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "imap_fetch_render.h"
#include "imap_parser.h"
#include "imap_types.h"

#define DATA_SUBDIR "tests/unit/data/fetch_render"

/* ---- helpers ---- */

/* The data directory: from the top of the tree, or next to the build
 * directory this program lives in (BUILD/tests/test_x). */
static const char *data_dir(void)
{
	static char dir[8192];
	char exe[4096];
	ssize_t n;

	if (dir[0] != '\0')
		return dir;
	if (access(DATA_SUBDIR "/golden.txt", R_OK) == 0) {
		snprintf(dir, sizeof(dir), "%s", DATA_SUBDIR);
		return dir;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	for (int up = 0; up < 3; up++) {
		char *slash = strrchr(exe, '/');
		assert_non_null(slash);
		*slash = '\0';
	}
	snprintf(dir, sizeof(dir), "%s/%s", exe, DATA_SUBDIR);
	return dir;
}

static char *read_file(const char *name, size_t *len_r)
{
	char path[8400];
	FILE *f;
	char *p;
	long n;

	snprintf(path, sizeof(path), "%s/%s", data_dir(), name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	assert_non_null(p);
	assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len_r = (size_t)n;
	return p;
}

/* A FETCH request parsed as imapd parses it; f points into the parser. */
struct req {
	struct imap_parser *parser;
	struct imap_fetch f;
};

static void req_parse(struct req *r, const char *spec, bool uid)
{
	struct imap_parser_limits l;
	char line[8192];
	size_t used;
	const char *err;
	int n = snprintf(line, sizeof(line), "a %sFETCH 1 %s\r\n", uid ? "UID " : "", spec);

	assert_true(n > 0 && (size_t)n < sizeof(line));
	imap_parser_limits_default(&l);
	r->parser = imap_parser_new(&l);
	assert_non_null(r->parser);
	if (imap_parser_feed(r->parser, line, (size_t)n, &used) != IMAP_PARSE_COMMAND)
		fail_msg("not a command: %s", line);
	const struct imap_cmd *cmd = imap_parser_command(r->parser);
	assert_true(cmd->count >= 2);
	if (imap_fetch_parse(&cmd->args[1], imap_parser_arena(r->parser), &r->f, &err) < 0)
		fail_msg("%s: %s", spec, err);
	if (cmd->count == 3 && imap_fetch_modifiers(&cmd->args[2], uid, &r->f, &err) < 0)
		fail_msg("%s: %s", spec, err);
}

static void req_free(struct req *r)
{
	imap_parser_free(&r->parser);
}

/* Render spec for m into a fresh string (rc_r: the result). */
static char *render_spec(const char *spec, const struct imap_fetch_msg *m, unsigned int flags, size_t max,
			 size_t *len_r, int *rc_r)
{
	struct req r;
	struct imap_fetch_render_opts o = { flags, max };
	struct buf out;
	char *s;

	req_parse(&r, spec, (flags & IMAP_FETCH_R_UID) != 0);
	buf_init(&out, 1 << 24);
	*rc_r = imap_fetch_render(&out, &r.f, m, &o);
	s = malloc(out.len + 1);
	assert_non_null(s);
	memcpy(s, buf_cstr(&out), out.len + 1);
	*len_r = out.len;
	buf_free(&out);
	req_free(&r);
	return s;
}

/* Render and expect success and exactly want. */
static void expect(const char *spec, const struct imap_fetch_msg *m, unsigned int flags, const char *want,
		   size_t want_len)
{
	size_t len;
	int rc;
	char *got = render_spec(spec, m, flags, 1 << 24, &len, &rc);

	if (want_len == 0)
		want_len = strlen(want);
	if (rc != IMAP_FETCH_RENDER_OK)
		fail_msg("%s: error %d", spec, rc);
	if (len != want_len || memcmp(got, want, len) != 0)
		fail_msg("%s:\n got  [%.*s]\n want [%.*s]", spec, (int)len, got, (int)want_len, want);
	free(got);
}

/* The same for a want with NUL bytes (a string literal). */
#define EXPECT_BYTES(spec, m, flags, want) expect(spec, m, flags, want, sizeof(want) - 1)

static struct imap_fetch_msg msg_of(const char *data, size_t len)
{
	struct imap_fetch_msg m;

	memset(&m, 0, sizeof(m));
	m.seq = 1;
	m.uid = 1;
	m.data = data;
	m.len = len;
	m.size = len;
	return m;
}

/* ---- golden cases (Dovecot) ---- */

static bool ends_with(const struct buf *b, const char *s)
{
	size_t n = strlen(s);
	return b->len >= n && memcmp(b->data + b->len - n, s, n) == 0;
}

/* A FETCH response with the differences allowed (see the top) undone:
 * a literal8 of bytes without NUL is a literal; a literal inside
 * ENVELOPE or BODYSTRUCTURE (not after a section or RFC822 name) that
 * a quoted string can carry is that quoted string.  Literals' bytes are
 * skipped, quoted strings are copied as they are. */
static void normalise(const char *p, size_t n, struct buf *out)
{
	size_t i = 0;

	buf_reset(out);
	while (i < n) {
		if (p[i] == '"') {
			size_t j = i + 1;
			while (j < n && p[j] != '"')
				j += p[j] == '\\' ? 2 : 1;
			j = j < n ? j + 1 : n;
			assert_int_equal(buf_append(out, p + i, j - i), 0);
			i = j;
			continue;
		}
		if (p[i] == '{' || (p[i] == '~' && i + 1 < n && p[i + 1] == '{')) {
			bool eight = p[i] == '~', body, printable = true;
			size_t j = i + (eight ? 2 : 1), size = 0, start;
			while (j < n && p[j] >= '0' && p[j] <= '9')
				size = size * 10 + (size_t)(p[j++] - '0');
			assert_true(j + 3 <= n && memcmp(p + j, "}\r\n", 3) == 0);
			start = j + 3;
			assert_true(start + size <= n);
			body = ends_with(out, "] ") || ends_with(out, "> ") || ends_with(out, "RFC822 ") ||
			       ends_with(out, "RFC822.HEADER ") || ends_with(out, "RFC822.TEXT ");
			for (size_t k = start; k < start + size; k++)
				printable = printable && p[k] >= 0x20 && p[k] < 0x7f;
			if (!body && printable) {
				assert_int_equal(buf_putc(out, '"'), 0);
				for (size_t k = start; k < start + size; k++) {
					if (p[k] == '"' || p[k] == '\\')
						assert_int_equal(buf_putc(out, '\\'), 0);
					assert_int_equal(buf_putc(out, p[k]), 0);
				}
				assert_int_equal(buf_putc(out, '"'), 0);
			} else {
				if (eight && memchr(p + start, '\0', size) == NULL)
					i++;   /* literal8 without NUL: a literal */
				assert_int_equal(buf_append(out, p + i, start + size - i), 0);
			}
			i = start + size;
			continue;
		}
		assert_int_equal(buf_putc(out, p[i++]), 0);
	}
}

struct golden_msg {
	char name[64];
	char *data;
	size_t len;
	struct imap_fetch_msg m;
	char keyword_text[256];
	const char *keywords[8];
};

static void golden_meta(const char *line, struct golden_msg *g)
{
	unsigned int seq, uid, flags;
	unsigned long long modseq, size;
	long long date;
	int zone;
	char *kw;

	memset(g, 0, sizeof(*g));
	if (sscanf(line, "meta %u %63s uid=%u modseq=%llu size=%llu flags=%u date=%lld zone=%d keywords=%255s",
		   &seq, g->name, &uid, &modseq, &size, &flags, &date, &zone, g->keyword_text) != 9)
		fail_msg("bad meta line: %s", line);
	g->data = read_file(g->name, &g->len);
	g->m = msg_of(g->data, g->len);
	g->m.seq = seq;
	g->m.uid = uid;
	g->m.modseq = modseq;
	g->m.size = size;
	g->m.flags = flags;
	g->m.internal_date = date;
	g->m.zone = zone;
	g->m.keywords = g->keywords;
	if (strcmp(g->keyword_text, "-") != 0) {
		for (kw = strtok(g->keyword_text, ","); kw != NULL && g->m.nkeywords < 8; kw = strtok(NULL, ","))
			g->keywords[g->m.nkeywords++] = kw;
	}
}

static void golden_case(const struct golden_msg *g, const char *spec, const char *want, size_t want_len,
			const char *error)
{
	size_t len;
	int rc;
	char *got = render_spec(spec, &g->m, 0, 1 << 24, &len, &rc);

	if (error != NULL) {
		if (strcmp(error, "UNKNOWN-CTE") != 0)
			fail_msg("%s %s: unexpected golden error %s", g->name, spec, error);
		if (rc != IMAP_FETCH_RENDER_UNKNOWN_CTE || len != 0)
			fail_msg("%s %s: want UNKNOWN_CTE, got %d (%zu bytes)", g->name, spec, rc, len);
	} else {
		struct buf a, b;
		buf_init(&a, 1 << 24);
		buf_init(&b, 1 << 24);
		if (rc != IMAP_FETCH_RENDER_OK)
			fail_msg("%s %s: error %d", g->name, spec, rc);
		normalise(got, len, &a);
		normalise(want, want_len, &b);
		if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
			fail_msg("%s %s:\n got  [%.*s]\n want [%.*s]", g->name, spec, (int)len, got,
				 (int)want_len, want);
		buf_free(&a);
		buf_free(&b);
	}
	free(got);
}

static void test_fetch_render_golden_dovecot(void **state)
{
	size_t len, pos = 0, cases = 0;
	char *text = read_file("golden.txt", &len);
	struct golden_msg g;
	char spec[4096];
	bool differs = false;

	(void)state;
	memset(&g, 0, sizeof(g));
	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos);
		char *line = text + pos;
		assert_non_null(nl);
		*nl = '\0';
		pos = (size_t)(nl - text) + 1;
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (strncmp(line, "meta ", 5) == 0) {
			free(g.data);
			golden_meta(line, &g);
		} else if (strncmp(line, "fetch ", 6) == 0) {
			/* "fetch SEQ (SPEC)" */
			const char *sp = strchr(line + 6, ' ');
			assert_non_null(sp);
			snprintf(spec, sizeof(spec), "%s", sp + 1);
			differs = false;
		} else if (strncmp(line, "differs ", 8) == 0) {
			differs = true;   /* on purpose, for the reason given */
		} else if (strncmp(line, "response ", 9) == 0) {
			size_t n = strtoul(line + 9, NULL, 10);
			assert_true(pos + n < len && text[pos + n] == '\n');
			if (!differs)
				golden_case(&g, spec, text + pos, n, NULL);
			pos += n + 1;
			cases++;
		} else if (strncmp(line, "error ", 6) == 0) {
			golden_case(&g, spec, NULL, 0, line + 6);
			cases++;
		} else {
			fail_msg("bad golden line: %s", line);
		}
	}
	assert_true(cases >= 100);
	free(g.data);
	free(text);
}

/* ---- behaviour ---- */

static const char simple[] =
	"From: a@example.org\r\n"
	"Subject: partial\r\n"
	"\r\n"
	"0123456789\r\n"
	"abcdef\r\n";

/* RFC 9051 6.4.5: BODY[]<start.len> is that window of BODY[], clamped;
 * past the end it is empty; the origin is echoed. */
static void test_fetch_render_partial_windows(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);
	size_t total = sizeof(simple) - 1;
	const size_t starts[] = { 0, 1, 20, 39, total - 2, total - 1, total, total + 1, 1000 };
	const size_t lens[] = { 1, 2, 3, total - 1, total, total + 1, 4294967296ull };

	(void)state;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++) {
			char spec[128], want[512];
			size_t s = starts[i], n = lens[j];
			size_t take = s >= total ? 0 : (n < total - s ? n : total - s);
			int k;

			snprintf(spec, sizeof(spec), "BODY.PEEK[]<%zu.%zu>", s, n);
			k = snprintf(want, sizeof(want), "* 1 FETCH (BODY[]<%zu> {%zu}\r\n", s, take);
			memcpy(want + k, simple + (s < total ? s : total), take);
			memcpy(want + k + take, ")\r\n", 4);
			expect(spec, &m, 0, want, (size_t)k + take + 3);
		}
	}
}

static void test_fetch_render_partial_of_parts(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);

	(void)state;
	expect("BODY.PEEK[TEXT]<10.4>", &m, 0, "* 1 FETCH (BODY[TEXT]<10> {4}\r\n\r\nab)\r\n", 0);
	expect("BODY.PEEK[HEADER]<39.5>", &m, 0, "* 1 FETCH (BODY[HEADER]<39> {2}\r\n\r\n)\r\n", 0);
	expect("BODY.PEEK[HEADER]<40.5>", &m, 0, "* 1 FETCH (BODY[HEADER]<40> {1}\r\n\n)\r\n", 0);
	expect("BODY.PEEK[HEADER]<41.5>", &m, 0, "* 1 FETCH (BODY[HEADER]<41> {0}\r\n)\r\n", 0);
	expect("BODY.PEEK[1]<0.1>", &m, 0, "* 1 FETCH (BODY[1]<0> {1}\r\n0)\r\n", 0);
	expect("BINARY.PEEK[1]<18.2>", &m, 0, "* 1 FETCH (BINARY[1]<18> {2}\r\n\r\n)\r\n", 0);
	expect("BINARY.PEEK[1]<19.9>", &m, 0, "* 1 FETCH (BINARY[1]<19> {1}\r\n\n)\r\n", 0);
	expect("BINARY.PEEK[1]<20.2>", &m, 0, "* 1 FETCH (BINARY[1]<20> {0}\r\n)\r\n", 0);
	expect("BODY.PEEK[HEADER.FIELDS (subject)]<9.100>", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)]<9> {11}\r\npartial\r\n\r\n)\r\n", 0);
}

static void test_fetch_render_item_order_and_simple_items(void **state)
{
	static const char *const kw[] = { "$Forwarded", "Junk" };
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);

	(void)state;
	m.seq = 7;
	m.uid = 4000000000u;
	m.flags = IMAP_FLAG_SEEN | IMAP_FLAG_RECENT | IMAP_FLAG_ANSWERED | IMAP_FLAG_DRAFT;
	m.keywords = kw;
	m.nkeywords = 2;
	m.modseq = 9007199254740993ull;
	m.size = 12345678901ull;
	m.internal_date = 1704186672;  /* 2024-01-02 09:11:12 UTC */
	m.zone = 60;
	expect("(RFC822.SIZE INTERNALDATE MODSEQ FLAGS UID)", &m, 0,
	       "* 7 FETCH (UID 4000000000 FLAGS (\\Answered \\Seen \\Draft \\Recent $Forwarded Junk)"
	       " MODSEQ (9007199254740993) INTERNALDATE \"02-Jan-2024 10:11:12 +0100\""
	       " RFC822.SIZE 12345678901)\r\n", 0);
	/* IMAP4rev2 has no \Recent */
	expect("FLAGS", &m, IMAP_FETCH_R_REV2,
	       "* 7 FETCH (FLAGS (\\Answered \\Seen \\Draft $Forwarded Junk))\r\n", 0);
	m.flags = 0;
	m.nkeywords = 0;
	expect("FLAGS", &m, 0, "* 7 FETCH (FLAGS ())\r\n", 0);
	/* UID FETCH always sends UID (RFC 9051 6.4.9), once */
	expect("FLAGS", &m, IMAP_FETCH_R_UID, "* 7 FETCH (UID 4000000000 FLAGS ())\r\n", 0);
	expect("(UID FLAGS)", &m, IMAP_FETCH_R_UID, "* 7 FETCH (UID 4000000000 FLAGS ())\r\n", 0);
	/* CHANGEDSINCE implies MODSEQ (RFC 7162 3.1.4.1) */
	expect("(FLAGS) (CHANGEDSINCE 5)", &m, IMAP_FETCH_R_UID,
	       "* 7 FETCH (UID 4000000000 FLAGS () MODSEQ (9007199254740993))\r\n", 0);
	/* the macros */
	expect("FAST", &m, 0,
	       "* 7 FETCH (FLAGS () INTERNALDATE \"02-Jan-2024 10:11:12 +0100\" RFC822.SIZE 12345678901)\r\n", 0);
}

static void test_fetch_render_keywords_that_are_no_atoms_are_skipped(void **state)
{
	static const char *const kw[] = { "ok", "", "two words", "a(b", "\\Seen", "x]", "caf\xc3\xa9", "last" };
	struct imap_fetch_msg m = msg_of(NULL, 0);

	(void)state;
	m.keywords = kw;
	m.nkeywords = 8;
	expect("FLAGS", &m, 0, "* 1 FETCH (FLAGS (ok last))\r\n", 0);
}

static void test_fetch_render_internaldate(void **state)
{
	static const struct { int64_t t; int zone; const char *want; } cases[] = {
		{ 0, 0, "01-Jan-1970 00:00:00 +0000" },
		{ -1, 0, "31-Dec-1969 23:59:59 +0000" },   /* mtime before 1970 */
		{ 1709164801, 330, "29-Feb-2024 05:30:01 +0530" },
		{ 1709164801, -480, "28-Feb-2024 16:00:01 -0800" },
		{ 1709164801, -210, "28-Feb-2024 20:30:01 -0330" },
		{ 1709164801, 24 * 60, "29-Feb-2024 00:00:01 +0000" },   /* no such zone */
		{ 253402300799, 0, "31-Dec-9999 23:59:59 +0000" },
		{ 253402300800, 0, "01-Jan-1970 00:00:00 +0000" },       /* year 10000 */
		{ INT64_MAX, 60, "01-Jan-1970 00:00:00 +0000" },
		{ INT64_MIN, -60, "01-Jan-1970 00:00:00 +0000" },
	};
	struct imap_fetch_msg m = msg_of(NULL, 0);

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char want[128];
		m.internal_date = cases[i].t;
		m.zone = cases[i].zone;
		snprintf(want, sizeof(want), "* 1 FETCH (INTERNALDATE \"%s\")\r\n", cases[i].want);
		expect("INTERNALDATE", &m, 0, want, 0);
	}
}

/* RFC 3501 6.4.5: flags changed by the FETCH are sent with it. */
static void test_fetch_render_seen(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);
	struct req r;

	(void)state;
	req_parse(&r, "BODY[TEXT]", false);
	assert_true(imap_fetch_render_sets_seen(&r.f, 0, false));
	assert_true(imap_fetch_render_sets_seen(&r.f, IMAP_FLAG_RECENT, false));
	assert_false(imap_fetch_render_sets_seen(&r.f, IMAP_FLAG_SEEN, false));
	assert_false(imap_fetch_render_sets_seen(&r.f, 0, true));   /* EXAMINE */
	req_free(&r);
	const char *peeks[] = { "BODY.PEEK[TEXT]", "RFC822.HEADER", "BINARY.PEEK[1]", "BINARY.SIZE[1]",
				"(FLAGS ENVELOPE BODYSTRUCTURE)" };
	for (size_t i = 0; i < sizeof(peeks) / sizeof(peeks[0]); i++) {
		req_parse(&r, peeks[i], false);
		assert_false(imap_fetch_render_sets_seen(&r.f, 0, false));
		req_free(&r);
	}
	const char *setters[] = { "RFC822", "RFC822.TEXT", "BINARY[1]", "(UID BODY[HEADER])" };
	for (size_t i = 0; i < sizeof(setters) / sizeof(setters[0]); i++) {
		req_parse(&r, setters[i], false);
		assert_true(imap_fetch_render_sets_seen(&r.f, 0, false));
		req_free(&r);
	}
	m.flags = IMAP_FLAG_SEEN;
	m.seen_set = true;
	m.modseq = 12;
	expect("BODY[TEXT]<0.3>", &m, 0, "* 1 FETCH (FLAGS (\\Seen) BODY[TEXT]<0> {3}\r\n012)\r\n", 0);
	expect("(FLAGS BODY[TEXT]<0.3>)", &m, 0, "* 1 FETCH (FLAGS (\\Seen) BODY[TEXT]<0> {3}\r\n012)\r\n", 0);
	/* under CONDSTORE the new MODSEQ goes with it (RFC 7162 3.2) */
	expect("BODY[TEXT]<0.3>", &m, IMAP_FETCH_R_CONDSTORE | IMAP_FETCH_R_UID,
	       "* 1 FETCH (UID 1 FLAGS (\\Seen) MODSEQ (12) BODY[TEXT]<0> {3}\r\n012)\r\n", 0);
}

static void test_fetch_render_needs(void **state)
{
	static const struct { const char *spec; unsigned int cached; enum imap_fetch_need need; } cases[] = {
		{ "(UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ)", 0, IMAP_FETCH_NEED_NONE },
		{ "FAST", 0, IMAP_FETCH_NEED_NONE },
		{ "ALL", 0, IMAP_FETCH_NEED_HEADER },
		{ "ALL", IMAP_FETCH_ENVELOPE, IMAP_FETCH_NEED_NONE },
		{ "FULL", IMAP_FETCH_ENVELOPE, IMAP_FETCH_NEED_MESSAGE },
		{ "FULL", IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY, IMAP_FETCH_NEED_NONE },
		{ "(ENVELOPE BODYSTRUCTURE)", IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODYSTRUCTURE, IMAP_FETCH_NEED_NONE },
		{ "(ENVELOPE BODYSTRUCTURE)", IMAP_FETCH_ENVELOPE, IMAP_FETCH_NEED_MESSAGE },
		{ "RFC822.HEADER", 0, IMAP_FETCH_NEED_HEADER },
		{ "(UID BODY.PEEK[HEADER.FIELDS (From Subject)])", 0, IMAP_FETCH_NEED_HEADER },
		{ "BODY.PEEK[HEADER.FIELDS.NOT (Received)]<0.100>", 0, IMAP_FETCH_NEED_HEADER },
		{ "BODY.PEEK[HEADER]", 0, IMAP_FETCH_NEED_HEADER },
		{ "BODY.PEEK[1.HEADER]", 0, IMAP_FETCH_NEED_MESSAGE },
		{ "BODY.PEEK[1.MIME]", 0, IMAP_FETCH_NEED_MESSAGE },
		{ "BODY.PEEK[TEXT]", 0, IMAP_FETCH_NEED_MESSAGE },
		{ "BINARY.SIZE[1]", 0, IMAP_FETCH_NEED_MESSAGE },
		{ "RFC822", 0, IMAP_FETCH_NEED_MESSAGE },
		{ "RFC822.TEXT", 0, IMAP_FETCH_NEED_MESSAGE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct req r;
		req_parse(&r, cases[i].spec, false);
		if (imap_fetch_render_needs(&r.f, cases[i].cached) != cases[i].need)
			fail_msg("%s (cached %#x): want %d", cases[i].spec, cases[i].cached, cases[i].need);
		req_free(&r);
	}
}

/* What needs only the header renders the same from a header prefix. */
static void test_fetch_render_header_prefix_is_enough(void **state)
{
	static const char *const specs[] = {
		"ENVELOPE", "RFC822.HEADER", "BODY.PEEK[HEADER]", "BODY.PEEK[HEADER.FIELDS (Subject To cc)]",
		"BODY.PEEK[HEADER.FIELDS.NOT (Subject)]<10.30>",
	};
	size_t len;
	char *nested = read_file("nested.eml", &len);
	const char *end = strstr(nested, "\r\n\r\n");
	struct imap_fetch_msg whole = msg_of(nested, len), prefix;

	(void)state;
	assert_non_null(end);
	prefix = msg_of(nested, (size_t)(end + 4 - nested));
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		size_t a_len, b_len;
		int a_rc, b_rc;
		struct req r;
		char *a = render_spec(specs[i], &whole, 0, 1 << 20, &a_len, &a_rc);
		char *b = render_spec(specs[i], &prefix, 0, 1 << 20, &b_len, &b_rc);

		req_parse(&r, specs[i], false);
		assert_int_equal(imap_fetch_render_needs(&r.f, 0), IMAP_FETCH_NEED_HEADER);
		req_free(&r);
		assert_int_equal(a_rc, IMAP_FETCH_RENDER_OK);
		assert_int_equal(b_rc, IMAP_FETCH_RENDER_OK);
		assert_int_equal(a_len, b_len);
		assert_memory_equal(a, b, a_len);
		free(a);
		free(b);
	}
	free(nested);
}

static void test_fetch_render_cached_texts_need_no_message(void **state)
{
	struct imap_fetch_msg m = msg_of(NULL, 0);
	size_t len;
	int rc;
	char *got;

	(void)state;
	m.envelope = "(NIL \"cached\" NIL NIL NIL NIL NIL NIL NIL NIL)";
	m.envelope_len = strlen(m.envelope);
	m.body = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)";
	m.body_len = strlen(m.body);
	m.bodystructure = "BS";
	m.bodystructure_len = 2;
	expect("FULL", &m, 0,
	       "* 1 FETCH (FLAGS () INTERNALDATE \"01-Jan-1970 00:00:00 +0000\" RFC822.SIZE 0"
	       " ENVELOPE (NIL \"cached\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	       " BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0))\r\n", 0);
	expect("BODYSTRUCTURE", &m, 0, "* 1 FETCH (BODYSTRUCTURE BS)\r\n", 0);
	/* bytes needed and none given */
	got = render_spec("BODY.PEEK[TEXT]", &m, 0, 1 << 20, &len, &rc);
	assert_int_equal(rc, IMAP_FETCH_RENDER_NO_DATA);
	assert_int_equal(len, 0);
	free(got);
	m.envelope = NULL;
	got = render_spec("(FLAGS ENVELOPE)", &m, 0, 1 << 20, &len, &rc);
	assert_int_equal(rc, IMAP_FETCH_RENDER_NO_DATA);
	assert_int_equal(len, 0);
	free(got);
}

/* A pre-parsed tree is used as it is. */
static void test_fetch_render_given_mime_tree(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);
	struct mime_message *mime;
	const char *err;

	(void)state;
	assert_int_equal(mime_parse(simple, sizeof(simple) - 1, &mime, &err), 0);
	m.mime = mime;
	m.data = NULL;
	expect("(BODY.PEEK[TEXT] BINARY.SIZE[1])", &m, 0,
	       "* 1 FETCH (BODY[TEXT] {20}\r\n0123456789\r\nabcdef\r\n BINARY.SIZE[1] 20)\r\n", 0);
	mime_message_free(&mime);
}

/* The response is bounded: over max, nothing is written. */
static void test_fetch_render_max(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);
	const char *specs[] = { "(UID BODY.PEEK[TEXT])", "(UID BINARY.PEEK[1])", "(UID ENVELOPE)",
				"(UID BODY.PEEK[HEADER.FIELDS (Subject)])", "(FLAGS)" };
	struct buf out;
	struct req r;

	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct imap_fetch_render_opts o = { 0, 1 << 20 };
		size_t n;

		req_parse(&r, specs[i], false);
		buf_init(&out, 1 << 20);
		assert_int_equal(buf_append_str(&out, "before"), 0);
		assert_int_equal(imap_fetch_render(&out, &r.f, &m, &o), IMAP_FETCH_RENDER_OK);
		n = out.len - 6;
		buf_truncate(&out, 6);
		o.max = n;   /* exactly enough */
		assert_int_equal(imap_fetch_render(&out, &r.f, &m, &o), IMAP_FETCH_RENDER_OK);
		assert_int_equal(out.len, 6 + n);
		assert_int_equal(out.max, 1 << 20);
		buf_truncate(&out, 6);
		for (size_t max = 0; max < n; max++) {
			struct imap_fetch_render_opts small = { 0, max };
			assert_int_equal(imap_fetch_render(&out, &r.f, &m, &small), IMAP_FETCH_RENDER_TOO_BIG);
			assert_int_equal(out.len, 6);
			assert_string_equal(buf_cstr(&out), "before");
			assert_int_equal(out.max, 1 << 20);
		}
		/* out's own cap counts too */
		out.max = 6 + n - 1;
		assert_int_equal(imap_fetch_render(&out, &r.f, &m, &o), IMAP_FETCH_RENDER_TOO_BIG);
		assert_int_equal(out.len, 6);
		assert_int_equal(out.max, 6 + n - 1);
		buf_free(&out);
		req_free(&r);
	}
}

static const char nul_msg[] =
	"Subject: n\r\n"
	"Content-Type: multipart/mixed; boundary=b\r\n"
	"\r\n"
	"--b\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	"AGFiAGM=\r\n"          /* \0 a b \0 c */
	"--b\r\n"
	"\r\n"
	"raw\0nul\r\n"
	"--b--\r\n";

/* No literal carries NUL: 0x80 in BODY[], literal8 in BINARY[] only
 * when the bytes sent hold one. */
static void test_fetch_render_nul(void **state)
{
	struct imap_fetch_msg m = msg_of(nul_msg, sizeof(nul_msg) - 1);

	(void)state;
	expect("BODY.PEEK[2]", &m, 0, "* 1 FETCH (BODY[2] {7}\r\nraw\x80nul)\r\n", 0);
	EXPECT_BYTES("BINARY.PEEK[2]", &m, 0, "* 1 FETCH (BINARY[2] ~{7}\r\nraw\0nul)\r\n");
	expect("BINARY.PEEK[2]<4.3>", &m, 0, "* 1 FETCH (BINARY[2]<4> {3}\r\nnul)\r\n", 0);
	EXPECT_BYTES("BINARY.PEEK[1]", &m, 0, "* 1 FETCH (BINARY[1] ~{5}\r\n\0ab\0c)\r\n");
	expect("BINARY.PEEK[1]<1.2>", &m, 0, "* 1 FETCH (BINARY[1]<1> {2}\r\nab)\r\n", 0);
	EXPECT_BYTES("BINARY.PEEK[1]<1.3>", &m, 0, "* 1 FETCH (BINARY[1]<1> ~{3}\r\nab\0)\r\n");
	expect("BINARY.SIZE[1]", &m, 0, "* 1 FETCH (BINARY.SIZE[1] 5)\r\n", 0);
}

/* Data in wire form (data_wire), or as stored with LF and its wire size
 * (data_sized), is sent whole without a parse: the same bytes as from
 * the parsed message, for whole messages, windows, NULs, a message
 * without a body or a header end, and with other items that still need
 * the tree. */
static void test_fetch_render_wire_data_same_as_parsed(void **state)
{
	static const char no_body[] = "Subject: only a header\r\n";
	static const char no_end[] = "Subject: x\r\nbroken header line\r\nmore";
	static const char blank_first[] = "\r\nbody at once\r\n";
	const struct { const char *p; size_t n; } msgs[] = {
		{ simple, sizeof(simple) - 1 }, { nul_msg, sizeof(nul_msg) - 1 },
		{ no_body, sizeof(no_body) - 1 }, { no_end, sizeof(no_end) - 1 },
		{ blank_first, sizeof(blank_first) - 1 }, { "", 0 },
	};
	const char *specs[] = { "BODY.PEEK[]", "RFC822", "(UID FLAGS RFC822.SIZE BODY.PEEK[])",
				"BODY.PEEK[]<3.10>", "BODY.PEEK[]<0.1>", "BODY.PEEK[]<500.2>",
				"(BODY.PEEK[] BODY.PEEK[]<5.5> RFC822)", "(BODY.PEEK[] BODY.PEEK[1] BODYSTRUCTURE)",
				"(RFC822.HEADER BODY.PEEK[])", "(BINARY.PEEK[] BODY.PEEK[])" };

	(void)state;
	for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
		for (size_t j = 0; j < sizeof(specs) / sizeof(specs[0]); j++) {
			struct imap_fetch_msg m = msg_of(msgs[i].p, msgs[i].n);
			size_t n1, n2, n3, nlf = 0;
			int rc1, rc2, rc3;
			char *parsed = render_spec(specs[j], &m, 0, 1 << 24, &n1, &rc1);
			m.data_wire = true;
			char *wire = render_spec(specs[j], &m, 0, 1 << 24, &n2, &rc2);
			/* stored with LF, its wire size given */
			char *lf = malloc(msgs[i].n + 1);
			assert_non_null(lf);
			for (size_t k = 0; k < msgs[i].n; k++)
				if (!(msgs[i].p[k] == '\r' && k + 1 < msgs[i].n && msgs[i].p[k + 1] == '\n'))
					lf[nlf++] = msgs[i].p[k];
			m.data = lf;
			m.len = nlf;
			m.data_wire = false;
			m.data_sized = true;
			char *sized = render_spec(specs[j], &m, 0, 1 << 24, &n3, &rc3);
			assert_int_equal(rc1, IMAP_FETCH_RENDER_OK);
			assert_int_equal(rc2, IMAP_FETCH_RENDER_OK);
			assert_int_equal(rc3, IMAP_FETCH_RENDER_OK);
			if (n1 != n2 || memcmp(parsed, wire, n1) != 0)
				fail_msg("message %zu, %s:\n parsed [%.*s]\n wire [%.*s]", i, specs[j], (int)n1,
					 parsed, (int)n2, wire);
			if (n1 != n3 || memcmp(parsed, sized, n1) != 0)
				fail_msg("message %zu, %s:\n parsed [%.*s]\n sized [%.*s]", i, specs[j], (int)n1,
					 parsed, (int)n3, sized);
			free(parsed);
			free(wire);
			free(sized);
			free(lf);
		}
	}
	/* stored data that is not of the wire size given: NO_DATA, nothing
	 * written (the caller reads it again); a window of it is parsed */
	struct imap_fetch_msg lf = msg_of("a\nb\n", 4);
	size_t nl;
	int rcl;
	lf.data_sized = true;
	lf.size = 7;
	char *bad = render_spec("(UID BODY.PEEK[])", &lf, 0, 1 << 24, &nl, &rcl);
	assert_int_equal(rcl, IMAP_FETCH_RENDER_NO_DATA);
	assert_int_equal(nl, 0);
	free(bad);
	lf.size = 6;
	expect("(UID BODY.PEEK[])", &lf, 0, "* 1 FETCH (UID 1 BODY[] {6}\r\na\r\nb\r\n)\r\n", 0);
	lf.size = 5;
	expect("BODY.PEEK[]<1.3>", &lf, 0, "* 1 FETCH (BODY[]<1> {3}\r\n\r\nb)\r\n", 0);
	/* and bounded the same way: one byte short, nothing written */
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);
	size_t n;
	int rc;
	m.data_wire = true;
	free(render_spec("BODY.PEEK[]", &m, 0, 1 << 24, &n, &rc));
	char *none = render_spec("BODY.PEEK[]", &m, 0, n - 1, &n, &rc);
	assert_int_equal(rc, IMAP_FETCH_RENDER_TOO_BIG);
	assert_int_equal(n, 0);
	free(none);
}

/* HEADER.FIELDS: names case-insensitive, echoed in upper case (quoted
 * when no atom), every continuation line, the blank line at the end. */
static void test_fetch_render_header_fields(void **state)
{
	static const char msg[] =
		"Received: from a\r\n\tby b\r\n"
		"SUBJECT: one\r\n"
		"X-A(b: odd\r\n"
		"subject: two\r\n   folded\r\n"
		"To: t\r\n"
		"\r\n"
		"body\r\n";
	static const char headeronly[] = "From: h@example.org\r\nSubject: no body\r\n";
	struct imap_fetch_msg m = msg_of(msg, sizeof(msg) - 1);

	(void)state;
	expect("BODY.PEEK[HEADER.FIELDS (Subject)]", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS (SUBJECT)] {41}\r\n"
	       "SUBJECT: one\r\nsubject: two\r\n   folded\r\n\r\n)\r\n", 0);
	expect("BODY.PEEK[HEADER.FIELDS (\"x-a(B\" to)]", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS (\"X-A(B\" TO)] {21}\r\nX-A(b: odd\r\nTo: t\r\n\r\n)\r\n", 0);
	expect("BODY.PEEK[HEADER.FIELDS.NOT (subject \"x-a(b\" to)]", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT \"X-A(B\" TO)] {27}\r\n"
	       "Received: from a\r\n\tby b\r\n\r\n)\r\n", 0);
	expect("BODY.PEEK[HEADER.FIELDS (Nothing)]", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS (NOTHING)] {2}\r\n\r\n)\r\n", 0);
	/* no blank line in the message: one is added, also to .NOT (ours:
	 * Dovecot leaves it out there, see imap_mime.c) */
	m = msg_of(headeronly, sizeof(headeronly) - 1);
	expect("BODY.PEEK[HEADER.FIELDS.NOT (Subject)]", &m, 0,
	       "* 1 FETCH (BODY[HEADER.FIELDS.NOT (SUBJECT)] {23}\r\nFrom: h@example.org\r\n\r\n)\r\n", 0);
}

/* IMAP4rev2 and UTF8=ACCEPT: UTF-8 in quoted strings, message/global. */
static void test_fetch_render_rev2_strings(void **state)
{
	static const char msg[] =
		"Subject: Caf\xc3\xa9\r\n"
		"Content-Type: message/global\r\n"
		"\r\n"
		"Subject: inner\r\n"
		"\r\n"
		"x\r\n";
	struct imap_fetch_msg m = msg_of(msg, sizeof(msg) - 1);

	(void)state;
	expect("ENVELOPE", &m, 0,
	       "* 1 FETCH (ENVELOPE (NIL {5}\r\nCaf\xc3\xa9 NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", 0);
	expect("ENVELOPE", &m, IMAP_FETCH_R_UTF8,
	       "* 1 FETCH (ENVELOPE (NIL \"Caf\xc3\xa9\" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n", 0);
	expect("BODY", &m, 0, "* 1 FETCH (BODY (\"message\" \"global\" NIL NIL NIL \"7bit\" 21))\r\n", 0);
	expect("BODY", &m, IMAP_FETCH_R_REV2,
	       "* 1 FETCH (BODY (\"message\" \"global\" NIL NIL NIL \"7bit\" 21"
	       " (NIL \"inner\" NIL NIL NIL NIL NIL NIL NIL NIL)"
	       " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 1) 3))\r\n", 0);
	/* RFC822 items are IMAP4rev1 only but rendered for anyone */
	expect("RFC822.HEADER", &m, IMAP_FETCH_R_REV2,
	       "* 1 FETCH (RFC822.HEADER {48}\r\nSubject: Caf\xc3\xa9\r\nContent-Type: message/global\r\n\r\n)\r\n", 0);
}

static void test_fetch_render_unknown_cte(void **state)
{
	size_t len;
	char *uu = read_file("uuencode.eml", &len);
	struct imap_fetch_msg m = msg_of(uu, len);
	struct imap_fetch_render_opts o = { 0, 1 << 20 };
	const char *specs[] = { "(UID BINARY.PEEK[2])", "(FLAGS BINARY.SIZE[2])", "(BINARY.PEEK[1] BINARY[2]<0.1>)" };
	struct buf out;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct req r;
		req_parse(&r, specs[i], false);
		buf_init(&out, 1 << 20);
		assert_int_equal(buf_append_str(&out, "x"), 0);
		assert_int_equal(imap_fetch_render(&out, &r.f, &m, &o), IMAP_FETCH_RENDER_UNKNOWN_CTE);
		assert_string_equal(buf_cstr(&out), "x");
		buf_free(&out);
		req_free(&r);
	}
	/* BODY[] of it is fine */
	expect("BODY.PEEK[2]<0.5>", &m, 0, "* 1 FETCH (BODY[2]<0> {5}\r\nbegin)\r\n", 0);
	free(uu);
}

/* Sections in the order asked, after the simple items, one response. */
static void test_fetch_render_many_sections(void **state)
{
	struct imap_fetch_msg m = msg_of(simple, sizeof(simple) - 1);

	(void)state;
	expect("(BODY.PEEK[TEXT]<0.2> RFC822.SIZE BINARY.SIZE[1] BODY.PEEK[HEADER]<0.4> RFC822.HEADER UID "
	       "BODY.PEEK[TEXT]<0.2>)", &m, 0,
	       "* 1 FETCH (UID 1 RFC822.SIZE 61 RFC822.HEADER {41}\r\nFrom: a@example.org\r\nSubject: partial\r\n\r\n"
	       " BODY[TEXT]<0> {2}\r\n01 BINARY.SIZE[1] 20 BODY[HEADER]<0> {4}\r\nFrom BODY[TEXT]<0> {2}\r\n01)\r\n",
	       0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fetch_render_golden_dovecot),
		cmocka_unit_test(test_fetch_render_partial_windows),
		cmocka_unit_test(test_fetch_render_partial_of_parts),
		cmocka_unit_test(test_fetch_render_item_order_and_simple_items),
		cmocka_unit_test(test_fetch_render_keywords_that_are_no_atoms_are_skipped),
		cmocka_unit_test(test_fetch_render_internaldate),
		cmocka_unit_test(test_fetch_render_seen),
		cmocka_unit_test(test_fetch_render_needs),
		cmocka_unit_test(test_fetch_render_header_prefix_is_enough),
		cmocka_unit_test(test_fetch_render_cached_texts_need_no_message),
		cmocka_unit_test(test_fetch_render_given_mime_tree),
		cmocka_unit_test(test_fetch_render_max),
		cmocka_unit_test(test_fetch_render_nul),
		cmocka_unit_test(test_fetch_render_wire_data_same_as_parsed),
		cmocka_unit_test(test_fetch_render_header_fields),
		cmocka_unit_test(test_fetch_render_rev2_strings),
		cmocka_unit_test(test_fetch_render_unknown_cte),
		cmocka_unit_test(test_fetch_render_many_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
