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
 * Reading requests and writing answers is common/agent's (shared with
 * remote): one request at a time with its queue file descriptor, lock-step,
 * checked (queue_id, sender, offset and size) before local sees it.
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
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "agent.h"
#include "buf.h"
#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "log.h"
#include "log_delivery.h"
#include "group_commit.h"
#include "maildir.h"
#include "record.h"
#include "local.h"

/* ---- small things ---- */

/* Seconds from postern.conf to a poll timeout; 0 means none (-1). */
int local_ms(unsigned long long seconds)
{
	if (seconds == 0)
		return -1;
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

/* Reasons are our own texts plus strerror, far below LOCAL_REASON_MAX;
 * a clip would only shorten a diagnostic, but it is logged, not silent. */
void local_result_set(struct local_result *r, const char *status, const char *dsn,
		      const char *fmt, ...)
{
	va_list ap;
	int n;

	r->status = status;
	r->action = NULL;
	snprintf(r->dsn, sizeof r->dsn, "%s", dsn);   /* codes are at most 11 octets */
	va_start(ap, fmt);
	n = vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof r->reason)
		log_warn("answer reason clipped: %s", r->reason);
}

/* ---- one recipient ---- */

/* relay=local for Maildir, commands, forwards and LMTP alike: the line
 * names the agent, the reason says where the message went. */
static void local_log_result(const struct agent_request *q, const char *rcpt,
			     const struct local_result *r, long long xfer_ms)
{
	struct log_delivery_times t = q->times;

	t.xfer_ms = xfer_ms;
	log_delivery(q->queue_id, rcpt, "local", &t, r->dsn, r->status, r->reason);
}

static void local_rcpt(const struct local_ctx *ctx, struct local_msg *m,
		       const char *rcpt, size_t len, struct local_result *r)
{
	struct buf addr;

	if (len == 0 || !agent_text_ok(rcpt, len, ADDRESS_PATH_MAX)) {
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

/* Recipients whose domain the transport map sends over LMTP: each
 * destination gets one LMTP transaction for all of its recipients of this
 * request (RFC 2033 4.2: one reply per accepted recipient after DATA).
 * done[i] is set for every recipient answered here, result in res[i]. */
static void local_lmtp_batch(const struct local_ctx *ctx, const struct agent_request *q,
			     struct local_msg *m, struct local_result *res, char *done)
{
	const struct record_field **rf = calloc(q->nrcpt, sizeof *rf);
	struct buf *dest = calloc(q->nrcpt, sizeof *dest);
	const char **addrs = calloc(q->nrcpt, sizeof *addrs);
	size_t n = 0, *idx = calloc(q->nrcpt, sizeof *idx);
	struct smtp_txn_msg tm;
	const char *tm_error = NULL;
	int tm_read = 0;

	if (rf == NULL || dest == NULL || addrs == NULL || idx == NULL)
		goto out;   /* no memory: everything goes the local way, which defers */
	for (size_t i = 0; i < q->rec.n; i++)
		if (strcmp(q->rec.fields[i].key, "rcpt") == 0)
			rf[n++] = &q->rec.fields[i];
	for (size_t i = 0; i < n; i++) {
		buf_init(&dest[i], RECORD_MAX_VALUE);
		if (!agent_text_ok(rf[i]->value, rf[i]->value_len, ADDRESS_PATH_MAX) || rf[i]->value_len == 0)
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
		if (ns > 0 && !tm_read) {
			/* SIZE, BODY and SMTPUTF8 for MAIL: one pass over the
			 * data for all destinations */
			tm_error = smtp_txn_msg_of_request(q, 0, &tm);
			tm_read = 1;
			if (tm_error != NULL)
				log_warn("%s: LMTP: %s", q->queue_id, tm_error);
		}
		for (size_t x = 0; x < ns && tm_error != NULL; x++)
			local_result_set(&tmp[x], "deferred", "4.3.0", "%s", tm_error);
		if (ns > 0 && tm_error == NULL)
			local_lmtp_deliver(m, &tm, dest[i].data, send, ns, tmp);
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

/* The notify= and orcpt= after the rcpt field at index i (qmgr writes
 * them there, docs/protocols.md) into m; NULL when absent. */
static void local_rcpt_dsn(const struct agent_request *q, size_t i, struct local_msg *m)
{
	m->notify = m->orcpt = NULL;
	for (size_t k = i + 1; k < q->rec.n && strcmp(q->rec.fields[k].key, "rcpt") != 0; k++)
		if (strcmp(q->rec.fields[k].key, "notify") == 0)
			m->notify = q->rec.fields[k].value;
		else if (strcmp(q->rec.fields[k].key, "orcpt") == 0)
			m->orcpt = q->rec.fields[k].value;
}

/* Deliver to (or defer, on a bad request) each recipient in order. */
static int local_request_run(const struct local_ctx *ctx, struct agent_conn *c,
			     const struct agent_request *q)
{
	const char *bad = q->bad;    /* common/agent logged it */
	struct local_result r, *res = NULL;
	struct local_msg m = { .queue_id = q->queue_id, .sender = q->sender, .prepend = "" };
	char *done = NULL;
	size_t k = 0;
	int ret = 0;

	buf_init(&m.delivered_to, LOCAL_DELIVERED_TO_MAX);
	if (bad == NULL) {
		m.fd = q->fd;
		m.offset = q->offset;
		m.size = q->size;
		m.prepend = q->prepend;
		m.prepend_len = q->prepend_len;
		m.ret = record_get(&q->rec, "ret");
		m.envid = record_get(&q->rec, "envid");
		local_header_scan(&m);
		res = calloc(q->nrcpt, sizeof *res);
		done = calloc(q->nrcpt, 1);
		if (res != NULL && done != NULL && ctx->transport != NULL)
			local_lmtp_batch(ctx, q, &m, res, done);
	}
	long long started = log_delivery_now_ms();   /* this recipient's transmission */
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
		else {
			local_rcpt_dsn(q, i, &m);
			local_rcpt(ctx, &m, f->value, f->value_len, &r);
		}
		k++;
		local_log_result(q, agent_text_ok(f->value, f->value_len, ADDRESS_PATH_MAX)
				 ? f->value : "(invalid)", &r, log_delivery_now_ms() - started);
		started = log_delivery_now_ms();
		if (agent_answer(c, f->value, f->value_len, r.status, r.dsn, r.reason, r.action) < 0) {
			ret = -1;
			break;
		}
	}
	free(res);
	free(done);
	buf_free(&m.delivered_to);
	return ret;
}

static void local_serve(int in_fd, int out_fd, void *arg)
{
	const struct local_ctx *ctx = arg;
	struct agent_request q = AGENT_REQUEST_INIT;
	struct agent_conn *c = agent_conn_new(in_fd, out_fd, ctx->d->inetd, ctx->ipc_ms, ctx->idle_ms);
	int go_on;

	if (c == NULL) {
		log_warn("cannot set up the connection: %s", strerror(errno));
		return;
	}
	do {
		go_on = agent_read(c, &q) > 0 && local_request_run(ctx, c, &q) == 0;
		agent_request_clear(&q);   /* no queue file stays open between requests */
	} while (go_on && !ctx->d->inetd && !daemon_stopping());
	agent_conn_free(&c);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct local_ctx ctx = { .d = &d, .command_fd = -1 };

	daemon_init(&d, "local", argc, argv);
	if (d.argc != 0 && (strcmp(d.argv[0], "verify") != 0 || d.argc < 2))
		log_fatal("unexpected argument: %s (or: verify ADDRESS...)", d.argv[0]);
	ctx.map = daemon_open_map(&d, "mailboxes.cdb", 0);
	ctx.aliases = daemon_open_map(&d, "aliases.cdb", 1);
	ctx.domains = daemon_open_map(&d, "domains.cdb", 1);
	ctx.transport = daemon_open_map(&d, "transport.cdb", 1);
	ctx.quota = daemon_open_map(&d, "quota.cdb", 1);
	if (d.argc != 0) {
		/* sendmail -bv: where it would go, as delivery sees it */
		daemon_drop(&d);
		return local_verify(&ctx, d.argc - 1, d.argv + 1);
	}
	ctx.ipc_ms = local_ms(config_time("ipc_timeout"));
	ctx.idle_ms = local_ms(config_time("daemon_idle_timeout"));
	enqueue_set_timeout(ctx.ipc_ms < 0 ? 0 : ctx.ipc_ms);
	/* The helper stays outside the chroot, where /bin/sh is. */
	local_command_start(&ctx);
	daemon_drop(&d);
	maildir_use_group_commit(group_commit_for_daemon());   /* after the chroot: DIR/mail's file system */
	daemon_serve(&d, local_serve, &ctx);
	cdbmap_close(&ctx.map);
	cdbmap_close(&ctx.aliases);
	cdbmap_close(&ctx.domains);
	cdbmap_close(&ctx.transport);
	cdbmap_close(&ctx.quota);
	return 0;
}
