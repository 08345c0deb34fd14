/* mailbox_store_view: a session's list of messages (mb->msgs) and what
 * changed in it at each sync (mb->changes).
 *
 * Offers: mbox_view_refresh, called at the end of every sync.  After a
 * sync that read only appended records and saw no expunge, it updates
 * the flags of the changed UIDs and appends the new messages: time in
 * proportion to the changes.  Otherwise (expunges, or a whole file
 * reread after compaction) it merges the old list with the folded state
 * in one pass.  New messages are only ever appended above the highest
 * UID already shown: IMAP numbers messages in UID order, so a lower UID
 * that turns up late (a message measured after the session opened) is
 * left for the next session rather than shown out of order.
 *
 * Trusts: the folded state (already checked).  Fails: -1 (ENOMEM) with
 * the old view kept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_store_int.h"

size_t mbox_messages_max = MBOX_MESSAGES_MAX;

static int mbox_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Sort and drop repeats. */
static size_t mbox_uids_unique(uint32_t *u, size_t n)
{
	size_t k = 0;

	if (n > 1)
		qsort(u, n, sizeof(*u), mbox_uid_cmp);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || u[k - 1] != u[i])
			u[k++] = u[i];
	return k;
}

/* Fill m from the folded record; 0, or -1 when the UID list does not
 * name the message (then it cannot be opened, and is not shown). */
static int mbox_view_fill(struct mbox *mb, struct mbox_msg *m, const struct mbox_index_rec *r)
{
	const struct mbox_ul_entry *e = mbox_ul_find_uid(mb->st, r->uid);

	if (e == NULL)
		return -1;
	m->uid = r->uid;
	m->flags = r->flags;
	m->other = r->other;
	m->dup = (r->state & MBOX_STATE_DUP) != 0;
	m->modseq = r->modseq;
	m->base = e->base;
	m->base_len = e->base_len;
	m->size = r->size;
	m->vsize = r->vsize;
	m->date = r->date;
	m->hdr_size = r->hdr_size;
	m->body_lines = r->body_lines;
	return 0;
}

static int mbox_view_changed(const struct mbox_msg *m, const struct mbox_index_rec *r)
{
	return m->flags != r->flags || m->other != r->other || m->modseq != r->modseq;
}

static int mbox_changes_grow(uint32_t **arr, size_t n)
{
	uint32_t *p = reallocarray(*arr, n > 0 ? n : 1, sizeof(*p));
	if (p == NULL)
		return -1;
	*arr = p;
	return 0;
}

/* Append the folded messages above the highest UID shown. */
static int mbox_view_append(struct mbox *mb, struct mbox_msg **msgs, size_t *n, size_t *alloc)
{
	struct mbox_state *st = mb->st;
	uint32_t top = *n > 0 ? (*msgs)[*n - 1].uid : 0;
	size_t lo = 0, hi = st->im_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->im[mid].rec.uid <= top)
			lo = mid + 1;
		else
			hi = mid;
	}
	mb->changes.first_new = *n;
	size_t j = lo;
	for (; j < st->im_n && *n < mbox_messages_max; j++) {
		if (*n == *alloc) {
			size_t na = *alloc == 0 ? 64 : *alloc * 2;
			struct mbox_msg *p = reallocarray(*msgs, na, sizeof(*p));
			if (p == NULL)
				return -1;
			*msgs = p;
			*alloc = na;
		}
		struct mbox_msg *m = &(*msgs)[*n];
		memset(m, 0, sizeof(*m));
		if (mbox_view_fill(mb, m, &st->im[j].rec) < 0)
			continue;
		m->recent = m->uid >= st->claim_from && m->uid < st->claim_to;
		(*n)++;
	}
	/* Messages past the cap wait until some are expunged; the session
	 * says so (IMAP ALERT) rather than cut silently. */
	mb->overflow = j < st->im_n || st->scan_overflow;
	return 0;
}

/* Only appended records and no expunge: O(changes). */
static int mbox_view_quick(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	size_t nf = 0;

	if (mbox_changes_grow(&mb->changes.flagged, st->chg_flag_n) < 0)
		return -1;
	st->chg_flag_n = mbox_uids_unique(st->chg_flag, st->chg_flag_n);
	for (size_t i = 0; i < st->chg_flag_n; i++) {
		long idx = mbox_find_uid(mb, st->chg_flag[i]);
		struct mbox_idx_msg *im = mbox_index_find(st, st->chg_flag[i]);
		if (idx < 0 || im == NULL || !mbox_view_changed(&mb->msgs[idx], &im->rec))
			continue;
		mbox_view_fill(mb, &mb->msgs[idx], &im->rec);
		mb->changes.flagged[nf++] = st->chg_flag[i];
	}
	mb->changes.n_flagged = nf;
	size_t alloc = st->view_alloc;
	int r = mbox_view_append(mb, &mb->msgs, &mb->n, &alloc);
	st->view_alloc = alloc;
	return r;
}

/* One merge of the old view with the folded state. */
static int mbox_view_merge(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct mbox_msg *nm = NULL;
	size_t i = 0, j = 0, n = 0, alloc = mb->n + 64, ne = 0, nf = 0;

	if ((nm = calloc(alloc, sizeof(*nm))) == NULL ||
	    mbox_changes_grow(&mb->changes.expunged, mb->n) < 0 ||
	    mbox_changes_grow(&mb->changes.flagged, mb->n) < 0) {
		free(nm);
		return -1;
	}
	while (i < mb->n) {
		const struct mbox_msg *old = &mb->msgs[i];
		while (j < st->im_n && st->im[j].rec.uid < old->uid)
			j++;    /* below a shown UID and never shown: not added */
		if (j < st->im_n && st->im[j].rec.uid == old->uid &&
		    mbox_view_fill(mb, &nm[n], &st->im[j].rec) == 0) {
			nm[n].recent = old->recent;
			if (mbox_view_changed(old, &st->im[j].rec))
				mb->changes.flagged[nf++] = old->uid;
			n++;
			j++;
		} else {
			mb->changes.expunged[ne++] = old->uid;
		}
		i++;
	}
	mb->changes.n_expunged = ne;
	mb->changes.n_flagged = nf;
	if (mbox_view_append(mb, &nm, &n, &alloc) < 0) {
		free(nm);
		return -1;
	}
	free(mb->msgs);
	mb->msgs = nm;
	mb->n = n;
	st->view_alloc = alloc;
	return 0;
}

int mbox_view_refresh(struct mbox *mb, int full)
{
	struct mbox_state *st = mb->st;
	int r;

	mb->changes.n_expunged = mb->changes.n_flagged = 0;
	mb->changes.first_new = mb->n;
	mb->changes.keywords_changed = st->kw_changed;
	st->kw_changed = 0;
	if (full || st->chg_exp_n > 0)
		r = mbox_view_merge(mb);
	else
		r = mbox_view_quick(mb);
	st->chg_exp_n = st->chg_flag_n = 0;
	return r;
}

long mbox_find_uid(const struct mbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return (long)mid;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- a view taken up again (IMAP hibernation) ---- */

/* One walk of the view against known: with out == 0 it only counts the
 * expunged and flagged UIDs; else it fills mb->changes (room made by the
 * caller) and keeps the messages of the new view at the front of
 * mb->msgs, in order.  Returns the messages kept. */
static size_t mbox_resume_walk(struct mbox *mb, const struct mbox_uid_range *known, size_t n,
			       uint64_t since, int out, size_t *ne_r, size_t *nf_r, size_t *first_new_r)
{
	size_t i = 0, k = 0, ne = 0, nf = 0;
	uint32_t top = n > 0 ? known[n - 1].hi : 0;

	for (size_t r = 0; r < n; r++) {
		for (uint64_t u = known[r].lo; u <= known[r].hi; u++) {
			while (i < mb->n && mb->msgs[i].uid < u)
				i++;   /* never shown and below shown ones: left out */
			if (i < mb->n && mb->msgs[i].uid == u) {
				if (mb->msgs[i].modseq > since) {
					if (out)
						mb->changes.flagged[nf] = (uint32_t)u;
					nf++;
				}
				if (out)
					mb->msgs[k] = mb->msgs[i];
				k++;
				i++;
			} else {
				if (out)
					mb->changes.expunged[ne] = (uint32_t)u;
				ne++;
			}
		}
	}
	while (i < mb->n && mb->msgs[i].uid <= top)
		i++;
	*first_new_r = k;
	for (; i < mb->n; i++, k++)
		if (out)
			mb->msgs[k] = mb->msgs[i];
	*ne_r = ne;
	*nf_r = nf;
	return k;
}

int mbox_view_resume(struct mbox *mb, const struct mbox_uid_range *known, size_t n, uint64_t since)
{
	uint64_t total = 0;
	size_t ne, nf, first_new;

	for (size_t r = 0; r < n; r++) {
		if (known[r].lo == 0 || known[r].lo > known[r].hi || (r > 0 && known[r].lo <= known[r - 1].hi)) {
			errno = EINVAL;
			return -1;
		}
		total += (uint64_t)known[r].hi - known[r].lo + 1;
		if (total > mbox_messages_max) {
			errno = EINVAL;
			return -1;
		}
	}
	(void)mbox_resume_walk(mb, known, n, since, 0, &ne, &nf, &first_new);
	if (mbox_changes_grow(&mb->changes.expunged, ne) < 0 || mbox_changes_grow(&mb->changes.flagged, nf) < 0)
		return -1;
	mb->n = mbox_resume_walk(mb, known, n, since, 1, &ne, &nf, &first_new);
	mb->changes.n_expunged = ne;
	mb->changes.n_flagged = nf;
	mb->changes.first_new = first_new;
	return 0;
}
