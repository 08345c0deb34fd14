/* local.h: what the files of the local delivery agent share
 * (deliver/local*.c).  local.c speaks the protocol; local_resolve.c maps
 * a recipient to its targets (aliases, mailboxes, plus-addressing,
 * catch-all) and delivers them; local_header.c scans the message header
 * for loops; local_quota.c applies Maildir++ quotas (the maildirsize
 * file is common/maildir_quota.c); local_forward.c re-enters the queue;
 * local_command.c runs alias commands in a helper process; local_lmtp.c
 * sends mail over LMTP per the transport map. */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent.h"
#include "buf.h"
#include "cdbmap.h"
#include "maildir_quota.h"
#include "smtp_txn.h"

#define LOCAL_REASON_MAX 256         /* longest answer reason */
#define LOCAL_DELIVERED_TO_MAX 65536 /* Delivered-To values kept per message */
#define LOCAL_HEADER_SCAN_MAX (256 * 1024) /* header bytes scanned for loops */

struct local_ctx {
	const struct daemon *d;
	struct cdbmap *map;          /* mailboxes.cdb */
	struct cdbmap *aliases;      /* aliases.cdb, or NULL */
	struct cdbmap *domains;      /* domains.cdb, or NULL */
	struct cdbmap *transport;    /* transport.cdb, or NULL */
	struct cdbmap *quota;        /* quota.cdb (per-mailbox quotas), or NULL */
	int ipc_ms;                  /* ipc_timeout: inside a request, for answers */
	int idle_ms;                 /* daemon_idle_timeout: between requests */
	int command_fd;              /* socket to the command helper, or -1 */
};

/* What local_resolve needs of the request. */
struct local_msg {
	const char *queue_id;
	const char *sender;
	int fd;                      /* the queue file */
	off_t offset, size;          /* the message inside it */
	const char *prepend;         /* header fields emitted before it ("" none; docs/queue.md) */
	size_t prepend_len;
	struct buf delivered_to;     /* Delivered-To values, lower case, NUL-separated */
	unsigned long received;      /* Received headers counted */
	int header_ok;               /* the header scan worked */
	/* RFC 3461 of the message and of the recipient at hand (NULL: not
	 * given): what a forward to a single address inherits */
	const char *ret, *envid, *notify, *orcpt;
};

struct local_result {
	const char *status;          /* delivered | deferred | failed */
	const char *action;          /* a delivery that was not final: expanded, passed; NULL */
	char dsn[16];                /* RFC 3463 code (copied: a result is copied by value) */
	char reason[LOCAL_REASON_MAX];
};

/* Set a result (reason formatted; a clip is logged). */
void local_result_set(struct local_result *r, const char *status, const char *dsn,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Seconds from postern.conf to a poll timeout; 0 means none (-1). */
int local_ms(unsigned long long seconds);

/* Write where the normalised recipient addr would go (its mailboxes,
 * forwards, commands) to out, delivering nothing: 0 deliverable, 1 not
 * (5xx), 2 not now (a map error).  For `local verify` (sendmail -bv). */
int local_resolve_explain(const struct local_ctx *ctx, const char *addr, FILE *out);
/* `local [-c DIR/etc] verify ADDRESS...`: local_resolve_explain for each
 * address of a local domain (LMTP domains are named, not asked); the exit
 * code: 0 all deliverable, 67 one unknown, 75 a map error. */
int local_verify(const struct local_ctx *ctx, int argc, char **argv);

/* Resolve one normalised recipient and deliver to its targets. */
void local_resolve_deliver(const struct local_ctx *ctx, struct local_msg *m,
			   const char *addr, size_t len, struct local_result *r);

/* Scan the message header once per request: Delivered-To values and the
 * Received count into m (header_ok = 0 when it could not be read). */
void local_header_scan(struct local_msg *m);
/* Whether the message loops for addr (Delivered-To names it, or too
 * many Received headers); sets a failed 5.4.6 result when it does. */
int local_header_loop(const struct local_msg *m, const char *addr, size_t len,
		      struct local_result *r);

/* The quota of the mailbox whose mailboxes-map key is addr: its entry in
 * etc/quota, else mailbox_quota and mailbox_quota_messages. */
void local_quota_of(const struct local_ctx *ctx, const char *addr, struct maildir_quota *q_r);
/* Before delivering one message of size bytes into the Maildir at path
 * under quota q: 0 fits (or no quota), -1 over quota with r set. */
int local_quota_check(const char *maildir, const struct maildir_quota *q, unsigned long long size,
		      struct local_result *r);
/* After a delivery of size bytes: account for it in maildirsize. */
void local_quota_add(const char *maildir, const struct maildir_quota *q, unsigned long long size);

/* Enqueue the message again for the n addresses (forwarding), with
 * "Delivered-To: via" prepended, sender preserved.  inherit (n is 1):
 * the one address takes via's place, with its NOTIFY and ORCPT (else
 * rfc822;via) and the message's RET and ENVID (RFC 3461 6.2.7.2). */
void local_forward(const struct local_msg *m, const char *via, const char *const *rcpts,
		   size_t n, int inherit, struct local_result *r);

/* Start the command helper (before the privilege drop); its socket is
 * stored in ctx->command_fd.  Exits on failure. */
void local_command_start(struct local_ctx *ctx);
/* Run the alias command cmd of alias key for rcpt, message on stdin. */
void local_command_run(const struct local_ctx *ctx, const struct local_msg *m, const char *key,
		       const char *cmd, const char *rcpt, const char *prefix_to,
		       struct local_result *r);

/* The transport of a domain from the transport map: 1 with an LMTP
 * destination in dest (the text after "lmtp:"), 0 local, -1 error (r set). */
int local_transport(const struct local_ctx *ctx, const char *addr, size_t len, struct buf *dest,
		    struct local_result *r);
/* Deliver message m (tm: what MAIL says of it, common/smtp_txn) over
 * LMTP to dest for the n recipients; one result each. */
void local_lmtp_deliver(const struct local_msg *m, const struct smtp_txn_msg *tm, const char *dest,
			const char *const *rcpts, size_t n, struct local_result *results);

#endif
