/* Unit tests for common/login_proxy.c, the TLS relay thread of a login
 * process: megabytes both ways without line ends, back-pressure (a
 * client that does not read stalls the session instead of filling
 * memory), the session's end reaching the client, the client's end
 * reaching the session, the idle limit, and the cap.  A forked child is
 * the TLS client; this process is the login (its relay thread) and the
 * session (the far end of the socketpair).  A throw-away certificate is
 * made with the openssl command (Debian package openssl, in make deps). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "login_proxy.h"
#include "stream.h"
#include "tls.h"

#define BULK (4 * 1024 * 1024)   /* bytes each way */

static char test_dir[64], cert_path[128], key_path[128];
static SSL_CTX *server_ctx;

static int setup(void **state)
{
	char cmd[512];
	const char *err;

	(void)state;
	snprintf(test_dir, sizeof(test_dir), "/tmp/test_login_proxy.XXXXXX");
	if (mkdtemp(test_dir) == NULL)
		return -1;
	snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", test_dir);
	snprintf(key_path, sizeof(key_path), "%s/key.pem", test_dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
		 "-subj /CN=relay.example.test -keyout %s -out %s 2>/dev/null", key_path, cert_path);
	if (system(cmd) != 0)
		return -1;
	server_ctx = tls_server_ctx(cert_path, key_path, &err);
	signal(SIGPIPE, SIG_IGN);
	return server_ctx != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tls_ctx_free(&server_ctx);
	unlink(cert_path);
	unlink(key_path);
	rmdir(test_dir);
	return 0;
}

static unsigned char pattern(size_t i, unsigned seed)
{
	return (unsigned char)(i * 7 + i / 251 + seed);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One relayed client: the child is the TLS client on a[0]; the relay has
 * the server side of a[1] and b[0]; the test is the session on b[1].
 * The child is forked before the relay set starts its thread: a child
 * forked from a threaded process could find a lock held for ever. */
struct relay {
	pid_t child;
	int login;       /* a[1] */
	int session;     /* b[1] */
	int session_far; /* b[0] */
	int go;          /* write a byte: the child goes on */
};

typedef int client_fn(struct stream *s, int go);

static _Noreturn void run_client(int fd, int go, client_fn *fn)
{
	const char *err;
	SSL_CTX *ctx = tls_client_ctx(0, NULL, &err);
	struct stream *s = stream_new(fd, fd, 1000, 20000);
	int r;

	if (ctx == NULL || s == NULL || stream_start_tls(s, ctx, 0, NULL, 10000, &err) < 0)
		_exit(20);
	r = fn(s, go);
	stream_free(&s);
	_exit(r);
}

static void relay_fork(struct relay *r, client_fn *fn)
{
	int a[2], b[2], g[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	assert_int_equal(pipe(g), 0);
	r->child = fork();
	assert_true(r->child >= 0);
	if (r->child == 0) {
		close(a[1]);
		close(b[0]);
		close(b[1]);
		close(g[1]);
		run_client(a[0], g[0], fn);
	}
	close(a[0]);
	close(g[0]);
	r->go = g[1];
	r->login = a[1];
	r->session = b[1];
	r->session_far = b[0];
}

/* The login's side: the TLS handshake, then the relay takes over. */
static void relay_attach(struct relay *r, struct login_proxies *set, int idle_ms)
{
	struct stream *s = stream_new(r->login, r->login, 1000, 10000);
	const char *err;
	SSL *ssl;

	assert_non_null(s);
	assert_int_equal(stream_start_tls(s, server_ctx, 1, NULL, 10000, &err), 0);
	ssl = stream_tls_detach(s);
	assert_non_null(ssl);
	stream_free(&s);
	assert_int_equal(login_proxies_add(set, ssl, r->login, r->login, r->session_far, idle_ms, "test"), 0);
	close(r->login);   /* the relay has its own */
}

static struct login_proxies *relay_start(struct relay *r, size_t max, int idle_ms, client_fn *fn)
{
	const char *err;
	struct login_proxies *set;

	relay_fork(r, fn);
	set = login_proxies_new(max, &err);
	assert_non_null(set);
	relay_attach(r, set, idle_ms);
	return set;
}

static int relay_end(struct relay *r)
{
	int status;

	close(r->go);
	if (r->session >= 0)
		close(r->session);
	assert_int_equal(waitpid(r->child, &status, 0), r->child);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void wait_count(struct login_proxies *set, size_t want)
{
	long long end = now_ms() + 10000;

	while (login_proxies_count(set) != want && now_ms() < end)
		poll(NULL, 0, 10);
	assert_int_equal(login_proxies_count(set), want);
}

/* Read n bytes (or up to EOF) from fd within 10 s each. */
static size_t read_all(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t k;
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		k = read(fd, p + got, n - got);
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	return got;
}

static void write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/* The child: BULK bytes up, then (told to go) BULK bytes down and EOF. */
static int client_bulk(struct stream *s, int go)
{
	unsigned char *p = malloc(BULK);
	struct buf in;
	char c;

	if (p == NULL)
		return 30;
	for (size_t i = 0; i < BULK; i++)
		p[i] = pattern(i, 1);
	if (stream_write(s, p, BULK) < 0 || stream_flush(s) < 0)
		return 31;
	if (read(go, &c, 1) != 1)
		return 32;
	buf_init(&in, BULK);
	if (stream_read_exact(s, BULK, &in) != STREAM_OK)
		return 33;
	for (size_t i = 0; i < BULK; i++)
		if ((unsigned char)in.data[i] != pattern(i, 2))
			return 34;
	buf_reset(&in);
	if (stream_read_exact(s, 1, &in) != STREAM_EOF)   /* the session's end */
		return 35;
	buf_free(&in);
	free(p);
	return 0;
}

static void test_relay_bulk_both_ways_with_back_pressure(void **state)
{
	struct login_proxies *set;
	unsigned char *p = malloc(BULK);
	struct relay r;
	size_t sent = 0;
	(void)state;

	assert_non_null(p);
	set = relay_start(&r, 4, 60000, client_bulk);
	assert_int_equal(login_proxies_count(set), 1);
	/* Up: megabytes without a line end arrive whole and in order. */
	assert_int_equal(read_all(r.session, p, BULK), BULK);
	for (size_t i = 0; i < BULK; i++)
		if (p[i] != pattern(i, 1))
			fail_msg("byte %zu differs", i);
	/* Down, while the client does not read: the relay stops taking
	 * bytes from the session after a bounded amount (socket buffers and
	 * its own block), instead of buffering all it is given. */
	for (size_t i = 0; i < BULK; i++)
		p[i] = pattern(i, 2);
	assert_int_equal(fcntl(r.session, F_SETFL, O_NONBLOCK), 0);
	for (int quiet = 0; quiet < 20 && sent < BULK;) {
		ssize_t k = write(r.session, p + sent, BULK - sent);
		if (k > 0) {
			sent += (size_t)k;
			quiet = 0;
		} else {
			assert_true(errno == EAGAIN);
			poll(NULL, 0, 10);
			quiet++;
		}
	}
	assert_true(sent < BULK / 2);
	/* The client reads now: the rest flows, then the session's EOF
	 * reaches the client as the end of its TLS session. */
	assert_int_equal(write(r.go, "g", 1), 1);
	assert_int_equal(fcntl(r.session, F_SETFL, 0), 0);
	write_all(r.session, p + sent, BULK - sent);
	close(r.session);
	r.session = -1;
	assert_int_equal(relay_end(&r), 0);
	wait_count(set, 0);
	login_proxies_free(&set);
	assert_null(set);
	free(p);
}

/* The child: one line up, then close without reading. */
static int client_says_bye(struct stream *s, int go)
{
	(void)go;
	stream_puts(s, "QUIT\r\n");
	return stream_flush(s) < 0 ? 40 : 0;
}

static void test_relay_client_end_reaches_the_session(void **state)
{
	struct login_proxies *set;
	unsigned char buf[64];
	struct relay r;
	(void)state;

	set = relay_start(&r, 4, 60000, client_says_bye);
	assert_int_equal(read_all(r.session, buf, sizeof(buf)), 6);   /* the line, then EOF */
	assert_memory_equal(buf, "QUIT\r\n", 6);
	/* The session's last words may still go out; then it closes. */
	if (write(r.session, "+OK bye\r\n", 9) < 0)
		assert_int_equal(errno, EPIPE);   /* the relay may have closed already */
	close(r.session);
	r.session = -1;
	wait_count(set, 0);
	assert_int_equal(relay_end(&r), 0);
	login_proxies_free(&set);
}

/* The child: wait for EOF (the relay gives up on the idle pair). */
static int client_idles(struct stream *s, int go)
{
	struct buf in;
	enum stream_status st;

	(void)go;
	buf_init(&in, 16);
	st = stream_read_exact(s, 1, &in);
	buf_free(&in);
	return st == STREAM_EOF || st == STREAM_ERROR ? 0 : 50;
}

static void test_relay_idle_limit_ends_it(void **state)
{
	struct login_proxies *set;
	unsigned char buf[8];
	struct relay r;
	long long start = now_ms();
	(void)state;

	set = relay_start(&r, 4, 300, client_idles);
	wait_count(set, 0);
	assert_true(now_ms() - start >= 250);
	assert_int_equal(read_all(r.session, buf, sizeof(buf)), 0);   /* the session reads EOF */
	assert_int_equal(relay_end(&r), 0);
	login_proxies_free(&set);
}

/* The child: told to go with the number of bytes to expect, read to EOF. */
static int client_reads_late(struct stream *s, int go)
{
	struct buf in;
	size_t total = 0, expect;

	if (read(go, &expect, sizeof(expect)) != (ssize_t)sizeof(expect))
		return 60;
	buf_init(&in, 65536);
	for (;;) {
		enum stream_status st;
		buf_reset(&in);
		st = stream_read_exact(s, 1024, &in);
		total += in.len;
		if (st != STREAM_OK)
			break;
	}
	buf_free(&in);
	return total == expect ? 0 : 61;
}

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The session has said all and gone while its last bytes wait for a
 * client that does not read: the relay waits without spinning on the
 * closed side, then delivers every byte and the end. */
static void test_relay_waits_quietly_for_a_slow_client(void **state)
{
	struct login_proxies *set;
	static unsigned char block[1024];
	struct relay r;
	size_t sent = 0;
	double cpu;
	(void)state;

	set = relay_start(&r, 4, 60000, client_reads_late);
	memset(block, 'z', sizeof(block));
	assert_int_equal(fcntl(r.session, F_SETFL, O_NONBLOCK), 0);
	/* Until the relay takes no more: the client's buffers are full. */
	for (int quiet = 0; quiet < 20;) {
		ssize_t k = write(r.session, block, sizeof(block));
		if (k == (ssize_t)sizeof(block)) {
			sent += sizeof(block);
			quiet = 0;
		} else {
			assert_true(k < 0 && errno == EAGAIN);
			poll(NULL, 0, 10);
			quiet++;
		}
	}
	close(r.session);
	r.session = -1;
	cpu = cpu_seconds();
	poll(NULL, 0, 500);
	assert_true(cpu_seconds() - cpu < 0.2);
	assert_int_equal(login_proxies_count(set), 1);
	assert_int_equal(write(r.go, &sent, sizeof(sent)), (ssize_t)sizeof(sent));
	assert_int_equal(relay_end(&r), 0);
	wait_count(set, 0);
	login_proxies_free(&set);
}

static void test_relay_set_full_takes_nothing(void **state)
{
	struct login_proxies *set;
	SSL *ssl = SSL_new(server_ctx);
	int b[2];
	struct relay r;
	(void)state;

	assert_non_null(ssl);
	set = relay_start(&r, 1, 60000, client_idles);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
	assert_int_equal(login_proxies_add(set, ssl, b[0], b[0], b[1], 1000, "second"), -1);
	SSL_free(ssl);              /* still ours */
	assert_int_equal(close(b[1]), 0);   /* still ours */
	close(b[0]);
	assert_int_equal(login_proxies_count(set), 1);
	close(r.session);           /* the session ends: so does the relay */
	r.session = -1;
	wait_count(set, 0);
	assert_int_equal(relay_end(&r), 0);
	login_proxies_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_bulk_both_ways_with_back_pressure),
		cmocka_unit_test(test_relay_client_end_reaches_the_session),
		cmocka_unit_test(test_relay_idle_limit_ends_it),
		cmocka_unit_test(test_relay_waits_quietly_for_a_slow_client),
		cmocka_unit_test(test_relay_set_full_takes_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
