/* libFuzzer target for common/dkim_tags.c: a parsed list has valid
 * names (ALPHA *ALNUMPUNC), no two alike, values inside the input where
 * value_off says, without ';' and without white space at either end;
 * a failed parse leaves no tags. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim_tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static void check_tag(const char *s, size_t size, const struct dkim_tag *t)
{
	if (t->name_len == 0 || t->name < s || t->name + t->name_len > s + size)
		abort();
	for (size_t k = 0; k < t->name_len; k++) {
		char c = t->name[k];
		int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		if (!alpha && (k == 0 || !((c >= '0' && c <= '9') || c == '_')))
			abort();
	}
	if (t->value != s + t->value_off || t->value_off + t->value_len > size)
		abort();
	if (memchr(t->value, ';', t->value_len) != NULL)
		abort();
	if (t->value_len > 0 && (is_space(t->value[0]) || is_space(t->value[t->value_len - 1])))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct dkim_tags *tags = malloc(sizeof(*tags));
	struct buf out;

	if (tags == NULL)
		return 0;
	buf_init(&out, 1 << 16);
	if (dkim_tags_parse(s, size, tags) < 0) {
		if (tags->n != 0)
			abort();
	} else {
		if (tags->n == 0 || tags->n > DKIM_TAGS_MAX)
			abort();
		for (size_t i = 0; i < tags->n; i++) {
			check_tag(s, size, &tags->tag[i]);
			for (size_t j = 0; j < i; j++)
				if (tags->tag[j].name_len == tags->tag[i].name_len &&
				    memcmp(tags->tag[j].name, tags->tag[i].name, tags->tag[i].name_len) == 0)
					abort();
			buf_reset(&out);
			if (dkim_tag_value_compact(&tags->tag[i], &out) < 0 || out.len > tags->tag[i].value_len)
				abort();
		}
	}
	buf_free(&out);
	free(tags);
	return 0;
}
