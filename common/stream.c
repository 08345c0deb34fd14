/* stream: buffered, bounded line I/O over a pair of descriptors.
 *
 * Offers: stream_read_line returns whole lines (LF included) of at most
 * max_line bytes; an overlong line is discarded through its LF and
 * reported once as STREAM_TOOLONG, never truncated or split, so a
 * protocol can answer it with its own error and read the next command.
 * Whether that discarded line ended in CRLF or a bare LF is remembered
 * across reads (stream_toolong_crlf): the SMTP DATA state machine must
 * know it, or "<long line><LF>.<CRLF>" could end a message that the
 * sending relay thinks goes on (SMTP smuggling).
 * stream_read_exact reads bulk data into a capped buf.  When a client
 * moves from one process to another (a login process to its session,
 * common/login_handoff.c), the bytes it read ahead (stream_peek) go
 * along, and stream_preload makes them the first input of the new
 * stream, so they are read once, in order, by the same line reader;
 * stream_tls_detach gives the TLS session to the login's proxy.  Output is
 * buffered (at most STREAM_OUT_MAX bytes, flushed automatically beyond
 * that; a larger write goes out directly after what is queued) and
 * written completely by stream_flush.
 *
 * Trusts: nothing it reads.  Memory is bounded: the input buffer never
 * exceeds max_line + STREAM_SLACK, the output buffer STREAM_OUT_MAX.
 * Input may hold passwords (AUTH, PASS): a buffer is wiped before it is
 * freed or moved by growth.
 *
 * Fails: every wait is bounded by the timeout (poll before a read or a
 * write that cannot go on at once, or SO_RCVTIMEO on a socket whose
 * stream reads blocking, stream_read_blocking; EINTR retried):
 * STREAM_TIMEOUT, or -1 with errno ETIMEDOUT on the write side.  I/O errors are STREAM_ERROR / -1 with errno.  A
 * vanished peer never raises SIGPIPE on a socket (send MSG_NOSIGNAL); on
 * a pipe the process must ignore SIGPIPE (daemon_init does).
 *
 * The two raw functions, stream_raw_read and stream_raw_write, are the only
 * places that touch the descriptors; with TLS active they go through
 * OpenSSL on non-blocking descriptors, waiting with poll() for whatever
 * OpenSSL asks for (WANT_READ / WANT_WRITE), so the timeout holds during
 * handshakes and partial records as well.  stream_start_tls throws away
 * any input buffered before the handshake: a client that pipelines
 * plaintext after STARTTLS must not have it executed inside the TLS
 * session (RFC 3207 4.2, CVE-2011-0411).
 *
 * Besides the per-wait timeout a stream may carry a deadline
 * (stream_set_deadline): every wait ends by then, so that a peer which
 * trickles a byte now and then cannot stretch a bounded exchange.  The
 * TLS handshake always runs under one (its handshake_ms): a client that
 * sends half a ClientHello and stops would otherwise hold the process
 * for the whole session timeout.
 *
 * Compression (IMAP COMPRESS=DEFLATE, RFC 4978; stream_start_deflate)
 * sits between the buffers and the raw functions, above TLS: reads
 * inflate into the input buffer's room only (common/stream_deflate.c),
 * so the line and read-ahead bounds hold for inflated bytes as for plain
 * ones; stream_flush ends a burst with a sync flush of the compressor,
 * the automatic flush of a full output buffer does not.  The input
 * buffered at the switch, which the client sent after COMPRESS, is
 * inflated, not read as plain text.  Corrupt compressed input is
 * STREAM_ERROR with errno EBADMSG (stream_deflate_failure says why). */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sockets.h"
#include "stream.h"
#include "stream_deflate.h"
#include "tls.h"

#define STREAM_SLACK 4096            /* read-ahead room beyond one line */
#define STREAM_OUT_MAX (64 * 1024)   /* output buffered before a flush */
#define STREAM_IN_INITIAL 8192       /* first input allocation */

struct stream {
	int rfd, wfd;
	int wsock;          /* wfd is a socket: use send(MSG_NOSIGNAL) */
	int rsock;          /* rfd is a socket: may be read without waiting */
	int more;           /* the last read filled its room: more is likely */
	int blocking;       /* stream_read_blocking: 1 on, 0 off */
	int rcvtimeo_ms;    /* SO_RCVTIMEO set on rfd; 0: none yet */
	int timeout_ms;     /* <= 0: wait forever */
	long long deadline; /* CLOCK_MONOTONIC ms that ends every wait; 0: none */
	size_t max_line;
	char *in;           /* input buffer: unread bytes are in[start, end) */
	size_t in_cap, start, end;
	size_t scanned;     /* bytes after start already known to hold no LF */
	int discarding;     /* inside an overlong line */
	int discard_cr;     /* the last byte discarded so far was a CR */
	int toolong_crlf;   /* the last STREAM_TOOLONG line ended in CRLF */
	int eof;            /* the peer closed its side */
	struct buf out;
	SSL *ssl;           /* TLS session, NULL for plaintext */
	size_t tls_discarded;  /* plaintext input thrown away at stream_start_tls */
	struct stream_deflate *z;  /* COMPRESS=DEFLATE, NULL when off */
};

static int stream_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* sock: 1 the descriptor is a socket, -1 ask the kernel. */
static struct stream *stream_make(int rfd, int wfd, int sock, size_t max_line, int timeout_ms)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->rfd = rfd;
	s->wfd = wfd;
	s->wsock = sock == 1 ? 1 : stream_is_socket(wfd);
	s->rsock = rfd == wfd ? s->wsock : stream_is_socket(rfd);
	s->timeout_ms = timeout_ms;
	s->max_line = max_line > 0 ? max_line : 1;
	buf_init(&s->out, STREAM_OUT_MAX);
	return s;
}

struct stream *stream_new(int rfd, int wfd, size_t max_line, int timeout_ms)
{
	return stream_make(rfd, wfd, -1, max_line, timeout_ms);
}

struct stream *stream_new_socket(int fd, size_t max_line, int timeout_ms)
{
	return stream_make(fd, fd, 1, max_line, timeout_ms);
}

void stream_set_timeout(struct stream *s, int timeout_ms)
{
	s->timeout_ms = timeout_ms;
}

int stream_read_blocking(struct stream *s)
{
	/* Whether the socket blocks is asked only when a read says EAGAIN
	 * (stream_blocking_read): an fcntl per connection saved. */
	s->blocking = s->rsock;
	return s->blocking ? 0 : -1;
}

/* A blocking read of the socket that ends after the stream's timeout
 * (SO_RCVTIMEO, set when it changes): one system call where poll + read
 * are two.  > 0 bytes, 0 end of file, -1 with errno (ETIMEDOUT); -2 when
 * the option cannot be set (the caller polls instead). */
static ssize_t stream_blocking_read(struct stream *s, void *p, size_t n)
{
	if (s->rcvtimeo_ms != s->timeout_ms) {
		struct timeval tv = { .tv_sec = s->timeout_ms / 1000, .tv_usec = (s->timeout_ms % 1000) * 1000 };

		if (setsockopt(s->rfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0) {
			s->blocking = 0;
			return -2;
		}
		s->rcvtimeo_ms = s->timeout_ms;
	}
	for (;;) {
		ssize_t r = read(s->rfd, p, n);

		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int fl = fcntl(s->rfd, F_GETFL);

			/* A socket that does not block (not what the caller
			 * said) answers at once: poll from now on. */
			if (fl >= 0 && (fl & O_NONBLOCK) != 0) {
				s->blocking = 0;
				return -2;
			}
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static long long stream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stream_set_deadline(struct stream *s, int ms)
{
	/* now >= 0 and ms > 0: a set deadline is never the 0 of "none". */
	s->deadline = ms > 0 ? stream_now_ms() + ms : 0;
}

void stream_set_max_line(struct stream *s, size_t max_line)
{
	s->max_line = max_line > 0 ? max_line : 1;
}

size_t stream_get_max_line(const struct stream *s)
{
	return s->max_line;
}

int stream_fd(const struct stream *s)
{
	return s->rfd;
}

static enum stream_status stream_inflate_buffered(struct stream *s);

size_t stream_pending(struct stream *s)
{
	/* Compressed input already here counts by what it inflates to,
	 * which only inflating tells: 0 must mean that a read would wait
	 * for the peer (the caller flushes then, or polls the descriptor). */
	if (s->end == s->start && s->z != NULL && stream_deflate_in_ready(s->z))
		(void)stream_inflate_buffered(s);   /* an error shows at the next read */
	return s->end - s->start;
}

const char *stream_peek(const struct stream *s)
{
	return s->in != NULL ? s->in + s->start : "";
}

int stream_toolong_crlf(const struct stream *s)
{
	return s->toolong_crlf;
}

void stream_free(struct stream **sp)
{
	struct stream *s = *sp;

	if (s == NULL)
		return;
	if (s->ssl != NULL) {
		/* One non-blocking attempt at close_notify; a peer that is
		 * gone or slow does not hold us up. */
		(void)SSL_shutdown(s->ssl);
		SSL_free(s->ssl);
		ERR_clear_error();
	}
	stream_deflate_free(&s->z);
	buf_free(&s->out);   /* wipes */
	if (s->in != NULL)
		explicit_bzero(s->in, s->in_cap);   /* it may have held a password */
	free(s->in);
	free(s);
	*sp = NULL;
}

/* ---- raw I/O: the TLS slot ---- */

int stream_wait_ms(const struct stream *s)
{
	int ms = s->timeout_ms > 0 ? s->timeout_ms : -1;
	long long left;

	if (s->deadline == 0)
		return ms;
	left = s->deadline - stream_now_ms();
	if (left <= 0)
		return 0;
	return ms < 0 || left < ms ? (int)left : ms;
}

/* Wait until fd is ready for events; 0 ready, -1 with errno (ETIMEDOUT). */
static int stream_wait(const struct stream *s, int fd, short events)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	do {
		int ms = stream_wait_ms(s);
		r = ms == 0 ? 0 : poll(&pfd, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return r < 0 ? -1 : 0;
}

/* What OpenSSL wants before an operation can go on: wait for it.  1 to
 * retry, 0 for a clean end (close_notify), -1 with errno. */
/* Why the last TLS call failed, kept before the error queue is
 * cleared: a failed handshake is logged with it. */
static char stream_tls_why[160];

static void stream_tls_note(const struct stream *s, int e)
{
	int saved = errno;
	/* the last error: the one that ended the handshake (an earlier one
	 * may be a lookup in the CA store that found nothing) */
	unsigned long code = ERR_peek_last_error();
	const char *reason = code != 0 ? ERR_reason_error_string(code) : NULL;
	/* a verifying client's refusal of the peer's certificate (without
	 * verification the result is only noted, never the failure) */
	long verify = s->ssl != NULL && (SSL_get_verify_mode(s->ssl) & SSL_VERIFY_PEER) != 0
		      ? SSL_get_verify_result(s->ssl) : X509_V_OK;

	if (e == SSL_ERROR_SSL && verify != X509_V_OK)   /* why the certificate was refused */
		snprintf(stream_tls_why, sizeof stream_tls_why, "certificate verify failed: %s",
			 X509_verify_cert_error_string(verify));
	else if (e == SSL_ERROR_SSL && reason != NULL)
		snprintf(stream_tls_why, sizeof stream_tls_why, "%s", reason);
	else if (e == SSL_ERROR_SSL)
		snprintf(stream_tls_why, sizeof stream_tls_why, "protocol error");
	else if (e == SSL_ERROR_SYSCALL && saved != 0)
		snprintf(stream_tls_why, sizeof stream_tls_why, "%s", strerror(saved));
	else
		snprintf(stream_tls_why, sizeof stream_tls_why, "the peer closed the connection");
	errno = saved;
}

static int stream_tls_retry(struct stream *s, int r)
{
	int e = SSL_get_error(s->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return stream_wait(s, s->rfd, POLLIN) < 0 ? -1 : 1;
	case SSL_ERROR_WANT_WRITE:
		return stream_wait(s, s->wfd, POLLOUT) < 0 ? -1 : 1;
	case SSL_ERROR_ZERO_RETURN:
		stream_tls_note(s, e);
		return 0;
	case SSL_ERROR_SYSCALL:
		if (errno == EINTR)
			return 1;
		stream_tls_note(s, e);
		if (errno == 0)
			errno = EPIPE;
		ERR_clear_error();
		return -1;
	default:
		stream_tls_note(s, e);
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

static ssize_t stream_tls_read(struct stream *s, void *p, size_t n)
{
	for (;;) {
		size_t got = 0;
		int r;

		errno = 0;
		r = SSL_read_ex(s->ssl, p, n, &got);
		if (r == 1)
			return (ssize_t)got;
		r = stream_tls_retry(s, r);
		if (r <= 0)
			return r;
	}
}

static ssize_t stream_tls_write(struct stream *s, const void *p, size_t n)
{
	for (;;) {
		size_t done = 0;
		int r;

		errno = 0;
		r = SSL_write_ex(s->ssl, p, n, &done);
		if (r == 1)
			return (ssize_t)done;
		r = stream_tls_retry(s, r);
		if (r == 0) {
			errno = EPIPE;   /* the peer closed the TLS session */
			return -1;
		}
		if (r < 0)
			return -1;
	}
}

/* Read at most n bytes: > 0 bytes, 0 end of file, -1 with errno. */
static ssize_t stream_raw_read(struct stream *s, void *p, size_t n)
{
	int quick = 0;   /* this round reads without waiting */

	if (s->ssl != NULL)
		return stream_tls_read(s, p, n);
	/* Under a deadline every wait is computed anew: poll. */
	if (s->blocking && s->deadline == 0 && s->timeout_ms > 0) {
		ssize_t r = stream_blocking_read(s, p, n);

		if (r != -2) {
			s->more = r > 0 && (size_t)r == n;
			return r;
		}
	}
	/* After a read that filled its room (bulk data: a message, a
	 * literal) the next bytes are most likely waiting already: a socket
	 * is read first without waiting, as long as the deadline has not
	 * passed, which saves the poll(2) of every 8 KB.  A command after
	 * a reply is usually not there yet: that read polls first. */
	if (s->more && s->rsock && stream_wait_ms(s) != 0)
		quick = 1;
	for (;; quick = 0) {
		ssize_t r;

		if (!quick && stream_wait(s, s->rfd, POLLIN) < 0)
			return -1;
		r = quick ? recv(s->rfd, p, n, MSG_DONTWAIT) : read(s->rfd, p, n);
		if (r >= 0) {
			s->more = (size_t)r == n;
			return r;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
	}
}

/* Write at most n bytes: > 0 bytes written, -1 with errno. */
static ssize_t stream_raw_write(struct stream *s, const void *p, size_t n)
{
	if (s->ssl != NULL)
		return stream_tls_write(s, p, n);
	for (int tries = 0;; tries++) {
		ssize_t r;

		/* A socket is tried first without waiting: its send buffer
		 * nearly always has room, and a poll(2) before every reply
		 * was one system call in three of an SMTP session.  Only a
		 * full buffer (EAGAIN) waits, under the stream's timeout.  A
		 * pipe or file cannot be written without blocking: it waits
		 * first. */
		if ((!s->wsock || tries > 0) && stream_wait(s, s->wfd, POLLOUT) < 0)
			return -1;
		r = s->wsock ? send(s->wfd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT) : write(s->wfd, p, n);
		if (r > 0)
			return r;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
	}
}

static enum stream_status stream_status_of_errno(void)
{
	return errno == ETIMEDOUT ? STREAM_TIMEOUT : STREAM_ERROR;
}

/* ---- input ---- */

/* Room for the input buffer: a whole line plus read-ahead. */
static size_t stream_in_limit(const struct stream *s)
{
	size_t lim;

	if (__builtin_add_overflow(s->max_line, (size_t)STREAM_SLACK, &lim))
		lim = s->max_line;
	return lim;
}

/* Move unread bytes to the front and make sure there is room to read:
 * the buffer starts small and doubles, up to a line plus read-ahead. */
static int stream_make_room(struct stream *s)
{
	size_t pending = s->end - s->start, lim = stream_in_limit(s), want;
	char *p;

	if (s->start > 0) {
		memmove(s->in, s->in + s->start, pending);
		s->start = 0;
		s->end = pending;
	}
	if (s->end < s->in_cap)
		return 0;
	if (s->in_cap == 0)
		want = STREAM_IN_INITIAL;
	else if (__builtin_mul_overflow(s->in_cap, (size_t)2, &want))
		want = lim;
	if (want > lim)
		want = lim;
	if (want <= s->in_cap) {
		/* Cannot happen: an unfinished line never exceeds max_line. */
		errno = ENOBUFS;
		return -1;
	}
	/* Not realloc: the old block may hold a password and must be wiped. */
	p = malloc(want);
	if (p == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (s->in != NULL) {
		memcpy(p, s->in, s->end);
		explicit_bzero(s->in, s->in_cap);
		free(s->in);
	}
	s->in = p;
	s->in_cap = want;
	return 0;
}

/* ---- the deflate layer (RFC 4978): between the buffers and raw I/O ---- */

/* Inflate what is buffered into the input buffer, reading nothing:
 * STREAM_OK with bytes or none, STREAM_EOF at the end of the peer's
 * deflate stream, STREAM_ERROR (EBADMSG) for corrupt input.  Room comes
 * from the usual bounds (stream_make_room): an inflated line or literal
 * is held to the same limits as a plain one. */
static enum stream_status stream_inflate_buffered(struct stream *s)
{
	enum stream_deflate_status st;
	size_t made;

	/* Append behind the last line handed out while there is room, so
	 * that it stays readable in the common case (see stream_pending). */
	if ((s->in == NULL || s->end == s->in_cap) && stream_make_room(s) < 0)
		return STREAM_ERROR;
	st = stream_deflate_inflate(s->z, s->in + s->end, s->in_cap - s->end, &made);
	s->end += made;
	if (st == STREAM_DEFLATE_CORRUPT) {
		errno = EBADMSG;
		return STREAM_ERROR;
	}
	if (st == STREAM_DEFLATE_END) {
		s->eof = 1;
		return STREAM_EOF;
	}
	return STREAM_OK;
}

/* stream_fill under compression: inflate, reading compressed input from
 * the descriptor only when what is buffered gives nothing. */
static enum stream_status stream_fill_inflate(struct stream *s)
{
	for (;;) {
		size_t before = s->end, room;
		enum stream_status st = stream_inflate_buffered(s);
		void *p;
		ssize_t n;

		if (s->end > before)
			return STREAM_OK;
		if (st != STREAM_OK)
			return st;
		stream_deflate_in_room(s->z, &p, &room);
		if (room == 0) {
			/* Cannot happen: an inflate with room to write takes all input. */
			errno = ENOBUFS;
			return STREAM_ERROR;
		}
		n = stream_raw_read(s, p, room);
		if (n < 0)
			return stream_status_of_errno();
		if (n == 0) {
			s->eof = 1;
			return STREAM_EOF;
		}
		stream_deflate_in_added(s->z, (size_t)n);
	}
}

/* Read more input into the buffer. */
static enum stream_status stream_fill(struct stream *s)
{
	ssize_t n;

	if (stream_make_room(s) < 0)
		return STREAM_ERROR;
	if (s->z != NULL)
		return stream_fill_inflate(s);
	n = stream_raw_read(s, s->in + s->end, s->in_cap - s->end);
	if (n < 0)
		return stream_status_of_errno();
	if (n == 0) {
		s->eof = 1;
		return STREAM_EOF;
	}
	s->end += (size_t)n;
	return STREAM_OK;
}

static void stream_drop(struct stream *s, size_t n)
{
	s->start += n;
	s->scanned = 0;
}

/* A complete line of len bytes sits at start: hand it out or reject it. */
static enum stream_status stream_take_line(struct stream *s, size_t len,
					   const char **line_r, size_t *len_r)
{
	const char *line = s->in + s->start;

	stream_drop(s, len);
	if (s->discarding || len > s->max_line) {
		/* The byte before the LF: in this piece, or, when the LF came
		 * first, the last one already discarded. */
		s->toolong_crlf = len >= 2 ? line[len - 2] == '\r' : s->discarding && s->discard_cr;
		s->discarding = 0;
		s->discard_cr = 0;
		return STREAM_TOOLONG;
	}
	*line_r = line;
	*len_r = len;
	return STREAM_OK;
}

/* No LF buffered and the peer closed: return what is left. */
static enum stream_status stream_line_at_eof(struct stream *s, const char **line_r, size_t *len_r)
{
	size_t pending = s->end - s->start;

	if (s->discarding) {
		s->discarding = 0;
		s->discard_cr = 0;
		s->toolong_crlf = 0;   /* no line end at all */
		stream_drop(s, pending);
		return STREAM_TOOLONG;
	}
	*line_r = s->in + s->start;
	*len_r = pending;
	stream_drop(s, pending);
	return STREAM_EOF;
}

enum stream_status stream_read_line(struct stream *s, const char **line_r, size_t *len_r)
{
	*line_r = "";
	*len_r = 0;
	for (;;) {
		size_t pending = s->end - s->start;
		const char *lf = NULL;
		enum stream_status st;

		if (pending > s->scanned)
			lf = memchr(s->in + s->start + s->scanned, '\n', pending - s->scanned);
		if (lf != NULL)
			return stream_take_line(s, (size_t)(lf - (s->in + s->start)) + 1, line_r, len_r);
		s->scanned = pending;
		if (s->discarding || pending >= s->max_line) {
			/* Too long already: forget it, keep looking for its end,
			 * remembering whether a CR may be waiting for its LF. */
			s->discarding = 1;
			if (pending > 0)
				s->discard_cr = s->in[s->start + pending - 1] == '\r';
			stream_drop(s, pending);
		}
		if (s->eof)
			return stream_line_at_eof(s, line_r, len_r);
		st = stream_fill(s);
		if (st != STREAM_OK && st != STREAM_EOF)
			return st;
	}
}

/* Move up to n buffered bytes into out (or drop them when out is NULL). */
static size_t stream_take_buffered(struct stream *s, size_t n, struct buf *out)
{
	size_t k = s->end - s->start;

	if (k > n)
		k = n;
	if (out != NULL && k > 0)
		buf_append(out, s->in + s->start, k);   /* room checked by caller */
	stream_drop(s, k);
	return k;
}

/* Read n bytes into out, or drop them when out is NULL. */
static enum stream_status stream_transfer(struct stream *s, size_t n, struct buf *out)
{
	while (n > 0) {
		enum stream_status st;

		n -= stream_take_buffered(s, n, out);
		if (n == 0)
			break;
		if (s->eof)
			return STREAM_EOF;
		st = stream_fill(s);
		if (st != STREAM_OK && st != STREAM_EOF)
			return st;
	}
	return STREAM_OK;
}

enum stream_status stream_read_exact(struct stream *s, size_t n, struct buf *out)
{
	size_t total;
	enum stream_status st;

	/* Too much for out: still consume the bytes, so that the stream
	 * stays in step and the caller can answer with a clean error. */
	if (__builtin_add_overflow(out->len, n, &total) || total > out->max) {
		st = stream_transfer(s, n, NULL);
		return st == STREAM_OK ? STREAM_TOOLONG : st;
	}
	return stream_transfer(s, n, out);
}

enum stream_status stream_read_some(struct stream *s, const char **p_r, size_t *len_r)
{
	*p_r = "";
	*len_r = 0;
	if (s->end == s->start) {
		if (s->eof)
			return STREAM_EOF;
		s->start = s->end = 0;   /* all consumed: room at the front again */
		s->scanned = 0;
		enum stream_status st = stream_fill(s);
		if (st != STREAM_OK)
			return st;
	}
	*p_r = s->in + s->start;
	*len_r = s->end - s->start;
	return STREAM_OK;
}

void stream_consume(struct stream *s, size_t n)
{
	size_t k = s->end - s->start;

	stream_drop(s, n < k ? n : k);
}

int stream_preload(struct stream *s, const void *p, size_t n)
{
	if (s->in != NULL || s->eof || s->ssl != NULL || s->z != NULL)
		return -1;
	if (n == 0)
		return 0;
	/* Room for the bytes, however many; later growth is bounded as
	 * usual (stream_make_room), and line reads consume them first. */
	s->in = malloc(n > STREAM_IN_INITIAL ? n : STREAM_IN_INITIAL);
	if (s->in == NULL)
		return -1;
	s->in_cap = n > STREAM_IN_INITIAL ? n : STREAM_IN_INITIAL;
	memcpy(s->in, p, n);
	s->start = 0;
	s->end = n;
	s->scanned = 0;
	return 0;
}

/* ---- output ---- */

/* Write all of p (the deflate layer's emit). */
static int stream_write_all(void *ctx, const void *p, size_t n)
{
	struct stream *s = ctx;
	const char *c = p;

	while (n > 0) {
		ssize_t w = stream_raw_write(s, c, n);

		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Write the queued output.  Under compression a burst's end (sync: every
 * stream_flush) flushes the compressor too (RFC 4978 4); making room in
 * the middle of a burst does not, which keeps the ratio of a large FETCH. */
static int stream_send(struct stream *s, bool sync)
{
	if (s->z != NULL) {
		int r = stream_deflate_out(s->z, s->out.data, s->out.len, sync, stream_write_all, s);

		buf_consume(&s->out, s->out.len);   /* after a failure the stream is dead anyway */
		return r;
	}
	while (s->out.len > 0) {
		ssize_t n = stream_raw_write(s, s->out.data, s->out.len);

		if (n < 0)
			return -1;
		buf_consume(&s->out, (size_t)n);
	}
	return 0;
}

int stream_flush(struct stream *s)
{
	return stream_send(s, true);
}

int stream_write(struct stream *s, const void *p, size_t n)
{
	const char *c = p;

	/* A write as large as the buffer (a FETCH's batch of responses)
	 * goes out from the caller's memory, after what is queued: no
	 * copy, and a few large sends.  Compression takes it through the
	 * buffer as usual. */
	if (n >= STREAM_OUT_MAX && s->z == NULL)
		return stream_send(s, false) < 0 ? -1 : stream_write_all(s, p, n);

	while (n > 0) {
		size_t room = s->out.max - s->out.len;

		if (room == 0) {
			if (stream_send(s, false) < 0)
				return -1;
			continue;
		}
		if (room > n)
			room = n;
		if (buf_append(&s->out, c, room) < 0)
			return -1;
		c += room;
		n -= room;
	}
	return 0;
}

int stream_puts(struct stream *s, const char *str)
{
	return stream_write(s, str, strlen(str));
}

int stream_printf(struct stream *s, const char *fmt, ...)
{
	va_list ap, ap2;
	int n, r;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || (size_t)n > s->out.max) {
		va_end(ap);
		errno = n < 0 ? EINVAL : EMSGSIZE;
		return -1;
	}
	if ((size_t)n > s->out.max - s->out.len && stream_send(s, false) < 0) {
		va_end(ap);
		return -1;
	}
	r = buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	return r;
}

/* ---- TLS ---- */

/* Whether name is an IP literal, which RFC 6066 3 keeps out of SNI. */
static int stream_is_ip_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* The per-connection set-up of a client: SNI and the name to check. */
static int stream_tls_client_name(SSL *ssl, const char *sni)
{
	if (sni == NULL || *sni == '\0')
		return 0;
	if (!stream_is_ip_literal(sni) && SSL_set_tlsext_host_name(ssl, sni) != 1)
		return -1;
	/* Checked with the chain; with verification off only recorded. */
	return SSL_set1_host(ssl, sni) == 1 ? 0 : -1;
}

static int stream_tls_handshake(struct stream *s, int server)
{
	for (;;) {
		int r;

		errno = 0;
		r = server ? SSL_accept(s->ssl) : SSL_connect(s->ssl);
		/* The client's Finished is acknowledged at once, whether it
		 * is still to come or was read already (sockets.h). */
		if (server)
			socket_quick_ack(s->rfd);
		if (r == 1)
			return 0;
		r = stream_tls_retry(s, r);
		if (r <= 0)
			return -1;
	}
}

int stream_start_tls(struct stream *s, SSL_CTX *ctx, int server, const char *sni,
		     int handshake_ms, const char **error_r)
{
	long long saved;
	int r;

	if (s->ssl != NULL) {
		*error_r = "TLS is already active";
		return -1;
	}
	if (s->z != NULL) {
		/* RFC 4978 3: TLS goes below compression, never inside it. */
		*error_r = "TLS cannot start inside compression";
		return -1;
	}
	if (stream_flush(s) < 0) {
		*error_r = "cannot write before the TLS handshake";
		return -1;
	}
	/* RFC 3207 4.2 / CVE-2011-0411: plaintext that arrived before the
	 * handshake is never read as if it came through TLS. */
	s->tls_discarded = s->end - s->start;
	stream_drop(s, s->tls_discarded);
	s->discarding = 0;
	s->discard_cr = 0;
	ERR_clear_error();
	s->ssl = SSL_new(ctx);
	if (s->ssl == NULL || SSL_set_rfd(s->ssl, s->rfd) != 1 || SSL_set_wfd(s->ssl, s->wfd) != 1 ||
	    (!server && stream_tls_client_name(s->ssl, sni) < 0)) {
		*error_r = tls_last_error("cannot set up TLS");
		return -1;
	}
	/* Non-blocking, so that every wait goes through poll() and its
	 * timeout; a blocking SSL_read could wait forever on half a record. */
	s->blocking = 0;
	if (fd_set_nonblock(s->rfd, 1) < 0 || fd_set_nonblock(s->wfd, 1) < 0) {
		*error_r = "cannot make the connection non-blocking";
		return -1;
	}
	/* The handshake as a whole within handshake_ms (and within an
	 * earlier deadline of the caller's, if that comes first). */
	saved = s->deadline;
	if (handshake_ms > 0) {
		stream_set_deadline(s, handshake_ms);
		if (saved != 0 && saved < s->deadline)
			s->deadline = saved;
	}
	stream_tls_why[0] = '\0';
	r = stream_tls_handshake(s, server);
	s->deadline = saved;
	if (r < 0) {
		static char why[sizeof stream_tls_why + 32];

		if (errno == ETIMEDOUT)
			*error_r = "TLS handshake timed out";
		else if (stream_tls_why[0] != '\0') {
			snprintf(why, sizeof why, "TLS handshake failed: %s", stream_tls_why);
			*error_r = why;
		} else
			*error_r = tls_last_error("TLS handshake failed");
		return -1;
	}
	return 0;
}

int stream_tls_active(const struct stream *s)
{
	return s->ssl != NULL;
}

int stream_tls_info(const struct stream *s, const char **proto_r, const char **cipher_r,
		    int *bits_r)
{
	const SSL_CIPHER *c;

	if (s->ssl == NULL || (c = SSL_get_current_cipher(s->ssl)) == NULL)
		return -1;
	*proto_r = SSL_get_version(s->ssl);
	*cipher_r = SSL_CIPHER_get_name(c);
	*bits_r = SSL_CIPHER_get_bits(c, NULL);
	return 0;
}

int stream_tls_peer_verified(const struct stream *s)
{
	return s->ssl != NULL && SSL_get0_peer_certificate(s->ssl) != NULL &&
	       SSL_get_verify_result(s->ssl) == X509_V_OK;
}

size_t stream_tls_discarded(const struct stream *s)
{
	return s->tls_discarded;
}

SSL *stream_tls_detach(struct stream *s)
{
	SSL *ssl = s->ssl;

	s->ssl = NULL;
	return ssl;
}

/* ---- compression (common/stream_deflate.c) ---- */

int stream_start_deflate(struct stream *s, struct stream_deflate **zp)
{
	size_t ahead;

	if (s->z != NULL) {
		errno = EALREADY;
		return -1;
	}
	/* RFC 4978 3: what is queued (the tagged OK) goes out as it is;
	 * compression starts right after it. */
	if (stream_flush(s) < 0)
		return -1;
	/* What the client sent after its COMPRESS command is compressed
	 * already: it goes back in front of the inflater. */
	ahead = s->end - s->start;
	if (ahead > 0 && stream_deflate_in_put(*zp, s->in + s->start, ahead) < 0)
		return -1;
	if (s->in != NULL)
		explicit_bzero(s->in, s->in_cap);
	s->start = s->end = 0;
	s->scanned = 0;
	s->discarding = 0;
	s->discard_cr = 0;
	s->z = *zp;
	*zp = NULL;
	return 0;
}

int stream_deflate_active(const struct stream *s)
{
	return s->z != NULL;
}

const char *stream_deflate_failure(const struct stream *s)
{
	return s->z != NULL ? stream_deflate_error(s->z) : NULL;
}
