/* fuzz_dovecot_uidlist: libFuzzer target for common/dovecot_uidlist.  The
 * input is a dovecot-uidlist file.  Every input must parse or fail without
 * reading past its length (ASan checks); a file that parses must keep the
 * invariants the store relies on (UIDs strictly ascending and in range,
 * the next UID above them, names and fields inside the text, end at a
 * line end), and what the writer makes of it must parse back to the same
 * header and records.  The same bytes are also fed to the tail parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dovecot_uidlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const char *p, size_t n, const char *text, size_t size)
{
	return p == NULL ? n == 0 : p >= text && p + n <= text + size;
}

static void check(const struct dovecot_uidlist *ul, const char *text, size_t size, uint32_t after)
{
	uint32_t prev = after;

	if (ul->n > DOVECOT_UIDLIST_RECORDS_MAX || ul->end > size ||
	    (ul->end > 0 && text[ul->end - 1] != '\n') || !inside(ul->hdr.fields, ul->hdr.fields_len, text, size))
		abort();
	for (size_t i = 0; i < ul->n; i++) {
		const struct dovecot_uidlist_rec *r = &ul->recs[i];

		if (r->uid <= prev || r->uid > DOVECOT_UIDLIST_UID_MAX || r->base_len == 0 ||
		    r->base_len > r->name_len || r->name_len > DOVECOT_UIDLIST_NAME_MAX ||
		    !inside(r->name, r->name_len, text, ul->end) || !inside(r->fields, r->fields_len, text, ul->end) ||
		    memchr(r->name, ':', r->base_len) != NULL || memchr(r->name, '/', r->name_len) != NULL ||
		    memchr(r->name, '\n', r->name_len) != NULL)
			abort();
		prev = r->uid;
	}
	if (ul->n > 0 && ul->nextuid <= prev)
		abort();
	if (ul->nextuid < ul->hdr.nextuid)
		abort();
}

/* Write ul out and parse it back: the same header and records. */
static void round_trip(const struct dovecot_uidlist *ul)
{
	struct dovecot_uidlist back;
	const char *err;
	struct buf b;

	buf_init(&b, (size_t)64 << 20);
	if (dovecot_uidlist_write_header(&b, &ul->hdr) < 0)
		abort();
	for (size_t i = 0; i < ul->n; i++)
		if (dovecot_uidlist_write_record(&b, &ul->recs[i]) < 0)
			abort();
	if (dovecot_uidlist_parse(b.data, b.len, &back, &err) < 0 || back.end != b.len || back.n != ul->n ||
	    back.nextuid != ul->nextuid || back.hdr.uidvalidity != ul->hdr.uidvalidity ||
	    back.hdr.nextuid != ul->hdr.nextuid || back.hdr.has_guid != ul->hdr.has_guid ||
	    memcmp(back.hdr.guid, ul->hdr.guid, sizeof(back.hdr.guid)) != 0)
		abort();
	for (size_t i = 0; i < ul->n; i++) {
		const struct dovecot_uidlist_rec *a = &ul->recs[i], *c = &back.recs[i];
		if (a->uid != c->uid || a->base_len != c->base_len || c->name_len != c->base_len ||
		    memcmp(a->name, c->name, a->base_len) != 0 || a->has_vsize != c->has_vsize ||
		    a->vsize != c->vsize || a->has_size != c->has_size || a->size != c->size)
			abort();
	}
	dovecot_uidlist_free(&back);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size > 0 ? size : 1);   /* exactly size bytes */
	struct dovecot_uidlist ul;
	const char *err = NULL;

	if (text == NULL)
		return 0;
	if (size > 0)
		memcpy(text, data, size);
	if (dovecot_uidlist_parse(text, size, &ul, &err) == 0) {
		if (ul.hdr.uidvalidity == 0 || ul.hdr.nextuid == 0)
			abort();
		check(&ul, text, size, 0);
		round_trip(&ul);
		dovecot_uidlist_free(&ul);
	} else if (err == NULL || ul.recs != NULL || ul.n != 0) {
		abort();
	}
	err = NULL;
	if (dovecot_uidlist_parse_tail(text, size, 0, &ul, &err) == 0) {
		if (ul.hdr.uidvalidity != 0)
			abort();
		check(&ul, text, size, 0);
		dovecot_uidlist_free(&ul);
	} else if (err == NULL || ul.recs != NULL) {
		abort();
	}
	free(text);
	return 0;
}
