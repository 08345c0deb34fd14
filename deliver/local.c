/* local: the local delivery agent (docs/protocols.md, "local").
 *
 * Offers: the server side of the local protocol.  qmgr connects to
 * private/local and sends requests (queue_id, sender, offset, size, rcpt
 * fields) each with the open queue file attached as an SCM_RIGHTS
 * descriptor; for every recipient local looks the address up in
 * etc/mailboxes.cdb, writes `Return-Path:` and `Delivered-To:` followed by
 * the message bytes into the Maildir the map names (common/maildir) and
 * answers one record per recipient, in request order, flushed as soon as
 * that recipient is done.
 *
 * Runs as postern-vmail, chrooted into DIR/mail (docs/tree.md).  Reads
 * etc/mailboxes.cdb (opened before the chroot) and the queue file it is
 * handed (read-only, with pread, never by name); writes only below the
 * mail root.  Standalone (`local -c DIR/etc -i`) it reads one request
 * from stdin, where `queue_file=PATH` may name the file instead (PATH
 * taken as given after the drop: relative to DIR/mail, and absolute
 * paths inside the chroot when started as root), and answers on stdout.
 *
 * Reading requests: the stream module cannot receive descriptors, so a
 * request is read here with fd_recv() in blocks into one bounded buffer
 * (LOCAL_REQUEST_MAX) until its empty line, accepting at most one
 * descriptor from any of those reads, and then parsed with record_parse().
 * The protocol is lock-step: a client sends the next request only after
 * the last answer of the previous one, so the bytes of one request never
 * share a read with the next request's descriptor; bytes after the empty
 * line are a protocol error and end the connection.
 *
 * Trusts: qmgr only as far as the protocol: every field is validated
 * (queue ID characters, addresses without control bytes and at most
 * ADDRESS_PATH_MAX octets, so nothing can inject a header line; offset and
 * size against fstat of a regular file).  The mailboxes map is the
 * operator's, still checked: a Maildir path must be relative, without
 * "." or ".." components, control bytes or a leading "private/".
 *
 * Fails: per recipient: unknown address -> failed 5.1.1; a bad map entry,
 * a map read error, a short queue file or a temporary Maildir error ->
 * deferred 4.x.x (logged); a permanent Maildir error -> failed 5.x.x.  A
 * request that cannot be parsed or has no recipient gets one record
 * without rcpt (status=deferred) and the connection is closed; any other
 * bad request defers each of its recipients.  Set-up errors are fatal. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "log.h"
#include "maildir.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"
#include "local.h"

/* Longest request: every field a recipient of ADDRESS_PATH_MAX octets,
 * each byte escaped (%XX), plus key and LF, with room to spare. */
#define LOCAL_REQUEST_MAX (RECORD_MAX_FIELDS * (3 * ADDRESS_PATH_MAX + 32))
#define LOCAL_RECV_BLOCK 8192        /* bytes per fd_recv */
#define LOCAL_QUEUE_ID_MAX 64        /* longest queue ID accepted */
#define LOCAL_ANSWER_MAX (2 * ADDRESS_PATH_MAX + 3 * LOCAL_REASON_MAX + 128)

struct local_conn {
	int in_fd;
	int plain;                   /* in_fd is no socket: read(2), no descriptors */
	struct stream *out;
	struct buf req;              /* the request being read */
	size_t scanned;              /* bytes of req searched for the empty line */
};

struct local_request {
	struct record rec;
	const char *queue_id;
	const char *sender;
	off_t offset, size;
	int fd;                      /* the queue file, or -1 */
	size_t nrcpt;
};

/* ---- small things ---- */

/* Seconds from postern.conf to a poll timeout; 0 means none (-1). */
int local_ms(unsigned long long seconds)
{
	if (seconds == 0)
		return -1;
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

static void local_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reasons are our own texts plus strerror, far below LOCAL_REASON_MAX;
 * a clip would only shorten a diagnostic, but it is logged, not silent. */
void local_result_set(struct local_result *r, const char *status, const char *dsn,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	r->status = status;
	snprintf(r->dsn, sizeof r->dsn, "%s", dsn);   /* codes are at most 11 octets */
	va_start(ap, fmt);
	n = vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof r->reason)
		log_warn("answer reason clipped: %s", r->reason);
}

/* Printable, no control bytes, no NUL, 1..max octets. */
static int local_text_ok(const char *s, size_t len, size_t max)
{
	if (len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static int local_queue_id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > LOCAL_QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= 'a' && id[i] <= 'z')))
			return 0;
	return 1;
}

/* ---- reading a request ---- */

/* Wait until in_fd is readable. 0, or -1 with *error_r; *stop_r is set
 * when SIGTERM arrived (between requests that is a clean end). */
static int local_wait(int fd, int timeout_ms, int *stop_r, const char **error_r)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	*stop_r = 0;
	for (;;) {
		int r = poll(&pfd, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0) {
			*error_r = "timeout reading request";
			return -1;
		}
		if (errno != EINTR) {
			*error_r = "poll failed";
			return -1;
		}
		if (daemon_stopping()) {
			*stop_r = 1;
			*error_r = "stopping";
			return -1;
		}
	}
}

/* One read of at most n bytes; a descriptor, if any, in *fd_r. */
static ssize_t local_recv(struct local_conn *c, char *p, size_t n, int *fd_r)
{
	ssize_t r;

	*fd_r = -1;
	if (!c->plain)
		return fd_recv(c->in_fd, p, n, fd_r);
	do
		r = read(c->in_fd, p, n);
	while (r < 0 && errno == EINTR);
	return r;
}

/* Whether req holds a complete record; its length (empty line
 * included) in *end_r.  Searches each byte once. */
static int local_find_end(struct local_conn *c, size_t *end_r)
{
	size_t from = c->scanned > 0 ? c->scanned - 1 : 0;
	const char *hit;

	if (c->req.len > 0 && c->req.data[0] == '\n') {
		*end_r = 1;
		return 1;
	}
	hit = c->req.len > from ? memmem(c->req.data + from, c->req.len - from, "\n\n", 2) : NULL;
	c->scanned = c->req.len;
	if (hit == NULL)
		return 0;
	*end_r = (size_t)(hit - c->req.data) + 2;
	return 1;
}

/* Take one more block of input into req, keeping at most one descriptor.
 * 1 data, 0 end of input, -1 error. */
static int local_read_block(struct local_conn *c, int *fd_r, const char **error_r)
{
	char block[LOCAL_RECV_BLOCK];
	int fd;
	ssize_t n = local_recv(c, block, sizeof block, &fd);

	if (n < 0) {
		*error_r = "cannot read request";
		return -1;
	}
	if (fd >= 0 && *fd_r >= 0) {
		close(fd);
		*error_r = "more than one descriptor in a request";
		return -1;
	}
	if (fd >= 0)
		*fd_r = fd;
	if (n == 0)
		return 0;
	if (buf_append(&c->req, block, (size_t)n) < 0) {
		*error_r = errno == EMSGSIZE ? "request too long" : "out of memory";
		return -1;
	}
	return 1;
}

/* Read one request into c->req.  1 read (length in *end_r, descriptor in
 * *fd_r or -1), 0 clean end of input, -1 error (*error_r, no descriptor). */
static int local_read_request(const struct local_ctx *ctx, struct local_conn *c,
			      size_t *end_r, int *fd_r, const char **error_r)
{
	int stop, r;

	*fd_r = -1;
	buf_reset(&c->req);
	c->scanned = 0;
	while (!local_find_end(c, end_r)) {
		int first = c->req.len == 0 && *fd_r < 0;
		if (local_wait(c->in_fd, first ? ctx->idle_ms : ctx->ipc_ms, &stop, error_r) < 0) {
			local_close(fd_r);
			return first ? 0 : -1;   /* idle or stopping between requests: done */
		}
		r = local_read_block(c, fd_r, error_r);
		if (r == 0 && c->req.len == 0 && *fd_r < 0)
			return 0;
		if (r <= 0) {
			if (r == 0)
				*error_r = "connection closed inside a request";
			local_close(fd_r);
			return -1;
		}
	}
	return 1;
}

/* ---- answers ---- */

static int local_send(struct local_conn *c, const struct buf *b)
{
	if (stream_write(c->out, b->data, b->len) < 0 || stream_flush(c->out) < 0) {
		log_warn("cannot write answer: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* One record per recipient: rcpt, status, dsn, reason. */
static int local_answer(struct local_conn *c, const char *rcpt, size_t rcpt_len,
			const struct local_result *r)
{
	struct buf b;
	int ret = -1;

	buf_init(&b, LOCAL_ANSWER_MAX);
	if (record_put(&b, "rcpt", rcpt, rcpt_len) == 0 &&
	    record_put_str(&b, "status", r->status) == 0 &&
	    record_put_str(&b, "dsn", r->dsn) == 0 &&
	    record_put_str(&b, "reason", r->reason) == 0 &&
	    record_end(&b) == 0)
		ret = local_send(c, &b);
	else
		log_warn("cannot format answer: %s", strerror(errno));
	buf_free(&b);
	return ret;
}

/* The answer to a request without usable recipients: no rcpt field. */
static void local_answer_whole(struct local_conn *c, const char *reason)
{
	struct buf b;

	buf_init(&b, LOCAL_ANSWER_MAX);
	if (record_put_str(&b, "status", "deferred") == 0 &&
	    record_put_str(&b, "dsn", "4.3.0") == 0 &&
	    record_put_str(&b, "reason", reason) == 0 && record_end(&b) == 0)
		(void)local_send(c, &b);
	buf_free(&b);
}

/* ---- one recipient ---- */

static void local_log_result(const char *id, const char *rcpt, const struct local_result *r)
{
	if (strcmp(r->status, "delivered") == 0)
		log_info("%s: to=<%s>, relay=local, status=sent (%s)", id, rcpt, r->reason);
	else
		log_info("%s: to=<%s>, relay=local, dsn=%s, status=%s (%s)", id, rcpt, r->dsn,
			 strcmp(r->status, "failed") == 0 ? "bounced" : "deferred", r->reason);
}

static void local_rcpt(const struct local_ctx *ctx, struct local_msg *m,
		       const char *rcpt, size_t len, struct local_result *r)
{
	struct buf addr;

	if (len == 0 || !local_text_ok(rcpt, len, ADDRESS_PATH_MAX)) {
		local_result_set(r, "failed", "5.1.3", "bad recipient address syntax");
		return;
	}
	buf_init(&addr, ADDRESS_PATH_MAX + 1);
	if (address_normalize(rcpt, len, &addr) < 0)
		local_result_set(r, "deferred", "4.3.0", "cannot normalise address");
	else if (local_header_loop(m, addr.data, addr.len, r) == 0)
		local_resolve_deliver(ctx, m, addr.data, addr.len, r);
	buf_free(&addr);
}

/* ---- one request ---- */

/* The queue file: the passed descriptor or, standalone, queue_file=PATH. */
static int local_queue_file(const struct local_ctx *ctx, struct local_request *q,
			    const char **error_r)
{
	const char *path = record_get(&q->rec, "queue_file");

	if (q->fd >= 0 && path != NULL) {
		*error_r = "both a descriptor and queue_file";
		return -1;
	}
	if (q->fd >= 0)
		return 0;
	if (path == NULL || !ctx->d->inetd) {
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

/* Fields and data range.  0, or -1 with *error_r (every recipient is
 * then deferred). */
static int local_request_check(const struct local_ctx *ctx, struct local_request *q,
			       const char **error_r)
{
	unsigned long long off, size, end;
	struct stat st;

	if (q->sender == NULL || !local_text_ok(q->sender, strlen(q->sender), ADDRESS_PATH_MAX)) {
		*error_r = "missing or bad sender";
		return -1;
	}
	if (record_get_num(&q->rec, "offset", &off) < 0 || record_get_num(&q->rec, "size", &size) < 0 ||
	    __builtin_add_overflow(off, size, &end) || end > (unsigned long long)LLONG_MAX) {
		*error_r = "missing or bad offset or size";
		return -1;
	}
	if (local_queue_file(ctx, q, error_r) < 0)
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
	return 0;
}

/* Recipients whose domain the transport map sends over LMTP: each
 * destination gets one LMTP transaction for all of its recipients of this
 * request (RFC 2033 4.2: one reply per accepted recipient after DATA).
 * done[i] is set for every recipient answered here, result in res[i]. */
static void local_lmtp_batch(const struct local_ctx *ctx, struct local_request *q,
			     struct local_msg *m, struct local_result *res, char *done)
{
	const struct record_field **rf = calloc(q->nrcpt, sizeof *rf);
	struct buf *dest = calloc(q->nrcpt, sizeof *dest);
	const char **addrs = calloc(q->nrcpt, sizeof *addrs);
	size_t n = 0, *idx = calloc(q->nrcpt, sizeof *idx);

	if (rf == NULL || dest == NULL || addrs == NULL || idx == NULL)
		goto out;   /* no memory: everything goes the local way, which defers */
	for (size_t i = 0; i < q->rec.n; i++)
		if (strcmp(q->rec.fields[i].key, "rcpt") == 0)
			rf[n++] = &q->rec.fields[i];
	for (size_t i = 0; i < n; i++) {
		buf_init(&dest[i], RECORD_MAX_VALUE);
		if (!local_text_ok(rf[i]->value, rf[i]->value_len, ADDRESS_PATH_MAX) || rf[i]->value_len == 0)
			continue;
		int t = local_transport(ctx, rf[i]->value, rf[i]->value_len, &dest[i], &res[i]);
		if (t < 0)
			done[i] = 1;          /* map error: res[i] says deferred */
		else if (t == 0)
			buf_reset(&dest[i]);
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = 0;
		if (done[i] || dest[i].len == 0)
			continue;
		for (size_t j = i; j < n; j++)
			if (!done[j] && dest[j].len == dest[i].len &&
			    memcmp(dest[j].data, dest[i].data, dest[i].len) == 0) {
				idx[k] = j;
				addrs[k++] = rf[j]->value;
			}
		/* Loops are checked first, as for local recipients. */
		struct local_result *tmp = calloc(k, sizeof *tmp);
		const char **send = calloc(k, sizeof *send);
		size_t ns = 0;
		if (tmp == NULL || send == NULL) {
			free(tmp);
			free(send);
			break;
		}
		for (size_t x = 0; x < k; x++)
			if (local_header_loop(m, addrs[x], strlen(addrs[x]), &res[idx[x]]))
				done[idx[x]] = 1;
			else
				send[ns++] = addrs[x];
		if (ns > 0)
			local_lmtp_deliver(m, dest[i].data, send, ns, tmp);
		for (size_t x = 0, y = 0; x < k; x++) {
			if (done[idx[x]])
				continue;
			res[idx[x]] = tmp[y++];
			done[idx[x]] = 1;
		}
		free(tmp);
		free(send);
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&dest[i]);
out:
	free(rf);
	free(dest);
	free(addrs);
	free(idx);
}

/* Deliver to (or defer, on a bad request) each recipient in order. */
static int local_request_run(const struct local_ctx *ctx, struct local_conn *c,
			     struct local_request *q)
{
	const char *bad = NULL;
	struct local_result r, *res = NULL;
	struct local_msg m = { .queue_id = q->queue_id, .sender = q->sender };
	char *done = NULL;
	size_t k = 0;
	int ret = 0;

	buf_init(&m.delivered_to, LOCAL_DELIVERED_TO_MAX);
	if (local_request_check(ctx, q, &bad) < 0) {
		log_warn("%s: bad request: %s", q->queue_id, bad);
	} else {
		m.fd = q->fd;
		m.offset = q->offset;
		m.size = q->size;
		local_header_scan(&m);
		res = calloc(q->nrcpt, sizeof *res);
		done = calloc(q->nrcpt, 1);
		if (res != NULL && done != NULL && ctx->transport != NULL)
			local_lmtp_batch(ctx, q, &m, res, done);
	}
	for (size_t i = 0; i < q->rec.n; i++) {
		const struct record_field *f = &q->rec.fields[i];
		if (strcmp(f->key, "rcpt") != 0)
			continue;
		if (bad != NULL)
			local_result_set(&r, "deferred", "4.3.0", "bad request: %s", bad);
		else if (res == NULL || done == NULL)
			local_result_set(&r, "deferred", "4.3.0", "out of memory");
		else if (done[k])
			r = res[k];
		else
			local_rcpt(ctx, &m, f->value, f->value_len, &r);
		k++;
		local_log_result(q->queue_id, local_text_ok(f->value, f->value_len, ADDRESS_PATH_MAX)
				 ? f->value : "(invalid)", &r);
		if (local_answer(c, f->value, f->value_len, &r) < 0) {
			ret = -1;
			break;
		}
	}
	free(res);
	free(done);
	buf_free(&m.delivered_to);
	return ret;
}

/* Parse c->req[0, end) into q.  0, or -1 with *error_r. */
static int local_request_parse(struct local_conn *c, size_t end, struct local_request *q,
			       const char **error_r)
{
	size_t used;

	if (record_parse(c->req.data, end, &q->rec, &used, error_r) < 0)
		return -1;
	for (size_t i = 0; i < q->rec.n; i++)
		q->nrcpt += strcmp(q->rec.fields[i].key, "rcpt") == 0;
	q->queue_id = record_get(&q->rec, "queue_id");
	q->sender = record_get(&q->rec, "sender");
	if (q->nrcpt == 0) {
		*error_r = "request without recipients";
		return -1;
	}
	if (q->queue_id == NULL || !local_queue_id_ok(q->queue_id)) {
		*error_r = "missing or bad queue_id";
		return -1;
	}
	return 0;
}

/* Serve one request.  1 to go on, 0 to end the connection. */
static int local_request_serve(const struct local_ctx *ctx, struct local_conn *c)
{
	struct local_request q = { .fd = -1 };
	const char *error;
	size_t end;
	int r = local_read_request(ctx, c, &end, &q.fd, &error);

	if (r <= 0) {
		if (r < 0)
			log_warn("%s", error);
		return 0;
	}
	if (c->req.len > end && !ctx->d->inetd) {
		log_warn("data after a request: the client must wait for the answers");
		local_answer_whole(c, "protocol error: data after the request");
		r = 0;
	} else if (local_request_parse(c, end, &q, &error) < 0) {
		log_warn("bad request: %s", error);
		local_answer_whole(c, error);
		r = 0;
	} else {
		r = local_request_run(ctx, c, &q) == 0;
	}
	local_close(&q.fd);
	record_clear(&q.rec);
	return r;
}

static void local_serve(int in_fd, int out_fd, void *arg)
{
	const struct local_ctx *ctx = arg;
	struct local_conn c = { .in_fd = in_fd };
	struct stat st;

	/* inetd mode may get a pipe or a file: plain reads, no descriptors. */
	c.plain = fstat(in_fd, &st) == 0 && !S_ISSOCK(st.st_mode);
	c.out = stream_new(in_fd, out_fd, RECORD_MAX_VALUE, ctx->ipc_ms);
	if (c.out == NULL) {
		log_warn("cannot create stream: %s", strerror(errno));
		return;
	}
	buf_init(&c.req, LOCAL_REQUEST_MAX);
	while (local_request_serve(ctx, &c) && !ctx->d->inetd && !daemon_stopping())
		;
	buf_free(&c.req);
	stream_free(&c.out);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct local_ctx ctx = { .d = &d, .command_fd = -1 };

	daemon_init(&d, "local", argc, argv);
	if (d.argc != 0)
		log_fatal("unexpected argument: %s", d.argv[0]);
	ctx.map = daemon_open_map(&d, "mailboxes.cdb", 0);
	ctx.aliases = daemon_open_map(&d, "aliases.cdb", 1);
	ctx.domains = daemon_open_map(&d, "domains.cdb", 1);
	ctx.transport = daemon_open_map(&d, "transport.cdb", 1);
	ctx.ipc_ms = local_ms(config_time("ipc_timeout"));
	ctx.idle_ms = local_ms(config_time("daemon_idle_timeout"));
	enqueue_set_timeout(ctx.ipc_ms < 0 ? 0 : ctx.ipc_ms);
	/* The helper stays outside the chroot, where /bin/sh is. */
	local_command_start(&ctx);
	daemon_drop(&d);
	daemon_serve(&d, local_serve, &ctx);
	cdbmap_close(&ctx.map);
	cdbmap_close(&ctx.aliases);
	cdbmap_close(&ctx.domains);
	cdbmap_close(&ctx.transport);
	return 0;
}
