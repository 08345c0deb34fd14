/* master_group_commit: the state the processes of one program share to
 * flush their file system once for many messages (common/group_commit.h).
 *
 * Offers: for enqueue (the queue's file system) and for local (the
 * mail's), one sealed memfd each, made when master.conf first has a
 * service with that command and kept for the master's life (a reload
 * changes nothing in it; processes of two generations may well share a
 * flush).  Each child of such a service gets its program's memfd as the
 * descriptor named by POSTERN_GROUP_COMMIT_FD.  The master never takes
 * the lock.
 *
 * Fails: without the memfd (logged) each process flushes for its own
 * messages only -- as safe, with more flushes. */
#include "master.h"

#include <errno.h>
#include <string.h>

#include "group_commit.h"
#include "log.h"

static const char *const master_group_commit_programs[] = { "enqueue", "local" };
static int master_group_commit[2] = { -1, -1 };

static int master_group_commit_index(const struct service *svc)
{
	for (size_t i = 0; i < 2; i++)
		if (!svc->retired && strcmp(svc->command, master_group_commit_programs[i]) == 0)
			return (int)i;
	return -1;
}

void master_group_commit_update(struct service *svcs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int k = master_group_commit_index(&svcs[i]);

		if (k < 0 || master_group_commit[k] >= 0)
			continue;
		if ((master_group_commit[k] = group_commit_memfd()) < 0)
			log_warn("group commit for %s: %s; each process flushes alone",
				 master_group_commit_programs[k], strerror(errno));
	}
}

int master_group_commit_fd(const struct service *svc)
{
	int k = master_group_commit_index(svc);

	return k >= 0 ? master_group_commit[k] : -1;
}
