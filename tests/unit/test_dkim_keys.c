/* Unit tests for common/dkim_keys.c: the map as keygen writes it, with
 * comments; bad lines named by number; one key per domain and
 * algorithm; parent-domain fallback that stops short of a bare TLD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dkim_keys.h"

static const char map[] =
	"# DKIM signing keys\n"
	"Example.ORG s2026 rsa example.org.s2026.rsa.pem\n"
	"\n"
	"   # indented comment\n"
	"example.org e2026 ed25519 example.org.e2026.ed25519.pem\n"
	"mail.other.test\tsel\trsa\tother.pem\r\n";

static void test_dkim_keys_parse_and_find(void **state)
{
	struct dkim_key_entry *e;
	size_t n, line, idx[2];
	const char *why;

	(void)state;
	assert_int_equal(dkim_keys_parse(map, sizeof(map) - 1, 10, &e, &n, &line, &why), 0);
	assert_int_equal(n, 3);
	assert_string_equal(e[0].domain, "example.org");
	assert_string_equal(e[0].selector, "s2026");
	assert_int_equal(e[0].alg, DKIM_ALG_RSA_SHA256);
	assert_string_equal(e[1].file, "example.org.e2026.ed25519.pem");
	assert_int_equal(e[1].alg, DKIM_ALG_ED25519_SHA256);
	assert_string_equal(e[2].file, "other.pem");
	assert_int_equal(dkim_keys_find(e, n, "EXAMPLE.org", idx), 2);
	assert_int_equal(idx[0], 0);
	assert_int_equal(idx[1], 1);
	assert_int_equal(dkim_keys_find(e, n, "a.b.example.org", idx), 2);
	assert_int_equal(dkim_keys_find(e, n, "mail.other.test", idx), 1);
	assert_int_equal(idx[0], 2);
	assert_int_equal(dkim_keys_find(e, n, "other.test", idx), 0);   /* a parent, never a child */
	assert_int_equal(dkim_keys_find(e, n, "org", idx), 0);
	assert_int_equal(dkim_keys_find(e, n, "", idx), 0);
	free(e);
}

static void bad(const char *text, size_t limit, size_t want_line, const char *want)
{
	struct dkim_key_entry *e;
	size_t n, line;
	const char *why;

	assert_int_equal(dkim_keys_parse(text, strlen(text), limit, &e, &n, &line, &why), -1);
	assert_null(e);
	assert_int_equal(line, want_line);
	assert_non_null(strstr(why, want));
}

static void test_dkim_keys_bad_lines(void **state)
{
	(void)state;
	bad("a.org s rsa f\nb.org s rsa\n", 10, 2, "expected");
	bad("a.org s rsa f x\n", 10, 1, "expected");
	bad("a..org s rsa f\n", 10, 1, "bad domain");
	bad("a.org s! rsa f\n", 10, 1, "bad selector");
	bad("a.org s dsa f\n", 10, 1, "algorithm");
	bad("a.org s rsa ../etc/shadow\n", 10, 1, "file");
	bad("a.org s rsa .hidden\n", 10, 1, "file");
	bad("a.org s rsa f\na.org t rsa g\n", 10, 2, "algorithm for the domain");
	bad("a.org s rsa f\nA.org s ed25519 g\n", 10, 2, "selector for the domain");
	bad("a.org s rsa f\nb.org s rsa f\n", 1, 2, "dkim_key_limit");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_keys_parse_and_find),
		cmocka_unit_test(test_dkim_keys_bad_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
