/* libFuzzer target for common/dkim_sig.c: the input as a DKIM-Signature
 * value and as a key record.  An accepted signature has its spans
 * inside the input, 1..DKIM_SIG_MAX_HEADERS names in h= with "from"
 * among them, a b= within bounds and x= not before t=; a failure says
 * why.  An accepted key record has p= within bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <strings.h>

#include "dkim_sig.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *s, size_t size, const struct dkim_span *sp)
{
	if (sp->len > 0 && (sp->p < s || sp->p + sp->len > s + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dkim_sig *sig = malloc(sizeof(*sig));
	struct dkim_key *key = malloc(sizeof(*key));
	const char *why = NULL;
	int from = 0;

	if (sig == NULL || key == NULL)
		goto out;
	if (dkim_sig_parse(s, size, sig, &why) == DKIM_SIG_OK) {
		inside(s, size, &sig->d);
		inside(s, size, &sig->s);
		inside(s, size, &sig->i);
		if (sig->d.len == 0 || sig->s.len == 0 || sig->nh == 0 || sig->nh > DKIM_SIG_MAX_HEADERS ||
		    sig->b_len == 0 || sig->b_len > DKIM_SIG_MAX_B || (sig->has_t && sig->has_x && sig->x < sig->t))
			abort();
		for (size_t i = 0; i < sig->nh; i++) {
			inside(s, size, &sig->h[i]);
			from |= sig->h[i].len == 4 && strncasecmp(sig->h[i].p, "from", 4) == 0;
		}
		if (!from)
			abort();
	} else if (why == NULL) {
		abort();
	}
	why = NULL;
	if (dkim_key_parse(s, size, key, &why) == 0) {
		if (key->p_len > DKIM_KEY_MAX_P)
			abort();
	} else if (why == NULL) {
		abort();
	}
out:
	free(sig);
	free(key);
	return 0;
}
