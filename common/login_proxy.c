/* login_proxy: one thread relaying every TLS client of a login process.
 *
 * Offers: a relay set (login_proxies_new) that a login process fills
 * after each TLS client's hand-off (login_proxies_add, called by
 * login_handoff.c) and that daemon_serve_holding counts
 * (login_proxies_holder): the process takes new clients on its main
 * thread while this thread relays the old ones.  A relay forwards bytes
 * as they come, in both directions, with no notion of lines, so a
 * megabyte IMAP literal or a large RETR passes as any other bytes.
 *
 * How: each relay has two buffers of LOGIN_PROXY_BLOCK bytes (client ->
 * session, session -> client), allocated while they hold bytes only.
 * One side is read only while the buffer towards the other has room:
 * a side that does not read stalls the other (back-pressure through the
 * kernel's socket buffers), and memory never grows with what the peers
 * send.  All descriptors are non-blocking; OpenSSL's wishes (a read that
 * must first write, a write that must first read) are kept per relay
 * and turned into poll events.  Input OpenSSL has already decrypted is
 * invisible to poll(): a relay that holds some is served without
 * waiting.  A relay that moves a lot is served a bounded number of
 * rounds per wake-up, so it cannot starve the others.
 *
 * Ends: the session closes (its last bytes are written out, then a
 * close_notify), the client closes (the session reads EOF and ends in
 * its own time), an error on either side, or idle_ms without a byte
 * either way (the caller passes it: long enough for IMAP IDLE, RFC 9051
 * asks for 30 minutes at least).  The caller learns of each end through
 * an eventfd (login_proxies_count).
 *
 * Threads: the main thread only adds relays (a pointer written into a
 * pipe; PIPE_BUF makes each write whole) and reads the count (atomic);
 * everything else, each relay's SSL included, belongs to the relay
 * thread alone.  The thread blocks every signal, so SIGTERM still
 * reaches the main thread's poll (daemon.c).
 *
 * Trusts: nothing it relays; it parses none of it.  Buffers are wiped
 * when freed (mail and later commands pass through them).
 *
 * Fails: a relay's error ends that relay only (logged at debug level:
 * clients vanish all the time).  Set-up errors (thread, pipes) are
 * returned to the caller at start. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "login_proxy.h"
#include "sockets.h"

#define LOGIN_PROXY_ROUNDS 8       /* pump rounds per relay and wake-up */
#define LOGIN_PROXY_FDS_SPARE 64   /* descriptors besides the relays' */
#define LOGIN_PROXY_NO_PFD SIZE_MAX

struct login_pipe {
	char *data;          /* LOGIN_PROXY_BLOCK bytes, or NULL while empty */
	size_t off, len;     /* bytes waiting: data[off, off + len) */
};

struct login_proxy {
	SSL *ssl;
	int crfd, cwfd;             /* the client's descriptors (ours; equal for a socket) */
	int sfd;                    /* our end of the socketpair to the session */
	struct login_pipe up;       /* client -> session */
	struct login_pipe down;     /* session -> client */
	size_t write_retry;         /* an SSL_write to repeat with exactly these bytes */
	short read_wants;           /* POLLIN or POLLOUT: what SSL_read waits for */
	short write_wants;          /* the same for SSL_write */
	int client_eof;             /* no more from the client (or nowhere to send it) */
	int session_eof;            /* no more from the session */
	int session_shut;           /* the session was told EOF (shutdown SHUT_WR) */
	int idle_ms;
	long long last_ms;          /* CLOCK_MONOTONIC of the last byte moved */
	unsigned long long in, out; /* bytes relayed client -> session, session -> client */
	size_t pfd;                 /* its first pollfd this round, or LOGIN_PROXY_NO_PFD */
	char client[64];
};

struct login_proxies {
	size_t max;
	atomic_size_t live;          /* added and not yet ended */
	int add_pipe[2];             /* main -> thread: struct login_proxy *, NULL to stop */
	int ended_fd;                /* eventfd: thread -> main, one count per end */
	pthread_t thread;
	int started;
	/* The relay thread's own: */
	struct login_proxy **v;
	size_t n;
	struct pollfd *pfd;          /* 1 + 3 per relay */
	int stopping;
};

static long long login_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- buffers ---- */

/* Free room at the end of p; with can_move the waiting bytes may first
 * go to the front (not while an SSL_write must be repeated on them). */
static size_t login_pipe_room(struct login_pipe *p, int can_move)
{
	if (p->len == 0)
		p->off = 0;
	else if (can_move && p->off > 0) {
		memmove(p->data, p->data + p->off, p->len);
		p->off = 0;
	}
	return LOGIN_PROXY_BLOCK - p->off - p->len;
}

static int login_pipe_alloc(struct login_pipe *p)
{
	if (p->data == NULL && (p->data = malloc(LOGIN_PROXY_BLOCK)) == NULL)
		return -1;
	return 0;
}

/* Idle relays keep no buffers. */
static void login_pipe_release(struct login_pipe *p)
{
	if (p->data != NULL && p->len == 0) {
		explicit_bzero(p->data, LOGIN_PROXY_BLOCK);
		free(p->data);
		p->data = NULL;
		p->off = 0;
	}
}

static void login_pipe_consume(struct login_pipe *p, size_t n)
{
	p->off += n;
	p->len -= n;
	if (p->len == 0)
		p->off = 0;
}

/* ---- one relay's four moves: 1 progress, 0 none, -1 the relay ends ---- */

static int login_proxy_from_client(struct login_proxy *x)
{
	size_t room, got = 0;
	int r;

	if (x->client_eof || (room = login_pipe_room(&x->up, 1)) == 0)
		return 0;
	if (login_pipe_alloc(&x->up) < 0)
		return -1;
	ERR_clear_error();
	errno = 0;
	r = SSL_read_ex(x->ssl, x->up.data + x->up.off + x->up.len, room, &got);
	if (r == 1) {
		x->up.len += got;
		x->in += got;
		x->read_wants = POLLIN;
		return 1;
	}
	switch (SSL_get_error(x->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		x->read_wants = POLLIN;
		login_pipe_release(&x->up);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		x->read_wants = POLLOUT;
		login_pipe_release(&x->up);
		return 0;
	case SSL_ERROR_ZERO_RETURN:   /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
		x->client_eof = 1;
		login_pipe_release(&x->up);
		return 1;
	default:
		log_debug("client=%s: TLS read: %s", x->client, errno != 0 ? strerror(errno) : "protocol error");
		ERR_clear_error();
		return -1;
	}
}

static int login_proxy_to_session(struct login_proxy *x)
{
	ssize_t n;

	if (x->up.len == 0)
		return 0;
	n = send(x->sfd, x->up.data + x->up.off, x->up.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0) {
		login_pipe_consume(&x->up, (size_t)n);
		login_pipe_release(&x->up);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	/* The session is gone: what the client sends has nowhere to go, but
	 * what the session said last may still be on its way out. */
	x->up.len = 0;
	login_pipe_release(&x->up);
	x->client_eof = 1;
	return 1;
}

static int login_proxy_from_session(struct login_proxy *x)
{
	size_t room;
	ssize_t n;

	if (x->session_eof || (room = login_pipe_room(&x->down, x->write_retry == 0)) == 0)
		return 0;
	if (login_pipe_alloc(&x->down) < 0)
		return -1;
	n = recv(x->sfd, x->down.data + x->down.off + x->down.len, room, MSG_DONTWAIT);
	if (n > 0) {
		x->down.len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		login_pipe_release(&x->down);
		return 0;
	}
	x->session_eof = 1;   /* EOF, or ECONNRESET: the session has ended either way */
	login_pipe_release(&x->down);
	return 1;
}

static int login_proxy_to_client(struct login_proxy *x)
{
	size_t want, done = 0;
	int r;

	if (x->down.len == 0)
		return 0;
	/* OpenSSL: a write that wanted I/O is repeated with the same bytes. */
	want = x->write_retry != 0 ? x->write_retry : x->down.len;
	ERR_clear_error();
	errno = 0;
	r = SSL_write_ex(x->ssl, x->down.data + x->down.off, want, &done);
	if (r == 1) {
		x->write_retry = 0;
		x->write_wants = POLLOUT;
		x->out += done;
		login_pipe_consume(&x->down, done);
		login_pipe_release(&x->down);
		return 1;
	}
	switch (SSL_get_error(x->ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		x->write_retry = want;
		x->write_wants = POLLOUT;
		return 0;
	case SSL_ERROR_WANT_READ:
		x->write_retry = want;
		x->write_wants = POLLIN;
		return 0;
	default:
		log_debug("client=%s: TLS write: %s", x->client, errno != 0 ? strerror(errno) : "protocol error");
		ERR_clear_error();
		return -1;
	}
}

/* Move what can move without waiting.  1 when the relay has ended. */
static int login_proxy_pump(struct login_proxy *x, long long now)
{
	for (int round = 0; round < LOGIN_PROXY_ROUNDS; round++) {
		int a, b, c, d;

		if ((a = login_proxy_from_client(x)) < 0 || (b = login_proxy_to_session(x)) < 0 ||
		    (c = login_proxy_from_session(x)) < 0 || (d = login_proxy_to_client(x)) < 0)
			return 1;
		if (!(a || b || c || d))
			break;
		x->last_ms = now;
	}
	if (x->client_eof && x->up.len == 0 && !x->session_shut) {
		/* The session reads EOF and ends; its last words still come back. */
		(void)shutdown(x->sfd, SHUT_WR);
		x->session_shut = 1;
	}
	return x->session_eof && x->down.len == 0;
}

/* Decrypted input waiting inside OpenSSL, with room to take it. */
static int login_proxy_ready(struct login_proxy *x)
{
	return !x->client_eof && x->up.len < LOGIN_PROXY_BLOCK && SSL_pending(x->ssl) > 0;
}

/* Its three pollfds: client read side, client write side (-1 when the
 * same descriptor), session.  A descriptor it waits on for nothing is
 * left out (-1): poll() reports a hang-up whatever the events, and a
 * closed side would wake the thread for ever (a session that has ended
 * while its last bytes still go out to a slow client). */
static void login_proxy_events(const struct login_proxy *x, struct pollfd *pfd)
{
	short cr = 0, cw = 0, s = 0;
	size_t down_room = x->write_retry != 0 ? LOGIN_PROXY_BLOCK - x->down.off - x->down.len :
		LOGIN_PROXY_BLOCK - x->down.len;

	if (!x->client_eof && x->up.len < LOGIN_PROXY_BLOCK) {
		if (x->read_wants == POLLOUT)
			cw |= POLLOUT;
		else
			cr |= POLLIN;
	}
	if (x->down.len > 0) {
		if (x->write_wants == POLLIN)
			cr |= POLLIN;
		else
			cw |= POLLOUT;
	}
	if (!x->session_eof && down_room > 0)
		s |= POLLIN;
	if (x->up.len > 0)
		s |= POLLOUT;
	if (x->crfd == x->cwfd) {
		cr = (short)(cr | cw);
		cw = 0;
	}
	pfd[0] = (struct pollfd){ .fd = cr != 0 ? x->crfd : -1, .events = cr };
	pfd[1] = (struct pollfd){ .fd = cw != 0 ? x->cwfd : -1, .events = cw };
	pfd[2] = (struct pollfd){ .fd = s != 0 ? x->sfd : -1, .events = s };
}

static void login_proxy_close(struct login_proxies *p, struct login_proxy *x, const char *why)
{
	uint64_t one = 1;

	/* The session ended cleanly and all it said went out: tell the
	 * client so (one try; a client that is gone does not hold us). */
	if (x->session_eof && x->down.len == 0)
		(void)SSL_shutdown(x->ssl);
	ERR_clear_error();
	SSL_free(x->ssl);
	close(x->crfd);
	if (x->cwfd != x->crfd)
		close(x->cwfd);
	close(x->sfd);
	log_debug("client=%s: relay ended (%s) in=%llu out=%llu", x->client, why, x->in, x->out);
	x->up.len = x->down.len = 0;
	login_pipe_release(&x->up);
	login_pipe_release(&x->down);
	free(x);
	atomic_fetch_sub(&p->live, 1);
	if (write(p->ended_fd, &one, sizeof(one)) < 0)
		log_debug("relay end notice: %s", strerror(errno));
}

/* ---- the relay thread ---- */

/* New relays from the main thread; NULL asks the thread to stop once
 * none is left. */
static void login_proxies_take(struct login_proxies *p)
{
	struct login_proxy *batch[64];
	ssize_t n;

	while ((n = read(p->add_pipe[0], batch, sizeof(batch))) > 0) {
		for (size_t i = 0; i < (size_t)n / sizeof(batch[0]); i++) {
			if (batch[i] == NULL) {
				p->stopping = 1;
				continue;
			}
			batch[i]->pfd = LOGIN_PROXY_NO_PFD;   /* served at once: it may hold input */
			p->v[p->n++] = batch[i];              /* n < max: add checked live */
		}
	}
}

/* One poll set of every relay; the wait until the next idle limit. */
static size_t login_proxies_fill(struct login_proxies *p, long long now, int *timeout_r)
{
	size_t np = 1;

	*timeout_r = -1;
	p->pfd[0] = (struct pollfd){ .fd = p->add_pipe[0], .events = POLLIN };
	for (size_t i = 0; i < p->n; i++) {
		struct login_proxy *x = p->v[i];
		long long left = x->last_ms + x->idle_ms - now;
		int ms = left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;

		if (login_proxy_ready(x))
			ms = 0;
		if (*timeout_r < 0 || ms < *timeout_r)
			*timeout_r = ms;
		x->pfd = np;
		login_proxy_events(x, &p->pfd[np]);
		np += 3;
	}
	return np;
}

static int login_proxy_woken(const struct login_proxies *p, const struct login_proxy *x)
{
	if (x->pfd == LOGIN_PROXY_NO_PFD)
		return 1;
	return p->pfd[x->pfd].revents != 0 || p->pfd[x->pfd + 1].revents != 0 ||
	       p->pfd[x->pfd + 2].revents != 0;
}

static void *login_proxies_run(void *arg)
{
	struct login_proxies *p = arg;

	for (;;) {
		int timeout;
		size_t np = login_proxies_fill(p, login_now_ms(), &timeout);
		long long now;

		if (p->stopping && p->n == 0)
			break;
		if (poll(p->pfd, np, timeout) < 0 && errno != EINTR) {
			log_warn("relay poll: %s", strerror(errno));
			sleep(1);
			continue;
		}
		if (p->pfd[0].revents != 0)
			login_proxies_take(p);
		now = login_now_ms();
		for (size_t i = 0; i < p->n;) {
			struct login_proxy *x = p->v[i];
			const char *why = NULL;

			if ((login_proxy_woken(p, x) || login_proxy_ready(x)) && login_proxy_pump(x, now))
				why = "closed";
			else if (now - x->last_ms >= x->idle_ms)
				why = "idle timeout";
			if (why == NULL) {
				i++;
				continue;
			}
			if (why[0] == 'i')
				log_info("client=%s: no byte either way for %d s, closing", x->client,
					 (x->idle_ms + 999) / 1000);
			login_proxy_close(p, x, why);
			/* The last relay takes its place; its pollfd index is its own. */
			p->v[i] = p->v[--p->n];
		}
	}
	return NULL;
}

/* ---- the main thread's side ---- */

/* One pointer to the relay thread: whole (PIPE_BUF), a signal retried. */
static int login_proxies_send(struct login_proxies *p, struct login_proxy *x)
{
	ssize_t n;

	do
		n = write(p->add_pipe[1], &x, sizeof(x));
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(x) ? 0 : -1;
}

/* Descriptors for max relays (the client's and the socketpair end each),
 * raising the soft limit as far as the hard one allows.  The max that fits. */
static size_t login_proxies_fit(size_t max)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)max * 2 + LOGIN_PROXY_FDS_SPARE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return max;
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need)
		rl.rlim_cur = need;
	else
		rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < need) {
		size_t fit = rl.rlim_cur > 2 * LOGIN_PROXY_FDS_SPARE ?
			(size_t)(rl.rlim_cur - LOGIN_PROXY_FDS_SPARE) / 2 : LOGIN_PROXY_FDS_SPARE / 2;
		log_warn("login_proxy_limit %zu needs %llu descriptors, the limit is %llu: relaying at most %zu",
			 max, (unsigned long long)need, (unsigned long long)rl.rlim_cur, fit);
		return fit < max ? fit : max;
	}
	return max;
}

static void login_proxies_release(struct login_proxies *p)
{
	if (p->add_pipe[0] >= 0)
		close(p->add_pipe[0]);
	if (p->add_pipe[1] >= 0)
		close(p->add_pipe[1]);
	if (p->ended_fd >= 0)
		close(p->ended_fd);
	free(p->v);
	free(p->pfd);
	free(p);
}

size_t login_proxy_limit(void)
{
	unsigned long long n = config_size("login_proxy_limit");

	return n == 0 ? 1 : n > 100000 ? 100000 : (size_t)n;
}

int login_proxy_idle_ms(int timeout_ms)
{
	return timeout_ms > INT_MAX - 60000 ? INT_MAX : timeout_ms + 60000;
}

struct login_proxies *login_proxies_new(size_t max, const char **error_r)
{
	struct login_proxies *p = calloc(1, sizeof(*p));
	sigset_t all, old;

	if (p == NULL) {
		*error_r = "out of memory";
		return NULL;
	}
	p->add_pipe[0] = p->add_pipe[1] = p->ended_fd = -1;
	p->max = login_proxies_fit(max > 0 ? max : 1);
	atomic_init(&p->live, 0);
	p->v = calloc(p->max, sizeof(*p->v));
	p->pfd = calloc(1 + 3 * p->max, sizeof(*p->pfd));
	if (p->v == NULL || p->pfd == NULL) {
		*error_r = "out of memory";
		login_proxies_release(p);
		return NULL;
	}
	if (pipe2(p->add_pipe, O_CLOEXEC) < 0 || fd_set_nonblock(p->add_pipe[0], 1) < 0 ||
	    (p->ended_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		*error_r = "cannot make the relay's pipes";
		login_proxies_release(p);
		return NULL;
	}
	/* The thread takes no signal: SIGTERM is the main thread's. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&p->thread, NULL, login_proxies_run, p) != 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		*error_r = "cannot start the relay thread";
		login_proxies_release(p);
		return NULL;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	p->started = 1;
	return p;
}

int login_proxies_add(struct login_proxies *p, SSL *ssl, int rfd, int wfd, int session_fd,
		      int idle_ms, const char *client)
{
	struct login_proxy *x;

	if (atomic_load(&p->live) >= p->max || (x = calloc(1, sizeof(*x))) == NULL)
		return -1;
	x->crfd = fcntl(rfd, F_DUPFD_CLOEXEC, 3);
	x->cwfd = wfd == rfd ? x->crfd : fcntl(wfd, F_DUPFD_CLOEXEC, 3);
	if (x->crfd < 0 || x->cwfd < 0 || fd_set_nonblock(x->crfd, 1) < 0 ||
	    fd_set_nonblock(x->cwfd, 1) < 0 || fd_set_nonblock(session_fd, 1) < 0 ||
	    SSL_set_rfd(ssl, x->crfd) != 1 || SSL_set_wfd(ssl, x->cwfd) != 1)
		goto fail;
	/* Partial writes: a relay writes what the socket takes.  Moving
	 * buffer: a repeated write may find its bytes elsewhere.  Release
	 * buffers: an idle TLS session keeps no record buffers. */
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
		     SSL_MODE_RELEASE_BUFFERS);
	x->ssl = ssl;
	x->sfd = session_fd;
	x->idle_ms = idle_ms > 0 ? idle_ms : INT32_MAX;
	x->last_ms = login_now_ms();
	x->read_wants = POLLIN;
	x->write_wants = POLLOUT;
	snprintf(x->client, sizeof(x->client), "%s", client != NULL ? client : "unknown");
	atomic_fetch_add(&p->live, 1);
	if (login_proxies_send(p, x) == 0)
		return 0;
	atomic_fetch_sub(&p->live, 1);
fail:
	/* Nothing taken: the session keeps its descriptors as they were. */
	(void)SSL_set_rfd(ssl, rfd);
	(void)SSL_set_wfd(ssl, wfd);
	if (x->crfd >= 0)
		close(x->crfd);
	if (x->cwfd >= 0 && x->cwfd != x->crfd)
		close(x->cwfd);
	free(x);
	return -1;
}

size_t login_proxies_count(struct login_proxies *p)
{
	uint64_t ended;

	while (read(p->ended_fd, &ended, sizeof(ended)) == (ssize_t)sizeof(ended))
		;
	return atomic_load(&p->live);
}

static size_t login_proxies_held(void *arg)
{
	return login_proxies_count(arg);
}

void login_proxies_holder(struct login_proxies *p, struct daemon_holder *h)
{
	h->held = login_proxies_held;
	h->wake_fd = p->ended_fd;
	h->max = p->max;
	h->arg = p;
}

void login_proxies_free(struct login_proxies **pp)
{
	struct login_proxies *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (p->started && login_proxies_send(p, NULL) < 0) {
		/* The thread still runs on p: leave it be; we are exiting. */
		log_warn("cannot stop the relay thread: %s", strerror(errno));
		return;
	}
	if (p->started)
		pthread_join(p->thread, NULL);
	login_proxies_release(p);
}
