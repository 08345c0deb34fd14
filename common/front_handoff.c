/* front_handoff: the record between the connection front and a service.
 *
 * Offers: front_handoff_send (the front's side) and front_handoff_receive
 * (the service's side, common/daemon.c), front_handoff.h.
 *
 * Trusts: nothing on the receiving side.  The front runs as an
 * unprivileged user and reads network input, so its record is parsed as
 * strictly as a client's: at most FRONT_HANDOFF_RECORD_MAX bytes, one
 * descriptor, which must be a connected stream socket, and one field,
 * greeted, 0 or 1.  The caller checked the peer's uid (daemon_peer_ok).
 *
 * Fails: -1 with errno (send) or *error_r (receive); nothing is logged
 * here, the caller logs with its service name. */
#include "front_handoff.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "fdrecord.h"
#include "record.h"
#include "sockets.h"

int front_handoff_send(int conn, int client, int greeted)
{
	static const char rec_greeted[] = "greeted=1\n\n", rec_plain[] = "greeted=0\n\n";
	const char *rec = greeted ? rec_greeted : rec_plain;

	return fd_send(conn, client, rec, strlen(rec));
}

/* Whether fd is a connected stream socket: what a client must be. */
static int front_handoff_is_client(int fd)
{
	int type = 0;
	socklen_t len = sizeof type;
	struct sockaddr_storage ss;
	socklen_t slen = sizeof ss;

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_STREAM &&
	       getpeername(fd, (struct sockaddr *)&ss, &slen) == 0;
}

/* The record's one field: 0/1 in *greeted_r, or -1. */
static int front_handoff_fields(const char *p, size_t n, int *greeted_r, const char **error_r)
{
	struct record rec = { 0 };
	size_t used;
	const char *v;
	int r = -1;

	if (record_parse(p, n, &rec, &used, error_r) < 0)
		return -1;
	v = record_get(&rec, "greeted");
	if (rec.n != 1 || v == NULL || (strcmp(v, "0") != 0 && strcmp(v, "1") != 0))
		*error_r = "the record is not greeted=0 or greeted=1";
	else {
		*greeted_r = v[0] == '1';
		r = 0;
	}
	record_clear(&rec);
	return r;
}

int front_handoff_receive(int conn, int timeout_ms, int *greeted_r, const char **error_r)
{
	struct fdrecord_wait w = { .first_ms = timeout_ms, .next_ms = timeout_ms, .stop = NULL };
	struct buf b;
	size_t end;
	int fd = -1, r;

	*greeted_r = 0;
	buf_init(&b, FRONT_HANDOFF_RECORD_MAX);
	r = fdrecord_read(conn, 0, &b, 1, &w, &end, &fd);
	if (r <= 0) {
		*error_r = r == 0 ? "the front closed before its record"
			: errno == ETIMEDOUT ? "timeout reading the front's record"
			: errno == EMSGSIZE ? "the front's record is too long"
			: "bad record from the front";
		buf_free(&b);
		return -1;
	}
	if (fd < 0)
		*error_r = "the front's record came without a client";
	else if (end != b.len)
		*error_r = "bytes after the front's record";
	else if (!front_handoff_is_client(fd))
		*error_r = "the front passed no connected stream socket";
	else if (front_handoff_fields(b.data, end, greeted_r, error_r) == 0) {
		buf_free(&b);
		fd_set_nonblock(fd, 0);
		return fd;
	}
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return -1;
}
