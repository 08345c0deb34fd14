/* fuzz_store_cache: libFuzzer target for the reader of postern-cache
 * (mbox_cache_parse).  Any input must be taken or refused without
 * reading outside it; every record reported lies inside what the parser
 * says it took, one after the other. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "mailbox_store.h"

struct seen {
	size_t len, last_end;
};

static int check(void *ctx, uint32_t uid, uint32_t kind, size_t off, uint32_t tlen)
{
	struct seen *s = ctx;

	if (uid == 0 || kind >= MBOX_CACHE_KINDS || off < s->last_end || off + tlen > s->len)
		abort();
	s->last_end = off + tlen;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s = { size, 0 };
	size_t end;
	uint32_t uidvalidity = size >= 24 ? (uint32_t)data[20] | (uint32_t)data[21] << 8 |
				       (uint32_t)data[22] << 16 | (uint32_t)data[23] << 24 : 1;

	if (mbox_cache_parse(data, size, uidvalidity, check, &s, &end) == 0 && (end > size || end < s.last_end))
		abort();
	return 0;
}
