/* master_metrics: the event socket of the metrics service, and what the
 * master itself reports on it (docs/metrics.md).
 *
 * Offers: while master.conf has a service whose command is `metrics`,
 * one Unix datagram socket pair: every child gets the sending end as
 * fd 7, the metrics service the receiving end (POSTERN_METRICS_FD=7).
 * Made here, before the fork, it needs no path, so it reaches every
 * chroot; the master keeps both ends, so a metrics process that is
 * restarted finds what was sent meanwhile (as far as the socket holds
 * it).  The metrics service also gets, as fd 8, a sealed memfd that
 * holds its counters, so that they survive its restarts.  The master sends "service NAME PROCESSES RESTARTS" for each
 * service whose numbers changed, and for all of them when a metrics
 * process starts.
 *
 * Trusts: nothing comes in: the master never reads the socket.
 *
 * Fails: a send that would block is dropped and tried again at the next
 * turn of the master's loop; metrics never hold up the master. */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "metric.h"
#include "metric_store.h"

#define MASTER_METRICS_SNDBUF (1024 * 1024)   /* asked for; the kernel caps it (wmem_max) */

static int master_metrics_pair[2] = { -1, -1 };   /* [0] metrics reads, [1] the others send */
static int master_metrics_state = -1;             /* the counters' memory, for metrics only */

/* A sealed memfd the size of the metrics service's store: its
 * counters outlive the process (a crash, a reload), not the master.
 * The master never maps it. */
static int master_metrics_state_new(void)
{
	int fd = memfd_create("postern-metrics", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)sizeof(struct metric_store)) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int master_metrics_is(const struct service *svc)
{
	return strcmp(svc->command, "metrics") == 0;
}

void master_metrics_update(struct service *svcs, size_t n)
{
	int want = 0;

	for (size_t i = 0; i < n && !want; i++)
		want = !svcs[i].retired && master_metrics_is(&svcs[i]);
	if (want && master_metrics_pair[0] < 0) {
		int size = MASTER_METRICS_SNDBUF, on = 1;
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, master_metrics_pair) < 0) {
			log_warn("metrics: socketpair: %s; no counts", strerror(errno));
			master_metrics_pair[0] = master_metrics_pair[1] = -1;
			return;
		}
		/* counts sent while the metrics process is busy wait here */
		(void)setsockopt(master_metrics_pair[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
		/* the sender's pid on every datagram, also those sent before a
		 * metrics process runs (the kernel records it only while the
		 * receiving end asks for it) */
		if (setsockopt(master_metrics_pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
			log_warn("metrics: SO_PASSCRED: %s; service states will be refused", strerror(errno));
		if ((master_metrics_state = master_metrics_state_new()) < 0)
			log_warn("metrics: memfd: %s; counts start from 0 with each metrics process",
				 strerror(errno));
		/* children of this generation get no fd 7 if it was closed:
		 * a reload replaces them all anyway */
	} else if (!want && master_metrics_pair[0] >= 0) {
		close(master_metrics_pair[0]);
		close(master_metrics_pair[1]);
		master_metrics_pair[0] = master_metrics_pair[1] = -1;
		if (master_metrics_state >= 0)
			close(master_metrics_state);
		master_metrics_state = -1;
	}
}

int master_metrics_fd(const struct service *svc)
{
	return master_metrics_pair[master_metrics_is(svc) ? 0 : 1];
}

int master_metrics_state_fd(const struct service *svc)
{
	return master_metrics_is(svc) && master_metrics_pair[0] >= 0 ? master_metrics_state : -1;
}

void master_metrics_started(struct service *svcs, size_t n, const struct service *started)
{
	if (!master_metrics_is(started))
		return;
	for (size_t i = 0; i < n; i++)
		svcs[i].metrics_sent = 0;
}

void master_metrics_report(struct service *svcs, size_t n)
{
	if (master_metrics_pair[1] < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct service *svc = &svcs[i];
		char rec[METRIC_RECORD_MAX];
		size_t len;

		unsigned long processes = master_service_processes(svc);

		if (svc->retired || (svc->metrics_sent && svc->sent_count == processes &&
				     svc->sent_restarts == svc->restarts))
			continue;
		if (metric_service_record(rec, sizeof rec, svc->name, processes, svc->restarts, &len) < 0)
			continue;
		if (send(master_metrics_pair[1], rec, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
			return;   /* full: the next turn tries again */
		svc->metrics_sent = 1;
		svc->sent_count = processes;
		svc->sent_restarts = svc->restarts;
	}
}
