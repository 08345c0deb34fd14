/* log_delivery: the one line per recipient result that Postfix log tools
 * read: `QUEUEID: to=<RCPT>, relay=RELAY, delay=S, delays=a/b/c/d,
 * dsn=X.Y.Z, status=sent|deferred|bounced (REASON)`, with Postfix's
 * meaning of the delays (docs/operator.md, "Logs"). */
#ifndef POSTERN_LOG_DELIVERY_H
#define POSTERN_LOG_DELIVERY_H

/* The moments of one delivery attempt, wall-clock milliseconds since the
 * epoch (0: unknown), and the agent's own durations. */
struct log_delivery_times {
	long long arrival_ms;   /* the message arrived (queue file time) */
	long long active_ms;    /* qmgr took it into the active set */
	long long agent_ms;     /* the delivery agent got the request */
	long long setup_ms;     /* duration: connection setup (DNS, connect, greeting, EHLO, TLS) */
	long long xfer_ms;      /* duration: transmission */
};

/* Wall-clock milliseconds since the epoch. */
long long log_delivery_now_ms(void);
/* Seconds since the epoch (a queue file's arrival) as milliseconds; 0
 * for a time that is unknown (0 or less) or out of range. */
long long log_delivery_sec_ms(long long sec);
/* Log one recipient's result.  status is an agent status (delivered,
 * deferred, failed) and is written as Postfix does (sent, deferred,
 * bounced); relay NULL or "" is "none". */
void log_delivery(const char *queue_id, const char *rcpt, const char *relay,
		  const struct log_delivery_times *t, const char *dsn, const char *status,
		  const char *reason);

#endif
