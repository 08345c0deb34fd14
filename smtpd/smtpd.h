/* smtpd: the SMTP receiver's shared state.  One struct smtpd_ctx per
 * process (settings and maps, read before privileges are dropped), one
 * struct smtpd_session per client connection. */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>

#include "buf.h"
#include "cdbmap.h"
#include "smtp_cmd.h"
#include "stream.h"

#define SMTPD_HELO_MAX 255       /* RFC 5321 4.5.3.1.2: a domain is at most 255 octets */
#define SMTPD_CLIENT_MAX 64
#define SMTPD_REPLY_MAX 1024     /* one formatted reply line */

struct smtpd_ctx {
	struct cdbmap *domains;          /* etc/domains.cdb: local domains */
	struct cdbmap *mailboxes;        /* etc/mailboxes.cdb: local addresses */
	char first_domain[256];          /* first line of etc/domains, "" if none */
	const char *hostname;            /* myhostname */
	unsigned long long size_limit;   /* message_size_limit; 0 = none (RFC 1870) */
	unsigned long long rcpt_limit;   /* smtpd_recipient_limit */
	unsigned long long error_limit;  /* smtpd_hard_error_limit */
	size_t line_limit;               /* smtpd_line_limit, CRLF included */
	int timeout_ms;                  /* smtpd_timeout */
};

struct smtpd_session {
	const struct smtpd_ctx *ctx;
	struct stream *s;
	char client[SMTPD_CLIENT_MAX];   /* peer address for logs and Received */
	struct buf helo;                 /* HELO/EHLO argument, empty before */
	int esmtp;                       /* greeted with EHLO */
	int in_mail;                     /* MAIL accepted, transaction open */
	struct buf sender;               /* envelope sender, "" for <> */
	char **rcpts;                    /* accepted recipients (normalised) */
	size_t nrcpt;
	size_t rcpt_alloc;
	unsigned long long errors;       /* error replies so far (hard limit) */
	int done;                        /* end the session after this reply */
	const char *verb;                /* command being answered, for reject logs */
	/* counters for the disconnect log line */
	unsigned long commands, messages, rcpts_total;
};

/* smtpd_session.c */
/* Serve one SMTP session on in/out (daemon_serve_fn); arg is the ctx. */
void smtpd_serve(int in_fd, int out_fd, void *arg);
/* Queue one reply line (CRLF added); 4xx/5xx count as errors and are
 * logged as rejects. */
void smtpd_reply(struct smtpd_session *ss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Forget the current transaction (sender and recipients); HELO stays. */
void smtpd_reset(struct smtpd_session *ss);

/* smtpd_rcpt.c */
/* RCPT TO: parse, apply the recipient policy, add to the transaction. */
void smtpd_cmd_rcpt(struct smtpd_session *ss, const struct smtp_cmd *cmd);

/* smtpd_data.c */
/* DATA: stream the message to enqueue and answer only after it did. */
void smtpd_cmd_data(struct smtpd_session *ss, const struct smtp_cmd *cmd);

#endif
