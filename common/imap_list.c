/* imap_list: the selection of LIST and LSUB (see imap_list.h).
 *
 * Offers: a pattern matcher that runs as a set of states over the name
 * (a bit per position in the pattern), so "*a*a*a...b" against a long
 * name costs the name's length times the pattern's, never an exponential
 * backtrack; consecutive wildcards are merged first, and a pattern with
 * more literal characters than the longest name can match nothing, so
 * the state sets stay small.  imap_list_run() decides, for every name
 * and every level of hierarchy above one, whether it is returned:
 *   - selected (RFC 5258 3.1): exists (no selection option), is
 *     subscribed (SUBSCRIBED; also when it does not exist: \NonExistent),
 *     has a special-use attribute (RFC 6154 SPECIAL-USE); all that apply;
 *   - RECURSIVEMATCH (RFC 5258 3.5): a name not selected but with a
 *     selected descendant the patterns do not return comes with CHILDINFO;
 *     a selected one with any selected descendant too;
 *   - LSUB (RFC 3501 6.3.9): with "%", a parent of a subscribed name the
 *     pattern does not return comes as \Noselect;
 *   - a trailing "%" (RFC 9051 6.3.9) returns the levels of hierarchy
 *     that hold mailboxes without being one (Maildir++ ".A.B" without
 *     ".A"), when no selection option narrows the list.
 * \HasChildren / \HasNoChildren are always computed (RFC 5258 4 allows
 * them without RETURN (CHILDREN)); they count existing mailboxes only.
 *
 * Trusts: the names are sorted and unique (imap_list_names_merge).  Fails:
 * ENOMEM only. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_grammar.h"
#include "imap_list.h"

/* ---- patterns ---- */

enum { TOK_LIT, TOK_STAR, TOK_PCT };

struct imap_list_pattern {
	char sep;
	bool pct_last, has_pct;
	bool never;                 /* more literals than any name has */
	size_t m;                   /* tokens; states 0..m */
	size_t literals;
	size_t words;               /* 64-bit words of a state set */
	uint16_t row[256];          /* byte -> its row of lit (0: the empty row) */
	uint64_t *lit;              /* per row: the positions holding that byte */
	uint64_t *star, *pct, *wild;
	uint64_t *d, *nd;           /* the state sets while matching */
};

static void bit_set(uint64_t *set, size_t i)
{
	set[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Walk the pattern with "**", "*%", "%*", "%%" merged into one wildcard
 * ("*" wins); each token to fn, or count them when fn is NULL. */
static size_t pattern_tokens(const char *pat, size_t len, struct imap_list_pattern *p,
			     void (*fn)(struct imap_list_pattern *, size_t, int, unsigned char))
{
	size_t m = 0;
	int last = TOK_LIT;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];
		if (c == '*' && m > 0 && last != TOK_LIT) {
			if (last == TOK_PCT && fn != NULL)
				fn(p, m - 1, TOK_STAR, 0);    /* "%*" is "*" */
			last = TOK_STAR;
			continue;
		}
		if (c == '%' && m > 0 && last != TOK_LIT)
			continue;
		last = c == '*' ? TOK_STAR : c == '%' ? TOK_PCT : TOK_LIT;
		if (fn != NULL)
			fn(p, m, last, c);
		m++;
	}
	return m;
}

static void pattern_put(struct imap_list_pattern *p, size_t at, int kind, unsigned char c)
{
	uint64_t bit = (uint64_t)1 << (at % 64);

	/* A "%" turned "*" loses its "%" bit. */
	p->pct[at / 64] &= ~bit;
	p->star[at / 64] &= ~bit;
	if (kind == TOK_LIT) {
		bit_set(p->lit + (size_t)p->row[c] * p->words, at);
		return;
	}
	bit_set(kind == TOK_STAR ? p->star : p->pct, at);
	bit_set(p->wild, at);
}

int imap_list_pattern_compile(const char *pat, size_t len, char sep, struct imap_list_pattern **p_r)
{
	struct imap_list_pattern *p = calloc(1, sizeof(*p));
	size_t rows = 1;

	*p_r = NULL;
	if (p == NULL)
		return -1;
	p->sep = sep;
	p->pct_last = len > 0 && pat[len - 1] == '%';
	p->has_pct = memchr(pat, '%', len) != NULL;
	p->m = pattern_tokens(pat, len, p, NULL);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pat[i];
		if (c == '*' || c == '%')
			continue;
		p->literals++;
		if (p->row[c] == 0)
			p->row[c] = (uint16_t)rows++;
	}
	if (p->literals > IMAP_LIST_NAME_MAX) {
		/* Each literal takes a byte of the name: nothing can match. */
		p->never = true;
		*p_r = p;
		return 0;
	}
	/* m <= 2 * literals + 1 here: no two wildcards are adjacent. */
	p->words = (p->m + 1 + 63) / 64;
	p->lit = calloc((rows + 5) * p->words, sizeof(uint64_t));
	if (p->lit == NULL) {
		free(p);
		return -1;
	}
	p->star = p->lit + rows * p->words;
	p->pct = p->star + p->words;
	p->wild = p->pct + p->words;
	p->d = p->wild + p->words;
	p->nd = p->d + p->words;
	pattern_tokens(pat, len, p, pattern_put);
	*p_r = p;
	return 0;
}

void imap_list_pattern_free(struct imap_list_pattern **p)
{
	if (*p == NULL)
		return;
	free((*p)->lit);
	free(*p);
	*p = NULL;
}

bool imap_list_pattern_pct_last(const struct imap_list_pattern *p)
{
	return p->pct_last;
}

bool imap_list_pattern_has_pct(const struct imap_list_pattern *p)
{
	return p->has_pct;
}

/* set |= the states a wildcard in set reaches without a character (one
 * step: no two wildcards are adjacent). */
static void pattern_closure(const struct imap_list_pattern *p, uint64_t *set)
{
	uint64_t carry = 0;

	for (size_t w = 0; w < p->words; w++) {
		uint64_t t = set[w] & p->wild[w];
		set[w] |= (t << 1) | carry;
		carry = t >> 63;
	}
}

bool imap_list_match(struct imap_list_pattern *p, const char *name, size_t len)
{
	/* RFC 9051 5.1: INBOX is case-insensitive, so are its letters here. */
	bool fold = len >= 5 && memcmp(name, "INBOX", 5) == 0 && (len == 5 || name[5] == p->sep);

	if (p->never || len < p->literals)
		return false;
	memset(p->d, 0, p->words * sizeof(uint64_t));
	p->d[0] = 1;
	pattern_closure(p, p->d);
	for (size_t k = 0; k < len; k++) {
		unsigned char c = (unsigned char)name[k];
		unsigned char lower = c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
		const uint64_t *l1 = p->lit + (size_t)p->row[c] * p->words;
		const uint64_t *l2 = p->lit + (size_t)(fold && k < 5 ? p->row[lower] : 0) * p->words;
		uint64_t carry = 0, any = 0;

		for (size_t w = 0; w < p->words; w++) {
			uint64_t t = p->d[w] & (l1[w] | l2[w]);
			uint64_t x = (t << 1) | carry | (p->d[w] & p->star[w]);
			if (c != (unsigned char)p->sep)
				x |= p->d[w] & p->pct[w];
			carry = t >> 63;
			p->nd[w] = x;
		}
		pattern_closure(p, p->nd);
		for (size_t w = 0; w < p->words; w++)
			any |= p->nd[w];
		if (any == 0)
			return false;
		uint64_t *swap = p->d;
		p->d = p->nd;
		p->nd = swap;
	}
	return (p->d[p->m / 64] >> (p->m % 64)) & 1;
}

/* ---- names ---- */

bool imap_list_name_valid(const char *name, char sep)
{
	size_t len = strlen(name);

	if (len == 0 || len > IMAP_LIST_NAME_MAX || name[0] == sep || name[len - 1] == sep)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f || (name[i] == sep && name[i + 1] == sep))
			return false;
	return true;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct imap_list_name *)a)->name, ((const struct imap_list_name *)b)->name);
}

size_t imap_list_names_merge(struct imap_list_name *names, size_t n)
{
	size_t out = 0;

	if (n > 1)
		qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && strcmp(names[out - 1].name, names[i].name) == 0) {
			names[out - 1].flags |= names[i].flags;
			if (names[out - 1].use == NULL)
				names[out - 1].use = names[i].use;
			continue;
		}
		names[out++] = names[i];
	}
	return out;
}

/* ---- one LIST ---- */

/* Bits of what is known of a name while listing. */
#define M_ANY      (1u << 0)   /* some pattern matches it */
#define M_PCT_LAST (1u << 1)   /* a pattern ending in "%" does */
#define M_HAS_PCT  (1u << 2)   /* a pattern holding "%" does */
#define M_SELECTED (1u << 3)   /* it meets the selection criteria */

struct run {
	const struct imap_list_query *q;
	struct imap_list_pattern *const *pats;
	size_t npats;
	const struct imap_list_name *names;
	size_t n;
	unsigned char *info;       /* M_* of each name */
	imap_list_emit_fn *emit;
	void *ctx;
};

static unsigned int run_match(const struct run *r, const char *name, size_t len)
{
	unsigned int m = 0;

	for (size_t i = 0; i < r->npats; i++) {
		if (!imap_list_match(r->pats[i], name, len))
			continue;
		m |= M_ANY;
		if (imap_list_pattern_pct_last(r->pats[i]))
			m |= M_PCT_LAST;
		if (imap_list_pattern_has_pct(r->pats[i]))
			m |= M_HAS_PCT;
	}
	return m;
}

static bool run_selected(const struct imap_list_query *q, const struct imap_list_name *nm)
{
	bool exists = (nm->flags & IMAP_LIST_EXISTS) != 0, sub = (nm->flags & IMAP_LIST_SUBSCRIBED) != 0;

	if (q->lsub)
		return sub;
	if ((q->select & IMAP_LIST_SEL_SUBSCRIBED) && !sub)
		return false;
	if ((q->select & IMAP_LIST_SEL_SPECIAL_USE) && !(exists && nm->use != NULL))
		return false;
	if (!(q->select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)) && !exists)
		return false;
	return true;
}

/* s against the names below (name, len): <0 before them, 0 one of them,
 * >0 after them (names sort by strcmp, so they are contiguous). */
static int below_cmp(const char *s, const char *name, size_t len, char sep)
{
	int c = strncmp(s, name, len);

	return c != 0 ? c : (int)(unsigned char)s[len] - (int)(unsigned char)sep;
}

/* The first index in [lo, n) of a name below (name, len), or of the
 * first name after them. */
static size_t below_first(const struct run *r, size_t lo, const char *name, size_t len)
{
	size_t hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (below_cmp(r->names[mid].name, name, len, r->q->sep) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool run_has(const struct run *r, const char *name, size_t len)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(r->names[mid].name, name, len);
		if (c == 0)
			c = r->names[mid].name[len] == '\0' ? 0 : 1;
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct below {
	bool exists;               /* an existing mailbox below */
	bool selected;             /* a selected name below */
	bool unreturned;           /* a selected name below that no pattern matches */
};

static struct below run_below(const struct run *r, size_t from, const char *name, size_t len)
{
	struct below b = { false, false, false };

	for (size_t j = from; j < r->n && below_cmp(r->names[j].name, name, len, r->q->sep) == 0; j++) {
		b.exists |= (r->names[j].flags & IMAP_LIST_EXISTS) != 0;
		if (r->info[j] & M_SELECTED) {
			b.selected = true;
			b.unreturned |= !(r->info[j] & M_ANY);
		}
		if (b.exists && b.unreturned)
			break;
	}
	return b;
}

/* Decide on one name (a real one, or a level: flags 0) and emit it. */
static void run_one(const struct run *r, const char *name, size_t len, unsigned int flags, const char *use,
		    unsigned int m, size_t below_from)
{
	const struct imap_list_query *q = r->q;
	bool exists = (flags & IMAP_LIST_EXISTS) != 0, sub = (flags & IMAP_LIST_SUBSCRIBED) != 0;
	bool narrowed = (q->select & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_SPECIAL_USE)) != 0;
	struct imap_list_reply rep = { name, len, 0, NULL, false };

	if (!(m & M_ANY))
		return;
	struct below b = run_below(r, below_from, name, len);
	if (m & M_SELECTED) {
		/* returned */
	} else if (q->lsub) {
		/* RFC 3501 6.3.9: "foo" for a subscribed "foo/bar" under "%". */
		if (!((m & M_HAS_PCT) && b.unreturned))
			return;
		rep.attrs |= IMAP_LIST_NOSELECT;
	} else if (q->select & IMAP_LIST_SEL_RECURSIVEMATCH) {
		/* RFC 5258 3.5: only when a selected child is not returned itself. */
		if (!b.unreturned)
			return;
	} else if (narrowed || exists || !b.exists || !(m & M_PCT_LAST)) {
		return;
	}
	if (!exists && !q->lsub)
		rep.attrs |= q->nonexistent ? IMAP_LIST_NONEXISTENT : IMAP_LIST_NOSELECT;
	rep.attrs |= b.exists ? IMAP_LIST_HASCHILDREN : IMAP_LIST_HASNOCHILDREN;
	if (!q->lsub && sub && ((q->select & IMAP_LIST_SEL_SUBSCRIBED) || (q->ret & IMAP_LIST_RET_SUBSCRIBED)))
		rep.attrs |= IMAP_LIST_SUBSCRIBED_A;
	if (!q->lsub && (q->select & IMAP_LIST_SEL_RECURSIVEMATCH) && b.selected)
		rep.attrs |= IMAP_LIST_CHILDINFO;
	rep.use = exists ? use : NULL;
	rep.selectable = exists && !(rep.attrs & IMAP_LIST_NOSELECT);
	r->emit(r->ctx, &rep);
}

int imap_list_run(const struct imap_list_query *q, struct imap_list_pattern *const *pats, size_t npats,
		  const struct imap_list_name *names, size_t n, imap_list_emit_fn *emit, void *ctx)
{
	struct run r = { q, pats, npats, names, n, calloc(n > 0 ? n : 1, 1), emit, ctx };

	if (r.info == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		r.info[i] = (unsigned char)(run_match(&r, names[i].name, strlen(names[i].name)) |
					    (run_selected(q, &names[i]) ? M_SELECTED : 0));
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i].name;
		/* The levels above it that are no name of their own, each once:
		 * at the first name below it (those are adjacent). */
		for (const char *sep = strchr(name, q->sep); sep != NULL; sep = strchr(sep + 1, q->sep)) {
			size_t len = (size_t)(sep - name);
			if ((i > 0 && below_cmp(names[i - 1].name, name, len, q->sep) == 0) || run_has(&r, name, len))
				continue;
			run_one(&r, name, len, 0, NULL, run_match(&r, name, len), i);
		}
		size_t len = strlen(name);
		run_one(&r, name, len, names[i].flags, names[i].use, r.info[i], below_first(&r, i + 1, name, len));
	}
	free(r.info);
	return 0;
}
