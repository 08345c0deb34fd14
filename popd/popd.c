/* popd: the POP3 server (RFC 1939, with RFC 2449 CAPA and response codes).
 *
 * Offers: one POP3 session per client: USER/PASS checked by authd
 * (service=pop3), then STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP and
 * QUIT on the user's Maildir (popd_mailbox.c).  PIPELINING (RFC 2449):
 * replies are flushed only when no further command is already buffered.
 *
 * Runs as: postern-vmail, chrooted into (or, not started as root, with
 * its working directory in) DIR/mail, the mail root.  It reads and
 * writes the Maildirs below it and connects to private/authd there.
 * In this first version one process does login and session; the split
 * into a login process (no mail) and a session process (no network, no
 * passwords) comes with the POP3 issue.
 *
 * Trusts: nothing from the client: every line goes through the bounded
 * stream reader (POP3_CMD_LINE_MAX, RFC 2449 section 4) and the pure
 * parser pop3_cmd.c.  authd's mailbox path is checked again here
 * (relative, no "..").  Limits: pop3_timeout per command, at most
 * pop3_hard_error_limit errors per session, a 1 s delay after a failed
 * login, POPD_MESSAGES_MAX messages per session.
 *
 * Fails: protocol errors are `-ERR` replies, with RFC 2449/3206 codes
 * ([AUTH], [IN-USE], [SYS/TEMP]) where they apply.  A timeout, a dropped
 * connection or a broken reply ends the session without deleting
 * anything (RFC 1939 section 6: only QUIT enters the UPDATE state). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authclient.h"
#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "pop3_cmd.h"
#include "popd.h"
#include "sockets.h"
#include "stream.h"

#define POPD_USER_MAX 255

enum popd_state { POPD_AUTHORIZATION, POPD_TRANSACTION, POPD_DONE };

/* Settings read once at start. */
struct popd_limits {
	unsigned long error_limit;
	unsigned long auth_delay;
	int timeout_ms;
};

struct popd_session {
	struct stream *s;
	enum popd_state state;
	char client[64];
	struct buf user;              /* from USER, or the canonical address after PASS */
	struct popd_mailbox *mb;
	unsigned long errors;
	unsigned long error_limit;
	unsigned long auth_delay;
};

/* ---- replies ---- */

static void popd_reply(struct popd_session *ps, const char *text)
{
	stream_puts(ps->s, text);
	stream_puts(ps->s, "\r\n");
}

/* A -ERR that counts against the session's error limit. */
static void popd_error(struct popd_session *ps, const char *text)
{
	ps->errors++;
	if (ps->errors >= ps->error_limit) {
		popd_reply(ps, "-ERR Too many errors, closing connection");
		log_info("client=%s: too many errors", ps->client);
		ps->state = POPD_DONE;
		return;
	}
	stream_puts(ps->s, "-ERR ");
	popd_reply(ps, text);
}

/* ---- AUTHORIZATION state ---- */

static void popd_cmd_capa(struct popd_session *ps)
{
	/* RFC 2449 section 6: only what is implemented.  USER is offered
	 * only before login. */
	stream_puts(ps->s, "+OK Capability list follows\r\n");
	if (ps->state == POPD_AUTHORIZATION)
		stream_puts(ps->s, "USER\r\n");
	stream_puts(ps->s, "UIDL\r\nTOP\r\nPIPELINING\r\nRESP-CODES\r\n"
		    "AUTH-RESP-CODE\r\nIMPLEMENTATION Postern\r\n.\r\n");
}

static void popd_cmd_user(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	if (cmd->arg_len > POPD_USER_MAX || buf_set(&ps->user, cmd->arg, cmd->arg_len) < 0) {
		popd_error(ps, "User name too long");
		return;
	}
	popd_reply(ps, "+OK Send your password");
}

/* Open the mailbox authd named; replies on failure.  0 or -1. */
static int popd_open_mailbox(struct popd_session *ps, const struct buf *mailbox)
{
	const char *error = "";
	enum popd_open_result r = popd_mailbox_open(mailbox->data, mailbox->len, &ps->mb, &error);

	switch (r) {
	case POPD_OPEN_OK:
		return 0;
	case POPD_OPEN_LOCKED:
		log_info("user=%s client=%s: mailbox in use", buf_cstr(&ps->user), ps->client);
		popd_error(ps, "[IN-USE] Mailbox is locked by another POP3 session");
		return -1;
	case POPD_OPEN_BADPATH:
	case POPD_OPEN_FAIL:
	default:
		log_warn("user=%s mailbox=%s: %s", buf_cstr(&ps->user), buf_cstr(mailbox), error);
		popd_error(ps, "[SYS/TEMP] Cannot open the mailbox, try again later");
		return -1;
	}
}

/* RFC 1939 section 7 PASS; the secret is copied only into a buffer that
 * is wiped before return. */
static void popd_cmd_pass(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	char secret[POP3_CMD_LINE_MAX + 1];
	struct buf mailbox, canon;
	const char *error = "";
	int r;

	if (ps->user.len == 0) {
		popd_error(ps, "USER first");
		return;
	}
	if (cmd->arg_len >= sizeof(secret)) {   /* the stream's line limit forbids it */
		popd_error(ps, "Password too long");
		return;
	}
	memcpy(secret, cmd->arg, cmd->arg_len);
	secret[cmd->arg_len] = '\0';
	buf_init(&mailbox, POPD_MAILBOX_PATH_MAX);
	buf_init(&canon, POPD_USER_MAX);
	r = auth_verify_user(buf_cstr(&ps->user), secret, "pop3", ps->client, &canon, &mailbox, &error);
	explicit_bzero(secret, sizeof(secret));
	if (r == 1 && popd_open_mailbox(ps, &mailbox) == 0) {
		buf_set(&ps->user, canon.data, canon.len);
		ps->state = POPD_TRANSACTION;
		stream_printf(ps->s, "+OK %zu messages\r\n", ps->mb->n);
		log_info("login user=%s client=%s messages=%zu", buf_cstr(&ps->user), ps->client, ps->mb->n);
	} else if (r == 0) {
		/* Slow down password guessing; RFC 3206 [AUTH]. */
		sleep((unsigned int)ps->auth_delay);
		buf_reset(&ps->user);
		popd_error(ps, "[AUTH] Invalid credentials");
	} else if (r < 0) {
		log_warn("user=%s client=%s: %s", buf_cstr(&ps->user), ps->client, error);
		buf_reset(&ps->user);
		popd_error(ps, "[SYS/TEMP] Authentication service unavailable, try again later");
	} else {
		buf_reset(&ps->user);   /* mailbox problem, already answered */
	}
	buf_free(&mailbox);
	buf_free(&canon);
}

static void popd_cmd_quit(struct popd_session *ps)
{
	size_t failed;

	if (ps->state != POPD_TRANSACTION) {
		popd_reply(ps, "+OK Postern POP3 server signing off");
		ps->state = POPD_DONE;
		return;
	}
	/* RFC 1939 section 6: the UPDATE state. */
	failed = popd_mailbox_expunge(ps->mb);
	if (failed > 0)
		popd_reply(ps, "-ERR [SYS/TEMP] Some deleted messages not removed");
	else
		popd_reply(ps, "+OK Postern POP3 server signing off");
	ps->state = POPD_DONE;
}

/* ---- TRANSACTION state ---- */

/* Message number n (1-based) of a not-deleted message, as an index; or
 * -1 after replying. */
static long popd_msg_index(struct popd_session *ps, unsigned long n)
{
	if (n == 0 || n > ps->mb->n) {
		popd_error(ps, "No such message");
		return -1;
	}
	if (ps->mb->msgs[n - 1].deleted) {
		popd_error(ps, "Message is deleted");
		return -1;
	}
	return (long)(n - 1);
}

static void popd_cmd_stat(struct popd_session *ps)
{
	unsigned long long total = 0;
	size_t count = 0;

	for (size_t i = 0; i < ps->mb->n; i++)
		if (!ps->mb->msgs[i].deleted) {
			count++;
			total += ps->mb->msgs[i].size;
		}
	stream_printf(ps->s, "+OK %zu %llu\r\n", count, total);
}

/* LIST and UIDL share their shape (RFC 1939 section 5 and 7). */
static void popd_cmd_list(struct popd_session *ps, const struct pop3_cmd *cmd, int uidl)
{
	if (cmd->nnum == 1) {
		long i = popd_msg_index(ps, cmd->num[0]);
		if (i < 0)
			return;
		if (uidl)
			stream_printf(ps->s, "+OK %lu %s\r\n", cmd->num[0], ps->mb->msgs[i].uidl);
		else
			stream_printf(ps->s, "+OK %lu %llu\r\n", cmd->num[0], ps->mb->msgs[i].size);
		return;
	}
	stream_puts(ps->s, uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
	for (size_t i = 0; i < ps->mb->n; i++) {
		if (ps->mb->msgs[i].deleted)
			continue;
		if (uidl)
			stream_printf(ps->s, "%zu %s\r\n", i + 1, ps->mb->msgs[i].uidl);
		else
			stream_printf(ps->s, "%zu %llu\r\n", i + 1, ps->mb->msgs[i].size);
	}
	stream_puts(ps->s, ".\r\n");
}

static void popd_cmd_retr(struct popd_session *ps, const struct pop3_cmd *cmd, int top)
{
	long i = popd_msg_index(ps, cmd->num[0]);
	int fd;

	if (i < 0)
		return;
	fd = popd_msg_open(ps->mb, (size_t)i);
	if (fd < 0) {
		popd_error(ps, "Message is no longer available");
		return;
	}
	if (top)
		stream_puts(ps->s, "+OK Top of message follows\r\n");
	else
		stream_printf(ps->s, "+OK %llu octets\r\n", ps->mb->msgs[i].size);
	if (popd_msg_send(fd, ps->s, top, top ? cmd->num[1] : 0) < 0)
		ps->state = POPD_DONE;   /* the reply is broken: nothing else can follow */
}

static void popd_cmd_dele(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	long i = popd_msg_index(ps, cmd->num[0]);

	if (i < 0)
		return;
	ps->mb->msgs[i].deleted = 1;
	stream_printf(ps->s, "+OK Message %lu deleted\r\n", cmd->num[0]);
}

static void popd_cmd_rset(struct popd_session *ps)
{
	for (size_t i = 0; i < ps->mb->n; i++)
		ps->mb->msgs[i].deleted = 0;
	stream_printf(ps->s, "+OK %zu messages\r\n", ps->mb->n);
}

/* ---- dispatch ---- */

static void popd_dispatch_auth(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	switch (cmd->id) {
	case POP3_CMD_USER: popd_cmd_user(ps, cmd); break;
	case POP3_CMD_PASS: popd_cmd_pass(ps, cmd); break;
	case POP3_CMD_QUIT: popd_cmd_quit(ps); break;
	case POP3_CMD_CAPA: popd_cmd_capa(ps); break;
	default: popd_error(ps, "Not allowed before login"); break;
	}
}

static void popd_dispatch_trans(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	switch (cmd->id) {
	case POP3_CMD_STAT: popd_cmd_stat(ps); break;
	case POP3_CMD_LIST: popd_cmd_list(ps, cmd, 0); break;
	case POP3_CMD_UIDL: popd_cmd_list(ps, cmd, 1); break;
	case POP3_CMD_RETR: popd_cmd_retr(ps, cmd, 0); break;
	case POP3_CMD_TOP: popd_cmd_retr(ps, cmd, 1); break;
	case POP3_CMD_DELE: popd_cmd_dele(ps, cmd); break;
	case POP3_CMD_RSET: popd_cmd_rset(ps); break;
	case POP3_CMD_NOOP: popd_reply(ps, "+OK"); break;
	case POP3_CMD_QUIT: popd_cmd_quit(ps); break;
	case POP3_CMD_CAPA: popd_cmd_capa(ps); break;
	default: popd_error(ps, "Already logged in"); break;
	}
}

static void popd_command(struct popd_session *ps, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	const char *error;

	switch (pop3_cmd_parse(line, len, &cmd, &error)) {
	case POP3_CMD_OK:
		break;
	case POP3_CMD_UNKNOWN:
		popd_error(ps, "Unknown command");
		return;
	case POP3_CMD_SYNTAX:
	default:
		popd_error(ps, error);
		return;
	}
	if (ps->state == POPD_AUTHORIZATION)
		popd_dispatch_auth(ps, &cmd);
	else
		popd_dispatch_trans(ps, &cmd);
}

/* Read and answer commands until QUIT, an error limit, a timeout or EOF. */
static void popd_loop(struct popd_session *ps)
{
	while (ps->state != POPD_DONE) {
		const char *line;
		size_t len;
		enum stream_status st;

		/* PIPELINING: answer a batch of commands with one write. */
		if (stream_pending(ps->s) == 0 && stream_flush(ps->s) < 0)
			return;
		st = stream_read_line(ps->s, &line, &len);
		if (st == STREAM_OK) {
			popd_command(ps, line, len);
		} else if (st == STREAM_TOOLONG) {
			popd_error(ps, "Line too long");
		} else if (st == STREAM_TIMEOUT) {
			popd_reply(ps, "-ERR Timeout, closing connection");
			log_info("client=%s: timeout", ps->client);
			break;
		} else {
			break;   /* EOF or error: nothing is deleted */
		}
	}
	stream_flush(ps->s);
}

static void popd_limits_init(struct popd_limits *l)
{
	unsigned long long t = config_time("pop3_timeout");
	unsigned long long e = config_size("pop3_hard_error_limit");
	unsigned long long a = config_time("pop3_auth_failure_delay");

	l->timeout_ms = t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
	l->error_limit = e == 0 || e > ULONG_MAX ? ULONG_MAX : (unsigned long)e;
	l->auth_delay = a > 60 ? 60 : (unsigned long)a;   /* a delay is not a hang */
}

static void popd_serve(int in_fd, int out_fd, void *arg)
{
	const struct popd_limits *l = arg;
	struct popd_session ps;

	memset(&ps, 0, sizeof(ps));
	ps.state = POPD_AUTHORIZATION;
	ps.error_limit = l->error_limit;
	ps.auth_delay = l->auth_delay;
	if (peer_addr(in_fd, ps.client, sizeof(ps.client)) < 0)
		snprintf(ps.client, sizeof(ps.client), "%s", "unknown");
	buf_init(&ps.user, POPD_USER_MAX);
	ps.s = stream_new(in_fd, out_fd, POP3_CMD_LINE_MAX, l->timeout_ms);
	if (ps.s == NULL) {
		log_warn("out of memory");
		return;
	}
	popd_reply(&ps, "+OK Postern POP3 ready");
	popd_loop(&ps);
	if (ps.mb != NULL)
		log_info("logout user=%s client=%s", buf_cstr(&ps.user), ps.client);
	popd_mailbox_close(&ps.mb);
	buf_free(&ps.user);
	stream_free(&ps.s);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct popd_limits limits;

	daemon_init(&d, "popd", argc, argv);
	popd_limits_init(&limits);
	daemon_drop(&d);
	daemon_serve(&d, popd_serve, &limits);
	return 0;
}
