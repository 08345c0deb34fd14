/* remote_smtp: the SMTP client conversation with one server.
 *
 * Offers: remote_smtp_open (connect with a timeout, greeting, EHLO with
 * HELO fallback, STARTTLS per TLS policy, AUTH PLAIN/LOGIN to a relay),
 * remote_smtp_deliver (one transaction through common/smtp_txn, the
 * transaction engine the LMTP client shares: MAIL with its parameters,
 * RCPTs pipelined, DATA, the answer to the final dot), RSET for reuse
 * and QUIT.  The connect, the command writer and the reply reader are
 * common/smtp_client's.  Every wait has its own timeout from
 * postern.conf, after RFC 5321 4.5.3.2.
 *
 * Trusts: nothing the server says: replies are read by common/smtp_client
 * (bounded lines, lines per reply and text); a reply that breaks the grammar ends the
 * session like a lost connection.  Envelope data was validated by the
 * agent (no control bytes can reach a command line).
 *
 * Fails: per recipient, as the server answers (common/smtp_txn).
 * Anything that breaks the session before the data was accepted
 * (connect, timeout, greeting, EHLO, MAIL 4xx, a lost connection) is
 * REMOTE_TRY_NEXT: the caller tries the next server for the recipients
 * without a final answer.  A lost connection after the data was sent
 * defers the accepted recipients (the message may arrive twice; it is
 * never lost). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "remote.h"
#include "smtp_client.h"
#include "smtp_txn.h"
#include "tls.h"

#define REMOTE_CRED_MAX 1024          /* user:password from the map */

/* ---- small things ---- */

/* The session's last reply as "host X said: CODE text (in reply to CMD)". */
static void remote_said(const struct remote_session *s, const char *cmd, char *out, size_t len)
{
	char who[sizeof s->target.text + 8];

	snprintf(who, sizeof who, "host %s", s->target.text);
	smtp_reply_said(&s->reply, who, cmd, SMTP_TXN_SHOWN, out, len);
}

static void remote_session_free(struct remote_session **sp)
{
	struct remote_session *s = *sp;

	if (s == NULL)
		return;
	stream_free(&s->s);
	if (s->fd >= 0)
		close(s->fd);
	if (s->slot_fd >= 0)
		close(s->slot_fd);
	smtp_reply_free(&s->reply);
	free(s);
	*sp = NULL;
}

/* Read one reply within ms.  Its code, or -1 with *error_r. */
static int remote_read_reply(struct remote_session *s, int ms, const char **error_r)
{
	stream_set_timeout(s->s, ms);
	return smtp_client_read_reply(s->s, &s->reply, error_r);
}

/* Send cmd and read its reply within ms: the code, or -1 with reason set. */
static int remote_command(struct remote_session *s, int ms, const char *cmd, const char *what,
			  char *reason, size_t rlen)
{
	const char *error;
	int code;

	stream_set_timeout(s->s, ms);
	code = smtp_client_command(s->s, &s->reply, cmd, &error);
	if (code == -2)
		smtp_reason(reason, rlen, "lost connection with %s while sending %s", s->target.text, what);
	else if (code == -1)
		smtp_reason(reason, rlen, "%s with %s while receiving the reply to %s", error,
			      s->target.text, what);
	return code < 0 ? -1 : code;
}

/* ---- connecting ---- */

/* EHLO, or HELO when EHLO is refused with 5xx (RFC 5321 3.2).  0 or -1. */
static int remote_hello(struct remote_ctx *ctx, struct remote_session *s, char *reason, size_t rlen)
{
	char cmd[DNS_NAME_MAX + 16];
	int code;

	snprintf(cmd, sizeof cmd, "EHLO %s", ctx->conf.helo_name);
	code = remote_command(s, ctx->conf.helo_ms, cmd, "EHLO", reason, rlen);
	if (code < 0)
		return -1;
	if (code / 100 == 2) {
		smtp_reply_ehlo(&s->reply, &s->ext);
		return 0;
	}
	if (code / 100 != 5) {
		remote_said(s, "EHLO", reason, rlen);
		return -1;
	}
	memset(&s->ext, 0, sizeof s->ext);
	snprintf(cmd, sizeof cmd, "HELO %s", ctx->conf.helo_name);
	code = remote_command(s, ctx->conf.helo_ms, cmd, "HELO", reason, rlen);
	if (code < 0)
		return -1;
	if (code / 100 != 2) {
		remote_said(s, "HELO", reason, rlen);
		return -1;
	}
	return 0;
}

/* STARTTLS per policy (RFC 3207).  0 go on (TLS or, under may, plain), -1 fail. */
static int remote_starttls(struct remote_ctx *ctx, const struct remote_dest *dest,
			   struct remote_session *s, char *reason, size_t rlen, const char **dsn_r)
{
	int required = dest->tls >= REMOTE_TLS_ENCRYPT;
	const char *error;
	SSL_CTX *tls;
	int code;

	if (dest->tls == REMOTE_TLS_NONE || (!s->ext.starttls && !required))
		return 0;
	*dsn_r = "4.7.4";
	if (!s->ext.starttls) {
		smtp_reason(reason, rlen, "TLS is required, but was not offered by host %s", s->target.text);
		return -1;
	}
	code = remote_command(s, ctx->conf.starttls_ms, "STARTTLS", "STARTTLS", reason, rlen);
	if (code < 0)
		return -1;
	if (code != 220) {
		if (!required)
			return 0;   /* opportunistic: go on in plaintext (RFC 7435) */
		remote_said(s, "STARTTLS", reason, rlen);
		return -1;
	}
	stream_set_timeout(s->s, ctx->conf.starttls_ms);
	tls = dest->tls == REMOTE_TLS_VERIFY ? ctx->tls_ctx_verify : ctx->tls_ctx_any;
	if (tls == NULL)
		error = "no TLS client context (see the log at start)";
	if (tls == NULL || stream_start_tls(s->s, tls, 0, s->target.host, ctx->conf.tls_handshake_ms, &error) < 0) {
		*dsn_r = dest->tls == REMOTE_TLS_VERIFY ? "4.7.5" : "4.7.4";
		/* error: "TLS handshake failed: REASON" (or timed out, or no context) */
		smtp_reason(reason, rlen, "TLS with %s: %s%s", s->target.text, error,
			      dest->tls == REMOTE_TLS_VERIFY ? " (policy verify: certificate chain and name checked)" : "");
		return -1;
	}
	s->tls = 1;
	{
		const char *proto = "?", *cipher = "?";
		int bits = 0;
		stream_tls_info(s->s, &proto, &cipher, &bits);
		/* Postfix's line (log tools count it); one bits figure for both. */
		log_info("%s TLS connection established to %s: %s with cipher %s (%d/%d bits)",
			 stream_tls_peer_verified(s->s) ? "Verified" : "Untrusted", s->target.text,
			 proto, cipher, bits, bits);
	}
	/* RFC 3207 4.2: forget what was learned before TLS, say EHLO again. */
	if (remote_hello(ctx, s, reason, rlen) < 0)
		return -1;
	return 0;
}

/* Base64 (RFC 4648 4) of n bytes into out.  0 or -1. */
static int remote_base64(const unsigned char *p, size_t n, struct buf *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < n ? p[i + 2] : 0);
		char q[4] = { tab[v >> 18 & 63], tab[v >> 12 & 63],
			      i + 1 < n ? tab[v >> 6 & 63] : '=', i + 2 < n ? tab[v & 63] : '=' };
		if (buf_append(out, q, 4) < 0)
			return -1;
	}
	return 0;
}

/* One AUTH exchange step: send base64 of (p, n) as a line, read a reply. */
static int remote_auth_step(struct remote_ctx *ctx, struct remote_session *s, const char *prefix,
			    const char *p, size_t n, char *reason, size_t rlen)
{
	struct buf line;
	int code = -1;

	buf_init(&line, 2 * REMOTE_CRED_MAX + 64);
	if (buf_append_str(&line, prefix) == 0 && remote_base64((const unsigned char *)p, n, &line) == 0)
		code = remote_command(s, ctx->conf.helo_ms, line.data, "AUTH", reason, rlen);
	buf_free(&line);
	return code;
}

/* AUTH with the relay's credentials (RFC 4954; PLAIN RFC 4616, else LOGIN).
 * 0 (done or nothing to do), -1 fail. */
static int remote_auth(struct remote_ctx *ctx, const struct remote_dest *dest, struct remote_session *s,
		       char *reason, size_t rlen, const char **dsn_r)
{
	struct buf cred, msg;
	const char *colon;
	int found, code = -1;

	if (!dest->relay || ctx->auth_map == NULL)
		return 0;
	buf_init(&cred, REMOTE_CRED_MAX);
	found = cdbmap_lookup(ctx->auth_map, ctx->relayhost, strlen(ctx->relayhost), &cred);
	if (found == 0)
		found = cdbmap_lookup(ctx->auth_map, dest->name, strlen(dest->name), &cred);
	*dsn_r = "4.7.0";
	if (found <= 0 || (colon = memchr(cred.data, ':', cred.len)) == NULL) {
		if (found != 0)
			log_warn("relay password map: no usable user:password for %s", ctx->relayhost);
		buf_free(&cred);
		return found == 0 ? 0 : -1;
	}
	buf_init(&msg, 2 * REMOTE_CRED_MAX);
	if (!s->tls && !ctx->conf.auth_plaintext) {
		smtp_reason(reason, rlen, "not sending credentials to %s without TLS (remote_auth_plaintext = no)",
			      s->target.text);
	} else if (s->ext.auth_plain) {
		size_t ul = (size_t)(colon - cred.data);
		/* authzid NUL authcid NUL password */
		if (buf_putc(&msg, '\0') == 0 && buf_append(&msg, cred.data, ul) == 0 && buf_putc(&msg, '\0') == 0 &&
		    buf_append(&msg, colon + 1, cred.len - ul - 1) == 0)
			code = remote_auth_step(ctx, s, "AUTH PLAIN ", msg.data, msg.len, reason, rlen);
	} else if (s->ext.auth_login) {
		code = remote_command(s, ctx->conf.helo_ms, "AUTH LOGIN", "AUTH", reason, rlen);
		if (code == 334)
			code = remote_auth_step(ctx, s, "", cred.data, (size_t)(colon - cred.data), reason, rlen);
		if (code == 334)
			code = remote_auth_step(ctx, s, "", colon + 1, cred.len - (size_t)(colon - cred.data) - 1,
						reason, rlen);
	} else {
		smtp_reason(reason, rlen, "host %s offers no AUTH mechanism we use (PLAIN, LOGIN)", s->target.text);
	}
	buf_free(&msg);   /* wiped */
	buf_free(&cred);  /* wiped: it held the password */
	/* RFC 4954 6 says 235; any 2xx is taken, as some servers answer 250. */
	if (code / 100 == 2)
		return 0;
	if (code > 0)
		remote_said(s, "AUTH", reason, rlen);
	return -1;
}

int remote_smtp_open(struct remote_ctx *ctx, const struct remote_dest *dest,
		     const struct remote_target *target, struct remote_session **sess_r,
		     char *reason, size_t rlen, const char **dsn_r)
{
	struct remote_session *s = calloc(1, sizeof *s);
	const char *error;
	int code;

	*sess_r = NULL;
	*dsn_r = "4.4.1";
	if (s == NULL) {
		smtp_reason(reason, rlen, "out of memory");
		return -1;
	}
	s->slot_fd = -1;
	s->target = *target;
	smtp_reply_init(&s->reply);
	snprintf(s->dest_key, sizeof s->dest_key, "%s", dest->key);
	s->fd = smtp_client_connect((const struct sockaddr *)&target->addr, target->addr_len, ctx->conf.connect_ms);
	if (s->fd < 0) {
		smtp_reason(reason, rlen, "connect to %s: %s", target->text, strerror(errno));
		goto fail;
	}
	s->s = stream_new_socket(s->fd, SMTP_CLIENT_LINE_MAX, ctx->conf.greeting_ms);
	if (s->s == NULL) {
		smtp_reason(reason, rlen, "out of memory");
		goto fail;
	}
	*dsn_r = "4.4.2";
	code = remote_read_reply(s, ctx->conf.greeting_ms, &error);
	if (code < 0) {
		smtp_reason(reason, rlen, "%s with %s while receiving the initial server greeting", error,
			      target->text);
		goto fail;
	}
	if (code / 100 != 2) {
		/* 4xx and 5xx greetings both move on to the next server. */
		remote_said(s, "the initial server greeting", reason, rlen);
		goto fail;
	}
	if (remote_hello(ctx, s, reason, rlen) < 0 || remote_starttls(ctx, dest, s, reason, rlen, dsn_r) < 0 ||
	    remote_auth(ctx, dest, s, reason, rlen, dsn_r) < 0)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &s->idle_since);
	*sess_r = s;
	return 0;
fail:
	remote_session_free(&s);
	return -1;
}

/* ---- one transaction (common/smtp_txn) ---- */

static void remote_txn_answer(void *arg, size_t i, enum smtp_txn_status st, const char *dsn, const char *reason)
{
	static const char *const names[] = { [SMTP_TXN_DELIVERED] = "delivered", [SMTP_TXN_DEFERRED] = "deferred",
					     [SMTP_TXN_FAILED] = "failed" };
	struct remote_rcpt *rc = arg;

	remote_rcpt_set(&rc[i], names[st], dsn, "%s", reason);
}

enum remote_try remote_smtp_deliver(struct remote_ctx *ctx, struct remote_session **sp,
				    const struct remote_msg *m, struct remote_rcpt *rc, size_t n,
				    char *reason, size_t rlen)
{
	struct remote_session *s = *sp;
	char who[sizeof s->target.text + 8];
	struct smtp_txn_rcpt *tr = calloc(n > 0 ? n : 1, sizeof *tr);
	struct smtp_txn t = {
		.s = s->s, .reply = &s->reply, .ext = &s->ext, .peer = s->target.text, .who = who,
		.mail_ms = ctx->conf.mail_ms, .rcpt_ms = ctx->conf.rcpt_ms, .data_init_ms = ctx->conf.data_init_ms,
		.data_block_ms = ctx->conf.data_block_ms, .data_done_ms = ctx->conf.data_done_ms,
		.msg = &m->txn, .rcpt = tr, .n = n, .answer = remote_txn_answer, .arg = rc,
	};
	const char *dsn;

	if (tr == NULL) {
		snprintf(reason, rlen, "out of memory");
		remote_smtp_close(ctx, sp, 1);
		return REMOTE_TRY_NEXT;
	}
	snprintf(who, sizeof who, "host %s", s->target.text);
	for (size_t i = 0; i < n; i++)
		tr[i] = (struct smtp_txn_rcpt){ .addr = rc[i].addr, .len = rc[i].len, .notify = rc[i].notify,
						.orcpt = rc[i].orcpt, .skip = rc[i].done };
	enum smtp_txn_result r = smtp_txn_run(&t, reason, rlen, &dsn);
	/* RFC 3461 6.2.2: a server that offers DSN took each recipient's
	 * NOTIFY and reports success itself (passed); to one that does not,
	 * the message was relayed, which a NOTIFY=SUCCESS report says. */
	for (size_t i = 0; i < n; i++)
		if (!tr[i].skip && rc[i].done && strcmp(rc[i].status, "delivered") == 0)
			rc[i].action = s->ext.dsn ? "passed" : "relayed";
	free(tr);
	if (r == SMTP_TXN_BROKEN) {
		/* the recipients without an answer go to the next server */
		remote_smtp_close(ctx, sp, !t.lost);
		return REMOTE_TRY_NEXT;
	}
	if (t.mail_sent)
		s->messages++;
	if (t.lost)
		remote_smtp_close(ctx, sp, 0);
	else if (t.mail_sent && !t.ended && remote_smtp_rset(ctx, s) < 0)
		/* no message went: end the transaction so the session can be reused */
		remote_smtp_close(ctx, sp, 0);
	return REMOTE_TRY_DONE;
}

int remote_smtp_rset(struct remote_ctx *ctx, struct remote_session *s)
{
	char reason[AGENT_REASON_MAX];

	return remote_command(s, ctx->conf.rset_ms, "RSET", "RSET", reason, sizeof reason) / 100 == 2 ? 0 : -1;
}

void remote_smtp_close(struct remote_ctx *ctx, struct remote_session **sp, int quit)
{
	char reason[AGENT_REASON_MAX];

	if (*sp == NULL)
		return;
	if (quit && (*sp)->s != NULL)
		(void)remote_command(*sp, ctx->conf.quit_ms, "QUIT", "QUIT", reason, sizeof reason);
	remote_session_free(sp);
}
