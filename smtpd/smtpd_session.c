/* smtpd_session: one SMTP session (RFC 5321), command by command.
 *
 * Offers: smtpd_serve(), the daemon_serve_fn of smtpd: the session slot
 * of the client address (421 4.7.0 over smtpd_client_connection_limit;
 * given back at QUIT or as soon as the client is gone, before the last
 * reply is flushed and long before the session is cleaned up),
 * TLS from the first byte for SMTPS, the greeting, the command loop with
 * HELO, EHLO, MAIL, RSET, NOOP, VRFY, EXPN, HELP, STARTTLS and QUIT
 * handled here (RCPT in smtpd_rcpt.c, DATA and BDAT in smtpd_data.c, AUTH
 * in smtpd_auth.c), the reply writer, and the session limits: line length
 * (500 5.5.2), idle time (421 4.4.2), session time (421 4.4.2), error
 * count (421 4.7.0), and the TLS handshake as a whole within
 * tls_handshake_timeout (then the connection is closed: a client that
 * stalls mid-handshake must not hold the process for smtpd_timeout).
 *
 * STARTTLS (RFC 3207): input the client pipelined after the command is
 * thrown away unread by stream_start_tls (CVE-2011-0411), and everything
 * learnt before the handshake (HELO, transaction) is forgotten (4.2).
 * On submission, MAIL needs TLS and then AUTH (530 5.7.0); the sender
 * must be the user's own (553 5.7.1, smtpd_policy.c).
 *
 * PIPELINING (RFC 2920): replies are queued in the output stream and
 * flushed only when no more client input is buffered, before we block for
 * message content, and after the end-of-data reply; they always go out in
 * command order because one loop produces them.
 *
 * Trusts: nothing the client sends.  Each line comes through
 * stream_read_line with the configured cap and is parsed by
 * common/smtp_cmd.c; every argument is checked before it is stored.
 *
 * Fails: bad input becomes the protocol's reply; a lost client ends the
 * session quietly (logged), never the process. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "daemon.h"
#include "greeting.h"
#include "log.h"
#include "metric.h"
#include "smtp_cmd.h"
#include "smtpd.h"
#include "sockets.h"
#include "stream.h"

#define SMTPD_SENDER_MAX ADDRESS_PATH_MAX

static const char *smtpd_mode_name(enum smtpd_mode m)
{
	return m == SMTPD_MODE_SUBMISSION ? "submission" : m == SMTPD_MODE_SMTPS ? "smtps" : "smtp";
}

int smtpd_auth_offered(const struct smtpd_session *ss)
{
	return ss->ctx->mode != SMTPD_MODE_SMTP && ss->tls;
}

/* The session is over for the client (QUIT, gone, or our last reply
 * queued): give its slot back now, before that reply is flushed, so a
 * client that reconnects the moment it reads it never finds the old
 * session still counted.  Idempotent. */
static void smtpd_slot_release(struct smtpd_session *ss)
{
	smtpd_limit_release(ss->ctx, ss->slot);
	ss->slot = -1;
}

static long long smtpd_elapsed_ms(const struct smtpd_session *ss)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - ss->started.tv_sec) * 1000 +
	       (now.tv_nsec - ss->started.tv_nsec) / 1000000;
}

int smtpd_arm_timeout(struct smtpd_session *ss)
{
	const struct smtpd_ctx *ctx = ss->ctx;
	long long left;

	if (ctx->session_limit == 0) {
		stream_set_timeout(ss->s, ctx->timeout_ms);
		return 0;
	}
	left = (long long)(ctx->session_limit > LLONG_MAX / 1000 ? LLONG_MAX / 1000 :
			   ctx->session_limit) * 1000 - smtpd_elapsed_ms(ss);
	if (left <= 0) {
		smtpd_reply(ss, "421 4.4.2 %s Error: session time limit exceeded", ctx->hostname);
		ss->done = 1;
		return -1;
	}
	stream_set_timeout(ss->s, left < ctx->timeout_ms ? (int)left : ctx->timeout_ms);
	return 0;
}

/* An error reply in the log.  A refusal by policy (every enhanced code
 * but X.5.Y, the protocol errors, RFC 3463 3.6, and but 421) gets Postfix's reject
 * line, which log tools count as a rejected message: NOQUEUE, as no
 * queue file exists before the data.  Once enqueue has named the
 * message (its ID: client= line is out, log tools count it received),
 * every error is its ID: reject: END-OF-MESSAGE line, as Postfix
 * writes it, so that the message's log says why it was not taken. */
static void smtpd_log_error(const struct smtpd_session *ss, const char *line)
{
	const char *verb = ss->verb != NULL ? ss->verb : "CONNECT", *id = smtpd_msg_queue_id(ss);
	int protocol = strlen(line) > 8 && line[3] == ' ' && line[5] == '.' && line[6] == '5' && line[7] == '.';

	if (id != NULL) {
		log_info("%s: reject: END-OF-MESSAGE from %s: %s; from=<%s> proto=%s helo=<%s>", id,
			 ss->client_log, line, buf_cstr(&ss->sender), ss->esmtp ? "ESMTP" : "SMTP",
			 buf_cstr(&ss->helo));
		return;
	}
	/* 421: we close the session (timeout, shutdown), no verdict on mail. */
	if (protocol || strncmp(line, "421", 3) == 0 || strcmp(verb, "AUTH") == 0) {
		log_info("%s from %s: %s", verb, ss->client_log, line);
		return;
	}
	log_info("NOQUEUE: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>", verb,
		 ss->client_log, line, buf_cstr(&ss->sender), ss->log_rcpt != NULL ? " to=<" : "",
		 ss->log_rcpt != NULL ? ss->log_rcpt : "", ss->log_rcpt != NULL ? ">" : "",
		 ss->esmtp ? "ESMTP" : "SMTP", buf_cstr(&ss->helo));
}

__attribute__((format(printf, 3, 0)))
static void smtpd_vreply(struct smtpd_session *ss, int counted, const char *fmt, va_list ap)
{
	char line[SMTPD_REPLY_MAX];
	int n;

	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		log_panic("smtpd: reply too long for its buffer");
	if (line[0] == '4' || line[0] == '5') {
		if (counted) {
			ss->errors++;
			smtpd_log_error(ss, line);
		}
		metric_count(line[0] == '4' ? METRIC_REJECT_4XX : METRIC_REJECT_5XX);
	}
	(void)stream_write(ss->s, line, (size_t)n);
	(void)stream_write(ss->s, "\r\n", 2);
}

void smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtpd_vreply(ss, 1, fmt, ap);
	va_end(ap);
}

void smtpd_reply_again(struct smtpd_session *ss, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtpd_vreply(ss, 0, fmt, ap);
	va_end(ap);
}

void smtpd_reset(struct smtpd_session *ss)
{
	smtpd_msg_discard(ss);
	for (size_t i = 0; i < ss->nrcpt; i++) {
		free(ss->rcpts[i].addr);
		free(ss->rcpts[i].notify);
		free(ss->rcpts[i].orcpt);
	}
	ss->nrcpt = 0;
	ss->rcpt_fields = 0;
	ss->rcpt_overshoot = 0;
	buf_reset(&ss->sender);
	buf_reset(&ss->envid);
	ss->mail_size = 0;
	ss->smtputf8 = 0;
	ss->body[0] = '\0';
	ss->ret[0] = '\0';
	ss->in_mail = 0;
	ss->policy_instance[0] = '\0';
	ss->policy_hold = ss->policy_discard = 0;
	buf_reset(&ss->policy_prepend);
	smtpd_milter_abort(ss);
}

/* RFC 5321 4.1.1.1: the argument is a domain or an address literal.  We
 * take any printable ASCII word of at most 255 bytes: it only goes into
 * logs and the Received header, where a space or control byte could
 * forge structure. */
static int smtpd_helo_ok(const char *p, size_t len)
{
	if (len == 0 || len > SMTPD_HELO_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

static void smtpd_cmd_helo(struct smtpd_session *ss, const struct smtp_cmd *cmd, int esmtp)
{
	const struct smtpd_ctx *ctx = ss->ctx;
	struct buf helo;

	if (!smtpd_helo_ok(cmd->arg, cmd->arg_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	buf_init(&helo, SMTPD_HELO_MAX);
	/* RFC 5321 4.1.4: a second EHLO/HELO resets the transaction. */
	smtpd_reset(ss);
	if (buf_set(&helo, cmd->arg, cmd->arg_len) < 0 || !smtpd_access_helo(ss, buf_cstr(&helo))) {
		buf_free(&helo);
		return;
	}
	buf_free(&helo);
	if (buf_set(&ss->helo, cmd->arg, cmd->arg_len) < 0)
		log_panic("smtpd: HELO name over its checked size");
	ss->esmtp = esmtp;
	if (!smtpd_milter_helo(ss)) {
		buf_reset(&ss->helo);   /* refused: MAIL needs another HELO */
		return;
	}
	if (!esmtp) {
		smtpd_reply(ss, "250 %s", ctx->hostname);
		return;
	}
	smtpd_reply(ss, "250-%s", ctx->hostname);
	smtpd_reply(ss, "250-PIPELINING");
	smtpd_reply(ss, "250-SIZE %llu", ctx->size_limit);
	smtpd_reply(ss, "250-VRFY");
	if (ctx->tls != NULL && !ss->tls)
		smtpd_reply(ss, "250-STARTTLS");
	if (smtpd_auth_offered(ss) && ss->auth_user.len == 0)
		smtpd_reply(ss, "250-AUTH PLAIN LOGIN");
	smtpd_reply(ss, "250-8BITMIME");
	smtpd_reply(ss, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(ss, "250-DSN");
	smtpd_reply(ss, "250-SMTPUTF8");
	smtpd_reply(ss, "250-CHUNKING");
	smtpd_reply(ss, "250 HELP");
}

/* RFC 1870 SIZE: checked against the limit at MAIL already. */
static int smtpd_param_size(struct smtpd_session *ss, const struct smtp_param *pa)
{
	unsigned long long size, limit = ss->ctx->size_limit;

	if (smtp_param_size(pa, limit, &size) < 0) {
		smtpd_reply(ss, "501 5.5.4 Bad SIZE parameter value");
		return -1;
	}
	if (size > limit) {
		smtpd_reply(ss, "552 5.3.4 Message size exceeds fixed limit");
		return -1;
	}
	ss->mail_size = size;   /* for the free-space check */
	return 0;
}

/* Whether a parameter's value is one of two words (any case); the
 * matching word is copied to out. */
static int smtpd_param_word(const struct smtp_param *pa, const char *a, const char *b,
			    char *out, size_t outlen)
{
	const char *words[2] = { a, b };

	for (int i = 0; i < 2; i++) {
		size_t n = strlen(words[i]);

		if (pa->value != NULL && pa->value_len == n && n < outlen &&
		    strncasecmp(pa->value, words[i], n) == 0) {
			memcpy(out, words[i], n + 1);
			return 1;
		}
	}
	return 0;
}

/* One MAIL parameter.  0 when acceptable, else -1 after replying. */
static int smtpd_mail_param(struct smtpd_session *ss, const struct smtp_param *pa)
{
	if (smtp_param_is(pa, "SIZE"))
		return smtpd_param_size(ss, pa);
	if (smtp_param_is(pa, "BODY")) {
		if (smtpd_param_word(pa, "7BIT", "8BITMIME", ss->body, sizeof(ss->body)))
			return 0;
		smtpd_reply(ss, "501 5.5.4 Unsupported BODY parameter value");
		return -1;
	}
	if (smtp_param_is(pa, "SMTPUTF8") && pa->value == NULL) {
		ss->smtputf8 = 1;   /* RFC 6531 3.4 */
		return 0;
	}
	if (smtp_param_is(pa, "RET")) {
		if (ss->ret[0] == '\0' && smtpd_param_word(pa, "FULL", "HDRS", ss->ret, sizeof(ss->ret)))
			return 0;
		smtpd_reply(ss, "501 5.5.4 Bad RET parameter (RFC 3461 4.3)");
		return -1;
	}
	if (smtp_param_is(pa, "ENVID")) {
		/* Given once; the buffer's cap is RFC 3461's 100 characters. */
		if (ss->envid.len == 0 && pa->value != NULL &&
		    smtp_xtext_decode(pa->value, pa->value_len, &ss->envid) == 0 && ss->envid.len > 0)
			return 0;
		smtpd_reply(ss, "501 5.5.4 Bad ENVID parameter (RFC 3461 4.4)");
		return -1;
	}
	if (smtp_param_is(pa, "AUTH") && pa->value != NULL)
		return 0;   /* RFC 4954 5: we do not trust other servers' claims; ignored */
	/* RFC 5321 4.1.1.11: 555 for parameters not recognised. */
	smtpd_reply(ss, "555 5.5.4 Unsupported option: %.*s", (int)pa->key_len, pa->key);
	return -1;
}

int smtpd_params(struct smtpd_session *ss, const char *p, size_t len,
		 struct smtp_param params[SMTP_CMD_MAX_PARAMS], size_t *n_r)
{
	const char *err;

	if (smtp_cmd_params(p, len, params, SMTP_CMD_MAX_PARAMS, n_r, &err) < 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax error in parameters: %s", err);
		return -1;
	}
	return 0;
}

/* The ESMTP parameters of MAIL FROM.  0 when acceptable, else -1. */
static int smtpd_mail_params(struct smtpd_session *ss, const char *p, size_t len)
{
	struct smtp_param params[SMTP_CMD_MAX_PARAMS];
	size_t n;

	if (smtpd_params(ss, p, len, params, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (smtpd_mail_param(ss, &params[i]) < 0)
			return -1;
	return 0;
}

/* Whether MAIL may start at all in this mode (RFC 6409 4, RFC 3207 4). */
static int smtpd_mail_allowed(struct smtpd_session *ss)
{
	if (ss->ctx->mode == SMTPD_MODE_SMTP)
		return 1;
	if (!ss->tls) {
		smtpd_reply(ss, "530 5.7.0 Must issue a STARTTLS command first");
		return 0;
	}
	if (ss->auth_user.len == 0) {
		smtpd_reply(ss, "530 5.7.0 Authentication required");
		return 0;
	}
	return 1;
}

/* On submission the authenticated user must own the sender. */
static int smtpd_mail_sender_ok(struct smtpd_session *ss, const char *sender)
{
	int r;

	if (ss->ctx->mode == SMTPD_MODE_SMTP)
		return 1;
	r = smtpd_policy_sender_owned(ss->ctx, buf_cstr(&ss->auth_user), sender);
	if (r < 0) {
		smtpd_reply(ss, "451 4.3.0 <%s>: Temporary lookup failure", sender);
		return 0;
	}
	if (r == 0) {
		smtpd_reply(ss, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s",
			    sender, buf_cstr(&ss->auth_user));
		return 0;
	}
	return 1;
}

/* Parse the reverse-path; an address that is only valid as UTF-8 gets
 * RFC 6531 3.5's 553 5.6.7 unless SMTPUTF8 is coming.  -1 after a reply. */
static int smtpd_mail_path(struct smtpd_session *ss, const char *p, size_t len,
			   struct buf *addr, size_t *used_r)
{
	const char *err;

	if (address_parse_path(p, len, 1, 1, addr, used_r, &err) < 0 || *used_r > len) {
		smtpd_reply(ss, "501 5.1.3 Bad sender address syntax");
		return -1;
	}
	return 0;
}

/* Whether bytes hold anything but ASCII. */
static int smtpd_non_ascii(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] >= 0x80)
			return 1;
	return 0;
}

static void smtpd_cmd_mail(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	const char *rest;
	size_t rest_len, used;
	struct buf addr;

	if (ss->helo.len == 0) {
		smtpd_reply(ss, "503 5.5.1 Error: send HELO/EHLO first");
		return;
	}
	if (ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: nested MAIL command");
		return;
	}
	if (!smtpd_mail_allowed(ss))
		return;
	if (!smtp_cmd_arg_prefix(cmd->arg, cmd->arg_len, "FROM:", &rest, &rest_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	buf_init(&addr, SMTPD_SENDER_MAX);
	if (smtpd_mail_path(ss, rest, rest_len, &addr, &used) < 0) {
		buf_free(&addr);
		return;
	}
	if (smtpd_mail_params(ss, rest + used, rest_len - used) < 0) {
		smtpd_reset(ss);
	} else if (!ss->smtputf8 && smtpd_non_ascii(addr.data, addr.len)) {
		smtpd_reply(ss, "553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
		smtpd_reset(ss);
	} else if (buf_set(&ss->sender, addr.data != NULL ? addr.data : "", addr.len) < 0) {
		smtpd_reply(ss, "501 5.1.3 Bad sender address syntax");
		smtpd_reset(ss);
	} else if (!smtpd_space_check(ss) || !smtpd_mail_sender_ok(ss, buf_cstr(&ss->sender)) ||
		   !smtpd_access_mail(ss) || !smtpd_milter_mail(ss)) {
		smtpd_reset(ss);
	} else {
		ss->in_mail = 1;
		smtpd_spf_mail(ss);
		smtpd_reply(ss, "250 2.1.0 Ok");
	}
	buf_free(&addr);
}

/* RFC 3207 4: after the handshake the session starts over. */
static void smtpd_after_tls(struct smtpd_session *ss)
{
	const char *proto, *cipher;
	int bits;

	ss->tls = 1;
	smtpd_reset(ss);
	buf_reset(&ss->helo);
	ss->esmtp = 0;
	if (stream_tls_info(ss->s, &proto, &cipher, &bits) < 0 ||
	    snprintf(ss->tls_desc, sizeof(ss->tls_desc), "%s with cipher %s (%d/%d bits)",
		     proto, cipher, bits, bits) >= (int)sizeof(ss->tls_desc))
		memcpy(ss->tls_desc, "TLS", 4);
}

/* Run the handshake; on failure the session is over (the stream holds
 * half a TLS state, nothing more can be said in plaintext). */
static int smtpd_tls_handshake(struct smtpd_session *ss)
{
	const char *err;

	if (stream_start_tls(ss->s, ss->ctx->tls, 1, NULL, ss->ctx->tls_handshake_ms, &err) < 0) {
		log_info("%s: %s", ss->client_log, err);   /* err: "TLS handshake failed: REASON" */
		metric_count(METRIC_TLS_FAIL);
		ss->done = 1;
		return -1;
	}
	if (stream_tls_discarded(ss->s) > 0)
		log_warn("%s: discarded %zu bytes of plaintext pipelined after STARTTLS",
			 ss->client_log, stream_tls_discarded(ss->s));
	metric_count(METRIC_TLS_OK);
	smtpd_after_tls(ss);
	return 0;
}

static void smtpd_cmd_starttls(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	if (ss->ctx->tls == NULL) {
		smtpd_reply(ss, "502 5.5.1 Error: command not implemented");
		return;
	}
	if (ss->tls) {
		smtpd_reply(ss, "503 5.5.1 Error: TLS already active");
		return;
	}
	if (cmd->arg_len > 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax: STARTTLS");
		return;
	}
	smtpd_reply(ss, "220 2.0.0 Ready to start TLS");
	(void)smtpd_tls_handshake(ss);
}

static void smtpd_cmd_simple(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	switch (cmd->verb) {
	case SMTP_VERB_RSET:
		if (cmd->arg_len > 0) {
			smtpd_reply(ss, "501 5.5.4 Syntax: RSET");
			return;
		}
		smtpd_reset(ss);
		smtpd_reply(ss, "250 2.0.0 Ok");
		return;
	case SMTP_VERB_NOOP:
		smtpd_reply(ss, "250 2.0.0 Ok");
		return;
	case SMTP_VERB_VRFY:
		if (cmd->arg_len == 0) {
			smtpd_reply(ss, "501 5.5.4 Syntax: VRFY address");
			return;
		}
		/* RFC 5321 3.5.3: 252 when we will not verify. */
		smtpd_reply(ss, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
		return;
	case SMTP_VERB_EXPN:
		smtpd_reply(ss, "502 5.5.1 Error: command not implemented");
		return;
	case SMTP_VERB_HELP:
		smtpd_reply(ss, "214 2.0.0 Commands: HELO EHLO STARTTLS AUTH MAIL RCPT DATA BDAT RSET NOOP VRFY QUIT HELP");
		return;
	case SMTP_VERB_QUIT:
		smtpd_slot_release(ss);
		smtpd_reply(ss, "221 2.0.0 Bye");
		ss->done = 1;
		return;
	default:
		smtpd_reply(ss, "500 5.5.2 Error: command not recognized");
		return;
	}
}

static void smtpd_command(struct smtpd_session *ss, const char *line, size_t len)
{
	struct smtp_cmd cmd;
	enum smtp_cmd_status st = smtp_cmd_parse(line, len, &cmd);

	ss->commands++;
	ss->verb = smtp_cmd_verb_name(cmd.verb);
	if (st == SMTP_CMD_BADCHAR) {
		smtpd_reply(ss, "500 5.5.2 Error: bad character in command");
		return;
	}
	if (st != SMTP_CMD_OK) {
		smtpd_reply(ss, "500 5.5.2 Error: bad syntax");
		return;
	}
	if (ss->access.refused && cmd.verb != SMTP_VERB_QUIT) {
		smtpd_reply(ss, "503 5.5.1 Error: access denied, only QUIT is served");   /* RFC 5321 3.1 */
		return;
	}
	switch (cmd.verb) {
	case SMTP_VERB_HELO: smtpd_cmd_helo(ss, &cmd, 0); break;
	case SMTP_VERB_EHLO: smtpd_cmd_helo(ss, &cmd, 1); break;
	case SMTP_VERB_MAIL: smtpd_cmd_mail(ss, &cmd); break;
	case SMTP_VERB_RCPT: smtpd_cmd_rcpt(ss, &cmd); break;
	case SMTP_VERB_DATA: smtpd_cmd_data(ss, &cmd); break;
	case SMTP_VERB_BDAT: smtpd_cmd_bdat(ss, &cmd); break;
	case SMTP_VERB_AUTH: smtpd_cmd_auth(ss, &cmd); break;
	case SMTP_VERB_STARTTLS: smtpd_cmd_starttls(ss, &cmd); break;
	default: smtpd_cmd_simple(ss, &cmd); break;
	}
}

/* Read and answer commands until QUIT, a limit, or the client leaves. */
static void smtpd_loop(struct smtpd_session *ss)
{
	const struct smtpd_ctx *ctx = ss->ctx;

	while (!ss->done) {
		enum stream_status st;
		const char *line;
		size_t len;

		/* RFC 2920 3.2: flush only when the client waits for us. */
		if (stream_pending(ss->s) == 0 && stream_flush(ss->s) < 0) {
			smtpd_slot_release(ss);
			log_info("lost connection after %s from %s", ss->verb != NULL ? ss->verb : "CONNECT", ss->client_log);
			return;
		}
		if (smtpd_arm_timeout(ss) < 0)
			break;
		st = stream_read_line(ss->s, &line, &len);
		if (st == STREAM_OK) {
			smtpd_command(ss, line, len);
		} else if (st == STREAM_TOOLONG) {
			ss->verb = "unknown";
			smtpd_reply(ss, "500 5.5.2 Error: line too long");
		} else if (st == STREAM_TIMEOUT) {
			smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded", ctx->hostname);
			ss->done = 1;
		} else {
			/* EOF (with or without a partial line) or a read error:
			 * the client is gone, there is nobody to answer. */
			smtpd_slot_release(ss);
			if (ss->verb == NULL || strcmp(ss->verb, "QUIT") != 0)
				log_info("lost connection after %s from %s",
					 ss->verb != NULL ? ss->verb : "CONNECT", ss->client_log);
			return;
		}
		if (!ss->done && ctx->error_limit > 0 && ss->errors >= ctx->error_limit) {
			smtpd_reply(ss, "421 4.7.0 %s Error: too many errors", ctx->hostname);
			ss->done = 1;
		}
	}
	smtpd_slot_release(ss);
	(void)stream_flush(ss->s);
}

static void smtpd_session_free(struct smtpd_session *ss)
{
	smtpd_reset(ss);
	smtpd_milter_end(ss);
	free(ss->rcpts);
	ss->rcpts = NULL;
	buf_free(&ss->helo);
	buf_free(&ss->sender);
	buf_free(&ss->envid);
	buf_free(&ss->policy_prepend);
	buf_free(&ss->auth_user);
	stream_free(&ss->s);
}

/* Greet (after the SMTPS handshake) and run the command loop. */
static void smtpd_session_run(struct smtpd_session *ss)
{
	const struct smtpd_ctx *ctx = ss->ctx;

	if (ctx->mode == SMTPD_MODE_SMTPS && smtpd_tls_handshake(ss) < 0)
		return;
	/* RFC 5321 4.2: the greeting carries no enhanced code (RFC 2034 3).
	 * A client from the connection front (docs/front.md) has had it
	 * and sent its first line, still unread in the socket. */
	if (smtpd_access_connect(ss)) {
		char text[300];
		if (greeting_smtp(text, sizeof text, ctx->hostname) < 0)
			log_panic("myhostname over 255 bytes");   /* smtpd_ctx_init checked it */
		if (!daemon_client_greeted())
			smtpd_reply(ss, "%s", text);
	} else if (daemon_client_greeted() && !ss->done) {
		/* The refusal that replaces the greeting (554, only QUIT
		 * served) answers that first line instead: it is dropped,
		 * so that the client's next command gets the next reply. */
		const char *line;
		size_t len;
		if (stream_flush(ss->s) < 0 || smtpd_arm_timeout(ss) < 0 ||
		    stream_read_line(ss->s, &line, &len) != STREAM_OK)
			ss->done = 1;
	}
	smtpd_loop(ss);
}

static void smtpd_session_log(const struct smtpd_session *ss)
{
	log_info("disconnect from %s service=%s helo=<%s> tls=%s auth=%s commands=%lu errors=%llu "
		 "messages=%lu rcpts=%lu seconds=%lld", ss->client_log, smtpd_mode_name(ss->ctx->mode),
		 buf_cstr(&ss->helo), ss->tls ? ss->tls_desc : "no",
		 ss->auth_user.len > 0 ? buf_cstr(&ss->auth_user) : "no", ss->commands, ss->errors,
		 ss->messages, ss->rcpts_total, smtpd_elapsed_ms(ss) / 1000);
}

/* Over the per-client limit: one 421 in plaintext (for SMTPS the client
 * sees a failed handshake, which is all RFC 8314 leaves us). */
static void smtpd_refuse_busy(struct smtpd_session *ss)
{
	log_info("NOQUEUE: reject: CONNECT from %s: 421 4.7.0 too many sessions from this address (limit %llu)",
		 ss->client_log, ss->ctx->conn_limit);
	if (ss->ctx->mode != SMTPD_MODE_SMTPS) {
		(void)stream_printf(ss->s, "421 4.7.0 %s Error: too many connections from %s\r\n",
				    ss->ctx->hostname, ss->client);
		(void)stream_flush(ss->s);
	}
}

void smtpd_serve(int in_fd, int out_fd, void *arg)
{
	const struct smtpd_ctx *ctx = arg;
	struct smtpd_session ss;
	int have_addr;

	memset(&ss, 0, sizeof(ss));
	ss.ctx = ctx;
	ss.slot = -1;
	clock_gettime(CLOCK_MONOTONIC, &ss.started);
	buf_init(&ss.helo, SMTPD_HELO_MAX);
	buf_init(&ss.sender, SMTPD_SENDER_MAX);
	buf_init(&ss.envid, SMTPD_ENVID_MAX);
	buf_init(&ss.policy_prepend, SMTPD_PREPEND_MAX);
	buf_init(&ss.auth_user, SMTPD_AUTH_USER_MAX);
	have_addr = peer_addr(in_fd, ss.client, sizeof(ss.client)) == 0;
	if (!have_addr && snprintf(ss.client, sizeof(ss.client), "%s", "stdin") < 0)
		ss.client[0] = '\0';
	/* NAME[ADDR] as Postfix logs it; we look up no client names. */
	snprintf(ss.client_log, sizeof(ss.client_log), "unknown[%s]", have_addr ? ss.client : "unknown");
	/* Replies are flushed whole (stream.c): no segment of one waits
	 * for the client's delayed ACK of the one before (sockets.h). */
	socket_no_delay(out_fd);
	/* A peer address means a socket: no fstat to find out. */
	ss.s = have_addr && in_fd == out_fd ? stream_new_socket(in_fd, ctx->line_limit, ctx->timeout_ms)
					    : stream_new(in_fd, out_fd, ctx->line_limit, ctx->timeout_ms);
	if (ss.s == NULL) {
		log_warn("out of memory for the session with %s", ss.client_log);
		return;
	}
	/* The client's socket is this process's until the session ends:
	 * each command is one read(2), not poll(2) + read(2) (issue 15).
	 * Not a blocking socket (stdin, a hand-off): polls as before. */
	(void)stream_read_blocking(ss.s);
	log_info("connect from %s service=%s", ss.client_log, smtpd_mode_name(ctx->mode));
	if (have_addr && !smtpd_limit_acquire(ctx, ss.client, &ss.slot)) {
		smtpd_refuse_busy(&ss);
	} else {
		smtpd_milter_connect(&ss, in_fd);
		smtpd_session_run(&ss);
	}
	smtpd_slot_release(&ss);   /* when the session ended before its loop */
	smtpd_session_log(&ss);
	smtpd_session_free(&ss);
}
