/* qmgr_report: the delivery status notifications qmgr owes senders.
 *
 * Offers: qmgr_report_final, called when an attempt is over, reports
 * recipients that failed (unless NOTIFY=NEVER, or NOTIFY without FAILURE)
 * and recipients delivered with NOTIFY=SUCCESS, in one RFC 3464 report
 * (common/dsn.c) to the envelope sender; qmgr_report_delay sends one
 * delay warning per message after delay_warning_time (0: never) for the
 * recipients whose NOTIFY allows DELAY.
 *
 * Never a report to <>: a message with the null sender (a bounce, or
 * mail that came with MAIL FROM:<>) that fails produces one notice to
 * bounce_notice_recipient (kind=double in the queue file); a failing
 * notice of that kind is dropped with a log line.
 *
 * A report is injected like enqueue does it: queuefile_create in tmp/,
 * write, fsync, rename into incoming/, fsync incoming/ (qmgr runs as
 * postern-queue in the queue directory).  Only then are the recipients
 * marked reported (F -> B, D -> S, one fdatasync), so a crash in between
 * repeats a report, never loses one.
 *
 * Trusts: the parsed queue file and the agents' reasons (sanitised by
 * dsn.c).  Fails: -1 from qmgr_report_final when the report could not be
 * written; the caller keeps the message queued and tries again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dsn.h"
#include "log.h"
#include "qmgr.h"

#define QMGR_REPORT_HEADER_READ (256 * 1024)  /* bytes read to find the header */
#define QMGR_REPORT_SLACK (64 * 1024)         /* report text beyond the original */
#define QMGR_REPORT_PER_RCPT (3 * DSN_DIAG_MAX + 2048)

/* pread exactly n bytes at off into out. */
static int qmgr_report_read(int fd, off_t off, size_t n, struct buf *out)
{
	char chunk[65536];

	while (n > 0) {
		size_t want = n < sizeof(chunk) ? n : sizeof(chunk);
		ssize_t r = pread(fd, chunk, want, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || buf_append(out, chunk, (size_t)r) < 0)
			return -1;
		off += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The original for part 3: all of it, or (RET=HDRS, or bigger than
 * bounce_size_limit) enough to hold its header, cut at a line end. */
static int qmgr_report_original(const struct qmgr *q, const struct queuefile *qf, struct buf *orig,
				int *full_r)
{
	size_t n;

	*full_r = qf->ret != QUEUEFILE_RET_HDRS && qf->data_size <= q->bounce_size_limit;
	n = *full_r ? (size_t)qf->data_size
		    : (qf->data_size < QMGR_REPORT_HEADER_READ ? (size_t)qf->data_size : QMGR_REPORT_HEADER_READ);
	/* the prepended fields first: the original as it was sent */
	buf_init(orig, qf->prepend_len + n + 1);
	if (buf_append(orig, qf->prepend, qf->prepend_len) < 0 ||
	    qmgr_report_read(qf->fd, qf->data_offset, n, orig) < 0)
		return -1;
	if (!*full_r && dsn_header_length(orig->data, orig->len) == orig->len && n < qf->data_size) {
		const char *nl = orig->len ? memrchr(orig->data, '\n', orig->len) : NULL;

		orig->len = nl != NULL ? (size_t)(nl - orig->data) + 1 : 0;
	}
	return 0;
}

/* RFC 3464 2.3.6: "smtp" when the reason is an SMTP reply. */
static const char *qmgr_diag_type(const char *reason)
{
	if (reason != NULL && (reason[0] == '2' || reason[0] == '4' || reason[0] == '5') &&
	    reason[1] >= '0' && reason[1] <= '9' && reason[2] >= '0' && reason[2] <= '9' &&
	    (reason[3] == ' ' || reason[3] == '-'))
		return "smtp";
	return "X-Postern";
}

/* A reason in the agents' form "WHO said: CODE text (in reply to CMD)"
 * (common/smtp_reply.c, smtp_reply_said), WHO "host NAME[ADDR]:PORT"
 * (remote) or "lmtp WHERE" (local's LMTP), also as the last attempt of an
 * expiry (qmgr_expire), gives Diagnostic-Code the server's reply itself,
 * "CODE text", and Remote-MTA the NAME of a host.  Any other reason
 * (a command's output, say) is not taken for one.  0 when not of that
 * form. */
static int qmgr_report_reply(const char *reason, struct dsn_rcpt *r)
{
	static const char expiry[] = "; the last attempt: ";
	const char *who = strstr(reason, expiry), *said, *p, *end;

	if (strncmp(reason, "message expired after ", 22) == 0 && who != NULL)
		reason = who + sizeof(expiry) - 1;
	if (strncmp(reason, "host ", 5) != 0 && strncmp(reason, "lmtp ", 5) != 0)
		return 0;
	said = strstr(reason + 5, " said: ");
	if (said == NULL)
		return 0;
	p = said + 7;
	if (!(p[0] >= '2' && p[0] <= '5' && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' && p[2] <= '9' &&
	      (p[3] == ' ' || p[3] == '-' || p[3] == '\0')))
		return 0;
	end = p + strlen(p);
	/* up to the last " (in reply to ": a reply may hold the words itself */
	for (const char *in = strstr(p, " (in reply to "); in != NULL; in = strstr(in + 1, " (in reply to "))
		end = in;
	r->diag_type = "smtp";
	r->code = p;
	r->code_len = (size_t)(end - p);
	if (strncmp(reason, "host ", 5) == 0) {
		const char *name = reason + 5, *bracket = memchr(name, '[', (size_t)(said - name));

		if (bracket != NULL && bracket > name) {
			r->remote_mta = name;
			r->remote_mta_len = (size_t)(bracket - name);
		}
	}
	return 1;
}

/* Fill r for recipient i of m with action a. */
static void qmgr_report_rcpt(const struct qmgr *q, const struct qmgr_msg *m, size_t i,
			     enum dsn_action a, time_t now, struct dsn_rcpt *r)
{
	const struct qmgr_result *res = m->res != NULL ? &m->res[i] : NULL;
	int known = res != NULL && res->dsn[0] != '\0';

	memset(r, 0, sizeof(*r));
	r->addr = m->qf.rcpt[i].addr;
	r->orcpt = m->qf.rcpt[i].orcpt;
	r->action = a;
	if (a == DSN_FAILED)
		r->status = known && (res->dsn[0] == '5' || res->dsn[0] == '4') ? res->dsn : "5.0.0";
	else if (a == DSN_DELAYED)
		r->status = known && res->dsn[0] == '4' ? res->dsn : "4.0.0";
	else
		r->status = known && res->dsn[0] == '2' ? res->dsn : "2.0.0";
	if (known && res->reason != NULL) {
		r->diag = res->reason;
		if (!qmgr_report_reply(res->reason, r))
			r->diag_type = qmgr_diag_type(res->reason);
	} else if (a == DSN_FAILED) {
		/* Marked failed by a qmgr that stopped before reporting. */
		r->diag = "delivery failed (the details were lost in a restart of the queue manager)";
		r->diag_type = "X-Postern";
	}
	r->last_attempt = known && res->when > 0 ? res->when : now;
	if (a == DSN_DELAYED)
		r->retry_until = (long long)now + (long long)q->lifetime - (long long)qmgr_age(q, m, now);
}

/* Write a message from <> to `to` into the queue (tmp/ -> incoming/). */
static int qmgr_inject(struct qmgr *q, const char *to, enum queuefile_kind kind, int smtputf8,
		       int eightbit, const struct buf *msg, char *id_r)
{
	struct queuefile_out qo;
	size_t to_len = strlen(to);
	struct queuefile_env env = {
		.sender = "", .sender_len = 0, .rcpt = &to, .rcpt_len = &to_len, .nrcpt = 1,
		.proto = "dsn", .kind = kind, .smtputf8 = smtputf8,
		.body = eightbit ? QUEUEFILE_BODY_8BITMIME : QUEUEFILE_BODY_7BIT,
		/* RFC 3461 5.2.1 / 6.2: nothing may report about a report. */
		.ret = QUEUEFILE_RET_HDRS,
	};
	unsigned never = QUEUEFILE_NOTIFY_NEVER;
	const char *err;

	env.rcpt_notify = &never;
	if (queuefile_create(&qo, &err) < 0 || queuefile_write_envelope(&qo, &env, &err) < 0 ||
	    queuefile_write_data(&qo, msg->data, msg->len, &err) < 0 || queuefile_commit(&qo, &err) < 0) {
		log_warn("cannot queue a delivery status notification: %s: %s", err, strerror(errno));
		queuefile_abort(&qo);
		return -1;
	}
	memcpy(id_r, qo.id, sizeof(qo.id));
	/* Like a trigger: a pass over incoming/ paused while the active set
	 * is full has read past this name and would not see it. */
	qmgr_incoming_arrived(q);
	return 0;
}

/* Compose the report about rcpt[0..n) of m for `to` and queue it. */
static int qmgr_report_send(struct qmgr *q, struct qmgr_msg *m, const struct dsn_rcpt *rcpt, size_t n,
			    const char *to, int postmaster, const char *what)
{
	struct dsn d = {
		.reporting_mta = q->hostname, .queue_id = m->id, .envid = m->qf.envid, .to = to,
		.orig_sender = m->qf.sender, .arrival = m->qf.time, .now = time(NULL),
		.smtputf8 = m->qf.smtputf8, .postmaster = postmaster, .rcpt = rcpt, .nrcpt = n,
	};
	char id[QUEUEFILE_ID_MAX + 1];
	struct buf orig, out;
	const char *err = "cannot read the message";
	int eightbit, r = -1;

	if (qmgr_report_original(q, &m->qf, &orig, &d.full) == 0) {
		buf_init(&out, orig.len + QMGR_REPORT_SLACK + n * QMGR_REPORT_PER_RCPT);
		if (dsn_compose(&d, orig.data, orig.len, &out, &eightbit, &err) == 0 &&
		    qmgr_inject(q, to, postmaster ? QUEUEFILE_KIND_DOUBLE : QUEUEFILE_KIND_DSN,
				m->qf.smtputf8, eightbit, &out, id) == 0) {
			log_info("%s: %s: %s", m->id, what, id);   /* Postfix's form: postern log follows it */
			r = 0;
		}
		buf_free(&out);
	}
	if (r < 0)
		log_warn("%s: %s to <%s> not queued: %s", m->id, what, to, err);
	buf_free(&orig);
	return r;
}

/* Whether the report is about a failure (Postfix: non-delivery notification). */
static int qmgr_report_any_failed(const struct dsn_rcpt *rcpt, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (rcpt[k].action == DSN_FAILED)
			return 1;
	return 0;
}

/* What recipient i's delivery is reported as (RFC 3464 2.3.3): as the
 * agent said in this attempt, else (answered in an attempt whose report
 * could not be queued, or before a restart of qmgr) a delivery. */
static enum dsn_action qmgr_report_success(const struct qmgr_msg *m, size_t i)
{
	static const enum dsn_action actions[] = {
		[QMGR_SUCCESS_DELIVERED] = DSN_DELIVERED, [QMGR_SUCCESS_RELAYED] = DSN_RELAYED,
		[QMGR_SUCCESS_EXPANDED] = DSN_EXPANDED, [QMGR_SUCCESS_PASSED] = DSN_DELIVERED,
	};

	return m->res != NULL && m->res[i].dsn[0] != '\0' ? actions[m->res[i].success] : DSN_DELIVERED;
}

/* Whether recipient i's final result must be reported to the sender.  A
 * delivery whose NOTIFY the next hop took (RFC 3461 6.2) is marked
 * reported when it is answered (qmgr_answer): that hop reports it. */
static int qmgr_report_wanted(const struct queuefile_rcpt *r)
{
	if (r->status == QUEUEFILE_FAILED)
		return r->notify == 0 || (r->notify & QUEUEFILE_NOTIFY_FAILURE);
	if (r->status == QUEUEFILE_DELIVERED)
		return (r->notify & QUEUEFILE_NOTIFY_SUCCESS) != 0;
	return 0;
}

/* Mark every unreported final recipient reported: F -> B, D -> S. */
static int qmgr_report_mark(struct qmgr_msg *m)
{
	const char *err;
	int any = 0;

	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		char s = m->qf.rcpt[i].status;
		char to = s == QUEUEFILE_FAILED ? QUEUEFILE_FAILED_REPORTED
			  : s == QUEUEFILE_DELIVERED ? QUEUEFILE_DELIVERED_REPORTED : 0;

		if (to == 0)
			continue;
		if (queuefile_set_status(&m->qf, i, to, &err) < 0)
			goto fail;
		any = 1;
	}
	if (!any || queuefile_sync(&m->qf, &err) == 0)
		return 0;
fail:
	log_warn("%s: %s: %s", m->id, err, strerror(errno));
	return -1;
}

/* The null sender: failures go to the postmaster once, then nowhere. */
static int qmgr_report_null_sender(struct qmgr *q, struct qmgr_msg *m, struct dsn_rcpt *rcpt,
				   size_t n)
{
	if (m->qf.kind == QUEUEFILE_KIND_DOUBLE) {
		for (size_t k = 0; k < n; k++)
			log_info("%s: to=<%s>, notice to the postmaster undeliverable; dropped", m->id,
				 rcpt[k].addr);
		return 0;
	}
	return qmgr_report_send(q, m, rcpt, n, q->postmaster, 1, "postmaster non-delivery notification");
}

int qmgr_report_final(struct qmgr *q, struct qmgr_msg *m)
{
	struct dsn_rcpt *rcpt;
	size_t n = 0, unreported = 0;
	time_t now = time(NULL);
	int r = 0, null_sender = m->qf.sender_len == 0;

	for (size_t i = 0; i < m->qf.nrcpt; i++)
		unreported += m->qf.rcpt[i].status == QUEUEFILE_FAILED ||
			      m->qf.rcpt[i].status == QUEUEFILE_DELIVERED;
	if (unreported == 0)
		return 0;
	rcpt = calloc(unreported, sizeof(*rcpt));
	if (rcpt == NULL)
		return -1;
	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		const struct queuefile_rcpt *qr = &m->qf.rcpt[i];

		/* No success notices about (or to) the null sender. */
		if (null_sender ? qr->status == QUEUEFILE_FAILED : qmgr_report_wanted(qr))
			qmgr_report_rcpt(q, m, i, qr->status == QUEUEFILE_FAILED ? DSN_FAILED
					 : qmgr_report_success(m, i), now, &rcpt[n++]);
	}
	if (n > 0 && null_sender)
		r = qmgr_report_null_sender(q, m, rcpt, n);
	else if (n > 0)
		r = qmgr_report_send(q, m, rcpt, n, m->qf.sender, 0, qmgr_report_any_failed(rcpt, n)
				     ? "sender non-delivery notification" : "sender delivery status notification");
	free(rcpt);
	if (r < 0)
		return -1;
	/* When the file is about to be removed and nothing was sent, marks
	 * would only cost a sync. */
	if (n == 0 && queuefile_pending(&m->qf) == 0)
		return 0;
	return qmgr_report_mark(m);
}

void qmgr_report_delay(struct qmgr *q, struct qmgr_msg *m, time_t now)
{
	struct dsn_rcpt *rcpt;
	size_t n = 0;
	const char *err;

	if (q->delay_warning == 0 || m->qf.warned || m->qf.warned_off == 0 ||
	    m->qf.kind != QUEUEFILE_KIND_MAIL || m->qf.sender_len == 0 || qmgr_age(q, m, now) < q->delay_warning)
		return;
	rcpt = calloc(m->qf.nrcpt, sizeof(*rcpt));
	if (rcpt == NULL)
		return;
	for (size_t i = 0; i < m->qf.nrcpt; i++) {
		const struct queuefile_rcpt *qr = &m->qf.rcpt[i];

		if (qr->status == QUEUEFILE_PENDING &&
		    (qr->notify == 0 || (qr->notify & QUEUEFILE_NOTIFY_DELAY)))
			qmgr_report_rcpt(q, m, i, DSN_DELAYED, now, &rcpt[n++]);
	}
	/* Flag it even when nobody wanted a warning: the question is settled. */
	if ((n == 0 || qmgr_report_send(q, m, rcpt, n, m->qf.sender, 0, "sender delay notification") == 0) &&
	    queuefile_set_warned(&m->qf, &err) < 0)
		log_warn("%s: %s: %s", m->id, err, strerror(errno));
	free(rcpt);
}
