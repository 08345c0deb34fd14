/* smtp_client_data: the DATA pump of the SMTP and LMTP clients
 * (smtp_client_data.h).
 *
 * Trusts: the body is ours (queue file, spool); it is still converted
 * byte by byte, so a stored bare CR or a line "." cannot end the data
 * early or smuggle a second message (RFC 5321 4.5.2, 2.3.8).
 *
 * Fails: -1 when a write fails or times out (the server may hold part of
 * the message; no final dot was sent, so the caller must not send QUIT
 * as if between commands), -2 when the file cannot be read. */
#include <errno.h>
#include <unistd.h>

#include "smtp_client_data.h"
#include "smtp_data.h"

/* Convert and send n bytes of p in pieces the wire buffer holds. */
static int smtp_client_data_feed(struct stream *s, struct smtp_dot *dot, const char *p, size_t n, char *wire)
{
	while (n > 0) {
		size_t k = n < SMTP_CLIENT_DATA_BLOCK ? n : SMTP_CLIENT_DATA_BLOCK;
		if (stream_write(s, wire, smtp_dot_feed(dot, p, k, wire)) < 0)
			return -1;
		p += k;
		n -= k;
	}
	return 0;
}

int smtp_client_body_read(const struct smtp_client_body *b, int (*fn)(void *arg, const char *p, size_t n),
			  void *arg)
{
	/* Static: a delivery process reads one message at a time. */
	static char block[SMTP_CLIENT_DATA_BLOCK];
	off_t done = 0;

	while (done < b->size) {
		size_t want = (size_t)(b->size - done) < sizeof block ? (size_t)(b->size - done) : sizeof block;
		ssize_t r = pread(b->fd, block, want, b->offset + done);
		int ret;
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -2;
		if ((ret = fn(arg, block, (size_t)r)) < 0)
			return ret;
		done += r;
	}
	return 0;
}

struct smtp_client_pump {
	struct stream *s;
	struct smtp_dot dot;
	char *wire;
};

static int smtp_client_pump_block(void *arg, const char *p, size_t n)
{
	struct smtp_client_pump *pp = arg;

	return smtp_client_data_feed(pp->s, &pp->dot, p, n, pp->wire);
}

int smtp_client_send_data(struct stream *s, const struct smtp_client_body *b)
{
	static char wire[SMTP_DOT_ROOM(SMTP_CLIENT_DATA_BLOCK)];
	struct smtp_client_pump pp = { .s = s, .wire = wire };
	int r;

	smtp_dot_init(&pp.dot);
	/* The prepended fields (a DKIM-Signature) go first. */
	if (b->prepend_len > 0 && smtp_client_data_feed(s, &pp.dot, b->prepend, b->prepend_len, wire) < 0)
		return -1;
	if ((r = smtp_client_body_read(b, smtp_client_pump_block, &pp)) < 0)
		return r;
	if (stream_write(s, wire, smtp_dot_end(&pp.dot, wire)) < 0)
		return -1;
	return stream_flush(s) < 0 ? -1 : 0;
}
