/* popd_login: the POP3 login process (AUTHORIZATION state).
 *
 * Offers: the inet services pop3 (110) and pop3s (995, implicit TLS).
 * It greets, answers CAPA (RFC 2449), STLS (RFC 2595), USER/PASS
 * (RFC 1939) and AUTH PLAIN with or without an initial response
 * (RFC 5034, RFC 4616), and QUIT.  Credentials go to authd as
 * `cmd=ticket`; on success authd answers a one-time ticket, and the
 * client is handed to the session service (private/pop3-session) with
 * the ticket: the plain client socket itself, or, when this process
 * terminates TLS, its own end of a socketpair, after which it pumps
 * bytes between the TLS stream and the socketpair until either side
 * closes.  Then it is free for the next client (daemon_serve).
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
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authclient.h"
#include "buf.h"
#include "daemon.h"
#include "log.h"
#include "pop3_cmd.h"
#include "popd.h"
#include "record.h"
#include "sasl.h"
#include "sockets.h"
#include "stream.h"

#define POPD_SASL_LINE_MAX 2048     /* RFC 5034 section 4: responses may exceed 255 */
#define POPD_PROXY_BLOCK 16384
#define POPD_TICKET_MAX 128

struct popd_login {
	const struct popd_limits *l;
	struct stream *s;
	int fd;                       /* the client socket */
	char client[64];
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

/* Session -> client: one block from sp, written out over TLS. 0, or -1
 * when either side is done. */
static int popd_login_to_client(struct popd_login *pl, int sp, char *block)
{
	ssize_t n = read(sp, block, POPD_PROXY_BLOCK);

	if (n <= 0 || stream_write(pl->s, block, (size_t)n) < 0 || stream_flush(pl->s) < 0)
		return -1;
	return 0;
}

/* Client -> session: send all of out to sp.  Never block on sp alone:
 * while the session cannot take more input it may be waiting for us to
 * take its replies (a pipelining client fills both directions at once),
 * so replies are forwarded while we wait.  0 or -1. */
static int popd_login_to_session(struct popd_login *pl, int sp, char *block,
				 const char *out, size_t len)
{
	while (len > 0) {
		ssize_t n = send(sp, out, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			out += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		struct pollfd p = { .fd = sp, .events = POLLIN | POLLOUT };
		int r = poll(&p, 1, pl->l->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && !(p.revents & POLLOUT) &&
		    popd_login_to_client(pl, sp, block) < 0)
			return -1;
	}
	return 0;
}

/* Pump bytes between the TLS stream and sp until either side ends. */
static void popd_login_proxy(struct popd_login *pl, int sp)
{
	char *block = malloc(POPD_PROXY_BLOCK);
	size_t saved = stream_get_max_line(pl->s);
	struct buf out;

	if (block == NULL)
		return;
	buf_init(&out, POPD_PROXY_BLOCK * 2);
	stream_set_max_line(pl->s, POPD_PROXY_BLOCK);
	for (;;) {
		struct pollfd p[2] = { { .fd = pl->fd, .events = POLLIN }, { .fd = sp, .events = POLLIN } };
		/* Input OpenSSL has already decrypted is invisible to poll():
		 * a pipelined burst would wait for a byte the client never sends. */
		int ready = stream_tls_pending(pl->s) > 0;
		int r = ready ? 1 : poll(p, 2, pl->l->timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;   /* the session has its own timeout; this is the backstop */
		if (ready || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			/* Every complete line already here goes in one send: one
			 * small send per line would only multiply the work. */
			enum stream_status st;
			buf_reset(&out);
			do {
				const char *line;
				size_t len;
				st = stream_read_line(pl->s, &line, &len);
				if ((st == STREAM_OK || st == STREAM_EOF) && len > 0 &&
				    buf_append(&out, line, len) < 0)
					st = STREAM_ERROR;
			} while (st == STREAM_OK && out.len < POPD_PROXY_BLOCK &&
				 stream_pending(pl->s) > 0 && memchr(stream_peek(pl->s), '\n', stream_pending(pl->s)));
			if (out.len > 0 && popd_login_to_session(pl, sp, block, out.data, out.len) < 0)
				break;
			if (st != STREAM_OK)
				break;
			continue;
		}
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) && popd_login_to_client(pl, sp, block) < 0)
			break;
	}
	stream_set_max_line(pl->s, saved);
	buf_free(&out);
	free(block);
}

/* The handoff record: ticket, client, and the plain client bytes this
 * process already read past the login command. 0 or -1. */
static int popd_login_record(struct popd_login *pl, const struct buf *ticket,
			     const struct buf *pending, struct buf *out)
{
	if (record_put(out, "ticket", ticket->data, ticket->len) < 0 ||
	    record_put_str(out, "client", pl->client) < 0 ||
	    record_put_str(out, "tls", stream_tls_active(pl->s) ? "yes" : "no") < 0 ||
	    (pending->len > 0 && record_put(out, "pending", pending->data, pending->len) < 0))
		return -1;
	return record_end(out);
}

/* Send the record with fd to the session service and wait for its
 * status=ok.  0 or -1. */
static int popd_login_pass(struct popd_login *pl, const struct buf *rec, int fd)
{
	char path[256];
	struct record ans = { 0 };
	struct stream *s;
	const char *error, *status;
	int conn, r = -1;

	if (daemon_socket_path(POPD_SESSION_SERVICE, path, sizeof(path)) < 0)
		return -1;
	conn = unix_connect(path, pl->l->ipc_timeout_ms);
	if (conn < 0) {
		log_warn("client=%s: cannot reach %s: %s", pl->client, path, strerror(errno));
		return -1;
	}
	if (fd_send(conn, fd, rec->data, rec->len) == 0 &&
	    (s = stream_new(conn, conn, 1024, pl->l->ipc_timeout_ms)) != NULL) {
		if (record_read(s, &ans, &error) == STREAM_OK &&
		    (status = record_get(&ans, "status")) != NULL && strcmp(status, "ok") == 0)
			r = 0;
		stream_free(&s);
	}
	if (r < 0)
		log_warn("client=%s: the session service did not take the client", pl->client);
	record_clear(&ans);
	close(conn);
	return r;
}

/* Hand the client over.  0: the session has it (and, with TLS, we have
 * pumped until the end); -1: the client is still ours. */
static int popd_login_handoff(struct popd_login *pl, const struct buf *ticket)
{
	struct buf pending, rec;
	int sp[2] = { -1, -1 }, tls = stream_tls_active(pl->s), r = -1;
	size_t n = stream_pending(pl->s);

	buf_init(&pending, POPD_PENDING_MAX);
	buf_init(&rec, POPD_HANDOFF_MAX);
	if (stream_flush(pl->s) < 0 || n > POPD_PENDING_MAX ||
	    (n > 0 && stream_read_exact(pl->s, n, &pending) != STREAM_OK))
		goto out;
	if (tls && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		goto out;
	/* With TLS the pipelined bytes travel through the socketpair. */
	if (tls && pending.len > 0 && send(sp[0], pending.data, pending.len, MSG_NOSIGNAL) != (ssize_t)pending.len)
		goto out;
	if (tls)
		buf_reset(&pending);
	if (popd_login_record(pl, ticket, &pending, &rec) < 0 ||
	    popd_login_pass(pl, &rec, tls ? sp[1] : pl->fd) < 0)
		goto out;
	r = 0;
	pl->handed_off = 1;
	if (tls) {
		close(sp[1]);
		sp[1] = -1;
		popd_login_proxy(pl, sp[0]);
	}
out:
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	buf_wipe(&rec);
	buf_free(&rec);
	buf_free(&pending);
	return r;
}

/* ---- logging in ---- */

/* Check user + password with authd and, when good, hand the client to
 * the session (which answers +OK).  Wipes nothing of the caller's. */
static void popd_login_try(struct popd_login *pl, const char *user, const char *secret)
{
	struct buf canon, ticket;
	struct auth_failure fail;
	const char *error = "";
	int r;

	buf_init(&canon, POPD_USER_MAX);
	buf_init(&ticket, POPD_TICKET_MAX);
	r = auth_login_ticket(user, secret, "pop3", pl->client, &canon, &ticket, &fail, &error);
	if (r == 1) {
		if (popd_login_handoff(pl, &ticket) == 0) {
			pl->done = 1;
		} else {
			popd_login_error(pl, "[SYS/TEMP] Mailbox service unavailable, try again later");
		}
	} else if (r == 0) {
		log_info("login failed user=%s client=%s failures=%lu%s", user, pl->client,
			 fail.failures, fail.throttled ? " throttled" : "");
		login_failure_wait(&pl->l->policy, fail.failures);   /* slows guessing */
		if (fail.throttled) {
			popd_login_reply(pl, "-ERR [AUTH] Too many failed logins, try again later");
			pl->done = 1;
		} else {
			popd_login_error(pl, "[AUTH] Invalid credentials");
		}
	} else {
		log_warn("user=%s client=%s: %s", user, pl->client, error);
		popd_login_error(pl, "[SYS/TEMP] Authentication service unavailable, try again later");
	}
	buf_wipe(&ticket);
	buf_free(&ticket);
	buf_free(&canon);
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
		pl->done = 1;
		return;
	}
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
	const char *error;

	memset(&pl, 0, sizeof(pl));
	pl.l = arg;
	pl.fd = in_fd;
	if (peer_addr(in_fd, pl.client, sizeof(pl.client)) < 0)
		snprintf(pl.client, sizeof(pl.client), "%s", "unknown");
	buf_init(&pl.user, POPD_USER_MAX);
	pl.s = stream_new(in_fd, out_fd, POP3_CMD_LINE_MAX, pl.l->timeout_ms);
	if (pl.s == NULL) {
		log_warn("out of memory");
		return;
	}
	if (pl.l->implicit_tls && stream_start_tls(pl.s, pl.l->tls, 1, NULL, pl.l->tls_handshake_ms, &error) < 0) {
		log_info("client=%s: TLS handshake failed: %s", pl.client, error);
	} else {
		popd_login_reply(&pl, "+OK Postern POP3 ready");
		popd_login_loop(&pl);
	}
	buf_free(&pl.user);
	stream_free(&pl.s);
}
