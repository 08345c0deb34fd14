/* libFuzzer target for the BDAT converter of common/smtp_data.c: the
 * input is split into chunks at 0xfe bytes (as BDAT commands would cut
 * it).  Checks: each chunk's output fits n + 1 bytes, the produced size
 * adds up, the output equals the input with every CRLF made LF and the
 * separators removed, and any bare CR or LF is flagged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	char *out = malloc(size + 2), *joined = malloc(size + 1), *want = malloc(size + 1);
	struct smtp_bdat b;
	size_t pos = 0, o = 0, j = 0, w = 0;
	int bare = 0;

	if (out == NULL || joined == NULL || want == NULL)
		abort();
	smtp_bdat_init(&b);
	while (pos <= size) {
		const char *sep = memchr(in + pos, 0xfe, size - pos);
		size_t len = sep != NULL ? (size_t)(sep - (in + pos)) : size - pos;
		size_t got = smtp_bdat_feed(&b, in + pos, len, out + o);

		if (got > len + 1)
			abort();
		memcpy(joined + j, in + pos, len);
		j += len;
		o += got;
		pos += len + 1;
	}
	o += smtp_bdat_end(&b, out + o);
	for (size_t i = 0; i < j; i++) {
		if (joined[i] == '\r' && i + 1 < j && joined[i + 1] == '\n') {
			want[w++] = '\n';
			i++;
			continue;
		}
		if (joined[i] == '\r' || joined[i] == '\n')
			bare = 1;
		want[w++] = joined[i];
	}
	if (o != w || memcmp(out, want, w) != 0 || b.size != o || (bare && !b.bare_newline))
		abort();
	free(out);
	free(joined);
	free(want);
	return 0;
}
