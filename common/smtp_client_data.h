/* smtp_client_data: the client's DATA pump, shared by remote delivery
 * (SMTP) and LMTP.  It sends the header fields to prepend and the stored
 * message (LF line ends, read with pread from a queue or spool file) in
 * DATA wire form through common/smtp_data's smtp_dot_*: every LF, CRLF
 * and bare CR as CRLF, a leading '.' doubled (RFC 5321 4.5.2), then the
 * final ".", and flushes.  The reply to the final dot is the caller's:
 * one for SMTP, one per accepted recipient for LMTP (RFC 2033 4.2). */
#ifndef POSTERN_SMTP_CLIENT_DATA_H
#define POSTERN_SMTP_CLIENT_DATA_H

#include <stddef.h>
#include <sys/types.h>

#include "stream.h"

#define SMTP_CLIENT_DATA_BLOCK 65536   /* bytes per pread and per conversion */

/* What to send: prepend (may be NULL when prepend_len is 0), then
 * bytes [offset, offset + size) of fd. */
struct smtp_client_body {
	const char *prepend;
	size_t prepend_len;
	int fd;
	off_t offset, size;
};

/* Call fn(arg, p, n) on the file bytes of b (not the prepend), block by
 * block, in order: one pass over the stored message, for the pump and
 * for remote's size scan.  0, fn's negative value, or -2 when reading
 * fd failed (fn must not return -2). */
int smtp_client_body_read(const struct smtp_client_body *b, int (*fn)(void *arg, const char *p, size_t n),
			  void *arg);
/* Send b and the final dot on s (with the stream's timeout per block).
 * 0, -1 the connection failed, -2 reading fd failed (our fault, not the
 * server's: the caller defers with 4.3.0). */
int smtp_client_send_data(struct stream *s, const struct smtp_client_body *b);

#endif
