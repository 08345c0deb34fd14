/* dkim_sign: the DKIM-Signature field a signer adds (RFC 6376 3.5, 5),
 * built around a header hash that a separate process signs. */
#ifndef POSTERN_DKIM_SIGN_H
#define POSTERN_DKIM_SIGN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dkim_sig.h"

#define DKIM_SIGN_FIELD_MAX 4096     /* bytes of one DKIM-Signature field we write */
#define DKIM_SIGN_B64_LINE 72        /* base64 bytes per folded line of b= */

struct dkim_sign_params {
	const char *domain;            /* d=, lower case */
	const char *selector;          /* s= */
	enum dkim_alg alg;
	enum dkim_canon_mode c_header, c_body;
	const char *signed_headers;    /* names, separated by spaces, commas or colons */
	uint64_t t;                    /* t=, unix seconds */
	uint64_t x;                    /* x=, 0 for none */
};

/* Write into field the DKIM-Signature field for the header section hdr
 * (LF or CRLF, as delivery will emit it, without the fields that go in
 * front of it) and the body hash bh, folded with LF line ends, up to and
 * including "b=" (no line end): h= names each listed field once per
 * instance present, and from, reply-to, subject, date, to and cc once
 * more (oversigning, 8.15).  digest gets the SHA-256 to sign (3.7).  0,
 * or -1 with *error_r (too many fields, a field too big, out of room). */
int dkim_sign_prepare(const struct dkim_sign_params *p, const char *hdr, size_t hdr_len,
		      const unsigned char bh[32], struct buf *field, unsigned char digest[32],
		      const char **error_r);
/* Append the base64 of the signature b (b_len bytes), folded, and the
 * final LF.  0, or -1 (field full). */
int dkim_sign_finish(struct buf *field, const unsigned char *b, size_t b_len);
/* Sign a 32-byte digest with key (EVP_PKEY *): rsa-sha256 as PKCS#1 v1.5
 * over the SHA-256 digest, ed25519-sha256 as PureEdDSA over the 32 bytes
 * (RFC 8463 3).  out holds DKIM_SIG_MAX_B bytes.  0, or -1. */
int dkim_sign_digest(void *key, enum dkim_alg alg, const unsigned char digest[32], unsigned char *out,
		     size_t *out_len);
/* The a= name of alg ("rsa-sha256", "ed25519-sha256"). */
const char *dkim_alg_name(enum dkim_alg alg);

#endif
