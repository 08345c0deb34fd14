/* Unit tests for common/spf_record.c: which TXT records are SPF, the
 * terms of a record (qualifiers, domain-specs, CIDR lengths, modifiers),
 * syntax errors that make a permerror (RFC 7208 4.6), and the macro
 * examples of RFC 7208 7.4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "spf_record.h"

static int parse(const char *txt, struct spf_record *r)
{
	const char *err;

	return spf_record_parse(txt, strlen(txt), r, &err);
}

static void test_spf1_version(void **state)
{
	(void)state;
	assert_true(spf_record_is_spf1("v=spf1", 6));
	assert_true(spf_record_is_spf1("V=SPF1 -all", 11));
	assert_false(spf_record_is_spf1("v=spf10 -all", 12));
	assert_false(spf_record_is_spf1("v=spf1-all", 10));
	assert_false(spf_record_is_spf1(" v=spf1 -all", 12));
	assert_false(spf_record_is_spf1("v=spf", 5));
}

static void test_terms_and_qualifiers(void **state)
{
	struct spf_record r;

	(void)state;
	assert_int_equal(parse("v=spf1 +a -mx ~ptr ?include:_spf.example.com ip4:192.0.2.0/24 "
			       "ip6:2001:db8::/32 exists:%{i}.x.example.com all  ", &r), 0);
	assert_int_equal(r.n, 8);
	assert_int_equal(r.term[0].mech, SPF_MECH_A);
	assert_int_equal(r.term[0].qual, SPF_PASS);
	assert_null(r.term[0].spec);
	assert_int_equal(r.term[1].mech, SPF_MECH_MX);
	assert_int_equal(r.term[1].qual, SPF_FAIL);
	assert_int_equal(r.term[2].qual, SPF_SOFTFAIL);
	assert_int_equal(r.term[3].qual, SPF_NEUTRAL);
	assert_int_equal(r.term[3].spec_len, strlen("_spf.example.com"));
	assert_memory_equal(r.term[3].spec, "_spf.example.com", r.term[3].spec_len);
	assert_int_equal(r.term[4].mech, SPF_MECH_IP4);
	assert_int_equal(r.term[4].cidr4, 24);
	assert_memory_equal(r.term[4].addr, "\xc0\x00\x02\x00", 4);
	assert_int_equal(r.term[5].mech, SPF_MECH_IP6);
	assert_int_equal(r.term[5].cidr6, 32);
	assert_int_equal(r.term[6].mech, SPF_MECH_EXISTS);
	assert_int_equal(r.term[7].mech, SPF_MECH_ALL);
	assert_true(r.has_all);
	assert_null(r.redirect);
}

static void test_dual_cidr_and_modifiers(void **state)
{
	struct spf_record r;

	(void)state;
	assert_int_equal(parse("v=spf1 a:mail.example.com/24//64 mx/28 a//96 redirect=_spf.example.com "
			       "exp=explain.%{d} foo=bar%{d}", &r), 0);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.term[0].cidr4, 24);
	assert_int_equal(r.term[0].cidr6, 64);
	assert_int_equal(r.term[0].spec_len, strlen("mail.example.com"));
	assert_int_equal(r.term[1].cidr4, 28);
	assert_int_equal(r.term[1].cidr6, 128);
	assert_null(r.term[1].spec);
	assert_int_equal(r.term[2].cidr4, 32);
	assert_int_equal(r.term[2].cidr6, 96);
	assert_int_equal(r.redirect_len, strlen("_spf.example.com"));
	assert_memory_equal(r.redirect, "_spf.example.com", r.redirect_len);
	assert_memory_equal(r.exp, "explain.%{d}", r.exp_len);
	assert_false(r.has_all);
}

static void test_syntax_errors_are_permerrors(void **state)
{
	static const char *const bad[] = {
		"v=spf1 foo",                       /* unknown mechanism */
		"v=spf1 -foo:bar.com",
		"v=spf1 ip4:192.0.2.1/33",          /* CIDR range */
		"v=spf1 ip4:192.0.2.1/024",         /* leading zero */
		"v=spf1 ip4:300.0.2.1",
		"v=spf1 ip6:2001:db8::/129",
		"v=spf1 include",                   /* needs a domain */
		"v=spf1 exists:",
		"v=spf1 a:localhost",               /* 7.1: domain-end needs a toplabel after a dot */
		"v=spf1 a:example.123",             /* toplabel must have a letter */
		"v=spf1 all:x",
		"v=spf1 redirect=a.example.com redirect=b.example.com",
		"v=spf1 exp=a.example.com exp=b.example.com",
		"v=spf1 a:%{x}.example.com",        /* unknown macro letter */
		"v=spf1 a:%{c}.example.com",        /* c is for explanations only */
		"v=spf1 a:%{d0}.example.com",       /* 7.1: the digit transformer is nonzero */
		"v=spf1 a:%{d}x.example.com%",      /* lone % */
		"v=spf1\t-all",                     /* only spaces separate */
		"v=spf1 mx/",
		"v=spf1 foo=%",                     /* unknown modifiers must be well-formed */
	};
	struct spf_record r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &r) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(r.n, 0);
	}
	/* and these are fine */
	assert_int_equal(parse("v=spf1 a:example.com. -all", &r), 0);
	assert_int_equal(parse("v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", &r), 0);
	assert_int_equal(parse("v=spf1 include:foo-1.example.com ip4:0.0.0.0/0 ip6:::/0", &r), 0);
	assert_int_equal(parse("v=spf1 a:example.com/0", &r), 0);
	assert_int_equal(parse("v=spf1", &r), 0);
	assert_int_equal(r.n, 0);
}

static void test_too_many_terms(void **state)
{
	char txt[SPF_TERMS_MAX * 3 + 16] = "v=spf1";
	size_t n = 6;
	struct spf_record r;

	(void)state;
	for (int i = 0; i <= SPF_TERMS_MAX; i++) {
		memcpy(txt + n, " ?a", 4);
		n += 3;
		assert_int_equal(parse(txt, &r), i < SPF_TERMS_MAX ? 0 : -1);
	}
	assert_int_equal(r.n, 0);
}

/* ---- macros: RFC 7208 7.4 ---- */

static const struct spf_macro_vars rfc_vars = {
	.sender = "strong-bad@email.example.com", .local = "strong-bad",
	.sender_domain = "email.example.com", .domain = "email.example.com",
	.ip_dotted = "192.0.2.3", .ip_text = "192.0.2.3", .ip_version = "in-addr",
	.helo = "mx.example.org", .receiver = "mx.example.net", .time = "1234567890",
};

static void assert_expands(const struct spf_macro_vars *v, int explain, const char *in, const char *want)
{
	struct buf out;
	const char *err = NULL;

	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(in, strlen(in), v, explain, &out, &err) != 0)
		fail_msg("%s: %s", in, err);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

static void test_macro_examples_of_rfc7208(void **state)
{
	static const char *const ex[][2] = {
		{ "%{s}", "strong-bad@email.example.com" },
		{ "%{o}", "email.example.com" },
		{ "%{d}", "email.example.com" },
		{ "%{d4}", "email.example.com" },
		{ "%{d3}", "email.example.com" },
		{ "%{d2}", "example.com" },
		{ "%{d1}", "com" },
		{ "%{dr}", "com.example.email" },
		{ "%{d2r}", "example.email" },
		{ "%{l}", "strong-bad" },
		{ "%{l-}", "strong.bad" },
		{ "%{lr}", "strong-bad" },
		{ "%{lr-}", "bad.strong" },
		{ "%{l1r-}", "strong" },
		{ "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com" },
		{ "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com" },
		{ "%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com" },
		{ "%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com" },
		{ "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net" },
		{ "%%%_%-", "% %20" },
		{ "%{S}", "strong-bad%40email.example.com" },
		{ "%{d999}", "email.example.com" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ex) / sizeof(ex[0]); i++)
		assert_expands(&rfc_vars, 0, ex[i][0], ex[i][1]);
}

static void test_macro_ipv6_and_explanations(void **state)
{
	struct spf_macro_vars v6 = rfc_vars;
	struct buf out;
	const char *err;

	(void)state;
	v6.ip_dotted = "2.0.0.1.0.d.b.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.c.b.0.1";
	v6.ip_version = "ip6";
	assert_expands(&v6, 0, "%{ir}.%{v}._spf.%{d2}",
		       "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com");
	/* c, r, t and spaces only in an explanation (7.3). */
	assert_expands(&rfc_vars, 1, "%{c} is not one of %{d}'s servers (%{r} at %{t})",
		       "192.0.2.3 is not one of email.example.com's servers (mx.example.net at 1234567890)");
	buf_init(&out, 64);
	assert_int_equal(spf_macro_expand("%{c}", 4, &rfc_vars, 0, &out, &err), -1);
	assert_int_equal(spf_macro_expand("a b", 3, &rfc_vars, 0, &out, &err), -1);
	buf_free(&out);
	/* a cap is an error, never a clipped name */
	buf_init(&out, 8);
	assert_int_equal(spf_macro_expand("%{s}", 4, &rfc_vars, 0, &out, &err), -1);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spf1_version),
		cmocka_unit_test(test_terms_and_qualifiers),
		cmocka_unit_test(test_dual_cidr_and_modifiers),
		cmocka_unit_test(test_syntax_errors_are_permerrors),
		cmocka_unit_test(test_too_many_terms),
		cmocka_unit_test(test_macro_examples_of_rfc7208),
		cmocka_unit_test(test_macro_ipv6_and_explanations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
