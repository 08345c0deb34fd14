/* metric: event counts sent to the metrics service, and their records.
 *
 * Offers: metric_count() for every service process, and the parser of
 * the datagrams for the metrics service (docs/metrics.md, "Events").
 * A record is one line of text, so that it can be sent by hand
 * (`socat`): "EVENT SERVICE", or from the master "service SERVICE
 * PROCESSES RESTARTS".
 *
 * Trusts: nothing in a record: the parser takes (pointer, length),
 * allows only known event names, service names of [A-Za-z0-9._-] up to
 * METRIC_NAME_MAX bytes and decimal numbers of at most 9 digits.
 *
 * Fails: metric_count never reports anything: no socket, a full socket
 * (EAGAIN) or a metrics service that is gone drops the count. */
#include "metric.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int metric_fd = -1;
static char metric_service[METRIC_NAME_MAX + 1];

/* Wire names, in the order of enum metric_event. */
static const char *const metric_names[METRIC_NEVENTS] = {
	"received", "delivered", "deferred", "bounced", "reject_4xx", "reject_5xx",
	"tls_ok", "tls_fail", "auth_ok", "auth_fail", "login_pop3", "login_imap",
};

const char *metric_event_name(enum metric_event ev)
{
	return (unsigned)ev < METRIC_NEVENTS ? metric_names[ev] : NULL;
}

static int metric_name_ok(const char *p, size_t n)
{
	if (n == 0 || n > METRIC_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '.' || p[i] == '_' || p[i] == '-'))
			return 0;
	return 1;
}

void metric_init(const char *service)
{
	const char *env = getenv(METRIC_ENV);
	struct stat st;

	/* Only the descriptor the master named, and only if it is a
	 * socket: a program run by hand may have anything on fd 7. */
	if (env == NULL || strcmp(env, "7") != 0 || fstat(METRIC_FD, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (!metric_name_ok(service, strlen(service)))
		return;
	memcpy(metric_service, service, strlen(service) + 1);
	fcntl(METRIC_FD, F_SETFD, FD_CLOEXEC);
	metric_fd = METRIC_FD;
}

void metric_count(enum metric_event ev)
{
	char rec[METRIC_RECORD_MAX];
	int n;

	if (metric_fd < 0 || (unsigned)ev >= METRIC_NEVENTS)
		return;
	n = snprintf(rec, sizeof rec, "%s %s\n", metric_names[ev], metric_service);
	if (n <= 0 || (size_t)n >= sizeof rec)
		return;
	/* MSG_DONTWAIT: a full socket drops the count, never waits. */
	(void)send(metric_fd, rec, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int metric_service_record(char *out, size_t outlen, const char *service, unsigned long processes,
			  unsigned long restarts, size_t *len_r)
{
	int n = snprintf(out, outlen, "service %s %lu %lu\n", service, processes, restarts);

	if (n <= 0 || (size_t)n >= outlen)
		return -1;
	*len_r = (size_t)n;
	return 0;
}

/* A decimal number of 1 to 9 digits. */
static int metric_number(const char *w, size_t len, unsigned long *v_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 9)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (w[i] < '0' || w[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(w[i] - '0');
	}
	*v_r = v;
	return 0;
}

int metric_record_parse(const char *p, size_t n, struct metric_record *r)
{
	const char *w[4];
	size_t len[4], nw = 0, start = 0;

	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n == 0 || n >= METRIC_RECORD_MAX)
		return -1;
	/* words separated by single spaces: an empty word (two spaces, or
	 * one at either end) is an error */
	for (size_t i = 0; i <= n; i++) {
		if (i < n && p[i] != ' ')
			continue;
		if (i == start || nw == 4)
			return -1;
		w[nw] = p + start;
		len[nw++] = i - start;
		start = i + 1;
	}
	memset(r, 0, sizeof *r);
	if (nw == 4 && len[0] == 7 && memcmp(w[0], "service", 7) == 0) {
		r->kind = METRIC_RECORD_SERVICE;
		if (metric_number(w[2], len[2], &r->processes) < 0 ||
		    metric_number(w[3], len[3], &r->restarts) < 0)
			return -1;
	} else if (nw == 2) {
		size_t e = 0;
		while (e < METRIC_NEVENTS &&
		       !(strlen(metric_names[e]) == len[0] && memcmp(metric_names[e], w[0], len[0]) == 0))
			e++;
		if (e == METRIC_NEVENTS)
			return -1;
		r->kind = METRIC_RECORD_EVENT;
		r->event = (enum metric_event)e;
	} else {
		return -1;
	}
	if (!metric_name_ok(w[1], len[1]))
		return -1;
	memcpy(r->service, w[1], len[1]);
	r->service[len[1]] = '\0';
	return 0;
}
