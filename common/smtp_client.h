/* smtp_client: the conversation primitives of Postern's one SMTP-family
 * client, shared by remote delivery (deliver/remote_smtp.c, SMTP) and
 * LMTP (common/lmtp_client.c, also the verify probe):
 *
 *   connect   smtp_client_connect: a blocking socket within a timeout
 *   write     smtp_client_send: one command line, flushed or held back
 *             for pipelining (RFC 2920)
 *   read      smtp_client_read_reply: one whole reply, line by line
 *             through common/smtp_reply (lines, text and code bounded)
 *   both      smtp_client_command: one lock-step command and its reply
 *
 * The DATA pump is common/smtp_client_data; how a reply becomes a status
 * and a reason is smtp_reply_dsn / smtp_reply_said.  What differs between
 * the dialects (LHLO or EHLO, one reply per recipient after the final
 * dot, STARTTLS and AUTH) stays with the callers, as do the timeouts:
 * these functions use the stream's own. */
#ifndef POSTERN_SMTP_CLIENT_H
#define POSTERN_SMTP_CLIENT_H

#include <sys/socket.h>

#include "smtp_reply.h"
#include "stream.h"

#define SMTP_CLIENT_LINE_MAX 4096     /* longest reply line accepted (RFC 5321 4.5.3.1.5: 512) */

/* A connected, blocking stream socket to addr within ms (<= 0: no
 * limit).  fd, or -1 with errno (ETIMEDOUT when ms passed). */
int smtp_client_connect(const struct sockaddr *addr, socklen_t len, int ms);
/* Write cmd and CRLF; flush unless the caller pipelines more.  0 or -1. */
int smtp_client_send(struct stream *s, const char *cmd, int flush);
/* Read one whole reply into r.  Its code, or -1 with *error_r
 * ("timeout", "lost connection", "reply line too long", "read error" or
 * the grammar error of smtp_reply_line). */
int smtp_client_read_reply(struct stream *s, struct smtp_reply *r, const char **error_r);
/* smtp_client_send (flushed), then smtp_client_read_reply.  The code,
 * -1 the reply failed (*error_r as above), -2 the write failed
 * (*error_r "write error"). */
int smtp_client_command(struct stream *s, struct smtp_reply *r, const char *cmd, const char **error_r);

#endif
