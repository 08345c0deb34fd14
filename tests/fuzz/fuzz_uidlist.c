/* fuzz_uidlist: libFuzzer target for the mailbox store's UID list reader
 * (mbox_uidlist_parse).  Every input must parse or fail without reading
 * past its length (ASan checks), and a list that parses must keep the
 * invariants the store relies on: UIDs strictly ascending, each below
 * UIDNEXT, every base name usable. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mbox_uidlist ul;
	const char *error = NULL;
	char *text = malloc(size > 0 ? size : 1);   /* exactly size bytes */

	if (text == NULL)
		return 0;
	if (size > 0)
		memcpy(text, data, size);
	if (mbox_uidlist_parse(text, size, &ul, &error) == 0) {
		if (ul.uidvalidity == 0 || ul.uidnext == 0 || ul.n > MBOX_MESSAGES_MAX)
			abort();
		for (size_t i = 0; i < ul.n; i++) {
			if (ul.e[i].uid == 0 || ul.e[i].uid >= ul.uidnext ||
			    (i > 0 && ul.e[i].uid <= ul.e[i - 1].uid) ||
			    ul.e[i].base < text || ul.e[i].base + ul.e[i].base_len > text + size ||
			    !mbox_base_ok(ul.e[i].base, ul.e[i].base_len))
				abort();
		}
		mbox_uidlist_free(&ul);
	} else if (error == NULL || ul.e != NULL) {
		abort();
	}
	free(text);
	return 0;
}
