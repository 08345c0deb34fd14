/* imap_sort: what SORT (RFC 5256, RFC 5957 DISPLAYFROM / DISPLAYTO) and
 * THREAD read of a message: the base subject (RFC 5256 2.1), the sent
 * date (2.2), address keys, Message-ID and references; collation keys;
 * SORT's order.  No I/O: the caller gives each message's header.  See
 * the .c. */
#ifndef POSTERN_IMAP_SORT_H
#define POSTERN_IMAP_SORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "imap_parser.h"

#define IMAP_SORT_CRITERIA_MAX 32         /* criteria in one SORT, REVERSE not counted */
#define IMAP_SORT_REFS_MAX 100            /* references kept per message: the last ones */
#define IMAP_SORT_MEM_MAX (256u << 20)    /* keys of one command */

enum imap_sort_key {
	IMAP_SORT_ARRIVAL, IMAP_SORT_CC, IMAP_SORT_DATE, IMAP_SORT_FROM, IMAP_SORT_SIZE,
	IMAP_SORT_SUBJECT, IMAP_SORT_TO, IMAP_SORT_DISPLAYFROM, IMAP_SORT_DISPLAYTO,
};

struct imap_sort_criterion {
	enum imap_sort_key key;
	bool reverse;
};

/* What of a header imap_sort_msg_fill reads (bits). */
#define IMAP_SORT_NEED_SUBJECT     (1u << 0)
#define IMAP_SORT_NEED_FROM        (1u << 1)
#define IMAP_SORT_NEED_TO          (1u << 2)
#define IMAP_SORT_NEED_CC          (1u << 3)
#define IMAP_SORT_NEED_DISPLAYFROM (1u << 4)
#define IMAP_SORT_NEED_DISPLAYTO   (1u << 5)
#define IMAP_SORT_NEED_DATE        (1u << 6)
#define IMAP_SORT_NEED_REFS        (1u << 7)   /* Message-ID, References, In-Reply-To */
#define IMAP_SORT_NEED_THREAD      (IMAP_SORT_NEED_SUBJECT | IMAP_SORT_NEED_DATE | IMAP_SORT_NEED_REFS)

/* The string keys of a message. */
enum imap_sort_str {
	IMAP_SORT_S_SUBJECT, IMAP_SORT_S_FROM, IMAP_SORT_S_TO, IMAP_SORT_S_CC,
	IMAP_SORT_S_DISPLAYFROM, IMAP_SORT_S_DISPLAYTO, IMAP_SORT_S_COUNT
};

/* One message as SORT and THREAD see it.  The caller sets seq, id,
 * arrival and size; imap_sort_msg_fill the rest. */
struct imap_sort_msg {
	uint32_t seq;                     /* place in the mailbox: the last tie-breaker */
	uint32_t id;                      /* what the answer names: the number or the UID */
	int64_t arrival;                  /* internal date */
	uint64_t size;                    /* RFC822.SIZE */
	int64_t sent;                     /* RFC 5256 2.2: Date, else the internal date */
	const char *str[IMAP_SORT_S_COUNT];   /* collation keys ("" when absent) */
	size_t len[IMAP_SORT_S_COUNT];
	bool reply;                       /* the subject marks a reply or forward (RFC 5256 3) */
	const char *msgid;                /* normalized Message-ID, NULL when none is valid */
	const char *const *refs;          /* References, else the first In-Reply-To id */
	unsigned int nrefs;
};

/* Read a sort-criteria list "(" ["REVERSE" SP] key *(SP ["REVERSE" SP] key) ")"
 * into an arena array.  0, or -1 with *error_r for a tagged BAD. */
int imap_sort_criteria_parse(const struct imap_arg *list, struct arena *a,
			     const struct imap_sort_criterion **crit_r, unsigned int *n_r,
			     const char **error_r);
/* The IMAP_SORT_NEED_* bits criteria need (0: no header at all). */
unsigned int imap_sort_needs(const struct imap_sort_criterion *crit, unsigned int n);

/* Append the base subject (RFC 5256 2.1) of a raw Subject value (folded,
 * encoded words and all) to out, in UTF-8; *reply_r says whether a
 * subj-refwd, a "(fwd)" trailer or a "[fwd: ...]" was removed.  0, or -1
 * (out's cap, memory). */
int imap_base_subject(const char *value, size_t len, struct buf *out, bool *reply_r);
/* Append the collation key of UTF-8 text: RFC 5051 i;unicode-casemap
 * (case mapped, decomposed), ASCII letters upper case, so that keys
 * compare as octets (i;ascii-casemap order on ASCII).  0 or -1. */
int imap_sort_collation_key(const char *p, size_t n, struct buf *out);
/* The next msg-id (RFC 5322 3.6.4, obsolete forms too) at or after *pos
 * in p[0..len): its normalized form ("left@right", quoting and CFWS
 * removed) appended to out, *pos past it.  1, 0 when there is none, -1
 * (out's cap, memory). */
int imap_msgid_next(const char *p, size_t len, size_t *pos, struct buf *out);

/* Fill m's keys from the header (up to the blank line, any line ends)
 * as need asks; strings in a (capped).  0, or -1 with errno EMSGSIZE
 * (a's cap or IMAP_SORT_MEM_MAX) or ENOMEM. */
int imap_sort_msg_fill(struct imap_sort_msg *m, const char *header, size_t len, unsigned int need,
		       struct arena *a);
/* <0, 0, >0 as a sorts before, with, after b under crit (then by seq). */
int imap_sort_cmp(const struct imap_sort_criterion *crit, unsigned int n, const struct imap_sort_msg *a,
		  const struct imap_sort_msg *b);
/* Sort v[0..n) as SORT answers. */
void imap_sort_run(const struct imap_sort_msg **v, size_t n, const struct imap_sort_criterion *crit,
		   unsigned int ncrit);

#endif
