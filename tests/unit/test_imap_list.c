/* test_imap_list: LIST / LSUB selection (common/imap_list.c): the
 * pattern matcher and which names a query returns, with which attributes,
 * on the hierarchies of RFC 5258 section 5 ("." for "/"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "imap_grammar.h"
#include "imap_list.h"

/* ---- the matcher ---- */

static bool match(const char *pat, const char *name)
{
	struct imap_list_pattern *p;

	assert_int_equal(imap_list_pattern_compile(pat, strlen(pat), '.', &p), 0);
	bool r = imap_list_match(p, name, strlen(name));
	imap_list_pattern_free(&p);
	assert_null(p);
	return r;
}

static void test_wildcards(void **state)
{
	static const struct { const char *pat, *name; bool match; } cases[] = {
		{ "*", "a", true }, { "*", "a.b.c", true }, { "%", "a", true }, { "%", "a.b", false },
		{ "a.%", "a.b", true }, { "a.%", "a.b.c", false }, { "a.*", "a.b.c", true }, { "a.*", "a", false },
		{ "a*", "a", true }, { "a%", "ab", true }, { "%.b", "a.b", true }, { "%.b", "a.c.b", false },
		{ "*.b", "a.c.b", true }, { "a%c", "abbc", true }, { "a%c", "ab.c", false }, { "a*c", "ab.c", true },
		{ "Fruit", "Fruit", true }, { "Fruit", "fruit", false }, { "Fruit", "Fruit.Apple", false },
		{ "", "", true }, { "", "a", false }, { "**%%*", "a.b", true }, { "%*", "a.b", true },
		{ "*%", "a.b", true }, { "%%", "a.b", false }, { "%.%", "a.b", true }, { "*2", "Ex9.Foo2", true },
		{ "*2", "Ex9.Foo2.Bar1", false }, { "Ex9.*2", "Ex9.Baz2.Bar222", true }, { "%a%", "bab", true },
		{ "%a%", "bbb", false }, { "a.%.c", "a.b.c", true }, { "a.%.c", "a.b.x.c", false },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (match(cases[i].pat, cases[i].name) != cases[i].match)
			fail_msg("\"%s\" against \"%s\": expected %d", cases[i].pat, cases[i].name, cases[i].match);
}

static void test_inbox_is_matched_without_regard_to_case(void **state)
{
	(void)state;
	assert_true(match("inbox", "INBOX"));
	assert_true(match("Inb%", "INBOX"));
	assert_true(match("*box", "INBOX"));
	assert_true(match("inbox.%", "INBOX.sub"));
	/* Only INBOX's own letters, and only for INBOX. */
	assert_false(match("inbox.SUB", "INBOX.sub"));
	assert_false(match("inboxes", "INBOXES"));
	assert_false(match("fruit", "FRUIT"));
	assert_false(match("inbo", "INBOX"));
}

static void test_many_wildcards_do_not_backtrack(void **state)
{
	char name[301], pat[200];
	size_t len = 0;
	(void)state;
	/* Exponential for a backtracking matcher. */
	memset(name, 'a', 300);
	name[300] = '\0';
	for (int i = 0; i < 60; i++) {
		pat[len++] = i % 2 ? '*' : '%';
		pat[len++] = 'a';
	}
	pat[len] = '\0';
	assert_true(match(pat, name));
	memcpy(pat + len, "*b", 3);
	assert_false(match(pat, name));
}

static void test_pattern_longer_than_any_name_matches_nothing(void **state)
{
	static char pat[IMAP_LIST_NAME_MAX + 3], name[IMAP_LIST_NAME_MAX + 1];
	(void)state;
	memset(pat, 'x', IMAP_LIST_NAME_MAX + 1);
	pat[IMAP_LIST_NAME_MAX + 1] = '*';
	memset(name, 'x', IMAP_LIST_NAME_MAX);
	assert_false(match(pat, name));
	pat[IMAP_LIST_NAME_MAX] = '\0';
	assert_true(match(pat, name));
}

static void test_pattern_flags(void **state)
{
	struct imap_list_pattern *p;
	(void)state;
	assert_int_equal(imap_list_pattern_compile("a.%", 3, '.', &p), 0);
	assert_true(imap_list_pattern_pct_last(p));
	assert_true(imap_list_pattern_has_pct(p));
	imap_list_pattern_free(&p);
	assert_int_equal(imap_list_pattern_compile("%.*", 3, '.', &p), 0);
	assert_false(imap_list_pattern_pct_last(p));
	assert_true(imap_list_pattern_has_pct(p));
	imap_list_pattern_free(&p);
	imap_list_pattern_free(&p);
}

/* ---- names ---- */

static void test_name_valid(void **state)
{
	char longname[IMAP_LIST_NAME_MAX + 2];
	(void)state;
	assert_true(imap_list_name_valid("a", '.'));
	assert_true(imap_list_name_valid("a.b c", '.'));
	assert_false(imap_list_name_valid("", '.'));
	assert_false(imap_list_name_valid(".a", '.'));
	assert_false(imap_list_name_valid("a.", '.'));
	assert_false(imap_list_name_valid("a..b", '.'));
	assert_false(imap_list_name_valid("V\t2", '.'));
	assert_false(imap_list_name_valid("a\r", '.'));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(imap_list_name_valid(longname, '.'));
	longname[IMAP_LIST_NAME_MAX] = '\0';
	assert_true(imap_list_name_valid(longname, '.'));
}

static void test_names_merge(void **state)
{
	struct imap_list_name n[] = {
		{ "b", IMAP_LIST_SUBSCRIBED, NULL }, { "a", IMAP_LIST_EXISTS, NULL },
		{ "b", IMAP_LIST_EXISTS, "\\Sent" }, { "a.b", IMAP_LIST_SUBSCRIBED, NULL },
	};
	(void)state;
	assert_int_equal(imap_list_names_merge(n, 4), 3);
	assert_string_equal(n[0].name, "a");
	assert_string_equal(n[1].name, "a.b");
	assert_string_equal(n[2].name, "b");
	assert_int_equal(n[2].flags, IMAP_LIST_EXISTS | IMAP_LIST_SUBSCRIBED);
	assert_string_equal(n[2].use, "\\Sent");
}

/* ---- queries ---- */

struct capture {
	char out[4096];
};

/* "name[attrs]" per reply, space-separated: N \Noselect, X \NonExistent,
 * C \HasChildren, c \HasNoChildren, S \Subscribed, I CHILDINFO, s
 * selectable; then the use attribute. */
static void capture_emit(void *ctx, const struct imap_list_reply *r)
{
	struct capture *c = ctx;
	char attrs[16], *a = attrs;

	if (r->attrs & IMAP_LIST_NOSELECT)
		*a++ = 'N';
	if (r->attrs & IMAP_LIST_NONEXISTENT)
		*a++ = 'X';
	if (r->attrs & IMAP_LIST_HASCHILDREN)
		*a++ = 'C';
	if (r->attrs & IMAP_LIST_HASNOCHILDREN)
		*a++ = 'c';
	if (r->attrs & IMAP_LIST_SUBSCRIBED_A)
		*a++ = 'S';
	if (r->attrs & IMAP_LIST_CHILDINFO)
		*a++ = 'I';
	if (r->selectable)
		*a++ = 's';
	*a = '\0';
	size_t len = strlen(c->out);
	snprintf(c->out + len, sizeof(c->out) - len, "%s%.*s[%s%s%s]", len > 0 ? " " : "", (int)r->len, r->name,
		 attrs, r->use != NULL ? " " : "", r->use != NULL ? r->use : "");
}

#define E IMAP_LIST_EXISTS
#define U IMAP_LIST_SUBSCRIBED

/* RFC 5258 5: examples 1-6, with example 8 A2's Foo missing, example
 * 10's foo.bar subscribed but missing, and the special-use Sent. */
static const struct imap_list_name tree[] = {
	{ "INBOX", E | U, NULL }, { "Fruit", E, NULL }, { "Fruit.Apple", E, NULL },
	{ "Fruit.Banana", E | U, NULL }, { "Fruit.Peach", U, NULL }, { "Tofu", E, NULL },
	{ "Vegetable", E | U, NULL }, { "Vegetable.Broccoli", E | U, NULL }, { "Vegetable.Corn", E, NULL },
	{ "A2.Foo.Bar", E, NULL }, { "A2.Foo.Baz", E | U, NULL }, { "A2.Moo", E, NULL },
	{ "foo", E, NULL }, { "foo.bar", U, NULL }, { "Sent", E | U, "\\Sent" },
};

static const char *run(unsigned int select, unsigned int ret, bool lsub, bool nonexistent, const char *pat)
{
	static struct capture c;
	struct imap_list_name names[sizeof(tree) / sizeof(tree[0])];
	struct imap_list_query q = { '.', lsub, nonexistent, select, ret };
	struct imap_list_pattern *p;

	memcpy(names, tree, sizeof(tree));
	size_t n = imap_list_names_merge(names, sizeof(tree) / sizeof(tree[0]));
	memset(&c, 0, sizeof(c));
	assert_int_equal(imap_list_pattern_compile(pat, strlen(pat), '.', &p), 0);
	assert_int_equal(imap_list_run(&q, &p, 1, names, n, capture_emit, &c), 0);
	imap_list_pattern_free(&p);
	return c.out;
}

#define SUB IMAP_LIST_SEL_SUBSCRIBED
#define REC IMAP_LIST_SEL_RECURSIVEMATCH
#define SPU IMAP_LIST_SEL_SPECIAL_USE

static void test_plain_list(void **state)
{
	(void)state;
	assert_string_equal(run(0, 0, false, false, "Fruit*"), "Fruit[Cs] Fruit.Apple[cs] Fruit.Banana[cs]");
	/* A trailing "%" returns the level A2.Foo, which is no mailbox. */
	assert_string_equal(run(0, 0, false, false, "A2.%"), "A2.Foo[NC] A2.Moo[cs]");
	assert_string_equal(run(0, 0, false, true, "A2.%"), "A2.Foo[XC] A2.Moo[cs]");
	assert_string_equal(run(0, 0, false, false, "%"),
			    "A2[NC] Fruit[Cs] INBOX[cs] Sent[cs \\Sent] Tofu[cs] Vegetable[Cs] foo[cs]");
	/* Not without "%" at the end. */
	assert_string_equal(run(0, 0, false, false, "A2.*"), "A2.Foo.Bar[cs] A2.Foo.Baz[cs] A2.Moo[cs]");
	assert_string_equal(run(0, 0, false, false, "A2.Foo"), "");
	assert_string_equal(run(0, IMAP_LIST_RET_SUBSCRIBED, false, true, "Fruit.*"),
			    "Fruit.Apple[cs] Fruit.Banana[cSs]");
}

static void test_subscribed(void **state)
{
	(void)state;
	/* RFC 5258 example 2: Fruit.Peach although it does not exist. */
	assert_string_equal(run(SUB, 0, false, true, "Fruit.*"), "Fruit.Banana[cSs] Fruit.Peach[XcS]");
	/* Example 8: no parents without RECURSIVEMATCH. */
	assert_string_equal(run(SUB, 0, false, true, "A2.%"), "");
	/* Example 8 A2: the missing Foo, with CHILDINFO. */
	assert_string_equal(run(SUB | REC, 0, false, true, "A2.%"), "A2.Foo[XCI]");
	/* Example 10: CHILDINFO without \HasChildren. */
	assert_string_equal(run(SUB | REC, 0, false, true, "foo"), "foo[cIs]");
	/* A selected name with a selected child: CHILDINFO, also under "*". */
	assert_string_equal(run(SUB | REC, 0, false, true, "Vegetable*"),
			    "Vegetable[CSIs] Vegetable.Broccoli[cSs]");
	/* Fruit: its subscribed children are returned by "*": not itself. */
	assert_string_equal(run(SUB | REC, 0, false, true, "Fruit*"), "Fruit.Banana[cSs] Fruit.Peach[XcS]");
	assert_string_equal(run(SUB | REC, 0, false, true, "%"),
			    "A2[XCI] Fruit[CIs] INBOX[cSs] Sent[cSs \\Sent] Vegetable[CSIs] foo[cIs]");
}

static void test_special_use(void **state)
{
	(void)state;
	assert_string_equal(run(SPU, 0, false, true, "*"), "Sent[cs \\Sent]");
	assert_string_equal(run(SPU | SUB, 0, false, true, "*"), "Sent[cSs \\Sent]");
	assert_string_equal(run(SPU, 0, false, true, "Fruit*"), "");
}

static void test_lsub(void **state)
{
	(void)state;
	assert_string_equal(run(0, 0, true, false, "*"),
			    "A2.Foo.Baz[cs] Fruit.Banana[cs] Fruit.Peach[c] INBOX[cs] Sent[cs \\Sent] Vegetable[Cs] "
			    "Vegetable.Broccoli[cs] foo.bar[c]");
	/* RFC 3501 6.3.9: "%" returns the unsubscribed parents as \Noselect,
	 * whether they exist or not. */
	assert_string_equal(run(0, 0, true, false, "%"),
			    "A2[NC] Fruit[NC] INBOX[cs] Sent[cs \\Sent] Vegetable[Cs] foo[Nc]");
	assert_string_equal(run(0, 0, true, false, "A2.%"), "A2.Foo[NC]");
	/* Not for "*" (Dovecot agrees). */
	assert_string_equal(run(0, 0, true, false, "A2*o"), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_inbox_is_matched_without_regard_to_case),
		cmocka_unit_test(test_many_wildcards_do_not_backtrack),
		cmocka_unit_test(test_pattern_longer_than_any_name_matches_nothing),
		cmocka_unit_test(test_pattern_flags),
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_names_merge),
		cmocka_unit_test(test_plain_list),
		cmocka_unit_test(test_subscribed),
		cmocka_unit_test(test_special_use),
		cmocka_unit_test(test_lsub),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
