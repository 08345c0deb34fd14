/* smtpd_data: the message content, by DATA (RFC 5321 4.1.1.4) or by BDAT
 * chunks (RFC 3030).
 *
 * Offers: smtpd_cmd_data() and smtpd_cmd_bdat().  Both open the enqueue
 * connection first (before the 354 / on the first chunk, so that a broken
 * queue is a clean 451 the client can retry) with the whole envelope,
 * DSN fields included (docs/protocols.md), then pass the content, with
 * CRLF turned into LF, through one path (smtpd_msg_put): the header
 * section is held in memory, at most smtpd_header_size_limit bytes, until
 * its end is seen; then our Received header (RFC 5321 4.4), the client's
 * header and, on submission, a Message-ID and Date if it had none
 * (RFC 6409 8) go to enqueue, and the body streams after it without being
 * held.  250 comes only after enqueue said the message is on stable
 * storage.
 *
 * DATA goes through the common/smtp_data.c state machine: end only at
 * <CRLF>.<CRLF>, dot unstuffing.  A message with a bare LF or bare CR
 * (550 5.5.2, RFC 5321 2.3.8, unless smtpd_forbid_bare_newline = no), an
 * overlong line (500 5.5.2), a header over its limit or more than
 * message_size_limit bytes (552 5.3.4) is read to its real end and then
 * refused; the enqueue connection is closed without its end chunk, so
 * enqueue discards what it got.  We never guess an end of data, which is
 * what keeps SMTP smuggling out.  A BDAT chunk is always read whole, also
 * when it is refused, so the next command is where the client says.
 *
 * Trusts: enqueue's answer (cleaned by enqueue_client); nothing in the
 * message.  Message content is never logged.
 *
 * Fails: enqueue unreachable or failing: 451 4.3.0, transaction kept (at
 * DATA) or ended (after the data); the queue's disk full (queue_minfree
 * at DATA, enqueue's ENOSPC after the data): 452 4.3.1 the same way;
 * client gone or silent: the message is discarded and the session ends
 * (421 4.4.2 on a timeout). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "dkim_verify.h"
#include "enqueue_client.h"
#include "fsutil.h"
#include "log.h"
#include "smtp_data.h"
#include "smtpd.h"
#include "stream.h"

#define SMTPD_RECEIVED_MAX 4096   /* HELO 255 + host + address + TLS + user + date */
#define SMTPD_BDAT_PIECE 65536    /* chunk bytes read and converted at a time */
#define SMTPD_LOG_RCPTS 5         /* recipients named in the message log line */

struct smtpd_msg {
	struct enqueue *e;
	char last;                    /* the last byte written (smtpd_msg_write) */
	int eom;                      /* its end of data is being answered (smtpd_msg_verdict) */
	int held;                     /* with milters: the message in a memfd until its end, else -1 */
	struct smtp_data sd;          /* DATA state */
	struct smtp_bdat bd;          /* BDAT state */
	int bdat;                     /* received by BDAT */
	struct buf hdr;               /* the header section, until it ends */
	size_t line_start;            /* offset in hdr of the current line */
	int hdr_done;                 /* header flushed; the rest streams */
	int hdr_too_big;
	int has_msgid, has_date;
	char msgid[SMTPD_MSGID_LOG_MAX + 1];   /* <...> of Message-ID for the log, "" if none */
	unsigned long long size;      /* content bytes seen (LF line ends) */
	unsigned long long written;   /* bytes handed to enqueue */
	int oversize;                 /* over message_size_limit: stop forwarding */
	int write_failed;             /* enqueue went away during the data */
	int failed;                   /* refused already (BDAT): discard the rest */
	struct dkim_verify *dkim;     /* DKIM verification (smtpd_dkim.c), or NULL */
	struct smtpd_dmarc_msg dmarc; /* DMARC of DKIM-verified mail (smtpd_dmarc.c) */
	struct buf piece;             /* BDAT: chunk bytes being read */
	char conv[SMTPD_BDAT_PIECE + 1];
};

void smtpd_msg_discard(struct smtpd_session *ss)
{
	struct smtpd_msg *m = ss->msg;

	if (m == NULL)
		return;
	enqueue_abort(&m->e);
	if (m->held >= 0)
		close(m->held);
	buf_free(&m->hdr);
	buf_free(&m->piece);
	dkim_verify_free(&m->dkim);
	free(m);
	ss->msg = NULL;
}

/* ---- the trace header and submission fields ---- */

/* RFC 5322 3.3 date-time, local time with a numeric zone. */
static int smtpd_date(char *out, size_t outlen)
{
	time_t now = time(NULL);
	struct tm tm;

	if (localtime_r(&now, &tm) == NULL)
		return -1;
	return strftime(out, outlen, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0 ? -1 : 0;
}

/* RFC 3848 / RFC 6531 4.3 protocol names: ESMTP, ESMTPS, ESMTPA,
 * ESMTPSA, and UTF8SMTP... when the transaction used SMTPUTF8. */
static const char *smtpd_proto(const struct smtpd_session *ss)
{
	static char proto[16];
	const char *base = !ss->esmtp ? "SMTP" : ss->smtputf8 ? "UTF8SMTP" : "ESMTP";

	if (!ss->esmtp)
		return base;
	if (snprintf(proto, sizeof(proto), "%s%s%s", base, ss->tls ? "S" : "",
		     ss->auth_user.len > 0 ? "A" : "") >= (int)sizeof(proto))
		return base;
	return proto;
}

/* RFC 5321 4.4: the trace header we prepend.  "for" names the recipient
 * only when there is exactly one, so as not to disclose Bcc lists. */
static int smtpd_received(const struct smtpd_session *ss, struct buf *out)
{
	const struct smtpd_ctx *ctx = ss->ctx;
	char date[64];

	if (smtpd_date(date, sizeof(date)) < 0)
		return -1;
	if (buf_printf(out, "Received: from %s ([%s])", buf_cstr(&ss->helo), ss->client) < 0)
		return -1;
	if (ss->tls && ctx->received_tls && buf_printf(out, "\n\t(using %s)", ss->tls_desc) < 0)
		return -1;
	if (ss->auth_user.len > 0 && ctx->received_auth &&
	    buf_printf(out, "\n\t(Authenticated sender: %s)", buf_cstr(&ss->auth_user)) < 0)
		return -1;
	if (buf_printf(out, "\n\tby %s (Postern) with %s", ctx->hostname, smtpd_proto(ss)) < 0)
		return -1;
	if (ss->nrcpt == 1)
		return buf_printf(out, "\n\tfor <%s>; %s\n", ss->rcpts[0].addr, date);
	return buf_printf(out, ";\n\t%s\n", date);
}

/* RFC 6409 8.3: Message-ID and Date a submission server may add. */
static int smtpd_submission_fields(const struct smtpd_session *ss, struct smtpd_msg *m,
				   struct buf *out)
{
	char date[64];
	unsigned long long rnd = 0;

	if (ss->ctx->mode == SMTPD_MODE_SMTP)
		return 0;
	if (!m->has_msgid) {
		if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		if (buf_printf(out, "Message-ID: <%llx.%016llx@%s>\n", (unsigned long long)time(NULL),
			       rnd, ss->ctx->hostname) < 0)
			return -1;
		snprintf(m->msgid, sizeof(m->msgid), "<%llx.%016llx@%s>", (unsigned long long)time(NULL),
			 rnd, ss->ctx->hostname);   /* for the log: a clip is only a shorter line */
	}
	if (!m->has_date && (smtpd_date(date, sizeof(date)) < 0 ||
			     buf_printf(out, "Date: %s\n", date) < 0))
		return -1;
	return 0;
}

/* ---- content to enqueue ---- */

static void smtpd_msg_write(struct smtpd_msg *m, const void *p, size_t n)
{
	if (m->write_failed || n == 0)
		return;
	if (m->held >= 0 ? fd_write_all(m->held, p, n) < 0 : enqueue_write(m->e, p, n) < 0) {
		m->write_failed = 1;   /* keep reading; enqueue_finish says why */
	} else {
		m->written += n;
		m->last = ((const char *)p)[n - 1];
	}
}

/* Whether the header line at p (n bytes, LF included) names field. */
static int smtpd_field_is(const char *p, size_t n, const char *field)
{
	size_t f = strlen(field);

	return n > f && strncasecmp(p, field, f) == 0 && p[f] == ':';
}

/* Is the completed line at p (n bytes, with its LF) part of the header?
 * A field (name of printable characters, then ':') or a continuation;
 * an empty line or anything else begins the body (RFC 5322 2.2, 3.5). */
static int smtpd_header_line(const char *p, size_t n, int first)
{
	size_t i = 0;

	if (n <= 1)
		return 0;
	if (p[0] == ' ' || p[0] == '\t')
		return !first;
	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':')
		i++;
	return i > 0 && i < n && p[i] == ':';
}

/* The header is complete (its first len bytes of hdr): send Received,
 * header, added fields, then whatever of hdr follows it (body). */
static void smtpd_msg_flush_header(struct smtpd_session *ss, struct smtpd_msg *m, size_t len)
{
	struct buf add;
	size_t keep;

	m->hdr_done = 1;
	/* A policy server's PREPEND lines go first, above our Received. */
	smtpd_msg_write(m, ss->policy_prepend.data, ss->policy_prepend.len);
	buf_init(&add, SMTPD_RECEIVED_MAX);
	if (smtpd_received(ss, &add) < 0) {
		/* Never half a header: what was formatted is dropped. */
		log_warn("cannot format the Received header for %s", ss->client_log);
		buf_reset(&add);
	}
	/* With DKIM verification the field comes at the end (trailer). */
	if (m->dkim == NULL && smtpd_auth_results(ss, NULL, NULL, &add) < 0)
		log_warn("cannot format the Authentication-Results header for %s", ss->client_log);
	smtpd_msg_write(m, add.data, add.len);
	if (m->dkim != NULL) {
		/* the header as received; a first body line without a blank
		 * line before it is body (smtpd_header_line) */
		size_t body = len < m->hdr.len && m->hdr.data[len] == '\n' ? len + 1 : len;

		dkim_verify_header(m->dkim, m->hdr.data, len);
		smtpd_dmarc_header(&m->dmarc, m->hdr.data, len);
		dkim_verify_body(m->dkim, m->hdr.data + body, m->hdr.len - body);
	}
	/* RFC 8601 5: no Authentication-Results in our name from outside. */
	keep = smtpd_auth_results_strip(ss, m->hdr.data, len);
	smtpd_msg_write(m, m->hdr.data, keep);
	if (keep > 0 && m->hdr.data[keep - 1] != '\n')
		smtpd_msg_write(m, "\n", 1);   /* an unterminated last header line */
	buf_reset(&add);
	if (smtpd_submission_fields(ss, m, &add) < 0) {
		log_warn("cannot add Message-ID/Date for %s", ss->client_log);
		buf_reset(&add);
	}
	smtpd_msg_write(m, add.data, add.len);
	buf_free(&add);
	smtpd_msg_write(m, m->hdr.data + len, m->hdr.len - len);
	buf_free(&m->hdr);
}

/* Keep <...> of the Message-ID field's first line for the log (Postfix's
 * message-id= line); one that is longer, folded or unbracketed is not
 * logged rather than clipped. */
static void smtpd_msg_note_msgid(struct smtpd_msg *m, const char *line, size_t n)
{
	const char *lt = memchr(line, '<', n), *gt;

	m->msgid[0] = '\0';
	if (lt == NULL || (gt = memchr(lt, '>', n - (size_t)(lt - line))) == NULL)
		return;
	if ((size_t)(gt - lt) + 1 > SMTPD_MSGID_LOG_MAX)
		return;
	memcpy(m->msgid, lt, (size_t)(gt - lt) + 1);
	m->msgid[gt - lt + 1] = '\0';
}

/* Look at the line that just ended in hdr; flush when it ends the header. */
static void smtpd_msg_header_line(struct smtpd_session *ss, struct smtpd_msg *m)
{
	const char *line = m->hdr.data + m->line_start;
	size_t n = m->hdr.len - m->line_start;

	if (!smtpd_header_line(line, n, m->line_start == 0)) {
		smtpd_msg_flush_header(ss, m, m->line_start);
		return;
	}
	if (smtpd_field_is(line, n, "Message-ID")) {
		m->has_msgid = 1;
		smtpd_msg_note_msgid(m, line, n);
	}
	else if (smtpd_field_is(line, n, "Date"))
		m->has_date = 1;
	m->line_start = m->hdr.len;
}

/* Collect header bytes; returns the bytes of p taken (the rest is body). */
static size_t smtpd_msg_header(struct smtpd_session *ss, struct smtpd_msg *m,
			       const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !m->hdr_done) {
		const char *lf = memchr(p + i, '\n', n - i);
		size_t take = lf != NULL ? (size_t)(lf - (p + i)) + 1 : n - i;

		if (buf_append(&m->hdr, p + i, take) < 0) {
			m->hdr_too_big = 1;   /* refused at the end; nothing more stored */
			return n;
		}
		i += take;
		if (lf != NULL)
			smtpd_msg_header_line(ss, m);
	}
	return i;
}

/* Store content bytes unless the message is already doomed. */
static void smtpd_msg_put(struct smtpd_session *ss, struct smtpd_msg *m, const char *p, size_t n)
{
	unsigned long long limit = ss->ctx->size_limit;
	size_t used = 0;

	m->size += n;
	if (m->size > limit)
		m->oversize = 1;
	if (m->oversize || m->hdr_too_big || m->sd.too_long ||
	    (ss->ctx->forbid_bare_newline && (m->sd.bare_newline || m->bd.bare_newline)))
		return;
	if (!m->hdr_done)
		used = smtpd_msg_header(ss, m, p, n);
	if (m->hdr_done && !m->hdr_too_big) {
		smtpd_msg_write(m, p + used, n - used);
		if (m->dkim != NULL)
			dkim_verify_body(m->dkim, p + used, n - used);
	}
}

/* ---- opening and finishing ---- */

/* Postfix's first line about a message, ID: client=NAME[ADDR] and its
 * sasl_ fields, logged when enqueue has named the file and before it
 * holds any data: log tools (pflogsumm) count a message as received,
 * with its size and sender, only when this line comes before the first
 * from=, size= line about it (enqueue's, qmgr's). */
static void smtpd_msg_log_client(const struct smtpd_session *ss, const char *id)
{
	int authed = ss->auth_user.len > 0 && ss->auth_mech != NULL;

	log_info("%s: client=%s%s%s%s%s", id, ss->client_log, authed ? ", sasl_method=" : "",
		 authed ? ss->auth_mech : "", authed ? ", sasl_username=" : "",
		 authed ? buf_cstr(&ss->auth_user) : "");
}

const char *smtpd_msg_queue_id(const struct smtpd_session *ss)
{
	const char *id = ss->msg != NULL && ss->msg->eom && ss->msg->e != NULL ? enqueue_queue_id(ss->msg->e) : "";

	return id[0] != '\0' ? id : NULL;
}

int smtpd_msg_enqueue(struct smtpd_session *ss, struct enqueue **e_r)
{
	struct enqueue_envelope env;
	struct enqueue_rcpt *list;
	const char *err;
	int r;

	if ((list = calloc(ss->nrcpt, sizeof(*list))) == NULL) {
		log_warn("out of memory for the message from %s", ss->client_log);
		return -1;
	}
	for (size_t i = 0; i < ss->nrcpt; i++) {
		list[i].addr = ss->rcpts[i].addr;
		list[i].notify = ss->rcpts[i].notify;
		list[i].orcpt = ss->rcpts[i].orcpt;
	}
	memset(&env, 0, sizeof(env));
	env.sender = buf_cstr(&ss->sender);
	env.rcpts = list;
	env.nrcpt = ss->nrcpt;
	env.client = ss->client;
	env.helo = buf_cstr(&ss->helo);
	env.proto = smtpd_proto(ss);
	env.ret = ss->ret[0] != '\0' ? ss->ret : NULL;
	env.envid = ss->envid.len > 0 ? buf_cstr(&ss->envid) : NULL;
	env.body = ss->body[0] != '\0' ? ss->body : NULL;
	env.smtputf8 = ss->smtputf8;
	env.hold = ss->policy_hold || smtpd_milter_hold(ss);
	/* the Authentication-Results field follows the data (docs/dkim.md) */
	env.trailer = ss->msg != NULL && ss->msg->dkim != NULL;
	env.early_id = 1;
	r = enqueue_begin_env(e_r, &env, &err);
	free(list);
	if (r < 0)
		log_warn("cannot start the message from %s: %s", ss->client_log, err);
	else if (enqueue_queue_id(*e_r)[0] != '\0')
		smtpd_msg_log_client(ss, enqueue_queue_id(*e_r));
	return r;
}

/* Connect to enqueue with the envelope; with milters, ask them about
 * DATA and hold the message in a memfd instead.  -1 after a reply. */
static int smtpd_msg_open(struct smtpd_session *ss, int bdat)
{
	struct smtpd_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		smtpd_reply(ss, "451 4.3.0 Error: out of memory");
		return -1;
	}
	m->held = -1;
	if (smtpd_milter_active(ss)) {
		if (!smtpd_milter_data(ss)) {
			free(m);
			return -1;
		}
		m->held = memfd_create("postern-smtpd", MFD_CLOEXEC);
	}
	m->dkim = smtpd_dkim_start(ss);
	smtpd_dmarc_start(ss, &m->dmarc, m->dkim != NULL);
	ss->msg = m;   /* smtpd_msg_enqueue looks at m->dkim */
	if (m->held < 0 && (smtpd_milter_active(ss) || smtpd_msg_enqueue(ss, &m->e) < 0)) {
		ss->msg = NULL;
		dkim_verify_free(&m->dkim);
		free(m);
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return -1;
	}
	m->bdat = bdat;
	smtp_data_init(&m->sd);
	smtp_bdat_init(&m->bd);
	buf_init(&m->hdr, (size_t)ss->ctx->header_limit);
	buf_init(&m->piece, SMTPD_BDAT_PIECE);
	return 0;
}

/* The message log line: what, how, and the result. */
static void smtpd_msg_log(const struct smtpd_session *ss, const struct smtpd_msg *m, const char *id)
{
	char to[SMTPD_LOG_RCPTS * (256 + 4) + 16];
	size_t o = 0;

	to[0] = '\0';
	for (size_t i = 0; i < ss->nrcpt && i < SMTPD_LOG_RCPTS; i++) {
		int n = snprintf(to + o, sizeof(to) - o, "%s<%s>", i ? "," : "", ss->rcpts[i].addr);
		if (n < 0 || (size_t)n >= sizeof(to) - o)
			break;
		o += (size_t)n;
	}
	if (ss->nrcpt > SMTPD_LOG_RCPTS && o + 4 < sizeof(to))
		memcpy(to + o, ",...", 5);
	/* The client was named in the first line (smtpd_msg_log_client):
	 * a second client= would count the message twice. */
	log_info("%s: helo=<%s>, from=<%s>, to=%s, nrcpt=%zu, size=%llu, proto=%s, "
		 "tls=%s, auth=%s, result=queued", id, buf_cstr(&ss->helo),
		 buf_cstr(&ss->sender), to, ss->nrcpt, m->written, smtpd_proto(ss),
		 ss->tls ? ss->tls_desc : "no", ss->auth_user.len > 0 ? buf_cstr(&ss->auth_user) : "no");
	if (m->msgid[0] != '\0')
		log_info("%s: message-id=%s", id, m->msgid);
}

/* The Authentication-Results field with the DKIM and DMARC results,
 * for the trailer, and DMARC's quarantine; a field that cannot be
 * formatted is left out, logged. */
static void smtpd_msg_trailer(struct smtpd_session *ss, struct smtpd_msg *m)
{
	struct buf ar;

	buf_init(&ar, ENQUEUE_PREPEND_MAX);
	if (smtpd_auth_results(ss, m->dkim, &m->dmarc, &ar) < 0 || enqueue_set_prepend(m->e, ar.data, ar.len) < 0)
		log_warn("cannot format the Authentication-Results header for %s", ss->client_log);
	buf_free(&ar);
	if (m->dmarc.hold)
		enqueue_set_hold(m->e);
}

/* After the end of data: our verdict, or enqueue's. */
static void smtpd_msg_verdict(struct smtpd_session *ss, struct smtpd_msg *m)
{
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	const char *err;
	int permanent;

	m->eom = 1;   /* what is said from here is about the message (smtpd_msg_queue_id) */
	if (ss->ctx->forbid_bare_newline && (m->sd.bare_newline || m->bd.bare_newline)) {
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
	if (m->hdr_too_big) {
		smtpd_reply(ss, "552 5.3.4 Message header size exceeds limit");
		return;
	}
	if (!m->hdr_done)
		smtpd_msg_flush_header(ss, m, m->hdr.len);   /* all header, no body */
	if (!smtpd_delegate_eod(ss, m->size))
		return;   /* refused: the caller's reset drops the message */
	if (ss->policy_discard) {
		const char *id = smtpd_msg_queue_id(ss);

		if (id != NULL)   /* Postfix's discard line, for the message counted received */
			log_info("%s: discard: END-OF-MESSAGE from %s: policy DISCARD; from=<%s> nrcpt=%zu", id,
				 ss->client_log, buf_cstr(&ss->sender), ss->nrcpt);
		else
			log_info("discarded message from %s: from=<%s>, nrcpt=%zu (policy DISCARD)",
				 ss->client_log, buf_cstr(&ss->sender), ss->nrcpt);
		ss->messages++;
		smtpd_reply(ss, "250 2.0.0 Ok: discarded");
		return;
	}
	if (m->held >= 0 && m->write_failed) {
		log_warn("cannot hold the message from %s for the milters", ss->client_log);
		smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return;
	}
	if (m->dkim != NULL)
		smtpd_dkim_finish(ss, m->dkim);
	if (!smtpd_dmarc_finish(ss, &m->dmarc, m->dkim))
		return;   /* p=reject, enforced: nothing reaches the queue */
	if (m->held >= 0 && !smtpd_milter_eom(ss, m->held, &m->e, &m->written))
		return;   /* the milters answered */
	if (m->dkim != NULL)
		smtpd_msg_trailer(ss, m);
	/* The invariant of DESIGN.md: no 250 before enqueue has answered. */
	if (enqueue_finish(m->e, id, sizeof(id), &permanent, &err) < 0) {
		log_warn("enqueue failed for the message from %s: %s", ss->client_log, err);
		if (permanent)
			smtpd_reply(ss, "554 5.3.0 Error: %s", err);
		else if (enqueue_no_space(m->e))
			smtpd_reply(ss, "452 4.3.1 Insufficient system storage");
		else
			smtpd_reply(ss, "451 4.3.0 Error: queue file write error");
		return;
	}
	smtpd_msg_log(ss, m, id);
	ss->messages++;
	smtpd_reply(ss, "250 2.0.0 Ok: queued as %s", id);
}

/* ---- DATA ---- */

/* Read the content through its end.  0 at the end of data; -1 when the
 * session is over (client gone, or timeout answered with 421). */
static int smtpd_data_read(struct smtpd_session *ss, struct smtpd_msg *m)
{
	for (;;) {
		const char *line, *out;
		size_t len, out_len;
		int add_lf;
		enum stream_status st;

		if (smtpd_arm_timeout(ss) < 0)
			return -1;
		st = stream_read_line(ss->s, &line, &len);
		if (st == STREAM_OK) {
			if (smtp_data_line(&m->sd, line, len, &out, &out_len, &add_lf) == SMTP_DATA_END)
				return 0;
			smtpd_msg_put(ss, m, out, out_len);
			if (add_lf)
				smtpd_msg_put(ss, m, "\n", 1);
		} else if (st == STREAM_TOOLONG) {
			smtp_data_toolong(&m->sd, stream_toolong_crlf(ss->s));
		} else if (st == STREAM_TIMEOUT) {
			smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded", ss->ctx->hostname);
			ss->done = 1;
			return -1;
		} else {
			log_info("lost connection after DATA (%llu bytes) from %s",
				 m->sd.size, ss->client_log);
			ss->done = 1;
			return -1;
		}
	}
}

void smtpd_cmd_data(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	if (!ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: need MAIL command");
		return;
	}
	if (ss->msg != NULL) {
		smtpd_reply(ss, "503 5.5.1 Error: DATA after BDAT (RFC 3030 2)");
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
	if (!smtpd_space_check(ss) || smtpd_msg_open(ss, 0) < 0)
		return;
	smtpd_reply(ss, "354 End data with <CR><LF>.<CR><LF>");
	/* RFC 2920 3.1: DATA ends a pipelined group; the client waits. */
	if (stream_flush(ss->s) < 0) {
		ss->done = 1;
		smtpd_reset(ss);
		return;
	}
	if (smtpd_data_read(ss, ss->msg) == 0) {
		smtpd_msg_verdict(ss, ss->msg);
		if (stream_flush(ss->s) < 0)
			ss->done = 1;
	}
	smtpd_reset(ss);
}

/* ---- BDAT ---- */

/* Read n chunk bytes; store them when m is not NULL.  0, or -1 when
 * the session is over. */
static int smtpd_bdat_read(struct smtpd_session *ss, struct smtpd_msg *m, unsigned long long n)
{
	struct buf sink;

	buf_init(&sink, SMTPD_BDAT_PIECE);
	while (n > 0) {
		size_t piece = n > SMTPD_BDAT_PIECE ? SMTPD_BDAT_PIECE : (size_t)n;
		struct buf *into = m != NULL ? &m->piece : &sink;
		enum stream_status st;

		if (smtpd_arm_timeout(ss) < 0) {
			buf_free(&sink);
			return -1;
		}
		buf_reset(into);
		st = stream_read_exact(ss->s, piece, into);
		if (st != STREAM_OK) {
			if (st == STREAM_TIMEOUT)
				smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded", ss->ctx->hostname);
			else
				log_info("lost connection after BDAT from %s", ss->client_log);
			ss->done = 1;
			buf_free(&sink);
			return -1;
		}
		if (m != NULL)
			smtpd_msg_put(ss, m, m->conv, smtp_bdat_feed(&m->bd, into->data, piece, m->conv));
		n -= piece;
	}
	buf_free(&sink);
	return 0;
}

/* Whether a BDAT may carry message data now; else the reply for it. */
static const char *smtpd_bdat_refusal(const struct smtpd_session *ss)
{
	if (!ss->in_mail)
		return "503 5.5.1 Error: need MAIL command";
	if (ss->nrcpt == 0)
		return "503 5.5.1 Error: need RCPT command";
	return NULL;
}

void smtpd_cmd_bdat(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	unsigned long long size;
	const char *refusal;
	int last;

	if (smtp_bdat_parse(cmd->arg, cmd->arg_len, &size, &last) < 0) {
		/* Without a size we cannot find the next command: end here. */
		smtpd_reply(ss, "501 5.5.4 Syntax: BDAT chunk-size [LAST]");
		ss->done = 1;
		return;
	}
	refusal = smtpd_bdat_refusal(ss);
	if (refusal == NULL && ss->msg == NULL &&
	    (!smtpd_space_check(ss) || smtpd_msg_open(ss, 1) < 0)) {
		smtpd_reset(ss);
		refusal = "";   /* 452 / 451 already sent */
	}
	if (refusal != NULL) {
		/* RFC 3030 2: the chunk is read and dropped all the same. */
		if (smtpd_bdat_read(ss, NULL, size) == 0 && refusal[0] != '\0')
			smtpd_reply(ss, "%s", refusal);
		return;
	}
	if (smtpd_bdat_read(ss, ss->msg, size) < 0) {
		smtpd_reset(ss);
		return;
	}
	if (!last) {
		smtpd_reply(ss, "250 2.0.0 Ok: %llu octets received", size);
		return;
	}
	smtpd_msg_put(ss, ss->msg, ss->msg->conv, smtp_bdat_end(&ss->msg->bd, ss->msg->conv));
	/* BDAT data may end without a line end (DATA's cannot): the message
	 * is stored with one, as every line is (a sender's DKIM body hash
	 * counts it so too, RFC 6376 3.4.3, 3.4.4) */
	if (ss->msg->hdr_done && ss->msg->written > 0 && ss->msg->last != '\n')
		smtpd_msg_write(ss->msg, "\n", 1);
	smtpd_msg_verdict(ss, ss->msg);
	smtpd_reset(ss);
}
