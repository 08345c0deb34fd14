/* libFuzzer target for common/dmarc_from.c: any header section gives a
 * From domain (a lower-case DNS name of at most DMARC_FROM_DOMAIN_MAX
 * bytes, no empty label) or a reason, never both. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dmarc_from.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char d[DMARC_FROM_DOMAIN_MAX + 1];
	const char *err = NULL;
	size_t n;

	if (dmarc_from_domain((const char *)data, size, d, sizeof(d), &err) < 0) {
		if (err == NULL || d[0] != '\0')
			abort();
		return 0;
	}
	n = strlen(d);
	if (n == 0 || n > DMARC_FROM_DOMAIN_MAX || d[0] == '.' || d[n - 1] == '.' || strstr(d, "..") != NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		if (d[i] >= 'A' && d[i] <= 'Z')
			abort();
	return 0;
}
