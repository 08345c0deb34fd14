/* lmtp_dest: where LMTP delivery goes, as the transport map writes it:
 * `HOST:PORT`, `[IPv6]:PORT` (numeric addresses only: the caller runs
 * chrooted, without DNS) or `unix:PATH`. */
#ifndef POSTERN_LMTP_DEST_H
#define POSTERN_LMTP_DEST_H

#include <stddef.h>
#include <sys/socket.h>

#define LMTP_HOST_MAX 64          /* longest numeric address text */
#define LMTP_PATH_MAX 108         /* sun_path of Linux, NUL included */
#define LMTP_DEFAULT_PORT 24      /* RFC 2033 names none; 24 is "any private mail system" */

struct lmtp_dest {
	int is_unix;                  /* 1: path; 0: host and port */
	char host[LMTP_HOST_MAX];     /* numeric IPv4 or IPv6 (no brackets) */
	unsigned port;
	char path[LMTP_PATH_MAX];
};

/* Parse a destination (len bytes, no NUL needed).  0, or -1 with *error_r. */
int lmtp_dest_parse(const char *s, size_t len, struct lmtp_dest *d, const char **error_r);
/* Printable form of d into out (for logs and reasons). */
void lmtp_dest_text(const struct lmtp_dest *d, char *out, size_t outlen);
/* The socket address of d into *ss.  Its length, or 0 with errno. */
socklen_t lmtp_dest_sockaddr(const struct lmtp_dest *d, struct sockaddr_storage *ss);

#endif
