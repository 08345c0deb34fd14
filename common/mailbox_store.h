/* mailbox_store: the mailbox store of the readers (POP3 and IMAP).
 * A folder is one Maildir directory (INBOX, or a Maildir++ ".Name"
 * subfolder).  Beside new/ cur/ tmp/ the store keeps, per folder:
 *   dovecot-uidlist     UIDVALIDITY and base name -> UID, in Dovecot's
 *                       version 3 format (common/dovecot_uidlist.c), so
 *                       Dovecot and Postern can serve the same tree
 *   dovecot-keywords    keyword names of the Maildir letters a..z
 *   postern-index       an append-only log of fixed records: per UID its
 *                       sizes, date, flags and MODSEQ; expunges (kept for
 *                       QRESYNC's VANISHED); directory stamps; \Recent
 *   postern-snapshot    the state both fold to, mapped and shared by the
 *                       sessions, which read only what was added since
 *   postern-store.lock  flock()ed: exclusive to change, shared to read
 * and, per user (the INBOX directory), postern-uidvalidity.  See
 * docs/mailbox-store.md for the formats and the locking argument. */
#ifndef POSTERN_MAILBOX_STORE_H
#define POSTERN_MAILBOX_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"

#define MBOX_INDEX_NAME "postern-index"
#define MBOX_SNAPSHOT_NAME "postern-snapshot"
#define MBOX_LOCK_NAME "postern-store.lock"
#define MBOX_UIDVALIDITY_NAME "postern-uidvalidity"
#define MBOX_MESSAGES_MAX 1000000          /* most messages one folder lists (more: mb->overflow) */
#define MBOX_BASE_MAX 255                  /* longest message base name (NAME_MAX) */
#define MBOX_PATH_MAX 1024                 /* longest folder path */
#define MBOX_EXPUNGED_MAX 100000           /* expunged UIDs remembered for VANISHED */
#define MBOX_INDEX_MAX (64ULL * 8 * MBOX_MESSAGES_MAX)  /* bound on postern-index */

/* The message cap in force: MBOX_MESSAGES_MAX, lowered only by tests
 * (a million files make too slow a test). */
extern size_t mbox_messages_max;
/* Folders of fewer listed messages keep no postern-snapshot, and one is
 * rewritten when a session read at least this many records beyond it
 * (and a sixteenth of the folder): 64 and 256, lowered by tests so
 * that every folder and nearly every change makes one. */
extern size_t mbox_snapshot_min, mbox_snapshot_tail_min;

/* System flags (IMAP) and their Maildir info letters. */
#define MBOX_SEEN     (1u << 0)   /* S */
#define MBOX_ANSWERED (1u << 1)   /* R */
#define MBOX_FLAGGED  (1u << 2)   /* F */
#define MBOX_DELETED  (1u << 3)   /* T */
#define MBOX_DRAFT    (1u << 4)   /* D */
#define MBOX_SYSTEM_FLAGS 0x1fu
#define MBOX_KEYWORD(i) (1u << (5 + (i)))  /* keyword i = Maildir letter 'a' + i, i < 26 */
#define MBOX_KEYWORDS_MAX 26

/* Options of mbox_open / mbox_sync. */
#define MBOX_CREATE 2        /* create a missing Maildir */
#define MBOX_NO_SYNC 4       /* mbox_open: open only; the caller syncs when ready */
#define MBOX_CLAIM_RECENT 8  /* this session takes \Recent for messages no session saw yet */

/* One message of a session's view: what a session shows of it, and
 * nothing more (40 bytes: a view of 100,000 messages is 4 MB).  Its
 * base name, other info letters and header size are the folder's, not
 * the view's: mbox_msg_base, mbox_msg_header_size. */
struct mbox_msg {
	uint32_t uid;
	uint32_t flags;                /* MBOX_SEEN.. and MBOX_KEYWORD(i) */
	uint64_t modseq;               /* RFC 7162: the last change of this message */
	unsigned long long size : 62;  /* octets on disk */
	unsigned long long recent : 1; /* \Recent in this session */
	unsigned long long vsize;      /* octets with every bare LF sent as CRLF and a missing last line
					* end supplied (POP3 LIST, RFC822.SIZE: what RETR and BODY[] send) */
	long long date;                /* internal date: mtime when first seen (may be < 0) */
};
/* The layout of struct mbox_msg as postern-snapshot stores it (native,
 * mapped as a view): a change to the struct changes this, and with it
 * sizeof, so that snapshots of the old layout are rebuilt, never misread. */
#define MBOX_MSG_LAYOUT 1

/* What one sync found changed, for IMAP's untagged replies.  Arrays are
 * valid until the next sync or close. */
struct mbox_changes {
	uint32_t *expunged;            /* UIDs gone since the last sync, ascending */
	size_t n_expunged;
	uint32_t *flagged;             /* UIDs whose flags changed (still present), ascending */
	size_t n_flagged;
	size_t first_new;              /* msgs[first_new..n) are new since the last sync */
	int keywords_changed;          /* a keyword name was added */
};

struct mbox_state;                 /* private to mailbox_store_*.c */

struct mbox {
	int dirfd;                     /* the folder directory: every access goes through it */
	char path[MBOX_PATH_MAX + 1];  /* the folder, as opened (for log lines only) */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	struct mbox_msg *msgs;         /* sorted by UID */
	size_t n;
	const char *keywords[MBOX_KEYWORDS_MAX];  /* names of letters a..z (NULL: unused) */
	int overflow;                  /* more than MBOX_MESSAGES_MAX files: the rest are not listed */
	unsigned long dir_scans;       /* directories this mbox has read (for tests and benchmarks) */
	unsigned long msgs_measured;   /* message files this mbox read through to measure them (tests) */
	unsigned long snapshot_reads;  /* times this mbox started from postern-snapshot (tests) */
	unsigned long cache_compactions;   /* postern-cache rewrites this mbox made (for tests) */
	struct mbox_changes changes;   /* of the last sync */
	struct mbox_state *st;
};

/* Open the folder at path (relative to the current directory, checked
 * with maildir_path_ok) and sync it (mbox_sync).  0, or -1 with *error_r
 * (static) and errno. */
int mbox_open(const char *path, size_t len, int options, struct mbox **mb_r, const char **error_r);
/* Bring mb up to date: read what other sessions logged, pick up new
 * mail (moved from new/ to cur/, given the next UIDs, measured once),
 * and notice changes made by other programs (a directory rescan only
 * when new/ or cur/ changed).  mb->changes says what changed.  0, or -1
 * with *error_r. */
int mbox_sync(struct mbox *mb, int options, const char **error_r);
/* Free everything; *mb = NULL. */
void mbox_close(struct mbox **mb);

/* Open message idx read-only (O_NONBLOCK, regular files only); a file
 * renamed by another program is looked up again by base name.  fd, or
 * -1 with errno (ENOENT: the message is gone). */
int mbox_msg_open(struct mbox *mb, size_t idx);
/* The base name of message idx into out (>= MBOX_BASE_MAX + 1 bytes,
 * NUL-terminated): its length, or -1 (EINVAL: no such message). */
long mbox_msg_base(struct mbox *mb, size_t idx, char *out, size_t len);
/* The other upper-case info letters message idx carries, kept through
 * every rename (bit c - 'A'); 0 for an index out of range. */
uint32_t mbox_msg_other(struct mbox *mb, size_t idx);
/* The header size of message idx (octets through the empty line): taken
 * from the index, or measured now (one read of the message, logged for
 * every session) when the message was listed by its name's S= and W=
 * without being read.  0, or -1 with errno (ENOENT: gone). */
int mbox_msg_header_size(struct mbox *mb, size_t idx, unsigned long long *hdr_size_r);
/* The lines after the header of message idx, the same way. */
int mbox_msg_body_lines(struct mbox *mb, size_t idx, unsigned long long *lines_r);
/* Remove message idx (every file with its base name) and log the
 * expunge.  0 (also when it was already gone) or -1 with errno. */
int mbox_msg_remove(struct mbox *mb, size_t idx);
/* The same, saying in *removed_r whether this call removed a file of the
 * message (1) or it was gone already (0; another session or program
 * took it): for accounting such as the Maildir++ quota. */
int mbox_msg_expunge(struct mbox *mb, size_t idx, int *removed_r);
/* The same only if its flags as stored now (not as the view has them)
 * include all of flags (IMAP EXPUNGE: \Deleted), checked and removed
 * under one lock.  1 removed, 0 not (already gone, or a flag not set:
 * another session cleared it), or -1 with errno; *removed_r as above. */
int mbox_msg_remove_if(struct mbox *mb, size_t idx, uint32_t flags, int *removed_r);
/* Change the flags of message idx as they are stored now (not as the
 * view last saw them): (current & ~remove) | add, system flags and
 * keywords.  Renames its file and logs the change with a new MODSEQ
 * when they differ; the view's flags become the result.  0, or -1 with
 * errno (ENOENT: the message is gone -- expunged by another session, or
 * its file removed by another program -- also when nothing changed). */
int mbox_msg_update_flags(struct mbox *mb, size_t idx, uint32_t add, uint32_t remove);
/* The same only if the message's MODSEQ, as the folder has it now (other
 * sessions' changes included), is at most unchangedsince (RFC 7162
 * STORE UNCHANGEDSINCE); checked and changed under one lock.  0, 1 when
 * it was modified since (nothing changed), or -1 as above. */
int mbox_msg_update_flags_if(struct mbox *mb, size_t idx, uint32_t add, uint32_t remove,
			     uint64_t unchangedsince);
/* Replace the flags of message idx: mbox_msg_update_flags(flags, all). */
int mbox_msg_set_flags(struct mbox *mb, size_t idx, uint32_t flags);
/* The keyword bit of name (case-insensitive, RFC 3501), adding it to
 * dovecot-keywords when create is set and a letter is free.  0 with
 * *bit_r, -1 (ENOSPC: all 26 letters used; ENOENT: unknown). */
int mbox_keyword(struct mbox *mb, const char *name, size_t len, int create, uint32_t *bit_r);
/* A new file in the folder's tmp/ for a message to append: fd, with its
 * name ("tmp/BASE") in name (>= MBOX_BASE_MAX + 8 bytes).  -1 (errno). */
int mbox_tmp_create(struct mbox *mb, char *name, size_t len);
/* Take tmp/BASE (written and fsynced by the caller) into the folder with
 * flags and internal date (< 0: the file's own), and give it a UID at
 * once (APPENDUID, RFC 4315).  0 with *uid_r, or -1 with *error_r (the
 * temp file is then removed). */
int mbox_append_tmp(struct mbox *mb, const char *tmpname, uint32_t flags, long long date,
		    uint32_t *uid_r, const char **error_r);
/* COPY (RFC 9051 6.4.7) of messages idx[0..n) of src (view indexes)
 * into dst, all or none: each is hard-linked into dst under a new name
 * and gets a UID there at once (uids_r[i], for COPYUID), with its flags
 * as stored now (not as src's view has them), keywords by name.  When one cannot be copied, the copies made are
 * removed again: -1 with *failed_r (its position in idx), *error_r and
 * errno; dst is as it was.  0 when all were copied. */
int mbox_copy_set(struct mbox *src, const size_t *idx, size_t n, struct mbox *dst, uint32_t *uids_r,
		  size_t *failed_r, const char **error_r);
/* MOVE (RFC 6851): mbox_copy_set, then the sources are removed (their
 * expunges logged, seen at src's next sync).  -1 as mbox_copy_set:
 * nothing moved.  Else the number of messages that did not move: a
 * message whose source could not be removed loses its copy again and
 * stays where it was (uids_r[i] = 0), so no message is in both folders
 * nor in neither; only when its copy cannot be taken back either is it
 * in both (logged; uids_r[i] kept).  0: every message moved. */
long mbox_move_set(struct mbox *src, const size_t *idx, size_t n, struct mbox *dst, uint32_t *uids_r,
		   size_t *failed_r, const char **error_r);
/* The folder's cache of parsed texts (postern-cache): kinds are the
 * caller's (imapd: ENVELOPE, BODY, BODYSTRUCTURE in three forms each). */
#define MBOX_CACHE_KINDS 16
/* Append the cached text of uid and kind to out: 1, or 0 when not cached. */
int mbox_cache_get(struct mbox *mb, uint32_t uid, uint32_t kind, struct buf *out);
/* Cache a text (one append; in a batch, kept for one append of many).
 * 0 or -1 (then simply not cached). */
int mbox_cache_put(struct mbox *mb, uint32_t uid, uint32_t kind, const char *text, size_t len);
/* Start a batch of gets and puts (one command over many messages): the
 * file is looked up once, reads go through a read-ahead window, puts
 * are written together. */
void mbox_cache_begin(struct mbox *mb);
/* End the batch: pending puts written, the window freed. */
void mbox_cache_end(struct mbox *mb);
/* The cache file's reader, for its fuzzer: each record's UID, kind and
 * text offset and length, in order.  0 with *end_r (the bytes of whole,
 * intact records), or -1 when the header is not this UIDVALIDITY's. */
int mbox_cache_parse(const unsigned char *p, size_t len, uint32_t uidvalidity,
		     int (*each)(void *ctx, uint32_t uid, uint32_t kind, size_t off, uint32_t tlen), void *ctx,
		     size_t *end_r);
/* The lowest UID no session has taken \Recent for yet (STATUS RECENT). */
uint32_t mbox_recent_from(const struct mbox *mb);
/* MAILBOXID of the folder (RFC 8474): "F" and the mailbox GUID of its
 * dovecot-uidlist (Dovecot's too), which moves with the folder at a
 * RENAME; "V" and the UIDVALIDITY for a list without one.  Into out
 * (>= 40 bytes). */
void mbox_mailboxid(const struct mbox *mb, char *out, size_t len);
/* EMAILID of message idx (RFC 8474): the same for every copy of it, in
 * any folder, also after a move; written as "E" and 16 hex digits.  0
 * for an index out of range. */
uint64_t mbox_msg_emailid(const struct mbox *mb, size_t idx);
/* Index of the message with uid, or -1. */
long mbox_find_uid(const struct mbox *mb, uint32_t uid);
/* A range of UIDs, lo <= hi. */
struct mbox_uid_range {
	uint32_t lo, hi;
};
/* The view of a session taken up again in another process (IMAP
 * hibernation): after mbox_open, which lists the whole folder, make the
 * view the messages of known that are still there plus every message
 * above the highest UID of known, as if known had been shown before,
 * and say in mb->changes how the folder differs from known: expunged,
 * the UIDs of known that are gone; flagged, those still there whose
 * MODSEQ is above since; first_new, the first message above known.
 * Messages below that highest UID that known lacks are left out (they
 * would be numbered among the ones shown).  known: ascending, disjoint
 * ranges of at most mbox_messages_max UIDs in all.  0, or -1 (ENOMEM,
 * EINVAL: known not so) with the view unchanged. */
int mbox_view_resume(struct mbox *mb, const struct mbox_uid_range *known, size_t n, uint64_t since);
/* A message changed since a MODSEQ: its view index, and the view's
 * message there (uid, flags, modseq, recent; sizes and date are not
 * filled in). */
struct mbox_changed {
	size_t idx;
	struct mbox_msg m;
};
/* The messages with a MODSEQ above modseq (QRESYNC, RFC 7162 3.2.5),
 * ascending by view index, into a malloc()ed array: from the changes
 * since the snapshot when modseq is not older than it, else by a pass
 * over the view.  0, or -1 (ENOMEM). */
int mbox_changed_since(struct mbox *mb, uint64_t modseq, struct mbox_changed **out_r, size_t *n_r);
/* Expunged UIDs with a MODSEQ above modseq (QRESYNC VANISHED), ascending,
 * into a malloc()ed array.  0, 1 when the store no longer remembers
 * back that far (the caller reports every UID it cannot see), -1. */
int mbox_expunged_since(struct mbox *mb, uint64_t modseq, uint32_t **uids_r, size_t *n_r);
/* The Maildir info letters of flags/other into out (>= 64 bytes), sorted. */
size_t mbox_info_letters(uint32_t flags, uint32_t other, char *out);
/* Parse info letters (after ":2,") into flags and other. */
void mbox_info_parse(const char *p, size_t len, uint32_t *flags_r, uint32_t *other_r);
/* Whether b (len bytes) is a usable message base name. */
int mbox_base_ok(const char *b, size_t len);

/* The snapshot's reader, for its fuzzer: 0 when p[0, len) is a
 * postern-snapshot a session would take up as far as it alone can say
 * (header, every entry, expunge and index slot in range; its sums too
 * unless sums is 0), with every lookup on it inside it; else -1. */
int mbox_snapshot_check(const unsigned char *p, size_t len, int sums);

/* The index log, exposed for its fuzzer and unit test: parse a whole
 * postern-index file image into records (see mailbox_store_index.c). */
struct mbox_index_rec {
	uint8_t type;
	uint8_t state;                    /* MBOX_STATE_DUP */
	uint32_t uid;
	uint64_t modseq;
	uint32_t flags, other;
	unsigned long long size, vsize, hdr_size, body_lines;
	long long date;
	long long new_stamp, cur_stamp;   /* STAMP: directory mtimes in ns */
	uint32_t stamp_verified;          /* STAMP: bit 0 new/, bit 1 cur/ settled when scanned */
};
#define MBOX_STATE_DUP 1      /* more files than one carry the message's base name */
#define MBOX_STATE_UNMEASURED 2  /* MSG: sizes from the name (S=, W=); header size, body lines not yet read */
#define MBOX_STATE_BITS 3
#define MBOX_REC_MSG 1       /* a message: its measurements and flags */
#define MBOX_REC_FLAGS 2     /* new flags of uid */
#define MBOX_REC_EXPUNGE 3   /* uid is gone */
#define MBOX_REC_STAMP 4     /* new/ and cur/ as last scanned */
#define MBOX_REC_RECENT 5    /* UIDs below uid were shown as \Recent to some session */
#define MBOX_REC_MEASURE 6   /* uid as read: sizes, header size, body lines (modseq 0) */
#define MBOX_REC_SIZE 64
#define MBOX_INDEX_HDR_SIZE 64
struct mbox_index_hdr {
	uint32_t version;             /* 1 (read only: no MEASURE records, no log ID) or 2 */
	uint32_t uidvalidity;         /* of the dovecot-uidlist the log belongs to */
	uint64_t log_id;              /* random, new with every file (version 2): what a snapshot names */
	uint64_t modseq_base;         /* MODSEQs given out are above this */
	uint64_t expunge_floor;       /* expunges up to this MODSEQ are forgotten */
};
/* 0 when p starts with a valid index header (decoded into h), else -1. */
int mbox_index_header_parse(const unsigned char *p, size_t len, struct mbox_index_hdr *h);
/* Encode h into out[MBOX_INDEX_HDR_SIZE]. */
void mbox_index_header_encode(const struct mbox_index_hdr *h, unsigned char *out);
/* Decode one record of MBOX_REC_SIZE bytes.  0, or -1 for a record no
 * writer makes (unknown type, UID 0, a flag outside the known bits). */
int mbox_index_rec_decode(const unsigned char *p, struct mbox_index_rec *r);
/* Encode r into out[MBOX_REC_SIZE]. */
void mbox_index_rec_encode(const struct mbox_index_rec *r, unsigned char *out);

#endif
