/* log_delivery: the recipient result line (see log_delivery.h).
 *
 * Postfix's delays: a = before the queue manager (arrival until qmgr
 * took the message, time in deferred/ included), b = in the queue
 * manager (until the agent got the request), c = connection setup,
 * d = transmission; delay = arrival until now.  Numbers as Postfix
 * writes them: 0 below 10 ms, two significant digits below 10 s, whole
 * seconds above.
 *
 * Trusts: its arguments (the caller checked them for control bytes; the
 * log sanitizes anyway).  Fails: never (a diagnostic). */
#include "log_delivery.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

long long log_delivery_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0)
		return 0;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ms as seconds in out (32 bytes: any long long fits). */
static const char *log_delivery_secs(long long ms, char *out, size_t len)
{
	if (ms < 10)
		snprintf(out, len, "0");
	else if (ms < 1000)
		snprintf(out, len, "%lld.%02lld", ms / 1000, (ms % 1000) / 10);
	else if (ms < 10000)
		snprintf(out, len, "%lld.%lld", ms / 1000, (ms % 1000) / 100);
	else
		snprintf(out, len, "%lld", ms / 1000 + (ms % 1000 >= 500));
	/* 0.50 -> 0.5, 1.0 -> 1: as short as Postfix writes them. */
	if (strchr(out, '.') != NULL) {
		size_t n = strlen(out);
		while (out[n - 1] == '0')
			out[--n] = '\0';
		if (out[n - 1] == '.')
			out[n - 1] = '\0';
	}
	return out;
}

/* later - earlier, 0 when either is unknown or the clock went back. */
static long long log_delivery_span(long long earlier, long long later)
{
	return earlier <= 0 || later <= 0 || later < earlier ? 0 : later - earlier;
}

long long log_delivery_sec_ms(long long sec)
{
	return sec <= 0 || sec > LLONG_MAX / 1000 ? 0 : sec * 1000;
}

void log_delivery(const char *queue_id, const char *rcpt, const char *relay,
		  const struct log_delivery_times *t, const char *dsn, const char *status,
		  const char *reason)
{
	static const struct log_delivery_times none;
	long long now = log_delivery_now_ms();
	char total[32], a[32], b[32], c[32], d[32];
	const char *st = strcmp(status, "delivered") == 0 ? "sent"
			 : strcmp(status, "failed") == 0 ? "bounced" : "deferred";

	if (t == NULL)
		t = &none;
	log_info("%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		 queue_id, rcpt, relay != NULL && *relay != '\0' ? relay : "none",
		 log_delivery_secs(log_delivery_span(t->arrival_ms, now), total, sizeof total),
		 log_delivery_secs(log_delivery_span(t->arrival_ms, t->active_ms), a, sizeof a),
		 log_delivery_secs(log_delivery_span(t->active_ms, t->agent_ms), b, sizeof b),
		 log_delivery_secs(t->setup_ms > 0 ? t->setup_ms : 0, c, sizeof c),
		 log_delivery_secs(t->xfer_ms > 0 ? t->xfer_ms : 0, d, sizeof d),
		 dsn, st, reason);
}
