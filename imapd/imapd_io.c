/* imapd_io: what the login and the session process share: reading the
 * next parser event from the client, and the untagged and tagged replies
 * the parser's errors call for.
 *
 * Offers: imapd_read_event() feeds the bytes the stream has (or waits
 * for, within its timeout) to the incremental parser and consumes only
 * what it used, so a literal without a line end and the bytes of the
 * next pipelined command are handled alike; a continuation request
 * ("+ OK") is answered here.  Output is flushed before waiting for
 * input, never while input is buffered (pipelining).
 *
 * Trusts: nothing from the client: the parser bounds lines, literals
 * and memory.  Fails: a stream status other than STREAM_OK ends the
 * caller's loop. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "imapd_io.h"

enum imapd_event imapd_read_event(struct stream *s, struct imap_parser *p)
{
	for (;;) {
		const char *data;
		size_t len, used = 0;
		enum stream_status st;

		if (stream_pending(s) == 0 && stream_flush(s) < 0)
			return IMAPD_EV_CLOSED;
		/* Between commands, the wait also ends when the system stops
		 * (a session must not hold the stop up for its idle client).
		 * Not over TLS: the library may hold input the fd does not show. */
		if (stream_pending(s) == 0 && imap_parser_idle(p) && !stream_tls_active(s)) {
			int w = daemon_wait_input(stream_fd(s), stream_wait_ms(s));
			if (w < 0)
				return IMAPD_EV_SHUTDOWN;
			if (w == 0)
				return IMAPD_EV_TIMEOUT;
		}
		st = stream_read_some(s, &data, &len);
		if (st == STREAM_TIMEOUT)
			return IMAPD_EV_TIMEOUT;
		if (st != STREAM_OK)
			return IMAPD_EV_CLOSED;
		enum imap_parse_event ev = imap_parser_feed(p, data, len, &used);
		stream_consume(s, used);
		switch (ev) {
		case IMAP_PARSE_MORE:
			continue;
		case IMAP_PARSE_CONTINUE:
			/* RFC 9051 7.5: the client may send the literal now. */
			if (stream_puts(s, "+ OK\r\n") < 0 || stream_flush(s) < 0)
				return IMAPD_EV_CLOSED;
			continue;
		case IMAP_PARSE_COMMAND:
			return IMAPD_EV_COMMAND;
		case IMAP_PARSE_LINE:
			return IMAPD_EV_LINE;
		case IMAP_PARSE_ERROR:
			return IMAPD_EV_ERROR;
		}
	}
}

void imapd_reply_parse_error(struct stream *s, const struct imap_parse_error *e)
{
	const char *kind = e->kind == IMAP_REPLY_NO ? "NO" : "BAD";

	stream_printf(s, "%s %s %s%s%s%s\r\n", e->tag != NULL ? e->tag : "*", kind,
		      e->code != NULL ? "[" : "", e->code != NULL ? e->code : "", e->code != NULL ? "] " : "",
		      e->text != NULL ? e->text : "Syntax error");
}

