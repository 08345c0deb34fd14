/* libFuzzer target for common/mime_header.c, common/imap_string.c and
 * common/utf8.c: address lists (groups balanced, no NIL mailbox with a
 * host), dates (zone within +-99:59), RFC 2047 words, unfolding (no CR
 * or LF left), header iteration (fields tile the header in order),
 * charset conversion (UTF-8 out) and the IMAP string writers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_string.h"
#include "mime_header.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_addresses(const char *s, size_t n)
{
	struct mime_arena arena;
	struct mime_address_list list = { 0 };
	int in_group = 0;

	mime_arena_init(&arena);
	/* bad input never fails the parse (only memory could) */
	if (mime_address_list_parse(s, n, &arena, &list) != 0)
		abort();
	{
		for (size_t i = 0; i < list.n; i++) {
			const struct mime_address *a = &list.addrs[i];
			if (a->host.p == NULL && a->mailbox.p != NULL) {
				if (in_group && !list.truncated)
					abort();   /* groups do not nest */
				in_group = 1;
			} else if (a->host.p == NULL) {
				if (!in_group || a->name.p != NULL || a->route.p != NULL)
					abort();
				in_group = 0;
			} else if (a->mailbox.p == NULL) {
				abort();
			}
		}
		if (in_group && !list.truncated)
			abort();
	}
	mime_address_list_free(&list);
	mime_arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct mime_header_iter it;
	struct mime_field f;
	struct buf out;
	time_t t;
	int zone;
	size_t pos = 0;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	buf_init(&out, 1 << 22);
	check_addresses(s, size);
	if (mime_date_parse(s, size, &t, &zone) == 0 && (zone < -6000 || zone > 6000))
		abort();
	if (mime_decode_words(s, size, &out) < 0)
		abort();
	buf_reset(&out);
	if (mime_unfold(s, size, &out) < 0 || memchr(out.data ? out.data : "", '\n', out.len) != NULL ||
	    memchr(out.data ? out.data : "", '\r', out.len) != NULL)
		abort();
	mime_header_iter_init(&it, s, size);
	while (mime_header_next(&it, &f)) {
		if (f.offset != pos || f.size == 0 || f.offset + f.size > size)
			abort();
		pos = f.offset + f.size;
	}
	buf_reset(&out);
	if (size > 0 && mime_charset_to_utf8(s + 1, (size_t)(data[0] % 16) < size - 1 ? data[0] % 16 : 0,
					     s, size, &out) == 0 && !utf8_valid(out.data ? out.data : "", out.len))
		abort();
	for (unsigned int flags = 0; flags < 2; flags++) {
		buf_reset(&out);
		if (imap_write_astring(&out, s, size, flags) < 0 || imap_write_nstring(&out, s, size, flags) < 0)
			abort();
	}
	(void)utf8_valid(s, size);
	buf_free(&out);
	free(s);
	return 0;
}
