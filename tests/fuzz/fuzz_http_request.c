/* libFuzzer target for common/http_request.c: any bytes as the head of
 * a request to the metrics service, parsed as it arrives (every prefix)
 * and whole.  Checks the invariants the service relies on: a status of
 * 200, 400, 404 or 405 only, a path within its cap that is the served
 * one exactly when the status is 200, and no answer before the empty
 * line unless the status is 400. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_request.h"

static void fuzz_check(const struct http_request *r)
{
	if (r->status != 200 && r->status != 400 && r->status != 404 && r->status != 405)
		abort();
	if (strnlen(r->path, sizeof r->path) >= sizeof r->path)
		abort();
	if ((r->status == 200) != (strcmp(r->path, "/metrics") == 0 && r->status != 400 && r->status != 405))
		abort();
	if (r->status == 400 && (r->path[0] != '\0' || r->head || r->openmetrics))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request r;
	char *copy = malloc(size + 1);   /* exactly size bytes readable, as from recv */

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	for (size_t n = 0; n <= size; n++) {
		int ret = http_request_parse(copy, n, "/metrics", &r);
		if (ret != 0 && ret != 1)
			abort();
		if (ret == 1) {
			fuzz_check(&r);
			break;   /* the service answers at the first complete head */
		}
	}
	free(copy);
	return 0;
}
