/* psl: the Public Suffix List and Organizational Domains.
 *
 * Offers: psl_parse() / psl_load() read the list once (smtpd does it
 * before its chroot) into one sorted array of rule names, each with
 * what the list says of it: a rule ("co.uk"), the base of a wildcard
 * ("*.ck" is kept as "ck"), an exception ("!www.ck").  psl_org_domain()
 * then finds the Organizational Domain of RFC 7489 3.2 with the list's
 * own algorithm: an exception rule prevails and its parent is the
 * public suffix; else the matching rule with the most labels; else the
 * implicit rule "*" (the last label).  One label more is the
 * Organizational Domain.  Two binary searches per label of the name.
 *
 * Rules are compared as bytes with ASCII case folded: the list's UTF-8
 * (U-label) rules match UTF-8 names, not their xn-- (A-label) forms,
 * whose public suffix is then found by the ASCII rules or the implicit
 * one (docs/operator.md, "DMARC").
 *
 * Trusts: nothing in the file: (pointer, length); at most PSL_FILE_MAX
 * bytes and PSL_RULES_MAX rules; a rule must be a name of labels of 1
 * to 63 bytes (at most 253 in all), '*' only as a whole first label,
 * '!' only in front; anything else is skipped.
 *
 * Fails: -1 with a static message (too many rules, out of memory, the
 * file unreadable or too big); a lookup never fails. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fsutil.h"
#include "psl.h"

#define PSL_RULE      0x1u   /* the name is a public suffix */
#define PSL_WILDCARD  0x2u   /* every child of the name is one ("*.name") */
#define PSL_EXCEPTION 0x4u   /* the name is not one, its parent is ("!name") */
#define PSL_NAME_MAX 253

struct psl_entry {
	const char *name;        /* into pool, lower case */
	unsigned flags;
};

struct psl {
	char *pool;              /* the names, NUL-terminated */
	struct psl_entry *e;     /* sorted by name, one entry per name */
	size_t n, skipped;
};

static char psl_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static int psl_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Whether p (n bytes) is a name of valid labels; '*' as a whole first
 * label only when wild is allowed. */
static int psl_name_ok(const char *p, size_t n, int wild)
{
	size_t label = 0;

	if (n == 0 || n > PSL_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (c == '*' && !(wild && i == 0 && (n == 1 || p[1] == '.')))
			return 0;
		if ((unsigned char)c <= 0x20 || c == 0x7f || c == '!' || c == '/')
			return 0;
		if (++label > 63)
			return 0;
	}
	return label > 0;
}

static int psl_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct psl_entry *)a)->name, ((const struct psl_entry *)b)->name);
}

/* Keep one rule (p, n: the word of a line); 0, or -1 when full. */
static int psl_add(struct psl *psl, size_t *cap, size_t *used, const char *p, size_t n)
{
	unsigned flags = PSL_RULE;
	char *name;

	if (p[0] == '!') {
		flags = PSL_EXCEPTION;
		p++;
		n--;
		/* an exception names a child of a public suffix: two labels */
		if (!psl_name_ok(p, n, 0) || memchr(p, '.', n) == NULL) {
			psl->skipped++;
			return 0;
		}
	} else if (!psl_name_ok(p, n, 1) || (n == 1 && p[0] == '*')) {
		psl->skipped++;   /* a lone "*" is the implicit rule anyway */
		return 0;
	} else if (p[0] == '*') {
		flags = PSL_WILDCARD;
		p += 2;
		n -= 2;
	}
	if (psl->n >= PSL_RULES_MAX)
		return -1;
	if (psl->n == *cap) {
		size_t ncap = *cap == 0 ? 1024 : *cap * 2;
		struct psl_entry *ne;

		if (ncap > PSL_RULES_MAX)
			ncap = PSL_RULES_MAX;
		ne = realloc(psl->e, ncap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		psl->e = ne;
		*cap = ncap;
	}
	name = psl->pool + *used;
	for (size_t i = 0; i < n; i++)
		name[i] = psl_lower(p[i]);
	name[n] = '\0';
	*used += n + 1;
	psl->e[psl->n].name = name;
	psl->e[psl->n].flags = flags;
	psl->n++;
	return 0;
}

/* Sort and merge the flags of equal names. */
static void psl_merge(struct psl *psl)
{
	size_t out = 0;

	if (psl->n == 0)
		return;
	qsort(psl->e, psl->n, sizeof(psl->e[0]), psl_entry_cmp);
	for (size_t i = 1; i < psl->n; i++) {
		if (strcmp(psl->e[i].name, psl->e[out].name) == 0)
			psl->e[out].flags |= psl->e[i].flags;
		else
			psl->e[++out] = psl->e[i];
	}
	psl->n = out + 1;
}

int psl_parse(const char *p, size_t len, struct psl **psl_r, const char **error_r)
{
	struct psl *psl = calloc(1, sizeof(*psl));
	size_t pos = 0, cap = 0, used = 0;

	*psl_r = NULL;
	/* every name is a part of a line plus its NUL: the pool never grows */
	if (psl == NULL || len > PSL_FILE_MAX || (psl->pool = malloc(len + 1)) == NULL) {
		*error_r = len > PSL_FILE_MAX ? "list too big" : "out of memory";
		free(psl);
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(p + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - p) : len, w;

		while (pos < end && psl_space(p[pos]))
			pos++;
		for (w = pos; w < end && !psl_space(p[w]); w++)
			;
		if (w > pos && !(w - pos >= 2 && p[pos] == '/' && p[pos + 1] == '/') &&
		    psl_add(psl, &cap, &used, p + pos, w - pos) < 0) {
			*error_r = psl->n >= PSL_RULES_MAX ? "too many rules" : "out of memory";
			psl_free(&psl);
			return -1;
		}
		pos = end + 1;
	}
	psl_merge(psl);
	*psl_r = psl;
	return 0;
}

int psl_load(const char *path, struct psl **psl_r, const char **error_r)
{
	struct buf b;
	int r, e;

	buf_init(&b, PSL_FILE_MAX);
	if (file_read_all(path, 0, &b, PSL_FILE_MAX) < 0) {
		e = errno;
		*error_r = e == EFBIG ? "list too big" : strerror(e);
		buf_free(&b);
		errno = e;
		return -1;
	}
	r = psl_parse(b.data != NULL ? b.data : "", b.len, psl_r, error_r);
	buf_free(&b);
	return r;
}

size_t psl_rules(const struct psl *psl)
{
	return psl != NULL ? psl->n : 0;
}

size_t psl_skipped(const struct psl *psl)
{
	return psl != NULL ? psl->skipped : 0;
}

/* The flags of name (ASCII case folded), 0 when the list has no entry. */
static unsigned psl_flags(const struct psl *psl, const char *name)
{
	size_t lo = 0, hi;

	if (psl == NULL)
		return 0;
	hi = psl->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const unsigned char *a = (const unsigned char *)name, *b = (const unsigned char *)psl->e[mid].name;
		int c;

		while (*a != '\0' && (unsigned char)psl_lower((char)*a) == *b) {
			a++;
			b++;
		}
		c = (int)(unsigned char)psl_lower((char)*a) - (int)*b;
		if (c == 0)
			return psl->e[mid].flags;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return 0;
}

const char *psl_org_domain(const struct psl *psl, const char *domain)
{
	size_t start[PSL_LABELS_MAX], n = 0, ps, i;
	const char *p = domain;

	/* the start of each label; empty labels leave the name as it is */
	for (;;) {
		const char *dot = strchr(p, '.');

		if (n == PSL_LABELS_MAX || (dot != NULL ? dot == p : *p == '\0'))
			return domain;
		start[n++] = (size_t)(p - domain);
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	for (i = 0; i < n && !(psl_flags(psl, domain + start[i]) & PSL_EXCEPTION); i++)
		;
	if (i < n) {
		ps = i + 1;   /* the exception's parent */
	} else {
		ps = n - 1;   /* the implicit "*" */
		for (i = 0; i + 1 < n; i++) {
			if ((psl_flags(psl, domain + start[i]) & PSL_RULE) ||
			    (psl_flags(psl, domain + start[i + 1]) & PSL_WILDCARD)) {
				ps = i;
				break;
			}
		}
	}
	return ps == 0 ? domain : domain + start[ps - 1];
}

void psl_free(struct psl **psl)
{
	if (*psl == NULL)
		return;
	free((*psl)->pool);
	free((*psl)->e);
	free(*psl);
	*psl = NULL;
}
