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

#endif
