/* mailbox_store_fold: the folder's state as a session has read it.
 *
 * Offers: per UID the state of a message (its MSG record with the
 * FLAGS, EXPUNGE and MEASURE records after it folded in), iteration in
 * UID order, the expunges remembered for VANISHED.  The state is the
 * snapshot the session started from (postern-snapshot, mapped: shared
 * by every session, mailbox_store_snap.c) under an overlay of what the
 * log said since: a UID the log changed is in the overlay (a record, or
 * a mark that hides the snapshot's message when it was expunged), any
 * other is read from the snapshot.  Without a snapshot (a small or new
 * folder, or one whose snapshot did not hold) the overlay is all of it.
 * So a number is held once per session, and in shared pages at that.
 *
 * Trusts: the records (decoded and checked by the log's reader, the
 * snapshot's checked when it was mapped).  A record that does not fit
 * (the flags of an unknown UID) is ignored.  Fails: -1 with errno
 * ENOMEM; the state is then as before the record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox_store_int.h"

/* The overlay's entry of uid, or NULL with *pos_r where it would go. */
static struct mbox_index_rec *mbox_ov_search(const struct mbox_state *st, uint32_t uid, size_t *pos_r)
{
	size_t lo = 0, hi = st->ov_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->ov[mid].uid == uid) {
			*pos_r = mid;
			return &st->ov[mid];
		}
		if (st->ov[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos_r = lo;
	return NULL;
}

/* Whether the snapshot holds uid as a message (into *r when not NULL). */
static int mbox_snap_msg(const struct mbox_state *st, uint32_t uid, struct mbox_index_rec *r)
{
	long i;

	if (st->snap == NULL || (i = mbox_snap_find(st->snap, uid)) < 0)
		return 0;
	return mbox_snap_entry(st->snap, (size_t)i, NULL, r);
}

int mbox_fold_in_overlay(const struct mbox_state *st, uint32_t uid)
{
	size_t pos;
	return mbox_ov_search(st, uid, &pos) != NULL;
}

int mbox_fold_get(const struct mbox_state *st, uint32_t uid, struct mbox_index_rec *r)
{
	size_t pos;
	const struct mbox_index_rec *o = mbox_ov_search(st, uid, &pos);

	if (o != NULL) {
		if (o->type == 0)
			return 0;
		*r = *o;
		return 1;
	}
	return mbox_snap_msg(st, uid, r);
}

/* Put r (a message, or type 0: gone) into the overlay. */
static int mbox_ov_set(struct mbox_state *st, const struct mbox_index_rec *r)
{
	size_t pos;
	struct mbox_index_rec *o = mbox_ov_search(st, r->uid, &pos);

	if (o != NULL) {
		st->ov_dead += (r->type == 0) - (o->type == 0);
		*o = *r;
		return 0;
	}
	void *grown = mbox_grow(st->ov, st->ov_n, &st->ov_alloc, sizeof(*st->ov));
	if (grown == NULL)
		return -1;
	st->ov = grown;
	memmove(&st->ov[pos + 1], &st->ov[pos], (st->ov_n - pos) * sizeof(st->ov[0]));
	st->ov[pos] = *r;
	st->ov_n++;
	st->ov_dead += r->type == 0;
	return 0;
}

int mbox_fold_put(struct mbox_state *st, const struct mbox_index_rec *r)
{
	return mbox_ov_set(st, r);
}

int mbox_expunged_add(struct mbox_state *st, uint32_t uid, uint64_t modseq)
{
	if (mbox_expunged_count(st) >= MBOX_EXPUNGED_MAX) {
		/* Forget the oldest tenth: QRESYNC then reports from the floor. */
		size_t drop = MBOX_EXPUNGED_MAX / 10;
		st->ex_floor = mbox_expunged_at(st, drop - 1).modseq;
		size_t snap_n = mbox_snap_ex_count(st->snap);
		size_t snap_left = snap_n > st->snap_ex_skip ? snap_n - st->snap_ex_skip : 0;
		size_t from_snap = drop < snap_left ? drop : snap_left;
		st->snap_ex_skip += from_snap;
		drop -= from_snap;
		memmove(st->ex, st->ex + drop, (st->ex_n - drop) * sizeof(st->ex[0]));
		st->ex_n -= drop;
	}
	void *grown = mbox_grow(st->ex, st->ex_n, &st->ex_alloc, sizeof(*st->ex));
	if (grown == NULL)
		return -1;
	st->ex = grown;
	st->ex[st->ex_n++] = (struct mbox_expunged){ uid, modseq };
	return 0;
}

size_t mbox_expunged_count(const struct mbox_state *st)
{
	size_t snap_n = mbox_snap_ex_count(st->snap);
	return (snap_n > st->snap_ex_skip ? snap_n - st->snap_ex_skip : 0) + st->ex_n;
}

struct mbox_expunged mbox_expunged_at(const struct mbox_state *st, size_t i)
{
	size_t snap_n = mbox_snap_ex_count(st->snap);
	size_t snap_left = snap_n > st->snap_ex_skip ? snap_n - st->snap_ex_skip : 0;

	if (i < snap_left)
		return mbox_snap_ex_at(st->snap, st->snap_ex_skip + i);
	return st->ex[i - snap_left];
}

int mbox_fold_rec(struct mbox *mb, const struct mbox_index_rec *r)
{
	struct mbox_state *st = mb->st;
	struct mbox_index_rec cur;
	int live;

	if (r->modseq > mb->highestmodseq)
		mb->highestmodseq = r->modseq;
	switch (r->type) {
	case MBOX_REC_MSG:
		live = mbox_fold_get(st, r->uid, &cur);
		if (mbox_ov_set(st, r) < 0)
			return -1;
		st->live_n += !live;
		return 0;
	case MBOX_REC_FLAGS:
		if (!mbox_fold_get(st, r->uid, &cur))
			return 0;
		cur.flags = r->flags;
		cur.other = r->other;
		/* A FLAGS record speaks for the duplicate mark only. */
		cur.state = (uint8_t)((cur.state & ~MBOX_STATE_DUP) | (r->state & MBOX_STATE_DUP));
		cur.modseq = r->modseq;
		if (mbox_ov_set(st, &cur) < 0)
			return -1;
		return mbox_note_change(&st->chg_flag, &st->chg_flag_n, &st->chg_flag_alloc, r->uid);
	case MBOX_REC_MEASURE:
		if (!mbox_fold_get(st, r->uid, &cur) || (cur.state & MBOX_STATE_UNMEASURED) == 0)
			return 0;
		int resized = cur.size != r->size || cur.vsize != r->vsize;
		cur.size = r->size;
		cur.vsize = r->vsize;
		cur.hdr_size = r->hdr_size;
		cur.body_lines = r->body_lines;
		cur.state &= (uint8_t)~MBOX_STATE_UNMEASURED;
		if (mbox_ov_set(st, &cur) < 0)
			return -1;
		/* Sizes a lying name gave reach views at their next sync. */
		return resized ? mbox_note_change(&st->chg_flag, &st->chg_flag_n, &st->chg_flag_alloc, r->uid) : 0;
	case MBOX_REC_EXPUNGE:
		live = mbox_fold_get(st, r->uid, &cur);
		if (live || mbox_snap_msg(st, r->uid, NULL)) {
			struct mbox_index_rec gone = { .uid = r->uid };
			if (mbox_ov_set(st, &gone) < 0)
				return -1;
		}
		if (live)
			st->live_n--;
		if (r->modseq > st->ex_floor && mbox_expunged_add(st, r->uid, r->modseq) < 0)
			return -1;
		return mbox_note_change(&st->chg_exp, &st->chg_exp_n, &st->chg_exp_alloc, r->uid);
	case MBOX_REC_STAMP:
		st->new_stamp = r->new_stamp;
		st->cur_stamp = r->cur_stamp;
		st->stamp_verified = (int)r->stamp_verified;
		return 0;
	case MBOX_REC_RECENT:
		if (r->uid > st->recent_hw)
			st->recent_hw = r->uid;
		return 0;
	}
	return 0;
}

void mbox_fold_drop_dead(struct mbox_state *st)
{
	size_t keep = 0;

	if (st->ov_dead == 0)
		return;
	for (size_t i = 0; i < st->ov_n; i++) {
		/* A mark hides a message of the snapshot; any other is done. */
		if (st->ov[i].type == 0 && !mbox_snap_msg(st, st->ov[i].uid, NULL)) {
			st->ov_dead--;
			continue;
		}
		st->ov[keep++] = st->ov[i];
	}
	st->ov_n = keep;
}

void mbox_fold_reset(struct mbox *mb, const struct mbox_index_hdr *h)
{
	struct mbox_state *st = mb->st;

	mbox_snap_detach(st);
	st->ov_n = st->ov_dead = 0;
	st->live_n = 0;
	st->ex_n = 0;
	st->snap_ex_skip = 0;
	st->snap_tail = 0;
	st->hdr = *h;
	st->ex_floor = h->expunge_floor;
	st->new_stamp = st->cur_stamp = -1;
	st->stamp_verified = 0;
	st->recent_hw = 0;
	st->idx_records = 0;
	mb->highestmodseq = h->modseq_base;
}

int mbox_fold_next(const struct mbox_state *st, struct mbox_fold_iter *it, struct mbox_index_rec *r)
{
	size_t sn = mbox_snap_count(st->snap);

	for (;;) {
		int have_s = it->si < sn, have_o = it->oi < st->ov_n;
		if (!have_s && !have_o)
			return 0;
		uint32_t su = have_s ? mbox_snap_uid(st->snap, it->si) : 0;
		if (have_o && (!have_s || st->ov[it->oi].uid <= su)) {
			const struct mbox_index_rec *o = &st->ov[it->oi++];
			if (have_s && o->uid == su)
				it->si++;   /* the overlay speaks for this UID */
			if (o->type == 0)
				continue;
			*r = *o;
			it->from_snap = 0;
			return 1;
		}
		if (mbox_snap_entry(st->snap, it->si++, NULL, r)) {
			it->from_snap = 1;
			return 1;
		}
	}
}

void mbox_fold_seek(const struct mbox_state *st, struct mbox_fold_iter *it, uint32_t uid)
{
	it->si = mbox_snap_lower_bound(st->snap, uid);
	mbox_ov_search(st, uid, &it->oi);
	it->from_snap = 0;
}

static int mbox_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int mbox_expunged_since(struct mbox *mb, uint64_t modseq, uint32_t **uids_r, size_t *n_r)
{
	struct mbox_state *st = mb->st;
	size_t total = mbox_expunged_count(st), n = 0;
	uint32_t *u;

	*uids_r = NULL;
	*n_r = 0;
	if ((u = calloc(total > 0 ? total : 1, sizeof(*u))) == NULL)
		return -1;
	for (size_t i = 0; i < total; i++) {
		struct mbox_expunged e = mbox_expunged_at(st, i);
		if (e.modseq > modseq)
			u[n++] = e.uid;
	}
	if (n > 1)
		qsort(u, n, sizeof(*u), mbox_uid_cmp);
	*uids_r = u;
	*n_r = n;
	/* A snapshot whose expunges did not hold remembers none of them. */
	return modseq < st->ex_floor || mbox_snap_damaged(st->snap) ? 1 : 0;
}
