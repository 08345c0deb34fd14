/* dns: the DNS lookups of mail routing, through c-ares (RFC 5321 5.1).
 * MX records sorted by preference with equal preferences shuffled, null
 * MX (RFC 7505), the IPv6 and IPv4 addresses of a host, and for SPF
 * (RFC 7208) the TXT records of a name and the PTR names of an address,
 * with a clear difference between "does not exist" (permanent) and
 * "could not find out" (temporary).  The resolvers are given as a list of host[:port] or
 * [v6]:port (postern.conf dns_servers) or, when empty, read from the
 * system's resolv.conf at dns_open: call it before chroot. */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stddef.h>
#include <sys/socket.h>

#define DNS_NAME_MAX 255       /* longest host name (RFC 1035 2.3.4) */
#define DNS_MX_MAX 32          /* MX hosts kept per domain, best first */
#define DNS_ADDR_MAX 16        /* addresses kept per host */
#define DNS_TXT_MAX 64         /* TXT records kept per name (SPF, DKIM keys) */
#define DNS_PTR_MAX 16         /* PTR names kept per address */

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

struct dns_txt_list {          /* each record's strings concatenated (RFC 7208 3.3) */
	char *rec[DNS_TXT_MAX];   /* NUL-terminated, len[i] bytes (may hold NUL bytes) */
	size_t len[DNS_TXT_MAX];
	size_t n;
	int more;                 /* the answer had more than DNS_TXT_MAX records */
};

struct dns_name_list {
	char name[DNS_PTR_MAX][DNS_NAME_MAX + 1];
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
/* The TXT records of name, each one's character-strings joined without
 * separators; free with dns_txt_free.  DNS_OK, DNS_NODATA, DNS_NOTFOUND
 * or DNS_TEMPFAIL. */
enum dns_result dns_lookup_txt(struct dns *dns, const char *name, struct dns_txt_list *out,
			       const char **error_r);
/* Free the records of a TXT list (n = 0 afterwards). */
void dns_txt_free(struct dns_txt_list *list);
/* Parse a TXT answer (a whole DNS message) into out; used by
 * dns_lookup_txt and by the tests.  DNS_OK, DNS_NODATA or DNS_TEMPFAIL. */
enum dns_result dns_txt_parse(const unsigned char *answer, int len, struct dns_txt_list *out,
			      const char **error_r);
/* The PTR names of an address (sa: AF_INET or AF_INET6, port ignored),
 * at most DNS_PTR_MAX, without the trailing dot.  DNS_OK, DNS_NODATA,
 * DNS_NOTFOUND or DNS_TEMPFAIL. */
enum dns_result dns_lookup_ptr(struct dns *dns, const struct sockaddr *sa, struct dns_name_list *out,
			       const char **error_r);
/* The reverse-lookup name of an address: d.c.b.a.in-addr.arpa or the
 * nibbles of ip6.arpa (RFC 3596 2.5).  0, or -1 when out is too small or
 * the family unknown. */
int dns_reverse_name(const struct sockaddr *sa, char *out, size_t outlen);
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
