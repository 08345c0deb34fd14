/* libFuzzer target for the maildirsize parser (common/maildir_quota.c):
 * the file lives in a user's Maildir, so any bytes may be in it.  The
 * input is a whole file image; it also goes through the definition and
 * quota map value parsers.  Never a crash or a read past the input; a
 * definition that parses must format and parse back to the same limits,
 * and a parsed image never gives more usage than its digits can say. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maildir_quota.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void def_roundtrip(const struct maildir_quota *q)
{
	char line[MAILDIR_QUOTA_DEF_MAX];
	struct maildir_quota back;

	if (!maildir_quota_active(q))
		return;   /* "0S": nothing to round-trip to */
	if (maildir_quota_def_format(q, line, sizeof(line)) < 0 ||
	    maildir_quota_def_parse(line, strlen(line), &back) < 0 || back.bytes != q->bytes ||
	    back.messages != q->messages)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct maildir_quota q = { 7, 7 };
	struct maildir_usage u;
	const char *nl;

	if (size > MAILDIR_QUOTA_FILE_MAX * 2)
		return 0;
	/* Exact-size copies, so ASan sees any read past the end. */
	char *img = malloc(size > 0 ? size : 1);
	if (img == NULL)
		return 0;
	memcpy(img, p, size);
	if (maildir_quota_parse(img, size, &q, &u) == 0) {
		def_roundtrip(&q);
		if (memchr(img, '\n', size) == NULL)
			abort();   /* a definition needs its line end */
	}
	nl = size > 0 ? memchr(img, '\n', size) : NULL;
	if (maildir_quota_def_parse(img, nl != NULL ? (size_t)(nl - img) : size, &q) == 0)
		def_roundtrip(&q);
	q.bytes = q.messages = 5;
	if (maildir_quota_value_parse(img, size, &q) < 0 && (q.bytes != 5 || q.messages != 5))
		abort();   /* a refused value leaves the quota alone */
	free(img);
	return 0;
}
