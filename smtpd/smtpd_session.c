/* smtpd_session: one SMTP session (RFC 5321), command by command.
 *
 * Offers: smtpd_serve(), the daemon_serve_fn of smtpd: greeting, the
 * command loop with HELO, EHLO, MAIL, RSET, NOOP, VRFY, EXPN, HELP and
 * QUIT handled here (RCPT in smtpd_rcpt.c, DATA in smtpd_data.c), the
 * reply writer, and the session limits: line length (500 5.5.2), idle
 * time (421 4.4.2), error count (421 4.7.0).
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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "address.h"
#include "log.h"
#include "smtp_cmd.h"
#include "smtpd.h"
#include "sockets.h"
#include "stream.h"

#define SMTPD_SENDER_MAX ADDRESS_PATH_MAX

void smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
{
	char line[SMTPD_REPLY_MAX];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		log_panic("smtpd: reply too long for its buffer");
	if (line[0] == '4' || line[0] == '5') {
		ss->errors++;
		log_info("reject: %s from %s: %s; from=<%s> helo=<%s>",
			 ss->verb != NULL ? ss->verb : "connect", ss->client, line,
			 buf_cstr(&ss->sender), buf_cstr(&ss->helo));
	}
	(void)stream_write(ss->s, line, (size_t)n);
	(void)stream_write(ss->s, "\r\n", 2);
}

void smtpd_reset(struct smtpd_session *ss)
{
	for (size_t i = 0; i < ss->nrcpt; i++)
		free(ss->rcpts[i]);
	ss->nrcpt = 0;
	buf_reset(&ss->sender);
	ss->in_mail = 0;
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

	if (!smtpd_helo_ok(cmd->arg, cmd->arg_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		return;
	}
	/* RFC 5321 4.1.4: a second EHLO/HELO resets the transaction. */
	smtpd_reset(ss);
	if (buf_set(&ss->helo, cmd->arg, cmd->arg_len) < 0)
		log_panic("smtpd: HELO name over its checked size");
	ss->esmtp = esmtp;
	if (!esmtp) {
		smtpd_reply(ss, "250 %s", ctx->hostname);
		return;
	}
	smtpd_reply(ss, "250-%s", ctx->hostname);
	smtpd_reply(ss, "250-PIPELINING");
	smtpd_reply(ss, "250-SIZE %llu", ctx->size_limit);
	smtpd_reply(ss, "250-VRFY");
	smtpd_reply(ss, "250-8BITMIME");
	smtpd_reply(ss, "250-ENHANCEDSTATUSCODES");
	smtpd_reply(ss, "250 HELP");
}

/* The ESMTP parameters of MAIL FROM (RFC 1870 SIZE, RFC 6152 BODY).
 * 0 when acceptable, else -1 after replying. */
static int smtpd_mail_params(struct smtpd_session *ss, const char *p, size_t len)
{
	struct smtp_param params[SMTP_CMD_MAX_PARAMS];
	const char *err;
	size_t n;

	if (smtp_cmd_params(p, len, params, SMTP_CMD_MAX_PARAMS, &n, &err) < 0) {
		smtpd_reply(ss, "501 5.5.4 Syntax error in parameters: %s", err);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct smtp_param *pa = &params[i];
		unsigned long long size;
		unsigned long long limit = ss->ctx->size_limit;

		if (smtp_param_is(pa, "SIZE")) {
			if (smtp_param_size(pa, limit ? limit : ~0ULL, &size) < 0) {
				smtpd_reply(ss, "501 5.5.4 Bad SIZE parameter value");
				return -1;
			}
			if (limit != 0 && size > limit) {
				smtpd_reply(ss, "552 5.3.4 Message size exceeds fixed limit");
				return -1;
			}
		} else if (smtp_param_is(pa, "BODY")) {
			if (pa->value == NULL ||
			    !((pa->value_len == 4 && strncasecmp(pa->value, "7BIT", 4) == 0) ||
			      (pa->value_len == 8 && strncasecmp(pa->value, "8BITMIME", 8) == 0))) {
				smtpd_reply(ss, "501 5.5.4 Unsupported BODY parameter value");
				return -1;
			}
		} else {
			/* RFC 5321 4.1.1.11: 555 for parameters not recognised. */
			smtpd_reply(ss, "555 5.5.4 Unsupported option: %.*s",
				    (int)pa->key_len, pa->key);
			return -1;
		}
	}
	return 0;
}

static void smtpd_cmd_mail(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	const char *rest, *err;
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
	if (!smtp_cmd_arg_prefix(cmd->arg, cmd->arg_len, "FROM:", &rest, &rest_len)) {
		smtpd_reply(ss, "501 5.5.4 Syntax: MAIL FROM:<address>");
		return;
	}
	buf_init(&addr, SMTPD_SENDER_MAX);
	if (address_parse_path(rest, rest_len, 1, 0, &addr, &used, &err) < 0) {
		smtpd_reply(ss, "501 5.1.3 Bad sender address syntax");
		buf_free(&addr);
		return;
	}
	if (used > rest_len)
		log_panic("smtpd: address parser consumed past its input");
	if (smtpd_mail_params(ss, rest + used, rest_len - used) == 0) {
		if (buf_set(&ss->sender, addr.data != NULL ? addr.data : "", addr.len) < 0)
			smtpd_reply(ss, "501 5.1.3 Bad sender address syntax");
		else {
			ss->in_mail = 1;
			smtpd_reply(ss, "250 2.1.0 Ok");
		}
	}
	buf_free(&addr);
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
		smtpd_reply(ss, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY QUIT HELP");
		return;
	case SMTP_VERB_QUIT:
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
	switch (cmd.verb) {
	case SMTP_VERB_HELO: smtpd_cmd_helo(ss, &cmd, 0); break;
	case SMTP_VERB_EHLO: smtpd_cmd_helo(ss, &cmd, 1); break;
	case SMTP_VERB_MAIL: smtpd_cmd_mail(ss, &cmd); break;
	case SMTP_VERB_RCPT: smtpd_cmd_rcpt(ss, &cmd); break;
	case SMTP_VERB_DATA: smtpd_cmd_data(ss, &cmd); break;
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
			log_info("lost connection after %s from %s", ss->verb != NULL ? ss->verb : "CONNECT", ss->client);
			return;
		}
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
			if (ss->verb == NULL || strcmp(ss->verb, "QUIT") != 0)
				log_info("lost connection after %s from %s",
					 ss->verb != NULL ? ss->verb : "CONNECT", ss->client);
			return;
		}
		if (!ss->done && ctx->error_limit > 0 && ss->errors >= ctx->error_limit) {
			smtpd_reply(ss, "421 4.7.0 %s Error: too many errors", ctx->hostname);
			ss->done = 1;
		}
	}
	(void)stream_flush(ss->s);
}

static void smtpd_session_free(struct smtpd_session *ss)
{
	smtpd_reset(ss);
	free(ss->rcpts);
	ss->rcpts = NULL;
	buf_free(&ss->helo);
	buf_free(&ss->sender);
	stream_free(&ss->s);
}

void smtpd_serve(int in_fd, int out_fd, void *arg)
{
	const struct smtpd_ctx *ctx = arg;
	struct smtpd_session ss;

	memset(&ss, 0, sizeof(ss));
	ss.ctx = ctx;
	buf_init(&ss.helo, SMTPD_HELO_MAX);
	buf_init(&ss.sender, SMTPD_SENDER_MAX);
	if (peer_addr(in_fd, ss.client, sizeof(ss.client)) < 0 &&
	    snprintf(ss.client, sizeof(ss.client), "%s", "stdin") < 0)
		ss.client[0] = '\0';
	ss.s = stream_new(in_fd, out_fd, ctx->line_limit, ctx->timeout_ms);
	if (ss.s == NULL) {
		log_warn("out of memory for the session with %s", ss.client);
		return;
	}
	log_info("connect from %s", ss.client);
	/* RFC 5321 4.2: the greeting carries no enhanced code (RFC 2034 3). */
	smtpd_reply(&ss, "220 %s ESMTP Postern", ctx->hostname);
	smtpd_loop(&ss);
	log_info("disconnect from %s commands=%lu errors=%llu messages=%lu rcpts=%lu",
		 ss.client, ss.commands, ss.errors, ss.messages, ss.rcpts_total);
	smtpd_session_free(&ss);
}
