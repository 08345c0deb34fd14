/* local_domain: which domains are delivered here.
 *
 * Offers: local_domain_is, the one rule qmgr routes by, smtpd accepts
 * recipients by, local resolves by and sendmail -bv explains by: a domain
 * in etc/domains.cdb, or myhostname.  myhostname is always local (as
 * $myhostname is in Postfix's default mydestination): pickup gives local
 * senders user@myhostname, so their bounces (and cron's mail to
 * root@myhostname) stay on this host, where an alias with a bare local
 * part (root, postmaster) reaches someone, instead of being sent to
 * whatever the DNS says about the host's own name.
 *
 * Trusts: the map and the configuration.
 *
 * Fails: -1 when the map cannot be read; the caller decides. */
#include <string.h>
#include <strings.h>

#include "address.h"
#include "buf.h"
#include "config.h"
#include "local_domain.h"

int local_domain_is(struct cdbmap *domains, const char *domain, size_t len)
{
	char folded[ADDRESS_PATH_MAX + 1];
	const char *me = config_str("myhostname");
	struct buf val;
	int r;

	if (domains == NULL)
		return 1;
	if (len == 0 || len >= sizeof(folded))
		return 0;   /* longer than any address: no map entry */
	for (size_t i = 0; i < len; i++)
		folded[i] = (char)(domain[i] >= 'A' && domain[i] <= 'Z' ? domain[i] + 32 : domain[i]);
	folded[len] = '\0';
	if (strlen(me) == len && strcasecmp(me, folded) == 0)
		return 1;
	buf_init(&val, 4096);
	r = cdbmap_lookup(domains, folded, len, &val);
	buf_free(&val);
	return r;
}
