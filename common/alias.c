/* alias: parse one value of the aliases map into targets.
 *
 * Offers: alias_parse(), which splits a value at commas outside double
 * quotes, trims white space, unquotes a fully quoted target and
 * classifies each target as a command (`|...`) or an address (validated
 * with common/address as a mailbox, or as a local part when it has no
 * '@').  File targets (`/path`) are refused: Postern's local agent only
 * writes Maildirs; `:include:` is refused here because `postern map`
 * expands it when it compiles etc/aliases (common/alias_file), so a
 * value in aliases.cdb never holds one.  alias_target_span() and
 * alias_target_parse() are the same steps for one target, for
 * common/alias_file.
 *
 * Trusts: nothing.  The map is operator-written, but a bad line must
 * become a clear error for that recipient (deferred, logged), never a
 * crash; the value is read with (pointer, length), never past it.
 *
 * Fails: -1 with a static message; the list is left empty.  Limits:
 * ALIAS_VALUE_MAX bytes, ALIAS_TARGETS_MAX targets, ALIAS_COMMAND_MAX
 * bytes per command, ADDRESS_PATH_MAX per address. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "alias.h"
#include "buf.h"

static int alias_space(char c)
{
	return c == ' ' || c == '\t';
}

/* Control bytes are never allowed: a command or address must not be able
 * to carry a line break into a header, a log line or a shell. */
static int alias_clean(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return 0;
	return 1;
}

long alias_target_span(const char *p, size_t n)
{
	int quoted = 0;

	for (size_t i = 0; i < n; i++) {
		if (quoted && p[i] == '\\') {
			i++;     /* the escaped byte, whatever it is */
			continue;
		}
		if (p[i] == '"')
			quoted = !quoted;
		else if (p[i] == ',' && !quoted)
			return (long)i;
	}
	return quoted ? -1 : (long)n;
}

/* "..." -> its content with \x -> x, into out. */
static int alias_unquote(const char *p, size_t n, struct buf *out)
{
	for (size_t i = 1; i + 1 < n; i++) {
		if (p[i] == '\\' && i + 2 < n)
			i++;
		else if (p[i] == '"')
			return -1;   /* a quote in the middle: "a"b" */
		if (buf_putc(out, p[i]) < 0)
			return -1;
	}
	return 0;
}

/* Whether a fully quoted target ("...") ends with its own closing quote,
 * not with an escaped one. */
static int alias_fully_quoted(const char *p, size_t n)
{
	size_t i;

	if (n < 2 || p[0] != '"' || p[n - 1] != '"')
		return 0;
	for (i = 1; i + 1 < n; i++) {
		if (p[i] == '\\')
			i++;
		else if (p[i] == '"')
			return 0;
	}
	return i == n - 1;
}

/* Whether an address target has white space outside double quotes:
 * `alice bob` is two targets that lack their comma, not one address. */
static int alias_unquoted_space(const char *p, size_t n)
{
	int quoted = 0;

	for (size_t i = 0; i < n; i++) {
		if (quoted && p[i] == '\\')
			i++;
		else if (p[i] == '"')
			quoted = !quoted;
		else if (!quoted && alias_space(p[i]))
			return 1;
	}
	return 0;
}

static int alias_check_address(const char *p, size_t n, int *qualified_r, const char **error_r)
{
	char tmp[ADDRESS_PATH_MAX + 32];

	if (n > ADDRESS_PATH_MAX) {
		*error_r = "address target too long";
		return -1;
	}
	*qualified_r = address_at(p, n) >= 0;
	if (*qualified_r)
		return address_validate(p, n, 1, error_r);
	/* A bare local part: validate it as the local part of a mailbox. */
	memcpy(tmp, p, n);
	memcpy(tmp + n, "@localhost", sizeof "@localhost");
	return address_validate(tmp, n + sizeof "@localhost" - 1, 1, error_r);
}

static int alias_classify(const char *p, size_t n, struct alias_target *t, const char **error_r)
{
	if (n > 0 && p[0] != '|' && alias_unquoted_space(p, n)) {
		*error_r = "white space inside a target (a missing comma?)";
		return -1;
	}
	if (!alias_clean(p, n)) {
		*error_r = "control byte in target";
		return -1;
	}
	if (n > 0 && p[0] == '|') {
		if (n == 1 || n - 1 > ALIAS_COMMAND_MAX) {
			*error_r = n == 1 ? "empty command" : "command too long";
			return -1;
		}
		t->kind = ALIAS_COMMAND;
		return 0;
	}
	if (n > 0 && p[0] == '/') {
		*error_r = "file targets (/path) are not supported: local delivers to Maildirs";
		return -1;
	}
	if (n > 0 && p[0] == ':') {
		/* postern map expands :include: (common/alias_file); one here
		 * comes from a map compiled some other way. */
		*error_r = ":include: here: compile etc/aliases with postern map";
		return -1;
	}
	t->kind = ALIAS_ADDRESS;
	return alias_check_address(p, n, &t->qualified, error_r);
}

int alias_target_parse(const char *p, size_t n, struct alias_target *t_r, const char **error_r)
{
	struct alias_target t = { 0 };
	struct buf text;
	size_t skip;

	buf_init(&text, ALIAS_VALUE_MAX);
	if (alias_fully_quoted(p, n)) {
		if (alias_unquote(p, n, &text) < 0) {
			buf_free(&text);
			*error_r = "bad quoting";
			return -1;
		}
	} else if (buf_set(&text, p, n) < 0) {
		buf_free(&text);
		*error_r = "out of memory";
		return -1;
	}
	if (text.len == 0 || alias_classify(buf_cstr(&text), text.len, &t, error_r) < 0) {
		if (text.len == 0)
			*error_r = "empty target";
		buf_free(&text);
		return -1;
	}
	skip = t.kind == ALIAS_COMMAND ? 1 : 0;
	t.len = text.len - skip;
	t.text = malloc(t.len + 1);
	if (t.text == NULL) {
		buf_free(&text);
		*error_r = "out of memory";
		return -1;
	}
	memcpy(t.text, text.data + skip, t.len + 1);
	buf_free(&text);
	*t_r = t;
	return 0;
}

int alias_parse(const char *value, size_t len, struct alias_list *list, const char **error_r)
{
	size_t pos = 0;

	list->t = NULL;
	list->n = 0;
	if (len > ALIAS_VALUE_MAX) {
		*error_r = "value too long";
		return -1;
	}
	list->t = calloc(ALIAS_TARGETS_MAX, sizeof *list->t);
	if (list->t == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (;;) {
		long end = alias_target_span(value + pos, len - pos);
		size_t a = pos, b;

		if (end < 0) {
			*error_r = "unterminated quote";
			goto fail;
		}
		b = pos + (size_t)end;
		while (a < b && alias_space(value[a]))
			a++;
		while (b > a && alias_space(value[b - 1]))
			b--;
		if (list->n >= ALIAS_TARGETS_MAX) {
			*error_r = "too many targets";
			goto fail;
		}
		if (alias_target_parse(value + a, b - a, &list->t[list->n], error_r) < 0)
			goto fail;
		list->n++;
		pos += (size_t)end;
		if (pos >= len)
			break;
		pos++;   /* the comma */
	}
	return 0;
fail:
	alias_list_free(list);
	return -1;
}

void alias_list_free(struct alias_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		free(list->t[i].text);
	free(list->t);
	list->t = NULL;
	list->n = 0;
}
