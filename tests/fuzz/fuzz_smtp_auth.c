/* libFuzzer target for the extension value codecs of common/smtp_cmd.c:
 * strict base64 (AUTH), the PLAIN message split, xtext (DSN ENVID and
 * ORCPT), NOTIFY lists and the BDAT argument, all on the same bytes.
 * Checks: results stay inside their caps, a decoded base64 re-encodes to
 * the input (strictness: one encoding per value), PLAIN parts lie inside
 * the message, xtext output is printable, NOTIFY output is canonical. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "smtp_cmd.h"

static void fuzz_base64(const char *in, size_t size)
{
	struct buf dec, enc;

	buf_init(&dec, 4096);
	buf_init(&enc, 8192);
	if (smtp_base64_decode(in, size, &dec) == 0) {
		if (dec.len > dec.max || smtp_base64_encode(dec.data, dec.len, &enc) < 0 ||
		    enc.len != size || (size > 0 && memcmp(enc.data, in, size) != 0))
			abort();
		const char *az, *u, *pw;
		size_t azl, ul, pwl;
		if (smtp_auth_plain_split(dec.data != NULL ? dec.data : "", dec.len, &az, &azl, &u, &ul,
					  &pw, &pwl) == 0 &&
		    (azl + ul + pwl + 2 != dec.len || ul == 0 || pwl == 0))
			abort();
	}
	buf_free(&dec);
	buf_free(&enc);
}

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

	fuzz_base64(in, size);
	fuzz_xtext(in, size);
	fuzz_notify_bdat(in, size);
	return 0;
}
