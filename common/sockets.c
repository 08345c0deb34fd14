/* sockets: Unix-domain and TCP listeners, Unix connects with a timeout,
 * descriptor passing and peer credentials.
 *
 * Offers: unix_listen (replaces a stale socket, never a regular file),
 * unix_connect (bounded wait), inet_listen ("host:port", "[v6]:port",
 * "*:port" = every IPv4 address; numeric hosts only, so no DNS is ever
 * consulted by the master), fd_send / fd_recv (SCM_RIGHTS, one
 * descriptor per message, extras closed), peer_cred (SO_PEERCRED),
 * peer_addr (numeric text).  Every descriptor is close-on-exec.
 *
 * Trusts: the paths and addresses it is given (they come from our own
 * configuration); nothing a peer sends: fd_recv closes descriptors it did
 * not ask for and refuses truncated control data.
 *
 * Fails: -1 with errno (inet_listen also with *error_r); nothing is left
 * open on failure. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "sockets.h"

#define SOCKETS_RECV_FDS 8   /* room for a misbehaving peer's extra fds */

static void sockets_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

/* Fill a sockaddr_un; a path that does not fit is an error, never clipped. */
static int sockets_unix_addr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, n + 1);
	return 0;
}

/* Remove a stale socket at path; refuse to remove anything else. */
static int sockets_unlink_stale(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int unix_listen(const char *path, mode_t mode, int backlog)
{
	struct sockaddr_un sun;
	mode_t old_mask;
	int fd, r;

	if (sockets_unix_addr(path, &sun) < 0 || sockets_unlink_stale(path) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/* Bind under a tight umask so the socket is never, even briefly,
	 * more accessible than mode. */
	old_mask = umask(0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_mask);
	if (r < 0 || chmod(path, mode) < 0 || listen(fd, backlog) < 0) {
		sockets_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

static long long sockets_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for a non-blocking connect in progress; 0 when connected. */
static int sockets_connect_wait(int fd, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);

	for (;;) {
		long long left = deadline - sockets_now_ms();
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)(left > 1000000 ? 1000000 : left));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r > 0)
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Connect within the deadline.  A Unix socket whose listen backlog is
 * full answers EAGAIN instead of EINPROGRESS and cannot be polled, so
 * that case is retried after short sleeps. */
static int sockets_connect_timed(int fd, const struct sockaddr_un *sun, long long deadline)
{
	for (;;) {
		long long left;

		if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0)
			return 0;
		if (errno == EINPROGRESS)
			return sockets_connect_wait(fd, deadline);
		if (errno != EINTR && errno != EAGAIN)
			return -1;
		left = deadline - sockets_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno == EAGAIN)
			poll(NULL, 0, left < 10 ? (int)left : 10);
	}
}

int unix_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sun;
	int fd;

	if (sockets_unix_addr(path, &sun) < 0)
		return -1;
	/* Non-blocking from the start when there is a deadline: one fcntl
	 * fewer than setting it after (connects are one per message). */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | (timeout_ms > 0 ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (timeout_ms <= 0) {
		/* No limit asked for: a plain blocking connect. */
		while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
			if (errno != EINTR) {
				sockets_close_keep_errno(fd);
				return -1;
			}
		}
		return fd;
	}
	/* Back to blocking: the flags are known (O_RDWR | O_NONBLOCK). */
	if (sockets_connect_timed(fd, &sun, sockets_now_ms() + timeout_ms) < 0 ||
	    fcntl(fd, F_SETFL, O_RDWR) < 0) {
		sockets_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

/* ---- TCP ---- */

static char sockets_error[256];

static int sockets_fail(const char **error_r, const char *addr, const char *why)
{
	snprintf(sockets_error, sizeof(sockets_error), "%s: %s", addr, why);
	*error_r = sockets_error;
	return -1;
}

/* Split "host:port", "[v6]:port" or "*:port" into host (NULL for "*")
 * and port text, both copied into bounded buffers. */
static int sockets_split_hostport(const char *addr, char *host, size_t hostlen,
				  char *port, size_t portlen, int *any_r)
{
	const char *colon, *h = addr, *hend;
	size_t n;

	if (addr[0] == '[') {
		hend = strchr(addr, ']');
		if (hend == NULL || hend[1] != ':')
			return -1;
		h = addr + 1;
		colon = hend + 1;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t)(colon - addr)) != NULL)
			return -1;
		hend = colon;
	}
	n = (size_t)(hend - h);
	if (n == 0 || n >= hostlen || strlen(colon + 1) >= portlen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	memcpy(port, colon + 1, strlen(colon + 1) + 1);
	*any_r = addr[0] != '[' && strcmp(host, "*") == 0;
	return 0;
}

/* A port is 1-5 digits, at most 65535 (0 = any, for tests). */
static int sockets_port_ok(const char *port)
{
	size_t n = strlen(port);
	unsigned long v = 0;

	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (port[i] < '0' || port[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	return v <= 65535;
}

static int sockets_bind_ai(const struct addrinfo *ai, int backlog)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
	int one = 1;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ai->ai_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
		sockets_close_keep_errno(fd);
		return -1;
	}
	return fd;
}

int inet_listen(const char *addr, int backlog, const char **error_r)
{
	char host[INET6_ADDRSTRLEN + 1], port[8];
	struct addrinfo hints, *res = NULL;
	int any, gai, fd;

	if (sockets_split_hostport(addr, host, sizeof(host), port, sizeof(port), &any) < 0 ||
	    !sockets_port_ok(port)) {
		errno = EINVAL;
		return sockets_fail(error_r, addr, "expected host:port, [v6]:port or *:port");
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_family = any ? AF_INET : (addr[0] == '[' ? AF_INET6 : AF_UNSPEC);
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(any ? NULL : host, port, &hints, &res);
	if (gai != 0) {
		errno = EINVAL;
		return sockets_fail(error_r, addr, gai_strerror(gai));
	}
	fd = sockets_bind_ai(res, backlog);
	if (fd < 0) {
		int saved = errno;
		sockets_fail(error_r, addr, strerror(saved));
		errno = saved;
	}
	freeaddrinfo(res);
	return fd;
}

/* ---- descriptor passing ---- */

int fd_send(int sock, int fd, const void *data, size_t len)
{
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	ssize_t n;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	/* The descriptor travelled with the first byte; send the rest plain. */
	for (size_t off = (size_t)n; off < len; ) {
		ssize_t w = send(sock, (const char *)data + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

/* Take at most one descriptor from the control data, closing the rest. */
static int sockets_take_fds(struct msghdr *msg, int *fd_r)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		size_t n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (*fd_r < 0)
				*fd_r = fd;
			else
				close(fd);
		}
	}
	if (msg->msg_flags & MSG_CTRUNC) {
		/* Some descriptors were lost: the peer broke the protocol. */
		if (*fd_r >= 0)
			close(*fd_r);
		*fd_r = -1;
		errno = EPROTO;
		return -1;
	}
	return 0;
}

ssize_t fd_recv(int sock, void *data, size_t len, int *fd_r)
{
	union {
		struct cmsghdr hdr;
		char space[CMSG_SPACE(sizeof(int) * SOCKETS_RECV_FDS)];
	} ctl;
	struct iovec iov = { .iov_base = data, .iov_len = len };
	struct msghdr msg = { 0 };
	ssize_t n;

	*fd_r = -1;
	memset(&ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.space;
	msg.msg_controllen = sizeof(ctl.space);
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (sockets_take_fds(&msg, fd_r) < 0)
		return -1;
	return n;
}

/* ---- small things ---- */

int ip_prefix_match(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, bits = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (bits == 0)
		return 1;
	unsigned char mask = (unsigned char)(0xff << (8 - bits));
	return (a[full] & mask) == (b[full] & mask);
}

int peer_cred(int sock, pid_t *pid_r, uid_t *uid_r, gid_t *gid_r)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return -1;
	if (len != sizeof(uc)) {
		errno = EPROTO;
		return -1;
	}
	if (pid_r != NULL)
		*pid_r = uc.pid;
	if (uid_r != NULL)
		*uid_r = uc.uid;
	if (gid_r != NULL)
		*gid_r = uc.gid;
	return 0;
}

int fd_set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	/* Already so (an accepted socket is blocking): no second call. */
	if (want == fl)
		return 0;
	return fcntl(fd, F_SETFL, want) < 0 ? -1 : 0;
}

int fd_set_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFD, fl | FD_CLOEXEC) < 0 ? -1 : 0;
}

void socket_no_delay(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void socket_quick_ack(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

int peer_addr(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char text[INET6_ADDRSTRLEN];
	const void *a;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	switch (ss.ss_family) {
	case AF_UNIX:
		return str_copy(out, outlen, "unix");
	case AF_INET:
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		break;
	case AF_INET6:
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		break;
	default:
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(ss.ss_family, a, text, sizeof(text)) == NULL)
		return -1;
	return str_copy(out, outlen, text);
}

int inet_connect(const char *hp, int timeout_ms)
{
	char host[256];
	const char *colon = strrchr(hp, ':');
	struct addrinfo hints, *res = NULL;
	long long deadline = sockets_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	int fd = -1;

	if (colon == NULL || colon == hp || colon[1] == '\0' ||
	    (size_t)(colon - hp) >= sizeof(host)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(host, hp, (size_t)(colon - hp));
	host[colon - hp] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {   /* [v6]:port */
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		struct pollfd pfd;
		int err = 0;
		long long left = deadline - sockets_now_ms();
		socklen_t elen = sizeof(err);

		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (errno != EINPROGRESS || left <= 0 || poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0) {
			if (err != 0)
				errno = err;
			sockets_close_keep_errno(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}
