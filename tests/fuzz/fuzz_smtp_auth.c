/* libFuzzer target for the extension value codecs of common/smtp_cmd.c:
 * xtext (DSN ENVID and ORCPT), NOTIFY lists and the BDAT argument, all on
 * the same bytes (AUTH's base64 and PLAIN: fuzz_sasl.c).  Checks: results
 * stay inside their caps, xtext output is printable, NOTIFY output is
 * canonical. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_cmd.h"

static void fuzz_xtext(const char *in, size_t size)
{
	struct buf out;

	buf_init(&out, 512);
	if (smtp_xtext_decode(in, size, &out) == 0) {
		if (out.len > size)
			abort();
		for (size_t i = 0; i < out.len; i++)
			if ((unsigned char)out.data[i] < 0x20 || (unsigned char)out.data[i] > 0x7e)
				abort();
	}
	buf_free(&out);
}

static void fuzz_notify_bdat(const char *in, size_t size)
{
	char out[32], again[32];
	unsigned long long n;
	int last;

	if (smtp_notify_parse(in, size, out, sizeof(out)) == 0 &&
	    (smtp_notify_parse(out, strlen(out), again, sizeof(again)) != 0 || strcmp(out, again) != 0))
		abort();
	if (smtp_bdat_parse(in, size, &n, &last) == 0 && (n >= 1000000000000000000ULL || (last != 0 && last != 1)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	fuzz_xtext(in, size);
	fuzz_notify_bdat(in, size);
	return 0;
}
