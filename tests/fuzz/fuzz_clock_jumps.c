/* libFuzzer target for common/clock_jumps.c: clock_jumps_parse on any
 * bytes (what qmgr reads from queue/clock-jumps at start).  An accepted
 * ledger holds at most CLOCK_JUMPS_MAX positive steps, formats back to
 * text that parses to the same steps, and gives ages that never exceed
 * the plain wall-clock difference. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock_jumps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct clock_jumps cj, back;
	char text[CLOCK_JUMPS_FILE_MAX];
	size_t len;

	if (size > CLOCK_JUMPS_FILE_MAX)
		return 0;
	clock_jumps_init(&cj);
	if (clock_jumps_parse(&cj, (const char *)data, size) < 0) {
		if (cj.n != 0)
			abort();
		return 0;
	}
	if (cj.n > CLOCK_JUMPS_MAX)
		abort();
	for (size_t i = 0; i < cj.n; i++)
		if (cj.j[i].delta <= 0)
			abort();
	len = clock_jumps_format(&cj, text, sizeof(text));
	clock_jumps_init(&back);
	if (len == 0 || clock_jumps_parse(&back, text, len) < 0 || back.n != cj.n ||
	    memcmp(back.j, cj.j, cj.n * sizeof(cj.j[0])) != 0)
		abort();
	for (size_t i = 0; i < cj.n; i++) {
		long long a = cj.j[i].before;

		if (a > -__LONG_LONG_MAX__ + 1000 && a < __LONG_LONG_MAX__ - 1000 &&
		    clock_jumps_age(&cj, a - 1, a + 999) > 1000)
			abort();
	}
	return 0;
}
