/* metric: counting events for the metrics service (docs/metrics.md).
 * A process counts an event with one call; the count travels as one
 * small datagram to the metrics service on the socket the master passed
 * as fd 7 (POSTERN_METRICS_FD), never waiting: a full socket or no
 * metrics service drops the count, so metrics never slow or stop mail.
 * The same module parses those datagrams on the receiving side. */
#ifndef POSTERN_METRIC_H
#define POSTERN_METRIC_H

#include <stddef.h>

#define METRIC_FD 7
#define METRIC_ENV "POSTERN_METRICS_FD"
#define METRIC_RECORD_MAX 128      /* bytes of one datagram */
#define METRIC_NAME_MAX 32         /* bytes of a service name in a record */

/* The events, in the order of the table in metric.c. */
enum metric_event {
	METRIC_RECEIVED,       /* enqueue: a message is in the queue */
	METRIC_DELIVERED,      /* qmgr: a recipient delivered */
	METRIC_DEFERRED,       /* qmgr: a recipient deferred */
	METRIC_BOUNCED,        /* qmgr: a recipient failed (reported to the sender) */
	METRIC_REJECT_4XX,     /* smtpd: MAIL, RCPT or the data refused with 4xx */
	METRIC_REJECT_5XX,     /* smtpd: ... with 5xx */
	METRIC_TLS_OK,         /* a TLS handshake completed */
	METRIC_TLS_FAIL,       /* a TLS handshake failed */
	METRIC_AUTH_OK,        /* an authentication succeeded */
	METRIC_AUTH_FAIL,      /* an authentication failed */
	METRIC_LOGIN_POP3,     /* a POP3 login handed to its session */
	METRIC_LOGIN_IMAP,     /* an IMAP login handed to its session */
	METRIC_NEVENTS
};

/* A parsed datagram: an event of a service, or (from the master) the
 * state of a service. */
struct metric_record {
	enum { METRIC_RECORD_EVENT, METRIC_RECORD_SERVICE } kind;
	enum metric_event event;             /* EVENT */
	char service[METRIC_NAME_MAX + 1];   /* both */
	unsigned long processes, restarts;   /* SERVICE */
};

/* Take fd 7 when the environment names it, as service (the log tag);
 * without it metric_count does nothing.  Called by daemon_init. */
void metric_init(const char *service);
/* Count one event of this process's service; never blocks, never fails. */
void metric_count(enum metric_event ev);
/* The record of the master's state of a service, into out. -1 if it does not fit. */
int metric_service_record(char *out, size_t outlen, const char *service, unsigned long processes,
			  unsigned long restarts, size_t *len_r);
/* Parse one datagram (p, n): "EVENT SERVICE" or "service SERVICE PROCS
 * RESTARTS", one trailing newline allowed.  0, or -1 for anything else. */
int metric_record_parse(const char *p, size_t n, struct metric_record *r);
/* The wire name of an event ("delivered"), or NULL out of range. */
const char *metric_event_name(enum metric_event ev);

#endif
