/* Unit tests for common/sockets.c: Unix and TCP listeners, connect,
 * descriptor passing, peer credentials and addresses. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "sockets.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_sockets_XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_fd_passing_over_socketpair(void **state)
{
	int sv[2], p[2], got = -1;
	char buf[16];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fd_send(sv[0], p[1], "ticket", 6), 0);
	assert_int_equal(fd_recv(sv[1], buf, sizeof(buf), &got), 6);
	assert_memory_equal(buf, "ticket", 6);
	assert_true(got >= 0);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	/* The received descriptor is the pipe's write end. */
	assert_int_equal(write(got, "x", 1), 1);
	assert_int_equal(read(p[0], buf, 1), 1);
	assert_int_equal(buf[0], 'x');
	close(got);
	/* Plain data: no descriptor. */
	assert_int_equal(write(sv[0], "y", 1), 1);
	assert_int_equal(fd_recv(sv[1], buf, sizeof(buf), &got), 1);
	assert_int_equal(got, -1);
	assert_int_equal(fd_send(sv[0], p[0], "", 0), -1);
	close(sv[0]);
	assert_int_equal(fd_recv(sv[1], buf, sizeof(buf), &got), 0);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void test_fd_recv_closes_extra_descriptors(void **state)
{
	int sv[2], p[2], fds[3], got = -1;
	char buf[4], ctl[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = { .iov_base = "z", .iov_len = 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *cm;
	struct stat st;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(pipe(p), 0);
	fds[0] = p[0];
	fds[1] = p[1];
	fds[2] = p[0];
	memset(ctl, 0, sizeof(ctl));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl;
	msg.msg_controllen = sizeof(ctl);
	cm = CMSG_FIRSTHDR(&msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	assert_int_equal(sendmsg(sv[0], &msg, 0), 1);
	assert_int_equal(fd_recv(sv[1], buf, sizeof(buf), &got), 1);
	assert_true(got >= 0);
	/* Only one descriptor was kept: the next ones are free again. */
	assert_int_equal(fstat(got + 1, &st), -1);
	assert_int_equal(fstat(got + 2, &st), -1);
	close(got);
	close(sv[0]);
	close(sv[1]);
	close(p[0]);
	close(p[1]);
}

static void test_peer_cred_is_our_own(void **state)
{
	int sv[2];
	pid_t pid;
	uid_t uid;
	gid_t gid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(peer_cred(sv[0], &pid, &uid, &gid), 0);
	assert_int_equal(pid, getpid());
	assert_int_equal(uid, getuid());
	assert_int_equal(gid, getgid());
	assert_int_equal(peer_addr(sv[0], (char[8]){ 0 }, 8), 0);
	close(sv[0]);
	close(sv[1]);
}

static void test_unix_listen_connect_and_mode(void **state)
{
	char path[128], addr[16];
	struct stat st;
	int l, c, a;

	(void)state;
	snprintf(path, sizeof(path), "%s/sock", tmpdir);
	l = unix_listen(path, 0660, 5);
	assert_true(l >= 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	assert_true(fcntl(l, F_GETFD) & FD_CLOEXEC);
	c = unix_connect(path, 1000);
	assert_true(c >= 0);
	assert_int_equal(fcntl(c, F_GETFL) & O_NONBLOCK, 0);
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(peer_addr(a, addr, sizeof(addr)), 0);
	assert_string_equal(addr, "unix");
	assert_int_equal(peer_addr(a, addr, 4), -1);
	close(a);
	close(c);
	close(l);
	/* A stale socket is replaced. */
	l = unix_listen(path, 0600, 5);
	assert_true(l >= 0);
	close(l);
	unlink(path);
	/* Nobody listening. */
	assert_int_equal(unix_connect(path, 100), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_unix_listen_refuses_to_replace_a_file(void **state)
{
	char path[128];
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/file", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(unix_listen(path, 0600, 5), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(access(path, F_OK), 0);
}

static void test_unix_path_too_long(void **state)
{
	char path[200];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(unix_listen(path, 0600, 5), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_int_equal(unix_connect(path, 10), -1);
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listener on 127.0.0.1, a client connected to it and the accepted end. */
static void tcp_connection(int *l, int *c, int *a)
{
	const char *error = NULL;
	struct sockaddr_in sin = { 0 };

	*l = inet_listen("127.0.0.1:0", 5, &error);
	assert_true(*l >= 0);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)bound_port(*l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(*c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	*a = accept(*l, NULL, NULL);
	assert_true(*a >= 0);
}

static void test_inet_listen_and_peer_addr(void **state)
{
	const char *error = NULL;
	char addr[64];
	int l, c, a;

	(void)state;
	tcp_connection(&l, &c, &a);
	assert_int_equal(peer_addr(a, addr, sizeof(addr)), 0);
	assert_string_equal(addr, "127.0.0.1");
	close(a);
	close(c);
	close(l);
	l = inet_listen("*:0", 5, &error);
	assert_true(l >= 0);
	close(l);
}

static int tcp_option(int fd, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, name, &v, &len), 0);
	return v;
}

/* TCP_NODELAY and TCP_QUICKACK on a connection; on a pipe (inetd's
 * stdin, a test's) nothing, and no failure. */
static void test_no_delay_and_quick_ack(void **state)
{
	int l, c, a, p[2];

	(void)state;
	tcp_connection(&l, &c, &a);
	assert_int_equal(tcp_option(a, TCP_NODELAY), 0);
	socket_no_delay(a);
	assert_int_not_equal(tcp_option(a, TCP_NODELAY), 0);
	/* Into ping-pong (delayed ACK) mode, then out of it. */
	int zero = 0;
	assert_int_equal(setsockopt(a, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof(zero)), 0);
	assert_int_equal(tcp_option(a, TCP_QUICKACK), 0);
	socket_quick_ack(a);
	assert_int_equal(tcp_option(a, TCP_QUICKACK), 1);
	assert_int_equal(pipe(p), 0);
	socket_no_delay(p[1]);
	socket_quick_ack(p[0]);
	close(p[0]);
	close(p[1]);
	close(a);
	close(c);
	close(l);
}

static void test_inet_listen_ipv6(void **state)
{
	const char *error = NULL;
	int l = inet_listen("[::1]:0", 5, &error), v6only = 0;
	socklen_t len = sizeof(v6only);

	(void)state;
	if (l < 0 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT))
		skip();   /* no IPv6 loopback here */
	assert_true(l >= 0);
	assert_int_equal(getsockopt(l, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
	assert_int_equal(v6only, 1);
	close(l);
}

static void test_inet_listen_rejects_bad_addresses(void **state)
{
	const char *bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
			      "127.0.0.1:2x", "::1:25", "[::1]25", "[::1", "localhost:25",
			      "[127.0.0.1]:25", "1.2.3.4.5:25", ":25" };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *error = NULL;
		assert_int_equal(inet_listen(bad[i], 5, &error), -1);
		assert_non_null(error);
	}
}

static void test_fd_flags(void **state)
{
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fd_set_nonblock(p[0], 1), 0);
	assert_true(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(p[0], 0), 0);
	assert_false(fcntl(p[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_cloexec(p[1]), 0);
	assert_true(fcntl(p[1], F_GETFD) & FD_CLOEXEC);
	close(p[0]);
	close(p[1]);
	assert_int_equal(fd_set_nonblock(p[0], 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_passing_over_socketpair),
		cmocka_unit_test(test_fd_recv_closes_extra_descriptors),
		cmocka_unit_test(test_peer_cred_is_our_own),
		cmocka_unit_test(test_unix_listen_connect_and_mode),
		cmocka_unit_test(test_unix_listen_refuses_to_replace_a_file),
		cmocka_unit_test(test_unix_path_too_long),
		cmocka_unit_test(test_inet_listen_and_peer_addr),
		cmocka_unit_test(test_inet_listen_ipv6),
		cmocka_unit_test(test_no_delay_and_quick_ack),
		cmocka_unit_test(test_inet_listen_rejects_bad_addresses),
		cmocka_unit_test(test_fd_flags),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
