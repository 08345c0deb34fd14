/* lmtp_client: deliver one message over LMTP (RFC 2033).
 *
 * Offers: lmtp_deliver(): connect, greeting, LHLO, then one transaction
 * through common/smtp_txn, the transaction engine remote delivery uses
 * too (as Postfix's smtp is also its lmtp): MAIL FROM with SIZE,
 * BODY=8BITMIME and SMTPUTF8 where the server offers them, the RCPTs
 * pipelined (RFC 2033 4.1: an LMTP server offers PIPELINING), DATA, the
 * message (every LF, CRLF and bare CR as CRLF, a leading '.' doubled:
 * common/smtp_client_data), the final dot, then one reply per recipient
 * that RCPT accepted, in RCPT order (RFC 2033 4.2), and QUIT.  No DSN
 * parameters are passed on: LMTP is final delivery, and the queue keeps
 * the duty of success and failure notices.
 *
 * lmtp_probe() asks the same way whether the server would take one
 * recipient, without sending mail: LHLO, MAIL FROM:<>, RCPT TO, QUIT,
 * the whole exchange within its timeout (the verify service answers an
 * SMTP client waiting at RCPT, issue 9 item 9).
 *
 * Trusts: nothing the server says: replies are read by common/smtp_client
 * (bounded lines, lines per reply and text), a malformed one ends the
 * session like a lost connection.  The caller validated the envelope (no
 * control bytes can reach a command line).  Destinations are
 * common/lmtp_dest's.
 *
 * Fails: each recipient gets exactly one answer.  Before the final dot,
 * a refused connection, a timeout, a lost connection, a bad greeting or
 * LHLO reply, or a 4xx to MAIL defers every recipient without an answer
 * (4.4.x or MAIL's status, the mail stays queued); 5xx to MAIL fails
 * them all, RCPT 4xx and 5xx defer and fail that recipient; any other
 * reply to DATA than 354 defers (5xx fails) the accepted recipients (a
 * 2xx is 4.0.0, never a success status).  A message that needs SMTPUTF8
 * fails with 5.6.7 when the server does not offer it (RFC 6531 3.4).
 * After the final dot each recipient gets its own reply; a connection
 * lost in the middle defers the recipients without a reply (the message
 * may then arrive twice for them, never zero times). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lmtp_client.h"
#include "smtp_client.h"
#include "smtp_txn.h"
#include "stream.h"

#define LMTP_CMD_MAX 600              /* a command with a path of at most 256 octets */
#define LMTP_QUIT_MS 2000             /* QUIT is a courtesy: do not wait long */

struct lmtp_session {
	const struct lmtp_msg *m;
	char where[LMTP_HOST_MAX + LMTP_PATH_MAX + 16];
	char who[LMTP_HOST_MAX + LMTP_PATH_MAX + 24];   /* "lmtp WHERE" */
	int fd;
	int broken;                   /* out of step or gone: no QUIT */
	struct stream *s;
	struct smtp_reply reply;
	struct smtp_ext ext;          /* from the LHLO reply */
};

/* ---- answers ---- */

static void lmtp_set(struct lmtp_answer *a, enum lmtp_status st, const char *dsn, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void lmtp_set(struct lmtp_answer *a, enum lmtp_status st, const char *dsn, const char *fmt, ...)
{
	va_list ap;

	a->status = st;
	snprintf(a->dsn, sizeof a->dsn, "%s", dsn);
	va_start(ap, fmt);
	vsnprintf(a->reason, sizeof a->reason, fmt, ap);   /* a diagnostic; a cut only shortens it */
	va_end(ap);
}

/* The answer that reply code gives, "server said" text included. */
static void lmtp_from_reply(struct lmtp_session *ls, struct lmtp_answer *a, const char *cmd)
{
	const struct smtp_reply *r = &ls->reply;

	a->status = r->code / 100 == 2 ? LMTP_DELIVERED : r->code / 100 == 5 ? LMTP_FAILED : LMTP_DEFERRED;
	snprintf(a->dsn, sizeof a->dsn, "%s", smtp_reply_dsn(r));
	smtp_reply_said(r, ls->who, cmd, SMTP_TXN_SHOWN, a->reason, sizeof a->reason);
}

/* A refusal before the envelope is the server's state, not the mail's:
 * deferred whatever the code, with the server's words kept. */
static void lmtp_defer(struct lmtp_answer *a)
{
	a->status = LMTP_DEFERRED;
	snprintf(a->dsn, sizeof a->dsn, "4.4.2");
}

/* Every recipient from index i on whose flag is set gets a copy of a. */
static void lmtp_set_rest(struct lmtp_answer *answers, const char *flags, size_t from, size_t n,
			  const struct lmtp_answer *a)
{
	for (size_t i = from; i < n; i++)
		if (flags == NULL || flags[i])
			answers[i] = *a;
}

/* ---- the conversation (common/smtp_client) ---- */

/* Read one whole reply into ls->reply.  Its code, or -1 with *error_r. */
static int lmtp_read_reply(struct lmtp_session *ls, const char **error_r)
{
	int code = smtp_client_read_reply(ls->s, &ls->reply, error_r);

	if (code < 0)
		ls->broken = 1;
	return code;
}

/* Send one command line and read its reply.  Code, or -1 with an answer
 * for the failure in *fail. */
static int lmtp_command(struct lmtp_session *ls, const char *cmd, const char *what,
			struct lmtp_answer *fail)
{
	const char *error;
	int code = smtp_client_command(ls->s, &ls->reply, cmd, &error);

	if (code == -1)
		ls->broken = 1;
	if (code < 0)
		lmtp_set(fail, LMTP_DEFERRED, "4.4.2", "lmtp %s: %s in reply to %s", ls->where, error, what);
	return code < 0 ? -1 : code;
}

/* ---- the transaction ---- */

/* Greeting and LHLO.  0, or -1 with *fail set. */
static int lmtp_open(struct lmtp_session *ls, struct lmtp_answer *fail)
{
	char cmd[LMTP_CMD_MAX];
	const char *error;
	int code = lmtp_read_reply(ls, &error);

	if (code < 0) {
		lmtp_set(fail, LMTP_DEFERRED, "4.4.2", "lmtp %s: %s in the greeting", ls->where, error);
		return -1;
	}
	if (code != 220) {
		/* Any refusal at the door is the server's state, not the mail's. */
		lmtp_from_reply(ls, fail, "the greeting");
		lmtp_defer(fail);
		return -1;
	}
	if (snprintf(cmd, sizeof cmd, "LHLO %s", ls->m->helo) >= (int)sizeof cmd) {
		lmtp_set(fail, LMTP_DEFERRED, "4.3.5", "LHLO name too long");
		return -1;
	}
	code = lmtp_command(ls, cmd, "LHLO", fail);
	if (code < 0)
		return -1;
	if (code / 100 != 2) {
		lmtp_from_reply(ls, fail, "LHLO");
		lmtp_defer(fail);
		return -1;
	}
	smtp_reply_ehlo(&ls->reply, &ls->ext);
	return 0;
}

static long long lmtp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Connect, read the greeting and say LHLO, within ls->m->timeout_ms for
 * the connect and each reply; with whole_ms > 0 everything from the
 * connect on ends within whole_ms as well.  0, or -1 with *fail set. */
static int lmtp_session_start(struct lmtp_session *ls, const struct lmtp_dest *d, int whole_ms,
			      struct lmtp_answer *fail)
{
	long long start = lmtp_now_ms();
	struct sockaddr_storage ss;
	socklen_t sslen = lmtp_dest_sockaddr(d, &ss);

	lmtp_dest_text(d, ls->where, sizeof ls->where);
	snprintf(ls->who, sizeof ls->who, "lmtp %s", ls->where);
	smtp_reply_init(&ls->reply);
	ls->fd = sslen == 0 ? -1 : smtp_client_connect((const struct sockaddr *)&ss, sslen, ls->m->timeout_ms);
	if (ls->fd < 0) {
		lmtp_set(fail, LMTP_DEFERRED, "4.4.1", "lmtp %s: connect: %s", ls->where, strerror(errno));
		return -1;
	}
	ls->s = stream_new_socket(ls->fd, SMTP_CLIENT_LINE_MAX, ls->m->timeout_ms);
	if (ls->s == NULL) {
		lmtp_set(fail, LMTP_DEFERRED, "4.3.0", "lmtp %s: out of memory", ls->where);
		return -1;
	}
	if (whole_ms > 0) {
		long long left = whole_ms - (lmtp_now_ms() - start);
		stream_set_deadline(ls->s, left > 0 ? (int)left : 1);
	}
	return lmtp_open(ls, fail);
}

/* QUIT (a courtesy: its answer changes nothing) and free the session. */
static void lmtp_session_end(struct lmtp_session *ls)
{
	if (ls->s != NULL && !ls->broken) {
		const char *error;
		stream_set_timeout(ls->s, LMTP_QUIT_MS);
		(void)smtp_client_command(ls->s, &ls->reply, "QUIT", &error);
	}
	stream_free(&ls->s);
	if (ls->fd >= 0)
		close(ls->fd);
	ls->fd = -1;
	smtp_reply_free(&ls->reply);
}

/* ---- the transaction (common/smtp_txn) ---- */

static void lmtp_txn_answer(void *arg, size_t i, enum smtp_txn_status st, const char *dsn, const char *reason)
{
	static const enum lmtp_status map[] = { [SMTP_TXN_DELIVERED] = LMTP_DELIVERED,
						[SMTP_TXN_DEFERRED] = LMTP_DEFERRED, [SMTP_TXN_FAILED] = LMTP_FAILED };
	struct lmtp_answer *answers = arg;

	lmtp_set(&answers[i], map[st], dsn, "%s", reason);
}

/* One transaction of msg to the n recipients on the open session; each
 * answers[i] set.  envelope_only: the probe's, no DATA.  MAIL's reply
 * code, 0 when none came. */
static int lmtp_transaction(struct lmtp_session *ls, const struct smtp_txn_msg *msg, const char *const *rcpts,
			     size_t n, struct lmtp_answer *answers, int envelope_only)
{
	int ms = ls->m->timeout_ms;
	struct smtp_txn_rcpt *tr = calloc(n, sizeof *tr);
	struct smtp_txn t = {
		.s = ls->s, .reply = &ls->reply, .ext = &ls->ext, .peer = ls->who, .who = ls->who, .lmtp = 1,
		.envelope_only = envelope_only, .mail_ms = ms, .rcpt_ms = ms, .data_init_ms = ms,
		.data_block_ms = ms, .data_done_ms = ms, .msg = msg, .rcpt = tr, .n = n,
		.answer = lmtp_txn_answer, .arg = answers,
	};
	char reason[LMTP_REASON_MAX];
	const char *dsn;

	if (tr == NULL)
		return 0;   /* answers say out of memory */
	for (size_t i = 0; i < n; i++)
		tr[i] = (struct smtp_txn_rcpt){ .addr = rcpts[i], .len = strlen(rcpts[i]) };
	if (smtp_txn_run(&t, reason, sizeof reason, &dsn) == SMTP_TXN_BROKEN) {
		for (size_t i = 0; i < n; i++)
			if (!tr[i].answered)
				lmtp_set(&answers[i], LMTP_DEFERRED, dsn, "%s", reason);
	}
	ls->broken = t.lost;
	free(tr);
	return t.mail_code;
}

void lmtp_deliver(const struct lmtp_dest *d, const struct lmtp_msg *m, const char *const *rcpts,
		  size_t n, struct lmtp_answer *answers)
{
	struct lmtp_session ls = { .m = m, .fd = -1 };
	struct lmtp_answer fail;
	struct smtp_txn_msg msg = m->txn;

	/* Final delivery: the queue keeps the DSN duty (no RET, ENVID). */
	msg.ret = msg.envid = NULL;
	lmtp_dest_text(d, ls.where, sizeof ls.where);
	lmtp_set(&fail, LMTP_DEFERRED, "4.3.0", "lmtp %s: out of memory", ls.where);
	lmtp_set_rest(answers, NULL, 0, n, &fail);
	if (n == 0)
		return;
	if (lmtp_session_start(&ls, d, 0, &fail) < 0)
		lmtp_set_rest(answers, NULL, 0, n, &fail);
	else
		lmtp_transaction(&ls, &msg, rcpts, n, answers, 0);
	lmtp_session_end(&ls);
}

void lmtp_probe(const struct lmtp_dest *d, const char *helo, const char *rcpt, int timeout_ms,
		struct lmtp_answer *a)
{
	/* MAIL FROM:<>: a probe must never cause a bounce (RFC 5321 4.5.5). */
	struct lmtp_msg m = { .txn = { .sender = "", .body = { .fd = -1 } }, .helo = helo, .timeout_ms = timeout_ms };
	struct lmtp_session ls = { .m = &m, .fd = -1 };

	lmtp_set(a, LMTP_DEFERRED, "4.3.0", "out of memory");
	if (lmtp_session_start(&ls, d, timeout_ms, a) == 0) {
		/* MAIL FROM:<> refused, or a server without SMTPUTF8 for an
		 * 8-bit address (nothing sent): the server's policy or
		 * abilities, not a verdict on the recipient. */
		int code = lmtp_transaction(&ls, &m.txn, &rcpt, 1, a, 1);
		if (code / 100 == 5 || (code == 0 && a->status == LMTP_FAILED))
			lmtp_defer(a);
	}
	lmtp_session_end(&ls);
}
