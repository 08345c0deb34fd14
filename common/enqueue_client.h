/* enqueue_client: the client side of the enqueue protocol
 * (docs/protocols.md): connect to private/enqueue, send the envelope
 * record, stream the message as chunks, read the answer.  Used by smtpd,
 * pickup and local (forwarding). */
#ifndef POSTERN_ENQUEUE_CLIENT_H
#define POSTERN_ENQUEUE_CLIENT_H

#include <stddef.h>

#define ENQUEUE_CHUNK_MAX 65536   /* bytes buffered before a chunk is sent */
#define ENQUEUE_QUEUE_ID_MAX 64   /* longest queue ID we accept from enqueue */
#define ENQUEUE_PREPEND_MAX 4096  /* header fields of a trailer (QUEUEFILE_PREPEND_MAX) */

struct enqueue;

/* Connect to private/enqueue (relative to the process root) and send the
 * envelope; client and helo may be NULL.  0, or -1 with *error_r. */
int enqueue_begin(struct enqueue **e_r, const char *sender, const char *const *rcpts, size_t n,
		  const char *client, const char *helo, const char **error_r);
/* One recipient with its RFC 3461 parameters (NULL when not given). */
struct enqueue_rcpt {
	const char *addr;
	const char *notify;   /* "NEVER" or a comma list of SUCCESS, FAILURE, DELAY */
	const char *orcpt;    /* "TYPE;ADDRESS", xtext decoded */
};

/* A whole envelope as smtpd knows it (docs/protocols.md, enqueue):
 * NULL / 0 members are left out of the record. */
struct enqueue_envelope {
	const char *sender;
	const struct enqueue_rcpt *rcpts;
	size_t nrcpt;
	const char *client, *helo, *proto;
	const char *ret;      /* RFC 3461 RET: "FULL" or "HDRS" */
	const char *envid;    /* RFC 3461 ENVID, xtext decoded */
	const char *body;     /* RFC 6152 BODY: "8BITMIME" or "7BIT" */
	int smtputf8;         /* RFC 6531 SMTPUTF8 was given on MAIL */
	int hold;             /* a policy server said HOLD: into the hold queue */
	int submission;       /* a local user's mail (pickup): enqueue may DKIM-sign it */
	int trailer;          /* a trailer record follows the end chunk (enqueue_set_prepend) */
	int early_id;         /* ask for the queue ID before the data (enqueue_queue_id) */
};

/* Connect and send the envelope env (with early_id, also read the queue
 * ID enqueue gives the file).  0, or -1 with *error_r. */
int enqueue_begin_env(struct enqueue **e_r, const struct enqueue_envelope *env,
		      const char **error_r);
/* The queue ID an early_id envelope was given before the data; "" when
 * enqueue is not writing one (the answer after the data says why). */
const char *enqueue_queue_id(const struct enqueue *e);
/* Like enqueue_begin, also naming the protocol ("ESMTP", "SMTP", "local"). */
int enqueue_begin_proto(struct enqueue **e_r, const char *sender, const char *const *rcpts,
			size_t n, const char *client, const char *helo, const char *proto,
			const char **error_r);
/* Append message bytes (LF line ends, as stored).  0, or -1 when the
 * connection failed (later writes are ignored; enqueue_finish reports). */
int enqueue_write(struct enqueue *e, const void *p, size_t n);
/* For an envelope with trailer set: the header fields (LF-ended, at
 * most ENQUEUE_PREPEND_MAX bytes) that enqueue_finish sends in the
 * trailer, for the queue file's prepend slot.  0, or -1 (too long). */
int enqueue_set_prepend(struct enqueue *e, const char *p, size_t n);
/* For an envelope with trailer set: commit the message into the hold
 * queue (hold=1 in the trailer), as a hold in the envelope would. */
void enqueue_set_hold(struct enqueue *e);
/* Send the end of data (and the trailer) and wait for the answer.  0 with the queue ID in
 * queue_id_r; -1 with *permanent_r (1: enqueue refused, do not retry)
 * and *error_r (valid until enqueue_abort). */
int enqueue_finish(struct enqueue *e, char *queue_id_r, size_t idlen, int *permanent_r,
		   const char **error_r);
/* After enqueue_finish failed: whether enqueue said its disk is full
 * (tempfail with dsn=4.3.1: SMTP 452 4.3.1). */
int enqueue_no_space(const struct enqueue *e);
/* Close and free; before enqueue_finish this discards the message
 * (no end chunk is sent).  *e = NULL; NULL is fine. */
void enqueue_abort(struct enqueue **e);
/* Timeout in milliseconds for connect and each exchange (default 60 s;
 * callers set it from ipc_timeout). */
void enqueue_set_timeout(int timeout_ms);

#endif
