/* fuzz_store_snapshot: libFuzzer target for the mailbox store's
 * snapshot reader (postern-snapshot, mbox_snapshot_check): any input is
 * taken up or refused by its header without reading outside it, and
 * every read a session makes of one taken up (entries, lookups by UID
 * and name, expunges, the messages changed last, the view's array),
 * none of which is checked before it is used, stays inside it.  The
 * sums are checked only for inputs whose first byte is odd: the others
 * reach the lookups, which a random input with a sum that holds never
 * would. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy;

	if (size == 0)
		return 0;
	/* An exact copy: reading one byte past it is caught. */
	if ((copy = malloc(size - 1 > 0 ? size - 1 : 1)) == NULL)
		return 0;
	memcpy(copy, data + 1, size - 1);
	(void)mbox_snapshot_check(copy, size - 1, data[0] & 1);
	free(copy);
	return 0;
}
