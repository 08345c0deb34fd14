/* postern_text: line edits on the text tables the operator may also edit
 * by hand (etc/users, etc/mailboxes, etc/domains).
 *
 * Offers: finding, removing and appending the line of a key, where a
 * line's key is its first field up to a separator (':' for users, white
 * space for maps), compared case-insensitively as cdbmap folds keys.
 * Comments, blank lines and every other line are kept byte for byte, so
 * `postern user` never rewrites what an operator wrote.
 *
 * Trusts: nothing in the text; it works on (pointer, length) and never
 * reads past the buffer.
 *
 * Fails: -1 when the buffer cannot grow (its cap or no memory). */
#include <string.h>
#include <strings.h>

#include "postern.h"

/* Length of the key of line [p, p+len): up to sep, or white space. */
static size_t postern_text_keylen(const char *p, size_t len, char sep)
{
	size_t i = 0;

	while (i < len && p[i] != sep && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
		i++;
	return i;
}

static int postern_text_line_is(const char *p, size_t len, const char *key, char sep)
{
	size_t klen = strlen(key);

	if (len == 0 || p[0] == '#')
		return 0;
	return postern_text_keylen(p, len, sep) == klen && strncasecmp(p, key, klen) == 0;
}

int postern_text_find(const struct buf *text, const char *key, char sep)
{
	size_t pos = 0;

	while (pos < text->len) {
		const char *line = text->data + pos;
		const char *nl = memchr(line, '\n', text->len - pos);
		size_t len = nl != NULL ? (size_t)(nl - line) : text->len - pos;

		if (postern_text_line_is(line, len, key, sep))
			return 1;
		pos += len + 1;
	}
	return 0;
}

int postern_text_remove(struct buf *text, const char *key, char sep, struct buf *out)
{
	size_t pos = 0;
	int removed = 0;

	buf_reset(out);
	while (pos < text->len) {
		const char *line = text->data + pos;
		const char *nl = memchr(line, '\n', text->len - pos);
		size_t len = nl != NULL ? (size_t)(nl - line) : text->len - pos;
		size_t with_nl = nl != NULL ? len + 1 : len;

		if (postern_text_line_is(line, len, key, sep))
			removed++;
		else if (buf_append(out, line, with_nl) < 0)
			return -1;
		pos += with_nl;
	}
	return removed;
}

int postern_text_append(struct buf *text, const char *line)
{
	/* A file edited by hand may lack its last newline; without this the
	 * new entry would be glued onto the old last line. */
	if (text->len > 0 && text->data[text->len - 1] != '\n' && buf_putc(text, '\n') < 0)
		return -1;
	if (buf_append_str(text, line) < 0 || buf_putc(text, '\n') < 0)
		return -1;
	return 0;
}
