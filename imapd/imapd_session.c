/* imapd_session: the IMAP session process (authenticated and selected
 * states).
 *
 * Offers: the unix service imap-session.  A login process connects and
 * passes the client stream with a hand-off record (common/login_handoff.c:
 * the one-time ticket, the client address, the client bytes it had read
 * past the login command, and the login command's tag).  We redeem the
 * ticket with authd (which names the user and the Maildir), answer the
 * login command's tagged OK with our capabilities, and serve commands
 * until LOGOUT, imap_timeout of silence, or imap_hard_error_limit BADs.
 * Replies are flushed only when no further command is buffered.
 * COMPRESS DEFLATE (RFC 4978) compresses the client stream from the
 * tagged OK on (common/stream.c, stream_deflate.c): inside the TLS that
 * the login process terminates, as the RFC orders the layers.  The same
 * service takes back sessions from imap-hibernate (a record with
 * request=resume, imapd_resume.c), and a session idle in IDLE is handed
 * there (imapd_idle.c).
 *
 * Runs as: postern-vmail in the mail root, like the local delivery
 * agent.  It never listens on the network and never sees a password.
 *
 * Trusts: the login process (postern-login, by SO_PEERCRED) for the
 * client stream and address; the user and the Maildir come from authd.
 * A resume is taken only from our own uid (imap-hibernate), see
 * imapd_resume.c.  Commands go through the bounded parser and
 * the typed grammar (common/imap_parser.c, imap_grammar.c).
 *
 * Fails: a ticket that does not redeem is NO [UNAVAILABLE] and BYE;
 * store errors are NO [SERVERBUG] or [UNAVAILABLE] for one command; a
 * dropped connection ends the session (nothing is expunged that was not
 * asked for), so does corrupt compressed input (BYE, logged). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authclient.h"
#include "greeting.h"
#include "imapd_io.h"
#include "imapd_session.h"
#include "log.h"
#include "login_handoff.h"
#include "maildir.h"
#include "record.h"
#include "session_slots.h"
#include "stream_deflate.h"

/* ---- replies ---- */

void imapd_tagged(struct imapd_session *ss, const char *tag, const char *fmt, ...)
{
	va_list ap;
	char text[1024];

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	stream_printf(ss->s, "%s %s\r\n", tag, text);
}

void imapd_bad(struct imapd_session *ss, const char *tag, const char *text)
{
	ss->errors++;
	stream_printf(ss->s, "%s BAD %s\r\n", tag != NULL ? tag : "*", text);
	if (ss->errors >= ss->l->error_limit) {
		stream_puts(ss->s, "* BYE Too many errors, closing connection\r\n");
		log_info("user=%s client=%s: too many errors", buf_cstr(&ss->user), ss->client);
		ss->done = 1;
	}
}

/* ---- commands of any state ---- */

static void session_enable(struct imapd_session *ss, const struct imap_command *c)
{
	struct buf enabled;

	buf_init(&enabled, 128);
	for (unsigned int i = 0; i < c->u.enable.count; i++) {
		const char *name = c->u.enable.names[i];
		bool *flag = strcasecmp(name, "IMAP4rev2") == 0 ? &ss->rev2         /* RFC 9051 6.3.1 */
			     : strcasecmp(name, "CONDSTORE") == 0 ? &ss->condstore  /* RFC 7162 3.1 */
			     : strcasecmp(name, "QRESYNC") == 0 ? &ss->qresync      /* RFC 7162 3.2.3 */
			     : strcasecmp(name, "UTF8=ACCEPT") == 0 ? &ss->utf8     /* RFC 6855 3 */
			     : NULL;
		if (flag == NULL || *flag)
			continue;
		*flag = true;
		buf_printf(&enabled, " %s", flag == &ss->rev2 ? "IMAP4rev2" : flag == &ss->condstore ? "CONDSTORE"
					    : flag == &ss->qresync ? "QRESYNC" : "UTF8=ACCEPT");
	}
	if (ss->qresync)
		ss->condstore = true;   /* QRESYNC implies CONDSTORE (RFC 7162 3.2.3) */
	/* RFC 5161 3.1: only what was newly enabled, possibly nothing. */
	stream_printf(ss->s, "* ENABLED%s\r\n", buf_cstr(&enabled));
	buf_free(&enabled);
	imapd_tagged(ss, c->tag, "OK ENABLE completed");
}

static void session_namespace(struct imapd_session *ss, const struct imap_command *c)
{
	/* One personal namespace (RFC 2342): INBOX and its Maildir++ children. */
	stream_printf(ss->s, "* NAMESPACE ((\"\" \"%c\")) NIL NIL\r\n", IMAPD_HIERARCHY_SEP);
	imapd_tagged(ss, c->tag, "OK NAMESPACE completed");
}

/* RFC 4978 3: COMPRESS DEFLATE.  The tagged OK goes out uncompressed,
 * everything after it both ways is compressed, the bytes the client
 * pipelined behind the command included (stream_start_deflate). */
static void session_compress(struct imapd_session *ss, const struct imap_command *c)
{
	struct stream_deflate *z;

	if (strcasecmp(c->u.mechanism, "DEFLATE") != 0) {
		imapd_bad(ss, c->tag, "Unknown compression mechanism");
		return;
	}
	if (stream_deflate_active(ss->s)) {
		imapd_tagged(ss, c->tag, "NO [COMPRESSIONACTIVE] DEFLATE is active already");
		return;
	}
	/* Its memory first: once OK is sent there is no way back. */
	if ((z = stream_deflate_new()) == NULL) {
		log_warn("user=%s client=%s: COMPRESS: out of memory", buf_cstr(&ss->user), ss->client);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot compress now");
		return;
	}
	imapd_tagged(ss, c->tag, "OK DEFLATE active");
	if (stream_start_deflate(ss->s, &z) < 0) {
		/* The client compresses from now on: we cannot follow. */
		log_warn("user=%s client=%s: COMPRESS: %s", buf_cstr(&ss->user), ss->client, strerror(errno));
		stream_deflate_free(&z);
		ss->done = 1;
		return;
	}
	log_info("user=%s client=%s: compression on (DEFLATE)", buf_cstr(&ss->user), ss->client);
}

static void session_dispatch(struct imapd_session *ss, const struct imap_command *c)
{
	switch (c->id) {
	case IMAP_CMD_CAPABILITY:
		stream_printf(ss->s, "* CAPABILITY %s\r\n", greeting_imap_session_caps());
		imapd_tagged(ss, c->tag, "OK CAPABILITY completed");
		break;
	case IMAP_CMD_NOOP:
	case IMAP_CMD_CHECK:
		imapd_send_updates(ss, true);
		imapd_tagged(ss, c->tag, "OK %s completed", imap_command_name(c->id));
		break;
	case IMAP_CMD_LOGOUT:
		stream_puts(ss->s, "* BYE Postern IMAP server signing off\r\n");
		imapd_tagged(ss, c->tag, "OK LOGOUT completed");
		ss->done = 1;
		break;
	case IMAP_CMD_ID:
		stream_puts(ss->s, "* ID (\"name\" \"Postern\")\r\n");
		imapd_tagged(ss, c->tag, "OK ID completed");
		break;
	case IMAP_CMD_ENABLE: session_enable(ss, c); break;
	case IMAP_CMD_NAMESPACE: session_namespace(ss, c); break;
	case IMAP_CMD_COMPRESS: session_compress(ss, c); break;
	case IMAP_CMD_SELECT:
	case IMAP_CMD_EXAMINE: imapd_cmd_select(ss, c); break;
	case IMAP_CMD_LIST:
	case IMAP_CMD_LSUB: imapd_cmd_list(ss, c); break;
	case IMAP_CMD_STATUS: imapd_cmd_status(ss, c); break;
	case IMAP_CMD_CREATE: imapd_cmd_create(ss, c); break;
	case IMAP_CMD_DELETE: imapd_cmd_delete(ss, c); break;
	case IMAP_CMD_RENAME: imapd_cmd_rename(ss, c); break;
	case IMAP_CMD_SUBSCRIBE: imapd_cmd_subscribe(ss, c, true); break;
	case IMAP_CMD_UNSUBSCRIBE: imapd_cmd_subscribe(ss, c, false); break;
	case IMAP_CMD_CLOSE: imapd_cmd_close(ss, c, true); break;
	case IMAP_CMD_UNSELECT: imapd_cmd_close(ss, c, false); break;
	case IMAP_CMD_EXPUNGE: imapd_cmd_expunge(ss, c); break;
	case IMAP_CMD_STORE: imapd_cmd_store(ss, c); break;
	case IMAP_CMD_FETCH: imapd_cmd_fetch(ss, c); break;
	case IMAP_CMD_SEARCH: imapd_cmd_search(ss, c); break;
	case IMAP_CMD_SORT: imapd_cmd_sort(ss, c); break;
	case IMAP_CMD_THREAD: imapd_cmd_thread(ss, c); break;
	case IMAP_CMD_APPEND: imapd_cmd_append(ss, c); break;
	case IMAP_CMD_IDLE: imapd_cmd_idle(ss, c); break;
	case IMAP_CMD_COPY: imapd_cmd_copy(ss, c, false); break;
	case IMAP_CMD_MOVE: imapd_cmd_copy(ss, c, true); break;
	case IMAP_CMD_GETQUOTAROOT: imapd_cmd_getquotaroot(ss, c); break;
	case IMAP_CMD_GETQUOTA: imapd_cmd_getquota(ss, c); break;
	case IMAP_CMD_SETQUOTA: imapd_cmd_setquota(ss, c); break;
	case IMAP_CMD_LOGIN:
	case IMAP_CMD_AUTHENTICATE:
		imapd_bad(ss, c->tag, "Already logged in");
		break;
	case IMAP_CMD_STARTTLS:
		imapd_bad(ss, c->tag, "STARTTLS only before login");
		break;
	default:
		imapd_tagged(ss, c->tag, "NO %s is not supported yet", imap_command_name(c->id));
		break;
	}
}

static void session_command(struct imapd_session *ss)
{
	const struct imap_cmd *cmd = imap_parser_command(ss->p);
	struct imap_grammar_opts opts = { .utf8_names = imapd_utf8(ss) };
	struct imap_command c;
	const char *error;
	unsigned int state = ss->mb != NULL ? IMAP_STATE_SELECTED : IMAP_STATE_AUTH;

	if (imap_command_parse(cmd, &opts, imap_parser_arena(ss->p), &c, &error) < 0) {
		imapd_literal_abandon();
		imapd_bad(ss, cmd->tag, error);
		return;
	}
	if ((imap_command_states(c.id) & state) == 0) {
		imapd_literal_abandon();
		imapd_bad(ss, c.tag, ss->mb != NULL ? "Not allowed now" : "No mailbox selected");
		return;
	}
	session_dispatch(ss, &c);
	imapd_literal_abandon();   /* what the command did not take */
}

void imapd_session_loop(struct imapd_session *ss)
{
	while (!ss->done) {
		switch (imapd_read_event(ss->s, ss->p)) {
		case IMAPD_EV_COMMAND:
			session_command(ss);
			break;
		case IMAPD_EV_ERROR:
			imapd_literal_abandon();
			ss->errors++;
			imapd_reply_parse_error(ss->s, imap_parser_error(ss->p));
			if (ss->errors >= ss->l->error_limit) {
				stream_puts(ss->s, "* BYE Too many errors, closing connection\r\n");
				ss->done = 1;
			}
			break;
		case IMAPD_EV_TIMEOUT:
			stream_puts(ss->s, "* BYE Autologout: idle for too long\r\n");
			log_info("user=%s client=%s: timeout", buf_cstr(&ss->user), ss->client);
			ss->done = 1;
			break;
		case IMAPD_EV_SHUTDOWN:
			stream_puts(ss->s, "* BYE Server shutting down\r\n");
			log_info("user=%s client=%s: ended: the system stops", buf_cstr(&ss->user), ss->client);
			ss->done = 1;
			break;
		case IMAPD_EV_LINE:
		case IMAPD_EV_CLOSED:
			ss->done = 1;
			break;
		}
	}
	if (ss->hibernated)
		return;   /* not a byte more: the client is imap-hibernate's */
	if (stream_deflate_failure(ss->s) != NULL) {
		/* Our side of the compression is whole: the client can read why. */
		log_info("user=%s client=%s: compressed input refused: %s", buf_cstr(&ss->user), ss->client,
			 stream_deflate_failure(ss->s));
		stream_puts(ss->s, "* BYE Compressed input is corrupt\r\n");
	}
	stream_flush(ss->s);
}

/* ---- start ---- */

int imapd_slots_take(const struct imapd_limits *l, const char *user, const char *client, long long *user_slot,
		     long long *client_slot, const char **which_r)
{
	char key[IMAPD_USER_MAX + LOGIN_CLIENT_MAX + 16];

	*user_slot = *client_slot = -1;
	snprintf(key, sizeof(key), "user %s", user);
	if (!session_slots_acquire(l->slots_fd, key, l->user_sessions, user_slot)) {
		if (which_r != NULL)
			*which_r = "user";
		return 0;
	}
	snprintf(key, sizeof(key), "client %s", client);
	if (!session_slots_acquire(l->slots_fd, key, l->client_sessions, client_slot)) {
		session_slots_release(l->slots_fd, *user_slot);
		*user_slot = -1;
		if (which_r != NULL)
			*which_r = "address";
		return 0;
	}
	return 1;
}

/* Redeem the ticket; the login command's tagged reply.  0 to go on. */
static int session_start(struct imapd_session *ss, struct login_session_client *c, const char *tag)
{
	struct buf mailbox;
	const char *error = "", *which = "";
	int r;

	buf_init(&mailbox, IMAPD_MAILBOX_PATH_MAX);
	r = auth_redeem(c->ticket, "imap", &ss->user, &mailbox, &error);
	explicit_bzero(c->ticket, sizeof(c->ticket));
	while (r == 1 && mailbox.len > 1 && mailbox.data[mailbox.len - 1] == '/')
		mailbox.data[--mailbox.len] = '\0';
	if (r != 1 || !maildir_path_ok(mailbox.data, mailbox.len) || mailbox.len >= sizeof(ss->root) - 256) {
		log_warn("client=%s: ticket not redeemed: %s", ss->client, r == 0 ? "refused" : r < 0 ? error : "bad mailbox");
		imapd_tagged(ss, tag, "NO [UNAVAILABLE] Login failed, try again later");
		stream_puts(ss->s, "* BYE Closing connection\r\n");
		buf_free(&mailbox);
		return -1;
	}
	memcpy(ss->root, mailbox.data, mailbox.len + 1);
	buf_free(&mailbox);
	/* Sessions per user and per client address, across processes. */
	if (!imapd_slots_take(ss->l, buf_cstr(&ss->user), ss->client, &ss->user_slot, &ss->client_slot, &which)) {
		log_info("user=%s client=%s: too many sessions of the %s", buf_cstr(&ss->user), ss->client,
			 strcmp(which, "user") == 0 ? "user" : "client address");
		imapd_tagged(ss, tag, "NO [LIMIT] Too many sessions for this %s", which);
		stream_puts(ss->s, "* BYE Closing connection\r\n");
		return -1;
	}
	imapd_mailbox_autocreate(ss);
	imapd_tagged(ss, tag, "OK [CAPABILITY %s] Logged in", greeting_imap_session_caps());
	log_info("login user=%s client=%s%s", buf_cstr(&ss->user), ss->client, c->tls ? " tls" : "");
	return 0;
}

int imapd_session_init(struct imapd_session *ss, const struct imapd_limits *l, struct stream *s, const char *client)
{
	struct imap_parser_limits pl;

	memset(ss, 0, sizeof(*ss));
	ss->l = l;
	ss->user_slot = ss->client_slot = -1;
	ss->s = s;
	snprintf(ss->client, sizeof(ss->client), "%s", client);
	buf_init(&ss->user, IMAPD_USER_MAX);
	imapd_parser_limits(l, &pl);
	if ((ss->p = imap_parser_new(&pl)) == NULL) {
		log_warn("out of memory");
		return -1;
	}
	imap_parser_set_literal_policy(ss->p, imapd_literal_policy, ss);
	return 0;
}

void imapd_session_finish(struct imapd_session *ss)
{
	if (!ss->hibernated)
		stream_flush(ss->s);
	imapd_literal_abandon();
	imapd_unselect(ss);
	imap_parser_free(&ss->p);
	session_slots_release(ss->l->slots_fd, ss->user_slot);
	session_slots_release(ss->l->slots_fd, ss->client_slot);
	ss->user_slot = ss->client_slot = -1;
	buf_free(&ss->user);
}

void imapd_session_serve(int conn, int out_fd, void *arg)
{
	const struct imapd_limits *l = arg;
	struct login_session_client c;
	struct imapd_session ss;
	const char *req, *tag;

	(void)out_fd;
	if (login_handoff_read(conn, l->ipc_timeout_ms, &c) < 0)
		return;
	/* Not a login: a session back from imap-hibernate. */
	if ((req = record_get(&c.rec, "request")) != NULL) {
		imapd_resume_serve(conn, &c, l);
		return;
	}
	if (login_handoff_accept(conn, l->line_max, l->timeout_ms, &c) < 0)
		return;
	tag = record_get(&c.rec, "tag");
	if (imapd_session_init(&ss, l, c.s, c.client) == 0) {
		ss.tls = c.tls;
		if (tag == NULL || tag[0] == '\0') {
			log_warn("client=%s: hand-off without a tag", ss.client);
			stream_puts(ss.s, "* BYE Login failed, try again later\r\n");
		} else if (session_start(&ss, &c, tag) == 0) {
			imapd_session_loop(&ss);
			if (!ss.hibernated)
				log_info("logout user=%s client=%s", buf_cstr(&ss.user), ss.client);
		}
	}
	imapd_session_finish(&ss);
	login_handoff_done(&c);
}
