/* dkim_sig: DKIM-Signature field values and key records, checked.
 *
 * Offers dkim_sig_parse (RFC 6376 3.5 and 6.1.1: v=1; a= rsa-sha256 or
 * ed25519-sha256 (RFC 8463), rsa-sha1 refused as policy (RFC 8301);
 * b=, bh=, d=, h=, s= required; h= names "from"; i= within d=; c=, q=,
 * l=, t=, x= checked; x= not before t=) and dkim_key_parse (3.6.1: v=
 * first and DKIM1 when present, h= allowing sha256, k= rsa or ed25519,
 * s= email or *, t= flags, p= base64, empty for a revoked key).
 *
 * Unknown tags are ignored (3.2).  Expiry against the clock, the key's
 * fit with a=, and the signature itself are the verifier's business.
 *
 * Trusts: nothing; values are taken as (pointer, length), every count
 * is bounded (dkim_tags.h, DKIM_SIG_MAX_*). */
#include <string.h>

#include "base64.h"
#include "dkim_sig.h"

static int span_is(const struct dkim_tag *t, const char *s)
{
	return t->value_len == strlen(s) && strncmp(t->value, s, t->value_len) == 0;
}

/* Whether the colon-separated list holds want, in any case. */
static int list_has(const char *p, size_t n, const char *want)
{
	const char *item;
	size_t pos = 0, len;

	while (dkim_list_next(p, n, &pos, &item, &len))
		if (dkim_name_eq(item, len, want, strlen(want)))
			return 1;
	return 0;
}

/* Decimal digits (at most 19, so that it fits). */
static int number(const struct dkim_tag *t, uint64_t *v)
{
	*v = 0;
	if (t->value_len == 0 || t->value_len > 19)
		return -1;
	for (size_t k = 0; k < t->value_len; k++) {
		if (t->value[k] < '0' || t->value[k] > '9')
			return -1;
		*v = *v * 10 + (uint64_t)(t->value[k] - '0');
	}
	return 0;
}

/* base64 with FWS inside, into out of at most max bytes. */
static int b64(const struct dkim_tag *t, unsigned char *out, size_t max, size_t *len)
{
	struct buf text, bin;
	int r = -1;

	buf_init(&text, DKIM_TAGS_MAX_INPUT);
	buf_init(&bin, max);
	if (dkim_tag_value_compact(t, &text) == 0 &&
	    (text.len == 0 || base64_decode_strict(text.data, text.len, &bin) == 0)) {
		if (bin.len > 0)
			memcpy(out, bin.data, bin.len);
		*len = bin.len;
		r = 0;
	}
	buf_free(&text);
	buf_free(&bin);
	return r;
}

static int canon_mode(const char *p, size_t n, enum dkim_canon_mode *m)
{
	if (n == 6 && memcmp(p, "simple", 6) == 0)
		*m = DKIM_CANON_SIMPLE;
	else if (n == 7 && memcmp(p, "relaxed", 7) == 0)
		*m = DKIM_CANON_RELAXED;
	else
		return -1;
	return 0;
}

static int parse_c(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *slash = memchr(t->value, '/', t->value_len);
	size_t hn = slash ? (size_t)(slash - t->value) : t->value_len;

	if (canon_mode(t->value, hn, &sig->c_header) < 0)
		return -1;
	if (slash == NULL)
		return 0;   /* 3.5: the body defaults to simple */
	return canon_mode(slash + 1, t->value_len - hn - 1, &sig->c_body);
}

static int parse_h(const struct dkim_tag *t, struct dkim_sig *sig)
{
	const char *item;
	size_t pos = 0, len;
	int from = 0;

	while (dkim_list_next(t->value, t->value_len, &pos, &item, &len)) {
		if (len == 0 || sig->nh == DKIM_SIG_MAX_HEADERS)
			return -1;
		for (size_t k = 0; k < len; k++)
			if (item[k] < 0x21 || item[k] > 0x7e)
				return -1;
		sig->h[sig->nh].p = item;
		sig->h[sig->nh].len = len;
		sig->nh++;
		from |= dkim_name_eq(item, len, "from", 4);
	}
	return from ? 0 : -1;   /* 6.1.1: From must be signed */
}

/* i=: [local-part] "@" domain, the domain d= or below it (6.1.1). */
static int i_ok(const struct dkim_span *i, const struct dkim_span *d)
{
	const char *at = NULL;
	size_t dn;

	for (size_t k = 0; k < i->len; k++)
		if (i->p[k] == '@')
			at = i->p + k;
	if (at == NULL)
		return 0;
	dn = i->len - (size_t)(at + 1 - i->p);
	if (!dkim_dns_name_ok(at + 1, dn, 253))
		return 0;
	if (dkim_name_eq(at + 1, dn, d->p, d->len))
		return 1;
	return dn > d->len && dkim_name_eq(at + 1 + dn - d->len, d->len, d->p, d->len) && at[dn - d->len] == '.';
}

#define FAIL(why) do { *error_r = (why); return DKIM_SIG_PERMERROR; } while (0)

enum dkim_sig_error dkim_sig_parse(const char *value, size_t n, struct dkim_sig *sig, const char **error_r)
{
	const struct dkim_tag *t;
	size_t len;

	memset(sig, 0, sizeof(*sig));
	sig->c_header = sig->c_body = DKIM_CANON_SIMPLE;
	if (dkim_tags_parse(value, n, &sig->tags) < 0)
		FAIL("malformed tag list");
	if ((t = dkim_tags_find(&sig->tags, "v")) == NULL || !span_is(t, "1"))
		FAIL("v= missing or not 1");
	if ((t = dkim_tags_find(&sig->tags, "a")) == NULL)
		FAIL("a= missing");
	if (span_is(t, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (span_is(t, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (span_is(t, "rsa-sha1")) {
		*error_r = "rsa-sha1 is not accepted (RFC 8301)";
		return DKIM_SIG_POLICY;
	} else
		FAIL("unknown algorithm");
	if ((t = dkim_tags_find(&sig->tags, "b")) == NULL || b64(t, sig->b, sizeof(sig->b), &sig->b_len) < 0 ||
	    sig->b_len == 0)
		FAIL("b= missing or bad");
	if ((t = dkim_tags_find(&sig->tags, "bh")) == NULL || b64(t, sig->bh, sizeof(sig->bh), &len) < 0 ||
	    len != 32)
		FAIL("bh= missing or bad");
	if ((t = dkim_tags_find(&sig->tags, "d")) == NULL || !dkim_dns_name_ok(t->value, t->value_len, 253))
		FAIL("d= missing or bad");
	sig->d.p = t->value;
	sig->d.len = t->value_len;
	if ((t = dkim_tags_find(&sig->tags, "s")) == NULL || !dkim_dns_name_ok(t->value, t->value_len, 253))
		FAIL("s= missing or bad");
	sig->s.p = t->value;
	sig->s.len = t->value_len;
	if ((t = dkim_tags_find(&sig->tags, "h")) == NULL || parse_h(t, sig) < 0)
		FAIL("h= missing, bad or without From");
	if ((t = dkim_tags_find(&sig->tags, "c")) != NULL && parse_c(t, sig) < 0)
		FAIL("bad c=");
	if ((t = dkim_tags_find(&sig->tags, "q")) != NULL && !list_has(t->value, t->value_len, "dns/txt"))
		FAIL("q= without dns/txt");
	if ((t = dkim_tags_find(&sig->tags, "i")) != NULL) {
		sig->i.p = t->value;
		sig->i.len = t->value_len;
		if (!i_ok(&sig->i, &sig->d))
			FAIL("i= not within d=");
	}
	if ((t = dkim_tags_find(&sig->tags, "l")) != NULL && (sig->has_l = 1, number(t, &sig->l) < 0))
		FAIL("bad l=");
	if ((t = dkim_tags_find(&sig->tags, "t")) != NULL && (sig->has_t = 1, number(t, &sig->t) < 0))
		FAIL("bad t=");
	if ((t = dkim_tags_find(&sig->tags, "x")) != NULL && (sig->has_x = 1, number(t, &sig->x) < 0))
		FAIL("bad x=");
	if (sig->has_t && sig->has_x && sig->x < sig->t)
		FAIL("x= before t=");
	*error_r = NULL;
	return DKIM_SIG_OK;
}

#undef FAIL
#define FAIL(why) do { *error_r = (why); return -1; } while (0)

int dkim_key_parse(const char *rec, size_t n, struct dkim_key *key, const char **error_r)
{
	struct dkim_tags tags;
	const struct dkim_tag *t;

	memset(key, 0, sizeof(*key));
	key->alg = DKIM_ALG_RSA_SHA256;
	if (dkim_tags_parse(rec, n, &tags) < 0)
		FAIL("malformed key record");
	if ((t = dkim_tags_find(&tags, "v")) != NULL && (t != &tags.tag[0] || !span_is(t, "DKIM1")))
		FAIL("v= not DKIM1 or not first");
	if ((t = dkim_tags_find(&tags, "h")) != NULL && !list_has(t->value, t->value_len, "sha256"))
		FAIL("h= without sha256");
	if ((t = dkim_tags_find(&tags, "k")) != NULL) {
		if (span_is(t, "ed25519"))
			key->alg = DKIM_ALG_ED25519_SHA256;
		else if (!span_is(t, "rsa"))
			FAIL("unknown k=");
	}
	if ((t = dkim_tags_find(&tags, "s")) != NULL && !list_has(t->value, t->value_len, "email") &&
	    !list_has(t->value, t->value_len, "*"))
		FAIL("s= not for email");
	if ((t = dkim_tags_find(&tags, "t")) != NULL) {
		key->testing = list_has(t->value, t->value_len, "y");
		key->strict = list_has(t->value, t->value_len, "s");
	}
	if ((t = dkim_tags_find(&tags, "p")) == NULL || b64(t, key->p, sizeof(key->p), &key->p_len) < 0)
		FAIL("p= missing or bad");
	*error_r = NULL;
	return 0;
}
