/* libFuzzer target for common/record.c: record_parse on arbitrary bytes;
 * a parsed record must re-encode and parse back to the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(const struct record *rec)
{
	struct record again = { 0 };
	struct buf out;
	const char *error;
	size_t used;

	buf_init(&out, 64 * 1024 * 1024);
	for (size_t i = 0; i < rec->n; i++)
		if (record_put(&out, rec->fields[i].key, rec->fields[i].value, rec->fields[i].value_len) < 0)
			abort();
	if (record_end(&out) < 0 || record_parse(out.data, out.len, &again, &used, &error) < 0)
		abort();
	if (used != out.len || again.n != rec->n)
		abort();
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(again.fields[i].key, rec->fields[i].key) != 0 ||
		    again.fields[i].value_len != rec->fields[i].value_len ||
		    memcmp(again.fields[i].value, rec->fields[i].value, rec->fields[i].value_len) != 0)
			abort();
	record_clear(&again);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct record rec = { 0 };
	unsigned long long v;
	const char *error;
	size_t used;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (record_parse(s, size, &rec, &used, &error) == 0) {
		if (used > size)
			abort();
		(void)record_get_num(&rec, "size", &v);
		roundtrip(&rec);
	}
	record_clear(&rec);
	free(s);
	return 0;
}
