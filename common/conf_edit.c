/* conf_edit: in-place line edits of postern.conf and master.conf.
 *
 * Offers: set or remove one key of postern.conf (config.c's syntax: a
 * key's line begins at column 0 with `key` and `=`; a line that begins
 * with white space and is not blank or a comment continues it), and
 * replace, add or remove one master.conf entry, named by its first two
 * fields (name and type, as postconf -M names them).  What the edit does
 * not concern is copied byte for byte, so an operator's comments and
 * layout survive; removing what was set puts back the original text.
 *
 * Trusts: nothing in the text; (pointer, length) only, no read past the
 * end, NUL bytes are ordinary bytes.  Values are the caller's, checked
 * by it (config.c) before the result is written.
 *
 * Fails: -1 when out cannot grow (its cap: EMSGSIZE, or ENOMEM). */
#include <string.h>

#include "conf_edit.h"

static int conf_edit_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Whether [p, p+len) starts with key then optional blanks then '='. */
static int conf_edit_key_at(const char *p, size_t len, const char *key)
{
	size_t klen = strlen(key), i;

	if (len < klen || memcmp(p, key, klen) != 0)
		return 0;
	for (i = klen; i < len && conf_edit_blank(p[i]); i++)
		;
	return i < len && p[i] == '=';
}

/* The active line of key: `key =` at column 0. */
static int conf_edit_is_active(const char *p, size_t len, const char *key)
{
	return conf_edit_key_at(p, len, key);
}

/* A commented-out default: `#`, optional blanks, `key =`. */
static int conf_edit_is_default(const char *p, size_t len, const char *key)
{
	size_t i = 0;

	if (len == 0 || p[0] != '#')
		return 0;
	for (i = 1; i < len && conf_edit_blank(p[i]); i++)
		;
	return conf_edit_key_at(p + i, len - i, key);
}

/* A continuation line: begins with a blank and holds something that is
 * not a comment (config.c: `#` first non-blank makes a comment). */
static int conf_edit_is_continuation(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0 || !conf_edit_blank(p[0]))
		return 0;
	while (i < len && (conf_edit_blank(p[i]) || p[i] == '\r'))
		i++;
	return i < len && p[i] != '#';
}

/* Length of the line at p (without its LF) and of the line with it. */
static size_t conf_edit_line(const char *p, size_t left, size_t *with_nl_r)
{
	const char *nl = memchr(p, '\n', left);
	size_t n = nl != NULL ? (size_t)(nl - p) : left;

	*with_nl_r = nl != NULL ? n + 1 : n;
	return n;
}

static int conf_edit_put_setting(struct buf *out, const char *key, const char *value)
{
	return buf_printf(out, "%s =%s%s\n", key, value[0] != '\0' ? " " : "", value);
}

/* Append a newline when out does not end with one (a last line
 * without it), so that what follows starts a line of its own. */
static int conf_edit_end_line(struct buf *out)
{
	if (out->len > 0 && out->data[out->len - 1] != '\n')
		return buf_putc(out, '\n');
	return 0;
}

/* Copy text into out; the active lines of key and their continuations
 * are replaced by `key = value` (the first) or dropped (value NULL, or
 * a later one).  *found_r: how many active lines there were;
 * *default_end_r: offset in out just after the last commented-out
 * default of key, or (size_t)-1. */
static int conf_edit_copy(const char *text, size_t len, const char *key, const char *value,
			  struct buf *out, int *found_r, size_t *default_end_r)
{
	size_t pos = 0;
	int found = 0, skipping = 0;

	*default_end_r = (size_t)-1;
	buf_reset(out);
	while (pos < len) {
		size_t whole, n = conf_edit_line(text + pos, len - pos, &whole);
		const char *p = text + pos;

		if (skipping && conf_edit_is_continuation(p, n)) {
			pos += whole;
			continue;
		}
		skipping = 0;
		if (conf_edit_is_active(p, n, key)) {
			skipping = 1;
			if (found++ == 0 && value != NULL && conf_edit_put_setting(out, key, value) < 0)
				return -1;
			pos += whole;
			continue;
		}
		if (buf_append(out, p, whole) < 0)
			return -1;
		if (conf_edit_is_default(p, n, key))
			*default_end_r = out->len;
		pos += whole;
	}
	*found_r = found;
	return 0;
}

int conf_edit_set(const char *text, size_t len, const char *key, const char *value, struct buf *out)
{
	size_t at;
	int found;

	if (conf_edit_copy(text, len, key, value, out, &found, &at) < 0)
		return -1;
	if (found > 0)
		return 0;
	/* A line after the default that would continue the inserted one
	 * (it continues the key before the comment) keeps it elsewhere. */
	if (at != (size_t)-1) {
		size_t whole, n = conf_edit_line(out->data + at, out->len - at, &whole);

		if (conf_edit_is_continuation(out->data + at, n))
			at = (size_t)-1;
	}
	if (at == (size_t)-1) {
		/* Nowhere documented: a line of its own at the end. */
		if (conf_edit_end_line(out) < 0 || conf_edit_put_setting(out, key, value) < 0)
			return -1;
		return 0;
	}
	/* Right under the commented-out default, where `postern init` puts
	 * the lines it sets; the default stays as documentation.  A default
	 * on the last line without a newline gets one first. */
	struct buf tail;
	size_t keep = at;
	int r;

	buf_init(&tail, out->max);
	r = buf_append(&tail, out->data + at, out->len - at);
	buf_truncate(out, keep);
	if (r == 0)
		r = conf_edit_end_line(out);
	if (r == 0)
		r = conf_edit_put_setting(out, key, value);
	if (r == 0)
		r = buf_append(out, tail.data, tail.len);
	buf_free(&tail);
	return r;
}

int conf_edit_remove(const char *text, size_t len, const char *key, struct buf *out)
{
	size_t at;
	int found;

	if (conf_edit_copy(text, len, key, NULL, out, &found, &at) < 0)
		return -1;
	return found;
}

/* The next white-space separated field of [*p, end): its start and
 * length, *p moved past it; length 0 at the end. */
static size_t conf_edit_field(const char **p, const char *end, const char **start_r)
{
	const char *s = *p;

	while (s < end && (conf_edit_blank(*s) || *s == '\r'))
		s++;
	*start_r = s;
	while (s < end && !conf_edit_blank(*s) && *s != '\r')
		s++;
	*p = s;
	return (size_t)(s - *start_r);
}

int conf_edit_master_is(const char *p, size_t len, const char *name, const char *type)
{
	const char *end = p + len, *f;
	size_t n = conf_edit_field(&p, end, &f);

	if (n == 0 || f[0] == '#' || n != strlen(name) || memcmp(f, name, n) != 0)
		return 0;
	if (type == NULL)
		return 1;
	n = conf_edit_field(&p, end, &f);
	return n == strlen(type) && memcmp(f, type, n) == 0;
}

int conf_edit_master(const char *text, size_t len, const char *name, const char *type,
		     const char *line, struct buf *out)
{
	size_t pos = 0;
	int found = 0;

	buf_reset(out);
	while (pos < len) {
		size_t whole, n = conf_edit_line(text + pos, len - pos, &whole);
		const char *p = text + pos;

		pos += whole;
		if (!conf_edit_master_is(p, n, name, type)) {
			if (buf_append(out, p, whole) < 0)
				return -1;
			continue;
		}
		if (found++ == 0 && line != NULL && buf_printf(out, "%s\n", line) < 0)
			return -1;
	}
	if (found == 0 && line != NULL &&
	    (conf_edit_end_line(out) < 0 || buf_printf(out, "%s\n", line) < 0))
		return -1;
	return found;
}
