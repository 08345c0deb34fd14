/* libFuzzer target for common/base64.c and common/sasl.c, the decoding
 * of SASL responses shared by SMTP AUTH, POP3 AUTH and the IMAP login:
 * the input as a response line, as an initial response, and (raw) as a
 * PLAIN message and as LOGIN values.  Checks: results stay inside their
 * caps, a decoded value re-encodes to the input (strict: one encoding
 * per value), an accepted PLAIN message gives a user and password within
 * their limits, without NUL, that occur in the message as its parts. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "sasl.h"

static void fuzz_plain(const char *msg, size_t len)
{
	struct buf u, p;

	buf_init(&u, SASL_MESSAGE_MAX);
	buf_init(&p, SASL_MESSAGE_MAX);
	if (sasl_plain_parse(msg, len, &u, &p) == SASL_OK) {
		const char *nul = memchr(msg, '\0', len);
		if (u.len == 0 || p.len == 0 || u.len > SASL_USER_MAX || p.len > SASL_PASSWORD_MAX ||
		    memchr(u.data, '\0', u.len) != NULL || memchr(p.data, '\0', p.len) != NULL ||
		    nul == NULL || (size_t)(nul - msg) + u.len + p.len + 2 != len ||
		    memcmp(nul + 1, u.data, u.len) != 0 || memcmp(msg + len - p.len, p.data, p.len) != 0)
			abort();
	} else if (u.len != 0 || p.len != 0) {
		abort();
	}
	if (sasl_login_check(&u, &p) == SASL_OK && (u.len == 0 || p.len == 0))
		abort();
	buf_free(&u);
	buf_free(&p);
}

static void fuzz_decode(const char *in, size_t size)
{
	struct buf dec, enc;
	enum sasl_status st;

	buf_init(&dec, SASL_MESSAGE_MAX);
	buf_init(&enc, 2 * SASL_MESSAGE_MAX + 8);
	if (base64_decode_strict(in, size, &dec) == 0 &&
	    (dec.len > dec.max || base64_encode(dec.data, dec.len, &enc) < 0 || enc.len != size ||
	     (size > 0 && memcmp(enc.data, in, size) != 0)))
		abort();
	buf_reset(&dec);
	st = sasl_response_decode(in, size, &dec);
	if (st == SASL_OK)
		fuzz_plain(dec.data, dec.len);
	else if (st != SASL_CANCEL && st != SASL_BAD)
		abort();
	buf_reset(&dec);
	st = sasl_initial_decode(in, size, &dec);
	if (st != SASL_OK && st != SASL_BAD)
		abort();
	buf_free(&dec);
	buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	fuzz_decode(in, size);
	fuzz_plain(size > 0 ? in : NULL, size);
	(void)sasl_mech_parse(in, size);
	return 0;
}
