/* remote_route: from a destination to SMTP servers, and the order in
 * which they are tried.
 *
 * Offers: remote_route_deliver: for a group of recipients sharing a next
 * hop, reuse an idle session to it if one is cached; otherwise resolve it
 * (relayhost [host] -> its addresses; a domain -> its MX hosts by
 * preference, or the domain itself when it has no MX, RFC 5321 5.1) and
 * try each address in turn until one server gives every recipient an
 * answer.  A connection failure, a timeout, a 4xx/5xx greeting, a failed
 * EHLO or a refused MAIL FROM moves on to the next address or MX host
 * (bounded by remote_address_limit and remote_session_limit); answers
 * to single recipients (RCPT 4xx/5xx) do not.  remote_parse_nexthop
 * reads relayhost and address literals.
 *
 * Trusts: DNS answers as routing data only (names are bounded and
 * checked by common/dns).
 *
 * Fails: permanent facts fail the group: NXDOMAIN 5.1.2, null MX 5.1.10
 * (RFC 7505 4.2), MX hosts without any address 5.4.4.  Everything else
 * defers with the last server's reason: DNS trouble 4.4.3, no server
 * reachable 4.4.1, no free connection slot 4.4.5. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "log_delivery.h"
#include "remote.h"

void remote_rcpt_set(struct remote_rcpt *rc, const char *status, const char *dsn, const char *fmt, ...)
{
	va_list ap;
	int n;

	rc->done = 1;
	rc->status = status;
	rc->action = NULL;
	snprintf(rc->dsn, sizeof rc->dsn, "%s", dsn);
	va_start(ap, fmt);
	n = vsnprintf(rc->reason, sizeof rc->reason, fmt, ap);
	va_end(ap);
	/* Reasons hold a server's reply, already cut to fit; a longer one
	 * only loses the end of a diagnostic, and says so. */
	if (n > 0 && (size_t)n >= sizeof rc->reason && sizeof rc->reason > 4)
		memcpy(rc->reason + sizeof rc->reason - 4, "...", 4);
}

static int remote_parse_port(const char *p, unsigned *port)
{
	unsigned long v = 0;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = (unsigned)v;
	return 0;
}

int remote_parse_nexthop(const char *text, unsigned default_port, struct remote_dest *d)
{
	const char *name = text, *end, *rest;
	size_t len;

	memset(d, 0, sizeof *d);
	d->port = default_port;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL)
			return -1;
		name = text + 1;
		rest = end + 1;
		d->no_mx = 1;
		if (strncasecmp(name, "IPv6:", 5) == 0)   /* RFC 5321 4.1.3 */
			name += 5;
	} else {
		end = strchr(text, ':');
		rest = end != NULL ? end : text + strlen(text);
		end = rest;
	}
	if (*rest == ':' ? remote_parse_port(rest + 1, &d->port) < 0 : *rest != '\0')
		return -1;
	len = (size_t)(end - name);
	if (len == 0 || len > DNS_NAME_MAX)
		return -1;
	memcpy(d->name, name, len);
	d->name[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)d->name[i] <= 0x20 || d->name[i] == 0x7f)
			return -1;
	return 0;
}

/* Every recipient still pending gets the same answer. */
static void remote_all(struct remote_rcpt *rc, size_t n, const char *status, const char *dsn,
		       const char *reason)
{
	for (size_t i = 0; i < n; i++)
		if (!rc[i].done)
			remote_rcpt_set(&rc[i], status, dsn, "%s", reason);
}

static void remote_target_text(struct remote_target *t, unsigned port)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (t->addr.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&t->addr)->sin6_addr, a, sizeof a);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&t->addr)->sin_addr, a, sizeof a);
	snprintf(t->text, sizeof t->text, "%s[%s]:%u", t->host, a, port);
}

/* Recipients this session just answered: which server, and how long
 * (the relay= and delays= of their log lines). */
static void remote_rcpt_relay(struct remote_rcpt *rc, size_t n, const char *text, long long setup_ms,
			      long long xfer_ms)
{
	for (size_t i = 0; i < n; i++) {
		if (!rc[i].done || rc[i].relay[0] != '\0')
			continue;
		snprintf(rc[i].relay, sizeof rc[i].relay, "%s", text);   /* same size as text */
		rc[i].setup_ms = setup_ms;
		rc[i].xfer_ms = xfer_ms;
	}
}

/* A cached session first: it saves DNS, TCP, TLS and EHLO. */
static int remote_try_cached(struct remote_ctx *ctx, const struct remote_msg *msg,
			     const struct remote_dest *dest, struct remote_rcpt *rc, size_t n)
{
	struct remote_session *s = remote_cache_take(ctx, dest->key);
	char reason[AGENT_REASON_MAX], text[sizeof s->target.text];
	enum remote_try r;
	long long t0;

	if (s == NULL)
		return 0;
	t0 = log_delivery_now_ms();
	if (remote_smtp_rset(ctx, s) < 0) {
		remote_smtp_close(ctx, &s, 0);
		return 0;
	}
	log_debug("reusing the session with %s (%u messages so far)", s->target.text, s->messages);
	memcpy(text, s->target.text, sizeof text);   /* s may be gone after the transaction */
	r = remote_smtp_deliver(ctx, &s, msg, rc, n, reason, sizeof reason);
	remote_rcpt_relay(rc, n, text, 0, log_delivery_now_ms() - t0);
	if (r == REMOTE_TRY_DONE) {
		remote_cache_put(ctx, s);
		return 1;
	}
	return 0;   /* the session broke: go the long way for the rest */
}

/* The hosts to try: MX hosts, or the destination itself. */
static int remote_hosts(struct remote_ctx *ctx, const struct remote_dest *dest, struct dns_mx_list *mx,
			struct remote_rcpt *rc, size_t n)
{
	const char *error = "unknown";
	char why[AGENT_REASON_MAX];
	enum dns_result r;

	mx->n = 0;
	if (dest->no_mx)
		r = DNS_NODATA;
	else
		r = dns_lookup_mx(ctx->dns, dest->name, mx, &error);
	switch (r) {
	case DNS_OK:
		return 0;
	case DNS_NODATA:
		/* RFC 5321 5.1: no MX, the domain itself is the implicit MX. */
		snprintf(mx->mx[0].host, sizeof mx->mx[0].host, "%s", dest->name);
		mx->mx[0].pref = 0;
		mx->n = 1;
		return 0;
	case DNS_NULLMX:
		remote_all(rc, n, "failed", "5.1.10", "Domain does not accept mail (null MX, RFC 7505)");
		return -1;
	case DNS_NOTFOUND:
		snprintf(why, sizeof why, "Host or domain name not found: %s (NXDOMAIN)", dest->name);
		/* A relayhost that does not resolve is our configuration error: wait for a fix. */
		remote_all(rc, n, dest->relay ? "deferred" : "failed", dest->relay ? "4.4.3" : "5.1.2", why);
		return -1;
	case DNS_TEMPFAIL:
		break;
	}
	snprintf(why, sizeof why, "DNS lookup of the MX records of %s failed: %s", dest->name, error);
	remote_all(rc, n, "deferred", "4.4.3", why);
	return -1;
}

struct remote_attempts {
	unsigned addresses, sessions;   /* tried so far */
	unsigned addr_limit, session_limit;
	int dns_tempfail;               /* an address lookup failed temporarily */
	int any_address;                /* some host had an address */
	char reason[AGENT_REASON_MAX];  /* the last failure */
	const char *dsn;
	/* the server of the last failure when one was reached (a greeting,
	 * TLS or AUTH refused): its relay= and setup time, "" none */
	char relay[sizeof(((struct remote_target *)0)->text)];
	long long setup_ms;
};

/* Try one address.  1: every recipient answered; 0: go on. */
static int remote_try_target(struct remote_ctx *ctx, const struct remote_msg *msg,
			     const struct remote_dest *dest, const struct remote_target *t,
			     struct remote_rcpt *rc, size_t n, struct remote_attempts *a, int *slot_fd)
{
	struct remote_session *s = NULL;
	const char *dsn = "4.4.1";
	long long t0 = log_delivery_now_ms(), t1;
	enum remote_try r;

	a->addresses++;
	if (remote_smtp_open(ctx, dest, t, &s, a->reason, sizeof a->reason, &dsn) < 0) {
		a->dsn = dsn;
		/* past the connect (remote_smtp_open: 4.4.1 before it) the
		 * server answered: it is the relay= of the failure */
		if (strcmp(dsn, "4.4.1") != 0)
			memcpy(a->relay, t->text, sizeof a->relay);
		else
			a->relay[0] = '\0';
		a->setup_ms = log_delivery_now_ms() - t0;
		log_info("%s: %s", msg->q->queue_id, a->reason);
		return 0;
	}
	a->relay[0] = '\0';
	a->sessions++;
	s->slot_fd = *slot_fd;          /* the session holds the slot from now on */
	*slot_fd = -1;
	t1 = log_delivery_now_ms();
	r = remote_smtp_deliver(ctx, &s, msg, rc, n, a->reason, sizeof a->reason);
	remote_rcpt_relay(rc, n, t->text, t1 - t0, log_delivery_now_ms() - t1);
	if (r == REMOTE_TRY_DONE) {
		remote_cache_put(ctx, s);
		return 1;
	}
	a->dsn = "4.4.2";
	memcpy(a->relay, t->text, sizeof a->relay);   /* the session broke off there */
	a->setup_ms = t1 - t0;
	log_info("%s: %s", msg->q->queue_id, a->reason);
	if (*slot_fd == -1)
		*slot_fd = remote_slot_take(ctx, dest->key, ctx->conf.connect_ms);
	return 0;
}

/* Try the addresses of one host.  1 done, 0 go on, -1 stop trying. */
static int remote_try_host(struct remote_ctx *ctx, const struct remote_msg *msg,
			   const struct remote_dest *dest, const char *host,
			   struct remote_rcpt *rc, size_t n, struct remote_attempts *a, int *slot_fd)
{
	struct dns_addr_list addrs;
	const char *error = "unknown";
	enum dns_result r = dns_lookup_addr(ctx->dns, host, ctx->conf.family, &addrs, &error);

	if (r != DNS_OK) {
		log_info("%s: address lookup of %s: %s%s%s", msg->q->queue_id, host, dns_result_str(r),
			 r == DNS_TEMPFAIL ? ": " : "", r == DNS_TEMPFAIL ? error : "");
		if (r == DNS_TEMPFAIL) {
			a->dns_tempfail = 1;
			snprintf(a->reason, sizeof a->reason, "DNS lookup of the address of %s failed: %s", host, error);
			a->dsn = "4.4.3";
			a->relay[0] = '\0';   /* a reason of no server's */
		}
		return 0;
	}
	a->any_address = 1;
	for (size_t i = 0; i < addrs.n; i++) {
		struct remote_target t;
		if (a->addresses >= a->addr_limit || a->sessions >= a->session_limit)
			return -1;
		if (*slot_fd == -1) {
			snprintf(a->reason, sizeof a->reason, "too many connections to %s", dest->name);
			a->dsn = "4.4.5";
			a->relay[0] = '\0';
			return -1;
		}
		memset(&t, 0, sizeof t);
		snprintf(t.host, sizeof t.host, "%s", host);
		memcpy(&t.addr, &addrs.addr[i], addrs.len[i]);
		t.addr_len = addrs.len[i];
		if (t.addr.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&t.addr)->sin6_port = htons((unsigned short)dest->port);
		else
			((struct sockaddr_in *)&t.addr)->sin_port = htons((unsigned short)dest->port);
		remote_target_text(&t, dest->port);
		if (remote_try_target(ctx, msg, dest, &t, rc, n, a, slot_fd))
			return 1;
	}
	return 0;
}

void remote_route_deliver(struct remote_ctx *ctx, const struct remote_msg *msg,
			  const struct remote_dest *dest, struct remote_rcpt *rc, size_t n)
{
	struct remote_attempts a = { .addr_limit = config_size("remote_address_limit") > 0
					 ? (unsigned)config_size("remote_address_limit") : 1,
				     .session_limit = config_size("remote_session_limit") > 0
					 ? (unsigned)config_size("remote_session_limit") : 1,
				     .dsn = "4.4.1" };
	struct dns_mx_list mx;
	int slot_fd;

	if (remote_try_cached(ctx, msg, dest, rc, n))
		return;
	if (remote_hosts(ctx, dest, &mx, rc, n) < 0)
		return;
	slot_fd = remote_slot_take(ctx, dest->key, ctx->conf.connect_ms);
	snprintf(a.reason, sizeof a.reason, "no server of %s could be reached", dest->name);
	for (size_t i = 0; i < mx.n; i++)
		if (remote_try_host(ctx, msg, dest, mx.mx[i].host, rc, n, &a, &slot_fd) != 0)
			break;
	if (slot_fd >= 0)
		close(slot_fd);
	if (!a.any_address && !a.dns_tempfail && !dest->relay) {
		snprintf(a.reason, sizeof a.reason, "no address found for the mail server(s) of %s", dest->name);
		remote_all(rc, n, "failed", "5.4.4", a.reason);
		return;
	}
	remote_all(rc, n, "deferred", a.dsn, a.reason);
	if (a.relay[0] != '\0')
		remote_rcpt_relay(rc, n, a.relay, a.setup_ms, 0);
}
