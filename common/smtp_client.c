/* smtp_client: connect, write commands and read replies for the SMTP and
 * LMTP clients (smtp_client.h lists the pieces and who uses them).
 *
 * Trusts: nothing the server says: every line passes the stream's line
 * limit and common/smtp_reply's grammar and limits; a reply that breaks
 * them is an error like a lost connection, never a crash.  Commands are
 * the caller's, already validated (no CR or LF inside).
 *
 * Fails: returns -1 (or -2 for a failed write) with a short English
 * reason; the caller words the log line and the DSN text. */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "smtp_client.h"
#include "sockets.h"

/* The end of a non-blocking connect: 0, or -1 with errno. */
static int smtp_client_wait_connect(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0, r;
	socklen_t elen = sizeof err;

	do
		r = poll(&pfd, 1, ms > 0 ? ms : -1);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	if (r <= 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	errno = err;
	return err == 0 ? 0 : -1;
}

int smtp_client_connect(const struct sockaddr *addr, socklen_t len, int ms)
{
	int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), err;

	if (fd < 0)
		return -1;
	/* Only EINPROGRESS is a connect under way: a Unix socket whose
	 * listen queue is full answers EAGAIN and is not connected at all. */
	if ((connect(fd, addr, len) < 0 && (errno != EINPROGRESS || smtp_client_wait_connect(fd, ms) < 0)) ||
	    fd_set_nonblock(fd, 0) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	/* Our commands go out whole, flushed per command or per pipelined
	 * group; with Nagle, EHLO after STARTTLS waits for the server's
	 * delayed ACK of our TLS Finished when the server sends nothing
	 * after it (sockets.h). */
	socket_no_delay(fd);
	return fd;
}

int smtp_client_send(struct stream *s, const char *cmd, int flush)
{
	if (stream_puts(s, cmd) < 0 || stream_puts(s, "\r\n") < 0)
		return -1;
	return flush ? stream_flush(s) : 0;
}

int smtp_client_read_reply(struct stream *s, struct smtp_reply *r, const char **error_r)
{
	smtp_reply_reset(r);
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(s, &line, &len);
		int done;
		if (st != STREAM_OK) {
			*error_r = st == STREAM_TIMEOUT ? "timeout" : st == STREAM_TOOLONG ? "reply line too long"
				   : st == STREAM_EOF ? "lost connection" : "read error";
			return -1;
		}
		done = smtp_reply_line(r, line, len, error_r);
		if (done < 0)
			return -1;
		if (done == 1)
			return r->code;
	}
}

int smtp_client_command(struct stream *s, struct smtp_reply *r, const char *cmd, const char **error_r)
{
	if (smtp_client_send(s, cmd, 1) < 0) {
		*error_r = "write error";
		return -2;
	}
	return smtp_client_read_reply(s, r, error_r);
}
