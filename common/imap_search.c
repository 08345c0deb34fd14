/* imap_search: SEARCH programs.
 *
 * Offers: imap_search_parse.  The grammar read (RFC 9051 section 9 with
 * the keys RFC 9051 dropped from RFC 3501, which IMAP4rev1 clients still
 * send):
 *   search       "SEARCH" [SP "RETURN" SP "(" [ret *(SP ret)] ")"]
 *                SP ["CHARSET" SP charset SP] search-key *(SP search-key)
 *   ret          MIN / MAX / ALL / COUNT (RFC 4731) / SAVE (RFC 5182)
 *   search-key   ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN
 *                UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN
 *                / (BCC BODY CC FROM SUBJECT TEXT TO) SP astring
 *                / (KEYWORD UNKEYWORD) SP flag-keyword
 *                / HEADER SP header-fld-name SP astring
 *                / (BEFORE ON SINCE SENTBEFORE SENTON SENTSINCE) SP date
 *                / (LARGER SMALLER) SP number64
 *                / (OLDER YOUNGER) SP nz-number (RFC 5032)
 *                / MODSEQ [SP entry-name SP entry-type-req] SP
 *                  mod-sequence-valzer (RFC 7162)
 *                / UID SP sequence-set / sequence-set / "$"
 *                / NOT SP search-key / OR SP search-key SP search-key
 *                / "(" search-key *(SP search-key) ")"
 * Key names are case-insensitive.  The program is an AND of its keys.
 *
 * Trusts: the parser's argument tree.  Recursion (NOT, OR, lists) is
 * bounded by IMAP_SEARCH_DEPTH_MAX, so no program can exhaust the stack;
 * the node count is bounded by the parser's argument limit.
 *
 * SORT and THREAD (RFC 5256) take the same keys after a charset that is
 * not optional there (imap_search_parse_criteria), SORT also RETURN
 * (RFC 5267 ESORT: imap_search_parse_return).
 *
 * Fails: -1 with a static reason for a tagged BAD; whether a CHARSET is
 * supported (NO [BADCHARSET]) is for the server to say. */
#include <string.h>

#include "imap_search.h"

enum search_arg {
	SA_NONE,          /* no argument */
	SA_STRING,        /* astring */
	SA_KEYWORD,       /* flag-keyword */
	SA_HEADER,        /* header-fld-name SP astring */
	SA_DATE,
	SA_NUMBER64,
	SA_NZ_NUMBER,
	SA_MODSEQ,
	SA_UIDSET,
	SA_NOT,
	SA_OR,
};

/* Search keys; extra: the argument they take. */
static const struct imap_word search_keys[] = {
	IMAP_WORD("ALL", IMAP_SEARCH_ALL, SA_NONE),
	IMAP_WORD("ANSWERED", IMAP_SEARCH_ANSWERED, SA_NONE),
	IMAP_WORD("DELETED", IMAP_SEARCH_DELETED, SA_NONE),
	IMAP_WORD("DRAFT", IMAP_SEARCH_DRAFT, SA_NONE),
	IMAP_WORD("FLAGGED", IMAP_SEARCH_FLAGGED, SA_NONE),
	IMAP_WORD("SEEN", IMAP_SEARCH_SEEN, SA_NONE),
	IMAP_WORD("RECENT", IMAP_SEARCH_RECENT, SA_NONE),
	IMAP_WORD("NEW", IMAP_SEARCH_NEW, SA_NONE),
	IMAP_WORD("OLD", IMAP_SEARCH_OLD, SA_NONE),
	IMAP_WORD("UNANSWERED", IMAP_SEARCH_UNANSWERED, SA_NONE),
	IMAP_WORD("UNDELETED", IMAP_SEARCH_UNDELETED, SA_NONE),
	IMAP_WORD("UNDRAFT", IMAP_SEARCH_UNDRAFT, SA_NONE),
	IMAP_WORD("UNFLAGGED", IMAP_SEARCH_UNFLAGGED, SA_NONE),
	IMAP_WORD("UNSEEN", IMAP_SEARCH_UNSEEN, SA_NONE),
	IMAP_WORD("KEYWORD", IMAP_SEARCH_KEYWORD, SA_KEYWORD),
	IMAP_WORD("UNKEYWORD", IMAP_SEARCH_UNKEYWORD, SA_KEYWORD),
	IMAP_WORD("EMAILID", IMAP_SEARCH_EMAILID, SA_KEYWORD),     /* objectid: an atom too */
	IMAP_WORD("THREADID", IMAP_SEARCH_THREADID, SA_KEYWORD),
	IMAP_WORD("BCC", IMAP_SEARCH_BCC, SA_STRING),
	IMAP_WORD("BODY", IMAP_SEARCH_BODY, SA_STRING),
	IMAP_WORD("CC", IMAP_SEARCH_CC, SA_STRING),
	IMAP_WORD("FROM", IMAP_SEARCH_FROM, SA_STRING),
	IMAP_WORD("SUBJECT", IMAP_SEARCH_SUBJECT, SA_STRING),
	IMAP_WORD("TEXT", IMAP_SEARCH_TEXT, SA_STRING),
	IMAP_WORD("TO", IMAP_SEARCH_TO, SA_STRING),
	IMAP_WORD("HEADER", IMAP_SEARCH_HEADER, SA_HEADER),
	IMAP_WORD("BEFORE", IMAP_SEARCH_BEFORE, SA_DATE),
	IMAP_WORD("ON", IMAP_SEARCH_ON, SA_DATE),
	IMAP_WORD("SINCE", IMAP_SEARCH_SINCE, SA_DATE),
	IMAP_WORD("SENTBEFORE", IMAP_SEARCH_SENTBEFORE, SA_DATE),
	IMAP_WORD("SENTON", IMAP_SEARCH_SENTON, SA_DATE),
	IMAP_WORD("SENTSINCE", IMAP_SEARCH_SENTSINCE, SA_DATE),
	IMAP_WORD("LARGER", IMAP_SEARCH_LARGER, SA_NUMBER64),
	IMAP_WORD("SMALLER", IMAP_SEARCH_SMALLER, SA_NUMBER64),
	IMAP_WORD("OLDER", IMAP_SEARCH_OLDER, SA_NZ_NUMBER),
	IMAP_WORD("YOUNGER", IMAP_SEARCH_YOUNGER, SA_NZ_NUMBER),
	IMAP_WORD("MODSEQ", IMAP_SEARCH_MODSEQ, SA_MODSEQ),
	IMAP_WORD("UID", IMAP_SEARCH_UID, SA_UIDSET),
	IMAP_WORD("NOT", IMAP_SEARCH_NOT, SA_NOT),
	IMAP_WORD("OR", IMAP_SEARCH_OR, SA_OR),
};

#define NELEM(x) (sizeof(x) / sizeof((x)[0]))

struct search_ctx {
	struct arena *a;
	struct imap_search *s;
	const char **error_r;
};

static int search_fail(struct search_ctx *c, const char *why)
{
	*c->error_r = why;
	return -1;
}

static int search_key(struct search_ctx *c, const struct imap_arg *args, unsigned int count,
		      unsigned int *pos, unsigned int depth, struct imap_search_node *n);

/* Keys from args[*pos] on until count, as the children of an AND node. */
static int search_and(struct search_ctx *c, const struct imap_arg *args, unsigned int count,
		      unsigned int *pos, unsigned int depth, struct imap_search_node *n)
{
	n->key = IMAP_SEARCH_AND;
	/* At most one key per argument: allocate for the worst case. */
	n->children = arena_calloc(c->a, count - *pos, sizeof(*n->children));
	if (n->children == NULL)
		return search_fail(c, "Command too large");
	while (*pos < count)
		if (search_key(c, args, count, pos, depth, &n->children[n->count++]) < 0)
			return -1;
	return 0;
}

/* MODSEQ [SP entry-name SP entry-type-req] SP mod-sequence-valzer */
static int search_modseq(struct search_ctx *c, const struct imap_arg *args, unsigned int count,
			 unsigned int *pos, struct imap_search_node *n)
{
	if (*pos < count && args[*pos].type == IMAP_ARG_QUOTED) {
		const struct imap_arg *type;

		/* entry-flag-name = DQUOTE "/flags/" attr-flag DQUOTE */
		if (*pos + 1 >= count || args[*pos].len <= 7 || strncmp(args[*pos].text, "/flags/", 7) != 0)
			return search_fail(c, "Invalid MODSEQ entry name");
		n->entry = args[(*pos)++].text;
		type = &args[(*pos)++];
		if (imap_arg_is_atom(type, "priv"))
			n->entry_type = IMAP_ENTRY_PRIV;
		else if (imap_arg_is_atom(type, "shared"))
			n->entry_type = IMAP_ENTRY_SHARED;
		else if (imap_arg_is_atom(type, "all"))
			n->entry_type = IMAP_ENTRY_ALL;
		else
			return search_fail(c, "Invalid MODSEQ entry type");
	}
	if (*pos >= count || imap_arg_number(&args[(*pos)++], IMAP_NUMBER64_MAX, false, &n->number) < 0)
		return search_fail(c, "Invalid MODSEQ value");
	c->s->uses_modseq = true;
	return 0;
}

/* The argument(s) of a key whose name was at args[*pos - 1]. */
static int search_key_arg(struct search_ctx *c, enum search_arg kind, const struct imap_arg *args,
			  unsigned int count, unsigned int *pos, unsigned int depth,
			  struct imap_search_node *n)
{
	const struct imap_arg *v = *pos < count ? &args[*pos] : NULL;
	size_t flen;

	if (kind == SA_NONE)
		return 0;
	if (kind == SA_MODSEQ)
		return search_modseq(c, args, count, pos, n);
	if (v == NULL)
		return search_fail(c, "Missing search key argument");
	(*pos)++;
	switch (kind) {
	case SA_STRING:
		n->str = imap_arg_astring(v, &n->len);
		return n->str != NULL ? 0 : search_fail(c, "Invalid search string");
	case SA_KEYWORD:
		if (!imap_arg_is_strict_atom(v))
			return search_fail(c, "Invalid keyword");
		n->str = v->text;
		n->len = v->len;
		if (n->key == IMAP_SEARCH_EMAILID || n->key == IMAP_SEARCH_THREADID)
			c->s->uses_objectid = true;
		return 0;
	case SA_HEADER:
		n->field = imap_arg_astring(v, &flen);
		if (n->field == NULL || *pos >= count)
			return search_fail(c, "Invalid HEADER search key");
		n->str = imap_arg_astring(&args[(*pos)++], &n->len);
		return n->str != NULL ? 0 : search_fail(c, "Invalid search string");
	case SA_DATE:
		return imap_arg_date(v, &n->date) == 0 ? 0 : search_fail(c, "Invalid date");
	case SA_NUMBER64:
		return imap_arg_number(v, IMAP_NUMBER64_MAX, false, &n->number) == 0 ? 0
			: search_fail(c, "Invalid number");
	case SA_NZ_NUMBER:
		return imap_arg_number(v, IMAP_NUMBER_MAX, true, &n->number) == 0 ? 0
			: search_fail(c, "Invalid number");
	case SA_UIDSET:
		if (imap_arg_seqset(v, true, true, c->a, &n->set, c->error_r) < 0)
			return -1;
		c->s->uses_saved |= n->set.saved;
		return 0;
	case SA_NOT:
	case SA_OR:
		(*pos)--;
		n->count = kind == SA_NOT ? 1 : 2;
		n->children = arena_calloc(c->a, n->count, sizeof(*n->children));
		if (n->children == NULL)
			return search_fail(c, "Command too large");
		for (unsigned int k = 0; k < n->count; k++) {
			if (*pos >= count)
				return search_fail(c, "Missing search key argument");
			if (search_key(c, args, count, pos, depth + 1, &n->children[k]) < 0)
				return -1;
		}
		return 0;
	default:
		return search_fail(c, "Invalid search key");
	}
}

static int search_key(struct search_ctx *c, const struct imap_arg *args, unsigned int count,
		      unsigned int *pos, unsigned int depth, struct imap_search_node *n)
{
	const struct imap_arg *k = &args[*pos];
	const struct imap_word *w;

	if (depth >= IMAP_SEARCH_DEPTH_MAX)
		return search_fail(c, "Search program nested too deeply");
	memset(n, 0, sizeof(*n));
	if (k->type == IMAP_ARG_LIST) {
		unsigned int sub = 0;

		(*pos)++;
		if (k->count == 0)
			return search_fail(c, "Empty search key list");
		if (search_and(c, k->items, k->count, &sub, depth + 1, n) < 0)
			return -1;
		/* A list of one key is that key. */
		if (n->count == 1)
			*n = n->children[0];
		return 0;
	}
	if (k->type != IMAP_ARG_ATOM)
		return search_fail(c, "Invalid search key");
	(*pos)++;
	if ((k->text[0] >= '0' && k->text[0] <= '9') || k->text[0] == '*' || k->text[0] == '$') {
		n->key = IMAP_SEARCH_SEQSET;
		if (imap_arg_seqset(k, true, true, c->a, &n->set, c->error_r) < 0)
			return -1;
		c->s->uses_saved |= n->set.saved;
		return 0;
	}
	w = imap_arg_word(k, search_keys, NELEM(search_keys));
	if (w == NULL)
		return search_fail(c, "Unknown search key");
	n->key = (enum imap_search_key)w->value;
	return search_key_arg(c, (enum search_arg)w->extra, args, count, pos, depth, n);
}

/* RETURN "(" [ret *(SP ret)] ")" */
static int search_return(struct search_ctx *c, const struct imap_arg *list)
{
	static const struct imap_word rets[] = {
		IMAP_WORD("MIN", IMAP_SEARCH_RETURN_MIN, 0),
		IMAP_WORD("MAX", IMAP_SEARCH_RETURN_MAX, 0),
		IMAP_WORD("ALL", IMAP_SEARCH_RETURN_ALL, 0),
		IMAP_WORD("COUNT", IMAP_SEARCH_RETURN_COUNT, 0),
		IMAP_WORD("SAVE", IMAP_SEARCH_RETURN_SAVE, 0),
	};

	if (list->type != IMAP_ARG_LIST)
		return search_fail(c, "RETURN needs a list");
	c->s->esearch = true;
	for (unsigned int k = 0; k < list->count; k++) {
		const struct imap_word *w = imap_arg_word(&list->items[k], rets, NELEM(rets));

		if (w == NULL)
			return search_fail(c, "Unknown RETURN option");
		c->s->ret |= w->value;
	}
	/* RFC 4731 3.1: RETURN () is RETURN (ALL). */
	if (list->count == 0)
		c->s->ret = IMAP_SEARCH_RETURN_ALL;
	return 0;
}

int imap_search_parse_return(const struct imap_arg *list, struct imap_search *r, const char **error_r)
{
	struct search_ctx c = { NULL, r, error_r };

	return search_return(&c, list);
}

int imap_search_parse_criteria(const struct imap_arg *args, unsigned int count, struct arena *a,
			       struct imap_search *r, const char **error_r)
{
	struct search_ctx c = { a, r, error_r };
	unsigned int pos = 1;
	size_t len;

	if (count < 1 || (r->charset = imap_arg_astring(&args[0], &len)) == NULL)
		return search_fail(&c, "Missing or invalid charset");
	if (count < 2)
		return search_fail(&c, "Missing search key");
	return search_and(&c, args, count, &pos, 0, &r->root);
}

int imap_search_parse(const struct imap_arg *args, unsigned int count, struct arena *a,
		      struct imap_search *r, const char **error_r)
{
	struct search_ctx c = { a, r, error_r };
	unsigned int pos = 0;
	size_t len;

	memset(r, 0, sizeof(*r));
	if (pos + 1 < count && imap_arg_is_atom(&args[pos], "RETURN")) {
		if (search_return(&c, &args[pos + 1]) < 0)
			return -1;
		pos += 2;
	}
	if (pos + 1 < count && imap_arg_is_atom(&args[pos], "CHARSET")) {
		r->charset = imap_arg_astring(&args[pos + 1], &len);
		if (r->charset == NULL)
			return search_fail(&c, "Invalid CHARSET");
		pos += 2;
	}
	if (pos >= count)
		return search_fail(&c, "Missing search key");
	return search_and(&c, args, count, &pos, 0, &r->root);
}
