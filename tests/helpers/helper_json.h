/* helper_json: JSON output shared by the test programs of tests/helpers/
 * (header only: each helper is built from its one .c file). */
#ifndef POSTERN_HELPER_JSON_H
#define POSTERN_HELPER_JSON_H

#include <stddef.h>

#include "buf.h"

/* Append s[0, n) as a JSON string: bytes outside printable ASCII as
 * \u00XX, so a reader gets them back with .encode("latin-1"). */
static inline void json_str(struct buf *o, const char *s, size_t n)
{
	buf_putc(o, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			buf_printf(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			buf_printf(o, "\\u%04x", c);
		else
			buf_putc(o, (char)c);
	}
	buf_putc(o, '"');
}

#endif
