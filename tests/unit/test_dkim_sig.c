/* Unit tests for common/dkim_sig.c: the signature of RFC 6376 A.2, one
 * that python3-dkim 1.1.4 wrote (Ed25519, relaxed/relaxed; its bh= is
 * the relaxed body hash of "body\r\n"), the RFC's key record (C) and an
 * Ed25519 record as `postern dkim keygen` prints it, and each required
 * check of 3.5, 3.6.1 and 6.1.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dkim_rfc6376.h"
#include "dkim_sig.h"


/* python3-dkim's dkim.sign(..., signature_algorithm=b"ed25519-sha256",
 * include_headers=[from, to, subject], canonicalize=(relaxed, relaxed)). */
static const char dkimpy_sig[] =
	" v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\n"
	" i=@example.org; q=dns/txt; s=e9; t=1796395682; h=from : to : subject;\n"
	" bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=;\n"
	" b=hGF+L3t7FFgk8appy1/SCTdLfnUnz+GH70sn1Yp9rXyRac6HfoSFRjJ5dLk6OVI/LLO08\n"
	" V/j+iomgsgrp6zRAQ==\n";

static int span_eq(const struct dkim_span *s, const char *want)
{
	return s->len == strlen(want) && memcmp(s->p, want, s->len) == 0;
}

static void test_dkim_sig_rfc6376_example(void **state)
{
	struct dkim_sig sig;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dkim_sig_parse(rfc_sig, strlen(rfc_sig), &sig, &why), DKIM_SIG_OK);
	assert_null(why);
	assert_int_equal(sig.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(sig.c_header, DKIM_CANON_SIMPLE);
	assert_int_equal(sig.c_body, DKIM_CANON_SIMPLE);
	assert_true(span_eq(&sig.d, "example.com"));
	assert_true(span_eq(&sig.s, "brisbane"));
	assert_true(span_eq(&sig.i, "joe@football.example.com"));
	assert_int_equal(sig.nh, 6);
	assert_true(span_eq(&sig.h[0], "Received"));
	assert_true(span_eq(&sig.h[5], "Message-ID"));
	assert_int_equal(sig.b_len, 128);   /* a 1024-bit key */
	assert_int_equal(sig.bh[0], 0xda);  /* 2jUS... */
	assert_false(sig.has_l || sig.has_t || sig.has_x);
}

static void test_dkim_sig_python_dkim_ed25519(void **state)
{
	struct dkim_sig sig;
	const char *why;

	(void)state;
	assert_int_equal(dkim_sig_parse(dkimpy_sig, strlen(dkimpy_sig), &sig, &why), DKIM_SIG_OK);
	assert_int_equal(sig.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(sig.c_header, DKIM_CANON_RELAXED);
	assert_int_equal(sig.c_body, DKIM_CANON_RELAXED);
	assert_true(span_eq(&sig.i, "@example.org"));
	assert_int_equal(sig.nh, 3);
	assert_true(span_eq(&sig.h[2], "subject"));
	assert_int_equal(sig.b_len, 64);
	assert_true(sig.has_t);
	assert_true(sig.t == 1796395682u);
}

/* Each case is the Ed25519 signature above with one change. */
static void test_dkim_sig_checks(void **state)
{
	static const struct {
		const char *value;
		enum dkim_sig_error want;
	} cases[] = {
		{ "v=2; a=ed25519-sha256; d=a.b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "a=ed25519-sha256; d=a.b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha1; d=a.b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_POLICY },
		{ "v=1; a=rsa-md5; d=a.b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=to; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from:; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=AAAA; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a..b; s=s; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; h=from; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; c=relaxed/fancy; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; q=http; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=x@b; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; i=x@xa.b; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; t=20; x=10; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		{ "v=1; a=rsa-sha256; d=a.b; s=s; h=from; l=-1; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_PERMERROR },
		/* the good ones: c= header only (body simple), i= below d=, l=, t= = x=, unknown tags */
		{ "v=1; a=rsa-sha256; d=a.b; s=s.t; h=From; c=relaxed; i=x@y.a.b; l=0; t=5; x=5; zz=?; bh=Ck5SoRNWUpSR4X0COv7R5ub2pUTtl6xz4dTFz++ji4M=; b=AAAA", DKIM_SIG_OK },
	};
	struct dkim_sig sig;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		why = NULL;
		if (dkim_sig_parse(cases[i].value, strlen(cases[i].value), &sig, &why) != cases[i].want)
			fail_msg("case %zu: %s (%s)", i, cases[i].value, why ? why : "accepted");
		if (cases[i].want != DKIM_SIG_OK)
			assert_non_null(why);
	}
	assert_int_equal(sig.c_header, DKIM_CANON_RELAXED);
	assert_int_equal(sig.c_body, DKIM_CANON_SIMPLE);
	assert_true(sig.has_l && sig.l == 0);
}

static void test_dkim_key_records(void **state)
{
	static const char rfc[] = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkM"
				  "oGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v"
				  "/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
	static const char ed[] = "v=DKIM1; k=ed25519; p=UrzIAaGAlYnpHbRDh53N2MxxseykH+8IJpkGUMDdnZ8=";
	static const char *const bad[] = {
		"v=DKIM2; p=AAAA", "k=rsa; v=DKIM1; p=AAAA", "h=sha1; p=AAAA", "k=dsa; p=AAAA",
		"s=web; p=AAAA", "v=DKIM1", "p=A", "p=AAAA; p=AAAA",
	};
	struct dkim_key key;
	const char *why;

	(void)state;
	assert_int_equal(dkim_key_parse(rfc, strlen(rfc), &key, &why), 0);
	assert_int_equal(key.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(key.p_len, 162);   /* SubjectPublicKeyInfo of a 1024-bit key */
	assert_int_equal(dkim_key_parse(ed, strlen(ed), &key, &why), 0);
	assert_int_equal(key.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(key.p_len, 32);
	assert_int_equal(dkim_key_parse("p=; t=y:s; s=email:*; h=sha1:sha256", 35, &key, &why), 0);
	assert_int_equal(key.p_len, 0);     /* revoked */
	assert_true(key.testing && key.strict);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dkim_key_parse(bad[i], strlen(bad[i]), &key, &why) != -1)
			fail_msg("accepted %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_sig_rfc6376_example),
		cmocka_unit_test(test_dkim_sig_python_dkim_ed25519),
		cmocka_unit_test(test_dkim_sig_checks),
		cmocka_unit_test(test_dkim_key_records),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
