/* netlist: a setting's list of CIDR blocks (mynetworks and the lists
 * built on it: smtpd's limit exceptions, SPF and DKIM skip lists, the
 * connection front's pregreet exemption) and whether a client address
 * lies in one of them.  IPv4 and IPv6, `[v6]/n` accepted as Postfix
 * writes it; an IPv4-mapped IPv6 client counts as IPv4. */
#ifndef POSTERN_NETLIST_H
#define POSTERN_NETLIST_H

#include <stddef.h>

#define NETLIST_MAX 256          /* blocks in one list */

struct netlist_net {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

/* Parse setting key's value v (blocks separated by spaces or commas;
 * with mine, `$mynetworks` stands for those n_mine blocks); exits with a
 * message naming key on a bad entry or more than NETLIST_MAX blocks. */
struct netlist_net *netlist_parse(const char *key, const char *v, const struct netlist_net *mine, size_t n_mine,
				  size_t *n_r);
/* Whether the client address (text, as getpeername printed it) lies in
 * one of the n nets. */
int netlist_match(const struct netlist_net *nets, size_t n, const char *client);

#endif
