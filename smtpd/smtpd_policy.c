/* smtpd_policy: who may relay, who may use which sender, and how many
 * sessions one client address may hold.
 *
 * Offers: smtpd_policy_init() reads `mynetworks` (CIDR blocks, IPv4 and
 * IPv6, `[v6]/n` accepted as Postfix writes it) and
 * `smtpd_client_limit_exceptions` (the same, plus `$mynetworks`), and
 * smtpd_policy_mynetworks() matches a client address against them (an
 * IPv4-mapped IPv6 client counts as IPv4).  smtpd_policy_sender_owned()
 * is the submission rule of RFC 6409 6.1: an authenticated user may use
 * their own address, or an address (or @domain) that the
 * smtpd_sender_login_maps cdb map lists them for.
 *
 * Session slots per client IP (smtpd_limit_*): a client in
 * smtpd_client_limit_exceptions (CIDR blocks; `$mynetworks`, the
 * default, stands for the mynetworks blocks, as Postfix exempts
 * $mynetworks from its per-client limits) takes no slot at all.  For
 * the others every smtpd process, whatever its service, opens the same
 * lock file DIR/run/smtpd.sessions before it drops privileges and takes
 * one of smtpd_client_connection_limit slots of the client's address
 * (common/session_slots.c: byte-range locks that die with the process);
 * when all are held the client already has the limit.
 *
 * Trusts: the configuration (root's) and the maps; the client address
 * text comes from getpeername, not from the client.
 *
 * Fails: a bad entry in either list is fatal at start; a map read error is
 * -1 for the caller to answer with a 4xx. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "log.h"
#include "session_slots.h"
#include "smtpd.h"
#include "sockets.h"


/* Parse "addr[/prefix]" (IPv6 optionally in brackets) into net. */
static int smtpd_net_parse(const char *p, size_t len, struct smtpd_net *net)
{
	char text[INET6_ADDRSTRLEN + 8];
	const char *slash = memchr(p, '/', len);
	size_t alen = slash != NULL ? (size_t)(slash - p) : len;
	unsigned long prefix;
	char *end;

	if (alen >= 2 && p[0] == '[' && p[alen - 1] == ']') {
		p++;
		alen -= 2;
	}
	if (alen == 0 || alen >= sizeof(text))
		return -1;
	memcpy(text, p, alen);
	text[alen] = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, text, net->addr) == 1)
		net->family = AF_INET;
	else if (inet_pton(AF_INET6, text, net->addr) == 1)
		net->family = AF_INET6;
	else
		return -1;
	net->prefix = net->family == AF_INET ? 32 : 128;
	if (slash == NULL)
		return 0;
	/* The item is NUL-terminated (smtpd_policy_init copies it). */
	if (!isdigit((unsigned char)slash[1]))
		return -1;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || prefix > net->prefix)
		return -1;
	net->prefix = (unsigned)prefix;
	return 0;
}

struct smtpd_net *smtpd_netlist_parse(const char *key, const char *v,
				      const struct smtpd_net *mine, size_t n_mine, size_t *n_r)
{
	struct smtpd_net *nets = calloc(SMTPD_MYNETWORKS_MAX, sizeof(*nets));
	size_t pos = 0, n = 0, len = strlen(v), wl;
	const char *w;

	if (nets == NULL)
		log_fatal("out of memory");
	while (config_list_next(v, len, &pos, &w, &wl)) {
		char item[128];

		if (wl >= sizeof(item))
			log_fatal("%s: entry too long", key);
		memcpy(item, w, wl);
		item[wl] = '\0';
		if (mine != NULL && strcmp(item, "$mynetworks") == 0) {
			if (n_mine > SMTPD_MYNETWORKS_MAX - n)
				log_fatal("%s: more than %d entries", key, SMTPD_MYNETWORKS_MAX);
			memcpy(nets + n, mine, n_mine * sizeof(*nets));
			n += n_mine;
			continue;
		}
		if (n == SMTPD_MYNETWORKS_MAX)
			log_fatal("%s: more than %d entries", key, SMTPD_MYNETWORKS_MAX);
		if (smtpd_net_parse(item, wl, &nets[n]) < 0)
			log_fatal("%s: bad network \"%s\" (expected ADDRESS[/PREFIX]%s)", key, item,
				  mine != NULL ? " or $mynetworks" : "");
		n++;
	}
	*n_r = n;
	return nets;
}

void smtpd_policy_init(struct smtpd_ctx *ctx)
{
	ctx->mynetworks = smtpd_netlist_parse("mynetworks", config_str("mynetworks"), NULL, 0,
					      &ctx->nmynetworks);
	ctx->limit_exceptions = smtpd_netlist_parse("smtpd_client_limit_exceptions",
						    config_str("smtpd_client_limit_exceptions"),
						    ctx->mynetworks, ctx->nmynetworks,
						    &ctx->nlimit_exceptions);
}

static int smtpd_net_match(const struct smtpd_net *net, int family, const unsigned char *addr)
{
	return net->family == family && ip_prefix_match(net->addr, addr, net->prefix);
}

int smtpd_netlist_match(const struct smtpd_net *nets, size_t n, const char *client)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char addr[16];
	int family;

	if (n == 0)
		return 0;
	if (inet_pton(AF_INET, client, addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, client, addr) == 1) {
		family = AF_INET6;
		if (memcmp(addr, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(addr, addr + 12, 4);
			family = AF_INET;
		}
	} else
		return 0;
	for (size_t i = 0; i < n; i++)
		if (smtpd_net_match(&nets[i], family, addr))
			return 1;
	return 0;
}

int smtpd_policy_mynetworks(const struct smtpd_ctx *ctx, const char *client)
{
	return smtpd_netlist_match(ctx->mynetworks, ctx->nmynetworks, client);
}

/* Whether the map's value for key lists user (space/comma separated). */
static int smtpd_map_lists(struct cdbmap *map, const char *key, const char *user)
{
	struct buf value;
	size_t ulen = strlen(user);
	int r;

	buf_init(&value, 65536);
	r = cdbmap_lookup(map, key, strlen(key), &value);
	if (r == 1) {
		const char *v = buf_cstr(&value);
		size_t i = 0;

		r = 0;
		while (v[i] != '\0' && r == 0) {
			size_t w;

			while (v[i] == ' ' || v[i] == ',' || v[i] == '\t')
				i++;
			w = strcspn(v + i, " ,\t");
			if (w == ulen && w > 0 && strncasecmp(v + i, user, ulen) == 0)
				r = 1;
			i += w;
		}
	}
	buf_free(&value);
	return r;
}

int smtpd_policy_sender_owned(const struct smtpd_ctx *ctx, const char *user, const char *sender)
{
	long at;
	int r;

	if (sender[0] == '\0')
		return 0;   /* <> is nobody's address: bounces come from the queue */
	if (strcasecmp(sender, user) == 0)
		return 1;
	if (ctx->sender_logins == NULL)
		return 0;
	r = smtpd_map_lists(ctx->sender_logins, sender, user);
	if (r != 0)
		return r;
	at = address_at(sender, strlen(sender));
	if (at < 0)
		return 0;
	return smtpd_map_lists(ctx->sender_logins, sender + at, user);   /* "@domain" */
}

/* ---- session slots per client address (common/session_slots.c) ---- */

int smtpd_limit_acquire(const struct smtpd_ctx *ctx, const char *client, long long *slot_r)
{
	*slot_r = -1;
	if (smtpd_netlist_match(ctx->limit_exceptions, ctx->nlimit_exceptions, client))
		return 1;
	return session_slots_acquire(ctx->conn_fd, client, ctx->conn_limit, slot_r);
}

int smtpd_policy_limit_exempt(const struct smtpd_ctx *ctx, const char *client)
{
	return smtpd_netlist_match(ctx->limit_exceptions, ctx->nlimit_exceptions, client);
}

void smtpd_limit_release(const struct smtpd_ctx *ctx, long long slot)
{
	session_slots_release(ctx->conn_fd, slot);
}
