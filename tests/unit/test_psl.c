/* Unit tests for common/psl.c: the list format (comments, white space,
 * invalid rules skipped, limits), the Organizational Domain by rules,
 * wildcards and exceptions (the examples of publicsuffix.org's test
 * list), the fallback without a list, and the real list of Debian's
 * publicsuffix package when it is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "psl.h"

static const char list[] =
	"// a comment\n"
	"\n"
	"com\n"
	"uk\r\n"
	"co.uk\n"
	"  jp\n"
	"kyoto.jp    trailing words are ignored\n"
	"*.kobe.jp\n"
	"!city.kobe.jp\n"
	"*.ck\n"
	"!www.ck\n"
	"// ===BEGIN PRIVATE DOMAINS===\n"
	"github.io\n"
	"CO.UK\n"
	"\xe5\x80\x8b\xe4\xba\xba.hk\n"
	"hk";

static struct psl *parse(const char *p)
{
	struct psl *psl;
	const char *err = NULL;

	assert_int_equal(psl_parse(p, strlen(p), &psl, &err), 0);
	return psl;
}

static void assert_org(const struct psl *psl, const char *domain, const char *org)
{
	const char *got = psl_org_domain(psl, domain);

	assert_true(got >= domain && got < domain + strlen(domain) + 1);
	assert_string_equal(got, org);
}

static void test_rules_and_comments(void **state)
{
	struct psl *psl = parse(list);

	(void)state;
	/* com uk co.uk jp kyoto.jp kobe.jp city.kobe.jp ck www.ck github.io U-label.hk hk */
	assert_int_equal(psl_rules(psl), 12);
	assert_int_equal(psl_skipped(psl), 0);
	assert_org(psl, "example.com", "example.com");
	assert_org(psl, "a.b.example.com", "example.com");
	assert_org(psl, "com", "com");
	assert_org(psl, "mail.example.co.uk", "example.co.uk");
	assert_org(psl, "MAIL.Example.CO.UK", "Example.CO.UK");
	assert_org(psl, "co.uk", "co.uk");
	assert_org(psl, "x.kyoto.jp", "x.kyoto.jp");
	assert_org(psl, "a.x.kyoto.jp", "x.kyoto.jp");
	assert_org(psl, "user.github.io", "user.github.io");
	/* no rule: the implicit "*" */
	assert_org(psl, "a.b.example.test", "example.test");
	assert_org(psl, "test", "test");
	/* UTF-8 rules match UTF-8 names only */
	assert_org(psl, "a.b.\xe5\x80\x8b\xe4\xba\xba.hk", "b.\xe5\x80\x8b\xe4\xba\xba.hk");
	assert_org(psl, "a.b.xn--ciqpn.hk", "xn--ciqpn.hk");
	psl_free(&psl);
	assert_null(psl);
}

static void test_wildcards_and_exceptions(void **state)
{
	struct psl *psl = parse(list);

	(void)state;
	assert_org(psl, "c.kobe.jp", "c.kobe.jp");
	assert_org(psl, "b.c.kobe.jp", "b.c.kobe.jp");
	assert_org(psl, "a.b.c.kobe.jp", "b.c.kobe.jp");
	assert_org(psl, "city.kobe.jp", "city.kobe.jp");
	assert_org(psl, "www.city.kobe.jp", "city.kobe.jp");
	assert_org(psl, "kobe.jp", "kobe.jp");
	assert_org(psl, "ck", "ck");
	assert_org(psl, "test.ck", "test.ck");
	assert_org(psl, "b.test.ck", "b.test.ck");
	assert_org(psl, "a.b.test.ck", "b.test.ck");
	assert_org(psl, "www.ck", "www.ck");
	assert_org(psl, "www.www.ck", "www.ck");
	psl_free(&psl);
}

static void test_without_a_list_last_two_labels(void **state)
{
	(void)state;
	assert_org(NULL, "a.b.example.org", "example.org");
	assert_org(NULL, "mail.example.co.uk", "co.uk");
	assert_org(NULL, "org", "org");
	/* names with empty labels are left as they are */
	assert_org(NULL, "a..example.org", "a..example.org");
	assert_org(NULL, "example.org.", "example.org.");
	assert_org(NULL, ".org", ".org");
	assert_org(NULL, "", "");
}

static void test_invalid_rules_are_skipped(void **state)
{
	struct psl *psl = parse("a.*.b\n!single\n*\n!*.x\n..\nfoo..bar\n.lead\ntrail.\nsl/ash\n"
				"0123456789012345678901234567890123456789012345678901234567890123.x\nok\n");

	(void)state;
	assert_int_equal(psl_rules(psl), 1);
	assert_int_equal(psl_skipped(psl), 10);
	psl_free(&psl);
}

static void test_limits(void **state)
{
	size_t n = (size_t)PSL_RULES_MAX + 1, len = n * 3;
	char *big = malloc(len + 1), *ll;
	struct psl *psl = NULL;
	const char *err = NULL;

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		memcpy(big + i * 3, "ab\n", 3);
	big[len] = '\0';
	/* equal rules still count against the limit while they are read */
	assert_int_equal(psl_parse(big, len, &psl, &err), -1);
	assert_string_equal(err, "too many rules");
	assert_null(psl);
	assert_int_equal(psl_parse(big, (size_t)PSL_FILE_MAX + 1, &psl, &err), -1);
	assert_string_equal(err, "list too big");
	free(big);
	/* 128 labels: more than a name can have */
	ll = malloc(300);
	assert_non_null(ll);
	for (size_t i = 0; i < 128; i++)
		memcpy(ll + i * 2, "a.", 2);
	ll[255] = '\0';
	assert_org(NULL, ll, ll);
	ll[253] = '\0';   /* 127 labels */
	assert_org(NULL, ll, ll + 250);
	free(ll);
	/* an empty list is the implicit rule alone */
	psl = parse("");
	assert_int_equal(psl_rules(psl), 0);
	assert_org(psl, "a.example.org", "example.org");
	psl_free(&psl);
}

static void test_load(void **state)
{
	const char *real = "/usr/share/publicsuffix/public_suffix_list.dat", *err = NULL;
	struct psl *psl = NULL;

	(void)state;
	assert_int_equal(psl_load("/nonexistent/psl.dat", &psl, &err), -1);
	assert_null(psl);
	if (access(real, R_OK) != 0) {
		print_message("skipped: %s is not installed (Debian package publicsuffix)\n", real);
		return;
	}
	assert_int_equal(psl_load(real, &psl, &err), 0);
	assert_true(psl_rules(psl) > 5000);
	assert_org(psl, "mail.example.co.uk", "example.co.uk");
	assert_org(psl, "a.b.example.com", "example.com");
	assert_org(psl, "x.y.kawasaki.jp", "x.y.kawasaki.jp");
	assert_org(psl, "www.city.kawasaki.jp", "city.kawasaki.jp");
	psl_free(&psl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_and_comments),
		cmocka_unit_test(test_wildcards_and_exceptions),
		cmocka_unit_test(test_without_a_list_last_two_labels),
		cmocka_unit_test(test_invalid_rules_are_skipped),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_load),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
