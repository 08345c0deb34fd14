/* libFuzzer target for common/dkim_keys.c: a parsed map has valid
 * entries (lower-case domain, plain file name, one key per domain and
 * algorithm) and every lookup finds only entries of a suffix domain. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkim_key_entry *e;
	size_t n, line, idx[2];
	const char *why;

	if (dkim_keys_parse((const char *)data, size, 100, &e, &n, &line, &why) < 0) {
		if (e != NULL || n != 0 || why == NULL)
			abort();
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (strchr(e[i].file, '/') != NULL || e[i].file[0] == '.' || e[i].domain[0] == '\0')
			abort();
		for (const char *c = e[i].domain; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				abort();
		k = dkim_keys_find(e, n, e[i].domain, idx);
		if (k == 0 || k > 2 || (idx[0] != i && (k < 2 || idx[1] != i)))
			abort();
	}
	free(e);
	return 0;
}
