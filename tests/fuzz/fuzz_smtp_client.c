/* libFuzzer target for common/smtp_client.c's reply reader, the one both
 * the remote SMTP client and the LMTP client read servers with: any bytes
 * arrive through a socketpair (the peer then hangs up) and are read reply
 * after reply by smtp_client_read_reply until it fails, the way LMTP reads
 * one reply per recipient after the final dot.  Then the status and
 * reason of each reply (smtp_reply_dsn, smtp_reply_said).  Checks: a
 * reply has a code in 200..599 and at most SMTP_REPLY_LINES_MAX lines,
 * every failure names itself, the status has the reply's class or is
 * X.0.0, and the reason stays within its buffer and is NUL-ended.
 * (fuzz_smtp_reply covers the in-memory parser.) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_check(const struct smtp_reply *r)
{
	const char *dsn = smtp_reply_dsn(r), *fail = smtp_reply_dsn_failure(r);
	/* no class 3 status exists: a 3xx reads as a temporary failure */
	char want = r->code / 100 == 3 ? '4' : (char)('0' + r->code / 100);
	char said[256];

	if (r->code < 200 || r->code > 599 || r->nlines == 0 || r->nlines > SMTP_REPLY_LINES_MAX)
		abort();
	if (dsn[0] != want || (dsn != r->enh && strcmp(dsn + 1, ".0.0") != 0))
		abort();
	if (fail[0] != '4' && fail[0] != '5')
		abort();
	memset(said, 'x', sizeof said);
	smtp_reply_said(r, "host h", "DATA", 160, said, sizeof said);
	if (memchr(said, '\0', sizeof said) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	struct stream *s;
	const char *error;
	int sv[2];

	/* Within one socket buffer, so that the write cannot block. */
	if (size > 100000 || socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[1]);
	s = stream_new(sv[0], sv[0], SMTP_CLIENT_LINE_MAX, 1000);
	if (s != NULL) {
		smtp_reply_init(&r);
		for (;;) {
			error = NULL;
			if (smtp_client_read_reply(s, &r, &error) < 0) {
				if (error == NULL || error[0] == '\0')
					abort();
				break;
			}
			fuzz_check(&r);
		}
		smtp_reply_free(&r);
		stream_free(&s);
	}
	close(sv[0]);
	return 0;
}
