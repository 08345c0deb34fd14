/* Unit tests for common/dovecot_keywords: the file as Dovecot 2.3.19 wrote
 * it, look-ups both ways, adding, writing it back byte for byte, every
 * malformed line refused with an error, and the limits (26 letters, the
 * name length). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "dovecot_keywords.h"

#define LEN(s) (sizeof(s) - 1)

/* Written by Dovecot 2.3.19: APPEND (\Seen $Forwarded), (Junk $Label1),
 * STORE +FLAGS (NewKw), and a file with letter 'e' and no name for it. */
static const char dovecot_file[] = "0 $Forwarded\n1 Junk\n2 $Label1\n3 NewKw\n4 unknown-4\n";

static void test_dovecot_keywords_reads_dovecot_file(void **state)
{
	struct dovecot_keywords kw;
	const char *err = NULL, *name;
	size_t len = 0;

	(void)state;
	assert_int_equal(dovecot_keywords_parse(dovecot_file, LEN(dovecot_file), &kw, &err), 0);
	assert_int_equal(dovecot_keywords_letter(&kw, "$Forwarded", 10), 'a');
	assert_int_equal(dovecot_keywords_letter(&kw, "Junk", 4), 'b');
	assert_int_equal(dovecot_keywords_letter(&kw, "unknown-4", 9), 'e');
	/* IMAP keywords compare case-insensitively (Dovecot: strcasecmp). */
	assert_int_equal(dovecot_keywords_letter(&kw, "JUNK", 4), 'b');
	assert_int_equal(dovecot_keywords_letter(&kw, "$forwarded", 10), 'a');
	assert_int_equal(dovecot_keywords_letter(&kw, "Jun", 3), -1);
	assert_int_equal(dovecot_keywords_letter(&kw, "Junkk", 5), -1);
	assert_int_equal(dovecot_keywords_letter(&kw, "", 0), -1);
	name = dovecot_keywords_name(&kw, 'c', &len);
	assert_non_null(name);
	assert_string_equal(name, "$Label1");
	assert_int_equal(len, 7);
	assert_string_equal(dovecot_keywords_name(&kw, 'd', NULL), "NewKw");
	assert_null(dovecot_keywords_name(&kw, 'f', &len));   /* no name */
	assert_null(dovecot_keywords_name(&kw, 'A', &len));   /* not a keyword letter */
	assert_null(dovecot_keywords_name(&kw, '`', &len));
	assert_null(dovecot_keywords_name(&kw, '{', &len));
	assert_null(dovecot_keywords_name(&kw, '\0', &len));
}

static void test_dovecot_keywords_sparse_and_empty(void **state)
{
	static const char sparse[] = "25 Last\n0 First\n12 mid[dle;x\n";
	struct dovecot_keywords kw;
	const char *err;
	struct buf b;

	(void)state;
	assert_int_equal(dovecot_keywords_parse("", 0, &kw, &err), 0);
	for (char c = 'a'; c <= 'z'; c++)
		assert_null(dovecot_keywords_name(&kw, c, NULL));
	/* Any order in; index order out. */
	assert_int_equal(dovecot_keywords_parse(sparse, LEN(sparse), &kw, &err), 0);
	assert_string_equal(dovecot_keywords_name(&kw, 'z', NULL), "Last");
	assert_string_equal(dovecot_keywords_name(&kw, 'm', NULL), "mid[dle;x");
	buf_init(&b, 1024);
	assert_int_equal(dovecot_keywords_write(&kw, &b), 0);
	assert_string_equal(b.data, "0 First\n12 mid[dle;x\n25 Last\n");
	buf_free(&b);
}

static void test_dovecot_keywords_write_round_trip(void **state)
{
	struct dovecot_keywords kw, kw2;
	const char *err;
	struct buf b;

	(void)state;
	assert_int_equal(dovecot_keywords_parse(dovecot_file, LEN(dovecot_file), &kw, &err), 0);
	buf_init(&b, DOVECOT_KEYWORDS_FILE_MAX);
	assert_int_equal(dovecot_keywords_write(&kw, &b), 0);
	assert_int_equal(b.len, LEN(dovecot_file));
	assert_memory_equal(b.data, dovecot_file, b.len);
	assert_int_equal(dovecot_keywords_parse(b.data, b.len, &kw2, &err), 0);
	assert_memory_equal(kw.len, kw2.len, sizeof(kw.len));
	buf_free(&b);
	/* An empty table writes nothing. */
	dovecot_keywords_init(&kw);
	buf_init(&b, 16);
	assert_int_equal(dovecot_keywords_write(&kw, &b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void test_dovecot_keywords_add(void **state)
{
	static const char gap[] = "0 A\n2 C\n";
	struct dovecot_keywords kw;
	const char *err = NULL;
	char letter = 0, name[16];
	struct buf b;

	(void)state;
	assert_int_equal(dovecot_keywords_parse(gap, LEN(gap), &kw, &err), 0);
	/* Known (any case): 0, its letter, nothing changed. */
	assert_int_equal(dovecot_keywords_add(&kw, "c", 1, &letter, &err), 0);
	assert_int_equal(letter, 'c');
	/* New: the first free letter, as Dovecot gives it. */
	assert_int_equal(dovecot_keywords_add(&kw, "$Junk", 5, &letter, &err), 1);
	assert_int_equal(letter, 'b');
	assert_int_equal(dovecot_keywords_add(&kw, "$Junk", 5, &letter, &err), 0);
	assert_int_equal(dovecot_keywords_add(&kw, "Next", 4, &letter, &err), 1);
	assert_int_equal(letter, 'd');
	buf_init(&b, 1024);
	assert_int_equal(dovecot_keywords_write(&kw, &b), 0);
	assert_string_equal(b.data, "0 A\n1 $Junk\n2 C\n3 Next\n");
	buf_free(&b);
	/* Not keywords: refused, nothing added. */
	assert_int_equal(dovecot_keywords_add(&kw, "", 0, &letter, &err), -1);
	assert_int_equal(dovecot_keywords_add(&kw, "a b", 3, &letter, &err), -1);
	assert_int_equal(dovecot_keywords_add(&kw, "\\Seen", 5, &letter, &err), -1);
	assert_non_null(strstr(err, "not a keyword"));
	assert_null(dovecot_keywords_name(&kw, 'e', NULL));
	/* Fill all 26, then one more is refused. */
	for (int i = 4; i < DOVECOT_KEYWORDS_MAX; i++) {
		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(dovecot_keywords_add(&kw, name, strlen(name), &letter, &err), 1);
		assert_int_equal(letter, 'a' + i);
	}
	assert_int_equal(dovecot_keywords_add(&kw, "one-more", 8, &letter, &err), -1);
	assert_non_null(strstr(err, "26"));
	assert_int_equal(dovecot_keywords_add(&kw, "K25", 3, &letter, &err), 0);   /* known still works */
	assert_int_equal(letter, 'z');
}

static void test_dovecot_keywords_malformed_refused(void **state)
{
	static const struct {
		const char *text;
		size_t len;          /* 0: strlen */
		const char *error;   /* a part of the error */
	} bad[] = {
		{ "0 a", 0, "without LF" },
		{ "0 a\n1 b", 0, "without LF" },
		{ "\n", 0, "index" },
		{ "0\n", 0, "index" },
		{ "0 \n", 0, "name" },
		{ "26 x\n", 0, "index" },
		{ "100 x\n", 0, "index" },
		{ "00 x\n", 0, "index" },
		{ "01 x\n", 0, "index" },
		{ "-1 x\n", 0, "index" },
		{ "+1 x\n", 0, "index" },
		{ " 0 x\n", 0, "index" },
		{ "a x\n", 0, "index" },
		{ "18446744073709551617 x\n", 0, "index" },
		{ "0  x\n", 0, "name" },
		{ "0 x \n", 0, "name" },
		{ "0 a b\n", 0, "name" },
		{ "0 a(b\n", 0, "name" },
		{ "0 a)b\n", 0, "name" },
		{ "0 a{b\n", 0, "name" },
		{ "0 a]\n", 0, "name" },
		{ "0 a%\n", 0, "name" },
		{ "0 a*\n", 0, "name" },
		{ "0 a\"\n", 0, "name" },
		{ "0 a\\\n", 0, "name" },
		{ "0 \\Seen\n", 0, "name" },
		{ "0 caf\xc3\xa9\n", 0, "name" },
		{ "0 a\x7f\n", 0, "name" },
		{ "0 a\x01\n", 0, "name" },
		{ "0 a\r\n", 0, "name" },
		{ "0 a\0b\n", 6, "name" },
		{ "0 a\n0 b\n", 0, "index repeated" },
		{ "3 a\n1 b\n3 c\n", 0, "index repeated" },
		{ "0 Junk\n1 JUNK\n", 0, "name repeated" },
		{ "5 x\n7 x\n", 0, "name repeated" },
	};
	struct dovecot_keywords kw;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;
		size_t len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].text);
		int r = dovecot_keywords_parse(bad[i].text, len, &kw, &err);

		if (r != -1 || err == NULL || strstr(err, bad[i].error) == NULL)
			fail_msg("case %zu %s: r=%d error=%s", i, bad[i].text, r, err != NULL ? err : "(none)");
		/* A failed parse leaves no half table behind. */
		for (char c = 'a'; c <= 'z'; c++)
			assert_null(dovecot_keywords_name(&kw, c, NULL));
	}
}

/* DOVECOT_KEYWORD_LEN_MAX and DOVECOT_KEYWORDS_FILE_MAX, at and past them. */
static void test_dovecot_keywords_limits(void **state)
{
	char text[DOVECOT_KEYWORDS_FILE_MAX + 2];
	struct dovecot_keywords kw;
	const char *err;
	char letter;
	size_t n = 0;
	struct buf b;

	(void)state;
	/* The largest valid file: 26 names of the longest length. */
	for (int i = 0; i < DOVECOT_KEYWORDS_MAX; i++) {
		n += (size_t)snprintf(text + n, 8, "%d ", i);
		memset(text + n, 'a' + i, DOVECOT_KEYWORD_LEN_MAX);
		n += DOVECOT_KEYWORD_LEN_MAX;
		text[n++] = '\n';
	}
	assert_true(n <= DOVECOT_KEYWORDS_FILE_MAX);
	assert_int_equal(dovecot_keywords_parse(text, n, &kw, &err), 0);
	assert_int_equal(strlen(dovecot_keywords_name(&kw, 'z', NULL)), DOVECOT_KEYWORD_LEN_MAX);
	buf_init(&b, DOVECOT_KEYWORDS_FILE_MAX);
	assert_int_equal(dovecot_keywords_write(&kw, &b), 0);
	assert_int_equal(b.len, n);
	assert_memory_equal(b.data, text, n);
	buf_free(&b);
	/* A name one byte too long. */
	memset(text, 'x', sizeof(text));
	memcpy(text, "0 ", 2);
	text[2 + DOVECOT_KEYWORD_LEN_MAX + 1] = '\n';
	assert_int_equal(dovecot_keywords_parse(text, DOVECOT_KEYWORD_LEN_MAX + 4, &kw, &err), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(dovecot_keywords_add(&kw, text + 2, DOVECOT_KEYWORD_LEN_MAX + 1, &letter, &err), -1);
	assert_int_equal(dovecot_keywords_add(&kw, text + 2, DOVECOT_KEYWORD_LEN_MAX, &letter, &err), 1);
	/* A file over the largest valid size is refused before parsing. */
	assert_int_equal(dovecot_keywords_parse(text, DOVECOT_KEYWORDS_FILE_MAX + 1, &kw, &err), -1);
	assert_non_null(strstr(err, "too large"));
	/* The buf's cap: -1, the buf unchanged. */
	dovecot_keywords_init(&kw);
	assert_int_equal(dovecot_keywords_add(&kw, "abc", 3, &letter, &err), 1);
	assert_int_equal(dovecot_keywords_add(&kw, "def", 3, &letter, &err), 1);
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "xy"), 0);
	errno = 0;
	assert_int_equal(dovecot_keywords_write(&kw, &b), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(b.len, 2);
	assert_string_equal(b.data, "xy");
	buf_free(&b);
}

static void test_dovecot_keyword_ok(void **state)
{
	(void)state;
	assert_true(dovecot_keyword_ok("$Forwarded", 10));
	assert_true(dovecot_keyword_ok("a[b", 3));
	assert_true(dovecot_keyword_ok("a;b", 3));
	assert_true(dovecot_keyword_ok("unknown-4?", 10));
	assert_false(dovecot_keyword_ok("", 0));
	assert_false(dovecot_keyword_ok("a]b", 3));
	assert_false(dovecot_keyword_ok("a b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dovecot_keywords_reads_dovecot_file),
		cmocka_unit_test(test_dovecot_keywords_sparse_and_empty),
		cmocka_unit_test(test_dovecot_keywords_write_round_trip),
		cmocka_unit_test(test_dovecot_keywords_add),
		cmocka_unit_test(test_dovecot_keywords_malformed_refused),
		cmocka_unit_test(test_dovecot_keywords_limits),
		cmocka_unit_test(test_dovecot_keyword_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
