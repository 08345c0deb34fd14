/* dns: the DNS lookups of mail routing, through c-ares (RFC 5321 5.1).
 * MX records sorted by preference with equal preferences shuffled, null
 * MX (RFC 7505), and the IPv6 and IPv4 addresses of a host, with a clear
 * difference between "does not exist" (permanent) and "could not find
 * out" (temporary).  The resolvers are given as a list of host[:port] or
 * [v6]:port (postern.conf dns_servers) or, when empty, read from the
 * system's resolv.conf at dns_open: call it before chroot. */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#define DNS_NAME_MAX 255       /* longest host name (RFC 1035 2.3.4) */
#define DNS_MX_MAX 32          /* MX hosts kept per domain, best first */
#define DNS_ADDR_MAX 16        /* addresses kept per host */

enum dns_result {
	DNS_OK = 0,
	DNS_NOTFOUND,          /* NXDOMAIN: the name does not exist */
	DNS_NODATA,            /* the name exists without records of that type */
	DNS_NULLMX,            /* RFC 7505: the domain accepts no mail */
	DNS_TEMPFAIL,          /* timeout, SERVFAIL, refused, malformed answer */
};

struct dns_mx {
	char host[DNS_NAME_MAX + 1];
	unsigned pref;
};

struct dns_mx_list {
	struct dns_mx mx[DNS_MX_MAX];
	size_t n;
};

struct dns_addr_list {
	struct sockaddr_storage addr[DNS_ADDR_MAX];   /* port 0 */
	socklen_t len[DNS_ADDR_MAX];
	size_t n;
};

struct dns;

/* Set up a resolver.  servers: "" for resolv.conf, else a comma or
 * space-separated list of host[:port] / [v6]:port (numeric).  Each query
 * is tried `tries` times per server, waiting timeout_ms each time.
 * 0, or -1 with *error_r. */
int dns_open(const char *servers, int timeout_ms, int tries, struct dns **dns_r, const char **error_r);
/* Free the resolver; *dns = NULL. */
void dns_close(struct dns **dns);
/* The MX hosts of domain, best first.  DNS_OK, DNS_NODATA (no MX: use the
 * domain itself, RFC 5321 5.1), DNS_NULLMX, DNS_NOTFOUND or DNS_TEMPFAIL
 * (*error_r says why). */
enum dns_result dns_lookup_mx(struct dns *dns, const char *domain, struct dns_mx_list *out,
			      const char **error_r);
/* The addresses of host: IPv6 and IPv4 alternating (IPv6 first) when
 * family is AF_UNSPEC, else only that family.  A numeric address is
 * returned as is.  DNS_OK, DNS_NODATA, DNS_NOTFOUND or DNS_TEMPFAIL. */
enum dns_result dns_lookup_addr(struct dns *dns, const char *host, int family,
				struct dns_addr_list *out, const char **error_r);
/* Parse an MX answer (a whole DNS message) into out, sorted and shuffled
 * with rnd(); used by dns_lookup_mx and by the tests.  DNS_OK, DNS_NODATA,
 * DNS_NULLMX or DNS_TEMPFAIL (malformed). */
enum dns_result dns_mx_parse(const unsigned char *answer, int len, struct dns_mx_list *out,
			     unsigned (*rnd)(void), const char **error_r);
/* Sort by preference and shuffle runs of equal preference with rnd(). */
void dns_mx_sort(struct dns_mx_list *list, unsigned (*rnd)(void));
/* Text of a result for logs. */
const char *dns_result_str(enum dns_result r);

#endif
