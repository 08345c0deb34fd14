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

/* The current name of the message of rec (base from its UID list entry). */
static int mbox_rec_path(struct mbox *mb, const struct mbox_index_rec *rec, char *out, size_t len)
{
	const struct mbox_ul_entry *e = mbox_ul_find_uid(mb->st, rec->uid);
	struct mbox_msg m = { .flags = rec->flags, .other = rec->other };

	if (e == NULL) {
		errno = ENOENT;
		return -1;
	}
	m.base = e->base;
	m.base_len = e->base_len;
	return mbox_msg_path(&m, out, len);
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
	struct mbox_scan sc;
	int fd;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	const struct mbox_msg *m = &mb->msgs[idx];
	if (mbox_msg_path(m, name, sizeof(name)) == 0 && (fd = mbox_open_regular(mb, name)) >= 0)
		return fd;
	if (errno != ENOENT)
		return -1;
	/* Renamed since (flags changed by someone else, or still in new/):
	 * look the base name up where renames by Postern cannot run. */
	if (mbox_lock(mb, LOCK_SH) < 0)
		return -1;
	fd = -1;
	if (mbox_locate(mb, m->base, m->base_len, &sc) == 0)
		fd = mbox_open_regular(mb, sc.f[0].name);
	int e = errno;
	mbox_scan_free(&sc);
	mbox_unlock(mb);
	errno = e;
	return fd;
}

/* Whether a file of the message of rec (base name in ue) is in the
 * folder, under the folder lock.  0, or -1 (ENOENT: there is none). */
static int mbox_rec_present(struct mbox *mb, const struct mbox_index_rec *rec, const struct mbox_ul_entry *ue)
{
	char name[MBOX_BASE_MAX + 64];
	struct mbox_scan sc;
	struct stat sb;

	if (mbox_rec_path(mb, rec, name, sizeof(name)) < 0)
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
	struct mbox_idx_msg *im;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	struct mbox_msg *m = &mb->msgs[idx];
	if (mbox_change_begin(mb) < 0)
		return -1;
	if ((im = mbox_index_find(mb->st, m->uid)) == NULL) {
		errno = ENOENT;   /* expunged by another session */
		return mbox_change_end(mb, -1);
	}
	rec = im->rec;
	const struct mbox_ul_entry *ue = mbox_ul_find_uid(mb->st, m->uid);
	if (ue == NULL) {
		errno = ENOENT;
		return mbox_change_end(mb, -1);
	}
	if (rec.modseq > unchangedsince)
		return mbox_change_end(mb, 1);
	/* On the flags as stored now: another session's change since this
	 * view's last sync is kept, not undone. */
	uint32_t flags = (rec.flags & ~remove) | add;
	if (rec.flags == flags) {
		if (mbox_rec_present(mb, &rec, ue) < 0)
			return mbox_change_end(mb, -1);
		m->flags = flags;
		m->modseq = rec.modseq;
		return mbox_change_end(mb, 0);
	}
	long long cur0 = mbox_dir_stamp(mb, "cur");
	struct mbox_msg want = { .flags = flags, .other = rec.other, .base = ue->base,
				 .base_len = ue->base_len };
	if (mbox_rec_path(mb, &rec, from, sizeof(from)) < 0 || mbox_msg_path(&want, to, sizeof(to)) < 0)
		return mbox_change_end(mb, -1);
	if (renameat(mb->dirfd, from, mb->dirfd, to) < 0) {
		struct mbox_scan sc;
		if (errno != ENOENT || mbox_locate(mb, ue->base, ue->base_len, &sc) < 0)
			return mbox_change_end(mb, -1);
		int r = renameat(mb->dirfd, sc.f[0].name, mb->dirfd, to);
		mbox_scan_free(&sc);
		if (r < 0)
			return mbox_change_end(mb, -1);
	}
	rec.type = MBOX_REC_FLAGS;
	rec.flags = flags;
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
	struct mbox_idx_msg *im;
	struct mbox_scan sc = { 0 };
	int removed = 0;

	if (removed_r != NULL)
		*removed_r = 0;
	if (mbox_change_begin(mb) < 0)
		return -1;
	if ((im = mbox_index_find(mb->st, uid)) == NULL)
		return mbox_change_end(mb, 0);   /* expunged by another session */
	if ((im->rec.flags & require) != require)
		return mbox_change_end(mb, 0);   /* e.g. \Deleted cleared by another session */
	const struct mbox_ul_entry *ue = mbox_ul_find_uid(mb->st, uid);
	if (ue == NULL)
		return mbox_change_end(mb, 0);
	long long cur0 = mbox_dir_stamp(mb, "cur");
	if (mbox_rec_path(mb, &im->rec, name, sizeof(name)) < 0)
		return mbox_change_end(mb, -1);
	if (unlinkat(mb->dirfd, name, 0) == 0)
		removed = 1;
	else if (errno != ENOENT)
		return mbox_change_end(mb, -1);
	/* Renamed by another program, or more files of one base name: find
	 * every one, so that none brings the message back. */
	if (!removed || (im->rec.state & MBOX_STATE_DUP) != 0) {
		if (mbox_find_base(mb, ue->base, ue->base_len, &sc) < 0)
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

static int mbox_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int mbox_expunged_since(struct mbox *mb, uint64_t modseq, uint32_t **uids_r, size_t *n_r)
{
	struct mbox_state *st = mb->st;
	size_t n = 0;
	uint32_t *u;

	*uids_r = NULL;
	*n_r = 0;
	if ((u = calloc(st->ex_n > 0 ? st->ex_n : 1, sizeof(*u))) == NULL)
		return -1;
	for (size_t i = 0; i < st->ex_n; i++)
		if (st->ex[i].modseq > modseq)
			u[n++] = st->ex[i].uid;
	if (n > 1)
		qsort(u, n, sizeof(*u), mbox_uid_cmp);
	*uids_r = u;
	*n_r = n;
	return modseq < st->ex_floor ? 1 : 0;
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

uint64_t mbox_emailid_of(const struct mbox *mb, const struct mbox_msg *m)
{
	const struct mbox_ul_entry *e = mbox_ul_find_uid(mb->st, m->uid);

	if (e != NULL && e->emailid != 0)
		return e->emailid;
	return mbox_emailid_hash(m->base, m->base_len);
}

uint64_t mbox_msg_emailid(const struct mbox *mb, size_t idx)
{
	return idx < mb->n ? mbox_emailid_of(mb, &mb->msgs[idx]) : 0;
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
	const struct mbox_ul_entry *e;

	if (mbox_add_files(mb, &f, 1, error_r) < 0)
		return -1;
	e = mbox_ul_find_base(mb, name + 4, base_len);
	if (e == NULL || mbox_index_find(mb->st, e->uid) == NULL) {
		*error_r = "the message vanished";
		errno = ENOENT;
		return -1;
	}
	*uid_r = e->uid;
	return 0;
}

int mbox_append_tmp(struct mbox *mb, const char *tmpname, uint32_t flags, long long date,
		    uint32_t *uid_r, const char **error_r)
{
	char to[MBOX_BASE_MAX + 80];
	struct mbox_msg want = { .flags = flags };
	int r;

	if (strncmp(tmpname, "tmp/", 4) != 0 || !mbox_base_ok(tmpname + 4, strlen(tmpname + 4))) {
		*error_r = "bad temp file name";
		errno = EINVAL;
		return -1;
	}
	want.base = tmpname + 4;
	want.base_len = strlen(tmpname + 4);
	if (date >= 0) {
		struct timespec ts[2] = { { (time_t)date, 0 }, { (time_t)date, 0 } };
		if (utimensat(mb->dirfd, tmpname, ts, AT_SYMLINK_NOFOLLOW) < 0) {
			*error_r = "cannot set the internal date";
			goto fail;
		}
	}
	if (mbox_msg_path(&want, to, sizeof(to)) < 0 || mbox_change_begin(mb) < 0) {
		*error_r = "cannot lock the folder";
		goto fail;
	}
	long long cur0 = mbox_dir_stamp(mb, "cur");
	if (renameat2(mb->dirfd, tmpname, mb->dirfd, to, RENAME_NOREPLACE) < 0) {
		*error_r = "cannot move the message into cur/";
		mbox_change_end(mb, -1);
		goto fail;
	}
	r = mbox_take_file(mb, to, want.base_len, flags, 0, uid_r, error_r);
	if (r == 0 && mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, r);
fail:;
	int e = errno;
	unlinkat(mb->dirfd, tmpname, 0);
	errno = e;
	return -1;
}
