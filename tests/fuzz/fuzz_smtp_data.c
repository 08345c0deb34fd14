/* libFuzzer target for common/smtp_data.c: any bytes as message content,
 * split into lines at LF as stream_read_line does (a 0xff byte stands
 * for an overlong line).  Checks the invariants the smuggling defence
 * rests on: the end is found only at <CRLF>.<CRLF>, the output is a range
 * of the input, the stored size adds up, and a bare LF is always
 * flagged. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct smtp_data sd;
	unsigned long long stored = 0;
	size_t pos = 0;
	int prev_crlf = 1, saw_bare_lf = 0;

	smtp_data_init(&sd);
	while (pos < size) {
		const char *lf = memchr(in + pos, '\n', size - pos);
		size_t len = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : size - pos;
		const char *o;
		size_t olen;
		int add;

		if (len == 1 && in[pos] == (char)0xff) {
			smtp_data_toolong(&sd, 1);   /* an overlong CRLF line */
			prev_crlf = 1;
			pos += len;
			continue;
		}
		if (smtp_data_line(&sd, in + pos, len, &o, &olen, &add) == SMTP_DATA_END) {
			if (!prev_crlf || len != 3 || memcmp(in + pos, ".\r\n", 3) != 0)
				abort();
			break;
		}
		if (o < in + pos || o + olen > in + pos + len)
			abort();
		stored += olen + (size_t)add;
		int crlf = len >= 2 && in[pos + len - 1] == '\n' && in[pos + len - 2] == '\r';
		if (len >= 1 && in[pos + len - 1] == '\n' && !crlf)
			saw_bare_lf = 1;
		prev_crlf = crlf;
		pos += len;
	}
	if (stored != sd.size || (saw_bare_lf && !sd.bare_newline))
		abort();
	return 0;
}
