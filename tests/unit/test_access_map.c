/* Unit tests for common/access_map.c: the key series of addresses, host
 * names and envelope addresses, the access actions a map may hold, and
 * lookups in a compiled map (first key wins, DUNNO stops the walk, a bad
 * value is an error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "access_map.h"
#include "tmpdir_fixture.h"

struct keys {
	char all[2048];
};

static int collect(void *arg, const char *key, size_t len)
{
	struct keys *k = arg;
	size_t n = strlen(k->all);

	assert_int_equal(strlen(key), len);
	snprintf(k->all + n, sizeof(k->all) - n, "%s%s", n ? " " : "", key);
	return 0;
}

static void expect_keys(enum access_kind kind, const char *item, const char *want)
{
	struct keys k = { "" };

	assert_int_equal(access_keys(kind, item, strlen(item), collect, &k), 0);
	assert_string_equal(k.all, want);
}

static void test_address_keys(void **state)
{
	(void)state;
	expect_keys(ACCESS_ADDRESS, "192.0.2.7", "192.0.2.7 192.0.2 192.0 192");
	expect_keys(ACCESS_ADDRESS, "2001:db8::1",
		    "2001:db8::1 2001:db8:0:0:0:0:0:1 2001:db8:0:0:0:0:0 2001:db8:0:0:0:0 "
		    "2001:db8:0:0:0 2001:db8:0:0 2001:db8:0 2001:db8 2001");
	expect_keys(ACCESS_ADDRESS, "", "");
	expect_keys(ACCESS_ADDRESS, "::zz", "::zz");   /* not an address: only as is */
}

static void test_domain_keys(void **state)
{
	(void)state;
	expect_keys(ACCESS_DOMAIN, "mx.example.com", "mx.example.com example.com com");
	expect_keys(ACCESS_DOMAIN, "example.com.", "example.com com");
	expect_keys(ACCESS_DOMAIN, "[192.0.2.1]", "[192.0.2.1]");
	expect_keys(ACCESS_DOMAIN, "unknown", "unknown");
	expect_keys(ACCESS_DOMAIN, "", "");
}

static void test_email_keys(void **state)
{
	(void)state;
	expect_keys(ACCESS_EMAIL, "bob@mail.example.org",
		    "bob@mail.example.org mail.example.org example.org org bob@");
	expect_keys(ACCESS_EMAIL, "", "<>");
	expect_keys(ACCESS_EMAIL, "postmaster", "postmaster");
	expect_keys(ACCESS_EMAIL, "\"a@b\"@example.org", "\"a@b\"@example.org example.org org \"a@b\"@");
}

static int stop_at_second(void *arg, const char *key, size_t len)
{
	int *n = arg;

	(void)key;
	(void)len;
	return ++*n == 2 ? 7 : 0;
}

static void test_walk_stops_and_bounds(void **state)
{
	char big[ACCESS_ITEM_MAX + 2];
	int n = 0;

	(void)state;
	assert_int_equal(access_keys(ACCESS_ADDRESS, "10.1.2.3", 8, stop_at_second, &n), 7);
	assert_int_equal(n, 2);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = 0;
	assert_int_equal(access_keys(ACCESS_DOMAIN, big, strlen(big), stop_at_second, &n), 0);
	assert_int_equal(n, 0);   /* over the cap: no key at all */
	assert_int_equal(access_keys(ACCESS_EMAIL, "a\0b", 3, stop_at_second, &n), 0);
	assert_int_equal(n, 0);
}

static void test_actions(void **state)
{
	struct policy_action a;

	(void)state;
	assert_int_equal(access_action_parse("REJECT go away", 14, &a), 0);
	assert_int_equal(a.verdict, POLICY_REJECT);
	assert_int_equal(a.code, 554);
	assert_string_equal(a.text, "go away");
	assert_int_equal(access_action_parse("DEFER", 5, &a), 0);
	assert_int_equal(a.code, 450);
	assert_int_equal(access_action_parse("521 5.7.2 closed", 16, &a), 0);
	assert_int_equal(a.code, 521);
	assert_string_equal(a.dsn, "5.7.2");
	assert_int_equal(access_action_parse("HOLD", 4, &a), 0);
	assert_int_equal(access_action_parse("discard", 7, &a), 0);
	assert_int_equal(a.verdict, POLICY_DISCARD);
	assert_int_equal(access_action_parse("OK", 2, &a), 0);
	assert_int_equal(access_action_parse("DUNNO", 5, &a), 0);
	assert_int_equal(access_action_parse("PREPEND X-A: b", 14, &a), -1);
	assert_int_equal(access_action_parse("DEFER_IF_PERMIT x", 17, &a), -1);
	assert_int_equal(access_action_parse("REDIRECT a@b", 12, &a), -1);
	assert_int_equal(access_action_parse("OK but", 6, &a), -1);
	assert_null(access_value_check("REJECT", 6));
	assert_non_null(access_value_check("FILTER smtp:x", 13));
}

static char dir[64];

static struct cdbmap *compile(const char *text)
{
	char src[128], dst[128];
	const char *err = "";
	struct cdbmap *m = NULL;
	FILE *f;

	snprintf(src, sizeof(src), "%s/access", dir);
	snprintf(dst, sizeof(dst), "%s/access.cdb", dir);
	f = fopen(src, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(cdbmap_compile(src, dst, &err), 0);
	assert_int_equal(cdbmap_open(dst, &m, &err), 0);
	return m;
}

static void test_find_in_map(void **state)
{
	struct cdbmap *m;
	struct policy_action a;
	char key[64];
	const char *err = "";

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_access_map_XXXXXX");
	assert_non_null(mkdtemp(dir));
	m = compile("example.com REJECT domain\nboss@example.com OK\n"
		    "10.1 DEFER net\n10.1.2.3 DUNNO\nbad.example FILTER x\n");
	assert_int_equal(access_map_find(m, ACCESS_EMAIL, "Joe@Mail.Example.COM", &a, key, sizeof(key), &err), 1);
	assert_int_equal(a.verdict, POLICY_REJECT);
	assert_string_equal(key, "Example.COM");   /* as given; the map folds it */
	assert_int_equal(access_map_find(m, ACCESS_EMAIL, "boss@example.com", &a, key, sizeof(key), &err), 1);
	assert_int_equal(a.verdict, POLICY_OK);
	assert_int_equal(access_map_find(m, ACCESS_ADDRESS, "10.1.9.9", &a, key, sizeof(key), &err), 1);
	assert_int_equal(a.verdict, POLICY_DEFER);
	assert_string_equal(key, "10.1");
	/* DUNNO: not found, and the shorter 10.1 is not tried. */
	assert_int_equal(access_map_find(m, ACCESS_ADDRESS, "10.1.2.3", &a, key, sizeof(key), &err), 0);
	assert_int_equal(access_map_find(m, ACCESS_ADDRESS, "192.0.2.1", &a, key, sizeof(key), &err), 0);
	assert_int_equal(access_map_find(m, ACCESS_DOMAIN, "mx.bad.example", &a, key, sizeof(key), &err), -1);
	assert_string_equal(err, "bad access action in map");
	cdbmap_close(&m);
	assert_int_equal(tmpdir_remove(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_address_keys),
		cmocka_unit_test(test_domain_keys),
		cmocka_unit_test(test_email_keys),
		cmocka_unit_test(test_walk_stops_and_bounds),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_find_in_map),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
