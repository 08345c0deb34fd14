/* fuzz_store_index: libFuzzer target for the mailbox store's index log
 * reader (mbox_index_header_parse, mbox_index_rec_decode).  Any input
 * must decode or be refused without reading outside it, and a record
 * that decodes must encode back to the same bytes (the reader accepts
 * only what a writer makes). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_index_hdr h;
	unsigned char out[MBOX_REC_SIZE];

	if (mbox_index_header_parse(data, size, &h) == 0) {
		unsigned char again[MBOX_INDEX_HDR_SIZE];
		struct mbox_index_hdr h2;
		mbox_index_header_encode(&h, again);
		if (mbox_index_header_parse(again, sizeof(again), &h2) != 0 ||
		    h.uidvalidity != h2.uidvalidity || h.modseq_base != h2.modseq_base ||
		    h.expunge_floor != h2.expunge_floor || h.version != h2.version || h.log_id != h2.log_id)
			abort();
	}
	for (size_t off = 0; off + MBOX_REC_SIZE <= size; off += MBOX_REC_SIZE) {
		struct mbox_index_rec r;
		if (mbox_index_rec_decode(data + off, &r) != 0)
			continue;
		mbox_index_rec_encode(&r, out);
		struct mbox_index_rec r2;
		if (mbox_index_rec_decode(out, &r2) != 0 || memcmp(&r, &r2, sizeof(r)) != 0)
			abort();
	}
	return 0;
}
