/* login_handoff: moving a logged-in client from its login process to a
 * session process (docs/protocols.md, "Login hand-off"), both sides.
 * The login process sends a record (ticket, client address, tls, the
 * client bytes it had read past the login command, and the protocol's
 * own fields) with the client stream attached: the client socket
 * itself, or, when the login terminates TLS, one end of a socketpair
 * whose other end it then relays (login_proxy.h).  The session process
 * answers status=ok once it holds the stream and reads the passed bytes
 * first, through its own stream (stream_preload): they are read once,
 * by the same line reader as everything after them. */
#ifndef POSTERN_LOGIN_HANDOFF_H
#define POSTERN_LOGIN_HANDOFF_H

#include <stddef.h>

#include "buf.h"
#include "record.h"
#include "stream.h"

#define LOGIN_PENDING_MAX 16384       /* client bytes read ahead that may be passed on */
#define LOGIN_PENDING_FIELD 4096      /* per `pending` field (RECORD_MAX_VALUE) */
#define LOGIN_FIELDS_MAX 4096         /* the protocol's own fields, escaped */
#define LOGIN_HANDOFF_MAX (3 * LOGIN_PENDING_MAX + LOGIN_FIELDS_MAX + 1024)  /* the record */
#define LOGIN_TICKET_MAX 128
#define LOGIN_CLIENT_MAX 64           /* a printable client address */

struct login_proxies;

/* What the login process hands over besides the client. */
struct login_handoff {
	const char *service;          /* the session service: private/SERVICE */
	const struct buf *ticket;     /* from authd */
	const char *client;           /* the client's address, for logs */
	const struct buf *fields;     /* more record lines for the session (record_put), or NULL */
	int ipc_timeout_ms;           /* the exchange with the session service */
	struct login_proxies *proxies;/* where a TLS client is relayed */
	int proxy_idle_ms;            /* the relay's idle limit (login_proxies_add) */
};

/* Login side, first: the client's address into client (for logs;
 * "unknown") and its stream, after the TLS handshake when the port
 * speaks TLS from the first byte (implicit_tls non-NULL: 993, 995).
 * NULL when there is no one to serve (logged). */
struct stream *login_client_open(int rfd, int wfd, size_t line_max, int timeout_ms, SSL_CTX *implicit_tls,
				 int handshake_ms, char *client, size_t client_len);

/* Login side: hand the client of s (descriptors rfd, wfd; equal for a
 * socket) to the session service.  Flushes s first.  0: the session has
 * the client; with TLS the session is detached from s and relayed by
 * h->proxies.  Either way the caller only frees s and closes its
 * descriptors, as for a client that has left.  -1: the client is still
 * the caller's and s intact (logged), e.g. to answer a temporary error. */
int login_handoff_send(struct stream *s, int rfd, int wfd, const struct login_handoff *h);

/* What the session process receives. */
struct login_session_client {
	int fd;                        /* the client stream (socket or socketpair end) */
	struct stream *s;              /* over fd, the passed bytes read first */
	char client[LOGIN_CLIENT_MAX]; /* the client's address ("unknown") */
	int tls;                       /* the login process terminates TLS */
	char ticket[LOGIN_TICKET_MAX + 1];
	struct record rec;             /* the whole record, for the protocol's fields */
};

/* Session side, in two steps for a session service that also takes
 * other records with a descriptor (IMAP's resume from imap-hibernate):
 * read one record (at most LOGIN_HANDOFF_MAX bytes) and its one
 * descriptor from conn within ipc_timeout_ms into c->rec and c->fd.
 * 0, or -1 (logged; nothing left open). */
int login_handoff_read(int conn, int ipc_timeout_ms, struct login_session_client *c);
/* Then, for a login hand-off: check its fields, answer status=ok, make
 * c->s.  0, or -1 (logged; c cleared, no status=ok sent). */
int login_handoff_accept(int conn, size_t max_line, int timeout_ms, struct login_session_client *c);
/* Session side: read a hand-off record and its one descriptor from conn
 * (a connection accepted on the session service), each wait within
 * ipc_timeout_ms; answer status=ok; make c->s over the descriptor with
 * max_line and timeout_ms, the passed bytes preloaded.  0, or -1
 * (logged; nothing is left open, no status=ok was sent). */
int login_handoff_receive(int conn, int ipc_timeout_ms, size_t max_line, int timeout_ms,
			  struct login_session_client *c);
/* Wipe the ticket, free the stream, close the descriptor, clear the record. */
void login_handoff_done(struct login_session_client *c);

#endif
