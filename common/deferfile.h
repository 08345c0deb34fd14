/* deferfile: why a message waits (docs/queue.md "Deferral reasons").
 * qmgr writes `defer/ID` when it defers a message: for each pending
 * recipient the status code and reason of the last attempt.  The file
 * sits beside the queue file, never inside it, so writing it can never
 * damage the message; it is replaced by rename and is advisory (not
 * synced): after a crash it may be missing or one attempt old.  mailq
 * and `postern queue` read it back (any qmgr, any restart). */
#ifndef POSTERN_DEFERFILE_H
#define POSTERN_DEFERFILE_H

#include <stddef.h>
#include "record.h"

#define DEFERFILE_REASON_MAX 512      /* reason bytes kept; a longer one ends in " [...]" */
#define DEFERFILE_DSN_MAX 15          /* "4.4.1": RFC 3463 class.subject.detail */
#define DEFERFILE_RCPT_MAX 1000       /* recipients whose reason is kept (the rest: none shown) */
#define DEFERFILE_SIZE_MAX (4 * 1024 * 1024)   /* largest file read */

/* One recipient's reason. */
struct deferfile_entry {
	const char *rcpt;
	const char *dsn;      /* "" when none */
	const char *reason;
};

/* A parsed file; the strings live as long as it. */
struct deferfile {
	struct deferfile_entry *e;
	size_t n;
	struct record rec;    /* the parsed file (the entries point into it) */
};

/* Write defer/ID (by ID.tmp and rename) with n entries (at most
 * DEFERFILE_RCPT_MAX are kept; reasons cut at DEFERFILE_REASON_MAX).
 * Relative to the queue directory.  0, or -1 with errno. */
int deferfile_write(const char *id, const struct deferfile_entry *e, size_t n);
/* Read defer/ID into df.  0; 1 when there is none (df empty); -1 with
 * *error_r for a damaged file (df empty). */
int deferfile_read(const char *id, struct deferfile *df, const char **error_r);
/* Parse n bytes (the fuzz entry): as deferfile_read but never 1. */
int deferfile_parse(const char *p, size_t n, struct deferfile *df, const char **error_r);
/* The entry of rcpt, or NULL. */
const struct deferfile_entry *deferfile_find(const struct deferfile *df, const char *rcpt);
/* Free df (empty and reusable after; an empty one is fine). */
void deferfile_free(struct deferfile *df);
/* Remove defer/ID (and a left-over ID.tmp); absence is fine. 0 or -1 (errno). */
int deferfile_remove(const char *id);

#endif
