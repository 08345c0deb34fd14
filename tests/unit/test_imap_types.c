/* test_imap_types: the typed leaves of the IMAP grammar (common/imap_types.c):
 * numbers, sequence sets (parse, cap, resolve, contains), dates, flags,
 * astrings and mailbox names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "imap_types.h"

static struct arena arena;

static int setup(void **state)
{
	(void)state;
	arena_init(&arena, 4096, 1 << 24);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_free(&arena);
	return 0;
}

static struct imap_arg atom(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_ATOM, .text = s, .len = strlen(s) };

	return a;
}

static struct imap_arg quoted(const char *s)
{
	struct imap_arg a = { .type = IMAP_ARG_QUOTED, .text = s, .len = strlen(s) };

	return a;
}

static void test_numbers(void **state)
{
	uint64_t v;
	(void)state;

	assert_int_equal(imap_number_parse("0", 1, IMAP_NUMBER_MAX, false, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(imap_number_parse("0", 1, IMAP_NUMBER_MAX, true, &v), -1);
	assert_int_equal(imap_number_parse("007", 3, IMAP_NUMBER_MAX, false, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(imap_number_parse("007", 3, IMAP_NUMBER_MAX, true, &v), -1);
	assert_int_equal(imap_number_parse("4294967295", 10, IMAP_NUMBER_MAX, true, &v), 0);
	assert_int_equal(v, 4294967295u);
	assert_int_equal(imap_number_parse("4294967296", 10, IMAP_NUMBER_MAX, true, &v), -1);
	assert_int_equal(imap_number_parse("9223372036854775807", 19, IMAP_NUMBER64_MAX, false, &v), 0);
	assert_int_equal(imap_number_parse("9223372036854775808", 19, IMAP_NUMBER64_MAX, false, &v), -1);
	assert_int_equal(imap_number_parse("99999999999999999999999", 23, UINT64_MAX, false, &v), -1);
	assert_int_equal(imap_number_parse("", 0, IMAP_NUMBER_MAX, false, &v), -1);
	assert_int_equal(imap_number_parse("1a", 2, IMAP_NUMBER_MAX, false, &v), -1);
	assert_int_equal(imap_number_parse("-1", 2, IMAP_NUMBER_MAX, false, &v), -1);
}

static void seq(const char *s, struct imap_seqset *set)
{
	const char *err;

	assert_int_equal(imap_seqset_parse(s, strlen(s), true, true, &arena, set, &err), 0);
}

static void test_seqset_parse(void **state)
{
	struct imap_seqset set;
	const char *err;
	(void)state;

	seq("1:*,7,9:3", &set);
	assert_int_equal(set.count, 3);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, IMAP_SEQ_STAR);
	assert_int_equal(set.ranges[1].lo, 7);
	assert_int_equal(set.ranges[1].hi, 7);
	assert_int_equal(set.ranges[2].lo, 9);
	assert_int_equal(set.ranges[2].hi, 3);
	seq("$", &set);
	assert_true(set.saved);
	assert_int_equal(imap_seqset_parse("$", 1, true, false, &arena, &set, &err), -1);
	assert_int_equal(imap_seqset_parse("*", 1, false, false, &arena, &set, &err), -1);
	assert_int_equal(imap_seqset_parse("1:*", 3, false, false, &arena, &set, &err), -1);
	static const char *const bad[] = { "", ",", "1,", ",1", "1::2", "1:2:3", "0", "0:5", "01", "a",
					   "1 2", "$,1", "1,$", "**", "*1", "4294967296", "1:4294967296" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		assert_int_equal(imap_seqset_parse(bad[i], strlen(bad[i]), true, true, &arena, &set, &err), -1);
		assert_non_null(err);
	}
}

static void test_seqset_range_cap(void **state)
{
	struct buf b;
	struct imap_seqset set;
	const char *err;
	(void)state;

	buf_init(&b, 1 << 20);
	buf_append_str(&b, "1");
	for (int k = 1; k < IMAP_SEQSET_RANGES_MAX; k++)
		buf_append_str(&b, ",1");
	assert_int_equal(imap_seqset_parse(b.data, b.len, true, true, &arena, &set, &err), 0);
	assert_int_equal(set.count, IMAP_SEQSET_RANGES_MAX);
	buf_append_str(&b, ",1");
	assert_int_equal(imap_seqset_parse(b.data, b.len, true, true, &arena, &set, &err), -1);
	assert_string_equal(err, "Too many ranges in sequence set");
	buf_free(&b);
}

static void test_seqset_resolve_and_contains(void **state)
{
	struct imap_seqset set, r;
	(void)state;

	seq("9:3,1,2,20:*,15", &set);
	assert_int_equal(imap_seqset_highest(&set), 20);
	assert_int_equal(imap_seqset_resolve(&set, 25, &arena, &r), 0);
	/* 1,2,3:9 merge into 1:9; 15; 20:25 */
	assert_int_equal(r.count, 3);
	assert_int_equal(r.ranges[0].lo, 1);
	assert_int_equal(r.ranges[0].hi, 9);
	assert_int_equal(r.ranges[1].lo, 15);
	assert_int_equal(r.ranges[1].hi, 15);
	assert_int_equal(r.ranges[2].lo, 20);
	assert_int_equal(r.ranges[2].hi, 25);
	assert_true(imap_seqset_contains(&r, 1));
	assert_true(imap_seqset_contains(&r, 9));
	assert_false(imap_seqset_contains(&r, 10));
	assert_true(imap_seqset_contains(&r, 15));
	assert_false(imap_seqset_contains(&r, 19));
	assert_true(imap_seqset_contains(&r, 25));
	assert_false(imap_seqset_contains(&r, 26));
	assert_false(imap_seqset_contains(&r, 0));
	/* RFC 9051 6.4.8: "n:*" with n above the highest UID is the highest. */
	seq("100:*", &set);
	assert_int_equal(imap_seqset_resolve(&set, 50, &arena, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.ranges[0].lo, 50);
	assert_int_equal(r.ranges[0].hi, 50);
	/* Numbers above max drop out; an empty mailbox gives nothing. */
	seq("60:70,3", &set);
	assert_int_equal(imap_seqset_resolve(&set, 50, &arena, &r), 0);
	assert_int_equal(r.count, 1);
	assert_int_equal(r.ranges[0].lo, 3);
	seq("1:*", &set);
	assert_int_equal(imap_seqset_resolve(&set, 0, &arena, &r), 0);
	assert_int_equal(r.count, 0);
	/* Adjacent ranges merge; the top of the number space does not wrap. */
	seq("4294967295,4294967294,1:2,3", &set);
	assert_int_equal(imap_seqset_resolve(&set, UINT32_MAX, &arena, &r), 0);
	assert_int_equal(r.count, 2);
	assert_int_equal(r.ranges[0].hi, 3);
	assert_int_equal(r.ranges[1].lo, 4294967294u);
	assert_int_equal(r.ranges[1].hi, 4294967295u);
	/* "$" cannot be resolved here (the server keeps the saved result). */
	seq("$", &set);
	assert_int_equal(imap_seqset_resolve(&set, 10, &arena, &r), -1);
}

static void test_dates(void **state)
{
	struct imap_date d;
	struct imap_arg a;
	int64_t t;
	int zone;
	(void)state;

	a = atom("1-Feb-1994");
	assert_int_equal(imap_arg_date(&a, &d), 0);
	assert_int_equal(d.year, 1994);
	assert_int_equal(d.month, 2);
	assert_int_equal(d.day, 1);
	assert_int_equal(d.days, 8797);
	a = quoted("29-feb-2000");
	assert_int_equal(imap_arg_date(&a, &d), 0);
	assert_int_equal(d.days, 11016);
	static const char *const bad[] = { "29-Feb-1900", "31-Apr-2020", "0-Jan-2020", "1-Jan-20", "1-Jan-20201",
					   "1-Janu-2020", "1 Jan 2020", "001-Jan-2020", "-Jan-2020", "1-Jan-" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		a = atom(bad[i]);
		assert_int_equal(imap_arg_date(&a, &d), -1);
	}
	assert_int_equal(imap_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(imap_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(imap_days_from_civil(1600, 3, 1), -135080);

	a = quoted("17-Jul-1996 02:44:25 -0700");
	assert_int_equal(imap_arg_date_time(&a, &t, &zone), 0);
	assert_int_equal(t, 837596665);
	assert_int_equal(zone, -420);
	a = quoted(" 1-Jan-2000 00:00:60 +1430");
	assert_int_equal(imap_arg_date_time(&a, &t, &zone), 0);
	assert_int_equal(zone, 870);
	static const char *const badt[] = { "17-Jul-1996 02:44:25", "17-Jul-1996 02:44:25 0700",
					    "17-Jul-1996 24:00:00 +0000", "17-Jul-1996 02:60:00 +0000",
					    "17-Jul-1996 02:44:61 +0000", "17-Jul-1996 02:44:25 +0060",
					    "1-Jul-1996 02:44:25 +0000", "17-Jul-1996T02:44:25 +0000" };
	for (size_t i = 0; i < sizeof(badt) / sizeof(badt[0]); i++) {
		a = quoted(badt[i]);
		assert_int_equal(imap_arg_date_time(&a, &t, &zone), -1);
	}
	/* date-time is quoted only. */
	a = atom("17-Jul-1996");
	assert_int_equal(imap_arg_date_time(&a, &t, &zone), -1);
}

static void test_flags(void **state)
{
	struct imap_arg items[5];
	struct imap_flags f;
	const char *err;
	(void)state;

	items[0] = atom("\\SEEN");
	items[1] = atom("\\answered");
	items[2] = atom("$Label1");
	items[3] = atom("NIL");
	items[3].type = IMAP_ARG_NIL;
	items[4] = atom("\\Draft");
	assert_int_equal(imap_flags_parse(items, 5, &arena, &f, &err), 0);
	assert_int_equal(f.system, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED | IMAP_FLAG_DRAFT);
	assert_int_equal(f.nkeywords, 2);
	assert_string_equal(f.keywords[0], "$Label1");
	assert_string_equal(f.keywords[1], "NIL");
	items[0] = atom("\\Recent");
	assert_int_equal(imap_flags_parse(items, 1, &arena, &f, &err), -1);
	items[0] = atom("\\*");
	assert_int_equal(imap_flags_parse(items, 1, &arena, &f, &err), -1);
	items[0] = atom("a*b");
	assert_int_equal(imap_flags_parse(items, 1, &arena, &f, &err), -1);
	items[0] = quoted("x");
	assert_int_equal(imap_flags_parse(items, 1, &arena, &f, &err), -1);
	assert_int_equal(imap_flag_system("\\deleted", 8), IMAP_FLAG_DELETED);
	assert_int_equal(imap_flag_system("\\Foo", 4), 0);
}

static void test_flag_keyword_cap(void **state)
{
	struct imap_arg *items = calloc(IMAP_FLAGS_KEYWORDS_MAX + 1, sizeof(*items));
	struct imap_flags f;
	const char *err;
	(void)state;

	assert_non_null(items);
	for (int k = 0; k <= IMAP_FLAGS_KEYWORDS_MAX; k++)
		items[k] = atom("kw");
	assert_int_equal(imap_flags_parse(items, IMAP_FLAGS_KEYWORDS_MAX, &arena, &f, &err), 0);
	assert_int_equal(imap_flags_parse(items, IMAP_FLAGS_KEYWORDS_MAX + 1, &arena, &f, &err), -1);
	assert_string_equal(err, "Too many keywords");
	free(items);
}

static void test_astrings(void **state)
{
	struct imap_arg a;
	size_t len;
	bool nil;
	(void)state;

	a = atom("a]b[c");
	assert_non_null(imap_arg_astring(&a, &len));
	a = atom("a%b");
	assert_null(imap_arg_astring(&a, &len));
	a = atom("\\Seen");
	assert_null(imap_arg_astring(&a, &len));
	a = quoted("");
	assert_non_null(imap_arg_astring(&a, &len));
	assert_int_equal(len, 0);
	a.type = IMAP_ARG_LITERAL;
	a.flags = IMAP_ARG_F_BINARY;
	assert_null(imap_arg_astring(&a, &len));
	a.flags = IMAP_ARG_F_NUL;
	assert_null(imap_arg_astring(&a, &len));
	a = atom("x");
	assert_null(imap_arg_string(&a, &len));
	a = atom("NIL");
	a.type = IMAP_ARG_NIL;
	assert_string_equal(imap_arg_nstring(&a, &len, &nil), "");
	assert_true(nil);
	assert_string_equal(imap_arg_astring(&a, &len), "NIL");
	a = atom("a]");
	assert_false(imap_arg_is_strict_atom(&a));
	a = atom("Junk");
	assert_true(imap_arg_is_strict_atom(&a));
	assert_true(imap_arg_is_atom(&a, "jUNK"));
	assert_false(imap_arg_is_atom(&a, "Jun"));
}

static void test_mailbox_names(void **state)
{
	struct imap_arg a;
	const char *name, *err;
	(void)state;

	a = atom("iNbOx");
	assert_int_equal(imap_arg_mailbox(&a, false, &arena, &name, &err), 0);
	assert_string_equal(name, "INBOX");
	a = atom("INBOX.foo");
	assert_int_equal(imap_arg_mailbox(&a, false, &arena, &name, &err), 0);
	assert_string_equal(name, "INBOX.foo");
	a = quoted("&ZeVnLIqe-");
	assert_int_equal(imap_arg_mailbox(&a, false, &arena, &name, &err), 0);
	assert_string_equal(name, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	assert_int_equal(imap_arg_mailbox(&a, true, &arena, &name, &err), 0);
	assert_string_equal(name, "&ZeVnLIqe-");
	a = quoted("tab\there");
	assert_int_equal(imap_arg_mailbox(&a, true, &arena, &name, &err), -1);
	assert_string_equal(err, "Control character in mailbox name");
	a = atom("*");
	assert_int_equal(imap_arg_mailbox(&a, false, &arena, &name, &err), -1);
	assert_int_equal(imap_arg_list_mailbox(&a, false, &arena, &name, &err), 0);
	assert_string_equal(name, "*");
	a = atom("inbox");
	assert_int_equal(imap_arg_list_mailbox(&a, false, &arena, &name, &err), 0);
	assert_string_equal(name, "inbox");
	a.type = IMAP_ARG_LIST;
	assert_int_equal(imap_arg_mailbox(&a, false, &arena, &name, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_seqset_parse),
		cmocka_unit_test(test_seqset_range_cap),
		cmocka_unit_test(test_seqset_resolve_and_contains),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_flag_keyword_cap),
		cmocka_unit_test(test_astrings),
		cmocka_unit_test(test_mailbox_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
