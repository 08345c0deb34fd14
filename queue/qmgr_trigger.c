/* qmgr_trigger: the trigger socket (private/qmgr, fd 3).  A line that
 * is a queue ID names a new file in incoming/, which qmgr then takes by
 * name (qmgr_incoming_named); any other byte means "look at incoming/"
 * (a pass over the directory), and "flush" (postern queue flush) asks
 * for a full scan now (common/queue_trigger.c).  A writer may keep its
 * connection and write a line per message (enqueue does): qmgr keeps up
 * to QMGR_TRIGGER_KEEP such connections in its poll set, so that a
 * message costs the writer one send and qmgr one recv instead of a
 * connection each, and no reading of incoming/ (issue 15).  A connection
 * beyond that is read once and closed, as every one once was; its writer
 * connects again next time.
 *
 * Trusts: the bytes not at all (a wrong name costs a failed rename; a
 * wakeup is a wakeup); the peer only when SO_PEERCRED says enqueue's
 * user or root (daemon_peer_ok), checked once at accept. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "qmgr.h"
#include "queue_trigger.h"

#define QMGR_TRIGGER_BURST 64   /* connections accepted per wakeup */

static void qmgr_trigger_named(void *arg, const char *id)
{
	qmgr_incoming_named(arg, id);
}

/* Read what t has (non-blocking).  1: keep it, 0: it ended (EOF or an
 * error), either way having noted its names, wakeups or a flush in q. */
static int qmgr_trigger_read(struct qmgr *q, struct qmgr_trigger *t)
{
	char tmp[4096];
	unsigned flags = 0;
	int open = 1;

	for (;;) {
		ssize_t r = recv(t->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (r > 0) {
			flags |= queue_trigger_feed(&t->in, tmp, (size_t)r,
						    qmgr_trigger_named, q);
			if ((size_t)r < sizeof(tmp))
				break;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		open = 0;       /* EOF or an error: the writer is gone */
		break;
	}
	if (flags & QUEUE_TRIGGER_FLUSH) {
		log_info("flush requested");
		q->next_scan = 0;
	}
	/* A line not ended yet (a writer stopped mid-line, or one that
	 * writes bare bytes) is a wakeup now, and so is a connection that
	 * closes unwritten (an old-style poke). */
	if ((flags & QUEUE_TRIGGER_WAKE) || queue_trigger_partial(&t->in) || !open)
		qmgr_incoming_arrived(q);
	return open;
}

static void qmgr_trigger_drop(struct qmgr *q, size_t i)
{
	close(q->triggers[i].fd);
	q->triggers[i] = q->triggers[--q->ntriggers];
}

void qmgr_trigger_accept(struct qmgr *q)
{
	for (int i = 0; i < QMGR_TRIGGER_BURST; i++) {
		int fd = accept4(q->d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

		if (fd < 0)
			return;
		/* Only enqueue's user (and root: postern queue flush) may
		 * poke us; anyone else is closed unread and logged. */
		if (!daemon_peer_ok(q->d, fd)) {
			close(fd);
			continue;
		}
		struct qmgr_trigger t = { .fd = fd };

		if (qmgr_trigger_read(q, &t) && q->ntriggers < QMGR_TRIGGER_KEEP) {
			q->triggers[q->ntriggers++] = t;
			continue;
		}
		/* Not kept: the connection itself is the wakeup (its byte
		 * may not have come yet; a "flush" not yet written is then
		 * only a wakeup). */
		qmgr_incoming_arrived(q);
		close(fd);
	}
}

size_t qmgr_trigger_poll_fill(const struct qmgr *q, struct pollfd *pfd)
{
	for (size_t i = 0; i < q->ntriggers; i++)
		pfd[i] = (struct pollfd){ .fd = q->triggers[i].fd, .events = POLLIN };
	return q->ntriggers;
}

void qmgr_trigger_events(struct qmgr *q, const struct pollfd *pfd, size_t n)
{
	/* pfd[k] is triggers[k] (qmgr_trigger_poll_fill).  From the end:
	 * dropping k moves the last, already handled, into its place. */
	for (size_t k = n; k-- > 0;)
		if (pfd[k].revents != 0 && !qmgr_trigger_read(q, &q->triggers[k]))
			qmgr_trigger_drop(q, k);
}

void qmgr_trigger_close(struct qmgr *q)
{
	while (q->ntriggers > 0)
		qmgr_trigger_drop(q, q->ntriggers - 1);
}
