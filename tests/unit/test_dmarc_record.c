/* Unit tests for common/dmarc_record.c: which TXT records are DMARC
 * records (RFC 7489 6.6.3 step 2), the tags a receiver acts on and their
 * defaults (6.3), invalid values replaced by defaults, and a missing or
 * invalid p= with and without a valid rua= (6.6.3 step 6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc_record.h"

static enum dmarc_record_status parse(const char *txt, struct dmarc_record *r)
{
	return dmarc_record_parse(txt, strlen(txt), r);
}

static void test_version_must_come_first(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=none", &r), DMARC_RECORD_OK);
	assert_int_equal(parse("v = DMARC1 ;p=none", &r), DMARC_RECORD_OK);
	assert_int_equal(parse("V=DMARC1; p=none", &r), DMARC_RECORD_OK);
	assert_int_equal(parse("v=DMARC1", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("p=none; v=DMARC1", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse(" v=DMARC1; p=none", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("v=dmarc1; p=none", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("v=DMARC10; p=none", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("v=spf1 -all", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(parse("", &r), DMARC_RECORD_NOT_DMARC);
	assert_int_equal(dmarc_record_parse("v=DMARC1; p=reject", 8, &r), DMARC_RECORD_NO_POLICY);
}

static void test_defaults(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=quarantine", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	assert_int_equal(r.adkim, 'r');
	assert_int_equal(r.aspf, 'r');
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.rua, 0);
	assert_int_equal(r.bad, 0);
	assert_string_equal(dmarc_policy_str(r.p), "quarantine");
	assert_string_equal(dmarc_policy_str(DMARC_POLICY_UNSET), "");
}

static void test_every_tag(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; sp=none; np=quarantine; adkim=s; aspf=S; pct=20; "
			       "rua=mailto:d@example.org!10m, https://r.example.net/x; ruf=mailto:f@example.org; "
			       "fo=0:1:d:s; rf=afrf; ri=3600;", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.sp, DMARC_POLICY_NONE);
	assert_int_equal(r.np, DMARC_POLICY_QUARANTINE);
	assert_int_equal(r.adkim, 's');
	assert_int_equal(r.aspf, 's');
	assert_int_equal(r.pct, 20);
	assert_int_equal(r.ri, 3600);
	assert_int_equal(r.rua, 2);
	assert_int_equal(r.ruf, 1);
	assert_int_equal(r.bad, 0);
	/* any order after v=, any case, white space around everything */
	assert_int_equal(parse("v=DMARC1;\tpct = 0 ;  P = Reject ;", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.pct, 0);
}

static void test_invalid_values_take_defaults(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=reject; adkim=x; aspf=; pct=101; ri=-1; fo=2; rf=a b; "
			       "ruf=nourl; np=maybe", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.adkim, 'r');
	assert_int_equal(r.aspf, 'r');
	assert_int_equal(r.pct, 100);
	assert_int_equal(r.ri, 86400);
	assert_int_equal(r.np, DMARC_POLICY_UNSET);
	assert_int_equal(r.bad, DMARC_BAD_ADKIM | DMARC_BAD_ASPF | DMARC_BAD_PCT | DMARC_BAD_RI |
			 DMARC_BAD_FO | DMARC_BAD_RF | DMARC_BAD_RUF | DMARC_BAD_NP);
	assert_int_equal(parse("v=DMARC1; p=none; pct=0100", &r), DMARC_RECORD_OK);
	assert_int_equal(r.bad, DMARC_BAD_PCT);
	assert_int_equal(parse("v=DMARC1; p=none; ri=99999999999", &r), DMARC_RECORD_OK);
	assert_int_equal(r.bad, DMARC_BAD_RI);
}

static void test_unknown_duplicate_and_malformed_entries_are_ignored(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; x-new=1; p=reject; p=none; junk; =5; 9x=1", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_REJECT);
	assert_int_equal(r.bad, 0);
}

static void test_missing_or_invalid_policy(void **state)
{
	struct dmarc_record r;

	(void)state;
	assert_int_equal(parse("v=DMARC1; p=bogus", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; sp=reject", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=hard", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=reject; rua=bad uri", &r), DMARC_RECORD_OK);
	assert_int_equal(r.bad, DMARC_BAD_RUA);
	/* 6.6.3 step 6: a valid rua= turns the record into p=none */
	assert_int_equal(parse("v=DMARC1; p=bogus; rua=mailto:a@example.org", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.bad, DMARC_BAD_P);
	assert_int_equal(parse("v=DMARC1; p=reject; sp=x; rua=mailto:a@example.org", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	assert_int_equal(r.sp, DMARC_POLICY_UNSET);
	assert_int_equal(parse("v=DMARC1; rua=mailto:a@example.org", &r), DMARC_RECORD_OK);
	assert_int_equal(r.p, DMARC_POLICY_NONE);
	/* a rua= with an invalid URI is no rua= */
	assert_int_equal(parse("v=DMARC1; p=x; rua=mailto:a@example.org,:nothing", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=x; rua=mailto:a@example.org!", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=x; rua=mailto:a@example.org!5x", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=x; rua=mailto:", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=x; rua=1a:b", &r), DMARC_RECORD_NO_POLICY);
	assert_int_equal(parse("v=DMARC1; p=x; rua=mailto:a@example.org!20K", &r), DMARC_RECORD_OK);
}

static void test_bytes_and_limits(void **state)
{
	static char big[DMARC_RECORD_MAX + 64];
	struct dmarc_record r;
	const char nul[] = "v=DMARC1; p=re\0ject";
	size_t n;

	(void)state;
	assert_int_equal(dmarc_record_parse(nul, sizeof(nul) - 1, &r), DMARC_RECORD_NO_POLICY);
	memcpy(big, "v=DMARC1; p=reject; ", 20);
	memset(big + 20, 'x', sizeof(big) - 21);
	assert_int_equal(dmarc_record_parse(big, sizeof(big) - 1, &r), DMARC_RECORD_NO_POLICY);
	/* tags past DMARC_RECORD_TAGS_MAX are not read */
	n = 0;
	n += (size_t)snprintf(big + n, sizeof(big) - n, "v=DMARC1");
	for (int i = 0; i < DMARC_RECORD_TAGS_MAX; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "; x%d=1", i);
	snprintf(big + n, sizeof(big) - n, "; p=reject");
	assert_int_equal(parse(big, &r), DMARC_RECORD_NO_POLICY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version_must_come_first),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_tag),
		cmocka_unit_test(test_invalid_values_take_defaults),
		cmocka_unit_test(test_unknown_duplicate_and_malformed_entries_are_ignored),
		cmocka_unit_test(test_missing_or_invalid_policy),
		cmocka_unit_test(test_bytes_and_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
