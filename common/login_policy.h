/* login_policy: what a POP3 or IMAP login process decides around asking
 * authd, parameterized by protocol so that each reads its own keys:
 * whether plaintext logins are allowed on a connection
 * (PROTO_plaintext_auth) and how long a failed login waits
 * (PROTO_auth_failure_delay doubled per failure authd counted, up to
 * PROTO_auth_failure_delay_max). */
#ifndef POSTERN_LOGIN_POLICY_H
#define POSTERN_LOGIN_POLICY_H

#include "buf.h"

#define LOGIN_DELAY_CEILING 60   /* seconds: a delay is not a hang */

enum login_plaintext { LOGIN_PLAINTEXT_NO, LOGIN_PLAINTEXT_LOOPBACK, LOGIN_PLAINTEXT_YES };

struct login_policy {
	enum login_plaintext plaintext;
	unsigned long delay;       /* first failed-login delay, seconds */
	unsigned long delay_max;   /* >= delay */
};

/* Read PROTO_plaintext_auth, PROTO_auth_failure_delay and
 * PROTO_auth_failure_delay_max (proto "pop3", later "imap") from the
 * loaded settings.  0, or -1 with *error_r (a static buffer) for a bad value. */
int login_policy_init(struct login_policy *p, const char *proto, const char **error_r);
/* Whether a plaintext login (USER/PASS, AUTH PLAIN, LOGIN) may be used:
 * always over TLS, else as the policy says for the client's address. */
int login_plaintext_ok(const struct login_policy *p, int tls, const char *client_addr);
/* Seconds to wait after a failed login that authd counted as the
 * failures-th for the client address or user: the base delay doubled
 * per earlier failure, at most delay_max. */
unsigned long login_failure_delay(const struct login_policy *p, unsigned long failures);
/* Wait login_failure_delay() seconds (a signal ends the wait early). */
void login_failure_wait(const struct login_policy *p, unsigned long failures);
enum login_result {
	LOGIN_OK,          /* a ticket for the session service */
	LOGIN_FAILED,      /* wrong credentials: logged, and the delay waited */
	LOGIN_THROTTLED,   /* as FAILED, and authd's limit is reached: disconnect */
	LOGIN_TEMPFAIL,    /* authd could not be asked: logged */
};
/* The one login step of every login process: ask authd for a ticket
 * (cmd=ticket) for user and secret on service ("pop3", "imap") from
 * client; a failure is logged and waits the failed-login delay, which
 * slows guessing.  The ticket goes to ticket (LOGIN_TICKET_MAX). */
enum login_result login_authenticate(const struct login_policy *p, const char *service, const char *user,
				     const char *secret, const char *client, struct buf *ticket);
/* Whether a printable peer address is a loopback address; "unknown" is not. */
int login_addr_loopback(const char *addr);

#endif
