/* smtpd_delegate: policy delegation, the Postfix SMTP access policy
 * protocol (Postfix SMTPD_POLICY_README), so that existing policy
 * servers (postgrey, policyd-spf, ...) decide at RCPT and at the end of
 * the message.
 *
 * Offers: smtpd_delegate_init() reads smtpd_policy_services,
 * smtpd_end_of_data_policy_services and the smtpd_policy_service_*
 * settings; smtpd_delegate_rcpt() and smtpd_delegate_eod() ask each
 * configured server in turn (name=value lines and an empty line; the
 * answer is parsed by common/policy_reply.c) and either answer the
 * client themselves (REJECT, DEFER, NNN text, DEFER_IF_PERMIT, a
 * failure) or let the command go on, noting HOLD, DISCARD and PREPEND
 * in the session for the message.  OK and DISCARD stop the list; DUNNO,
 * PREPEND, HOLD, WARN and INFO go on to the next server;
 * DEFER_IF_PERMIT defers unless a later server rejects;
 * DEFER_IF_REJECT turns a later reject into a defer.
 *
 * One connection per server and process, kept across requests and
 * sessions (the instance attribute tells messages apart); it is closed
 * after smtpd_policy_service_request_limit requests, when idle for
 * smtpd_policy_service_max_idle, and after any error.  A kept
 * connection the server closed meanwhile is opened again once.
 *
 * Trusts: the configuration; the server only as far as
 * common/policy_reply.c checks its answer.  Request values that could
 * break a line (CR, LF) are sent as '?'.
 *
 * Fails: a server that cannot be reached, times out
 * (smtpd_policy_service_timeout for the whole exchange) or answers
 * garbage gets smtpd_policy_service_default_action, as Postfix does;
 * an action we do not carry out (REDIRECT, FILTER, BCC...) is
 * "451 4.3.5 Server configuration error" with a warning. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "policy_reply.h"
#include "smtpd.h"
#include "sockets.h"

#define DELEGATE_REQUEST_MAX 8192   /* one request: helo 255 + addresses 2 x 512 + the rest */

struct delegate_server {
	char spec[POLICY_SPEC_MAX];
	int fd;                         /* -1: not connected */
	unsigned long long requests;    /* on this connection */
	time_t last;                    /* end of the last exchange */
};

struct delegate_list {
	struct delegate_server srv[POLICY_SERVICES_MAX];
	size_t n;
};

static struct {
	struct delegate_list rcpt, eod;
	int timeout_ms;
	unsigned long long request_limit;   /* 0: none */
	unsigned long long max_idle;        /* seconds */
	char default_action[POLICY_TEXT_MAX];
} delegate;

static void delegate_list_parse(const char *key, struct delegate_list *l)
{
	char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX];
	const char *err;

	if (policy_services_parse(config_str(key), specs, &l->n, &err) < 0)
		log_fatal("%s: %s", key, err);
	for (size_t i = 0; i < l->n; i++) {
		memcpy(l->srv[i].spec, specs[i], sizeof(l->srv[i].spec));
		l->srv[i].fd = -1;
	}
}

void smtpd_delegate_init(void)
{
	const char *d = config_str("smtpd_policy_service_default_action");
	unsigned long long t = config_time("smtpd_policy_service_timeout");

	delegate_list_parse("smtpd_policy_services", &delegate.rcpt);
	delegate_list_parse("smtpd_end_of_data_policy_services", &delegate.eod);
	delegate.timeout_ms = t == 0 || t > 86400 ? 86400 * 1000 : (int)t * 1000;
	delegate.request_limit = config_size("smtpd_policy_service_request_limit");
	delegate.max_idle = config_time("smtpd_policy_service_max_idle");
	if (!policy_default_action_ok(d))
		log_fatal("smtpd_policy_service_default_action: bad action \"%s\"", d);
	if (snprintf(delegate.default_action, sizeof(delegate.default_action), "%s", d) >=
	    (int)sizeof(delegate.default_action))
		log_fatal("smtpd_policy_service_default_action: too long");
}

static void delegate_close(struct delegate_server *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->requests = 0;
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC), 0 when past. */
static int delegate_left(const struct timespec *deadline)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 86400000 ? 86400000 : (int)ms;
}

/* Connect s; a unix: path is taken inside our root (the jail). */
static int delegate_connect(struct delegate_server *s, const struct timespec *deadline)
{
	if (strncmp(s->spec, "unix:", 5) == 0) {
		s->fd = unix_connect(s->spec + 5, delegate_left(deadline));
		if (s->fd >= 0 && fd_set_nonblock(s->fd, 1) < 0)
			delegate_close(s);
	} else {
		s->fd = inet_connect(s->spec + 5, delegate_left(deadline));
	}
	s->requests = 0;
	return s->fd < 0 ? -1 : 0;
}

static int delegate_send(int fd, const struct buf *req, const struct timespec *deadline)
{
	size_t off = 0;

	while (off < req->len) {
		ssize_t n = send(fd, req->data + off, req->len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (poll(&pfd, 1, delegate_left(deadline)) != 1)
			return -1;
	}
	return 0;
}

/* Read one answer: 0 with its action, -1 on error or timeout (*got set
 * when some bytes came), -2 for a malformed answer. */
static int delegate_recv(int fd, char *action, const struct timespec *deadline, int *got)
{
	char in[POLICY_REPLY_MAX + 1];
	size_t len = 0, used;

	*got = 0;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		if (poll(&pfd, 1, delegate_left(deadline)) != 1)
			return -1;
		n = recv(fd, in + len, sizeof(in) - len, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return -1;
		*got = 1;
		len += (size_t)n;
		r = policy_reply_parse(in, len, action, POLICY_REPLY_MAX, &used);
		if (r == 1)
			return used == len ? 0 : -2;   /* nothing may follow: we asked once */
		if (r < 0)
			return -2;
	}
}

/* One exchange with s.  0 with the action, -1 (logged). */
static int delegate_ask(struct delegate_server *s, const struct buf *req, char *action,
			const char *client_log)
{
	struct timespec deadline, now;
	int tries, got = 0, r = -1;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += delegate.timeout_ms / 1000;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->fd >= 0 && delegate.max_idle > 0 && now.tv_sec - s->last > (time_t)delegate.max_idle)
		delegate_close(s);
	/* A kept connection may have been closed by the server meanwhile:
	 * then one fresh try. */
	for (tries = s->fd >= 0 ? 2 : 1; tries > 0; tries--) {
		if (s->fd < 0 && delegate_connect(s, &deadline) < 0) {
			log_warn("policy service %s: cannot connect: %s (client %s)", s->spec,
				 strerror(errno), client_log);
			return -1;
		}
		if (delegate_send(s->fd, req, &deadline) == 0 &&
		    (r = delegate_recv(s->fd, action, &deadline, &got)) == 0)
			break;
		delegate_close(s);
		if (got || r == -2 || delegate_left(&deadline) == 0)
			break;
	}
	if (r != 0) {
		log_warn("policy service %s: %s (client %s)", s->spec,
			 r == -2 ? "malformed answer" : delegate_left(&deadline) == 0 ? "timeout" :
			 "connection lost", client_log);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->last = now.tv_sec;
	if (++s->requests >= delegate.request_limit && delegate.request_limit > 0)
		delegate_close(s);
	return 0;
}

/* ---- the request ---- */

/* name=value with CR and LF made harmless; -1 when the request is full
 * (sticky: a request that lost a byte is never sent). */
static int delegate_attr(struct buf *b, const char *name, const char *value)
{
	int r = buf_printf(b, "%s=", name);

	for (const char *p = value; *p != '\0' && r == 0; p++)
		r = buf_putc(b, *p == '\n' || *p == '\r' ? '?' : *p);
	return r == 0 ? buf_putc(b, '\n') : -1;
}

/* The attributes of Postfix SMTPD_POLICY_README, as far as we know them. */
static int delegate_request(struct smtpd_session *ss, struct buf *b, const char *state,
			    const char *rcpt, size_t count, unsigned long long size)
{
	char proto[16] = "", cipher[64] = "", num[32];
	int bits = 0, r = 0;

	if (ss->policy_instance[0] == '\0') {
		static unsigned long seq;
		struct timespec now;

		clock_gettime(CLOCK_REALTIME, &now);
		snprintf(ss->policy_instance, sizeof(ss->policy_instance), "%lx.%llx.%lx",
			 (unsigned long)getpid(), (unsigned long long)now.tv_sec, ++seq);
	}
	if (ss->tls && sscanf(ss->tls_desc, "%15s with cipher %63s (%d/", proto, cipher, &bits) != 3)
		proto[0] = cipher[0] = '\0', bits = 0;
	buf_reset(b);
	r |= delegate_attr(b, "request", "smtpd_access_policy");
	r |= delegate_attr(b, "protocol_state", state);
	r |= delegate_attr(b, "protocol_name", ss->esmtp ? "ESMTP" : "SMTP");
	r |= delegate_attr(b, "helo_name", buf_cstr(&ss->helo));
	r |= delegate_attr(b, "queue_id", "");
	r |= delegate_attr(b, "sender", buf_cstr(&ss->sender));
	r |= delegate_attr(b, "recipient", rcpt);
	snprintf(num, sizeof(num), "%zu", count);
	r |= delegate_attr(b, "recipient_count", num);
	r |= delegate_attr(b, "client_address", ss->client);
	r |= delegate_attr(b, "client_name", "unknown");
	r |= delegate_attr(b, "reverse_client_name", "unknown");
	r |= delegate_attr(b, "instance", ss->policy_instance);
	r |= delegate_attr(b, "sasl_method", ss->auth_user.len > 0 && ss->auth_mech ? ss->auth_mech : "");
	r |= delegate_attr(b, "sasl_username", buf_cstr(&ss->auth_user));
	r |= delegate_attr(b, "sasl_sender", "");
	snprintf(num, sizeof(num), "%llu", size);
	r |= delegate_attr(b, "size", num);
	r |= delegate_attr(b, "ccert_subject", "");
	r |= delegate_attr(b, "ccert_issuer", "");
	r |= delegate_attr(b, "ccert_fingerprint", "");
	r |= delegate_attr(b, "encryption_protocol", proto);
	r |= delegate_attr(b, "encryption_cipher", cipher);
	snprintf(num, sizeof(num), "%d", bits);
	r |= delegate_attr(b, "encryption_keysize", num);
	r |= delegate_attr(b, "etrn_domain", "");
	r |= delegate_attr(b, "stress", "");
	r |= buf_putc(b, '\n');
	return r < 0 ? -1 : 0;   /* over DELEGATE_REQUEST_MAX: cannot happen with our limits */
}


/* ---- the verdict ---- */

struct delegate_state {
	struct policy_action defer_if_permit;   /* verdict 0 (DUNNO) when none */
	int defer_if_reject;
	char defer_if_reject_text[POLICY_TEXT_MAX];
};

/* Answer a 4xx/5xx for what (the recipient "<a@b>" or
 * "<END-OF-MESSAGE>") in Postfix's words. */
void smtpd_delegate_refuse(struct smtpd_session *ss, const struct policy_action *a, int code,
			   const char *what, const char *how)
{
	char dsn[sizeof(a->dsn)] = { (char)('0' + code / 100), '.', '7', '.', '1', '\0' };

	if (a->dsn[0] != '\0' && a->dsn[0] - '0' == code / 100)
		memcpy(dsn, a->dsn, sizeof(dsn));
	smtpd_reply(ss, "%d %s %s: %s rejected: %s", code, dsn, what, how,
		    a->text[0] != '\0' ? a->text : "Access denied");
	if (code == 421)
		ss->done = 1;
}

/* Carry out one action.  1: decided (answered or accepted, stop), 0: go
 * on with the next server.  *answered_r when a reply was sent. */
static int delegate_apply(struct smtpd_session *ss, const struct policy_action *a,
			  struct delegate_state *st, const char *what, const char *how,
			  const char *spec, int *answered_r)
{
	struct policy_action d;

	switch (a->verdict) {
	case POLICY_OK:
		return 1;
	case POLICY_DUNNO:
		return 0;
	case POLICY_REJECT:
	case POLICY_DEFER:
		if (a->verdict == POLICY_REJECT && st->defer_if_reject) {
			memset(&d, 0, sizeof(d));
			snprintf(d.text, sizeof(d.text), "%s", st->defer_if_reject_text);
			smtpd_delegate_refuse(ss, &d, 450, what, how);
		} else {
			smtpd_delegate_refuse(ss, a, a->code, what, how);
		}
		*answered_r = 1;
		return 1;
	case POLICY_DEFER_IF_PERMIT:
		if (st->defer_if_permit.verdict != POLICY_DEFER_IF_PERMIT)
			st->defer_if_permit = *a;
		return 0;
	case POLICY_DEFER_IF_REJECT:
		st->defer_if_reject = 1;
		snprintf(st->defer_if_reject_text, sizeof(st->defer_if_reject_text), "%s", a->text);
		return 0;
	case POLICY_HOLD:
		ss->policy_hold = 1;
		log_info("%s: hold: %s from %s%s%s", spec, what, ss->client_log,
			 a->text[0] ? ": " : "", a->text);
		return 0;
	case POLICY_DISCARD:
		ss->policy_discard = 1;
		log_info("%s: discard: %s from %s%s%s", spec, what, ss->client_log,
			 a->text[0] ? ": " : "", a->text);
		return 1;
	case POLICY_PREPEND:
		if (buf_printf(&ss->policy_prepend, "%s\n", a->text) < 0)
			log_warn("%s: PREPEND dropped: no room (client %s)", spec, ss->client_log);
		return 0;
	case POLICY_WARN:
		log_warn("%s: warn: %s from %s%s%s", spec, what, ss->client_log,
			 a->text[0] ? ": " : "", a->text);
		return 0;
	case POLICY_INFO:
		log_info("%s: info: %s from %s%s%s", spec, what, ss->client_log,
			 a->text[0] ? ": " : "", a->text);
		return 0;
	case POLICY_UNSUPPORTED:
		break;
	}
	memset(&d, 0, sizeof(d));
	snprintf(d.dsn, sizeof(d.dsn), "4.3.5");
	snprintf(d.text, sizeof(d.text), "Server configuration error");
	smtpd_delegate_refuse(ss, &d, 451, what, how);
	*answered_r = 1;
	return 1;
}

/* Ask every server of l.  1: go on with the command, 0: answered. */
static int delegate_check(struct smtpd_session *ss, struct delegate_list *l, const char *state,
			  const char *rcpt, size_t count, unsigned long long size,
			  const char *what, const char *how)
{
	struct delegate_state st;
	struct buf req;
	char action[POLICY_REPLY_MAX];
	int answered = 0;

	if (l->n == 0)
		return 1;
	memset(&st, 0, sizeof(st));
	buf_init(&req, DELEGATE_REQUEST_MAX);
	if (delegate_request(ss, &req, state, rcpt, count, size) < 0) {
		buf_free(&req);
		smtpd_reply(ss, "451 4.3.0 %s: Temporary lookup failure", what);
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		struct policy_action a;
		const char *used = action;

		if (delegate_ask(&l->srv[i], &req, action, ss->client_log) < 0)
			used = delegate.default_action;
		if (policy_action_parse(used, strlen(used), &a) < 0 || a.verdict == POLICY_UNSUPPORTED)
			log_warn("policy service %s: unsupported action \"%s\" (client %s)",
				 l->srv[i].spec, used, ss->client_log);
		else if ((a.verdict == POLICY_PREPEND || a.verdict == POLICY_HOLD) &&
			 strcmp(state, "RCPT") != 0) {
			/* The header and the envelope went to enqueue already. */
			log_warn("policy service %s: %s at %s not supported, ignored (client %s)",
				 l->srv[i].spec, a.verdict == POLICY_HOLD ? "HOLD" : "PREPEND", state,
				 ss->client_log);
			continue;
		}
		if (delegate_apply(ss, &a, &st, what, how, l->srv[i].spec, &answered))
			break;
	}
	buf_free(&req);
	if (!answered && st.defer_if_permit.verdict == POLICY_DEFER_IF_PERMIT) {
		smtpd_delegate_refuse(ss, &st.defer_if_permit, 450, what, how);
		answered = 1;
	}
	return !answered;
}

int smtpd_delegate_rcpt(struct smtpd_session *ss, const char *rcpt)
{
	char what[600];

	snprintf(what, sizeof(what), "<%s>", rcpt);
	return delegate_check(ss, &delegate.rcpt, "RCPT", rcpt, ss->nrcpt, 0, what,
			      "Recipient address");
}

int smtpd_delegate_eod(struct smtpd_session *ss, unsigned long long size)
{
	return delegate_check(ss, &delegate.eod, "END-OF-MESSAGE",
			      ss->nrcpt == 1 ? ss->rcpts[0].addr : "", ss->nrcpt, size,
			      "<END-OF-MESSAGE>", "End-of-data");
}
