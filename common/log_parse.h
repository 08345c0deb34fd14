/* log_parse: read back the lines Postern writes to a log file, for
 * `postern log` (and anything else that follows a message through the
 * log): `Mmm dd hh:mm:ss host SYSLOG_NAME/SERVICE[pid]: text`, also in
 * the RFC 3339 stamp some syslog daemons write. */
#ifndef POSTERN_LOG_PARSE_H
#define POSTERN_LOG_PARSE_H

#include <stddef.h>

#define LOG_PARSE_ID_MAX 32   /* longest queue ID recognised */

/* The parts of one line; pointers into the line. */
struct log_parse_line {
	const char *service;   /* after SYSLOG_NAME/, e.g. "smtpd", "submission/smtpd" */
	size_t service_len;
	long pid;
	const char *text;      /* after "]: " up to the end (no newline) */
	size_t text_len;
};

/* Parse line[0..len) (without its newline).  1 when it is a line of
 * syslog_name's processes, 0 otherwise.  Reads nothing past len. */
int log_parse_line(const char *line, size_t len, const char *syslog_name, struct log_parse_line *out);
/* The queue ID that starts text ("ID: ..."): its length (at most
 * LOG_PARSE_ID_MAX, 5 or more upper-case letters and digits), or 0. */
size_t log_parse_queue_id(const char *text, size_t len);
/* The queue ID that text names as a message it led to (Postfix's
 * "... notification: NEWID", a forward's "... as NEWID"), into id_r
 * (LOG_PARSE_ID_MAX + 1 bytes).  1 found, 0 not. */
int log_parse_next_id(const char *text, size_t len, char *id_r);

#endif
