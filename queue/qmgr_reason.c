/* qmgr_reason: keep why a message waits (docs/queue.md "Deferral reasons").
 *
 * Offers: qmgr_reason_save, called as a message is deferred, writes
 * defer/ID (common/deferfile.c) with the status code and reason each
 * pending recipient got in this attempt; qmgr_reason_forget removes it
 * with the message.  mailq and `postern queue list` read it, also after
 * a restart of qmgr, which keeps reasons only in memory.
 *
 * Fails: quietly but for a warning: the file is advisory, the queue file
 * is never touched, and a recipient without an answer in this attempt
 * (an agent that broke first) keeps the reason of the attempt before. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "deferfile.h"
#include "log.h"
#include "qmgr.h"

/* defer/ is missing and cannot be made: said once, not per message. */
static int qmgr_reason_dir_missing;

void qmgr_reason_save(struct qmgr_msg *m)
{
	struct deferfile_entry *e;
	size_t n = 0;

	if (m->res == NULL)
		return;
	e = calloc(m->qf.nrcpt + 1, sizeof(*e));
	if (e == NULL)
		return;
	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		if (m->qf.rcpt[i].status != QUEUEFILE_PENDING || m->res[i].dsn[0] == '\0')
			continue;
		e[n].rcpt = m->qf.rcpt[i].addr;
		e[n].dsn = m->res[i].dsn;
		e[n++].reason = m->res[i].reason != NULL ? m->res[i].reason : "";
	}
	/* No answer at all in this attempt: the last reasons still stand.
	 * A tree made before defer/ existed gets it now (postern init makes it). */
	if (n > 0 && deferfile_write(m->id, e, n) < 0 &&
	    (errno != ENOENT || mkdir("defer", 0700) < 0 || deferfile_write(m->id, e, n) < 0)) {
		if (errno != ENOENT || !qmgr_reason_dir_missing)
			log_warn("%s: cannot write defer/%s: %s%s", m->id, m->id, strerror(errno),
				 errno == ENOENT ? " (postern init --force makes queue/defer; "
						   "until then no deferral reasons are kept)" : "");
		qmgr_reason_dir_missing = errno == ENOENT;
	}
	free(e);
}

void qmgr_reason_forget(const struct qmgr_msg *m)
{
	if (deferfile_remove(m->id) < 0)
		log_warn("%s: cannot remove defer/%s: %s", m->id, m->id, strerror(errno));
}
