/* qmgr_deliver: routing and the conversation with the delivery agents.
 *
 * Offers: qmgr_route splits a message's pending recipients by transport
 * (a local domain, common/local_domain.c, or an address without one, goes to
 * `local`; every other to `remote`) and domain into jobs of at most
 * QMGR_RCPT_BATCH recipients on per-destination queues; qmgr_dispatch
 * starts jobs round-robin over the destinations of each transport, within
 * the transport's concurrency (qmgr_local_concurrency,
 * qmgr_remote_concurrency) and the per-destination one
 * (qmgr_destination_concurrency).  Both agents speak the protocol of
 * docs/protocols.md "local": one request record plus a read-only queue
 * file descriptor, one answer record per recipient.
 *
 * Trusts: the agents only as far as the protocol: answers must name the
 * recipients in request order with a known status within ipc_timeout.
 *
 * Fails: a connection that breaks, times out or talks nonsense leaves
 * its unanswered recipients pending (the message is retried after
 * qmgr_local_retry_time, no attempt counted); an agent whose socket does
 * not exist (the remote agent is not installed) defers its recipients
 * with the normal backoff.  Every answer `delivered` / `failed` is on
 * disk (fdatasync) before the next one is read. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "fdrecord.h"
#include "hash.h"
#include "local_domain.h"
#include "log.h"
#include "metric.h"
#include "log_delivery.h"
#include "qmgr.h"
#include "record.h"
#include "sockets.h"

#define QMGR_ANSWER_MAX (64 * 1024)       /* buffered answer bytes per connection */
#define QMGR_REQUEST_MAX (4 * 1024 * 1024) /* a request: header fields, escaped */
#define QMGR_FIRST_SEND 4096              /* bytes sent with the descriptor */
#define QMGR_DHASH_SIZE 4096              /* destination buckets (a power of two) */

static const char *const qmgr_transport_names[QMGR_NTRANSPORT] = { "local", "remote" };
static const char *const qmgr_concurrency_keys[QMGR_NTRANSPORT] = {
	"qmgr_local_concurrency", "qmgr_remote_concurrency",
};

void qmgr_transports_init(struct qmgr *q)
{
	q->dhash_size = QMGR_DHASH_SIZE;
	q->dhash = calloc(q->dhash_size, sizeof(*q->dhash));
	if (q->dhash == NULL)
		log_fatal("out of memory");
	for (int k = 0; k < QMGR_NTRANSPORT; k++) {
		struct qmgr_transport *t = &q->transports[k];
		unsigned long long n = config_size(qmgr_concurrency_keys[k]);

		t->name = qmgr_transport_names[k];
		t->id = k;
		if (n > QMGR_CONN_MAX) {
			log_warn("%s %llu capped at %d", qmgr_concurrency_keys[k], n, QMGR_CONN_MAX);
			n = QMGR_CONN_MAX;
		}
		t->nconn = n == 0 ? 1 : (size_t)n;
		if (daemon_socket_path(t->name, t->path, sizeof(t->path)) < 0)
			log_fatal("%s socket path too long", t->name);
		for (size_t i = 0; i < QMGR_CONN_MAX; i++) {
			t->conns[i].fd = -1;
			buf_init(&t->conns[i].out, QMGR_REQUEST_MAX);
			buf_init(&t->conns[i].in, QMGR_ANSWER_MAX);
		}
	}
}

void qmgr_result_set(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason, int transport)
{
	struct qmgr_result *r;

	if (m->res == NULL || i >= m->qf.nrcpt)
		return;
	r = &m->res[i];
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn != NULL ? dsn : "");
	free(r->reason);
	r->reason = reason != NULL ? strndup(reason, QMGR_REASON_MAX) : NULL;
	r->when = time(NULL);
	r->transport = transport;
	r->success = QMGR_SUCCESS_DELIVERED;
}

/* ---- destinations ---- */

static size_t qmgr_dhash(const struct qmgr *q, int t, const char *domain)
{
	return hash_fnv32_str(HASH_FNV32_INIT ^ (uint32_t)t, domain) & (q->dhash_size - 1);
}

static struct qmgr_dest *qmgr_dest_get(struct qmgr *q, struct qmgr_transport *t, const char *domain)
{
	size_t h = qmgr_dhash(q, t->id, domain);
	struct qmgr_dest *d;

	for (d = q->dhash[h]; d != NULL; d = d->hnext)
		if (d->t == t && strcmp(d->domain, domain) == 0)
			return d;
	d = calloc(1, sizeof(*d));
	if (d == NULL || (d->domain = strdup(domain)) == NULL) {
		free(d);
		return NULL;
	}
	d->t = t;
	d->hnext = q->dhash[h];
	q->dhash[h] = d;
	return d;
}

/* Forget a destination with nothing queued and nothing in flight, so
 * that the table stays as small as the active set. */
static void qmgr_dest_gc(struct qmgr *q, struct qmgr_dest *d)
{
	if (d->busy > 0 || d->head != NULL || d->in_rr)
		return;
	for (struct qmgr_dest **pp = &q->dhash[qmgr_dhash(q, d->t->id, d->domain)]; *pp != NULL;
	     pp = &(*pp)->hnext)
		if (*pp == d) {
			*pp = d->hnext;
			break;
		}
	free(d->domain);
	free(d);
}

/* Put d on its transport's round robin if it has work it may start. */
static void qmgr_dest_wake(struct qmgr *q, struct qmgr_dest *d)
{
	struct qmgr_transport *t = d->t;

	if (d->in_rr || d->head == NULL || d->busy >= q->dest_limit)
		return;
	d->in_rr = 1;
	d->rr_next = NULL;
	if (t->rr_head == NULL)
		t->rr_head = d;
	else
		t->rr_tail->rr_next = d;
	t->rr_tail = d;
}

static struct qmgr_dest *qmgr_rr_pop(struct qmgr_transport *t)
{
	struct qmgr_dest *d = t->rr_head;

	if (d != NULL) {
		t->rr_head = d->rr_next;
		if (t->rr_head == NULL)
			t->rr_tail = NULL;
		d->in_rr = 0;
		d->rr_next = NULL;
	}
	return d;
}

static void qmgr_job_push(struct qmgr_dest *d, struct qmgr_job *j, int front)
{
	j->next = NULL;
	if (d->head == NULL) {
		d->head = d->tail = j;
	} else if (front) {
		j->next = d->head;
		d->head = j;
	} else {
		d->tail->next = j;
		d->tail = j;
	}
}

static struct qmgr_job *qmgr_job_pop(struct qmgr_dest *d)
{
	struct qmgr_job *j = d->head;

	if (j != NULL) {
		d->head = j->next;
		if (d->head == NULL)
			d->tail = NULL;
		j->next = NULL;
	}
	return j;
}

static void qmgr_job_free(struct qmgr_job *j)
{
	if (j != NULL)
		free(j->idx);
	free(j);
}

/* ---- routing ---- */

/* The transport of addr and its domain, lower-cased, into domain. */
static struct qmgr_transport *qmgr_transport_of(struct qmgr *q, const char *addr, size_t len,
						char *domain, size_t dlen)
{
	long at = address_at(addr, len);
	size_t n = at < 0 ? 0 : len - (size_t)at - 1;
	int r;

	if (n >= dlen)
		n = dlen - 1;   /* longer than any domain: no map entry anyway */
	for (size_t i = 0; i < n; i++)
		domain[i] = (char)((addr[at + 1 + (long)i] >= 'A' && addr[at + 1 + (long)i] <= 'Z')
				   ? addr[at + 1 + (long)i] + 32 : addr[at + 1 + (long)i]);
	domain[n] = '\0';
	if (at < 0)
		return &q->transports[QMGR_LOCAL];
	r = local_domain_is(q->domains, domain, n);
	if (r < 0)
		log_warn("domains map lookup failed for %s; delivering locally", domain);
	return r == 0 ? &q->transports[QMGR_REMOTE] : &q->transports[QMGR_LOCAL];
}

static int qmgr_job_add(struct qmgr_job *j, size_t i)
{
	if (j->n == j->alloc) {
		size_t na = j->alloc ? j->alloc * 2 : 4;
		size_t *p;

		if (na > QMGR_RCPT_BATCH)
			na = QMGR_RCPT_BATCH;
		p = reallocarray(j->idx, na, sizeof(*p));
		if (p == NULL)
			return -1;
		j->idx = p;
		j->alloc = na;
	}
	j->idx[j->n++] = i;
	return 0;
}

/* The open job of m for d (with room), or a new one queued on d. */
static struct qmgr_job *qmgr_job_for(struct qmgr_msg *m, struct qmgr_dest *d, struct qmgr_job **mine,
				     size_t *nmine, size_t max)
{
	struct qmgr_job *j;

	for (size_t k = *nmine; k > 0; k--)
		if (mine[k - 1]->dest == d && mine[k - 1]->n < QMGR_RCPT_BATCH)
			return mine[k - 1];
	j = calloc(1, sizeof(*j));
	if (j == NULL)
		return NULL;
	j->msg = m;
	j->dest = d;
	qmgr_job_push(d, j, 0);
	m->jobs_left++;
	if (*nmine < max)
		mine[(*nmine)++] = j;
	return j;
}

size_t qmgr_route(struct qmgr *q, struct qmgr_msg *m)
{
	struct qmgr_job *mine[64];
	size_t nmine = 0;
	char domain[ADDRESS_DOMAIN_MAX + 2];

	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		const struct queuefile_rcpt *r = &m->qf.rcpt[i];
		struct qmgr_transport *t;
		struct qmgr_dest *d;
		struct qmgr_job *j;

		if (r->status != QUEUEFILE_PENDING)
			continue;
		t = qmgr_transport_of(q, r->addr, r->addr_len, domain, sizeof(domain));
		/* With a relayhost every remote domain goes to the one next
		 * hop: one destination, so that a message's recipients of many
		 * domains make one job, one transaction (remote groups a
		 * request by next hop), and the destination's concurrency is
		 * the relay's, as in Postfix. */
		d = qmgr_dest_get(q, t, t == &q->transports[QMGR_REMOTE] && q->relayhost[0] != '\0'
				  ? q->relayhost : domain);
		j = d != NULL ? qmgr_job_for(m, d, mine, &nmine, sizeof(mine) / sizeof(mine[0])) : NULL;
		if (j == NULL || qmgr_job_add(j, i) < 0) {
			/* Stays pending; this attempt counts as an agent failure. */
			log_warn("%s: out of memory routing <%s>", m->id, r->addr);
			m->agent_broke = 1;
		}
	}
	for (size_t k = 0; k < nmine; k++)
		qmgr_dest_wake(q, mine[k]->dest);
	/* Jobs beyond the first 64 destinations are queued but not in mine:
	 * wake every destination we touched. */
	if (nmine == sizeof(mine) / sizeof(mine[0]))
		for (size_t h = 0; h < q->dhash_size; h++)
			for (struct qmgr_dest *d = q->dhash[h]; d != NULL; d = d->hnext)
				qmgr_dest_wake(q, d);
	return m->jobs_left;
}

/* ---- the end of a job ---- */

static void qmgr_log_deferred(const struct qmgr_job *j, size_t from, const char *reason)
{
	for (size_t k = from; k < j->n; k++) {
		log_delivery(j->msg->id, j->msg->qf.rcpt[j->idx[k]].addr, "none",
			     &(struct log_delivery_times){ .arrival_ms = log_delivery_sec_ms(j->msg->qf.time),
							   .active_ms = j->msg->active_ms },
			     "4.3.0", "deferred", reason);
		metric_count(METRIC_DEFERRED);
		qmgr_result_set(j->msg, j->idx[k], "4.3.0", reason, j->dest->t->id);
	}
}

/* A job is over (answered, or given up): free it and maybe end the attempt. */
static void qmgr_job_end(struct qmgr *q, struct qmgr_job *j, int started)
{
	struct qmgr_msg *m = j->msg;
	struct qmgr_dest *d = j->dest;

	if (started) {
		d->busy--;
		m->inflight--;
	}
	qmgr_job_free(j);
	qmgr_dest_wake(q, d);
	qmgr_dest_gc(q, d);
	if (--m->jobs_left == 0) {
		qmgr_done(q, m);
	} else if (m->inflight == 0) {
		qmgr_park(q, m);   /* no descriptor while only queued, mostly */
	}
}

/* ---- agent connections ---- */

static void qmgr_conn_reset(struct qmgr_conn *c)
{
	c->job = NULL;
	c->answered = 0;
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
	struct qmgr_job *j = c->job;
	size_t answered = c->answered;
	int reused = c->reused;

	c->job = NULL;
	qmgr_conn_close(c);
	if (j == NULL)
		return;
	if (answered == 0 && reused && !j->requeued) {
		log_debug("%s: agent connection closed (%s), retrying", j->msg->id, why);
		j->requeued = 1;
		j->dest->busy--;
		j->msg->inflight--;
		qmgr_job_push(j->dest, j, 1);
		qmgr_dest_wake(q, j->dest);
		return;
	}
	log_warn("%s: %s delivery agent: %s", j->msg->id, j->dest->t->name, why);
	qmgr_log_deferred(j, answered, "delivery agent failed");
	j->msg->agent_broke = 1;
	qmgr_job_end(q, j, 1);
}

static int qmgr_connect(const struct qmgr_transport *t)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t n = strlen(t->path);
	int fd;

	if (n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, t->path, n + 1);
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

/* The DSN and MIME fields that a relaying agent passes on (RFC 3461,
 * 6152, 6531); local ignores them. */
static int qmgr_request_options(struct buf *out, const struct queuefile *qf)
{
	if (qf->ret != QUEUEFILE_RET_DEFAULT &&
	    record_put_str(out, "ret", qf->ret == QUEUEFILE_RET_FULL ? "FULL" : "HDRS") < 0)
		return -1;
	if (qf->envid[0] != '\0' && record_put_str(out, "envid", qf->envid) < 0)
		return -1;
	if (qf->smtputf8 && record_put_str(out, "smtputf8", "1") < 0)
		return -1;
	if (qf->body != QUEUEFILE_BODY_NONE &&
	    record_put_str(out, "body", qf->body == QUEUEFILE_BODY_7BIT ? "7BIT" : "8BITMIME") < 0)
		return -1;
	/* fields the agent emits before the data (queue file version 3) */
	if (qf->prepend_len > 0 && record_put(out, "prepend", qf->prepend, qf->prepend_len) < 0)
		return -1;
	return 0;
}

/* The request for job j (docs/protocols.md, local). */
static int qmgr_request(struct qmgr_conn *c, const struct qmgr_job *j)
{
	const struct queuefile *qf = &j->msg->qf;
	struct buf *out = &c->out;
	char notify[QUEUEFILE_NOTIFY_TEXT_MAX];

	if (record_put_str(out, "queue_id", j->msg->id) < 0 ||
	    record_put(out, "sender", qf->sender, qf->sender_len) < 0 ||
	    record_put_num(out, "offset", (unsigned long long)qf->data_offset) < 0 ||
	    record_put_num(out, "size", qf->data_size) < 0 || qmgr_request_options(out, qf) < 0 ||
	    record_put_num(out, "arrival_ms", (unsigned long long)log_delivery_sec_ms(qf->time)) < 0 ||
	    record_put_num(out, "active_ms", (unsigned long long)j->msg->active_ms) < 0)
		return -1;
	for (size_t k = 0; k < j->n; k++) {
		const struct queuefile_rcpt *r = &qf->rcpt[j->idx[k]];

		if (record_put(out, "rcpt", r->addr, r->addr_len) < 0)
			return -1;
		if (r->notify != 0) {
			queuefile_notify_format(r->notify, notify, sizeof(notify));
			if (record_put_str(out, "notify", notify) < 0)
				return -1;
		}
		if (r->orcpt[0] != '\0' && record_put_str(out, "orcpt", r->orcpt) < 0)
			return -1;
	}
	return record_end(out);
}

/* Send what is left of the request.  0 or -1 (connection broken). */
static int qmgr_conn_send(struct qmgr *q, struct qmgr_conn *c)
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
		c->deadline = qmgr_clock() + q->ipc_timeout;
	}
	return 0;
}

/* Start job j on c (connected, idle).  The job counts as in flight from
 * here on; on failure qmgr_conn_broken has dealt with it. */
static void qmgr_start(struct qmgr *q, struct qmgr_conn *c, struct qmgr_job *j)
{
	struct qmgr_msg *m = j->msg;
	size_t first;
	int rofd = -1;

	j->dest->busy++;
	m->inflight++;
	c->job = j;
	c->answered = 0;
	c->state = QMGR_BUSY;
	c->deadline = qmgr_clock() + q->ipc_timeout;
	/* The agent gets its own read-only descriptor: it must not be able
	 * to change the queue file.  Opened by name: a kept descriptor
	 * (qmgr_park) does not see a move by `postern queue`, this does. */
	if (qmgr_reopen(m) == 0)
		rofd = open(m->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rofd < 0 && errno == ENOENT) {
		/* Moved away (held or deleted): forget this job. */
		c->job = NULL;
		c->state = QMGR_IDLE;
		log_info("%s: moved away before delivery (postern queue)", m->id);
		qmgr_job_end(q, j, 1);
		return;
	}
	if (m->qf.fd < 0) {
		qmgr_conn_broken(q, c, strerror(errno));
		return;
	}
	if (rofd < 0 || qmgr_request(c, j) < 0) {
		log_warn("%s: cannot prepare delivery request: %s", m->id, strerror(errno));
		if (rofd >= 0)
			close(rofd);
		c->reused = 0;   /* no second chance for a request we cannot make */
		qmgr_conn_broken(q, c, "request failed");
		return;
	}
	first = c->out.len < QMGR_FIRST_SEND ? c->out.len : QMGR_FIRST_SEND;
	if (fd_send(c->fd, rofd, c->out.data, first) < 0) {
		close(rofd);
		qmgr_conn_broken(q, c, strerror(errno));
		return;
	}
	close(rofd);
	c->out_off = first;
	if (qmgr_conn_send(q, c) < 0)
		qmgr_conn_broken(q, c, strerror(errno));
}

/* A connection for the next request: an idle one, else a new one.  NULL
 * with *why_r NULL when all are busy, else with the connect error and
 * *missing_r set when the socket does not exist. */
static struct qmgr_conn *qmgr_conn_get(struct qmgr_transport *t, const char **why_r, int *missing_r)
{
	struct qmgr_conn *free_slot = NULL;

	for (size_t i = 0; i < t->nconn; i++) {
		struct qmgr_conn *c = &t->conns[i];

		if (c->state == QMGR_IDLE) {
			c->reused = 1;
			return c;
		}
		if (c->state == QMGR_FREE && free_slot == NULL)
			free_slot = c;
	}
	if (free_slot == NULL)
		return NULL;
	free_slot->fd = qmgr_connect(t);
	if (free_slot->fd < 0) {
		*missing_r = errno == ENOENT;
		*why_r = strerror(errno);
		return NULL;
	}
	free_slot->state = QMGR_IDLE;
	free_slot->reused = 0;
	return free_slot;
}

/* No agent to talk to: every queued job of t is deferred. */
static void qmgr_transport_down(struct qmgr *q, struct qmgr_transport *t, const char *why, int missing)
{
	struct qmgr_dest *d;

	log_warn("cannot connect to the %s delivery agent: %s", t->name, why);
	while ((d = qmgr_rr_pop(t)) != NULL) {
		struct qmgr_job *j;

		d->in_rr = 1;   /* keeps qmgr_job_end from waking or freeing d */
		while ((j = qmgr_job_pop(d)) != NULL) {
			qmgr_log_deferred(j, 0, missing ? "delivery agent not installed"
							: "delivery agent unavailable");
			if (missing)
				j->msg->agent_missing = 1;
			else
				j->msg->agent_broke = 1;
			qmgr_job_end(q, j, 0);
		}
		d->in_rr = 0;
		qmgr_dest_gc(q, d);
	}
}

static void qmgr_dispatch_transport(struct qmgr *q, struct qmgr_transport *t)
{
	struct qmgr_dest *d;

	while ((d = qmgr_rr_pop(t)) != NULL) {
		const char *why = NULL;
		int missing = 0;
		struct qmgr_conn *c;
		struct qmgr_job *j;

		if (d->head == NULL || d->busy >= q->dest_limit) {
			qmgr_dest_gc(q, d);   /* woken again when a job ends */
			continue;
		}
		c = qmgr_conn_get(t, &why, &missing);
		if (c == NULL) {
			/* All busy: d goes back to the front and waits. */
			d->in_rr = 1;
			d->rr_next = t->rr_head;
			t->rr_head = d;
			if (t->rr_tail == NULL)
				t->rr_tail = d;
			if (why != NULL)
				qmgr_transport_down(q, t, why, missing);
			return;
		}
		j = qmgr_job_pop(d);
		qmgr_dest_wake(q, d);   /* to the back of the round robin */
		qmgr_start(q, c, j);
	}
}

void qmgr_dispatch(struct qmgr *q)
{
	for (int k = 0; k < QMGR_NTRANSPORT; k++)
		qmgr_dispatch_transport(q, &q->transports[k]);
}

/* ---- answers ---- */

/* The action= of a delivered answer (docs/protocols.md): what a success
 * report says; an unknown word is a plain delivery. */
static enum qmgr_success qmgr_success_of(const char *action)
{
	if (action == NULL)
		return QMGR_SUCCESS_DELIVERED;
	if (strcmp(action, "relayed") == 0)
		return QMGR_SUCCESS_RELAYED;
	if (strcmp(action, "expanded") == 0)
		return QMGR_SUCCESS_EXPANDED;
	if (strcmp(action, "passed") == 0)
		return QMGR_SUCCESS_PASSED;
	return QMGR_SUCCESS_DELIVERED;
}

/* Act on one answer record for the next recipient of c's job. */
static int qmgr_answer(struct qmgr_conn *c, const struct record *rec)
{
	struct qmgr_job *j = c->job;
	struct qmgr_msg *m = j->msg;
	size_t i = j->idx[c->answered];
	const struct queuefile_rcpt *r = &m->qf.rcpt[i];
	const char *rcpt = record_get(rec, "rcpt"), *status = record_get(rec, "status");
	const char *reason = record_get(rec, "reason"), *dsn = record_get(rec, "dsn"), *err;
	char mark;

	if (rcpt == NULL && status != NULL && strcmp(status, "deferred") == 0) {
		/* docs/protocols.md: the agent refused the whole request. */
		log_warn("%s: %s delivery agent refused the request: %s", m->id, j->dest->t->name,
			 reason != NULL ? reason : "no reason");
		return -1;
	}
	if (rcpt == NULL || strcmp(rcpt, r->addr) != 0 || status == NULL) {
		log_warn("%s: agent answer does not match recipient <%s>", m->id, r->addr);
		return -1;
	}
	/* The agent logs each recipient's outcome; qmgr logs only its own
	 * decisions (deferral, expiry, removal), so no event is logged twice. */
	if (strcmp(status, "deferred") == 0) {
		qmgr_result_set(m, i, dsn != NULL ? dsn : "4.0.0", reason, j->dest->t->id);
		m->real_deferral = 1;
		c->answered++;
		metric_count(METRIC_DEFERRED);
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
	qmgr_result_set(m, i, dsn != NULL ? dsn : (mark == QUEUEFILE_FAILED ? "5.0.0" : "2.0.0"),
			reason, j->dest->t->id);
	metric_count(mark == QUEUEFILE_DELIVERED ? METRIC_DELIVERED : METRIC_BOUNCED);
	if (mark == QUEUEFILE_DELIVERED) {
		enum qmgr_success success = qmgr_success_of(record_get(rec, "action"));

		if (m->res != NULL)
			m->res[i].success = success;
		/* The next hop reports it (RFC 3461 6.2): marked as reported
		 * now, in the file, so that no later attempt or qmgr does. */
		if (success == QMGR_SUCCESS_PASSED)
			mark = QUEUEFILE_DELIVERED_REPORTED;
	}
	/* A failure is made durable at once: a crash after this line must
	 * not lose it.  A delivery is written now and flushed only if the
	 * file stays in the queue (qmgr_defer), with the other marks of the
	 * attempt: a file removed right after needs none, as a power cut
	 * that loses the mark can only make the delivery happen again,
	 * never lose it (docs/queue.md).  A crash of qmgr loses nothing:
	 * the write is in the page cache. */
	int delivered = mark != QUEUEFILE_FAILED;
	int r_mark = delivered ? queuefile_set_status(&m->qf, i, mark, &err) : queuefile_mark(&m->qf, i, mark, &err);
	if (r_mark < 0) {
		log_warn("%s: %s: %s; <%s> stays pending", m->id, err, strerror(errno), r->addr);
		m->real_deferral = 1;
	} else if (delivered) {
		m->unsynced = 1;
	}
	c->answered++;
	return 0;
}

/* Parse every complete answer record in c->in.  0, or -1 on a protocol
 * error. */
static int qmgr_conn_parse(struct qmgr *q, struct qmgr_conn *c)
{
	for (;;) {
		struct record rec = { 0 };
		const char *err = NULL;
		size_t n, used, scanned = 0;
		int r;

		if (c->in.len == 0)
			return 0;
		if (c->job == NULL || c->answered >= c->job->n || c->in.data[0] == '\n')
			return -1;   /* an answer nobody asked for, or an empty one */
		n = fdrecord_end(c->in.data, c->in.len, &scanned);
		if (n == 0)
			return 0;
		r = record_parse(c->in.data, n, &rec, &used, &err);
		if (r == 0)
			r = qmgr_answer(c, &rec);
		record_clear(&rec);
		if (r < 0)
			return -1;
		buf_consume(&c->in, n);
		c->deadline = qmgr_clock() + q->ipc_timeout;
		if (c->answered == c->job->n) {
			struct qmgr_job *j = c->job;

			if (c->in.len != 0)
				return -1;
			qmgr_conn_reset(c);
			c->state = QMGR_IDLE;
			qmgr_job_end(q, j, 1);
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

/* ---- the poll loop's side ---- */

size_t qmgr_poll_fill(struct qmgr *q, struct pollfd *pfd, struct qmgr_conn **map, size_t max)
{
	size_t n = 0;

	for (int k = 0; k < QMGR_NTRANSPORT; k++)
		for (size_t i = 0; i < q->transports[k].nconn && n < max; i++) {
			struct qmgr_conn *c = &q->transports[k].conns[i];

			if (c->state == QMGR_FREE)
				continue;
			pfd[n] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
			if (c->state == QMGR_BUSY && c->out_off < c->out.len)
				pfd[n].events |= POLLOUT;
			map[n++] = c;
		}
	return n;
}

void qmgr_conn_event(struct qmgr *q, struct qmgr_conn *c, short revents)
{
	if ((revents & POLLOUT) && c->state == QMGR_BUSY && qmgr_conn_send(q, c) < 0) {
		qmgr_conn_broken(q, c, strerror(errno));
		return;
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && c->state != QMGR_FREE)
		qmgr_conn_readable(q, c);
}

time_t qmgr_conn_deadline(const struct qmgr *q)
{
	time_t t = QMGR_NEVER;

	for (int k = 0; k < QMGR_NTRANSPORT; k++)
		for (size_t i = 0; i < q->transports[k].nconn; i++)
			if (q->transports[k].conns[i].state == QMGR_BUSY &&
			    q->transports[k].conns[i].deadline < t)
				t = q->transports[k].conns[i].deadline;
	return t;
}

void qmgr_conn_timeouts(struct qmgr *q, time_t now)
{
	for (int k = 0; k < QMGR_NTRANSPORT; k++)
		for (size_t i = 0; i < q->transports[k].nconn; i++)
			if (q->transports[k].conns[i].state == QMGR_BUSY &&
			    q->transports[k].conns[i].deadline <= now)
				qmgr_conn_broken(q, &q->transports[k].conns[i], "timeout");
}

void qmgr_transports_close(struct qmgr *q)
{
	for (int k = 0; k < QMGR_NTRANSPORT; k++) {
		struct qmgr_transport *t = &q->transports[k];

		for (size_t i = 0; i < QMGR_CONN_MAX; i++) {
			qmgr_job_free(t->conns[i].job);
			t->conns[i].job = NULL;
			qmgr_conn_close(&t->conns[i]);
			buf_free(&t->conns[i].out);
			buf_free(&t->conns[i].in);
		}
	}
	for (size_t h = 0; h < q->dhash_size; h++)
		while (q->dhash[h] != NULL) {
			struct qmgr_dest *d = q->dhash[h];
			struct qmgr_job *j;

			while ((j = qmgr_job_pop(d)) != NULL)
				qmgr_job_free(j);
			q->dhash[h] = d->hnext;
			free(d->domain);
			free(d);
		}
	free(q->dhash);
}
