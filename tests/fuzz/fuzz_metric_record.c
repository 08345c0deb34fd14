/* libFuzzer target for common/metric.c and common/metric_store.c: any
 * bytes as datagrams to the metrics service (split at each 0 byte, both
 * as from the master and from a child), then the text of the store in
 * both formats, and the bytes as a store left by a previous process
 * (metric_store_adopt).  Checks that a record that parses has a known event or
 * a service name of the allowed characters, and that the text always
 * fits and ends as its format says. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metric.h"
#include "metric_store.h"

static struct metric_store fuzz_store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct metric_queue q[QUEUE_SCAN_STATES] = { { 1, { 3, 1000, 1 } } };
	struct buf out;

	metric_store_init(&fuzz_store);
	while (p <= end) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t n = z != NULL ? (size_t)(z - p) : (size_t)(end - p);
		struct metric_record r;

		if (metric_record_parse(p, n, &r) == 0) {
			if (r.kind == METRIC_RECORD_EVENT && metric_event_name(r.event) == NULL)
				abort();
			if (r.service[0] == '\0' || strspn(r.service, "abcdefghijklmnopqrstuvwxyz"
					"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(r.service))
				abort();
		}
		metric_store_take(&fuzz_store, p, n, n % 2);
		p += n + 1;
	}
	/* the bytes as a store a previous process left: adopted or emptied,
	 * then rendered like any other */
	static struct metric_store left;
	memset(&left, 0, sizeof left);
	memcpy(&left, data, size < sizeof left ? size : sizeof left);
	metric_store_adopt(&left);
	buf_init(&out, 1024 * 1024);
	if (metric_store_text(&left, NULL, 2000, 1, &out) < 0)
		abort();
	buf_free(&out);
	for (int om = 0; om < 2; om++) {
		buf_init(&out, 1024 * 1024);
		if (metric_store_text(&fuzz_store, q, 2000, om, &out) < 0)
			abort();
		if (om && (out.len < 6 || memcmp(out.data + out.len - 6, "# EOF\n", 6) != 0))
			abort();
		buf_free(&out);
	}
	return 0;
}
