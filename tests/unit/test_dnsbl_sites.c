/* Unit tests for common/dnsbl_sites.c: the smtpd_dnsbl_sites syntax
 * (zones, filters with ranges, weights), its refusals, the query names
 * of IPv4 and IPv6 clients (RFC 5782 2.1, 2.4) and the filter match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "dnsbl_sites.h"

static size_t parse(const char *v, struct dnsbl_site *s, const char **err)
{
	size_t n = 99;

	*err = NULL;
	if (dnsbl_sites_parse(v, strlen(v), s, &n, err) < 0)
		return 99;
	return n;
}

static void test_list(void **state)
{
	struct dnsbl_site s[DNSBL_SITES_MAX];
	const char *err;
	unsigned char a2[4] = { 127, 0, 0, 2 }, a12[4] = { 127, 0, 0, 12 };

	(void)state;
	assert_int_equal(parse("zen.example=127.0.0.[2..11]*3, allow.example*-2  plain.example", s, &err), 3);
	assert_string_equal(s[0].zone, "zen.example");
	assert_int_equal(s[0].weight, 3);
	assert_true(s[0].filtered);
	assert_true(dnsbl_site_match(&s[0], a2));
	assert_false(dnsbl_site_match(&s[0], a12));
	assert_int_equal(s[1].weight, -2);
	assert_false(s[1].filtered);
	assert_true(dnsbl_site_match(&s[1], a12));
	assert_int_equal(s[2].weight, 1);
	assert_int_equal(parse("", s, &err), 0);
	assert_int_equal(parse(" , ", s, &err), 0);
}

static void test_refusals(void **state)
{
	struct dnsbl_site s[DNSBL_SITES_MAX];
	const char *err;
	const char *bad[] = {
		"zone*", "zone*x", "zone*1001", "zone*--1", "zone=", "zone=127.0.0", "zone=127.0.0.256",
		"zone=127.0.0.[5..2]", "zone=127.0.0.[1..2", "zone=127.0.0.1.1", ".zone", "zone.",
		"zo..ne", "zo ne*x", "=127.0.0.2", "*2", "zo/ne",
		"a b c d e f g h i j k l m n o p q",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], s, &err), 99);
		assert_non_null(err);
	}
}

static void test_query_names(void **state)
{
	char name[300];

	(void)state;
	assert_int_equal(dnsbl_query_name("192.0.2.99", "bl.example", name, sizeof(name)), 0);
	assert_string_equal(name, "99.2.0.192.bl.example");
	assert_int_equal(dnsbl_query_name("2001:db8:1:2:3:4:567:89ab", "bl.example", name, sizeof(name)), 0);
	assert_string_equal(name, "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.bl.example");
	assert_int_equal(dnsbl_query_name("stdin", "bl.example", name, sizeof(name)), -1);
	assert_int_equal(dnsbl_query_name("192.0.2.99", "bl.example", name, 12), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_query_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
