/* libFuzzer target for common/milter_proto.c: any bytes as what a milter
 * sends, split into packets and decoded one after another as smtpd reads
 * them.  Checks what smtpd relies on: a packet never takes more than it
 * was given, every decoded string ends inside its packet, a reply code
 * is 4xx or 5xx, ESMTP arguments end with their NUL. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "milter_proto.h"

/* s must be a string that ends inside [pkt, pkt + len). */
static void fuzz_inside(const char *s, const char *pkt, size_t len)
{
	if (s == NULL)
		return;
	if (s < pkt || s >= pkt + len || memchr(s, '\0', (size_t)(pkt + len - s)) == NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;

	while (size > 0) {
		struct milter_reply r;
		const char *pkt, *err;
		size_t len, used;

		if (milter_packet_split(p, size, 4096, &pkt, &len, &used) != 1)
			break;
		if (used > size || len == 0 || pkt + len > p + size)
			abort();
		if (milter_reply_parse(pkt, len, &r, &err) == 0) {
			fuzz_inside(r.name, pkt, len);
			fuzz_inside(r.value, pkt, len);
			fuzz_inside(r.addr, pkt, len);
			fuzz_inside(r.text, pkt, len);
			for (int i = 0; i < MILTER_STAGES; i++)
				fuzz_inside(r.macros[i], pkt, len);
			if (r.code == MILTER_R_REPLYCODE && (r.smtp_code < 400 || r.smtp_code > 599))
				abort();
			if (r.args_len > 0 && r.args[r.args_len - 1] != '\0')
				abort();
			if (r.data != NULL && r.data + r.data_len > pkt + len)
				abort();
		}
		p += used;
		size -= used;
	}
	return 0;
}
