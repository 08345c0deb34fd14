/* Unit tests for common/dkim_verify.c.  The message below was signed by
 * python3-dkim (Debian's dkimpy) with an Ed25519 key (relaxed/simple)
 * and an RSA-1024 key (simple/simple); the key records are the ones it
 * was signed for.  Both verify, with CRLF and with LF line ends and the
 * body in any pieces; a changed body or signed field fails; no key,
 * DNS trouble, an unanswered lookup, a revoked key, a key of the other
 * type, rsa-sha1, an expired signature and the signature limit give the
 * RFC 8601 results of docs/dkim.md (a 512-bit RSA key: policy); the results become dkim= entries of
 * an Authentication-Results field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auth_results.h"
#include "buf.h"
#include "dkim_verify.h"

#define NOW 1796407600   /* just after the t= of the signatures */

static const char hdr[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/simple; d=example.org;\r\n"
	" i=@example.org; q=dns/txt; s=e; t=1796407518; h=from : to : subject;\r\n"
	" bh=LfBVVqbVeqwz0gzTA4HrctXUV2QquHQ8oAMyy5kfeQY=;\r\n"
	" b=2ZWMdAoj1VhPD1hRxf4Bh2q68Pp1PtvCvMSY8UrQRa5p+hnN/8r7ROKKTJ6nJe4sXgmtU\r\n"
	" vE6enVL5iSfgrFFDA==\r\n"
	"DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple; d=example.org;\r\n"
	" i=@example.org; q=dns/txt; s=r; t=1796407518; h=from : to : subject;\r\n"
	" bh=LfBVVqbVeqwz0gzTA4HrctXUV2QquHQ8oAMyy5kfeQY=;\r\n"
	" b=zz+gWe0ymNz7mhmO1MTMt7fpkp3YjYRb8OR/Rozj0MQMyNHhtzkhnsFsYJ7/TcP1KdW9a\r\n"
	" KUvmU83o8YutNwCB2+z/gatxVneVH+rNqEaQvLu6FFDtyBA4kEcbJSjz9ZekupCa5C8psX2\r\n"
	" 8ZDLtHCL6CxuQ0MiRNW+phfoSanbELw=\r\n"
	"From: A <a@example.org>\r\n"
	"To: b@example.net\r\n"
	"Subject: hi\r\n";
static const char body[] =
	"body  text\r\n"
	"\r\n";
static const char ed_key[] =
	"v=DKIM1; k=ed25519; p=4ZbYwsI1FaX7s1mRZoab4WGHfkeIqlZkuFyOrZPpuiM=";
static const char rsa_key[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDS+wqEbWkztffTVGGrxTj3M1ymfQ+WDYYR1MAyK9RDq2AnnY+lU1JEzPB1V2kanDLRGsKaxLTudHtfW7MCeo+hq52ScncUtDdbEsf86qmQSaUUumPIsBGVCBUis1KtdtpLRRT90SjTi4PNxiunQ82UqfX/affKvBoN6ZXk1rti9wIDAQAB";

/* s with every CRLF made LF (what smtpd hands over). */
static char *lf(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	assert_non_null(out);
	for (; *s != '\0'; s++)
		if (!(s[0] == '\r' && s[1] == '\n'))
			*o++ = *s;
	*o = '\0';
	return out;
}

/* One answer per signature: the key for its selector, or r. */
static void answer(struct dkim_verify *v, enum dns_result r, const char *ed, const char *rsa)
{
	char name[DNS_NAME_MAX + 1];

	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		struct dns_txt_list txt = { 0 };

		if (!dkim_verify_key_name(v, i, name, sizeof(name)))
			continue;
		txt.rec[0] = (char *)(strcmp(name, "e._domainkey.example.org") == 0 ? ed : rsa);
		assert_true(strcmp(name, "e._domainkey.example.org") == 0 || strcmp(name, "r._domainkey.example.org") == 0);
		txt.len[0] = strlen(txt.rec[0]);
		txt.n = 1;
		dkim_verify_key_answer(v, i, r, r == DNS_OK ? &txt : NULL);
	}
}

/* Verify h + b with the keys; the results of both signatures. */
static void verify(const char *h, const char *b, size_t piece, size_t limit, enum dns_result r, const char *ed,
		   const char *rsa, const char *want0, const char *want1, const char *why1)
{
	struct dkim_verify *v = dkim_verify_new(limit, NOW);
	const char *reason, *d, *s;
	size_t n = strlen(b);

	assert_non_null(v);
	dkim_verify_header(v, h, strlen(h));
	for (size_t o = 0; o < n; o += piece)
		dkim_verify_body(v, b + o, n - o < piece ? n - o : piece);
	answer(v, r, ed, rsa);
	dkim_verify_finish(v);
	assert_int_equal(dkim_verify_count(v), 2);
	assert_string_equal(dkim_verify_result(v, 0, &reason, &d, &s), want0);
	assert_string_equal(d, "example.org");
	assert_string_equal(s, "e");
	assert_string_equal(dkim_verify_result(v, 1, &reason, &d, &s), want1);
	assert_string_equal(s, "r");
	if (why1 != NULL) {
		assert_non_null(reason);
		assert_string_equal(reason, why1);
	} else {
		assert_null(reason);
	}
	dkim_verify_free(&v);
	assert_null(v);
}

static void test_both_pass_crlf_lf_any_pieces(void **state)
{
	char *h = lf(hdr), *b = lf(body);

	(void)state;
	verify(hdr, body, 1000, 5, DNS_OK, ed_key, rsa_key, "pass", "pass", NULL);
	verify(hdr, body, 1, 5, DNS_OK, ed_key, rsa_key, "pass", "pass", NULL);
	verify(h, b, 3, 5, DNS_OK, ed_key, rsa_key, "pass", "pass", NULL);
	free(h);
	free(b);
}

static void test_changed_body_or_field_fails(void **state)
{
	char *b = lf(body), *h = lf(hdr);

	(void)state;
	b[0] = 'B';
	verify(hdr, b, 1000, 5, DNS_OK, ed_key, rsa_key, "fail", "fail", "body hash did not verify");
	strstr(h, "Subject: hi")[9] = 'H';
	verify(h, body, 1000, 5, DNS_OK, ed_key, rsa_key, "fail", "fail", "signature did not verify");
	free(b);
	free(h);
}

static void test_key_trouble(void **state)
{
	(void)state;
	verify(hdr, body, 1000, 5, DNS_NOTFOUND, ed_key, rsa_key, "permerror", "permerror", "no key for signature");
	verify(hdr, body, 1000, 5, DNS_NODATA, ed_key, rsa_key, "permerror", "permerror", "no key for signature");
	verify(hdr, body, 1000, 5, DNS_TEMPFAIL, ed_key, rsa_key, "temperror", "temperror", "key lookup failed");
	verify(hdr, body, 1000, 5, DNS_OK, ed_key, "v=DKIM1; k=rsa; p=", "pass", "permerror", "key revoked");
	verify(hdr, body, 1000, 5, DNS_OK, ed_key, ed_key, "pass", "permerror", "key type does not match a=");
	verify(hdr, body, 1000, 5, DNS_OK, ed_key, "v=DKIM1; k=rsa; p=!!", "pass", "permerror", "p= missing or bad");
	verify(hdr, body, 1000, 1, DNS_OK, ed_key, rsa_key, "pass", "neutral", "too many signatures");
	/* RFC 8301 3.2: a 512-bit key is refused before any signature check */
	verify(hdr, body, 1000, 5, DNS_OK, ed_key,
	       "v=DKIM1; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMXzUnexAZff/LycIFOFeE3K2hj6RvzPiQGZXXT17ZWC5tXRFW9tNYWjyxqx3lHXl"
	       "IjwiT0D34mji69+mEd3+6MCAwEAAQ==", "pass", "policy", "RSA key under 1024 bits (RFC 8301)");
}

static void test_unanswered_key_is_temperror(void **state)
{
	struct dkim_verify *v = dkim_verify_new(5, NOW);
	const char *reason, *d, *s;

	(void)state;
	dkim_verify_header(v, hdr, strlen(hdr));
	dkim_verify_body(v, body, strlen(body));
	dkim_verify_finish(v);
	assert_string_equal(dkim_verify_result(v, 0, &reason, &d, &s), "temperror");
	assert_string_equal(reason, "key lookup not answered in time");
	dkim_verify_free(&v);
}

/* One crafted field: its result and reason. */
static void one(const char *field, const char *want, const char *why)
{
	struct dkim_verify *v = dkim_verify_new(5, NOW);
	const char *reason, *d, *s;
	char name[DNS_NAME_MAX + 1];

	dkim_verify_header(v, field, strlen(field));
	assert_int_equal(dkim_verify_count(v), 1);
	assert_false(dkim_verify_key_name(v, 0, name, sizeof(name)));
	dkim_verify_finish(v);
	assert_string_equal(dkim_verify_result(v, 0, &reason, &d, &s), want);
	assert_string_equal(reason, why);
	dkim_verify_free(&v);
}

static void test_policy_expired_malformed(void **state)
{
	(void)state;
	one("DKIM-Signature: v=1; a=rsa-sha1; d=example.org; s=r; h=from; bh=AAAA; b=AAAA\n", "policy",
	    "rsa-sha1 is not accepted (RFC 8301)");
	one("DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=e; h=from; t=1; x=2;\n"
	    " bh=LfBVVqbVeqwz0gzTA4HrctXUV2QquHQ8oAMyy5kfeQY=; b=AAAAAAAAAAAA\nFrom: a@example.org\n",
	    "permerror", "signature expired");
	one("DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=e\n", "permerror", "b= missing or bad");
}

static void test_auth_results_entries(void **state)
{
	struct dkim_verify *v = dkim_verify_new(5, NOW);
	struct auth_results *ar = calloc(1, sizeof(*ar));
	struct buf out;

	(void)state;
	buf_init(&out, 8192);
	dkim_verify_header(v, hdr, strlen(hdr));
	dkim_verify_body(v, body, strlen(body));
	answer(v, DNS_OK, ed_key, "v=DKIM1; k=rsa; p=");
	dkim_verify_finish(v);
	assert_int_equal(dkim_verify_auth_results(v, ar), 0);
	assert_int_equal(auth_results_write("mx.example.net", ar, &out), 0);
	assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.net;\n"
			    "\tdkim=pass header.d=example.org header.s=e header.a=ed25519-sha256 header.b=2ZWMdAoj;\n"
			    "\tdkim=permerror reason=\"key revoked\" header.d=example.org header.s=r header.a=rsa-sha256 "
			    "header.b=zz+gWe0y\n");
	dkim_verify_free(&v);
	/* no signature: none */
	memset(ar, 0, sizeof(*ar));
	buf_reset(&out);
	v = dkim_verify_new(5, NOW);
	dkim_verify_header(v, "From: a@example.org\n", 20);
	dkim_verify_finish(v);
	assert_int_equal(dkim_verify_auth_results(v, ar), 0);
	assert_int_equal(auth_results_write("mx.example.net", ar, &out), 0);
	assert_string_equal(buf_cstr(&out), "Authentication-Results: mx.example.net;\n\tdkim=none\n");
	dkim_verify_free(&v);
	buf_free(&out);
	free(ar);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_pass_crlf_lf_any_pieces),
		cmocka_unit_test(test_changed_body_or_field_fails),
		cmocka_unit_test(test_key_trouble),
		cmocka_unit_test(test_unanswered_key_is_temperror),
		cmocka_unit_test(test_policy_expired_malformed),
		cmocka_unit_test(test_auth_results_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
