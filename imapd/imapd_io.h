/* imapd_io: parser events from the client and parse-error replies,
 * shared by the login and the session process (imapd_io.c). */
#ifndef POSTERN_IMAPD_IO_H
#define POSTERN_IMAPD_IO_H

#include "buf.h"
#include "imap_parser.h"
#include "stream.h"

enum imapd_event {
	IMAPD_EV_COMMAND,   /* imap_parser_command() */
	IMAPD_EV_LINE,      /* imap_parser_line(): a line asked for */
	IMAPD_EV_ERROR,     /* imap_parser_error(): answer it (imapd_reply_parse_error) */
	IMAPD_EV_TIMEOUT,   /* nothing from the client within the timeout */
	IMAPD_EV_CLOSED,    /* the client left, or a read or write failed */
	IMAPD_EV_SHUTDOWN,  /* the system stops (daemon_hurrying) and no command is half read */
};

/* The next event from the client (flushing replies before waiting). */
enum imapd_event imapd_read_event(struct stream *s, struct imap_parser *p);
/* The reply a parse error calls for ("tag BAD [CODE] text" or "* BAD"). */
void imapd_reply_parse_error(struct stream *s, const struct imap_parse_error *e);

#endif
