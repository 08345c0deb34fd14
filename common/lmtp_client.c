/* lmtp_client: deliver one message over LMTP (RFC 2033).
 *
 * Offers: lmtp_deliver(), one lock-step transaction: greeting, LHLO, MAIL
 * FROM, RCPT TO per recipient, DATA, the message (every LF, CRLF and
 * bare CR as CRLF, a leading '.' doubled: RFC 5321 4.5.2; the pump is
 * common/smtp_client_data, remote delivery's too), the final dot, then
 * one reply per recipient that RCPT accepted, in RCPT order (RFC 2033
 * 4.2), and QUIT.
 * Pipelining is not used: it saves round trips only, and lock-step makes
 * the mapping of replies to recipients obvious.
 *
 * lmtp_probe() asks the same way whether the server would take one
 * recipient, without sending mail: LHLO, MAIL FROM:<>, RCPT TO, QUIT,
 * the whole exchange within its timeout (the verify service answers an
 * SMTP client waiting at RCPT, issue 9 item 9).
 *
 * Trusts: nothing the server says: replies are read by common/smtp_client
 * (the reader remote delivery uses: bounded lines, lines per reply and
 * text), a malformed one ends the session like a lost connection.  The
 * caller validated the envelope (no control bytes can reach a command
 * line).  Destinations are common/lmtp_dest's.
 *
 * Fails: each recipient gets exactly one answer.  Before the final dot,
 * a refused connection, a timeout, a lost connection, a bad greeting or
 * LHLO reply defers every recipient (4.4.x, the mail stays queued); 4xx
 * to MAIL, RCPT or DATA defers, 5xx fails (those recipients only, for
 * RCPT); any other reply to DATA than 354 or 5xx defers (4.0.0 for a
 * 2xx, never a success status).  After the final dot each recipient gets its own reply: 2xx
 * delivered, 4xx deferred, 5xx failed; a connection lost in the middle
 * defers the recipients without a reply (the message may then arrive
 * twice for them, never zero times). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lmtp_client.h"
#include "smtp_client.h"
#include "smtp_client_data.h"
#include "stream.h"

#define LMTP_CMD_MAX 600              /* a command with a path of at most 256 octets */
#define LMTP_SHOWN 160                /* reply text kept in a reason */
#define LMTP_QUIT_MS 2000             /* QUIT is a courtesy: do not wait long */

struct lmtp_session {
	const struct lmtp_msg *m;
	char where[LMTP_HOST_MAX + LMTP_PATH_MAX + 16];
	int fd;
	int broken;                   /* out of step or gone: no QUIT */
	struct stream *s;
	struct smtp_reply reply;
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
	char who[sizeof ls->where + 8];

	a->status = r->code / 100 == 2 ? LMTP_DELIVERED : r->code / 100 == 5 ? LMTP_FAILED : LMTP_DEFERRED;
	snprintf(a->dsn, sizeof a->dsn, "%s", smtp_reply_dsn(r));
	snprintf(who, sizeof who, "lmtp %s", ls->where);
	smtp_reply_said(r, who, cmd, LMTP_SHOWN, a->reason, sizeof a->reason);
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

/* The message in DATA wire form and the final dot (smtp_client_data).
 * 0, -1 connection lost, -2 the queue file failed. */
static int lmtp_send_data(struct lmtp_session *ls)
{
	const struct lmtp_msg *m = ls->m;
	struct smtp_client_body b = { .prepend = m->prepend, .prepend_len = m->prepend_len, .fd = m->fd,
				      .offset = m->offset, .size = m->size };

	return smtp_client_send_data(ls->s, &b);
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
	return 0;
}

/* MAIL and the RCPTs; accepted[i] set for each 2xx.  The count
 * accepted, or -1 with every recipient answered. */
static long lmtp_envelope(struct lmtp_session *ls, const char *const *rcpts, size_t n,
			  struct lmtp_answer *answers, char *accepted)
{
	char cmd[LMTP_CMD_MAX];
	struct lmtp_answer a;
	long k = 0;
	int code;

	snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>", ls->m->sender);   /* <= 256 octets: fits */
	code = lmtp_command(ls, cmd, "MAIL FROM", &a);
	if (code >= 0)
		lmtp_from_reply(ls, &a, "MAIL FROM");
	if (code < 0 || code / 100 != 2) {
		if (code >= 0 && code / 100 != 5)
			a.status = LMTP_DEFERRED;
		lmtp_set_rest(answers, NULL, 0, n, &a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof cmd, "RCPT TO:<%s>", rcpts[i]);
		code = lmtp_command(ls, cmd, "RCPT TO", &answers[i]);
		if (code < 0) {
			lmtp_set_rest(answers, NULL, i + 1, n, &answers[i]);
			return -1;
		}
		lmtp_from_reply(ls, &answers[i], "RCPT TO");
		if (code / 100 == 2) {
			accepted[i] = 1;
			k++;
			/* Accepted is not delivered: the answer after DATA decides. */
			lmtp_set(&answers[i], LMTP_DEFERRED, "4.4.2", "lmtp %s: no reply after DATA", ls->where);
		} else if (code / 100 != 5) {
			answers[i].status = LMTP_DEFERRED;
		}
	}
	return k;
}

/* DATA, the message and one reply per accepted recipient. */
static void lmtp_data(struct lmtp_session *ls, size_t n, struct lmtp_answer *answers, const char *accepted)
{
	struct lmtp_answer a;
	const char *error;
	int code = lmtp_command(ls, "DATA", "DATA", &a), r;

	if (code >= 0 && code != 354) {
		lmtp_from_reply(ls, &a, "DATA");
		if (code / 100 != 5)
			a.status = LMTP_DEFERRED;
		snprintf(a.dsn, sizeof a.dsn, "%s", smtp_reply_dsn_failure(&ls->reply));
	}
	if (code != 354) {
		lmtp_set_rest(answers, accepted, 0, n, &a);
		return;
	}
	r = lmtp_send_data(ls);
	if (r < 0) {
		ls->broken = 1;   /* no final dot was sent: QUIT would be message text */
		lmtp_set(&a, LMTP_DEFERRED, r == -2 ? "4.3.0" : "4.4.2",
			 r == -2 ? "cannot read the queue file" : "lmtp %s: lost connection sending the message",
			 ls->where);
		lmtp_set_rest(answers, accepted, 0, n, &a);
		return;
	}
	/* RFC 2033 4.2: one reply per successful RCPT, in the same order. */
	for (size_t i = 0; i < n; i++) {
		if (!accepted[i])
			continue;
		if (lmtp_read_reply(ls, &error) < 0) {
			lmtp_set(&a, LMTP_DEFERRED, "4.4.2", "lmtp %s: %s after the final dot", ls->where, error);
			lmtp_set_rest(answers, accepted, i, n, &a);
			return;
		}
		lmtp_from_reply(ls, &answers[i], "end of DATA");
	}
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

void lmtp_deliver(const struct lmtp_dest *d, const struct lmtp_msg *m, const char *const *rcpts,
		  size_t n, struct lmtp_answer *answers)
{
	struct lmtp_session ls = { .m = m, .fd = -1 };
	struct lmtp_answer fail;
	char *accepted = NULL;

	lmtp_dest_text(d, ls.where, sizeof ls.where);
	lmtp_set(&fail, LMTP_DEFERRED, "4.3.0", "lmtp %s: out of memory", ls.where);
	lmtp_set_rest(answers, NULL, 0, n, &fail);
	if (n == 0 || (accepted = calloc(n, 1)) == NULL)
		return;
	if (lmtp_session_start(&ls, d, 0, &fail) < 0)
		lmtp_set_rest(answers, NULL, 0, n, &fail);
	else if (lmtp_envelope(&ls, rcpts, n, answers, accepted) > 0)
		lmtp_data(&ls, n, answers, accepted);
	lmtp_session_end(&ls);
	free(accepted);
}

void lmtp_probe(const struct lmtp_dest *d, const char *helo, const char *rcpt, int timeout_ms,
		struct lmtp_answer *a)
{
	/* MAIL FROM:<>: a probe must never cause a bounce (RFC 5321 4.5.5). */
	struct lmtp_msg m = { .sender = "", .helo = helo, .fd = -1, .timeout_ms = timeout_ms };
	struct lmtp_session ls = { .m = &m, .fd = -1 };
	char accepted = 0;
	long k;

	if (lmtp_session_start(&ls, d, timeout_ms, a) == 0) {
		k = lmtp_envelope(&ls, &rcpt, 1, a, &accepted);
		if (k == 1) {
			/* lmtp_envelope waits for DATA; for us RCPT's 2xx is all. */
			lmtp_from_reply(&ls, a, "RCPT TO");
		} else if (k < 0 && a->status == LMTP_FAILED) {
			/* MAIL FROM:<> refused: the server's policy, not a verdict
			 * on the recipient. */
			lmtp_defer(a);
		}
	}
	lmtp_session_end(&ls);
}
