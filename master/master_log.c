/* master_log: the log file (log_file in postern.conf), owned by the master.
 *
 * Offers: with log_file a path, the master opens the file (as root,
 * before daemonizing, so a bad path fails `postern start` on the
 * terminal) and makes a pipe that becomes every child's stderr.  Children
 * format their lines themselves (common/log.c, one write(2) per line, far
 * below PIPE_BUF, so lines from many writers never interleave) and the
 * master copies whole lines from the pipe into the file with O_APPEND.
 * The pipe is inherited, so it works after chroot and privilege drop,
 * and a chrooted child never needs the path; SIGHUP reopens the file in
 * the master alone, and every process, the long-lived ones included,
 * writes into the new file from that moment.  With log_file "-" children
 * inherit the master's stderr instead and nothing is copied.
 *
 * Under load the master copies in batches: after a copy that found
 * lines it leaves the pipe alone for MASTER_LOG_PAUSE_MS (the pipe holds
 * a megabyte meanwhile), so that one wake-up copies the lines of many
 * messages instead of each line waking it (about eight a message).  A
 * line is in the file at most that much later; the master's own lines
 * copy what waits in the pipe first, so the file keeps cause before
 * effect.
 *
 * Trusts: the pipe's bytes no more than syslog trusts /dev/log: they are
 * copied, never parsed (only newlines are looked for), through a bounded
 * buffer.  A child can write any text into the log, as it can through
 * syslog, but it never holds the file, so it cannot truncate or rewind it.
 *
 * Fails: an unusable log_file at start is -1 (the master refuses to
 * start); at reload a warning, and the log stays where it was.  Lines
 * that cannot be written (disk full) are dropped: logging never stops
 * mail. */
#include "master_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sockets.h"

#define MASTER_LOG_PIPE_SIZE (1024 * 1024)   /* asked for; the default is 64 KiB */
#define MASTER_LOG_BUF (64 * 1024)
#define MASTER_LOG_READS 64                  /* per drain, so other work goes on */
#define MASTER_LOG_PAUSE_MS 10               /* after a drain that found lines */

enum master_log_dest { MASTER_LOG_DEFAULT, MASTER_LOG_FILE, MASTER_LOG_STDERR };

static enum master_log_dest master_log_dest;
static char master_log_base[PATH_MAX];
static int master_log_fg, master_log_verbose;
static int master_log_file = -1;        /* MASTER_LOG_FILE: the open file */
static int master_log_stderr = -1;      /* MASTER_LOG_STDERR: our stderr, kept */
static int master_log_r = -1, master_log_w = -1;   /* the children's pipe */
static char master_log_buf[MASTER_LOG_BUF];
static size_t master_log_have;
static long long master_log_resume;     /* monotonic ms: poll the pipe from then on */

static long long master_log_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* log_file as an absolute path: relative ones are under the tree. */
static int master_log_path(const char *value, char *out, size_t len)
{
	int n = value[0] == '/' ? snprintf(out, len, "%s", value)
				: snprintf(out, len, "%s/%s", master_log_base, value);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Open the log file for appending: a regular file (never a symlink, a
 * FIFO or a device, which could redirect or block a root process).
 * The descriptor, or -1 with a warning. */
static int master_log_open_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY |
			    O_NONBLOCK, 0640);

	if (fd < 0) {
		log_warn("log_file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_warn("log_file %s: not a regular file", path);
		close(fd);
		return -1;
	}
	fd_set_nonblock(fd, 0);
	return fd;
}

/* The pipe children write into; kept for the master's life once made. */
static int master_log_make_pipe(void)
{
	int p[2];

	if (master_log_r >= 0)
		return 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		log_warn("log pipe: %s", strerror(errno));
		return -1;
	}
	/* Room for bursts while the master is busy; the default size is
	 * fine too, writers then wait a moment. */
	(void)fcntl(p[1], F_SETPIPE_SZ, MASTER_LOG_PIPE_SIZE);
	fd_set_nonblock(p[0], 1);
	master_log_r = p[0];
	master_log_w = p[1];
	return 0;
}

static void master_log_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* log_file = PATH: (re)open it and point the master's own log at it. */
static int master_log_use_file(const char *value)
{
	char path[PATH_MAX];
	int fd;

	if (master_log_path(value, path, sizeof path) < 0) {
		log_warn("log_file %s: path too long", value);
		return -1;
	}
	if ((fd = master_log_open_file(path)) < 0 || master_log_make_pipe() < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	master_log_drain();   /* what the children wrote so far belongs to the old file */
	master_log_close(&master_log_file);
	master_log_file = fd;
	master_log_dest = MASTER_LOG_FILE;
	log_open("master", 1, master_log_verbose);
	log_to_fd_after(master_log_file, master_log_drain);
	return 0;
}

/* log_file = -: the master's stderr for everyone.  After daemonizing
 * that is /dev/null, so "-" takes effect at start or in the foreground. */
static int master_log_use_stderr(int at_start)
{
	if (master_log_stderr < 0) {
		if (!at_start && !master_log_fg) {
			log_warn("log_file = -: the master has no stderr since it runs in the background;"
				 " the log stays where it was until the next start");
			return -1;
		}
		master_log_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		if (master_log_stderr < 0) {
			log_warn("log_file = -: %s", strerror(errno));
			return -1;
		}
	}
	master_log_drain();
	master_log_close(&master_log_file);
	master_log_dest = MASTER_LOG_STDERR;
	log_open("master", 1, master_log_verbose);
	log_to_fd(master_log_stderr);
	return 0;
}

static int master_log_apply(int at_start)
{
	const char *value = config_str("log_file");

	if (log_set_syslog_name(config_str("syslog_name")) < 0)
		log_warn("syslog_name %s is not a syslog name; logging as postern", config_str("syslog_name"));
	if (strcmp(value, "-") == 0)
		return master_log_use_stderr(at_start);
	if (*value != '\0')
		return master_log_use_file(value);
	/* Empty: syslog, or stderr in the foreground, as before log_file.
	 * A pipe and file opened earlier stay: processes that started
	 * before this reload may still write a last line into the pipe,
	 * and it goes to that file. */
	master_log_dest = MASTER_LOG_DEFAULT;
	log_open("master", master_log_fg, master_log_verbose);
	return 0;
}

int master_log_open(const char *base_dir, int foreground, int verbose)
{
	if (strlen(base_dir) >= sizeof master_log_base) {
		log_warn("%s: path too long", base_dir);
		return -1;
	}
	memcpy(master_log_base, base_dir, strlen(base_dir) + 1);
	master_log_fg = foreground;
	master_log_verbose = verbose;
	return master_log_apply(1);
}

void master_log_reopen(void)
{
	if (master_log_apply(0) == 0 && master_log_dest == MASTER_LOG_FILE)
		log_info("log file reopened");
}

int master_log_pipe(int *wait_ms)
{
	long long left;

	*wait_ms = -1;
	if (master_log_r < 0 || master_log_resume == 0)
		return master_log_r;
	left = master_log_resume - master_log_now_ms();
	if (left <= 0) {
		master_log_resume = 0;
		return master_log_r;
	}
	*wait_ms = (int)left;
	return -1;
}

/* Append text to wherever the master logs now (the file, or stderr
 * after a change to "-"); dropped when neither. */
static void master_log_out(const char *text, size_t len)
{
	int fd = master_log_file >= 0 ? master_log_file : master_log_stderr;

	while (fd >= 0 && len > 0) {
		ssize_t w = write(fd, text, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;   /* disk full, say: see the module comment */
		text += w;
		len -= (size_t)w;
	}
}

void master_log_drain(void)
{
	for (int reads = 0; master_log_r >= 0 && reads < MASTER_LOG_READS; reads++) {
		ssize_t n = read(master_log_r, master_log_buf + master_log_have,
				 sizeof master_log_buf - master_log_have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;   /* EAGAIN: nothing more now (the master holds a write end: no EOF) */
		if (reads == 0)
			master_log_resume = master_log_now_ms() + MASTER_LOG_PAUSE_MS;
		master_log_have += (size_t)n;
		/* Whole lines only, so that a reopen never splits one between
		 * two files; a partial line waits for its end. */
		const char *last = memrchr(master_log_buf, '\n', master_log_have);
		size_t whole = last != NULL ? (size_t)(last - master_log_buf) + 1 : 0;
		/* A "line" filling the buffer is no log.c line (those are
		 * short): stray output, passed on as it is. */
		if (whole == 0 && master_log_have == sizeof master_log_buf)
			whole = master_log_have;
		master_log_out(master_log_buf, whole);
		memmove(master_log_buf, master_log_buf + whole, master_log_have - whole);
		master_log_have -= whole;
	}
}

const char *master_log_mode(int foreground)
{
	if (master_log_dest != MASTER_LOG_DEFAULT)
		return "file";
	return foreground ? "stderr" : "syslog";
}

void master_log_child(void)
{
	if (master_log_dest == MASTER_LOG_FILE && master_log_w >= 0)
		dup2(master_log_w, STDERR_FILENO);
	else if (master_log_dest == MASTER_LOG_STDERR && master_log_stderr >= 0)
		dup2(master_log_stderr, STDERR_FILENO);
}
