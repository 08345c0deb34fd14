/* Unit tests for common/auth_results.c: the field we write (RFC 8601
 * 2.2, one result a line), the parser on the examples of RFC 8601
 * appendix B, and the removal of fields in our name (5) while foreign
 * ones stay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_results.h"

static void test_write_results_and_none(void **state)
{
	struct auth_results *ar = calloc(1, sizeof(*ar));
	struct auth_result *r;
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	assert_int_equal(auth_results_write("mx.example.org", ar, &out), 0);
	assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.org; none\n");
	r = auth_results_add(ar, "spf", "pass", NULL);
	assert_non_null(r);
	assert_int_equal(auth_result_prop(r, "smtp", "mailfrom", "jqd@d1.example"), 0);
	r = auth_results_add(ar, "spf", "permerror", "more than 10 DNS lookups");
	assert_int_equal(auth_result_prop(r, "smtp", "mailfrom", "\"odd one\"@d2.example"), 0);
	r = auth_results_add(ar, "dkim", "pass", NULL);
	assert_int_equal(auth_result_prop(r, "header", "d", "d3.example"), 0);
	assert_int_equal(auth_result_prop(r, "header", "b", "abc/def+="), 0);
	buf_reset(&out);
	assert_int_equal(auth_results_write("mx.example.org", ar, &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "Authentication-Results: mx.example.org;\n"
			    "\tspf=pass smtp.mailfrom=jqd@d1.example;\n"
			    "\tspf=permerror reason=\"more than 10 DNS lookups\" smtp.mailfrom=\"\\\"odd one\\\"@d2.example\";\n"
			    "\tdkim=pass header.d=d3.example header.b=\"abc/def+=\"\n");
	/* what we write, we read back */
	struct auth_results *back = calloc(1, sizeof(*back));
	const char *err = NULL;
	const char *v = strchr(buf_cstr(&out), ':') + 1;
	assert_int_equal(auth_results_parse(v, strlen(v), back, &err), 0);
	assert_string_equal(back->authserv_id, "mx.example.org");
	assert_int_equal(back->n, 3);
	assert_string_equal(back->r[1].reason, "more than 10 DNS lookups");
	assert_string_equal(back->r[1].prop[0].value, "\"odd one\"@d2.example");
	assert_string_equal(back->r[2].prop[1].value, "abc/def+=");
	/* refusals: bad words, a full list, an id that is not a token, a clip */
	assert_null(auth_results_add(ar, "sp f", "pass", NULL));
	assert_int_equal(auth_result_prop(r, "smtp", "helo", "a\nb"), -1);
	buf_reset(&out);
	assert_int_equal(auth_results_write("mx example", ar, &out), -1);
	struct buf small;
	buf_init(&small, 40);
	assert_int_equal(auth_results_write("mx.example.org", ar, &small), -1);
	assert_int_equal(small.len, 0);
	while (ar->n < AUTH_RESULTS_MAX)
		assert_non_null(auth_results_add(ar, "x", "y", NULL));
	assert_null(auth_results_add(ar, "x", "y", NULL));
	buf_free(&small);
	buf_free(&out);
	free(back);
	free(ar);
}

/* A comment after the result (DMARC's policy), skipped by the parser. */
static void test_write_comment(void **state)
{
	struct auth_results *ar = calloc(1, sizeof(*ar)), *back = calloc(1, sizeof(*back));
	struct auth_result *r;
	struct buf out;
	const char *err;

	(void)state;
	assert_non_null(ar);
	assert_non_null(back);
	r = auth_results_add(ar, "dmarc", "fail", NULL);
	assert_non_null(r);
	assert_int_equal(auth_result_comment(r, "p=reject (x)"), -1);
	assert_int_equal(auth_result_comment(r, "a\\b"), -1);
	assert_int_equal(auth_result_comment(r, "a\nb"), -1);
	assert_int_equal(auth_result_comment(r, "p=reject dis=none"), 0);
	assert_int_equal(auth_result_prop(r, "header", "from", "example.org"), 0);
	buf_init(&out, 4096);
	assert_int_equal(auth_results_write("mx.example.net", ar, &out), 0);
	assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.net;\n"
			    "\tdmarc=fail (p=reject dis=none) header.from=example.org\n");
	assert_int_equal(auth_results_parse(out.data + 23, out.len - 23, back, &err), 0);
	assert_int_equal(back->n, 1);
	assert_string_equal(back->r[0].result, "fail");
	assert_string_equal(back->r[0].prop[0].value, "example.org");
	buf_free(&out);
	free(ar);
	free(back);
}

static void test_parse_rfc8601_examples(void **state)
{
	static const char b4[] =
		" example.com;\r\n"
		"              auth=pass (cram-md5) smtp.auth=sender@example.net;\r\n"
		"              spf=pass smtp.mailfrom=example.net";
	static const char b5[] =
		" example.com;\n"
		"          dkim=pass (good signature) header.d=mail-router.example.net;\n"
		"          dkim=fail (bad signature) header.d=newyork.example.com";
	static const char b6[] =
		" example.net 1; dkim/1=pass header.i=@mail-router.example.net";
	struct auth_results *ar = calloc(1, sizeof(*ar));
	const char *err = NULL;

	(void)state;
	assert_int_equal(auth_results_parse(b4, strlen(b4), ar, &err), 0);
	assert_string_equal(ar->authserv_id, "example.com");
	assert_int_equal(ar->n, 2);
	assert_string_equal(ar->r[0].method, "auth");
	assert_string_equal(ar->r[0].prop[0].value, "sender@example.net");
	assert_string_equal(ar->r[1].prop[0].property, "mailfrom");
	assert_int_equal(auth_results_parse(b5, strlen(b5), ar, &err), 0);
	assert_int_equal(ar->n, 2);
	assert_string_equal(ar->r[1].result, "fail");
	assert_string_equal(ar->r[1].prop[0].value, "newyork.example.com");
	assert_int_equal(auth_results_parse(b6, strlen(b6), ar, &err), 0);
	assert_int_equal(ar->version, 1);
	assert_int_equal(ar->r[0].version, 1);
	assert_string_equal(ar->r[0].prop[0].value, "@mail-router.example.net");
	assert_int_equal(auth_results_parse(" (c (nested)) \"quoted.id\" ; none ", 33, ar, &err), 0);
	assert_string_equal(ar->authserv_id, "quoted.id");
	assert_int_equal(ar->n, 0);
	/* malformed after the id: an error, the id still known */
	assert_int_equal(auth_results_parse(" ours.example; spf", 18, ar, &err), -1);
	assert_string_equal(ar->authserv_id, "ours.example");
	assert_int_equal(auth_results_parse(" ((((((((((deep)))))))))) x; none", 33, ar, &err), -1);
	assert_int_equal(auth_results_parse(" x; spf=pass (unterminated", 26, ar, &err), -1);
	/* an empty quoted authserv-id names no server (found by fuzz_auth_results) */
	assert_int_equal(auth_results_parse("\"\"1;\n\tauth=pass (cram-md5)", 26, ar, &err), -1);
	assert_string_equal(err, "empty authserv-id");
	assert_int_equal(auth_results_parse("\"\"; none", 8, ar, &err), -1);
	free(ar);
}

static void test_strip_ours_keep_foreign(void **state)
{
	static const char in[] =
		"Received: from a\n\tby b\n"
		"Authentication-Results: MX.Example.ORG;\n\tspf=pass smtp.mailfrom=x@y\n"
		"Authentication-Results: other.example; spf=fail\n"
		"authentication-results : mx.example.org; garbage ((\n"
		"X-Keep: Authentication-Results: mx.example.org; none\n"
		"Authentication-Results: (c) mx.example.org 1; none\n"
		"Authentication-Results: mx.example.org.; dkim=pass\n"   /* the same host, a final dot */
		"Authentication-Results: mx.example.org..; dkim=pass\n"  /* not a host name of ours */
		"Authentication-Results: x.example.org.; dkim=pass";
	static const char want[] =
		"Received: from a\n\tby b\n"
		"Authentication-Results: other.example; spf=fail\n"
		"X-Keep: Authentication-Results: mx.example.org; none\n"
		"Authentication-Results: mx.example.org..; dkim=pass\n"
		"Authentication-Results: x.example.org.; dkim=pass";
	char *hdr = strdup(in);
	size_t removed, n;

	(void)state;
	n = auth_results_strip(hdr, strlen(hdr), "mx.example.org", &removed);
	assert_int_equal(removed, 4);
	assert_int_equal(n, strlen(want));
	assert_memory_equal(hdr, want, n);
	n = auth_results_strip(hdr, n, "mx.example.org", &removed);
	assert_int_equal(removed, 0);
	assert_int_equal(n, strlen(want));
	free(hdr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_results_and_none),
		cmocka_unit_test(test_write_comment),
		cmocka_unit_test(test_parse_rfc8601_examples),
		cmocka_unit_test(test_strip_ours_keep_foreign),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
