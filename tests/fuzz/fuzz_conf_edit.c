/* libFuzzer target for common/conf_edit.c and common/master_line.c: the
 * edits of `postern conf` on arbitrary file text.  Setting a key and
 * removing it again must give back a text without that key; the master
 * line rules must take any line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf_edit.h"
#include "master_line.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct buf a, b, c;
	char line[MASTER_LINE_MAX + 1], *f[MASTER_LINE_FIELDS + 1];
	size_t n = size < MASTER_LINE_MAX ? size : MASTER_LINE_MAX, nf;

	buf_init(&a, 1 << 22);
	buf_init(&b, 1 << 22);
	buf_init(&c, 1 << 22);
	if (conf_edit_set(text, size, "relayhost", "mx", &a) == 0) {
		if (conf_edit_remove(a.data, a.len, "relayhost", &b) < 1)
			abort();
		if (conf_edit_remove(b.data, b.len, "relayhost", &c) != 0)
			abort();
	}
	(void)conf_edit_master(text, size, "smtp", "inet", "smtp inet", &a);
	(void)conf_edit_master(text, size, "smtp", NULL, NULL, &b);
	buf_free(&a);
	buf_free(&b);
	buf_free(&c);
	memcpy(line, data, n);
	line[n] = '\0';
	nf = master_line_split(line, f, MASTER_LINE_FIELDS + 1);
	if (!master_line_is_comment(f, nf) && master_line_check(f, nf) == NULL && strcmp(f[1], "inet") == 0)
		(void)master_line_inet_ok(f[2]);
	return 0;
}
