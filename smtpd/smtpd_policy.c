/* smtpd_policy: who may relay, who may use which sender, and how many
 * sessions one client address may hold.
 *
 * Offers: smtpd_policy_init() reads `mynetworks` (CIDR blocks: common/netlist; IPv4 and
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
#include "netlist.h"
#include "session_slots.h"
#include "smtpd.h"
#include "sockets.h"

void smtpd_policy_init(struct smtpd_ctx *ctx)
{
	ctx->mynetworks = netlist_parse("mynetworks", config_str("mynetworks"), NULL, 0, &ctx->nmynetworks);
	ctx->limit_exceptions = netlist_parse("smtpd_client_limit_exceptions",
					      config_str("smtpd_client_limit_exceptions"), ctx->mynetworks,
					      ctx->nmynetworks, &ctx->nlimit_exceptions);
}

int smtpd_policy_mynetworks(const struct smtpd_ctx *ctx, const char *client)
{
	return netlist_match(ctx->mynetworks, ctx->nmynetworks, client);
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
	if (netlist_match(ctx->limit_exceptions, ctx->nlimit_exceptions, client))
		return 1;
	return session_slots_acquire(ctx->conn_fd, client, ctx->conn_limit, slot_r);
}

int smtpd_policy_limit_exempt(const struct smtpd_ctx *ctx, const char *client)
{
	return netlist_match(ctx->limit_exceptions, ctx->nlimit_exceptions, client);
}

void smtpd_limit_release(const struct smtpd_ctx *ctx, long long slot)
{
	session_slots_release(ctx->conn_fd, slot);
}
