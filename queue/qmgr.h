/* qmgr: the queue manager's internal interface between qmgr.c (the
 * active set, scans, the end of an attempt, the loop), qmgr_deliver.c
 * (transports, destinations, jobs, agent connections) and qmgr_report.c
 * (delivery status notifications).  Nothing here is used outside queue/. */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <dirent.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "cdbmap.h"
#include "clock_jumps.h"
#include "daemon.h"
#include "queue_trigger.h"
#include "queuefile.h"
#include "record.h"

#define QMGR_CONN_MAX 100                 /* hard cap on a transport's concurrency */
/* Recipients per request: each may bring rcpt, notify and orcpt fields,
 * and a request must stay within RECORD_MAX_FIELDS (4096): 1360. */
#define QMGR_RCPT_BATCH ((RECORD_MAX_FIELDS - 16) / 3)
#define QMGR_NEVER ((time_t)LLONG_MAX)
#define QMGR_NTRANSPORT 2
/* Trigger connections kept open (one per enqueue process: enqueue's
 * maxproc is 20 by default; more are read once and closed). */
#define QMGR_TRIGGER_KEEP 64
#define QMGR_NAMED_MAX 256      /* IDs named by triggers, waiting to be taken */
#define QMGR_KEEP_FDS 64        /* active messages that keep their descriptor while waiting */
#define QMGR_REASON_MAX 1024              /* longest agent reason kept for a report */

enum qmgr_transport_id { QMGR_LOCAL = 0, QMGR_REMOTE = 1 };

/* What an agent said about one recipient in this attempt (for reports). */
struct qmgr_result {
	char dsn[16];                   /* "5.1.1"; "" = no answer this attempt */
	char *reason;                   /* NULL = none */
	time_t when;
	int transport;
	/* of a delivery (RFC 3461 6.2, the agent's action=): reported as
	 * delivered, relayed or expanded, or not at all when the next hop
	 * took the NOTIFY (passed) */
	enum qmgr_success { QMGR_SUCCESS_DELIVERED, QMGR_SUCCESS_RELAYED, QMGR_SUCCESS_EXPANDED,
			    QMGR_SUCCESS_PASSED } success;
};

/* One message in the active set.  Parsed (qf) once it leaves the ready
 * list; its descriptor is open only while jobs are in flight. */
struct qmgr_msg {
	struct qmgr_msg *hnext;         /* hash chain of the active set */
	struct qmgr_msg *next;          /* ready list */
	char id[QUEUEFILE_ID_MAX + 1];
	char path[64];                  /* "active/ID" */
	int parsed;
	int fresh;                      /* named by enqueue's trigger: no defer/ file */
	struct queuefile qf;
	struct qmgr_result *res;        /* nrcpt entries once parsed */
	size_t jobs_left;               /* jobs queued or in flight */
	size_t inflight;                /* jobs in flight (descriptor needed) */
	int agent_broke;                /* an agent failed (not the destination) */
	int agent_missing;              /* a transport's socket does not exist */
	int real_deferral;              /* a destination deferred */
	int unsynced;                   /* a D mark is written but not flushed (qmgr_answer) */
	long long active_ms;            /* when this attempt took it in (log delays) */
};

struct qmgr_dest;

/* Up to QMGR_RCPT_BATCH recipients of one message for one destination. */
struct qmgr_job {
	struct qmgr_job *next;
	struct qmgr_msg *msg;
	struct qmgr_dest *dest;
	size_t *idx;                    /* recipient indices in m->qf */
	size_t n, alloc;
	int requeued;                   /* retried once on a fresh connection */
};

struct qmgr_transport;

/* A transport + domain with its queue of jobs and its concurrency. */
struct qmgr_dest {
	struct qmgr_dest *hnext;
	struct qmgr_dest *rr_next;      /* the transport's round robin */
	int in_rr;
	struct qmgr_transport *t;
	char *domain;
	size_t busy;                    /* jobs in flight */
	struct qmgr_job *head, *tail;
};

enum qmgr_conn_state { QMGR_FREE, QMGR_IDLE, QMGR_BUSY };

/* One connection to an agent, one request outstanding at most. */
struct qmgr_conn {
	enum qmgr_conn_state state;
	int fd;
	int reused;                     /* carried a request before this one */
	struct qmgr_job *job;
	size_t answered;
	struct buf out;                 /* request bytes not yet sent */
	size_t out_off;
	struct buf in;                  /* answer bytes not yet parsed */
	time_t deadline;                /* qmgr_clock() */
};

struct qmgr_transport {
	const char *name;               /* "local", "remote" (also the service) */
	int id;
	char path[108];                 /* "private/NAME" */
	struct qmgr_conn conns[QMGR_CONN_MAX];
	size_t nconn;
	struct qmgr_dest *rr_head, *rr_tail;
};

/* A resumable pass over one queue directory. */
struct qmgr_cursor {
	const char *dir;
	DIR *dp;                        /* open while a pass is under way */
	time_t min_due;                 /* deferred/: earliest mtime still to come */
	size_t seen;                    /* entries read in this pass */
	time_t started;
	unsigned long arrivals;         /* incoming/: q->arrivals when this pass began */
};

struct qmgr {
	struct daemon *d;
	struct qmgr_transport transports[QMGR_NTRANSPORT];
	struct qmgr_msg **hash;         /* the active set by ID */
	size_t hash_size;               /* a power of two */
	struct qmgr_dest **dhash;       /* destinations by transport + domain */
	size_t dhash_size;
	struct qmgr_msg *ready_head, *ready_tail;
	size_t nactive, active_limit, dest_limit;
	struct qmgr_cursor active, incoming, deferred;
	time_t next_scan;               /* qmgr_clock(): the periodic scan */
	time_t next_deferred;           /* wall clock, as the mtimes of deferred/ */
	int want_incoming, want_active, want_deferred, turn;
	unsigned long arrivals;         /* news of files in incoming/: triggers taken, reports written */
	unsigned long long run_delay, min_backoff, max_backoff, lifetime, retry_time;
	unsigned long long delay_warning, bounce_size_limit;
	unsigned long long spare_files;   /* queue_spare_files: most files in spare/ */
	int ipc_timeout;                /* seconds */
	struct cdbmap *domains;         /* local domains; NULL: everything is local */
	int draining;                   /* told to stop, or the map changed: finish in-flight jobs, exit */
	time_t drain_until;             /* qmgr_clock() after which a drain gives up */
	time_t maps_checked;            /* qmgr_clock() of the last look at the maps */
	int maps_recheck;               /* a round skipped the look: come back within a second */
	const char *hostname;
	const char *relayhost;          /* set: every remote recipient has this one destination */
	char postmaster[QUEUEFILE_ADDR_MAX + 1];
	struct clock_jumps jumps;       /* forward steps of the wall clock (qmgr_clock.c) */
	struct qmgr_trigger {            /* kept trigger connections (qmgr_trigger.c) */
		int fd;
		struct queue_trigger_in in;   /* a line not ended yet */
	} triggers[QMGR_TRIGGER_KEEP];
	size_t ntriggers;
	/* Queue IDs the trigger named: new files in incoming/, taken by
	 * name instead of by a pass over the directory (qmgr_take_named). */
	char named[QMGR_NAMED_MAX][QUEUEFILE_ID_MAX + 1];
	size_t nnamed;
};

/* ---- qmgr.c ---- */
/* An attempt is over for m (no job left): report, remove, expire or defer. */
void qmgr_done(struct qmgr *q, struct qmgr_msg *m);
/* Forget m (its file is wherever it belongs). */
void qmgr_msg_free(struct qmgr *q, struct qmgr_msg *m);
/* Close m's descriptor while it only waits, unless the active set is
 * small (QMGR_KEEP_FDS). */
void qmgr_park(const struct qmgr *q, struct qmgr_msg *m);
/* Open m's descriptor again if it is closed (O_RDWR). 0 or -1 (errno). */
int qmgr_reopen(struct qmgr_msg *m);
/* A file was put into incoming/ (by enqueue, or a report by us): look,
 * and look again if a pass under way may have missed it. */
void qmgr_incoming_arrived(struct qmgr *q);
/* The trigger named incoming/id: take it by name at the next round
 * (a pass over incoming/ if too many wait). */
void qmgr_incoming_named(struct qmgr *q, const char *id);
/* rename that never replaces an existing name. 0 or -1 (errno). */
int qmgr_move(const char *from, const char *to);

/* ---- qmgr_clock.c ---- */
/* Seconds on the monotonic clock: qmgr's own timers (the periodic scan,
 * agent deadlines), which a jump of the wall clock must not move. */
time_t qmgr_clock(void);
/* Read the ledger of clock steps (queue/clock-jumps) and start watching. */
void qmgr_jumps_load(struct qmgr *q);
/* Compare the wall clock with the boot clock; a forward step goes into
 * the ledger (logged, written).  Call at every wake-up. */
void qmgr_jumps_watch(struct qmgr *q);
/* m's age at wall-clock now, the clock's forward steps since it arrived
 * left out: what maximal_queue_lifetime and delay_warning_time measure. */
unsigned long long qmgr_age(const struct qmgr *q, const struct qmgr_msg *m, time_t now);

/* ---- qmgr_trigger.c ---- */
/* Accept what waits on the trigger socket: note its wakeups, keep it. */
void qmgr_trigger_accept(struct qmgr *q);
/* The kept trigger connections into pfd (room for QMGR_TRIGGER_KEEP). */
size_t qmgr_trigger_poll_fill(const struct qmgr *q, struct pollfd *pfd);
/* Handle the poll results of those n entries. */
void qmgr_trigger_events(struct qmgr *q, const struct pollfd *pfd, size_t n);
/* Close them all (at exit). */
void qmgr_trigger_close(struct qmgr *q);

/* ---- qmgr_deliver.c ---- */
/* Set up the transports from the settings (before the loop). */
void qmgr_transports_init(struct qmgr *q);
/* Split m's pending recipients into jobs on their destinations' queues.
 * Returns the number of jobs made (0: nothing pending). */
size_t qmgr_route(struct qmgr *q, struct qmgr_msg *m);
/* Start queued jobs on free connections, within every limit. */
void qmgr_dispatch(struct qmgr *q);
/* Add the agent connections to pfd/map (at most max); their count. */
size_t qmgr_poll_fill(struct qmgr *q, struct pollfd *pfd, struct qmgr_conn **map, size_t max);
/* Handle poll events of a connection. */
void qmgr_conn_event(struct qmgr *q, struct qmgr_conn *c, short revents);
/* Earliest deadline of a busy connection (QMGR_NEVER if none). */
time_t qmgr_conn_deadline(const struct qmgr *q);
/* Break off every busy connection whose deadline has passed. */
void qmgr_conn_timeouts(struct qmgr *q, time_t now);
/* Close every connection (at exit). */
void qmgr_transports_close(struct qmgr *q);
/* Record an agent's answer about recipient i of m. */
void qmgr_result_set(struct qmgr_msg *m, size_t i, const char *dsn, const char *reason, int transport);

/* ---- qmgr_reason.c ---- */
/* Write defer/ID: the reasons m's pending recipients got in this attempt. */
void qmgr_reason_save(struct qmgr_msg *m);
/* Remove defer/ID (m leaves the queue). */
void qmgr_reason_forget(const struct qmgr_msg *m);

/* ---- qmgr_report.c ---- */
/* Write the delivery status notifications m's final recipients call for
 * (failures, NOTIFY=SUCCESS deliveries) and mark them reported.  0, or
 * -1 when a report could not be queued (m must then stay queued). */
int qmgr_report_final(struct qmgr *q, struct qmgr_msg *m);
/* Send a delay warning for m if one is due and none was sent. */
void qmgr_report_delay(struct qmgr *q, struct qmgr_msg *m, time_t now);

#endif
