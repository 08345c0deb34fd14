/* netlist: lists of CIDR blocks from the settings (netlist.h).
 *
 * Trusts: the configuration (root's); the client address text comes from
 * getpeername, not from the client.
 *
 * Fails: a bad entry is fatal at start (log_fatal names the setting). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "netlist.h"
#include "sockets.h"

/* Parse "addr[/prefix]" (IPv6 optionally in brackets) into net. */
static int netlist_net_parse(const char *p, size_t len, struct netlist_net *net)
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
	/* The item is NUL-terminated (netlist_parse copies it). */
	if (!isdigit((unsigned char)slash[1]))
		return -1;
	errno = 0;
	prefix = strtoul(slash + 1, &end, 10);
	if (errno != 0 || *end != '\0' || prefix > net->prefix)
		return -1;
	net->prefix = (unsigned)prefix;
	return 0;
}

struct netlist_net *netlist_parse(const char *key, const char *v, const struct netlist_net *mine, size_t n_mine,
				  size_t *n_r)
{
	struct netlist_net *nets = calloc(NETLIST_MAX, sizeof(*nets));
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
			if (n_mine > NETLIST_MAX - n)
				log_fatal("%s: more than %d entries", key, NETLIST_MAX);
			memcpy(nets + n, mine, n_mine * sizeof(*nets));
			n += n_mine;
			continue;
		}
		if (n == NETLIST_MAX)
			log_fatal("%s: more than %d entries", key, NETLIST_MAX);
		if (netlist_net_parse(item, wl, &nets[n]) < 0)
			log_fatal("%s: bad network \"%s\" (expected ADDRESS[/PREFIX]%s)", key, item,
				  mine != NULL ? " or $mynetworks" : "");
		n++;
	}
	*n_r = n;
	return nets;
}

static int netlist_net_match(const struct netlist_net *net, int family, const unsigned char *addr)
{
	return net->family == family && ip_prefix_match(net->addr, addr, net->prefix);
}

int netlist_match(const struct netlist_net *nets, size_t n, const char *client)
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
		if (netlist_net_match(&nets[i], family, addr))
			return 1;
	return 0;
}

