/* imap_hibernate_state: the state of an IMAP session in IDLE, as one
 * bounded, versioned record (common/record.h), for its hand-off from a
 * session process to the hibernation process imap-hibernate and back
 * (docs/protocols.md, "IMAP hibernation").  Both directions carry the
 * same fields; request says which: `hibernate` (session -> imap-
 * hibernate) or `resume` (imap-hibernate -> a session process, with
 * `wake`, why it was woken).  The reader checks every field; a record
 * with a field missing, repeated, unknown or out of its bounds is
 * refused whole. */
#ifndef POSTERN_IMAP_HIBERNATE_STATE_H
#define POSTERN_IMAP_HIBERNATE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "imap_parser.h"
#include "mailbox_store.h"
#include "record.h"

#define IMAP_HIBERNATE_VERSION 1
#define IMAP_HIBERNATE_RECORD_MAX (48 * 1024)  /* a whole record: below LOGIN_HANDOFF_MAX */
#define IMAP_HIBERNATE_SET_MAX (32 * 1024)     /* one UID set, written: a larger one is not hibernated */
#define IMAP_HIBERNATE_SET_PIECE 4000          /* bytes per field of a set (RECORD_MAX_VALUE) */
#define IMAP_HIBERNATE_USER_MAX 255
#define IMAP_HIBERNATE_PATH_MAX 1024           /* a folder below the mail root */
#define IMAP_HIBERNATE_NAME_MAX 512            /* a mailbox name as the client gave it */
#define IMAP_HIBERNATE_CLIENT_MAX 64           /* a printable client address */
#define IMAP_HIBERNATE_TIME_MAX (1LL << 62)    /* CLOCK_MONOTONIC milliseconds */

/* The extensions the client enabled (ENABLE, RFC 5161). */
#define IMAP_HIBERNATE_REV2 1u       /* IMAP4rev2 */
#define IMAP_HIBERNATE_CONDSTORE 2u
#define IMAP_HIBERNATE_QRESYNC 4u
#define IMAP_HIBERNATE_UTF8 8u       /* UTF8=ACCEPT */

enum imap_hibernate_request { IMAP_HIBERNATE_REQ_HIBERNATE, IMAP_HIBERNATE_REQ_RESUME };
enum imap_hibernate_wake { IMAP_HIBERNATE_WAKE_NONE, IMAP_HIBERNATE_WAKE_CLIENT, IMAP_HIBERNATE_WAKE_FOLDER };

/* A set of UIDs: ascending, disjoint ranges. */
struct imap_hibernate_set {
	struct mbox_uid_range *r;    /* malloc()ed, NULL when empty */
	size_t n;
	uint64_t count;              /* UIDs in all, at most MBOX_MESSAGES_MAX */
};

struct imap_hibernate_state {
	enum imap_hibernate_request request;
	enum imap_hibernate_wake wake;    /* resume only */
	char user[IMAP_HIBERNATE_USER_MAX + 1];     /* canonical address, from authd at login */
	char root[IMAP_HIBERNATE_PATH_MAX + 1];     /* the user's Maildir below the mail root */
	char client[IMAP_HIBERNATE_CLIENT_MAX];     /* the client's address */
	bool tls;                                   /* the login process terminates TLS */
	unsigned enabled;                           /* IMAP_HIBERNATE_REV2 ... */
	char mailbox[IMAP_HIBERNATE_NAME_MAX + 1];  /* the selected mailbox, as the client named it */
	char path[IMAP_HIBERNATE_PATH_MAX + 1];     /* its folder: root, or below root */
	bool readonly;                              /* EXAMINE */
	uint32_t uidvalidity;
	uint64_t modseq;              /* every change up to this MODSEQ was told */
	uint32_t keywords;            /* keyword letters (bit i: 'a' + i) named in the FLAGS told */
	struct imap_hibernate_set uids;   /* the messages the client knows: its sequence numbers */
	struct imap_hibernate_set recent; /* of them, those \Recent in this session */
	struct imap_hibernate_set saved;  /* SEARCH RETURN (SAVE), "$" (RFC 5182) */
	char tag[IMAP_TAG_MAX + 1];   /* of the IDLE command */
	long long idle_since_ms;      /* IDLE without a byte from the client since (CLOCK_MONOTONIC) */
	long long deadline_ms;        /* imap_timeout ends the session then (CLOCK_MONOTONIC) */
	unsigned long errors;         /* BAD replies so far (imap_hard_error_limit) */
};

/* Append the record of st (every field, the empty line that ends it) to
 * out.  0, or -1 (EMSGSIZE: a set or the record is over its bound; out
 * is then as it was). */
int imap_hibernate_state_encode(const struct imap_hibernate_state *st, struct buf *out);
/* Check and decode a parsed record into st (zeroed first).  0, or -1
 * with a static reason in *error_r (st then holds no memory). */
int imap_hibernate_state_decode(const struct record *rec, struct imap_hibernate_state *st, const char **error_r);
/* Free the sets of st. */
void imap_hibernate_state_free(struct imap_hibernate_state *st);
/* Make set the sorted, distinct UIDs v (count n), in ranges.  0 or -1 (ENOMEM). */
int imap_hibernate_set_from(struct imap_hibernate_set *set, const uint32_t *v, size_t n);
/* set with the UIDs of mb->msgs[from..n) (all above its last range;
 * with recent_only only the \Recent ones) added, into out.  0 or -1
 * (ENOMEM). */
int imap_hibernate_set_grow(const struct imap_hibernate_set *set, const struct mbox *mb, size_t from, bool recent_only,
			    struct imap_hibernate_set *out);
/* Whether uid is in set. */
bool imap_hibernate_set_has(const struct imap_hibernate_set *set, uint32_t uid);

#endif
