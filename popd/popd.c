/* popd: the POP3 server (RFC 1939, RFC 2449 CAPA and response codes,
 * RFC 2595 STLS, RFC 5034 SASL PLAIN), in two processes.
 *
 * Offers: one program, two roles chosen by its first argument:
 *   popd [tls]     the login process of the inet services pop3 (110) and,
 *                  with `tls`, pop3s (995, implicit TLS): popd_login.c
 *   popd session   the session process of the unix service pop3-session:
 *                  popd_session.c
 *
 * Runs as: login: postern-login, chrooted to the empty run/jail, holding
 * the TLS key (read before the drop) and nothing else; it reaches only
 * private/authd and private/pop3-session.  Session: postern-vmail in
 * the mail root, reading and writing Maildirs; it reaches only
 * private/authd (to redeem tickets).  Neither ever opens etc/users.
 *
 * Trusts: see the two modules.  Fails: a broken environment (no TLS key
 * for pop3s) is fatal at start; everything else ends one client. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "popd.h"
#include "tls.h"

static int popd_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)(seconds * 1000);
}

static void popd_limits_init(struct popd_limits *l)
{
	unsigned long long e = config_size("pop3_hard_error_limit");
	unsigned long long a = config_time("pop3_auth_failure_delay");
	unsigned long long m = config_time("pop3_auth_failure_delay_max");
	const char *plain = config_str("pop3_plaintext_auth");

	memset(l, 0, sizeof(*l));
	l->timeout_ms = popd_ms(config_time("pop3_timeout"));
	l->ipc_timeout_ms = popd_ms(config_time("ipc_timeout"));
	l->error_limit = e == 0 || e > ULONG_MAX ? ULONG_MAX : (unsigned long)e;
	l->auth_delay = a > 60 ? 60 : (unsigned long)a;   /* a delay is not a hang */
	l->auth_delay_max = m > 60 ? 60 : (unsigned long)m;
	if (l->auth_delay_max < l->auth_delay)
		l->auth_delay_max = l->auth_delay;
	if (strcmp(plain, "yes") == 0)
		l->plaintext = POPD_PLAIN_YES;
	else if (strcmp(plain, "no") == 0)
		l->plaintext = POPD_PLAIN_NO;
	else if (strcmp(plain, "loopback") == 0)
		l->plaintext = POPD_PLAIN_LOOPBACK;
	else
		log_fatal("pop3_plaintext_auth = %s: must be loopback, yes or no", plain);
}

int popd_addr_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

int main(int argc, char **argv)
{
	static struct popd_limits limits;
	struct daemon d;
	const char *error, *role;
	int session;

	/* The role is the first argument; daemon_init takes the same one to
	 * find our row of the service table (the defaults when run by hand:
	 * login in run/jail as postern-login, session in mail/). */
	daemon_init(&d, "popd", argc, argv);
	role = d.argc > 0 ? d.argv[0] : "";
	session = strcmp(role, "session") == 0;
	popd_limits_init(&limits);
	if (session) {
		daemon_drop(&d);
		daemon_serve(&d, popd_session_serve, &limits);
		return 0;
	}
	limits.implicit_tls = strcmp(role, "tls") == 0;
	/* The key is readable by root only: load it before the drop. */
	limits.tls = tls_server_ctx_config(d.etc_dir, &error);
	limits.tls_handshake_ms = tls_handshake_ms();
	if (limits.tls == NULL && limits.implicit_tls)
		log_fatal("pop3s needs TLS: %s", error);
	if (limits.tls == NULL)
		log_warn("no TLS, STLS not offered: %s", error);
	daemon_drop(&d);
	daemon_serve(&d, popd_login_serve, &limits);
	tls_ctx_free(&limits.tls);
	return 0;
}
