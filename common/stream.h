/* stream: buffered, bounded line I/O over a descriptor pair.  Reads lines
 * up to a maximum length with a per-read timeout; an overlong line is
 * reported (STREAM_TOOLONG, the rest of it discarded up to its LF), never
 * truncated.  Writes are buffered until stream_flush() or until the output
 * buffer fills.  Used for every protocol, network and inter-process. */
#ifndef POSTERN_STREAM_H
#define POSTERN_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

enum stream_status {
	STREAM_OK = 0,
	STREAM_EOF,      /* peer closed; a partial last line is returned as STREAM_EOF with len_r > 0 */
	STREAM_TOOLONG,  /* line longer than max_line: discarded through its LF */
	STREAM_TIMEOUT,  /* no input within the timeout */
	STREAM_ERROR,    /* read or write error (errno set) */
};

struct stream;

/* New stream reading rfd and writing wfd (may be equal); lines at most
 * max_line bytes including the terminator; timeout_ms <= 0 means none. */
struct stream *stream_new(int rfd, int wfd, size_t max_line, int timeout_ms);
/* The same for a socket the caller made or accepted (read and written
 * both): no fstat(2) to find out what it is. */
struct stream *stream_new_socket(int fd, size_t max_line, int timeout_ms);
/* Change the read/write timeout. */
void stream_set_timeout(struct stream *s, int timeout_ms);
/* Reads of the stream's socket (it must be blocking) wait in the kernel
 * under SO_RCVTIMEO instead of poll() + read(): one system call a read.
 * Only for a socket the stream's process owns to its end: the option
 * stays on the socket.  Without TLS, timeout > 0 and no deadline; other
 * reads poll as before.  0, or -1 (not a socket: nothing changes); a
 * socket found not to block at its first read that has to wait is
 * polled from then on. */
int stream_read_blocking(struct stream *s);
/* From now on every wait ends at the latest ms milliseconds from now
 * (STREAM_TIMEOUT / ETIMEDOUT), whatever the per-wait timeout; a peer
 * sending a byte now and then cannot stretch it.  ms <= 0: no deadline. */
void stream_set_deadline(struct stream *s, int ms);
/* How long the next wait may last: the timeout, cut to what is left
 * before the deadline.  -1 forever, 0 the deadline has passed. */
int stream_wait_ms(const struct stream *s);
/* Change the maximum line length. */
void stream_set_max_line(struct stream *s, size_t max_line);
/* The current maximum line length (to save and restore it). */
size_t stream_get_max_line(const struct stream *s);
/* Read one line; *line_r and *len_r include the terminating LF (and CR if
 * any).  The pointer is valid until the next read call. */
enum stream_status stream_read_line(struct stream *s, const char **line_r, size_t *len_r);
/* Read exactly n bytes, appended to out.  If out's cap would be exceeded
 * the n bytes are read and dropped and STREAM_TOOLONG is returned (the
 * stream stays in step); STREAM_EOF if the peer closes first. */
enum stream_status stream_read_exact(struct stream *s, size_t n, struct buf *out);
/* The buffered input, waiting (within the timeout) for at least one byte
 * when none is buffered: *p_r, *len_r valid until the next read.  Bytes
 * stay buffered until stream_consume() takes them, so a byte parser (an
 * IMAP literal has no line end) may use part and see the rest again. */
enum stream_status stream_read_some(struct stream *s, const char **p_r, size_t *len_r);
/* Drop the first n buffered bytes (after stream_read_some). */
void stream_consume(struct stream *s, size_t n);
/* The input already buffered: stream_pending() bytes, valid until the next read. */
const char *stream_peek(const struct stream *s);
/* Bytes already buffered on the input side (PIPELINING: flush when 0).
 * Under compression buffered compressed input is inflated to count it,
 * which may reuse the memory of a line stream_read_line returned. */
size_t stream_pending(struct stream *s);
/* Make n bytes the first input of a stream that has read nothing yet, as
 * if they had come from its descriptor (what another process had already
 * read from it: login_handoff).  0, or -1 (not a fresh stream, no memory). */
int stream_preload(struct stream *s, const void *p, size_t n);
/* Whether the line last reported as STREAM_TOOLONG ended in CRLF (its CR
 * and LF may have arrived in different reads); 0 for a bare LF or none. */
int stream_toolong_crlf(const struct stream *s);
/* Queue n bytes for output. 0 or -1. */
int stream_write(struct stream *s, const void *p, size_t n);
/* Queue a string. */
int stream_puts(struct stream *s, const char *str);
/* Queue printf-formatted output (bounded by the output buffer cap). */
int stream_printf(struct stream *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Write all queued output, waiting at most the timeout. 0 or -1. */
int stream_flush(struct stream *s);
/* The read descriptor (for poll or fd passing). */
int stream_fd(const struct stream *s);
/* Flush nothing, free the stream (and its TLS state, after a best-effort
 * close_notify), close neither descriptor; *s = NULL. */
void stream_free(struct stream **s);

/* ---- TLS (contexts: common/tls.h) ---- */
typedef struct ssl_ctx_st SSL_CTX;

/* Flush pending output, discard every byte of buffered input (RFC 3207
 * 4.2 and CVE-2011-0411: nothing sent in plaintext may be taken as if it
 * came through TLS), then run the TLS handshake as server or client:
 * each wait within the stream's timeout, the whole handshake within
 * handshake_ms (<= 0: no such bound; tls_handshake_ms() gives the
 * configured one).  A client sends sni as server name (unless it is an
 * IP literal) and checks the certificate against it.  From then on every
 * read and write goes through TLS.  0, or -1 with *error_r (static text,
 * "TLS handshake timed out" when a bound was hit); after a failure the
 * stream is unusable. */
int stream_start_tls(struct stream *s, SSL_CTX *ctx, int server, const char *sni,
		     int handshake_ms, const char **error_r);
/* Whether TLS is active on the stream. */
int stream_tls_active(const struct stream *s);
/* Negotiated protocol ("TLSv1.3"), cipher name and its secret bits; 0, or
 * -1 when TLS is not active. */
int stream_tls_info(const struct stream *s, const char **proto_r, const char **cipher_r,
		    int *bits_r);
/* Whether the peer presented a certificate that verified, name included
 * (meaningful on the client side, also with verification off). */
int stream_tls_peer_verified(const struct stream *s);
/* Bytes of input that stream_start_tls discarded (for the log). */
size_t stream_tls_discarded(const struct stream *s);
typedef struct ssl_st SSL;
/* Give the TLS session to another owner (common/login_proxy.c), which
 * then reads and writes the descriptors through it; the stream forgets
 * it (stream_free sends no close_notify).  Flush the output and take the
 * input (stream_peek) first: what the stream holds stays there.
 * NULL when TLS is not active. */
SSL *stream_tls_detach(struct stream *s);

/* ---- compression (RFC 4978 COMPRESS=DEFLATE; common/stream_deflate.h) ---- */
struct stream_deflate;

/* Flush what is queued as it is (the tagged OK), then compress every
 * later write and inflate every later read, the input already buffered
 * (sent after the COMPRESS command) included.  Takes *zp (*zp = NULL)
 * on success.  0, or -1 with errno (EALREADY when already on); after a
 * failure the peer may already compress: end the session. */
int stream_start_deflate(struct stream *s, struct stream_deflate **zp);
/* Whether compression is on. */
int stream_deflate_active(const struct stream *s);
/* Why the compressed input was refused (reads then fail with EBADMSG), or NULL. */
const char *stream_deflate_failure(const struct stream *s);

#endif
