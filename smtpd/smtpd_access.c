/* smtpd_access: access maps, the pregreet test and rate limits, each at
 * the stage of the session where its item is known.
 *
 * Offers:
 *  - at connect (smtpd_access_connect): the connection rate of the
 *    client address (421 4.7.0 and close); on the smtp service the
 *    pregreet test, smtpd_pregreet_wait before the greeting (a client
 *    that talks first gets 554 5.5.1 and is closed, logged as PREGREET);
 *    smtpd_client_access with the client name, then its address
 *    (REJECT: a 554 greeting, after which only QUIT is served, RFC 5321
 *    3.1; DEFER: 421 4.7.1 and close); unless that said OK, the DNS
 *    lists of smtpd_dnsbl_sites, their weights added up, and at
 *    smtpd_dnsbl_threshold a 554 5.7.1 greeting and only QUIT (clients
 *    in mynetworks are not looked up; the lists are asked one after
 *    another, each within dns_timeout x dns_tries, and a list that
 *    cannot answer counts 0, logged);
 *  - at HELO/EHLO: smtpd_helo_access (554 / 450, the name is not taken);
 *  - at MAIL: the message rates of the client address and of the
 *    authenticated user (450 4.7.1), then smtpd_sender_access;
 *  - at RCPT: the recipient rates (450 4.7.1), then
 *    smtpd_recipient_access, before the recipient checks (its OK ends
 *    only the access lookup: it never allows relaying).
 * OK and DUNNO go on; HOLD and DISCARD found for the client or the HELO
 * name hold (or drop) every message of the session, for the sender that
 * message, for a recipient the message once that recipient is accepted:
 * they set the transaction's policy_hold / policy_discard, the flags the
 * policy delegation sets too, and a held message is committed by enqueue
 * straight into hold/ (`postern queue release` sends it on).
 *
 * Rates are counted in common/rate_table.c's shared table,
 * DIR/run/smtpd.rates, opened before the privilege drop like the session
 * slots; clients in smtpd_client_limit_exceptions ($mynetworks by
 * default) are exempt from the client rates, not from the user rates.
 *
 * Trusts: the maps and configuration (root's); the items come from
 * getpeername, the HELO argument (checked printable by the caller) and
 * the parsed envelope addresses.
 *
 * Fails: a map read error or a bad value in a map is a 451 4.3.5 (logged);
 * a rate table that cannot be opened is logged and its limits are not
 * enforced; a bad setting is fatal at start. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "access_map.h"
#include "config.h"
#include "daemon.h"
#include "dns.h"
#include "dnsbl_sites.h"
#include "log.h"
#include "pregreet.h"
#include "rate_table.h"
#include "smtpd.h"


enum smtpd_access_map { MAP_CLIENT, MAP_HELO, MAP_SENDER, MAP_RCPT, MAP_COUNT };

static const char *const smtpd_access_keys[MAP_COUNT] = {
	"smtpd_client_access", "smtpd_helo_access", "smtpd_sender_access", "smtpd_recipient_access",
};

struct smtpd_access {
	struct cdbmap *map[MAP_COUNT];
	struct rate_table *rates;          /* NULL: no rate limit set */
	unsigned long long conn_rate, msg_rate, rcpt_rate, user_msg_rate, user_rcpt_rate;
	unsigned window;                   /* smtpd_client_rate_window, seconds */
	int pregreet_ms;
	struct dnsbl_site dnsbl[DNSBL_SITES_MAX];
	size_t ndnsbl;
	long long dnsbl_threshold;
	struct dns *dns;                   /* NULL: no smtpd_dnsbl_sites */
};

static void smtpd_access_dnsbl_init(struct smtpd_access *a)
{
	const char *sites = config_str("smtpd_dnsbl_sites"), *err;
	unsigned long long ms = config_time("dns_timeout") * 1000, tries = config_size("dns_tries");

	if (dnsbl_sites_parse(sites, strlen(sites), a->dnsbl, &a->ndnsbl, &err) < 0)
		log_fatal("smtpd_dnsbl_sites: %s", err);
	a->dnsbl_threshold = (long long)config_size("smtpd_dnsbl_threshold");
	if (a->ndnsbl == 0)
		return;
	if (ms > 60000 || tries < 1 || tries > 5)
		log_fatal("dns_timeout must be at most 60s and dns_tries 1 to 5 for smtpd_dnsbl_sites");
	/* Before the chroot: resolv.conf is read now. */
	if (dns_open(config_str("dns_servers"), (int)ms, (int)tries, &a->dns, &err) < 0)
		log_fatal("smtpd_dnsbl_sites: %s", err);
}

static void smtpd_access_rates_init(struct smtpd_access *a, const struct daemon *d)
{
	char path[sizeof(d->base_dir) + 32];
	unsigned long long window = config_time("smtpd_client_rate_window");
	const char *err;

	a->conn_rate = config_size("smtpd_client_connection_rate_limit");
	a->msg_rate = config_size("smtpd_client_message_rate_limit");
	a->rcpt_rate = config_size("smtpd_client_recipient_rate_limit");
	a->user_msg_rate = config_size("smtpd_user_message_rate_limit");
	a->user_rcpt_rate = config_size("smtpd_user_recipient_rate_limit");
	if (window > 86400)
		log_fatal("smtpd_client_rate_window must be at most 1d");
	a->window = (unsigned)window;
	if ((a->conn_rate | a->msg_rate | a->rcpt_rate | a->user_msg_rate | a->user_rcpt_rate) == 0)
		return;
	if (snprintf(path, sizeof(path), "%s/run/smtpd.rates", d->base_dir) >= (int)sizeof(path))
		log_fatal("%s/run: path too long", d->base_dir);
	if (rate_table_open(path, &a->rates, &err) < 0)
		log_warn("%s: %s; the smtpd rate limits are not enforced", path, err);
}

void smtpd_access_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	struct smtpd_access *a = calloc(1, sizeof(*a));

	if (a == NULL)
		log_fatal("out of memory");
	for (int i = 0; i < MAP_COUNT; i++)
		a->map[i] = smtpd_open_map_key(d, smtpd_access_keys[i]);
	a->pregreet_ms = pregreet_wait_ms();
	smtpd_access_rates_init(a, d);
	smtpd_access_dnsbl_init(a);
	ctx->access = a;
}

void smtpd_access_free(struct smtpd_ctx *ctx)
{
	if (ctx->access == NULL)
		return;
	rate_table_close(&ctx->access->rates);   /* the maps are daemon_open_map's */
	if (ctx->access->dns != NULL)
		dns_close(&ctx->access->dns);
	free(ctx->access);
	ctx->access = NULL;
}

/* ---- rates */

/* Count one event for the client address (unless exempt) and the user:
 * 1 allowed, 0 over a limit (*who_r names whose). */
static int smtpd_access_rate(struct smtpd_session *ss, enum rate_event ev,
			     unsigned long long client_limit, unsigned long long user_limit,
			     const char **who_r)
{
	const struct smtpd_access *a = ss->ctx->access;
	char key[SMTPD_AUTH_USER_MAX + 8];
	unsigned long long n;
	time_t now = time(NULL);

	if (a->rates == NULL)
		return 1;
	if (client_limit > 0 && !smtpd_policy_limit_exempt(ss->ctx, ss->client) &&
	    snprintf(key, sizeof(key), "c:%s", ss->client) < (int)sizeof(key) &&
	    !rate_table_hit(a->rates, key, ev, client_limit, a->window, now, &n)) {
		*who_r = "client";
		return 0;
	}
	if (user_limit > 0 && ss->auth_user.len > 0 &&
	    snprintf(key, sizeof(key), "u:%s", buf_cstr(&ss->auth_user)) < (int)sizeof(key) &&
	    !rate_table_hit(a->rates, key, ev, user_limit, a->window, now, &n)) {
		*who_r = "user";
		return 0;
	}
	return 1;
}

/* ---- maps */

/* Look item up in one map: 1 with an action, 0 none, -1 after a 451. */
static int smtpd_access_find(struct smtpd_session *ss, enum smtpd_access_map m,
			     enum access_kind kind, const char *item, struct policy_action *act)
{
	char key[256];
	const char *err;
	int r;

	if (ss->ctx->access->map[m] == NULL)
		return 0;
	r = access_map_find(ss->ctx->access->map[m], kind, item, act, key, sizeof(key), &err);
	if (r < 0) {
		log_warn("%s: %s (looking up %s for %s)", smtpd_access_keys[m], err, item, ss->client_log);
		smtpd_reply(ss, "451 4.3.5 Server configuration error");
		return -1;
	}
	if (r > 0)
		log_debug("%s: %s matched key %s", smtpd_access_keys[m], item, key);
	return r;
}

/* A REJECT or DEFER in Postfix's words: "<item>: What rejected: text". */
static void smtpd_access_refuse(struct smtpd_session *ss, const struct policy_action *a, int code,
				const char *item, const char *what)
{
	char shown[SMTPD_REPLY_MAX];

	if (snprintf(shown, sizeof(shown), "<%s>", item) >= (int)sizeof(shown))
		log_panic("smtpd: access item over its checked size");
	smtpd_delegate_refuse(ss, a, code, shown, what);
}

/* Log a HOLD or DISCARD the way Postfix does. */
static void smtpd_access_log_action(const struct smtpd_session *ss, const struct policy_action *a,
				    const char *item, const char *what)
{
	log_info("NOQUEUE: %s: %s from %s: <%s>: %s triggers %s action%s%s; from=<%s> proto=%s helo=<%s>",
		 a->verdict == POLICY_HOLD ? "hold" : "discard",
		 ss->verb != NULL ? ss->verb : "CONNECT", ss->client_log, item, what,
		 a->verdict == POLICY_HOLD ? "HOLD" : "DISCARD", a->text[0] ? ": " : "", a->text,
		 buf_cstr(&ss->sender), ss->esmtp ? "ESMTP" : "SMTP", buf_cstr(&ss->helo));
}

/* The client name as logged ("unknown" without a validated name). */
static void smtpd_access_client_name(const struct smtpd_session *ss, char *out, size_t cap)
{
	size_t n = strcspn(ss->client_log, "[");

	if (n == 0 || n >= cap) {
		snprintf(out, cap, "%s", "unknown");
		return;
	}
	memcpy(out, ss->client_log, n);
	out[n] = '\0';
}

/* ---- connect */

/* Whether the client talked before the greeting: 1 (answered 554, or
 * gone), 0 when it kept quiet for smtpd_pregreet_wait. */
static int smtpd_access_pregreet(struct smtpd_session *ss)
{
	struct pollfd p = { .fd = stream_fd(ss->s), .events = POLLIN };
	char got[PREGREET_SHOW];
	struct timespec t0, t1;
	ssize_t n;
	int r;

	/* A client from the connection front was greeted there, and its
	 * first line waits in the socket (docs/front.md). */
	if (ss->ctx->mode != SMTPD_MODE_SMTP || ss->ctx->access->pregreet_ms == 0 ||
	    daemon_client_greeted() || smtpd_policy_mynetworks(ss->ctx, ss->client))
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((r = poll(&p, 1, ss->ctx->access->pregreet_ms)) < 0 && errno == EINTR)
		;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r <= 0)
		return 0;
	n = recv(p.fd, got, sizeof(got), MSG_DONTWAIT);
	if (n <= 0) {
		log_info("lost connection before the greeting from %s", ss->client_log);
		ss->done = 1;
		return 1;
	}
	pregreet_log(ss->client_log, got, (size_t)n,
		     (long long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
	/* Read what else is waiting, so closing sends a FIN the client can
	 * read our reply before, not a reset. */
	while (recv(p.fd, got, sizeof(got), MSG_DONTWAIT) > 0)
		;
	smtpd_reply(ss, PREGREET_REPLY, ss->ctx->hostname);
	ss->done = 1;
	return 1;
}

/* smtpd_client_access: the name first, then the address.  1 go on
 * (*ok_r when the map said OK), 0 answered. */
static int smtpd_access_client(struct smtpd_session *ss, int *ok_r)
{
	struct policy_action a;
	char name[SMTPD_CLIENT_MAX + 16];
	int r;

	smtpd_access_client_name(ss, name, sizeof(name));
	r = smtpd_access_find(ss, MAP_CLIENT, ACCESS_DOMAIN, name, &a);
	if (r == 0)
		r = smtpd_access_find(ss, MAP_CLIENT, ACCESS_ADDRESS, ss->client, &a);
	if (r < 0) {
		ss->done = 1;   /* a 451 greeting: nothing more can follow */
		return 0;
	}
	if (r == 0)
		return 1;
	*ok_r = a.verdict == POLICY_OK;
	switch (a.verdict) {
	case POLICY_REJECT:
		smtpd_access_refuse(ss, &a, a.code, ss->client_log, "Client host");
		ss->access.refused = 1;   /* RFC 5321 3.1: then only QUIT */
		return 0;
	case POLICY_DEFER:
		/* RFC 5321 3.8: 421 is the temporary refusal of a session. */
		smtpd_access_refuse(ss, &a, 421, ss->client_log, "Client host");
		ss->done = 1;
		return 0;
	case POLICY_HOLD:
	case POLICY_DISCARD:
		smtpd_access_log_action(ss, &a, ss->client_log, "Client host");
		ss->access.hold |= a.verdict == POLICY_HOLD;
		ss->access.discard |= a.verdict == POLICY_DISCARD;
		return 1;
	default:
		return 1;
	}
}

/* The score of one site: its weight when it lists the client. */
static int smtpd_access_dnsbl_site(struct smtpd_session *ss, const struct dnsbl_site *site)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_addr_list out;
	const char *err = "";
	enum dns_result r;

	if (dnsbl_query_name(ss->client, site->zone, name, sizeof(name)) < 0)
		return 0;
	r = dns_lookup_addr(ss->ctx->access->dns, name, AF_INET, &out, &err);
	if (r == DNS_TEMPFAIL)
		log_warn("dnsbl %s: %s: %s", site->zone, name, err);
	if (r != DNS_OK)
		return 0;
	for (size_t i = 0; i < out.n; i++) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&out.addr[i];

		if (out.addr[i].ss_family == AF_INET &&
		    dnsbl_site_match(site, (const unsigned char *)&in->sin_addr))
			return site->weight;
	}
	return 0;
}

/* smtpd_dnsbl_sites: the weights of the lists naming the client, added
 * up; at smtpd_dnsbl_threshold the client gets a 554 greeting and only
 * QUIT.  0 answered, 1 go on. */
static int smtpd_access_dnsbl(struct smtpd_session *ss)
{
	const struct smtpd_access *a = ss->ctx->access;
	const char *first = NULL;
	long long score = 0;

	if (a->dns == NULL || smtpd_policy_mynetworks(ss->ctx, ss->client))
		return 1;
	for (size_t i = 0; i < a->ndnsbl; i++) {
		int w = smtpd_access_dnsbl_site(ss, &a->dnsbl[i]);

		if (w > 0 && first == NULL)
			first = a->dnsbl[i].zone;
		score += w;
	}
	if (score == 0 && first == NULL)
		return 1;
	log_info("DNSBL rank %lld for %s", score, ss->client_log);
	if (score < a->dnsbl_threshold || first == NULL)
		return 1;
	smtpd_reply(ss, "554 5.7.1 Service unavailable; client [%s] blocked using %s", ss->client, first);
	ss->access.refused = 1;
	return 0;
}

int smtpd_access_connect(struct smtpd_session *ss)
{
	unsigned char ip[16];
	const char *who;
	int ok = 0;

	/* `smtpd -i` from a shell ("stdin"), a Unix socket ("unix"): no
	 * address to count, look up or make wait. */
	if (inet_pton(AF_INET, ss->client, ip) != 1 && inet_pton(AF_INET6, ss->client, ip) != 1)
		return 1;

	if (!smtpd_access_rate(ss, RATE_CONNECTION, ss->ctx->access->conn_rate, 0, &who)) {
		smtpd_reply(ss, "421 4.7.0 %s Error: too many connections from %s", ss->ctx->hostname,
			    ss->client);
		ss->done = 1;
		return 0;
	}
	if (smtpd_access_pregreet(ss))
		return 0;
	if (!smtpd_access_client(ss, &ok))
		return 0;
	return ok || smtpd_access_dnsbl(ss);   /* a client the map says OK to is not looked up */
}

/* ---- HELO, MAIL, RCPT */

/* Carry out a map's action for one command: 1 go on, 0 answered.
 * *mark_r gets HOLD / DISCARD to apply when the command is accepted. */
static int smtpd_access_verdict(struct smtpd_session *ss, const struct policy_action *a,
				const char *item, const char *what, int *mark_r)
{
	switch (a->verdict) {
	case POLICY_REJECT:
	case POLICY_DEFER:
		smtpd_access_refuse(ss, a, a->code, item, what);
		return 0;
	case POLICY_HOLD:
	case POLICY_DISCARD:
		smtpd_access_log_action(ss, a, item, what);
		*mark_r = a->verdict == POLICY_HOLD ? SMTPD_ACCESS_HOLD : SMTPD_ACCESS_DISCARD;
		return 1;
	default:
		return 1;
	}
}

int smtpd_access_helo(struct smtpd_session *ss, const char *name)
{
	struct policy_action a;
	int mark = 0, r = smtpd_access_find(ss, MAP_HELO, ACCESS_DOMAIN, name, &a);

	if (r < 0 || (r > 0 && !smtpd_access_verdict(ss, &a, name, "Helo command", &mark)))
		return 0;
	ss->access.hold |= mark == SMTPD_ACCESS_HOLD;
	ss->access.discard |= mark == SMTPD_ACCESS_DISCARD;
	return 1;
}

void smtpd_access_mark(struct smtpd_session *ss, int mark)
{
	if (mark == SMTPD_ACCESS_HOLD || ss->access.hold)
		ss->policy_hold = 1;
	if (mark == SMTPD_ACCESS_DISCARD || ss->access.discard)
		ss->policy_discard = 1;
}

int smtpd_access_mail(struct smtpd_session *ss)
{
	const struct smtpd_access *acc = ss->ctx->access;
	const char *sender = buf_cstr(&ss->sender), *who;
	struct policy_action a;
	int mark = 0, r;

	if (!smtpd_access_rate(ss, RATE_MESSAGE, acc->msg_rate, acc->user_msg_rate, &who)) {
		smtpd_reply(ss, "450 4.7.1 Error: too much mail from %s",
			    who[0] == 'c' ? ss->client : buf_cstr(&ss->auth_user));
		return 0;
	}
	r = smtpd_access_find(ss, MAP_SENDER, ACCESS_EMAIL, sender, &a);
	if (r < 0 || (r > 0 && !smtpd_access_verdict(ss, &a, sender, "Sender address", &mark)))
		return 0;
	smtpd_access_mark(ss, mark);
	return 1;
}

int smtpd_access_rcpt(struct smtpd_session *ss, const char *rcpt, int *mark_r)
{
	const struct smtpd_access *acc = ss->ctx->access;
	struct policy_action a;
	const char *who;
	int r;

	*mark_r = 0;
	if (!smtpd_access_rate(ss, RATE_RECIPIENT, acc->rcpt_rate, acc->user_rcpt_rate, &who)) {
		smtpd_reply(ss, "450 4.7.1 Error: too many recipients from %s",
			    who[0] == 'c' ? ss->client : buf_cstr(&ss->auth_user));
		return 0;
	}
	r = smtpd_access_find(ss, MAP_RCPT, ACCESS_EMAIL, rcpt, &a);
	return r >= 0 && (r == 0 || smtpd_access_verdict(ss, &a, rcpt, "Recipient address", mark_r));
}
