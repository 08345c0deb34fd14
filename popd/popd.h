/* popd: the POP3 server, split in two as DESIGN.md describes.
 *   popd_login.c    the login process (postern-login, chrooted to the
 *                   empty run/jail): TLS, CAPA, USER/PASS, AUTH PLAIN,
 *                   STLS; asks authd for a ticket and hands the client
 *                   to the session service (common/login_handoff.c),
 *                   relaying TLS on its relay thread (common/login_proxy.c)
 *   popd_session.c  the session process (postern-vmail, mail root):
 *                   redeems the ticket, serves the TRANSACTION state
 *   popd_mailbox.c  the maildrop over the mailbox store (session side)
 *   popd.c          main: which of the two this process is */
#ifndef POSTERN_POPD_H
#define POSTERN_POPD_H

#include <stddef.h>
#include "login_policy.h"
#include "mailbox_store.h"
#include "stream.h"

#define POPD_MESSAGES_MAX 1000000   /* most messages listed in one session */
#define POPD_MAILBOX_PATH_MAX 1024  /* longest mailbox path from authd */
#define POPD_UIDL_MAX 70            /* RFC 1939 section 7: 1 to 70 characters */
#define POPD_USER_MAX 255
#define POPD_LOCK_NAME "postern-pop3.lock"
#define POPD_SESSION_SERVICE "pop3-session"   /* private/NAME of the session service */

/* Settings read once at start (popd.c). */
struct popd_limits {
	unsigned long error_limit;
	struct login_policy policy;     /* pop3_plaintext_auth, pop3_auth_failure_delay(_max) */
	int timeout_ms;
	int ipc_timeout_ms;
	int implicit_tls;               /* pop3s: TLS from the first byte */
	SSL_CTX *tls;                   /* NULL: no STLS, no pop3s */
	int tls_handshake_ms;           /* tls_handshake_timeout, whole handshake; 0: none */
	struct login_proxies *proxies;  /* the login's TLS relay (common/login_proxy.h) */
	int proxy_idle_ms;              /* a relay's idle limit: pop3_timeout and a minute */
};

struct popd_mailbox {
	struct mbox *store;          /* messages sorted by UID */
	int lockfd;                  /* flock()ed POPD_LOCK_NAME */
	unsigned char *deleted;      /* marked by DELE, per message */
	size_t n;                    /* messages of this session (<= store->n) */
};

enum popd_open_result {
	POPD_OPEN_OK,
	POPD_OPEN_LOCKED,     /* another session holds the lock */
	POPD_OPEN_BADPATH,    /* the path is absolute or leaves the root */
	POPD_OPEN_FAIL,       /* system error, *error_r says which step */
};

/* Validate path (relative to the mail root), lock the Maildir against
 * other POP3 sessions, sync the store (new/ into cur/). */
enum popd_open_result popd_mailbox_open(const char *path, size_t len,
					struct popd_mailbox **mb_r, const char **error_r);
/* Unlock and free; deletes nothing.  *mb = NULL. */
void popd_mailbox_close(struct popd_mailbox **mb);
/* Remove the messages marked deleted (RFC 1939 UPDATE state); returns
 * how many could not be removed (a vanished file counts as removed). */
size_t popd_mailbox_expunge(struct popd_mailbox *mb);
/* Size of message idx with CRLF line ends (RFC 1939 LIST). */
unsigned long long popd_msg_size(const struct popd_mailbox *mb, size_t idx);
/* UIDL of message idx (UIDVALIDITY-UID) into out. */
void popd_msg_uidl(const struct popd_mailbox *mb, size_t idx, char *out, size_t outlen);
/* Open message idx for reading: fd or -1 (e.g. removed meanwhile). */
int popd_msg_open(struct popd_mailbox *mb, size_t idx);
/* Send the open message: every LF as CRLF, dot-stuffed (RFC 1939
 * section 3), a missing final LF supplied, and the ".\r\n" end.  With
 * top, only the header, the empty line and `lines` body lines (RFC 1939
 * TOP).  Closes fd.  0, or -1 on a read or write error (the reply is
 * then broken and the session must end). */
int popd_msg_send(int fd, struct stream *s, int top, unsigned long lines);

/* The login process: one client from accept to handoff (daemon_serve_fn). */
void popd_login_serve(int in_fd, int out_fd, void *limits);
/* The session process: one handoff from a login process (daemon_serve_fn). */
void popd_session_serve(int in_fd, int out_fd, void *limits);

#endif
