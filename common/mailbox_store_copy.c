/* mailbox_store_copy: COPY and MOVE of messages from one folder into
 * another, each as one action (RFC 9051 6.4.7, RFC 6851).
 *
 * Offers: mbox_copy_set, mbox_move_set (mailbox_store.h).  A copy is a
 * hard link of the message file, under a new base name, in the target's
 * cur/, given a UID in the target at once (COPYUID) and the flags the
 * message has as stored then (not as the session last saw them: a MOVE
 * must not undo another session's change).  A MOVE is the
 * copies and then the removal of the sources -- not a rename per message
 * -- so that it can be taken back whole while no source is touched:
 *   0. every source is looked up in the source's index (one shared lock):
 *      one another session expunged fails the command before anything
 *      is linked, so nobody sees copies come and go;
 *   1. every message is linked into the target; when one cannot be (it
 *      was expunged meanwhile, the disk is full), the links made are
 *      removed again and neither folder has changed (RFC 9051 6.4.7:
 *      the target as it was before the command);
 *   2. the sources are removed, each expunge logged in the source; a
 *      message whose source cannot be removed (a read-only directory)
 *      loses its copy again and stays where it was.
 * So a message ends in one folder: never in neither, and not in both
 * (RFC 6851 3.1: each message moved or unaffected, none lost, none left
 * in both) unless its copy cannot be taken back either, which is logged.
 * Between the two steps another session may see a message in both
 * folders for a moment, and a crash there leaves both: a duplicate,
 * never a loss.
 *
 * Trusts: view indexes are checked; file names are the store's own.
 * Fails: -1 with a static *error_r and errno; what could not be undone
 * is logged with the folder and UID. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
#include "mailbox_store_int.h"
#include "maildir.h"

/* A message to copy, as stored when the copy began. */
struct mbox_copy_src {
	uint32_t uid;
	uint32_t flags, other;         /* as stored */
	char base[MBOX_BASE_MAX + 1];
	size_t base_len;
	uint64_t emailid;              /* RFC 8474: the copy is the same message */
};

/* Messages idx[0..n) of src with their flags as stored now, into
 * cur[0..n), read under src's shared lock in one pass: what other
 * sessions changed since src's last sync included, so that a copy
 * carries the message's flags and a MOVE does not undo a change made
 * before it; and a message expunged meanwhile is found before anything
 * is linked, so that no other session sees copies that a failed COPY
 * takes back.  0, or -1 with errno (ENOENT: *failed_r was expunged). */
static int mbox_stored_set(struct mbox *src, const size_t *idx, size_t n, struct mbox_copy_src *cur,
			   size_t *failed_r)
{
	const char *err;
	int full = 0, missing = 0, r = -1;

	if (mbox_lock(src, LOCK_SH) < 0)
		return -1;
	if (mbox_read_tails(src, &full, &missing, &err) < 0) {
		/* errno says why */
	} else if (missing) {
		errno = ESTALE;
	} else {
		size_t i;
		for (i = 0; i < n; i++) {
			struct mbox_index_rec rec;
			struct mbox_ul_entry e;
			if (idx[i] >= src->n) {
				errno = EINVAL;
				break;
			}
			uint32_t uid = src->msgs[idx[i]].uid;
			if (!mbox_fold_get(src->st, uid, &rec) || !mbox_ul_get(src->st, uid, &e)) {
				errno = ENOENT;
				break;
			}
			cur[i].uid = uid;
			cur[i].flags = rec.flags;
			cur[i].other = rec.other;
			memcpy(cur[i].base, e.base, e.base_len);
			cur[i].base[e.base_len] = '\0';
			cur[i].base_len = e.base_len;
			cur[i].emailid = e.emailid != 0 ? e.emailid : mbox_emailid_hash(e.base, e.base_len);
		}
		*failed_r = i;
		r = i == n ? 0 : -1;
	}
	src->st->pending_full |= full;
	int e = errno;
	mbox_unlock(src);
	errno = e;
	return r;
}

/* The flags of message m of src as dst's bits (keywords by name). */
static int mbox_flags_for(struct mbox *src, const struct mbox_copy_src *m, struct mbox *dst, uint32_t *flags_r)
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

/* Link message m of src (with its flags as stored) into dst under a new
 * base name and give it a UID there.  0, or -1 with *error_r (dst then
 * has no new file). */
static int mbox_copy_one(struct mbox *src, const struct mbox_copy_src *m, struct mbox *dst, uint32_t *uid_r,
			 const char **error_r)
{
	char from[MBOX_BASE_MAX + 80], to[MBOX_BASE_MAX + 80], base[MBOX_BASE_MAX + 1];
	struct mbox_scan sc = { 0 };
	uint32_t flags;
	size_t base_len;
	int r = -1;

	if (mbox_flags_for(src, m, dst, &flags) < 0) {
		*error_r = "cannot add a keyword";
		return -1;
	}
	if (maildir_unique_name(base, sizeof(base)) < 0) {
		*error_r = "name too long";
		return -1;
	}
	base_len = strlen(base);
	if (mbox_msg_path(m->base, m->base_len, m->flags, m->other, from, sizeof(from)) < 0 ||
	    mbox_msg_path(base, base_len, flags, 0, to, sizeof(to)) < 0) {
		*error_r = "name too long";
		return -1;
	}
	if (mbox_change_begin(dst) < 0) {
		*error_r = "cannot lock the destination";
		return -1;
	}
	long long cur0 = mbox_dir_stamp(dst, "cur");
	for (int attempt = 0; attempt < 2; attempt++) {
		r = linkat(src->dirfd, from, dst->dirfd, to, 0);
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
	r = mbox_take_file(dst, to, base_len, flags, m->emailid, uid_r, error_r);
	if (r < 0) {
		/* Not logged as a message: a later sync must not take the
		 * link in as one.  It is a second name of the source's file,
		 * so removing it loses nothing. */
		int e = errno;
		if (unlinkat(dst->dirfd, to, 0) < 0 && errno != ENOENT)
			log_warn("%s: cannot remove %s of a failed copy: %s", dst->path, to, strerror(errno));
		errno = e;
	} else if (mbox_stamp_own_change(dst, cur0) < 0) {
		log_warn("%s: cannot write the index: %s", dst->path, strerror(errno));
	}
	return mbox_change_end(dst, r);
}

/* Remove the copies uids[0..n) (0: none) from dst again. */
static void mbox_copies_take_back(struct mbox *dst, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (uids[i] != 0 && mbox_remove_uid(dst, uids[i], NULL) < 0)
			log_warn("%s: cannot take back UID %u of a failed copy: %s", dst->path, uids[i],
				 strerror(errno));
}

int mbox_copy_set(struct mbox *src, const size_t *idx, size_t n, struct mbox *dst, uint32_t *uids_r,
		  size_t *failed_r, const char **error_r)
{
	struct mbox_copy_src *cur = calloc(n > 0 ? n : 1, sizeof(*cur));
	size_t i;

	for (i = 0; i < n; i++)
		uids_r[i] = 0;
	if (cur == NULL) {
		*failed_r = 0;
		*error_r = "out of memory";
		return -1;
	}
	if (mbox_stored_set(src, idx, n, cur, failed_r) < 0) {
		int e = errno;
		*error_r = e == ENOENT ? "the message is gone" : "cannot read the source's flags";
		free(cur);
		errno = e;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (mbox_copy_one(src, &cur[i], dst, &uids_r[i], error_r) < 0)
			break;
	free(cur);
	if (i == n)
		return 0;
	int e = errno;
	*failed_r = i;
	mbox_copies_take_back(dst, uids_r, i);
	for (size_t k = 0; k < i; k++)
		uids_r[k] = 0;
	errno = e;
	return -1;
}

/* Step 2 of a MOVE for message idx of src, copied to dst as *uid: remove
 * the source; when that fails and the source is still there, take the
 * copy back (*uid = 0).  0 when the message moved, -1 when not. */
static int mbox_move_source(struct mbox *src, size_t idx, struct mbox *dst, uint32_t *uid)
{
	uint32_t src_uid = src->msgs[idx].uid;

	if (mbox_msg_remove(src, idx) == 0)
		return 0;   /* also when another session expunged it meanwhile: the copy is all there is */
	int e = errno;
	int fd = mbox_msg_open(src, idx);
	if (fd < 0 && errno == ENOENT)
		return 0;   /* removed, the expunge not logged: src's next rescan logs it */
	if (fd < 0) {
		/* Whether the source is there cannot be told: keep the copy,
		 * so that the message is in one folder at least. */
		log_warn("%s: UID %u copied to %s as UID %u, cannot remove it (%s) nor look it up: %s", src->path,
			 src_uid, dst->path, *uid, strerror(e), strerror(errno));
		return -1;
	}
	close(fd);
	log_warn("%s: cannot move UID %u to %s: cannot remove it: %s", src->path, src_uid, dst->path, strerror(e));
	if (mbox_remove_uid(dst, *uid, NULL) == 0) {
		*uid = 0;
		return -1;
	}
	log_warn("%s: UID %u is now in %s too, as UID %u: its copy cannot be taken back: %s", src->path, src_uid,
		 dst->path, *uid, strerror(errno));
	return -1;
}

long mbox_move_set(struct mbox *src, const size_t *idx, size_t n, struct mbox *dst, uint32_t *uids_r,
		   size_t *failed_r, const char **error_r)
{
	long stayed = 0;

	if (mbox_copy_set(src, idx, n, dst, uids_r, failed_r, error_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (mbox_move_source(src, idx[i], dst, &uids_r[i]) < 0)
			stayed++;
	return stayed;
}
