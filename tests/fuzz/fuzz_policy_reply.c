/* libFuzzer target for common/policy_reply.c: any bytes as a policy
 * server's answers, parsed one after another as smtpd reads them, each
 * action then parsed.  Checks what smtpd relies on: an answer never
 * takes more than it was given, the action and its text are printable
 * ASCII under their caps, a REJECT/DEFER carries a code of its class and
 * a DSN of the same class. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy_reply.h"

static void fuzz_check_action(const char *action)
{
	struct policy_action a;
	size_t n;

	if (policy_action_parse(action, strlen(action), &a) < 0 && a.verdict != POLICY_UNSUPPORTED)
		abort();
	n = strnlen(a.text, sizeof(a.text));
	if (n == sizeof(a.text))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)a.text[i] < 0x09 || (unsigned char)a.text[i] > 0x7e)
			abort();
	if (a.verdict == POLICY_REJECT && (a.code < 500 || a.code > 599))
		abort();
	if (a.verdict == POLICY_DEFER && (a.code < 400 || a.code > 499))
		abort();
	if (a.dsn[0] != '\0' && a.dsn[0] - '0' != a.code / 100)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	char action[POLICY_REPLY_MAX];
	size_t used;

	while (size > 0) {
		if (policy_reply_parse(p, size, action, sizeof(action), &used) != 1)
			break;
		if (used == 0 || used > size)
			abort();
		fuzz_check_action(action);
		p += used;
		size -= used;
	}
	return 0;
}
