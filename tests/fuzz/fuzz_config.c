/* libFuzzer target for common/config.c: config_parse on arbitrary text;
 * after a successful parse every typed getter must work. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void touch(const char *key, const char *value, const char *doc, void *arg)
{
	(void)key;
	(void)doc;
	*(size_t *)arg += strlen(value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	const char *error;
	size_t total = 0;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (config_parse("fuzz", s, size, &error) == 0) {
		(void)config_size("message_size_limit");
		(void)config_time("maximal_queue_lifetime");
		config_each(touch, &total);
	}
	free(s);
	return 0;
}
