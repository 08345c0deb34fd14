/* test_imap_grammar: the typed IMAP command set (common/imap_grammar.c,
 * with its FETCH and SEARCH readers common/imap_fetch.c and
 * common/imap_search.c, which are reached through the commands).
 *
 * Golden cases: a command line goes through the real parser, then the
 * grammar; the typed result is rendered in a canonical text form (or
 * "BAD reason") and compared.  Command lines include what mutt, mbsync,
 * Thunderbird, Apple Mail, Outlook and the RFC examples send. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "imap_grammar.h"
#include "imap_parser.h"

/* ------------------------------------------------------------ rendering */

static void r_str(struct buf *o, const char *s, size_t len)
{
	buf_putc(o, '"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\')
			buf_printf(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(o, "\\x%02x", c);
		else
			buf_putc(o, (char)c);
	}
	buf_putc(o, '"');
}

static void r_cstr(struct buf *o, const char *s)
{
	if (s == NULL)
		buf_append_str(o, "NULL");
	else
		r_str(o, s, strlen(s));
}

static void r_seq(struct buf *o, const struct imap_seqset *s)
{
	if (s->saved) {
		buf_putc(o, '$');
		return;
	}
	for (unsigned int k = 0; k < s->count; k++) {
		if (k > 0)
			buf_putc(o, ',');
		if (s->ranges[k].lo == IMAP_SEQ_STAR)
			buf_putc(o, '*');
		else
			buf_printf(o, "%u", s->ranges[k].lo);
		if (s->ranges[k].hi != s->ranges[k].lo) {
			if (s->ranges[k].hi == IMAP_SEQ_STAR)
				buf_append_str(o, ":*");
			else
				buf_printf(o, ":%u", s->ranges[k].hi);
		}
	}
}

static void r_bits(struct buf *o, unsigned int bits, const char *const *names, size_t n)
{
	bool first = true;

	buf_putc(o, '[');
	for (size_t k = 0; k < n; k++) {
		if (bits & (1u << k)) {
			buf_printf(o, "%s%s", first ? "" : " ", names[k]);
			first = false;
		}
	}
	buf_putc(o, ']');
}

static const char *const flag_names[] = { "\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent" };

static void r_flags(struct buf *o, const struct imap_flags *f)
{
	r_bits(o, f->system, flag_names, 6);
	for (unsigned int k = 0; k < f->nkeywords; k++)
		buf_printf(o, " %s", f->keywords[k]);
}

static const char *const status_names[] = { "MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED",
					    "SIZE", "RECENT", "HIGHESTMODSEQ", "APPENDLIMIT", "MAILBOXID", "DELETED-STORAGE" };
#define STATUS_NAMES (sizeof(status_names) / sizeof(status_names[0]))
static const char *const fetch_names[] = { "FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY",
					   "BODYSTRUCTURE", "UID", "RFC822", "RFC822.HEADER", "RFC822.TEXT",
					   "MODSEQ" };

static void r_section(struct buf *o, const struct imap_section *s)
{
	static const char *const kinds[] = { "BODY", "BINARY", "BINARY.SIZE" };
	static const char *const texts[] = { "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME" };

	buf_printf(o, " %s%s[", kinds[s->kind], s->peek && s->kind != IMAP_SECTION_BINARY_SIZE ? ".PEEK" : "");
	for (unsigned int k = 0; k < s->nparts; k++)
		buf_printf(o, "%s%u", k > 0 ? "." : "", s->parts[k]);
	if (s->text != IMAP_SECTION_WHOLE)
		buf_printf(o, "%s%s", s->nparts > 0 ? "." : "", texts[s->text]);
	if (s->nfields > 0) {
		buf_append_str(o, " (");
		for (unsigned int k = 0; k < s->nfields; k++)
			buf_printf(o, "%s%s", k > 0 ? " " : "", s->fields[k]);
		buf_putc(o, ')');
	}
	buf_putc(o, ']');
	if (s->partial)
		buf_printf(o, "<%llu.%llu>", (unsigned long long)s->offset, (unsigned long long)s->length);
}

static void r_fetch(struct buf *o, const struct imap_fetch *f)
{
	r_bits(o, f->items, fetch_names, sizeof(fetch_names) / sizeof(fetch_names[0]));
	for (unsigned int k = 0; k < f->nsections; k++)
		r_section(o, &f->sections[k]);
	if (f->sets_seen)
		buf_append_str(o, " sets-seen");
	if (f->changedsince_set)
		buf_printf(o, " changedsince=%llu", (unsigned long long)f->changedsince);
	if (f->vanished)
		buf_append_str(o, " vanished");
}

static const char *const search_names[] = {
	"ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "SEEN", "RECENT", "NEW", "OLD", "UNANSWERED",
	"UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "KEYWORD", "UNKEYWORD", "EMAILID", "THREADID", "BCC", "BODY",
	"CC", "FROM",
	"SUBJECT", "TEXT", "TO", "HEADER", "BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
	"LARGER", "SMALLER", "OLDER", "YOUNGER", "MODSEQ", "UID", "SEQSET", "NOT", "OR", "AND",
};

static void r_search(struct buf *o, const struct imap_search_node *n)
{
	buf_printf(o, "(%s", search_names[n->key]);
	switch (n->key) {
	case IMAP_SEARCH_HEADER:
		buf_printf(o, " %s", n->field);
		/* fall through */
	case IMAP_SEARCH_KEYWORD: case IMAP_SEARCH_UNKEYWORD: case IMAP_SEARCH_EMAILID: case IMAP_SEARCH_THREADID:
	case IMAP_SEARCH_BCC: case IMAP_SEARCH_BODY:
	case IMAP_SEARCH_CC: case IMAP_SEARCH_FROM: case IMAP_SEARCH_SUBJECT: case IMAP_SEARCH_TEXT:
	case IMAP_SEARCH_TO:
		buf_putc(o, ' ');
		r_str(o, n->str, n->len);
		break;
	case IMAP_SEARCH_BEFORE: case IMAP_SEARCH_ON: case IMAP_SEARCH_SINCE: case IMAP_SEARCH_SENTBEFORE:
	case IMAP_SEARCH_SENTON: case IMAP_SEARCH_SENTSINCE:
		buf_printf(o, " %04d-%02d-%02d/%lld", n->date.year, n->date.month, n->date.day,
			   (long long)n->date.days);
		break;
	case IMAP_SEARCH_MODSEQ:
		if (n->entry != NULL)
			buf_printf(o, " %s/%d", n->entry, (int)n->entry_type);
		/* fall through */
	case IMAP_SEARCH_LARGER: case IMAP_SEARCH_SMALLER: case IMAP_SEARCH_OLDER: case IMAP_SEARCH_YOUNGER:
		buf_printf(o, " %llu", (unsigned long long)n->number);
		break;
	case IMAP_SEARCH_UID: case IMAP_SEARCH_SEQSET:
		buf_putc(o, ' ');
		r_seq(o, &n->set);
		break;
	default:
		break;
	}
	for (unsigned int k = 0; k < n->count; k++) {
		buf_putc(o, ' ');
		r_search(o, &n->children[k]);
	}
	buf_putc(o, ')');
}

static void r_list(struct buf *o, const struct imap_list *l)
{
	static const char *const sel[] = { "SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE" };
	static const char *const ret[] = { "SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS" };

	buf_append_str(o, " ref=");
	r_cstr(o, l->reference);
	buf_append_str(o, " pat=");
	for (unsigned int k = 0; k < l->npatterns; k++) {
		if (k > 0)
			buf_putc(o, ',');
		r_cstr(o, l->patterns[k]);
	}
	if (l->extended) {
		buf_append_str(o, " ext sel=");
		r_bits(o, l->select, sel, 4);
		buf_append_str(o, " ret=");
		r_bits(o, l->ret, ret, 4);
		if (l->ret & IMAP_LIST_RET_STATUS)
			r_bits(o, l->status_items, status_names, STATUS_NAMES);
	}
}

static void r_select(struct buf *o, const struct imap_select *s)
{
	buf_append_str(o, " ");
	r_cstr(o, s->mailbox);
	if (s->condstore)
		buf_append_str(o, " condstore");
	if (s->qresync) {
		buf_printf(o, " qresync=%u/%llu", s->uidvalidity, (unsigned long long)s->modseq);
		if (s->known_uids_set) {
			buf_append_str(o, " known=");
			r_seq(o, &s->known_uids);
		}
		if (s->seq_match_set) {
			buf_append_str(o, " match=");
			r_seq(o, &s->seq_match_seqs);
			buf_putc(o, '/');
			r_seq(o, &s->seq_match_uids);
		}
	}
}

static void r_append(struct buf *o, const struct imap_append *ap)
{
	buf_putc(o, ' ');
	r_cstr(o, ap->mailbox);
	for (unsigned int k = 0; k < ap->count; k++) {
		const struct imap_append_msg *m = &ap->msgs[k];

		buf_append_str(o, " {");
		r_flags(o, &m->flags);
		if (m->has_date)
			buf_printf(o, " date=%lld zone=%d", (long long)m->date, m->zone);
		buf_printf(o, " %s%zu}", m->binary ? "binary " : "", m->data->len);
	}
}

static void render(struct buf *o, const struct imap_command *c)
{
	buf_printf(o, "%s%s", c->uid ? "UID " : "", imap_command_name(c->id));
	switch (c->id) {
	case IMAP_CMD_LOGIN:
		buf_putc(o, ' ');
		r_str(o, c->u.login.user, c->u.login.user_len);
		buf_putc(o, ' ');
		r_str(o, c->u.login.pass, c->u.login.pass_len);
		break;
	case IMAP_CMD_AUTHENTICATE:
		buf_printf(o, " %s ", c->u.auth.mechanism);
		r_cstr(o, c->u.auth.initial);
		break;
	case IMAP_CMD_ENABLE:
		for (unsigned int k = 0; k < c->u.enable.count; k++)
			buf_printf(o, " %s", c->u.enable.names[k]);
		break;
	case IMAP_CMD_COMPRESS:
		buf_printf(o, " %s", c->u.mechanism);
		break;
	case IMAP_CMD_ID:
		for (unsigned int k = 0; k < c->u.id.count; k++) {
			buf_putc(o, ' ');
			r_cstr(o, c->u.id.pairs[k].field);
			buf_putc(o, '=');
			r_cstr(o, c->u.id.pairs[k].value);
		}
		break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE:
		r_select(o, &c->u.select);
		break;
	case IMAP_CMD_CREATE:
		buf_putc(o, ' ');
		r_cstr(o, c->u.create.mailbox);
		if (c->u.create.use != 0)
			buf_printf(o, " use=%#x", c->u.create.use);
		break;
	case IMAP_CMD_DELETE:
	case IMAP_CMD_SUBSCRIBE:
	case IMAP_CMD_UNSUBSCRIBE:
		buf_putc(o, ' ');
		r_cstr(o, c->u.mailbox);
		break;
	case IMAP_CMD_RENAME:
		buf_putc(o, ' ');
		r_cstr(o, c->u.rename.from);
		buf_putc(o, ' ');
		r_cstr(o, c->u.rename.to);
		break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB:
		r_list(o, &c->u.list);
		break;
	case IMAP_CMD_STATUS:
		buf_putc(o, ' ');
		r_cstr(o, c->u.status.mailbox);
		buf_putc(o, ' ');
		r_bits(o, c->u.status.items, status_names, STATUS_NAMES);
		break;
	case IMAP_CMD_APPEND:
		r_append(o, &c->u.append);
		break;
	case IMAP_CMD_GETQUOTAROOT:
		buf_putc(o, ' ');
		r_cstr(o, c->u.mailbox);
		break;
	case IMAP_CMD_GETQUOTA:
		buf_putc(o, ' ');
		r_cstr(o, c->u.quota_root);
		break;
	case IMAP_CMD_SETQUOTA:
		buf_putc(o, ' ');
		r_cstr(o, c->u.setquota.root);
		for (unsigned int k = 0; k < c->u.setquota.count; k++)
			buf_printf(o, " %s=%llu", c->u.setquota.limits[k].resource,
				   (unsigned long long)c->u.setquota.limits[k].limit);
		break;
	case IMAP_CMD_EXPUNGE:
		if (c->uid) {
			buf_putc(o, ' ');
			r_seq(o, &c->u.expunge);
		}
		break;
	case IMAP_CMD_SEARCH:
		if (c->u.search.charset != NULL)
			buf_printf(o, " charset=%s", c->u.search.charset);
		if (c->u.search.esearch)
			buf_printf(o, " return=%#x", c->u.search.ret);
		if (c->u.search.uses_saved)
			buf_append_str(o, " uses-saved");
		if (c->u.search.uses_modseq)
			buf_append_str(o, " uses-modseq");
		buf_putc(o, ' ');
		r_search(o, &c->u.search.root);
		break;
	case IMAP_CMD_FETCH:
		buf_putc(o, ' ');
		r_seq(o, &c->u.fetch.set);
		buf_putc(o, ' ');
		r_fetch(o, &c->u.fetch.fetch);
		break;
	case IMAP_CMD_STORE:
		buf_putc(o, ' ');
		r_seq(o, &c->u.store.set);
		if (c->u.store.unchangedsince_set)
			buf_printf(o, " unchangedsince=%llu", (unsigned long long)c->u.store.unchangedsince);
		buf_printf(o, " %s%s ", c->u.store.op == IMAP_STORE_ADD ? "add" :
			   c->u.store.op == IMAP_STORE_REMOVE ? "remove" : "set", c->u.store.silent ? " silent" : "");
		r_flags(o, &c->u.store.flags);
		break;
	case IMAP_CMD_COPY:
	case IMAP_CMD_MOVE:
		buf_putc(o, ' ');
		r_seq(o, &c->u.copy.set);
		buf_putc(o, ' ');
		r_cstr(o, c->u.copy.mailbox);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------ driving */

static enum imap_literal_action stream_messages(void *ctx, const struct imap_literal_info *info,
						struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r);

static int discard_write(void *ctx, const unsigned char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	return 0;
}

static enum imap_literal_action stream_messages(void *ctx, const struct imap_literal_info *info,
						struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r)
{
	enum imap_literal_action action = imap_grammar_literal_action(info, refusal_r);

	(void)ctx;
	if (action == IMAP_LITERAL_SINK) {
		sink_r->write = discard_write;
		sink_r->ctx = NULL;
	}
	return action;
}

/* Parse one command line and render its typed form (or the error). */
static char *typed_with(const char *in, size_t len, bool utf8, bool streaming)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct imap_grammar_opts opts = { .utf8_names = utf8 };
	struct imap_command cmd;
	struct buf out;
	size_t pos = 0, used;
	char *res;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	assert_non_null(p);
	if (streaming)
		imap_parser_set_literal_policy(p, stream_messages, NULL);
	buf_init(&out, 1 << 20);
	while (pos < len) {
		enum imap_parse_event ev = imap_parser_feed(p, in + pos, len - pos, &used);
		const char *err;

		pos += used;
		if (ev == IMAP_PARSE_COMMAND) {
			if (imap_command_parse(imap_parser_command(p), &opts, imap_parser_arena(p), &cmd, &err) < 0) {
				buf_printf(&out, "BAD %s", err);
			} else {
				assert_string_equal(cmd.tag, imap_parser_command(p)->tag);
				render(&out, &cmd);
			}
		} else if (ev == IMAP_PARSE_ERROR) {
			buf_printf(&out, "PARSE %s", imap_parser_error(p)->text);
		}
	}
	res = strdup(buf_cstr(&out));
	buf_free(&out);
	imap_parser_free(&p);
	return res;
}

struct gcase {
	const char *in;
	const char *out;
	size_t len;                   /* bytes of in; 0: strlen (for inputs with NUL) */
};

/* A case whose input holds NUL bytes. */
#define GC_NUL(in, out) { in, out, sizeof(in) - 1 }
/* An ordinary case. */
#define GC(in, out) { in, out, 0 }

static void run_cases(const struct gcase *g, size_t n, bool utf8)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		char *got = typed_with(g[i].in, g[i].len > 0 ? g[i].len : strlen(g[i].in), utf8, true);

		if (strcmp(got, g[i].out) != 0) {
			print_error("case %zu: %s\n  expected: %s\n  got:      %s\n", i, g[i].in, g[i].out, got);
			failed++;
		}
		free(got);
	}
	assert_int_equal(failed, 0);
}

#define RUN(cases, utf8) run_cases(cases, sizeof(cases) / sizeof(cases[0]), utf8)

/* ------------------------------------------------------------ cases */

static const struct gcase simple_cases[] = {
	GC("a CAPABILITY\r\n", "CAPABILITY"),
	GC("a noop\r\n", "NOOP"),
	GC("a LOGOUT\r\n", "LOGOUT"),
	GC("a STARTTLS\r\n", "STARTTLS"),
	GC("a IDLE\r\n", "IDLE"),
	GC("a NAMESPACE\r\n", "NAMESPACE"),
	GC("a CHECK\r\n", "CHECK"),
	GC("a CLOSE\r\n", "CLOSE"),
	GC("a UNSELECT\r\n", "UNSELECT"),
	GC("a EXPUNGE\r\n", "EXPUNGE"),
	GC("a NOOP x\r\n", "BAD Unexpected arguments"),
	GC("a LOGOUT ()\r\n", "BAD Unexpected arguments"),
	GC("a XYZZY\r\n", "BAD Unknown command"),
	GC("a XLIST \"\" *\r\n", "BAD Unknown command"),
	GC("a UID LIST \"\" *\r\n", "BAD Unknown command"),
	GC("a UID UID FETCH 1 FLAGS\r\n", "BAD Unknown command"),
	GC("a UID EXPUNGE 3000:3002,3005\r\n", "UID EXPUNGE 3000:3002,3005"),
	GC("a UID EXPUNGE\r\n", "BAD UID EXPUNGE needs a UID set"),
	GC("a EXPUNGE 1\r\n", "BAD Unexpected arguments"),
	/* An unknown command with a literal: refused before the literal. */
	GC("a XFOO {5}\r\n", "PARSE Unknown command"),
};

static const struct gcase auth_cases[] = {
	GC("a001 LOGIN SMITH SESAME\r\n", "LOGIN \"SMITH\" \"SESAME\""),
	GC("a LOGIN \"fred foobar\" \"p\\\"w\"\r\n", "LOGIN \"fred foobar\" \"p\\\"w\""),
	GC("a LOGIN {4+}\r\nuser {8+}\r\np\xc3\xa4ss wd\r\n", "LOGIN \"user\" \"p\\xc3\\xa4ss wd\""),
	GC("a LOGIN NIL NIL\r\n", "LOGIN \"NIL\" \"NIL\""),
	GC("a LOGIN user\r\n", "BAD LOGIN needs a user name and a password"),
	GC("a LOGIN user pass extra\r\n", "BAD LOGIN needs a user name and a password"),
	GC("a LOGIN (user) pass\r\n", "BAD Invalid user name or password"),
	GC("a LOGIN us%r pass\r\n", "BAD Invalid user name or password"),
	GC_NUL("a LOGIN user ~{4+}\r\npa\0s\r\n", "BAD Invalid user name or password"),
	GC("a AUTHENTICATE plain\r\n", "AUTHENTICATE PLAIN NULL"),
	GC("a AUTHENTICATE PLAIN AGZvbwBiYXI=\r\n", "AUTHENTICATE PLAIN \"AGZvbwBiYXI=\""),
	GC("a AUTHENTICATE PLAIN =\r\n", "AUTHENTICATE PLAIN \"\""),
	GC("a AUTHENTICATE PLAIN AGZvbwBiYXI\r\n", "BAD Invalid SASL initial response"),
	GC("a AUTHENTICATE PLAIN AG=vbwBi\r\n", "BAD Invalid SASL initial response"),
	GC("a AUTHENTICATE PLAIN \"AGZvbwBiYXI=\"\r\n", "BAD Invalid SASL initial response"),
	GC("a AUTHENTICATE\r\n", "BAD AUTHENTICATE needs a mechanism name"),
	GC("a ENABLE IMAP4rev2 CONDSTORE QRESYNC UTF8=ACCEPT\r\n", "ENABLE IMAP4rev2 CONDSTORE QRESYNC UTF8=ACCEPT"),
	GC("a ENABLE\r\n", "BAD ENABLE needs a capability"),
	GC("a ENABLE \"X\"\r\n", "BAD Invalid capability name"),
	/* RFC 4978: the mechanism as sent; the server judges it */
	GC("a COMPRESS DEFLATE\r\n", "COMPRESS DEFLATE"),
	GC("a compress deflate\r\n", "COMPRESS deflate"),
	GC("a COMPRESS\r\n", "BAD COMPRESS needs a mechanism"),
	GC("a COMPRESS DEFLATE X\r\n", "BAD COMPRESS needs a mechanism"),
	GC("a COMPRESS \"DEFLATE\"\r\n", "BAD COMPRESS needs a mechanism"),
	/* RFC 2971 */
	GC("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")\r\n",
	  "ID \"name\"=\"sodr\" \"version\"=\"19.34\" \"vendor\"=\"Pink Floyd Music Limited\""),
	GC("a ID NIL\r\n", "ID"),
	GC("a ID (\"os\" NIL)\r\n", "ID \"os\"=NULL"),
	GC("a ID (\"name\")\r\n", "BAD Invalid ID parameter list"),
	GC("a ID (name \"x\")\r\n", "BAD Invalid ID parameter"),
	GC("a ID (\"a234567890123456789012345678901\" \"x\")\r\n", "BAD Invalid ID parameter"),
	GC("a ID\r\n", "BAD ID needs a list or NIL"),
};

static const struct gcase mailbox_cases[] = {
	GC("a SELECT inbox\r\n", "SELECT \"INBOX\""),
	GC("a SELECT \"InBoX\"\r\n", "SELECT \"INBOX\""),
	GC("a SELECT INBOX.Sent\r\n", "SELECT \"INBOX.Sent\""),
	/* RFC 3501 5.1.3: modified UTF-7 */
	GC("a SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-\r\n",
	  "SELECT \"~peter/mail/\\xe5\\x8f\\xb0\\xe5\\x8c\\x97/\\xe6\\x97\\xa5\\xe6\\x9c\\xac\\xe8\\xaa\\x9e\""),
	GC("a CREATE \"Entw&APw-rfe\"\r\n", "CREATE \"Entw\\xc3\\xbcrfe\""),
	GC("a CREATE \"A&-B\"\r\n", "CREATE \"A&B\""),
	GC("a CREATE \"Entw\xc3\xbcrfe\"\r\n", "BAD Mailbox name is not modified UTF-7"),
	GC("a CREATE \"&AGE-\"\r\n", "BAD Mailbox name is not in canonical modified UTF-7"),
	GC("a CREATE \"&APw\"\r\n", "BAD Unterminated modified base64 in mailbox name"),
	GC("a CREATE \"&AB8-\"\r\n", "BAD Control character in mailbox name"),
	GC("a SELECT INBOX (CONDSTORE)\r\n", "SELECT \"INBOX\" condstore"),
	GC("A142 SELECT INBOX (QRESYNC (3857529045 20010715194032001 1:198))\r\n",
	  "SELECT \"INBOX\" qresync=3857529045/20010715194032001 known=1:198"),
	GC("B142 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541 (1:12 2:7)))\r\n",
	  "SELECT \"INBOX\" qresync=67890007/90060115194045000 known=41:211,214:541 match=1:12/2:7"),
	GC("a EXAMINE INBOX (QRESYNC (1 0))\r\n", "BAD Invalid QRESYNC modification sequence"),
	GC("a EXAMINE INBOX (QRESYNC (1 2 1:*))\r\n", "BAD Invalid sequence set"),
	GC("a SELECT INBOX (FOO)\r\n", "BAD Unknown SELECT parameter"),
	GC("a SELECT INBOX ()\r\n", "BAD Invalid SELECT parameters"),
	GC("a SELECT\r\n", "BAD SELECT needs a mailbox name"),
	GC("a CREATE Archive/2026\r\n", "CREATE \"Archive/2026\""),
	GC("a CREATE MySent (USE (\\Sent))\r\n", "CREATE \"MySent\" use=0x20"),
	GC("a CREATE X (USE (\\Drafts \\Bogus))\r\n", "BAD Unknown special-use attribute"),
	GC("a CREATE X (FOO)\r\n", "BAD Unknown CREATE parameter"),
	GC("a DELETE foo\r\n", "DELETE \"foo\""),
	GC("a RENAME blurdybloop sarasoop\r\n", "RENAME \"blurdybloop\" \"sarasoop\""),
	GC("a RENAME INBOX \"Old Mail\"\r\n", "RENAME \"INBOX\" \"Old Mail\""),
	GC("a SUBSCRIBE #news.comp.mail.mime\r\n", "SUBSCRIBE \"#news.comp.mail.mime\""),
	GC("a UNSUBSCRIBE a]b\r\n", "UNSUBSCRIBE \"a]b\""),
	GC("a SUBSCRIBE a*b\r\n", "BAD Invalid mailbox name"),
	GC("A042 STATUS blurdybloop (UIDNEXT MESSAGES)\r\n", "STATUS \"blurdybloop\" [MESSAGES UIDNEXT]"),
	GC("a STATUS \"INBOX\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)\r\n",
	  "STATUS \"INBOX\" [MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT]"),
	GC("a STATUS x (SIZE DELETED HIGHESTMODSEQ APPENDLIMIT)\r\n",
	  "STATUS \"x\" [DELETED SIZE HIGHESTMODSEQ APPENDLIMIT]"),
	GC("a STATUS x ()\r\n", "BAD STATUS needs a list of items"),
	GC("a STATUS x (BOGUS)\r\n", "BAD Unknown STATUS item"),
	/* RFC 9208: DELETED-STORAGE */
	GC("a STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)\r\n",
	  "STATUS \"INBOX\" [MESSAGES DELETED DELETED-STORAGE]"),
	GC("a STATUS INBOX (deleted-storage)\r\n", "STATUS \"INBOX\" [DELETED-STORAGE]"),
};

/* RFC 9208 4.1: GETQUOTAROOT, GETQUOTA, SETQUOTA (the RFC's examples). */
static const struct gcase quota_cases[] = {
	GC("A003 GETQUOTAROOT INBOX\r\n", "GETQUOTAROOT \"INBOX\""),
	GC("A003 getquotaroot inbox\r\n", "GETQUOTAROOT \"INBOX\""),
	GC("a GETQUOTAROOT \"Entw&APw-rfe\"\r\n", "GETQUOTAROOT \"Entw\\xc3\\xbcrfe\""),
	GC("a GETQUOTAROOT comp.mail.mime\r\n", "GETQUOTAROOT \"comp.mail.mime\""),
	GC("a GETQUOTAROOT\r\n", "BAD Command needs one mailbox name"),
	GC("a GETQUOTAROOT INBOX Sent\r\n", "BAD Command needs one mailbox name"),
	GC("a GETQUOTAROOT a*b\r\n", "BAD Invalid mailbox name"),
	GC("G0001 GETQUOTA \"!partition/sda4\"\r\n", "GETQUOTA \"!partition/sda4\""),
	GC("a GETQUOTA \"\"\r\n", "GETQUOTA \"\""),
	GC("a GETQUOTA {0+}\r\n\r\n", "GETQUOTA \"\""),
	GC("a GETQUOTA \"User quota\"\r\n", "GETQUOTA \"User quota\""),
	GC("a GETQUOTA\r\n", "BAD GETQUOTA needs a quota root name"),
	GC("a GETQUOTA \"\" \"\"\r\n", "BAD GETQUOTA needs a quota root name"),
	GC("a GETQUOTA (x)\r\n", "BAD GETQUOTA needs a quota root name"),
	GC("S0000 SETQUOTA \"User Quota\" (STORAGE 510)\r\n", "SETQUOTA \"User Quota\" STORAGE=510"),
	GC("a SETQUOTA \"\" (STORAGE 512 MESSAGE 9223372036854775807)\r\n",
	  "SETQUOTA \"\" STORAGE=512 MESSAGE=9223372036854775807"),
	GC("a SETQUOTA \"\" ()\r\n", "SETQUOTA \"\""),
	GC("a SETQUOTA \"\" (STORAGE 9223372036854775808)\r\n", "BAD Invalid SETQUOTA resource limit"),
	GC("a SETQUOTA \"\" (STORAGE)\r\n", "BAD Invalid SETQUOTA limit list"),
	GC("a SETQUOTA \"\" (STORAGE x)\r\n", "BAD Invalid SETQUOTA resource limit"),
	GC("a SETQUOTA \"\" (\"STORAGE\" 1)\r\n", "BAD Invalid SETQUOTA resource limit"),
	GC("a SETQUOTA \"\" STORAGE 1\r\n", "BAD SETQUOTA needs a quota root name and a list of limits"),
	GC("a SETQUOTA \"\"\r\n", "BAD SETQUOTA needs a quota root name and a list of limits"),
	GC("a SETQUOTA \"\" (A 1 B 2 C 3 D 4 E 5 F 6 G 7 H 8 I 9 J 10 K 11 L 12 M 13 N 14 O 15 P 16 Q 17)\r\n",
	  "BAD Invalid SETQUOTA limit list"),
	GC("a UID GETQUOTA \"\"\r\n", "BAD Unknown command"),
};

static const struct gcase utf8_cases[] = {
	/* With UTF8=ACCEPT / IMAP4rev2 names are UTF-8, "&" is just "&". */
	GC("a CREATE \"Entw\xc3\xbcrfe\"\r\n", "CREATE \"Entw\\xc3\\xbcrfe\""),
	GC("a CREATE \"Entw&APw-rfe\"\r\n", "CREATE \"Entw&APw-rfe\""),
	GC("a CREATE \"bad\xc3\"\r\n", "BAD Mailbox name is not UTF-8"),
	GC("a CREATE \"\xed\xa0\x80\"\r\n", "BAD Mailbox name is not UTF-8"),
};

static const struct gcase list_cases[] = {
	GC("A682 LIST \"\" *\r\n", "LIST ref=\"\" pat=\"*\""),
	GC("A101 LIST \"\" \"\"\r\n", "LIST ref=\"\" pat=\"\""),
	GC("A202 LIST ~/Mail/ %\r\n", "LIST ref=\"~/Mail/\" pat=\"%\""),
	GC("a LIST \"\" INBOX.%\r\n", "LIST ref=\"\" pat=\"INBOX.%\""),
	GC("a LIST \"\" &U,BTFw-/*\r\n", "LIST ref=\"\" pat=\"\\xe5\\x8f\\xb0\\xe5\\x8c\\x97/*\""),
	GC("A02 LIST (SUBSCRIBED) \"\" \"*\" RETURN (CHILDREN SPECIAL-USE)\r\n",
	  "LIST ref=\"\" pat=\"*\" ext sel=[SUBSCRIBED] ret=[CHILDREN SPECIAL-USE]"),
	GC("A05 LIST \"\" (\"foo\" \"bar\")\r\n", "LIST ref=\"\" pat=\"foo\",\"bar\" ext sel=[] ret=[]"),
	GC("a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
	  "LIST ref=\"\" pat=\"%\" ext sel=[SUBSCRIBED RECURSIVEMATCH] ret=[]"),
	GC("a LIST (RECURSIVEMATCH) \"\" \"%\"\r\n", "BAD RECURSIVEMATCH needs another selection option"),
	GC("a LIST (REMOTE RECURSIVEMATCH) \"\" \"%\"\r\n", "BAD RECURSIVEMATCH needs another selection option"),
	GC("a LIST () \"\" \"%\"\r\n", "LIST ref=\"\" pat=\"%\" ext sel=[] ret=[]"),
	/* RFC 6154 6: SPECIAL-USE is an independent option, no base for RECURSIVEMATCH. */
	GC("a LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"%\"\r\n", "BAD RECURSIVEMATCH needs another selection option"),
	GC("a LIST (SUBSCRIBED SPECIAL-USE RECURSIVEMATCH) \"\" \"%\"\r\n",
	  "LIST ref=\"\" pat=\"%\" ext sel=[SUBSCRIBED RECURSIVEMATCH SPECIAL-USE] ret=[]"),
	GC("a LIST (REMOTE SUBSCRIBED RECURSIVEMATCH) \"\" \"%\"\r\n",
	  "LIST ref=\"\" pat=\"%\" ext sel=[SUBSCRIBED REMOTE RECURSIVEMATCH] ret=[]"),
	GC("t1 LIST (SPECIAL-USE) \"\" \"*\"\r\n", "LIST ref=\"\" pat=\"*\" ext sel=[SPECIAL-USE] ret=[]"),
	GC("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))\r\n",
	  "LIST ref=\"\" pat=\"%\" ext sel=[] ret=[STATUS][MESSAGES UNSEEN]"),
	GC("a LIST \"\" % RETURN ()\r\n", "LIST ref=\"\" pat=\"%\" ext sel=[] ret=[]"),
	GC("a LIST (BOGUS) \"\" %\r\n", "BAD Unknown LIST selection option"),
	GC("a LIST \"\" % RETURN (BOGUS)\r\n", "BAD Unknown LIST return option"),
	GC("a LIST \"\" % RETURNS ()\r\n", "BAD Unexpected LIST arguments"),
	GC("a LIST \"\"\r\n", "BAD LIST needs a reference and a pattern"),
	GC("a LIST \"\" ()\r\n", "BAD Empty LIST pattern list"),
	GC("a LIST \"\" (\\Seen)\r\n", "BAD Invalid mailbox pattern"),
	GC("a LSUB \"\" \"*\"\r\n", "LSUB ref=\"\" pat=\"*\""),
	GC("a LSUB \"\" (a b)\r\n", "BAD LSUB needs a reference and a pattern"),
	/* Thunderbird, lower case. */
	GC("10 list (subscribed) \"\" \"*\" return (special-use)\r\n",
	  "LIST ref=\"\" pat=\"*\" ext sel=[SUBSCRIBED] ret=[SPECIAL-USE]"),
};

static const struct gcase append_cases[] = {
	GC("A003 APPEND saved-messages (\\Seen) {5+}\r\nhello\r\n", "APPEND \"saved-messages\" {[\\Seen] 5}"),
	GC("A004 APPEND INBOX (\\Seen $Forwarded) \" 7-Feb-1994 21:52:25 -0800\" {3}\r\nabc\r\n",
	  "APPEND \"INBOX\" {[\\Seen] $Forwarded date=760686745 zone=-480 3}"),
	GC("a APPEND INBOX \"01-Jan-1970 00:00:00 +0000\" {1}\r\nx\r\n",
	  "APPEND \"INBOX\" {[] date=0 zone=0 1}"),
	GC("a APPEND INBOX {2}\r\nab\r\n", "APPEND \"INBOX\" {[] 2}"),
	GC("a APPEND INBOX () {2}\r\nab\r\n", "APPEND \"INBOX\" {[] 2}"),
	GC_NUL("a APPEND INBOX ~{3}\r\na\0b\r\n", "APPEND \"INBOX\" {[] binary 3}"),
	/* RFC 6855 4: UTF8 (literal8), alone and in MULTIAPPEND */
	GC("a APPEND INBOX (\\Seen) UTF8 (~{3}\r\nabc)\r\n", "APPEND \"INBOX\" {[\\Seen] binary 3}"),
	GC("a APPEND INBOX UTF8 (~{1+}\r\nx) {2+}\r\nyz\r\n", "APPEND \"INBOX\" {[] binary 1} {[] 2}"),
	GC("a APPEND INBOX UTF8 ({1}\r\nx {1}\r\ny)\r\n", "BAD APPEND needs the message as a literal"),
	/* MULTIAPPEND shape (RFC 3502) */
	GC("a APPEND Drafts (\\Draft) {2+}\r\nab (\\Seen) {3+}\r\ncde\r\n",
	  "APPEND \"Drafts\" {[\\Draft] 2} {[\\Seen] 3}"),
	GC("a APPEND INBOX \"x\"\r\n", "BAD APPEND needs the message as a literal"),
	GC("a APPEND INBOX \"30-Feb-2020 00:00:00 +0000\" {1}\r\nx\r\n", "BAD Invalid date-time"),
	GC("a APPEND INBOX \"01-Jan-2020 24:00:00 +0000\" {1}\r\nx\r\n", "BAD Invalid date-time"),
	GC("a APPEND INBOX \"1-Jan-2020 00:00:00 +0000\" {1}\r\nx\r\n", "BAD Invalid date-time"),
	GC("a APPEND INBOX (\\Recent) {1}\r\nx\r\n", "BAD \\Recent cannot be set"),
	GC("a APPEND INBOX (\\Bogus) {1}\r\nx\r\n", "BAD Invalid system flag"),
	GC("a APPEND INBOX (\\Seen) \"hello\" {1}\r\nx\r\n", "BAD Invalid date-time"),
	GC("a APPEND INBOX (\\Seen)\r\n", "BAD APPEND needs the message as a literal"),
	GC("a APPEND INBOX {1}\r\nx x\r\n", "BAD Unexpected APPEND arguments"),
	GC_NUL("a APPEND INBOX {3}\r\na\0b\r\n", "BAD NUL in message (send it as literal8)"),
	GC("a APPEND INBOX CATENATE (TEXT {1+}\r\nx)\r\n", "BAD APPEND needs the message as a literal"),
	GC("a APPEND\r\n", "BAD APPEND needs a mailbox name and a message"),
};

static const struct gcase fetch_cases[] = {
	GC("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])\r\n",
	  "FETCH 2:4 [FLAGS] BODY[HEADER.FIELDS (DATE FROM)] sets-seen"),
	GC("a FETCH 1 ALL\r\n", "FETCH 1 [FLAGS INTERNALDATE RFC822.SIZE ENVELOPE]"),
	GC("a FETCH 1 fast\r\n", "FETCH 1 [FLAGS INTERNALDATE RFC822.SIZE]"),
	GC("a FETCH 1 FULL\r\n", "FETCH 1 [FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY]"),
	GC("a FETCH 1 (ALL)\r\n", "BAD Invalid fetch attribute"),
	GC("a FETCH 1:* (ENVELOPE BODYSTRUCTURE)\r\n", "FETCH 1:* [ENVELOPE BODYSTRUCTURE]"),
	GC("a UID FETCH 1:* (FLAGS BODY.PEEK[])\r\n", "UID FETCH 1:* [FLAGS] BODY.PEEK[]"),
	GC("a FETCH 1 (RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE UID INTERNALDATE)\r\n",
	  "FETCH 1 [INTERNALDATE RFC822.SIZE UID RFC822 RFC822.HEADER RFC822.TEXT] sets-seen"),
	GC("a FETCH 1 RFC822.HEADER\r\n", "FETCH 1 [RFC822.HEADER]"),
	GC("a FETCH 1 (BODY BODY[] BODY[TEXT] BODY[HEADER])\r\n",
	  "FETCH 1 [BODY] BODY[] BODY[TEXT] BODY[HEADER] sets-seen"),
	GC("a FETCH 1 (BODY.PEEK[1.2.3] BODY.PEEK[1.2.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[3.TEXT])\r\n",
	  "FETCH 1 [] BODY.PEEK[1.2.3] BODY.PEEK[1.2.MIME] BODY.PEEK[2.HEADER] BODY.PEEK[3.TEXT]"),
	GC("a FETCH 1 BODY.PEEK[4.2.HEADER.FIELDS.NOT (Received \"X-Spam\" {4}\r\nDate)]<10.2048>\r\n",
	  "FETCH 1 [] BODY.PEEK[4.2.HEADER.FIELDS.NOT (Received X-Spam Date)]<10.2048>"),
	GC("9 UID fetch 3 (UID RFC822.SIZE BODY.PEEK[]<0.10240>)\r\n",
	  "UID FETCH 3 [RFC822.SIZE UID] BODY.PEEK[]<0.10240>"),
	GC("t FETCH 1 (BINARY.PEEK[1.2]<0.100> BINARY.SIZE[1] BINARY[])\r\n",
	  "FETCH 1 [] BINARY.PEEK[1.2]<0.100> BINARY.SIZE[1] BINARY[] sets-seen"),
	GC("a FETCH 1 (FLAGS MODSEQ)\r\n", "FETCH 1 [FLAGS MODSEQ]"),
	GC("1.23 UID FETCH 1:* (FLAGS UID) (CHANGEDSINCE 12345)\r\n",
	  "UID FETCH 1:* [FLAGS UID] changedsince=12345"),
	GC("a UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
	  "UID FETCH 300:500 [FLAGS] changedsince=12345 vanished"),
	GC("a FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)\r\n",
	  "BAD VANISHED needs UID FETCH and CHANGEDSINCE"),
	GC("a UID FETCH 1 FLAGS (VANISHED)\r\n", "BAD VANISHED needs UID FETCH and CHANGEDSINCE"),
	GC("a FETCH 1 FLAGS (CHANGEDSINCE x)\r\n", "BAD Invalid CHANGEDSINCE value"),
	GC("a FETCH 1 FLAGS (FOO)\r\n", "BAD Invalid fetch modifier"),
	GC("a FETCH 1 FLAGS ()\r\n", "BAD Invalid fetch modifiers"),
	GC("a FETCH $ FLAGS\r\n", "FETCH $ [FLAGS]"),
	GC("a FETCH 4,2:3,*:7 FLAGS\r\n", "FETCH 4,2:3,*:7 [FLAGS]"),
	/* Errors */
	GC("a FETCH 1 ()\r\n", "BAD Empty fetch attribute list"),
	GC("a FETCH 1 (FLAGS BOGUS)\r\n", "BAD Invalid fetch attribute"),
	GC("a FETCH 1 BODY.PEEK\r\n", "BAD Invalid fetch attribute"),
	GC("a FETCH 1 BODY[MIME]\r\n", "BAD Invalid section"),
	GC("a FETCH 1 BODY[0]\r\n", "BAD Invalid section part number"),
	GC("a FETCH 1 BODY[1.]\r\n", "BAD Invalid section"),
	GC("a FETCH 1 BODY[1..2]\r\n", "BAD Invalid section"),
	GC("a FETCH 1 BODY[01]\r\n", "BAD Invalid section part number"),
	GC("a FETCH 1 BODY[4294967296]\r\n", "BAD Invalid section part number"),
	GC("a FETCH 1 BODY[HEADER.FIELDS]\r\n", "BAD HEADER.FIELDS needs a list of field names"),
	GC("a FETCH 1 BODY[HEADER.FIELDS ()]\r\n", "BAD HEADER.FIELDS needs a list of field names"),
	GC("a FETCH 1 BODY[HEADER.FIELDS (A:B)]\r\n", "BAD Invalid header field name"),
	GC("a FETCH 1 BODY[TEXT (A)]\r\n", "BAD Invalid section"),
	GC("a FETCH 1 BODY[\"TEXT\"]\r\n", "BAD Invalid section"),
	GC("a FETCH 1 BINARY[HEADER]\r\n", "BAD Invalid BINARY section"),
	GC("a FETCH 1 BINARY.SIZE[1]<0.10>\r\n", "BAD Invalid partial range"),
	GC("a FETCH 1 BODY[]<0.0>\r\n", "BAD Invalid partial range"),
	GC("a FETCH 1 BODY[]<5>\r\n", "BAD Invalid partial range"),
	GC("a FETCH 1 BODY[]<1.2\r\n", "BAD Invalid partial range"),
	GC("a FETCH 1 BODY[]<99999999999999999999.1>\r\n", "BAD Invalid partial range"),
	GC("a FETCH 0 FLAGS\r\n", "BAD Invalid sequence set"),
	GC("a FETCH 1,,2 FLAGS\r\n", "BAD Invalid sequence set"),
	GC("a FETCH 1: FLAGS\r\n", "BAD Invalid sequence set"),
	GC("a FETCH 4294967296 FLAGS\r\n", "BAD Invalid sequence set"),
	GC("a FETCH 1,$ FLAGS\r\n", "BAD Invalid sequence set"),
	GC("a FETCH 1\r\n", "BAD FETCH needs a sequence set and data items"),
	GC("a FETCH \"1\" FLAGS\r\n", "BAD Invalid sequence set"),
};

static const struct gcase store_cases[] = {
	GC("A003 STORE 2:4 +FLAGS (\\Deleted)\r\n", "STORE 2:4 add [\\Deleted]"),
	GC("a STORE 1 FLAGS ()\r\n", "STORE 1 set []"),
	GC("a STORE 1 -flags.silent (\\Seen \\Flagged)\r\n", "STORE 1 remove silent [\\Flagged \\Seen]"),
	GC("9 UID STORE 12 +FLAGS.SILENT \\Seen\r\n", "UID STORE 12 add silent [\\Seen]"),
	GC("a STORE 1 +FLAGS \\Seen $Junk NonJunk\r\n", "STORE 1 add [\\Seen] $Junk NonJunk"),
	GC("a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)\r\n",
	  "UID STORE 6,4,8 unchangedsince=12121230045 add silent [\\Deleted]"),
	GC("a STORE 1 (UNCHANGEDSINCE 0) FLAGS (\\Seen)\r\n", "STORE 1 unchangedsince=0 set [\\Seen]"),
	GC("a STORE 1 +FLAGS (\\Recent)\r\n", "BAD \\Recent cannot be set"),
	GC("a STORE 1 +FLAGS (\\Bogus)\r\n", "BAD Invalid system flag"),
	GC("a STORE 1 +FLAGS (a]b)\r\n", "BAD Invalid keyword"),
	GC("a STORE 1 +FLAGS (\"x\")\r\n", "BAD Invalid flag"),
	GC("a STORE 1 +FLAGS (\\Seen) x\r\n", "BAD Unexpected STORE arguments"),
	GC("a STORE 1 FLAGSX (\\Seen)\r\n", "BAD Invalid STORE data item"),
	GC("a STORE 1 +FLAGS\r\n", "BAD STORE needs a sequence set, a data item and flags"),
	GC("a STORE 1 (FOO 1) FLAGS ()\r\n", "BAD Invalid STORE modifier"),
	GC("a STORE 1 FLAGS.NOISY ()\r\n", "BAD Invalid STORE data item"),
	GC("a COPY 2:4 MEETING\r\n", "COPY 2:4 \"MEETING\""),
	GC("a UID COPY 1:* \"Trash\"\r\n", "UID COPY 1:* \"Trash\""),
	GC("a UID MOVE 42:69 foo\r\n", "UID MOVE 42:69 \"foo\""),
	GC("a MOVE 1 inbox\r\n", "MOVE 1 \"INBOX\""),
	GC("a COPY 1\r\n", "BAD Command needs a sequence set and a mailbox name"),
};

static const struct gcase search_cases[] = {
	GC("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	  "SEARCH (AND (FLAGGED) (SINCE 1994-02-01/8797) (NOT (FROM \"Smith\")))"),
	GC("A283 SEARCH TEXT \"string not in mailbox\"\r\n", "SEARCH (AND (TEXT \"string not in mailbox\"))"),
	GC("A284 SEARCH CHARSET UTF-8 TEXT {14+}\r\n\xd0\x9d\xd0\xb8\xd0\xba\xd0\xbe\xd0\xbb\xd0\xb0\xd0\xb9\r\n",
	  "SEARCH charset=UTF-8 (AND (TEXT \"\\xd0\\x9d\\xd0\\xb8\\xd0\\xba\\xd0\\xbe\\xd0\\xbb\\xd0\\xb0\\xd0\\xb9\"))"),
	GC("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"\r\n",
	  "SEARCH return=0x9 (AND (FLAGGED) (SINCE 1994-02-01/8797) (NOT (FROM \"Smith\")))"),
	GC("a SEARCH RETURN () ALL\r\n", "SEARCH return=0x4 (AND (ALL))"),
	GC("a UID SEARCH RETURN (SAVE) SINCE 1-Jan-2024\r\n",
	  "UID SEARCH return=0x10 (AND (SINCE 2024-01-01/19723))"),
	GC("a SEARCH RETURN (BOGUS) ALL\r\n", "BAD Unknown RETURN option"),
	GC("a SEARCH OR OR FROM a TO b CC c\r\n", "SEARCH (AND (OR (OR (FROM \"a\") (TO \"b\")) (CC \"c\")))"),
	GC("a SEARCH (SEEN UNDELETED) (OR ANSWERED FLAGGED)\r\n",
	  "SEARCH (AND (AND (SEEN) (UNDELETED)) (OR (ANSWERED) (FLAGGED)))"),
	GC("a search not not deleted\r\n", "SEARCH (AND (NOT (NOT (DELETED))))"),
	GC("a SEARCH 1:5,7 UID 100:* $\r\n", "SEARCH uses-saved (AND (SEQSET 1:5,7) (UID 100:*) (SEQSET $))"),
	GC("a SEARCH UID $\r\n", "SEARCH uses-saved (AND (UID $))"),
	GC("a SEARCH HEADER Message-ID \"<x@y>\" HEADER X-TUID \"\"\r\n",
	  "SEARCH (AND (HEADER Message-ID \"<x@y>\") (HEADER X-TUID \"\"))"),
	GC("12 UID SEARCH HEADER X-TUID Aw3fk2lxKsYo\r\n", "UID SEARCH (AND (HEADER X-TUID \"Aw3fk2lxKsYo\"))"),
	GC("a SEARCH LARGER 10000 SMALLER 20000000000\r\n", "SEARCH (AND (LARGER 10000) (SMALLER 20000000000))"),
	GC("a SEARCH KEYWORD $Forwarded UNKEYWORD Junk\r\n",
	  "SEARCH (AND (KEYWORD \"$Forwarded\") (UNKEYWORD \"Junk\"))"),
	GC("a SEARCH BEFORE \"1-Feb-1994\" ON 29-Feb-2024 SENTBEFORE 01-Jan-2000 SENTON 1-jan-2000 SENTSINCE 31-Dec-1999\r\n",
	  "SEARCH (AND (BEFORE 1994-02-01/8797) (ON 2024-02-29/19782) (SENTBEFORE 2000-01-01/10957) "
	  "(SENTON 2000-01-01/10957) (SENTSINCE 1999-12-31/10956))"),
	GC("a SEARCH ANSWERED DELETED DRAFT FLAGGED SEEN RECENT NEW OLD UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN\r\n",
	  "SEARCH (AND (ANSWERED) (DELETED) (DRAFT) (FLAGGED) (SEEN) (RECENT) (NEW) (OLD) (UNANSWERED) "
	  "(UNDELETED) (UNDRAFT) (UNFLAGGED) (UNSEEN))"),
	GC("a SEARCH BCC a BODY b CC c FROM d SUBJECT e TEXT f TO g\r\n",
	  "SEARCH (AND (BCC \"a\") (BODY \"b\") (CC \"c\") (FROM \"d\") (SUBJECT \"e\") (TEXT \"f\") (TO \"g\"))"),
	GC("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338\r\n",
	  "SEARCH uses-modseq (AND (MODSEQ /flags/\\draft/0 620162338))"),
	GC("a SEARCH MODSEQ 0\r\n", "SEARCH uses-modseq (AND (MODSEQ 0))"),
	GC("a SEARCH YOUNGER 3600 OLDER 60\r\n", "SEARCH (AND (YOUNGER 3600) (OLDER 60))"),
	/* Thunderbird quick filter; Apple Mail */
	GC("20 UID SEARCH UNDELETED OR OR FROM \"bob\" SUBJECT \"bob\" TO \"bob\"\r\n",
	  "UID SEARCH (AND (UNDELETED) (OR (OR (FROM \"bob\") (SUBJECT \"bob\")) (TO \"bob\")))"),
	GC("5.7 UID SEARCH 1:* NOT DELETED\r\n", "UID SEARCH (AND (SEQSET 1:*) (NOT (DELETED)))"),
	/* Errors */
	GC("a SEARCH\r\n", "BAD Missing search key"),
	GC("a SEARCH CHARSET UTF-8\r\n", "BAD Missing search key"),
	GC("a SEARCH FROM\r\n", "BAD Missing search key argument"),
	GC("a SEARCH OR FROM a\r\n", "BAD Missing search key argument"),
	GC("a SEARCH NOT\r\n", "BAD Missing search key argument"),
	GC("a SEARCH BOGUS\r\n", "BAD Unknown search key"),
	GC("a SEARCH ()\r\n", "BAD Empty search key list"),
	GC("a SEARCH SINCE 30-Feb-2024\r\n", "BAD Invalid date"),
	GC("a SEARCH SINCE 1-Foo-2024\r\n", "BAD Invalid date"),
	GC("a SEARCH SINCE 123-Feb-2024\r\n", "BAD Invalid date"),
	GC("a SEARCH SINCE 1-Feb-24\r\n", "BAD Invalid date"),
	GC("a SEARCH LARGER -1\r\n", "BAD Invalid number"),
	GC("a SEARCH LARGER 9223372036854775808\r\n", "BAD Invalid number"),
	GC("a SEARCH OLDER 0\r\n", "BAD Invalid number"),
	GC("a SEARCH KEYWORD \\Seen\r\n", "BAD Invalid keyword"),
	GC("a SEARCH UID 0\r\n", "BAD Invalid sequence set"),
	GC("a SEARCH FROM (a)\r\n", "BAD Invalid search string"),
	GC("a SEARCH MODSEQ \"/flags/x\" bogus 1\r\n", "BAD Invalid MODSEQ entry type"),
	GC("a SEARCH MODSEQ \"x\" all 1\r\n", "BAD Invalid MODSEQ entry name"),
	GC("a SEARCH NIL\r\n", "BAD Invalid search key"),
};

static void test_simple_commands(void **state)
{
	(void)state;
	RUN(simple_cases, false);
}

static void test_login_authenticate_enable_id(void **state)
{
	(void)state;
	RUN(auth_cases, false);
}

static void test_mailbox_commands(void **state)
{
	(void)state;
	RUN(mailbox_cases, false);
}

static void test_utf8_mailbox_names(void **state)
{
	(void)state;
	RUN(utf8_cases, true);
}

static void test_list_and_lsub(void **state)
{
	(void)state;
	RUN(list_cases, false);
}

static void test_append(void **state)
{
	(void)state;
	RUN(append_cases, false);
}

static void test_append_literal_kept_in_memory_also_parses(void **state)
{
	char *got;
	(void)state;

	/* Without a streaming policy the message literal is in memory. */
	got = typed_with("a APPEND INBOX {5+}\r\nhello\r\n", 28, false, false);
	assert_string_equal(got, "APPEND \"INBOX\" {[] 5}");
	free(got);
}

static void test_fetch(void **state)
{
	(void)state;
	RUN(fetch_cases, false);
}

static void test_quota_commands(void **state)
{
	(void)state;
	RUN(quota_cases, false);
}

static void test_store_copy_move(void **state)
{
	(void)state;
	RUN(store_cases, false);
}

static void test_search(void **state)
{
	(void)state;
	RUN(search_cases, false);
}

static void test_search_depth_is_bounded(void **state)
{
	struct buf in;
	char *got;
	(void)state;

	buf_init(&in, 1 << 20);
	buf_append_str(&in, "a SEARCH");
	for (int k = 0; k < IMAP_SEARCH_DEPTH_MAX - 1; k++)
		buf_append_str(&in, " NOT");
	buf_append_str(&in, " SEEN\r\n");
	got = typed_with(in.data, in.len, false, true);
	assert_true(strncmp(got, "SEARCH (AND (NOT (NOT", 21) == 0);
	free(got);
	buf_reset(&in);
	buf_append_str(&in, "a SEARCH");
	for (int k = 0; k < IMAP_SEARCH_DEPTH_MAX; k++)
		buf_append_str(&in, " NOT");
	buf_append_str(&in, " SEEN\r\n");
	got = typed_with(in.data, in.len, false, true);
	assert_string_equal(got, "BAD Search program nested too deeply");
	free(got);
	/* OR chains nest too. */
	buf_reset(&in);
	buf_append_str(&in, "a SEARCH");
	for (int k = 0; k < 200; k++)
		buf_append_str(&in, " OR SEEN");
	buf_append_str(&in, " SEEN\r\n");
	got = typed_with(in.data, in.len, false, true);
	assert_string_equal(got, "BAD Search program nested too deeply");
	free(got);
	buf_free(&in);
}

static void test_literal_action_by_position(void **state)
{
	struct imap_literal_info info = { .tag = "a", .name = "APPEND", .index = 1 };
	struct imap_parse_error refusal = { 0 };
	(void)state;

	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_SINK);
	info.index = 0;           /* the mailbox name */
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_MEMORY);
	info.index = 2;
	info.depth = 1;           /* inside a list: RFC 6855's UTF8 (literal8) */
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_SINK);
	info.depth = 2;           /* deeper: never a message */
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_MEMORY);
	info.name = "LOGIN";
	info.depth = 0;
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_MEMORY);
	assert_null(refusal.text);
	info.name = "XFOO";
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_REFUSE);
	assert_int_equal(refusal.kind, IMAP_REPLY_BAD);
	assert_string_equal(refusal.text, "Unknown command");
	info.name = "APPEND";
	info.uid = true;          /* UID APPEND does not exist */
	assert_int_equal(imap_grammar_literal_action(&info, &refusal), IMAP_LITERAL_REFUSE);
}

static void test_command_states_and_names(void **state)
{
	(void)state;
	assert_int_equal(imap_command_states(IMAP_CMD_LOGIN), IMAP_STATE_NOT_AUTH);
	assert_int_equal(imap_command_states(IMAP_CMD_FETCH), IMAP_STATE_SELECTED);
	assert_int_equal(imap_command_states(IMAP_CMD_SELECT), IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_int_equal(imap_command_states(IMAP_CMD_ENABLE), IMAP_STATE_AUTH);
	assert_int_equal(imap_command_states(IMAP_CMD_COMPRESS), IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_int_equal(imap_command_states(IMAP_CMD_NOOP),
			 IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_string_equal(imap_command_name(IMAP_CMD_UNSELECT), "UNSELECT");
	assert_int_equal(imap_command_states(IMAP_CMD_GETQUOTAROOT), IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_int_equal(imap_command_states(IMAP_CMD_GETQUOTA), IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_int_equal(imap_command_states(IMAP_CMD_SETQUOTA), IMAP_STATE_AUTH | IMAP_STATE_SELECTED);
	assert_string_equal(imap_command_name(IMAP_CMD_GETQUOTAROOT), "GETQUOTAROOT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_commands),
		cmocka_unit_test(test_login_authenticate_enable_id),
		cmocka_unit_test(test_mailbox_commands),
		cmocka_unit_test(test_utf8_mailbox_names),
		cmocka_unit_test(test_list_and_lsub),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_append_literal_kept_in_memory_also_parses),
		cmocka_unit_test(test_fetch),
		cmocka_unit_test(test_store_copy_move),
		cmocka_unit_test(test_quota_commands),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_search_depth_is_bounded),
		cmocka_unit_test(test_literal_action_by_position),
		cmocka_unit_test(test_command_states_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
