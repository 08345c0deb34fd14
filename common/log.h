/* log: diagnostics, graded as Postfix does.  info/warn for events, fatal
 * for a broken environment (exit 1, the master restarts us), panic for a
 * broken invariant (abort, core).  Events about a message are one line
 * `QUEUEID: key=value, key=value`.  Output goes to syslog (mail facility),
 * in the foreground to stderr as `TIME service[pid]: text`, or with
 * log_file set to a descriptor as `Mmm dd hh:mm:ss host postern/service[pid]: text`
 * ("postern" being syslog_name). */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

/* Open the log under the given service name; to_stderr selects stderr
 * over syslog; verbose enables log_debug.  Call before chroot. */
void log_open(const char *service, int to_stderr, int verbose);
/* Also copy warnings and fatal lines, as "SERVICE: warning: text", to fd
 * (a daemonizing master's start-up pipe, read by its parent on the
 * terminal); -1 stops. */
void log_also_to(int fd);
#define LOG_SYSLOG_NAME_MAX 63   /* syslog_name in postern.conf */

/* The first part of the tag, "postern" unless set (syslog_name):
 * SYSLOG_NAME/SERVICE[pid].  0, or -1 (unchanged) for a name that is not
 * 1..63 of [A-Za-z0-9._-/] with no '/' at either end. */
int log_set_syslog_name(const char *name);
/* From now on write every line to fd in the file format above, one
 * write(2) each (log_file); -1 goes back to what log_open chose, and so
 * does the next log_open. */
void log_to_fd(int fd);
/* log_to_fd, calling before() ahead of every line: the master copies
 * its children's lines waiting in the log pipe first, so that a line of
 * the master follows the lines that led to it. */
void log_to_fd_after(int fd, void (*before)(void));
/* Format one file-format line (with its newline) into out: the text of
 * len bytes after prefix, stamped with tm, host, syslog name, service and pid.  Its
 * length, or 0 if it does not fit in size. */
size_t log_file_line(char *out, size_t size, const struct tm *tm, const char *host,
		     const char *service, long pid, const char *prefix, const char *text, size_t len);
/* Informational event. */
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Something is wrong but we go on. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Verbose detail (only with -v). */
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Broken environment: log and exit(1). */
_Noreturn void log_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Broken invariant: log and abort(). */
_Noreturn void log_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Whether -v is in effect. */
int log_verbose(void);

#endif
