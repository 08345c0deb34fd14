#ifndef POSTERN_LOCAL_DOMAIN_H
#define POSTERN_LOCAL_DOMAIN_H

#include <stddef.h>

#include "cdbmap.h"

/* Whether domain (len bytes, any case) is delivered here: in domains
 * (etc/domains.cdb) or myhostname.  1 yes, 0 no, -1 when domains cannot
 * be read; a NULL map (no etc/domains.cdb) makes every domain local. */
int local_domain_is(struct cdbmap *domains, const char *domain, size_t len);

#endif
