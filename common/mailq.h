/* mailq: the queue listing and flush shared by `postern queue`, pickup
 * (cmd=list, cmd=flush) and sendmail -bp / mailq.  A listing entry is the
 * envelope summary of one queued message; it is read from the queue
 * directories (mailq_walk, relative to the queue directory), carried
 * between pickup and sendmail as one record (mailq_put / mailq_get,
 * docs/protocols.md "pickup") and printed in one readable format
 * (mailq_text). */
#ifndef POSTERN_MAILQ_H
#define POSTERN_MAILQ_H

#include <stdio.h>
#include "buf.h"
#include "deferfile.h"
#include "queuefile.h"
#include "record.h"

#define MAILQ_RCPT_MAX 1000     /* recipients of one message carried in a record */
#define MAILQ_LIST_MAX 10000    /* messages in one pickup listing; more is "truncated" */
/* One listing record at most: recipients with their reasons. */
#define MAILQ_RECORD_MAX (MAILQ_RCPT_MAX * (3 * QUEUEFILE_ADDR_MAX + 3 * DEFERFILE_REASON_MAX + 48) + 4096)

struct mailq_rcpt {
	const char *status;     /* "pending", "delivered" or "failed" */
	const char *addr;
	const char *reason;     /* pending: why it waits (defer/ID), NULL: not known */
};

/* One message of the listing.  The strings point into whatever it was
 * made from (a queue file, a record) and live as long as that. */
struct mailq_entry {
	const char *id;
	const char *state;      /* incoming, active, deferred, hold */
	const char *error;      /* a damaged file: why; NULL otherwise */
	unsigned long long size;
	long long arrival;
	long long next_try;     /* deferred: the next attempt; else 0 */
	const char *sender;     /* "" for <> */
	enum queuefile_kind kind;
	unsigned attempts;
	struct mailq_rcpt *rcpt;
	size_t nrcpt;
	size_t rcpt_more;       /* recipients not listed (over MAILQ_RCPT_MAX) */
};

/* Called for each message mailq_walk finds; a nonzero return stops the walk. */
typedef int mailq_walk_fn(const struct mailq_entry *e, void *arg);

/* The status word of a recipient status byte. */
const char *mailq_status_word(char status);
/* The word of a kind ("mail", "dsn", "double"). */
const char *mailq_kind_word(enum queuefile_kind kind);
/* Read (never write) every queue file of incoming/ active/ deferred/
 * hold/ and call fn; at most max messages (0: no limit), *truncated_r set
 * when there were more.  The count seen, or -1 with *error_r (a
 * directory that cannot be read). */
long mailq_walk(size_t max, mailq_walk_fn *fn, void *arg, int *truncated_r, const char **error_r);
/* Append e as one record to out. 0 or -1. */
int mailq_put(struct buf *out, const struct mailq_entry *e);
/* Fill e from a record made by mailq_put (strings point into rec;
 * e->rcpt is allocated: mailq_entry_free). 0, or -1 with *error_r. */
int mailq_get(const struct record *rec, struct mailq_entry *e, const char **error_r);
/* Free what mailq_get allocated. */
void mailq_entry_free(struct mailq_entry *e);
/* t (unix seconds) as local "YYYY-MM-DD HH:MM:SS" (the digits when
 * it cannot be converted) into out. */
void mailq_time(long long t, char *out, size_t len);
/* Print e in the readable listing format. */
void mailq_text(FILE *f, const struct mailq_entry *e);
/* Print the last line of the listing (count, truncation). */
void mailq_text_end(FILE *f, size_t count, int truncated);
/* Print e in Postfix's mailq format (postqueue -p), with the column
 * header first when first is set; damaged files are not listed (0
 * returned, else 1). */
int mailq_postfix(FILE *f, const struct mailq_entry *e, int first);
/* Print Postfix's last line: "-- K Kbytes in N Requests." or "Mail
 * queue is empty" (bytes: the sizes listed). */
void mailq_postfix_end(FILE *f, size_t count, unsigned long long bytes);
/* Tell qmgr through private/qmgr ("wakeup" or "flush"). 0, -1 when it
 * is not reachable (not running, or exiting for a restart: nothing to
 * wake, the next one scans the queue at start), -2 with errno when the
 * poke could not be sent. */
int mailq_poke(const char *what);
/* Make every deferred message due now (its mtime is its next try), or
 * with domain (not NULL) those with a pending recipient in it (parsed
 * read-only).  The number touched, or -1 with errno (deferred/ unreadable). */
long mailq_flush_deferred(const char *domain);

#endif
