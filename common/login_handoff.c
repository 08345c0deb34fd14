/* login_handoff: the hand-off of a logged-in client from a login
 * process (postern-login, chrooted in run/jail) to a session process of
 * its protocol (postern-vmail), both sides; popd now, imapd later.
 *
 * Offers: login_handoff_send() for the login process: it connects to
 * private/SERVICE and sends, with one fd_send(), the hand-off record
 * with the client stream attached (docs/protocols.md, "Login hand-off"),
 * waits for status=ok, and with TLS gives the TLS session to the relay
 * thread (login_proxy.c) with its end of the socketpair.
 * login_handoff_receive() for the session process: the record and the
 * descriptor, status=ok, and a stream over the client that first reads
 * the bytes the login process had read ahead (stream_preload), so a
 * pipelining client's commands after the login command are neither lost
 * nor handled twice, whatever the transport.
 *
 * Trusts: the session side trusts its peer (a login process: the
 * session service lets in only postern-login and root, daemon.c) for
 * the client stream and the client address, nothing else: the record
 * is bounded (LOGIN_HANDOFF_MAX, exactly one descriptor, each field
 * within its limit) and the user comes only from redeeming the ticket
 * with authd.  The login side trusts the session service's answer.
 *
 * Fails: the login side returns -1 with the client still its own when
 * the session service cannot be reached or does not take the client in
 * ipc_timeout, or more than LOGIN_PENDING_MAX bytes were read ahead: the
 * client gets the protocol's temporary error.  The session side drops a
 * malformed hand-off (logged) without answering, so the login process
 * answers that error.  The ticket is wiped wherever it was copied. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "daemon.h"
#include "fdrecord.h"
#include "log.h"
#include "metric.h"
#include "login_handoff.h"
#include "login_proxy.h"
#include "record.h"
#include "sockets.h"

/* ---- the login side ---- */

/* The record: ticket, client, tls, the bytes read ahead (in pieces of
 * at most a record value each), the protocol's own fields. 0 or -1. */
static int login_handoff_record(struct stream *s, const struct login_handoff *h, int tls,
				struct buf *out)
{
	const char *ahead = stream_peek(s);
	size_t n = stream_pending(s);

	if (record_put(out, "ticket", h->ticket->data, h->ticket->len) < 0 ||
	    record_put_str(out, "client", h->client) < 0 ||
	    record_put_str(out, "tls", tls ? "yes" : "no") < 0)
		return -1;
	while (n > 0) {
		size_t k = n > LOGIN_PENDING_FIELD ? LOGIN_PENDING_FIELD : n;
		if (record_put(out, "pending", ahead, k) < 0)
			return -1;
		ahead += k;
		n -= k;
	}
	if (h->fields != NULL && h->fields->len > 0 &&
	    (h->fields->len > LOGIN_FIELDS_MAX || buf_append(out, h->fields->data, h->fields->len) < 0))
		return -1;
	return record_end(out);
}

/* Send the record with fd to the session service and wait for its
 * status=ok.  0 or -1 (logged). */
static int login_handoff_pass(const struct login_handoff *h, const struct buf *rec, int fd)
{
	char path[256];
	struct record ans = { 0 };
	struct stream *s;
	const char *error, *status;
	int conn, r = -1;

	if (daemon_socket_path(h->service, path, sizeof(path)) < 0)
		return -1;
	conn = unix_connect(path, h->ipc_timeout_ms);
	if (conn < 0) {
		log_warn("client=%s: cannot reach %s: %s", h->client, path, strerror(errno));
		return -1;
	}
	if (fd_send(conn, fd, rec->data, rec->len) == 0 &&
	    (s = stream_new(conn, conn, 1024, h->ipc_timeout_ms)) != NULL) {
		if (record_read(s, &ans, &error) == STREAM_OK &&
		    (status = record_get(&ans, "status")) != NULL && strcmp(status, "ok") == 0)
			r = 0;
		stream_free(&s);
	}
	if (r < 0)
		log_warn("client=%s: the session service %s did not take the client", h->client, h->service);
	record_clear(&ans);
	close(conn);
	return r;
}

struct stream *login_client_open(int rfd, int wfd, size_t line_max, int timeout_ms, SSL_CTX *implicit_tls,
				 int handshake_ms, char *client, size_t client_len)
{
	struct stream *s;
	const char *error;

	if (peer_addr(rfd, client, client_len) < 0)
		snprintf(client, client_len, "%s", "unknown");
	/* Replies are flushed whole: without it a large FETCH's last
	 * segment waited 40 ms for the client's delayed ACK (sockets.h). */
	socket_no_delay(wfd);
	s = stream_new(rfd, wfd, line_max, timeout_ms);
	if (s == NULL) {
		log_warn("out of memory");
		return NULL;
	}
	if (implicit_tls != NULL && stream_start_tls(s, implicit_tls, 1, NULL, handshake_ms, &error) < 0) {
		log_info("client=%s: %s", client, error);   /* "TLS handshake failed: REASON" */
		metric_count(METRIC_TLS_FAIL);
		stream_free(&s);
	} else if (implicit_tls != NULL) {
		metric_count(METRIC_TLS_OK);
	}
	return s;
}

int login_handoff_send(struct stream *s, int rfd, int wfd, const struct login_handoff *h)
{
	int tls = stream_tls_active(s), sp[2] = { -1, -1 }, r = -1;
	struct buf rec;

	if (stream_flush(s) < 0)
		return -1;
	if (stream_pending(s) > LOGIN_PENDING_MAX) {
		log_warn("client=%s: %zu bytes sent past the login command, more than %d are not passed on",
			 h->client, stream_pending(s), LOGIN_PENDING_MAX);
		return -1;
	}
	if (tls && h->proxies == NULL) {
		log_warn("client=%s: TLS but no relay", h->client);
		return -1;
	}
	buf_init(&rec, LOGIN_HANDOFF_MAX);
	if (login_handoff_record(s, h, tls, &rec) < 0) {
		log_warn("client=%s: the hand-off record does not fit", h->client);
		goto out;
	}
	if (tls && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
		log_warn("client=%s: socketpair: %s", h->client, strerror(errno));
		goto out;
	}
	if (login_handoff_pass(h, &rec, tls ? sp[1] : rfd) < 0)
		goto out;
	r = 0;   /* the session has the client */
	if (tls) {
		SSL *ssl = stream_tls_detach(s);
		if (login_proxies_add(h->proxies, ssl, rfd, wfd, sp[0], h->proxy_idle_ms, h->client) == 0) {
			sp[0] = -1;   /* the relay's now */
		} else {
			/* Cannot happen while daemon_serve_holding keeps the set
			 * below its max, but for memory: the session reads EOF. */
			log_warn("client=%s: cannot relay the TLS session", h->client);
			SSL_free(ssl);
		}
	}
out:
	if (sp[0] >= 0)
		close(sp[0]);
	if (sp[1] >= 0)
		close(sp[1]);
	buf_wipe(&rec);   /* the ticket */
	buf_free(&rec);
	return r;
}

/* ---- the session side ---- */

/* The fields every protocol shares, checked; the bytes read ahead
 * gathered into pending.  0 or -1 with *why_r. */
static int login_handoff_fields(struct login_session_client *c, struct buf *pending,
				const char **why_r)
{
	const char *ticket = record_get(&c->rec, "ticket");
	const char *client = record_get(&c->rec, "client");
	const char *tls = record_get(&c->rec, "tls");
	size_t tl;

	if (ticket == NULL || (tl = strlen(ticket)) == 0 || tl > LOGIN_TICKET_MAX) {
		*why_r = "no ticket";
		return -1;
	}
	memcpy(c->ticket, ticket, tl + 1);
	snprintf(c->client, sizeof(c->client), "%s", client != NULL ? client : "unknown");
	c->tls = tls != NULL && strcmp(tls, "yes") == 0;
	for (size_t i = 0; i < c->rec.n; i++) {
		struct record_field *f = &c->rec.fields[i];
		if (strcmp(f->key, "ticket") == 0)
			explicit_bzero(f->value, f->value_len);
		else if (strcmp(f->key, "pending") == 0 && buf_append(pending, f->value, f->value_len) < 0) {
			*why_r = "too many bytes read ahead";
			return -1;
		}
	}
	return 0;
}

int login_handoff_read(int conn, int ipc_timeout_ms, struct login_session_client *c)
{
	const struct fdrecord_wait w = { .first_ms = ipc_timeout_ms, .next_ms = ipc_timeout_ms,
					 .stop = daemon_stopping };
	const char *error = "", *why = "no record with one descriptor";
	struct buf in;
	size_t end, used;
	int r = -1;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	buf_init(&in, LOGIN_HANDOFF_MAX);
	/* The record is the last thing sent: nothing may follow it. */
	if (fdrecord_read(conn, 0, &in, 1, &w, &end, &c->fd) == 1 && end == in.len && c->fd >= 0) {
		why = "malformed";
		if (record_parse(in.data, end, &c->rec, &used, &error) == 0 && used == end)
			r = 0;
	}
	buf_free(&in);   /* wipes the ticket */
	if (r < 0) {
		log_warn("dropped a hand-off: %s%s%s", why, *error != '\0' ? ": " : "", error);
		login_handoff_done(c);
	}
	return r;
}

int login_handoff_accept(int conn, size_t max_line, int timeout_ms, struct login_session_client *c)
{
	static const char ok[] = "status=ok\n\n";
	const char *why = "malformed";
	struct buf pending;
	int r = -1;

	buf_init(&pending, LOGIN_PENDING_MAX);
	if (login_handoff_fields(c, &pending, &why) == 0) {
		c->s = stream_new(c->fd, c->fd, max_line, timeout_ms);
		if (c->s == NULL || stream_preload(c->s, pending.data, pending.len) < 0)
			why = "out of memory";
		else
			r = 0;
	}
	buf_free(&pending);   /* wipes */
	if (r < 0) {
		log_warn("dropped a hand-off from a login process: %s", why);
		login_handoff_done(c);
		return -1;
	}
	/* The client is ours now: the login process may go on. */
	if (send(conn, ok, sizeof(ok) - 1, MSG_NOSIGNAL) < 0)
		log_debug("hand-off answer: %s", strerror(errno));
	return 0;
}

int login_handoff_receive(int conn, int ipc_timeout_ms, size_t max_line, int timeout_ms,
			  struct login_session_client *c)
{
	if (login_handoff_read(conn, ipc_timeout_ms, c) < 0)
		return -1;
	return login_handoff_accept(conn, max_line, timeout_ms, c);
}

void login_handoff_done(struct login_session_client *c)
{
	explicit_bzero(c->ticket, sizeof(c->ticket));
	stream_free(&c->s);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	record_clear(&c->rec);
}
