/* libFuzzer target for common/alias.c: alias_parse on any bytes.  Every
 * target of an accepted value must be non-empty, free of control bytes,
 * and a qualified address target must validate as a mailbox. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "alias.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the length. */
	char *s = malloc(size ? size : 1);
	struct alias_list list = { 0 };
	const char *error;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (alias_parse(s, size, &list, &error) == 0) {
		if (list.n == 0 || list.n > ALIAS_TARGETS_MAX)
			abort();
		for (size_t i = 0; i < list.n; i++) {
			const struct alias_target *t = &list.t[i];
			if (t->len == 0 || strlen(t->text) != t->len)
				abort();
			for (size_t k = 0; k < t->len; k++)
				if ((unsigned char)t->text[k] < 0x20 || t->text[k] == 0x7f)
					abort();
			if (t->kind == ALIAS_ADDRESS && t->qualified &&
			    address_validate(t->text, t->len, 1, &error) != 0)
				abort();
		}
	} else if (list.n != 0 || list.t != NULL) {
		abort();
	}
	alias_list_free(&list);
	free(s);
	return 0;
}
