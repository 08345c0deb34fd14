/* libFuzzer target for common/dkim_sign.c: for any header section (a
 * client wrote it), dkim_sign_prepare either refuses or lays out a field
 * that, once a signature is appended, parses as a DKIM-Signature
 * (dkim_sig_parse) without l=, whose h= names only listed fields, and
 * whose header hash as a verifier computes it equals the digest the
 * signer was given: signer and verifier never disagree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_hash.h"
#include "dkim_sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_sign_params p = { "example.org", "s1", DKIM_ALG_ED25519_SHA256, DKIM_CANON_RELAXED,
				      DKIM_CANON_SIMPLE, "from subject to cc date message-id x-a", 1796395812, 0 };
	unsigned char bh[32] = { 1 }, digest[32], again[32], b[64];
	struct dkim_sig *sig;
	struct buf field;
	const char *why;

	if (size > 0 && data[0] & 1) {
		p.c_header = DKIM_CANON_SIMPLE;
		p.x = 1796395900;
	}
	buf_init(&field, DKIM_SIGN_FIELD_MAX);
	if (dkim_sign_prepare(&p, (const char *)data, size, bh, &field, digest, &why) < 0) {
		if (why == NULL)
			abort();
		buf_free(&field);
		return 0;
	}
	memset(b, 0x5a, sizeof(b));
	if (dkim_sign_finish(&field, b, sizeof(b)) < 0)
		abort();
	sig = calloc(1, sizeof(*sig));
	if (sig == NULL)
		abort();
	if (dkim_sig_parse(field.data + 15, field.len - 15, sig, &why) != DKIM_SIG_OK || sig->has_l ||
	    sig->b_len != sizeof(b) || memcmp(sig->bh, bh, 32) != 0)
		abort();
	for (size_t i = 0; i < sig->nh; i++)
		if (memchr(sig->h[i].p, ' ', sig->h[i].len) != NULL)
			abort();
	if (dkim_header_hash(sig, (const char *)data, size, field.data, field.len, 15, again, &why) < 0 ||
	    memcmp(digest, again, 32) != 0)
		abort();
	free(sig);
	buf_free(&field);
	return 0;
}
