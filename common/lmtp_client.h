/* lmtp_client: the client side of LMTP (RFC 2033) for one message: LHLO,
 * MAIL, one RCPT per recipient, DATA with CRLF line ends and dot-stuffing,
 * then one reply per accepted recipient.  Destinations are written
 * `HOST:PORT`, `[IPv6]:PORT` (numeric addresses only: the caller runs
 * chrooted, without DNS) or `unix:PATH`.  Replies are parsed by
 * common/smtp_reply; every recipient gets exactly one answer. */
#ifndef POSTERN_LMTP_CLIENT_H
#define POSTERN_LMTP_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include "smtp_reply.h"

#define LMTP_HOST_MAX 64          /* longest numeric address text */
#define LMTP_PATH_MAX 108         /* sun_path of Linux, NUL included */
#define LMTP_REASON_MAX 256       /* longest answer reason */
#define LMTP_DEFAULT_PORT 24      /* RFC 2033 names none; 24 is "any private mail system" */

struct lmtp_dest {
	int is_unix;                  /* 1: path; 0: host and port */
	char host[LMTP_HOST_MAX];     /* numeric IPv4 or IPv6 (no brackets) */
	unsigned port;
	char path[LMTP_PATH_MAX];
};

enum lmtp_status { LMTP_DELIVERED, LMTP_DEFERRED, LMTP_FAILED };

struct lmtp_answer {
	enum lmtp_status status;
	char dsn[SMTP_REPLY_ENH_MAX];         /* RFC 3463 code, e.g. "4.4.1" */
	char reason[LMTP_REASON_MAX];
};

struct lmtp_msg {
	const char *sender;           /* envelope sender, "" for <> */
	const char *helo;             /* name sent with LHLO */
	int fd;                       /* the message is bytes [offset, offset+size) of fd, LF ends */
	off_t offset, size;
	const char *prepend;          /* header fields sent before the data (NULL or "": none) */
	size_t prepend_len;
	int timeout_ms;               /* connect, each reply, each block written; <= 0: none */
};

/* Parse a destination (len bytes, no NUL needed).  0, or -1 with *error_r. */
int lmtp_dest_parse(const char *s, size_t len, struct lmtp_dest *d, const char **error_r);
/* Printable form of d into out (for logs and reasons). */
void lmtp_dest_text(const struct lmtp_dest *d, char *out, size_t outlen);
/* Deliver m to the n recipients at d; answers[i] is recipient i's result. */
void lmtp_deliver(const struct lmtp_dest *d, const struct lmtp_msg *m, const char *const *rcpts,
		  size_t n, struct lmtp_answer *answers);
/* Ask d whether it would take rcpt, sending no mail: LHLO helo, MAIL
 * FROM:<>, RCPT TO:<rcpt>, QUIT, all within timeout_ms (<= 0: none).
 * *a: LMTP_DELIVERED for a 2xx to RCPT, LMTP_FAILED for a 5xx to RCPT
 * (the server's code and words), LMTP_DEFERRED for a 4xx to RCPT or when
 * the server could not be asked (4.4.x: connect, timeout, lost
 * connection, a refused greeting, LHLO or MAIL). */
void lmtp_probe(const struct lmtp_dest *d, const char *helo, const char *rcpt, int timeout_ms,
		struct lmtp_answer *a);

#endif
