/* dkim_verify: the verification of one message's DKIM signatures
 * (RFC 6376 6; RFC 8463 Ed25519-SHA256; RFC 8301: no rsa-sha1, RSA keys
 * of at least 1024 bits).
 *
 * Offers the state machine of dkim_verify.h.  At the end of the header
 * section each DKIM-Signature (up to the limit) is parsed (dkim_sig.c),
 * its header hash computed (dkim_hash.c, so the header need not be kept)
 * and a body hash started (dkim_canon.c); the caller looks up the keys
 * (dkim_verify_key_name / dkim_verify_key_answer: no DNS here, so tests
 * and the fuzz target drive it with their own answers); at the end the
 * body hashes are compared and the signatures checked with OpenSSL.
 * Every signature ends with an RFC 8601 result: pass, fail (signature or
 * body hash), neutral (past the limit, l= shorter than the body), policy
 * (rsa-sha1, RSA key under 1024 bits), temperror (DNS), permerror
 * (malformed signature or key, no key, revoked key, expired, key type
 * not a=, t=s and i= below d=).
 *
 * Trusts: nothing; the header, the body and the DNS answers come from
 * strangers.  Counts and sizes are bounded (dkim_verify.h, dkim_sig.h,
 * dkim_hash.h, dkim_tags.h).
 *
 * Fails: never; out of memory is a temperror of the signature. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "dkim_canon.h"
#include "dkim_hash.h"
#include "dkim_sig.h"
#include "dkim_verify.h"
#include "mime_header.h"

enum dkim_vstate {
	DKIM_V_DONE = 0,       /* result decided */
	DKIM_V_NEED_KEY,       /* parsed, body hashing, key not yet answered */
	DKIM_V_KEYED,          /* key in hand, body hashing */
};

struct dkim_vsig {
	enum dkim_vstate state;
	const char *result;
	char reason[96];
	char d[254], s[254], a[16], b8[9];
	int i_below_d;         /* i= names a subdomain of d= (t=s refuses it) */
	enum dkim_alg alg;
	unsigned char bh[32], hh[32], b[DKIM_SIG_MAX_B];
	size_t b_len;
	int has_l;
	struct dkim_body body;
	int body_on;
	struct dkim_key key;
};

struct dkim_verify {
	size_t max_sigs;
	uint64_t now;
	struct dkim_vsig sig[DKIM_VERIFY_SIGS_MAX];
	size_t n;              /* entries in sig */
	size_t seen;           /* DKIM-Signature fields, also past the array */
	int finished;
};

struct dkim_verify *dkim_verify_new(size_t max_sigs, uint64_t now)
{
	struct dkim_verify *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	if (max_sigs < 1)
		max_sigs = 1;
	v->max_sigs = max_sigs > DKIM_VERIFY_SIGS_MAX ? DKIM_VERIFY_SIGS_MAX : max_sigs;
	v->now = now;
	return v;
}

static void decide(struct dkim_vsig *vs, const char *result, const char *reason)
{
	vs->state = DKIM_V_DONE;
	vs->result = result;
	snprintf(vs->reason, sizeof(vs->reason), "%s", reason != NULL ? reason : "");   /* a clip only shortens a comment */
	if (vs->body_on) {
		dkim_body_free(&vs->body);
		vs->body_on = 0;
	}
}

/* A span into a NUL-terminated copy; too long leaves it empty. */
static void copy_span(char *out, size_t outlen, const char *p, size_t n)
{
	out[0] = '\0';
	if (p != NULL && n < outlen) {
		memcpy(out, p, n);
		out[n] = '\0';
	}
}

/* d= and s= of a signature that did not parse, when they are names. */
static void names_from_tags(struct dkim_vsig *vs, const struct dkim_tags *tags)
{
	const struct dkim_tag *t;

	if ((t = dkim_tags_find(tags, "d")) != NULL && dkim_dns_name_ok(t->value, t->value_len, 253))
		copy_span(vs->d, sizeof(vs->d), t->value, t->value_len);
	if ((t = dkim_tags_find(tags, "s")) != NULL && dkim_dns_name_ok(t->value, t->value_len, 253))
		copy_span(vs->s, sizeof(vs->s), t->value, t->value_len);
}

/* RFC 6008: header.b is the first 8 characters of b= without FWS. */
static void first_of_b(struct dkim_vsig *vs, const struct dkim_tags *tags)
{
	const struct dkim_tag *t = dkim_tags_find(tags, "b");
	struct buf b;

	buf_init(&b, DKIM_TAGS_MAX_INPUT);
	if (t != NULL && dkim_tag_value_compact(t, &b) == 0 && b.len >= 8)
		copy_span(vs->b8, sizeof(vs->b8), b.data, 8);
	buf_free(&b);
}

/* One DKIM-Signature field (offset/size in hdr) to be verified. */
static void header_sig(struct dkim_verify *v, struct dkim_vsig *vs, const char *hdr, size_t len,
		       const struct mime_field *mf)
{
	struct dkim_sig *sig = calloc(1, sizeof(*sig));
	const char *why = NULL;
	enum dkim_sig_error e;

	if (sig == NULL) {
		decide(vs, "temperror", "out of memory");
		return;
	}
	e = dkim_sig_parse(mf->value.p, mf->value.len, sig, &why);
	first_of_b(vs, &sig->tags);
	if (e != DKIM_SIG_OK) {
		names_from_tags(vs, &sig->tags);
		decide(vs, e == DKIM_SIG_POLICY ? "policy" : "permerror", why);
		free(sig);
		return;
	}
	copy_span(vs->d, sizeof(vs->d), sig->d.p, sig->d.len);
	copy_span(vs->s, sizeof(vs->s), sig->s.p, sig->s.len);
	vs->alg = sig->alg;
	snprintf(vs->a, sizeof(vs->a), "%s", sig->alg == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256");
	memcpy(vs->bh, sig->bh, sizeof(vs->bh));
	memcpy(vs->b, sig->b, sig->b_len);
	vs->b_len = sig->b_len;
	vs->has_l = sig->has_l;
	/* i= was checked to be d= or below it; t=s wants d= itself. */
	vs->i_below_d = sig->i.len > sig->d.len + 1 && sig->i.p[sig->i.len - sig->d.len - 1] != '@';
	if (sig->has_x && sig->x < v->now)
		decide(vs, "permerror", "signature expired");
	else if (dkim_header_hash(sig, hdr, len, hdr + mf->offset, mf->size,
				  (size_t)(mf->value.p - (hdr + mf->offset)), vs->hh, &why) < 0)
		decide(vs, "permerror", why);
	else if (dkim_body_init(&vs->body, sig->c_body, sig->has_l ? sig->l : UINT64_MAX, NULL) < 0)
		decide(vs, "temperror", "out of memory");
	else {
		vs->body_on = 1;
		vs->state = DKIM_V_NEED_KEY;
	}
	free(sig);
}

void dkim_verify_header(struct dkim_verify *v, const char *hdr, size_t len)
{
	struct mime_header_iter it;
	struct mime_field mf;
	size_t fields = 0;

	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &mf)) {
		if (mf.name.len > 0)
			fields++;
		if (!mime_field_is(&mf.name, "DKIM-Signature", 14))
			continue;
		v->seen++;
		if (v->n == DKIM_VERIFY_SIGS_MAX)
			continue;   /* counted, not reported: the A-R field has no room */
		struct dkim_vsig *vs = &v->sig[v->n++];

		if (v->n > v->max_sigs) {
			struct dkim_tags *tags = malloc(sizeof(*tags));

			if (tags != NULL && dkim_tags_parse(mf.value.p, mf.value.len, tags) == 0)
				names_from_tags(vs, tags);
			free(tags);
			decide(vs, "neutral", "too many signatures");
			continue;
		}
		header_sig(v, vs, hdr, len, &mf);
	}
	/* dkim_hash refuses more fields; say it once, for every signature. */
	for (size_t i = 0; fields > DKIM_HASH_MAX_FIELDS && i < v->n; i++)
		if (v->sig[i].state != DKIM_V_DONE)
			decide(&v->sig[i], "permerror", "too many header fields");
}

void dkim_verify_body(struct dkim_verify *v, const char *p, size_t n)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->sig[i].body_on)
			dkim_body_update(&v->sig[i].body, p, n);
}

size_t dkim_verify_count(const struct dkim_verify *v)
{
	return v->n;
}

int dkim_verify_key_name(const struct dkim_verify *v, size_t i, char *out, size_t outlen)
{
	const struct dkim_vsig *vs;
	int n;

	if (i >= v->n || (vs = &v->sig[i])->state != DKIM_V_NEED_KEY)
		return 0;
	n = snprintf(out, outlen, "%s._domainkey.%s", vs->s, vs->d);
	return n > 0 && (size_t)n < outlen && (size_t)n <= DNS_NAME_MAX;
}

/* A parsed key against the signature (RFC 6376 3.6.1, 6.1.2). */
static void take_key(struct dkim_vsig *vs, const struct dkim_key *key)
{
	if (key->p_len == 0)
		decide(vs, "permerror", "key revoked");
	else if (key->alg != vs->alg)
		decide(vs, "permerror", "key type does not match a=");
	else if (key->strict && vs->i_below_d)
		decide(vs, "permerror", "i= below d= with a t=s key");
	else {
		vs->key = *key;
		vs->state = DKIM_V_KEYED;
	}
}

void dkim_verify_key_answer(struct dkim_verify *v, size_t i, enum dns_result r, const struct dns_txt_list *txt)
{
	struct dkim_vsig *vs;
	struct dkim_key *key;
	const char *why = "no key record";

	if (i >= v->n || (vs = &v->sig[i])->state != DKIM_V_NEED_KEY)
		return;
	if (r == DNS_TEMPFAIL) {
		decide(vs, "temperror", "key lookup failed");
		return;
	}
	if (r != DNS_OK || txt == NULL || txt->n == 0) {
		decide(vs, "permerror", "no key for signature");
		return;
	}
	if ((key = malloc(sizeof(*key))) == NULL) {
		decide(vs, "temperror", "out of memory");
		return;
	}
	/* 3.6.2.2: several records are ambiguous; the first usable one counts. */
	for (size_t k = 0; k < txt->n; k++) {
		if (txt->len[k] > DKIM_VERIFY_KEY_MAX) {
			why = "key record too long";
			continue;
		}
		if (dkim_key_parse(txt->rec[k], txt->len[k], key, &why) == 0) {
			take_key(vs, key);
			free(key);
			return;
		}
	}
	free(key);
	decide(vs, "permerror", why);
}

/* The public key of p=: RSA as SubjectPublicKeyInfo (3.6.1) or, as some
 * publish it, a bare RSAPublicKey; Ed25519 as its 32 bytes (RFC 8463 4). */
static EVP_PKEY *public_key(const struct dkim_vsig *vs)
{
	const unsigned char *p = vs->key.p;
	EVP_PKEY *k;

	if (vs->alg == DKIM_ALG_ED25519_SHA256)
		return vs->key.p_len == 32 ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, 32) : NULL;
	k = d2i_PUBKEY(NULL, &p, (long)vs->key.p_len);
	if (k == NULL) {
		p = vs->key.p;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long)vs->key.p_len);
	}
	if (k != NULL && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/* 1 when b= is the signature of the header hash. */
static int signature_ok(const struct dkim_vsig *vs, EVP_PKEY *k)
{
	int ok = 0;

	if (vs->alg == DKIM_ALG_ED25519_SHA256) {
		/* RFC 8463 3: PureEdDSA over the SHA-256 of the header data. */
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) == 1 &&
		     EVP_DigestVerify(ctx, vs->b, vs->b_len, vs->hh, 32) == 1;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);

		ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_verify(ctx, vs->b, vs->b_len, vs->hh, 32) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	return ok;
}

/* The end for one signature with its key. */
static void check(struct dkim_vsig *vs)
{
	unsigned char bh[32];
	EVP_PKEY *k;
	int bits, over;

	over = vs->body.over_limit;
	if (dkim_body_final(&vs->body, bh) < 0) {
		decide(vs, "temperror", "body hash failed");
		return;
	}
	if (memcmp(bh, vs->bh, 32) != 0) {
		decide(vs, "fail", "body hash did not verify");
		return;
	}
	if ((k = public_key(vs)) == NULL) {
		decide(vs, "permerror", "bad public key");
		return;
	}
	bits = EVP_PKEY_get_bits(k);
	if (vs->alg == DKIM_ALG_RSA_SHA256 && bits < DKIM_VERIFY_RSA_MIN_BITS)
		decide(vs, "policy", "RSA key under 1024 bits (RFC 8301)");
	else if (vs->alg == DKIM_ALG_RSA_SHA256 && bits > DKIM_VERIFY_RSA_MAX_BITS)
		decide(vs, "permerror", "RSA key over 8192 bits");
	else if (!signature_ok(vs, k))
		decide(vs, "fail", "signature did not verify");
	else if (vs->has_l && over)
		decide(vs, "neutral", "l= shorter than the body");
	else
		decide(vs, "pass", NULL);
	EVP_PKEY_free(k);
}

void dkim_verify_finish(struct dkim_verify *v)
{
	if (v->finished)
		return;
	v->finished = 1;
	for (size_t i = 0; i < v->n; i++) {
		struct dkim_vsig *vs = &v->sig[i];

		if (vs->state == DKIM_V_NEED_KEY)
			decide(vs, "temperror", "key lookup not answered in time");
		else if (vs->state == DKIM_V_KEYED)
			check(vs);
	}
}

const char *dkim_verify_result(const struct dkim_verify *v, size_t i, const char **reason_r,
			       const char **d_r, const char **s_r)
{
	const struct dkim_vsig *vs;

	if (i >= v->n || (vs = &v->sig[i])->state != DKIM_V_DONE) {
		*reason_r = NULL;
		*d_r = *s_r = "";
		return "temperror";
	}
	*reason_r = vs->reason[0] != '\0' ? vs->reason : NULL;
	*d_r = vs->d;
	*s_r = vs->s;
	return vs->result;
}

int dkim_verify_auth_results(const struct dkim_verify *v, struct auth_results *ar)
{
	if (v->n == 0)
		return auth_results_add(ar, "dkim", "none", NULL) != NULL ? 0 : -1;
	for (size_t i = 0; i < v->n; i++) {
		const char *reason, *d, *s, *res = dkim_verify_result(v, i, &reason, &d, &s);
		const struct dkim_vsig *vs = &v->sig[i];
		struct auth_result *r = auth_results_add(ar, "dkim", res, reason);

		if (r == NULL)
			return -1;
		/* RFC 8601 2.7.1 header.d, .s, .a; RFC 6008 header.b */
		if ((d[0] != '\0' && auth_result_prop(r, "header", "d", d) < 0) ||
		    (s[0] != '\0' && auth_result_prop(r, "header", "s", s) < 0) ||
		    (vs->a[0] != '\0' && auth_result_prop(r, "header", "a", vs->a) < 0) ||
		    (vs->b8[0] != '\0' && auth_result_prop(r, "header", "b", vs->b8) < 0))
			return -1;
	}
	return v->seen > v->n ? -1 : 0;
}

void dkim_verify_free(struct dkim_verify **vp)
{
	struct dkim_verify *v = *vp;

	if (v == NULL)
		return;
	*vp = NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->sig[i].body_on)
			dkim_body_free(&v->sig[i].body);
	free(v);
}
