/* daemon: the common life of a Postern service process.
 *
 * Offers: option parsing (-c DIR/etc, -i, -v), settings and log set-up,
 * the listener the master passed as fd 3, privilege drop into the
 * service's user and root, and the accept loop that reports busy/idle to
 * the master over the status pipe (fd 4); daemon_serve_holding is that
 * loop for a process that keeps serving clients on a thread of its own
 * after serve() returned (a login process's TLS relay): idle while it
 * waits for a client, busy while its holder is full or once it takes no
 * more clients, until the last held client has ended.
 *
 * Trusts: the environment the master sets (docs/tree.md) and the command
 * line; both come from root or from the operator.  A process started by
 * hand without that environment takes its service's name, user and root
 * from the service table (common/service_table.c: the row of its program
 * and role argument), so `smtpd -c DIR/etc -i` behaves as under the
 * master.  Peers on a Unix listener are not trusted to be who they
 * should be: each accepted connection's SO_PEERCRED uid must be one of
 * the service's callers (the users of the services whose row uses it;
 * root always, in development our own uid), else it is closed
 * unanswered and logged (daemon_peer_ok).  A program with no row lets
 * in root (and in development our own uid) only.
 * inetd mode (-i) is not checked: whoever runs it holds our input.
 *
 * Fails: any set-up error is fatal (exit 1, the master restarts us with
 * backoff).  Errors while serving one client end that client only. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cdbmap.h"
#include "config.h"
#include "config_snapshot.h"
#include "front_handoff.h"
#include "layout.h"
#include "log.h"
#include "metric.h"
#include "privdrop.h"
#include "sandbox.h"
#include "record.h"
#include "service_table.h"
#include "sockets.h"
#include "stream.h"
#include "self_pid.h"

static volatile sig_atomic_t daemon_stop_flag;
#define DAEMON_MAPS_MAX 16
static struct cdbmap *daemon_maps[DAEMON_MAPS_MAX];
static size_t daemon_nmaps;
static int daemon_lifeline_fd = -1;

/* Written once by the SIGTERM handler: a SIGTERM that arrives after a
 * loop checked daemon_stopping() but before it entered poll() still
 * wakes that poll (daemon_stop_fd), instead of waiting for its timeout. */
static int daemon_stop_pipe[2] = { -1, -1 };

/* What a signal handler does: set its flag, make its pipe readable. */
static void daemon_signal_noted(volatile sig_atomic_t *flag, int wfd)
{
	int saved = errno;

	*flag = 1;
	if (wfd >= 0 && write(wfd, "", 1) < 0) {
		/* full: it is readable already */
	}
	errno = saved;
}

static void daemon_on_term(int sig)
{
	(void)sig;
	daemon_signal_noted(&daemon_stop_flag, daemon_stop_pipe[1]);
}

int daemon_stop_fd(void)
{
	return daemon_stop_pipe[0];
}

/* SIGUSR1: the master stops the system.  Unlike SIGTERM, which also
 * retires a process at a reload (its sessions may run on), it means a
 * long-lived session (IMAP, POP3) must end now, at its next point where
 * nothing is half done, rather than when its client leaves. */
static volatile sig_atomic_t daemon_hurry_flag;
static int daemon_hurry_pipe[2] = { -1, -1 };

static void daemon_on_hurry(int sig)
{
	(void)sig;
	daemon_signal_noted(&daemon_hurry_flag, daemon_hurry_pipe[1]);
}

int daemon_hurrying(void)
{
	return daemon_hurry_flag != 0;
}

int daemon_hurry_fd(void)
{
	return daemon_hurry_pipe[0];
}

int daemon_wait_input(int fd, int timeout_ms)
{
	struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN }, { .fd = daemon_hurry_pipe[0], .events = POLLIN } };

	for (;;) {
		if (daemon_hurry_flag)
			return -1;
		int n = poll(pfd, 2, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;   /* the flag says whether it was SIGUSR1 */
		if (n < 0 || (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0)
			return 1;   /* input, or an error the read will tell */
		if (pfd[1].revents != 0)
			return -1;
		return 0;
	}
}

/* The master holds the write end of the lifeline; it is never written,
 * so readability means EOF: the master is gone.  Looked at no more than
 * every DAEMON_LIFELINE_CHECK_MS (a poll(2) per call was two system calls
 * per client), except when forced: the accept loop polls the lifeline
 * with the listener and forces a look when it is readable. */
#define DAEMON_LIFELINE_CHECK_MS 100

static int daemon_master_gone(int force)
{
	static long long next_ms;
	struct pollfd pfd = { .fd = daemon_lifeline_fd, .events = POLLIN };
	struct timespec ts;
	long long now_ms;

	if (daemon_lifeline_fd < 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	now_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!force && now_ms < next_ms)
		return 0;
	next_ms = now_ms + DAEMON_LIFELINE_CHECK_MS;
	return poll(&pfd, 1, 0) == 1;
}

static int daemon_stopping_check(int force)
{
	if (!daemon_stop_flag && daemon_master_gone(force)) {
		log_warn("the master is gone: exiting");
		daemon_stop_flag = 1;
	}
	return daemon_stop_flag != 0;
}

int daemon_stopping(void)
{
	return daemon_stopping_check(0);
}

int daemon_lifeline(void)
{
	return daemon_lifeline_fd;
}

int daemon_socket_path(const char *name, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "private/%s", name);

	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return 0;
}

static _Noreturn void daemon_usage(const char *program)
{
	fprintf(stderr, "usage: %s -c DIR/etc [-i] [-v] [args]\n", program);
	exit(2);
}

/* DIR/etc -> DIR, both absolute (common/layout.h). */
static void daemon_set_dirs(struct daemon *d, const char *etc)
{
	char real[PATH_MAX];
	const char *env_dir = getenv("POSTERN_DIR");

	if (etc == NULL && env_dir != NULL && *env_dir != '\0') {
		int n = snprintf(d->etc_dir, sizeof d->etc_dir, "%s/etc", env_dir);
		if (n < 0 || (size_t)n >= sizeof d->etc_dir)
			log_fatal("POSTERN_DIR too long");
		etc = d->etc_dir;
	}
	if (etc == NULL)
		daemon_usage(d->program);
	if (realpath(etc, real) == NULL)
		log_fatal("%s: %s", etc, strerror(errno));
	if (strlen(real) >= sizeof d->etc_dir)
		log_fatal("%s: path too long", real);
	memcpy(d->etc_dir, real, strlen(real) + 1);
	if (env_dir != NULL && *env_dir != '\0' && env_dir[0] == '/') {
		if (strlen(env_dir) >= sizeof d->base_dir)
			log_fatal("POSTERN_DIR too long");
		memcpy(d->base_dir, env_dir, strlen(env_dir) + 1);
	} else if (layout_tree_of_etc(etc, d->base_dir, sizeof d->base_dir) < 0) {
		/* DIR holds etc as named: the installed DIR/etc is a link. */
		log_fatal("%s: cannot find the tree above it: %s", etc, strerror(errno));
	}
}

/* The settings the master last accepted (its snapshot on fd 6), or the
 * file itself when we were started by hand.  The snapshot is closed once
 * read: nothing after this needs it. */
static int daemon_load_config(const char *conf, const char **error_r)
{
	const char *env = getenv(CONFIG_SNAPSHOT_ENV);
	int r;

	if (env == NULL || strcmp(env, "6") != 0 || fcntl(CONFIG_SNAPSHOT_FD, F_GETFD) < 0)
		return config_load(conf, error_r);
	r = config_snapshot_read(CONFIG_SNAPSHOT_FD, conf, error_r);
	close(CONFIG_SNAPSHOT_FD);
	return r;
}

static void daemon_signals(void)
{
	struct sigaction sa;

	if (pipe2(daemon_stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pipe2(daemon_hurry_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		log_fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = daemon_on_term;   /* no SA_RESTART: a blocked accept returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = daemon_on_hurry;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);     /* the master decides how we stop */
	sigaction(SIGHUP, &sa, NULL);
}

/* Is fd 3 ours?  systemd's rule: LISTEN_FDS=1 and LISTEN_PID our pid (or unset). */
static int daemon_listener(void)
{
	const char *fds = getenv("LISTEN_FDS");
	const char *pid = getenv("LISTEN_PID");

	if (fds == NULL || strcmp(fds, "1") != 0)
		return -1;
	if (pid != NULL && strtol(pid, NULL, 10) != (long)getpid())
		return -1;
	if (fcntl(DAEMON_LISTEN_FD, F_GETFD) < 0)
		return -1;
	fd_set_cloexec(DAEMON_LISTEN_FD);
	return DAEMON_LISTEN_FD;
}

static void daemon_caller_add(struct daemon *d, uid_t uid)
{
	for (size_t i = 0; i < d->ncallers; i++)
		if (d->callers[i] == uid)
			return;
	if (d->ncallers == DAEMON_CALLERS_MAX)
		log_panic("more than %d callers", DAEMON_CALLERS_MAX);
	d->callers[d->ncallers++] = uid;
}

/* Before the chroot hides /etc/passwd: the uids that may connect to a
 * Unix listener, the users of the services that use ours
 * (service_table_callers).  Pickup's row (open to anyone, it identifies
 * its peer itself) checks nobody.  A network service's row (smtpd, popd:
 * TCP peers have no uid) on a Unix listener gets its clients from the
 * connection front: only the front's user may call it; but metrics'
 * scrapers are local programs: the directory of its socket
 * (DIR/private, 0750 root:postern) decides, and it checks nobody. */
static void daemon_callers_init(struct daemon *d, const struct service_entry *def)
{
	const char *users[DAEMON_CALLERS_MAX];
	size_t n;
	int domain = 0;
	socklen_t len = sizeof domain;

	if (d->listen_fd < 0 ||
	    getsockopt(d->listen_fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_UNIX)
		return;
	d->from_front = def != NULL && def->kind == SERVICE_KIND_INET && !def->local_clients;
	if (def != NULL && !d->from_front && !service_table_checks_callers(def))
		return;
	d->check_callers = 1;
	daemon_caller_add(d, 0);
	if (getuid() != 0) {
		daemon_caller_add(d, getuid());   /* development: everything runs as us */
		return;
	}
	if (d->from_front) {
		users[0] = SERVICE_FRONT_USER;
		n = 1;
	} else
		n = def != NULL ? service_table_callers(def, users, DAEMON_CALLERS_MAX) : 0;
	if (n > DAEMON_CALLERS_MAX)
		log_panic("service %s: more than %d callers", def->name, DAEMON_CALLERS_MAX);
	for (size_t i = 0; i < n; i++) {
		struct passwd *pw = getpwnam(users[i]);
		if (pw == NULL) {
			log_debug("no user %s: it cannot connect", users[i]);
			continue;
		}
		daemon_caller_add(d, pw->pw_uid);
	}
}

int daemon_peer_ok(const struct daemon *d, int fd)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (!d->check_callers)
		return 1;
	if (peer_cred(fd, &pid, &uid, &gid) < 0) {
		log_warn("refused a peer: cannot read its credentials: %s", strerror(errno));
		return 0;
	}
	for (size_t i = 0; i < d->ncallers; i++)
		if (d->callers[i] == uid)
			return 1;
	log_warn("refused peer pid=%ld uid=%lu: not a caller of %s", (long)pid,
		 (unsigned long)uid, d->service);
	return 0;
}

void daemon_init(struct daemon *d, const char *program, int argc, char **argv)
{
	const struct service_entry *def;
	const char *etc = NULL, *error, *env;
	int opt;

	memset(d, 0, sizeof *d);
	d->program = program;
	while ((opt = getopt(argc, argv, "+c:iv")) != -1) {
		switch (opt) {
		case 'c': etc = optarg; break;
		case 'i': d->inetd = 1; break;
		case 'v': d->verbose = 1; break;
		default: daemon_usage(program);
		}
	}
	d->argc = argc - optind;
	d->argv = argv + optind;
	/* Our row: defaults when run by hand, and our callers. */
	def = service_table_for_command(program, d->argc > 0 ? d->argv[0] : NULL);

	env = getenv("POSTERN_SERVICE");
	d->service = (env != NULL && *env != '\0') ? env : def != NULL ? def->name : program;
	char log_name[128];
	if (service_table_log_name(d->service, program, log_name, sizeof log_name) < 0)
		snprintf(log_name, sizeof log_name, "%s", program);   /* a service name that long */
	env = getenv("POSTERN_LOG");
	log_open(log_name, env == NULL || strcmp(env, "syslog") != 0, d->verbose);
	/* log_file: stderr is the master's log pipe (or its stderr); it
	 * stays open through chroot and privilege drop, and the master
	 * reopens the file behind it (docs/master.md, "Log file"). */
	if (env != NULL && strcmp(env, "file") == 0)
		log_to_fd(STDERR_FILENO);
	daemon_set_dirs(d, etc);

	char conf[sizeof d->etc_dir + 16];
	snprintf(conf, sizeof conf, "%s/postern.conf", d->etc_dir);
	if (daemon_load_config(conf, &error) < 0)
		log_fatal("%s", error);
	if (log_set_syslog_name(config_str("syslog_name")) < 0)
		log_warn("syslog_name %s is not a syslog name; logging as postern", config_str("syslog_name"));

	env = getenv("POSTERN_USER");
	d->user = (env != NULL && *env != '\0') ? env : (def ? def->user : NULL);
	env = getenv("POSTERN_ROOT");
	d->root = (env != NULL && *env != '\0') ? env : (def ? def->root : NULL);
	d->listen_fd = d->inetd ? -1 : daemon_listener();
	env = getenv("POSTERN_STATUS_FD");
	d->status_fd = (env != NULL && strcmp(env, "4") == 0 &&
			fcntl(DAEMON_STATUS_FD, F_GETFD) >= 0) ? DAEMON_STATUS_FD : -1;
	if (d->status_fd >= 0)
		fd_set_cloexec(d->status_fd);
	env = getenv("POSTERN_LIFELINE_FD");
	d->lifeline_fd = (env != NULL && strcmp(env, "5") == 0 &&
			  fcntl(DAEMON_LIFELINE_FD, F_GETFD) >= 0) ? DAEMON_LIFELINE_FD : -1;
	if (d->lifeline_fd >= 0)
		fd_set_cloexec(d->lifeline_fd);
	daemon_lifeline_fd = d->lifeline_fd;
	metric_init(d->service);
	daemon_callers_init(d, def);
	tzset();                /* read the zone before chroot hides it */
	/* Resolve while /etc and /proc are visible: both are looked up lazily. */
	(void)config_str("myhostname");
	(void)config_str("program_directory");
	daemon_signals();
}

/* The kernel's confinement (common/sandbox.h): after the drop, before
 * any client; the role (imapd/popd session or hibernate) is the first
 * argument. */
static void daemon_confine(const struct daemon *d)
{
	sandbox_enter(sandbox_profile(d->program, d->argc > 0 ? d->argv[0] : NULL), priv_chrooted());
}

void daemon_drop(struct daemon *d)
{
	char dir[sizeof d->base_dir + 256];
	const char *error;
	int n;

	if (getuid() == 0 && d->user == NULL)
		log_fatal("started as root with no user to run as (POSTERN_USER)");

	if (d->root == NULL || strcmp(d->root, "-") == 0) {
		if (chdir(d->base_dir) < 0)
			log_fatal("chdir %s: %s", d->base_dir, strerror(errno));
		if (priv_drop(getuid() == 0 ? d->user : NULL, NULL, &error) < 0)
			log_fatal("%s", error);
		daemon_confine(d);
		return;
	}
	if (d->root[0] == '/' || strstr(d->root, "..") != NULL)
		log_fatal("POSTERN_ROOT %s: must be relative to the tree", d->root);
	n = snprintf(dir, sizeof dir, "%s/%s", d->base_dir, d->root);
	if (n < 0 || (size_t)n >= sizeof dir)
		log_fatal("root directory path too long");
	if (priv_drop(getuid() == 0 ? d->user : NULL, dir, &error) < 0)
		log_fatal("%s", error);
	log_debug("running in %s%s", dir, priv_chrooted() ? " (chroot)" : "");
	daemon_confine(d);
}

struct cdbmap *daemon_open_map(const struct daemon *d, const char *file, int optional)
{
	char path[sizeof d->etc_dir + 256];
	struct cdbmap *map = NULL;
	const char *error;
	int n = snprintf(path, sizeof path, "%s/%s", d->etc_dir, file);

	if (n < 0 || (size_t)n >= sizeof path || file[0] == '/' || strstr(file, "..") != NULL)
		log_fatal("%s: not a map file name under %s", file, d->etc_dir);
	if (optional && access(path, F_OK) < 0 && errno == ENOENT) {
		log_debug("%s: not present, not used", path);
		return NULL;
	}
	if (cdbmap_open(path, &map, &error) < 0)
		log_fatal("%s", error);
	if (daemon_nmaps == DAEMON_MAPS_MAX)
		log_panic("more than %d maps", DAEMON_MAPS_MAX);
	daemon_maps[daemon_nmaps++] = map;
	return map;
}

int daemon_maps_replaced(void)
{
	for (size_t i = 0; i < daemon_nmaps; i++)
		if (cdbmap_replaced(daemon_maps[i]))
			return 1;
	return 0;
}

/* A lost report only skews the master's spare count; it never stops
 * service. */
void daemon_report(const struct daemon *d, int busy)
{
	struct { pid_t pid; int busy; } rec = { self_pid(), busy };

	if (d->status_fd >= 0 && write(d->status_fd, &rec, sizeof rec) < 0)
		log_debug("status pipe: %s", strerror(errno));
}

/* What daemon_wait saw (epoll_event.data.u32). */
#define DAEMON_EV_LISTEN 1u
#define DAEMON_EV_STOP   2u
#define DAEMON_EV_LIFE   4u
#define DAEMON_EV_WAKE   8u

/* The idle processes of a service all wait on the one listening socket.
 * With poll() a new client woke every one of them, and all but one then
 * found accept() empty (ten idle smtpd: ten wake-ups and twenty system
 * calls per connection).  An epoll set with EPOLLEXCLUSIVE on the
 * listener wakes one waiter per client instead.  Made on first use, in
 * the process that waits (never inherited: EPOLL_CLOEXEC, and each
 * program is exec'd). */
static int daemon_epfd = -1;
static int daemon_ep_wake = -1;       /* the wake_fd now in the set */

static int daemon_ep_add(int fd, unsigned ev, unsigned extra)
{
	struct epoll_event e = { .events = EPOLLIN | extra, .data.u32 = ev };

	return fd < 0 ? 0 : epoll_ctl(daemon_epfd, EPOLL_CTL_ADD, fd, &e);
}

/* Block until something of d's (or wake_fd) is ready or idle_ms pass:
 * a mask of DAEMON_EV_*, 0 on timeout, -1 on EINTR. */
static int daemon_wait(const struct daemon *d, int idle_ms, int wake_fd)
{
	struct epoll_event ev[4];
	unsigned mask = 0;
	int n;

	if (daemon_epfd < 0) {
		daemon_epfd = epoll_create1(EPOLL_CLOEXEC);
		if (daemon_epfd < 0 ||
		    daemon_ep_add(d->listen_fd, DAEMON_EV_LISTEN, EPOLLEXCLUSIVE) < 0 ||
		    daemon_ep_add(daemon_stop_fd(), DAEMON_EV_STOP, 0) < 0 ||
		    daemon_ep_add(d->lifeline_fd, DAEMON_EV_LIFE, 0) < 0)
			log_fatal("epoll: %s", strerror(errno));
	}
	if (wake_fd != daemon_ep_wake) {
		if (daemon_ep_wake >= 0)
			(void)epoll_ctl(daemon_epfd, EPOLL_CTL_DEL, daemon_ep_wake, NULL);
		if (daemon_ep_add(wake_fd, DAEMON_EV_WAKE, 0) < 0)
			log_fatal("epoll: %s", strerror(errno));
		daemon_ep_wake = wake_fd;
	}
	n = epoll_wait(daemon_epfd, ev, 4, idle_ms);
	if (n < 0) {
		if (errno == EINTR)
			return -1;
		log_fatal("epoll_wait: %s", strerror(errno));
	}
	for (int i = 0; i < n; i++)
		mask |= ev[i].data.u32;
	return (int)mask;
}

/* Wait for a client; -1 on idle timeout or stop request, -2 when
 * wake_fd (a holder's, or -1) became readable. */
static int daemon_accept(const struct daemon *d, int idle_ms, int wake_fd)
{
	for (;;) {
		/* Told to stop: still serve a client already waiting in the
		 * backlog (it was connected; dropping it would fail its mail),
		 * but wait for no new one. */
		int r = daemon_stopping() ? (int)DAEMON_EV_STOP : daemon_wait(d, idle_ms, wake_fd);

		if (r < 0)
			continue;       /* EINTR */
		if (r > 0 && daemon_stopping_check((r & DAEMON_EV_LIFE) != 0)) {
			int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			return fd >= 0 ? fd : -1;
		}
		if (r == 0)
			return -1;
		if ((r & DAEMON_EV_WAKE) && !(r & DAEMON_EV_LISTEN))
			return -2;
		if (!(r & DAEMON_EV_LISTEN))
			continue;       /* the stop pipe or lifeline: looked at above */
		int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		/* Another process took it, or the client left: wait again. */
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
		    errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_warn("accept: %s", strerror(errno));
			sleep(1);
			continue;
		}
		log_fatal("accept: %s", strerror(errno));
	}
}

/* A holder at its max: busy for the master until a held client ends.
 * 0 when there is room again, -1 when told to stop meanwhile. */
static int daemon_hold_full(const struct daemon *d, const struct daemon_holder *h)
{
	struct pollfd pfd[3] = {
		{ .fd = h->wake_fd, .events = POLLIN },
		{ .fd = daemon_stop_fd(), .events = POLLIN },
		{ .fd = d->lifeline_fd, .events = POLLIN },
	};
	int r = 0;

	daemon_report(d, 1);
	while (h->held(h->arg) >= h->max) {
		if (daemon_stopping()) {
			r = -1;
			break;
		}
		if (poll(pfd, 3, -1) < 0 && errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
	}
	if (r == 0)
		daemon_report(d, 0);
	return r;
}

/* Done taking clients: busy for the master (it starts another process)
 * while the held ones finish, however long they last. */
static void daemon_hold_drain(const struct daemon *d, const struct daemon_holder *h)
{
	struct pollfd pfd = { .fd = h != NULL ? h->wake_fd : -1, .events = POLLIN };
	size_t n = h != NULL ? h->held(h->arg) : 0;

	if (n == 0)
		return;
	log_debug("taking no new client; %zu held", n);
	daemon_report(d, 1);
	while (h->held(h->arg) > 0)
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
}

static int daemon_greeted;

int daemon_client_greeted(void)
{
	return daemon_greeted;
}

/* The client the front passes on conn (docs/front.md), or -1 (logged);
 * conn is closed either way: one connection carries one client. */
static int daemon_from_front(int conn)
{
	unsigned long long t = config_time("ipc_timeout");
	int ms = t > INT_MAX / 1000 ? INT_MAX : (int)t * 1000;
	const char *error;
	int fd;

	fd_set_nonblock(conn, 0);
	fd = front_handoff_receive(conn, ms, &daemon_greeted, &error);
	close(conn);
	if (fd < 0)
		log_warn("no client from the front: %s", error);
	return fd;
}

void daemon_serve(struct daemon *d, daemon_serve_fn *serve, void *arg)
{
	daemon_serve_holding(d, serve, arg, NULL);
}

void daemon_serve_holding(struct daemon *d, daemon_serve_fn *serve, void *arg,
			  const struct daemon_holder *h)
{
	unsigned long long max_use = config_size("daemon_max_use");
	unsigned long long idle = config_time("daemon_idle_timeout");
	/* 0: wait for clients for ever (a poll timeout of 0 would make the
	 * process exit at once and the master restart it in a loop). */
	int idle_ms = idle == 0 ? -1 : idle > INT_MAX / 1000 ? INT_MAX : (int)idle * 1000;
	unsigned long long used = 0;

	if (d->inetd) {
		serve(0, 1, arg);
		daemon_hold_drain(d, h);
		return;
	}
	if (d->listen_fd < 0)
		log_fatal("no listening socket (fd 3, LISTEN_FDS=1): use -i to serve stdin");
	/* Several processes share the listener: never block in accept. */
	fd_set_nonblock(d->listen_fd, 1);
	while (max_use == 0 || used < max_use) {
		size_t held = h != NULL ? h->held(h->arg) : 0;
		if (h != NULL && held >= h->max) {
			if (daemon_hold_full(d, h) < 0)
				break;
			continue;
		}
		/* Holding clients is not idle: no idle exit. */
		int fd = daemon_accept(d, held > 0 ? -1 : idle_ms, h != NULL ? h->wake_fd : -1);
		if (fd == -2)
			continue;
		if (fd < 0)
			break;
		/* A peer that may not call us gets no byte and no busy report. */
		if (!daemon_peer_ok(d, fd)) {
			close(fd);
			if (daemon_stopping())
				break;
			continue;
		}
		if (d->from_front && (fd = daemon_from_front(fd)) < 0) {
			if (daemon_stopping())
				break;
			continue;
		}
		used++;
		/* Blocking, as stream_read_blocking needs: accept4 without
		 * SOCK_NONBLOCK gives that on Linux (the listener's flag is
		 * not inherited); a descriptor the front passed keeps the
		 * front's flags. */
		if (d->from_front)
			fd_set_nonblock(fd, 0);
		daemon_report(d, 1);
		serve(fd, fd, arg);
		close(fd);
		daemon_greeted = 0;
		/* Leaving after its last client: no idle report, so that the
		 * master sees a busy process go and keeps a spare of the
		 * service ready (an idle one leaving makes it start the
		 * service on demand again: master_fill). */
		if (max_use != 0 && used >= max_use)
			break;
		daemon_report(d, 0);
		if (daemon_stopping())
			break;
		if (daemon_maps_replaced()) {
			log_info("a map was replaced: exiting so that a new process reads it");
			break;
		}
	}
	daemon_hold_drain(d, h);
}

void daemon_serve_records(int in_fd, int out_fd, int timeout_ms, size_t answer_max,
			  daemon_answer_fn *answer, void *arg)
{
	struct record rec = { 0 };
	struct stream *s = stream_new(in_fd, out_fd, 1024, timeout_ms);
	struct buf out;
	const char *error;

	if (s == NULL) {
		log_warn("out of memory");
		return;
	}
	buf_init(&out, answer_max);
	for (;;) {
		enum stream_status st = record_read(s, &rec, &error);
		int r;
		if (st == STREAM_EOF)
			break;
		if (st != STREAM_OK) {
			log_warn("bad request: %s", error);
			break;
		}
		buf_reset(&out);
		r = answer(arg, &rec, &out);
		record_clear(&rec);   /* wipes: a value may be a password */
		if (stream_write(s, out.data, out.len) < 0 || stream_flush(s) < 0 || r < 0 ||
		    daemon_stopping())
			break;
	}
	record_clear(&rec);
	buf_free(&out);
	stream_free(&s);
}

int daemon_passed_fd(const char *name)
{
	const char *env = getenv(name);
	char *end;
	long fd;

	if (env == NULL)
		return -1;
	errno = 0;
	fd = strtol(env, &end, 10);
	return errno == 0 && end != env && *end == '\0' && fd > 2 && fd < 64 ? (int)fd : -1;
}
