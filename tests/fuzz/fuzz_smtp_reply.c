/* libFuzzer target for common/smtp_reply.c: any bytes as a server's
 * replies, parsed one after another the way the SMTP client reads them,
 * then the EHLO extension parser and the printable summary on each.
 * Checks the invariants the client relies on: a complete reply has a
 * code in 200..599, the kept text stays under its cap, the enhanced code
 * has the reply's class, and the summary is printable ASCII. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

static void fuzz_check(const struct smtp_reply *r)
{
	struct smtp_ext ext;
	struct buf sum;

	if (r->code < 200 || r->code > 599 || r->text.len > SMTP_REPLY_TEXT_MAX ||
	    r->nlines == 0 || r->nlines > SMTP_REPLY_LINES_MAX)
		abort();
	if (r->enh[0] != '\0' && r->enh[0] - '0' != r->code / 100)
		abort();
	smtp_reply_ehlo(r, &ext);
	buf_init(&sum, 512);
	if (smtp_reply_summary(r, &sum, 200) == 0)
		for (size_t i = 0; i < sum.len; i++)
			if ((unsigned char)sum.data[i] < 0x20 || (unsigned char)sum.data[i] >= 0x7f)
				abort();
	buf_free(&sum);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *err;
	struct smtp_reply r;
	size_t off = 0, used;

	smtp_reply_init(&r);
	while (off < size) {
		int ret = smtp_reply_parse(&r, p + off, size - off, &used, &err);
		if (ret != 0)
			break;
		if (used == 0 || used > size - off)
			abort();
		fuzz_check(&r);
		off += used;
		smtp_reply_reset(&r);
	}
	smtp_reply_free(&r);
	return 0;
}
