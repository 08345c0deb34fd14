/* mailbox_store_msg: what a session does to one message: open it, set
 * its flags, remove it; keywords; the expunges remembered for VANISHED;
 * APPEND.  (COPY and MOVE: mailbox_store_copy.c.)
 *
 * Offers: see mailbox_store.h.  Every change takes the exclusive folder
 * lock, reads what others appended first (so the change applies to the
 * current state, not the session's view), renames or unlinks the file,
 * and logs the change with a new MODSEQ.  The session's own view is
 * updated at once for flags (its STORE reply shows them); expunges reach
 * the view at the next mbox_sync, as IMAP wants.  A flag change that
 * renames nothing still checks that the message is there: a message
 * another session expunged, or whose file another program removed, is
 * ENOENT, never a change that seems to have worked.
 *
 * A file not under its expected name (another program renamed it) is
 * looked up again by base name under the folder lock; a lookup that
 * fails for any reason but "not there" (EMFILE, ENOMEM, EIO) is an
 * error, never taken for "message gone".
 *
 * Trusts: file names only through mbox_base_ok; message files are
 * opened O_NOFOLLOW | O_NONBLOCK and must be regular files.
 * Fails: -1 with errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_store_int.h"
#include "maildir.h"

int mbox_change_begin(struct mbox *mb)
{
	const char *err;
	int full = 0, missing = 0;

	if (mbox_lock(mb, LOCK_EX) < 0)
		return -1;
	if (mbox_read_tails(mb, &full, &missing, &err) < 0 || missing) {
		int e = missing ? ESTALE : errno;
		mbox_unlock(mb);
		errno = e;
		return -1;
	}
	mb->st->pending_full |= full;
	return 0;
}

int mbox_change_end(struct mbox *mb, int r)
{
	int e = errno;

	mbox_unlock(mb);
	errno = e;
	return r;
}

int mbox_uid_path(struct mbox *mb, uint32_t uid, uint32_t view_flags, char *out, size_t len,
		  struct mbox_ul_entry *e)
{
	struct mbox_index_rec rec = { .flags = view_flags };

	if (!mbox_ul_get(mb->st, uid, e)) {
		errno = ENOENT;
		return -1;
	}
	/* The flags as last read: the file is named after them. */
	mbox_fold_get(mb->st, uid, &rec);
	return mbox_msg_path(e->base, e->base_len, rec.flags, rec.other, out, len);
}

int mbox_locate(struct mbox *mb, const char *base, size_t len, struct mbox_scan *sc)
{
	if (mbox_find_base(mb, base, len, sc) < 0)
		return -1;
	if (sc->n == 0) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

static int mbox_open_regular(struct mbox *mb, const char *name)
{
	struct stat sb;
	int fd = openat(mb->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	return fd;
}

int mbox_msg_open(struct mbox *mb, size_t idx)
{
	char name[MBOX_BASE_MAX + 64];
	struct mbox_ul_entry e;
	struct mbox_scan sc;
	int fd;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	if (mbox_uid_path(mb, mb->msgs[idx].uid, mb->msgs[idx].flags, name, sizeof(name), &e) < 0)
		return -1;
	if ((fd = mbox_open_regular(mb, name)) >= 0)
		return fd;
	if (errno != ENOENT)
		return -1;
	/* Renamed since (flags changed by someone else, or still in new/):
	 * look the base name up where renames by Postern cannot run. */
	if (mbox_lock(mb, LOCK_SH) < 0)
		return -1;
	fd = -1;
	if (mbox_locate(mb, e.base, e.base_len, &sc) == 0)
		fd = mbox_open_regular(mb, sc.f[0].name);
	int err = errno;
	mbox_scan_free(&sc);
	mbox_unlock(mb);
	errno = err;
	return fd;
}

long mbox_msg_base(struct mbox *mb, size_t idx, char *out, size_t len)
{
	struct mbox_ul_entry e;

	if (idx >= mb->n || !mbox_ul_get(mb->st, mb->msgs[idx].uid, &e) || len <= e.base_len) {
		errno = EINVAL;
		return -1;
	}
	memcpy(out, e.base, e.base_len);
	out[e.base_len] = '\0';
	return (long)e.base_len;
}

uint32_t mbox_msg_other(struct mbox *mb, size_t idx)
{
	struct mbox_index_rec r;

	return idx < mb->n && mbox_fold_get(mb->st, mb->msgs[idx].uid, &r) ? r.other : 0;
}

/* Keep a measurement to log with the next change (or sync, or close). */
static void mbox_pending_add(struct mbox *mb, const struct mbox_index_rec *meas)
{
	struct mbox_state *st = mb->st;

	void *grown = mbox_grow(st->pend, st->pend_n, &st->pend_alloc, sizeof(*st->pend));
	if (grown == NULL)
		return;   /* not logged: measured again some day */
	st->pend = grown;
	st->pend[st->pend_n++] = *meas;
	if (st->pend_n < MBOX_PENDING_MAX)
		return;
	if (mbox_change_begin(mb) < 0 || mbox_change_end(mb, mbox_pending_flush(mb)) < 0) {
		log_warn("%s: cannot log measurements: %s", mb->path, strerror(errno));
		st->pend_n = 0;   /* a cache: measured again some day */
	}
}

/* The state of message idx with its header size and body lines known:
 * from the index, or measured now.  0 with *r, or -1. */
static int mbox_msg_measured(struct mbox *mb, size_t idx, struct mbox_index_rec *r)
{
	struct mbox_state *st = mb->st;
	struct mbox_index_rec cur, meas = { .type = MBOX_REC_MEASURE };

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	struct mbox_msg *m = &mb->msgs[idx];
	int live = mbox_fold_get(st, m->uid, &cur);
	if (live && (cur.state & MBOX_STATE_UNMEASURED) == 0) {
		*r = cur;
		return 0;
	}
	/* Listed by the S= and W= of its name: read it now, once. */
	int fd = mbox_msg_open(mb, idx);
	if (fd < 0)
		return -1;
	int got = mbox_measure_fd(mb, fd, &meas), e = errno;
	close(fd);
	if (got < 0) {
		errno = e;
		return -1;
	}
	*r = meas;
	if (!live)
		return 0;   /* expunged meanwhile: nothing to keep */
	if (meas.size != cur.size || meas.vsize != cur.vsize)
		log_warn("%s: UID %u: its name said %llu octets, %llu with CRLF; it has %llu and %llu: corrected",
			 mb->path, m->uid, cur.size, cur.vsize, meas.size, meas.vsize);
	cur.size = meas.size;
	cur.vsize = meas.vsize;
	cur.hdr_size = meas.hdr_size;
	cur.body_lines = meas.body_lines;
	cur.state &= (uint8_t)~MBOX_STATE_UNMEASURED;
	if (mbox_fold_put(st, &cur) < 0)
		return 0;
	m->size = meas.size;
	m->vsize = meas.vsize;
	meas.uid = m->uid;
	meas.date = 0;
	meas.state = 0;
	mbox_pending_add(mb, &meas);
	return 0;
}

int mbox_msg_header_size(struct mbox *mb, size_t idx, unsigned long long *hdr_size_r)
{
	struct mbox_index_rec r;

	if (mbox_msg_measured(mb, idx, &r) < 0)
		return -1;
	*hdr_size_r = r.hdr_size;
	return 0;
}

int mbox_msg_body_lines(struct mbox *mb, size_t idx, unsigned long long *lines_r)
{
	struct mbox_index_rec r;

	if (mbox_msg_measured(mb, idx, &r) < 0)
		return -1;
	*lines_r = r.body_lines;
	return 0;
}

/* Whether a file of the message uid (base name in ue) is in the folder,
 * under the folder lock.  0, or -1 (ENOENT: there is none). */
static int mbox_uid_present(struct mbox *mb, uint32_t uid, const struct mbox_ul_entry *ue)
{
	char name[MBOX_BASE_MAX + 64];
	struct mbox_ul_entry e;
	struct mbox_scan sc;
	struct stat sb;

	if (mbox_uid_path(mb, uid, 0, name, sizeof(name), &e) < 0)
		return -1;
	if (fstatat(mb->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (errno != ENOENT || mbox_locate(mb, ue->base, ue->base_len, &sc) < 0)
		return -1;
	mbox_scan_free(&sc);
	return 0;
}

int mbox_msg_update_flags(struct mbox *mb, size_t idx, uint32_t add, uint32_t remove)
{
	return mbox_msg_update_flags_if(mb, idx, add, remove, UINT64_MAX);
}

int mbox_msg_update_flags_if(struct mbox *mb, size_t idx, uint32_t add, uint32_t remove, uint64_t unchangedsince)
{
	char from[MBOX_BASE_MAX + 64], to[MBOX_BASE_MAX + 64];
	struct mbox_index_rec rec;
	struct mbox_ul_entry ue;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	struct mbox_msg *m = &mb->msgs[idx];
	if (mbox_change_begin(mb) < 0)
		return -1;
	if (!mbox_fold_get(mb->st, m->uid, &rec) || !mbox_ul_get(mb->st, m->uid, &ue)) {
		errno = ENOENT;   /* expunged by another session */
		return mbox_change_end(mb, -1);
	}
	if (rec.modseq > unchangedsince)
		return mbox_change_end(mb, 1);
	/* On the flags as stored now: another session's change since this
	 * view's last sync is kept, not undone. */
	uint32_t flags = (rec.flags & ~remove) | add;
	if (rec.flags == flags) {
		if (mbox_uid_present(mb, m->uid, &ue) < 0)
			return mbox_change_end(mb, -1);
		m->flags = flags;
		m->modseq = rec.modseq;
		return mbox_change_end(mb, 0);
	}
	long long cur0 = mbox_dir_stamp(mb, "cur");
	if (mbox_msg_path(ue.base, ue.base_len, rec.flags, rec.other, from, sizeof(from)) < 0 ||
	    mbox_msg_path(ue.base, ue.base_len, flags, rec.other, to, sizeof(to)) < 0)
		return mbox_change_end(mb, -1);
	if (renameat(mb->dirfd, from, mb->dirfd, to) < 0) {
		struct mbox_scan sc;
		if (errno != ENOENT || mbox_locate(mb, ue.base, ue.base_len, &sc) < 0)
			return mbox_change_end(mb, -1);
		int r = renameat(mb->dirfd, sc.f[0].name, mb->dirfd, to);
		mbox_scan_free(&sc);
		if (r < 0)
			return mbox_change_end(mb, -1);
	}
	rec.type = MBOX_REC_FLAGS;
	rec.flags = flags;
	rec.state &= MBOX_STATE_DUP;
	rec.modseq = mbox_index_next_modseq(mb);
	if (mbox_index_append(mb, &rec, 1) < 0)
		return mbox_change_end(mb, -1);
	m->flags = flags;
	m->modseq = rec.modseq;
	if (mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, 0);
}

int mbox_msg_set_flags(struct mbox *mb, size_t idx, uint32_t flags)
{
	return mbox_msg_update_flags(mb, idx, flags, UINT32_MAX);
}

/* Remove uid if its flags as stored now include all of require.  1
 * removed, 0 not there (or require not set), -1 with errno; *removed_r
 * (may be NULL): whether a file was removed by this call. */
static int mbox_remove_uid_if(struct mbox *mb, uint32_t uid, uint32_t require, int *removed_r)
{
	char name[MBOX_BASE_MAX + 64];
	struct mbox_index_rec cur;
	struct mbox_ul_entry ue;
	struct mbox_scan sc = { 0 };
	int removed = 0;

	if (removed_r != NULL)
		*removed_r = 0;
	if (mbox_change_begin(mb) < 0)
		return -1;
	if (!mbox_fold_get(mb->st, uid, &cur))
		return mbox_change_end(mb, 0);   /* expunged by another session */
	if ((cur.flags & require) != require)
		return mbox_change_end(mb, 0);   /* e.g. \Deleted cleared by another session */
	if (!mbox_ul_get(mb->st, uid, &ue))
		return mbox_change_end(mb, 0);
	long long cur0 = mbox_dir_stamp(mb, "cur");
	if (mbox_msg_path(ue.base, ue.base_len, cur.flags, cur.other, name, sizeof(name)) < 0)
		return mbox_change_end(mb, -1);
	if (unlinkat(mb->dirfd, name, 0) == 0)
		removed = 1;
	else if (errno != ENOENT)
		return mbox_change_end(mb, -1);
	/* Renamed by another program, or more files of one base name: find
	 * every one, so that none brings the message back. */
	if (!removed || (cur.state & MBOX_STATE_DUP) != 0) {
		if (mbox_find_base(mb, ue.base, ue.base_len, &sc) < 0)
			return mbox_change_end(mb, -1);
		for (size_t i = 0; i < sc.n; i++) {
			if (unlinkat(mb->dirfd, sc.f[i].name, 0) == 0)
				removed = 1;
			else if (errno != ENOENT) {
				mbox_scan_free(&sc);
				return mbox_change_end(mb, -1);
			}
		}
		mbox_scan_free(&sc);
	}
	if (removed_r != NULL)
		*removed_r = removed;
	struct mbox_index_rec rec = { .type = MBOX_REC_EXPUNGE, .uid = uid,
				      .modseq = mbox_index_next_modseq(mb) };
	if (mbox_index_append(mb, &rec, 1) < 0)
		return mbox_change_end(mb, -1);
	if (mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, 1);
}

int mbox_remove_uid(struct mbox *mb, uint32_t uid, int *removed_r)
{
	return mbox_remove_uid_if(mb, uid, 0, removed_r) < 0 ? -1 : 0;
}

int mbox_msg_expunge(struct mbox *mb, size_t idx, int *removed_r)
{
	if (removed_r != NULL)
		*removed_r = 0;
	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	return mbox_remove_uid(mb, mb->msgs[idx].uid, removed_r);
}

int mbox_msg_remove(struct mbox *mb, size_t idx)
{
	return mbox_msg_expunge(mb, idx, NULL);
}

int mbox_msg_remove_if(struct mbox *mb, size_t idx, uint32_t flags, int *removed_r)
{
	if (removed_r != NULL)
		*removed_r = 0;
	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	return mbox_remove_uid_if(mb, mb->msgs[idx].uid, flags, removed_r);
}

static int mbox_keyword_lookup(const struct mbox *mb, const char *name, size_t len)
{
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++)
		if (mb->keywords[i] != NULL && strlen(mb->keywords[i]) == len &&
		    strncasecmp(mb->keywords[i], name, len) == 0)
			return i;
	return -1;
}

int mbox_keyword(struct mbox *mb, const char *name, size_t len, int create, uint32_t *bit_r)
{
	int i = mbox_keyword_lookup(mb, name, len);

	if (i < 0 && create) {
		if (mbox_change_begin(mb) < 0)
			return -1;
		i = mbox_keyword_lookup(mb, name, len);   /* added by another session? */
		if (i < 0 && mbox_kw_add(mb, name, len, &i) < 0)
			return mbox_change_end(mb, -1);
		mbox_change_end(mb, 0);
	}
	if (i < 0) {
		errno = ENOENT;
		return -1;
	}
	*bit_r = MBOX_KEYWORD(i);
	return 0;
}

uint64_t mbox_emailid_hash(const char *p, size_t n)
{
	uint64_t h = 14695981039346656037ULL;   /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

void mbox_mailboxid(const struct mbox *mb, char *out, size_t len)
{
	const struct mbox_state *st = mb->st;
	size_t k = 0;

	if (!st->ul_has_guid) {
		snprintf(out, len, "V%u", mb->uidvalidity);
		return;
	}
	if (len > 0)
		out[k++] = 'F';
	for (int i = 0; i < DOVECOT_GUID_SIZE && k + 2 < len; i++) {
		out[k++] = "0123456789abcdef"[st->ul_guid[i] >> 4];
		out[k++] = "0123456789abcdef"[st->ul_guid[i] & 15];
	}
	if (len > 0)
		out[k < len ? k : len - 1] = '\0';
}

uint64_t mbox_emailid_of(const struct mbox *mb, uint32_t uid)
{
	struct mbox_ul_entry e;

	if (!mbox_ul_get(mb->st, uid, &e))
		return 0;
	return e.emailid != 0 ? e.emailid : mbox_emailid_hash(e.base, e.base_len);
}

uint64_t mbox_msg_emailid(const struct mbox *mb, size_t idx)
{
	return idx < mb->n ? mbox_emailid_of(mb, mb->msgs[idx].uid) : 0;
}

uint32_t mbox_recent_from(const struct mbox *mb)
{
	return mb->st->recent_hw > 0 ? mb->st->recent_hw : 1;
}

/* ---- adding messages ---- */

int mbox_tmp_create(struct mbox *mb, char *name, size_t len)
{
	char base[MBOX_BASE_MAX + 1];

	if (maildir_unique_name(base, sizeof(base)) < 0)
		return -1;
	if ((size_t)snprintf(name, len, "tmp/%s", base) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return openat(mb->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
}

int mbox_take_file(struct mbox *mb, const char *name, size_t base_len, uint32_t flags, uint64_t emailid,
		   uint32_t *uid_r, const char **error_r)
{
	struct mbox_file f = { .name = (char *)name, .base_len = base_len, .flags = flags, .has_info = 1,
			       .emailid = emailid };
	struct mbox_ul_entry e;
	struct mbox_index_rec cur;

	if (mbox_add_files(mb, &f, 1, error_r) < 0)
		return -1;
	if (mbox_ul_find_base(mb, name + 4, base_len, &e) <= 0 || !mbox_fold_get(mb->st, e.uid, &cur)) {
		*error_r = "the message vanished";
		errno = ENOENT;
		return -1;
	}
	*uid_r = e.uid;
	return 0;
}

int mbox_append_tmp(struct mbox *mb, const char *tmpname, uint32_t flags, long long date,
		    uint32_t *uid_r, const char **error_r)
{
	char to[MBOX_BASE_MAX + 80];
	const char *base = tmpname + 4;
	size_t base_len;
	int r;

	if (strncmp(tmpname, "tmp/", 4) != 0 || !mbox_base_ok(tmpname + 4, strlen(tmpname + 4))) {
		*error_r = "bad temp file name";
		errno = EINVAL;
		return -1;
	}
	base_len = strlen(base);
	if (date >= 0) {
		struct timespec ts[2] = { { (time_t)date, 0 }, { (time_t)date, 0 } };
		if (utimensat(mb->dirfd, tmpname, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			*error_r = "cannot set the internal date";
			goto fail;
		}
	}
	if (mbox_msg_path(base, base_len, flags, 0, to, sizeof(to)) < 0 || mbox_change_begin(mb) < 0) {
		*error_r = "cannot lock the folder";
		goto fail;
	}
	long long cur0 = mbox_dir_stamp(mb, "cur");
	if (renameat2(mb->dirfd, tmpname, mb->dirfd, to, RENAME_NOREPLACE) < 0) {
		*error_r = "cannot move the message into cur/";
		mbox_change_end(mb, -1);
		goto fail;
	}
	r = mbox_take_file(mb, to, base_len, flags, 0, uid_r, error_r);
	if (r == 0 && mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, r);
fail:;
	int e = errno;
	unlinkat(mb->dirfd, tmpname, 0);
	errno = e;
	return -1;
}
