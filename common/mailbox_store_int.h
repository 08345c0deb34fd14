/* mailbox_store_int: what the parts of the mailbox store share and
 * nobody else sees.  mailbox_store.h is the interface. */
#ifndef POSTERN_MAILBOX_STORE_INT_H
#define POSTERN_MAILBOX_STORE_INT_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "arena.h"
#include "dovecot_keywords.h"
#include "dovecot_uidlist.h"
#include "mailbox_store.h"

#define MBOX_UIDLIST_FILE "dovecot-uidlist"
#define MBOX_KEYWORDS_FILE "dovecot-keywords"
#define MBOX_STAMP_SETTLE_NS 1000000000LL  /* a directory mtime younger than this may hide a change */
#define MBOX_COMPACT_SLACK 1000            /* dead records tolerated before a rewrite */

#define MBOX_PENDING_MAX 256               /* measurements kept before they are logged */

/* Little-endian fields of the store's binary files. */
static inline void mbox_put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline void mbox_put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* One load each on a little-endian CPU (memcpy: any alignment). */
static inline uint32_t mbox_get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static inline uint64_t mbox_get64(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* Room for one more element of size elem in arr (n used, *alloc
 * allocated), doubling: the array (moved or not), or NULL (ENOMEM: arr
 * and *alloc unchanged). */
void *mbox_grow(void *arr, size_t n, size_t *alloc, size_t elem);

/* One base name -> UID of dovecot-uidlist (present or not). */
struct mbox_ul_entry {
	uint32_t uid;
	const char *base;              /* in st->names, or in the snapshot's mapping */
	size_t base_len;
	uint64_t emailid;              /* from the record's G field; 0: none (then the base name's) */
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

struct mbox_snap;                  /* mailbox_store_snap.c */

/* The folder's state a session reads: the snapshot it started from (a
 * shared, read-only mapping; none for a small or new folder) under what
 * it read since of dovecot-uidlist (ul) and postern-index (ov).  Each
 * number is held once: the view (mb->msgs) is built from this. */
struct mbox_state {
	int lockfd;                    /* postern-store.lock, or -1 */
	int lock_mode;                 /* 0, LOCK_SH or LOCK_EX */
	struct arena names;            /* base names of ul; freed on full reload */

	struct mbox_snap *snap;        /* or NULL */
	size_t snap_tail;              /* records and list entries read beyond the snapshot */
	dev_t snap_dev;                /* the snapshot file last looked at ((dev_t)-1: none) */
	ino_t snap_ino;
	int snap_failed;               /* one could not be written: not tried again */
	int snap_rejected;             /* this session found the snapshot file below damaged */
	dev_t snap_reject_dev;
	ino_t snap_reject_ino;

	struct mbox_filepos ul_pos;    /* dovecot-uidlist */
	struct mbox_ul_entry *ul;      /* records beyond the snapshot's (all without one), ascending UID */
	size_t ul_n, ul_alloc;
	size_t *ul_sorted;             /* indexes of ul by base name (mbox_ul_find_base) */
	size_t ul_sorted_n;
	struct mbox_ul_entry *ulfb;    /* the snapshot's part of the list read from the list itself, */
	size_t ulfb_n;                 /* when the snapshot's names did not hold (ascending UID) */
	size_t *ulfb_sorted;           /* indexes of ulfb by base name */
	int ulfb_state;                /* 0 not needed yet, 1 read, -1 could not be read */
	unsigned char ul_guid[DOVECOT_GUID_SIZE];  /* G of the list: the folder's mailbox GUID, */
	int ul_has_guid;               /* kept through a rewrite (Dovecot's STATUS X-GUID) */

	struct mbox_filepos idx_pos;   /* postern-index */
	struct mbox_index_hdr hdr;     /* of the log read */
	size_t idx_records;            /* records in the file (compaction) */
	struct mbox_index_rec *ov;     /* per UID the state the log's records since the snapshot give */
	size_t ov_n, ov_alloc, ov_dead;/* (ascending UID; type 0: expunged, hides the snapshot's) */
	size_t live_n;                 /* messages in the folded state */
	struct mbox_expunged *ex;      /* remembered expunges beyond the snapshot's, ascending modseq */
	size_t ex_n, ex_alloc;
	size_t snap_ex_skip;           /* the snapshot's oldest expunges forgotten since */
	uint64_t ex_floor;             /* expunges with modseq <= this are forgotten */
	long long new_stamp, cur_stamp;/* directories as last scanned (ns), -1 unknown */
	int stamp_verified;            /* bit 0 new/, bit 1 cur/ */
	int scan_overflow;             /* the last scan of cur/ found more than mbox_messages_max files */
	uint32_t recent_hw;            /* UIDs below were \Recent to some session */
	uint32_t claim_from, claim_to; /* this sync claimed \Recent for [from, to) */

	struct mbox_index_rec *pend;   /* measurements not logged yet (MEASURE records) */
	size_t pend_n, pend_alloc;

	struct dovecot_keywords kw;    /* dovecot-keywords as last read */
	struct timespec kw_mtime;
	off_t kw_size;                 /* -1: no file; -2: reread */
	ino_t kw_ino;
	int kw_changed;                /* reread since the last view refresh */
	int in_sync;                   /* inside mbox_sync */

	size_t view_alloc;             /* slots allocated in mb->msgs */
	size_t view_mapped;            /* bytes of mb->msgs' mapping (0: malloc()ed) */
	int view_file;                 /* that mapping is the snapshot's array, private (copy-on-write) */
	size_t view_snap_n;            /* mb->msgs[0..this) are at their places in the snapshot's array */
	uint32_t recent_lo;            /* the lowest UID this session claimed \Recent for (UINT32_MAX: none) */
	struct mbox_cache *cache;      /* postern-cache's index (mailbox_store_cache.c), or NULL */
	int pending_full;              /* a whole file was reread outside mbox_sync */
	/* Changes folded since the last view refresh (become mb->changes). */
	uint32_t *chg_exp, *chg_flag;
	size_t chg_exp_n, chg_exp_alloc, chg_flag_n, chg_flag_alloc;
};

/* ---- mailbox_store_fold.c: the folded state ---- */
/* The state of uid (type MBOX_REC_MSG): 1 with *r, or 0 when it is no
 * message of the folder (never was, or expunged). */
int mbox_fold_get(const struct mbox_state *st, uint32_t uid, struct mbox_index_rec *r);
/* Whether the log changed uid since the snapshot (the overlay has it). */
int mbox_fold_in_overlay(const struct mbox_state *st, uint32_t uid);
/* Fold one record read from or appended to the log.  0, or -1 (ENOMEM). */
int mbox_fold_rec(struct mbox *mb, const struct mbox_index_rec *r);
/* Set the state of uid (a message) without a record, as a measurement
 * this session made and will log.  0 or -1. */
int mbox_fold_put(struct mbox_state *st, const struct mbox_index_rec *r);
/* Drop what no longer hides anything (after each read). */
void mbox_fold_drop_dead(struct mbox_state *st);
/* Forget the folded state of the log (not the snapshot): a log with h. */
void mbox_fold_reset(struct mbox *mb, const struct mbox_index_hdr *h);
/* Every message of the folded state, ascending UID. */
struct mbox_fold_iter {
	size_t si, oi;
	int from_snap;                 /* the last one came from the snapshot (so it is listed) */
};
/* The next message into *r: 1, or 0 at the end. */
int mbox_fold_next(const struct mbox_state *st, struct mbox_fold_iter *it, struct mbox_index_rec *r);
/* Start it at the first message with a UID of at least uid. */
void mbox_fold_seek(const struct mbox_state *st, struct mbox_fold_iter *it, uint32_t uid);
/* Remember an expunge for VANISHED.  0 or -1. */
int mbox_expunged_add(struct mbox_state *st, uint32_t uid, uint64_t modseq);
/* Remembered expunges (the snapshot's, then the log's): the i-th of n. */
size_t mbox_expunged_count(const struct mbox_state *st);
struct mbox_expunged mbox_expunged_at(const struct mbox_state *st, size_t i);

/* ---- mailbox_store_snap.c: postern-snapshot ---- */
/* Under a lock, with no state read: map the snapshot and start the
 * state from it if it summarizes the current dovecot-uidlist and
 * postern-index (both then pinned at the ends it covers, their tails
 * left to read).  1 when attached, 0 when there is none usable (the
 * files are then read whole), -1 on a real error (errno). */
int mbox_snap_attach(struct mbox *mb);
/* Unmap the snapshot (the state built on it is then meaningless). */
void mbox_snap_detach(struct mbox_state *st);
/* Write the folded state as a new snapshot (temp, fsync, rename) under
 * the exclusive lock, after reading both files up to their ends.  0/-1. */
int mbox_snap_write(struct mbox *mb);
/* Whether the snapshot file is another than the one last looked at. */
int mbox_snap_newer(struct mbox *mb);
/* Whether the state read makes a new snapshot worth writing. */
int mbox_snap_wanted(const struct mbox *mb);
/* Entries (listed UIDs) of the snapshot, ascending UID; 0 without one. */
size_t mbox_snap_count(const struct mbox_snap *s);
/* The highest UID the snapshot lists (0: none). */
uint32_t mbox_snap_max_uid(const struct mbox_snap *s);
/* Entry i: its UID list entry into *e (base in the mapping), and its
 * message state into *r when r is not NULL; 1 when it is a message, 0
 * when only listed. */
int mbox_snap_entry(struct mbox_snap *s, size_t i, struct mbox_ul_entry *e, struct mbox_index_rec *r);
/* The UID of entry i. */
uint32_t mbox_snap_uid(const struct mbox_snap *s, size_t i);
/* The entry of uid, or -1. */
long mbox_snap_find(const struct mbox_snap *s, uint32_t uid);
/* The first entry whose UID is at least uid (the count when none). */
size_t mbox_snap_lower_bound(const struct mbox_snap *s, uint32_t uid);
/* The messages among entries [from, to) into out as a view holds them
 * (\Recent clear), in order, at most max; the count written, and in
 * *next the entry after the last one looked at. */
size_t mbox_snap_view(const struct mbox_snap *s, size_t from, size_t to, struct mbox_msg *out, size_t max,
		      size_t *next);
/* The entry with base name base (the highest UID when several), or -1. */
long mbox_snap_find_base(struct mbox_snap *s, const char *base, size_t len);
/* Remembered expunges of the snapshot, ascending modseq: count, i-th. */
size_t mbox_snap_ex_count(struct mbox_snap *s);
struct mbox_expunged mbox_snap_ex_at(const struct mbox_snap *s, size_t i);
/* Whether its names were found damaged (the state is then read again
 * without it). */
int mbox_snap_damaged(const struct mbox_snap *s);
/* Whether its names hold (checked on first use). */
int mbox_snap_names_ok(struct mbox_snap *s);
/* The length of dovecot-uidlist it summarizes. */
uint64_t mbox_snap_ul_off(const struct mbox_snap *s);
/* Messages (not only listed) in the snapshot. */
size_t mbox_snap_live(const struct mbox_snap *s);
/* The view's array of its live messages (struct mbox_msg, \Recent
 * clear), mapped MAP_PRIVATE: a session's own copy-on-write view, valid
 * after the snapshot is detached; *bytes_r to munmap.  NULL when there
 * is none or it cannot be mapped. */
struct mbox_msg *mbox_snap_msgs_map(const struct mbox_snap *s, size_t *n_r, size_t *bytes_r);
/* HIGHESTMODSEQ when it was written: every message it holds has at most this. */
uint64_t mbox_snap_highestmodseq(const struct mbox_snap *s);
/* The messages it lists as changed last: their count, and in *floor_r
 * the MODSEQ above which they are all its messages (UINT64_MAX without
 * a snapshot). */
size_t mbox_snap_changed(const struct mbox_snap *s, uint64_t *floor_r);
/* The i-th of them (by MODSEQ, descending): its UID, its place in the
 * snapshot's array, its MODSEQ and flags there.  Values only: the
 * caller checks pos before it indexes anything by it. */
struct mbox_snap_chg {
	uint32_t uid, pos, flags;
	uint64_t modseq;
};
struct mbox_snap_chg mbox_snap_changed_at(const struct mbox_snap *s, size_t i);
/* Let the kernel take back this process's mapping of the snapshot's
 * pages (they stay in the page cache): after a full view build. */
void mbox_snap_release(struct mbox_snap *s);

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
/* Rewrite the log without dead records when they are many (or always,
 * force).  1 rewritten, 0 not needed, -1 (errno). */
int mbox_index_compact(struct mbox *mb, int force);
/* The next MODSEQ to give out. */
uint64_t mbox_index_next_modseq(const struct mbox *mb);
/* The sizes, date, header size and body lines, at bytes 24 to 64 of an
 * index record and of a snapshot entry alike. */
void mbox_rec_sizes_get(const unsigned char *p, struct mbox_index_rec *r);
void mbox_rec_sizes_put(unsigned char *p, const struct mbox_index_rec *r);
/* pread of n bytes at off (short only at the end of the file); -1. */
ssize_t mbox_pread_full(int fd, void *p, size_t n, off_t off);
/* Log the measurements this session made (under the exclusive lock,
 * tails read).  0 or -1. */
int mbox_pending_flush(struct mbox *mb);

/* ---- mailbox_store_uidlist.c: dovecot-uidlist and dovecot-keywords ---- */
/* Read the UID list (whole or its tail, as for the index).  0, 1 when
 * there is no usable list (mbox_ul_create under the exclusive lock), or
 * -1 (errno). */
int mbox_ul_read(struct mbox *mb, int *full_r);
/* Start a new list with a fresh UIDVALIDITY (keeping nothing). 0 or -1. */
int mbox_ul_create(struct mbox *mb);
/* Append n records (one write, then fdatasync). 0 or -1. */
int mbox_ul_append(struct mbox *mb, const struct mbox_ul_entry *e, size_t n);
/* Rewrite the list with only the UIDs still present when dead ones are
 * many.  1 rewritten, 0 not needed, -1. */
int mbox_ul_compact(struct mbox *mb);
/* The entry of base (the highest UID when several): 1 with *e, 0 when
 * not listed, -1 (ENOMEM). */
int mbox_ul_find_base(struct mbox *mb, const char *base, size_t len, struct mbox_ul_entry *e);
/* The entry of uid: 1 with *e, 0 when not listed. */
int mbox_ul_get(struct mbox_state *st, uint32_t uid, struct mbox_ul_entry *e);
/* Listed entry k of mbox_ul_count, ascending UID (the snapshot's, then
 * those read since). */
void mbox_ul_listed(struct mbox_state *st, size_t k, struct mbox_ul_entry *e);
/* Listed UIDs (the snapshot's and those read since). */
size_t mbox_ul_count(const struct mbox_state *st);
/* The highest UID listed (0: none). */
uint32_t mbox_ul_last(const struct mbox_state *st);
/* Forget the entries read (the list is read again from the start). */
void mbox_ul_reset(struct mbox *mb);
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
/* The same for an open message file (r->date from its mtime). 0 or -1. */
int mbox_measure_fd(struct mbox *mb, int fd, struct mbox_index_rec *r);
/* A new message first seen: its sizes from the S= and W= of its base
 * name when the file's size bears S= out (header size and body lines
 * then measured when first needed: MBOX_STATE_UNMEASURED), else by
 * reading it.  r->date is the file's mtime.  0 or -1 (ENOENT: gone, or
 * not a regular file). */
int mbox_first_sight(struct mbox *mb, const char *name, size_t base_len, struct mbox_index_rec *r);
/* The values of ",S=" and ",W=" in a base name: bit 0 and bit 1 of the
 * result say which were found. */
int mbox_name_sizes(const char *base, size_t len, unsigned long long *s_r, unsigned long long *w_r);
/* mtime of sub in ns, or -1 (errno). */
long long mbox_dir_stamp(struct mbox *mb, const char *sub);
/* The delivery time at the start of a Maildir base name, for ordering:
 * SECONDS, then ".M" USECONDS when present (0 for another shape). */
void mbox_name_time(const char *p, size_t len, unsigned long long *sec_r, unsigned long long *usec_r);
/* Arrival order of two base names with their times (then by name). */
int mbox_base_time_order(unsigned long long as, unsigned long long au, const char *a, size_t alen,
			 unsigned long long bs, unsigned long long bu, const char *b, size_t blen);
/* "cur/BASE:2,LETTERS" for a message into out. -1 when too long. */
int mbox_msg_path(const char *base, size_t base_len, uint32_t flags, uint32_t other, char *out, size_t outlen);
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
/* The EMAILID a G field value or base name gives (FNV-1a, never 0). */
uint64_t mbox_emailid_hash(const char *p, size_t n);
/* The EMAILID of the message uid of mb (0: not listed). */
uint64_t mbox_emailid_of(const struct mbox *mb, uint32_t uid);
/* The current name ("cur/BASE:2,LETTERS") of message uid, by the state
 * folded (view flags when it is no message there any more).  0 with the
 * base name into *e, or -1 (ENOENT: not listed). */
int mbox_uid_path(struct mbox *mb, uint32_t uid, uint32_t view_flags, char *out, size_t len,
		  struct mbox_ul_entry *e);
/* Log the file cur/NAME (base_len bytes of base) as a new message and
 * find its UID.  Under the exclusive lock.  0, or -1 with *error_r. */
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
/* Forget everything read of the folder's files (a full reread follows). */
void mbox_state_clear(struct mbox *mb);
/* Free mb->msgs. */
void mbox_view_free(struct mbox *mb);
/* Apply the folded state to the session's view (mb->msgs) and say what
 * changed in mb->changes; full after a whole file was (re)read. 0/-1. */
int mbox_view_refresh(struct mbox *mb, int full);

#endif
