/* queue_scan: how many messages each queue directory holds and when the
 * oldest of them arrived, for the metrics service and `postern status`
 * (docs/metrics.md, "Queue"). */
#ifndef POSTERN_QUEUE_SCAN_H
#define POSTERN_QUEUE_SCAN_H

#include <stddef.h>
#include <time.h>

#define QUEUE_SCAN_STATES 4   /* incoming, active, deferred, hold */

struct queue_scan {
	size_t messages;   /* entries seen (at most the limit) */
	time_t oldest;     /* arrival of the oldest queue ID seen, 0 for none */
	int capped;        /* the limit was reached: there may be more */
};

/* The name of state i (queue/NAME), or NULL past the last. */
const char *queue_scan_state(size_t i);
/* Count the entries of the open directory dirfd (kept open: it is read
 * again from its start each time), up to limit (0: none read).  0, or -1
 * with errno. */
int queue_scan_dir(int dirfd, size_t limit, struct queue_scan *r);
/* The arrival time encoded in a queue ID (docs/queue.md: its first 8
 * upper-case hex digits), or 0 if name is not a queue ID. */
time_t queue_scan_id_time(const char *name);

#endif
