/* test_imap_utf7: modified UTF-7 mailbox names (common/imap_utf7.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "imap_utf7.h"

struct pair {
	const char *utf7;
	const char *utf8;
};

/* RFC 3501 5.1.3 examples and edge cases, both directions. */
static const struct pair pairs[] = {
	{ "", "" },
	{ "INBOX", "INBOX" },
	{ "&-", "&" },
	{ "A&-B&-", "A&B&" },
	{ "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e" },
	{ "Entw&APw-rfe", "Entw\xc3\xbcrfe" },
	{ "&AOQA9gD8-", "\xc3\xa4\xc3\xb6\xc3\xbc" },
	/* U+1F600 as a surrogate pair */
	{ "&2D3eAA-", "\xf0\x9f\x98\x80" },
	/* A control character is encoded (and left for the caller to refuse). */
	{ "&AAk-", "\t" },
	{ "&AH8-", "\x7f" },
	{ "a b", "a b" },
	{ "&AOk-&-", "\xc3\xa9&" },
};

static void test_round_trips(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		struct buf out;
		const char *err = NULL;

		buf_init(&out, 1024);
		assert_int_equal(imap_utf7_to_utf8(pairs[i].utf7, strlen(pairs[i].utf7), &out, &err), 0);
		assert_string_equal(buf_cstr(&out), pairs[i].utf8);
		buf_reset(&out);
		assert_int_equal(imap_utf8_to_utf7(pairs[i].utf8, strlen(pairs[i].utf8), &out, &err), 0);
		assert_string_equal(buf_cstr(&out), pairs[i].utf7);
		buf_free(&out);
	}
}

static void test_non_canonical_and_broken_utf7_refused(void **state)
{
	static const char *const bad[] = {
		"&",            /* unterminated */
		"&AOQ",         /* unterminated */
		"&AGE-",        /* "a" encoded */
		"&ACY-",        /* "&" encoded */
		"&AOQ-&APY-",   /* two runs back to back: one run is canonical */
		"&AOR-",        /* non-zero padding bits */
		"&AOQA-",       /* leftover bits of a partial unit */
		"&A-",          /* too few bits for a unit */
		"&2D0-",        /* high surrogate alone */
		"&3gA-",        /* low surrogate alone */
		"&2D3YPQ-",     /* high surrogate then high surrogate */
		"&AAA-",        /* U+0000 */
		"&AO*-",        /* not modified base64 */
		"&AO/k-",       /* "/" is not used, "," is */
		"caf\xc3\xa9",  /* raw 8-bit */
		"a\tb",         /* raw control */
	};
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out;
		const char *err = NULL;

		buf_init(&out, 1024);
		buf_append_str(&out, "keep");
		assert_int_equal(imap_utf7_to_utf8(bad[i], strlen(bad[i]), &out, &err), -1);
		assert_non_null(err);
		/* The output is left as it was. */
		assert_string_equal(buf_cstr(&out), "keep");
		buf_free(&out);
	}
}

static void test_bad_utf8_refused_by_encoder(void **state)
{
	static const char *const bad[] = { "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff" };
	(void)state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct buf out;
		const char *err = NULL;

		buf_init(&out, 1024);
		assert_int_equal(imap_utf8_to_utf7(bad[i], strlen(bad[i]), &out, &err), -1);
		assert_string_equal(err, "Mailbox name is not UTF-8");
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}
	{
		struct buf out;
		const char *err = NULL;

		buf_init(&out, 1024);
		assert_int_equal(imap_utf8_to_utf7("a\0b", 3, &out, &err), -1);
		assert_string_equal(err, "NUL in mailbox name");
		buf_free(&out);
	}
}

static void test_output_cap_is_an_error(void **state)
{
	struct buf out;
	const char *err = NULL;
	(void)state;

	buf_init(&out, 4);
	assert_int_equal(imap_utf8_to_utf7("\xc3\xa4\xc3\xb6", 4, &out, &err), -1);
	assert_string_equal(err, "Mailbox name too long");
	assert_int_equal(out.len, 0);
	assert_int_equal(imap_utf7_to_utf8("abcdef", 6, &out, &err), -1);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trips),
		cmocka_unit_test(test_non_canonical_and_broken_utf7_refused),
		cmocka_unit_test(test_bad_utf8_refused_by_encoder),
		cmocka_unit_test(test_output_cap_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
