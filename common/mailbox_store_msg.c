/* mailbox_store_msg: what a session does to one message: open it, set
 * its flags, remove it; keywords; the expunges remembered for VANISHED.
 *
 * Offers: see mailbox_store.h.  Every change takes the exclusive folder
 * lock, reads what others appended first (so the change applies to the
 * current state, not the session's view), renames or unlinks the file,
 * and logs the change with a new MODSEQ.  The session's own view is
 * updated at once for flags (its STORE reply shows them); expunges reach
 * the view at the next mbox_sync, as IMAP wants.
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

/* Take the exclusive lock and read what others appended. */
static int mbox_change_begin(struct mbox *mb)
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

static int mbox_change_end(struct mbox *mb, int r)
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

/* The files of a base name found by scanning (under the folder lock). */
static int mbox_locate(struct mbox *mb, const char *base, size_t len, struct mbox_scan *sc)
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

int mbox_msg_set_flags(struct mbox *mb, size_t idx, uint32_t flags)
{
	return mbox_msg_set_flags_if(mb, idx, flags, UINT64_MAX);
}

int mbox_msg_set_flags_if(struct mbox *mb, size_t idx, uint32_t flags, uint64_t unchangedsince)
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
	if (rec.flags == flags) {
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

int mbox_msg_remove(struct mbox *mb, size_t idx)
{
	char name[MBOX_BASE_MAX + 64];
	struct mbox_idx_msg *im;
	struct mbox_scan sc = { 0 };
	int removed = 0;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	const struct mbox_msg *m = &mb->msgs[idx];
	if (mbox_change_begin(mb) < 0)
		return -1;
	if ((im = mbox_index_find(mb->st, m->uid)) == NULL)
		return mbox_change_end(mb, 0);   /* expunged by another session */
	const struct mbox_ul_entry *ue = mbox_ul_find_uid(mb->st, m->uid);
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
			if (unlinkat(mb->dirfd, sc.f[i].name, 0) < 0 && errno != ENOENT) {
				mbox_scan_free(&sc);
				return mbox_change_end(mb, -1);
			}
		}
		mbox_scan_free(&sc);
	}
	struct mbox_index_rec rec = { .type = MBOX_REC_EXPUNGE, .uid = m->uid,
				      .modseq = mbox_index_next_modseq(mb) };
	if (mbox_index_append(mb, &rec, 1) < 0)
		return mbox_change_end(mb, -1);
	if (mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, 0);
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

/* Log the file cur/NAME (base_len bytes of base) as a new message and
 * find its UID.  Under the exclusive lock. */
static int mbox_take_file(struct mbox *mb, const char *name, size_t base_len, uint32_t flags,
			  uint32_t *uid_r, const char **error_r)
{
	struct mbox_file f = { .name = (char *)name, .base_len = base_len, .flags = flags, .has_info = 1 };
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
	r = mbox_take_file(mb, to, want.base_len, flags, uid_r, error_r);
	if (r == 0 && mbox_stamp_own_change(mb, cur0) < 0)
		log_warn("%s: cannot write the index: %s", mb->path, strerror(errno));
	return mbox_change_end(mb, r);
fail:;
	int e = errno;
	unlinkat(mb->dirfd, tmpname, 0);
	errno = e;
	return -1;
}

/* The flags of message m of src as dst's bits (keywords by name). */
static int mbox_flags_for(struct mbox *src, const struct mbox_msg *m, struct mbox *dst, uint32_t *flags_r)
{
	uint32_t flags = m->flags & MBOX_SYSTEM_FLAGS;

	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++) {
		uint32_t bit;
		const char *name = src->keywords[k];
		if ((m->flags & MBOX_KEYWORD(k)) == 0 || name == NULL)
			continue;
		if (mbox_keyword(dst, name, strlen(name), 1, &bit) < 0) {
			if (errno == ENOSPC)
				continue;   /* dst has no letter left: the keyword stays behind */
			return -1;
		}
		flags |= bit;
	}
	*flags_r = flags;
	return 0;
}

int mbox_copy(struct mbox *src, size_t idx, struct mbox *dst, int move, uint32_t *uid_r,
	      const char **error_r)
{
	char from[MBOX_BASE_MAX + 80], to[MBOX_BASE_MAX + 80], base[MBOX_BASE_MAX + 1];
	struct mbox_msg want = { 0 };
	struct mbox_scan sc = { 0 };
	int r = -1;

	if (idx >= src->n) {
		errno = EINVAL;
		*error_r = "no such message";
		return -1;
	}
	const struct mbox_msg *m = &src->msgs[idx];
	if (mbox_flags_for(src, m, dst, &want.flags) < 0) {
		*error_r = "cannot add a keyword";
		return -1;
	}
	/* A copy is a new message, with a new base name; a move keeps its
	 * own unless the destination knows it already. */
	if (!move || mbox_ul_find_base(dst, m->base, m->base_len) != NULL) {
		if (maildir_unique_name(base, sizeof(base)) < 0) {
			*error_r = "name too long";
			return -1;
		}
	} else {
		snprintf(base, sizeof(base), "%.*s", (int)m->base_len, m->base);
	}
	want.base = base;
	want.base_len = strlen(base);
	if (mbox_msg_path(m, from, sizeof(from)) < 0 || mbox_msg_path(&want, to, sizeof(to)) < 0) {
		*error_r = "name too long";
		return -1;
	}
	long long src_cur0 = mbox_dir_stamp(src, "cur");
	if (mbox_change_begin(dst) < 0) {
		*error_r = "cannot lock the destination";
		return -1;
	}
	long long cur0 = mbox_dir_stamp(dst, "cur");
	for (int attempt = 0; attempt < 2; attempt++) {
		r = move ? renameat2(src->dirfd, from, dst->dirfd, to, RENAME_NOREPLACE)
			 : linkat(src->dirfd, from, dst->dirfd, to, 0);
		if (r == 0 || errno != ENOENT || attempt > 0)
			break;
		/* Renamed meanwhile (flags changed by another session): look
		 * it up by base name and try once more. */
		if (mbox_locate(src, m->base, m->base_len, &sc) < 0)
			break;
		snprintf(from, sizeof(from), "%s", sc.f[0].name);
		mbox_scan_free(&sc);
	}
	if (r < 0) {
		*error_r = errno == ENOENT ? "the message is gone" : "cannot link the message";
		return mbox_change_end(dst, -1);
	}
	r = mbox_take_file(dst, to, want.base_len, want.flags, uid_r, error_r);
	if (r == 0 && mbox_stamp_own_change(dst, cur0) < 0)
		log_warn("%s: cannot write the index: %s", dst->path, strerror(errno));
	mbox_change_end(dst, r);
	if (r < 0 || !move)
		return r;
	/* The source forgets it (the file is gone from it already). */
	if (mbox_change_begin(src) == 0) {
		if (mbox_index_find(src->st, m->uid) != NULL) {
			struct mbox_index_rec rec = { .type = MBOX_REC_EXPUNGE, .uid = m->uid,
						      .modseq = mbox_index_next_modseq(src) };
			if (mbox_index_append(src, &rec, 1) < 0 || mbox_stamp_own_change(src, src_cur0) < 0)
				log_warn("%s: cannot write the index: %s", src->path, strerror(errno));
		}
		mbox_change_end(src, 0);
	}
	return 0;
}
