/* authclient: ask authd whether a user name and password are good.
 *
 * Offers: auth_verify() sends one `cmd=auth` record (docs/protocols.md)
 * to private/authd (relative to the process root: every root holds a
 * link to the authd socket) and turns the answer into 1 / 0 / -1.
 *
 * Trusts: authd for the verdict, but not for the shape of its answer: the
 * record is read with the bounded record reader, an unknown status is a
 * temporary failure, and a mailbox path is returned as given (the caller
 * validates it against its own root before use).
 *
 * Fails: any I/O problem, timeout (ipc_timeout) or malformed answer is a
 * temporary failure (-1) with a static *error_r; the caller answers its
 * client with a "try again later" reply.  The password never leaves this
 * module in a buffer that is not wiped: the request is built in a buf,
 * written with send(2) directly (not through a stream whose buffer we
 * could not wipe) and erased with buf_free. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "authclient.h"
#include "config.h"
#include "daemon.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"

#define AUTHCLIENT_REQUEST_MAX (16 * 1024)  /* five fields, escaped */
#define AUTHCLIENT_FIELD_MAX 1024            /* longest user/password we send */

static char authclient_reason[512];

static int authclient_timeout_ms(void)
{
	unsigned long long t = config_time("ipc_timeout");
	return t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
}

static int authclient_temp(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* Write all of p, each wait bounded by timeout_ms.  0 or -1. */
static int authclient_send_all(int fd, const char *p, size_t n, int timeout_ms)
{
	while (n > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		int r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int authclient_build(struct buf *req, const char *user, const char *password,
			    const char *service, const char *client)
{
	if (record_put_str(req, "cmd", "auth") < 0 ||
	    record_put_str(req, "user", user) < 0 ||
	    record_put_str(req, "password", password) < 0 ||
	    record_put_str(req, "service", service) < 0 ||
	    (client != NULL && record_put_str(req, "client", client) < 0))
		return -1;
	return record_end(req);
}

/* Send the request; the socket fd, or -1 with *error_r. */
static int authclient_request(const char *user, const char *password, const char *service,
			      const char *client, int timeout_ms, const char **error_r)
{
	char path[256];
	struct buf req;
	int fd, r;

	if (daemon_socket_path("authd", path, sizeof(path)) < 0)
		return authclient_temp(error_r, "authd socket path too long");
	buf_init(&req, AUTHCLIENT_REQUEST_MAX);
	if (authclient_build(&req, user, password, service, client) < 0) {
		buf_free(&req);
		return authclient_temp(error_r, "cannot build the authd request");
	}
	fd = unix_connect(path, timeout_ms);
	if (fd < 0) {
		buf_free(&req);
		return authclient_temp(error_r, "cannot connect to authd");
	}
	r = authclient_send_all(fd, req.data, req.len, timeout_ms);
	buf_free(&req);   /* wipes the password */
	if (r < 0) {
		close(fd);
		return authclient_temp(error_r, "cannot send the request to authd");
	}
	return fd;
}

/* Interpret the answer record.  1, 0 or -1. */
static int authclient_answer(const struct record *rec, struct buf *user_r,
			     struct buf *mailbox_r, const char **error_r)
{
	const char *status = record_get(rec, "status");
	const char *v;

	if (status == NULL)
		return authclient_temp(error_r, "authd answer without status");
	if (strcmp(status, "fail") == 0)
		return 0;
	if (strcmp(status, "tempfail") == 0) {
		v = record_get(rec, "reason");
		snprintf(authclient_reason, sizeof(authclient_reason), "authd: %s",
			 v != NULL ? v : "temporary failure");
		return authclient_temp(error_r, authclient_reason);
	}
	if (strcmp(status, "ok") != 0)
		return authclient_temp(error_r, "authd answer with an unknown status");
	if (user_r != NULL) {
		v = record_get(rec, "user");
		if (v == NULL || buf_set(user_r, v, strlen(v)) < 0)
			return authclient_temp(error_r, "authd answer: bad user");
	}
	if (mailbox_r != NULL) {
		v = record_get(rec, "mailbox");
		if (v == NULL || *v == '\0')
			return authclient_temp(error_r, "authd knows no mailbox for this user");
		if (buf_set(mailbox_r, v, strlen(v)) < 0)
			return authclient_temp(error_r, "authd answer: mailbox path too long");
	}
	return 1;
}

int auth_verify_user(const char *user, const char *password, const char *service,
		     const char *client, struct buf *user_r, struct buf *mailbox_r,
		     const char **error_r)
{
	int timeout_ms = authclient_timeout_ms();
	struct record rec = { 0 };
	struct stream *s;
	const char *err = "";
	int fd, ret;

	*error_r = "";
	/* Longer than any account authd holds: a plain rejection, decided
	 * here so that the record writer never has to refuse it. */
	if (strlen(user) > AUTHCLIENT_FIELD_MAX || strlen(password) > AUTHCLIENT_FIELD_MAX)
		return 0;
	fd = authclient_request(user, password, service, client, timeout_ms, error_r);
	if (fd < 0)
		return -1;
	s = stream_new(fd, fd, 1024, timeout_ms);
	if (s == NULL) {
		close(fd);
		return authclient_temp(error_r, "out of memory");
	}
	if (record_read(s, &rec, &err) != STREAM_OK)
		ret = authclient_temp(error_r, "no valid answer from authd");
	else
		ret = authclient_answer(&rec, user_r, mailbox_r, error_r);
	record_clear(&rec);
	stream_free(&s);
	close(fd);
	return ret;
}

int auth_verify(const char *user, const char *password, const char *service,
		const char *client, struct buf *mailbox_r, const char **error_r)
{
	return auth_verify_user(user, password, service, client, NULL, mailbox_r, error_r);
}
