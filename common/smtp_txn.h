/* smtp_txn: one mail transaction on an open SMTP or LMTP session, the
 * one transaction engine of remote delivery (deliver/remote_smtp.c) and
 * of LMTP (common/lmtp_client.c: local's transport and the verify
 * probe), as Postfix's smtp is also its lmtp:
 *
 *   MAIL FROM   with SIZE, BODY=8BITMIME, SMTPUTF8, RET and ENVID where
 *               the server offers them (RFC 1870, 6152, 6531, 3461)
 *   RCPT TO     per recipient (NOTIFY, ORCPT), pipelined in windows of
 *               SMTP_TXN_WINDOW when offered (RFC 2920)
 *   DATA        the message through common/smtp_client_data
 *   final dot   one reply for every accepted recipient (SMTP), or one
 *               reply per accepted recipient in RCPT order (LMTP, RFC
 *               2033 4.2)
 *
 * The session (connect, greeting, EHLO or LHLO, STARTTLS, AUTH, RSET,
 * QUIT) is the caller's; so is what a broken session means (remote tries
 * the next server, LMTP defers).  Replies are read by common/smtp_client,
 * which bounds them; nothing the server says is trusted. */
#ifndef POSTERN_SMTP_TXN_H
#define POSTERN_SMTP_TXN_H

#include <stddef.h>

#include "agent.h"
#include "smtp_client_data.h"
#include "smtp_reply.h"
#include "stream.h"

#define SMTP_TXN_WINDOW 100          /* commands sent before their replies are read */
#define SMTP_TXN_SHOWN 300           /* reply text kept in a reason */

enum smtp_txn_status { SMTP_TXN_DELIVERED, SMTP_TXN_DEFERRED, SMTP_TXN_FAILED };

/* What the transaction sends of a message. */
struct smtp_txn_msg {
	const char *sender;                /* "" for <> */
	unsigned long long smtp_size;      /* bytes on the wire (SIZE) */
	int eightbit;                      /* BODY=8BITMIME where offered */
	int smtputf8;                      /* needs SMTPUTF8 (so does an 8-bit recipient
					    * address): refused where not offered */
	const char *ret, *envid;           /* DSN, NULL: not sent */
	struct smtp_client_body body;
};

struct smtp_txn_rcpt {
	const char *addr;
	size_t len;
	const char *notify, *orcpt;        /* DSN, NULL: not sent */
	int skip;                          /* answered before: not sent, not answered */
	int accepted;                      /* out: RCPT got 2xx */
	int answered;                      /* out: the answer callback was called */
};

struct smtp_txn {
	/* the session */
	struct stream *s;
	struct smtp_reply *reply;
	const struct smtp_ext *ext;        /* from the EHLO or LHLO reply */
	const char *peer;                  /* "mx[192.0.2.1]:25": "... with PEER ..." */
	const char *who;                   /* "host mx[...]": "WHO said: ..." */
	int lmtp;                          /* one reply per accepted recipient after the dot */
	int envelope_only;                 /* stop after RCPT: an accepted recipient is
					    * answered delivered (the verify probe) */
	int mail_ms, rcpt_ms, data_init_ms, data_block_ms, data_done_ms;
	/* the message and its recipients */
	const struct smtp_txn_msg *msg;
	struct smtp_txn_rcpt *rcpt;
	size_t n;
	/* Called once for each recipient that gets a final answer. */
	void (*answer)(void *arg, size_t i, enum smtp_txn_status st, const char *dsn, const char *reason);
	void *arg;
	/* out */
	int smtputf8;                      /* this transaction needs SMTPUTF8 */
	int mail_code;                     /* MAIL's reply code, 0: none read */
	char mail_dsn[SMTP_REPLY_ENH_MAX]; /* and its status, when it was refused */
	int mail_sent;                     /* MAIL went out ... */
	int ended;                         /* ... and the answer to the final dot came: with
					    * MAIL sent and not ended, RSET before reuse */
	int lost;                          /* the stream failed: no QUIT, no reuse */
};

enum smtp_txn_result {
	SMTP_TXN_DONE,                     /* every recipient not skipped was answered */
	SMTP_TXN_BROKEN,                   /* the session broke before the data was
					    * accepted, or MAIL got 4xx: reason and *dsn_r
					    * say why; unanswered recipients stay so */
};

/* Run the transaction t (t->s, reply, ext, peer, who, timeouts, msg,
 * rcpt, n, answer set; the out fields are set here). */
enum smtp_txn_result smtp_txn_run(struct smtp_txn *t, char *reason, size_t rlen, const char **dsn_r);

/* The facts of an agent request (docs/protocols.md) that a transaction
 * sends: sender, body range, the body and smtputf8 fields (SMTPUTF8 also
 * for an 8-bit sender), 8-bit data and the size on the wire from one
 * pass over the data, and with dsn the ret and envid fields (every DSN
 * field checked).  NULL, or why the request cannot be used ("bad envid",
 * "cannot read the queue file"). */
const char *smtp_txn_msg_of_request(const struct agent_request *q, int dsn, struct smtp_txn_msg *m);

#endif
