/* dkim_sig: DKIM-Signature fields (RFC 6376 3.5) and key records (3.6.1,
 * RFC 8463) parsed and checked, on top of dkim_tags. */
#ifndef POSTERN_DKIM_SIG_H
#define POSTERN_DKIM_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "dkim_canon.h"
#include "dkim_tags.h"

#define DKIM_SIG_MAX_HEADERS 256   /* names in h= */
#define DKIM_SIG_MAX_B 1024        /* bytes of a decoded b= (RSA 8192) */
#define DKIM_KEY_MAX_P 1100        /* bytes of a decoded p= (RSA 8192 SPKI) */

enum dkim_alg { DKIM_ALG_RSA_SHA256 = 1, DKIM_ALG_ED25519_SHA256 = 2 };

/* What a parse failure means for the Authentication-Results verdict. */
enum dkim_sig_error {
	DKIM_SIG_OK = 0,
	DKIM_SIG_PERMERROR = 1,    /* malformed, missing tag, bad value: dkim=permerror */
	DKIM_SIG_POLICY = 2,       /* valid but refused (rsa-sha1, RFC 8301): dkim=policy */
};

struct dkim_span {
	const char *p;
	size_t len;
};

struct dkim_sig {
	struct dkim_tags tags;     /* positions in the field value (b= to empty) */
	enum dkim_alg alg;
	enum dkim_canon_mode c_header, c_body;
	struct dkim_span d, s, i;  /* i.len 0: absent (then @d) */
	struct dkim_span h[DKIM_SIG_MAX_HEADERS];
	size_t nh;
	unsigned char bh[32];
	unsigned char b[DKIM_SIG_MAX_B];
	size_t b_len;
	int has_l, has_t, has_x;
	uint64_t l, t, x;
};

struct dkim_key {
	enum dkim_alg alg;         /* from k= (rsa by default) */
	unsigned char p[DKIM_KEY_MAX_P];
	size_t p_len;              /* 0: revoked (p= empty) */
	int testing;               /* t=y */
	int strict;                /* t=s: i= must be in d= itself */
};

/* Parse the value of a DKIM-Signature field (after the colon).  Spans
 * point into value.  DKIM_SIG_OK, or an error with *error_r saying why. */
enum dkim_sig_error dkim_sig_parse(const char *value, size_t n, struct dkim_sig *sig, const char **error_r);
/* Parse a key record (TXT strings joined).  0, or -1 with *error_r. */
int dkim_key_parse(const char *rec, size_t n, struct dkim_key *key, const char **error_r);

#endif
