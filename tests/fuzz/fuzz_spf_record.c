/* libFuzzer target for common/spf_record.c: a record that parses has at
 * most SPF_TERMS_MAX terms whose domain-specs and modifiers lie inside
 * the input and expand (with fixed macro values) within the cap, or
 * fail cleanly; CIDR lengths are in range.  The input is also expanded
 * as an explanation string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spf_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct spf_macro_vars vars = {
	.sender = "strong-bad@email.example.com", .local = "strong-bad",
	.sender_domain = "email.example.com", .domain = "email.example.com",
	.ip_dotted = "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2",
	.ip_text = "2001:db8::cb01", .ip_version = "ip6", .helo = "mx.example.org",
	.receiver = "mx.example.net", .time = "1234567890",
};

static void inside(const char *s, size_t size, const char *p, size_t len)
{
	if (p != NULL && (p < s || p + len > s + size))
		abort();
}

static void expand(const char *p, size_t len, int explain)
{
	struct buf out;
	const char *err;

	buf_init(&out, SPF_EXPAND_MAX);
	if (spf_macro_expand(p, len, &vars, explain, &out, &err) == 0 && out.len > SPF_EXPAND_MAX)
		abort();
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct spf_record *rec = malloc(sizeof(*rec));
	const char *err;

	if (rec == NULL)
		return 0;
	if (spf_record_parse(s, size, rec, &err) == 0) {
		if (rec->n > SPF_TERMS_MAX || !spf_record_is_spf1(s, size))
			abort();
		for (size_t i = 0; i < rec->n; i++) {
			const struct spf_term *t = &rec->term[i];
			if (t->cidr4 > 32 || t->cidr6 > 128)
				abort();
			inside(s, size, t->spec, t->spec_len);
			if (t->spec != NULL)
				expand(t->spec, t->spec_len, 0);
		}
		inside(s, size, rec->redirect, rec->redirect_len);
		inside(s, size, rec->exp, rec->exp_len);
		if (rec->redirect != NULL)
			expand(rec->redirect, rec->redirect_len, 0);
	} else if (rec->n != 0) {
		abort();
	}
	expand(s, size, 1);
	free(rec);
	return 0;
}
