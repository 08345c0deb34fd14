/* Unit tests for common/dkim_hash.c: a message that python3-dkim 1.1.4
 * signed (Ed25519, relaxed/relaxed, h= naming subject three times for
 * two instances and cc, which is absent) verifies here with OpenSSL
 * against the public key python3-dkim was given: header hash by
 * dkim_header_hash, body hash by dkim_canon, with CRLF and with LF line
 * ends; a changed signed field does not, a re-spaced one still does
 * (relaxed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>

#include "base64.h"
#include "dkim_hash.h"

static const char pub_b64[] = "GPgVzHO9RiCel+CmhgG6NXUuGloAyF7AAqLGtAiGT5s=";

static const char signed_msg[] =
	"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org;\r\n"
	" i=@example.org; q=dns/txt; s=e9; t=1796395812; h=from : to : subject :\r\n"
	" subject : subject : date : cc;\r\n"
	" bh=GVz/CG5ZsAtKynLk6yzbqFfB4F5h3X5ZmXt9rc6jZRI=;\r\n"
	" b=TzPwvXkdu+cdGFhWCT6Kq9QzGS2HI1oPAg3ldcltrxL1LRRTVM83w9+gqSodY1UiEh+e9\r\n"
	" tllKkm46tPzTcu8AA==\r\n"
	"Received: from x by y; Fri, 4 Dec 2026 14:00:00 +0000\r\n"
	"From: A <a@example.org>\r\n"
	"To:  b@example.net ,\r\n"
	"\tc@example.net\r\n"
	"Subject: Two\r\n"
	"Subject:   hi   there\r\n"
	"Date: Fri, 4 Dec 2026 14:00:00 +0000\r\n"
	"\r\n"
	"body  line \r\n"
	"\r\n";

/* 1: verifies, 0: does not. */
static int verify(const char *msg, size_t len)
{
	const char *body = strstr(msg, "\n\n") ? strstr(msg, "\n\n") + 2 : strstr(msg, "\r\n\r\n") + 4;
	size_t hdr_len = (size_t)(body - msg);
	const char *field_end = strstr(msg, "\nReceived:") + 1;
	size_t field_len = (size_t)(field_end - msg);
	struct dkim_sig sig;
	struct dkim_body b;
	struct buf pub;
	unsigned char digest[32], bh[32];
	const char *why;
	EVP_PKEY *key;
	EVP_MD_CTX *ctx;
	int ok;

	assert_int_equal(dkim_sig_parse(msg + 15, field_len - 15, &sig, &why), DKIM_SIG_OK);
	assert_int_equal(dkim_body_init(&b, sig.c_body, UINT64_MAX, NULL), 0);
	dkim_body_update(&b, body, len - (size_t)(body - msg));
	assert_int_equal(dkim_body_final(&b, bh), 0);
	dkim_body_free(&b);
	assert_memory_equal(bh, sig.bh, 32);
	assert_int_equal(dkim_header_hash(&sig, msg, hdr_len, msg, field_len, 15, digest, &why), 0);
	buf_init(&pub, 64);
	assert_int_equal(base64_decode_strict(pub_b64, strlen(pub_b64), &pub), 0);
	key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, (const unsigned char *)pub.data, pub.len);
	assert_non_null(key);
	ctx = EVP_MD_CTX_new();
	assert_non_null(ctx);
	/* RFC 8463 3: Ed25519 (pure) over the SHA-256 of the data */
	assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key), 1);
	ok = EVP_DigestVerify(ctx, sig.b, sig.b_len, digest, sizeof(digest)) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	buf_free(&pub);
	return ok;
}

static size_t to_lf(const char *in, char *out)
{
	size_t k = 0;

	for (; *in; in++)
		if (!(in[0] == '\r' && in[1] == '\n'))
			out[k++] = *in;
	out[k] = '\0';
	return k;
}

static void replace(char *msg, const char *from, const char *to)
{
	char *p = strstr(msg, from);
	size_t fl = strlen(from), tl = strlen(to);

	assert_non_null(p);
	memmove(p + tl, p + fl, strlen(p + fl) + 1);
	memcpy(p, to, tl);
}

static void test_dkim_hash_python_dkim_signature_verifies(void **state)
{
	char lf[sizeof(signed_msg)];
	size_t n;

	(void)state;
	assert_true(verify(signed_msg, strlen(signed_msg)));
	n = to_lf(signed_msg, lf);
	assert_true(verify(lf, n));
}

static void test_dkim_hash_changes(void **state)
{
	char msg[sizeof(signed_msg) + 64];

	(void)state;
	memcpy(msg, signed_msg, sizeof(signed_msg));
	replace(msg, "Subject:   hi   there", "subject: hi there");   /* relaxed: the same */
	assert_true(verify(msg, strlen(msg)));
	replace(msg, "subject: hi there", "subject: hi there!");
	assert_false(verify(msg, strlen(msg)));
	memcpy(msg, signed_msg, sizeof(signed_msg));
	/* a third Subject: h= signed the absence of one above the two */
	replace(msg, "Date:", "Subject: added\r\nDate:");
	assert_false(verify(msg, strlen(msg)));
	memcpy(msg, signed_msg, sizeof(signed_msg));
	replace(msg, "Date:", "Cc: added@example.net\r\nDate:");   /* cc was signed absent */
	assert_false(verify(msg, strlen(msg)));
	memcpy(msg, signed_msg, sizeof(signed_msg));
	replace(msg, "Received: from x", "Received: from z");     /* not signed */
	assert_true(verify(msg, strlen(msg)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_hash_python_dkim_signature_verifies),
		cmocka_unit_test(test_dkim_hash_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
