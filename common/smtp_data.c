/* smtp_data: the SMTP DATA state machine.
 *
 * Offers: smtp_data_line() takes the message content one line at a time,
 * exactly as stream_read_line returns it (terminator included), and says
 * what to store: the line without its CRLF, plus an LF, with one leading
 * dot removed (RFC 5321 4.5.2 transparency).  It recognises the end of
 * data only at a line that is exactly ".<CRLF>" following a line that
 * ended in CRLF (RFC 5321 4.1.1.4), so <LF>.<LF>, <CR>.<CR>, <LF>.<CRLF>
 * and the like never end the message: the SMTP smuggling attacks of 2023
 * relied on servers that did.  Any line that ends in a bare LF, and any
 * CR not followed by LF, sets bare_newline (RFC 5321 2.3.8): the caller
 * rejects the message once the real end has been read.  The stored size
 * is counted as it goes.
 *
 * Trusts: nothing about the bytes; 8-bit data, NUL included, is passed
 * through untouched.  The output is always a sub-range of the input line,
 * so nothing can grow.
 *
 * smtp_bdat_feed() does the same job for BDAT chunks (RFC 3030), which
 * carry no dot-stuffing and no end marker: it turns CRLF into LF across
 * chunk boundaries and flags bare LF and bare CR the same way.
 *
 * smtp_dot_feed() is the other direction, for our SMTP and LMTP clients:
 * stored content (LF or CRLF line ends) becomes the DATA wire form.
 * Every line end goes out as CRLF: a bare LF and a bare CR alike, so no
 * bare CR or LF we relay can be read as a line end (or an end of data)
 * by one server and not by the next; a leading dot, also after a bare
 * CR, is doubled.  smtp_dot_end() ends the last line and adds ".<CRLF>".
 *
 * Fails: never; bad input only sets flags for the caller's verdict. */
#include <stddef.h>
#include <string.h>

#include "smtp_data.h"

void smtp_data_init(struct smtp_data *sd)
{
	memset(sd, 0, sizeof(*sd));
	/* The DATA command's own CRLF precedes the first line, so an
	 * immediate ".<CRLF>" is an empty message (RFC 5321 4.1.1.4). */
	sd->after_crlf = 1;
}

void smtp_data_toolong(struct smtp_data *sd, int crlf)
{
	sd->too_long = 1;
	sd->lines++;
	/* Never assumed: after "<long line><LF>", ".<CRLF>" is not the end
	 * for a relay that passed the bare LF through, so it is not for us
	 * either, or what follows would run as commands (SMTP smuggling).
	 * The reader tells us how the discarded line ended. */
	sd->after_crlf = crlf;
}

/* Whether p[0..len) holds a CR (which, with the LF already cut off, can
 * only be a bare CR). */
static int smtp_data_has_cr(const char *p, size_t len)
{
	return len > 0 && memchr(p, '\r', len) != NULL;
}

enum smtp_data_result smtp_data_line(struct smtp_data *sd, const char *line, size_t len,
				     const char **out_r, size_t *out_len_r, int *add_lf_r)
{
	size_t content = len;
	int crlf = 0, lf = 0;

	if (content > 0 && line[content - 1] == '\n') {
		lf = 1;
		content--;
		if (content > 0 && line[content - 1] == '\r') {
			crlf = 1;
			content--;
		}
	}
	/* The end of data: ".<CRLF>" right after a CRLF, nothing else. */
	if (crlf && sd->after_crlf && content == 1 && line[0] == '.') {
		*out_r = line;
		*out_len_r = 0;
		*add_lf_r = 0;
		return SMTP_DATA_END;
	}
	if ((lf && !crlf) || smtp_data_has_cr(line, content))
		sd->bare_newline = 1;
	sd->after_crlf = crlf;
	sd->lines++;
	/* RFC 5321 4.5.2: a leading dot was doubled by the client. */
	if (content > 0 && line[0] == '.') {
		line++;
		content--;
	}
	*out_r = line;
	*out_len_r = content;
	*add_lf_r = lf;
	sd->size += content + (size_t)lf;
	return SMTP_DATA_MORE;
}

void smtp_bdat_init(struct smtp_bdat *b)
{
	memset(b, 0, sizeof(*b));
}

size_t smtp_bdat_feed(struct smtp_bdat *b, const char *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (b->pending_cr) {
			b->pending_cr = 0;
			if (c == '\n') {
				out[o++] = '\n';   /* CRLF -> LF */
				continue;
			}
			b->bare_newline = 1;   /* CR not followed by LF */
			out[o++] = '\r';
		}
		if (c == '\r') {
			b->pending_cr = 1;     /* decided by the next byte */
			continue;
		}
		if (c == '\n')
			b->bare_newline = 1;
		out[o++] = c;
	}
	b->size += o;
	return o;
}

size_t smtp_bdat_end(struct smtp_bdat *b, char *out)
{
	if (!b->pending_cr)
		return 0;
	b->pending_cr = 0;
	b->bare_newline = 1;
	out[0] = '\r';
	b->size++;
	return 1;
}

void smtp_dot_init(struct smtp_dot *d)
{
	d->bol = 1;
	d->cr = 0;
}

size_t smtp_dot_feed(struct smtp_dot *d, const char *p, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (d->cr) {
			/* CRLF, or a bare CR that ends its line all the same. */
			d->cr = 0;
			out[o++] = '\r';
			out[o++] = '\n';
			d->bol = 1;
			if (c == '\n')
				continue;
		}
		if (c == '\r') {
			d->cr = 1;            /* decided by the next byte */
			continue;
		}
		if (c == '\n') {
			out[o++] = '\r';      /* bare LF -> CRLF */
			out[o++] = '\n';
			d->bol = 1;
			continue;
		}
		if (d->bol && c == '.')
			out[o++] = '.';       /* RFC 5321 4.5.2: transparency */
		out[o++] = c;
		d->bol = 0;
	}
	return o;
}

size_t smtp_dot_end(struct smtp_dot *d, char *out)
{
	size_t o = 0;

	if (d->cr || !d->bol) {
		out[o++] = '\r';      /* the last line, unterminated or bare CR */
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	d->cr = 0;
	d->bol = 1;
	return o + 3;
}
