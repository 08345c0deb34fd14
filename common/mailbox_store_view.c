/* mailbox_store_view: a session's list of messages (mb->msgs) and what
 * changed in it at each sync (mb->changes).
 *
 * Offers: mbox_view_refresh, called at the end of every sync.  After a
 * sync that read only appended records and saw no expunge, it updates
 * the flags of the changed UIDs and appends the new messages: time in
 * proportion to the changes.  Otherwise (expunges, or a whole file
 * reread after compaction) it merges the old list with the folded state
 * in one pass (then the snapshot's pages this process mapped for it are
 * given back: they stay in the page cache, and in the other sessions').
 * New messages are only ever appended above the highest
 * UID already shown: IMAP numbers messages in UID order, so a lower UID
 * that turns up late (a message measured after the session opened) is
 * left for the next session rather than shown out of order.
 *
 * Trusts: the folded state (already checked).  Fails: -1 (ENOMEM) with
 * the old view kept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mailbox_store_int.h"

size_t mbox_messages_max = MBOX_MESSAGES_MAX;

#define MBOX_VIEW_MAP_MIN (256u << 10)   /* a view this large is mapped, its pages made at once */

/* The memory of a view: malloc()ed, or for a large folder mapped with
 * its pages made in one call (a page fault each costs more than filling
 * the page: bench/RESULTS.md, IMAP). */
struct mbox_view_mem {
	struct mbox_msg *p;
	size_t cap;
	size_t mapped;                 /* bytes of the mapping; 0: malloc()ed */
	int file;                      /* the snapshot's array, mapped private: cannot grow in place */
};

static int mbox_vm_reserve(struct mbox_view_mem *v, size_t cap)
{
	size_t bytes;
	void *np;

	if (cap <= v->cap)
		return 0;
	if (__builtin_mul_overflow(cap, sizeof(struct mbox_msg), &bytes)) {
		errno = ENOMEM;
		return -1;
	}
	if (v->mapped > 0 && v->file) {
		/* Beyond the file's pages: into anonymous memory, once. */
		bytes = (bytes + 4095) & ~(size_t)4095;
		np = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (np == MAP_FAILED)
			return -1;
		memcpy(np, v->p, v->cap * sizeof(struct mbox_msg));
		munmap(v->p, v->mapped);
		v->mapped = bytes;
		v->file = 0;
	} else if (v->mapped > 0) {
		bytes = (bytes + 4095) & ~(size_t)4095;
		if ((np = mremap(v->p, v->mapped, bytes, MREMAP_MAYMOVE)) == MAP_FAILED)
			return -1;
		v->mapped = bytes;
	} else if (bytes >= MBOX_VIEW_MAP_MIN) {
		bytes = (bytes + 4095) & ~(size_t)4095;
		np = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (np == MAP_FAILED)
			return -1;
		if (v->p != NULL)
			memcpy(np, v->p, v->cap * sizeof(struct mbox_msg));
		free(v->p);
		v->mapped = bytes;
	} else if ((np = realloc(v->p, bytes)) == NULL) {
		return -1;
	}
	v->p = np;
	v->cap = v->mapped > 0 ? v->mapped / sizeof(struct mbox_msg) : cap;
	return 0;
}

static void mbox_vm_free(struct mbox_view_mem *v)
{
	if (v->mapped > 0)
		munmap(v->p, v->mapped);
	else
		free(v->p);
	*v = (struct mbox_view_mem){ 0 };
}

void mbox_view_free(struct mbox *mb)
{
	struct mbox_view_mem v = { mb->msgs, mb->st != NULL ? mb->st->view_alloc : 0,
				   mb->st != NULL ? mb->st->view_mapped : 0, 0 };

	mbox_vm_free(&v);
	mb->msgs = NULL;
	mb->n = 0;
}

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

/* Whether the UID list names uid (a message without a name cannot be
 * opened, and is not shown).  from_snap: the snapshot gave it. */
static int mbox_view_named(struct mbox_state *st, uint32_t uid, int from_snap)
{
	struct mbox_ul_entry e;

	return from_snap || mbox_ul_get(st, uid, &e);
}

/* m from r, with \Recent as given: made whole and stored at once (a
 * view is new memory: a field at a time reads each line first). */
static void mbox_view_fill(struct mbox_msg *m, const struct mbox_index_rec *r, unsigned recent)
{
	struct mbox_msg v = { .uid = r->uid, .flags = r->flags, .modseq = r->modseq, .size = r->size,
			      .recent = recent, .vsize = r->vsize, .date = r->date };
	*m = v;
}

/* Flags or MODSEQ changed: the client is told. */
static int mbox_view_changed(const struct mbox_msg *m, const struct mbox_index_rec *r)
{
	return m->flags != r->flags || m->modseq != r->modseq;
}

static int mbox_changes_grow(uint32_t **arr, size_t n)
{
	uint32_t *p = reallocarray(*arr, n > 0 ? n : 1, sizeof(*p));
	if (p == NULL)
		return -1;
	*arr = p;
	return 0;
}

/* \Recent for the UIDs this sync claimed, in msgs[from..n). */
/* The first of m[0..n) with a UID not below uid.  UIDs ascend and are
 * mostly dense (a folder loses few of them), so the place is guessed
 * from the value: in the common case the first guess lands on the page
 * that holds it, where halving touches about 17 pages of a view of
 * 100,000 messages -- each a page fault the first time, on a view
 * mapped from the snapshot.  After a few guesses that did not close in
 * (UIDs far from dense) it halves, so the worst case stays logarithmic. */
#define MBOX_FIND_GUESSES 4

static size_t mbox_msgs_lower_bound(const struct mbox_msg *m, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;   /* m[..lo) below uid, m[hi..) not */
	int guesses = 0;

	while (lo < hi) {
		uint32_t first = m[lo].uid, last = m[hi - 1].uid;
		size_t mid;
		if (uid <= first)
			return lo;
		if (uid > last)
			return hi;
		/* first < uid <= last: mid in [lo, hi - 1], and either side moves */
		if (guesses++ < MBOX_FIND_GUESSES)
			mid = lo + (size_t)((uint64_t)(uid - first) * (hi - 1 - lo) / (last - first));
		else
			mid = lo + (hi - lo) / 2;
		if (m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void mbox_view_claim(const struct mbox_state *st, struct mbox_msg *msgs, size_t from, size_t n)
{
	if (st->claim_from >= st->claim_to)
		return;
	size_t lo = from + mbox_msgs_lower_bound(msgs + from, n - from, st->claim_from);
	for (; lo < n && msgs[lo].uid < st->claim_to; lo++)
		msgs[lo].recent = 1;
}

/* The first view of a folder with a snapshot (a SELECT): the runs of
 * the snapshot between the UIDs the log changed since are decoded
 * straight into the view (mbox_snap_view), and only those UIDs go
 * through the overlay.  What mbox_view_append's loop would make, at a
 * fraction of the cost per message.  Only below mbox_messages_max
 * live messages (else that loop cuts the view).  0, or -1 (ENOMEM). */
static int mbox_view_fresh(struct mbox *mb, struct mbox_view_mem *v, size_t *n)
{
	struct mbox_state *st = mb->st;
	size_t sn = mbox_snap_count(st->snap), si = 0, oi = 0, k = 0;

	/* live_n bounds the messages shown: below the cap, none is cut */
	if (mbox_vm_reserve(v, st->live_n + 64) < 0)
		return -1;
	for (;;) {
		/* the snapshot's entries below the next UID the log changed */
		size_t to = oi < st->ov_n ? mbox_snap_lower_bound(st->snap, st->ov[oi].uid) : sn;
		while (si < to) {
			if (k == v->cap && mbox_vm_reserve(v, v->cap * 2) < 0)
				return -1;
			k += mbox_snap_view(st->snap, si, to, v->p + k, v->cap - k, &si);
		}
		if (oi == st->ov_n)
			break;
		const struct mbox_index_rec *o = &st->ov[oi++];
		int listed = si < sn && mbox_snap_uid(st->snap, si) == o->uid;
		si += listed;   /* the overlay speaks for this UID */
		if (o->type == 0 || !mbox_view_named(st, o->uid, listed))
			continue;
		if (k == v->cap && mbox_vm_reserve(v, v->cap * 2) < 0)
			return -1;
		mbox_view_fill(&v->p[k++], o, 0);
	}
	mbox_view_claim(st, v->p, 0, k);
	*n = k;
	mb->overflow = st->scan_overflow;
	return 0;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Whether the overlay's record o names a message of the UID list; a
 * UID the snapshot lists is named there (no name is read for it). */
static int mbox_ov_named(struct mbox_state *st, const struct mbox_index_rec *o)
{
	return mbox_snap_find(st->snap, o->uid) >= 0 || mbox_view_named(st, o->uid, 0);
}

/* Drop the messages marked gone (UID 0) from m[from, n): the pages from
 * the first are copied once (copy-on-write) in one call, not a fault
 * each.  The count left. */
static size_t mbox_msgs_compact(struct mbox_msg *m, size_t from, size_t n)
{
	uintptr_t page = (uintptr_t)&m[from] & ~(uintptr_t)4095;
	size_t k = from;

	madvise((void *)page, (size_t)((uintptr_t)&m[n] - page), MADV_POPULATE_WRITE);
	for (size_t i = from; i < n; i++)
		if (m[i].uid != 0)
			m[k++] = m[i];
	return k;
}

/* The first view of a folder whose snapshot has the view's array: that
 * array, mapped copy-on-write, is the view (no message decoded); only
 * the UIDs the log changed since are applied to it.  1 done, 0 when it
 * cannot be (no array, or a message logged between the snapshot's:
 * mbox_view_fresh then), -1 (ENOMEM). */
static int mbox_view_mapped(struct mbox *mb, struct mbox_view_mem *v, size_t *n)
{
	struct mbox_state *st = mb->st;
	size_t cnt, bytes, oi, gone_from = SIZE_MAX, add = 0;
	struct mbox_msg *m = mbox_snap_msgs_map(st->snap, &cnt, &bytes);

	if (m == NULL)
		return 0;
	uint32_t top = m[cnt - 1].uid;
	for (oi = 0; oi < st->ov_n && st->ov[oi].uid <= top; oi++) {
		const struct mbox_index_rec *o = &st->ov[oi];
		size_t i = mbox_msgs_lower_bound(m, cnt, o->uid);
		if (i == cnt || m[i].uid != o->uid) {
			if (o->type == 0 || !mbox_ov_named(st, o))
				continue;   /* hides none of the array's */
			munmap(m, bytes);
			return 0;
		}
		if (o->type == 0) {
			m[i].uid = 0;   /* gone: dropped below */
			if (i < gone_from)
				gone_from = i;
		} else if (mbox_view_changed(&m[i], o) || m[i].size != o->size || m[i].vsize != o->vsize ||
			   m[i].date != o->date) {
			mbox_view_fill(&m[i], o, 0);
		}
	}
	st->view_snap_n = gone_from != SIZE_MAX ? gone_from : cnt;
	if (gone_from != SIZE_MAX)
		cnt = mbox_msgs_compact(m, gone_from, cnt);
	for (size_t k = oi; k < st->ov_n; k++)
		add += st->ov[k].type != 0;
	v->p = m;
	v->mapped = bytes;
	v->cap = bytes / sizeof(*m);
	v->file = 1;
	if (cnt + add > v->cap && mbox_vm_reserve(v, cnt + add) < 0)
		return -1;
	for (; oi < st->ov_n; oi++)
		if (st->ov[oi].type != 0 && mbox_ov_named(st, &st->ov[oi]))
			mbox_view_fill(&v->p[cnt++], &st->ov[oi], 0);
	mbox_view_claim(st, v->p, 0, cnt);
	*n = cnt;
	mb->overflow = st->scan_overflow;
	return 1;
}

/* Append the folded messages above the highest UID shown. */
static int mbox_view_append(struct mbox *mb, struct mbox_view_mem *v, size_t *n)
{
	struct mbox_state *st = mb->st;
	struct mbox_fold_iter it;
	struct mbox_index_rec r;
	uint32_t top = *n > 0 ? v->p[*n - 1].uid : 0;
	int more = 0;

	mb->changes.first_new = *n;
	if (*n == 0 && st->snap != NULL && st->live_n < mbox_messages_max) {
		int r = v->mapped == 0 && v->p == NULL ? mbox_view_mapped(mb, v, n) : 0;
		return r != 0 ? (r < 0 ? -1 : 0) : mbox_view_fresh(mb, v, n);
	}
	mbox_fold_seek(st, &it, top + 1);
	while ((more = mbox_fold_next(st, &it, &r)) != 0 && *n < mbox_messages_max) {
		if (!mbox_view_named(st, r.uid, it.from_snap))
			continue;
		if (*n == v->cap && mbox_vm_reserve(v, v->cap < 32 ? 64 : v->cap * 2) < 0)
			return -1;
		mbox_view_fill(&v->p[*n], &r, r.uid >= st->claim_from && r.uid < st->claim_to);
		(*n)++;
	}
	/* Messages past the cap wait until some are expunged; the session
	 * says so (IMAP ALERT) rather than cut silently. */
	mb->overflow = more || st->scan_overflow;
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
		struct mbox_index_rec r;
		long idx = mbox_find_uid(mb, st->chg_flag[i]);
		if (idx < 0 || !mbox_fold_get(st, st->chg_flag[i], &r))
			continue;
		int told = mbox_view_changed(&mb->msgs[idx], &r);
		/* Sizes a lying name gave are corrected too. */
		mbox_view_fill(&mb->msgs[idx], &r, mb->msgs[idx].recent);
		if (told)
			mb->changes.flagged[nf++] = st->chg_flag[i];
	}
	mb->changes.n_flagged = nf;
	struct mbox_view_mem v = { mb->msgs, st->view_alloc, st->view_mapped, st->view_file };
	int r = mbox_view_append(mb, &v, &mb->n);
	mb->msgs = v.p;
	st->view_alloc = v.cap;
	st->view_mapped = v.mapped;
	st->view_file = v.file;
	return r;
}

/* One merge of the old view with the folded state. */
static int mbox_view_merge(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct mbox_view_mem nv = { 0 };
	struct mbox_fold_iter it = { 0 };
	struct mbox_index_rec r;
	size_t i = 0, n = 0, ne = 0, nf = 0;
	int have = 0;

	/* A first view from a snapshot makes its own memory (or maps it). */
	int first = mb->n == 0 && st->snap != NULL && st->live_n < mbox_messages_max;
	if ((!first && mbox_vm_reserve(&nv, (mb->n > st->live_n ? mb->n : st->live_n) + 64) < 0) ||
	    mbox_changes_grow(&mb->changes.expunged, mb->n) < 0 ||
	    mbox_changes_grow(&mb->changes.flagged, mb->n) < 0) {
		mbox_vm_free(&nv);
		return -1;
	}
	st->view_snap_n = 0;   /* a new view: at its array's places only if mapped anew below */
	have = mbox_fold_next(st, &it, &r);
	while (i < mb->n) {
		const struct mbox_msg *old = &mb->msgs[i];
		while (have && r.uid < old->uid)
			have = mbox_fold_next(st, &it, &r);   /* below a shown UID and never shown: not added */
		if (have && r.uid == old->uid && mbox_view_named(st, r.uid, it.from_snap)) {
			mbox_view_fill(&nv.p[n], &r, old->recent);
			if (mbox_view_changed(old, &r))
				mb->changes.flagged[nf++] = old->uid;
			n++;
			have = mbox_fold_next(st, &it, &r);
		} else {
			mb->changes.expunged[ne++] = old->uid;
		}
		i++;
	}
	mb->changes.n_expunged = ne;
	mb->changes.n_flagged = nf;
	if (mbox_view_append(mb, &nv, &n) < 0) {
		mbox_vm_free(&nv);
		return -1;
	}
	mbox_view_free(mb);
	mb->msgs = nv.p;
	mb->n = n;
	st->view_alloc = nv.cap;
	st->view_mapped = nv.mapped;
	st->view_file = nv.file;
	mbox_snap_release(st->snap);
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
	size_t i = mbox_msgs_lower_bound(mb->msgs, mb->n, uid);

	return i < mb->n && mb->msgs[i].uid == uid ? (long)i : -1;
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
	mb->st->view_snap_n = 0;
	mb->changes.n_expunged = ne;
	mb->changes.n_flagged = nf;
	mb->changes.first_new = first_new;
	return 0;
}

/* ---- QRESYNC: what changed since a MODSEQ ---- */

static int mbox_changed_cmp(const void *a, const void *b)
{
	size_t x = ((const struct mbox_changed *)a)->idx, y = ((const struct mbox_changed *)b)->idx;
	return x < y ? -1 : x > y;
}

/* Add the message of uid when its MODSEQ is above modseq. */
static void mbox_changed_add(const struct mbox *mb, uint32_t uid, uint64_t modseq, struct mbox_changed *out,
			     size_t *n)
{
	long i = mbox_find_uid(mb, uid);

	if (i >= 0 && mb->msgs[i].modseq > modseq)
		out[(*n)++] = (struct mbox_changed){ (size_t)i, mb->msgs[i] };
}

/* A message the snapshot lists as changed, not changed since: where the
 * view is still the snapshot's array at c's place, from the list alone
 * (its page of the view is not touched: a page fault, on a mapped view,
 * costs more than all the rest of a QRESYNC answer); else looked up. */
static void mbox_changed_listed(const struct mbox *mb, const struct mbox_snap_chg *c, uint64_t modseq,
				struct mbox_changed *out, size_t *n)
{
	const struct mbox_state *st = mb->st;

	if (c->pos < st->view_snap_n && c->pos < mb->n && c->uid < st->recent_lo)
		out[(*n)++] = (struct mbox_changed){ c->pos, { .uid = c->uid, .flags = c->flags, .modseq = c->modseq } };
	else
		mbox_changed_add(mb, c->uid, modseq, out, n);
}

int mbox_changed_since(struct mbox *mb, uint64_t modseq, struct mbox_changed **out_r, size_t *n_r)
{
	struct mbox_state *st = mb->st;
	uint64_t floor;
	size_t n = 0, nchg = mbox_snap_changed(st->snap, &floor);
	struct mbox_changed *out;

	*out_r = NULL;
	*n_r = 0;
	if (st->snap != NULL && modseq >= floor) {
		/* A message with a MODSEQ above modseq changed after the
		 * snapshot (the overlay has every such UID, this session's own
		 * changes too) or had it in the snapshot, which then lists it
		 * among those changed last, by MODSEQ descending: O(changes),
		 * no pass over the view. */
		int from_snap = modseq < mbox_snap_highestmodseq(st->snap);
		if ((out = calloc(st->ov_n + (from_snap ? nchg : 0) + 1, sizeof(*out))) == NULL)
			return -1;
		for (size_t k = 0; k < st->ov_n; k++)
			if (st->ov[k].type != 0)
				mbox_changed_add(mb, st->ov[k].uid, modseq, out, &n);
		uint64_t prev = UINT64_MAX;
		for (size_t k = 0; from_snap && k < nchg; k++) {
			struct mbox_snap_chg c = mbox_snap_changed_at(st->snap, k);
			if (c.modseq <= modseq || c.modseq > prev)
				break;   /* the rest is older (or the list out of order: damaged) */
			prev = c.modseq;
			if (!mbox_fold_in_overlay(st, c.uid))
				mbox_changed_listed(mb, &c, modseq, out, &n);
		}
		if (n > 1)
			qsort(out, n, sizeof(*out), mbox_changed_cmp);
	} else {
		for (size_t i = 0; i < mb->n; i++)
			n += mb->msgs[i].modseq > modseq;
		if ((out = calloc(n + 1, sizeof(*out))) == NULL)
			return -1;
		n = 0;
		for (size_t i = 0; i < mb->n; i++)
			if (mb->msgs[i].modseq > modseq)
				out[n++] = (struct mbox_changed){ i, mb->msgs[i] };
	}
	*out_r = out;
	*n_r = n;
	return 0;
}
