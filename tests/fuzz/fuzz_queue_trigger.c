/* libFuzzer target for common/queue_trigger.c: arbitrary bytes from a
 * trigger connection, fed whole and again in two pieces split where the
 * first byte says.  Every name given must be a queue ID, and the names
 * and flags must not depend on where a read happened to split the
 * bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue_trigger.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAMES_MAX 4096

struct names {
	size_t n;
	char id[NAMES_MAX][QUEUEFILE_ID_MAX + 1];
};

static struct names whole, pieces;

static void named(void *arg, const char *id)
{
	struct names *ns = arg;
	size_t len = strlen(id);

	if (!queuefile_id_valid(id, len) || ns->n == NAMES_MAX)
		abort();
	memcpy(ns->id[ns->n++], id, len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queue_trigger_in a = { 0 }, b = { 0 };
	unsigned fa, fb;
	size_t cut;

	if (size == 0 || size > 2 * NAMES_MAX)
		return 0;
	cut = data[0] % size;
	data++;
	size--;
	if (cut > size)
		cut = size;
	whole.n = pieces.n = 0;
	fa = queue_trigger_feed(&a, (const char *)data, size, named, &whole);
	fb = queue_trigger_feed(&b, (const char *)data, cut, named, &pieces);
	fb |= queue_trigger_feed(&b, (const char *)data + cut, size - cut, named, &pieces);
	if (fa != fb || whole.n != pieces.n || queue_trigger_partial(&a) != queue_trigger_partial(&b))
		abort();
	for (size_t i = 0; i < whole.n; i++)
		if (strcmp(whole.id[i], pieces.id[i]) != 0)
			abort();
	if ((fa & ~(QUEUE_TRIGGER_WAKE | QUEUE_TRIGGER_FLUSH)) != 0 ||
	    ((fa & QUEUE_TRIGGER_FLUSH) && !(fa & QUEUE_TRIGGER_WAKE)))
		abort();
	return 0;
}
