/* libFuzzer target for common/imap_hibernate_state.c: arbitrary bytes
 * as a record, then as the state of a hibernated IMAP session.  A state
 * the reader accepts must write and read back to the same state (or be
 * refused as too large to write), and its sets must be as promised:
 * ascending, disjoint, counted, bounded.  The state is then compared
 * with a folder made from its own UIDs (common/imap_hibernate_news.c:
 * what imap-hibernate tells by itself), changed as a hash of the
 * input says; new mail told must leave the sets as promised, the new UIDs
 * added and nothing else. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imap_hibernate_news.h"
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

#define NEWS_KNOWN 64   /* known UIDs put in the folder */
#define NEWS_NEW 8      /* new ones above them */

/* A folder of st's first known UIDs (one changed or left out as salt
 * says) and a few new ones; what st is told of it. */
static void news(struct imap_hibernate_state *st, uint8_t salt)
{
	struct mbox_msg msgs[NEWS_KNOWN + NEWS_NEW];
	struct mbox mb = { 0 };
	struct buf text;
	uint32_t top = st->uids.n > 0 ? st->uids.r[st->uids.n - 1].hi : 0;
	uint64_t was = st->uids.count;
	size_t n = 0, first;

	for (size_t r = 0; r < st->uids.n && n < NEWS_KNOWN; r++)
		for (uint64_t u = st->uids.r[r].lo; u <= st->uids.r[r].hi && n < NEWS_KNOWN; u++) {
			if ((salt & 1) && n == 2 && u != top) {
				salt &= (uint8_t)~1;   /* expunged */
				continue;
			}
			msgs[n] = (struct mbox_msg){ .uid = (uint32_t)u, .modseq = st->modseq };
			if ((salt & 2) && n == 1)
				msgs[n].modseq++;   /* its flags changed */
			n++;
		}
	size_t known_in = n;
	for (uint32_t k = 0; k < NEWS_NEW && top < UINT32_MAX - 64; k++) {
		msgs[n] = (struct mbox_msg){ .uid = top + 1 + k * (1 + (salt >> 5)), .modseq = st->modseq + 1 + k,
					     .recent = k & 1 };
		n++;
	}
	mb.msgs = msgs;
	mb.n = n;
	mb.uidvalidity = (salt & 8) ? st->uidvalidity + 1 : st->uidvalidity;
	mb.highestmodseq = st->modseq + (n > known_in ? n - known_in : (salt >> 4) & 1);
	enum imap_hibernate_news r = imap_hibernate_news_check(&mb, st, &first);
	if (r != IMAP_HIBERNATE_NEWS_NEW)
		return;
	if (first < known_in || first > n || (was <= NEWS_KNOWN && first != known_in))
		abort();
	buf_init(&text, 128);
	if (imap_hibernate_news_apply(&mb, st, first, (salt & 4) != 0, &text) == 0) {
		check_set(&st->uids);
		check_set(&st->recent);
		if (st->uids.count != was + (n - first) || (n > first) != (text.len > 0) ||
		    st->modseq != mb.highestmodseq)
			abort();
		for (size_t i = 0; i < st->recent.n; i++)
			if (!imap_hibernate_set_has(&st->uids, st->recent.r[i].lo) ||
			    !imap_hibernate_set_has(&st->uids, st->recent.r[i].hi))
				abort();
	}
	buf_free(&text);
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
		uint8_t salt = 0;
		for (size_t i = 0; i < size; i++)
			salt = (uint8_t)(salt * 31 + data[i]);
		news(&st, salt);
		imap_hibernate_state_free(&st);
	}
	record_clear(&rec);
	free(s);
	return 0;
}
