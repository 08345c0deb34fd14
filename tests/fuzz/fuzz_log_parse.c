/* libFuzzer target for common/log_parse.c: every line of the input goes
 * through log_parse_line (two syslog names), and each text it finds
 * through log_parse_queue_id and log_parse_next_id; the parts must lie
 * inside the line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any read past the length. */
	char *s = malloc(size ? size : 1), id[LOG_PARSE_ID_MAX + 1];
	static const char *const names[] = { "postern", "postfix/out" };

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	for (size_t k = 0; k < 2; k++) {
		struct log_parse_line l;

		if (!log_parse_line(s, size, names[k], &l))
			continue;
		if (l.service < s || l.service + l.service_len > s + size || l.text < s ||
		    l.text + l.text_len != s + size || l.pid < 0)
			abort();
		size_t n = log_parse_queue_id(l.text, l.text_len);
		if (n > LOG_PARSE_ID_MAX || (n > 0 && n + 2 > l.text_len))
			abort();
		if (log_parse_next_id(l.text, l.text_len, id) && (strlen(id) < 5 || strlen(id) > LOG_PARSE_ID_MAX))
			abort();
	}
	free(s);
	return 0;
}
