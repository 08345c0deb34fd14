/* imap_grammar: the typed IMAP command set (RFC 3501, RFC 9051 and the
 * extensions Postern's imapd offers: LITERAL+/-, ENABLE, ID, IDLE,
 * UIDPLUS, MOVE, UNSELECT, NAMESPACE, LIST-EXTENDED, SPECIAL-USE,
 * ESEARCH, SEARCHRES, SASL-IR, BINARY, STATUS=SIZE, APPENDLIMIT,
 * SORT, ESORT, SORT=DISPLAY, THREAD, MULTIAPPEND shapes, COMPRESS, QUOTA
 * (RFC 9208), and the CONDSTORE / QRESYNC shapes for later).
 * Turns a command from imap_parser into a struct imap_command, or a
 * reason for a tagged BAD; says which literals are APPEND messages so
 * that the server can stream them.  No I/O. */
#ifndef POSTERN_IMAP_GRAMMAR_H
#define POSTERN_IMAP_GRAMMAR_H

#include <stdbool.h>
#include <stdint.h>

#include "arena.h"
#include "imap_fetch.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_sort.h"
#include "imap_thread.h"
#include "imap_types.h"

/* RFC 2971 3.3: at most 30 pairs, fields of 30 octets, values of 1024. */
#define IMAP_ID_PAIRS_MAX 30
#define IMAP_ID_FIELD_MAX 30
#define IMAP_ID_VALUE_MAX 1024

enum imap_cmd_id {
	IMAP_CMD_CAPABILITY, IMAP_CMD_NOOP, IMAP_CMD_LOGOUT,
	IMAP_CMD_STARTTLS, IMAP_CMD_AUTHENTICATE, IMAP_CMD_LOGIN,
	IMAP_CMD_ENABLE, IMAP_CMD_ID,
	IMAP_CMD_SELECT, IMAP_CMD_EXAMINE, IMAP_CMD_CREATE, IMAP_CMD_DELETE, IMAP_CMD_RENAME,
	IMAP_CMD_SUBSCRIBE, IMAP_CMD_UNSUBSCRIBE, IMAP_CMD_LIST, IMAP_CMD_LSUB, IMAP_CMD_NAMESPACE,
	IMAP_CMD_STATUS, IMAP_CMD_APPEND, IMAP_CMD_IDLE,
	IMAP_CMD_GETQUOTA, IMAP_CMD_GETQUOTAROOT, IMAP_CMD_SETQUOTA,   /* RFC 9208 */
	IMAP_CMD_CHECK, IMAP_CMD_CLOSE, IMAP_CMD_UNSELECT, IMAP_CMD_EXPUNGE,
	IMAP_CMD_SEARCH, IMAP_CMD_FETCH, IMAP_CMD_STORE, IMAP_CMD_COPY, IMAP_CMD_MOVE,
	IMAP_CMD_COMPRESS, IMAP_CMD_SORT, IMAP_CMD_THREAD,
};

/* Session states a command is valid in (RFC 9051 section 3). */
#define IMAP_STATE_NOT_AUTH (1u << 0)
#define IMAP_STATE_AUTH     (1u << 1)
#define IMAP_STATE_SELECTED (1u << 2)

struct imap_login {
	const char *user, *pass;          /* astrings (no NUL) */
	size_t user_len, pass_len;
};

struct imap_authenticate {
	const char *mechanism;            /* upper case */
	const char *initial;              /* SASL-IR response (base64), "" for "=", NULL for none */
};

struct imap_names {
	unsigned int count;
	const char *const *names;         /* ENABLE capabilities */
};

struct imap_id_pair {
	const char *field;
	const char *value;                /* NULL for NIL */
};

struct imap_id {
	unsigned int count;               /* 0 for "ID NIL" or "ID ()" */
	const struct imap_id_pair *pairs;
};

struct imap_select {
	const char *mailbox;
	bool condstore;                   /* (CONDSTORE), RFC 7162 3.1.8 */
	bool qresync;                     /* (QRESYNC (...)), RFC 7162 3.2.5 */
	uint32_t uidvalidity;
	uint64_t modseq;
	bool known_uids_set;
	struct imap_seqset known_uids;
	bool seq_match_set;
	struct imap_seqset seq_match_seqs, seq_match_uids;
};

/* RFC 6154 use-attr bits of CREATE (USE (...)) and LIST's SPECIAL-USE. */
#define IMAP_USE_ALL     (1u << 0)
#define IMAP_USE_ARCHIVE (1u << 1)
#define IMAP_USE_DRAFTS  (1u << 2)
#define IMAP_USE_FLAGGED (1u << 3)
#define IMAP_USE_JUNK    (1u << 4)
#define IMAP_USE_SENT    (1u << 5)
#define IMAP_USE_TRASH   (1u << 6)

struct imap_create {
	const char *mailbox;
	unsigned int use;                 /* IMAP_USE_* */
};

struct imap_rename {
	const char *from, *to;
};

#define IMAP_STATUS_MESSAGES      (1u << 0)
#define IMAP_STATUS_UIDNEXT       (1u << 1)
#define IMAP_STATUS_UIDVALIDITY   (1u << 2)
#define IMAP_STATUS_UNSEEN        (1u << 3)
#define IMAP_STATUS_DELETED       (1u << 4)   /* RFC 9051 */
#define IMAP_STATUS_SIZE          (1u << 5)   /* RFC 8438 STATUS=SIZE */
#define IMAP_STATUS_RECENT        (1u << 6)   /* RFC 3501 */
#define IMAP_STATUS_HIGHESTMODSEQ (1u << 7)   /* RFC 7162 */
#define IMAP_STATUS_APPENDLIMIT   (1u << 8)   /* RFC 7889 */
#define IMAP_STATUS_MAILBOXID     (1u << 9)   /* RFC 8474 */
#define IMAP_STATUS_DELETED_STORAGE (1u << 10) /* RFC 9208 */

struct imap_status {
	const char *mailbox;
	unsigned int items;               /* IMAP_STATUS_* */
};

#define IMAP_LIST_SEL_SUBSCRIBED     (1u << 0)
#define IMAP_LIST_SEL_REMOTE         (1u << 1)
#define IMAP_LIST_SEL_RECURSIVEMATCH (1u << 2)
#define IMAP_LIST_SEL_SPECIAL_USE    (1u << 3)
#define IMAP_LIST_RET_SUBSCRIBED     (1u << 0)
#define IMAP_LIST_RET_CHILDREN       (1u << 1)
#define IMAP_LIST_RET_SPECIAL_USE    (1u << 2)
#define IMAP_LIST_RET_STATUS         (1u << 3)   /* RFC 5819 */

struct imap_list {
	bool extended;                    /* selection or return options, or several patterns */
	const char *reference;
	unsigned int npatterns;
	const char *const *patterns;
	unsigned int select;              /* IMAP_LIST_SEL_* */
	unsigned int ret;                 /* IMAP_LIST_RET_* */
	unsigned int status_items;        /* IMAP_STATUS_* of RETURN (STATUS (...)) */
};

struct imap_append_msg {
	struct imap_flags flags;
	bool has_date;
	int64_t date;                     /* internal date, seconds since the epoch */
	int zone;                         /* its zone, minutes east of UTC */
	bool binary;                      /* literal8 (RFC 3516 APPEND) */
	const struct imap_arg *data;      /* IMAP_ARG_LITERAL or IMAP_ARG_STREAM */
};

struct imap_append {
	const char *mailbox;
	unsigned int count;               /* more than one: MULTIAPPEND (RFC 3502) */
	const struct imap_append_msg *msgs;
};

struct imap_fetch_cmd {
	struct imap_seqset set;
	struct imap_fetch fetch;
};

enum imap_store_op { IMAP_STORE_SET, IMAP_STORE_ADD, IMAP_STORE_REMOVE };

struct imap_store {
	struct imap_seqset set;
	bool unchangedsince_set;          /* RFC 7162 3.1.3 */
	uint64_t unchangedsince;
	enum imap_store_op op;
	bool silent;
	struct imap_flags flags;
};

struct imap_copy {
	struct imap_seqset set;
	const char *mailbox;
};

/* SORT (RFC 5256, RFC 5267 RETURN, RFC 5957 DISPLAY*). */
struct imap_sort_cmd {
	const struct imap_sort_criterion *crit;
	unsigned int ncrit;
	struct imap_search search;        /* esearch and ret: RETURN (ESORT) */
};

/* THREAD (RFC 5256). */
struct imap_thread_cmd {
	enum imap_thread_alg alg;
	struct imap_search search;
};

/* SETQUOTA (RFC 9208 4.1.3): a quota root and its new limits. */
#define IMAP_QUOTA_LIMITS_MAX 16          /* resource limits one SETQUOTA may name */
struct imap_quota_limit {
	const char *resource;             /* atom, as sent */
	uint64_t limit;                   /* number64 */
};

struct imap_setquota {
	const char *root;                 /* astring */
	unsigned int count;
	const struct imap_quota_limit *limits;
};

struct imap_command {
	enum imap_cmd_id id;
	const char *tag;
	bool uid;
	union {
		struct imap_login login;
		struct imap_authenticate auth;
		struct imap_names enable;
		struct imap_id id;
		struct imap_select select;        /* SELECT, EXAMINE */
		const char *mailbox;              /* DELETE, SUBSCRIBE, UNSUBSCRIBE, GETQUOTAROOT */
		const char *quota_root;           /* GETQUOTA (astring, RFC 9208) */
		struct imap_setquota setquota;
		const char *mechanism;            /* COMPRESS (RFC 4978), as sent */
		struct imap_create create;
		struct imap_rename rename;
		struct imap_list list;            /* LIST, LSUB */
		struct imap_status status;
		struct imap_append append;
		struct imap_seqset expunge;       /* UID EXPUNGE */
		struct imap_search search;
		struct imap_fetch_cmd fetch;
		struct imap_store store;
		struct imap_copy copy;            /* COPY, MOVE */
		struct imap_sort_cmd sort;
		struct imap_thread_cmd thread;
	} u;
};

struct imap_grammar_opts {
	bool utf8_names;                  /* mailbox names are UTF-8 (IMAP4rev2 or UTF8=ACCEPT enabled) */
};

/* Turn a parsed command into a typed one in the arena a.  0, or -1 with
 * *error_r: the text of a tagged BAD ("Unknown command" included). */
int imap_command_parse(const struct imap_cmd *cmd, const struct imap_grammar_opts *opts, struct arena *a,
		       struct imap_command *r, const char **error_r);
/* The core of a literal policy (imap_literal_policy_fn): IMAP_LITERAL_SINK
 * for an APPEND message (the caller then supplies the sink, e.g. a
 * Maildir tmp file), IMAP_LITERAL_REFUSE with *refusal_r (BAD Unknown
 * command) when the command is unknown, so the client never sends the
 * literal, and IMAP_LITERAL_MEMORY for every other string. */
enum imap_literal_action imap_grammar_literal_action(const struct imap_literal_info *info,
						     struct imap_parse_error *refusal_r);
/* The IMAP_STATE_* in which a command may be given. */
unsigned int imap_command_states(enum imap_cmd_id id);
/* The command's name, upper case, for logs ("FETCH"). */
const char *imap_command_name(enum imap_cmd_id id);

#endif
