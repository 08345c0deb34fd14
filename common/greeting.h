/* greeting: the first reply of each protocol's server (and IMAP's
 * capabilities, which its greeting carries), written in one place
 * because two programs send it: the service itself (smtpd) and,
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

struct buf;
/* Set APPENDLIMIT (message_size_limit) in the IMAP capabilities; once,
 * before the others are used. */
void greeting_imap_init(unsigned long long appendlimit);
/* What an IMAP session offers once logged in (RFC 9051 6.1.1). */
const char *greeting_imap_session_caps(void);
/* The capabilities before login into out (reset first): the session's,
 * SASL-IR, STARTTLS when it can be started, AUTH=PLAIN AUTH=LOGIN or
 * LOGINDISABLED as the plaintext policy says.  0 or -1. */
int greeting_imap_login_caps(struct buf *out, int starttls, int plaintext_ok);
/* The IMAP greeting with those capabilities, without CRLF, into out. */
int greeting_imap(struct buf *out, int starttls, int plaintext_ok);

#endif
