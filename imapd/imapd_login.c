/* imapd_login: the IMAP login process (the not-authenticated state).
 *
 * Offers: the inet services imap (143) and imaps (993, implicit TLS).
 * It greets with its capabilities, answers CAPABILITY, NOOP, LOGOUT, ID
 * (RFC 2971), STARTTLS (RFC 9051 6.2.1), LOGIN and AUTHENTICATE PLAIN
 * and LOGIN with or without an initial response (SASL-IR, RFC 4959).
 * Credentials go to authd as `cmd=ticket`; on success the client is
 * handed to the session service (private/imap-session) with the ticket
 * and the login command's tag, and the session answers the tagged OK.
 * With TLS this process keeps the TLS session and relays bytes for it
 * (common/login_proxy.c) while it takes new clients.
 *
 * Runs as: postern-login, chrooted into the empty run/jail, which holds
 * only the links private/authd and private/imap-session.  It never sees
 * mail, never opens a password file, and holds the TLS key only in
 * memory (loaded before the privilege drop).
 *
 * Trusts: nothing from the client: commands through the bounded parser
 * (imap_line_limit, literals up to message_size_limit, memory capped)
 * and the typed grammar; SASL through common/sasl.c.  Plaintext logins
 * are refused on an unencrypted connection unless imap_plaintext_auth
 * allows them (default: from loopback only): CAPABILITY then says
 * LOGINDISABLED and LOGIN gets NO [PRIVACYREQUIRED].
 *
 * Fails: a failed login waits imap_auth_failure_delay, doubled per
 * failure authd counted (up to imap_auth_failure_delay_max); when authd
 * says a limit is reached the client gets NO [AUTHENTICATIONFAILED] and
 * BYE.  More than imap_hard_error_limit BADs, or imap_login_timeout of
 * silence, end the connection with BYE.  authd or the session service
 * unreachable: NO [UNAVAILABLE]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imapd.h"
#include "daemon.h"
#include "greeting.h"
#include "imapd_io.h"
#include "log.h"
#include "metric.h"
#include "login_handoff.h"
#include "record.h"
#include "sasl.h"
#include "sockets.h"

struct imapd_login {
	const struct imapd_limits *l;
	struct stream *s;
	struct imap_parser *p;
	int rfd, wfd;
	char client[LOGIN_CLIENT_MAX];
	unsigned long errors;
	int done;
	int handed_off;
};

/* ---- replies ---- */

static void login_tagged(struct imapd_login *il, const char *tag, const char *text)
{
	stream_printf(il->s, "%s %s\r\n", tag, text);
}

static void login_bad(struct imapd_login *il, const char *tag, const char *text)
{
	il->errors++;
	stream_printf(il->s, "%s BAD %s\r\n", tag != NULL ? tag : "*", text);
	if (il->errors >= il->l->error_limit) {
		stream_puts(il->s, "* BYE Too many errors, closing connection\r\n");
		log_info("client=%s: too many errors", il->client);
		il->done = 1;
	}
}

static int login_plaintext_allowed(const struct imapd_login *il)
{
	return login_plaintext_ok(&il->l->policy, stream_tls_active(il->s), il->client);
}

static int login_starttls_possible(const struct imapd_login *il)
{
	return il->l->tls != NULL && !stream_tls_active(il->s);
}

static void login_capability(struct imapd_login *il, const char *tag)
{
	struct buf caps;

	buf_init(&caps, 1024);
	if (greeting_imap_login_caps(&caps, login_starttls_possible(il), login_plaintext_allowed(il)) == 0)
		stream_printf(il->s, "* CAPABILITY %s\r\n", buf_cstr(&caps));
	buf_free(&caps);
	login_tagged(il, tag, "OK CAPABILITY completed");
}

/* ---- logging in ---- */

/* Hand the client over with the login command's tag.  0 when the
 * session has it. */
static int login_handoff(struct imapd_login *il, const char *tag, const struct buf *ticket)
{
	struct buf fields;
	struct login_handoff h = {
		.service = IMAPD_SESSION_SERVICE,
		.ticket = ticket,
		.client = il->client,
		.fields = &fields,
		.ipc_timeout_ms = il->l->ipc_timeout_ms,
		.proxies = il->l->proxies,
		.proxy_idle_ms = il->l->proxy_idle_ms,
	};
	int r = -1;

	buf_init(&fields, LOGIN_FIELDS_MAX);
	if (record_put_str(&fields, "tag", tag) == 0 &&
	    login_handoff_send(il->s, il->rfd, il->wfd, &h) == 0) {
		il->handed_off = 1;
		metric_count(METRIC_LOGIN_IMAP);
		r = 0;
	}
	buf_free(&fields);
	return r;
}

/* Check user + password with authd; when good, hand the client to the
 * session (which answers the tagged OK). */
static void login_try(struct imapd_login *il, const char *tag, const char *user, const char *secret)
{
	struct buf ticket;

	buf_init(&ticket, LOGIN_TICKET_MAX);
	switch (login_authenticate(&il->l->policy, "imap", user, secret, il->client, &ticket)) {
	case LOGIN_OK:
		if (login_handoff(il, tag, &ticket) == 0)
			il->done = 1;
		else
			login_tagged(il, tag, "NO [UNAVAILABLE] Mailbox service unavailable, try again later");
		break;
	case LOGIN_THROTTLED:
		login_tagged(il, tag, "NO [AUTHENTICATIONFAILED] Invalid credentials");
		stream_puts(il->s, "* BYE Too many failed logins, try again later\r\n");
		il->done = 1;
		break;
	case LOGIN_FAILED:
		login_tagged(il, tag, "NO [AUTHENTICATIONFAILED] Invalid credentials");
		break;
	case LOGIN_TEMPFAIL:
		login_tagged(il, tag, "NO [UNAVAILABLE] Authentication service unavailable, try again later");
		break;
	}
	buf_wipe(&ticket);
	buf_free(&ticket);
}

static int login_plain_refused(struct imapd_login *il, const char *tag)
{
	if (login_plaintext_allowed(il))
		return 0;
	login_tagged(il, tag, "NO [PRIVACYREQUIRED] Plaintext authentication disallowed, use STARTTLS");
	return 1;
}

static void login_login(struct imapd_login *il, const char *tag, const struct imap_login *lg)
{
	char *user, *pass;

	if (login_plain_refused(il, tag))
		return;
	if (lg->user_len == 0 || lg->user_len > SASL_USER_MAX || lg->pass_len > SASL_PASSWORD_MAX ||
	    memchr(lg->user, '\0', lg->user_len) != NULL || memchr(lg->pass, '\0', lg->pass_len) != NULL) {
		login_tagged(il, tag, "NO [AUTHENTICATIONFAILED] Invalid credentials");
		return;
	}
	user = strndup(lg->user, lg->user_len);
	pass = strndup(lg->pass, lg->pass_len);
	if (user != NULL && pass != NULL)
		login_try(il, tag, user, pass);
	else
		login_tagged(il, tag, "NO [UNAVAILABLE] Out of memory");
	if (pass != NULL) {
		explicit_bzero(pass, lg->pass_len);
		free(pass);
	}
	free(user);
}

/* One SASL response line from the client, after "+ challenge".  -1
 * when the exchange is over without one: the client is gone, or the line
 * passed imap_line_limit (answered here; the parser drops the rest of
 * it, and the connection goes on). */
static int login_sasl_line(struct imapd_login *il, const char *tag, const char *challenge,
			   struct buf *out, enum sasl_status *st_r)
{
	const char *line;
	size_t len;

	stream_printf(il->s, "+ %s\r\n", challenge);
	imap_parser_expect_line(il->p);
	enum imapd_event ev = imapd_read_event(il->s, il->p);
	if (ev == IMAPD_EV_ERROR) {
		login_bad(il, tag, "[TOOBIG] Response line too long");
		return -1;
	}
	if (ev != IMAPD_EV_LINE) {
		il->done = 1;
		return -1;
	}
	line = imap_parser_line(il->p, &len);
	*st_r = sasl_response_decode(line, len, out);
	imap_parser_forget(il->p);
	return 0;
}

static void login_sasl_authenticate(struct imapd_login *il, const char *tag, const struct imap_authenticate *a)
{
	enum sasl_mech mech = sasl_mech_parse(a->mechanism, strlen(a->mechanism));
	struct buf msg, user, pass;
	enum sasl_status st = SASL_OK;

	if (mech == SASL_MECH_NONE) {
		login_tagged(il, tag, "NO Unsupported authentication mechanism");
		return;
	}
	if (login_plain_refused(il, tag))
		return;
	buf_init(&msg, SASL_MESSAGE_MAX);
	buf_init(&user, SASL_USER_MAX);
	buf_init(&pass, SASL_PASSWORD_MAX);
	if (mech == SASL_MECH_PLAIN) {
		if (a->initial != NULL)
			st = sasl_initial_decode(a->initial, strlen(a->initial), &msg);
		else if (login_sasl_line(il, tag, "", &msg, &st) < 0)
			goto out;
		if (st == SASL_OK)
			st = sasl_plain_parse(msg.data, msg.len, &user, &pass);
	} else {
		/* LOGIN: the user name may come as the initial response. */
		if (a->initial != NULL)
			st = sasl_initial_decode(a->initial, strlen(a->initial), &user);
		else if (login_sasl_line(il, tag, SASL_LOGIN_USER_PROMPT, &user, &st) < 0)
			goto out;
		if (st == SASL_OK && login_sasl_line(il, tag, SASL_LOGIN_PASSWORD_PROMPT, &pass, &st) < 0)
			goto out;
		if (st == SASL_OK)
			st = sasl_login_check(&user, &pass);
	}
	if (st == SASL_CANCEL)
		login_bad(il, tag, "Authentication cancelled");   /* RFC 9051 6.2.2 */
	else if (st == SASL_BAD)
		login_bad(il, tag, "Invalid SASL response");
	else if (st != SASL_OK)
		login_tagged(il, tag, "NO [AUTHENTICATIONFAILED] Invalid credentials");
	else
		login_try(il, tag, buf_cstr(&user), buf_cstr(&pass));
out:
	buf_free(&msg);   /* wipes */
	buf_free(&user);
	buf_free(&pass);
}

static void login_starttls(struct imapd_login *il, const char *tag)
{
	const char *error;

	if (!login_starttls_possible(il)) {
		login_bad(il, tag, stream_tls_active(il->s) ? "Already using TLS" : "TLS not available");
		return;
	}
	login_tagged(il, tag, "OK Begin TLS negotiation now");
	/* Bytes the client sent after STARTTLS, before the handshake, are
	 * dropped with the parser's state (CVE-2011-0411 and kin). */
	if (stream_start_tls(il->s, il->l->tls, 1, NULL, il->l->tls_handshake_ms, &error) < 0) {
		log_info("client=%s: STARTTLS failed: %s", il->client, error);
		metric_count(METRIC_TLS_FAIL);
		il->done = 1;
		return;
	}
	metric_count(METRIC_TLS_OK);
	imap_parser_free(&il->p);
	struct imap_parser_limits pl;
	imapd_parser_limits(il->l, &pl);
	if ((il->p = imap_parser_new(&pl)) == NULL)
		il->done = 1;
}

static void login_command(struct imapd_login *il)
{
	const struct imap_cmd *cmd = imap_parser_command(il->p);
	struct imap_grammar_opts opts = { .utf8_names = false };
	struct imap_command c;
	const char *error;

	if (imap_command_parse(cmd, &opts, imap_parser_arena(il->p), &c, &error) < 0) {
		login_bad(il, cmd->tag, error);
		return;
	}
	if ((imap_command_states(c.id) & IMAP_STATE_NOT_AUTH) == 0) {
		login_bad(il, c.tag, "Log in first");
		return;
	}
	/* The tag lives in the parser's arena, which the lines of a SASL
	 * exchange reuse: keep a copy. */
	char tagbuf[IMAP_TAG_MAX + 1];
	snprintf(tagbuf, sizeof(tagbuf), "%s", c.tag);
	c.tag = tagbuf;
	switch (c.id) {
	case IMAP_CMD_CAPABILITY:
		login_capability(il, c.tag);
		break;
	case IMAP_CMD_NOOP:
		login_tagged(il, c.tag, "OK NOOP completed");
		break;
	case IMAP_CMD_LOGOUT:
		stream_puts(il->s, "* BYE Postern IMAP server signing off\r\n");
		login_tagged(il, c.tag, "OK LOGOUT completed");
		il->done = 1;
		break;
	case IMAP_CMD_ID:
		stream_puts(il->s, "* ID (\"name\" \"Postern\")\r\n");
		login_tagged(il, c.tag, "OK ID completed");
		break;
	case IMAP_CMD_STARTTLS:
		login_starttls(il, c.tag);
		break;
	case IMAP_CMD_LOGIN:
		login_login(il, c.tag, &c.u.login);
		imap_parser_forget(il->p);
		break;
	case IMAP_CMD_AUTHENTICATE:
		login_sasl_authenticate(il, c.tag, &c.u.auth);
		imap_parser_forget(il->p);
		break;
	default:
		login_bad(il, c.tag, "Log in first");
		break;
	}
}

static void login_loop(struct imapd_login *il)
{
	while (!il->done) {
		switch (imapd_read_event(il->s, il->p)) {
		case IMAPD_EV_COMMAND:
			login_command(il);
			break;
		case IMAPD_EV_ERROR: {
			const struct imap_parse_error *e = imap_parser_error(il->p);
			il->errors++;
			imapd_reply_parse_error(il->s, e);
			if (il->errors >= il->l->error_limit) {
				stream_puts(il->s, "* BYE Too many errors, closing connection\r\n");
				il->done = 1;
			}
			break;
		}
		case IMAPD_EV_TIMEOUT:
			stream_puts(il->s, "* BYE Autologout: idle for too long\r\n");
			log_info("client=%s: timeout before login", il->client);
			il->done = 1;
			break;
		case IMAPD_EV_SHUTDOWN:
			stream_puts(il->s, "* BYE Server shutting down\r\n");
			il->done = 1;
			break;
		case IMAPD_EV_LINE:
		case IMAPD_EV_CLOSED:
			il->done = 1;
			break;
		}
	}
	if (!il->handed_off)
		stream_flush(il->s);
}

void imapd_login_serve(int in_fd, int out_fd, void *arg)
{
	struct imapd_login il;
	struct imap_parser_limits pl;
	struct buf caps;

	memset(&il, 0, sizeof(il));
	il.l = arg;
	il.rfd = in_fd;
	il.wfd = out_fd;
	imapd_parser_limits(il.l, &pl);
	il.s = login_client_open(in_fd, out_fd, il.l->line_max, il.l->login_timeout_ms,
				 il.l->implicit_tls ? il.l->tls : NULL, il.l->tls_handshake_ms, il.client,
				 sizeof(il.client));
	il.p = imap_parser_new(&pl);
	buf_init(&caps, 1024);
	if (il.p == NULL)
		log_warn("out of memory");
	if (il.s != NULL && il.p != NULL) {
		/* A client from the connection front (docs/front.md) has it. */
		if (!daemon_client_greeted() &&
		    greeting_imap(&caps, login_starttls_possible(&il), login_plaintext_allowed(&il)) == 0)
			stream_printf(il.s, "%s\r\n", buf_cstr(&caps));
		login_loop(&il);
	}
	buf_free(&caps);
	imap_parser_free(&il.p);
	stream_free(&il.s);
}
