/* lmtp_client: deliver one message over LMTP (RFC 2033).
 *
 * Offers: lmtp_dest_parse() for the destinations of the transport map
 * and lmtp_deliver(), one lock-step transaction: greeting, LHLO, MAIL
 * FROM, RCPT TO per recipient, DATA, the message (every LF, CRLF and
 * bare CR as CRLF, a leading '.' doubled: RFC 5321 4.5.2, smtp_data.h),
 * the final dot, then one reply per
 * recipient that RCPT accepted, in RCPT order (RFC 2033 4.2), and QUIT.
 * Pipelining is not used: it saves round trips only, and lock-step makes
 * the mapping of replies to recipients obvious.
 *
 * lmtp_probe() asks the same way whether the server would take one
 * recipient, without sending mail: LHLO, MAIL FROM:<>, RCPT TO, QUIT,
 * the whole exchange within its timeout (the verify service answers an
 * SMTP client waiting at RCPT, issue 9 item 9).
 *
 * Trusts: nothing the server says: replies go through common/smtp_reply
 * (bounded lines, lines per reply and text), a malformed one ends the
 * session like a lost connection.  The caller validated the envelope
 * (no control bytes can reach a command line).  Destinations come from
 * the operator's map and are still parsed with (pointer, length).
 *
 * Fails: each recipient gets exactly one answer.  Before the final dot,
 * a refused connection, a timeout, a lost connection, a bad greeting or
 * LHLO reply defers every recipient (4.4.x, the mail stays queued); 4xx
 * to MAIL, RCPT or DATA defers, 5xx fails (those recipients only, for
 * RCPT).  After the final dot each recipient gets its own reply: 2xx
 * delivered, 4xx deferred, 5xx failed; a connection lost in the middle
 * defers the recipients without a reply (the message may then arrive
 * twice for them, never zero times). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "lmtp_client.h"
#include "smtp_data.h"
#include "sockets.h"
#include "stream.h"

#define LMTP_LINE_MAX 4096            /* longest reply line (RFC 5321 4.5.3.1.5: 512) */
#define LMTP_CMD_MAX 600              /* a command with a path of at most 256 octets */
#define LMTP_BLOCK 65536              /* bytes per pread of the message */
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

/* ---- destinations ---- */

static int lmtp_parse_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

static int lmtp_parse_unix(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	if (len == 0 || len >= sizeof d->path) {
		*error_r = len == 0 ? "empty socket path" : "socket path too long";
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f) {
			*error_r = "control byte or space in socket path";
			return -1;
		}
	memcpy(d->path, s, len);
	d->path[len] = '\0';
	d->is_unix = 1;
	return 0;
}

/* HOST[:PORT] or [V6][:PORT], numeric only. */
static int lmtp_parse_inet(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	const char *host = s, *colon;
	size_t hlen;
	unsigned char tmp[16];

	d->port = LMTP_DEFAULT_PORT;
	if (len > 0 && s[0] == '[') {
		const char *end = memchr(s, ']', len);
		if (end == NULL) {
			*error_r = "missing ] after an IPv6 address";
			return -1;
		}
		host = s + 1;
		hlen = (size_t)(end - host);
		colon = end + 1 < s + len ? end + 1 : NULL;
		if (colon != NULL && *colon != ':') {
			*error_r = "text after ]";
			return -1;
		}
	} else {
		colon = memchr(s, ':', len);
		hlen = colon != NULL ? (size_t)(colon - s) : len;
	}
	if (colon != NULL && lmtp_parse_port(colon + 1, (size_t)(s + len - colon - 1), &d->port) < 0) {
		*error_r = "bad port";
		return -1;
	}
	if (hlen == 0 || hlen >= sizeof d->host) {
		*error_r = "bad host";
		return -1;
	}
	memcpy(d->host, host, hlen);
	d->host[hlen] = '\0';
	if (inet_pton(host == s ? AF_INET : AF_INET6, d->host, tmp) != 1) {
		*error_r = host == s ? "host is not a numeric IPv4 address ([...] for IPv6)"
				     : "bad IPv6 address";
		return -1;
	}
	d->is_unix = 0;
	return 0;
}

int lmtp_dest_parse(const char *s, size_t len, struct lmtp_dest *d, const char **error_r)
{
	memset(d, 0, sizeof *d);
	if (len >= 5 && memcmp(s, "unix:", 5) == 0)
		return lmtp_parse_unix(s + 5, len - 5, d, error_r);
	return lmtp_parse_inet(s, len, d, error_r);
}

void lmtp_dest_text(const struct lmtp_dest *d, char *out, size_t outlen)
{
	/* A diagnostic: the fields are bounded, a cut would only shorten it. */
	if (d->is_unix)
		snprintf(out, outlen, "unix:%s", d->path);
	else if (strchr(d->host, ':') != NULL)
		snprintf(out, outlen, "[%s]:%u", d->host, d->port);
	else
		snprintf(out, outlen, "%s:%u", d->host, d->port);
}

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
	int cls = r->code / 100;
	enum lmtp_status st = cls == 2 ? LMTP_DELIVERED : cls == 5 ? LMTP_FAILED : LMTP_DEFERRED;
	const char *dflt = st == LMTP_DELIVERED ? "2.0.0" : st == LMTP_FAILED ? "5.0.0" : "4.0.0";
	/* RFC 3463: the class of the enhanced code must match the reply's. */
	const char *dsn = r->enh[0] != '\0' && r->enh[0] == dflt[0] ? r->enh : dflt;
	struct buf sum;

	buf_init(&sum, LMTP_SHOWN + 64);
	if (smtp_reply_summary(r, &sum, LMTP_SHOWN) < 0)
		buf_reset(&sum);
	lmtp_set(a, st, dsn, "lmtp %s said: %s (in reply to %s)", ls->where, buf_cstr(&sum), cmd);
	buf_free(&sum);
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

/* ---- the connection ---- */

static int lmtp_wait_connect(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0, r;
	socklen_t elen = sizeof err;

	do
		r = poll(&pfd, 1, ms > 0 ? ms : -1);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

/* A connected, blocking socket to d within ms.  fd, or -1 with errno. */
static int lmtp_connect(const struct lmtp_dest *d, int ms)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, err;

	memset(&ss, 0, sizeof ss);
	if (d->is_unix) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;
		un->sun_family = AF_UNIX;
		/* The path is relative to the caller's root (docs/operator.md):
		 * a leading '/' names the same place as without it. */
		const char *p = d->path;
		while (*p == '/')
			p++;
		if (*p == '\0' || strlen(p) >= sizeof un->sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(un->sun_path, p, strlen(p) + 1);
		sslen = sizeof *un;
	} else if (strchr(d->host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)d->port);
		if (inet_pton(AF_INET6, d->host, &in6->sin6_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		sslen = sizeof *in6;
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)d->port);
		if (inet_pton(AF_INET, d->host, &in4->sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		sslen = sizeof *in4;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if ((connect(fd, (struct sockaddr *)&ss, sslen) < 0 &&
	     ((errno != EINPROGRESS && errno != EAGAIN) || lmtp_wait_connect(fd, ms) < 0)) ||
	    fd_set_nonblock(fd, 0) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* Read one whole reply into ls->reply.  Its code, or -1 with *error_r. */
static int lmtp_read_reply(struct lmtp_session *ls, const char **error_r)
{
	smtp_reply_reset(&ls->reply);
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(ls->s, &line, &len);
		int r;
		if (st != STREAM_OK) {
			ls->broken = 1;
			*error_r = st == STREAM_TIMEOUT ? "timeout" : st == STREAM_TOOLONG ? "reply line too long"
				   : st == STREAM_EOF ? "lost connection" : "read error";
			return -1;
		}
		r = smtp_reply_line(&ls->reply, line, len, error_r);
		if (r < 0) {
			ls->broken = 1;
			return -1;
		}
		if (r == 1)
			return ls->reply.code;
	}
}

/* Send one command line and read its reply.  Code, or -1 with an answer
 * for the failure in *fail. */
static int lmtp_command(struct lmtp_session *ls, const char *cmd, const char *what,
			struct lmtp_answer *fail)
{
	const char *error = "write error";
	int code = -1;

	if (stream_puts(ls->s, cmd) == 0 && stream_puts(ls->s, "\r\n") == 0 && stream_flush(ls->s) == 0)
		code = lmtp_read_reply(ls, &error);
	if (code < 0)
		lmtp_set(fail, LMTP_DEFERRED, "4.4.2", "lmtp %s: %s in reply to %s", ls->where, error, what);
	return code;
}

/* ---- the message ---- */

/* The message in DATA wire form (smtp_dot_feed: CRLF line ends, a bare
 * CR or LF included, and dot-stuffing, RFC 5321 4.5.2), and the final
 * dot.  0, -1 connection lost, -2 the queue file failed. */
static int lmtp_send_data(struct lmtp_session *ls)
{
	static char block[LMTP_BLOCK];
	static char wire[SMTP_DOT_ROOM(LMTP_BLOCK)];
	const struct lmtp_msg *m = ls->m;
	struct smtp_dot dot;
	off_t done = 0;

	smtp_dot_init(&dot);
	/* prepended fields (a DKIM-Signature) first; at most QUEUEFILE_PREPEND_MAX */
	if (m->prepend_len > 0 && m->prepend_len <= LMTP_BLOCK &&
	    stream_write(ls->s, wire, smtp_dot_feed(&dot, m->prepend, m->prepend_len, wire)) < 0)
		return -1;
	while (done < m->size) {
		size_t want = (size_t)(m->size - done) < sizeof block ? (size_t)(m->size - done) : sizeof block;
		ssize_t r = pread(m->fd, block, want, m->offset + done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -2;
		if (stream_write(ls->s, wire, smtp_dot_feed(&dot, block, (size_t)r, wire)) < 0)
			return -1;
		done += r;
	}
	if (stream_write(ls->s, wire, smtp_dot_end(&dot, wire)) < 0)
		return -1;
	return stream_flush(ls->s) < 0 ? -1 : 0;
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

	lmtp_dest_text(d, ls->where, sizeof ls->where);
	smtp_reply_init(&ls->reply);
	ls->fd = lmtp_connect(d, ls->m->timeout_ms);
	if (ls->fd < 0) {
		lmtp_set(fail, LMTP_DEFERRED, "4.4.1", "lmtp %s: connect: %s", ls->where, strerror(errno));
		return -1;
	}
	ls->s = stream_new(ls->fd, ls->fd, LMTP_LINE_MAX, ls->m->timeout_ms);
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
		if (stream_puts(ls->s, "QUIT\r\n") == 0 && stream_flush(ls->s) == 0)
			(void)lmtp_read_reply(ls, &error);
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
