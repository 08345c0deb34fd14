/* libFuzzer target for common/mailq.c: mailq_get on any record (what
 * sendmail -bp reads from pickup); an accepted entry must survive
 * mailq_put and mailq_get again unchanged, and print in both formats. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void roundtrip(const struct mailq_entry *e)
{
	struct record rec = { 0 };
	struct mailq_entry again;
	struct buf out;
	const char *error;
	size_t used;
	FILE *f = fopen("/dev/null", "w");

	if (f != NULL) {
		mailq_text(f, e);
		(void)mailq_postfix(f, e, 1);
		fclose(f);
	}
	buf_init(&out, 64 * 1024 * 1024);
	if (mailq_put(&out, e) < 0 || record_parse(out.data, out.len, &rec, &used, &error) < 0 ||
	    mailq_get(&rec, &again, &error) < 0)
		abort();
	if (!same(again.id, e->id) || !same(again.state, e->state) || !same(again.error, e->error))
		abort();
	if (e->error == NULL &&
	    (!same(again.sender, e->sender) || again.size != e->size || again.arrival != e->arrival ||
	     again.next_try != e->next_try || again.kind != e->kind || again.attempts != e->attempts ||
	     again.nrcpt != e->nrcpt || again.rcpt_more != e->rcpt_more))
		abort();
	for (size_t i = 0; e->error == NULL && i < e->nrcpt; i++)
		if (!same(again.rcpt[i].status, e->rcpt[i].status) || !same(again.rcpt[i].addr, e->rcpt[i].addr) ||
		    !same(again.rcpt[i].reason, e->rcpt[i].reason))
			abort();
	mailq_entry_free(&again);
	record_clear(&rec);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct record rec = { 0 };
	struct mailq_entry e;
	const char *error;
	size_t used;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (record_parse(s, size, &rec, &used, &error) == 0 && mailq_get(&rec, &e, &error) == 0) {
		roundtrip(&e);
		mailq_entry_free(&e);
	}
	record_clear(&rec);
	free(s);
	return 0;
}
