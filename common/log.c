/* log: graded diagnostics (info, warn, debug, fatal, panic).
 *
 * Offers: one line per event, to syslog (facility LOG_MAIL, opened with
 * LOG_NDELAY before any chroot so the socket to /dev/log is already
 * connected), to stderr as `YYYY-MM-DDTHH:MM:SS service[pid]: text`, or
 * (log_to_fd, for log_file in postern.conf) to a descriptor in the
 * format syslog daemons write to files, so that tools made for mail logs
 * read it: `Mmm dd hh:mm:ss host postern/service[pid]: text`.  The
 * "postern" part is syslog_name (log_set_syslog_name), as in Postfix,
 * so that tools that only know Postfix's name can be served too.  Each
 * stderr or descriptor line is written with a single write(2), so lines
 * from the many processes sharing one stderr, pipe or O_APPEND file do
 * not interleave (a line is far below PIPE_BUF).
 *
 * Trusts: the format strings (they are ours); the arguments may carry
 * anything, including client input, so control characters in the
 * formatted text are replaced by '?' (a client cannot forge log lines).
 *
 * Fails: never.  A message longer than LOG_LINE_MAX is cut and ends in
 * "...": the log is the one place in Postern where clipping is accepted,
 * because a diagnostic must never fail.  log_fatal exits 1, log_panic
 * aborts for a core. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "self_pid.h"

#define LOG_LINE_MAX 2000   /* longest message text before clipping */

static char log_service[64] = "postern";
static char log_syslog_name[LOG_SYSLOG_NAME_MAX + 1] = "postern";
static char log_ident[sizeof(log_syslog_name) + sizeof(log_service)];   /* syslog's tag */
static int log_to_stderr = 1;
static int log_is_verbose;
static int log_syslog_open;
static int log_fd = -1;              /* log_to_fd: file-format lines go here */
static void (*log_fd_before)(void);  /* log_to_fd_after: runs before each line */
static char log_host[HOST_NAME_MAX + 1] = "localhost";

/* (Re)open syslog under the tag SYSLOG_NAME/SERVICE. */
static void log_syslog_reopen(void)
{
	snprintf(log_ident, sizeof(log_ident), "%s/%s", log_syslog_name, log_service);
	if (log_syslog_open)
		closelog();
	openlog(log_ident, LOG_NDELAY | LOG_PID, LOG_MAIL);
	log_syslog_open = 1;
}

int log_set_syslog_name(const char *name)
{
	size_t n = strlen(name);

	/* Postfix's rule, roughly: a name like postfix or postfix/submission. */
	if (n == 0 || n > LOG_SYSLOG_NAME_MAX || name[0] == '/' || name[n - 1] == '/' ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") != n)
		return -1;
	if (strcmp(name, log_syslog_name) == 0)
		return 0;   /* after a chroot a reopen could not reach /dev/log */
	memcpy(log_syslog_name, name, n + 1);
	if (log_syslog_open)
		log_syslog_reopen();
	return 0;
}

void log_open(const char *service, int to_stderr, int verbose)
{
	size_t n = strlen(service);

	/* A service name is ours (master.conf); clipping it only affects
	 * the log tag. */
	if (n >= sizeof(log_service))
		n = sizeof(log_service) - 1;
	memcpy(log_service, service, n);
	log_service[n] = '\0';
	log_to_stderr = to_stderr;
	log_is_verbose = verbose;
	log_fd = -1;
	log_fd_before = NULL;
	if (!to_stderr)
		log_syslog_reopen();
}

/* The host name as syslog daemons write it: the first label, printable. */
static void log_set_host(void)
{
	char name[HOST_NAME_MAX + 1];
	size_t n = 0;

	if (gethostname(name, sizeof(name)) == 0) {
		name[sizeof(name) - 1] = '\0';
		while (name[n] != '\0' && name[n] != '.') {
			unsigned char c = (unsigned char)name[n];
			name[n] = (c <= 0x20 || c >= 0x7f) ? '?' : name[n];
			n++;
		}
	}
	if (n == 0) {
		memcpy(log_host, "localhost", sizeof("localhost"));
		return;
	}
	memcpy(log_host, name, n);
	log_host[n] = '\0';
}

void log_to_fd(int fd)
{
	log_fd = fd;
	log_fd_before = NULL;
	if (fd >= 0)
		log_set_host();
}

void log_to_fd_after(int fd, void (*before)(void))
{
	log_to_fd(fd);
	log_fd_before = before;
}

int log_verbose(void)
{
	return log_is_verbose;
}

/* Replace control bytes so that a message stays one line. */
static void log_sanitize(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			s[i] = '?';
	}
}

/* Format the message text into msg, clipping with "..." when too long. */
static size_t log_format(char *msg, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(msg, size, fmt, ap);
	size_t len;

	if (n < 0) {
		snprintf(msg, size, "(unformattable log message)");
		return strlen(msg);
	}
	len = (size_t)n;
	if (len >= size) {
		/* Deliberate clip: see the module comment. */
		len = size - 1;
		memcpy(msg + len - 3, "...", 3);
	}
	log_sanitize(msg, len);
	return len;
}

/* Write one complete line to stderr in a single write(2). */
static void log_stderr_line(const char *prefix, const char *msg, size_t len)
{
	char line[LOG_LINE_MAX + 256];
	char stamp[32];
	struct tm tm;
	time_t now = time(NULL);
	int n;

	if (localtime_r(&now, &tm) == NULL ||
	    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		snprintf(stamp, sizeof(stamp), "%lld", (long long)now);
	n = snprintf(line, sizeof(line), "%s %s[%ld]: %s%.*s\n", stamp,
		     log_service, (long)self_pid(), prefix, (int)len, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		/* Cannot happen with the sizes above; keep the line ending. */
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* One write: atomic with respect to other writers for a pipe up to
	 * PIPE_BUF, and never split by us in any case.  Nothing to do if it
	 * fails: there is nowhere else to report it. */
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}

size_t log_file_line(char *out, size_t size, const struct tm *tm, const char *host,
		     const char *service, long pid, const char *prefix, const char *text, size_t len)
{
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
	};
	/* RFC 3164's TIMESTAMP (day padded with a space), in English
	 * whatever the locale, as syslog daemons write it. */
	int mon = tm->tm_mon >= 0 && tm->tm_mon < 12 ? tm->tm_mon : 0;
	int n = snprintf(out, size, "%s %2d %02d:%02d:%02d %s %s/%s[%ld]: %s%.*s\n",
			 months[mon], tm->tm_mday, tm->tm_hour, tm->tm_min, tm->tm_sec,
			 host, log_syslog_name, service, pid, prefix, (int)len, text);

	if (n < 0 || (size_t)n >= size)
		return 0;
	return (size_t)n;
}

/* Write one complete file-format line to log_fd in a single write(2). */
static void log_fd_line(const char *prefix, const char *msg, size_t len)
{
	char line[LOG_LINE_MAX + 512];
	struct tm tm;
	time_t now = time(NULL);
	size_t n;

	if (localtime_r(&now, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = log_file_line(line, sizeof(line), &tm, log_host, log_service, (long)self_pid(),
			  prefix, msg, len);
	if (n == 0)
		return;   /* cannot happen: the host and service names are bounded */
	if (log_fd_before != NULL)
		log_fd_before();
	/* Nothing to do if it fails: there is nowhere else to report it. */
	ssize_t w = write(log_fd, line, n);
	(void)w;
}

static int log_also_fd = -1;

void log_also_to(int fd)
{
	log_also_fd = fd;
}

static void log_emit(int priority, const char *prefix, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX + 1];
	int saved = errno;
	size_t len = log_format(msg, sizeof(msg), fmt, ap);

	if (log_also_fd >= 0 && priority <= LOG_WARNING) {
		char line[LOG_LINE_MAX + 128];
		int n = snprintf(line, sizeof(line), "%s: %s%.*s\n", log_service, prefix, (int)len, msg);
		if (n > 0) {
			ssize_t w = write(log_also_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
			(void)w;
		}
	}
	if (log_fd >= 0)
		log_fd_line(prefix, msg, len);
	else if (log_to_stderr)
		log_stderr_line(prefix, msg, len);
	else
		syslog(priority, "%s%.*s", prefix, (int)len, msg);
	errno = saved;
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_INFO, "", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning: ", fmt, ap);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_is_verbose)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "", fmt, ap);
	va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal: ", fmt, ap);
	va_end(ap);
	exit(1);
}

void log_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "panic: ", fmt, ap);
	va_end(ap);
	abort();
}
