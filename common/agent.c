/* agent: reading delivery requests and writing answers, for every
 * delivery agent (local, remote).  docs/protocols.md, "local".
 *
 * Offers: agent_read() reads one request and at most one descriptor
 * with fdrecord_read() into a bounded buffer (AGENT_REQUEST_MAX; the
 * stream module cannot receive descriptors), parses it with record_parse() and checks the
 * fields every agent needs: queue_id, sender, offset and size against
 * fstat of a regular file.  agent_answer() writes one answer record.
 * The protocol is lock-step: a client sends the next request only after
 * the last answer of the previous one, so bytes after a request's empty
 * line are a protocol error that ends the connection.
 *
 * Trusts: the client (qmgr; daemon_serve has checked with SO_PEERCRED
 * that it runs as postern-queue or root) only as far as the protocol:
 * every field is validated (queue ID characters, a sender without
 * control bytes and at most ADDRESS_PATH_MAX octets, the data range
 * inside the file).  In
 * standalone mode queue_file=PATH is opened read-only as given.
 *
 * Fails: a request that cannot be parsed, has no rcpt or breaks
 * lock-step gets one record without rcpt (status=deferred dsn=4.3.0) and
 * agent_read returns -1; a request with unusable fields is returned with
 * q->bad set so the agent defers each recipient; timeouts and I/O errors
 * end the connection (the client defers what was not answered). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "queuefile.h"
#include "daemon.h"
#include "fdrecord.h"
#include "log.h"
#include "sockets.h"
#include "stream.h"

#define AGENT_ANSWER_MAX (2 * ADDRESS_PATH_MAX + 3 * AGENT_REASON_MAX + 128)

struct agent_conn {
	int in_fd;
	int plain;                   /* in_fd is no socket: read(2), no descriptors */
	int standalone;
	int ipc_ms, idle_ms;
	struct stream *out;
	struct buf req;              /* the request being read */
};

static void agent_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int agent_text_ok(const char *s, size_t len, size_t max)
{
	if (len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int agent_queue_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > AGENT_QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= 'a' && id[i] <= 'z')))
			return 0;
	return 1;
}

struct agent_conn *agent_conn_new(int in_fd, int out_fd, int standalone, int ipc_ms, int idle_ms)
{
	struct agent_conn *c = calloc(1, sizeof *c);
	struct stat st;

	if (c == NULL)
		return NULL;
	c->in_fd = in_fd;
	c->standalone = standalone;
	c->ipc_ms = ipc_ms;
	c->idle_ms = idle_ms;
	/* Standalone input may be a pipe or a file: plain reads, no descriptors. */
	c->plain = fstat(in_fd, &st) == 0 && !S_ISSOCK(st.st_mode);
	c->out = stream_new(in_fd, out_fd, RECORD_MAX_VALUE, ipc_ms);
	if (c->out == NULL) {
		free(c);
		return NULL;
	}
	buf_init(&c->req, AGENT_REQUEST_MAX);
	return c;
}

void agent_conn_free(struct agent_conn **c)
{
	if (*c == NULL)
		return;
	buf_free(&(*c)->req);
	stream_free(&(*c)->out);
	free(*c);
	*c = NULL;
}

/* ---- reading a request ---- */

int agent_wait_input(struct agent_conn *c, int ms)
{
	struct pollfd pfd = { .fd = c->in_fd, .events = POLLIN };

	for (;;) {
		int r = poll(&pfd, 1, ms);
		if (r > 0)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR || daemon_stopping())
			return -1;
	}
}

/* Why a read failed, from fdrecord_read's errno. */
static const char *agent_read_error(int e)
{
	switch (e) {
	case ETIMEDOUT: return "timeout reading request";
	case EINTR: return "stopping";
	case EPROTO: return "more than one descriptor in a request";
	case EMSGSIZE: return "request too long";
	case ENOMEM: return "out of memory";
	case ECONNRESET: return "connection closed inside a request";
	default: return "cannot read request";
	}
}

/* Read one request into c->req.  1 read (length in *end_r, descriptor in
 * *fd_r or -1), 0 clean end of input, -1 error (*error_r, no descriptor). */
static int agent_read_raw(struct agent_conn *c, size_t *end_r, int *fd_r, const char **error_r)
{
	const struct fdrecord_wait w = { .first_ms = c->idle_ms, .next_ms = c->ipc_ms, .stop = daemon_stopping };
	int r = fdrecord_read(c->in_fd, c->plain, &c->req, 1, &w, end_r, fd_r);

	if (r < 0) {
		*error_r = agent_read_error(errno);
		/* Idle or stopping between requests: done. */
		if (c->req.len == 0 && (errno == ETIMEDOUT || errno == EINTR))
			return 0;
	}
	return r;
}

/* ---- answers ---- */

static int agent_send(struct agent_conn *c, const struct buf *b)
{
	if (stream_write(c->out, b->data, b->len) < 0 || stream_flush(c->out) < 0) {
		log_warn("cannot write answer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int agent_answer(struct agent_conn *c, const char *rcpt, size_t rcpt_len, const char *status,
		 const char *dsn, const char *reason, const char *action)
{
	struct buf b;
	int ret = -1;

	buf_init(&b, AGENT_ANSWER_MAX);
	if (record_put(&b, "rcpt", rcpt, rcpt_len) == 0 &&
	    record_put_str(&b, "status", status) == 0 &&
	    record_put_str(&b, "dsn", dsn) == 0 &&
	    record_put_str(&b, "reason", reason) == 0 &&
	    (action == NULL || record_put_str(&b, "action", action) == 0) &&
	    record_end(&b) == 0)
		ret = agent_send(c, &b);
	else
		log_warn("cannot format answer: %s", strerror(errno));
	buf_free(&b);
	return ret;
}

/* The answer to a request without usable recipients: no rcpt field. */
static void agent_answer_whole(struct agent_conn *c, const char *reason)
{
	struct buf b;

	buf_init(&b, AGENT_ANSWER_MAX);
	if (record_put_str(&b, "status", "deferred") == 0 &&
	    record_put_str(&b, "dsn", "4.3.0") == 0 &&
	    record_put_str(&b, "reason", reason) == 0 && record_end(&b) == 0)
		(void)agent_send(c, &b);
	buf_free(&b);
}

/* ---- checking a request ---- */

/* The queue file: the passed descriptor or, standalone, queue_file=PATH. */
static int agent_queue_file(struct agent_conn *c, struct agent_request *q, const char **error_r)
{
	const char *path = record_get(&q->rec, "queue_file");

	if (q->fd >= 0 && path != NULL) {
		*error_r = "both a descriptor and queue_file";
		return -1;
	}
	if (q->fd >= 0)
		return 0;
	if (path == NULL || !c->standalone) {
		*error_r = path == NULL ? "no queue file descriptor" : "queue_file only in standalone mode";
		return -1;
	}
	q->fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	if (q->fd < 0) {
		log_warn("%s: open %s: %s", q->queue_id, path, strerror(errno));
		*error_r = "cannot open queue_file";
		return -1;
	}
	return 0;
}

/* The optional prepend field (docs/protocols.md, local): header text. */
static int agent_prepend(struct agent_request *q, const char **error_r)
{
	q->prepend = "";
	q->prepend_len = 0;
	for (size_t i = 0; i < q->rec.n; i++) {
		const struct record_field *f = &q->rec.fields[i];

		if (strcmp(f->key, "prepend") != 0)
			continue;
		if (q->prepend_len > 0 || !queuefile_prepend_valid(f->value, f->value_len)) {
			*error_r = "bad prepend";
			return -1;
		}
		q->prepend = f->value;
		q->prepend_len = f->value_len;
	}
	return 0;
}

/* Fields and data range.  0, or -1 with *error_r. */
static int agent_request_check(struct agent_conn *c, struct agent_request *q, const char **error_r)
{
	unsigned long long off, size, end;
	struct stat st;

	if (q->sender == NULL || !agent_text_ok(q->sender, strlen(q->sender), ADDRESS_PATH_MAX)) {
		*error_r = "missing or bad sender";
		return -1;
	}
	if (record_get_num(&q->rec, "offset", &off) < 0 || record_get_num(&q->rec, "size", &size) < 0 ||
	    __builtin_add_overflow(off, size, &end) || end > (unsigned long long)LLONG_MAX) {
		*error_r = "missing or bad offset or size";
		return -1;
	}
	if (agent_queue_file(c, q, error_r) < 0)
		return -1;
	if (fstat(q->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "queue file is not a regular file";
		return -1;
	}
	if (end > (unsigned long long)st.st_size) {
		log_warn("%s: queue file has %lld bytes, request needs %llu", q->queue_id,
			 (long long)st.st_size, end);
		*error_r = "queue file shorter than expected";
		return -1;
	}
	q->offset = (off_t)off;
	q->size = (off_t)size;
	return agent_prepend(q, error_r);
}

/* The times for the delays= of the log lines (optional fields: an older
 * qmgr, or a request by hand, has none and its delays count from now). */
static void agent_times(struct agent_request *q)
{
	unsigned long long v;

	memset(&q->times, 0, sizeof q->times);
	q->times.agent_ms = log_delivery_now_ms();
	if (record_get_num(&q->rec, "arrival_ms", &v) == 0 && v <= (unsigned long long)LLONG_MAX)
		q->times.arrival_ms = (long long)v;
	if (record_get_num(&q->rec, "active_ms", &v) == 0 && v <= (unsigned long long)LLONG_MAX)
		q->times.active_ms = (long long)v;
}

/* Parse c->req[0, end) into q.  0, or -1 with *error_r. */
static int agent_parse(struct agent_conn *c, size_t end, struct agent_request *q, const char **error_r)
{
	size_t used;

	if (record_parse(c->req.data, end, &q->rec, &used, error_r) < 0)
		return -1;
	for (size_t i = 0; i < q->rec.n; i++)
		q->nrcpt += strcmp(q->rec.fields[i].key, "rcpt") == 0;
	q->queue_id = record_get(&q->rec, "queue_id");
	q->sender = record_get(&q->rec, "sender");
	agent_times(q);
	if (q->nrcpt == 0) {
		*error_r = "request without recipients";
		return -1;
	}
	if (q->queue_id == NULL || !agent_queue_id_ok(q->queue_id)) {
		*error_r = "missing or bad queue_id";
		return -1;
	}
	return 0;
}

void agent_request_clear(struct agent_request *q)
{
	agent_close(&q->fd);
	record_clear(&q->rec);
	q->queue_id = q->sender = q->bad = NULL;
	q->offset = q->size = 0;
	q->prepend = "";
	q->prepend_len = 0;
	q->nrcpt = 0;
}

int agent_read(struct agent_conn *c, struct agent_request *q)
{
	const char *error = "";
	size_t end;
	int r;

	agent_request_clear(q);
	r = agent_read_raw(c, &end, &q->fd, &error);
	if (r <= 0) {
		if (r < 0)
			log_warn("%s", error);
		return r;
	}
	if (c->req.len > end && !c->standalone) {
		log_warn("data after a request: the client must wait for the answers");
		agent_answer_whole(c, "protocol error: data after the request");
		return -1;
	}
	if (agent_parse(c, end, q, &error) < 0) {
		log_warn("bad request: %s", error);
		agent_answer_whole(c, error);
		return -1;
	}
	if (agent_request_check(c, q, &q->bad) < 0)
		log_warn("%s: bad request: %s", q->queue_id, q->bad);
	return 1;
}
