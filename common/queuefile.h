/* queuefile: the on-disk format of one queued message (docs/queue.md).
 * A text header of `key=value` lines (record escaping) with a fixed-width
 * status byte per recipient and a fixed-width attempts counter that can be
 * overwritten in place, an empty line, then the message bytes.  Writing
 * goes tmp/ID -> incoming/ID with fsync of file and directory; reading
 * validates the whole header as untrusted input.  All paths are relative
 * to the queue directory (the process's root or working directory). */
#ifndef POSTERN_QUEUEFILE_H
#define POSTERN_QUEUEFILE_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

#define QUEUEFILE_MAGIC "POSTERN-QUEUE 3"    /* what the writer produces */
#define QUEUEFILE_MAGIC_V2 "POSTERN-QUEUE 2" /* still read */
#define QUEUEFILE_MAGIC_V1 "POSTERN-QUEUE 1" /* still read */
#define QUEUEFILE_ID_MAX 32              /* longest queue ID */
#define QUEUEFILE_ADDR_MAX 256           /* longest sender or recipient (decoded) */
#define QUEUEFILE_INFO_MAX 1024          /* longest client / helo / proto value */
#define QUEUEFILE_RCPT_MAX 10000         /* most recipients in one file */
#define QUEUEFILE_HEADER_MAX (1024 * 1024) /* longest header, empty line included */
#define QUEUEFILE_ATTEMPTS_WIDTH 6       /* digits of attempts=NNNNNN */
#define QUEUEFILE_ATTEMPTS_MAX 999999
#define QUEUEFILE_SIZE_WIDTH 20          /* digits of size=NNN... */
#define QUEUEFILE_ENVID_MAX 100          /* RFC 3461 4.4: ENVID at most 100 characters */
#define QUEUEFILE_ORCPT_MAX 500          /* RFC 3461 4.2: ORCPT at most 500 characters */
#define QUEUEFILE_PREPEND_MAX 4096       /* decoded bytes of prepend= (one record value) */
#define QUEUEFILE_PREPEND_SLOT_MAX 16384 /* width of the prepend= slot, escaped */

/* Recipient states: the one byte overwritten in place.  D and F are
 * final results not yet reported to the sender; S and B are the same
 * results once the delivery status notification (if any was due) is
 * safely in the queue, so that a restarted qmgr never reports twice. */
#define QUEUEFILE_PENDING 'P'
#define QUEUEFILE_DELIVERED 'D'
#define QUEUEFILE_FAILED 'F'
#define QUEUEFILE_DELIVERED_REPORTED 'S'
#define QUEUEFILE_FAILED_REPORTED 'B'

/* NOTIFY (RFC 3461 4.1) as a bit set; 0 = not given (the default). */
#define QUEUEFILE_NOTIFY_NEVER 1u
#define QUEUEFILE_NOTIFY_SUCCESS 2u
#define QUEUEFILE_NOTIFY_FAILURE 4u
#define QUEUEFILE_NOTIFY_DELAY 8u
#define QUEUEFILE_NOTIFY_TEXT_MAX 24     /* "SUCCESS,FAILURE,DELAY" + NUL */

/* What a message is: ordinary mail, a notification to a sender (a
 * bounce), or a notice to the postmaster about a bounce that failed. */
enum queuefile_kind { QUEUEFILE_KIND_MAIL = 0, QUEUEFILE_KIND_DSN, QUEUEFILE_KIND_DOUBLE };
/* RET (RFC 3461 4.3); DEFAULT = not given. */
enum queuefile_ret { QUEUEFILE_RET_DEFAULT = 0, QUEUEFILE_RET_FULL, QUEUEFILE_RET_HDRS };
/* BODY (RFC 6152); NONE = not given. */
enum queuefile_body { QUEUEFILE_BODY_NONE = 0, QUEUEFILE_BODY_7BIT, QUEUEFILE_BODY_8BITMIME };

struct queuefile_rcpt {
	char *addr;         /* decoded, NUL-terminated */
	size_t addr_len;
	char status;        /* QUEUEFILE_PENDING / DELIVERED / FAILED / ..._REPORTED */
	off_t status_off;   /* file offset of the status byte */
	unsigned notify;    /* QUEUEFILE_NOTIFY_* bits, 0 = not given */
	char *orcpt;        /* ORCPT "TYPE;ADDR" decoded, "" when absent */
};

/* A parsed queue file (reader side). */
struct queuefile {
	char id[QUEUEFILE_ID_MAX + 1];
	long long time;     /* arrival, unix seconds */
	char *sender;       /* "" for <> */
	size_t sender_len;
	char *client, *helo, *proto;  /* "" when absent */
	int version;        /* 1, 2 or 3 */
	enum queuefile_kind kind;
	enum queuefile_ret ret;
	enum queuefile_body body;
	int smtputf8;       /* SMTPUTF8 was given (RFC 6531) */
	char *envid;        /* ENVID decoded, "" when absent */
	unsigned attempts;
	off_t attempts_off; /* file offset of the attempts digits */
	int warned;         /* a delay warning was sent (version 2) */
	off_t warned_off;   /* file offset of the warned digit, 0 in version 1 */
	struct queuefile_rcpt *rcpt;
	size_t nrcpt;
	char *prepend;      /* header fields to emit before the message (v3), "" when none */
	size_t prepend_len;
	off_t data_offset;  /* first byte of the message */
	unsigned long long data_size;
	int fd;             /* open descriptor (queuefile_open), else -1 */
};

/* The envelope of a message being written (writer side). */
struct queuefile_env {
	const char *sender;
	size_t sender_len;
	const char *client, *helo, *proto;  /* NULL when unknown */
	const char *const *rcpt;            /* nrcpt addresses */
	const size_t *rcpt_len;
	size_t nrcpt;
	const unsigned *rcpt_notify;        /* NULL, or nrcpt NOTIFY bit sets */
	const char *const *rcpt_orcpt;      /* NULL, or nrcpt entries (NULL = none) */
	enum queuefile_kind kind;
	enum queuefile_ret ret;
	enum queuefile_body body;
	int smtputf8;
	const char *envid;                  /* NULL when not given */
	size_t prepend_slot;                /* width of an empty prepend= slot; 0: none */
};

/* A message being written into tmp/. */
struct queuefile_out {
	char id[QUEUEFILE_ID_MAX + 1];
	char path[64];      /* "tmp/PID.RANDOM" until the commit */
	int fd;
	off_t size_off;     /* offset of the size digits */
	off_t prepend_off;  /* offset of the prepend slot, 0: none */
	size_t prepend_slot;
	unsigned long long size;  /* message bytes written so far */
	long long time;
};

/* Whether s (n bytes) is a well-formed queue ID. */
int queuefile_id_valid(const char *s, size_t n);
/* Create tmp/ID with a fresh unique ID. 0, or -1 with *error_r. */
int queuefile_create(struct queuefile_out *qo, const char **error_r);
/* Write the header for env (once, right after create). 0 or -1. */
int queuefile_write_envelope(struct queuefile_out *qo, const struct queuefile_env *env, const char **error_r);
/* Append n message bytes. 0 or -1. */
int queuefile_write_data(struct queuefile_out *qo, const void *p, size_t n, const char **error_r);
/* Fill the prepend slot with n bytes of header fields (each line ended
 * by LF) to be emitted before the message: one pwrite, before commit.
 * 0, or -1 with *error_r (no slot, does not fit, not header text). */
int queuefile_set_prepend(struct queuefile_out *qo, const char *p, size_t n, const char **error_r);
/* Whether p (n bytes) may be prepended: at most QUEUEFILE_PREPEND_MAX
 * bytes of header fields (a name and colon first, lines ended by LF,
 * no empty line, no NUL or CR); "" is fine. */
int queuefile_prepend_valid(const char *p, size_t n);
/* Record the size, fsync, rename tmp/ID -> incoming/ID, fsync incoming/.
 * After 0 the message is accepted; the descriptor is closed either way
 * and on failure the tmp file is removed. */
int queuefile_commit(struct queuefile_out *qo, const char **error_r);
/* The same into dir, "incoming" or "hold" (a policy server's HOLD:
 * qmgr never reads hold/, `postern queue release` moves it on).  With
 * g, the two fsyncs are replaced by one shared flush of the file system
 * after the rename (group_commit_wait, docs/queue.md "Group commit"). */
struct group_commit;
int queuefile_commit_into(struct queuefile_out *qo, const char *dir, struct group_commit *g,
			  const char **error_r);
/* Give up: close and unlink the tmp file. Safe to call twice. */
void queuefile_abort(struct queuefile_out *qo);

/* Parse a header held in memory (n bytes from the start of the file; at
 * least the whole header).  Fills qf (fd = -1, data_size as stored).
 * 0, or -1 with *error_r.  The fuzz target. */
int queuefile_parse(const char *p, size_t n, struct queuefile *qf, const char **error_r);
/* Open path (O_RDWR when writable, else O_RDONLY), read and parse the
 * header, check that the data fills the rest of the file exactly. */
int queuefile_open(const char *path, int writable, struct queuefile *qf, const char **error_r);
/* Durably set recipient i's status (pwrite of one byte, fdatasync). */
int queuefile_mark(struct queuefile *qf, size_t i, char status, const char **error_r);
/* Set recipient i's status without syncing (follow with queuefile_sync). */
int queuefile_set_status(struct queuefile *qf, size_t i, char status, const char **error_r);
/* fdatasync the file (after queuefile_set_status). 0 or -1. */
int queuefile_sync(struct queuefile *qf, const char **error_r);
/* Durably record that a delay warning was sent (version 2 only). */
int queuefile_set_warned(struct queuefile *qf, const char **error_r);
/* Whether a status byte is final (delivered or failed, reported or not). */
int queuefile_status_final(char status);
/* Parse a NOTIFY value ("NEVER" or a comma list of SUCCESS, FAILURE,
 * DELAY; any case) of n bytes into bits.  0 or -1. */
int queuefile_notify_parse(const char *s, size_t n, unsigned *bits_r);
/* Write bits as canonical NOTIFY text into out (QUEUEFILE_NOTIFY_TEXT_MAX). */
void queuefile_notify_format(unsigned bits, char *out, size_t outlen);
/* NOTIFY for one recipient named twice with NOTIFY a and b (bits, 0 =
 * not given): every notice either asked for, so NEVER yields to the
 * other request and "not given" counts as FAILURE,DELAY once merged
 * with a different request. */
unsigned queuefile_notify_merge(unsigned a, unsigned b);
/* Whether an ORCPT value is acceptable: "TYPE;ADDR", printable, bounded. */
int queuefile_orcpt_valid(const char *s, size_t n);
/* Whether an ENVID value is acceptable: printable ASCII, bounded. */
int queuefile_envid_valid(const char *s, size_t n);
/* Overwrite the attempts counter in place (no sync: it is advisory). */
int queuefile_set_attempts(struct queuefile *qf, unsigned attempts, const char **error_r);
/* Recipients still pending. */
size_t queuefile_pending(const struct queuefile *qf);
/* Free the parsed data and close the descriptor; reusable after. */
void queuefile_free(struct queuefile *qf);
/* Create tmp/ incoming/ active/ deferred/ hold/ if missing (mode 0700). */
int queuefile_mkdirs(const char **error_r);
/* A name for a file being written, tmp/PID.RANDOM (tries varies the
 * fallback when the system has no randomness): 0, or -1 (ENAMETOOLONG). */
int queuefile_tmp_name(char *name, size_t namelen, unsigned tries);

#endif
