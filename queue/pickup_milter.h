/* pickup_milter.h: pickup's submissions through the milters of
 * non_smtpd_milters (pickup_milter.c). */
#ifndef POSTERN_PICKUP_MILTER_H
#define POSTERN_PICKUP_MILTER_H

#include <stddef.h>

#include "buf.h"

#define PICKUP_MILTER_REASON_MAX 256
/* All milters of one submission at most: with enqueue after them, below
 * sendmail's 300 s wait for the answer (tools/sendmail.c,
 * SENDMAIL_TIMEOUT_MS). */
#define PICKUP_MILTER_BUDGET_MS 180000
#define PICKUP_MILTER_EXTRA 65536   /* bytes the milters may add beyond message_size_limit and our headers */

/* One submission as the milters see and change it. */
struct pickup_milter_msg {
	struct buf *sender;               /* in/out: "" for <> */
	char **rcpts;                     /* in/out: owned strings */
	size_t nrcpt, max_rcpt;
	unsigned long long size_limit;    /* a replaced body at most */
	int hold, discard;                /* out: quarantine, discard */
	const char *status;               /* out when answered: "fail" or "tempfail" */
	char reason[PICKUP_MILTER_REASON_MAX];   /* out when answered: the milter's reply */
};

/* Read non_smtpd_milters and the milter_* keys; exits on a bad one. */
void pickup_milter_init(void);
/* Whether any milter is configured. */
int pickup_milter_active(void);
/* The message (head then msg, LF line ends) through the milters: 1 go
 * on with the final message in *out (reset first, capped by its own
 * cap) and pm's envelope, hold and discard; 0 answered (pm->status,
 * pm->reason); -1 our own failure (logged). */
int pickup_milter_run(struct pickup_milter_msg *pm, const struct buf *head, const struct buf *msg,
		      struct buf *out);

#endif
