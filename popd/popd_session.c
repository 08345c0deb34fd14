/* popd_session: the POP3 session process (TRANSACTION and UPDATE state).
 *
 * Offers: the unix service pop3-session.  A login process connects and
 * hands the client over (common/login_handoff.c, docs/protocols.md
 * "Login hand-off"): the client stream, the one-time ticket authd gave
 * it, the client address, and the client bytes it had already read past
 * the login command (PIPELINING), which our stream reads first.  Once we
 * hold the client we redeem the ticket with authd (which tells us the user and the
 * mailbox), open the maildrop and answer the login command's +OK
 * ourselves; then STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP, CAPA
 * and QUIT (RFC 1939).  Replies are flushed only when no further command
 * is already buffered (RFC 2449 PIPELINING).
 *
 * Runs as: postern-vmail, chrooted into (or, not started as root, with
 * its working directory in) DIR/mail.  It never listens on the network
 * and never sees a password: the ticket is all it gets.
 *
 * Trusts: the login process (daemon_serve lets in only postern-login
 * and root, by SO_PEERCRED) only for the client stream and the client
 * address (for logs); the user and mailbox come from authd.  The hand-off
 * record is bounded (LOGIN_HANDOFF_MAX, one descriptor); client lines go
 * through the bounded stream reader (POP3_CMD_LINE_MAX) and pop3_cmd.c.
 * Limits: pop3_timeout per command, pop3_hard_error_limit errors.
 *
 * Fails: a ticket that does not redeem, a locked maildrop ([IN-USE]) or
 * a store error ([SYS/TEMP]) is a -ERR to the client and the end of the
 * connection.  A timeout, a dropped connection or a broken reply ends
 * the session without deleting anything (RFC 1939 section 6: only QUIT
 * enters the UPDATE state). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authclient.h"
#include "buf.h"
#include "login_handoff.h"
#include "daemon.h"
#include "log.h"
#include "pop3_cmd.h"
#include "popd.h"
#include "stream.h"

struct popd_session {
	struct stream *s;
	char client[LOGIN_CLIENT_MAX];
	struct buf user;              /* canonical address from authd */
	struct popd_mailbox *mb;
	unsigned long errors;
	unsigned long error_limit;
	int done;
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
		log_info("user=%s client=%s: too many errors", buf_cstr(&ps->user), ps->client);
		ps->done = 1;
		return;
	}
	stream_puts(ps->s, "-ERR ");
	popd_reply(ps, text);
}

/* ---- commands ---- */

/* Message number n (1-based) of a not-deleted message, as an index; or
 * -1 after replying. */
static long popd_msg_index(struct popd_session *ps, unsigned long n)
{
	if (n == 0 || n > ps->mb->n) {
		popd_error(ps, "No such message");
		return -1;
	}
	if (ps->mb->deleted[n - 1]) {
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
		if (!ps->mb->deleted[i]) {
			count++;
			total += popd_msg_size(ps->mb, i);
		}
	stream_printf(ps->s, "+OK %zu %llu\r\n", count, total);
}

/* One scan-listing or unique-id line's value for message i. */
static void popd_list_value(struct popd_session *ps, size_t i, int uidl, char *out, size_t outlen)
{
	if (uidl)
		popd_msg_uidl(ps->mb, i, out, outlen);
	else
		snprintf(out, outlen, "%llu", popd_msg_size(ps->mb, i));
}

/* LIST and UIDL share their shape (RFC 1939 sections 5 and 7). */
static void popd_cmd_list(struct popd_session *ps, const struct pop3_cmd *cmd, int uidl)
{
	char v[POPD_UIDL_MAX + 1];

	if (cmd->nnum == 1) {
		long i = popd_msg_index(ps, cmd->num[0]);
		if (i < 0)
			return;
		popd_list_value(ps, (size_t)i, uidl, v, sizeof(v));
		stream_printf(ps->s, "+OK %lu %s\r\n", cmd->num[0], v);
		return;
	}
	stream_puts(ps->s, uidl ? "+OK Unique-ID listing follows\r\n" : "+OK Scan listing follows\r\n");
	for (size_t i = 0; i < ps->mb->n; i++) {
		if (ps->mb->deleted[i])
			continue;
		popd_list_value(ps, i, uidl, v, sizeof(v));
		stream_printf(ps->s, "%zu %s\r\n", i + 1, v);
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
		stream_printf(ps->s, "+OK %llu octets\r\n", popd_msg_size(ps->mb, (size_t)i));
	if (popd_msg_send(fd, ps->s, top, top ? cmd->num[1] : 0) < 0)
		ps->done = 1;   /* the reply is broken: nothing else can follow */
}

static void popd_cmd_dele(struct popd_session *ps, const struct pop3_cmd *cmd)
{
	long i = popd_msg_index(ps, cmd->num[0]);

	if (i < 0)
		return;
	ps->mb->deleted[i] = 1;
	stream_printf(ps->s, "+OK Message %lu deleted\r\n", cmd->num[0]);
}

static void popd_cmd_rset(struct popd_session *ps)
{
	memset(ps->mb->deleted, 0, ps->mb->n);
	stream_printf(ps->s, "+OK %zu messages\r\n", ps->mb->n);
}

static void popd_cmd_quit(struct popd_session *ps)
{
	size_t deleted = 0, failed;

	/* RFC 1939 section 6: the UPDATE state. */
	for (size_t i = 0; i < ps->mb->n; i++)
		deleted += ps->mb->deleted[i];
	failed = popd_mailbox_expunge(ps->mb);
	/* The lock goes before the reply: a client that reconnects as soon as
	 * it reads +OK must not find its maildrop still [IN-USE]. */
	popd_mailbox_close(&ps->mb);
	if (failed > 0)
		popd_reply(ps, "-ERR [SYS/TEMP] Some deleted messages not removed");
	else
		stream_printf(ps->s, "+OK Postern POP3 server signing off (%zu deleted)\r\n", deleted);
	log_info("quit user=%s client=%s deleted=%zu failed=%zu", buf_cstr(&ps->user), ps->client,
		 deleted, failed);
	ps->done = 1;
}

static void popd_cmd_capa(struct popd_session *ps)
{
	/* RFC 2449 section 6: what this state offers. */
	stream_puts(ps->s, "+OK Capability list follows\r\n"
		    "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n"
		    "IMPLEMENTATION Postern\r\n.\r\n");
}

static void popd_dispatch(struct popd_session *ps, const struct pop3_cmd *cmd)
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
	default: popd_error(ps, "Not allowed in the TRANSACTION state"); break;
	}
}

static void popd_command(struct popd_session *ps, const char *line, size_t len)
{
	struct pop3_cmd cmd;
	const char *error;

	switch (pop3_cmd_parse(line, len, &cmd, &error)) {
	case POP3_CMD_OK:
		popd_dispatch(ps, &cmd);
		return;
	case POP3_CMD_UNKNOWN:
		popd_error(ps, "Unknown command");
		return;
	case POP3_CMD_SYNTAX:
	default:
		popd_error(ps, error);
		return;
	}
}

/* Read and answer commands until QUIT, an error limit, a timeout or EOF. */
static void popd_loop(struct popd_session *ps)
{
	while (!ps->done) {
		const char *line;
		size_t len;
		enum stream_status st;

		/* PIPELINING: answer a batch of commands with one write. */
		if (stream_pending(ps->s) == 0 && stream_flush(ps->s) < 0)
			return;
		/* Between commands the wait also ends when the system stops:
		 * the session must not hold the stop up for an idle client.  As
		 * for a client that left, nothing is deleted (RFC 1939 6). */
		int w = stream_pending(ps->s) == 0 && !stream_tls_active(ps->s)
			? daemon_wait_input(stream_fd(ps->s), stream_wait_ms(ps->s)) : 1;
		if (w < 0) {
			popd_reply(ps, "-ERR [SYS/TEMP] Server shutting down, nothing was deleted");
			log_info("user=%s client=%s: ended: the system stops", buf_cstr(&ps->user), ps->client);
			break;
		}
		st = w == 0 ? STREAM_TIMEOUT : stream_read_line(ps->s, &line, &len);
		if (st == STREAM_OK) {
			popd_command(ps, line, len);
		} else if (st == STREAM_TOOLONG) {
			popd_error(ps, "Line too long");
		} else if (st == STREAM_TIMEOUT) {
			popd_reply(ps, "-ERR Timeout, closing connection");
			log_info("user=%s client=%s: timeout", buf_cstr(&ps->user), ps->client);
			break;
		} else {
			break;   /* EOF or error: nothing is deleted */
		}
	}
	stream_flush(ps->s);
}

/* ---- the session ---- */

/* Redeem the ticket and open the maildrop; the login command's reply.
 * 0 when the session may go on. */
static int popd_session_start(struct popd_session *ps, char *ticket)
{
	struct buf mailbox;
	const char *error = "";
	enum popd_open_result o;
	int r;

	buf_init(&mailbox, POPD_MAILBOX_PATH_MAX);
	r = auth_redeem(ticket, "pop3", &ps->user, &mailbox, &error);
	explicit_bzero(ticket, strlen(ticket));
	if (r != 1) {
		log_warn("client=%s: ticket not redeemed: %s", ps->client, r == 0 ? "refused" : error);
		popd_reply(ps, "-ERR [SYS/TEMP] Login failed, try again later");
		buf_free(&mailbox);
		return -1;
	}
	o = popd_mailbox_open(mailbox.data, mailbox.len, &ps->mb, &error);
	if (o == POPD_OPEN_LOCKED) {
		log_info("user=%s client=%s: mailbox in use", buf_cstr(&ps->user), ps->client);
		popd_reply(ps, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
	} else if (o != POPD_OPEN_OK) {
		log_warn("user=%s mailbox=%s: %s", buf_cstr(&ps->user), buf_cstr(&mailbox), error);
		popd_reply(ps, "-ERR [SYS/TEMP] Cannot open the mailbox, try again later");
	}
	buf_free(&mailbox);
	if (o != POPD_OPEN_OK)
		return -1;
	stream_printf(ps->s, "+OK Logged in, %zu messages\r\n", ps->mb->n);
	log_info("login user=%s client=%s messages=%zu", buf_cstr(&ps->user), ps->client, ps->mb->n);
	return 0;
}

static void popd_session_run(const struct popd_limits *l, struct login_session_client *c)
{
	struct popd_session ps;

	memset(&ps, 0, sizeof(ps));
	ps.error_limit = l->error_limit;
	ps.s = c->s;
	memcpy(ps.client, c->client, sizeof(ps.client));
	buf_init(&ps.user, POPD_USER_MAX);
	if (popd_session_start(&ps, c->ticket) == 0) {
		popd_loop(&ps);
		log_info("logout user=%s client=%s", buf_cstr(&ps.user), ps.client);
	}
	stream_flush(ps.s);
	popd_mailbox_close(&ps.mb);
	buf_free(&ps.user);
}

void popd_session_serve(int conn, int out_fd, void *arg)
{
	const struct popd_limits *l = arg;
	struct login_session_client c;

	(void)out_fd;
	/* The login's read-ahead comes first through c.s (PIPELINING). */
	if (login_handoff_receive(conn, l->ipc_timeout_ms, POP3_CMD_LINE_MAX, l->timeout_ms, &c) < 0)
		return;
	popd_session_run(l, &c);
	login_handoff_done(&c);
}
