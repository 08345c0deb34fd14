/* libFuzzer target for the operator-map parsers of common/recipient.c and
 * common/lmtp_client.c: any bytes as a transport map value, as an LMTP
 * destination and as an address to split.  Checks that a destination
 * taken has a NUL-terminated host or path within bounds and a port in
 * 1..65535, and that a split address keeps its parts inside the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lmtp_client.h"
#include "recipient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *error;
	struct lmtp_dest d;
	struct recipient_parts p;
	struct buf dest;

	buf_init(&dest, RECIPIENT_TRANSPORT_MAX);
	if (recipient_transport_parse(s, size, &dest, &error) == 1 && dest.len == 0)
		abort();
	buf_free(&dest);
	if (lmtp_dest_parse(s, size, &d, &error) == 0) {
		if (d.is_unix ? strnlen(d.path, sizeof d.path) >= sizeof d.path
			      : strnlen(d.host, sizeof d.host) >= sizeof d.host || d.port == 0 || d.port > 65535)
			abort();
	}
	if (recipient_split(s, size, "+-", &p) == 0) {
		if (strlen(p.local) + strlen(p.domain) + 1 != size)
			abort();
		if (p.tag != NULL && strlen(p.base) + 1 + strlen(p.tag) != strlen(p.local))
			abort();
	}
	return 0;
}
