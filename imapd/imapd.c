/* imapd: main of the IMAP server; which role this process has.
 *
 * Offers: one program, three roles chosen by its first argument:
 *   imapd [tls]     the login process of the inet services imap (143)
 *                   and, with `tls`, imaps (993, implicit TLS):
 *                   imapd_login.c
 *   imapd session   the session process of the unix service
 *                   imap-session: imapd_session.c
 *   imapd hibernate the one process of the unix service imap-hibernate,
 *                   which holds sessions set aside in IDLE:
 *                   imapd_hibernate.c
 *
 * Runs as: login: postern-login, chrooted to the empty run/jail, holding
 * the TLS key (read before the drop) and nothing else; it reaches only
 * private/authd and private/imap-session.  Session: postern-vmail in the
 * mail root, reading and writing Maildirs; it reaches only private/authd
 * (to redeem tickets) and private/imap-hibernate, and reads
 * etc/quota.cdb (opened before the drop).  Hibernate: postern-vmail in
 * the mail root; reaches only private/imap-session; reads no mail.
 * None ever opens etc/users.
 *
 * Trusts: see the modules.  Fails: a broken environment (no TLS key for
 * imaps) is fatal at start; everything else ends one client. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "daemon.h"
#include "imapd.h"
#include "greeting.h"
#include "imapd_io.h"
#include "log.h"
#include "login_proxy.h"
#include "session_slots.h"
#include "tls.h"

static int imapd_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)(seconds * 1000);
}

static void imapd_limits_init(struct imapd_limits *l)
{
	unsigned long long e = config_size("imap_hard_error_limit");
	unsigned long long line = config_size("imap_line_limit");
	const char *error;

	memset(l, 0, sizeof(*l));
	l->timeout_ms = imapd_ms(config_time("imap_timeout"));
	l->login_timeout_ms = imapd_ms(config_time("imap_login_timeout"));
	l->ipc_timeout_ms = imapd_ms(config_time("ipc_timeout"));
	l->error_limit = e == 0 || e > ULONG_MAX ? ULONG_MAX : (unsigned long)e;
	/* At least what RFC 7162 section 4 asks for; at most 16 MB. */
	l->line_max = line < 8192 ? 8192 : line > (16u << 20) ? (16u << 20) : (size_t)line;
	l->literal_max = config_size("message_size_limit");
	l->user_sessions = config_size("imap_user_session_limit");
	l->client_sessions = config_size("imap_client_session_limit");
	l->slots_fd = -1;
	l->hibernate_ms = imapd_ms(config_time("imap_hibernate_timeout"));
	unsigned long long hl = config_size("imap_hibernate_limit");
	l->hibernate_limit = hl > 1000000 ? 1000000 : (size_t)hl;
	if (login_policy_init(&l->policy, "imap", &error) < 0)
		log_fatal("%s", error);
	greeting_imap_init(l->literal_max);
}

void imapd_parser_limits(const struct imapd_limits *l, struct imap_parser_limits *pl)
{
	imap_parser_limits_default(pl);
	pl->line_max = l->line_max;
	pl->literal_max = l->literal_max;
	pl->literal_plus = true;
}

int main(int argc, char **argv)
{
	static struct imapd_limits limits;
	struct daemon d;
	struct daemon_holder holder;
	const char *error, *role;

	/* The role is the first argument; daemon_init takes the same one to
	 * find our row of the service table. */
	daemon_init(&d, "imapd", argc, argv);
	role = d.argc > 0 ? d.argv[0] : "";
	imapd_limits_init(&limits);
	if (strcmp(role, "session") == 0 || strcmp(role, "hibernate") == 0) {
		/* The slot file is root's: opened before the drop.  Both
		 * roles count the sessions they hold. */
		char path[sizeof(d.base_dir) + 32];
		if ((limits.user_sessions > 0 || limits.client_sessions > 0) &&
		    (size_t)snprintf(path, sizeof(path), "%s/run/imap.sessions", d.base_dir) < sizeof(path))
			limits.slots_fd = session_slots_open(path, "imap_user_session_limit and imap_client_session_limit");
	}
	if (strcmp(role, "hibernate") == 0) {
		daemon_drop(&d);
		imapd_hibernate_main(&d, &limits);
		return 0;
	}
	if (strcmp(role, "session") == 0) {
		/* The quota map is outside the mail root: opened before the drop,
		 * as local delivery does (a replaced map ends the process). */
		limits.quota_map = daemon_open_map(&d, "quota.cdb", 1);
		daemon_drop(&d);
		daemon_serve(&d, imapd_session_serve, &limits);
		return 0;
	}
	limits.implicit_tls = strcmp(role, "tls") == 0;
	/* The key is readable by root only: load it before the drop. */
	limits.tls = tls_server_ctx_config(d.etc_dir, &error);
	limits.tls_handshake_ms = tls_handshake_ms();
	if (limits.tls == NULL && limits.implicit_tls)
		log_fatal("imaps needs TLS: %s", error);
	if (limits.tls == NULL)
		log_warn("no TLS, STARTTLS not offered: %s", error);
	daemon_drop(&d);
	/* The relay thread starts after the drop: it never runs as root. */
	limits.proxies = login_proxies_new(login_proxy_limit(), &error);
	if (limits.proxies == NULL)
		log_fatal("TLS relay: %s", error);
	/* The session ends an idle client first (imap_timeout) and says so. */
	limits.proxy_idle_ms = login_proxy_idle_ms(limits.timeout_ms);
	login_proxies_holder(limits.proxies, &holder);
	daemon_serve_holding(&d, imapd_login_serve, &limits, &holder);
	login_proxies_free(&limits.proxies);
	tls_ctx_free(&limits.tls);
	return 0;
}
