/* mailbox_store: the mailbox store of the readers (POP3 now, IMAP next).
 * A folder is one Maildir directory (INBOX, or a Maildir++ ".Name"
 * subfolder).  Beside new/ cur/ tmp/ the store keeps:
 *   postern-uidlist       UIDVALIDITY, UIDNEXT and base name -> UID
 *                         (rewritten crash-safely: temp file, fsync, rename)
 *   postern-index         per UID: size, CRLF size, internal date, header
 *                         size and body lines (a cache: parsed once)
 *   postern-uidlist.lock  flock()ed while the two files are read and written
 * See docs/mailbox-store.md for the formats and the locking argument. */
#ifndef POSTERN_MAILBOX_STORE_H
#define POSTERN_MAILBOX_STORE_H

#include <stddef.h>
#include <stdint.h>

#define MBOX_UIDLIST_NAME "postern-uidlist"
#define MBOX_INDEX_NAME "postern-index"
#define MBOX_LOCK_NAME "postern-uidlist.lock"
#define MBOX_MESSAGES_MAX 1000000          /* most messages one folder may list */
#define MBOX_BASE_MAX 255                  /* longest message base name (NAME_MAX) */
#define MBOX_FLAGS_MAX 26                  /* Maildir info flags: one letter each */
#define MBOX_PATH_MAX 1024                 /* longest folder path */
#define MBOX_FILE_MAX (MBOX_MESSAGES_MAX * 300ULL)  /* bound on uidlist/index file size */

/* Options of mbox_open / mbox_sync. */
#define MBOX_MOVE_NEW 1    /* move new/ messages into cur/ (the reader has seen them) */
#define MBOX_CREATE 2      /* create a missing Maildir */
#define MBOX_NO_SYNC 4     /* mbox_open: open only; the caller syncs when ready */

struct mbox_msg {
	uint32_t uid;
	char *name;                    /* "cur/BASE[:2,FLAGS]" or "new/BASE", relative to the folder */
	size_t base_len;               /* BASE is name + 4, base_len bytes */
	unsigned long long size;       /* octets on disk */
	unsigned long long vsize;      /* octets with every LF sent as CRLF (RFC 1939 LIST, RFC 3501 RFC822.SIZE) */
	long long date;                /* internal date: the file's mtime when first seen */
	unsigned long long hdr_size;   /* header octets, through the empty line */
	unsigned long long body_lines; /* lines after the header */
	char flags[MBOX_FLAGS_MAX + 1];/* Maildir info letters (after ":2,") */
};

struct mbox {
	int dirfd;                     /* the folder directory */
	char path[MBOX_PATH_MAX + 1];  /* the folder, relative to the mail root */
	uint32_t uidvalidity;
	uint32_t uidnext;
	struct mbox_msg *msgs;         /* sorted by UID */
	size_t n;
};

/* One parsed UID list (for the reader and its fuzzer). */
struct mbox_uidlist_entry {
	uint32_t uid;
	const char *base;              /* points into the parsed text */
	size_t base_len;
};
struct mbox_uidlist {
	uint32_t uidvalidity;
	uint32_t uidnext;
	struct mbox_uidlist_entry *e;  /* UIDs strictly ascending, each < uidnext */
	size_t n;
};

/* Open the folder at path (relative to the current directory, checked
 * with maildir_path_ok) and sync it (mbox_sync).  0, or -1 with *error_r
 * (static) and errno. */
int mbox_open(const char *path, size_t len, int options, struct mbox **mb_r, const char **error_r);
/* Under the folder lock: read the UID list and index, scan new/ (moving
 * it to cur/ with MBOX_MOVE_NEW) and cur/, give every unknown message
 * the next UID, drop vanished ones, measure unmeasured ones, write back
 * what changed, and refresh mb->msgs.  0, or -1 with *error_r. */
int mbox_sync(struct mbox *mb, int options, const char **error_r);
/* Free everything; *mb = NULL. */
void mbox_close(struct mbox **mb);
/* Open message idx read-only; if its file was renamed (flags changed,
 * moved to cur/) it is looked up again by base name.  fd or -1. */
int mbox_msg_open(struct mbox *mb, size_t idx);
/* Remove message idx from disk (its UID is dropped at the next sync and
 * never reused).  0 (also when it was already gone) or -1. */
int mbox_msg_remove(struct mbox *mb, size_t idx);
/* Index of the message with uid, or -1. */
long mbox_find_uid(const struct mbox *mb, uint32_t uid);

/* Parse a UID list file held in memory.  ul->e is allocated (free with
 * mbox_uidlist_free).  0, or -1 with *error_r (static). */
int mbox_uidlist_parse(const char *p, size_t len, struct mbox_uidlist *ul, const char **error_r);
/* Free what mbox_uidlist_parse allocated. */
void mbox_uidlist_free(struct mbox_uidlist *ul);
/* Whether b (len bytes) is a usable message base name. */
int mbox_base_ok(const char *b, size_t len);

#endif
