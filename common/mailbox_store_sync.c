/* mailbox_store_sync: opening a folder and bringing a session's view of
 * it up to date.
 *
 * Offers: mbox_open, mbox_sync, mbox_close (mailbox_store.h).  A sync
 * reads, under the shared folder lock, what was appended to
 * dovecot-uidlist and postern-index since this session last looked, and
 * stats new/ and cur/.  Only when a directory changed since the stamp
 * the log holds (or its stamp was taken while it could still change
 * unseen: younger than MBOX_STAMP_SETTLE_NS), when the files are missing,
 * or when this session claims \Recent for new UIDs does it take the
 * exclusive lock and do work: new/ is scanned and its files moved to
 * cur/, given the next UIDs (dovecot-uidlist first, fdatasync'ed, then
 * the index) with their sizes from their names (or measured once);
 * cur/ is rescanned only when something
 * other than a Postern session changed it, picking up flag changes,
 * unknown files and vanished ones.  A file missing from a scan is taken
 * as expunged only when a second scan confirms it: another program may
 * have renamed it while readdir() ran.
 *
 * A session starts from the folder's snapshot when it summarizes the
 * files as they are (mailbox_store_snap.c) and reads only their tails;
 * a session that read much beyond it, or found none usable, writes a
 * new one under the exclusive lock and starts again from that.
 *
 * The session's view (mb->msgs) changes only here, and mb->changes says
 * how: expunged UIDs, UIDs with new flags, the first new message.  A UID
 * below the highest already shown is never added (IMAP sequence numbers
 * follow UIDs); such a message waits for the next open.
 *
 * Fails: -1 with a static *error_r; the view is then unchanged. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maildir.h"
#include "mailbox_store_int.h"

static int mbox_fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

static long long mbox_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- locking ---- */

int mbox_lock(struct mbox *mb, int mode)
{
	struct mbox_state *st = mb->st;

	if (st->lock_mode == mode)
		return 0;
	if (st->lockfd < 0) {
		st->lockfd = openat(mb->dirfd, MBOX_LOCK_NAME,
				    O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0600);
		if (st->lockfd < 0)
			return -1;
	}
	while (flock(st->lockfd, mode) < 0)
		if (errno != EINTR)
			return -1;
	st->lock_mode = mode;
	return 0;
}

void mbox_unlock(struct mbox *mb)
{
	if (mb->st->lockfd >= 0 && mb->st->lock_mode != 0)
		flock(mb->st->lockfd, LOCK_UN);
	mb->st->lock_mode = 0;
}

int mbox_note_change(uint32_t **arr, size_t *n, size_t *alloc, uint32_t uid)
{
	if (*n == *alloc) {
		size_t na = *alloc == 0 ? 16 : *alloc * 2;
		uint32_t *p = reallocarray(*arr, na, sizeof(*p));
		if (p == NULL)
			return -1;
		*arr = p;
		*alloc = na;
	}
	(*arr)[(*n)++] = uid;
	return 0;
}

/* ---- adding messages ---- */

struct mbox_new_file {
	struct mbox_file *f;
	struct mbox_index_rec rec;
	unsigned long long sec, usec;  /* from the name, once: not at every comparison */
};

static int mbox_new_file_cmp(const void *a, const void *b)
{
	const struct mbox_new_file *x = a, *y = b;
	return mbox_base_time_order(x->sec, x->usec, x->f->name + 4, x->f->base_len, y->sec, y->usec,
				    y->f->name + 4, y->f->base_len);
}

int mbox_add_files(struct mbox *mb, struct mbox_file *f, size_t n, const char **error_r)
{
	struct mbox_state *st = mb->st;
	struct mbox_new_file *nf = calloc(n > 0 ? n : 1, sizeof(*nf));
	struct mbox_ul_entry *ue = calloc(n > 0 ? n : 1, sizeof(*ue));
	struct mbox_index_rec *recs = calloc(n > 0 ? n : 1, sizeof(*recs));
	size_t k = 0, nu = 0;
	uint32_t uidnext = mb->uidnext;
	uint64_t modseq = mbox_index_next_modseq(mb);
	int r = -1;

	if (nf == NULL || ue == NULL || recs == NULL) {
		mbox_fail(error_r, "out of memory");
		goto out;
	}
	/* Look first: only what is there gets a UID. */
	for (size_t i = 0; i < n; i++) {
		nf[k].f = &f[i];
		if (mbox_first_sight(mb, f[i].name, f[i].base_len, &nf[k].rec) < 0) {
			if (errno == ENOENT)
				continue;   /* gone meanwhile (or not a regular file) */
			mbox_fail(error_r, "cannot read a new message");
			goto out;
		}
		mbox_name_time(f[i].name + 4, f[i].base_len, &nf[k].sec, &nf[k].usec);
		k++;
	}
	/* Arrival order, as the Maildir names tell it. */
	if (k > 1)
		qsort(nf, k, sizeof(*nf), mbox_new_file_cmp);
	for (size_t i = 0; i < k; i++) {
		const struct mbox_file *fi = nf[i].f;
		struct mbox_ul_entry known;
		struct mbox_index_rec cur, *rec = &recs[i];
		int listed = mbox_ul_find_base(mb, fi->name + 4, fi->base_len, &known);
		if (listed < 0) {
			mbox_fail(error_r, "out of memory");
			goto out;
		}
		*rec = nf[i].rec;
		rec->type = MBOX_REC_MSG;
		rec->flags = fi->flags;
		rec->other = fi->other;
		rec->modseq = modseq++;
		if (listed && !mbox_fold_get(st, known.uid, &cur)) {
			rec->uid = known.uid;   /* listed (by Dovecot, or before a crash), not in the index */
			continue;
		}
		if (uidnext == UINT32_MAX) {
			mbox_fail(error_r, "UIDs exhausted");
			goto out;
		}
		rec->uid = uidnext++;
		ue[nu++] = (struct mbox_ul_entry){ rec->uid, fi->name + 4, fi->base_len, fi->emailid };
	}
	/* The UID list is on disk before any session can show the UIDs. */
	if (mbox_ul_append(mb, ue, nu) < 0) {
		mbox_fail(error_r, "cannot write the UID list");
		goto out;
	}
	if (mbox_index_append(mb, recs, k) < 0) {
		mbox_fail(error_r, "cannot write the index");
		goto out;
	}
	r = 0;
out:
	free(nf);
	free(ue);
	free(recs);
	return r;
}

/* ---- scans ---- */

/* new/: move every file to cur/ (the Maildir rule for mail a reader has
 * seen) and add the unknown ones. */
static int mbox_sync_new(struct mbox *mb, const char **error_r)
{
	struct mbox_scan sc = { 0 }, add = { 0 };
	int r = -1;

	if (mbox_scan_dir(mb, "new", &sc) < 0) {
		mbox_fail(error_r, "cannot list new/");
		goto out;
	}
	for (size_t i = 0; i < sc.n; i++) {
		struct mbox_file *f = &sc.f[i];
		char to[MBOX_BASE_MAX + 64];
		const char *name = f->name + 4;
		if ((size_t)snprintf(to, sizeof(to), "cur/%s%s", name,
				     f->has_info || strchr(name, ':') != NULL ? "" : ":2,") < sizeof(to) &&
		    renameat2(mb->dirfd, f->name, mb->dirfd, to, RENAME_NOREPLACE) == 0) {
			free(f->name);
			if ((f->name = strdup(to)) == NULL) {
				mbox_fail(error_r, "out of memory");
				goto out;
			}
		} else if (errno != ENOENT) {
			/* Left in new/ (a name taken in cur/): still listed. */
			log_warn("%s: cannot move %s to cur/: %s", mb->path, f->name, strerror(errno));
		}
		struct mbox_ul_entry e;
		struct mbox_index_rec cur;
		int listed = mbox_ul_find_base(mb, f->name + 4, f->base_len, &e);
		if (listed < 0) {
			mbox_fail(error_r, "out of memory");
			goto out;
		}
		if (listed && mbox_fold_get(mb->st, e.uid, &cur))
			continue;   /* known already */
		if (mbox_scan_push(&add, f) < 0) {   /* borrows the name: sc still owns it */
			mbox_fail(error_r, "out of memory");
			goto out;
		}
	}
	r = mbox_add_files(mb, add.f, add.n, error_r);
out:
	mbox_scan_free(&sc);
	free(add.f);
	return r;
}

/* cur/ (and new/) changed behind the store's back: flag changes made by
 * other programs, files it does not know, and files that are gone. */
static int mbox_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int mbox_sync_cur(struct mbox *mb, long long new0, long long cur0, long long now,
			 const char **error_r)
{
	struct mbox_state *st = mb->st;
	struct mbox_scan sc = { 0 }, add = { 0 };
	struct mbox_index_rec *recs = NULL, m;
	uint32_t *seen = NULL;
	size_t nrec = 0, nseen = 0, cap;
	uint64_t modseq = mbox_index_next_modseq(mb);
	int r = -1;

	/* new/ first: a file moved from new/ to cur/ meanwhile is then seen in cur/. */
	if (mbox_scan_dir(mb, "new", &sc) < 0 || mbox_scan_dir(mb, "cur", &sc) < 0) {
		mbox_fail(error_r, "cannot list the Maildir");
		goto out;
	}
	st->scan_overflow = sc.overflow;
	if (sc.overflow)
		log_warn("%s: more than %zu messages: the rest are not listed", mb->path, mbox_messages_max);
	mbox_scan_sort_base(&sc);
	cap = st->live_n + sc.n + 1;
	if ((recs = calloc(cap, sizeof(*recs))) == NULL || (seen = calloc(sc.n + 1, sizeof(*seen))) == NULL) {
		mbox_fail(error_r, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < sc.n; i++) {
		struct mbox_file *f = &sc.f[i];
		struct mbox_ul_entry e;
		int dup = (i > 0 && sc.f[i - 1].base_len == f->base_len &&
			   memcmp(sc.f[i - 1].name + 4, f->name + 4, f->base_len) == 0);
		int has_dup = dup || (i + 1 < sc.n && sc.f[i + 1].base_len == f->base_len &&
				      memcmp(sc.f[i + 1].name + 4, f->name + 4, f->base_len) == 0);
		if (dup)
			continue;   /* the first file of a base name speaks for it */
		int listed = mbox_ul_find_base(mb, f->name + 4, f->base_len, &e);
		if (listed < 0) {
			mbox_fail(error_r, "out of memory");
			goto out;
		}
		if (!listed || !mbox_fold_get(st, e.uid, &m)) {
			if (mbox_scan_push(&add, f) < 0) {   /* borrows the name: sc still owns it */
				mbox_fail(error_r, "out of memory");
				goto out;
			}
			continue;
		}
		seen[nseen++] = e.uid;
		uint8_t state = has_dup ? MBOX_STATE_DUP : 0;
		if (((f->has_info && (f->flags != m.flags || f->other != m.other)) ||
		     state != (m.state & MBOX_STATE_DUP)) && nrec < cap) {
			struct mbox_index_rec *x = &recs[nrec++];
			*x = m;
			x->type = MBOX_REC_FLAGS;
			x->modseq = modseq++;
			x->state = state;
			if (f->has_info) {
				x->flags = f->flags;
				x->other = f->other;
			}
		}
	}
	/* Not seen: gone only if the scan was stable, that is neither
	 * directory changed while it ran nor shortly before (readdir() may
	 * miss a file renamed during it, and a change within one clock tick
	 * leaves the mtime as it was).  Otherwise a later sync decides, once
	 * the directories have settled (their stamps stay unsettled). */
	long long new1 = mbox_dir_stamp(mb, "new"), cur1 = mbox_dir_stamp(mb, "cur");
	long long newest = new0 > cur0 ? new0 : cur0;
	int stable = !sc.overflow && new1 == new0 && cur1 == cur0 && new0 >= 0 && cur0 >= 0 &&
		     now - newest >= MBOX_STAMP_SETTLE_NS;
	if (stable) {
		struct mbox_fold_iter it = { 0 };
		if (nseen > 1)
			qsort(seen, nseen, sizeof(*seen), mbox_uid_cmp);
		while (mbox_fold_next(st, &it, &m) && nrec < cap)
			if (bsearch(&m.uid, seen, nseen, sizeof(*seen), mbox_uid_cmp) == NULL)
				recs[nrec++] = (struct mbox_index_rec){ .type = MBOX_REC_EXPUNGE, .uid = m.uid,
									.modseq = modseq++ };
	}
	if (mbox_index_append(mb, recs, nrec) < 0) {
		mbox_fail(error_r, "cannot write the index");
		goto out;
	}
	r = mbox_add_files(mb, add.f, add.n, error_r);
out:
	free(recs);
	free(seen);
	mbox_scan_free(&sc);
	free(add.f);
	return r;
}

/* ---- the sync ---- */

/* Whether directory sub (stamp now) must be scanned.  An unsettled
 * stamp may hide a change made within the same clock tick as the one it
 * records.  In new/ that is a delivery, which must show at once (a
 * client that was told "delivered" looks right away), and new/ holds
 * few files: it is scanned until its stamp settles.  In cur/ only
 * programs other than Postern make changes the index does not log, and
 * a rescan costs a readdir of the whole folder: it waits until the
 * stamp has settled, then verifies it once. */
static int mbox_needs_scan(long long now_stamp, long long recorded, int verified, long long now_ns,
			   int is_new)
{
	if (now_stamp < 0 || now_stamp != recorded)
		return 1;
	if (verified)
		return 0;
	return is_new || now_ns - recorded >= MBOX_STAMP_SETTLE_NS;
}

/* Whether name is still the file pos has read. */
static int mbox_same_file(struct mbox *mb, const char *name, const struct mbox_filepos *pos)
{
	struct stat sb;

	return pos->known && fstatat(mb->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && sb.st_dev == pos->dev &&
	       sb.st_ino == pos->ino;
}

void mbox_state_clear(struct mbox *mb)
{
	struct mbox_state *st = mb->st;

	mbox_snap_detach(st);
	mbox_ul_reset(mb);
	/* Freed, not only emptied: after a full read they held the whole
	 * folder, which a snapshot now holds. */
	free(st->ul);
	free(st->ul_sorted);
	free(st->ov);
	free(st->ex);
	st->ul = NULL;
	st->ul_sorted = NULL;
	st->ov = NULL;
	st->ex = NULL;
	st->ul_alloc = st->ov_alloc = st->ex_alloc = 0;
	st->ov_n = st->ov_dead = st->live_n = 0;
	st->ex_n = st->snap_ex_skip = st->snap_tail = 0;
	mbox_filepos_forget(&st->ul_pos);
	mbox_filepos_forget(&st->idx_pos);
}

/* Read what others appended.  *missing_r when a file must be (re)made. */
int mbox_read_tails(struct mbox *mb, int *full_r, int *missing_r, const char **error_r)
{
	int ful = 0, fidx = 0, r;

	*missing_r = 0;
	/* A file this session has not read, or one replaced since: start
	 * again, from the snapshot when it summarizes both. */
	if (mbox_snap_damaged(mb->st->snap)) {
		/* Its names did not hold: read the files whole this time. */
		mb->st->snap_rejected = 1;
		mb->st->snap_reject_dev = mb->st->snap_dev;
		mb->st->snap_reject_ino = mb->st->snap_ino;
		mbox_state_clear(mb);
	}
	if (!mbox_same_file(mb, MBOX_UIDLIST_FILE, &mb->st->ul_pos) ||
	    !mbox_same_file(mb, MBOX_INDEX_NAME, &mb->st->idx_pos)) {
		mbox_state_clear(mb);
		if (mbox_snap_attach(mb) > 0)
			*full_r = 1;
	}
	r = mbox_ul_read(mb, &ful);
	if (r < 0)
		return mbox_fail(error_r, "cannot read the UID list");
	if (r > 0) {
		*missing_r = 1;
		return 0;
	}
	if (mbox_kw_read(mb) < 0)
		return mbox_fail(error_r, "cannot read the keywords");
	r = mbox_index_read(mb, &fidx);
	if (r < 0)
		return mbox_fail(error_r, "cannot read the index");
	if (r > 0)
		*missing_r = 1;
	*full_r |= ful | fidx;
	return 0;
}

/* Read both files again from the start (the snapshot when it holds). */
static int mbox_reread(struct mbox *mb, int *full_r, const char **error_r)
{
	int missing;

	mbox_state_clear(mb);
	if (mbox_read_tails(mb, full_r, &missing, error_r) < 0)
		return -1;
	if (missing)
		return mbox_fail(error_r, "the store's files went away under the lock");
	*full_r = 1;
	return 0;
}

/* The end of a sync under the exclusive lock: compact the files when
 * mostly dead, and write a snapshot when this session read much beyond
 * the one it started from, or found none usable; then start again from
 * it, so that what this session holds shrinks to the tails. */
static int mbox_sync_tidy(struct mbox *mb, int *full_r, const char **error_r)
{
	struct mbox_state *st = mb->st;
	int ix = mbox_index_compact(mb, 0), ul = ix < 0 ? -1 : mbox_ul_compact(mb);

	if (ix < 0 || ul < 0)
		log_warn("%s: cannot compact the store: %s", mb->path, strerror(errno));
	/* A rewritten list: the one in memory still has what was dropped. */
	if (ul > 0 && mbox_reread(mb, full_r, error_r) < 0)
		return -1;
	if (st->snap_failed || !(mbox_snap_wanted(mb) || (ix > 0 && st->snap != NULL)))
		return 0;
	/* Another session may have written one meanwhile. */
	if (mbox_snap_newer(mb)) {
		if (mbox_reread(mb, full_r, error_r) < 0)
			return -1;
		if (!mbox_snap_wanted(mb))
			return 0;
	}
	if (mbox_snap_write(mb) < 0) {
		log_warn("%s: cannot write %s: %s", mb->path, MBOX_SNAPSHOT_NAME, strerror(errno));
		st->snap_failed = 1;
		return 0;
	}
	int r = mbox_reread(mb, full_r, error_r);
	if (r == 0 && st->snap == NULL) {
		/* Written and not usable: no use writing it at every sync. */
		log_warn("%s: the %s just written is not usable", mb->path, MBOX_SNAPSHOT_NAME);
		st->snap_failed = 1;
	}
	/* What the whole files took in this process's heap is free now:
	 * give it back (a session process is reused for other sessions). */
	malloc_trim(0);
	return r;
}

static int mbox_sync_work(struct mbox *mb, int options, int *full_r, const char **error_r)
{
	struct mbox_state *st = mb->st;
	int missing;

	if (mbox_read_tails(mb, full_r, &missing, error_r) < 0)
		return -1;
	if (missing) {
		int f2 = 0, r = mbox_ul_read(mb, &f2);
		if (r < 0)
			return mbox_fail(error_r, "cannot read the UID list");
		if (r > 0 && mbox_ul_create(mb) < 0)
			return mbox_fail(error_r, "cannot create the UID list");
		r = mbox_index_read(mb, &f2);
		if (r < 0)
			return mbox_fail(error_r, "cannot read the index");
		if (r > 0 && mbox_index_create(mb) < 0)
			return mbox_fail(error_r, "cannot create the index");
		if (mbox_kw_read(mb) < 0)
			return mbox_fail(error_r, "cannot read the keywords");
		*full_r = 1;
	}
	if (mbox_pending_flush(mb) < 0) {
		log_warn("%s: cannot log measurements: %s", mb->path, strerror(errno));
		st->pend_n = 0;   /* a cache: measured again some day */
	}
	long long now = mbox_now_ns();
	long long new0 = mbox_dir_stamp(mb, "new"), cur0 = mbox_dir_stamp(mb, "cur");
	int scan_new = mbox_needs_scan(new0, st->new_stamp, st->stamp_verified & 1, now, 1);
	int scan_cur = mbox_needs_scan(cur0, st->cur_stamp, st->stamp_verified & 2, now, 0);
	if (scan_new && mbox_sync_new(mb, error_r) < 0)
		return -1;
	/* Moving new/ files changed cur/: its stamp then says nothing about
	 * others, unless cur/ is rescanned anyway. */
	if (scan_cur && mbox_sync_cur(mb, new0, cur0, now, error_r) < 0)
		return -1;
	if (scan_new || scan_cur) {
		long long new1 = mbox_dir_stamp(mb, "new"), cur1 = mbox_dir_stamp(mb, "cur");
		struct mbox_index_rec s = { .type = MBOX_REC_STAMP, .new_stamp = new1, .cur_stamp = cur1 };
		/* A directory this sync did not scan keeps its old stamp if it
		 * changed meanwhile (a delivery into new/ during the work), so
		 * that the next sync looks; cur/ changed by our own moves takes
		 * the new stamp unsettled, and is verified by one rescan once
		 * it has settled.  A stamp is settled when the directory did
		 * not change during the sync and was older than
		 * MBOX_STAMP_SETTLE_NS when scanned. */
		if (!scan_new && new1 != new0) {
			s.new_stamp = st->new_stamp;
		} else if (new1 == new0 &&
			   (scan_new ? now - new0 >= MBOX_STAMP_SETTLE_NS : (st->stamp_verified & 1) != 0)) {
			s.stamp_verified |= 1;
		}
		if (cur1 == cur0 &&
		    (scan_cur ? now - cur0 >= MBOX_STAMP_SETTLE_NS : (st->stamp_verified & 2) != 0))
			s.stamp_verified |= 2;
		/* A rescan that found the stamps as logged writes nothing: every
		 * append wakes the folder's IDLE sessions (inotify), whose syncs
		 * would rescan the unsettled new/ and append again, in a ring. */
		if ((s.new_stamp != st->new_stamp || s.cur_stamp != st->cur_stamp ||
		     (int)s.stamp_verified != st->stamp_verified) &&
		    mbox_index_append(mb, &s, 1) < 0)
			return mbox_fail(error_r, "cannot write the index");
	}
	if ((options & MBOX_CLAIM_RECENT) != 0 && st->recent_hw < mb->uidnext) {
		struct mbox_index_rec rr = { .type = MBOX_REC_RECENT, .uid = mb->uidnext };
		st->claim_from = st->recent_hw;
		st->claim_to = mb->uidnext;
		if (st->claim_from < st->recent_lo)
			st->recent_lo = st->claim_from;
		if (mbox_index_append(mb, &rr, 1) < 0)
			return mbox_fail(error_r, "cannot write the index");
	}
	return mbox_sync_tidy(mb, full_r, error_r);
}

/* Whether the shared-lock read left work that needs the exclusive lock. */
static int mbox_sync_quick(struct mbox *mb, int options, int *full_r, const char **error_r)
{
	struct mbox_state *st = mb->st;
	int missing;

	if (mbox_read_tails(mb, full_r, &missing, error_r) < 0)
		return -1;
	if (missing)
		return 1;
	long long now = mbox_now_ns();
	if (mbox_needs_scan(mbox_dir_stamp(mb, "new"), st->new_stamp, st->stamp_verified & 1, now, 1) ||
	    mbox_needs_scan(mbox_dir_stamp(mb, "cur"), st->cur_stamp, st->stamp_verified & 2, now, 0))
		return 1;
	return ((options & MBOX_CLAIM_RECENT) != 0 && st->recent_hw < mb->uidnext) || st->pend_n > 0 ||
	       (!st->snap_failed && mbox_snap_wanted(mb));
}

int mbox_sync(struct mbox *mb, int options, const char **error_r)
{
	struct mbox_state *st = mb->st;
	int full = st->pending_full, r;

	st->in_sync = 1;

	st->claim_from = st->claim_to = 0;
	/* Counts only: the arrays are reused (mbox_close frees them). */
	mb->changes.n_expunged = mb->changes.n_flagged = 0;
	mb->changes.first_new = mb->n;
	mb->changes.keywords_changed = 0;
	if (mbox_lock(mb, LOCK_SH) < 0)
		return mbox_fail(error_r, "cannot lock the folder");
	r = mbox_sync_quick(mb, options, &full, error_r);
	if (r > 0) {
		/* Work to do: the exclusive lock, and a fresh look under it. */
		if (mbox_lock(mb, LOCK_EX) < 0)
			r = mbox_fail(error_r, "cannot lock the folder");
		else
			r = mbox_sync_work(mb, options, &full, error_r);
	}
	mbox_unlock(mb);
	st->in_sync = 0;
	if (r < 0)
		return -1;
	st->pending_full = 0;
	if (mbox_view_refresh(mb, full) < 0)
		return mbox_fail(error_r, "out of memory");
	return 0;
}

int mbox_stamp_own_change(struct mbox *mb, long long cur_before)
{
	struct mbox_state *st = mb->st;
	struct mbox_index_rec s = { .type = MBOX_REC_STAMP, .new_stamp = st->new_stamp };

	/* Only when nobody else changed cur/ since it was scanned; the new
	 * stamp is unsettled, so one later sync verifies it by a rescan. */
	if (cur_before < 0 || cur_before != st->cur_stamp)
		return 0;
	s.cur_stamp = mbox_dir_stamp(mb, "cur");
	s.stamp_verified = (uint32_t)(st->stamp_verified & 1);
	return mbox_index_append(mb, &s, 1);
}

/* ---- open / close ---- */

int mbox_open(const char *path, size_t len, int options, struct mbox **mb_r, const char **error_r)
{
	struct mbox *mb;

	*mb_r = NULL;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (!maildir_path_ok(path, len) || len > MBOX_PATH_MAX)
		return mbox_fail(error_r, "mailbox path leaves the mail root");
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL || (mb->st = calloc(1, sizeof(*mb->st))) == NULL) {
		free(mb);
		return mbox_fail(error_r, "out of memory");
	}
	mb->st->lockfd = -1;
	mb->st->ul_pos.pin = mb->st->idx_pos.pin = -1;
	mb->st->snap_dev = (dev_t)-1;
	mb->st->new_stamp = mb->st->cur_stamp = -1;
	mb->st->recent_lo = UINT32_MAX;
	arena_init(&mb->st->names, 65536, (size_t)MBOX_MESSAGES_MAX * (MBOX_BASE_MAX + 1) * 2);
	memcpy(mb->path, path, len);
	mb->path[len] = '\0';
	mb->dirfd = open(mb->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mb->dirfd < 0 && errno == ENOENT && (options & MBOX_CREATE) != 0) {
		if (maildir_create(mb->path, error_r) < 0) {
			mbox_close(&mb);
			return -1;
		}
		mb->dirfd = open(mb->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (mb->dirfd < 0) {
		int e = errno;
		mbox_close(&mb);
		errno = e;
		return mbox_fail(error_r, "cannot open the Maildir");
	}
	if ((options & MBOX_NO_SYNC) == 0 && mbox_sync(mb, options, error_r) < 0) {
		mbox_close(&mb);
		return -1;
	}
	*mb_r = mb;
	return 0;
}

void mbox_close(struct mbox **mbp)
{
	struct mbox *mb = *mbp;

	if (mb == NULL)
		return;
	if (mb->st != NULL) {
		struct mbox_state *st = mb->st;
		int large = st->view_mapped > 0;
		/* Measurements made and not yet logged: worth one more lock. */
		if (st->pend_n > 0 && st->lockfd >= 0 && mbox_change_begin(mb) == 0)
			mbox_change_end(mb, mbox_pending_flush(mb));
		if (st->lockfd >= 0)
			close(st->lockfd);
		mbox_filepos_forget(&st->ul_pos);
		mbox_filepos_forget(&st->idx_pos);
		mbox_snap_detach(st);
		mbox_cache_free(st);
		arena_free(&st->names);
		free(st->ul);
		free(st->ul_sorted);
		free(st->ulfb);
		free(st->ulfb_sorted);
		free(st->ov);
		free(st->pend);
		free(st->ex);
		free(st->chg_exp);
		free(st->chg_flag);
		mbox_view_free(mb);
		free(st);
		/* The heap a large folder took: back to the kernel, for the
		 * next session this process serves. */
		if (large)
			malloc_trim(0);
	}
	free(mb->changes.expunged);
	free(mb->changes.flagged);
	if (mb->dirfd >= 0)
		close(mb->dirfd);
	free(mb);
	*mbp = NULL;
}
