/* libFuzzer target for common/imap_hibernate_state.c: arbitrary bytes
 * as a record, then as the state of a hibernated IMAP session.  A state
 * the reader accepts must write and read back to the same state (or be
 * refused as too large to write), and its sets must be as promised:
 * ascending, disjoint, counted, bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_hibernate_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_set(const struct imap_hibernate_set *s)
{
	uint64_t count = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (s->r[i].lo == 0 || s->r[i].lo > s->r[i].hi || (i > 0 && s->r[i].lo <= s->r[i - 1].hi))
			abort();
		count += (uint64_t)s->r[i].hi - s->r[i].lo + 1;
	}
	if (count != s->count || count > MBOX_MESSAGES_MAX)
		abort();
}

static int same_set(const struct imap_hibernate_set *a, const struct imap_hibernate_set *b)
{
	return a->n == b->n && a->count == b->count && (a->n == 0 || memcmp(a->r, b->r, a->n * sizeof(*a->r)) == 0);
}

static void roundtrip(const struct imap_hibernate_state *st)
{
	struct imap_hibernate_state back;
	struct record rec = { 0 };
	struct buf out;
	const char *error;
	size_t used;

	buf_init(&out, 4 * IMAP_HIBERNATE_RECORD_MAX);
	if (imap_hibernate_state_encode(st, &out) == 0) {
		if (record_parse(out.data, out.len, &rec, &used, &error) < 0 || used != out.len ||
		    imap_hibernate_state_decode(&rec, &back, &error) < 0)
			abort();
		if (back.request != st->request || back.wake != st->wake || strcmp(back.user, st->user) != 0 ||
		    strcmp(back.root, st->root) != 0 || strcmp(back.path, st->path) != 0 ||
		    strcmp(back.mailbox, st->mailbox) != 0 || strcmp(back.client, st->client) != 0 ||
		    strcmp(back.tag, st->tag) != 0 || back.enabled != st->enabled || back.tls != st->tls ||
		    back.readonly != st->readonly || back.uidvalidity != st->uidvalidity ||
		    back.modseq != st->modseq || back.keywords != st->keywords ||
		    back.idle_since_ms != st->idle_since_ms || back.deadline_ms != st->deadline_ms ||
		    back.errors != st->errors || !same_set(&back.uids, &st->uids) ||
		    !same_set(&back.recent, &st->recent) || !same_set(&back.saved, &st->saved))
			abort();
		imap_hibernate_state_free(&back);
	}
	record_clear(&rec);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);
	struct record rec = { 0 };
	struct imap_hibernate_state st;
	const char *error;
	size_t used;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	if (record_parse(s, size, &rec, &used, &error) == 0 && imap_hibernate_state_decode(&rec, &st, &error) == 0) {
		check_set(&st.uids);
		check_set(&st.recent);
		check_set(&st.saved);
		for (size_t i = 0; i < st.recent.n; i++)
			if (!imap_hibernate_set_has(&st.uids, st.recent.r[i].lo) ||
			    !imap_hibernate_set_has(&st.uids, st.recent.r[i].hi))
				abort();
		roundtrip(&st);
		imap_hibernate_state_free(&st);
	}
	record_clear(&rec);
	free(s);
	return 0;
}
