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
 * After imap_hibernate_timeout in IDLE, when nothing is left to send,
 * no client byte is buffered or half read and COMPRESS is off (a
 * deflate state is not moved), the session is handed to imap-hibernate
 * (imapd_resume.c) and this process is free; a session taken back from
 * there goes on here (imapd_idle_run) as if it had never left.  A
 * hand-off that fails leaves the session in IDLE here; it is tried
 * again after another imap_hibernate_timeout.
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

#include "daemon.h"
#include "imapd_io.h"
#include "imapd_session.h"
#include "log.h"

#define IMAPD_IDLE_POLL_MS 2000   /* without inotify: how often to look */

long long imapd_now_ms(void)
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

/* Whether the session can be set aside now: a folder selected and all
 * of it told, no client byte read ahead or half parsed, no compression
 * state (it cannot be moved), the system not stopping. */
static bool imapd_idle_can_hibernate(struct imapd_session *ss)
{
	struct pollfd pfd = { .fd = stream_fd(ss->s), .events = POLLIN };

	if (ss->mb == NULL || ss->shown != ss->mb->n || stream_pending(ss->s) != 0 || !imap_parser_idle(ss->p) ||
	    stream_deflate_active(ss->s) || stream_tls_active(ss->s) || daemon_hurrying())
		return false;
	/* Nothing unread in the socket either (a DONE that woke us). */
	return poll(&pfd, 1, 0) == 0;
}

/* Time for a hand-off to imap-hibernate: 1 when it took the session.
 * Else *hibernate_at says when to try again. */
static int imapd_idle_hibernate(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline,
				long long *hibernate_at)
{
	int r = imapd_idle_can_hibernate(ss) ? imapd_hibernate(ss, tag, idle_since, deadline) : -1;

	if (r == 0) {
		ss->hibernated = true;
		ss->done = 1;
		return 1;
	}
	/* The folder changed under the hand-off: again once that is told. */
	*hibernate_at = r == 1 ? imapd_now_ms() : imapd_now_ms() + ss->l->hibernate_ms;
	return 0;
}

void imapd_idle_run(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline)
{
	int wfd = imapd_idle_watch(ss);
	long long hibernate_at = ss->l->hibernate_ms > 0 ? idle_since + ss->l->hibernate_ms : -1;

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
			long long now = imapd_now_ms(), left = deadline - now;
			if (left <= 0) {
				stream_puts(ss->s, "* BYE Autologout: idle for too long\r\n");
				ss->done = 1;
				break;
			}
			if (hibernate_at >= 0 && now >= hibernate_at) {
				/* Events left on wfd are read after a failed hand-off. */
				if (imapd_idle_hibernate(ss, tag, idle_since, deadline, &hibernate_at))
					break;
				continue;
			}
			long long wait = left;
			if (hibernate_at >= 0 && hibernate_at - now < wait)
				wait = hibernate_at - now;
			if (wfd < 0 && ss->mb != NULL && wait > IMAPD_IDLE_POLL_MS)
				wait = IMAPD_IDLE_POLL_MS;
			int n = poll(pfd, wfd >= 0 ? 3 : 2, wait > INT32_MAX ? INT32_MAX : (int)wait);
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
		if (ev == IMAPD_EV_ERROR) {
			/* A line past imap_line_limit: no DONE, but the parser
			 * drops the rest of it and the session goes on. */
			imapd_bad(ss, tag, "[TOOBIG] Line too long, expected DONE");
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

void imapd_cmd_idle(struct imapd_session *ss, const struct imap_command *c)
{
	char tag[IMAP_TAG_MAX + 1];
	long long now = imapd_now_ms();

	snprintf(tag, sizeof(tag), "%s", c->tag);   /* the arena is reused for DONE */
	imapd_send_updates(ss, true);
	stream_puts(ss->s, "+ idling\r\n");
	imapd_idle_run(ss, tag, now, now + ss->l->timeout_ms);
}
