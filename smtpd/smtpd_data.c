/* smtpd_data: the DATA command (RFC 5321 4.1.1.4).
 *
 * Offers: smtpd_cmd_data() opens the enqueue connection (before the 354,
 * so that a broken queue is a clean 451 the client can retry), writes our
 * Received header (RFC 5321 4.4), then streams the message line by line
 * through the common/smtp_data.c state machine (CRLF to LF, dot
 * unstuffing, end only at <CRLF>.<CRLF>) into enqueue without holding it
 * in memory, and answers 250 only after enqueue said the message is on
 * stable storage.
 *
 * A message with a bare LF or bare CR (550 5.5.2, RFC 5321 2.3.8), an
 * overlong line (500 5.5.2) or more than message_size_limit bytes
 * (552 5.3.4) is read to its real end and then refused; the enqueue
 * connection is closed without its end chunk, so enqueue discards what
 * it got.  We never guess an end of data, which is what keeps SMTP
 * smuggling out.
 *
 * Trusts: enqueue's answer (cleaned by enqueue_client); nothing in the
 * message.  Message content is never logged.
 *
 * Fails: enqueue unreachable or failing: 451 4.3.0, transaction kept (at
 * DATA) or ended (after the data); client gone or silent: the message is
 * discarded and the session ends (421 4.4.2 on a timeout). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "enqueue_client.h"
#include "log.h"
#include "smtp_data.h"
#include "smtpd.h"
#include "stream.h"

#define SMTPD_RECEIVED_MAX 2048   /* HELO 255 + host + address 256 + date */

struct smtpd_msg {
	struct enqueue *e;
	struct smtp_data sd;
	unsigned long long written;   /* bytes handed to enqueue */
	int oversize;                 /* over message_size_limit: stop forwarding */
	int write_failed;             /* enqueue went away during the data */
};

/* RFC 5322 3.3 date-time, local time with a numeric zone. */
static int smtpd_date(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return -1;
	return strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ? -1 : 0;
}

/* RFC 5321 4.4: the trace header we prepend.  "for" names the recipient
 * only when there is exactly one, so as not to disclose Bcc lists. */
static int smtpd_received(const struct smtpd_session *ss, struct buf *out)
{
	char date[64];

	if (smtpd_date(date, sizeof(date)) < 0)
		return -1;
	if (buf_printf(out, "Received: from %s ([%s])\n\tby %s (Postern) with %s",
		       buf_cstr(&ss->helo), ss->client, ss->ctx->hostname,
		       ss->esmtp ? "ESMTP" : "SMTP") < 0)
		return -1;
	if (ss->nrcpt == 1)
		return buf_printf(out, "\n\tfor <%s>; %s\n", ss->rcpts[0], date);
	return buf_printf(out, ";\n\t%s\n", date);
}

static void smtpd_msg_write(struct smtpd_msg *m, const void *p, size_t n)
{
	if (m->write_failed || n == 0)
		return;
	if (enqueue_write(m->e, p, n) < 0)
		m->write_failed = 1;   /* keep reading; enqueue_finish says why */
	else
		m->written += n;
}

/* Store one content line unless the message is already doomed. */
static void smtpd_msg_line(const struct smtpd_session *ss, struct smtpd_msg *m,
			   const char *p, size_t n, int add_lf)
{
	unsigned long long limit = ss->ctx->size_limit;

	if (limit != 0 && m->sd.size > limit)
		m->oversize = 1;
	if (m->oversize || m->sd.bare_newline || m->sd.too_long)
		return;
	smtpd_msg_write(m, p, n);
	if (add_lf)
		smtpd_msg_write(m, "\n", 1);
}

/* Read the content through its end.  0 at the end of data; -1 when the
 * session is over (client gone, or timeout answered with 421). */
static int smtpd_data_read(struct smtpd_session *ss, struct smtpd_msg *m)
{
	for (;;) {
		const char *line, *out;
		size_t len, out_len;
		int add_lf;
		enum stream_status st = stream_read_line(ss->s, &line, &len);

		if (st == STREAM_OK) {
			if (smtp_data_line(&m->sd, line, len, &out, &out_len, &add_lf) == SMTP_DATA_END)
				return 0;
			smtpd_msg_line(ss, m, out, out_len, add_lf);
		} else if (st == STREAM_TOOLONG) {
			smtp_data_toolong(&m->sd);
		} else if (st == STREAM_TIMEOUT) {
			smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded", ss->ctx->hostname);
			ss->done = 1;
			return -1;
		} else {
			log_info("lost connection after DATA (%llu bytes) from %s",
				 m->sd.size, ss->client);
			ss->done = 1;
			return -1;
		}
	}
}

/* After the end of data: enqueue's verdict, or ours. */
static void smtpd_data_verdict(struct smtpd_session *ss, struct smtpd_msg *m)
{
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	const char *err;
	int permanent;

	if (m->sd.bare_newline) {
		smtpd_reply(ss, "550 5.5.2 Message contains bare newline (RFC 5321 2.3.8)");
		return;
	}
	if (m->sd.too_long) {
		smtpd_reply(ss, "500 5.5.2 Line too long");
		return;
	}
	if (m->oversize) {
		smtpd_reply(ss, "552 5.3.4 Message size exceeds fixed limit");
		return;
	}
	/* The invariant of DESIGN.md: no 250 before enqueue has answered. */
	if (enqueue_finish(m->e, id, sizeof(id), &permanent, &err) < 0) {
		log_warn("enqueue failed for the message from %s: %s", ss->client, err);
		if (permanent)
			smtpd_reply(ss, "554 5.3.0 Error: %s", err);
		else
			smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return;
	}
	log_info("%s: client=%s, helo=%s, from=<%s>, nrcpt=%zu, size=%llu", id, ss->client,
		 buf_cstr(&ss->helo), buf_cstr(&ss->sender), ss->nrcpt, m->written);
	ss->messages++;
	smtpd_reply(ss, "250 2.0.0 Ok: queued as %s", id);
}

/* Open enqueue and write the Received header.  -1 after a 451. */
static int smtpd_data_open(struct smtpd_session *ss, struct smtpd_msg *m)
{
	struct buf hdr;
	const char *err;
	int r;

	r = enqueue_begin_proto(&m->e, buf_cstr(&ss->sender), (const char *const *)ss->rcpts,
				ss->nrcpt, ss->client, buf_cstr(&ss->helo),
				ss->esmtp ? "ESMTP" : "SMTP", &err);
	if (r < 0) {
		log_warn("cannot start the message from %s: %s", ss->client, err);
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	buf_init(&hdr, SMTPD_RECEIVED_MAX);
	if (smtpd_received(ss, &hdr) < 0) {
		buf_free(&hdr);
		enqueue_abort(&m->e);
		log_warn("cannot format the Received header for %s", ss->client);
		smtpd_reply(ss, "451 4.3.0 Error: local error in processing");
		return -1;
	}
	smtpd_msg_write(m, hdr.data, hdr.len);
	buf_free(&hdr);
	return 0;
}

void smtpd_cmd_data(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	struct smtpd_msg m;

	if (!ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (ss->nrcpt == 0) {
		smtpd_reply(ss, "503 5.5.1 Error: need RCPT command");
		return;
	}
	if (cmd->arg_len > 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax: DATA");
		return;
	}
	memset(&m, 0, sizeof(m));
	smtp_data_init(&m.sd);
	if (smtpd_data_open(ss, &m) < 0)
		return;
	smtpd_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
	/* RFC 2920 3.1: DATA ends a pipelined group; the client waits. */
	if (stream_flush(ss->s) < 0) {
		enqueue_abort(&m.e);
		ss->done = 1;
		return;
	}
	if (smtpd_data_read(ss, &m) == 0) {
		smtpd_data_verdict(ss, &m);
		smtpd_reset(ss);
		if (stream_flush(ss->s) < 0)
			ss->done = 1;
	}
	enqueue_abort(&m.e);
}
