/* Unit tests for common/address.c: RFC 5321 paths and mailboxes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "address.h"

struct path_case {
	const char *in;
	int allow_empty, utf8;
	const char *addr;        /* expected mailbox, NULL = rejected */
	size_t consumed;
};

static const struct path_case path_cases[] = {
	{ "<a@example.test>", 0, 0, "a@example.test", 16 },
	{ "<a@example.test> SIZE=100", 0, 0, "a@example.test", 16 },
	{ " <a@b.c>", 0, 0, "a@b.c", 8 },
	{ "<>", 1, 0, "", 2 },
	{ "<> SIZE=5", 1, 0, "", 2 },
	{ "<>", 0, 0, NULL, 0 },
	{ "<@relay.test,@r2.test:user@example.test>", 0, 0, "user@example.test", 40 },
	{ "<@relay.test:user@example.test>", 0, 0, "user@example.test", 31 },
	{ "<\"john doe\"@example.test>", 0, 0, "\"john doe\"@example.test", 25 },
	{ "<\"a\\\"b@c\"@example.test>", 0, 0, "\"a\\\"b@c\"@example.test", 23 },
	{ "<first.last+tag@sub.example.test>", 0, 0, "first.last+tag@sub.example.test", 33 },
	{ "<u@[192.0.2.1]>", 0, 0, "u@[192.0.2.1]", 15 },
	{ "<u@[IPv6:2001:db8::1]>", 0, 0, "u@[IPv6:2001:db8::1]", 22 },
	{ "<u@[ipv6:::1]>", 0, 0, "u@[ipv6:::1]", 14 },
	{ "<u@[x-tag:anything]>", 0, 0, "u@[x-tag:anything]", 20 },
	{ "<u@[IPv6:2001:db8::g]>", 0, 0, NULL, 0 },
	{ "<u@[192.0.2.256]>", 0, 0, NULL, 0 },
	{ "<u@[192.0.2]>", 0, 0, NULL, 0 },
	{ "<u@[192.0.2.1>", 0, 0, NULL, 0 },
	{ "a@example.test", 0, 0, NULL, 0 },
	{ "<a@example.test", 0, 0, NULL, 0 },
	{ "<a@example.test.>", 0, 0, NULL, 0 },
	{ "<a@-example.test>", 0, 0, NULL, 0 },
	{ "<a@example-.test>", 0, 0, NULL, 0 },
	{ "<a@exa_mple.test>", 0, 0, NULL, 0 },
	{ "<a@ex..test>", 0, 0, NULL, 0 },
	{ "<a@>", 0, 0, NULL, 0 },
	{ "<@example.test>", 0, 0, NULL, 0 },
	{ "<.a@example.test>", 0, 0, NULL, 0 },
	{ "<a.@example.test>", 0, 0, NULL, 0 },
	{ "<a..b@example.test>", 0, 0, NULL, 0 },
	{ "<a b@example.test>", 0, 0, NULL, 0 },
	{ "<a@b@example.test>", 0, 0, NULL, 0 },
	{ "<\"unterminated@example.test>", 0, 0, NULL, 0 },
	{ "<\"bad\x01\"@example.test>", 0, 0, NULL, 0 },
	{ "<@relay.test user@example.test>", 0, 0, NULL, 0 },
	{ "<user>", 0, 0, NULL, 0 },
	{ "", 0, 0, NULL, 0 },
	{ "<", 0, 0, NULL, 0 },
	{ "<j\xc3\xb6rg@b\xc3\xbc" "cher.test>", 0, 1, "j\xc3\xb6rg@b\xc3\xbc" "cher.test", 20 },
	{ "<j\xc3\xb6rg@example.test>", 0, 0, NULL, 0 },
	{ "<j\xc3@example.test>", 0, 1, NULL, 0 },            /* truncated sequence */
	{ "<j\xc0\xb6@example.test>", 0, 1, NULL, 0 },        /* overlong */
	{ "<j\xed\xa0\x80@example.test>", 0, 1, NULL, 0 },    /* surrogate */
	{ "<j\xf4\x90\x80\x80@example.test>", 0, 1, NULL, 0 },/* > U+10FFFF */
};

static void test_address_path_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct buf addr;
		size_t used = 0;
		const char *error = NULL;
		int r;

		buf_init(&addr, 512);
		r = address_parse_path(c->in, strlen(c->in), c->allow_empty, c->utf8, &addr, &used, &error);
		if (c->addr == NULL) {
			if (r != -1)
				fail_msg("case %zu (%s) accepted", i, c->in);
			assert_non_null(error);
		} else {
			if (r != 0)
				fail_msg("case %zu (%s) rejected: %s", i, c->in, error);
			assert_string_equal(buf_cstr(&addr), c->addr);
			assert_int_equal(used, c->consumed);
		}
		buf_free(&addr);
	}
}

static void test_address_local_part_length(void **state)
{
	char local[70], in[200];
	const char *error;
	struct buf addr;
	size_t used;

	(void)state;
	buf_init(&addr, 512);
	memset(local, 'l', 64);
	local[64] = '\0';
	snprintf(in, sizeof(in), "<%s@example.test>", local);
	assert_int_equal(address_parse_path(in, strlen(in), 0, 0, &addr, &used, &error), 0);
	local[64] = 'l';
	local[65] = '\0';
	snprintf(in, sizeof(in), "<%s@example.test>", local);
	assert_int_equal(address_parse_path(in, strlen(in), 0, 0, &addr, &used, &error), -1);
	assert_string_equal(error, "local part longer than 64 octets");
	buf_free(&addr);
}

static void test_address_domain_and_path_length(void **state)
{
	char in[400], label[64];
	const char *error;
	struct buf addr;
	size_t used;
	int n;

	(void)state;
	buf_init(&addr, 512);
	memset(label, 'd', 63);
	label[63] = '\0';
	/* 4 labels of 63 + 3 dots = 255: the domain alone fits, but with
	 * "<a@" and ">" the path is 259 > 256. */
	n = snprintf(in, sizeof(in), "<a@%s.%s.%s.%s>", label, label, label, label);
	assert_int_equal(address_parse_path(in, (size_t)n, 0, 0, &addr, &used, &error), -1);
	assert_string_equal(error, "path longer than 256 octets");
	/* A 64-octet label is refused. */
	n = snprintf(in, sizeof(in), "<a@%sd.test>", label);
	assert_int_equal(address_parse_path(in, (size_t)n, 0, 0, &addr, &used, &error), -1);
	/* A path of exactly 256 octets is accepted. */
	n = snprintf(in, sizeof(in), "<a@%s.%s.%s.%.60s>", label, label, label, label);
	assert_int_equal(n, 256);
	assert_int_equal(address_parse_path(in, (size_t)n, 0, 0, &addr, &used, &error), 0);
	buf_free(&addr);
}

static void test_address_never_reads_past_length(void **state)
{
	const char *in = "<a@example.test>";
	const char *error;
	struct buf addr;
	size_t used;

	(void)state;
	buf_init(&addr, 512);
	/* Cut before the '>': must fail although the byte is in memory. */
	assert_int_equal(address_parse_path(in, strlen(in) - 1, 0, 0, &addr, &used, &error), -1);
	/* "a@b." (trailing dot) and "a@b" as seen through the length. */
	assert_int_equal(address_validate("a@b.c", 4, 0, &error), -1);
	assert_int_equal(address_validate("a@b.c", 3, 0, &error), 0);
	buf_free(&addr);
}

static void test_address_validate(void **state)
{
	const char *error;

	(void)state;
	assert_int_equal(address_validate("a@example.test", 14, 0, &error), 0);
	assert_int_equal(address_validate("\"x y\"@[10.0.0.1]", 16, 0, &error), 0);
	assert_int_equal(address_validate("<a@example.test>", 16, 0, &error), -1);
	assert_int_equal(address_validate("a@example.test ", 15, 0, &error), -1);
	assert_int_equal(address_validate("", 0, 0, &error), -1);
	assert_int_equal(address_validate("postmaster", 10, 0, &error), -1);
}

static void test_address_at_and_normalize(void **state)
{
	struct buf out;

	(void)state;
	assert_int_equal(address_at("a@b", 3), 1);
	assert_int_equal(address_at("\"x@y\"@b", 7), 5);
	assert_int_equal(address_at("\"x\\\"@y\"@b", 9), 7);
	assert_int_equal(address_at("nobody", 6), -1);
	assert_int_equal(address_at("\"a@b\"", 5), -1);
	buf_init(&out, 300);
	assert_int_equal(address_normalize("John.Doe@Example.TEST", 21, &out), 0);
	assert_string_equal(buf_cstr(&out), "John.Doe@example.test");
	assert_int_equal(address_normalize("\"A@B\"@X.Y", 9, &out), 0);
	assert_string_equal(buf_cstr(&out), "\"A@B\"@x.y");
	assert_int_equal(address_normalize("NoAt", 4, &out), 0);
	assert_string_equal(buf_cstr(&out), "NoAt");
	buf_free(&out);
}

/* Issue 9 item 8: the canonical form recipients are compared in. */
static void test_address_normalize_canonical(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "\"bob\"@Example.TEST", "bob@example.test" },
		{ "\"b\\o\\b\"@example.test", "bob@example.test" },        /* quoted pairs */
		{ "\"john.doe\"@x.y", "john.doe@x.y" },
		{ "\"bob+tag\"@x.y", "bob+tag@x.y" },
		{ "\"Bob\"@x.y", "Bob@x.y" },                              /* case kept */
		{ "\"bob smith\"@x.y", "\"bob smith\"@x.y" },              /* not a dot-string */
		{ "\"bob\\ smith\"@x.y", "\"bob smith\"@x.y" },            /* needless escape dropped */
		{ "\"a\\\"b\"@x.y", "\"a\\\"b\"@x.y" },                    /* needed escape kept */
		{ "\"a\\\\b\"@x.y", "\"a\\\\b\"@x.y" },
		{ "\".bob\"@x.y", "\".bob\"@x.y" },
		{ "\"bob.\"@x.y", "\"bob.\"@x.y" },
		{ "\"b..b\"@x.y", "\"b..b\"@x.y" },
		{ "\"\"@x.y", "\"\"@x.y" },
		{ "\"\xc3\xa9\"@x.y", "\xc3\xa9@x.y" },                    /* SMTPUTF8 atext */
		{ "bob@[IPv6:::1]", "bob@[ipv6:::1]" },
		{ "\"a\"\"b\"@x.y", "\"a\"\"b\"@x.y" },                    /* not one quoted string */
	};
	struct buf out;

	(void)state;
	buf_init(&out, 300);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(address_normalize(cases[i].in, strlen(cases[i].in), &out), 0);
		assert_string_equal(buf_cstr(&out), cases[i].out);
		assert_true(out.len <= strlen(cases[i].in));
	}
	buf_free(&out);
}

/* The source route never reaches the canonical form: every path form
 * of one mailbox normalises to the same bytes. */
static void test_address_path_variants_same_canonical(void **state)
{
	static const char *const paths[] = {
		"<bob@example.test>", "<bob@EXAMPLE.TEST>", "<@x.test:bob@example.test>",
		"<@x.test,@y.test:bob@Example.Test>", "<\"bob\"@example.test>", " <\"\\bob\"@example.test>",
	};
	struct buf addr, norm;
	const char *err;
	size_t used;

	(void)state;
	buf_init(&addr, ADDRESS_PATH_MAX);
	buf_init(&norm, ADDRESS_PATH_MAX);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		assert_int_equal(address_parse_path(paths[i], strlen(paths[i]), 0, 0, &addr, &used, &err), 0);
		assert_int_equal(address_normalize(addr.data, addr.len, &norm), 0);
		assert_string_equal(buf_cstr(&norm), "bob@example.test");
	}
	buf_free(&addr);
	buf_free(&norm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_path_table),
		cmocka_unit_test(test_address_local_part_length),
		cmocka_unit_test(test_address_domain_and_path_length),
		cmocka_unit_test(test_address_never_reads_past_length),
		cmocka_unit_test(test_address_validate),
		cmocka_unit_test(test_address_at_and_normalize),
		cmocka_unit_test(test_address_normalize_canonical),
		cmocka_unit_test(test_address_path_variants_same_canonical),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
