/* libFuzzer target for common/access_map.c: the first byte picks the kind
 * of item (address, domain, e-mail address), the rest is the item, as
 * the network gives it.  Checks the key walk: every key is
 * NUL-terminated at its length, never longer than the item plus "<>",
 * never empty, and the series is bounded; the bytes also go through the
 * map value parser, whose accepted actions must be ones smtpd carries
 * out with a code of the right class. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "access_map.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct walk {
	size_t item_len, count;
};

static int fuzz_key(void *arg, const char *key, size_t len)
{
	struct walk *w = arg;

	if (len == 0 || strlen(key) != len || len > w->item_len + 40)
		abort();
	if (++w->count > ACCESS_ITEM_MAX + 16)
		abort();
	return 0;
}

static void fuzz_action(const char *p, size_t len)
{
	struct policy_action a;

	if (access_action_parse(p, len, &a) < 0)
		return;
	switch (a.verdict) {
	case POLICY_REJECT:
		if (a.code < 500 || a.code > 599)
			abort();
		break;
	case POLICY_DEFER:
		if (a.code < 400 || a.code > 499)
			abort();
		break;
	case POLICY_OK: case POLICY_DUNNO: case POLICY_HOLD: case POLICY_DISCARD:
		break;
	default:
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct walk w = { 0, 0 };

	if (size == 0)
		return 0;
	w.item_len = size - 1;
	(void)access_keys((enum access_kind)(data[0] % 3), (const char *)data + 1, size - 1, fuzz_key, &w);
	fuzz_action((const char *)data + 1, size - 1);
	return 0;
}
