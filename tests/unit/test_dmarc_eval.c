/* Unit tests for common/dmarc_eval.c and common/dmarc_from.c: the From
 * domain of a header section (RFC 7489 6.6.1), policy discovery with
 * the Organizational Domain fallback and sp= (6.6.3), strict and relaxed
 * alignment of SPF and DKIM (3.1), temperror, and pct sampling (6.6.4);
 * DNS answers come from a table in memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "dmarc_eval.h"

struct zone_rec {
	const char *name;
	const char *txt;      /* NULL: the answer is tempfail */
};

static const struct zone_rec zone[] = {
	{ "_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine" },
	{ "_dmarc.example.org", "v=spf1 -all" },               /* not DMARC: discarded */
	{ "_dmarc.strict.test", "v=DMARC1; p=reject; adkim=s; aspf=s" },
	{ "_dmarc.nosp.test", "v=DMARC1; p=quarantine" },
	{ "_dmarc.two.test", "v=DMARC1; p=reject" },
	{ "_dmarc.two.test", "v=DMARC1; p=none" },
	{ "_dmarc.bad.test", "v=DMARC1; p=bogus" },
	{ "_dmarc.temp.test", NULL },
	{ "_dmarc.half.test", "v=DMARC1; p=reject; pct=50" },
	{ "_dmarc.zero.test", "v=DMARC1; p=quarantine; pct=0" },
	{ "_dmarc.sub.own.test", "v=DMARC1; p=none" },
	{ "_dmarc.own.test", "v=DMARC1; p=reject" },
	{ "_dmarc.example.co.uk", "v=DMARC1; p=reject" },
};

static int lookups;

static enum dns_result zone_txt(void *arg, const char *name, struct dns_txt_list *out, const char **error_r)
{
	(void)arg;
	*error_r = NULL;
	lookups++;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(zone) / sizeof(zone[0]); i++) {
		if (strcmp(zone[i].name, name) != 0)
			continue;
		if (zone[i].txt == NULL)
			return DNS_TEMPFAIL;
		out->rec[out->n] = strdup(zone[i].txt);
		assert_non_null(out->rec[out->n]);
		out->len[out->n++] = strlen(zone[i].txt);
	}
	return out->n > 0 ? DNS_OK : DNS_NOTFOUND;
}

static const struct dmarc_dns dns = { NULL, zone_txt };
static struct psl *psl;

static int setup(void **state)
{
	const char *err;
	const char list[] = "com\norg\ntest\nuk\nco.uk\n";

	(void)state;
	return psl_parse(list, sizeof(list) - 1, &psl, &err);
}

static int teardown(void **state)
{
	(void)state;
	psl_free(&psl);
	return 0;
}

static struct dmarc_outcome eval(const char *from, const char *spf_domain, enum dmarc_auth spf, const char *d,
				 enum dmarc_auth dkim, unsigned sample)
{
	struct dmarc_input in = { 0 };
	struct dmarc_outcome out;

	in.from_domain = from;
	in.spf_domain = spf_domain;
	in.spf = spf;
	if (d != NULL) {
		in.dkim[0].d = d;
		in.dkim[0].result = dkim;
		in.ndkim = 1;
	}
	in.sample = sample;
	dmarc_evaluate(&dns, psl, &in, &out);
	return out;
}

static void test_from_domain(void **state)
{
	char d[DMARC_FROM_DOMAIN_MAX + 1];
	const char *err = NULL;
	const char *h;

	(void)state;
#define FROM_OK(hdr, want) \
	do { h = (hdr); assert_int_equal(dmarc_from_domain(h, strlen(h), d, sizeof(d), &err), 0); \
	     assert_string_equal(d, (want)); } while (0)
#define FROM_BAD(hdr, why) \
	do { h = (hdr); assert_int_equal(dmarc_from_domain(h, strlen(h), d, sizeof(d), &err), -1); \
	     assert_string_equal(err, (why)); assert_string_equal(d, ""); } while (0)
	FROM_OK("Subject: x\nFrom: Alice <alice@Example.ORG>\nTo: b@c.test\n\nbody", "example.org");
	FROM_OK("from:alice@example.org.\r\n", "example.org");
	FROM_OK("From: \"Doe, J\" (comment) <j@a.example.org>,\n k@A.example.org\n", "a.example.org");
	FROM_OK("From: team: a@x.test, b@x.test;\n", "x.test");
	FROM_BAD("Subject: x\n\nFrom: a@b.test\n", "no From field");
	FROM_BAD("From: a@b.test\nFROM: a@b.test\n", "more than one From field");
	FROM_BAD("From: a@b.test, c@d.test\n", "From addresses in more than one domain");
	FROM_BAD("From: undisclosed:;\n", "no address in the From field");
	FROM_BAD("From: \n", "no address in the From field");
	FROM_BAD("From: alice\n", "From domain is not a domain name");
	FROM_BAD("From: a@[192.0.2.1]\n", "From domain is not a domain name");
	FROM_BAD("From: a@b_c!.test\n", "From domain is not a domain name");
	FROM_BAD("From: a@paypal..test\n", "cannot parse the From field");
	FROM_BAD("From: <a@b.test> junk\n", "cannot parse the From field");
	/* the obsolete syntax (RFC 5322 4.4) joins the words of a domain */
	FROM_OK("From: a@ b . Test (x)\n", "b.test");
}

static void test_aligned_dkim_or_spf_pass(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	o = eval("example.org", NULL, DMARC_AUTH_OTHER, "example.org", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_PASS);
	assert_true(o.dkim_aligned);
	assert_false(o.spf_aligned);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	assert_int_equal(o.requested, DMARC_POLICY_NONE);
	assert_false(o.at_org);
	/* relaxed: a subdomain signature aligns */
	o = eval("example.org", "bounce.example.org", DMARC_AUTH_PASS, "mail.example.org", DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_PASS);
	assert_true(o.spf_aligned);
	assert_false(o.dkim_aligned);
	assert_string_equal(dmarc_result_str(o.result), "pass");
	/* unaligned passes are a fail, the policy requested */
	o = eval("example.org", "other.test", DMARC_AUTH_PASS, "other.test", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_int_equal(o.requested, DMARC_POLICY_REJECT);
	/* aligned but failing */
	o = eval("example.org", "example.org", DMARC_AUTH_OTHER, "example.org", DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_FAIL);
}

static void test_strict_alignment(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	o = eval("strict.test", "a.strict.test", DMARC_AUTH_PASS, "a.strict.test", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_FAIL);
	o = eval("strict.test", "STRICT.test", DMARC_AUTH_PASS, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_PASS);
}

static void test_org_domain_fallback_and_sp(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	o = eval("a.b.example.org", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_FAIL);
	assert_true(o.at_org);
	assert_string_equal(o.org_domain, "example.org");
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.requested, DMARC_POLICY_QUARANTINE);
	/* relaxed: the org domain's signature aligns with the subdomain */
	o = eval("a.b.example.org", NULL, DMARC_AUTH_OTHER, "example.org", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_PASS);
	/* without sp=, p= */
	o = eval("x.nosp.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.policy, DMARC_POLICY_QUARANTINE);
	/* the subdomain's own record wins over the org's */
	o = eval("sub.own.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_false(o.at_org);
	assert_int_equal(o.policy, DMARC_POLICY_NONE);
	assert_int_equal(o.requested, DMARC_POLICY_NONE);
	/* the public suffix list decides where the org domain is */
	o = eval("mail.example.co.uk", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_string_equal(o.org_domain, "example.co.uk");
	assert_int_equal(o.requested, DMARC_POLICY_REJECT);
}

static void test_no_record_and_unusable_records(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	lookups = 0;
	o = eval("a.nothing.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_NONE);
	assert_null(o.reason);
	assert_false(o.have_record);
	assert_int_equal(o.requested, DMARC_POLICY_UNSET);
	assert_int_equal(lookups, 2);
	lookups = 0;
	o = eval("nothing.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(lookups, 1);   /* the org domain itself: one query */
	o = eval("two.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_NONE);
	assert_string_equal(o.reason, "more than one DMARC record");
	o = eval("bad.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_NONE);
	assert_string_equal(o.reason, "DMARC record without a valid policy");
	o = eval(NULL, NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_PERMERROR);
	assert_string_equal(dmarc_result_str(o.result), "permerror");
}

static void test_temperror(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	o = eval("temp.test", NULL, DMARC_AUTH_OTHER, "temp.test", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_TEMPERROR);
	assert_string_equal(o.reason, "DNS error looking up the DMARC record");
	/* an aligned identifier that could not be checked: not a fail */
	o = eval("example.org", "example.org", DMARC_AUTH_TEMPERROR, "other.test", DMARC_AUTH_PASS, 0);
	assert_int_equal(o.result, DMARC_TEMPERROR);
	o = eval("example.org", NULL, DMARC_AUTH_OTHER, "example.org", DMARC_AUTH_TEMPERROR, 0);
	assert_int_equal(o.result, DMARC_TEMPERROR);
	assert_int_equal(o.requested, DMARC_POLICY_NONE);
	/* an unaligned one does not count */
	o = eval("example.org", "other.test", DMARC_AUTH_TEMPERROR, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.result, DMARC_FAIL);
}

static void test_pct_sampling(void **state)
{
	struct dmarc_outcome o;

	(void)state;
	o = eval("half.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 49);
	assert_int_equal(o.requested, DMARC_POLICY_REJECT);
	o = eval("half.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 50);
	assert_int_equal(o.requested, DMARC_POLICY_QUARANTINE);
	assert_int_equal(o.policy, DMARC_POLICY_REJECT);
	o = eval("zero.test", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 0);
	assert_int_equal(o.requested, DMARC_POLICY_NONE);
	o = eval("example.org", NULL, DMARC_AUTH_OTHER, NULL, DMARC_AUTH_OTHER, 99);
	assert_int_equal(o.requested, DMARC_POLICY_REJECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_domain),
		cmocka_unit_test(test_aligned_dkim_or_spf_pass),
		cmocka_unit_test(test_strict_alignment),
		cmocka_unit_test(test_org_domain_fallback_and_sp),
		cmocka_unit_test(test_no_record_and_unusable_records),
		cmocka_unit_test(test_temperror),
		cmocka_unit_test(test_pct_sampling),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
