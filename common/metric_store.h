/* metric_store: the counters the metrics service keeps, and their
 * OpenMetrics text (docs/metrics.md, "Metrics"). */
#ifndef POSTERN_METRIC_STORE_H
#define POSTERN_METRIC_STORE_H

#include <time.h>

#include "metric.h"
#include "queue_scan.h"

#define METRIC_STORE_SERVICES 64   /* distinct service names kept (the master's limit) */
#define METRIC_STORE_MAGIC 0x504d5331u   /* "PMS1": a store laid out as below */
#define METRIC_STATE_FD 8
#define METRIC_STATE_ENV "POSTERN_METRICS_STATE_FD"

struct metric_service {
	char name[METRIC_NAME_MAX + 1];
	unsigned long long events[METRIC_NEVENTS];
	int known;                             /* the master has reported it */
	unsigned long processes, restarts;     /* as the master last reported */
};

struct metric_store {
	unsigned magic;               /* METRIC_STORE_MAGIC once initialised */
	struct metric_service svc[METRIC_STORE_SERVICES];
	size_t nsvc;
	unsigned long long refused;   /* records not taken: malformed, forged, no room */
};

/* The state of one queue directory for the text: ok 0 when it could not be read. */
struct metric_queue {
	int ok;
	struct queue_scan scan;
};

/* An empty store. */
void metric_store_init(struct metric_store *s);
/* Keep the counts a store holds (memory a previous metrics process
 * wrote: checked, not trusted) if it is whole and consistent, else make
 * it empty.  1 kept, 0 emptied. */
int metric_store_adopt(struct metric_store *s);
/* Take one datagram (p, n); from_master says whether the master sent it
 * (only the master reports a service's processes and restarts). */
void metric_store_take(struct metric_store *s, const char *p, size_t n, int from_master);
/* Append the text of s and of the queue directories q (QUEUE_SCAN_STATES
 * of them, or NULL) at time now: OpenMetrics (ending in "# EOF") when om,
 * else the Prometheus text format 0.0.4.  0 or -1 (full). */
struct buf;
int metric_store_text(const struct metric_store *s, const struct metric_queue *q, time_t now, int om,
		      struct buf *out);

#endif
