/* imapd_idle: IDLE (RFC 2177, RFC 9051 6.3.13).
 *
 * Offers: after "+ idling" the session waits for the client's DONE and,
 * meanwhile, for changes to the selected folder: an inotify watch on its
 * new/, cur/ and its own directory (where postern-index grows when
 * another session logs a flag change or an expunge) wakes it, and it
 * sends the EXISTS, EXPUNGE and FETCH FLAGS the sync finds, within a
 * moment of the change.  When the kernel gives no inotify instance (the
 * per-user limit, fs.inotify.max_user_instances, is reached) it looks
 * every IMAPD_IDLE_POLL_MS instead, and logs that once.
 *
 * Trusts: the client's line only as "DONE" (any case); anything else
 * ends IDLE with BAD.  Fails: imap_timeout without DONE ends the session
 * with BYE (RFC 9051 asks for at least 30 minutes). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "imapd_io.h"
#include "daemon.h"
#include "imapd_session.h"
#include "log.h"

#define IMAPD_IDLE_POLL_MS 2000   /* without inotify: how often to look */

static long long imapd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An inotify descriptor watching the selected folder, or -1. */
static int imapd_idle_watch(struct imapd_session *ss)
{
	static int warned;
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_ATTRIB;
	char path[IMAPD_FOLDER_PATH_MAX + 8];
	int fd;

	if (ss->mb == NULL)
		return -1;
	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0) {
		if (!warned++)
			log_warn("inotify: %s: IDLE looks every %d ms instead", strerror(errno), IMAPD_IDLE_POLL_MS);
		return -1;
	}
	const char *subs[] = { "", "/new", "/cur" };
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", ss->mb->path, subs[i]);
		if (inotify_add_watch(fd, path, mask | IN_ONLYDIR) < 0) {
			log_warn("inotify %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
	}
	return fd;
}

static void imapd_idle_drain(int fd)
{
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, ev, sizeof(ev)) > 0)
		;
}

void imapd_cmd_idle(struct imapd_session *ss, const struct imap_command *c)
{
	char tag[IMAP_TAG_MAX + 1];
	int wfd = imapd_idle_watch(ss);
	long long deadline = imapd_now_ms() + ss->l->timeout_ms;

	snprintf(tag, sizeof(tag), "%s", c->tag);   /* the arena is reused for DONE */
	imapd_send_updates(ss, true);
	stream_puts(ss->s, "+ idling\r\n");
	imap_parser_expect_line(ss->p);
	for (;;) {
		if (stream_flush(ss->s) < 0) {
			ss->done = 1;
			break;
		}
		if (stream_pending(ss->s) == 0) {   /* else a buffered line (DONE) is read first */
			struct pollfd pfd[3] = { { .fd = stream_fd(ss->s), .events = POLLIN },
						 { .fd = daemon_hurry_fd(), .events = POLLIN },
						 { .fd = wfd, .events = POLLIN } };
			long long left = deadline - imapd_now_ms();
			if (left <= 0) {
				stream_puts(ss->s, "* BYE Autologout: idle for too long\r\n");
				ss->done = 1;
				break;
			}
			int wait = left > INT32_MAX ? INT32_MAX : (int)left;
			if (wfd < 0 && ss->mb != NULL && wait > IMAPD_IDLE_POLL_MS)
				wait = IMAPD_IDLE_POLL_MS;
			int n = poll(pfd, wfd >= 0 ? 3 : 2, wait);
			if (n < 0 && errno != EINTR) {
				ss->done = 1;
				break;
			}
			if (daemon_hurrying()) {   /* the system stops: IDLE ends with the session */
				stream_puts(ss->s, "* BYE Server shutting down\r\n");
				ss->done = 1;
				break;
			}
			if (n <= 0 || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
				if (wfd >= 0)
					imapd_idle_drain(wfd);
				imapd_send_updates(ss, true);
				continue;
			}
		}
		enum imapd_event ev = imapd_read_event(ss->s, ss->p);
		if (ev == IMAPD_EV_LINE) {
			size_t len;
			const char *line = imap_parser_line(ss->p, &len);
			if (len == 4 && strncasecmp(line, "DONE", 4) == 0)
				imapd_tagged(ss, tag, "OK IDLE terminated");
			else
				imapd_bad(ss, tag, "Expected DONE");
			break;
		}
		if (ev == IMAPD_EV_TIMEOUT)
			stream_puts(ss->s, "* BYE Autologout: idle for too long\r\n");
		else if (ev == IMAPD_EV_SHUTDOWN)
			stream_puts(ss->s, "* BYE Server shutting down\r\n");
		ss->done = 1;
		break;
	}
	if (wfd >= 0)
		close(wfd);
}
