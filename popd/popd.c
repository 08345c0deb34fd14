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
#include "login_proxy.h"
#include "popd.h"
#include "tls.h"

static int popd_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)(seconds * 1000);
}

static void popd_limits_init(struct popd_limits *l)
{
	unsigned long long e = config_size("pop3_hard_error_limit");
	const char *error;

	memset(l, 0, sizeof(*l));
	l->timeout_ms = popd_ms(config_time("pop3_timeout"));
	l->ipc_timeout_ms = popd_ms(config_time("ipc_timeout"));
	l->error_limit = e == 0 || e > ULONG_MAX ? ULONG_MAX : (unsigned long)e;
	if (login_policy_init(&l->policy, "pop3", &error) < 0)
		log_fatal("%s", error);
}

int main(int argc, char **argv)
{
	static struct popd_limits limits;
	struct daemon d;
	struct daemon_holder holder;
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
	/* The relay thread starts after the drop: it never runs as root. */
	limits.proxies = login_proxies_new(login_proxy_limit(), &error);
	if (limits.proxies == NULL)
		log_fatal("TLS relay: %s", error);
	/* The session ends an idle client first (pop3_timeout) and says so. */
	limits.proxy_idle_ms = login_proxy_idle_ms(limits.timeout_ms);
	login_proxies_holder(limits.proxies, &holder);
	daemon_serve_holding(&d, popd_login_serve, &limits, &holder);
	login_proxies_free(&limits.proxies);
	tls_ctx_free(&limits.tls);
	return 0;
}
