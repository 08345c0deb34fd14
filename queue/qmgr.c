/* qmgr: the queue manager.  Takes messages from incoming/ (and, when due,
 * deferred/) into active/, hands their pending recipients to the local
 * delivery agent, records every answer durably in the queue file before
 * acting on it, and removes a message only when every recipient is final.
 * Deferred messages are retried with exponential backoff until
 * maximal_queue_lifetime (docs/queue.md has the state machine).
 *
 * Runs as: postern-queue, one process (maxproc 1), root = DIR/queue.
 * Reads and renames files in incoming/ active/ deferred/ hold/, writes
 * status bytes in queue files; listens on the trigger socket (fd 3,
 * private/qmgr); connects to private/local and passes it read-only queue
 * file descriptors.
 *
 * Trusts: queue files only after queuefile_open validated them (a bad one
 * is moved to hold/ and logged); the local agent's answers only as far as
 * the protocol: they must name the recipients in request order, with a
 * known status, within ipc_timeout each.
 *
 * Fails: anything wrong with one message or one agent connection defers
 * that message (a broken agent: after qmgr_local_retry_time); nothing is
 * ever removed on an error.  A broken environment (cannot create queue
 * directories, poll fails) is fatal; the master restarts us and the
 * start-up scan resumes whatever was in active/.
 *
 * Event loop: poll() on the trigger socket and the agent connections, with
 * a timeout set by the nearest of: the periodic scan (queue_run_delay),
 * the earliest deferred message due, and agent deadlines.  Nothing
 * busy-polls. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "queuefile.h"
#include "record.h"
#include "sockets.h"

#define QMGR_CONN_MAX 100                 /* hard cap on qmgr_local_concurrency */
#define QMGR_ANSWER_MAX (64 * 1024)       /* buffered answer bytes per connection */
#define QMGR_REQUEST_MAX (4 * 1024 * 1024) /* a request: header fields, escaped */
#define QMGR_FIRST_SEND 4096              /* bytes sent with the descriptor */
#define QMGR_TRIGGER_BURST 64             /* trigger connections taken per wakeup */
#define QMGR_RCPT_BATCH 1000              /* recipients per request (< RECORD_MAX_FIELDS) */
#define QMGR_NEVER ((time_t)LLONG_MAX)

/* One message in the active set.  Only messages being delivered have
 * their queue file open and parsed; the others are just a name, so the
 * active set costs little memory and no descriptors. */
struct qmgr_msg {
	struct qmgr_msg *next;          /* ready list */
	struct qmgr_msg *all_next;      /* every message in the active set */
	char id[QUEUEFILE_ID_MAX + 1];
	char path[64];                  /* "active/ID" */
	struct queuefile qf;            /* open while in delivery */
	int requeued;                   /* retried once on a fresh connection */
	size_t batch_from;              /* first recipient of the next request */
};

enum qmgr_conn_state { QMGR_FREE, QMGR_IDLE, QMGR_BUSY };

/* One connection to the local agent, one request outstanding at most. */
struct qmgr_conn {
	enum qmgr_conn_state state;
	int fd;
	int reused;                     /* carried a request before this one */
	struct qmgr_msg *msg;
	size_t *idx;                    /* recipient index of each request line */
	size_t nidx, answered;
	struct buf out;                 /* request bytes not yet sent */
	size_t out_off;
	struct buf in;                  /* answer bytes not yet parsed */
	time_t deadline;
	int timeout;                    /* ipc_timeout, seconds */
};

struct qmgr {
	struct daemon *d;
	struct qmgr_conn conns[QMGR_CONN_MAX];
	size_t nconn;                   /* qmgr_local_concurrency */
	struct qmgr_msg *ready_head, *ready_tail, *all;
	size_t nactive, active_limit;
	time_t next_scan, next_deferred;
	int want_incoming, want_active;
	unsigned long long run_delay, min_backoff, max_backoff, lifetime, retry_time;
	int ipc_timeout;                /* seconds */
	char local_path[108];
};

/* ---- settings ---- */

static void qmgr_settings(struct qmgr *q)
{
	unsigned long long n;

	q->run_delay = config_time("queue_run_delay");
	if (q->run_delay == 0)
		q->run_delay = 1;
	q->min_backoff = config_time("minimal_backoff_time");
	q->max_backoff = config_time("maximal_backoff_time");
	q->lifetime = config_time("maximal_queue_lifetime");
	n = config_time("ipc_timeout");
	q->ipc_timeout = n == 0 ? 1 : n > 86400 ? 86400 : (int)n;
	n = config_size("qmgr_local_concurrency");
	if (n > QMGR_CONN_MAX) {
		log_warn("qmgr_local_concurrency %llu capped at %d", n, QMGR_CONN_MAX);
		n = QMGR_CONN_MAX;
	}
	q->nconn = n == 0 ? 1 : (size_t)n;
	n = config_size("qmgr_active_limit");
	q->active_limit = n == 0 ? 1 : n > 1000000 ? 1000000 : (size_t)n;
	q->retry_time = config_time("qmgr_local_retry_time");
	if (q->retry_time == 0)
		q->retry_time = 1;
	if (daemon_socket_path("local", q->local_path, sizeof(q->local_path)) < 0)
		log_fatal("local socket path too long");
}

/* ---- the active set ---- */

static int qmgr_known(const struct qmgr *q, const char *id)
{
	for (const struct qmgr_msg *m = q->all; m != NULL; m = m->all_next)
		if (strcmp(m->id, id) == 0)
			return 1;
	return 0;
}

static void qmgr_ready_push(struct qmgr *q, struct qmgr_msg *m, int front)
{
	m->next = NULL;
	if (q->ready_head == NULL) {
		q->ready_head = q->ready_tail = m;
	} else if (front) {
		m->next = q->ready_head;
		q->ready_head = m;
	} else {
		q->ready_tail->next = m;
		q->ready_tail = m;
	}
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

/* Forget a message (its file has already gone where it belongs). */
static void qmgr_msg_free(struct qmgr *q, struct qmgr_msg *m)
{
	for (struct qmgr_msg **pp = &q->all; *pp != NULL; pp = &(*pp)->all_next)
		if (*pp == m) {
			*pp = m->all_next;
			break;
		}
	queuefile_free(&m->qf);
	free(m);
	q->nactive--;
}

/* rename that never replaces: two files must never share a name. */
static int qmgr_move(const char *from, const char *to)
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
 * is there already).  0, or -1 when it could not be taken. */
static int qmgr_take(struct qmgr *q, const char *dir, const char *name)
{
	struct qmgr_msg *m;
	char from[512], hold[512];
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
		if (errno != ENOENT)
			log_warn("%s: cannot move %s to active/: %s", name, from, strerror(errno));
		free(m);
		return -1;
	}
	m->all_next = q->all;
	q->all = m;
	q->nactive++;
	qmgr_ready_push(q, m, 0);
	return 0;
}

/* ---- scanning ---- */

/* Take messages from dir into the active set while there is room.
 * deferred/: only those whose mtime (next try) has come; the earliest
 * one still waiting sets q->next_deferred.  Returns 1 when it stopped
 * for lack of room with work left, else 0. */
static int qmgr_scan(struct qmgr *q, const char *dir, time_t now)
{
	int deferred = strcmp(dir, "deferred") == 0, active = strcmp(dir, "active") == 0;
	struct dirent *de;
	int full = 0;
	DIR *dp = opendir(dir);

	if (dp == NULL) {
		log_warn("cannot open %s/: %s", dir, strerror(errno));
		return 0;
	}
	if (deferred)
		q->next_deferred = QMGR_NEVER;
	while ((de = readdir(dp)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (active && qmgr_known(q, de->d_name))
			continue;
		if (deferred) {
			if (fstatat(dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			if (st.st_mtime > now) {
				if (st.st_mtime < q->next_deferred)
					q->next_deferred = st.st_mtime;
				continue;
			}
		}
		if (q->nactive >= q->active_limit) {
			full = 1;
			if (deferred)
				q->next_deferred = now;   /* due now: retried when room frees */
			if (!deferred)
				break;
			continue;
		}
		(void)qmgr_take(q, dir, de->d_name);
	}
	closedir(dp);
	return full;
}

/* Everything the timers and the trigger ask for; never loops: each scan
 * either finds room or leaves a flag that only a freed slot re-arms. */
static void qmgr_scans(struct qmgr *q, time_t now)
{
	int room = q->nactive < q->active_limit;

	if (now >= q->next_scan) {
		log_debug("periodic queue scan");
		q->want_active = qmgr_scan(q, "active", now);
		q->want_incoming = qmgr_scan(q, "incoming", now);
		(void)qmgr_scan(q, "deferred", now);
		q->next_scan = now + (time_t)q->run_delay;
		return;
	}
	if (!room)
		return;
	/* want_active == 2 (a file we failed to move) waits for the
	 * periodic scan, so that a persistent error cannot spin. */
	if (q->want_active == 1)
		q->want_active = qmgr_scan(q, "active", now);
	if (q->want_incoming)
		q->want_incoming = qmgr_scan(q, "incoming", now);
	if (q->next_deferred <= now && q->nactive < q->active_limit)
		(void)qmgr_scan(q, "deferred", now);
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

static void qmgr_remove(struct qmgr *q, struct qmgr_msg *m)
{
	/* Every recipient is final on disk: losing this unlink in a crash
	 * only makes the next qmgr find a finished file and remove it. */
	if (unlink(m->path) < 0 && errno != ENOENT) {
		log_warn("%s: cannot remove %s: %s", m->id, m->path, strerror(errno));
		q->want_active = 2;   /* retried by the next periodic scan */
	} else {
		log_info("%s: removed", m->id);
	}
	qmgr_msg_free(q, m);
}

/* Pending recipients of an expired message become failures. */
static int qmgr_expire(struct qmgr_msg *m)
{
	const char *err;

	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		if (m->qf.rcpt[i].status != QUEUEFILE_PENDING)
			continue;
		if (queuefile_mark(&m->qf, i, QUEUEFILE_FAILED, &err) < 0) {
			log_warn("%s: %s: %s", m->id, err, strerror(errno));
			return -1;
		}
		log_info("%s: to=<%s>, relay=none, status=bounced (message expired)", m->id,
			 m->qf.rcpt[i].addr);
	}
	return 0;
}

static void qmgr_defer(struct qmgr *q, struct qmgr_msg *m, int agent_broke, time_t now)
{
	unsigned long long delay;
	struct timeval tv[2];
	char dest[64];
	const char *err;
	time_t due;

	if (agent_broke) {
		/* The agent, not the destination, failed: the master restarts
		 * it, so come back soon and do not count an attempt. */
		delay = q->retry_time;
	} else {
		if (queuefile_set_attempts(&m->qf, m->qf.attempts + 1, &err) < 0)
			log_warn("%s: %s: %s", m->id, err, strerror(errno));
		delay = qmgr_backoff(q, m->qf.attempts);
	}
	due = delay > (unsigned long long)(QMGR_NEVER - now) ? QMGR_NEVER : now + (time_t)delay;
	/* The mtime of a deferred file is its next try: a restarted qmgr
	 * needs nothing but the directory. */
	tv[0].tv_sec = tv[1].tv_sec = due;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	if (futimes(m->qf.fd, tv) < 0)
		log_warn("%s: cannot set next try time: %s", m->id, strerror(errno));
	if (snprintf(dest, sizeof(dest), "deferred/%s", m->id) >= (int)sizeof(dest) ||
	    qmgr_move(m->path, dest) < 0) {
		log_warn("%s: cannot move to deferred/: %s", m->id, strerror(errno));
		q->want_active = 2;
	} else {
		log_info("%s: deferred, next try in %llus", m->id, delay);
		if (due < q->next_deferred)
			q->next_deferred = due;
	}
	qmgr_msg_free(q, m);
}

/* An attempt is over: remove, expire, or defer the message. */
static void qmgr_done(struct qmgr *q, struct qmgr_msg *m, int agent_broke)
{
	time_t now = time(NULL);

	if (queuefile_pending(&m->qf) == 0) {
		qmgr_remove(q, m);
		return;
	}
	if (now >= m->qf.time && (unsigned long long)(now - m->qf.time) >= q->lifetime &&
	    qmgr_expire(m) == 0) {
		qmgr_remove(q, m);
		return;
	}
	qmgr_defer(q, m, agent_broke, now);
}

/* Log every recipient still pending as deferred for reason. */
static void qmgr_log_pending(const struct qmgr_msg *m, size_t from, const size_t *idx, size_t n,
			     const char *reason)
{
	for (size_t k = from; k < n; k++)
		log_info("%s: to=<%s>, relay=local, status=deferred (%s)", m->id,
			 m->qf.rcpt[idx[k]].addr, reason);
}

/* ---- agent connections ---- */

static void qmgr_conn_reset(struct qmgr_conn *c)
{
	free(c->idx);
	c->idx = NULL;
	c->nidx = c->answered = 0;
	c->msg = NULL;
	buf_reset(&c->out);
	c->out_off = 0;
	buf_reset(&c->in);
}

static void qmgr_conn_close(struct qmgr_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = QMGR_FREE;
	c->reused = 0;
	qmgr_conn_reset(c);
}

/* The connection failed during a request: unanswered recipients stay
 * pending.  A reused connection the agent closed before answering
 * anything gets one more chance on a fresh one (the agent may simply
 * have retired it). */
static void qmgr_conn_broken(struct qmgr *q, struct qmgr_conn *c, const char *why)
{
	struct qmgr_msg *m = c->msg;

	if (m != NULL && c->answered == 0 && c->nidx > 0 && c->reused && !m->requeued) {
		log_debug("%s: agent connection closed (%s), retrying", m->id, why);
		m->requeued = 1;
		m->batch_from = c->idx[0];   /* the same batch again */
		qmgr_ready_push(q, m, 1);
	} else if (m != NULL) {
		log_warn("%s: local delivery agent: %s", m->id, why);
		qmgr_log_pending(m, c->answered, c->idx, c->nidx, "delivery agent failed");
		qmgr_done(q, m, 1);
	}
	c->msg = NULL;
	qmgr_conn_close(c);
}

static int qmgr_connect(const struct qmgr *q)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(q->local_path);
	int fd;

	if (n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, q->local_path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* A Unix connect completes at once or fails (EAGAIN: backlog full). */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Build the request for the next batch of m's pending recipients
 * (docs/protocols.md, local); batches keep every request under the
 * agent's record field limit. */
static int qmgr_request(struct qmgr_conn *c, struct qmgr_msg *m)
{
	const struct queuefile *qf = &m->qf;
	struct buf *out = &c->out;
	size_t i;

	c->idx = calloc(QMGR_RCPT_BATCH, sizeof(*c->idx));
	if (c->idx == NULL)
		return -1;
	if (record_put_str(out, "queue_id", m->id) < 0 ||
	    record_put(out, "sender", qf->sender, qf->sender_len) < 0 ||
	    record_put_num(out, "offset", (unsigned long long)qf->data_offset) < 0 ||
	    record_put_num(out, "size", qf->data_size) < 0)
		return -1;
	for (i = m->batch_from; i < qf->nrcpt && c->nidx < QMGR_RCPT_BATCH; i++) {
		if (qf->rcpt[i].status != QUEUEFILE_PENDING)
			continue;
		if (record_put(out, "rcpt", qf->rcpt[i].addr, qf->rcpt[i].addr_len) < 0)
			return -1;
		c->idx[c->nidx++] = i;
	}
	m->batch_from = i;
	return record_end(out);
}

/* Send what is left of the request.  0 or -1 (connection broken). */
static int qmgr_conn_send(struct qmgr_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
				 MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->out_off += (size_t)w;
		c->deadline = time(NULL) + c->timeout;
	}
	return 0;
}

/* Open, check and start delivering m on c (connected, idle).  0 when the
 * request is under way, -1 when m was dealt with otherwise. */
static int qmgr_start(struct qmgr *q, struct qmgr_conn *c, struct qmgr_msg *m)
{
	const char *err;
	char hold[64];
	int rofd;
	size_t first;

	if (m->qf.fd >= 0)
		goto send;   /* the next batch of a message already open */
	if (queuefile_open(m->path, 1, &m->qf, &err) < 0 ||
	    (strcmp(m->qf.id, m->id) != 0 && (err = "queue ID does not match the file name"))) {
		queuefile_free(&m->qf);
		log_warn("%s: damaged queue file: %s; moved to hold/", m->id, err);
		if (snprintf(hold, sizeof(hold), "hold/%s", m->id) >= (int)sizeof(hold) ||
		    qmgr_move(m->path, hold) < 0)
			log_warn("%s: cannot move to hold/: %s", m->id, strerror(errno));
		qmgr_msg_free(q, m);
		return -1;
	}
	m->batch_from = 0;
	if (queuefile_pending(&m->qf) == 0) {
		qmgr_done(q, m, 0);   /* finished before a crash: just remove it */
		return -1;
	}
send:
	/* The agent gets its own read-only descriptor: it must not be able
	 * to change the queue file. */
	rofd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rofd < 0 || qmgr_request(c, m) < 0) {
		log_warn("%s: cannot prepare delivery request: %s", m->id, strerror(errno));
		if (rofd >= 0)
			close(rofd);
		c->msg = m;
		qmgr_conn_broken(q, c, "request failed");
		return -1;
	}
	c->msg = m;
	first = c->out.len < QMGR_FIRST_SEND ? c->out.len : QMGR_FIRST_SEND;
	if (fd_send(c->fd, rofd, c->out.data, first) < 0) {
		close(rofd);
		qmgr_conn_broken(q, c, strerror(errno));
		return -1;
	}
	close(rofd);
	c->out_off = first;
	c->state = QMGR_BUSY;
	c->deadline = time(NULL) + q->ipc_timeout;
	if (qmgr_conn_send(c) < 0) {
		qmgr_conn_broken(q, c, strerror(errno));
		return -1;
	}
	return 0;
}

/* A connection for the next request: an idle one, else a new one. */
static struct qmgr_conn *qmgr_conn_get(struct qmgr *q, const char **why_r)
{
	struct qmgr_conn *free_slot = NULL;

	for (size_t i = 0; i < q->nconn; i++) {
		struct qmgr_conn *c = &q->conns[i];

		if (c->state == QMGR_IDLE) {
			c->reused = 1;
			return c;
		}
		if (c->state == QMGR_FREE && free_slot == NULL)
			free_slot = c;
	}
	if (free_slot == NULL)
		return NULL;
	free_slot->fd = qmgr_connect(q);
	if (free_slot->fd < 0) {
		*why_r = strerror(errno);
		return NULL;
	}
	free_slot->state = QMGR_IDLE;
	free_slot->reused = 0;
	return free_slot;
}

/* Start as many ready messages as there are connections for. */
static void qmgr_dispatch(struct qmgr *q)
{
	while (q->ready_head != NULL) {
		const char *why = NULL;
		struct qmgr_conn *c = qmgr_conn_get(q, &why);
		struct qmgr_msg *m;

		if (c == NULL && why == NULL)
			return;   /* all connections busy */
		m = qmgr_ready_pop(q);
		if (c == NULL) {
			const char *err;

			/* No agent to talk to: defer soon; the master restarts it. */
			log_warn("%s: cannot connect to local delivery agent: %s", m->id, why);
			if (m->qf.fd < 0 && queuefile_open(m->path, 1, &m->qf, &err) < 0) {
				q->want_active = 2;
				log_warn("%s: %s", m->id, err);
				qmgr_msg_free(q, m);
				continue;
			}
			for (size_t i = 0; i < m->qf.nrcpt; i++)
				if (m->qf.rcpt[i].status == QUEUEFILE_PENDING)
					log_info("%s: to=<%s>, relay=local, status=deferred "
						 "(delivery agent unavailable)", m->id, m->qf.rcpt[i].addr);
			qmgr_done(q, m, 1);
			continue;
		}
		(void)qmgr_start(q, c, m);
	}
}

/* Act on one answer record for the next recipient of c's request. */
static int qmgr_answer(struct qmgr_conn *c, const struct record *rec)
{
	struct qmgr_msg *m = c->msg;
	size_t i = c->idx[c->answered];
	const struct queuefile_rcpt *r = &m->qf.rcpt[i];
	const char *rcpt = record_get(rec, "rcpt"), *status = record_get(rec, "status");
	const char *reason = record_get(rec, "reason"), *err;
	char mark;

	if (rcpt == NULL && status != NULL && strcmp(status, "deferred") == 0) {
		/* docs/protocols.md: the agent refused the whole request. */
		log_warn("%s: local delivery agent refused the request: %s", m->id,
			 reason != NULL ? reason : "no reason");
		return -1;
	}
	if (rcpt == NULL || strcmp(rcpt, r->addr) != 0 || status == NULL) {
		log_warn("%s: agent answer does not match recipient <%s>", m->id, r->addr);
		return -1;
	}
	if (reason == NULL)
		reason = status;
	/* The agent logs each recipient's outcome; qmgr logs only its own
	 * decisions (deferral, expiry, removal), so no event is logged twice. */
	if (strcmp(status, "deferred") == 0) {
		c->answered++;
		return 0;
	}
	if (strcmp(status, "delivered") == 0)
		mark = QUEUEFILE_DELIVERED;
	else if (strcmp(status, "failed") == 0)
		mark = QUEUEFILE_FAILED;
	else {
		log_warn("%s: agent answer with unknown status", m->id);
		return -1;
	}
	/* Durably first: a crash after this line must not repeat the
	 * delivery, nor lose the failure. */
	if (queuefile_mark(&m->qf, i, mark, &err) < 0)
		log_warn("%s: %s: %s; <%s> stays pending", m->id, err, strerror(errno), r->addr);
	c->answered++;
	return 0;
}

/* Whether m has pending recipients not yet in any request this attempt. */
static int qmgr_more(const struct qmgr_msg *m)
{
	for (size_t i = m->batch_from; i < m->qf.nrcpt; i++)
		if (m->qf.rcpt[i].status == QUEUEFILE_PENDING)
			return 1;
	return 0;
}

/* Parse every complete answer record in c->in.  0, or -1 on a protocol
 * error. */
static int qmgr_conn_parse(struct qmgr *q, struct qmgr_conn *c)
{
	for (;;) {
		struct record rec = { 0 };
		const char *end, *err = NULL;
		size_t n, used;
		int r;

		if (c->in.len == 0)
			return 0;
		if (c->msg == NULL || c->answered >= c->nidx || c->in.data[0] == '\n')
			return -1;   /* an answer nobody asked for, or an empty one */
		end = memmem(c->in.data, c->in.len, "\n\n", 2);
		if (end == NULL)
			return 0;
		n = (size_t)(end - c->in.data) + 2;
		r = record_parse(c->in.data, n, &rec, &used, &err);
		if (r == 0)
			r = qmgr_answer(c, &rec);
		record_clear(&rec);
		if (r < 0)
			return -1;
		buf_consume(&c->in, n);
		c->deadline = time(NULL) + q->ipc_timeout;
		if (c->answered == c->nidx) {
			struct qmgr_msg *m = c->msg;

			if (c->in.len != 0)
				return -1;
			c->msg = NULL;
			qmgr_conn_reset(c);
			c->state = QMGR_IDLE;
			if (qmgr_more(m))
				qmgr_ready_push(q, m, 1);   /* next batch, same attempt */
			else
				qmgr_done(q, m, 0);
			return 0;
		}
	}
}

static void qmgr_conn_readable(struct qmgr *q, struct qmgr_conn *c)
{
	char tmp[4096];
	size_t room = c->in.max - c->in.len;
	ssize_t r;

	if (c->state == QMGR_IDLE) {
		/* The agent closed (or talked out of turn): drop it. */
		qmgr_conn_close(c);
		return;
	}
	if (room == 0) {
		qmgr_conn_broken(q, c, "answer too long");
		return;
	}
	r = recv(c->fd, tmp, room < sizeof(tmp) ? room : sizeof(tmp), 0);
	if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) {
		qmgr_conn_broken(q, c, r == 0 ? "connection closed" : strerror(errno));
		return;
	}
	if (buf_append(&c->in, tmp, (size_t)r) < 0 || qmgr_conn_parse(q, c) < 0)
		qmgr_conn_broken(q, c, "protocol error");
}

/* ---- the trigger ---- */

/* Any connection to the trigger socket means "look at incoming/"; the
 * content does not matter, so it is read only to be polite. */
static void qmgr_trigger(struct qmgr *q)
{
	for (int i = 0; i < QMGR_TRIGGER_BURST; i++) {
		char tmp[64];
		int fd = accept4(q->d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (recv(fd, tmp, sizeof(tmp), 0) < 0 && errno != EAGAIN)
			log_debug("trigger: %s", strerror(errno));
		close(fd);
		q->want_incoming = 1;
	}
}

/* ---- the loop ---- */

static time_t qmgr_min(time_t a, time_t b)
{
	return a < b ? a : b;
}

static int qmgr_poll_timeout(const struct qmgr *q, time_t now)
{
	time_t t = q->next_scan;
	long long ms;

	if (q->nactive < q->active_limit)
		t = qmgr_min(t, q->next_deferred);
	for (size_t i = 0; i < q->nconn; i++)
		if (q->conns[i].state == QMGR_BUSY)
			t = qmgr_min(t, q->conns[i].deadline);
	if (t <= now)
		return 0;
	ms = ((long long)t - (long long)now) * 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

/* One round: wait for something, then handle it. */
static void qmgr_wait(struct qmgr *q)
{
	struct pollfd pfd[QMGR_CONN_MAX + 1];
	struct qmgr_conn *map[QMGR_CONN_MAX + 1];
	size_t n = 0;
	time_t now = time(NULL);
	int r;

	if (q->d->listen_fd >= 0) {
		pfd[n] = (struct pollfd){ .fd = q->d->listen_fd, .events = POLLIN };
		map[n++] = NULL;
	}
	for (size_t i = 0; i < q->nconn; i++) {
		struct qmgr_conn *c = &q->conns[i];

		if (c->state == QMGR_FREE)
			continue;
		pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
		if (c->state == QMGR_BUSY && c->out_off < c->out.len)
			pfd[n].events |= POLLOUT;
		map[n++] = c;
	}
	r = poll(pfd, n, qmgr_poll_timeout(q, now));
	if (r < 0) {
		if (errno == EINTR)
			return;
		log_fatal("poll: %s", strerror(errno));
	}
	for (size_t k = 0; k < n && r > 0; k++) {
		struct qmgr_conn *c = map[k];

		if (pfd[k].revents == 0)
			continue;
		if (c == NULL) {
			qmgr_trigger(q);
			continue;
		}
		if ((pfd[k].revents & POLLOUT) && c->state == QMGR_BUSY && qmgr_conn_send(c) < 0) {
			qmgr_conn_broken(q, c, strerror(errno));
			continue;
		}
		if (pfd[k].revents & (POLLIN | POLLHUP | POLLERR))
			qmgr_conn_readable(q, c);
	}
	now = time(NULL);
	for (size_t i = 0; i < q->nconn; i++)
		if (q->conns[i].state == QMGR_BUSY && q->conns[i].deadline <= now)
			qmgr_conn_broken(q, &q->conns[i], "timeout");
}

int main(int argc, char **argv)
{
	static struct qmgr q;
	struct daemon d;
	const char *err;

	daemon_init(&d, "qmgr", argc, argv);
	daemon_drop(&d);
	q.d = &d;
	qmgr_settings(&q);
	for (size_t i = 0; i < QMGR_CONN_MAX; i++) {
		q.conns[i].fd = -1;
		q.conns[i].timeout = q.ipc_timeout;
		buf_init(&q.conns[i].out, QMGR_REQUEST_MAX);
		buf_init(&q.conns[i].in, QMGR_ANSWER_MAX);
	}
	if (queuefile_mkdirs(&err) < 0)
		log_fatal("%s: %s", err, strerror(errno));
	if (d.listen_fd >= 0)
		fd_set_nonblock(d.listen_fd, 1);
	else
		log_warn("no trigger socket (fd 3): new mail waits for the periodic scan");
	/* Start-up: whatever a crashed qmgr left in active/ comes first. */
	q.next_scan = 0;
	q.next_deferred = QMGR_NEVER;
	while (!daemon_stopping()) {
		qmgr_scans(&q, time(NULL));
		qmgr_dispatch(&q);
		qmgr_wait(&q);
	}
	/* In-flight deliveries stay in active/: the next qmgr resumes them. */
	for (size_t i = 0; i < QMGR_CONN_MAX; i++) {
		qmgr_conn_close(&q.conns[i]);
		buf_free(&q.conns[i].out);
		buf_free(&q.conns[i].in);
	}
	while (q.all != NULL)
		qmgr_msg_free(&q, q.all);
	log_info("stopped");
	return 0;
}
