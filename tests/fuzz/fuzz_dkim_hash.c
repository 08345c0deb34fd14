/* libFuzzer target for common/dkim_hash.c: the input is a DKIM-Signature
 * value, a NUL, then a header section.  When the value parses, hashing
 * the header with it must succeed unless the header has too many fields,
 * and must give the same digest twice. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *nul = memchr(s, '\0', size);
	struct dkim_sig *sig;
	unsigned char d1[32], d2[32];
	const char *why;
	size_t vlen;
	char *field;

	if (nul == NULL)
		return 0;
	vlen = (size_t)(nul - s);
	sig = malloc(sizeof(*sig));
	field = malloc(vlen + 16);
	if (sig == NULL || field == NULL)
		goto out;
	memcpy(field, "DKIM-Signature:", 15);
	memcpy(field + 15, s, vlen);
	if (dkim_sig_parse(field + 15, vlen, sig, &why) == DKIM_SIG_OK) {
		int r1 = dkim_header_hash(sig, nul + 1, size - vlen - 1, field, vlen + 15, 15, d1, &why);
		int r2 = dkim_header_hash(sig, nul + 1, size - vlen - 1, field, vlen + 15, 15, d2, &why);
		if (r1 != r2 || (r1 == 0 && memcmp(d1, d2, 32) != 0) || (r1 < 0 && why == NULL))
			abort();
	}
out:
	free(sig);
	free(field);
	return 0;
}
