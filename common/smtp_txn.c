/* smtp_txn: one mail transaction on an open SMTP or LMTP session
 * (smtp_txn.h).
 *
 * Trusts: nothing the server says (common/smtp_client bounds every reply;
 * a reply that breaks the grammar is a lost session).  The caller
 * validated the envelope: no control bytes reach a command line.
 *
 * Fails: per recipient, as the server answers: RCPT 4xx defers only that
 * recipient, 5xx fails only that one; MAIL 5xx fails them all.  The
 * answer to DATA applies to every accepted recipient, as does the one to
 * the final dot in SMTP; in LMTP each accepted recipient gets its own.
 * A message the server cannot take (SMTPUTF8 not offered, over its SIZE)
 * fails before MAIL.  A session lost before the data was offered, or a
 * 4xx to MAIL, is SMTP_TXN_BROKEN and leaves the recipients without a
 * final answer to the caller.  A session lost while sending the data or
 * waiting for the answer to the final dot defers the recipients that
 * have none (the message may arrive twice; it is never lost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "queuefile.h"
#include "smtp_client.h"
#include "smtp_txn.h"

#define SMTP_TXN_REASON_MAX 1024

static enum smtp_txn_status txn_status(int code)
{
	return code / 100 == 2 ? SMTP_TXN_DELIVERED : code / 100 == 5 ? SMTP_TXN_FAILED : SMTP_TXN_DEFERRED;
}

/* The last reply as "WHO said: CODE text (in reply to CMD)". */
static void txn_said(const struct smtp_txn *t, const char *cmd, char *out, size_t len)
{
	smtp_reply_said(t->reply, t->who, cmd, SMTP_TXN_SHOWN, out, len);
}

static void txn_answer(struct smtp_txn *t, size_t i, enum smtp_txn_status st, const char *dsn,
		       const char *reason)
{
	t->rcpt[i].answered = 1;
	t->answer(t->arg, i, st, dsn, reason);
}

/* Every recipient not skipped, answered, or (accepted_only) refused gets
 * one answer. */
static void txn_answer_rest(struct smtp_txn *t, int accepted_only, enum smtp_txn_status st, const char *dsn,
			    const char *reason)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct smtp_txn_rcpt *r = &t->rcpt[i];
		if (!r->skip && !r->answered && (r->accepted || !accepted_only))
			txn_answer(t, i, st, dsn, reason);
	}
}

/* Read one reply within ms: its code, or -1 with *error_r (the session is lost). */
static int txn_read(struct smtp_txn *t, int ms, const char **error_r)
{
	int code;

	stream_set_timeout(t->s, ms);
	code = smtp_client_read_reply(t->s, t->reply, error_r);
	if (code < 0)
		t->lost = 1;
	return code;
}

/* Queue the command in b (not flushed) and empty b.  0 or -1 (lost). */
static int txn_queue(struct smtp_txn *t, int ms, struct buf *b)
{
	int r;

	stream_set_timeout(t->s, ms);
	r = smtp_client_send(t->s, buf_cstr(b), 0);
	buf_reset(b);
	if (r < 0)
		t->lost = 1;
	return r;
}

/* ---- commands ---- */

/* Append xtext (RFC 3461 4) of a decoded value. */
static int txn_xtext(struct buf *b, const char *v)
{
	for (; *v != '\0'; v++) {
		unsigned char c = (unsigned char)*v;
		if ((c < 33 || c > 126 || c == '+' || c == '=') ? buf_printf(b, "+%02X", c) < 0 : buf_putc(b, (char)c) < 0)
			return -1;
	}
	return 0;
}

static int txn_mail_cmd(const struct smtp_txn *t, struct buf *b)
{
	const struct smtp_ext *x = t->ext;
	const struct smtp_txn_msg *m = t->msg;

	if (buf_printf(b, "MAIL FROM:<%s>", m->sender) < 0)
		return -1;
	if (x->size && buf_printf(b, " SIZE=%llu", m->smtp_size) < 0)   /* RFC 1870 */
		return -1;
	if (x->eightbitmime && m->eightbit && buf_append_str(b, " BODY=8BITMIME") < 0)  /* RFC 6152 */
		return -1;
	if (x->smtputf8 && t->smtputf8 && buf_append_str(b, " SMTPUTF8") < 0)   /* RFC 6531 */
		return -1;
	if (x->dsn && m->ret != NULL && buf_printf(b, " RET=%s", strcasecmp(m->ret, "hdrs") == 0 ? "HDRS" : "FULL") < 0)
		return -1;
	if (x->dsn && m->envid != NULL && (buf_append_str(b, " ENVID=") < 0 || txn_xtext(b, m->envid) < 0))
		return -1;
	return 0;
}

static int txn_rcpt_cmd(const struct smtp_txn *t, const struct smtp_txn_rcpt *r, struct buf *b)
{
	if (buf_append_str(b, "RCPT TO:<") < 0 || buf_append(b, r->addr, r->len) < 0 || buf_putc(b, '>') < 0)
		return -1;
	if (t->ext->dsn && r->notify != NULL && buf_printf(b, " NOTIFY=%s", r->notify) < 0)   /* RFC 3461 4.1 */
		return -1;
	if (t->ext->dsn && r->orcpt != NULL && (buf_append_str(b, " ORCPT=") < 0 || txn_xtext(b, r->orcpt) < 0))
		return -1;
	return 0;
}

/* ---- the steps ---- */

/* What the server cannot take is a permanent fact: 0, or -1 with every
 * recipient failed. */
static int txn_precheck(struct smtp_txn *t)
{
	char why[SMTP_TXN_REASON_MAX];

	if (t->smtputf8 && !t->ext->smtputf8) {
		/* RFC 6531 3.4: never downgrade silently. */
		smtp_reason(why, sizeof why, "SMTPUTF8 is required, but was not offered by %s", t->who);
		txn_answer_rest(t, 0, SMTP_TXN_FAILED, "5.6.7", why);
		return -1;
	}
	if (t->ext->size && t->ext->size_max > 0 && t->msg->smtp_size > t->ext->size_max) {
		smtp_reason(why, sizeof why, "message size %llu exceeds size limit %llu of server %s",
			   t->msg->smtp_size, t->ext->size_max, t->peer);
		txn_answer_rest(t, 0, SMTP_TXN_FAILED, "5.3.4", why);
		return -1;
	}
	return 0;
}

/* Send MAIL and RCPTs (pipelined in windows when offered) and read their
 * replies.  1 MAIL accepted, 0 MAIL refused with 5xx (recipients failed),
 * -1 the session broke or MAIL got 4xx (reason, *dsn_r set). */
static int txn_envelope(struct smtp_txn *t, char *reason, size_t rlen, const char **dsn_r)
{
	size_t window = t->ext->pipelining ? SMTP_TXN_WINDOW : 1;
	char why[SMTP_TXN_REASON_MAX];
	struct buf cmd;
	int ret = 1;
	const char *error;
	size_t i = 0;

	buf_init(&cmd, 2 * 1024 + 1200);   /* MAIL or RCPT with a 256-octet path and parameters */
	t->mail_sent = 1;
	if (txn_mail_cmd(t, &cmd) < 0 || txn_queue(t, t->mail_ms, &cmd) < 0)
		goto lost;
	/* Each round: queue up to window commands, flush, read the replies;
	 * the first round carries MAIL (alone without PIPELINING). */
	for (int first = 1; first || i < t->n; first = 0) {
		size_t sent[SMTP_TXN_WINDOW], k = 0, limit = first ? window - 1 : window;
		for (; i < t->n && k < limit; i++) {
			if (t->rcpt[i].skip)
				continue;
			if (txn_rcpt_cmd(t, &t->rcpt[i], &cmd) < 0 || txn_queue(t, t->rcpt_ms, &cmd) < 0)
				goto lost;
			sent[k++] = i;
		}
		if (stream_flush(t->s) < 0) {
			t->lost = 1;
			goto lost;
		}
		if (first) {
			int code = txn_read(t, t->mail_ms, &error);
			if (code < 0)
				goto broke;
			t->mail_code = code;
			if (t->mail_code / 100 != 2) {
				txn_said(t, "MAIL FROM command", reason, rlen);
				snprintf(t->mail_dsn, sizeof t->mail_dsn, "%s", smtp_reply_dsn_failure(t->reply));
				*dsn_r = t->mail_dsn;
				ret = t->mail_code / 100 == 5 ? 0 : -1;
			}
		}
		for (size_t j = 0; j < k; j++) {
			size_t x = sent[j];
			int code = txn_read(t, t->rcpt_ms, &error);
			if (code < 0)
				goto broke;
			if (ret != 1)
				continue;   /* pipelined after a refused MAIL: read and dropped */
			if (code / 100 == 2) {
				t->rcpt[x].accepted = 1;
				if (!t->envelope_only)
					continue;   /* the answer comes after the data */
			}
			txn_said(t, "RCPT TO command", why, sizeof why);
			txn_answer(t, x, txn_status(code), smtp_reply_dsn(t->reply), why);
		}
		if (ret != 1)
			break;
	}
	if (ret == 0)
		txn_answer_rest(t, 0, SMTP_TXN_FAILED, *dsn_r, reason);
	buf_free(&cmd);
	return ret;
lost:
	t->lost = 1;   /* a command not sent whole: the session is out of step */
	smtp_reason(reason, rlen, "lost connection with %s while sending the envelope", t->peer);
	*dsn_r = "4.4.2";
	buf_free(&cmd);
	return -1;
broke:
	smtp_reason(reason, rlen, "%s with %s while receiving the envelope replies", error, t->peer);
	*dsn_r = "4.4.2";
	buf_free(&cmd);
	return -1;
}

/* The replies to the final dot: one for all (SMTP) or one per accepted
 * recipient in RCPT order (LMTP). */
static void txn_final_replies(struct smtp_txn *t)
{
	char why[SMTP_TXN_REASON_MAX];
	const char *error;

	for (size_t i = 0; i < t->n; i++) {
		if (t->rcpt[i].skip || !t->rcpt[i].accepted)
			continue;
		int code = txn_read(t, t->data_done_ms, &error);
		if (code < 0) {
			/* The server may have the message: deferring may duplicate, never lose. */
			smtp_reason(why, sizeof why, "%s with %s while receiving the reply to end of data "
				   "(the message may be delivered twice)", error, t->peer);
			txn_answer_rest(t, 1, SMTP_TXN_DEFERRED, "4.4.2", why);
			return;
		}
		txn_said(t, "end of DATA command", why, sizeof why);
		if (!t->lmtp) {
			txn_answer_rest(t, 1, txn_status(code), smtp_reply_dsn(t->reply), why);
			return;
		}
		txn_answer(t, i, txn_status(code), smtp_reply_dsn(t->reply), why);
	}
}

/* DATA, the message and the final dot.  SMTP_TXN_BROKEN only when the
 * session is lost before the data was offered. */
static enum smtp_txn_result txn_data(struct smtp_txn *t, char *reason, size_t rlen, const char **dsn_r)
{
	const char *error;
	int code, r;

	stream_set_timeout(t->s, t->data_init_ms);
	code = smtp_client_command(t->s, t->reply, "DATA", &error);
	if (code < 0) {
		t->lost = 1;
		if (code == -2)
			smtp_reason(reason, rlen, "lost connection with %s while sending DATA command", t->peer);
		else
			smtp_reason(reason, rlen, "%s with %s while receiving the reply to DATA command", error,
				   t->peer);
		*dsn_r = "4.4.2";
		return SMTP_TXN_BROKEN;
	}
	if (code != 354) {
		txn_said(t, "DATA command", reason, rlen);
		txn_answer_rest(t, 1, code / 100 == 5 ? SMTP_TXN_FAILED : SMTP_TXN_DEFERRED,
				smtp_reply_dsn_failure(t->reply), reason);
		return SMTP_TXN_DONE;
	}
	stream_set_timeout(t->s, t->data_block_ms);
	r = smtp_client_send_data(t->s, &t->msg->body);
	if (r < 0) {
		t->lost = 1;   /* no final dot went out: anything more would be message text */
		if (r == -2)
			smtp_reason(reason, rlen, "cannot read the queue file");
		else
			smtp_reason(reason, rlen, "lost connection with %s while sending message content", t->peer);
		txn_answer_rest(t, 1, SMTP_TXN_DEFERRED, r == -2 ? "4.3.0" : "4.4.2", reason);
		return SMTP_TXN_DONE;
	}
	txn_final_replies(t);
	t->ended = !t->lost;
	return SMTP_TXN_DONE;
}

/* Whether p[0..n) holds a byte over 0x7f (an address that needs SMTPUTF8). */
static int txn_has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

enum smtp_txn_result smtp_txn_run(struct smtp_txn *t, char *reason, size_t rlen, const char **dsn_r)
{
	size_t accepted = 0;
	int env;

	t->mail_code = 0;
	t->mail_dsn[0] = '\0';
	t->mail_sent = t->ended = t->lost = 0;
	/* SMTPUTF8: the message's need, or an 8-bit address among the
	 * recipients of this transaction (not those of others) */
	t->smtputf8 = t->msg->smtputf8;
	for (size_t i = 0; i < t->n; i++) {
		t->rcpt[i].accepted = t->rcpt[i].answered = 0;
		t->smtputf8 |= !t->rcpt[i].skip && txn_has_8bit(t->rcpt[i].addr, t->rcpt[i].len);
	}
	if (txn_precheck(t) < 0)
		return SMTP_TXN_DONE;
	env = txn_envelope(t, reason, rlen, dsn_r);
	if (env < 0)
		return SMTP_TXN_BROKEN;
	for (size_t i = 0; i < t->n; i++)
		accepted += !t->rcpt[i].skip && t->rcpt[i].accepted;
	if (env == 0 || accepted == 0 || t->envelope_only)
		return SMTP_TXN_DONE;
	return txn_data(t, reason, rlen, dsn_r);
}

/* ---- the message of an agent request ---- */


struct txn_scan {
	struct smtp_txn_msg *m;
	unsigned long long lines;
};

static int txn_scan_block(void *arg, const char *p, size_t n)
{
	struct txn_scan *sc = arg;

	for (size_t i = 0; i < n; i++) {
		sc->lines += p[i] == '\n';
		sc->m->eightbit |= (unsigned char)p[i] >= 0x80;
	}
	return 0;
}

const char *smtp_txn_msg_of_request(const struct agent_request *q, int dsn, struct smtp_txn_msg *m)
{
	const struct record *rec = &q->rec;
	struct txn_scan sc = { .m = m };
	const char *v;
	unsigned bits;

	memset(m, 0, sizeof *m);
	m->sender = q->sender;
	m->body = (struct smtp_client_body){ .prepend = q->prepend, .prepend_len = q->prepend_len, .fd = q->fd,
					     .offset = q->offset, .size = q->size };
	v = record_get(rec, "body");
	m->eightbit = v != NULL && strcasecmp(v, "8bitmime") == 0;   /* also set by the scan */
	v = record_get(rec, "smtputf8");
	m->smtputf8 = v != NULL && (strcmp(v, "yes") == 0 || strcmp(v, "1") == 0);
	m->smtputf8 |= txn_has_8bit(q->sender, strlen(q->sender));
	/* A malformed DSN field makes the request unusable: qmgr only
	 * relays what enqueue checked, so this is a broken client. */
	if (dsn) {
		m->ret = record_get(rec, "ret");
		if (m->ret != NULL && strcasecmp(m->ret, "full") != 0 && strcasecmp(m->ret, "hdrs") != 0)
			return "bad ret";
		m->envid = record_get(rec, "envid");
		if (m->envid != NULL && (*m->envid == '\0' || !queuefile_envid_valid(m->envid, strlen(m->envid))))
			return "bad envid";
		for (size_t i = 0; i < rec->n; i++) {
			const struct record_field *f = &rec->fields[i];
			if (strcmp(f->key, "notify") == 0 && queuefile_notify_parse(f->value, f->value_len, &bits) < 0)
				return "bad notify";
			if (strcmp(f->key, "orcpt") == 0 && !queuefile_orcpt_valid(f->value, f->value_len))
				return "bad orcpt";
		}
	}
	/* One pass over the data (as the DATA pump reads it): its size on
	 * the wire (RFC 1870: CRLF line ends) and whether it holds 8-bit
	 * bytes; the prepended fields are header text, one CR per line. */
	struct smtp_client_body b = m->body;
	b.prepend = NULL;
	b.prepend_len = 0;
	if (smtp_client_body_read(&b, txn_scan_block, &sc) < 0)
		return "cannot read the queue file";
	for (size_t i = 0; i < q->prepend_len; i++)
		sc.lines += q->prepend[i] == '\n';
	m->smtp_size = (unsigned long long)q->size + q->prepend_len + sc.lines + 3;   /* CRs, final ".\r\n" */
	return NULL;
}
