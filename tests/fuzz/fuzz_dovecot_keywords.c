/* fuzz_dovecot_keywords: libFuzzer target for common/dovecot_keywords.
 * The input is a dovecot-keywords file.  Every input must parse or fail
 * without reading past its length (ASan checks); a table that parses must
 * hold only valid keywords, each found again by its name (in any case),
 * and what the writer makes of it must parse back to the same table.  The
 * input is also tried as one keyword to add. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dovecot_keywords.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct dovecot_keywords *kw)
{
	struct dovecot_keywords back;
	const char *err;
	struct buf b;

	for (char c = 'a'; c <= 'z'; c++) {
		size_t len;
		const char *name = dovecot_keywords_name(kw, c, &len);
		char upper[DOVECOT_KEYWORD_LEN_MAX];

		if (name == NULL)
			continue;
		if (!dovecot_keyword_ok(name, len) || strlen(name) != len || dovecot_keywords_letter(kw, name, len) != c)
			abort();
		for (size_t i = 0; i < len; i++)
			upper[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 32) : name[i];
		if (dovecot_keywords_letter(kw, upper, len) != c)
			abort();
	}
	buf_init(&b, DOVECOT_KEYWORDS_FILE_MAX);
	if (dovecot_keywords_write(kw, &b) < 0 || dovecot_keywords_parse(b.data, b.len, &back, &err) < 0 ||
	    memcmp(back.len, kw->len, sizeof(back.len)) != 0)
		abort();
	for (size_t i = 0; i < DOVECOT_KEYWORDS_MAX; i++)
		if (memcmp(back.name[i], kw->name[i], kw->len[i]) != 0)
			abort();
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size > 0 ? size : 1);   /* exactly size bytes */
	struct dovecot_keywords kw;
	const char *err = NULL;
	char letter = 0;
	int r;

	if (text == NULL)
		return 0;
	if (size > 0)
		memcpy(text, data, size);
	if (dovecot_keywords_parse(text, size, &kw, &err) == 0)
		check(&kw);
	else if (err == NULL || dovecot_keywords_name(&kw, 'a', NULL) != NULL)
		abort();
	/* The input as a keyword: added exactly when it is one. */
	dovecot_keywords_init(&kw);
	r = dovecot_keywords_add(&kw, text, size, &letter, &err);
	if (r != (dovecot_keyword_ok(text, size) ? 1 : -1) || (r == 1 && letter != 'a'))
		abort();
	if (r == 1)
		check(&kw);
	free(text);
	return 0;
}
