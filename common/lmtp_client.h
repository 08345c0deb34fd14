/* lmtp_client: the client side of LMTP (RFC 2033) for one message: LHLO,
 * MAIL, one RCPT per recipient, DATA with CRLF line ends and dot-stuffing,
 * then one reply per accepted recipient.  Destinations are
 * common/lmtp_dest's; the transaction is common/smtp_txn's, remote
 * delivery's own; every recipient gets exactly one answer. */
#ifndef POSTERN_LMTP_CLIENT_H
#define POSTERN_LMTP_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#include "lmtp_dest.h"
#include "smtp_reply.h"
#include "smtp_txn.h"

#define LMTP_REASON_MAX 256       /* longest answer reason */

enum lmtp_status { LMTP_DELIVERED, LMTP_DEFERRED, LMTP_FAILED };

struct lmtp_answer {
	enum lmtp_status status;
	char dsn[SMTP_REPLY_ENH_MAX];         /* RFC 3463 code, e.g. "4.4.1" */
	char reason[LMTP_REASON_MAX];
};

struct lmtp_msg {
	struct smtp_txn_msg txn;      /* sender, the data and what MAIL says of it (common/smtp_txn) */
	const char *helo;             /* name sent with LHLO */
	int timeout_ms;               /* connect, each reply, each block written; <= 0: none */
};

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
