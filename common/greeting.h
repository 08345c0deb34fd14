/* greeting: the first reply of each protocol's server, written in one
 * place because two programs send it: the service itself (smtpd) and,
 * when the connection front holds the port, the front in its stead
 * (front/front.c, docs/front.md).  A client must not tell them apart. */
#ifndef POSTERN_GREETING_H
#define POSTERN_GREETING_H

#include <stddef.h>

/* The SMTP greeting for hostname, without CRLF (RFC 5321 4.2: no
 * enhanced code, RFC 2034 3).  0, or -1 when it does not fit in len. */
int greeting_smtp(char *out, size_t len, const char *hostname);
/* The POP3 greeting of the login process, without CRLF (RFC 1939 4). */
#define GREETING_POP3 "+OK Postern POP3 ready"

#endif
