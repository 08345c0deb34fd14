/* libFuzzer target for common/address.c: address_parse_path (both empty
 * modes, ASCII and UTF-8) and address_validate on the same input; every
 * accepted path must also validate as a mailbox, and address_normalize
 * must give a form no longer than its input that it leaves unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the length. */
	char *s = malloc(size ? size : 1);
	struct buf addr, norm;
	const char *error;
	size_t used;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	buf_init(&addr, 1024);
	buf_init(&norm, 1024);
	for (int mode = 0; mode < 4; mode++) {
		int utf8 = mode & 1, allow_empty = mode >> 1;
		if (address_parse_path(s, size, allow_empty, utf8, &addr, &used, &error) == 0) {
			if (used > size)
				abort();
			if (addr.len > 0 && address_validate(addr.data, addr.len, utf8, &error) != 0)
				abort();
		}
	}
	(void)address_validate(s, size, 1, &error);
	(void)address_at(s, size);
	if (address_normalize(s, size, &norm) == 0) {
		struct buf again;

		/* The canonical form is never longer, and canonical already. */
		if (norm.len > size)
			abort();
		buf_init(&again, 1024);
		if (address_normalize(norm.data != NULL ? norm.data : "", norm.len, &again) != 0 ||
		    again.len != norm.len || (norm.len > 0 && memcmp(again.data, norm.data, norm.len) != 0))
			abort();
		buf_free(&again);
	}
	buf_free(&addr);
	buf_free(&norm);
	free(s);
	return 0;
}
