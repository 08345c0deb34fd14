/* metrics: the metrics service (docs/metrics.md).
 *
 * Serves GET /metrics over HTTP (OpenMetrics when the client's Accept
 * asks for it, as Prometheus does, else the Prometheus text format) on
 * the listener the master passed as
 * fd 3 (an inet line in master.conf, loopback by default, off until the
 * operator enables it): the counters the other processes sent as
 * datagrams on fd 7 (common/metric.h), the processes and restarts of each
 * service as the master reports them on the same socket, and the size
 * and oldest age of each queue directory, counted at each scrape.  One
 * process, one client at a time; datagrams wait in the socket meanwhile
 * (and are dropped by their senders when it is full: never mail's
 * problem).
 *
 * Runs as postern-metrics in the empty run/jail.  Before the drop it
 * opens the queue directories (root-only, mode 0700) for reading, so it
 * can list their names and nothing else: no file is opened or stat()ed;
 * the age comes from the queue ID.  Trusts nothing it reads: the HTTP
 * head goes through common/http_request.c, each datagram through
 * common/metric.c; a service's processes and restarts are taken only
 * from the master, our parent, by the sender's pid (SCM_CREDENTIALS).
 *
 * Fails: set-up errors are fatal (the master restarts us); a client that
 * is too slow (metrics_timeout) or sends a bad request gets 400 or is
 * closed; a queue directory that cannot be read is left out.  Counters
 * live in a memfd the master holds (fd 8) and outlive this process; they
 * start from 0 with the master (or without that memory: run by hand). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "http_request.h"
#include "log.h"
#include "metric.h"
#include "metric_store.h"
#include "queue_scan.h"
#include "sockets.h"

#define METRICS_PATH "/metrics"
#define METRICS_ANSWER_MAX (4 * 1024 * 1024)   /* bytes of one answer */
#define METRICS_DRAIN_MAX 10000                /* datagrams taken between two polls */

struct metrics {
	int events_fd;                       /* fd 7, our end of the event socket, or -1 */
	pid_t master;                        /* our parent: the only sender of service states */
	int queue_fd[QUEUE_SCAN_STATES];     /* queue/STATE, or -1 */
	size_t scan_limit;
	long long timeout_ms;
	struct metric_store *store;          /* the master's memfd (fd 8), else our own */
};

static long long metrics_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Our end of the event socket, when the master passed one. */
static int metrics_events_fd(void)
{
	const char *env = getenv(METRIC_ENV);
	struct stat st;
	int on = 1;

	if (env == NULL || strcmp(env, "7") != 0 || fstat(METRIC_FD, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		log_warn("no event socket (fd 7): only the queue is reported");
		return -1;
	}
	fd_set_cloexec(METRIC_FD);
	/* the sender's pid with each datagram: only the master's service
	 * states are taken */
	if (setsockopt(METRIC_FD, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0)
		log_fatal("SO_PASSCRED: %s", strerror(errno));
	return METRIC_FD;
}

/* The counters: in the memory the master keeps for us (fd 8), so that
 * they outlive this process, as a previous one left them if they are
 * sound; without it, our own, from 0. */
static struct metric_store *metrics_store(void)
{
	static struct metric_store own;
	const char *env = getenv(METRIC_STATE_ENV);
	struct metric_store *s;
	struct stat st;

	if (env == NULL || strcmp(env, "8") != 0 || fstat(METRIC_STATE_FD, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof *s) {
		metric_store_init(&own);
		return &own;
	}
	s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED, METRIC_STATE_FD, 0);
	close(METRIC_STATE_FD);
	if (s == MAP_FAILED) {
		log_warn("counters' memory (fd 8): %s; counting from 0", strerror(errno));
		metric_store_init(&own);
		return &own;
	}
	/* fresh memory is all zeros: only a damaged store is worth a line */
	if (s->magic != 0 && !metric_store_adopt(s))
		log_warn("the counters a previous metrics process left are damaged: counting from 0");
	else if (s->magic == 0)
		metric_store_init(s);
	return s;
}

/* Open the queue directories while we may (docs/queue.md: mode 0700). */
static void metrics_open_queue(struct metrics *m, const struct daemon *d)
{
	for (size_t i = 0; i < QUEUE_SCAN_STATES; i++) {
		char path[sizeof d->base_dir + 32];
		int n = snprintf(path, sizeof path, "%s/queue/%s", d->base_dir, queue_scan_state(i));

		m->queue_fd[i] = -1;
		if (n < 0 || (size_t)n >= sizeof path)
			log_fatal("%s: queue path too long", d->base_dir);
		m->queue_fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->queue_fd[i] < 0)
			log_warn("%s: %s: not reported", path, strerror(errno));
	}
}

/* Take every datagram waiting (up to METRICS_DRAIN_MAX). */
static void metrics_drain(struct metrics *m)
{
	for (int k = 0; m->events_fd >= 0 && k < METRICS_DRAIN_MAX; k++) {
		char rec[METRIC_RECORD_MAX + 1];
		union {
			struct cmsghdr h;
			char b[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = { rec, sizeof rec };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &ctl,
				      .msg_controllen = sizeof ctl };
		pid_t from = 0;
		ssize_t n = recvmsg(m->events_fd, &msg, MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("event socket: %s", strerror(errno));
			return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
				struct ucred cred;
				memcpy(&cred, CMSG_DATA(c), sizeof cred);
				from = cred.pid;
			}
		/* a longer datagram was cut (MSG_TRUNC): the parser refuses its length */
		metric_store_take(m->store, rec, (size_t)n, from > 1 && from == m->master);
	}
}

/* The OpenMetrics text, from everything received up to now. */
static int metrics_text(struct metrics *m, int om, struct buf *body)
{
	struct metric_queue q[QUEUE_SCAN_STATES];

	metrics_drain(m);
	for (size_t i = 0; i < QUEUE_SCAN_STATES; i++) {
		q[i].ok = m->queue_fd[i] >= 0 && queue_scan_dir(m->queue_fd[i], m->scan_limit, &q[i].scan) == 0;
		if (m->queue_fd[i] >= 0 && !q[i].ok)
			log_warn("queue/%s: %s", queue_scan_state(i), strerror(errno));
	}
	return metric_store_text(m->store, q, time(NULL), om, body);
}

/* Write all of (p, n) before the deadline; 0 or -1. */
static int metrics_write(int fd, const char *p, size_t n, long long deadline)
{
	while (n > 0) {
		long long left = deadline - metrics_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w;

		if (left <= 0 || poll(&pfd, 1, (int)(left > 60000 ? 60000 : left)) < 0)
			return -1;
		if (pfd.revents == 0)
			continue;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read the request head before the deadline; 1 parsed (*r), 0 closed or too slow. */
static int metrics_read(int fd, long long deadline, struct http_request *r)
{
	static char req[HTTP_REQUEST_MAX];
	size_t len = 0;

	for (;;) {
		long long left = deadline - metrics_now_ms();
		ssize_t n;

		if (left <= 0 || daemon_wait_input(fd, (int)(left > 60000 ? 60000 : left)) <= 0)
			return 0;
		n = recv(fd, req + len, sizeof req - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			return 0;
		len += (size_t)n;
		if (http_request_parse(req, len, METRICS_PATH, r) == 1)
			return 1;
		if (len == sizeof req) {
			memset(r, 0, sizeof *r);
			r->status = 400;   /* no end of the head within HTTP_REQUEST_MAX */
			return 1;
		}
	}
}

/* One client: one request, one answer, then the connection closes. */
static void metrics_serve(struct metrics *m, int fd)
{
	long long deadline = metrics_now_ms() + m->timeout_ms;
	struct http_request r;
	struct buf head, body;
	int ok;

	if (!metrics_read(fd, deadline, &r)) {
		log_debug("client closed or too slow before a whole request");
		return;
	}
	buf_init(&body, METRICS_ANSWER_MAX);
	buf_init(&head, 1024);
	if (r.status == 200)
		ok = metrics_text(m, r.openmetrics, &body) == 0;
	else
		ok = buf_printf(&body, "%d %s\n", r.status, http_status_text(r.status)) == 0;
	if (!ok) {
		log_warn("answer longer than %d bytes: not sent", METRICS_ANSWER_MAX);
		r.status = 500;
		buf_reset(&body);
	}
	if (buf_printf(&head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
		       "Connection: close\r\n\r\n", r.status,
		       r.status == 500 ? "Internal Server Error" : http_status_text(r.status),
		       r.status != 200 ? "text/plain; charset=utf-8" :
		       r.openmetrics ? "application/openmetrics-text; version=1.0.0; charset=utf-8" :
		       "text/plain; version=0.0.4; charset=utf-8", body.len,
		       r.status == 405 ? "Allow: GET, HEAD\r\n" : "") == 0 &&
	    metrics_write(fd, head.data, head.len, deadline) == 0 && !r.head && body.len > 0 &&
	    metrics_write(fd, body.data, body.len, deadline) < 0)
		log_debug("client too slow to take the answer");
	buf_free(&head);
	buf_free(&body);
}

/* Take the clients waiting on the listener, one after the other. */
static void metrics_accept(struct metrics *m, const struct daemon *d)
{
	for (;;) {
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			return;
		}
		if (daemon_peer_ok(d, fd))
			metrics_serve(m, fd);
		close(fd);
		metrics_drain(m);
		if (daemon_stopping())
			return;
	}
}

int main(int argc, char **argv)
{
	static struct metrics m;
	struct daemon d;

	daemon_init(&d, "metrics", argc, argv);
	m.master = getppid();
	m.events_fd = metrics_events_fd();
	m.scan_limit = (size_t)config_size("metrics_queue_scan_limit");
	m.timeout_ms = (long long)config_time("metrics_timeout") * 1000;
	m.store = metrics_store();
	metrics_open_queue(&m, &d);
	daemon_drop(&d);
	if (d.listen_fd < 0)
		log_fatal("no listener (fd 3): the master starts this service (docs/metrics.md)");
	fd_set_nonblock(d.listen_fd, 1);
	while (!daemon_stopping()) {
		struct pollfd pfd[4] = {
			{ .fd = d.listen_fd, .events = POLLIN },
			{ .fd = m.events_fd, .events = POLLIN },
			{ .fd = daemon_stop_fd(), .events = POLLIN },
			{ .fd = daemon_lifeline(), .events = POLLIN },
		};
		if (poll(pfd, 4, -1) < 0 && errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
		if (pfd[1].revents != 0)
			metrics_drain(&m);
		if (pfd[0].revents != 0)
			metrics_accept(&m, &d);
	}
	log_info("stopped");
	return 0;
}
