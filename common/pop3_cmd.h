/* pop3_cmd: the POP3 command-line parser (RFC 1939, RFC 2449).  Pure:
 * no I/O, no state; takes (pointer, length) of one command line and says
 * which command it is and what its arguments are.  Whether a command is
 * allowed in the current session state is the server's business. */
#ifndef POSTERN_POP3_CMD_H
#define POSTERN_POP3_CMD_H

#include <stddef.h>

/* RFC 2449 section 4: a command line is at most 255 octets with CRLF. */
#define POP3_CMD_LINE_MAX 255
/* Largest message number or line count accepted in an argument. */
#define POP3_CMD_NUM_MAX 4294967295UL

enum pop3_cmd_id {
	POP3_CMD_USER,
	POP3_CMD_PASS,
	POP3_CMD_QUIT,
	POP3_CMD_STAT,
	POP3_CMD_LIST,
	POP3_CMD_RETR,
	POP3_CMD_DELE,
	POP3_CMD_NOOP,
	POP3_CMD_RSET,
	POP3_CMD_TOP,
	POP3_CMD_UIDL,
	POP3_CMD_CAPA,
	POP3_CMD_AUTH,    /* RFC 5034: AUTH mechanism [initial-response] */
	POP3_CMD_STLS,    /* RFC 2595 section 4 */
};

enum pop3_cmd_result {
	POP3_CMD_OK = 0,      /* *cmd_r is filled in */
	POP3_CMD_UNKNOWN,     /* not a command we implement */
	POP3_CMD_SYNTAX,      /* known command, bad arguments (*error_r says why) */
};

struct pop3_cmd {
	enum pop3_cmd_id id;
	unsigned int nnum;        /* numeric arguments present (0..2) */
	unsigned long num[2];     /* LIST/UIDL [n], RETR/DELE n, TOP n m */
	const char *arg;          /* USER name / PASS secret / AUTH mechanism: points into the line */
	size_t arg_len;
	const char *arg2;         /* AUTH initial response, or NULL */
	size_t arg2_len;
};

/* Parse one command line (CRLF or LF ending optional).  On POP3_CMD_OK
 * *cmd_r holds the command; otherwise *error_r says why (static text). */
enum pop3_cmd_result pop3_cmd_parse(const char *line, size_t len,
				    struct pop3_cmd *cmd_r, const char **error_r);
/* The upper-case keyword of a command, for logs. */
const char *pop3_cmd_name(enum pop3_cmd_id id);

#endif
