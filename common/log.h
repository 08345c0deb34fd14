/* log: diagnostics, graded as Postfix does.  info/warn for events, fatal
 * for a broken environment (exit 1, the master restarts us), panic for a
 * broken invariant (abort, core).  Events about a message are one line
 * `QUEUEID: key=value, key=value`.  Output goes to syslog (mail facility)
 * or, in the foreground, to stderr as `TIME service[pid]: text`. */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>

/* Open the log under the given service name; to_stderr selects stderr
 * over syslog; verbose enables log_debug.  Call before chroot. */
void log_open(const char *service, int to_stderr, int verbose);
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
