/* front: the connection front of a network service (docs/front.md), as
 * Postfix's postscreen is for its smtpd.  One process, one epoll loop,
 * every socket non-blocking: it accepts on the service's TCP port, sends
 * the protocol's greeting itself and holds the connection, at the cost
 * of a few dozen bytes and a descriptor, until the client has sent one
 * complete line (or front_peek_limit bytes without LF: the service then
 * answers "line too long").  It only peeks (recv MSG_PEEK), so the line
 * stays in the socket; then it passes the socket to the real service's
 * Unix socket (common/front_handoff.h: one connection, one record
 * greeted=1, the descriptor) and forgets it.  So thousands of idle or
 * byte-a-minute connections cost one process, not one service process
 * each, and a client that talks gets a service process at once.
 *
 * SMTP with smtpd_pregreet_wait set: the greeting waits that long, and a
 * client that talks first is answered 554 5.5.1 and closed (the pregreet
 * test of common/pregreet, as smtpd runs it; mynetworks greeted at once).
 *
 * Limits (postern.conf): front_connection_limit held in all (one more is
 * answered with the protocol's "busy" and closed: 421 4.3.2, -ERR
 * [SYS/TEMP], * BYE [UNAVAILABLE]), front_client_connection_limit held
 * per client address (the same codes), front_line_timeout for the first
 * line, at most the service's own timeout (421 4.4.2, -ERR, * BYE),
 * front_peek_limit bytes looked at.  When the service's
 * socket takes no connection (all its processes busy and its backlog
 * full, or not running) the client stays held and the hand-off is
 * retried every FRONT_RETRY_MS, never blocking the loop.
 *
 * Runs as SERVICE_FRONT_USER (common/service_table.h) in run/jail,
 * confined by the front sandbox profile (Unix sockets only, no file
 * writes, no Internet sockets of its own: the listener comes from the
 * master).  Before the drop it raises RLIMIT_NOFILE for its limit and,
 * for IMAP, loads the port's certificate only to know whether the
 * greeting offers STARTTLS (freed at once).  While it holds clients it
 * reports busy, so that a system stop (SIGUSR1) ends it at once.
 *
 * Usage (master.conf): `NAME inet ADDR:PORT USER run/jail 1 front PROTO
 * SERVICE`: PROTO smtp, pop3 or imap (front_protos: its greeting, replies and
 * the service's own timeout), SERVICE the unix service that runs the
 * real program (its socket private/SERVICE).
 *
 * Trusts: nothing a client sends; it looks for LF and nothing else, so
 * there is no parser to fuzz.  Fails: set-up errors are fatal (the
 * master restarts it); errors on one client end that client. */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "buf.h"
#include "daemon.h"
#include "front_handoff.h"
#include "greeting.h"
#include "login_policy.h"
#include "tls.h"
#include "log.h"
#include "netlist.h"
#include "pregreet.h"
#include "sockets.h"

#define FRONT_RETRY_MS 100          /* a hand-off the service did not take is retried after this */
#define FRONT_FD_RESERVE 64         /* descriptors kept for everything but clients */
#define FRONT_EVENTS 256            /* epoll events taken per wait */
#define FRONT_STATUS_SECONDS 60     /* most frequent status log line */
#define FRONT_REPLY_MAX 1024       /* a reply line; IMAP's greeting is some 500 bytes */

/* What the front says in each protocol.  HOST stands for myhostname. */
struct front_proto {
	const char *name;          /* master.conf argument */
	const char *busy;          /* front_connection_limit reached */
	const char *too_many;      /* front_client_connection_limit reached; the address follows */
	const char *timeout;       /* no line within the deadline */
	const char *timeout_key;   /* the service's own wait for a command before login */
};

static const struct front_proto front_protos[] = {
	/* RFC 5321 3.8, 4.2.5: 421 and close; the texts smtpd uses */
	{ "smtp", "421 4.3.2 HOST Error: all server ports are busy",
	  "421 4.7.0 HOST Error: too many connections from ", "421 4.4.2 HOST Error: timeout exceeded",
	  "smtpd_timeout" },
	/* RFC 2449 8.1.2 SYS/TEMP: try later; popd's timeout text */
	{ "pop3", "-ERR [SYS/TEMP] Server busy, try again later",
	  "-ERR [SYS/TEMP] Too many connections from ", "-ERR Timeout, closing connection",
	  "pop3_timeout" },
	/* RFC 9051 7.1.5 BYE, RFC 5530 UNAVAILABLE; imapd's timeout text */
	{ "imap", "* BYE [UNAVAILABLE] Server busy, try again later",
	  "* BYE [UNAVAILABLE] Too many connections from ", "* BYE Autologout: idle for too long",
	  "imap_login_timeout" },
};

/* One held client.  Linked in arrival order, which is deadline order
 * since every client gets the same front_line_timeout. */
struct front_conn {
	int fd;
	int ready;                    /* its line is complete: waiting for the service */
	time_t deadline;              /* CLOCK_MONOTONIC seconds */
	long long greet_ms;           /* SMTP pregreet test: greeting due (monotonic ms), 0 greeted */
	struct front_addr *addr;
	struct front_conn *prev, *next;
	struct front_conn *gprev, *gnext;   /* not yet greeted, in greeting order */
};

/* Held connections of one client address. */
struct front_addr {
	unsigned char ip[16];         /* IPv4 as v4-mapped IPv6 */
	size_t held;
	struct front_addr *next;      /* hash chain */
};

struct front {
	const struct front_proto *proto;
	const struct daemon *d;
	int reported_busy;                /* last told the master: held > 0 */
	const char *hostname;
	char greeting[FRONT_REPLY_MAX];   /* each with its CRLF */
	/* IMAP: the greeting's CAPABILITY says whether plaintext logins
	 * are allowed, which login_plaintext_ok decides per client address */
	char greeting_noplain[FRONT_REPLY_MAX];
	struct login_policy policy;
	char busy[FRONT_REPLY_MAX], timeout[FRONT_REPLY_MAX], too_many[FRONT_REPLY_MAX];
	char service_path[108];       /* private/SERVICE, in our root */
	size_t limit, client_limit, peek_limit;
	unsigned long long line_timeout;
	int epfd, listen_fd, listening;
	size_t held, ready, nbuckets;
	struct front_conn *head, *tail;   /* every held client, oldest first */
	struct front_addr **buckets;
	char *peek;
	time_t last_status;
	unsigned long long passed, timed_out, refused;
	/* SMTP: the pregreet test (smtpd_pregreet_wait; mynetworks greeted at once) */
	int pregreet_ms;
	struct netlist_net *mynetworks;
	size_t nmynetworks;
	struct front_conn *ghead, *gtail;   /* waiting for their greeting, oldest first */
};

static time_t front_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static long long front_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t front_hash(const unsigned char ip[16], size_t n)
{
	size_t h = 1469598103934665603ULL;

	for (int i = 0; i < 16; i++)
		h = (h ^ ip[i]) * 1099511628211ULL;
	return h & (n - 1);
}

/* The client's address as 16 bytes; 0, or -1 for a peer with none. */
static int front_peer_ip(int fd, unsigned char ip[16])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -1;
	memset(ip, 0, 16);
	if (ss.ss_family == AF_INET) {
		ip[10] = ip[11] = 0xff;
		memcpy(ip + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		memcpy(ip, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	} else
		return -1;
	return 0;
}

/* The count of ip, made when absent; NULL when out of memory. */
static struct front_addr *front_addr_get(struct front *f, const unsigned char ip[16])
{
	size_t b = front_hash(ip, f->nbuckets);
	struct front_addr *a;

	for (a = f->buckets[b]; a != NULL; a = a->next)
		if (memcmp(a->ip, ip, 16) == 0)
			return a;
	a = calloc(1, sizeof *a);
	if (a == NULL)
		return NULL;
	memcpy(a->ip, ip, 16);
	a->next = f->buckets[b];
	f->buckets[b] = a;
	return a;
}

static void front_addr_put(struct front *f, struct front_addr *a)
{
	struct front_addr **p = &f->buckets[front_hash(a->ip, f->nbuckets)];

	if (--a->held > 0)
		return;
	while (*p != a)
		p = &(*p)->next;
	*p = a->next;
	free(a);
}

static void front_addr_text(const struct front_addr *a, char *out, size_t len)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(a->ip, mapped, 12) == 0)
		inet_ntop(AF_INET, a->ip + 12, out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, a->ip, out, (socklen_t)len);
}

/* The greeting for a client at who. */
static const char *front_greeting(const struct front *f, const char *who)
{
	if (f->greeting_noplain[0] != '\0' && !login_plaintext_ok(&f->policy, 0, who))
		return f->greeting_noplain;
	return f->greeting;
}

/* One reply, best effort: a client that cannot take it is closed anyway. */
static void front_say(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("reply not sent: %s", strerror(errno));
}

/* Before closing a client we answered: read what it sent (at most its
 * receive buffer), so that the close sends a FIN after our reply, not a
 * reset that may destroy the reply before the client reads it. */
static void front_drain(struct front *f, int fd)
{
	while (recv(fd, f->peek, f->peek_limit, MSG_DONTWAIT) > 0)
		;
}

/* Out of the list of clients waiting for their greeting. */
static void front_greet_unlink(struct front *f, struct front_conn *c)
{
	if (c->gprev != NULL)
		c->gprev->gnext = c->gnext;
	else
		f->ghead = c->gnext;
	if (c->gnext != NULL)
		c->gnext->gprev = c->gprev;
	else
		f->gtail = c->gprev;
	c->gprev = c->gnext = NULL;
	c->greet_ms = 0;
}

/* Forget c: out of the list and the counts, its descriptor closed. */
static void front_drop(struct front *f, struct front_conn *c)
{
	if (c->greet_ms != 0)
		front_greet_unlink(f, c);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		f->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		f->tail = c->prev;
	if (c->ready)
		f->ready--;
	front_addr_put(f, c->addr);
	/* Out of the set first: a passed socket lives on (in flight, then
	 * in the service), and closing our descriptor would leave its
	 * events coming with a pointer to c. */
	if (epoll_ctl(f->epfd, EPOLL_CTL_DEL, c->fd, NULL) < 0 && errno != ENOENT)
		log_warn("epoll_ctl: %s", strerror(errno));
	close(c->fd);
	f->held--;
	free(c);
}

/* Pass c to the service: 1 passed (c is gone), 0 the service takes no
 * connection now (retry), -1 failed (c is gone, logged). */
static int front_pass(struct front *f, struct front_conn *c)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int conn = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (conn < 0) {
		log_warn("socket: %s", strerror(errno));
		return 0;   /* out of descriptors: the next try may find one */
	}
	memcpy(sun.sun_path, f->service_path, strlen(f->service_path) + 1);
	if (connect(conn, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int e = errno;
		close(conn);
		/* EAGAIN: its backlog is full, every process is busy.
		 * ECONNREFUSED, ENOENT: not (yet) running.  Both pass. */
		if (e == EAGAIN || e == ECONNREFUSED || e == ENOENT || e == EINTR)
			return 0;
		log_warn("connect %s: %s", f->service_path, strerror(e));
		return 0;
	}
	if (front_handoff_send(conn, c->fd, 1) < 0) {
		log_warn("passing a client to %s: %s", f->service_path, strerror(errno));
		close(conn);
		front_drop(f, c);
		return -1;
	}
	close(conn);
	f->passed++;
	front_drop(f, c);
	return 1;
}

/* c talked before its greeting (n bytes waiting): answered as smtpd
 * answers it (PREGREET in the log, 554 5.5.1) and closed. */
static void front_pregreeted(struct front *f, struct front_conn *c, size_t n)
{
	char who[INET6_ADDRSTRLEN], client[INET6_ADDRSTRLEN + 16], reply[FRONT_REPLY_MAX];

	front_addr_text(c->addr, who, sizeof who);
	snprintf(client, sizeof client, "unknown[%s]", who);
	pregreet_log(client, f->peek, n, f->pregreet_ms - (c->greet_ms - front_now_ms()));
	snprintf(reply, sizeof reply, PREGREET_REPLY "\r\n", f->hostname);
	front_say(c->fd, reply);
	front_drain(f, c->fd);
	f->refused++;
	front_drop(f, c);
}

/* Look at what c has sent: a complete line (or peek_limit bytes) makes
 * it ready and passes it; end of input or an error ends it.  hup: the
 * client closed its side (EPOLLRDHUP), which a peek cannot see while
 * unread bytes (a slowloris client's) come before the end. */
static void front_peek(struct front *f, struct front_conn *c, int hup)
{
	ssize_t n = recv(c->fd, f->peek, f->peek_limit, MSG_PEEK | MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) && !hup)
		return;
	if (n > 0 && c->greet_ms != 0) {
		front_pregreeted(f, c, (size_t)n);
		return;
	}
	if (n <= 0 || (hup && !c->ready && memchr(f->peek, '\n', (size_t)n) == NULL)) {
		front_drop(f, c);   /* gone before its first line: nobody to answer */
		return;
	}
	if (c->ready || (memchr(f->peek, '\n', (size_t)n) == NULL && (size_t)n < f->peek_limit))
		return;
	c->ready = 1;
	f->ready++;
	/* Ready ones are passed in order: none overtakes an older one. */
	if (f->ready == 1)
		(void)front_pass(f, c);
}

/* Retry the ready clients, oldest first, until the service takes no more. */
static void front_retry(struct front *f)
{
	struct front_conn *c = f->head, *next;

	while (c != NULL && f->ready > 0) {
		next = c->next;
		if (c->ready && front_pass(f, c) == 0)
			return;
		c = next;
	}
}

/* Greet the clients that kept quiet for the pregreet wait.  Every one
 * waits as long, so the list is in due order. */
static void front_greet_due(struct front *f)
{
	long long now = f->ghead != NULL ? front_now_ms() : 0;
	char who[INET6_ADDRSTRLEN];

	while (f->ghead != NULL && f->ghead->greet_ms <= now) {
		struct front_conn *c = f->ghead;
		front_greet_unlink(f, c);
		front_addr_text(c->addr, who, sizeof who);
		front_say(c->fd, front_greeting(f, who));
	}
}

/* Close, with the protocol's timeout reply, clients past their deadline. */
static void front_expire(struct front *f, time_t now)
{
	char who[INET6_ADDRSTRLEN];

	while (f->head != NULL && f->head->deadline <= now) {
		front_addr_text(f->head->addr, who, sizeof who);
		log_info("timeout before the first line from unknown[%s]%s", who,
			 f->head->ready ? " (the service took no connection)" : "");
		front_say(f->head->fd, f->timeout);
		front_drain(f, f->head->fd);
		f->timed_out++;
		front_drop(f, f->head);
	}
}

/* Refuse fd (over a limit) with reply and close it. */
static void front_refuse(struct front *f, int fd, const char *reply)
{
	front_say(fd, reply);
	front_drain(f, fd);
	close(fd);
	f->refused++;
}

/* Take one accepted client: greet it and hold it, or refuse it. */
static void front_take(struct front *f, int fd, time_t now)
{
	char reply[FRONT_REPLY_MAX + INET6_ADDRSTRLEN + 2], who[INET6_ADDRSTRLEN];
	unsigned char ip[16];
	struct front_addr *a;
	struct front_conn *c;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET };

	if (f->held >= f->limit) {
		front_refuse(f, fd, f->busy);
		log_info("refused a client: %zu connections held (front_connection_limit)", f->held);
		return;
	}
	if (front_peer_ip(fd, ip) < 0 || (a = front_addr_get(f, ip)) == NULL) {
		close(fd);
		return;
	}
	a->held++;   /* counted from here on: front_addr_put undoes it */
	if (a->held > f->client_limit) {
		front_addr_text(a, who, sizeof who);
		snprintf(reply, sizeof reply, "%s%s\r\n", f->too_many, who);
		log_info("reject: CONNECT from unknown[%s]: too many connections from this address "
			 "(limit %zu)", who, f->client_limit);
		front_addr_put(f, a);
		front_refuse(f, fd, reply);
		return;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		front_addr_put(f, a);
		close(fd);
		return;
	}
	c->fd = fd;
	c->addr = a;
	/* The line time counts from the greeting: the pregreet wait comes on
	 * top, for every client alike so that the list stays in deadline order. */
	c->deadline = now + (time_t)f->line_timeout + (time_t)((f->pregreet_ms + 999) / 1000);
	c->prev = f->tail;
	if (f->tail != NULL)
		f->tail->next = c;
	else
		f->head = c;
	f->tail = c;
	f->held++;
	ev.data.ptr = c;
	front_addr_text(a, who, sizeof who);
	if (f->pregreet_ms > 0 && !netlist_match(f->mynetworks, f->nmynetworks, who)) {
		/* the pregreet test: greeted once it has kept quiet that long */
		c->greet_ms = front_now_ms() + f->pregreet_ms;
		c->gprev = f->gtail;
		if (f->gtail != NULL)
			f->gtail->gnext = c;
		else
			f->ghead = c;
		f->gtail = c;
	} else {
		front_say(fd, front_greeting(f, who));
	}
	if (epoll_ctl(f->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		log_warn("epoll_ctl: %s", strerror(errno));
		front_drop(f, c);
		return;
	}
	/* A client that sent its line with the SYN's ACK: the edge is past. */
	front_peek(f, c, 0);
}

/* Accept everything waiting. */
static void front_accept(struct front *f)
{
	time_t now = front_now();

	for (;;) {
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			front_take(f, fd, now);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			log_warn("accept: %s", strerror(errno));
		else if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_fatal("accept: %s", strerror(errno));
		return;
	}
}

/* The status line, at most once a FRONT_STATUS_SECONDS: what is held and
 * the process's peak memory (docs/front.md). */
static void front_status(struct front *f, time_t now, int force)
{
	struct rusage ru;

	if (!force && now - f->last_status < FRONT_STATUS_SECONDS)
		return;
	f->last_status = now;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		ru.ru_maxrss = 0;
	log_info("held=%zu ready=%zu passed=%llu timed_out=%llu refused=%llu maxrss=%ldk", f->held,
		 f->ready, f->passed, f->timed_out, f->refused, ru.ru_maxrss);
}

/* The epoll wait: until the oldest deadline or greeting due, or
 * FRONT_RETRY_MS while a ready client waits for the service. */
static int front_wait_ms(const struct front *f, time_t now)
{
	long long ms = -1;

	if (f->head != NULL)
		ms = f->head->deadline > now ? (long long)(f->head->deadline - now) * 1000 : 0;
	if (f->ghead != NULL) {
		long long due = f->ghead->greet_ms - front_now_ms();
		if (due < 0)
			due = 0;
		if (ms < 0 || due < ms)
			ms = due;
	}
	if (f->ready > 0 && (ms < 0 || ms > FRONT_RETRY_MS))
		ms = FRONT_RETRY_MS;
	if (ms < 0 || ms > FRONT_STATUS_SECONDS * 1000)
		ms = FRONT_STATUS_SECONDS * 1000;
	return (int)ms;
}

/* Busy for the master while we hold a client: so that a stop of the
 * system reaches us as it reaches a process in a session (SIGUSR1,
 * daemon_hurrying), and we close the held clients at once instead of
 * waiting for their first lines. */
static void front_report(struct front *f)
{
	int busy = f->held > 0;

	if (busy != f->reported_busy) {
		daemon_report(f->d, busy);
		f->reported_busy = busy;
	}
}

/* epoll tags of the listener and of the wake-ups (stop, hurry, master
 * gone), told apart from clients by address */
static char front_tag_listen, front_tag_wake;

static void front_loop(struct front *f)
{
	static struct epoll_event ev[FRONT_EVENTS];

	for (;;) {
		time_t now = front_now();
		int n;

		if (daemon_hurrying() || (daemon_stopping() && f->held == 0))
			break;
		if (daemon_stopping() && f->listening) {
			/* retired (a reload): the held clients finish here,
			 * a new front takes new ones.  The stop pipe and the
			 * lifeline stay readable from now on: watched, they
			 * would spin this loop until the last client left.
			 * SIGUSR1 (the hurry pipe) still wakes it. */
			epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->listen_fd, NULL);
			if (daemon_stop_fd() >= 0)
				epoll_ctl(f->epfd, EPOLL_CTL_DEL, daemon_stop_fd(), NULL);
			if (f->d->lifeline_fd >= 0)
				epoll_ctl(f->epfd, EPOLL_CTL_DEL, f->d->lifeline_fd, NULL);
			f->listening = 0;
		}
		n = epoll_wait(f->epfd, ev, FRONT_EVENTS, front_wait_ms(f, now));
		if (n < 0 && errno != EINTR)
			log_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == &front_tag_listen)
				front_accept(f);
			else if (ev[i].data.ptr != &front_tag_wake)
				front_peek(f, ev[i].data.ptr,
					   (ev[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0);
		}
		now = front_now();
		front_retry(f);
		front_greet_due(f);
		front_expire(f, now);
		front_status(f, now, 0);
		front_report(f);
	}
	front_status(f, front_now(), 1);
}

/* Watch the listener and the wake-ups (level-triggered: a stop stays
 * readable, the loop looks at the flags). */
static void front_watch(struct front *f, const struct daemon *d)
{
	int wake[3] = { daemon_stop_fd(), daemon_hurry_fd(), d->lifeline_fd };
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &front_tag_listen };

	f->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (f->epfd < 0 || epoll_ctl(f->epfd, EPOLL_CTL_ADD, f->listen_fd, &ev) < 0)
		log_fatal("epoll: %s", strerror(errno));
	f->listening = 1;
	ev.data.ptr = &front_tag_wake;
	for (int i = 0; i < 3; i++)
		if (wake[i] >= 0 && epoll_ctl(f->epfd, EPOLL_CTL_ADD, wake[i], &ev) < 0)
			log_fatal("epoll: %s", strerror(errno));
}

/* RLIMIT_NOFILE for limit clients plus the reserve, within the hard
 * limit (as root before the drop); the limit shrinks to what fits. */
static void front_nofile(struct front *f)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)f->limit + FRONT_FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_fatal("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ? rl.rlim_max : want;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("setrlimit NOFILE %llu: %s", (unsigned long long)rl.rlim_cur, strerror(errno));
		if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_fatal("getrlimit: %s", strerror(errno));
	}
	if (rl.rlim_cur < want) {
		size_t fit = rl.rlim_cur > FRONT_FD_RESERVE * 2 ? (size_t)(rl.rlim_cur - FRONT_FD_RESERVE) : FRONT_FD_RESERVE;
		log_warn("RLIMIT_NOFILE is %llu (hard %llu): holding at most %zu connections, not "
			 "front_connection_limit %zu", (unsigned long long)rl.rlim_cur,
			 (unsigned long long)rl.rlim_max, fit, f->limit);
		f->limit = fit;
	}
}

/* text with HOST replaced by myhostname, and CRLF unless open (a
 * prefix the caller completes) into out. */
static void front_text(char *out, size_t len, const char *text, const char *hostname, int open)
{
	const char *host = strstr(text, "HOST");
	int n = host == NULL ? snprintf(out, len, "%s%s", text, open ? "" : "\r\n")
		: snprintf(out, len, "%.*s%s%s%s", (int)(host - text), text, hostname, host + 4,
			   open ? "" : "\r\n");

	/* myhostname is at most 255 bytes: every text fits */
	if (n < 0 || (size_t)n >= len || (open && (size_t)n + INET6_ADDRSTRLEN + 2 >= FRONT_REPLY_MAX))
		log_panic("reply text too long");
}

/* IMAP's two greetings: as imapd_login.c builds them (STARTTLS when the
 * port has TLS: the same certificate the login process loads, loaded
 * here only to know, and freed at once). */
static void front_imap_init(struct front *f, const struct daemon *d)
{
	struct buf g;
	const char *error;
	SSL_CTX *tls = tls_server_ctx_config(d->etc_dir, &error);
	int starttls = tls != NULL;

	tls_ctx_free(&tls);
	if (login_policy_init(&f->policy, "imap", &error) < 0)
		log_fatal("%s", error);
	greeting_imap_init(config_size("message_size_limit"));
	buf_init(&g, FRONT_REPLY_MAX - 3);
	if (greeting_imap(&g, starttls, 1) < 0 ||
	    snprintf(f->greeting, sizeof f->greeting, "%s\r\n", buf_cstr(&g)) >= (int)sizeof f->greeting ||
	    greeting_imap(&g, starttls, 0) < 0 ||
	    snprintf(f->greeting_noplain, sizeof f->greeting_noplain, "%s\r\n", buf_cstr(&g)) >=
		    (int)sizeof f->greeting_noplain)
		log_panic("IMAP greeting too long");
	buf_free(&g);
}

/* The protocol's greeting and replies. */
static void front_proto_init(struct front *f, const struct daemon *d, const char *name)
{
	for (size_t i = 0; i < sizeof front_protos / sizeof front_protos[0]; i++)
		if (strcmp(front_protos[i].name, name) == 0)
			f->proto = &front_protos[i];
	if (f->proto == NULL)
		log_fatal("front: unknown protocol %s (smtp, pop3, imap)", name);
	f->hostname = config_str("myhostname");
	if (strlen(f->hostname) > 255 || strpbrk(f->hostname, " \t\r\n") != NULL)
		log_fatal("myhostname must be one word of at most 255 bytes");
	if (f->proto == &front_protos[0]) {
		if (greeting_smtp(f->greeting, sizeof f->greeting - 2, f->hostname) < 0)
			log_panic("greeting too long");
		memcpy(f->greeting + strlen(f->greeting), "\r\n", 3);
	} else if (f->proto == &front_protos[1])
		front_text(f->greeting, sizeof f->greeting, GREETING_POP3, f->hostname, 0);
	else
		front_imap_init(f, d);
	front_text(f->busy, sizeof f->busy, f->proto->busy, f->hostname, 0);
	front_text(f->too_many, sizeof f->too_many, f->proto->too_many, f->hostname, 1);
	front_text(f->timeout, sizeof f->timeout, f->proto->timeout, f->hostname, 0);
}

static void front_init(struct front *f, const struct daemon *d)
{
	unsigned long long peek = config_size("front_peek_limit"), own;

	memset(f, 0, sizeof *f);
	if (d->argc != 2)
		log_fatal("usage: front -c DIR/etc smtp|pop3|imap SERVICE (the protocol, then the unix service it feeds)");
	if (strchr(d->argv[1], '/') != NULL)
		log_fatal("%s: not a service name", d->argv[1]);
	if (daemon_socket_path(d->argv[1], f->service_path, sizeof f->service_path) < 0)
		log_fatal("%s: service name too long", d->argv[1]);
	front_proto_init(f, d, d->argv[0]);
	f->limit = config_size("front_connection_limit");
	f->client_limit = config_size("front_client_connection_limit");
	f->line_timeout = config_time("front_line_timeout");
	if (f->limit == 0 || f->limit > 1000000 || f->client_limit == 0 || f->line_timeout == 0)
		log_fatal("front_connection_limit (1 to 1000000), front_client_connection_limit and "
			  "front_line_timeout must not be 0");
	/* Never held longer than the service itself would wait for a
	 * command from a client that has not logged in. */
	own = config_time(f->proto->timeout_key);
	if (own > 0 && own < f->line_timeout)
		f->line_timeout = own;
	if (peek < 64 || peek > 65536)
		log_fatal("front_peek_limit must be between 64 and 65536");
	f->peek_limit = (size_t)peek;
	if (f->proto == &front_protos[0]) {
		/* smtpd's own pregreet test, which it skips for the clients
		 * we pass (their first line is already there) */
		f->pregreet_ms = pregreet_wait_ms();
		f->mynetworks = netlist_parse("mynetworks", config_str("mynetworks"), NULL, 0, &f->nmynetworks);
	}
	f->peek = malloc(f->peek_limit);
	for (f->nbuckets = 64; f->nbuckets < f->limit; f->nbuckets *= 2)
		;
	f->buckets = calloc(f->nbuckets, sizeof *f->buckets);
	if (f->peek == NULL || f->buckets == NULL)
		log_fatal("out of memory");
	front_nofile(f);
}

int main(int argc, char **argv)
{
	struct daemon d;
	static struct front f;

	daemon_init(&d, "front", argc, argv);
	front_init(&f, &d);
	if (d.inetd || d.listen_fd < 0)
		log_fatal("no listening socket (fd 3, LISTEN_FDS=1): the front is started by the master");
	f.listen_fd = d.listen_fd;
	f.d = &d;
	f.last_status = front_now();
	fd_set_nonblock(f.listen_fd, 1);
	daemon_drop(&d);
	front_watch(&f, &d);
	log_info("%s: holding up to %zu connections (%zu per client address) for %s, first line within %llus",
		 f.proto->name, f.limit, f.client_limit, f.service_path, f.line_timeout);
	front_loop(&f);
	return 0;
}
