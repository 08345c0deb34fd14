/* Unit tests for common/dkim_sign.c: a message signed in-process with a
 * fresh RSA 2048 and Ed25519 key verifies through the verifier's path
 * (dkim_sig_parse, dkim_canon, dkim_header_hash, OpenSSL verify) for
 * every canonicalization; h= oversigns From and Subject and names absent
 * Reply-To and Cc once; a changed signed field or body fails; an added field that is
 * oversigned fails.  python3-dkim checks the same signer end to end in
 * tests/integration/test_dkim_sign.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "dkim_hash.h"
#include "dkim_sign.h"

static const char msg_hdr[] =
	"Received: from x by y; Fri, 4 Dec 2026 14:00:00 +0000\n"
	"From: A <a@example.org>\n"
	"To:  b@example.net ,\n"
	"\tc@example.net\n"
	"Subject:   hi   there\n"
	"Date: Fri, 4 Dec 2026 14:00:00 +0000\n"
	"Message-ID: <1@example.org>\n"
	"\n";
static const char msg_body[] = "body  line \n\n\n";

#define SIGNED "from:reply-to:subject:date:to:cc:message-id"

static EVP_PKEY *keygen(enum dkim_alg alg)
{
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(alg == DKIM_ALG_RSA_SHA256 ? EVP_PKEY_RSA : EVP_PKEY_ED25519, NULL);

	assert_non_null(ctx);
	assert_int_equal(EVP_PKEY_keygen_init(ctx), 1);
	if (alg == DKIM_ALG_RSA_SHA256)
		assert_int_equal(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
	assert_int_equal(EVP_PKEY_keygen(ctx, &k), 1);
	EVP_PKEY_CTX_free(ctx);
	return k;
}

static void body_hash(enum dkim_canon_mode m, const char *body, unsigned char bh[32])
{
	struct dkim_body b;

	assert_int_equal(dkim_body_init(&b, m, UINT64_MAX, NULL), 0);
	dkim_body_update(&b, body, strlen(body));
	assert_int_equal(dkim_body_final(&b, bh), 0);
	dkim_body_free(&b);
}

/* The signed field for hdr/body, into field. */
static void sign(EVP_PKEY *key, enum dkim_alg alg, enum dkim_canon_mode ch, enum dkim_canon_mode cb,
		 const char *hdr, const char *body, struct buf *field)
{
	struct dkim_sign_params p = { "example.org", "s1", alg, ch, cb, SIGNED, 1796395812, 0 };
	unsigned char bh[32], digest[32], b[DKIM_SIG_MAX_B];
	size_t b_len;
	const char *why;

	body_hash(cb, body, bh);
	assert_int_equal(dkim_sign_prepare(&p, hdr, strlen(hdr), bh, field, digest, &why), 0);
	assert_int_equal(dkim_sign_digest(key, alg, digest, b, &b_len), 0);
	assert_int_equal(dkim_sign_finish(field, b, b_len), 0);
}

/* 1: the field verifies against hdr and body with key, as a verifier does it. */
static int verify(EVP_PKEY *key, const struct buf *field, const char *hdr, const char *body)
{
	struct dkim_sig *sig = calloc(1, sizeof(*sig));
	unsigned char bh[32], digest[32];
	const char *why;
	int ok;

	assert_non_null(sig);
	assert_int_equal(dkim_sig_parse(field->data + 15, field->len - 15, sig, &why), DKIM_SIG_OK);
	assert_int_equal(sig->has_l, 0);
	body_hash(sig->c_body, body, bh);
	assert_int_equal(dkim_header_hash(sig, hdr, strlen(hdr), field->data, field->len, 15, digest, &why), 0);
	ok = memcmp(bh, sig->bh, 32) == 0;
	if (sig->alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key), 1);
		ok = ok && EVP_DigestVerify(ctx, sig->b, sig->b_len, digest, 32) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);

		assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
		ok = ok && EVP_PKEY_verify(ctx, sig->b, sig->b_len, digest, 32) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	free(sig);
	return ok;
}

static char *replaced(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	size_t n = strlen(s) - strlen(from) + strlen(to);
	char *out = malloc(n + 1);

	assert_non_null(p);
	memcpy(out, s, (size_t)(p - s));
	memcpy(out + (p - s), to, strlen(to));
	memcpy(out + (p - s) + strlen(to), p + strlen(from), strlen(p + strlen(from)) + 1);
	return out;
}

static void check_alg(enum dkim_alg alg)
{
	EVP_PKEY *key = keygen(alg);

	for (int ch = 0; ch < 2; ch++) {
		for (int cb = 0; cb < 2; cb++) {
			struct buf field;
			char *h2, *b2;

			buf_init(&field, DKIM_SIGN_FIELD_MAX);
			sign(key, alg, ch, cb, msg_hdr, msg_body, &field);
			assert_true(verify(key, &field, msg_hdr, msg_body));
			h2 = replaced(msg_hdr, "hi   there", "hi  there!");
			assert_false(verify(key, &field, h2, msg_body));
			free(h2);
			/* a second From above the first: oversigned, so refused */
			h2 = replaced(msg_hdr, "From:", "From: evil@example.net\nFrom:");
			assert_false(verify(key, &field, h2, msg_body));
			free(h2);
			h2 = replaced(msg_hdr, "Received: from x", "Received: from z");   /* not signed */
			assert_true(verify(key, &field, h2, msg_body));
			free(h2);
			b2 = replaced(msg_body, "line", "lime");
			assert_false(verify(key, &field, msg_hdr, b2));
			free(b2);
			buf_free(&field);
		}
	}
	EVP_PKEY_free(key);
}

static void test_dkim_sign_rsa_verifies(void **state)
{
	(void)state;
	check_alg(DKIM_ALG_RSA_SHA256);
}

static void test_dkim_sign_ed25519_verifies(void **state)
{
	(void)state;
	check_alg(DKIM_ALG_ED25519_SHA256);
}

static void test_dkim_sign_layout(void **state)
{
	EVP_PKEY *key = keygen(DKIM_ALG_ED25519_SHA256);
	struct buf field;

	(void)state;
	buf_init(&field, DKIM_SIGN_FIELD_MAX);
	sign(key, DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED, DKIM_CANON_RELAXED, msg_hdr, msg_body, &field);
	assert_non_null(strstr(field.data, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\n"
				     "\ts=s1; t=1796395812;\n"
				     "\th=from:from:reply-to:subject:subject:date:date:to:to:cc:message-id;\n\tbh="));
	assert_null(strstr(field.data, "l="));
	assert_int_equal(field.data[field.len - 1], '\n');
	/* no line longer than 78 (RFC 5322 2.1.1) */
	for (const char *p = field.data; *p;) {
		const char *e = strchr(p, '\n');

		assert_true(e - p <= 78);
		p = e + 1;
	}
	buf_free(&field);
	EVP_PKEY_free(key);
}

static void test_dkim_sign_too_many_fields(void **state)
{
	struct dkim_sign_params p = { "example.org", "s1", DKIM_ALG_RSA_SHA256, 1, 1, "from:received", 1, 0 };
	struct buf hdr, field;
	unsigned char bh[32] = { 0 }, digest[32];
	const char *why;

	(void)state;
	buf_init(&hdr, 1 << 20);
	buf_init(&field, DKIM_SIGN_FIELD_MAX);
	for (int i = 0; i < 300; i++)
		assert_int_equal(buf_printf(&hdr, "Received: %d\n", i), 0);
	assert_int_equal(buf_append_str(&hdr, "From: a@example.org\n\n"), 0);
	assert_int_equal(dkim_sign_prepare(&p, hdr.data, hdr.len, bh, &field, digest, &why), -1);
	assert_string_equal(why, "too many header fields to sign");
	buf_free(&hdr);
	buf_free(&field);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_sign_rsa_verifies),
		cmocka_unit_test(test_dkim_sign_ed25519_verifies),
		cmocka_unit_test(test_dkim_sign_layout),
		cmocka_unit_test(test_dkim_sign_too_many_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
