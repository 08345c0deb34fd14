/* fuzz_imap_list: libFuzzer target for common/imap_list.c (LIST / LSUB
 * selection).
 *
 * Input: one option byte (selection and return bits, LSUB, \NonExistent),
 * a pattern up to the first NUL, then names, one a line, each behind a
 * flag byte (bit 0: exists, bit 1: subscribed, bit 2: \Sent).  Checked:
 * the matcher agrees with a plain table of "pattern[i..] matches
 * name[j..]" on every name and every level above one; every reply's name
 * matches the pattern, and comes once; \Noselect and \NonExistent are
 * never selectable; exactly one of \HasChildren and \HasNoChildren.
 * ASan and UBSan catch the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_grammar.h"
#include "imap_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAT_MAX 64
#define NAME_MAX_F 200
#define NAMES_MAX 64

/* The table every matcher must agree with. */
static int reference(const char *p, size_t plen, const char *n, size_t nlen)
{
	static unsigned char t[PAT_MAX + 1][NAME_MAX_F + 1];
	int fold = nlen >= 5 && memcmp(n, "INBOX", 5) == 0 && (nlen == 5 || n[5] == '.');

	for (size_t i = plen + 1; i-- > 0;)
		for (size_t j = nlen + 1; j-- > 0;) {
			if (i == plen) {
				t[i][j] = j == nlen;
			} else if (p[i] == '*' || p[i] == '%') {
				t[i][j] = t[i + 1][j] ||
					  (j < nlen && (p[i] == '*' || n[j] != '.') && t[i][j + 1]);
			} else {
				char c = n[j], lower = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
				t[i][j] = j < nlen && (p[i] == c || (fold && j < 5 && p[i] == lower)) && t[i + 1][j + 1];
			}
		}
	return t[0][0];
}

struct seen {
	struct imap_list_pattern *pat;
	const char *p;
	size_t plen;
	char names[NAMES_MAX * 8][NAME_MAX_F + 1];
	size_t n;
};

static void check_emit(void *ctx, const struct imap_list_reply *r)
{
	struct seen *s = ctx;
	unsigned int children = r->attrs & (IMAP_LIST_HASCHILDREN | IMAP_LIST_HASNOCHILDREN);

	if (r->len > NAME_MAX_F || s->n == sizeof(s->names) / sizeof(s->names[0]))
		abort();
	for (size_t i = 0; i < s->n; i++)
		if (strlen(s->names[i]) == r->len && memcmp(s->names[i], r->name, r->len) == 0)
			abort();                       /* replied twice */
	memcpy(s->names[s->n], r->name, r->len);
	s->names[s->n++][r->len] = '\0';
	if ((r->attrs & (IMAP_LIST_NOSELECT | IMAP_LIST_NONEXISTENT)) && r->selectable)
		abort();
	if (children != IMAP_LIST_HASCHILDREN && children != IMAP_LIST_HASNOCHILDREN)
		abort();
	if (!reference(s->p, s->plen, r->name, r->len))
		abort();                               /* only names the pattern matches */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[4096];
	struct imap_list_name names[NAMES_MAX];
	struct seen *s;
	size_t n = 0;

	if (size < 1 || size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	unsigned int opt = (unsigned char)buf[0];
	char *p = buf + 1, *end = buf + size;
	size_t plen = strnlen(p, (size_t)(end - p));
	if (plen > PAT_MAX || p + plen == end)
		return 0;
	for (char *line = p + plen + 1; line < end && n < NAMES_MAX;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (nl != NULL)
			*nl = '\0';
		if (line[0] != '\0' && strlen(line + 1) <= NAME_MAX_F && imap_list_name_valid(line + 1, '.')) {
			unsigned int f = (unsigned char)line[0];
			names[n++] = (struct imap_list_name){ line + 1, f & 3, (f & 4) ? "\\Sent" : NULL };
		}
		line = nl != NULL ? nl + 1 : end;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL || imap_list_pattern_compile(p, plen, '.', &s->pat) < 0)
		abort();
	s->p = p;
	s->plen = plen;
	/* The matcher against the table: names and the levels above them. */
	for (size_t i = 0; i < n; i++)
		for (size_t len = strlen(names[i].name); len > 0; len--)
			if ((len == strlen(names[i].name) || names[i].name[len] == '.') &&
			    imap_list_match(s->pat, names[i].name, len) != reference(p, plen, names[i].name, len))
				abort();
	n = imap_list_names_merge(names, n);
	struct imap_list_query q = {
		.sep = '.', .lsub = (opt & 0x80) != 0, .nonexistent = (opt & 0x40) != 0,
		.select = opt & (IMAP_LIST_SEL_SUBSCRIBED | IMAP_LIST_SEL_REMOTE | IMAP_LIST_SEL_SPECIAL_USE),
		.ret = (opt >> 4) & (IMAP_LIST_RET_SUBSCRIBED | IMAP_LIST_RET_CHILDREN),
	};
	/* RECURSIVEMATCH only with SUBSCRIBED, as the grammar lets it through. */
	if ((opt & IMAP_LIST_SEL_RECURSIVEMATCH) && (opt & IMAP_LIST_SEL_SUBSCRIBED))
		q.select |= IMAP_LIST_SEL_RECURSIVEMATCH;
	struct imap_list_pattern *pats[1] = { s->pat };
	if (imap_list_run(&q, pats, 1, names, n, check_emit, s) < 0)
		abort();
	imap_list_pattern_free(&s->pat);
	free(s);
	return 0;
}
