/* qmgr: the queue manager.  Takes messages from incoming/ (and, when due,
 * deferred/) into active/, routes their pending recipients to the local
 * or remote delivery agent (qmgr_deliver.c), records every answer durably
 * in the queue file before acting on it, reports failures (and requested
 * successes and delays) to the sender as RFC 3464 notifications
 * (qmgr_report.c), and removes a message only when every recipient is
 * final and reported.  Deferred messages are retried with exponential
 * backoff until maximal_queue_lifetime (docs/queue.md has the state
 * machine).
 *
 * Runs as: postern-queue, one process (maxproc 1), root = DIR/queue.
 * Reads and renames files in incoming/ active/ deferred/ hold/, writes
 * status bytes in queue files and new queue files for notifications
 * (tmp/ -> incoming/, like enqueue); listens on the trigger socket (fd 3,
 * private/qmgr); connects to private/local and private/remote and passes
 * them read-only queue file descriptors.  Opens etc/domains.cdb and reads
 * etc/domains before the privilege drop.
 *
 * Trusts: queue files only after queuefile_open validated them (a bad one
 * is moved to hold/ and logged); the agents' answers only as far as the
 * protocol; the trigger's bytes not at all (any byte is a wakeup,
 * "flush" asks for a full scan), and its peer only when SO_PEERCRED says
 * postern-queue or root (daemon_peer_ok).  Files may disappear under it: the
 * `postern queue` tool moves or removes them with rename/unlink, and qmgr
 * forgets a message whose file is gone.
 *
 * Fails: anything wrong with one message or one agent connection defers
 * that message; nothing is ever removed on an error.  A broken
 * environment (cannot create queue directories, poll fails) is fatal;
 * the master restarts us and the start-up scan resumes whatever was in
 * active/.
 *
 * Memory: bounded by qmgr_active_limit messages (each a parsed header);
 * directories are read with resumable cursors, so 100,000 queued files
 * cost one readdir pass, never a list in memory. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "deferfile.h"
#include "fsutil.h"
#include "hash.h"
#include "log.h"
#include "metric.h"
#include "log_delivery.h"
#include "qmgr.h"
#include "queue_spare.h"
#include "sockets.h"

#define QMGR_HASH_MAX (1u << 20)

/* ---- settings ---- */

static size_t qmgr_capped(const char *key, size_t max)
{
	unsigned long long n = config_size(key);

	if (n > max) {
		log_warn("%s %llu capped at %zu", key, n, max);
		n = max;
	}
	return n == 0 ? 1 : (size_t)n;
}

/* postmaster for notices about failed bounces: a bare local part is
 * qualified with the first local domain (etc/domains), else myhostname. */
static void qmgr_postmaster(struct qmgr *q)
{
	const char *v = config_str("bounce_notice_recipient");
	char path[4200], domain[256] = "";
	struct buf text;
	int n;

	buf_init(&text, 1024 * 1024);
	n = snprintf(path, sizeof(path), "%s/domains", q->d->etc_dir);
	if (strchr(v, '@') == NULL && n > 0 && (size_t)n < sizeof(path) &&
	    file_read_all(path, 0, &text, text.max) == 0) {
		const char *p = buf_cstr(&text);

		while (*p != '\0') {
			size_t len = strcspn(p, " \t\r\n#");

			if (len > 0 && len < sizeof(domain)) {
				memcpy(domain, p, len);
				domain[len] = '\0';
				break;
			}
			p += strcspn(p, "\n");
			p += *p == '\n';
		}
	}
	buf_free(&text);
	if (strchr(v, '@') != NULL)
		n = snprintf(q->postmaster, sizeof(q->postmaster), "%s", v);
	else
		n = snprintf(q->postmaster, sizeof(q->postmaster), "%s@%s", v,
			     domain[0] != '\0' ? domain : q->hostname);
	if (n < 0 || (size_t)n >= sizeof(q->postmaster))
		log_fatal("bounce_notice_recipient too long");
}

static void qmgr_settings(struct qmgr *q)
{
	unsigned long long n;

	q->run_delay = config_time("queue_run_delay");
	if (q->run_delay == 0)
		q->run_delay = 1;
	q->min_backoff = config_time("minimal_backoff_time");
	q->max_backoff = config_time("maximal_backoff_time");
	q->lifetime = config_time("maximal_queue_lifetime");
	q->delay_warning = config_time("delay_warning_time");
	q->bounce_size_limit = config_size("bounce_size_limit");
	q->spare_files = config_size("queue_spare_files");
	n = config_time("ipc_timeout");
	q->ipc_timeout = n == 0 ? 1 : n > 86400 ? 86400 : (int)n;
	q->active_limit = qmgr_capped("qmgr_active_limit", 1000000);
	q->dest_limit = qmgr_capped("qmgr_destination_concurrency", QMGR_CONN_MAX);
	q->retry_time = config_time("qmgr_local_retry_time");
	if (q->retry_time == 0)
		q->retry_time = 1;
	q->hostname = config_str("myhostname");
	q->relayhost = config_str("relayhost");
	qmgr_postmaster(q);
}

/* ---- the active set: a hash set of IDs, so that a scan of active/
 * costs O(1) per file whatever the size of the set ---- */

static size_t qmgr_hash(const struct qmgr *q, const char *id)
{
	return hash_fnv32_str(HASH_FNV32_INIT, id) & (q->hash_size - 1);
}

static void qmgr_hash_init(struct qmgr *q)
{
	size_t n = 64;

	while (n < q->active_limit * 2 && n < QMGR_HASH_MAX)
		n *= 2;
	q->hash = calloc(n, sizeof(*q->hash));
	if (q->hash == NULL)
		log_fatal("out of memory");
	q->hash_size = n;
}

static int qmgr_known(const struct qmgr *q, const char *id)
{
	for (const struct qmgr_msg *m = q->hash[qmgr_hash(q, id)]; m != NULL; m = m->hnext)
		if (strcmp(m->id, id) == 0)
			return 1;
	return 0;
}

static void qmgr_ready_push(struct qmgr *q, struct qmgr_msg *m)
{
	m->next = NULL;
	if (q->ready_head == NULL)
		q->ready_head = m;
	else
		q->ready_tail->next = m;
	q->ready_tail = m;
}

static struct qmgr_msg *qmgr_ready_pop(struct qmgr *q)
{
	struct qmgr_msg *m = q->ready_head;

	if (m != NULL) {
		q->ready_head = m->next;
		if (q->ready_head == NULL)
			q->ready_tail = NULL;
		m->next = NULL;
	}
	return m;
}

void qmgr_msg_free(struct qmgr *q, struct qmgr_msg *m)
{
	for (struct qmgr_msg **pp = &q->hash[qmgr_hash(q, m->id)]; *pp != NULL; pp = &(*pp)->hnext)
		if (*pp == m) {
			*pp = m->hnext;
			break;
		}
	if (m->res != NULL)
		for (size_t i = 0; i < m->qf.nrcpt; i++)
			free(m->res[i].reason);
	free(m->res);
	queuefile_free(&m->qf);
	free(m);
	q->nactive--;
	/* Room again: paused passes may go on. */
	q->want_incoming |= q->incoming.dp != NULL;
	q->want_deferred |= q->deferred.dp != NULL;
}

void qmgr_incoming_arrived(struct qmgr *q)
{
	q->want_incoming = 1;
	q->arrivals++;
}

void qmgr_incoming_named(struct qmgr *q, const char *id)
{
	if (q->nnamed == QMGR_NAMED_MAX) {
		qmgr_incoming_arrived(q);   /* too many at once: a pass finds them */
		return;
	}
	memcpy(q->named[q->nnamed++], id, strlen(id) + 1);
}

int qmgr_move(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (access(to, F_OK) == 0) {
		errno = EEXIST;
		return -1;
	}
	return rename(from, to);
}

/* Take dir/name into the active set (renaming it into active/ unless it
 * is there already).  fresh: enqueue named it just now (it cannot have
 * deferral reasons yet).  0, or -1 (errno) when it could not be taken. */
static int qmgr_take(struct qmgr *q, const char *dir, const char *name, int fresh)
{
	struct qmgr_msg *m;
	char from[512], hold[512];
	size_t h;
	int n;

	if (!queuefile_id_valid(name, strlen(name))) {
		/* Not ours: out of the way once, instead of a warning per scan. */
		if (snprintf(from, sizeof(from), "%s/%s", dir, name) < (int)sizeof(from) &&
		    snprintf(hold, sizeof(hold), "hold/%s", name) < (int)sizeof(hold) &&
		    qmgr_move(from, hold) == 0)
			log_warn("%s: not a queue file name; moved to hold/", from);
		else
			log_warn("%s/%s: not a queue file name, ignored", dir, name);
		return -1;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL) {
		log_warn("out of memory");
		return -1;
	}
	m->qf.fd = -1;
	memcpy(m->id, name, strlen(name) + 1);
	n = snprintf(m->path, sizeof(m->path), "active/%s", name);
	if (n < 0 || (size_t)n >= sizeof(m->path) ||
	    snprintf(from, sizeof(from), "%s/%s", dir, name) >= (int)sizeof(from)) {
		free(m);
		return -1;
	}
	if (strcmp(dir, "active") != 0 && qmgr_move(from, m->path) < 0) {
		int e = errno;

		if (e != ENOENT)
			log_warn("%s: cannot move %s to active/: %s", name, from, strerror(e));
		free(m);
		errno = e;
		return -1;
	}
	m->fresh = fresh;
	h = qmgr_hash(q, m->id);
	m->hnext = q->hash[h];
	q->hash[h] = m;
	q->nactive++;
	qmgr_ready_push(q, m);
	return 0;
}

/* ---- scanning ---- */

/* The furthest ahead a deferral sets a next try, in seconds. */
static time_t qmgr_furthest_try(const struct qmgr *q)
{
	unsigned long long d = q->max_backoff > q->retry_time ? q->max_backoff : q->retry_time;

	return d > (unsigned long long)LLONG_MAX / 2 ? (time_t)(LLONG_MAX / 2) : (time_t)d;
}

/* Go on with a pass over c->dir (starting one if none is under way),
 * taking messages while there is room.  deferred/: only those whose mtime
 * (next try) has come.  Returns 1 when it paused for lack of room (the
 * cursor keeps its place) or when incoming/ needs another pass (a trigger
 * came during this one), 0 when the pass is complete. */
static int qmgr_scan(struct qmgr *q, struct qmgr_cursor *c, time_t now)
{
	int deferred = c == &q->deferred, active = c == &q->active;
	struct dirent *de;

	if (c->dp == NULL) {
		c->dp = opendir(c->dir);
		c->min_due = QMGR_NEVER;
		c->seen = 0;
		c->started = now;
		c->arrivals = q->arrivals;
		if (c->dp == NULL) {
			log_warn("cannot open %s/: %s", c->dir, strerror(errno));
			return 0;
		}
	}
	while (q->nactive < q->active_limit && (de = readdir(c->dp)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		c->seen++;
		if (active && qmgr_known(q, de->d_name))
			continue;
		if (deferred) {
			if (fstatat(dirfd(c->dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			/* No backoff sets a next try further ahead than the
			 * longest one: a later mtime means the wall clock went
			 * back since (or maximal_backoff_time was lowered), and
			 * waiting for it would stall the mail by the size of the
			 * jump.  Try it now. */
			if (st.st_mtime > now && st.st_mtime - now > qmgr_furthest_try(q)) {
				log_info("%s: next try %llds ahead, beyond the longest backoff "
					 "(the clock went back, or the backoff was lowered): trying now", de->d_name,
					 (long long)(st.st_mtime - now));
			} else if (st.st_mtime > now) {
				if (st.st_mtime < c->min_due)
					c->min_due = st.st_mtime;
				continue;
			}
		}
		(void)qmgr_take(q, c->dir, de->d_name, 0);
	}
	if (q->nactive >= q->active_limit)
		return 1;   /* readdir was not called: nothing skipped */
	closedir(c->dp);
	c->dp = NULL;
	/* A file renamed into incoming/ after opendir may or may not be
	 * returned by this readdir stream (ext4 returns entries in hash
	 * order, and glibc reads them ahead in blocks): if enqueue triggered
	 * us, or we queued a report, during the pass, look again, or that
	 * mail would wait for the periodic scan (queue_run_delay). */
	if (c == &q->incoming && c->arrivals != q->arrivals)
		return 1;
	if (deferred) {
		q->next_deferred = c->min_due;
		/* One line per pass (every queue_run_delay at most): the
		 * operator's and bench/queue.sh's view of the queue size. */
		log_info("deferred/ scanned: %zu messages in %llds, %zu active", c->seen,
			 (long long)(time(NULL) - c->started), q->nactive);
	}
	return 0;
}

/* Take the files the trigger named, while there is room (a name another
 * way took first, or that went to hold/, is simply not there).  What does
 * not fit, or could not be taken, waits for a pass over incoming/. */
static void qmgr_take_named(struct qmgr *q)
{
	for (size_t i = 0; i < q->nnamed; i++) {
		if (q->nactive >= q->active_limit) {
			qmgr_incoming_arrived(q);
			break;
		}
		if (qmgr_take(q, "incoming", q->named[i], 1) < 0 && errno != ENOENT)
			qmgr_incoming_arrived(q);
	}
	q->nnamed = 0;
}

/* Everything the timers and the trigger ask for.  While the active set
 * is full the passes wait where they are; a freed slot re-arms them
 * (qmgr_msg_free), taking turns so that neither new mail nor retries
 * starve the other. */
static void qmgr_scans(struct qmgr *q, time_t now)
{
	struct qmgr_cursor *order[2];
	time_t mono = qmgr_clock();

	if (mono >= q->next_scan) {
		log_debug("periodic queue scan");
		q->want_active = q->want_incoming = q->want_deferred = 1;
		q->next_scan = mono + (time_t)q->run_delay;
	}
	if (now >= q->next_deferred)
		q->want_deferred = 1;
	qmgr_take_named(q);
	if (q->want_active == 1)
		q->want_active = qmgr_scan(q, &q->active, now);
	q->turn = !q->turn;
	order[0] = q->turn ? &q->incoming : &q->deferred;
	order[1] = q->turn ? &q->deferred : &q->incoming;
	for (size_t k = 0; k < 2; k++) {
		int *want = order[k] == &q->incoming ? &q->want_incoming : &q->want_deferred;

		if (*want && q->nactive < q->active_limit)
			*want = qmgr_scan(q, order[k], now);
	}
}

/* ---- the end of one delivery attempt ---- */

/* Delay before attempt number `attempts` + 1: doubling from the minimal
 * backoff, never more than the maximal one, never less than a second. */
static unsigned long long qmgr_backoff(const struct qmgr *q, unsigned attempts)
{
	unsigned long long d = q->min_backoff;

	for (unsigned k = 1; k < attempts && d < q->max_backoff; k++)
		d = d > ULLONG_MAX / 2 ? ULLONG_MAX : d * 2;
	if (d > q->max_backoff)
		d = q->max_backoff;
	return d == 0 ? 1 : d;
}

/* Whether m's path still names the file qmgr has open. */
static int qmgr_file_still_at(const struct qmgr_msg *m)
{
	struct stat open_st, path_st;

	if (fstat(m->qf.fd, &open_st) < 0)
		return 1;   /* cannot tell: as before */
	return lstat(m->path, &path_st) == 0 && path_st.st_ino == open_st.st_ino &&
	       path_st.st_dev == open_st.st_dev;
}

static void qmgr_remove(struct qmgr *q, struct qmgr_msg *m)
{
	/* Every recipient is final and reported: losing this unlink in a
	 * crash only makes the next qmgr find a finished file and remove it
	 * (or, after a power cut that also lost an unflushed D mark, deliver
	 * that recipient again).  The reasons go first: never left behind
	 * (a message enqueue named just now has none: two unlinks saved). */
	if (!m->fresh)
		qmgr_reason_forget(m);
	/* `postern queue hold` or `delete` may have taken the file while its
	 * last delivery ran: it keeps the final marks just written through
	 * our descriptor (a release finds nothing to deliver), and must not
	 * be emptied into spare/ or logged removed.  (A move between this
	 * look and the rename below leaves an empty file in hold/, which a
	 * release removes: nothing is lost either way.) */
	if (!qmgr_file_still_at(m)) {
		const char *err;

		/* its delivered marks, never synced for a file about to go,
		 * made durable now that it stays */
		if (queuefile_sync(&m->qf, &err) < 0)
			log_warn("%s: %s", m->id, err);
		log_info("%s: finished; its file was moved or deleted meanwhile (postern queue): left as it is", m->id);
		qmgr_msg_free(q, m);
		return;
	}
	/* Into spare/ for the next message's file when there is room
	 * (common/queue_spare.c), else unlinked as before. */
	if (queue_spare_put(m->qf.fd, m->path, m->id, q->spare_files) < 0 &&
	    unlink(m->path) < 0 && errno != ENOENT) {
		log_warn("%s: cannot remove %s: %s", m->id, m->path, strerror(errno));
		q->want_active = 2;   /* retried by the next periodic scan */
	} else {
		log_info("%s: removed", m->id);
	}
	qmgr_msg_free(q, m);
}

/* Why recipient i of m waited: its last deferral reason, of this
 * attempt or of an earlier one (defer/ID, read once into df); NULL. */
static const char *qmgr_expire_last(const struct qmgr_msg *m, size_t i, struct deferfile *df, int *df_read)
{
	const struct deferfile_entry *e;
	const char *err;

	if (m->res != NULL && m->res[i].dsn[0] == '4' && m->res[i].reason != NULL)
		return m->res[i].reason;
	if (*df_read < 0)
		*df_read = deferfile_read(m->id, df, &err) == 0;
	e = *df_read ? deferfile_find(df, m->qf.rcpt[i].addr) : NULL;
	return e != NULL && e->reason[0] != '\0' ? e->reason : NULL;
}

/* Pending recipients of an expired message become failures; the report
 * says why they waited, as Postfix's does (the last deferral reason). */
static int qmgr_expire(struct qmgr *q, struct qmgr_msg *m, time_t now)
{
	char reason[128], full[QMGR_REASON_MAX + sizeof(reason) + 32];
	struct deferfile df = { 0 };
	int df_read = -1, r = 0;
	const char *err;

	unsigned long long age = qmgr_age(q, m, now);
	/* in the largest whole unit (a short maximal_queue_lifetime says
	 * "after 0 days" otherwise) */
	unsigned long long unit = age >= 86400 ? 86400 : age >= 3600 ? 3600 : age >= 60 ? 60 : 1;
	const char *name = unit == 86400 ? "day" : unit == 3600 ? "hour" : unit == 60 ? "minute" : "second";

	snprintf(reason, sizeof(reason), "message expired after %llu %s%s in the queue", age / unit, name,
		 age / unit == 1 ? "" : "s");
	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		if (m->qf.rcpt[i].status != QUEUEFILE_PENDING)
			continue;
		if (queuefile_mark(&m->qf, i, QUEUEFILE_FAILED, &err) < 0) {
			log_warn("%s: %s: %s", m->id, err, strerror(errno));
			r = -1;
			break;
		}
		const char *last = qmgr_expire_last(m, i, &df, &df_read);

		/* a long last reason is cut as qmgr_result_set cuts any */
		snprintf(full, sizeof(full), "%s%s%s", reason, last != NULL ? "; the last attempt: " : "",
			 last != NULL ? last : "");
		/* RFC 3463 3.5: X.4.7, delivery time expired. */
		qmgr_result_set(m, i, "4.4.7", full, -1);
		log_delivery(m->id, m->qf.rcpt[i].addr, "none",
			     &(struct log_delivery_times){ .arrival_ms = log_delivery_sec_ms(m->qf.time),
							   .active_ms = m->active_ms },
			     "4.4.7", "failed", full);
		metric_count(METRIC_BOUNCED);
	}
	deferfile_free(&df);
	return r;
}

static void qmgr_defer(struct qmgr *q, struct qmgr_msg *m, int soon, time_t now)
{
	unsigned long long delay;
	struct timeval tv[2];
	char dest[64];
	const char *err;
	time_t due;

	if (soon) {
		/* An agent, not the destination, failed: the master restarts
		 * it, so come back soon and do not count an attempt. */
		delay = q->retry_time;
	} else {
		if (queuefile_set_attempts(&m->qf, m->qf.attempts + 1, &err) < 0)
			log_warn("%s: %s: %s", m->id, err, strerror(errno));
		delay = qmgr_backoff(q, m->qf.attempts);
	}
	/* The deliveries this attempt marked (and the attempt count), in
	 * one flush, before the file waits for its next try. */
	if (m->unsynced && queuefile_sync(&m->qf, &err) < 0)
		log_warn("%s: %s: %s; a delivery may be repeated after a power cut", m->id, err, strerror(errno));
	m->unsynced = 0;
	qmgr_reason_save(m);
	due = delay > (unsigned long long)(QMGR_NEVER - now) ? QMGR_NEVER : now + (time_t)delay;
	/* The mtime of a deferred file is its next try: a restarted qmgr
	 * needs nothing but the directory. */
	tv[0].tv_sec = tv[1].tv_sec = due;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	if (futimes(m->qf.fd, tv) < 0)
		log_warn("%s: cannot set next try time: %s", m->id, strerror(errno));
	if (snprintf(dest, sizeof(dest), "deferred/%s", m->id) >= (int)sizeof(dest) ||
	    qmgr_move(m->path, dest) < 0) {
		if (errno == ENOENT) {
			log_info("%s: moved away during delivery (postern queue)", m->id);
		} else {
			log_warn("%s: cannot move to deferred/: %s", m->id, strerror(errno));
			q->want_active = 2;
		}
	} else {
		log_info("%s: deferred, next try in %llus", m->id, delay);
		if (due < q->next_deferred)
			q->next_deferred = due;
		/* A pass under way may have gone past the name already. */
		if (due < q->deferred.min_due)
			q->deferred.min_due = due;
	}
	qmgr_msg_free(q, m);
}

void qmgr_park(const struct qmgr *q, struct qmgr_msg *m)
{
	/* 1000 active messages must not hold 1000 descriptors: one is
	 * kept only while the active set is small, which bounds the kept
	 * ones by QMGR_KEEP_FDS (each was kept when no more than that many
	 * messages were active).  A kept one saves an open and a close a
	 * message in the common case, one message in flight at a time. */
	if (m->qf.fd < 0 || q->nactive <= QMGR_KEEP_FDS)
		return;
	close(m->qf.fd);
	m->qf.fd = -1;
}

int qmgr_reopen(struct qmgr_msg *m)
{
	if (m->qf.fd >= 0)
		return 0;
	m->qf.fd = open(m->path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	return m->qf.fd < 0 ? -1 : 0;
}

void qmgr_done(struct qmgr *q, struct qmgr_msg *m)
{
	time_t now = time(NULL);
	int expired;

	if (qmgr_reopen(m) < 0) {
		if (errno == ENOENT)
			log_info("%s: moved away during delivery (postern queue)", m->id);
		else
			log_warn("%s: cannot reopen %s: %s", m->id, m->path, strerror(errno));
		qmgr_msg_free(q, m);
		return;
	}
	expired = qmgr_age(q, m, now) >= q->lifetime;
	if (queuefile_pending(&m->qf) > 0 && expired && qmgr_expire(q, m, now) < 0) {
		qmgr_defer(q, m, 1, now);
		return;
	}
	/* Reports first: a message leaves the queue only once every report
	 * it owes is itself queued. */
	if (qmgr_report_final(q, m) < 0) {
		qmgr_defer(q, m, 1, now);
		return;
	}
	if (queuefile_pending(&m->qf) == 0) {
		qmgr_remove(q, m);
		return;
	}
	qmgr_report_delay(q, m, now);
	qmgr_defer(q, m, m->agent_broke && !m->real_deferral && !m->agent_missing, now);
}

/* An empty file cannot be mail (enqueue renames a file into incoming/
 * only once it is written and flushed): it is the emptied file of a
 * finished message whose move into spare/ a crash undid (docs/queue.md,
 * "Spare files"), or one never answered with ok.  Removed: 1. */
static int qmgr_empty_file(struct qmgr *q, struct qmgr_msg *m)
{
	struct stat st;

	if (lstat(m->path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
		return 0;
	if (unlink(m->path) < 0 && errno != ENOENT)
		log_warn("%s: cannot remove the empty file %s: %s", m->id, m->path, strerror(errno));
	else
		log_warn("%s: empty queue file removed: nothing to deliver (a crash can leave one, "
			 "docs/queue.md \"Spare files\")", m->id);
	qmgr_msg_free(q, m);
	return 1;
}

/* Parse a message taken from the ready list and queue its jobs. */
static void qmgr_open(struct qmgr *q, struct qmgr_msg *m)
{
	const char *err;
	char hold[64];

	if (queuefile_open(m->path, 1, &m->qf, &err) < 0 ||
	    (strcmp(m->qf.id, m->id) != 0 && (err = "queue ID does not match the file name"))) {
		if (access(m->path, F_OK) < 0 && errno == ENOENT) {
			qmgr_msg_free(q, m);   /* moved away by `postern queue` */
			return;
		}
		queuefile_free(&m->qf);
		if (qmgr_empty_file(q, m))
			return;
		log_warn("%s: damaged queue file: %s; moved to hold/", m->id, err);
		if (snprintf(hold, sizeof(hold), "hold/%s", m->id) >= (int)sizeof(hold) ||
		    qmgr_move(m->path, hold) < 0)
			log_warn("%s: cannot move to hold/: %s", m->id, strerror(errno));
		qmgr_msg_free(q, m);
		return;
	}
	m->parsed = 1;
	m->active_ms = log_delivery_now_ms();
	/* Postfix's qmgr line: log tools count messages and sizes from it. */
	log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", m->id, m->qf.sender,
		 m->qf.data_size, m->qf.nrcpt);
	m->res = calloc(m->qf.nrcpt, sizeof(*m->res));
	if (m->res == NULL) {
		log_warn("%s: out of memory", m->id);
		qmgr_defer(q, m, 1, time(NULL));
		return;
	}
	if (qmgr_route(q, m) == 0) {
		qmgr_done(q, m);   /* nothing pending: finished before a crash */
		return;
	}
	qmgr_park(q, m);
}

/* ---- the loop ---- */

/* Seconds from now to when (QMGR_NEVER: LLONG_MAX), without overflow. */
static long long qmgr_until(time_t when, time_t now)
{
	if (when == QMGR_NEVER)
		return LLONG_MAX;
	return when <= now ? 0 : (long long)when - (long long)now;
}

/* The periodic scan and the agents' deadlines are on the monotonic clock,
 * the next deferred try on the wall clock (the mtimes of deferred/). */
static int qmgr_poll_timeout(const struct qmgr *q, time_t wall, time_t mono)
{
	long long s = qmgr_until(q->next_scan, mono), c = qmgr_until(qmgr_conn_deadline(q), mono);

	if (q->draining)
		return 200;   /* only answers matter now; look again soon */

	if (q->nactive < q->active_limit && qmgr_until(q->next_deferred, wall) < s)
		s = qmgr_until(q->next_deferred, wall);
	if (c < s)
		s = c;
	if (q->maps_recheck && s > 1)
		s = 1;
	if (s == 0 || (q->nactive < q->active_limit && (q->want_incoming || q->want_deferred)) ||
	    q->ready_head != NULL)
		return 0;
	return s > INT_MAX / 1000 ? INT_MAX : (int)(s * 1000);
}

/* One round: wait for something, then handle it. */
static void qmgr_wait(struct qmgr *q)
{
	struct pollfd pfd[QMGR_NTRANSPORT * QMGR_CONN_MAX + QMGR_TRIGGER_KEEP + 2];
	struct qmgr_conn *map[QMGR_NTRANSPORT * QMGR_CONN_MAX + QMGR_TRIGGER_KEEP + 2];
	size_t n = 0, t0, nt;
	int r;

	if (q->d->listen_fd >= 0) {
		pfd[n] = (struct pollfd){ .fd = q->d->listen_fd, .events = POLLIN };
		map[n++] = NULL;
	}
	/* A SIGTERM just before poll() must not wait for the timeout (once
	 * draining it is known, and the pipe stays readable). */
	pfd[n] = (struct pollfd){ .fd = q->draining ? -1 : daemon_stop_fd(), .events = POLLIN };
	map[n++] = NULL;
	t0 = n;
	nt = qmgr_trigger_poll_fill(q, pfd + t0);
	n += nt;
	n += qmgr_poll_fill(q, pfd + n, map + n, sizeof(pfd) / sizeof(pfd[0]) - n);
	r = poll(pfd, n, qmgr_poll_timeout(q, time(NULL), qmgr_clock()));
	if (r < 0) {
		if (errno == EINTR)
			return;
		log_fatal("poll: %s", strerror(errno));
	}
	if (r > 0)
		qmgr_trigger_events(q, pfd + t0, nt);
	for (size_t k = t0 + nt; k < n && r > 0; k++)
		if (pfd[k].revents != 0)
			qmgr_conn_event(q, map[k], pfd[k].revents);
	if (q->d->listen_fd >= 0 && pfd[0].revents != 0)
		qmgr_trigger_accept(q);
	qmgr_conn_timeouts(q, qmgr_clock());
}

/* Finish the deliveries under way, start none, then exit; for at most
 * master_stop_timeout, as at a stop: a successor (a reload starts one at
 * once) waits for us, and with it all new mail. */
static void qmgr_drain(struct qmgr *q)
{
	q->draining = 1;
	q->drain_until = qmgr_clock() + (time_t)config_time("master_stop_timeout");
}

/* `postern map` and `postern user` replace domains.cdb by rename.  We
 * cannot open the new one from inside the chroot, so we let the
 * deliveries in flight finish and exit; the master starts a fresh qmgr,
 * which resumes active/. */
static void qmgr_check_maps(struct qmgr *q)
{
	time_t mono = qmgr_clock();

	/* Once a second at most (an fstat per map per wake-up was two
	 * system calls a message); a round that skips it keeps the poll
	 * short enough for the next one to come (qmgr_poll_timeout). */
	q->maps_recheck = !q->draining && mono == q->maps_checked;
	if (q->draining || q->maps_recheck)
		return;
	q->maps_checked = mono;
	if (!daemon_maps_replaced())
		return;
	log_info("etc/domains.cdb was replaced: restarting to read it");
	qmgr_drain(q);
}

/* One qmgr works active/ at a time.  A qmgr told to stop (a reload, a
 * stop) still waits for the answers of the deliveries under way and
 * records them, while the master may already have started its successor,
 * which would otherwise find the same recipients pending in active/ and
 * deliver them again.  The lock (flock on active/) goes with the
 * process, also with a crash.  The descriptor, or -1 when told to stop
 * while waiting. */
static int qmgr_lock_active(void)
{
	int fd = open("active", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int logged = 0;

	if (fd < 0)
		log_fatal("open active/: %s", strerror(errno));
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct pollfd p = { .fd = daemon_stop_fd(), .events = POLLIN };

		if (errno != EWOULDBLOCK && errno != EINTR)
			log_fatal("lock active/: %s", strerror(errno));
		if (!logged++)
			log_info("waiting for the previous qmgr to record its deliveries under way");
		if (daemon_stopping()) {
			close(fd);
			return -1;
		}
		/* flock has no timeout: look again every 50 ms */
		(void)poll(&p, 1, 50);
	}
	return fd;
}

static int qmgr_busy(const struct qmgr *q)
{
	for (int k = 0; k < QMGR_NTRANSPORT; k++)
		for (size_t i = 0; i < q->transports[k].nconn; i++)
			if (q->transports[k].conns[i].state == QMGR_BUSY)
				return 1;
	return 0;
}

int main(int argc, char **argv)
{
	static struct qmgr q;
	struct daemon d;
	const char *err;
	int lock;

	daemon_init(&d, "qmgr", argc, argv);
	q.d = &d;
	/* Without the map every recipient is delivered locally. */
	q.domains = daemon_open_map(&d, "domains.cdb", 1);
	qmgr_settings(&q);
	daemon_drop(&d);
	qmgr_hash_init(&q);
	qmgr_transports_init(&q);
	q.active.dir = "active";
	q.incoming.dir = "incoming";
	q.deferred.dir = "deferred";
	if (queuefile_mkdirs(&err) < 0)
		log_fatal("%s: %s", err, strerror(errno));
	if ((lock = qmgr_lock_active()) < 0) {
		log_info("stopped");
		return 0;
	}
	if (d.listen_fd >= 0)
		fd_set_nonblock(d.listen_fd, 1);
	else
		log_warn("no trigger socket (fd 3): new mail waits for the periodic scan");
	/* Start-up: whatever a crashed qmgr left in active/ comes first. */
	q.next_scan = 0;
	q.next_deferred = QMGR_NEVER;
	qmgr_jumps_load(&q);
	/* Told to stop, drain as for a replaced map: no new delivery, the
	 * answers of those under way recorded, then exit. */
	while (!(q.draining && !qmgr_busy(&q))) {
		if (daemon_stopping() && !q.draining) {
			qmgr_drain(&q);
			if (qmgr_busy(&q))
				log_info("stopping: waiting for the deliveries under way");
		}
		if (q.draining && qmgr_clock() >= q.drain_until) {
			log_warn("stopping: deliveries still under way after master_stop_timeout; the next qmgr "
				 "resumes them (one may be delivered twice)");
			break;
		}
		qmgr_jumps_watch(&q);
		qmgr_check_maps(&q);
		if (!q.draining) {
			qmgr_scans(&q, time(NULL));
			while (q.ready_head != NULL)
				qmgr_open(&q, qmgr_ready_pop(&q));
			qmgr_dispatch(&q);
		}
		qmgr_wait(&q);
	}
	/* Nothing is in flight now, unless the drain ran out of time; a
	 * delivery cut off (by that, or by a kill) stays pending in active/
	 * and the next qmgr resumes it. */
	qmgr_transports_close(&q);
	qmgr_trigger_close(&q);
	for (size_t h = 0; h < q.hash_size; h++)
		while (q.hash[h] != NULL)
			qmgr_msg_free(&q, q.hash[h]);
	free(q.hash);
	cdbmap_close(&q.domains);
	close(lock);
	log_info("stopped");
	return 0;
}
