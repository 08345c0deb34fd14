/* agent: the server side of the delivery agent protocol shared by local
 * and remote (docs/protocols.md, "local").  Reads one request record with
 * the queue file passed as an SCM_RIGHTS descriptor (or, standalone,
 * queue_file=PATH), validates the common fields and the data range, and
 * writes the per-recipient answer records. */
#ifndef POSTERN_AGENT_H
#define POSTERN_AGENT_H

#include <stddef.h>
#include <sys/types.h>
#include "address.h"
#include "log_delivery.h"
#include "record.h"

/* Longest request: every field a recipient of ADDRESS_PATH_MAX octets,
 * each byte escaped (%XX), plus key and LF, with room to spare. */
#define AGENT_REQUEST_MAX (RECORD_MAX_FIELDS * (3 * ADDRESS_PATH_MAX + 32))
#define AGENT_QUEUE_ID_MAX 64        /* longest queue ID accepted */
#define AGENT_REASON_MAX 512         /* longest answer reason */

struct agent_conn;

#define AGENT_REQUEST_INIT { .fd = -1 }

struct agent_request {
	struct record rec;
	const char *queue_id;        /* validated */
	const char *sender;          /* "" for <>, no control bytes */
	off_t offset, size;          /* the data range, inside the file */
	const char *prepend;         /* header fields to emit before the data ("" none) */
	size_t prepend_len;
	int fd;                      /* the queue file, read-only, or -1 */
	size_t nrcpt;                /* rcpt fields */
	const char *bad;             /* set: the request is unusable, defer every rcpt with this */
	struct log_delivery_times times;   /* arrival and active from qmgr (0 if absent), agent: now */
};

/* A connection on in_fd/out_fd; standalone allows queue_file=PATH and
 * plain (non-socket) input.  ipc_ms bounds reads inside a request and
 * writes, idle_ms the wait for a request (-1: none).  NULL on error. */
struct agent_conn *agent_conn_new(int in_fd, int out_fd, int standalone, int ipc_ms, int idle_ms);
/* Free the connection (closes no descriptor); *c = NULL. */
void agent_conn_free(struct agent_conn **c);
/* Wait at most ms (-1: forever) for input.  1 ready, 0 timeout, -1 stop/error. */
int agent_wait_input(struct agent_conn *c, int ms);
/* Read and check the next request.  1: q filled (q->bad set when its
 * fields are unusable: answer every rcpt deferred); 0: clean end of the
 * connection; -1: broken request or connection (already answered with a
 * whole-request record where possible; end the connection).  q must be
 * initialised with AGENT_REQUEST_INIT before first use. */
int agent_read(struct agent_conn *c, struct agent_request *q);
/* Release a request's fields and descriptor (reusable). */
void agent_request_clear(struct agent_request *q);
/* Write and flush one answer: rcpt, status, dsn, reason and, for a
 * delivery that was not final, action (relayed, expanded or passed;
 * NULL: none).  0 or -1. */
int agent_answer(struct agent_conn *c, const char *rcpt, size_t rcpt_len, const char *status,
		 const char *dsn, const char *reason, const char *action);
/* Whether a text is 0..max octets without control bytes. */
int agent_text_ok(const char *s, size_t len, size_t max);

#endif
