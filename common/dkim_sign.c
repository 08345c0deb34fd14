/* dkim_sign: the DKIM-Signature field of a message we sign.
 *
 * Offers dkim_sign_prepare, which lays out the field up to "b=" and
 * hashes the header with common/dkim_hash.c exactly as a verifier will
 * (the field is parsed back with dkim_tags, so the positions are the
 * verifier's), and dkim_sign_finish, which appends the signature.  The
 * signing itself (dkim_sign_digest) is for the dkim-sign service, which
 * holds the keys; the caller of prepare never does.
 *
 * Never writes l= (RFC 6376 8.2) nor i=; t= always, x= when asked.
 *
 * Trusts: nothing in hdr (a client wrote it); counts are bounded by
 * dkim_hash's limits and DKIM_SIG_MAX_HEADERS, the field by
 * DKIM_SIGN_FIELD_MAX. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "base64.h"
#include "dkim_hash.h"
#include "dkim_sign.h"
#include "mime_header.h"

#define DKIM_SIGN_LINE 76   /* fold h= before a line passes this */

/* Signed once more than they occur: nobody can add one (8.15). */
static const char *const oversigned[] = { "from", "reply-to", "subject", "date", "to", "cc" };

const char *dkim_alg_name(enum dkim_alg alg)
{
	return alg == DKIM_ALG_ED25519_SHA256 ? "ed25519-sha256" : "rsa-sha256";
}

static const char *canon_name(enum dkim_canon_mode m)
{
	return m == DKIM_CANON_RELAXED ? "relaxed" : "simple";
}

/* Instances of the field name (n bytes) in hdr; -1 past the field limit. */
static long count_fields(const char *hdr, size_t len, const char *name, size_t n)
{
	struct mime_header_iter it;
	struct mime_field f;
	long count = 0, seen = 0;

	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &f)) {
		if (f.name.len == 0)
			continue;
		if (++seen > DKIM_HASH_MAX_FIELDS)
			return -1;
		if (dkim_name_eq(f.name.p, f.name.len, name, n))
			count++;
	}
	return count;
}

static int is_oversigned(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(oversigned) / sizeof(oversigned[0]); i++)
		if (dkim_name_eq(name, n, oversigned[i], strlen(oversigned[i])))
			return 1;
	return 0;
}

/* The next name of a list separated by spaces, commas or colons. */
static int next_name(const char *v, size_t len, size_t *pos, const char **name, size_t *n)
{
	while (*pos < len && strchr(" \t,:", v[*pos]) != NULL)
		(*pos)++;
	if (*pos >= len)
		return 0;
	*name = v + *pos;
	while (*pos < len && strchr(" \t,:", v[*pos]) == NULL)
		(*pos)++;
	*n = (size_t)(v + *pos - *name);
	return 1;
}

/* Append h='s names, folding after a colon when a line grows long;
 * *col is the column.  -1: too many names or out of room. */
static int put_h(const struct dkim_sign_params *p, const char *hdr, size_t hdr_len, struct buf *out,
		 size_t *col, size_t *nh)
{
	const char *list = p->signed_headers, *name;
	size_t pos = 0, n, len = strlen(list);

	while (next_name(list, len, &pos, &name, &n)) {
		long k = count_fields(hdr, hdr_len, name, n);

		if (k < 0)
			return -1;
		k += is_oversigned(name, n);
		for (; k > 0; k--) {
			if ((*nh)++ >= DKIM_SIG_MAX_HEADERS)
				return -1;
			if (*nh > 1) {
				if (buf_putc(out, ':') < 0)
					return -1;
				(*col)++;
				if (*col + n > DKIM_SIGN_LINE) {
					if (buf_append(out, "\n\t", 2) < 0)
						return -1;
					*col = 1;
				}
			}
			for (size_t i = 0; i < n; i++)
				if (buf_putc(out, (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i])) < 0)
					return -1;
			*col += n;
		}
	}
	return 0;
}

/* The field's text up to "b=". */
static int layout(const struct dkim_sign_params *p, const char *hdr, size_t hdr_len,
		  const unsigned char bh[32], struct buf *field, const char **error_r)
{
	size_t col = 3, nh = 0, start;

	*error_r = "signature field too long";
	if (buf_printf(field, "DKIM-Signature: v=1; a=%s; c=%s/%s; d=%s;\n\ts=%s; t=%llu;",
		       dkim_alg_name(p->alg), canon_name(p->c_header), canon_name(p->c_body), p->domain,
		       p->selector, (unsigned long long)p->t) < 0)
		return -1;
	if (p->x != 0 && buf_printf(field, " x=%llu;", (unsigned long long)p->x) < 0)
		return -1;
	if (buf_append_str(field, "\n\th=") < 0)
		return -1;
	start = field->len;
	if (put_h(p, hdr, hdr_len, field, &col, &nh) < 0) {
		*error_r = "too many header fields to sign";
		return -1;
	}
	if (field->len == start) {
		*error_r = "no field to sign";   /* from is always listed by a sane config */
		return -1;
	}
	if (buf_append_str(field, ";\n\tbh=") < 0 || base64_encode(bh, 32, field) < 0 ||
	    buf_append_str(field, ";\n\tb=") < 0)
		return -1;
	*error_r = NULL;
	return 0;
}

int dkim_sign_prepare(const struct dkim_sign_params *p, const char *hdr, size_t hdr_len,
		      const unsigned char bh[32], struct buf *field, unsigned char digest[32],
		      const char **error_r)
{
	static const char name[] = "DKIM-Signature:";
	struct dkim_sig *sig = NULL;
	const struct dkim_tag *h;
	size_t value_off = sizeof(name) - 1, pos = 0;
	int r = -1;

	if (layout(p, hdr, hdr_len, bh, field, error_r) < 0)
		return -1;
	*error_r = "out of memory";
	if ((sig = calloc(1, sizeof(*sig))) == NULL)
		return -1;
	/* Parse our own text back: the hash sees it as a verifier will. */
	*error_r = "signature field does not parse";
	if (dkim_tags_parse(field->data + value_off, field->len - value_off, &sig->tags) < 0 ||
	    (h = dkim_tags_find(&sig->tags, "h")) == NULL)
		goto out;
	sig->c_header = p->c_header;
	while (sig->nh < DKIM_SIG_MAX_HEADERS &&
	       dkim_list_next(h->value, h->value_len, &pos, &sig->h[sig->nh].p, &sig->h[sig->nh].len))
		sig->nh++;
	r = dkim_header_hash(sig, hdr, hdr_len, field->data, field->len, value_off, digest, error_r);
out:
	free(sig);
	return r;
}

int dkim_sign_finish(struct buf *field, const unsigned char *b, size_t b_len)
{
	struct buf text;
	int r = -1;

	buf_init(&text, DKIM_SIGN_FIELD_MAX);
	if (base64_encode(b, b_len, &text) < 0)
		goto out;
	for (size_t i = 0; i < text.len; i += DKIM_SIGN_B64_LINE) {
		size_t n = text.len - i < DKIM_SIGN_B64_LINE ? text.len - i : DKIM_SIGN_B64_LINE;

		/* FWS inside the value (3.5 b=): a verifier drops it. */
		if ((i > 0 && buf_append(field, "\n\t", 2) < 0) || buf_append(field, text.data + i, n) < 0)
			goto out;
	}
	r = buf_putc(field, '\n');
out:
	buf_free(&text);
	return r;
}

int dkim_sign_digest(void *key, enum dkim_alg alg, const unsigned char digest[32], unsigned char *out,
		     size_t *out_len)
{
	EVP_PKEY *k = key;
	size_t len = DKIM_SIG_MAX_B;
	int r = -1;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		/* PureEdDSA: no digest of its own (NULL md), the 32 bytes as message. */
		if (ctx != NULL && EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) == 1 &&
		    EVP_DigestSign(ctx, out, &len, digest, 32) == 1)
			r = 0;
		EVP_MD_CTX_free(ctx);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);

		if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(ctx, NULL, &len, digest, 32) == 1 && len <= DKIM_SIG_MAX_B &&
		    EVP_PKEY_sign(ctx, out, &len, digest, 32) == 1)
			r = 0;
		EVP_PKEY_CTX_free(ctx);
	}
	*out_len = r == 0 ? len : 0;
	return r;
}
