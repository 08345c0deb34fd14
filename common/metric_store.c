/* metric_store: counters by service, rendered as OpenMetrics text.
 *
 * Offers: metric_store_take() for each datagram the metrics service
 * receives, metric_store_text() for each scrape.  The text follows
 * OpenMetrics 1.0: each family once with its # TYPE and # HELP, counter
 * samples with _total, label values from a fixed set of characters (no
 * escaping needed), and # EOF at the end; or, for a client that does not
 * ask for OpenMetrics, the Prometheus text format 0.0.4, which differs
 * only in naming a counter's metadata by its sample (x_total), in
 * having no # UNIT and no # EOF.
 *
 * Trusts: nothing in a datagram (metric_record_parse checks it); a
 * record of processes and restarts only when the caller says the master
 * sent it; a store left by a previous metrics process only after
 * metric_store_adopt has checked its names and count.  Service names are kept up to METRIC_STORE_SERVICES; a record
 * of one more is refused and counted.
 *
 * Fails: metric_store_text returns -1 when out is full. */
#include "metric_store.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"

/* A family of counters, and which events are its samples with which label. */
struct metric_family {
	const char *name;
	const char *help;
	int by_service;   /* one sample per service that had the event; else one sum */
};

static const struct metric_family metric_families[] = {
	{ "postern_messages_received", "Messages accepted into the queue.", 0 },
	{ "postern_recipients_delivered", "Recipients delivered (a message to three recipients counts three).", 0 },
	{ "postern_recipients_deferred", "Delivery attempts of a recipient that were deferred to a later try.", 0 },
	{ "postern_recipients_bounced", "Recipients that failed for good and were reported to the sender.", 0 },
	{ "postern_smtp_rejects", "Replies of smtpd with a 4xx or 5xx code (its log's reject: lines), by class.", 1 },
	{ "postern_tls_handshakes", "TLS handshakes with clients, by result.", 1 },
	{ "postern_auth_attempts", "Authentications of clients (SMTP AUTH, POP3, IMAP), by result.", 1 },
	{ "postern_login_sessions", "Logins handed to a mailbox session, by protocol.", 1 },
};

/* Per event: its family and its label (empty: none). */
static const struct {
	unsigned family;
	const char *label;
} metric_events[METRIC_NEVENTS] = {
	[METRIC_RECEIVED] = { 0, "" },
	[METRIC_DELIVERED] = { 1, "" },
	[METRIC_DEFERRED] = { 2, "" },
	[METRIC_BOUNCED] = { 3, "" },
	[METRIC_REJECT_4XX] = { 4, "class=\"4xx\"" },
	[METRIC_REJECT_5XX] = { 4, "class=\"5xx\"" },
	[METRIC_TLS_OK] = { 5, "result=\"ok\"" },
	[METRIC_TLS_FAIL] = { 5, "result=\"failed\"" },
	[METRIC_AUTH_OK] = { 6, "result=\"ok\"" },
	[METRIC_AUTH_FAIL] = { 6, "result=\"failed\"" },
	[METRIC_LOGIN_POP3] = { 7, "protocol=\"pop3\"" },
	[METRIC_LOGIN_IMAP] = { 7, "protocol=\"imap\"" },
};

#define METRIC_NFAMILIES (sizeof metric_families / sizeof metric_families[0])

void metric_store_init(struct metric_store *s)
{
	memset(s, 0, sizeof *s);
	s->magic = METRIC_STORE_MAGIC;
}

int metric_store_adopt(struct metric_store *s)
{
	int ok = s->magic == METRIC_STORE_MAGIC && s->nsvc <= METRIC_STORE_SERVICES;

	/* every name as metric_record_parse would have let it in */
	for (size_t i = 0; ok && i < s->nsvc; i++) {
		const char *name = s->svc[i].name;
		size_t len = strnlen(name, sizeof s->svc[i].name);
		struct metric_record r;
		char rec[METRIC_RECORD_MAX];
		int n = len < sizeof s->svc[i].name ? snprintf(rec, sizeof rec, "received %s", name) : -1;
		ok = n > 0 && (size_t)n < sizeof rec && metric_record_parse(rec, (size_t)n, &r) == 0 &&
		     strcmp(r.service, name) == 0;
	}
	if (!ok)
		metric_store_init(s);
	return ok;
}

static struct metric_service *metric_store_service(struct metric_store *s, const char *name)
{
	for (size_t i = 0; i < s->nsvc; i++)
		if (strcmp(s->svc[i].name, name) == 0)
			return &s->svc[i];
	if (s->nsvc == METRIC_STORE_SERVICES)
		return NULL;
	struct metric_service *m = &s->svc[s->nsvc++];
	memcpy(m->name, name, strlen(name) + 1);
	return m;
}

void metric_store_take(struct metric_store *s, const char *p, size_t n, int from_master)
{
	struct metric_record r;
	struct metric_service *m;

	if (metric_record_parse(p, n, &r) < 0 || (r.kind == METRIC_RECORD_SERVICE && !from_master) ||
	    (m = metric_store_service(s, r.service)) == NULL) {
		s->refused++;
		return;
	}
	if (r.kind == METRIC_RECORD_EVENT) {
		m->events[r.event]++;
	} else {
		m->known = 1;
		m->processes = r.processes;
		m->restarts = r.restarts;
	}
}

/* A family's metadata.  OpenMetrics names a counter family without
 * its _total; the Prometheus text format (0.0.4) names the sample. */
static int metric_store_head(struct buf *out, int om, const char *name, const char *type, const char *help)
{
	const char *sfx = strcmp(type, "counter") == 0 ? "_total" : "";

	if (om)
		return buf_printf(out, "# TYPE %s %s\n# HELP %s %s\n", name, type, name, help);
	return buf_printf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", name, sfx, help, name, sfx, type);
}

static int metric_store_family(const struct metric_store *s, unsigned f, int om, struct buf *out)
{
	const struct metric_family *fam = &metric_families[f];

	if (metric_store_head(out, om, fam->name, "counter", fam->help) < 0)
		return -1;
	for (unsigned e = 0; e < METRIC_NEVENTS; e++) {
		unsigned long long sum = 0;
		if (metric_events[e].family != f)
			continue;
		for (size_t i = 0; i < s->nsvc; i++) {
			unsigned long long v = s->svc[i].events[e];
			sum += v;
			if (fam->by_service && v > 0 &&
			    buf_printf(out, "%s_total{service=\"%s\",%s} %llu\n", fam->name, s->svc[i].name,
				       metric_events[e].label, v) < 0)
				return -1;
		}
		if (!fam->by_service && buf_printf(out, "%s_total %llu\n", fam->name, sum) < 0)
			return -1;
	}
	return 0;
}

static int metric_store_services(const struct metric_store *s, int om, struct buf *out)
{
	if (metric_store_head(out, om, "postern_service_processes", "gauge",
			      "Processes of each service the master runs now.") < 0)
		return -1;
	for (size_t i = 0; i < s->nsvc; i++)
		if (s->svc[i].known && buf_printf(out, "postern_service_processes{service=\"%s\"} %lu\n",
						  s->svc[i].name, s->svc[i].processes) < 0)
			return -1;
	if (metric_store_head(out, om, "postern_service_restarts", "counter",
			      "Processes of each service that ended abnormally and were replaced, since the master started.") < 0)
		return -1;
	for (size_t i = 0; i < s->nsvc; i++)
		if (s->svc[i].known && buf_printf(out, "postern_service_restarts_total{service=\"%s\"} %lu\n",
						  s->svc[i].name, s->svc[i].restarts) < 0)
			return -1;
	return 0;
}

/* One queue gauge family over the states that could be read. */
static int metric_store_queue(const struct metric_queue *q, time_t now, int what, int om,
			      struct buf *out)
{
	static const char *const names[] = { "postern_queue_messages",
					     "postern_queue_oldest_message_age_seconds",
					     "postern_queue_scan_capped" };
	static const char *const helps[] = {
		"Messages in each queue directory.",
		"Age of the oldest message in each queue directory (0 when empty).",
		"1 when a queue directory held more entries than metrics_queue_scan_limit and was counted only up to it.",
	};

	if (metric_store_head(out, om, names[what], "gauge", helps[what]) < 0)
		return -1;
	if (om && what == 1 && buf_printf(out, "# UNIT %s seconds\n", names[what]) < 0)
		return -1;
	for (size_t i = 0; q != NULL && i < QUEUE_SCAN_STATES; i++) {
		long long v;
		if (!q[i].ok)
			continue;
		if (what == 0)
			v = (long long)q[i].scan.messages;
		else if (what == 1)
			v = q[i].scan.oldest == 0 || now < q[i].scan.oldest ? 0 :
			    (long long)(now - q[i].scan.oldest);
		else
			v = q[i].scan.capped;
		if (buf_printf(out, "%s{state=\"%s\"} %lld\n", names[what], queue_scan_state(i), v) < 0)
			return -1;
	}
	return 0;
}

int metric_store_text(const struct metric_store *s, const struct metric_queue *q, time_t now, int om,
		      struct buf *out)
{
	for (unsigned f = 0; f < METRIC_NFAMILIES; f++)
		if (metric_store_family(s, f, om, out) < 0)
			return -1;
	if (metric_store_services(s, om, out) < 0)
		return -1;
	for (int what = 0; what < 3; what++)
		if (metric_store_queue(q, now, what, om, out) < 0)
			return -1;
	if (metric_store_head(out, om, "postern_metrics_records_refused", "counter",
			      "Event records the metrics service refused: malformed, a service state not from the master, or too many services.") < 0 ||
	    buf_printf(out, "postern_metrics_records_refused_total %llu\n", s->refused) < 0)
		return -1;
	return om ? buf_append_str(out, "# EOF\n") : 0;
}
