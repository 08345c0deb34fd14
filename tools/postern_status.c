/* postern_status: what `postern status` prints besides the master's pid.
 *
 * Offers: the services the master runs, each with its processes and the
 * processes that ended abnormally and were replaced since the master
 * started (asked of the master at DIR/run/master.sock, master_control.c),
 * and the messages in each queue directory with the age of the oldest
 * (common/queue_scan.c: names only, as root or the queue's owner).
 *
 * Trusts: the master's answer as text to parse (common/metric.c's
 * records; other lines are skipped); queue entries as names.
 *
 * Fails: never changes the exit code: a master that does not answer or
 * a queue that cannot be read is said on stdout and skipped. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "metric.h"
#include "postern.h"
#include "queue_scan.h"

#define POSTERN_STATUS_WAIT_MS 5000
#define POSTERN_STATUS_MAX (64 * 1024)

/* The master's answer into out; 0 or -1 (errno). */
static int postern_status_ask(const char *tree, struct buf *out)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, n = snprintf(sun.sun_path, sizeof sun.sun_path, "%s/run/master.sock", tree);

	if (n < 0 || (size_t)n >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0)
		goto fail;
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		char *room;
		ssize_t r;

		if (poll(&pfd, 1, POSTERN_STATUS_WAIT_MS) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if ((room = buf_room(out, 4096)) == NULL)
			goto fail;
		r = read(fd, room, 4096);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		buf_extend(out, (size_t)r);
	}
	close(fd);
	return 0;
fail:
	n = errno;
	close(fd);
	errno = n;
	return -1;
}

static void postern_status_services(const char *tree)
{
	struct buf answer;
	const char *p, *end;

	buf_init(&answer, POSTERN_STATUS_MAX);
	if (postern_status_ask(tree, &answer) < 0) {
		printf("services: the master does not answer on %s/run/master.sock: %s\n", tree,
		       strerror(errno));
		buf_free(&answer);
		return;
	}
	printf("%-16s %9s %9s\n", "SERVICE", "PROCESSES", "RESTARTS");
	for (p = answer.data, end = p + answer.len; p != NULL && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		struct metric_record r;

		if (metric_record_parse(p, len, &r) == 0 && r.kind == METRIC_RECORD_SERVICE)
			printf("%-16s %9lu %9lu\n", r.service, r.processes, r.restarts);
		p += len;
	}
	buf_free(&answer);
}

static void postern_status_queue(const char *tree)
{
	size_t limit = (size_t)config_size("metrics_queue_scan_limit");
	time_t now = time(NULL);

	printf("%-16s %9s %9s\n", "QUEUE", "MESSAGES", "OLDEST");
	for (size_t i = 0; i < QUEUE_SCAN_STATES; i++) {
		char path[4200], age[32];
		struct queue_scan scan;
		int fd, r = -1;

		if (postern_path(path, sizeof path, "%s/queue/%s", tree, queue_scan_state(i)) < 0)
			continue;
		if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
			r = queue_scan_dir(fd, limit, &scan);
			close(fd);
		}
		if (r < 0) {
			printf("%-16s %s: %s\n", queue_scan_state(i), path, strerror(errno));
			continue;
		}
		if (scan.oldest == 0)
			snprintf(age, sizeof age, "-");
		else
			snprintf(age, sizeof age, "%llds", (long long)(now > scan.oldest ? now - scan.oldest : 0));
		printf("%-16s %8zu%s %9s\n", queue_scan_state(i), scan.messages, scan.capped ? "+" : " ", age);
	}
}

void postern_status_report(const char *tree)
{
	postern_status_services(tree);
	postern_status_queue(tree);
}
