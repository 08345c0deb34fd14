/* master_service: listeners, children and restarts.
 *
 * Binds each service's listener itself (children never bind), links into
 * each service root the Unix sockets that the processes in that root
 * connect to, and only those (the uses of their rows in the service
 * table, common/service_table.c; docs/tree.md), starts children with
 * the listener as fd 3 and the status pipe as fd 4 (and with log_file the
 * log pipe as stderr, master_log.c; with a metrics service its event
 * socket as fd 7, master_metrics.c), counts the restarts of each
 * service (postern status, the metrics service), and restarts a child
 * that died abnormally after an exponential backoff.  Runs as root; parses
 * nothing from the network: the only input is the status pipe, whose
 * records are fixed-size and only counted. */
#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth_cache.h"
#include "group_commit.h"
#include "config.h"
#include "config_snapshot.h"
#include "log.h"
#include "master_log.h"
#include "metric.h"
#include "metric_store.h"
#include "service_table.h"
#include "sockets.h"

#define MASTER_BACKOFF_MIN 0.25   /* seconds before the first restart */
#define MASTER_BACKOFF_MAX 60.0
#define MASTER_STABLE_AFTER 10.0  /* a child that lived this long resets the backoff */

static struct child *master_children;
static int master_lifeline_read = -1;

int master_lifeline_init(void)
{
	int p[2];

	/* The write end stays open, unwritten, in the master alone
	 * (close-on-exec); children see EOF on the read end when it dies. */
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	master_lifeline_read = p[0];
	return 0;
}

double master_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Make dir (0750, group postern as root) if it is missing. */
static int master_private_dir(const char *dir)
{
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		log_warn("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (geteuid() == 0) {
		struct group *gr = getgrnam("postern");
		if (gr == NULL) {
			log_warn("group postern does not exist: run postern init as root");
			return -1;
		}
		if (chown(dir, 0, gr->gr_gid) < 0 || chmod(dir, 0750) < 0) {
			log_warn("%s: %s", dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int master_service_bind(struct service *svc, const char *base_dir)
{
	const char *error = NULL;
	char path[4096];

	if (svc->type == SERVICE_INET) {
		svc->listen_fd = inet_listen(svc->listen, 511, &error);
		if (svc->listen_fd < 0) {
			/* error names the address already */
			if (error != NULL)
				log_warn("service %s: cannot listen on %s", svc->name, error);
			else
				log_warn("service %s: cannot listen on %s: %s", svc->name, svc->listen, strerror(errno));
			return -1;
		}
	} else {
		int n = snprintf(path, sizeof path, "%s/private", base_dir);
		if (n < 0 || (size_t)n >= sizeof path || master_private_dir(path) < 0)
			return -1;
		n = snprintf(path, sizeof path, "%s/private/%s", base_dir, svc->listen);
		if (n < 0 || (size_t)n >= sizeof path)
			return -1;
		/* The directory, not the socket mode, decides who may connect. */
		svc->listen_fd = unix_listen(path, 0666, 511);
		if (svc->listen_fd < 0) {
			log_warn("service %s: listen %s: %s", svc->name, path, strerror(errno));
			return -1;
		}
	}
	fd_set_nonblock(svc->listen_fd, 1);
	if (svc->status_r < 0) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0) {
			log_warn("pipe: %s", strerror(errno));
			return -1;
		}
		svc->status_r = p[0];
		svc->status_w = p[1];
		fd_set_nonblock(svc->status_r, 1);
	}
	return 0;
}

/* Link DIR/private/NAME to DIR/SUB/NAME (SUB: ROOT/private, or public). */
static int master_link_one(const char *base_dir, const char *sub, const char *name)
{
	char from[4096], to[4096];
	int n1 = snprintf(from, sizeof from, "%s/private/%s", base_dir, name);
	int n2 = snprintf(to, sizeof to, "%s/%s/%s", base_dir, sub, name);

	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof from || (size_t)n2 >= sizeof to) {
		log_warn("socket path too long for %s", sub);
		return -1;
	}
	/* A new link under a temporary name, renamed over the old one: a
	 * client connecting during a reload always finds the socket (an
	 * unlink first left a moment of ENOENT, which qmgr took for a
	 * missing agent and deferred mail for queue_run_delay). */
	char tmp[4096 + 32];
	int n3 = snprintf(tmp, sizeof tmp, "%s.new.%ld", to, (long)getpid());
	if (n3 < 0 || (size_t)n3 >= sizeof tmp) {
		log_warn("socket path too long for %s", sub);
		return -1;
	}
	if (unlink(tmp) < 0 && errno != ENOENT) {
		log_warn("unlink %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (link(from, tmp) < 0) {
		log_warn("link %s -> %s: %s%s", from, tmp, strerror(errno),
			 errno == EXDEV ? " (every root must be on the tree's filesystem)" : "");
		return -1;
	}
	if (rename(tmp, to) < 0) {
		log_warn("rename %s -> %s: %s", tmp, to, strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* Both names for one socket (an unchanged listener): rename(2) then
	 * does nothing and leaves the temporary name behind. */
	if (unlink(tmp) < 0 && errno != ENOENT)
		log_warn("unlink %s: %s", tmp, strerror(errno));
	return 0;
}

/* The row of the service table a master.conf line runs (its command
 * and first argument), whose uses say which sockets its processes
 * connect to; NULL for a command the table does not know (an operator's
 * own program), which gets no links.  A root gets links only to the
 * sockets some process in it uses, so a compromised smtpd finds no
 * private/local in run/jail to try. */
static const struct service_entry *master_use_of(const struct service *svc)
{
	return service_table_for_command(svc->command, svc->nargs > 0 ? svc->args[0] : NULL);
}

int master_service_on_demand(const struct service *svc)
{
	const struct service_entry *row = master_use_of(svc);

	return row != NULL && !row->resident;
}

/* Whether svc is a connection front (docs/front.md) that feeds the
 * unix service name: `front PROTOCOL SERVICE`, whose service the table
 * cannot know. */
static int master_front_feeds(const struct service *svc, const char *name)
{
	return strcmp(svc->command, "front") == 0 && svc->nargs >= 2 && strcmp(svc->args[1], name) == 0;
}

/* Whether a process of some live service in root connects to socket name. */
static int master_root_uses(const struct service *svcs, size_t n, const char *root, const char *name)
{
	for (size_t s = 0; s < n; s++) {
		const struct service_entry *u;
		if (svcs[s].retired || strcmp(svcs[s].root, root) != 0)
			continue;
		if (master_front_feeds(&svcs[s], name))
			return 1;
		if ((u = master_use_of(&svcs[s])) != NULL && service_table_uses(u, name))
			return 1;
	}
	return 0;
}

/* Remove DIR/SUB/NAME: a socket of ours that SUB's processes do not
 * use (left by an older master.conf or master). */
static int master_unlink_one(const char *base_dir, const char *sub, const char *name)
{
	char to[4096];
	int n = snprintf(to, sizeof to, "%s/%s/%s", base_dir, sub, name);

	if (n < 0 || (size_t)n >= sizeof to) {
		log_warn("socket path too long for %s", sub);
		return -1;
	}
	if (unlink(to) < 0 && errno != ENOENT) {
		log_warn("unlink %s: %s", to, strerror(errno));
		return -1;
	}
	return 0;
}

/* DIR/public/NAME for every service any local user may reach (pickup,
 * for sendmail), made here with the other links, before the master
 * reports itself ready: a sendmail(1) run just after `postern start`
 * finds it. */
static int master_link_public(struct service *svcs, size_t n, const char *base_dir)
{
	char dir[4096];
	int len = snprintf(dir, sizeof dir, "%s/public", base_dir);

	if (len < 0 || (size_t)len >= sizeof dir)
		return -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_warn("mkdir %s: %s", dir, strerror(errno));
		return -1;
	}
	for (size_t s = 0; s < n; s++) {
		const struct service_entry *e = master_use_of(&svcs[s]);
		if (svcs[s].type != SERVICE_UNIX || e == NULL || !e->anyone)
			continue;
		int r = svcs[s].retired ? master_unlink_one(base_dir, "public", svcs[s].listen)
					: master_link_one(base_dir, "public", svcs[s].listen);
		if (r < 0)
			return -1;
	}
	return 0;
}

int master_service_link(struct service *svcs, size_t n, const char *base_dir)
{
	char dir[4096], sub[4096];

	for (size_t r = 0; r < n; r++) {
		const char *root = svcs[r].root;
		int seen = strcmp(root, "-") == 0 || svcs[r].retired;
		for (size_t k = 0; k < r && !seen; k++)
			seen = strcmp(svcs[k].root, root) == 0 && !svcs[k].retired;
		if (seen)
			continue;
		int len = snprintf(dir, sizeof dir, "%s/%s/private", base_dir, root);
		if (len < 0 || (size_t)len >= sizeof dir || master_private_dir(dir) < 0)
			return -1;
		snprintf(sub, sizeof sub, "%s/private", root);   /* shorter than dir */
		/* Unlinks first: a retired service may share a name with a live one. */
		for (size_t s = 0; s < n; s++)
			if (svcs[s].type == SERVICE_UNIX &&
			    (svcs[s].retired || !master_root_uses(svcs, n, root, svcs[s].listen)) &&
			    master_unlink_one(base_dir, sub, svcs[s].listen) < 0)
				return -1;
		for (size_t s = 0; s < n; s++)
			if (svcs[s].type == SERVICE_UNIX && !svcs[s].retired &&
			    master_root_uses(svcs, n, root, svcs[s].listen) &&
			    master_link_one(base_dir, sub, svcs[s].listen) < 0)
				return -1;
	}
	return master_link_public(svcs, n, base_dir);
}

/* The descriptors a child of svc gets from fd 7 on, in order, and the
 * environment variable that names each: the metrics event socket when
 * there is one, then the service's own shared memory (the metrics
 * service's counters, authd's login cache).  Their count. */
/* Descriptors from 7 on: metrics (socket and state), then the auth
 * cache (authd) or the group commit state (enqueue). */
#define MASTER_EXTRA_FDS 3

static size_t master_child_extra_fds(const struct service *svc, int fd[MASTER_EXTRA_FDS],
				     const char *name[MASTER_EXTRA_FDS])
{
	size_t k = 0;

	if (master_metrics_fd(svc) >= 0) {
		fd[k] = master_metrics_fd(svc);
		name[k++] = METRIC_ENV;
		if (master_metrics_state_fd(svc) >= 0) {
			fd[k] = master_metrics_state_fd(svc);
			name[k++] = METRIC_STATE_ENV;
		}
	}
	if (master_auth_cache_fd(svc) >= 0) {
		fd[k] = master_auth_cache_fd(svc);
		name[k++] = AUTH_CACHE_ENV;
	} else if (master_group_commit_fd(svc) >= 0) {
		fd[k] = master_group_commit_fd(svc);
		name[k++] = GROUP_COMMIT_ENV;
	}
	return k;
}

/* Environment for a child: nothing inherited but what it needs. */
static int master_child_env(char **env, size_t max, char store[][4200], const struct service *svc,
			    const char *base_dir, int foreground)
{
	static const char *const pass[] = { "TZ", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS" };
	size_t n = 0;
	int len[8];

	len[0] = snprintf(store[0], 4200, "POSTERN_DIR=%s", base_dir);
	len[1] = snprintf(store[1], 4200, "POSTERN_SERVICE=%s", svc->name);
	len[2] = snprintf(store[2], 4200, "POSTERN_USER=%s", svc->user);
	len[3] = snprintf(store[3], 4200, "POSTERN_ROOT=%s", svc->root);
	len[4] = snprintf(store[4], 4200, "POSTERN_LOG=%s", master_log_mode(foreground));
	len[5] = snprintf(store[5], 4200, "LISTEN_PID=%ld", (long)getpid());
	for (int i = 0; i < 6; i++) {
		if (len[i] < 0 || len[i] >= 4200)
			return -1;
		env[n++] = store[i];
	}
	env[n++] = "LISTEN_FDS=1";
	env[n++] = "POSTERN_STATUS_FD=4";
	env[n++] = "POSTERN_LIFELINE_FD=5";
	env[n++] = CONFIG_SNAPSHOT_ENV "=6";
	int extra[MASTER_EXTRA_FDS];
	const char *name[MASTER_EXTRA_FDS];
	for (size_t i = 0, k = master_child_extra_fds(svc, extra, name); i < k; i++) {
		snprintf(store[10 + i], 4200, "%s=%zu", name[i], 7 + i);
		env[n++] = store[10 + i];
	}
	env[n++] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
	for (size_t i = 0; i < sizeof pass / sizeof pass[0] && n + 1 < max; i++) {
		char *v = getenv(pass[i]);
		int l = v ? snprintf(store[6 + i], 4200, "%s=%s", pass[i], v) : -1;
		if (l > 0 && l < 4200)
			env[n++] = store[6 + i];
	}
	env[n] = NULL;
	return 0;
}

/* In the child, between fork and exec: descriptors, session, exec. */
static _Noreturn void master_child_exec(struct service *svc, const char *base_dir, const char *etc_dir,
					const char *program_dir, int conf_fd, int foreground, int verbose)
{
	char title[64], prog[4200], store[10 + MASTER_EXTRA_FDS][4200];
	char *argv[MASTER_MAX_ARGS + 8], *env[20];
	size_t n = 0;
	int devnull;
	sigset_t none;

	/* Every signal is still blocked (master_service_spawn): the
	 * master's handlers go first, so a signal meant for this child
	 * (say the SIGTERM of a second reload) stays pending until it
	 * acts by default, and never reaches the master's signal pipe. */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();   /* terminal signals go to the master, which stops us in order */
	master_log_child();   /* stderr: the log pipe with log_file; first, as its fd may be 3-6 */
	/* fds 3-6: the listener, the status pipe, the lifeline, the
	 * settings; from 7 on master_child_extra_fds.  Each is first copied
	 * above them, so that moving one into place cannot close another
	 * that happens to sit there. */
	int from[4 + MASTER_EXTRA_FDS] = { svc->listen_fd, svc->status_w, master_lifeline_read, conf_fd };
	int high[4 + MASTER_EXTRA_FDS];
	const char *unused[MASTER_EXTRA_FDS];
	int nfds = 4 + (int)master_child_extra_fds(svc, from + 4, unused);
	for (int i = 0; i < nfds; i++)
		if ((high[i] = fcntl(from[i], F_DUPFD_CLOEXEC, 10)) < 0)
			_exit(127);
	for (int i = 0; i < nfds; i++)
		if (dup2(high[i], 3 + i) < 0)
			_exit(127);
	devnull = open("/dev/null", O_RDWR);
	if (devnull >= 0 && devnull != 0) {
		dup2(devnull, 0);
		if (!foreground)
			dup2(devnull, 1);
		if (devnull >= 3 + nfds)
			close(devnull);
	}
	close_range((unsigned)(3 + nfds), ~0U, 0);
	snprintf(title, sizeof title, "postern/%s", svc->name);
	if (snprintf(prog, sizeof prog, "%s/%s", program_dir, svc->command) >= (int)sizeof prog)
		_exit(127);
	argv[n++] = title;
	argv[n++] = "-c";
	argv[n++] = (char *)etc_dir;
	if (verbose)
		argv[n++] = "-v";
	for (size_t i = 0; i < svc->nargs; i++)
		argv[n++] = svc->args[i];
	argv[n] = NULL;
	if (master_child_env(env, sizeof env / sizeof env[0], store, svc, base_dir, foreground) < 0)
		_exit(127);
	execve(prog, argv, env);
	fprintf(stderr, "postern/%s: exec %s: %s\n", svc->name, prog, strerror(errno));
	_exit(127);
}

int master_service_spawn(struct service *svc, const char *base_dir, const char *etc_dir,
			 const char *program_dir, int conf_fd, int foreground, int verbose)
{
	struct child *c = calloc(1, sizeof *c);
	pid_t pid;

	sigset_t all, old;

	if (c == NULL)
		return -1;
	/* Until the child has reset the master's handlers, no signal may
	 * run them in it: they would write into the master's signal pipe,
	 * which the child shares, and the master would act on a signal
	 * sent to the child (a stop, for a SIGTERM), while the child lost it. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0)
		master_child_exec(svc, base_dir, etc_dir, program_dir, conf_fd, foreground, verbose);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		log_warn("service %s: fork: %s", svc->name, strerror(errno));
		free(c);
		return -1;
	}
	c->pid = pid;
	c->svc = svc;
	c->started = master_now();
	c->next = master_children;
	master_children = c;
	svc->count++;
	svc->idle++;   /* idle until it reports taking a client */
	log_debug("service %s: started pid %ld", svc->name, (long)pid);
	return 0;
}

struct child *master_child_find(pid_t pid)
{
	for (struct child *c = master_children; c != NULL; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

/* Set once the system stops: every child serving a client, now or
 * later, is told so (SIGUSR1, common/daemon.c) and ends a long-lived
 * session (IMAP, POP3) at once instead of when its client leaves. */
static int master_hurry;

/* A child that has just turned idle while its service already has as
 * many idle processes as its row keeps (service_table.h, spares) is
 * told to exit: an IMAP session process freed by a hibernation is not
 * left holding memory until daemon_idle_timeout.  SIGTERM makes an idle
 * process exit at once (one that took a client meanwhile finishes it). */
static void master_child_spare(struct child *c)
{
	const struct service_entry *row = master_use_of(c->svc);

	if (row == NULL || row->spares == 0 || c->svc->idle <= row->spares || master_hurry)
		return;
	log_debug("service %s: pid %ld is a spare too many", c->svc->name, (long)c->pid);
	c->retiring = 1;
	c->svc->finishing++;
	c->svc->count--;
	c->svc->idle--;
	kill(c->pid, SIGTERM);
}

void master_service_status(struct service *svc)
{
	struct { pid_t pid; int busy; } recs[64];
	ssize_t n;

	/* Children write whole records of fewer than PIPE_BUF bytes, which
	 * the pipe keeps whole: a read of whole records returns whole
	 * records.  One read takes every record waiting, up to 64. */
	do {
		n = read(svc->status_r, recs, sizeof recs);
		for (ssize_t k = 0; k < n / (ssize_t)sizeof recs[0]; k++) {
			struct child *c = master_child_find(recs[k].pid);
			if (c == NULL || c->svc != svc || c->retiring || c->busy == (recs[k].busy != 0))
				continue;
			c->busy = recs[k].busy != 0;
			if (c->busy)
				svc->idle--;
			else
				svc->idle++;
			if (c->busy && master_hurry)
				kill(c->pid, SIGUSR1);
			if (!c->busy)
				master_child_spare(c);
		}
	} while (n == (ssize_t)sizeof recs || (n < 0 && errno == EINTR));
}

void master_children_hurry(void)
{
	master_hurry = 1;
	/* Busy or retiring: running daemon code, so SIGUSR1 is handled
	 * (a child still starting would die of it). */
	for (struct child *c = master_children; c != NULL; c = c->next)
		if (c->busy || c->retiring)
			kill(c->pid, SIGUSR1);
}

static void master_child_forget(struct child *gone)
{
	for (struct child **pp = &master_children; *pp != NULL; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			free(gone);
			return;
		}
}

/* Log how a child ended; returns whether that was abnormal. */
static int master_child_report(const struct child *c, int status, int stopping)
{
	const char *name = c->svc->name;

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		if (stopping && (sig == SIGTERM || sig == SIGKILL || sig == SIGUSR1))
			return 0;
		log_warn("service %s: pid %ld killed by signal %d (%s)%s", name, (long)c->pid,
			 sig, strsignal(sig), WCOREDUMP(status) ? ", core dumped" : "");
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		log_warn("service %s: pid %ld exit status %d", name, (long)c->pid, WEXITSTATUS(status));
		return 1;
	}
	log_debug("service %s: pid %ld exited", name, (long)c->pid);
	return 0;
}

void master_child_exited(pid_t pid, int status, int stopping)
{
	struct child *c = master_child_find(pid);
	struct service *svc;

	if (c == NULL)
		return;
	svc = c->svc;
	int abnormal = master_child_report(c, status, stopping || c->retiring);
	if (c->retiring && svc->finishing > 0)
		svc->finishing--;
	if (!c->retiring) {
		svc->count--;
		if (!c->busy)
			svc->idle--;
		/* Left idle (daemon_idle_timeout): no client is coming, so
		 * the service is started on demand again.  A process that
		 * leaves after its daemon_max_use-th client reports no idle
		 * (common/daemon.c) and keeps the service warm. */
		if (!abnormal && !c->busy)
			svc->warm = 0;
		double now = master_now();
		/* One incident (say kill -9 of every process of a service)
		 * counts once: deaths while a restart is already scheduled do
		 * not escalate the backoff. */
		if (abnormal && !stopping)
			svc->restarts++;   /* every process, where the backoff counts incidents */
		if (abnormal && !stopping && now >= svc->next_spawn) {
			if (now - c->started >= MASTER_STABLE_AFTER)
				svc->crashes = 0;
			double delay = MASTER_BACKOFF_MIN;
			for (unsigned i = 0; i < svc->crashes && delay < MASTER_BACKOFF_MAX; i++)
				delay *= 2;
			if (delay > MASTER_BACKOFF_MAX)
				delay = MASTER_BACKOFF_MAX;
			svc->crashes++;
			svc->next_spawn = now + delay;
			log_warn("service %s: restarting in %.2f s", svc->name, delay);
		} else if (!abnormal) {
			svc->crashes = 0;
		}
	}
	master_child_forget(c);
}

void master_children_signal(struct service *svc, int sig, int retire)
{
	for (struct child *c = master_children; c != NULL; c = c->next) {
		if (svc != NULL && c->svc != svc)
			continue;
		if (retire && !c->retiring) {
			c->retiring = 1;
			c->svc->finishing++;
			c->svc->count--;
			if (!c->busy)
				c->svc->idle--;
		}
		kill(c->pid, sig);
	}
}

unsigned long master_service_processes(const struct service *svc)
{
	return (unsigned long)svc->count + svc->finishing;
}

size_t master_children_count(void)
{
	size_t n = 0;

	for (struct child *c = master_children; c != NULL; c = c->next)
		n++;
	return n;
}

int master_service_faces_clients(const struct service *svc)
{
	const struct service_entry *row;

	if (svc->type == SERVICE_INET)
		return 1;
	row = service_table_for_command(svc->command, svc->nargs > 0 ? svc->args[0] : NULL);
	return row != NULL && row->kind == SERVICE_KIND_INET;
}

size_t master_children_facing(int facing)
{
	size_t n = 0;

	for (struct child *c = master_children; c != NULL; c = c->next)
		if (master_service_faces_clients(c->svc) == facing)
			n++;
	return n;
}
