/* dsn: compose delivery status notifications (RFC 3464): a
 * multipart/report with a human-readable text part, a
 * message/delivery-status part (message/global-delivery-status for
 * SMTPUTF8 mail, RFC 6533) and the original message or its header.
 * The result has LF line endings, as messages are stored in the queue. */
#ifndef POSTERN_DSN_H
#define POSTERN_DSN_H

#include <stddef.h>
#include "buf.h"

#define DSN_DIAG_MAX 4096          /* longest diagnostic used; longer is cut with a marker */
#define DSN_RCPT_MAX 10000         /* most recipients in one report */

/* RFC 3464 2.3.3: delivered (final delivery), relayed (handed to a mail
 * system that sends no reports), expanded (passed on to the addresses an
 * alias names). */
enum dsn_action { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED, DSN_RELAYED, DSN_EXPANDED };

/* One recipient's line in the report. */
struct dsn_rcpt {
	const char *addr;          /* final recipient */
	const char *orcpt;         /* ORCPT "TYPE;ADDR", or "" / NULL */
	enum dsn_action action;
	const char *status;        /* "5.1.1" */
	const char *diag_type;     /* "smtp" or "X-Postern"; NULL: no Diagnostic-Code */
	const char *diag;          /* diagnostic text (the text part; Diagnostic-Code unless code) */
	const char *code;          /* smtp: the server's reply for Diagnostic-Code, NULL: diag */
	size_t code_len;
	const char *remote_mta;    /* the server that answered (Remote-MTA: dns; NAME), NULL: none */
	size_t remote_mta_len;
	long long last_attempt;    /* unix time, 0: none */
	long long retry_until;     /* unix time (delayed only), 0: none */
};

/* What the report is about and for whom. */
struct dsn {
	const char *reporting_mta; /* this host's name */
	const char *queue_id;      /* ID of the original message */
	const char *envid;         /* ENVID, "" / NULL: none */
	const char *to;            /* who receives the report */
	const char *orig_sender;   /* sender of the original ("" for <>) */
	long long arrival;         /* arrival of the original, unix time */
	long long now;             /* time of the report */
	int smtputf8;              /* the original used SMTPUTF8: global types */
	int full;                  /* return the whole message, else its header */
	int postmaster;            /* a notice to the postmaster about a failed bounce */
	const struct dsn_rcpt *rcpt;
	size_t nrcpt;
};

/* Compose the report for d about the message orig (n bytes: the whole
 * message when d->full, else at least its header) into out.  *eightbit_r
 * tells whether the result holds bytes over 0x7f (send as 8BITMIME).
 * 0, or -1 with *error_r (out of room in out, bad arguments). */
int dsn_compose(const struct dsn *d, const char *orig, size_t n, struct buf *out, int *eightbit_r,
		const char **error_r);
/* Bytes of the header section of msg (n bytes), the empty line included;
 * n when there is no empty line. */
size_t dsn_header_length(const char *msg, size_t n);
/* RFC 5322 date-time of t in UTC into out ("Thu, 01 Jan 2026 00:00:00 +0000"). 0 or -1. */
int dsn_date(long long t, char *out, size_t outlen);

#endif
