/* dnsbl_sites: the smtpd_dnsbl_sites list (DNS block and allow lists
 * with weights, as Postfix's postscreen_dnsbl_sites writes them) and the
 * query names of a client address.  An entry is
 *     zone[=filter][*weight]
 * separated by spaces or commas: zone a DNS name, filter an IPv4
 * address whose octets are numbers or ranges [lo..hi] (an answer counts
 * only when one of its addresses matches; no filter: any answer), weight
 * an integer from -1000 to 1000 (default 1; negative for allow lists).
 * Takes (pointer, length); the fuzz target is tests/fuzz/fuzz_dnsbl_sites.c. */
#ifndef POSTERN_DNSBL_SITES_H
#define POSTERN_DNSBL_SITES_H

#include <stddef.h>

#define DNSBL_SITES_MAX 16       /* entries in one list */
#define DNSBL_ZONE_MAX 180       /* a zone, so that the 64 bytes of a reversed IPv6 address still fit in 255 */
#define DNSBL_WEIGHT_MAX 1000    /* |weight| */

struct dnsbl_site {
	char zone[DNSBL_ZONE_MAX + 1];
	int weight;
	int filtered;                         /* a filter was given */
	unsigned char lo[4], hi[4];           /* the filter's range per octet */
};

/* Parse a list into sites (DNSBL_SITES_MAX of them): 0 with *n_r, or -1
 * with *error_r (static) naming what is wrong. */
int dnsbl_sites_parse(const char *v, size_t len, struct dnsbl_site *sites, size_t *n_r,
		      const char **error_r);
/* The query name of a numeric client address in zone: reversed octets
 * (IPv4) or nibbles (IPv6), then the zone.  0, or -1 when client is no
 * address or the name does not fit in cap. */
int dnsbl_query_name(const char *client, const char *zone, char *out, size_t cap);
/* Whether an answer address (4 octets) counts for the site. */
int dnsbl_site_match(const struct dnsbl_site *s, const unsigned char a[4]);

#endif
