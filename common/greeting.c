/* greeting: the protocols' greetings (greeting.h).
 *
 * Trusts: hostname, checked by the caller (myhostname: one word of at
 * most 255 bytes).  Fails: -1 when the text would not fit; never
 * truncates. */
#include "greeting.h"

#include <stdio.h>

int greeting_smtp(char *out, size_t len, const char *hostname)
{
	int n = snprintf(out, len, "220 %s ESMTP Postern", hostname);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}
