/* imap_grammar: the typed IMAP command set.
 *
 * Offers: imap_command_parse turns the argument tree of one command
 * (imap_parser) into a struct imap_command: a table gives each command
 * its id, whether UID may prefix it, the session states it is valid in,
 * and its reader.  The readers follow RFC 9051 section 9 (with RFC 3501
 * where IMAP4rev1 clients differ) and the extensions' grammars:
 *   LOGIN userid password; AUTHENTICATE mech [initial] (RFC 4959 SASL-IR:
 *   "=" is an empty response); ENABLE 1*capability (RFC 5161); ID
 *   (RFC 2971, its limits enforced); SELECT / EXAMINE mailbox
 *   [(CONDSTORE / QRESYNC (...))] (RFC 7162); CREATE mailbox [(USE (...))]
 *   (RFC 6154); LIST [(select-opts)] reference (pattern / (patterns))
 *   [RETURN (opts)] (RFC 5258, RFC 6154, RFC 5819); STATUS mailbox
 *   (items); APPEND mailbox 1*([flags] [date-time] literal / literal8)
 *   (RFC 3502 shape, RFC 3516); FETCH (imap_fetch); SEARCH (imap_search);
 *   SORT [RETURN (opts)] (criteria) charset keys (RFC 5256, RFC 5267;
 *   imap_sort, imap_search); THREAD algorithm charset keys (RFC 5256);
 *   STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags; COPY / MOVE
 *   (RFC 6851); UID EXPUNGE (RFC 4315); GETQUOTA root, GETQUOTAROOT
 *   mailbox, SETQUOTA root (resource limit ...) (RFC 9208, at most
 *   IMAP_QUOTA_LIMITS_MAX pairs); the rest take no arguments.
 * Mailbox names are decoded (imap_types) to UTF-8; an unknown command, or
 * UID before one that does not take it, is "Unknown command".
 *
 * Trusts: the parser's argument tree; nothing about the values.
 *
 * Fails: -1 with a static reason for a tagged BAD.  Nothing it reads is
 * unbounded: counts come from the parser's limits, and the ID, keyword,
 * range and nesting limits are its own. */
#include <string.h>

#include "imap_grammar.h"

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

struct grammar_ctx {
	struct arena *a;
	const struct imap_grammar_opts *opts;
	const char **error_r;
	struct imap_command *cmd;
};

typedef int grammar_fn(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n);

static int g_fail(struct grammar_ctx *c, const char *why)
{
	*c->error_r = why;
	return -1;
}

static int g_none(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	(void)args;
	return n == 0 ? 0 : g_fail(c, "Unexpected arguments");
}

static int g_mailbox(struct grammar_ctx *c, const struct imap_arg *arg, const char **name_r)
{
	return imap_arg_mailbox(arg, c->opts->utf8_names, c->a, name_r, c->error_r);
}

/* ------------------------------------------------------------ not authenticated */

static int g_login(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_login *l = &c->cmd->u.login;

	if (n != 2)
		return g_fail(c, "LOGIN needs a user name and a password");
	l->user = imap_arg_astring(&args[0], &l->user_len);
	l->pass = imap_arg_astring(&args[1], &l->pass_len);
	if (l->user == NULL || l->pass == NULL)
		return g_fail(c, "Invalid user name or password");
	return 0;
}

/* base64 (RFC 4648 alphabet with padding) or "=". */
static bool sasl_response_ok(const char *s, size_t len)
{
	size_t pad = 0;

	if (len == 1 && s[0] == '=')
		return true;
	if (len % 4 != 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
				 (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
			return false;
	}
	return pad <= 2;
}

static int g_authenticate(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_authenticate *au = &c->cmd->u.auth;
	char *mech;

	if (n < 1 || n > 2 || !imap_arg_is_strict_atom(&args[0]))
		return g_fail(c, "AUTHENTICATE needs a mechanism name");
	mech = arena_strndup(c->a, args[0].text, args[0].len);
	if (mech == NULL)
		return g_fail(c, "Command too large");
	for (char *p = mech; *p != '\0'; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	au->mechanism = mech;
	if (n == 2) {
		if (args[1].type != IMAP_ARG_ATOM || !sasl_response_ok(args[1].text, args[1].len))
			return g_fail(c, "Invalid SASL initial response");
		au->initial = args[1].len == 1 && args[1].text[0] == '=' ? "" : args[1].text;
	}
	return 0;
}

/* ------------------------------------------------------------ any state */

static int g_enable(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	const char **names;

	if (n == 0)
		return g_fail(c, "ENABLE needs a capability");
	names = arena_alloc(c->a, (size_t)n * sizeof(*names));
	if (names == NULL)
		return g_fail(c, "Command too large");
	for (unsigned int k = 0; k < n; k++) {
		if (!imap_arg_is_strict_atom(&args[k]))
			return g_fail(c, "Invalid capability name");
		names[k] = args[k].text;
	}
	c->cmd->u.enable.names = names;
	c->cmd->u.enable.count = n;
	return 0;
}

/* RFC 4978 5: "COMPRESS" SP algorithm; which algorithms are known is the
 * server's business (BAD for the others, RFC 4978 3). */
static int g_compress(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	if (n != 1 || !imap_arg_is_strict_atom(&args[0]))
		return g_fail(c, "COMPRESS needs a mechanism");
	c->cmd->u.mechanism = args[0].text;
	return 0;
}

static int g_id(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_id_pair *pairs;
	const struct imap_arg *l;

	if (n != 1 || (args[0].type != IMAP_ARG_NIL && args[0].type != IMAP_ARG_LIST))
		return g_fail(c, "ID needs a list or NIL");
	l = &args[0];
	if (l->type == IMAP_ARG_NIL || l->count == 0)
		return 0;
	if (l->count % 2 != 0 || l->count / 2 > IMAP_ID_PAIRS_MAX)
		return g_fail(c, "Invalid ID parameter list");
	pairs = arena_alloc(c->a, (size_t)l->count / 2 * sizeof(*pairs));
	if (pairs == NULL)
		return g_fail(c, "Command too large");
	for (unsigned int k = 0; k < l->count; k += 2) {
		size_t flen, vlen;
		bool nil;
		const char *f = imap_arg_string(&l->items[k], &flen);
		const char *v = imap_arg_nstring(&l->items[k + 1], &vlen, &nil);

		if (f == NULL || v == NULL || flen > IMAP_ID_FIELD_MAX || vlen > IMAP_ID_VALUE_MAX)
			return g_fail(c, "Invalid ID parameter");
		pairs[k / 2].field = f;
		pairs[k / 2].value = nil ? NULL : v;
	}
	c->cmd->u.id.pairs = pairs;
	c->cmd->u.id.count = l->count / 2;
	return 0;
}

/* ------------------------------------------------------------ authenticated */

/* QRESYNC (uidvalidity modseq [known-uids] [(seqs uids)]), RFC 7162 3.2.5 */
static int g_qresync(struct grammar_ctx *c, const struct imap_arg *l, struct imap_select *s)
{
	uint64_t v;
	unsigned int k = 2;

	if (l->type != IMAP_ARG_LIST || l->count < 2 || l->count > 4 ||
	    imap_arg_number(&l->items[0], IMAP_NUMBER_MAX, true, &v) < 0)
		return g_fail(c, "Invalid QRESYNC parameters");
	s->uidvalidity = (uint32_t)v;
	if (imap_arg_number(&l->items[1], IMAP_NUMBER64_MAX, true, &s->modseq) < 0)
		return g_fail(c, "Invalid QRESYNC modification sequence");
	if (k < l->count && l->items[k].type == IMAP_ARG_ATOM) {
		if (imap_arg_seqset(&l->items[k], false, false, c->a, &s->known_uids, c->error_r) < 0)
			return -1;
		s->known_uids_set = true;
		k++;
	}
	if (k < l->count) {
		const struct imap_arg *m = &l->items[k++];

		if (m->type != IMAP_ARG_LIST || m->count != 2)
			return g_fail(c, "Invalid QRESYNC sequence match data");
		if (imap_arg_seqset(&m->items[0], false, false, c->a, &s->seq_match_seqs, c->error_r) < 0 ||
		    imap_arg_seqset(&m->items[1], false, false, c->a, &s->seq_match_uids, c->error_r) < 0)
			return -1;
		s->seq_match_set = true;
	}
	if (k != l->count)
		return g_fail(c, "Invalid QRESYNC parameters");
	s->qresync = true;
	return 0;
}

static int g_select(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_select *s = &c->cmd->u.select;

	if (n < 1 || n > 2)
		return g_fail(c, "SELECT needs a mailbox name");
	if (g_mailbox(c, &args[0], &s->mailbox) < 0)
		return -1;
	if (n == 1)
		return 0;
	if (args[1].type != IMAP_ARG_LIST || args[1].count == 0)
		return g_fail(c, "Invalid SELECT parameters");
	for (unsigned int k = 0; k < args[1].count; k++) {
		const struct imap_arg *p = &args[1].items[k];

		if (imap_arg_is_atom(p, "CONDSTORE") && !s->condstore) {
			s->condstore = true;
		} else if (imap_arg_is_atom(p, "QRESYNC") && !s->qresync && k + 1 < args[1].count) {
			if (g_qresync(c, &args[1].items[++k], s) < 0)
				return -1;
		} else {
			/* RFC 4466 2.1: an unknown parameter is refused. */
			return g_fail(c, "Unknown SELECT parameter");
		}
	}
	return 0;
}

static const struct imap_word use_attrs[] = {
	IMAP_WORD("\\All", IMAP_USE_ALL, 0),
	IMAP_WORD("\\Archive", IMAP_USE_ARCHIVE, 0),
	IMAP_WORD("\\Drafts", IMAP_USE_DRAFTS, 0),
	IMAP_WORD("\\Flagged", IMAP_USE_FLAGGED, 0),
	IMAP_WORD("\\Junk", IMAP_USE_JUNK, 0),
	IMAP_WORD("\\Sent", IMAP_USE_SENT, 0),
	IMAP_WORD("\\Trash", IMAP_USE_TRASH, 0),
};

static int g_create(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_create *cr = &c->cmd->u.create;
	const struct imap_arg *p;

	if (n < 1 || n > 2)
		return g_fail(c, "CREATE needs a mailbox name");
	if (g_mailbox(c, &args[0], &cr->mailbox) < 0)
		return -1;
	if (n == 1)
		return 0;
	/* RFC 6154 3: create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")" */
	p = &args[1];
	if (p->type != IMAP_ARG_LIST || p->count != 2 || !imap_arg_is_atom(&p->items[0], "USE") ||
	    p->items[1].type != IMAP_ARG_LIST)
		return g_fail(c, "Unknown CREATE parameter");
	for (unsigned int k = 0; k < p->items[1].count; k++) {
		const struct imap_word *w = imap_arg_word(&p->items[1].items[k], use_attrs, NELEM(use_attrs));

		if (w == NULL)
			return g_fail(c, "Unknown special-use attribute");
		cr->use |= w->value;
	}
	return 0;
}

static int g_one_mailbox(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	if (n != 1)
		return g_fail(c, "Command needs one mailbox name");
	return g_mailbox(c, &args[0], &c->cmd->u.mailbox);
}

static int g_rename(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	if (n != 2)
		return g_fail(c, "RENAME needs two mailbox names");
	if (g_mailbox(c, &args[0], &c->cmd->u.rename.from) < 0)
		return -1;
	return g_mailbox(c, &args[1], &c->cmd->u.rename.to);
}

static const struct imap_word status_atts[] = {
	IMAP_WORD("MESSAGES", IMAP_STATUS_MESSAGES, 0),
	IMAP_WORD("UIDNEXT", IMAP_STATUS_UIDNEXT, 0),
	IMAP_WORD("UIDVALIDITY", IMAP_STATUS_UIDVALIDITY, 0),
	IMAP_WORD("UNSEEN", IMAP_STATUS_UNSEEN, 0),
	IMAP_WORD("DELETED", IMAP_STATUS_DELETED, 0),
	IMAP_WORD("SIZE", IMAP_STATUS_SIZE, 0),
	IMAP_WORD("RECENT", IMAP_STATUS_RECENT, 0),
	IMAP_WORD("HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ, 0),
	IMAP_WORD("APPENDLIMIT", IMAP_STATUS_APPENDLIMIT, 0),
	IMAP_WORD("MAILBOXID", IMAP_STATUS_MAILBOXID, 0),
	IMAP_WORD("DELETED-STORAGE", IMAP_STATUS_DELETED_STORAGE, 0),
};

/* LIST selection options (RFC 5258 3.1, RFC 6154 5.1). */
static const struct imap_word list_select_opts[] = {
	IMAP_WORD("SUBSCRIBED", IMAP_LIST_SEL_SUBSCRIBED, 0),
	IMAP_WORD("REMOTE", IMAP_LIST_SEL_REMOTE, 0),
	IMAP_WORD("RECURSIVEMATCH", IMAP_LIST_SEL_RECURSIVEMATCH, 0),
	IMAP_WORD("SPECIAL-USE", IMAP_LIST_SEL_SPECIAL_USE, 0),
};

/* LIST return options (RFC 5258 3.2, RFC 6154 5.2, RFC 5819). */
static const struct imap_word list_return_opts[] = {
	IMAP_WORD("SUBSCRIBED", IMAP_LIST_RET_SUBSCRIBED, 0),
	IMAP_WORD("CHILDREN", IMAP_LIST_RET_CHILDREN, 0),
	IMAP_WORD("SPECIAL-USE", IMAP_LIST_RET_SPECIAL_USE, 0),
	IMAP_WORD("STATUS", IMAP_LIST_RET_STATUS, 0),
};

/* Set the bits of the words of list l found in table; -1 at an unknown one. */
static int g_word_bits(const struct imap_arg *l, const struct imap_word *table, size_t n, unsigned int *bits)
{
	for (unsigned int k = 0; k < l->count; k++) {
		const struct imap_word *w = imap_arg_word(&l->items[k], table, n);

		if (w == NULL)
			return -1;
		*bits |= w->value;
	}
	return 0;
}

/* "(" status-att *(SP status-att) ")" */
static int g_status_items(struct grammar_ctx *c, const struct imap_arg *l, unsigned int *items_r)
{
	if (l->type != IMAP_ARG_LIST || l->count == 0)
		return g_fail(c, "STATUS needs a list of items");
	*items_r = 0;
	if (g_word_bits(l, status_atts, NELEM(status_atts), items_r) < 0)
		return g_fail(c, "Unknown STATUS item");
	return 0;
}

static int g_status(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	if (n != 2)
		return g_fail(c, "STATUS needs a mailbox name and a list of items");
	if (g_mailbox(c, &args[0], &c->cmd->u.status.mailbox) < 0)
		return -1;
	return g_status_items(c, &args[1], &c->cmd->u.status.items);
}

static int g_list_select(struct grammar_ctx *c, const struct imap_arg *l, struct imap_list *li)
{
	if (g_word_bits(l, list_select_opts, NELEM(list_select_opts), &li->select) < 0)
		return g_fail(c, "Unknown LIST selection option");
	/* RFC 5258 3.1 and 6: RECURSIVEMATCH needs a base option, SUBSCRIBED;
	 * REMOTE does not count, nor does SPECIAL-USE (RFC 6154 6: a
	 * list-select-independent-opt). */
	if ((li->select & IMAP_LIST_SEL_RECURSIVEMATCH) && !(li->select & IMAP_LIST_SEL_SUBSCRIBED))
		return g_fail(c, "RECURSIVEMATCH needs another selection option");
	return 0;
}

static int g_list_return(struct grammar_ctx *c, const struct imap_arg *l, struct imap_list *li)
{
	if (l->type != IMAP_ARG_LIST)
		return g_fail(c, "RETURN needs a list");
	for (unsigned int k = 0; k < l->count; k++) {
		const struct imap_word *w = imap_arg_word(&l->items[k], list_return_opts, NELEM(list_return_opts));

		if (w == NULL)
			return g_fail(c, "Unknown LIST return option");
		if (w->value == IMAP_LIST_RET_STATUS) {
			/* RFC 5819: STATUS (items), once. */
			if (k + 1 == l->count || (li->ret & IMAP_LIST_RET_STATUS))
				return g_fail(c, "Invalid RETURN STATUS option");
			if (g_status_items(c, &l->items[++k], &li->status_items) < 0)
				return -1;
		}
		li->ret |= w->value;
	}
	return 0;
}

static int g_patterns(struct grammar_ctx *c, const struct imap_arg *p, struct imap_list *li)
{
	const struct imap_arg *items = p;
	const char **pats;
	unsigned int n = 1;

	if (p->type == IMAP_ARG_LIST) {
		if (p->count == 0)
			return g_fail(c, "Empty LIST pattern list");
		items = p->items;
		n = p->count;
		li->extended = true;
	}
	pats = arena_alloc(c->a, (size_t)n * sizeof(*pats));
	if (pats == NULL)
		return g_fail(c, "Command too large");
	for (unsigned int k = 0; k < n; k++)
		if (imap_arg_list_mailbox(&items[k], c->opts->utf8_names, c->a, &pats[k], c->error_r) < 0)
			return -1;
	li->patterns = pats;
	li->npatterns = n;
	return 0;
}

static int g_list(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_list *li = &c->cmd->u.list;
	unsigned int pos = 0;

	if (n > 0 && args[0].type == IMAP_ARG_LIST) {
		li->extended = true;
		if (g_list_select(c, &args[0], li) < 0)
			return -1;
		pos++;
	}
	if (n < pos + 2)
		return g_fail(c, "LIST needs a reference and a pattern");
	if (g_mailbox(c, &args[pos], &li->reference) < 0 || g_patterns(c, &args[pos + 1], li) < 0)
		return -1;
	pos += 2;
	if (pos < n) {
		if (n != pos + 2 || !imap_arg_is_atom(&args[pos], "RETURN"))
			return g_fail(c, "Unexpected LIST arguments");
		li->extended = true;
		return g_list_return(c, &args[pos + 1], li);
	}
	return 0;
}

static int g_lsub(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_list *li = &c->cmd->u.list;

	if (n != 2 || args[1].type == IMAP_ARG_LIST)
		return g_fail(c, "LSUB needs a reference and a pattern");
	if (g_mailbox(c, &args[0], &li->reference) < 0)
		return -1;
	return g_patterns(c, &args[1], li);
}

static bool g_is_literal(const struct imap_arg *a)
{
	return a->type == IMAP_ARG_LITERAL || a->type == IMAP_ARG_STREAM;
}

/* RFC 6855 4: "UTF8" SP "(" literal8 ")" at args[i] (a literal taken too). */
static bool g_is_utf8_data(const struct imap_arg *args, unsigned int n, unsigned int i)
{
	return i + 1 < n && imap_arg_is_atom(&args[i], "UTF8") && args[i + 1].type == IMAP_ARG_LIST &&
	       args[i + 1].count == 1 && g_is_literal(&args[i + 1].items[0]);
}

/* One append-message: [flag-list] [date-time] (literal / literal8 /
 * UTF8 (literal8) of RFC 6855). */
static int g_append_msg(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n, unsigned int *pos,
			struct imap_append_msg *m)
{
	if (*pos < n && args[*pos].type == IMAP_ARG_LIST &&
	    imap_arg_flag_list(&args[(*pos)++], c->a, &m->flags, c->error_r) < 0)
		return -1;
	if (*pos < n && args[*pos].type == IMAP_ARG_QUOTED) {
		if (imap_arg_date_time(&args[(*pos)++], &m->date, &m->zone) < 0)
			return g_fail(c, "Invalid date-time");
		m->has_date = true;
	}
	if (*pos < n && g_is_utf8_data(args, n, *pos)) {
		m->data = &args[*pos + 1].items[0];
		*pos += 2;
	} else if (*pos < n && g_is_literal(&args[*pos])) {
		m->data = &args[(*pos)++];
	} else {
		return g_fail(c, "APPEND needs the message as a literal");
	}
	m->binary = (m->data->flags & IMAP_ARG_F_BINARY) != 0;
	/* RFC 9051 section 9: a literal is CHAR8 (no NUL); literal8 may hold NUL. */
	if ((m->data->flags & IMAP_ARG_F_NUL) && !m->binary)
		return g_fail(c, "NUL in message (send it as literal8)");
	return 0;
}

static int g_append(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_append *ap = &c->cmd->u.append;
	struct imap_append_msg *msgs;
	unsigned int nmsg = 0, pos = 1;

	if (n < 2)
		return g_fail(c, "APPEND needs a mailbox name and a message");
	if (g_mailbox(c, &args[0], &ap->mailbox) < 0)
		return -1;
	for (unsigned int k = 1; k < n; k++)
		if (g_is_literal(&args[k]) || g_is_utf8_data(args, n, k))
			nmsg++;
	if (nmsg == 0)
		return g_fail(c, "APPEND needs the message as a literal");
	msgs = arena_calloc(c->a, nmsg, sizeof(*msgs));
	if (msgs == NULL)
		return g_fail(c, "Command too large");
	while (pos < n) {
		if (ap->count == nmsg)
			return g_fail(c, "Unexpected APPEND arguments");
		if (g_append_msg(c, args, n, &pos, &msgs[ap->count++]) < 0)
			return -1;
	}
	ap->msgs = msgs;
	return 0;
}

/* RFC 9208 4.1.1: "GETQUOTA" SP quota-root-name (an astring) */
static int g_getquota(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	size_t len;

	if (n != 1 || (c->cmd->u.quota_root = imap_arg_astring(&args[0], &len)) == NULL)
		return g_fail(c, "GETQUOTA needs a quota root name");
	return 0;
}

/* RFC 9208 4.1.3: "SETQUOTA" SP quota-root-name SP "(" [resource-name
 * SP resource-limit *(SP resource-name SP resource-limit)] ")" */
static int g_setquota(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_setquota *sq = &c->cmd->u.setquota;
	struct imap_quota_limit *limits;
	const struct imap_arg *l;
	size_t len;

	if (n != 2 || (sq->root = imap_arg_astring(&args[0], &len)) == NULL || args[1].type != IMAP_ARG_LIST)
		return g_fail(c, "SETQUOTA needs a quota root name and a list of limits");
	l = &args[1];
	if (l->count % 2 != 0 || l->count / 2 > IMAP_QUOTA_LIMITS_MAX)
		return g_fail(c, "Invalid SETQUOTA limit list");
	if (l->count == 0)
		return 0;
	limits = arena_alloc(c->a, (size_t)l->count / 2 * sizeof(*limits));
	if (limits == NULL)
		return g_fail(c, "Command too large");
	for (unsigned int k = 0; k < l->count; k += 2) {
		if (!imap_arg_is_strict_atom(&l->items[k]) ||
		    imap_arg_number(&l->items[k + 1], IMAP_NUMBER64_MAX, false, &limits[k / 2].limit) < 0)
			return g_fail(c, "Invalid SETQUOTA resource limit");
		limits[k / 2].resource = l->items[k].text;
	}
	sq->limits = limits;
	sq->count = l->count / 2;
	return 0;
}

/* ------------------------------------------------------------ selected */

static int g_expunge(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	if (!c->cmd->uid)
		return g_none(c, args, n);
	/* RFC 4315 2.1: UID EXPUNGE sequence-set */
	if (n != 1)
		return g_fail(c, "UID EXPUNGE needs a UID set");
	return imap_arg_seqset(&args[0], true, true, c->a, &c->cmd->u.expunge, c->error_r);
}

static int g_search(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	return imap_search_parse(args, n, c->a, &c->cmd->u.search, c->error_r);
}

/* sort = ["UID" SP] "SORT" [SP "RETURN" SP "(" ... ")"] SP sort-criteria
 *        SP charset 1*(SP search-key)   (RFC 5256 5, RFC 5267 3.2) */
static int g_sort(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_sort_cmd *s = &c->cmd->u.sort;
	unsigned int pos = 0;

	if (n > 1 && imap_arg_is_atom(&args[0], "RETURN")) {
		if (imap_search_parse_return(&args[1], &s->search, c->error_r) < 0)
			return -1;
		pos = 2;
	}
	if (pos >= n)
		return g_fail(c, "SORT needs sort criteria, a charset and search keys");
	if (imap_sort_criteria_parse(&args[pos], c->a, &s->crit, &s->ncrit, c->error_r) < 0)
		return -1;
	pos++;
	return imap_search_parse_criteria(args + pos, n - pos, c->a, &s->search, c->error_r);
}

/* thread = ["UID" SP] "THREAD" SP thread-alg SP charset 1*(SP search-key) */
static int g_thread(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_thread_cmd *t = &c->cmd->u.thread;

	if (n < 1)
		return g_fail(c, "THREAD needs an algorithm, a charset and search keys");
	if (imap_arg_is_atom(&args[0], "ORDEREDSUBJECT"))
		t->alg = IMAP_THREAD_ORDEREDSUBJECT;
	else if (imap_arg_is_atom(&args[0], "REFERENCES"))
		t->alg = IMAP_THREAD_REFERENCES;
	else
		return g_fail(c, "Unknown THREAD algorithm");
	return imap_search_parse_criteria(args + 1, n - 1, c->a, &t->search, c->error_r);
}

static int g_fetch(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_fetch_cmd *f = &c->cmd->u.fetch;

	if (n < 2 || n > 3)
		return g_fail(c, "FETCH needs a sequence set and data items");
	if (imap_arg_seqset(&args[0], true, true, c->a, &f->set, c->error_r) < 0 ||
	    imap_fetch_parse(&args[1], c->a, &f->fetch, c->error_r) < 0)
		return -1;
	if (n == 3)
		return imap_fetch_modifiers(&args[2], c->cmd->uid, &f->fetch, c->error_r);
	return 0;
}

/* [+-]FLAGS[.SILENT] */
static int g_store_item(struct grammar_ctx *c, const struct imap_arg *a, struct imap_store *s)
{
	const char *t = a->text;
	size_t len = a->len;

	if (a->type != IMAP_ARG_ATOM)
		return g_fail(c, "Invalid STORE data item");
	s->op = IMAP_STORE_SET;
	if (len > 0 && (t[0] == '+' || t[0] == '-')) {
		s->op = t[0] == '+' ? IMAP_STORE_ADD : IMAP_STORE_REMOVE;
		t++;
		len--;
	}
	if (imap_word_eq(t, len, "FLAGS.SILENT", 12))
		s->silent = true;
	else if (!imap_word_eq(t, len, "FLAGS", 5))
		return g_fail(c, "Invalid STORE data item");
	return 0;
}

static int g_store(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_store *s = &c->cmd->u.store;
	unsigned int pos = 1;

	if (n < 3)
		return g_fail(c, "STORE needs a sequence set, a data item and flags");
	if (imap_arg_seqset(&args[0], true, true, c->a, &s->set, c->error_r) < 0)
		return -1;
	if (args[1].type == IMAP_ARG_LIST) {
		const struct imap_arg *m = &args[1];

		/* RFC 7162 3.1.3: store-modifier =/ UNCHANGEDSINCE mod-sequence-valzer */
		if (m->count != 2 || !imap_arg_is_atom(&m->items[0], "UNCHANGEDSINCE") ||
		    imap_arg_number(&m->items[1], IMAP_NUMBER64_MAX, false, &s->unchangedsince) < 0)
			return g_fail(c, "Invalid STORE modifier");
		s->unchangedsince_set = true;
		pos++;
	}
	if (pos + 1 >= n || g_store_item(c, &args[pos], s) < 0) {
		if (pos + 1 >= n)
			*c->error_r = "STORE needs a data item and flags";
		return -1;
	}
	pos++;
	if (args[pos].type == IMAP_ARG_LIST) {
		if (pos + 1 != n)
			return g_fail(c, "Unexpected STORE arguments");
		return imap_arg_flag_list(&args[pos], c->a, &s->flags, c->error_r);
	}
	return imap_flags_parse(&args[pos], n - pos, c->a, &s->flags, c->error_r);
}

static int g_copy(struct grammar_ctx *c, const struct imap_arg *args, unsigned int n)
{
	struct imap_copy *cp = &c->cmd->u.copy;

	if (n != 2)
		return g_fail(c, "Command needs a sequence set and a mailbox name");
	if (imap_arg_seqset(&args[0], true, true, c->a, &cp->set, c->error_r) < 0)
		return -1;
	return g_mailbox(c, &args[1], &cp->mailbox);
}

/* ------------------------------------------------------------ table */

#define CMD(name, id, uid, states, fn) { name, sizeof(name) - 1, id, uid, states, fn }
#define ANY (IMAP_STATE_NOT_AUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)

static const struct grammar_command {
	const char *name;
	size_t len;
	enum imap_cmd_id id;
	bool uid;                         /* may follow UID */
	unsigned int states;
	grammar_fn *parse;
} commands[] = {
	CMD("CAPABILITY", IMAP_CMD_CAPABILITY, false, ANY, g_none),
	CMD("NOOP", IMAP_CMD_NOOP, false, ANY, g_none),
	CMD("LOGOUT", IMAP_CMD_LOGOUT, false, ANY, g_none),
	CMD("STARTTLS", IMAP_CMD_STARTTLS, false, IMAP_STATE_NOT_AUTH, g_none),
	CMD("AUTHENTICATE", IMAP_CMD_AUTHENTICATE, false, IMAP_STATE_NOT_AUTH, g_authenticate),
	CMD("LOGIN", IMAP_CMD_LOGIN, false, IMAP_STATE_NOT_AUTH, g_login),
	CMD("ENABLE", IMAP_CMD_ENABLE, false, IMAP_STATE_AUTH, g_enable),
	CMD("ID", IMAP_CMD_ID, false, ANY, g_id),
	CMD("COMPRESS", IMAP_CMD_COMPRESS, false, AUTHED, g_compress),
	CMD("SELECT", IMAP_CMD_SELECT, false, AUTHED, g_select),
	CMD("EXAMINE", IMAP_CMD_EXAMINE, false, AUTHED, g_select),
	CMD("CREATE", IMAP_CMD_CREATE, false, AUTHED, g_create),
	CMD("DELETE", IMAP_CMD_DELETE, false, AUTHED, g_one_mailbox),
	CMD("RENAME", IMAP_CMD_RENAME, false, AUTHED, g_rename),
	CMD("SUBSCRIBE", IMAP_CMD_SUBSCRIBE, false, AUTHED, g_one_mailbox),
	CMD("UNSUBSCRIBE", IMAP_CMD_UNSUBSCRIBE, false, AUTHED, g_one_mailbox),
	CMD("LIST", IMAP_CMD_LIST, false, AUTHED, g_list),
	CMD("LSUB", IMAP_CMD_LSUB, false, AUTHED, g_lsub),
	CMD("NAMESPACE", IMAP_CMD_NAMESPACE, false, AUTHED, g_none),
	CMD("STATUS", IMAP_CMD_STATUS, false, AUTHED, g_status),
	CMD("APPEND", IMAP_CMD_APPEND, false, AUTHED, g_append),
	CMD("IDLE", IMAP_CMD_IDLE, false, AUTHED, g_none),
	CMD("GETQUOTA", IMAP_CMD_GETQUOTA, false, AUTHED, g_getquota),
	CMD("GETQUOTAROOT", IMAP_CMD_GETQUOTAROOT, false, AUTHED, g_one_mailbox),
	CMD("SETQUOTA", IMAP_CMD_SETQUOTA, false, AUTHED, g_setquota),
	CMD("CHECK", IMAP_CMD_CHECK, false, IMAP_STATE_SELECTED, g_none),
	CMD("CLOSE", IMAP_CMD_CLOSE, false, IMAP_STATE_SELECTED, g_none),
	CMD("UNSELECT", IMAP_CMD_UNSELECT, false, IMAP_STATE_SELECTED, g_none),
	CMD("EXPUNGE", IMAP_CMD_EXPUNGE, true, IMAP_STATE_SELECTED, g_expunge),
	CMD("SEARCH", IMAP_CMD_SEARCH, true, IMAP_STATE_SELECTED, g_search),
	CMD("FETCH", IMAP_CMD_FETCH, true, IMAP_STATE_SELECTED, g_fetch),
	CMD("STORE", IMAP_CMD_STORE, true, IMAP_STATE_SELECTED, g_store),
	CMD("COPY", IMAP_CMD_COPY, true, IMAP_STATE_SELECTED, g_copy),
	CMD("MOVE", IMAP_CMD_MOVE, true, IMAP_STATE_SELECTED, g_copy),
	CMD("SORT", IMAP_CMD_SORT, true, IMAP_STATE_SELECTED, g_sort),
	CMD("THREAD", IMAP_CMD_THREAD, true, IMAP_STATE_SELECTED, g_thread),
};

/* The table row of an upper-case command name, or NULL. */
static const struct grammar_command *grammar_lookup(const char *name, bool uid)
{
	size_t len = strlen(name);

	for (size_t k = 0; k < NELEM(commands); k++)
		if (commands[k].len == len && memcmp(commands[k].name, name, len) == 0)
			return uid && !commands[k].uid ? NULL : &commands[k];
	return NULL;
}

int imap_command_parse(const struct imap_cmd *cmd, const struct imap_grammar_opts *opts, struct arena *a,
		       struct imap_command *r, const char **error_r)
{
	const struct grammar_command *gc = grammar_lookup(cmd->name, cmd->uid);
	struct grammar_ctx c = { a, opts, error_r, r };

	memset(r, 0, sizeof(*r));
	r->tag = cmd->tag;
	r->uid = cmd->uid;
	if (gc == NULL) {
		*error_r = "Unknown command";
		return -1;
	}
	r->id = gc->id;
	return gc->parse(&c, cmd->args, cmd->count);
}

enum imap_literal_action imap_grammar_literal_action(const struct imap_literal_info *info,
						     struct imap_parse_error *refusal_r)
{
	const struct grammar_command *gc = grammar_lookup(info->name, info->uid);

	if (gc == NULL) {
		refusal_r->kind = IMAP_REPLY_BAD;
		refusal_r->code = NULL;
		refusal_r->text = "Unknown command";
		return IMAP_LITERAL_REFUSE;
	}
	/* APPEND mailbox [flags] [date-time] literal ...: every literal after
	 * the mailbox name is a message, at the top level or in RFC 6855's
	 * UTF8 (literal8) (date-time is quoted only, flags are atoms). */
	if (gc->id == IMAP_CMD_APPEND && info->depth <= 1 && info->index >= 1)
		return IMAP_LITERAL_SINK;
	return IMAP_LITERAL_MEMORY;
}

unsigned int imap_command_states(enum imap_cmd_id id)
{
	for (size_t k = 0; k < NELEM(commands); k++)
		if (commands[k].id == id)
			return commands[k].states;
	return 0;
}

const char *imap_command_name(enum imap_cmd_id id)
{
	for (size_t k = 0; k < NELEM(commands); k++)
		if (commands[k].id == id)
			return commands[k].name;
	return "?";
}
