/* Unit tests for common/mime_header.c: field iteration and lookup,
 * unfolding, charset conversion, RFC 2047 words (the examples of RFC
 * 2047 section 8), address lists as ENVELOPE wants them (answers as
 * Dovecot 2.3.19 gives them, unless marked), and dates. */
#include <iconv.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mime_header.h"

static void test_mime_header_iterate_fields(void **state)
{
	static const char hdr[] = "Subject: a\r\n b\nX-Empty:\nno colon line\nTo : x\n\nbody: no\n";
	struct mime_header_iter it;
	struct mime_field f;

	(void)state;
	mime_header_iter_init(&it, hdr, strlen(hdr));
	assert_int_equal(mime_header_next(&it, &f), 1);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.size, 15);
	assert_true(mime_field_is(&f.name, "subject", 7));
	assert_int_equal(f.value.len, 6);
	assert_memory_equal(f.value.p, " a\r\n b", 6);
	assert_int_equal(mime_header_next(&it, &f), 1);
	assert_true(mime_field_is(&f.name, "X-Empty", 7));
	assert_int_equal(f.value.len, 0);
	assert_int_equal(mime_header_next(&it, &f), 1);
	assert_int_equal(f.name.len, 0);       /* a line without ':' */
	assert_int_equal(mime_header_next(&it, &f), 1);
	assert_true(mime_field_is(&f.name, "To", 2));   /* white space before ':' */
	assert_int_equal(mime_header_next(&it, &f), 0);  /* the blank line ends it */
	assert_int_equal(mime_header_next(&it, &f), 0);
}

static void test_mime_header_find_first_of_each(void **state)
{
	static const char hdr[] = "From: a\nSubject: one\nsubject: two\nTO: t\n";
	static const char *const names[] = { "Subject", "To", "Cc" };
	struct mime_str v[3];

	(void)state;
	mime_header_find(hdr, strlen(hdr), names, 3, v);
	assert_int_equal(v[0].len, 4);
	assert_memory_equal(v[0].p, " one", 4);
	assert_memory_equal(v[1].p, " t", 2);
	assert_null(v[2].p);
}

static void test_mime_header_unfold(void **state)
{
	struct buf out;

	(void)state;
	buf_init(&out, 100);
	assert_int_equal(mime_unfold("  hello\r\n\tworld \r\n  again  ", 27, &out), 0);
	assert_string_equal(buf_cstr(&out), "hello\tworld   again");
	buf_reset(&out);
	assert_int_equal(mime_unfold(" \r\n ", 4, &out), 0);
	assert_string_equal(buf_cstr(&out), "");
	buf_free(&out);
}

static void test_mime_header_charsets(void **state)
{
	struct buf out;
	iconv_t cd;

	(void)state;
	buf_init(&out, 100);
	assert_int_equal(mime_charset_to_utf8("UTF-8", 5, "\xc3\xa9", 2, &out), 0);
	assert_int_equal(mime_charset_to_utf8("utf-8", 5, "\xc3", 1, &out), -1);
	assert_int_equal(mime_charset_to_utf8("ISO-8859-1", 10, "caf\xe9", 4, &out), 0);
	assert_int_equal(mime_charset_to_utf8("windows-1252", 12, "\x80 \x93q\x94", 5, &out), 0);
	assert_int_equal(mime_charset_to_utf8("cp1252", 6, "\x81", 1, &out), -1);   /* undefined */
	assert_int_equal(mime_charset_to_utf8("us-ascii", 8, "ok", 2, &out), 0);
	assert_int_equal(mime_charset_to_utf8("us-ascii", 8, "\xe9", 1, &out), -1);
	assert_int_equal(mime_charset_to_utf8("x-no-such-charset", 17, "a", 1, &out), -1);
	assert_int_equal(mime_charset_to_utf8("../../etc", 9, "a", 1, &out), -1);
	/* failures leave out as it was */
	assert_string_equal(buf_cstr(&out), "\xc3\xa9" "caf\xc3\xa9" "\xe2\x82\xac \xe2\x80\x9cq\xe2\x80\x9d" "ok");
	buf_reset(&out);
	/* through iconv when glibc's modules are there */
	if ((cd = iconv_open("UTF-8", "ISO-8859-2")) != (iconv_t)-1) {
		iconv_close(cd);
		assert_int_equal(mime_charset_to_utf8("ISO-8859-2", 10, "\xb1", 1, &out), 0);
		assert_string_equal(buf_cstr(&out), "\xc4\x85");   /* a with ogonek */
	}
	buf_free(&out);
}

struct words_case {
	const char *in, *out;
};

static const struct words_case words_cases[] = {
	/* RFC 2047 section 8 */
	{ "(=?ISO-8859-1?Q?a?=)", "(a)" },
	{ "(=?ISO-8859-1?Q?a?= b)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)" },
	{ "(=?ISO-8859-1?Q?a_b?=)", "(a b)" },
	{ "(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)" },
	{ "=?ISO-8859-1?Q?Andr=E9?= Pirard", "Andr\xc3\xa9 Pirard" },
	{ "=?US-ASCII*EN?Q?Keith_Moore?=", "Keith Moore" },    /* RFC 2231 5 language */
	/* a UTF-8 character split across two words survives */
	{ "=?utf-8?B?w6k=?= =?utf-8?q?=C3?= =?utf-8?q?=A9?=", "\xc3\xa9\xc3\xa9" },
	{ "=?utf-8?b?w7w=?=x", "\xc3\xbcx" },
	/* not words, or words that cannot be decoded: kept as written */
	{ "=?utf-8?x?abc?=", "=?utf-8?x?abc?=" },
	{ "=?x-unknown?q?abc?= =?x-unknown?q?d?=", "=?x-unknown?q?abc?= =?x-unknown?q?d?=" },
	{ "=?utf-8?q?=FF?=", "=?utf-8?q?=FF?=" },
	{ "=?utf-8?q?a b?=", "=?utf-8?q?a b?=" },
	{ "=?utf-8?q?unterminated", "=?utf-8?q?unterminated" },
	{ "plain  text ", "plain  text " },
	{ "a =?utf-8?q?b?= c", "a b c" },
	{ "", "" },
};

static void test_mime_header_decode_words(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(words_cases) / sizeof(words_cases[0]); i++) {
		struct buf out;
		buf_init(&out, 1000);
		assert_int_equal(mime_decode_words(words_cases[i].in, strlen(words_cases[i].in), &out), 0);
		if (strcmp(buf_cstr(&out), words_cases[i].out) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", words_cases[i].in, buf_cstr(&out), words_cases[i].out);
		buf_free(&out);
	}
}

struct address_case {
	const char *in, *out;
};

/* out: each address as (name adl mailbox host), NIL for nil. */
static const struct address_case address_cases[] = {
	{ "\"Doe, John\" <john@example.com>, plain@x.y (Comment Name)",
	  "(\"Doe, John\" NIL \"john\" \"example.com\")(\"Comment Name\" NIL \"plain\" \"x.y\")" },
	{ "undisclosed-recipients:;", "(NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)" },
	{ "Group: a@b.c, \"B\" <b@c.d>;, nodomain, <@route1,@route2:r@h.x>",
	  "(NIL NIL \"Group\" NIL)(NIL NIL \"a\" \"b.c\")(\"B\" NIL \"b\" \"c.d\")(NIL NIL NIL NIL)"
	  "(NIL NIL \"nodomain\" \"MISSING_DOMAIN\")(NIL \"@route1,@route2\" \"r\" \"h.x\")" },
	{ "=?utf-8?q?J=C3=B6rg?= <j@x>, John  Q.  Public <jqp@x>",
	  "(\"=?utf-8?q?J=C3=B6rg?=\" NIL \"j\" \"x\")(\"John Q. Public\" NIL \"jqp\" \"x\")" },
	{ "<>", "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")" },
	/* a domain literal folded across lines reads the same with LF and
	 * CRLF: the fold's line break dropped (fuzz_imap_fetch_render) */
	{ "tm@[192.0.2.1,\n x]", "(NIL NIL \"tm\" \"[192.0.2.1, x]\")" },
	{ "tm@[192.0.2.1,\r\n x]", "(NIL NIL \"tm\" \"[192.0.2.1, x]\")" },
	/* so does a quoted string with a backslash before the fold's line
	 * break (LF: "\\" LF; CRLF: "\\" CR, then LF) */
	{ "\"te\\\\xt\\\n y\"@x", "(NIL NIL \"te\\\\xt y\" \"x\")" },
	{ "\"te\\\\xt\\\r\n y\"@x", "(NIL NIL \"te\\\\xt y\" \"x\")" },
	{ "\"quoted \\\"x\\\" name\" <q@x>, (only comment) c@d, @, a@",
	  "(\"quoted \\\"x\\\" name\" NIL \"q\" \"x\")(NIL NIL \"c\" \"d\")"
	  "(NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"a\" \"MISSING_DOMAIN\")" },
	{ "a@b (c (nested) d) , g: ;, x@y",
	  "(\"c (nested) d\" NIL \"a\" \"b\")(NIL NIL \"g\" NIL)(NIL NIL NIL NIL)(NIL NIL \"x\" \"y\")" },
	{ "\"a b\"@c.d", "(NIL NIL \"a b\" \"c.d\")" },
	{ "Name <a@b> (comment), \"\" <x@y>", "(\"Name\" NIL \"a\" \"b\")(NIL NIL \"x\" \"y\")" },
	{ "g1: a@b, g2: c@d;", "(NIL NIL \"g1\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL \"g2\" \"MISSING_DOMAIN\")"
	  "(NIL NIL NIL NIL)" },
	{ "=?utf-8?q?x?= \"y\" z <a@b>", "(\"=?utf-8?q?x?= y z\" NIL \"a\" \"b\")" },
	/* ours (Dovecot gives up on these): CFWS inside an addr-spec, a
	 * missing '>', junk after an address skipped to the next ',' */
	{ "a . b @ c . d (x), <\"q\"@[1.2.3.4]>", "(\"x\" NIL \"a.b\" \"c.d\")(NIL NIL \"q\" \"[1.2.3.4]\")" },
	{ "A B <a@b", "(\"A B\" NIL \"a\" \"b\")" },
	{ "<a@b>junk, c@d", "(NIL NIL \"a\" \"b\")(NIL NIL \"c\" \"d\")" },
	{ "open group: a@b", "(NIL NIL \"open group\" NIL)(NIL NIL \"a\" \"b\")(NIL NIL NIL NIL)" },
	/* found by fuzz_mime: a route written with its ',' is longer than the field */
	{ "<@a@b@c@d@e@f@g@h@i@j:x@y>", "(NIL \"@a,@b,@c,@d,@e,@f,@g,@h,@i,@j\" \"x\" \"y\")" },
	{ "", "" },
	{ " , ,", "" },
};

static void nstr(struct buf *b, const struct mime_str *s)
{
	if (s->p == NULL) {
		assert_int_equal(buf_append_str(b, "NIL"), 0);
		return;
	}
	assert_int_equal(buf_putc(b, '"'), 0);
	for (size_t i = 0; i < s->len; i++) {
		if (s->p[i] == '"' || s->p[i] == '\\')
			assert_int_equal(buf_putc(b, '\\'), 0);
		assert_int_equal(buf_putc(b, s->p[i]), 0);
	}
	assert_int_equal(buf_putc(b, '"'), 0);
}

static void test_mime_header_address_lists(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(address_cases) / sizeof(address_cases[0]); i++) {
		struct mime_arena arena;
		struct mime_address_list list = { 0 };
		struct buf out;

		mime_arena_init(&arena);
		buf_init(&out, 10000);
		assert_int_equal(mime_address_list_parse(address_cases[i].in, strlen(address_cases[i].in),
							 &arena, &list), 0);
		for (size_t k = 0; k < list.n; k++) {
			assert_int_equal(buf_putc(&out, '('), 0);
			nstr(&out, &list.addrs[k].name);
			assert_int_equal(buf_putc(&out, ' '), 0);
			nstr(&out, &list.addrs[k].route);
			assert_int_equal(buf_putc(&out, ' '), 0);
			nstr(&out, &list.addrs[k].mailbox);
			assert_int_equal(buf_putc(&out, ' '), 0);
			nstr(&out, &list.addrs[k].host);
			assert_int_equal(buf_putc(&out, ')'), 0);
		}
		if (strcmp(buf_cstr(&out), address_cases[i].out) != 0)
			fail_msg("%s:\n got  %s\n want %s", address_cases[i].in, buf_cstr(&out), address_cases[i].out);
		buf_free(&out);
		mime_address_list_free(&list);
		mime_arena_free(&arena);
	}
}

static void test_mime_header_address_limit_and_append(void **state)
{
	struct mime_arena arena;
	struct mime_address_list list = { 0 };
	struct buf in;

	(void)state;
	mime_arena_init(&arena);
	buf_init(&in, 1 << 20);
	for (int i = 0; i < MIME_MAX_ADDRESSES + 5; i++)
		assert_int_equal(buf_printf(&in, "a%d@b,", i), 0);
	assert_int_equal(mime_address_list_parse(in.data, in.len, &arena, &list), 0);
	assert_int_equal(list.n, MIME_MAX_ADDRESSES);
	assert_true(list.truncated);
	mime_address_list_free(&list);
	/* a second field appends */
	assert_int_equal(mime_address_list_parse("a@b", 3, &arena, &list), 0);
	assert_int_equal(mime_address_list_parse("c@d", 3, &arena, &list), 0);
	assert_int_equal(list.n, 2);
	assert_string_equal(list.addrs[1].mailbox.p, "c");
	mime_address_list_free(&list);
	buf_free(&in);
	mime_arena_free(&arena);
}

struct date_case {
	const char *in;
	long long t;    /* -1: refused */
	int zone;
};

static const struct date_case date_cases[] = {
	{ "Mon, 1 Jan 2024 10:00:00 +0100", 1704099600, 60 },
	{ "1 Jan 2024 10:00:00 +0100 (CET)", 1704099600, 60 },
	{ "Tue, 02 Jan 2024 10:11:12 -0000", 1704190272, 0 },
	{ "Fri, 4 May 2001 14:05:44 -0400", 988999544, -240 },
	{ "Sun, 23 Sep 2001 20:14:35 -0700 (PDT)", 1001301275, -420 },
	{ " Wed , 03 Jan 2024 08:00 -0500", 1704286800, -300 },       /* no seconds, CFWS */
	{ "3 Jan 24 08:00:00 EST", 1704286800, -300 },                /* obsolete year and zone */
	{ "3 Jan 99 08:00:00 GMT", 915350400, 0 },
	{ "3 Jan 124 08:00:00 Z", 1704268800, 0 },                    /* three-digit year: 1900 + */
	{ "3 Jan 2024 08:00:00 X", 1704268800, 0 },                   /* military zone: -0000 */
	{ "3 Jan 2024 08:00:00", 1704268800, 0 },                     /* no zone */
	{ "29 Feb 2024 23:59:60 +0000", 1709251200, 0 },              /* leap second */
	{ "1 January 1970 00:00:00 +0000", 0, 0 },
	{ "1 Jan 1960 00:00:00 +0000", -315619200, 0 },
	{ "Mon, 1 Foo 2024 10:00:00 +0100", -1, 0 },
	{ "32 Jan 2024 10:00:00 +0100", -1, 0 },
	{ "1 Jan 2024 24:00:00 +0100", -1, 0 },
	{ "1 Jan 2024 10:00:00 +01", -1, 0 },
	{ "1 Jan 2024", -1, 0 },
	{ "", -1, 0 },
};

static void test_mime_header_dates(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]); i++) {
		time_t t = 0;
		int zone = 0, rc = mime_date_parse(date_cases[i].in, strlen(date_cases[i].in), &t, &zone);
		if (date_cases[i].t == -1 && date_cases[i].zone == 0 && rc != 0)
			continue;
		if (rc != 0 || (long long)t != date_cases[i].t || zone != date_cases[i].zone)
			fail_msg("%s: rc %d t %lld zone %d", date_cases[i].in, rc, (long long)t, zone);
	}
}

static void test_mime_header_overlong_word_kept(void **state)
{
	struct buf in, out;

	(void)state;
	buf_init(&in, 1000);
	buf_init(&out, 1000);
	assert_int_equal(buf_append_str(&in, "=?utf-8?q?"), 0);
	for (int i = 0; i < 300; i++)
		assert_int_equal(buf_putc(&in, 'a'), 0);
	assert_int_equal(buf_append_str(&in, "?="), 0);
	assert_int_equal(mime_decode_words(in.data, in.len, &out), 0);
	assert_string_equal(buf_cstr(&out), buf_cstr(&in));
	buf_free(&in);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mime_header_iterate_fields),
		cmocka_unit_test(test_mime_header_find_first_of_each),
		cmocka_unit_test(test_mime_header_unfold),
		cmocka_unit_test(test_mime_header_charsets),
		cmocka_unit_test(test_mime_header_decode_words),
		cmocka_unit_test(test_mime_header_overlong_word_kept),
		cmocka_unit_test(test_mime_header_address_lists),
		cmocka_unit_test(test_mime_header_address_limit_and_append),
		cmocka_unit_test(test_mime_header_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
