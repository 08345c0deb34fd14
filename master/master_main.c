/* master: the Postern supervisor.
 *
 * Runs as root (or as the developer, see DESIGN.md: then every service runs
 * as that user, nothing is chrooted, and one warning is logged).  Reads
 * etc/master.conf, binds every listener, starts the services' processes
 * and keeps them running: a service's first process starts when a client
 * comes, and then one idle process of it is kept ready, up to its
 * maxproc, until one leaves idle (the resident ones, qmgr and metrics:
 * one idle process at all times); after a process dies abnormally, the
 * next one is started only after an exponential backoff, with a log line
 * naming its exit status or signal.
 *
 * Signals: SIGTERM/SIGINT stop gracefully (children finish their client,
 * then exit; long-lived IMAP and POP3 sessions are told, by SIGUSR1, to
 * end at once; after master_stop_timeout the rest are killed); SIGHUP
 * rereads postern.conf and master.conf, reopens log_file (master_log.c)
 * and replaces every child gracefully.  A lock on run/master.lock
 * refuses a second master on the same tree.  Under systemd it reports
 * READY=1 once every listener is bound, RELOADING=1 / READY=1 around a
 * reload and STOPPING=1 (master_notify.c).  The master parses no
 * network input. */
#include "atomic_file.h"
#include "master.h"

#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "config_snapshot.h"
#include "layout.h"
#include "log.h"
#include "master_log.h"
#include "sockets.h"

static struct service master_svcs[MASTER_MAX_SERVICES];
static size_t master_nsvcs;
static char master_base[PATH_MAX], master_etc[PATH_MAX], master_progdir[PATH_MAX];
static int master_foreground, master_verbose;
static int master_conf_fd = -1;     /* the accepted postern.conf (config_snapshot) */
static int master_sigpipe[2] = { -1, -1 };
static pid_t master_pid;
static int master_control_fd = -1;   /* run/master.sock, for postern status */

/* Which signals arrived; the pipe only wakes the loop, so a full pipe
 * (a storm of SIGCHLD) can never lose a SIGTERM. */
static volatile sig_atomic_t master_pending[NSIG];

static void master_on_signal(int sig)
{
	unsigned char b = (unsigned char)sig;
	int saved = errno;

	/* Only the master itself: signals are blocked in a child until it
	 * drops these handlers (master_service_spawn), and this check is
	 * the second guard of the shared pipe. */
	if (getpid() != master_pid)
		return;
	master_pending[sig] = 1;
	if (write(master_sigpipe[1], &b, 1) < 0) {
		/* pipe full: the loop is woken already, the flag is set */
	}
	errno = saved;
}

/* Whether sig arrived since the last call (and forget it). */
static int master_took(int sig)
{
	if (!master_pending[sig])
		return 0;
	master_pending[sig] = 0;
	return 1;
}

static void master_signals(void)
{
	struct sigaction sa;

	master_pid = getpid();
	if (pipe2(master_sigpipe, O_CLOEXEC | O_NONBLOCK) < 0)
		log_fatal("pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = master_on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* DIR/etc -> DIR: the directory holding etc as named, since the
 * installed DIR/etc is a link to /etc/postern (common/layout.h). */
static void master_paths(const char *etc)
{
	char real[PATH_MAX];

	if (realpath(etc, real) == NULL)
		log_fatal("%s: %s", etc, strerror(errno));
	memcpy(master_etc, real, strlen(real) + 1);
	if (layout_tree_of_etc(etc, master_base, sizeof master_base) < 0)
		log_fatal("%s: cannot find the tree above it: %s", etc, strerror(errno));
	if (strcmp(master_base, "/") == 0)
		log_fatal("%s: the configuration must be DIR/etc", etc);
}

/* program_directory (config_str resolves an empty one, common/layout.h). */
static void master_program_dir(void)
{
	const char *dir = config_str("program_directory");

	if (strlen(dir) >= sizeof master_progdir)
		log_fatal("program_directory too long");
	memcpy(master_progdir, dir, strlen(dir) + 1);
}

/* DIR/run is missing after a reboot when it is a link into /run, a
 * tmpfs (the installed layout): make the directory it names, and the
 * link run/jail -> DIR/jail when the tree keeps its jail there (the
 * jail must share the filesystem of DIR/private, which /run does not:
 * docs/tree.md, "The installed layout"). */
static void master_rundir(void)
{
	char run[PATH_MAX], target[PATH_MAX], jail[PATH_MAX];
	struct stat st;

	if (snprintf(run, sizeof run, "%s/run", master_base) >= (int)sizeof run ||
	    snprintf(jail, sizeof jail, "%s/jail", master_base) >= (int)sizeof jail)
		log_fatal("%s: path too long", master_base);
	if (stat(run, &st) < 0) {
		const char *dir = run;
		ssize_t n;

		if (errno != ENOENT)
			log_fatal("%s: %s", run, strerror(errno));
		n = readlink(run, target, sizeof target - 1);
		if (n > 0) {
			target[n] = '\0';
			if (target[0] != '/')
				log_fatal("%s: a link to a relative path (%s); give an absolute one", run, target);
			dir = target;
		}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			log_fatal("mkdir %s: %s", dir, strerror(errno));
		log_info("created %s", dir);
	}
	if (stat(jail, &st) < 0 || !S_ISDIR(st.st_mode))
		return;
	if (snprintf(run, sizeof run, "%s/run/jail", master_base) >= (int)sizeof run)
		log_fatal("%s: path too long", master_base);
	if (lstat(run, &st) < 0 && errno == ENOENT && symlink(jail, run) < 0)
		log_fatal("symlink %s -> %s: %s", run, jail, strerror(errno));
}

/* Load postern.conf: all or nothing (config_parse), so a broken file
 * leaves the settings in force, and the snapshot that children read
 * replaced only by a valid one.  -1 with a log line on error. */
static int master_load_config(void)
{
	char path[PATH_MAX + 32];
	const char *error;
	int fd;

	snprintf(path, sizeof path, "%s/postern.conf", master_etc);
	if (config_snapshot_load(path, &fd, &error) < 0) {
		log_warn("%s", error);
		return -1;
	}
	if (master_conf_fd >= 0)
		close(master_conf_fd);   /* children keep their own copies */
	master_conf_fd = fd;
	master_program_dir();
	return 0;
}

/* The lock file: held for the master's life, so a second one fails. */
static int master_lock(int report_holder)
{
	char path[PATH_MAX + 32];
	int fd;

	snprintf(path, sizeof path, "%s/run/master.lock", master_base);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		log_fatal("%s: %s", path, strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			log_fatal("flock %s: %s", path, strerror(errno));
		if (report_holder)
			fprintf(stderr, "postern master: another master is running on %s (lock %s held)\n",
				master_base, path);
		log_fatal("another master is running on %s", master_base);
	}
	return fd;
}

static void master_write_pid(void)
{
	char path[PATH_MAX + 32], text[32];
	int len = snprintf(text, sizeof text, "%ld\n", (long)getpid());

	snprintf(path, sizeof path, "%s/run/master.pid", master_base);
	/* Not fsynced: after a crash the pid file is stale whatever it says. */
	if (atomic_file_write(AT_FDCWD, path, NULL, text, (size_t)len, 0644, 0) < 0)
		log_fatal("%s: %s", path, strerror(errno));
}

static void master_remove_pid(void)
{
	char path[PATH_MAX + 32];

	snprintf(path, sizeof path, "%s/run/master.pid", master_base);
	unlink(path);
}

/* The start-up pipe of a daemonizing master: its warnings until it is
 * ready, then one NUL byte (master_daemon_ready). */
static int master_start_pipe = -1;

/* The parent stays on the terminal until the daemon is ready: it copies
 * the daemon's warnings and fatal line to stderr, and exits 0 once the
 * daemon said ready, 1 when it died before (`postern start` then reports
 * the failure at once, with its reason, instead of waiting for a pid
 * file that never comes). */
static void master_daemonize(void)
{
	int p[2];
	pid_t pid;

	/* A parent gone (Ctrl-C on `postern start`) must not kill the
	 * daemon at its next warning: EPIPE instead (master_signals keeps
	 * SIGPIPE ignored for good). */
	signal(SIGPIPE, SIG_IGN);
	if (pipe2(p, O_CLOEXEC) < 0)
		log_fatal("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid > 0) {
		char buf[4096];
		ssize_t n;
		int ready = 0, copy = 1;

		close(p[1]);
		while ((n = read(p[0], buf, sizeof buf)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			char *nul = memchr(buf, '\0', (size_t)n);
			size_t text = nul != NULL ? (size_t)(nul - buf) : (size_t)n;
			/* stderr gone: go on waiting for the verdict all the same */
			if (copy && text > 0 && write(2, buf, text) < 0)
				copy = 0;
			if (nul != NULL) {
				ready = 1;
				break;
			}
		}
		_exit(ready ? 0 : 1);
	}
	close(p[0]);
	master_start_pipe = p[1];
	log_also_to(master_start_pipe);
	setsid();
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/* Tell the waiting parent that every listener is bound. */
static void master_daemon_ready(void)
{
	if (master_start_pipe < 0)
		return;
	log_also_to(-1);
	if (write(master_start_pipe, "", 1) < 0) {
		/* the parent is gone: nobody waits */
	}
	close(master_start_pipe);
	master_start_pipe = -1;
}

static struct service *master_find_service(const char *name)
{
	for (size_t i = 0; i < master_nsvcs; i++)
		if (!master_svcs[i].retired && strcmp(master_svcs[i].name, name) == 0)
			return &master_svcs[i];
	return NULL;
}

/* Close a service's descriptors (its children keep their own copies). */
static void master_service_close(struct service *svc)
{
	if (svc->listen_fd >= 0)
		close(svc->listen_fd);
	svc->listen_fd = -1;
}

/* Apply a freshly parsed master.conf: keep listeners whose address is
 * unchanged, retire the old children, add and remove services. */
static int master_apply(struct service *fresh, size_t n)
{
	for (size_t i = 0; i < master_nsvcs; i++) {
		struct service *old = &master_svcs[i];
		int keep = 0;
		for (size_t k = 0; k < n && !keep; k++)
			keep = !old->retired && strcmp(fresh[k].name, old->name) == 0;
		if (!keep && !old->retired) {
			master_children_signal(old, SIGTERM, 1);
			master_service_close(old);
			old->retired = 1;
			log_info("service %s: removed", old->name);
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct service *svc = master_find_service(fresh[k].name);
		if (svc == NULL) {
			if (master_nsvcs == MASTER_MAX_SERVICES) {
				log_warn("too many services (including removed ones): restart the master");
				return -1;
			}
			svc = &master_svcs[master_nsvcs++];
			*svc = fresh[k];
		} else {
			int same = svc->type == fresh[k].type && strcmp(svc->listen, fresh[k].listen) == 0;
			master_children_signal(svc, SIGTERM, 1);
			if (!same)
				master_service_close(svc);
			master_service_clear(svc);
			int fd = svc->listen_fd, sr = svc->status_r, sw = svc->status_w;
			unsigned restarts = svc->restarts, finishing = svc->finishing;
			*svc = fresh[k];
			svc->listen_fd = fd;
			svc->status_r = sr;
			svc->status_w = sw;
			svc->restarts = restarts;   /* since the master started, reloads or not */
			svc->finishing = finishing; /* the old generation, still serving its clients */
		}
		svc->on_demand = master_service_on_demand(svc);
		if (svc->listen_fd < 0 && master_service_bind(svc, master_base) < 0)
			return -1;
	}
	master_metrics_update(master_svcs, master_nsvcs);
	master_auth_cache_update(master_svcs, master_nsvcs);
	master_group_commit_update(master_svcs, master_nsvcs);
	return master_service_link(master_svcs, master_nsvcs, master_base);
}

static int master_read_services(void)
{
	static struct service fresh[MASTER_MAX_SERVICES];
	char path[PATH_MAX + 32];
	const char *error;
	int n;

	snprintf(path, sizeof path, "%s/master.conf", master_etc);
	n = master_conf_load(path, fresh, MASTER_MAX_SERVICES, &error);
	if (n < 0) {
		log_warn("%s", error);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char prog[PATH_MAX * 2];
		snprintf(prog, sizeof prog, "%s/%s", master_progdir, fresh[i].command);
		if (access(prog, X_OK) < 0) {
			log_warn("service %s: %s: %s", fresh[i].name, prog, strerror(errno));
			for (int k = 0; k < n; k++)
				master_service_clear(&fresh[k]);
			return -1;
		}
	}
	return master_apply(fresh, (size_t)n);
}

/* Whether svc may get a process now: it has no idle one, is below
 * maxproc and past its backoff.  A service whose listener is closed
 * (stopping) gets no new process. */
static int master_may_spawn(const struct service *svc, double now)
{
	return !svc->retired && svc->listen_fd >= 0 && svc->idle == 0 && svc->count < svc->maxproc &&
	       now >= svc->next_spawn;
}

static void master_spawn(struct service *svc, double now)
{
	if (master_service_spawn(svc, master_base, master_etc, master_progdir, master_conf_fd,
				 master_foreground, master_verbose) < 0)
		svc->next_spawn = now + 1;
	else
		master_metrics_started(master_svcs, master_nsvcs, svc);
}

/* Keep one idle process of each resident service (qmgr, metrics, an
 * operator's own program) and of each warm one.  A service started on
 * demand is cold until poll() finds a client waiting on its listener
 * (master_loop): most trees never use most services, and an idle
 * process of each cost memory and, at every start and reload, a process
 * start.  Once warm it keeps a spare ready, as before, so that the next
 * client (and the one after a process leaves at daemon_max_use) does
 * not wait for a process start; it turns cold again when one of its
 * processes leaves idle. */
static void master_fill(double now)
{
	for (size_t i = 0; i < master_nsvcs; i++) {
		struct service *svc = &master_svcs[i];
		if ((!svc->on_demand || svc->warm) && master_may_spawn(svc, now))
			master_spawn(svc, now);
	}
}

/* Milliseconds until the next scheduled restart or the stop deadline (-1: none). */
#define MASTER_STATUS_PAUSE 0.005   /* s a status pipe rests after a read (master_loop) */

static int master_next_timeout(double now, int stopping, double deadline)
{
	double next = stopping ? deadline : -1;

	for (size_t i = 0; i < master_nsvcs; i++) {
		const struct service *svc = &master_svcs[i];
		if (!svc->retired && svc->listen_fd >= 0 && svc->idle == 0 &&
		    svc->count < svc->maxproc && svc->next_spawn > now &&
		    (next < 0 || svc->next_spawn < next))
			next = svc->next_spawn;
	}
	if (next < 0)
		return -1;
	double ms = (next - now) * 1000 + 1;
	return ms < 0 ? 0 : ms > INT_MAX ? INT_MAX : (int)ms;
}

/* Stop every service that faces clients (facing 1) or every other one
 * (0): its children finish their client and exit, its listener closes. */
static void master_stop_facing(int facing)
{
	for (size_t k = 0; k < master_nsvcs; k++)
		if (master_service_faces_clients(&master_svcs[k]) == facing) {
			master_children_signal(&master_svcs[k], SIGTERM, 1);
			master_service_close(&master_svcs[k]);
		}
}

static void master_reap(int stopping)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		master_child_exited(pid, status, stopping);
}

/* systemd's reload protocol: RELOADING=1 with the time it began, then
 * READY=1 when done (also when the new configuration was refused: the
 * old one keeps running, which STATUS says). */
static void master_reload(void)
{
	char state[96];
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
	master_notify(state);
	log_info("reload: rereading configuration");
	int config_ok = master_load_config() == 0;
	master_log_reopen();   /* logrotate: also when the edited file is refused */
	if (!config_ok || master_read_services() < 0) {
		log_warn("reload failed; the services keep running with their old configuration");
		master_notify("READY=1\nSTATUS=reload failed: running with the old configuration (see the log)");
	} else {
		master_notify("READY=1\nSTATUS=running");
	}
}

/* Stopping runs in two phases so that nothing accepted is cut off: first
 * the services that face clients (inet, and the network programs a
 * connection front feeds over a Unix socket) finish their clients, while
 * the internal services they hand mail to keep running and are
 * restarted if need be; then the internal services stop. */
enum master_phase { MASTER_RUNNING, MASTER_DRAINING, MASTER_STOPPING };

static void master_loop(void)
{
	struct pollfd pfd[2 * MASTER_MAX_SERVICES + 3];
	enum master_phase phase = MASTER_RUNNING;
	double deadline = 0;

	for (;;) {
		double now = master_now();
		if (phase == MASTER_DRAINING && master_children_facing(1) == 0) {
			phase = MASTER_STOPPING;
			master_stop_facing(0);
		}
		if (phase == MASTER_STOPPING && master_children_count() == 0)
			return;
		if (phase != MASTER_RUNNING && now >= deadline) {
			log_warn("stop: %zu processes still running after master_stop_timeout; killing them",
				 master_children_count());
			master_stop_facing(0);
			master_children_signal(NULL, SIGKILL, 1);
			phase = MASTER_STOPPING;
			deadline = now + 5;
		}
		if (phase != MASTER_STOPPING)
			master_fill(now);
		/* after the fill, before the wait: every change of this turn */
		master_metrics_report(master_svcs, master_nsvcs);
		/* Only what poll() says is ready is read: a wake-up for one
		 * child's status record once cost a read of every service's
		 * pipe, the signal pipe, a waitpid and an accept, some twenty
		 * system calls per message delivered. */
		size_t np = 0, log_i = SIZE_MAX, ctl_i = SIZE_MAX, svc_i[MASTER_MAX_SERVICES],
		       listen_i[MASTER_MAX_SERVICES];
		int log_wait_ms, log_fd = master_log_pipe(&log_wait_ms);
		pfd[np++] = (struct pollfd){ .fd = master_sigpipe[0], .events = POLLIN };
		if (log_fd >= 0) {
			log_i = np;
			pfd[np++] = (struct pollfd){ .fd = log_fd, .events = POLLIN };
		}
		if (master_control_fd >= 0) {
			ctl_i = np;
			pfd[np++] = (struct pollfd){ .fd = master_control_fd, .events = POLLIN };
		}
		double status_wait = -1;   /* s until a resting status pipe is read again */
		for (size_t i = 0; i < master_nsvcs; i++) {
			svc_i[i] = SIZE_MAX;
			if (master_svcs[i].status_r >= 0 && now >= master_svcs[i].status_resume) {
				svc_i[i] = np;
				pfd[np++] = (struct pollfd){ .fd = master_svcs[i].status_r, .events = POLLIN };
			} else if (master_svcs[i].status_r >= 0 &&
				   (status_wait < 0 || master_svcs[i].status_resume - now < status_wait)) {
				status_wait = master_svcs[i].status_resume - now;
			}
			/* A cold service started on demand: its listener,
			 * while no process of it waits there.  The first client
			 * makes it warm (master_fill). */
			listen_i[i] = SIZE_MAX;
			if (phase != MASTER_STOPPING && master_svcs[i].on_demand && !master_svcs[i].warm &&
			    master_may_spawn(&master_svcs[i], now)) {
				listen_i[i] = np;
				pfd[np++] = (struct pollfd){ .fd = master_svcs[i].listen_fd, .events = POLLIN };
			}
		}
		int timeout = master_next_timeout(now, phase != MASTER_RUNNING, deadline);
		if (log_wait_ms >= 0 && (timeout < 0 || log_wait_ms < timeout))
			timeout = log_wait_ms;
		if (status_wait >= 0 && (timeout < 0 || status_wait * 1000 + 1 < timeout))
			timeout = (int)(status_wait * 1000) + 1;
		int ready = poll(pfd, np, timeout);
		if (ready < 0 && errno != EINTR)
			log_fatal("poll: %s", strerror(errno));
		if (ready <= 0)
			for (size_t k = 0; k < np; k++)
				pfd[k].revents = 0;
		if (log_i != SIZE_MAX && pfd[log_i].revents != 0)
			master_log_drain();
		/* Under load a child reports busy and idle for every client:
		 * a pipe that had records rests MASTER_STATUS_PAUSE, so that
		 * one wake-up reads the reports of many clients instead of
		 * each report waking us (as the log pipe, master_log.c).  The
		 * counts are that much late, which only delays a spare. */
		for (size_t i = 0; i < master_nsvcs; i++)
			if (svc_i[i] != SIZE_MAX && pfd[svc_i[i]].revents != 0 && master_svcs[i].status_r >= 0) {
				master_service_status(&master_svcs[i]);
				master_svcs[i].status_resume = master_now() + MASTER_STATUS_PAUSE;
			}
		for (size_t i = 0; i < master_nsvcs; i++)
			if (listen_i[i] != SIZE_MAX && pfd[listen_i[i]].revents != 0 &&
			    master_may_spawn(&master_svcs[i], now)) {
				master_svcs[i].warm = 1;
				master_spawn(&master_svcs[i], now);
			}
		unsigned char sigs[256];
		if (pfd[0].revents != 0)
			while (read(master_sigpipe[0], sigs, sizeof sigs) == (ssize_t)sizeof sigs)
				;
		int stop = master_took(SIGTERM) | master_took(SIGINT);
		int reload = master_took(SIGHUP);
		/* A SIGCHLD taken after this check keeps its flag and its byte
		 * in the pipe: the next poll() returns at once and reaps. */
		int child = master_took(SIGCHLD);
		if (stop && phase == MASTER_RUNNING) {
			log_info("stopping: waiting for the services to finish");
			master_notify("STOPPING=1");
			phase = MASTER_DRAINING;
			deadline = master_now() + (double)config_time("master_stop_timeout");
			master_children_hurry();
			master_stop_facing(1);
		} else if (reload && phase == MASTER_RUNNING) {
			master_reload();
		}
		/* Also on every timeout: a safety net that costs nothing. */
		if (child || ready == 0)
			master_reap(phase == MASTER_STOPPING);
		if (ctl_i != SIZE_MAX && pfd[ctl_i].revents != 0)
			master_control_answer(master_control_fd, master_svcs, master_nsvcs);
	}
}

int main(int argc, char **argv)
{
	const char *etc = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "c:fv")) != -1) {
		switch (opt) {
		case 'c': etc = optarg; break;
		case 'f': master_foreground = 1; break;
		case 'v': master_verbose = 1; break;
		default:
			fprintf(stderr, "usage: master -c DIR/etc [-f] [-v]\n");
			return 2;
		}
	}
	if (etc == NULL) {
		fprintf(stderr, "usage: master -c DIR/etc [-f] [-v]\n");
		return 2;
	}
	log_open("master", 1, master_verbose);
	master_notify_init();
	master_paths(etc);
	master_rundir();
	if (master_load_config() < 0)
		log_fatal("cannot start with a broken configuration");
	/* Refuse early, on the terminal, when another master holds the tree. */
	close(master_lock(1));
	if (master_log_open(master_base, master_foreground, master_verbose) < 0)
		log_fatal("cannot open the log (log_file in postern.conf)");
	if (!master_foreground)
		master_daemonize();
	int lock = master_lock(0);
	(void)lock;   /* held until exit */
	if (chdir(master_base) < 0)
		log_fatal("chdir %s: %s", master_base, strerror(errno));
	umask(022);
	if (geteuid() != 0)
		log_warn("not started as root: every service runs as this user, without chroot");
	master_signals();
	if (master_lifeline_init() < 0)
		log_fatal("pipe: %s", strerror(errno));
	if (master_read_services() < 0)
		log_fatal("cannot start the services");
	master_control_fd = master_control_open(master_base);
	master_write_pid();
	log_info("started: %zu services, programs in %s", master_nsvcs, master_progdir);
	master_daemon_ready();
	/* Every listener is bound and linked: systemd may start what
	 * depends on mail (Type=notify). */
	char ready[64];
	snprintf(ready, sizeof ready, "READY=1\nSTATUS=running\nMAINPID=%ld", (long)getpid());
	master_notify(ready);
	master_loop();
	master_log_drain();   /* the last lines of the children */
	master_remove_pid();
	if (master_control_fd >= 0) {
		char sock[PATH_MAX + 32];
		snprintf(sock, sizeof sock, "%s/run/master.sock", master_base);
		unlink(sock);
	}
	log_info("stopped");
	return 0;
}
