/* imap_hibernate_news: the news of a hibernated session's folder that
 * imap-hibernate may tell by itself (see the header).
 *
 * Offers: a check of a session's state (the UIDs its client knows, the
 * MODSEQ it was told, the keywords named in its FLAGS, its UIDVALIDITY)
 * against its folder as synced, and, when only messages above every
 * known UID came, the state with them added and the untagged lines an
 * IMAP session in IDLE sends for them, as imapd_report_changes does
 * after a resume: EXISTS with the new count, and to an IMAP4rev1 client
 * RECENT, the count of its \Recent messages (RFC 3501 7.3.2).
 *
 * Trusts: st was checked by imap_hibernate_state_decode (ascending,
 * disjoint ranges, at most MBOX_MESSAGES_MAX UIDs); mb is a synced view.
 *
 * Fails: never on a check; an apply without memory, or over the UID
 * bound, leaves everything as it was (the caller wakes the session). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "imap_hibernate_news.h"

/* Whether every known UID is still there, unchanged since st->modseq.
 * One walk of both ascending lists. */
static bool imap_hibernate_news_known_ok(const struct mbox *mb, const struct imap_hibernate_state *st)
{
	size_t i = 0;

	for (size_t r = 0; r < st->uids.n; r++)
		for (uint64_t u = st->uids.r[r].lo; u <= st->uids.r[r].hi; u++) {
			while (i < mb->n && mb->msgs[i].uid < u)
				i++;   /* never shown to this client: none of its business */
			if (i == mb->n || mb->msgs[i].uid != u || mb->msgs[i].modseq > st->modseq)
				return false;   /* expunged, or its flags changed */
			i++;
		}
	return true;
}

enum imap_hibernate_news imap_hibernate_news_check(const struct mbox *mb, const struct imap_hibernate_state *st,
						   size_t *first_new_r)
{
	uint32_t top = st->uids.n > 0 ? st->uids.r[st->uids.n - 1].hi : 0;
	uint32_t names = 0;
	size_t lo = 0, hi = mb->n;

	*first_new_r = mb->n;
	if (mb->uidvalidity != st->uidvalidity)
		return IMAP_HIBERNATE_NEWS_WAKE;
	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++)
		if (mb->keywords[k] != NULL)
			names |= 1u << k;
	if ((names & ~st->keywords) != 0)
		return IMAP_HIBERNATE_NEWS_WAKE;   /* a * FLAGS first, as a resume sends */
	/* Every change takes a new MODSEQ: none since, nothing to tell. */
	if (mb->highestmodseq == st->modseq)
		return IMAP_HIBERNATE_NEWS_NONE;
	if (!imap_hibernate_news_known_ok(mb, st))
		return IMAP_HIBERNATE_NEWS_WAKE;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid <= top)
			lo = mid + 1;
		else
			hi = mid;
	}
	*first_new_r = lo;
	return IMAP_HIBERNATE_NEWS_NEW;
}

int imap_hibernate_news_apply(const struct mbox *mb, struct imap_hibernate_state *st, size_t first_new, bool claim,
			      struct buf *text)
{
	struct imap_hibernate_set uids, recent;
	size_t was = text->len;
	size_t added = first_new < mb->n ? mb->n - first_new : 0;

	if (added == 0) {
		st->modseq = mb->highestmodseq;   /* the changes since were not this client's */
		return 0;
	}
	if (st->uids.count + added > MBOX_MESSAGES_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	if (imap_hibernate_set_grow(&st->uids, mb, first_new, false, &uids) < 0)
		return -1;
	if (imap_hibernate_set_grow(&st->recent, mb, claim ? first_new : mb->n, true, &recent) < 0) {
		free(uids.r);
		return -1;
	}
	if (buf_printf(text, "* %llu EXISTS\r\n", (unsigned long long)uids.count) < 0 ||
	    ((st->enabled & IMAP_HIBERNATE_REV2) == 0 &&
	     buf_printf(text, "* %llu RECENT\r\n", (unsigned long long)recent.count) < 0)) {
		buf_truncate(text, was);
		free(uids.r);
		free(recent.r);
		errno = ENOMEM;
		return -1;
	}
	free(st->uids.r);
	free(st->recent.r);
	st->uids = uids;
	st->recent = recent;
	st->modseq = mb->highestmodseq;
	return 0;
}
