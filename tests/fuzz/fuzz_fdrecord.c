/* libFuzzer target for common/fdrecord.c: fdrecord_end on arbitrary
 * bytes, fed in pieces as a socket hands them over.  The first byte
 * picks the piece size; the record's end found piece by piece must be
 * the one found in the whole input at once, and must be the first empty
 * line (or the empty record). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fdrecord.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the first record ends, found the obvious way. */
static size_t first_end(const char *p, size_t len)
{
	if (len > 0 && p[0] == '\n')
		return 1;
	for (size_t i = 0; i + 1 < len; i++)
		if (p[i] == '\n' && p[i + 1] == '\n')
			return i + 2;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step, scanned = 0, whole, got = 0;
	const char *p;

	if (size == 0)
		return 0;
	step = (size_t)data[0] % 16 + 1;
	p = (const char *)data + 1;
	size--;
	whole = fdrecord_end(p, size, &scanned);
	if (whole != first_end(p, size))
		abort();
	scanned = 0;
	for (size_t len = step < size ? step : size; got == 0; len += step) {
		if (len > size)
			len = size;
		got = fdrecord_end(p, len, &scanned);
		if (len == size)
			break;
	}
	if (got != whole)
		abort();
	return 0;
}
