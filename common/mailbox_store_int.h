/* mailbox_store_int: what the parts of the mailbox store share and
 * nobody else sees.  mailbox_store.h is the interface. */
#ifndef POSTERN_MAILBOX_STORE_INT_H
#define POSTERN_MAILBOX_STORE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "arena.h"
#include "dovecot_keywords.h"
#include "dovecot_uidlist.h"
#include "mailbox_store.h"

#define MBOX_UIDLIST_FILE "dovecot-uidlist"
#define MBOX_KEYWORDS_FILE "dovecot-keywords"
#define MBOX_STAMP_SETTLE_NS 1000000000LL  /* a directory mtime younger than this may hide a change */
#define MBOX_COMPACT_SLACK 1000            /* dead records tolerated before a rewrite */

/* One base name -> UID of dovecot-uidlist (present or not). */
struct mbox_ul_entry {
	uint32_t uid;
	const char *base;              /* in st->names */
	size_t base_len;
	uint64_t emailid;              /* from the record's G field; 0: none (then the base name's) */
};

/* Per-UID state folded from the index log. */
struct mbox_idx_msg {
	struct mbox_index_rec rec;     /* the MSG record, flags/modseq updated by FLAGS records */
};

struct mbox_expunged {
	uint32_t uid;
	uint64_t modseq;
};

/* Identity and read position of one append-only file.  The file is
 * kept open (pin) while its identity is known: a file system gives the
 * inode number of a file unlinked and closed to the next new file (ext4
 * does at once), so a log replaced twice since it was last read could
 * otherwise pass for the one read -- and be read on, or cut, from a
 * position in another file. */
struct mbox_filepos {
	dev_t dev;
	ino_t ino;
	off_t off;                     /* bytes consumed */
	int known;
	int pin;                       /* a descriptor of that file, or -1 */
};

struct mbox_state {
	int lockfd;                    /* postern-store.lock, or -1 */
	int lock_mode;                 /* 0, LOCK_SH or LOCK_EX */
	struct arena names;            /* base names; freed on full reload */

	struct mbox_filepos ul_pos;    /* dovecot-uidlist */
	struct mbox_ul_entry *ul;      /* every record, ascending UID */
	size_t ul_n, ul_alloc;
	size_t *ul_sorted;             /* indexes of ul by base name (mbox_ul_find_base) */
	size_t ul_sorted_n;
	unsigned char ul_guid[DOVECOT_GUID_SIZE];  /* G of the list: the folder's mailbox GUID, */
	int ul_has_guid;               /* kept through a rewrite (Dovecot's STATUS X-GUID) */

	struct mbox_filepos idx_pos;   /* postern-index */
	struct mbox_index_hdr hdr;     /* of the log read */
	size_t idx_records;            /* records in the file (compaction) */
	struct mbox_idx_msg *im;       /* measured messages, ascending UID */
	size_t im_n, im_alloc, im_dead;/* im_dead: expunged (type 0), dropped after each read */
	struct mbox_expunged *ex;      /* remembered expunges, ascending modseq */
	size_t ex_n, ex_alloc;
	uint64_t ex_floor;             /* expunges with modseq <= this are forgotten */
	long long new_stamp, cur_stamp;/* directories as last scanned (ns), -1 unknown */
	int stamp_verified;            /* bit 0 new/, bit 1 cur/ */
	int scan_overflow;             /* the last scan of cur/ found more than mbox_messages_max files */
	uint32_t recent_hw;            /* UIDs below were \Recent to some session */
	uint32_t claim_from, claim_to; /* this sync claimed \Recent for [from, to) */

	struct dovecot_keywords kw;    /* dovecot-keywords as last read */
	struct timespec kw_mtime;
	off_t kw_size;                 /* -1: no file; -2: reread */
	ino_t kw_ino;
	int kw_changed;                /* reread since the last view refresh */
	int in_sync;                   /* inside mbox_sync: the view is rebuilt after a full read */

	size_t view_alloc;             /* slots allocated in mb->msgs */
	struct mbox_cache *cache;      /* postern-cache's index (mailbox_store_cache.c), or NULL */
	int pending_full;              /* a whole file was reread outside mbox_sync */
	/* Changes folded since the last view refresh (become mb->changes). */
	uint32_t *chg_exp, *chg_flag;
	size_t chg_exp_n, chg_exp_alloc, chg_flag_n, chg_flag_alloc;
};

/* ---- mailbox_store_index.c: the postern-index log ---- */
/* Read the log: all of it on a new or replaced file (full = 1 on
 * return), else the records appended since the last read, folding each
 * into st.  0, 1 when there is no usable log (mbox_index_create under
 * the exclusive lock), or -1 (errno). */
int mbox_index_read(struct mbox *mb, int *full_r);
/* Append records (one write) and fold them into st.  0 or -1. */
int mbox_index_append(struct mbox *mb, const struct mbox_index_rec *r, size_t n);
/* Start a new, empty log for mb->uidvalidity (temp + rename). 0 or -1. */
int mbox_index_create(struct mbox *mb);
/* Rewrite the log without dead records when they are many. 0 or -1. */
int mbox_index_compact_maybe(struct mbox *mb);
/* The measured state of uid, or NULL. */
struct mbox_idx_msg *mbox_index_find(struct mbox_state *st, uint32_t uid);
/* The next MODSEQ to give out. */
uint64_t mbox_index_next_modseq(const struct mbox *mb);

/* ---- mailbox_store_uidlist.c: dovecot-uidlist and dovecot-keywords ---- */
/* Read the UID list (whole or its tail, as for the index).  0, 1 when
 * there is no usable list (mbox_ul_create under the exclusive lock), or
 * -1 (errno). */
int mbox_ul_read(struct mbox *mb, int *full_r);
/* Start a new list with a fresh UIDVALIDITY (keeping nothing). 0 or -1. */
int mbox_ul_create(struct mbox *mb);
/* Append n records (one write, then fdatasync). 0 or -1. */
int mbox_ul_append(struct mbox *mb, const struct mbox_ul_entry *e, size_t n);
/* Rewrite the list with only the UIDs still present when dead ones are many. */
int mbox_ul_compact_maybe(struct mbox *mb);
/* The record of base, or NULL (also when memory ran out for the sorted view). */
const struct mbox_ul_entry *mbox_ul_find_base(struct mbox *mb, const char *base, size_t len);
/* The record of uid, or NULL. */
const struct mbox_ul_entry *mbox_ul_find_uid(const struct mbox_state *st, uint32_t uid);
/* Reread dovecot-keywords when it changed.  0 or -1. */
int mbox_kw_read(struct mbox *mb);
/* Add name as the next free letter (under the exclusive lock). 0/-1. */
int mbox_kw_add(struct mbox *mb, const char *name, size_t len, int *letter_r);
/* A new UIDVALIDITY for a folder of the user whose INBOX is root_fd:
 * above every one given before, even within one second. 0 or -1. */
int mbox_uidvalidity_next(int root_fd, uint32_t *v_r);

/* ---- mailbox_store_scan.c: files ---- */
struct mbox_file {
	char *name;                    /* "cur/NAME" or "new/NAME" (malloc) */
	size_t base_len;               /* base = name + 4 */
	uint32_t flags, other;         /* from the info after ":2," */
	int has_info;                  /* the name has ":2," */
	uint64_t emailid;              /* a copy's EMAILID (its source's), 0 for a new message */
};
struct mbox_scan {
	struct mbox_file *f;
	size_t n, alloc;
	int overflow;
};
/* Append a copy of *f (its name pointer as it is) to sc. 0 or -1. */
int mbox_scan_push(struct mbox_scan *sc, const struct mbox_file *f);
/* Append the regular files of sub ("new" or "cur") to sc. 0 or -1. */
int mbox_scan_dir(struct mbox *mb, const char *sub, struct mbox_scan *sc);
void mbox_scan_free(struct mbox_scan *sc);
/* Sort by base name (cur/ before new/). */
void mbox_scan_sort_base(struct mbox_scan *sc);
/* Measure the file name (relative to the folder) into r (size, vsize,
 * date, header size, body lines).  Regular files only.  0 or -1. */
int mbox_measure(struct mbox *mb, const char *name, struct mbox_index_rec *r);
/* mtime of sub in ns, or -1 (errno). */
long long mbox_dir_stamp(struct mbox *mb, const char *sub);
/* The delivery time at the start of a Maildir base name, for ordering. */
int mbox_base_time_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* "cur/BASE:2,LETTERS" for a message into out. -1 when too long. */
int mbox_msg_path(const struct mbox_msg *m, char *out, size_t outlen);
/* Find the files of base in cur/ and new/ (a directory scan).  0 with
 * the matches in sc (possibly none), -1 on a real error (errno). */
int mbox_find_base(struct mbox *mb, const char *base, size_t len, struct mbox_scan *sc);

/* ---- mailbox_store_msg.c ---- */
/* Take the exclusive lock and read what others appended.  0 or -1. */
int mbox_change_begin(struct mbox *mb);
/* Release the lock taken by mbox_change_begin; returns r, errno kept. */
int mbox_change_end(struct mbox *mb, int r);
/* The files of a base name found by scanning (under the folder lock).
 * 0 with at least one in sc, or -1 (ENOENT: none). */
int mbox_locate(struct mbox *mb, const char *base, size_t len, struct mbox_scan *sc);
/* Remove the message uid (every file of its base name) and log the
 * expunge; needs no view.  0 (also when already gone; *removed_r, when
 * not NULL, says whether a file was removed) or -1 (errno). */
int mbox_remove_uid(struct mbox *mb, uint32_t uid, int *removed_r);
/* Log the file cur/NAME (base_len bytes of base) as a new message and
 * find its UID.  Under the exclusive lock.  0, or -1 with *error_r. */
/* The EMAILID a G field value or base name gives (FNV-1a, never 0). */
uint64_t mbox_emailid_hash(const char *p, size_t n);
/* The EMAILID of message m (uid and base name) of mb. */
uint64_t mbox_emailid_of(const struct mbox *mb, const struct mbox_msg *m);
int mbox_take_file(struct mbox *mb, const char *name, size_t base_len, uint32_t flags, uint64_t emailid,
		   uint32_t *uid_r, const char **error_r);

/* ---- mailbox_store_cache.c ---- */
struct mbox_cache;
void mbox_cache_free(struct mbox_state *st);

/* ---- mailbox_store_sync.c ---- */
/* Read what others appended (under a lock): *full_r when a whole file
 * was read, *missing_r when a file must be made.  0 or -1. */
int mbox_read_tails(struct mbox *mb, int *full_r, int *missing_r, const char **error_r);
/* After this session changed cur/ (cur_before: its stamp before), keep
 * the log's stamp current so others need no rescan for it. 0 or -1. */
int mbox_stamp_own_change(struct mbox *mb, long long cur_before);
/* Lock the folder (LOCK_SH or LOCK_EX; upgrading drops and retakes). 0/-1. */
int mbox_lock(struct mbox *mb, int mode);
/* Make fd (of the file sb describes, read up to off) the file of pos;
 * pos keeps fd open as its pin and closes the one it had. */
void mbox_filepos_take(struct mbox_filepos *pos, int fd, const struct stat *sb, off_t off);
/* Forget the file of pos and close its pin. */
void mbox_filepos_forget(struct mbox_filepos *pos);
void mbox_unlock(struct mbox *mb);
/* Record uids as changed in this sync. */
int mbox_note_change(uint32_t **arr, size_t *n, size_t *alloc, uint32_t uid);
/* Give the files the next UIDs and log them (uidlist, then index), flags
 * from their names, \Recent when claimed.  Under the exclusive lock. */
int mbox_add_files(struct mbox *mb, struct mbox_file *f, size_t n, const char **error_r);
/* Apply the folded state to the session's view (mb->msgs) and say what
 * changed in mb->changes; full after a whole file was (re)read. 0/-1. */
int mbox_view_refresh(struct mbox *mb, int full);

#endif
