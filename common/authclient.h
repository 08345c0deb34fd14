/* authclient: the client side of the authd protocol (docs/protocols.md),
 * for smtpd, popd and the login processes.  One request per connection
 * to "private/authd", relative to the process root. */
#ifndef POSTERN_AUTHCLIENT_H
#define POSTERN_AUTHCLIENT_H

#include "buf.h"

/* Ask authd whether password opens user's account for service ("pop3",
 * "smtp"); client is the peer address for authd's log (may be NULL).
 * 1 accepted (mailbox path, relative to mail/, in *mailbox_r when
 * mailbox_r is not NULL), 0 rejected, -1 temporary failure with
 * *error_r (static text).  The request buffer is wiped after sending. */
int auth_verify(const char *user, const char *password, const char *service,
		const char *client, struct buf *mailbox_r, const char **error_r);
/* Same, with the canonical (lower-case) address authd matched copied to
 * user_r when not NULL. */
int auth_verify_user(const char *user, const char *password, const char *service,
		     const char *client, struct buf *user_r, struct buf *mailbox_r,
		     const char **error_r);

/* What authd said about a failed login (cmd=ticket). */
struct auth_failure {
	unsigned long failures;  /* failures counted for the client address or user */
	int throttled;           /* a limit is reached: disconnect the client */
};

/* For a login process: check password as auth_verify does, but get a
 * one-time ticket (hex, into ticket_r) for the session service instead
 * of the mailbox; user_r gets the canonical address.  1, 0 (rejected,
 * *fail_r filled in) or -1 (*error_r). */
int auth_login_ticket(const char *user, const char *password, const char *service,
		      const char *client, struct buf *user_r, struct buf *ticket_r,
		      struct auth_failure *fail_r, const char **error_r);
/* For a session process: redeem a ticket once.  1 with user and mailbox
 * (relative to mail/), 0 unknown/used/expired, -1 (*error_r). */
int auth_redeem(const char *ticket, const char *service, struct buf *user_r,
		struct buf *mailbox_r, const char **error_r);

#endif

