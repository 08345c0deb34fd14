/* master_auth_cache: the memory authd processes share their login cache
 * in (common/auth_cache.h).
 *
 * Offers: while master.conf has a service whose command is `authd` and
 * auth_cache_size and auth_cache_ttl are above 0, one sealed memfd,
 * made anew with each reading of the configuration (start, reload), so
 * that a reload forgets every remembered login and takes a new size.
 * Each authd child gets it as a descriptor named by POSTERN_AUTH_CACHE_FD.
 * The master never maps it: it only writes the header (size, secret)
 * once, through auth_cache_memfd.
 *
 * Fails: without the memfd (logged) each authd process keeps a cache of
 * its own. */
#include "master.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "auth_cache.h"
#include "config.h"
#include "log.h"

static int master_auth_cache = -1;

static int master_auth_cache_is(const struct service *svc)
{
	return !svc->retired && strcmp(svc->command, "authd") == 0;
}

void master_auth_cache_update(struct service *svcs, size_t n)
{
	int want = 0;

	for (size_t i = 0; i < n && !want; i++)
		want = master_auth_cache_is(&svcs[i]);
	if (master_auth_cache >= 0)
		close(master_auth_cache);   /* children of the last generation keep theirs */
	master_auth_cache = -1;
	if (!want || config_size("auth_cache_size") == 0 || config_time("auth_cache_ttl") == 0)
		return;
	if ((master_auth_cache = auth_cache_memfd(config_size("auth_cache_size"))) < 0)
		log_warn("auth cache: %s; each authd process keeps its own", strerror(errno));
}

int master_auth_cache_fd(const struct service *svc)
{
	return master_auth_cache_is(svc) ? master_auth_cache : -1;
}
