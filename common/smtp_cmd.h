/* smtp_cmd: the SMTP command line parser (RFC 5321 4.1).  Splits a line
 * into verb and argument and parses the ESMTP parameter list that follows
 * the path of MAIL FROM: and RCPT TO: (RFC 5321 4.1.2), with a bounded
 * parameter count.  Pure functions on (pointer, length): no allocation,
 * no I/O, never a read past the length; every result points into the
 * caller's line. */
#ifndef POSTERN_SMTP_CMD_H
#define POSTERN_SMTP_CMD_H

#include <stddef.h>

#include "buf.h"

#define SMTP_CMD_MAX_PARAMS 16      /* ESMTP parameters on one MAIL or RCPT */
#define SMTP_CMD_MAX_KEYWORD 32     /* longest esmtp-keyword we accept */

enum smtp_verb {
	SMTP_VERB_UNKNOWN = 0,
	SMTP_VERB_HELO,
	SMTP_VERB_EHLO,
	SMTP_VERB_MAIL,
	SMTP_VERB_RCPT,
	SMTP_VERB_DATA,
	SMTP_VERB_RSET,
	SMTP_VERB_NOOP,
	SMTP_VERB_VRFY,
	SMTP_VERB_EXPN,
	SMTP_VERB_HELP,
	SMTP_VERB_QUIT,
	SMTP_VERB_STARTTLS,
	SMTP_VERB_AUTH,
	SMTP_VERB_BDAT,
};

enum smtp_cmd_status {
	SMTP_CMD_OK = 0,
	SMTP_CMD_BADCHAR,     /* NUL, bare CR or another control byte in the line */
	SMTP_CMD_EMPTY,       /* nothing but the line ending and spaces */
};

struct smtp_cmd {
	enum smtp_verb verb;
	const char *verb_text;   /* the verb as sent (for the log) */
	size_t verb_len;
	const char *arg;         /* after the verb and its space, line end stripped */
	size_t arg_len;
};

struct smtp_param {
	const char *key;         /* esmtp-keyword (not NUL-terminated) */
	size_t key_len;
	const char *value;       /* esmtp-value, or NULL when "KEY" has no "=" */
	size_t value_len;
};

/* Parse one command line as read from the client (its CRLF or LF
 * included or not).  SMTP_CMD_OK with *cmd_r filled; an unknown verb is
 * SMTP_CMD_OK with verb SMTP_VERB_UNKNOWN. */
enum smtp_cmd_status smtp_cmd_parse(const char *line, size_t len, struct smtp_cmd *cmd_r);
/* Name of a verb in upper case ("MAIL"; "unknown"). */
const char *smtp_cmd_verb_name(enum smtp_verb verb);
/* If arg starts with prefix ("FROM:" / "TO:", case-insensitive), point
 * *rest_r past it.  1 on a match, 0 otherwise. */
int smtp_cmd_arg_prefix(const char *arg, size_t len, const char *prefix,
			const char **rest_r, size_t *rest_len_r);
/* Parse the parameter list after a path: " KEY[=VALUE]" separated by
 * spaces (RFC 5321 4.1.2 Mail-parameters).  0 with up to max params in
 * params[] and their count in *n_r; -1 with *error_r on bad syntax,
 * more than max parameters, or a keyword given twice (any case). */
int smtp_cmd_params(const char *p, size_t len, struct smtp_param *params, size_t max,
		    size_t *n_r, const char **error_r);
/* Whether a parameter's key equals name (case-insensitive). */
int smtp_param_is(const struct smtp_param *param, const char *name);
/* Parse a decimal SIZE value (RFC 1870); values over limit give
 * *value_r = limit + 1 (no overflow).  0, or -1 when not a number. */
int smtp_param_size(const struct smtp_param *param, unsigned long long limit,
		    unsigned long long *value_r);
/* Decode RFC 3461 4 xtext ("+XX" hex escapes, characters 33-126 but
 * "+" and "=") and append to out.  The result must be printable ASCII
 * (a decoded control byte is refused).  0, or -1. */
int smtp_xtext_decode(const char *p, size_t len, struct buf *out);
/* RFC 3461 4.1 NOTIFY value: "NEVER", or a comma list of SUCCESS,
 * FAILURE, DELAY (each at most once, any case).  Writes the canonical
 * upper-case form (in SUCCESS,FAILURE,DELAY order) to out.  0, or -1. */
int smtp_notify_parse(const char *p, size_t len, char *out, size_t outlen);
/* RFC 3030 2: "BDAT" argument: chunk-size [SP "LAST"].  The size is
 * decimal, at most 18 digits.  0 with *size_r and *last_r, or -1. */
int smtp_bdat_parse(const char *arg, size_t len, unsigned long long *size_r, int *last_r);

#endif
