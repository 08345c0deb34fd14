/* libFuzzer target for common/auth_results.c: the parser on any field
 * value (bounded counts, NUL-terminated words), and the strip of our
 * fields from any header section (never longer, idempotent). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_results.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_results *ar = malloc(sizeof(*ar));
	char *copy = malloc(size + 1);
	const char *err;
	size_t removed, n, n2;

	if (ar == NULL || copy == NULL)
		goto done;
	if (auth_results_parse((const char *)data, size, ar, &err) == 0) {
		if (ar->n > AUTH_RESULTS_MAX || ar->authserv_id[0] == '\0')
			abort();
		for (size_t i = 0; i < ar->n; i++)
			if (ar->r[i].nprop > AUTH_RESULTS_PROPS_MAX || ar->r[i].method[0] == '\0' ||
			    ar->r[i].result[0] == '\0')
				abort();
	}
	if (strlen(ar->authserv_id) > AUTH_RESULTS_ID_MAX)
		abort();
	memcpy(copy, data, size);
	n = auth_results_strip(copy, size, "mx.example.org", &removed);
	if (n > size || (removed == 0 && (n != size || memcmp(copy, data, size) != 0)))
		abort();
	n2 = auth_results_strip(copy, n, "mx.example.org", &removed);
	if (n2 != n || removed != 0)
		abort();
done:
	free(copy);
	free(ar);
	return 0;
}
