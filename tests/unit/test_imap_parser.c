/* test_imap_parser: the incremental IMAP command parser (common/imap_parser.c).
 *
 * Most cases are golden: a client byte stream and the transcript of the
 * events it gives (commands rendered in a canonical form, continuations,
 * errors, raw lines).  Every golden case is run three ways: the whole
 * stream at once, one byte at a time, and in pseudo-random chunks; the
 * transcripts must be identical. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "imap_parser.h"

/* ------------------------------------------------------------ rendering */

static void render_bytes(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_printf(out, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
}

static void render_args(struct buf *out, const struct imap_arg *a, unsigned int n);

static void render_arg(struct buf *out, const struct imap_arg *a)
{
	switch (a->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
		buf_append(out, a->text, a->len);
		break;
	case IMAP_ARG_QUOTED:
		buf_putc(out, '"');
		render_bytes(out, a->text, a->len);
		buf_putc(out, '"');
		break;
	case IMAP_ARG_LITERAL:
		buf_printf(out, "%s{%zu%s}\"", (a->flags & IMAP_ARG_F_BINARY) ? "~" : "", a->len,
			   (a->flags & IMAP_ARG_F_NONSYNC) ? "+" : "");
		render_bytes(out, a->text, a->len);
		buf_putc(out, '"');
		break;
	case IMAP_ARG_STREAM:
		buf_printf(out, "<stream %zu%s>", a->len, (a->flags & IMAP_ARG_F_SINK_ERR) ? " failed" : "");
		break;
	case IMAP_ARG_LIST:
		buf_putc(out, '(');
		render_args(out, a->items, a->count);
		buf_putc(out, ')');
		break;
	case IMAP_ARG_SECTION:
		buf_append(out, a->text, a->len);
		buf_putc(out, '[');
		render_args(out, a->items, a->count);
		buf_putc(out, ']');
		if (a->suffix != NULL)
			buf_append(out, a->suffix, a->suffix_len);
		break;
	}
	if (a->type == IMAP_ARG_NIL)
		buf_append_str(out, "/nil");
	if (a->flags & IMAP_ARG_F_NUL)
		buf_append_str(out, "/nul");
	if (a->flags & IMAP_ARG_F_8BIT)
		buf_append_str(out, "/8bit");
}

static void render_args(struct buf *out, const struct imap_arg *a, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(out, ' ');
		render_arg(out, &a[i]);
	}
}

static void render_event(struct buf *out, struct imap_parser *p, enum imap_parse_event ev)
{
	const struct imap_cmd *cmd;
	const struct imap_parse_error *err;
	const char *line;
	size_t len;

	switch (ev) {
	case IMAP_PARSE_MORE:
		break;
	case IMAP_PARSE_COMMAND:
		cmd = imap_parser_command(p);
		buf_printf(out, "CMD %s %s%s", cmd->tag, cmd->uid ? "UID " : "", cmd->name);
		if (cmd->count > 0)
			buf_putc(out, ' ');
		render_args(out, cmd->args, cmd->count);
		buf_putc(out, '\n');
		break;
	case IMAP_PARSE_CONTINUE:
		buf_append_str(out, "CONT\n");
		break;
	case IMAP_PARSE_ERROR:
		err = imap_parser_error(p);
		buf_printf(out, "ERR %s %s %s%s%s%s\n", err->tag != NULL ? err->tag : "*",
			   err->kind == IMAP_REPLY_BAD ? "BAD" : "NO", err->code != NULL ? "[" : "",
			   err->code != NULL ? err->code : "", err->code != NULL ? "] " : "", err->text);
		break;
	case IMAP_PARSE_LINE:
		line = imap_parser_line(p, &len);
		buf_append_str(out, "LINE \"");
		render_bytes(out, line, len);
		buf_append_str(out, "\"\n");
		break;
	}
}

/* ------------------------------------------------------------ driving */

struct sink_state {
	struct buf data;
	int fail_after;               /* fail once more than this many bytes came; -1 never */
};

struct policy_state {
	bool stream_appends;          /* APPEND literals at index >= 1 go to the sink */
	bool refuse_unknown;          /* refuse literals of the command XREFUSE */
	struct sink_state sink;
	unsigned int calls;
	struct imap_literal_info last;  /* the last literal asked about */
	char last_name[IMAP_NAME_MAX + 1];
};

static int test_sink_write(void *ctx, const unsigned char *data, size_t len)
{
	struct sink_state *s = ctx;

	if (s->fail_after >= 0 && s->data.len + len > (size_t)s->fail_after)
		return -1;
	return buf_append(&s->data, data, len);
}

static enum imap_literal_action test_policy(void *ctx, const struct imap_literal_info *info,
					    struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r)
{
	struct policy_state *st = ctx;

	st->calls++;
	st->last = *info;
	snprintf(st->last_name, sizeof(st->last_name), "%s", info->name);
	if (st->refuse_unknown && strcmp(info->name, "XREFUSE") == 0) {
		refusal_r->kind = IMAP_REPLY_BAD;
		refusal_r->code = NULL;
		refusal_r->text = "Unknown command";
		return IMAP_LITERAL_REFUSE;
	}
	if (st->stream_appends && strcmp(info->name, "APPEND") == 0 && info->depth == 0 && info->index >= 1) {
		sink_r->write = test_sink_write;
		sink_r->ctx = &st->sink;
		return IMAP_LITERAL_SINK;
	}
	return IMAP_LITERAL_MEMORY;
}

/* Feed len bytes in chunks given by next_chunk and render every event. */
static void drive(struct imap_parser *p, const char *in, size_t len, size_t (*next_chunk)(size_t *state),
		  size_t seed, struct buf *out)
{
	size_t pos = 0, st = seed;
	unsigned int stuck = 0;

	while (pos < len) {
		size_t n = next_chunk(&st), used = 99999;
		enum imap_parse_event ev;

		if (n > len - pos)
			n = len - pos;
		ev = imap_parser_feed(p, in + pos, n, &used);
		assert_true(used <= n);
		if (ev == IMAP_PARSE_MORE)
			assert_int_equal(used, n);
		stuck = used == 0 ? stuck + 1 : 0;
		assert_true(stuck < 3);
		pos += used;
		render_event(out, p, ev);
	}
}

static size_t chunk_all(size_t *st)
{
	(void)st;
	return SIZE_MAX;
}

static size_t chunk_one(size_t *st)
{
	(void)st;
	return 1;
}

static size_t chunk_random(size_t *st)
{
	*st = *st * 6364136223846793005ULL + 1442695040888963407ULL;
	return 1 + (*st >> 33) % 7;
}

static struct imap_parser *parser_with(const struct imap_parser_limits *limits, struct policy_state *ps)
{
	struct imap_parser_limits l;
	struct imap_parser *p;

	if (limits == NULL) {
		imap_parser_limits_default(&l);
		limits = &l;
	}
	p = imap_parser_new(limits);
	assert_non_null(p);
	if (ps != NULL)
		imap_parser_set_literal_policy(p, test_policy, ps);
	return p;
}

/* Run one stream all three ways; return the transcript (caller frees). */
static char *transcript_with(const struct imap_parser_limits *limits, const struct policy_state *ps_template,
			     const char *in, size_t len)
{
	size_t (*ways[])(size_t *) = { chunk_all, chunk_one, chunk_random, chunk_random };
	char *first = NULL;

	for (size_t w = 0; w < sizeof(ways) / sizeof(ways[0]); w++) {
		struct policy_state ps;
		struct imap_parser *p;
		struct buf out;

		if (ps_template != NULL) {
			ps = *ps_template;
			buf_init(&ps.sink.data, 1 << 24);
		}
		p = parser_with(limits, ps_template != NULL ? &ps : NULL);
		buf_init(&out, 1 << 24);
		drive(p, in, len, ways[w], w * 7919, &out);
		if (ps_template != NULL) {
			buf_printf(&out, "SINK \"");
			render_bytes(&out, buf_cstr(&ps.sink.data), ps.sink.data.len);
			buf_printf(&out, "\"\n");
			buf_free(&ps.sink.data);
		}
		if (first == NULL) {
			first = strdup(buf_cstr(&out));
		} else if (strcmp(first, buf_cstr(&out)) != 0) {
			print_error("chunking %zu differs:\n--- whole\n%s--- chunked\n%s", w, first, buf_cstr(&out));
			fail();
		}
		buf_free(&out);
		imap_parser_free(&p);
		assert_null(p);
	}
	return first;
}

static void expect_with(const struct imap_parser_limits *limits, const struct policy_state *ps,
			const char *in, const char *expected)
{
	char *got = transcript_with(limits, ps, in, strlen(in));

	if (strcmp(got, expected) != 0) {
		print_error("input:\n%s\n--- expected\n%s--- got\n%s", in, expected, got);
		free(got);
		fail();
	}
	free(got);
}

static void expect(const char *in, const char *expected)
{
	expect_with(NULL, NULL, in, expected);
}

/* ------------------------------------------------------------ golden cases */

struct golden {
	const char *in;
	const char *out;
	size_t len;                   /* bytes of in; 0: strlen (for inputs with NUL) */
};

/* A golden case whose input may hold NUL bytes. */
#define GOLDEN_NUL(in, out) { in, out, sizeof(in) - 1 }
/* An ordinary golden case. */
#define G(in, out) { in, out, 0 }

static void expect_golden(const struct golden *g, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = g[i].len > 0 ? g[i].len : strlen(g[i].in);
		char *got = transcript_with(NULL, NULL, g[i].in, len);

		if (strcmp(got, g[i].out) != 0) {
			print_error("case %zu input:\n%s\n--- expected\n%s--- got\n%s", i, g[i].in, g[i].out, got);
			free(got);
			fail();
		}
		free(got);
	}
}

/* Command lines as real clients send them (from RFC 3501 / RFC 9051
 * examples and the documented behaviour of the clients named). */
static const struct golden client_lines[] = {
	/* RFC 9051 6.1.1, 6.2.3 */
	G("a441 CAPABILITY\r\n", "CMD a441 CAPABILITY\n"),
	G("a001 login SMITH SESAME\r\n", "CMD a001 LOGIN SMITH SESAME\n"),
	G("A142 SELECT INBOX\r\n", "CMD A142 SELECT INBOX\n"),
	G("A932 EXAMINE blurdybloop\r\n", "CMD A932 EXAMINE blurdybloop\n"),
	G("A682 LIST \"\" *\r\n", "CMD A682 LIST \"\" *\n"),
	G("A101 LIST \"\" \"\"\r\n", "CMD A101 LIST \"\" \"\"\n"),
	G("A102 LIST #news.comp.mail.misc \"\"\r\n", "CMD A102 LIST #news.comp.mail.misc \"\"\n"),
	G("A202 LIST ~/Mail/ %\r\n", "CMD A202 LIST ~/Mail/ %\n"),
	G("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n",
	  "CMD A042 STATUS blurdybloop (UIDNEXT MESSAGES)\n"),
	G("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
	  "CMD A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\n"),
	G("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "CMD A003 STORE 2:4 +FLAGS (\\Deleted)\n"),
	G("A999 UID FETCH 4827313:4828442 FLAGS\r\n", "CMD A999 UID FETCH 4827313:4828442 FLAGS\n"),
	G("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	  "CMD A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\n"),
	G("A284 SEARCH CHARSET UTF-8 TEXT {14+}\r\n\xd0\x9d\xd0\xb8\xd0\xba\xd0\xbe\xd0\xbb\xd0\xb0\xd0\xb9\r\n",
	  "CMD A284 SEARCH CHARSET UTF-8 TEXT {14+}\"\\xd0\\x9d\\xd0\\xb8\\xd0\\xba\\xd0\\xbe\\xd0\\xbb\\xd0\\xb0\\xd0\\xb9\"/8bit\n"),
	G("a ENABLE IMAP4rev2 CONDSTORE\r\n", "CMD a ENABLE IMAP4rev2 CONDSTORE\n"),
	G("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
	  "CMD a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\n"),
	G("a ID NIL\r\n", "CMD a ID NIL/nil\n"),
	G("A003 APPEND saved-messages (\\Seen) {5+}\r\nhello\r\n",
	  "CMD A003 APPEND saved-messages (\\Seen) {5+}\"hello\"\n"),
	G("A004 APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n",
	  "CONT\nCMD A004 APPEND INBOX (\\Seen) \" 7-Feb-1994 21:52:25 -0800\" {5}\"hello\"\n"),
	GOLDEN_NUL("A005 APPEND INBOX ~{3}\r\na\0b\r\n", "CONT\nCMD A005 APPEND INBOX ~{3}\"a\\x00b\"/nul\n"),
	G("a UID MOVE 42:69 foo\r\n", "CMD a UID MOVE 42:69 foo\n"),
	G("a UID EXPUNGE 3000:3002\r\n", "CMD a UID EXPUNGE 3000:3002\n"),
	G("a IDLE\r\n", "CMD a IDLE\n"),
	G("a NAMESPACE\r\n", "CMD a NAMESPACE\n"),
	G("a AUTHENTICATE PLAIN AGZvbwBiYXI=\r\n", "CMD a AUTHENTICATE PLAIN AGZvbwBiYXI=\n"),
	G("a AUTHENTICATE PLAIN =\r\n", "CMD a AUTHENTICATE PLAIN =\n"),
	/* RFC 5258 LIST-EXTENDED */
	G("A02 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN SPECIAL-USE)\r\n",
	  "CMD A02 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN SPECIAL-USE)\n"),
	G("A05 LIST \"\" (\"foo\" \"bar\")\r\n", "CMD A05 LIST \"\" (\"foo\" \"bar\")\n"),
	/* RFC 7162 CONDSTORE / QRESYNC */
	G("A142 SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:198))\r\n",
	  "CMD A142 SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:198))\n"),
	G("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
	  "CMD a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\n"),
	/* mutt (imap/message.c, imap/imap.c) */
	G("a0005 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL)])\r\n",
	  "CMD a0005 UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL)])\n"),
	G("a0010 UID FETCH 17 BODY.PEEK[]\r\n", "CMD a0010 UID FETCH 17 BODY.PEEK[]\n"),
	G("a0011 UID STORE 17 +FLAGS.SILENT (\\Seen)\r\n", "CMD a0011 UID STORE 17 +FLAGS.SILENT (\\Seen)\n"),
	G("a0012 STATUS \"INBOX\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n",
	  "CMD a0012 STATUS \"INBOX\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\n"),
	G("a0013 LSUB \"\" \"*\"\r\n", "CMD a0013 LSUB \"\" \"*\"\n"),
	/* mbsync (isync drv_imap.c) */
	G("4 UID FETCH 1:1000000000 (UID FLAGS)\r\n", "CMD 4 UID FETCH 1:1000000000 (UID FLAGS)\n"),
	G("7 UID FETCH 5 (BODY.PEEK[HEADER.FIELDS (X-TUID)])\r\n",
	  "CMD 7 UID FETCH 5 (BODY.PEEK[HEADER.FIELDS (X-TUID)])\n"),
	G("9 UID STORE 12 +FLAGS.SILENT \\Seen\r\n", "CMD 9 UID STORE 12 +FLAGS.SILENT \\Seen\n"),
	G("11 APPEND \"Sent\" (\\Seen) {4+}\r\nabcd\r\n", "CMD 11 APPEND \"Sent\" (\\Seen) {4+}\"abcd\"\n"),
	G("12 UID SEARCH HEADER X-TUID Aw3fk2lxKsYo\r\n", "CMD 12 UID SEARCH HEADER X-TUID Aw3fk2lxKsYo\n"),
	/* Thunderbird */
	G("5 UID fetch 1:* (FLAGS)\r\n", "CMD 5 UID FETCH 1:* (FLAGS)\n"),
	G("8 UID fetch 3 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\r\n",
	  "CMD 8 UID FETCH 3 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])\n"),
	G("9 UID fetch 3 (UID RFC822.SIZE BODY.PEEK[]<0.10240>)\r\n",
	  "CMD 9 UID FETCH 3 (UID RFC822.SIZE BODY.PEEK[]<0.10240>)\n"),
	G("10 list (subscribed) \"\" \"*\" return (special-use)\r\n",
	  "CMD 10 LIST (subscribed) \"\" \"*\" return (special-use)\n"),
	G("13 uid store 3 +Flags (\\Seen)\r\n", "CMD 13 UID STORE 3 +Flags (\\Seen)\n"),
	G("15 UID fetch 3 (UID RFC822.SIZE BODY.PEEK[1.2.MIME] BODY.PEEK[1.2])\r\n",
	  "CMD 15 UID FETCH 3 (UID RFC822.SIZE BODY.PEEK[1.2.MIME] BODY.PEEK[1.2])\n"),
	/* Apple Mail */
	G("1.23 UID FETCH 1:* (FLAGS UID) (CHANGEDSINCE 12345)\r\n",
	  "CMD 1.23 UID FETCH 1:* (FLAGS UID) (CHANGEDSINCE 12345)\n"),
	G("2.1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3731.500.231)\")\r\n",
	  "CMD 2.1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3731.500.231)\")\n"),
	G("3.9 UID FETCH 96 (BODYSTRUCTURE BODY.PEEK[HEADER])\r\n",
	  "CMD 3.9 UID FETCH 96 (BODYSTRUCTURE BODY.PEEK[HEADER])\n"),
	/* Outlook */
	G("A0004 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (References X-Ref X-Priority X-MSMail-Priority X-MSOESRec Newsgroups)] ENVELOPE INTERNALDATE)\r\n",
	  "CMD A0004 UID FETCH 1:* (UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (References X-Ref X-Priority X-MSMail-Priority X-MSOESRec Newsgroups)] ENVELOPE INTERNALDATE)\n"),
	G("A0009 UID FETCH 12 (BODY.PEEK[] FLAGS)\r\n", "CMD A0009 UID FETCH 12 (BODY.PEEK[] FLAGS)\n"),
	/* BINARY (RFC 3516) */
	G("t FETCH 1 (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[1])\r\n",
	  "CMD t FETCH 1 (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[1])\n"),
	/* Python imaplib quotes with "" and escapes */
	G("ABCD1 LOGIN \"user\" \"pa\\\\ss\\\"word\"\r\n", "CMD ABCD1 LOGIN \"user\" \"pa\\\\ss\\\"word\"\n"),
	/* curl */
	G("C LIST \"\" *\r\nD SELECT INBOX\r\nE FETCH 1 BODY[]\r\n",
	  "CMD C LIST \"\" *\nCMD D SELECT INBOX\nCMD E FETCH 1 BODY[]\n"),
};

static void test_client_command_lines(void **state)
{
	(void)state;
	expect_golden(client_lines, sizeof(client_lines) / sizeof(client_lines[0]));
}

static const struct golden lexical[] = {
	/* Case of the command name does not matter; UID takes a second word. */
	G("a noop\r\n", "CMD a NOOP\n"),
	G("a uid Fetch 1 flags\r\n", "CMD a UID FETCH 1 flags\n"),
	/* Bare LF ends a line too; blank lines are ignored. */
	G("a NOOP\n\r\n\nb NOOP\r\n", "CMD a NOOP\nCMD b NOOP\n"),
	/* NIL in any case is NIL; "NIL" quoted is a string. */
	G("a X nil Nil \"NIL\" NILS\r\n", "CMD a X nil/nil Nil/nil \"NIL\" NILS\n"),
	/* Empty lists, nested lists, empty strings. */
	G("a X () (()) (a (b (c)) \"\") \"\"\r\n", "CMD a X () (()) (a (b (c)) \"\") \"\"\n"),
	/* "]" is an ASTRING-CHAR, "[" an ATOM-CHAR: outside FETCH both are text. */
	G("a SELECT a[1]\r\n", "CMD a SELECT a[1]\n"),
	G("a LOGIN BODY[x pw]\r\n", "CMD a LOGIN BODY[x pw]\n"),
	/* Sections only after the five names. */
	G("a FETCH 1 (RFC822.HEADER X[1] body[text])\r\n", "CMD a FETCH 1 (RFC822.HEADER X[1] body[text])\n"),
	G("a FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-A\" {3}\r\nX-B)]<5.7>\r\n",
	  "CONT\nCMD a FETCH 1 BODY[HEADER.FIELDS.NOT (\"X-A\" {3}\"X-B\")]<5.7>\n"),
	G("a FETCH 1 (BODY[] BODY[1])\r\n", "CMD a FETCH 1 (BODY[] BODY[1])\n"),
	/* Quoted strings: escapes and 8-bit bytes (RFC 9051 utf8-quoted). */
	G("a X \"a\\\"b\" \"\\\\\" \"caf\xc3\xa9\"\r\n", "CMD a X \"a\\\"b\" \"\\\\\" \"caf\\xc3\\xa9\"/8bit\n"),
	/* Literals of size 0, sync and non-sync, in lists. */
	G("a X {0}\r\n\r\n", "CONT\nCMD a X {0}\"\"\n"),
	G("a X ({0+}\r\n {2+}\r\nab)\r\n", "CMD a X ({0+}\"\" {2+}\"ab\")\n"),
	/* Literal bytes are not parsed: CRLF, quotes and parens inside. */
	G("a X {5}\r\n)\r\n\"( Y\r\n", "CONT\nCMD a X {5}\")\\x0d\\x0a\\\"(\" Y\n"),
	/* ~ starts an atom unless a { follows. */
	G("a LIST \"\" ~/Mail/%\r\n", "CMD a LIST \"\" ~/Mail/%\n"),
	/* Flags. */
	G("a STORE 1 FLAGS (\\Seen \\Answered $Forwarded)\r\n", "CMD a STORE 1 FLAGS (\\Seen \\Answered $Forwarded)\n"),
	/* Tag may hold "]" but not "+" or "*". */
	G("a] NOOP\r\n", "CMD a] NOOP\n"),
};

static void test_lexical_rules(void **state)
{
	(void)state;
	expect_golden(lexical, sizeof(lexical) / sizeof(lexical[0]));
}

static const struct golden errors[] = {
	/* No tag could be read: untagged BAD; the next line is parsed. */
	G(" NOOP\r\nb NOOP\r\n", "ERR * BAD Missing tag\nCMD b NOOP\n"),
	G("+ x\r\nb NOOP\r\n", "ERR * BAD Missing tag\nCMD b NOOP\n"),
	G("a+b NOOP\r\nb NOOP\r\n", "ERR * BAD Invalid tag\nCMD b NOOP\n"),
	G("a*b NOOP\r\n", "ERR * BAD Invalid tag\n"),
	G("\rx\r\nb NOOP\r\n", "ERR * BAD CR without LF\nCMD b NOOP\n"),
	/* Tag read: tagged BAD. */
	G("a\r\nb NOOP\r\n", "ERR a BAD Missing command\nCMD b NOOP\n"),
	G("a \r\n", "ERR a BAD Missing command\n"),
	G("a  NOOP\r\n", "ERR a BAD Missing command\n"),
	G("a UID\r\n", "ERR a BAD Missing command after UID\n"),
	G("a NO(OP\r\n", "ERR a BAD Invalid characters in command name\n"),
	G("a NOOP \r\n", "ERR a BAD Unexpected end of line\n"),
	G("a X  y\r\n", "ERR a BAD Unexpected space\n"),
	G("a X (y\r\nb NOOP\r\n", "ERR a BAD Missing ) in list\nCMD b NOOP\n"),
	G("a X y)\r\n", "ERR a BAD Unexpected )\n"),
	G("a X (y )\r\n", "ERR a BAD Unexpected )\n"),
	G("a X ( y)\r\n", "ERR a BAD Unexpected space\n"),
	G("a X \"abc\r\nb NOOP\r\n", "ERR a BAD Missing \" at the end of a quoted string\nCMD b NOOP\n"),
	G("a X \"a\\bc\"\r\n", "ERR a BAD Invalid \\ escape in a quoted string\n"),
	GOLDEN_NUL("a X \"a\0b\"\r\n", "ERR a BAD NUL in quoted string\n"),
	G("a X \"a\"b\r\n", "ERR a BAD Missing space between arguments\n"),
	G("a X a\"b\"\r\n", "ERR a BAD Missing space between arguments\n"),
	G("a X FLAGS(\\Seen)\r\n", "ERR a BAD Missing space between arguments\n"),
	G("a X caf\xc3\xa9\r\n", "ERR a BAD Missing space between arguments\n"),
	G("a X \xc3\xa9\r\n", "ERR a BAD 8-bit characters outside a string\n"),
	G("a X \x01\r\n", "ERR a BAD Invalid characters in argument\n"),
	G("a X {}\r\n", "ERR a BAD Missing literal size\n"),
	G("a X {1x}\r\n", "ERR a BAD Invalid literal size\n"),
	G("a X {1+x}\r\n", "ERR a BAD Invalid literal size\n"),
	G("a X {1} y\r\n", "ERR a BAD Literal must end the line\n"),
	G("a X {1}\rx\r\n", "ERR a BAD Literal must end the line\n"),
	G("a NOOP\rx\r\nb NOOP\r\n", "ERR a BAD CR without LF\nCMD b NOOP\n"),
	G("a FETCH 1 BODY[1\r\n", "ERR a BAD Missing ] in section\n"),
	G("a FETCH 1 BODY[1 ]\r\n", "ERR a BAD Unexpected ]\n"),
	G("a FETCH 1 (BODY[1)]\r\n", "ERR a BAD Unexpected )\n"),
	G("a FETCH 1 BODY[(a]\r\n", "ERR a BAD Unexpected ]\n"),
	G("a FETCH 1 BODY[]]\r\n", "ERR a BAD Unexpected ]\n"),
	/* An error in the middle of a line with a {n+} literal at its end:
	 * the literal's octets are dropped, not parsed as a command. */
	G("a X \"x\\q\" {10+}\r\nb LOGOUT\r\n\r\nc NOOP\r\n",
	  "ERR a BAD Invalid \\ escape in a quoted string\nCMD c NOOP\n"),
	/* ... and the command may go on after the literal. */
	G("a X ) {3+}\r\nabc more {2+}\r\nxy\r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
	/* A synchronizing literal at the end of a failed line: the client
	 * waits for a continuation it will not get, so the command is over. */
	G("a X ) {3}\r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
	/* Things that look like literal headers but are not. */
	G("a X ) {3+} \r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
	G("a X ) {+}\r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
	G("a X ) {{2+}\r\nab\r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
	G("a X ) {0+}\r\n\r\nc NOOP\r\n", "ERR a BAD Unexpected )\nCMD c NOOP\n"),
};

static void test_syntax_errors_recover_at_next_line(void **state)
{
	(void)state;
	expect_golden(errors, sizeof(errors) / sizeof(errors[0]));
}

/* ------------------------------------------------------------ limits */

static void limits_small(struct imap_parser_limits *l)
{
	imap_parser_limits_default(l);
	l->line_max = 100;
	l->args_max = 6;
	l->depth_max = 3;
	l->literal_max = 5000;
	l->literal_mem_max = 10;
}

static void test_line_length_limit(void **state)
{
	struct imap_parser_limits l;
	char in[400];
	(void)state;

	limits_small(&l);
	/* Exactly at the limit (100 bytes with CRLF) passes... */
	snprintf(in, sizeof(in), "a X %094d\r\n", 0);
	assert_int_equal(strlen(in), 100);
	{
		char want[200];

		snprintf(want, sizeof(want), "CMD a X %094d\n", 0);
		expect_with(&l, NULL, in, want);
	}
	/* ... one more byte is refused, and the parser resumes. */
	snprintf(in, sizeof(in), "a X %095d\r\nb NOOP\r\n", 0);
	expect_with(&l, NULL, in, "ERR a BAD [TOOBIG] Command line too long\nCMD b NOOP\n");
	/* A long quoted string, and a long tag (untagged). */
	snprintf(in, sizeof(in), "a X \"%0150d\"\r\nb NOOP\r\n", 0);
	expect_with(&l, NULL, in, "ERR a BAD [TOOBIG] Command line too long\nCMD b NOOP\n");
	snprintf(in, sizeof(in), "%0150d NOOP\r\nb NOOP\r\n", 0);
	expect_with(&l, NULL, in, "ERR * BAD [TOOBIG] Command line too long\nCMD b NOOP\n");
	/* Literal octets do not count toward the line. */
	snprintf(in, sizeof(in), "a X {200+}\r\n%0200d Y\r\n", 0);
	{
		char want[400];

		l.literal_mem_max = 1000;
		snprintf(want, sizeof(want), "CMD a X {200+}\"%0200d\" Y\n", 0);
		expect_with(&l, NULL, in, want);
	}
}

static void test_tag_length_limit(void **state)
{
	char in[IMAP_TAG_MAX + 40];
	char want[IMAP_TAG_MAX + 40];
	(void)state;

	memset(in, 't', IMAP_TAG_MAX);
	snprintf(in + IMAP_TAG_MAX, sizeof(in) - IMAP_TAG_MAX, " NOOP\r\n");
	memcpy(want, "CMD ", 4);
	memset(want + 4, 't', IMAP_TAG_MAX);
	snprintf(want + 4 + IMAP_TAG_MAX, sizeof(want) - 4 - IMAP_TAG_MAX, " NOOP\n");
	expect(in, want);
	memset(in, 't', IMAP_TAG_MAX + 1);
	snprintf(in + IMAP_TAG_MAX + 1, sizeof(in) - IMAP_TAG_MAX - 1, " NOOP\r\nb NOOP\r\n");
	expect(in, "ERR * BAD Tag too long\nCMD b NOOP\n");
}

static void test_argument_count_and_depth_limits(void **state)
{
	struct imap_parser_limits l;
	(void)state;

	limits_small(&l);
	expect_with(&l, NULL, "a X 1 2 3 4 5 6\r\n", "CMD a X 1 2 3 4 5 6\n");
	expect_with(&l, NULL, "a X 1 2 3 4 5 6 7\r\nb NOOP\r\n", "ERR a BAD Too many arguments\nCMD b NOOP\n");
	/* Lists count as nodes. */
	expect_with(&l, NULL, "a X (1 2) (3 4)\r\n", "CMD a X (1 2) (3 4)\n");
	expect_with(&l, NULL, "a X (1 2) (3 4 5)\r\n", "ERR a BAD Too many arguments\n");
	expect_with(&l, NULL, "a X (((1)))\r\n", "CMD a X (((1)))\n");
	expect_with(&l, NULL, "a X ((((1))))\r\nb NOOP\r\n", "ERR a BAD Too deeply nested lists\nCMD b NOOP\n");
	/* A literal over the argument limit: its octets are dropped. */
	expect_with(&l, NULL, "a X 1 2 3 4 5 6 {3+}\r\nabc\r\nb NOOP\r\n", "ERR a BAD Too many arguments\nCMD b NOOP\n");
}

static void test_literal_size_limits(void **state)
{
	struct imap_parser_limits l;
	(void)state;

	limits_small(&l);
	/* In memory: at most literal_mem_max bytes per command. */
	expect_with(&l, NULL, "a X {10}\r\n0123456789\r\n", "CONT\nCMD a X {10}\"0123456789\"\n");
	expect_with(&l, NULL, "a X {6+}\r\n012345 {4}\r\n6789\r\n", "CONT\nCMD a X {6+}\"012345\" {4}\"6789\"\n");
	/* A synchronizing literal over the limit: refused before the client
	 * sends it (NO [TOOBIG] instead of "+"), the command is over and the
	 * next line is a new command. */
	expect_with(&l, NULL, "a X {11}\r\nb NOOP\r\n",
		    "ERR a NO [TOOBIG] Literal too large for this command\nCMD b NOOP\n");
	expect_with(&l, NULL, "a X {6+}\r\n012345 {5}\r\nb NOOP\r\n",
		    "ERR a NO [TOOBIG] Literal too large for this command\nCMD b NOOP\n");
	/* A non-synchronizing literal over the limit: read, dropped, and the
	 * rest of the command (with its own {n+} literals) skipped. */
	expect_with(&l, NULL, "a X {11+}\r\nb LOGOUT\r\n Y {2+}\r\nc \r\nd NOOP\r\n",
		    "ERR a NO [TOOBIG] Literal too large for this command\nCMD d NOOP\n");
	/* Over literal_max: the same, whatever the policy. */
	expect_with(&l, NULL, "a X {5001}\r\nb NOOP\r\n", "ERR a NO [TOOBIG] Literal too large\nCMD b NOOP\n");
	expect_with(&l, NULL, "a X {99999999999999999999999}\r\nb NOOP\r\n",
		    "ERR a NO [TOOBIG] Literal too large\nCMD b NOOP\n");
}

static void test_literal_minus(void **state)
{
	struct imap_parser_limits l;
	struct policy_state ps = { .stream_appends = true, .sink = { .fail_after = -1 } };
	char *in, *got;
	size_t n = 5000;
	(void)state;

	imap_parser_limits_default(&l);
	l.literal_plus = false;
	/* RFC 7888 section 5: {n+} up to 4096 is fine under LITERAL-. */
	in = malloc(n + 100);
	assert_non_null(in);
	memcpy(in, "a APPEND INBOX {4096+}\r\n", 24);
	memset(in + 24, 'x', 4096);
	memcpy(in + 24 + 4096, "\r\nb NOOP\r\n", 10);
	got = transcript_with(&l, &ps, in, 24 + 4096 + 10);
	assert_non_null(strstr(got, "CMD a APPEND INBOX <stream 4096>\nCMD b NOOP\n"));
	free(got);
	/* 4097: tagged BAD [TOOBIG], the octets are read and dropped. */
	memcpy(in, "a APPEND INBOX {4097+}\r\n", 24);
	memset(in + 24, 'x', 4097);
	memcpy(in + 24 + 4097, "\r\nb NOOP\r\n", 10);
	got = transcript_with(&l, &ps, in, 24 + 4097 + 10);
	assert_string_equal(got, "ERR a BAD [TOOBIG] Non-synchronizing literal over 4096 octets (LITERAL-)\n"
				 "CMD b NOOP\nSINK \"\"\n");
	free(got);
	/* Synchronizing literals of any size stay allowed. */
	memcpy(in, "a APPEND INBOX {4097}\r\n", 23);
	memset(in + 23, 'x', 4097);
	memcpy(in + 23 + 4097, "\r\n", 2);
	got = transcript_with(&l, &ps, in, 23 + 4097 + 2);
	assert_non_null(strstr(got, "CONT\nCMD a APPEND INBOX <stream 4097>\n"));
	free(got);
	free(in);
}

static void test_arena_cap_refuses_command_and_recovers(void **state)
{
	struct imap_parser_limits l;
	struct buf in;
	(void)state;

	imap_parser_limits_default(&l);
	l.mem_max = 1024;
	buf_init(&in, 1 << 20);
	buf_append_str(&in, "a X");
	for (int k = 0; k < 100; k++)
		buf_append_str(&in, " abcdefgh");
	buf_append_str(&in, "\r\nb NOOP\r\n");
	{
		char *got = transcript_with(&l, NULL, in.data, in.len);

		assert_string_equal(got, "ERR a BAD Command too large\nCMD b NOOP\n");
		free(got);
	}
	buf_free(&in);
	/* The tokens fit, the final argument array does not: the failure
	 * comes after the line end was read, and the next line is still a
	 * command of its own. */
	l.mem_max = 200;
	expect_with(&l, NULL, "a X 1 2 3 4 5 6 7 8 9 10\r\nb NOOP\r\n", "ERR a BAD Command too large\nCMD b NOOP\n");
}

static void test_literal_minus_switched_at_run_time(void **state)
{
	struct imap_parser *p = parser_with(NULL, NULL);
	const char *in = "a X {4097+}\r\n";
	size_t used;
	(void)state;

	imap_parser_set_literal_plus(p, false);
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_ERROR);
	assert_int_equal(imap_parser_error(p)->kind, IMAP_REPLY_BAD);
	assert_string_equal(imap_parser_error(p)->code, "TOOBIG");
	imap_parser_free(&p);
}

/* ------------------------------------------------------------ sinks */

static void test_append_literal_streams_to_sink(void **state)
{
	struct policy_state ps = { .stream_appends = true, .sink = { .fail_after = -1 } };
	(void)state;

	/* The message goes to the sink, the mailbox name stays in memory. */
	expect_with(NULL, &ps, "a APPEND {5}\r\nINBOX (\\Seen) {12}\r\nHello\r\nWorld\r\n",
		    "CONT\nCONT\nCMD a APPEND {5}\"INBOX\" (\\Seen) <stream 12>\nSINK \"Hello\\x0d\\x0aWorld\"\n");
	/* MULTIAPPEND shape: two messages, one sink stream. */
	expect_with(NULL, &ps, "a APPEND INBOX {2+}\r\nab {3+}\r\ncde\r\n",
		    "CMD a APPEND INBOX <stream 2> <stream 3>\nSINK \"abcde\"\n");
	/* Other commands keep their literals in memory. */
	expect_with(NULL, &ps, "a LOGIN {4+}\r\nuser {4+}\r\npass\r\n",
		    "CMD a LOGIN {4+}\"user\" {4+}\"pass\"\nSINK \"\"\n");
}

static void test_sink_failure_is_flagged_and_stream_stays_in_step(void **state)
{
	struct policy_state ps = { .stream_appends = true, .sink = { .fail_after = 0 } };
	(void)state;

	expect_with(NULL, &ps, "a APPEND INBOX {10+}\r\n0123456789\r\nb NOOP\r\n",
		    "CMD a APPEND INBOX <stream 10 failed>\nCMD b NOOP\nSINK \"\"\n");
}

static void test_policy_refusal(void **state)
{
	struct policy_state ps = { .refuse_unknown = true, .sink = { .fail_after = -1 } };
	(void)state;

	/* Refused synchronizing literal: no continuation, command over. */
	expect_with(NULL, &ps, "a XREFUSE {3}\r\nb NOOP\r\n", "ERR a BAD Unknown command\nCMD b NOOP\nSINK \"\"\n");
	/* Refused {n+}: octets dropped. */
	expect_with(NULL, &ps, "a XREFUSE {3+}\r\nb L\r\nc NOOP\r\n",
		    "ERR a BAD Unknown command\nCMD c NOOP\nSINK \"\"\n");
}

static void test_literal_info_given_to_policy(void **state)
{
	struct imap_parser *p;
	struct policy_state ps = { .sink = { .fail_after = -1 } };
	const char *in = "t1 UID SEARCH CHARSET UTF-8 (OR SUBJECT {3+}\r\nabc X) {1}\r\n";
	size_t used;
	(void)state;

	p = parser_with(NULL, &ps);
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_CONTINUE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(ps.calls, 2);
	assert_string_equal(ps.last_name, "SEARCH");
	assert_true(ps.last.uid);
	assert_int_equal(ps.last.index, 3);
	assert_int_equal(ps.last.depth, 0);
	assert_int_equal(ps.last.size, 1);
	assert_false(ps.last.nonsync);
	assert_false(ps.last.binary);
	imap_parser_free(&p);
}

/* ------------------------------------------------------------ raw lines */

static void test_raw_line_for_authenticate_and_idle(void **state)
{
	struct imap_parser *p = parser_with(NULL, NULL);
	const char *in = "a AUTHENTICATE PLAIN\r\nAGZvbwBiYXI=\r\nb IDLE\r\n\r\nDONE\r\nc NOOP\r\n";
	const char *line;
	size_t used, pos = 0, len = strlen(in);
	(void)state;

	assert_int_equal(imap_parser_feed(p, in, len, &used), IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->name, "AUTHENTICATE");
	pos += used;
	imap_parser_expect_line(p);
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_LINE);
	pos += used;
	line = imap_parser_line(p, &used);
	assert_int_equal(used, 12);
	assert_memory_equal(line, "AGZvbwBiYXI=", 12);
	imap_parser_forget(p);
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_COMMAND);
	pos += used;
	assert_string_equal(imap_parser_command(p)->name, "IDLE");
	/* An empty line is a line when one is expected (empty SASL response). */
	imap_parser_expect_line(p);
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_LINE);
	pos += used;
	(void)imap_parser_line(p, &used);
	assert_int_equal(used, 0);
	imap_parser_expect_line(p);
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_LINE);
	pos += used;
	line = imap_parser_line(p, &used);
	assert_int_equal(used, 4);
	assert_memory_equal(line, "DONE", 4);
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->name, "NOOP");
	assert_true(imap_parser_idle(p));
	imap_parser_free(&p);
}

static void test_raw_line_too_long(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	char in[300];
	size_t used, pos = 0, len;
	(void)state;

	limits_small(&l);
	p = parser_with(&l, NULL);
	snprintf(in, sizeof(in), "%0150d {3+}\r\nb NOOP\r\n", 0);
	len = strlen(in);
	imap_parser_expect_line(p);
	assert_int_equal(imap_parser_feed(p, in, len, &used), IMAP_PARSE_ERROR);
	assert_null(imap_parser_error(p)->tag);
	pos += used;
	/* A raw line has no literals: "{3+}" at its end is text. */
	assert_int_equal(imap_parser_feed(p, in + pos, len - pos, &used), IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->tag, "b");
	imap_parser_free(&p);
}

/* ------------------------------------------------------------ misc */

static void test_continue_then_rest_of_command(void **state)
{
	struct imap_parser *p = parser_with(NULL, NULL);
	const char *in = "a LOGIN {4}\r\n";
	size_t used;
	(void)state;

	/* The parser stops right after the header, before any literal octet. */
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_CONTINUE);
	assert_int_equal(used, strlen(in));
	assert_false(imap_parser_idle(p));
	assert_int_equal(imap_parser_feed(p, "us", 2, &used), IMAP_PARSE_MORE);
	assert_int_equal(imap_parser_feed(p, "er pass\r\nz", 10, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 9);
	assert_int_equal(imap_parser_command(p)->count, 2);
	assert_string_equal(imap_parser_command(p)->args[0].text, "user");
	assert_string_equal(imap_parser_command(p)->args[1].text, "pass");
	imap_parser_free(&p);
}

static void test_pipelined_commands_stop_at_each(void **state)
{
	struct imap_parser *p = parser_with(NULL, NULL);
	const char *in = "a NOOP\r\nb NOOP\r\n";
	size_t used;
	(void)state;

	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 8);
	assert_string_equal(imap_parser_command(p)->tag, "a");
	assert_int_equal(imap_parser_feed(p, in + 8, strlen(in) - 8, &used), IMAP_PARSE_COMMAND);
	assert_string_equal(imap_parser_command(p)->tag, "b");
	imap_parser_free(&p);
}

static void test_large_literal_streams_without_memory(void **state)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct policy_state ps = { .stream_appends = true, .sink = { .fail_after = -1 } };
	const char *hdr = "a APPEND INBOX {8000000+}\r\n";
	static char chunk[65536];
	size_t used, left = 8000000;
	(void)state;

	imap_parser_limits_default(&l);
	l.mem_max = 1 << 16;            /* far below the literal */
	buf_init(&ps.sink.data, 1 << 24);
	p = parser_with(&l, &ps);
	memset(chunk, 'm', sizeof(chunk));
	assert_int_equal(imap_parser_feed(p, hdr, strlen(hdr), &used), IMAP_PARSE_MORE);
	while (left > 0) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		assert_int_equal(imap_parser_feed(p, chunk, n, &used), IMAP_PARSE_MORE);
		assert_int_equal(used, n);
		left -= n;
	}
	assert_int_equal(imap_parser_feed(p, "\r\n", 2, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(imap_parser_command(p)->args[1].type, IMAP_ARG_STREAM);
	assert_int_equal(imap_parser_command(p)->args[1].len, 8000000);
	assert_int_equal(ps.sink.data.len, 8000000);
	buf_free(&ps.sink.data);
	imap_parser_free(&p);
}

static void test_forget_wipes_secrets(void **state)
{
	struct imap_parser *p = parser_with(NULL, NULL);
	const char *in = "a LOGIN user {6+}\r\nsecret\r\n";
	const struct imap_cmd *cmd;
	const char *secret;
	size_t used;
	(void)state;

	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_COMMAND);
	cmd = imap_parser_command(p);
	secret = cmd->args[1].text;
	assert_string_equal(secret, "secret");
	imap_parser_forget(p);
	assert_memory_equal(secret, "\0\0\0\0\0\0", 6);
	imap_parser_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_client_command_lines),
		cmocka_unit_test(test_lexical_rules),
		cmocka_unit_test(test_syntax_errors_recover_at_next_line),
		cmocka_unit_test(test_line_length_limit),
		cmocka_unit_test(test_tag_length_limit),
		cmocka_unit_test(test_argument_count_and_depth_limits),
		cmocka_unit_test(test_literal_size_limits),
		cmocka_unit_test(test_literal_minus),
		cmocka_unit_test(test_arena_cap_refuses_command_and_recovers),
		cmocka_unit_test(test_literal_minus_switched_at_run_time),
		cmocka_unit_test(test_append_literal_streams_to_sink),
		cmocka_unit_test(test_sink_failure_is_flagged_and_stream_stays_in_step),
		cmocka_unit_test(test_policy_refusal),
		cmocka_unit_test(test_literal_info_given_to_policy),
		cmocka_unit_test(test_raw_line_for_authenticate_and_idle),
		cmocka_unit_test(test_raw_line_too_long),
		cmocka_unit_test(test_continue_then_rest_of_command),
		cmocka_unit_test(test_pipelined_commands_stop_at_each),
		cmocka_unit_test(test_large_literal_streams_without_memory),
		cmocka_unit_test(test_forget_wipes_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
