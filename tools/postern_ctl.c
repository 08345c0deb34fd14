/* postern_ctl: `postern start|stop|reload|status -d DIR`.
 *
 * Offers: start runs PROGRAM_DIRECTORY/master -c DIR/etc (program_directory
 * from postern.conf; empty means beside this binary).  `start -f` execs it
 * in the foreground, so that Ctrl-C reaches it directly; plain `start`
 * lets it daemonize and waits (up to 10 s) until DIR/run/master.pid names
 * a live process.  Start says where the log goes (log_file, syslog) and
 * warns when it would go nowhere: syslog chosen and no daemon listening
 * on /dev/log, as in minimal containers.  stop sends SIGTERM and waits
 * until the master is gone (master_stop_timeout + 5 s); reload checks
 * postern.conf, then sends SIGHUP (a broken file is reported with its
 * line and not sent); status reports whether the master runs and then,
 * from the master and the queue, every service's processes and
 * restarts and the queue's sizes (postern_status.c).
 *
 * Trusts: DIR/run/master.pid only as a number: anything but a plain
 * decimal pid above 1 counts as "not running", so a bad file can never
 * make us signal a process group.
 *
 * Fails: exit 1 with a message (start that does not come up, stop that
 * times out, reload without a master or with a broken postern.conf);
 * status exits 3 when not running. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "postern.h"

#define POSTERN_START_WAIT_MS 10000
#define POSTERN_POLL_MS 50

/* Parse [-d DIR] [-f when allowed] and nothing else; the tree goes to
 * tree.  0, POSTERN_EXIT_USAGE, or POSTERN_EXIT_FAIL. */
static int postern_ctl_args(int argc, char **argv, int allow_f, int *fg_r, char *tree, size_t len)
{
	const char *dir = NULL;
	int c;

	optind = 0;
	while ((c = getopt(argc, argv, allow_f ? "d:f" : "d:")) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'f' && fg_r != NULL)
			*fg_r = 1;
		else
			return POSTERN_EXIT_USAGE;
	}
	if (optind != argc)
		return POSTERN_EXIT_USAGE;
	return postern_tree(dir, tree, len) < 0 ? POSTERN_EXIT_FAIL : 0;
}

static void postern_ctl_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The arguments of stop, reload and status (-d DIR only) and the
 * master's pid in *pid_r (0: not running; each command says that its own
 * way).  0, or the exit code to return (usage printed). */
static int postern_ctl_master(int argc, char **argv, char *tree, size_t len, pid_t *pid_r)
{
	int r = postern_ctl_args(argc, argv, 0, NULL, tree, len);

	*pid_r = 0;
	if (r != 0)
		return r == POSTERN_EXIT_USAGE ? postern_usage() : r;
	*pid_r = postern_master_pid(tree);
	return 0;
}

/* Send sig to the master; 0, or -1 with the error printed. */
static int postern_ctl_signal(pid_t pid, int sig)
{
	if (kill(pid, sig) < 0) {
		postern_err("cannot signal the master (pid %ld): %s", (long)pid, strerror(errno));
		return -1;
	}
	return 0;
}

/* Load DIR/etc/postern.conf; 0, or -1 with the error printed. */
static int postern_ctl_config(const char *tree)
{
	char path[PATH_MAX];
	const char *error = "";

	if (postern_path(path, sizeof(path), "%s/etc/postern.conf", tree) < 0)
		return -1;
	if (config_load(path, &error) < 0) {
		postern_err("%s", error);
		return -1;
	}
	return 0;
}

/* Whether a syslog daemon takes messages at /dev/log (a socket left by
 * a daemon that is gone refuses the connection). */
static int postern_ctl_syslog_listens(void)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };

	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 1;
	}
	return 0;
}

/* Where the log of the mail system goes, said before the master starts
 * (on stderr, which `start -f` leaves to the master). */
static void postern_ctl_log_notice(const char *tree, int fg)
{
	const char *file = config_str("log_file");

	if (strcmp(file, "-") == 0)
		fprintf(stderr, "postern: logging to stderr (log_file = -)\n");
	else if (*file == '/')
		fprintf(stderr, "postern: logging to %s\n", file);
	else if (*file != '\0')
		fprintf(stderr, "postern: logging to %s/%s\n", tree, file);
	else if (!fg && !postern_ctl_syslog_listens())
		fprintf(stderr, "postern: warning: no syslog daemon at /dev/log: the mail system's log is"
			" lost; set log_file in %s/etc/postern.conf (a file, or - for stderr)\n", tree);
}

/* Wait for the daemonizing master: its first process must not fail and
 * the pid file must come to name a live process. */
static int postern_ctl_wait_start(const char *tree, pid_t child)
{
	int status, reaped = 0;

	for (long waited = 0; waited <= POSTERN_START_WAIT_MS; waited += POSTERN_POLL_MS) {
		pid_t pid;

		if (!reaped && waitpid(child, &status, WNOHANG) == child) {
			reaped = 1;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
				postern_err("the master failed to start (see its messages above)");
				return POSTERN_EXIT_FAIL;
			}
		}
		pid = postern_master_pid(tree);
		if (pid != 0) {
			printf("postern started (pid %ld)\n", (long)pid);
			return POSTERN_EXIT_OK;
		}
		postern_ctl_sleep_ms(POSTERN_POLL_MS);
	}
	postern_err("the master did not write %s/run/master.pid within %d s (see the mail log)",
		    tree, POSTERN_START_WAIT_MS / 1000);
	return POSTERN_EXIT_FAIL;
}

int postern_cmd_start(int argc, char **argv)
{
	char tree[PATH_MAX], etc[PATH_MAX], master[PATH_MAX];
	int fg = 0, r = postern_ctl_args(argc, argv, 1, &fg, tree, sizeof(tree));
	pid_t pid;

	if (r != 0)
		return r == POSTERN_EXIT_USAGE ? postern_usage() : r;
	if ((pid = postern_master_pid(tree)) != 0) {
		fprintf(stderr, "postern is already running (pid %ld)\n", (long)pid);
		return POSTERN_EXIT_FAIL;
	}
	if (postern_ctl_config(tree) < 0 ||
	    postern_path(etc, sizeof(etc), "%s/etc", tree) < 0 ||
	    postern_path(master, sizeof(master), "%s/master", config_str("program_directory")) < 0)
		return POSTERN_EXIT_FAIL;
	char *args[] = { master, "-c", etc, fg ? "-f" : NULL, NULL };
	postern_ctl_log_notice(tree, fg);
	fflush(stdout);
	if (fg) {
		execv(master, args);
		postern_err("cannot run %s: %s", master, strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	pid = fork();
	if (pid < 0) {
		postern_err("fork: %s", strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	if (pid == 0) {
		execv(master, args);
		fprintf(stderr, "postern: cannot run %s: %s\n", master, strerror(errno));
		_exit(127);
	}
	return postern_ctl_wait_start(tree, pid);
}

int postern_cmd_stop(int argc, char **argv)
{
	char tree[PATH_MAX];
	unsigned long long limit_ms;
	pid_t pid;
	int r = postern_ctl_master(argc, argv, tree, sizeof(tree), &pid);

	if (r != 0)
		return r;
	if (pid == 0) {
		printf("postern is not running\n");
		return POSTERN_EXIT_OK;
	}
	/* A broken postern.conf must not keep us from stopping: the
	 * default timeout is used then. */
	(void)postern_ctl_config(tree);
	limit_ms = (config_time("master_stop_timeout") + 5) * 1000;
	if (postern_ctl_signal(pid, SIGTERM) < 0)
		return POSTERN_EXIT_FAIL;
	for (unsigned long long waited = 0; waited <= limit_ms; waited += POSTERN_POLL_MS) {
		if (!postern_pid_alive(pid)) {
			printf("postern stopped\n");
			return POSTERN_EXIT_OK;
		}
		postern_ctl_sleep_ms(POSTERN_POLL_MS);
	}
	postern_err("the master (pid %ld) did not stop within %llu s", (long)pid, limit_ms / 1000);
	return POSTERN_EXIT_FAIL;
}

int postern_cmd_reload(int argc, char **argv)
{
	char tree[PATH_MAX];
	pid_t pid;
	int r = postern_ctl_master(argc, argv, tree, sizeof(tree), &pid);

	if (r != 0)
		return r;
	if (pid == 0) {
		fprintf(stderr, "postern is not running\n");
		return POSTERN_EXIT_FAIL;
	}
	/* The master would refuse a broken file too (and log why); saying
	 * so here, with the line, is what the operator needs to see. */
	char conf[PATH_MAX];
	const char *error;
	if (postern_path(conf, sizeof(conf), "%s/etc/postern.conf", tree) < 0)
		return POSTERN_EXIT_FAIL;
	if (config_load(conf, &error) < 0) {
		postern_err("%s", error);
		postern_err("not reloaded: the services keep the configuration they run with");
		return POSTERN_EXIT_FAIL;
	}
	if (postern_ctl_signal(pid, SIGHUP) < 0)
		return POSTERN_EXIT_FAIL;
	printf("postern: told the master (pid %ld) to reload\n", (long)pid);
	return POSTERN_EXIT_OK;
}

int postern_cmd_status(int argc, char **argv)
{
	char tree[PATH_MAX];
	pid_t pid;
	int r = postern_ctl_master(argc, argv, tree, sizeof(tree), &pid);

	if (r != 0)
		return r;
	if (pid == 0) {
		printf("postern is not running\n");
		return POSTERN_EXIT_NOT_RUNNING;
	}
	printf("postern is running (pid %ld)\n", (long)pid);
	(void)postern_ctl_config(tree);   /* metrics_queue_scan_limit; a broken file: its default */
	postern_status_report(tree);
	return POSTERN_EXIT_OK;
}
