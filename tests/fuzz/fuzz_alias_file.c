/* libFuzzer target for common/alias_file.c: alias_file_parse on any
 * bytes, in aliases(5) form or the older one.  An :include: of a path
 * starting with "/self" reads the input itself as the included file (so
 * included text is fuzzed too), "/list" a fixed good list, anything else
 * fails as a missing file.  Invariants: every entry handed on has a key
 * of 1..ADDRESS_PATH_MAX bytes and a value that alias_parse accepts with
 * 1..ALIAS_TARGETS_MAX targets, none of them an :include:; a failure
 * names a line of the input (or 0) and a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "alias.h"
#include "alias_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	const char *input;
	size_t size;
};

static int fuzz_entry(void *ctx, const char *key, size_t key_len, const char *value, size_t value_len,
		      const char **error_r)
{
	struct alias_list list = { 0 };
	const char *error;

	(void)ctx;
	(void)error_r;
	if (key_len == 0 || key_len > ADDRESS_PATH_MAX || value_len == 0 || value_len > ALIAS_VALUE_MAX)
		abort();
	if (alias_parse(value, value_len, &list, &error) != 0 || list.n == 0 || list.n > ALIAS_TARGETS_MAX)
		abort();
	for (size_t i = 0; i < list.n; i++)
		if (list.t[i].kind == ALIAS_ADDRESS && list.t[i].text[0] == ':')
			abort();
	alias_list_free(&list);
	return 0;
}

static int fuzz_include(void *ctx, const char *path, struct buf *text_r, const char **error_r)
{
	const struct fuzz_ctx *f = ctx;

	if (strncmp(path, "/self", 5) == 0)
		return buf_append(text_r, f->input, f->size);
	if (strncmp(path, "/list", 5) == 0)
		return buf_append_str(text_r, "# list\nalice@example.test, bob\n  carol\n");
	*error_r = "No such file or directory";
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the length. */
	char *s = malloc(size ? size : 1);
	struct fuzz_ctx f = { .input = s, .size = size };
	struct alias_file_hooks hooks = { .entry = fuzz_entry, .include = fuzz_include, .ctx = &f };
	struct alias_file_error err;
	size_t lines = 1;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	for (size_t i = 0; i < size; i++)
		lines += s[i] == '\n';
	if (alias_file_parse(s, size, &hooks, &err) != 0 &&
	    (err.line > lines || err.msg[0] == '\0' || memchr(err.msg, '\0', sizeof err.msg) == NULL))
		abort();
	free(s);
	return 0;
}
