/* popd_login: the POP3 login process (AUTHORIZATION state).
 *
 * Offers: the inet services pop3 (110) and pop3s (995, implicit TLS).
 * It greets, answers CAPA (RFC 2449), STLS (RFC 2595), USER/PASS
 * (RFC 1939) and AUTH PLAIN with or without an initial response
 * (RFC 5034, RFC 4616), and QUIT.  Credentials go to authd as
 * `cmd=ticket`; on success authd answers a one-time ticket, and the
 * client is handed to the session service (private/pop3-session) with
 * the ticket (common/login_handoff.c): the plain client socket itself,
 * or, when this process terminates TLS, its own end of a socketpair,
 * which the process's relay thread (common/login_proxy.c) joins to the
 * TLS session until either side closes.  The main thread is then free
 * for the next client (daemon_serve_holding): one login process relays
 * up to login_proxy_limit TLS sessions at once.  The shared policy
 * (plaintext, failed-login delay) is common/login_policy.c's, the SASL
 * decoding common/sasl.c's.
 *
 * Runs as: postern-login, chrooted into the empty run/jail, which holds
 * only the links private/authd and private/pop3-session.  It never sees
 * mail, never opens a password file, and holds the TLS key only in
 * memory (loaded before the privilege drop).
 *
 * Trusts: nothing from the client: lines through the bounded stream
 * reader (POP3_CMD_LINE_MAX; a SASL response up to
 * POPD_SASL_LINE_MAX) and pop3_cmd.c; SASL responses are decoded and
 * checked by common/sasl.c.
 * Plaintext logins are refused on an unencrypted connection unless
 * pop3_plaintext_auth allows them (default: from loopback only).
 *
 * Fails: protocol errors are -ERR replies with RFC 2449/3206 codes.  A
 * TLS handshake (pop3s, STLS) not done within tls_handshake_timeout ends
 * the connection, logged; a stalled one would hold the process.  A
 * failed login waits pop3_auth_failure_delay, doubled for each failure
 * authd has counted for the client address or the user (up to
 * pop3_auth_failure_delay_max); when authd says a limit is reached the
 * client is told [AUTH] and disconnected.  Every failure is logged.  If
 * authd or the session service cannot be reached the client gets
 * [SYS/TEMP] and may try again. */
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "daemon.h"
#include "greeting.h"
#include "log.h"
#include "metric.h"
#include "login_handoff.h"
#include "login_policy.h"
#include "pop3_cmd.h"
#include "popd.h"
#include "sasl.h"
#include "sockets.h"
#include "stream.h"

#define POPD_SASL_LINE_MAX 2048     /* RFC 5034 section 4: responses may exceed 255 */

struct popd_login {
	const struct popd_limits *l;
	struct stream *s;
	int rfd, wfd;                 /* the client's descriptors (equal for a socket) */
	char client[LOGIN_CLIENT_MAX];
	struct buf user;              /* from USER */
	unsigned long errors;
	int done;
	int handed_off;
};

/* ---- replies ---- */

static void popd_login_reply(struct popd_login *pl, const char *text)
{
	stream_puts(pl->s, text);
	stream_puts(pl->s, "\r\n");
}

static void popd_login_error(struct popd_login *pl, const char *text)
{
	pl->errors++;
	if (pl->errors >= pl->l->error_limit) {
		popd_login_reply(pl, "-ERR Too many errors, closing connection");
		log_info("client=%s: too many errors", pl->client);
		pl->done = 1;
		return;
	}
	stream_puts(pl->s, "-ERR ");
	popd_login_reply(pl, text);
}

/* Whether USER/PASS and AUTH PLAIN may be used on this connection. */
static int popd_plaintext_ok(const struct popd_login *pl)
{
	return login_plaintext_ok(&pl->l->policy, stream_tls_active(pl->s), pl->client);
}

static void popd_login_capa(struct popd_login *pl)
{
	/* RFC 2449 section 6: only what this connection can use now. */
	stream_puts(pl->s, "+OK Capability list follows\r\n"
		    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n");
	if (popd_plaintext_ok(pl))
		stream_puts(pl->s, "USER\r\nSASL PLAIN\r\n");
	if (pl->l->tls != NULL && !stream_tls_active(pl->s))
		stream_puts(pl->s, "STLS\r\n");
	stream_puts(pl->s, "IMPLEMENTATION Postern\r\n.\r\n");
}

/* ---- handing the client to the session service ---- */

/* Hand the client over (common/login_handoff.c).  0: the session has it
 * (with TLS our relay thread keeps the TLS session); -1: still ours. */
static int popd_login_handoff(struct popd_login *pl, const struct buf *ticket)
{
	struct login_handoff h = {
		.service = POPD_SESSION_SERVICE,
		.ticket = ticket,
		.client = pl->client,
		.ipc_timeout_ms = pl->l->ipc_timeout_ms,
		.proxies = pl->l->proxies,
		.proxy_idle_ms = pl->l->proxy_idle_ms,
	};

	if (login_handoff_send(pl->s, pl->rfd, pl->wfd, &h) < 0)
		return -1;
	pl->handed_off = 1;
	metric_count(METRIC_LOGIN_POP3);
	return 0;
}

/* ---- logging in ---- */

/* Check user + password with authd and, when good, hand the client to
 * the session (which answers +OK).  Wipes nothing of the caller's. */
static void popd_login_try(struct popd_login *pl, const char *user, const char *secret)
{
	struct buf ticket;

	buf_init(&ticket, LOGIN_TICKET_MAX);
	switch (login_authenticate(&pl->l->policy, "pop3", user, secret, pl->client, &ticket)) {
	case LOGIN_OK:
		if (popd_login_handoff(pl, &ticket) == 0)
			pl->done = 1;
		else
			popd_login_error(pl, "[SYS/TEMP] Mailbox service unavailable, try again later");
		break;
	case LOGIN_THROTTLED:
		popd_login_reply(pl, "-ERR [AUTH] Too many failed logins, try again later");
		pl->done = 1;
		break;
	case LOGIN_FAILED:
		popd_login_error(pl, "[AUTH] Invalid credentials");
		break;
	case LOGIN_TEMPFAIL:
		popd_login_error(pl, "[SYS/TEMP] Authentication service unavailable, try again later");
		break;
	}
	buf_wipe(&ticket);
	buf_free(&ticket);
}

static int popd_login_plain_refused(struct popd_login *pl)
{
	if (popd_plaintext_ok(pl))
		return 0;
	popd_login_error(pl, "[AUTH] Plaintext authentication disallowed on non-secure connections, use STLS");
	return 1;
}

static void popd_login_user(struct popd_login *pl, const struct pop3_cmd *cmd)
{
	if (popd_login_plain_refused(pl))
		return;
	if (cmd->arg_len > POPD_USER_MAX || buf_set(&pl->user, cmd->arg, cmd->arg_len) < 0) {
		popd_login_error(pl, "User name too long");
		return;
	}
	popd_login_reply(pl, "+OK Send your password");
}

/* RFC 1939 section 7 PASS; the secret is copied only into a buffer that
 * is wiped before return. */
static void popd_login_pass_cmd(struct popd_login *pl, const struct pop3_cmd *cmd)
{
	char secret[POP3_CMD_LINE_MAX + 1];

	if (popd_login_plain_refused(pl))
		return;
	if (pl->user.len == 0) {
		popd_login_error(pl, "USER first");
		return;
	}
	if (cmd->arg_len >= sizeof(secret)) {   /* the stream's line limit forbids it */
		popd_login_error(pl, "Password too long");
		return;
	}
	memcpy(secret, cmd->arg, cmd->arg_len);
	secret[cmd->arg_len] = '\0';
	popd_login_try(pl, buf_cstr(&pl->user), secret);
	explicit_bzero(secret, sizeof(secret));
	buf_reset(&pl->user);
}

/* RFC 4616 PLAIN: decoded and checked by common/sasl.c; logs in when
 * well-formed.  initial: the response came with the command. */
static void popd_login_plain(struct popd_login *pl, const char *b64, size_t len, int initial)
{
	struct buf msg, user, pass;
	enum sasl_status st;

	buf_init(&msg, SASL_MESSAGE_MAX);
	buf_init(&user, SASL_USER_MAX);
	buf_init(&pass, SASL_PASSWORD_MAX);
	st = initial ? sasl_initial_decode(b64, len, &msg) : sasl_response_decode(b64, len, &msg);
	if (st == SASL_CANCEL) {
		popd_login_error(pl, "Authentication cancelled");   /* RFC 5034 section 4 */
	} else if (st != SASL_OK) {
		popd_login_error(pl, "Invalid base64");
	} else if ((st = sasl_plain_parse(msg.data, msg.len, &user, &pass)) == SASL_BAD) {
		popd_login_error(pl, "Malformed PLAIN response");
	} else if (st != SASL_OK) {
		popd_login_error(pl, "[AUTH] Invalid credentials");
	} else {
		popd_login_try(pl, buf_cstr(&user), buf_cstr(&pass));
	}
	buf_free(&msg);   /* wipes */
	buf_free(&user);
	buf_free(&pass);
}

/* RFC 5034 AUTH PLAIN [initial-response]; otherwise "+ " and one line. */
static void popd_login_auth(struct popd_login *pl, const struct pop3_cmd *cmd)
{
	size_t saved = stream_get_max_line(pl->s);
	const char *line;
	size_t len;
	enum stream_status st;

	if (sasl_mech_parse(cmd->arg, cmd->arg_len) != SASL_MECH_PLAIN) {
		popd_login_error(pl, "Unsupported authentication mechanism");
		return;
	}
	if (popd_login_plain_refused(pl))
		return;
	if (cmd->arg2 != NULL) {
		popd_login_plain(pl, cmd->arg2, cmd->arg2_len, 1);
		return;
	}
	stream_puts(pl->s, "+ \r\n");
	if (stream_flush(pl->s) < 0) {
		pl->done = 1;
		return;
	}
	stream_set_max_line(pl->s, POPD_SASL_LINE_MAX);
	st = stream_read_line(pl->s, &line, &len);
	stream_set_max_line(pl->s, saved);
	if (st == STREAM_TOOLONG) {
		popd_login_error(pl, "Response too long");
		return;
	}
	if (st != STREAM_OK) {
		pl->done = 1;
		return;
	}
	popd_login_plain(pl, line, len, 0);
}

/* RFC 2595 section 4 STLS. */
static void popd_login_stls(struct popd_login *pl)
{
	const char *error;

	if (pl->l->tls == NULL || stream_tls_active(pl->s)) {
		popd_login_error(pl, stream_tls_active(pl->s) ? "Already using TLS" : "TLS not available");
		return;
	}
	popd_login_reply(pl, "+OK Begin TLS negotiation");
	if (stream_start_tls(pl->s, pl->l->tls, 1, NULL, pl->l->tls_handshake_ms, &error) < 0) {
		log_info("client=%s: STLS failed: %s", pl->client, error);
		metric_count(METRIC_TLS_FAIL);
		pl->done = 1;
		return;
	}
	metric_count(METRIC_TLS_OK);
	buf_reset(&pl->user);   /* forget what was said in plaintext */
}

static void popd_login_dispatch(struct popd_login *pl, const struct pop3_cmd *cmd)
{
	switch (cmd->id) {
	case POP3_CMD_USER: popd_login_user(pl, cmd); break;
	case POP3_CMD_PASS: popd_login_pass_cmd(pl, cmd); break;
	case POP3_CMD_AUTH: popd_login_auth(pl, cmd); break;
	case POP3_CMD_STLS: popd_login_stls(pl); break;
	case POP3_CMD_CAPA: popd_login_capa(pl); break;
	case POP3_CMD_QUIT:
		popd_login_reply(pl, "+OK Postern POP3 server signing off");
		pl->done = 1;
		break;
	default: popd_login_error(pl, "Not allowed before login"); break;
	}
}

static void popd_login_command(struct popd_login *pl, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	const char *error;

	switch (pop3_cmd_parse(line, len, &cmd, &error)) {
	case POP3_CMD_OK:
		popd_login_dispatch(pl, &cmd);
		break;
	case POP3_CMD_UNKNOWN:
		popd_login_error(pl, "Unknown command");
		break;
	case POP3_CMD_SYNTAX:
	default:
		popd_login_error(pl, error);
		break;
	}
}

static void popd_login_loop(struct popd_login *pl)
{
	while (!pl->done) {
		const char *line;
		size_t len;
		enum stream_status st;

		if (stream_pending(pl->s) == 0 && stream_flush(pl->s) < 0)
			return;
		st = stream_read_line(pl->s, &line, &len);
		if (st == STREAM_OK) {
			popd_login_command(pl, line, len);
		} else if (st == STREAM_TOOLONG) {
			popd_login_error(pl, "Line too long");
		} else if (st == STREAM_TIMEOUT) {
			popd_login_reply(pl, "-ERR Timeout, closing connection");
			log_info("client=%s: timeout before login", pl->client);
			break;
		} else {
			break;
		}
	}
	if (!pl->handed_off)
		stream_flush(pl->s);
}

void popd_login_serve(int in_fd, int out_fd, void *arg)
{
	struct popd_login pl;

	memset(&pl, 0, sizeof(pl));
	pl.l = arg;
	pl.rfd = in_fd;
	pl.wfd = out_fd;
	buf_init(&pl.user, POPD_USER_MAX);
	pl.s = login_client_open(in_fd, out_fd, POP3_CMD_LINE_MAX, pl.l->timeout_ms,
				 pl.l->implicit_tls ? pl.l->tls : NULL, pl.l->tls_handshake_ms, pl.client,
				 sizeof(pl.client));
	if (pl.s != NULL) {
		/* A client from the connection front (docs/front.md) has it. */
		if (!daemon_client_greeted())
			popd_login_reply(&pl, GREETING_POP3);
		popd_login_loop(&pl);
	}
	buf_free(&pl.user);
	stream_free(&pl.s);
}
