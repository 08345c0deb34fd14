/* Unit tests for common/spf_eval.c against a zone served from memory:
 * results and qualifiers, include and redirect (RFC 7208 5.2, 6.1), the
 * limits of 4.6.4 (10 lookups, 2 void lookups, 10 MX names, 10 PTR
 * names, time), record selection (4.5), DNS failures (temperror), the
 * explanation (6.2), IPv6 and IPv4-mapped clients, and the names that
 * macros make (7.4). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <cmocka.h>

#include "spf_eval.h"

/* ---- the zone: type, name, data (TXT text, address, MX host, PTR name) ---- */

struct rr {
	const char *type, *name, *data;
};

static const struct rr *zone;
static char asked[64][300];     /* every name looked up, in order */
static size_t nasked;
static int txt_delay_ms;

static void ask(const char *type, const char *name)
{
	if (nasked < 64)
		snprintf(asked[nasked++], sizeof(asked[0]), "%s %s", type, name);
}

/* DNS_TEMPFAIL for names in the zone as type "FAIL", NXDOMAIN for names
 * not in it at all, no data for names with other types only. */
static enum dns_result zone_status(const char *type, const char *name, size_t *found)
{
	int known = 0;

	*found = 0;
	for (const struct rr *r = zone; r->type != NULL; r++) {
		if (strcasecmp(r->name, name) != 0)
			continue;
		known = 1;
		if (strcmp(r->type, "FAIL") == 0)
			return DNS_TEMPFAIL;
		*found += strcmp(r->type, type) == 0;
	}
	return *found > 0 ? DNS_OK : known ? DNS_NODATA : DNS_NOTFOUND;
}

static enum dns_result fake_txt(void *arg, const char *name, struct dns_txt_list *out, const char **e)
{
	size_t n;
	enum dns_result r = zone_status("TXT", name, &n);

	(void)arg;
	*e = "timed out";
	ask("TXT", name);
	out->n = 0;
	out->more = 0;
	if (txt_delay_ms > 0)
		nanosleep(&(struct timespec){ 0, txt_delay_ms * 1000000L }, NULL);
	if (r != DNS_OK)
		return r;
	for (const struct rr *z = zone; z->type != NULL && out->n < DNS_TXT_MAX; z++)
		if (strcmp(z->type, "TXT") == 0 && strcasecmp(z->name, name) == 0) {
			out->rec[out->n] = strdup(z->data);
			out->len[out->n++] = strlen(z->data);
		}
	return DNS_OK;
}

static enum dns_result fake_mx(void *arg, const char *name, struct dns_mx_list *out, const char **e)
{
	size_t n;
	enum dns_result r = zone_status("MX", name, &n);

	(void)arg;
	*e = "timed out";
	ask("MX", name);
	out->n = 0;
	if (r != DNS_OK)
		return r;
	for (const struct rr *z = zone; z->type != NULL && out->n < DNS_MX_MAX; z++)
		if (strcmp(z->type, "MX") == 0 && strcasecmp(z->name, name) == 0) {
			snprintf(out->mx[out->n].host, sizeof(out->mx[0].host), "%s", z->data);
			out->mx[out->n++].pref = 10;
		}
	return DNS_OK;
}

static enum dns_result fake_addr(void *arg, const char *name, int family, struct dns_addr_list *out,
				 const char **e)
{
	size_t n;
	enum dns_result r = zone_status(family == AF_INET ? "A" : "AAAA", name, &n);

	(void)arg;
	*e = "timed out";
	ask(family == AF_INET ? "A" : "AAAA", name);
	out->n = 0;
	if (r != DNS_OK)
		return r;
	for (const struct rr *z = zone; z->type != NULL && out->n < DNS_ADDR_MAX; z++) {
		if (strcasecmp(z->name, name) != 0)
			continue;
		memset(&out->addr[out->n], 0, sizeof(out->addr[0]));
		if (family == AF_INET && strcmp(z->type, "A") == 0) {
			struct sockaddr_in *s = (struct sockaddr_in *)&out->addr[out->n];
			s->sin_family = AF_INET;
			inet_pton(AF_INET, z->data, &s->sin_addr);
			out->len[out->n++] = sizeof(*s);
		} else if (family == AF_INET6 && strcmp(z->type, "AAAA") == 0) {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&out->addr[out->n];
			s->sin6_family = AF_INET6;
			inet_pton(AF_INET6, z->data, &s->sin6_addr);
			out->len[out->n++] = sizeof(*s);
		}
	}
	return DNS_OK;
}

static enum dns_result fake_ptr(void *arg, const struct sockaddr *sa, struct dns_name_list *out, const char **e)
{
	char rev[128];
	size_t n;
	enum dns_result r;

	(void)arg;
	*e = "timed out";
	assert_int_equal(dns_reverse_name(sa, rev, sizeof(rev)), 0);
	ask("PTR", rev);
	out->n = 0;
	r = zone_status("PTR", rev, &n);
	if (r != DNS_OK)
		return r;
	for (const struct rr *z = zone; z->type != NULL && out->n < DNS_PTR_MAX; z++)
		if (strcmp(z->type, "PTR") == 0 && strcasecmp(z->name, rev) == 0)
			snprintf(out->name[out->n++], sizeof(out->name[0]), "%s", z->data);
	return DNS_OK;
}

static const struct spf_dns fake = { NULL, fake_txt, fake_mx, fake_addr, fake_ptr };

static enum spf_result check(const struct rr *z, const char *ip, const char *sender, struct spf_answer *a)
{
	const char *at = strrchr(sender, '@');
	struct spf_query q = { .ip = ip, .domain = at != NULL ? at + 1 : sender, .sender = sender,
			       .helo = "helo.example.org", .receiver = "mx.example.net", .time_limit_ms = 20000 };

	zone = z;
	nasked = 0;
	return spf_check_host(&fake, &q, a);
}

#define RESULT(z, ip, sender, want) do { \
		struct spf_answer a_; \
		enum spf_result r_ = check(z, ip, sender, &a_); \
		if (r_ != (want)) \
			fail_msg("%s from %s: %s (%s), want %s", sender, ip, spf_result_str(r_), a_.problem, \
				 spf_result_str(want)); \
	} while (0)

static void test_qualifiers_and_none(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 ip4:192.0.2.0/24 ?ip4:198.51.100.1 ~ip6:2001:db8::/32 -all" },
		{ "TXT", "e.com", "google-site-verification=abc" },
		{ "TXT", "plain.com", "not spf" },
		{ "A", "nospf.com", "192.0.2.1" },
		{ NULL, NULL, NULL },
	};

	(void)state;
	RESULT(z, "192.0.2.77", "a@e.com", SPF_PASS);
	RESULT(z, "198.51.100.1", "a@e.com", SPF_NEUTRAL);
	RESULT(z, "2001:db8::1", "a@e.com", SPF_SOFTFAIL);
	RESULT(z, "203.0.113.1", "a@e.com", SPF_FAIL);
	RESULT(z, "::ffff:192.0.2.5", "a@e.com", SPF_PASS);   /* IPv4-mapped is IPv4 */
	RESULT(z, "192.0.2.1", "a@plain.com", SPF_NONE);
	RESULT(z, "192.0.2.1", "a@nospf.com", SPF_NONE);
	RESULT(z, "192.0.2.1", "a@nx.com", SPF_NONE);
	RESULT(z, "192.0.2.1", "a@localhost", SPF_NONE);      /* 4.3: single label */
	RESULT(z, "192.0.2.1", "a@bad..com", SPF_NONE);
}

static void test_record_selection(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "two.com", "v=spf1 -all" },
		{ "TXT", "two.com", "v=spf1 +all" },
		{ "TXT", "bad.com", "v=spf1 ip4:1.2.3.4/40" },
		{ "TXT", "empty.com", "v=spf1" },
		{ NULL, NULL, NULL },
	};
	struct spf_answer a;

	(void)state;
	assert_int_equal(check(z, "192.0.2.1", "a@two.com", &a), SPF_PERMERROR);
	assert_string_equal(a.problem, "more than one SPF record at two.com");
	assert_int_equal(check(z, "192.0.2.1", "a@bad.com", &a), SPF_PERMERROR);
	RESULT(z, "192.0.2.1", "a@empty.com", SPF_NEUTRAL);   /* 4.7: no match, no redirect */
}

static void test_a_mx_ptr_exists(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 a a:other.e.com/24 mx ptr exists:%{ir}.x.e.com -all" },
		{ "A", "e.com", "192.0.2.1" },
		{ "A", "other.e.com", "198.51.100.9" },
		{ "MX", "e.com", "mx1.e.com" },
		{ "A", "mx1.e.com", "203.0.113.5" },
		{ "AAAA", "mx1.e.com", "2001:db8::25" },
		{ "PTR", "7.113.0.203.in-addr.arpa", "host.e.com" },
		{ "A", "host.e.com", "203.0.113.7" },
		{ "PTR", "8.113.0.203.in-addr.arpa", "liar.e.com" },   /* forward lookup disagrees */
		{ "A", "liar.e.com", "203.0.113.99" },
		{ "A", "9.113.0.203.x.e.com", "127.0.0.2" },
		{ NULL, NULL, NULL },
	};

	(void)state;
	RESULT(z, "192.0.2.1", "a@e.com", SPF_PASS);
	RESULT(z, "198.51.100.200", "a@e.com", SPF_PASS);
	RESULT(z, "203.0.113.5", "a@e.com", SPF_PASS);
	RESULT(z, "2001:db8::25", "a@e.com", SPF_PASS);
	RESULT(z, "203.0.113.7", "a@e.com", SPF_PASS);
	RESULT(z, "203.0.113.8", "a@e.com", SPF_FAIL);
	RESULT(z, "203.0.113.9", "a@e.com", SPF_PASS);
	RESULT(z, "203.0.113.10", "a@e.com", SPF_FAIL);
}

static void test_include_and_redirect(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 include:_spf.e.com -all" },
		{ "TXT", "_spf.e.com", "v=spf1 ip4:192.0.2.1 ~all" },
		{ "TXT", "r.com", "v=spf1 redirect=_spf.e.com" },
		{ "TXT", "r2.com", "v=spf1 ?all redirect=_spf.e.com" },   /* all wins (5.1) */
		{ "TXT", "r3.com", "v=spf1 redirect=nospf.com" },
		{ "TXT", "i2.com", "v=spf1 include:nospf.com -all" },
		{ "TXT", "i3.com", "v=spf1 include:fail.com -all" },
		{ "FAIL", "fail.com", "" },
		{ "TXT", "loop.com", "v=spf1 include:loop.com -all" },
		{ NULL, NULL, NULL },
	};
	struct spf_answer a;

	(void)state;
	RESULT(z, "192.0.2.1", "a@e.com", SPF_PASS);
	RESULT(z, "192.0.2.2", "a@e.com", SPF_FAIL);        /* the include's ~all only means "no match" */
	RESULT(z, "192.0.2.1", "a@r.com", SPF_PASS);
	RESULT(z, "192.0.2.2", "a@r.com", SPF_SOFTFAIL);
	RESULT(z, "192.0.2.1", "a@r2.com", SPF_NEUTRAL);
	RESULT(z, "192.0.2.1", "a@r3.com", SPF_PERMERROR);  /* 6.1: a target without a record */
	RESULT(z, "192.0.2.1", "a@i2.com", SPF_PERMERROR);  /* 5.2: include of none */
	assert_int_equal(check(z, "192.0.2.1", "a@i3.com", &a), SPF_TEMPERROR);
	assert_string_equal(a.problem, "DNS: timed out");
	assert_int_equal(check(z, "192.0.2.1", "a@loop.com", &a), SPF_PERMERROR);
	assert_string_equal(a.problem, "more than 10 DNS lookups");
}

static void test_lookup_and_void_limits(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "ten.com", "v=spf1 a:h.com a:h.com a:h.com a:h.com a:h.com mx:m.com mx:m.com "
				    "include:i.com exists:gone.com ptr ip4:192.0.2.1 -all" },
		{ "TXT", "eleven.com", "v=spf1 a:h.com a:h.com a:h.com a:h.com a:h.com a:h.com mx:m.com "
				       "include:i.com exists:gone.com ptr a:h.com ip4:192.0.2.1 -all" },
		{ "TXT", "i.com", "v=spf1 ?ip4:10.0.0.1" },
		{ "A", "h.com", "198.51.100.1" },
		{ "MX", "m.com", "h.com" },
		{ "TXT", "void2.com", "v=spf1 a:n1.com a:n2.com ip4:192.0.2.1 -all" },
		{ "TXT", "void3.com", "v=spf1 a:n1.com a:n2.com mx:nodata.com ip4:192.0.2.1 -all" },
		{ "TXT", "nodata.com", "x" },
		{ NULL, NULL, NULL },
	};
	struct spf_answer a;

	(void)state;
	assert_int_equal(check(z, "192.0.2.1", "a@ten.com", &a), SPF_PASS);
	assert_int_equal(a.lookups, 10);
	assert_int_equal(check(z, "192.0.2.1", "a@eleven.com", &a), SPF_PERMERROR);
	assert_string_equal(a.problem, "more than 10 DNS lookups");
	RESULT(z, "192.0.2.1", "a@void2.com", SPF_PASS);
	assert_int_equal(check(z, "192.0.2.1", "a@void3.com", &a), SPF_PERMERROR);
	assert_string_equal(a.problem, "more than 2 void DNS lookups");
}

static void test_mx_and_ptr_name_limits(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "mx10.com", "v=spf1 mx -all" },
		{ "TXT", "mx11.com", "v=spf1 mx -all" },
		{ "TXT", "ptr.com", "v=spf1 ptr -all" },
		{ "MX", "mx10.com", "m1.com" }, { "MX", "mx10.com", "m2.com" }, { "MX", "mx10.com", "m3.com" },
		{ "MX", "mx10.com", "m4.com" }, { "MX", "mx10.com", "m5.com" }, { "MX", "mx10.com", "m6.com" },
		{ "MX", "mx10.com", "m7.com" }, { "MX", "mx10.com", "m8.com" }, { "MX", "mx10.com", "m9.com" },
		{ "MX", "mx10.com", "m10.com" },
		{ "MX", "mx11.com", "m1.com" }, { "MX", "mx11.com", "m2.com" }, { "MX", "mx11.com", "m3.com" },
		{ "MX", "mx11.com", "m4.com" }, { "MX", "mx11.com", "m5.com" }, { "MX", "mx11.com", "m6.com" },
		{ "MX", "mx11.com", "m7.com" }, { "MX", "mx11.com", "m8.com" }, { "MX", "mx11.com", "m9.com" },
		{ "MX", "mx11.com", "m10.com" }, { "MX", "mx11.com", "m11.com" },
		{ "A", "m10.com", "192.0.2.1" },
		/* the eleventh PTR name is the right one: ignored */
		{ "PTR", "1.2.0.192.in-addr.arpa", "p1.ptr.com" }, { "PTR", "1.2.0.192.in-addr.arpa", "p2.ptr.com" },
		{ "PTR", "1.2.0.192.in-addr.arpa", "p3.ptr.com" }, { "PTR", "1.2.0.192.in-addr.arpa", "p4.ptr.com" },
		{ "PTR", "1.2.0.192.in-addr.arpa", "p5.ptr.com" }, { "PTR", "1.2.0.192.in-addr.arpa", "p6.ptr.com" },
		{ "PTR", "1.2.0.192.in-addr.arpa", "p7.ptr.com" }, { "PTR", "1.2.0.192.in-addr.arpa", "p8.ptr.com" },
		{ "PTR", "1.2.0.192.in-addr.arpa", "p9.ptr.com" }, { "PTR", "1.2.0.192.in-addr.arpa", "p10.ptr.com" },
		{ "PTR", "1.2.0.192.in-addr.arpa", "p11.ptr.com" },
		{ "A", "p11.ptr.com", "192.0.2.1" },
		{ "PTR", "2.2.0.192.in-addr.arpa", "p10.ptr.com" },
		{ "A", "p10.ptr.com", "192.0.2.2" },
		{ NULL, NULL, NULL },
	};
	struct spf_answer a;

	(void)state;
	RESULT(z, "192.0.2.1", "a@mx10.com", SPF_PASS);
	assert_int_equal(check(z, "192.0.2.1", "a@mx11.com", &a), SPF_PERMERROR);
	assert_string_equal(a.problem, "more than 10 MX names");
	RESULT(z, "192.0.2.1", "a@ptr.com", SPF_FAIL);
	RESULT(z, "192.0.2.2", "a@ptr.com", SPF_PASS);
}

static void test_explanation(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 mx -all exp=explain._spf.%{d}" },
		{ "TXT", "explain._spf.e.com", "%{i} is not one of %{d}'s designated mail servers." },
		{ "TXT", "inc.com", "v=spf1 -include:e.com ?all exp=x.inc.com" },
		{ "TXT", "noexp.com", "v=spf1 -all exp=missing.noexp.com" },
		{ "TXT", "x.inc.com", "inc says no" },
		{ NULL, NULL, NULL },
	};
	struct spf_answer a;

	(void)state;
	assert_int_equal(check(z, "192.0.2.3", "a@e.com", &a), SPF_FAIL);
	assert_string_equal(a.explanation, "192.0.2.3 is not one of e.com's designated mail servers.");
	assert_int_equal(check(z, "192.0.2.3", "a@noexp.com", &a), SPF_FAIL);
	assert_string_equal(a.explanation, "");
	assert_string_equal(a.problem, "");
	/* an include's exp is never used; e.com fails inside, which is no match */
	assert_int_equal(check(z, "192.0.2.3", "a@inc.com", &a), SPF_NEUTRAL);
	assert_string_equal(a.explanation, "");
}

static void test_ipv6_macros_and_names_asked(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 exists:%{ir}.%{v}._spf.%{d} ip6:2001:db8::/48 -all" },
		{ "TXT", "l.com", "v=spf1 exists:%{l}.%{o}.users._spf.l.com -all" },
		{ "A", "strong-bad.l.com.users._spf.l.com", "127.0.0.2" },
		{ NULL, NULL, NULL },
	};

	(void)state;
	RESULT(z, "2001:db8::cb01", "a@e.com", SPF_PASS);
	assert_int_equal(nasked, 2);
	assert_string_equal(asked[1], "A 1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.e.com");
	RESULT(z, "2001:db9::1", "a@e.com", SPF_FAIL);
	RESULT(z, "192.0.2.1", "strong-bad@l.com", SPF_PASS);
	RESULT(z, "192.0.2.1", "other@l.com", SPF_FAIL);
	/* 4.3: no local-part means postmaster */
	RESULT(z, "192.0.2.1", "l.com", SPF_FAIL);
	assert_string_equal(asked[1], "A postmaster.l.com.users._spf.l.com");
}

static void test_time_limit_is_temperror(void **state)
{
	static const struct rr z[] = {
		{ "TXT", "e.com", "v=spf1 include:i.e.com -all" },
		{ "TXT", "i.e.com", "v=spf1 +all" },
		{ NULL, NULL, NULL },
	};
	struct spf_query q = { .ip = "192.0.2.1", .domain = "e.com", .sender = "a@e.com", .time_limit_ms = 5 };
	struct spf_answer a;

	(void)state;
	zone = z;
	txt_delay_ms = 20;
	assert_int_equal(spf_check_host(&fake, &q, &a), SPF_TEMPERROR);
	txt_delay_ms = 0;
	assert_string_equal(a.problem, "time limit exceeded");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qualifiers_and_none),
		cmocka_unit_test(test_record_selection),
		cmocka_unit_test(test_a_mx_ptr_exists),
		cmocka_unit_test(test_include_and_redirect),
		cmocka_unit_test(test_lookup_and_void_limits),
		cmocka_unit_test(test_mx_and_ptr_name_limits),
		cmocka_unit_test(test_explanation),
		cmocka_unit_test(test_ipv6_macros_and_names_asked),
		cmocka_unit_test(test_time_limit_is_temperror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
