/* smtpd: the SMTP receiver's shared state.  One struct smtpd_ctx per
 * process (settings, maps, TLS context, read before privileges are
 * dropped), one struct smtpd_session per client connection. */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "cdbmap.h"
#include "dmarc_eval.h"
#include "netlist.h"
#include "recipient.h"
#include "smtp_cmd.h"
#include "spf_eval.h"
#include "stream.h"
#include "tls.h"

#define SMTPD_HELO_MAX 255       /* RFC 5321 4.5.3.1.2: a domain is at most 255 octets */
#define SMTPD_CLIENT_MAX 64
#define SMTPD_REPLY_MAX 1024     /* one formatted reply line */
#define SMTPD_ENVID_MAX 100      /* RFC 3461 4.4: ENVID at most 100 characters */
#define SMTPD_ORCPT_MAX 500      /* RFC 3461 4.2: ORCPT at most 500 characters */
#define SMTPD_AUTH_USER_MAX 256
#define SMTPD_PREPEND_MAX 8192   /* header lines policy servers PREPEND to one message */

enum smtpd_mode {
	SMTPD_MODE_SMTP,         /* 25: MX, STARTTLS offered, no AUTH */
	SMTPD_MODE_SUBMISSION,   /* 587: STARTTLS, then AUTH, required for MAIL (RFC 6409) */
	SMTPD_MODE_SMTPS,        /* 465: implicit TLS (RFC 8314), AUTH required */
};

struct smtpd_access;              /* smtpd_access.c: maps, rates, pregreet */

struct smtpd_ctx {
	enum smtpd_mode mode;
	struct smtpd_access *access;     /* smtpd_access_init */
	struct cdbmap *domains;          /* etc/domains.cdb: local domains */
	struct cdbmap *mailboxes;        /* etc/mailboxes.cdb: local addresses */
	struct cdbmap *aliases;          /* etc/aliases.cdb, or NULL */
	struct cdbmap *transport;        /* etc/transport.cdb, or NULL */
	struct recipient_maps recipients; /* the three above, for recipient_lookup */
	struct cdbmap *sender_logins;    /* smtpd_sender_login_maps, or NULL */
	char first_domain[256];          /* first line of etc/domains, "" if none */
	const char *hostname;            /* myhostname */
	SSL_CTX *tls;                    /* server context, NULL: no TLS */
	int tls_handshake_ms;            /* tls_handshake_timeout, whole handshake; 0: none */
	struct netlist_net *mynetworks;
	size_t nmynetworks;
	struct netlist_net *limit_exceptions; /* smtpd_client_limit_exceptions, $mynetworks expanded */
	size_t nlimit_exceptions;
	int conn_fd;                     /* per-IP session slots (smtpd_limit.c), -1: none */
	unsigned long long size_limit;   /* message_size_limit, >= 1 (config.c refuses 0) */
	unsigned long long rcpt_limit;   /* smtpd_recipient_limit */
	unsigned long long error_limit;  /* smtpd_hard_error_limit */
	unsigned long long header_limit; /* smtpd_header_size_limit */
	unsigned long long session_limit;/* smtpd_session_time_limit, seconds; 0 = none */
	unsigned long long conn_limit;   /* smtpd_client_connection_limit; 0 = none */
	unsigned long long auth_fail_limit;
	unsigned auth_fail_delay;        /* seconds */
	size_t line_limit;               /* smtpd_line_limit, CRLF included */
	int timeout_ms;                  /* smtpd_timeout */
	int forbid_bare_newline;
	int received_tls, received_auth;
	int lmtp_verify;                 /* lmtp_verify_recipients */
	int verify_ms;                   /* wait for the verify service: its probe + ipc_timeout */
	unsigned long long queue_minfree;/* queue_minfree, bytes; 0 = no check */
	int queue_fd;                    /* DIR/queue/tmp (O_PATH) for fstatvfs, -1: none */
	struct smtpd_spf_conf *spf;      /* SPF and Authentication-Results (smtpd_spf.c) */
	struct smtpd_dkim_conf *dkim;    /* DKIM verification (smtpd_dkim.c), NULL: off */
	struct smtpd_dmarc_conf *dmarc;  /* DMARC (smtpd_dmarc.c), NULL: off */
};

struct smtpd_rcpt {
	char *addr;                      /* normalised */
	char *notify;                    /* RFC 3461 NOTIFY, canonical, or NULL */
	char *orcpt;                     /* RFC 3461 ORCPT "type;addr" decoded, or NULL */
};

struct smtpd_msg;
struct smtpd_milters;
struct dkim_verify;
struct enqueue;

struct smtpd_spf_state {          /* smtpd_spf.c: SPF of the session */
	int helo_done;                   /* helo_domain was checked */
	char helo_domain[SMTPD_HELO_MAX + 1];
	enum spf_result helo;            /* its result */
	char helo_problem[160], helo_explanation[SPF_EXPLAIN_MAX + 1];
	int checked;                     /* this transaction's identities were checked */
	int by_helo;                     /* the HELO identity decided */
	enum spf_result result;          /* the decisive result */
	char problem[160];               /* temperror/permerror: why */
	char explanation[SPF_EXPLAIN_MAX + 1];   /* fail: the domain's exp= text */
};

struct smtpd_dmarc_msg {          /* smtpd_dmarc.c: DMARC of one message */
	int active;                      /* evaluated: DKIM-verified, dmarc_check */
	char from[DMARC_FROM_DOMAIN_MAX + 1];   /* the RFC5322.From domain */
	const char *from_error;          /* NULL, or why there is no usable From domain */
	int done;                        /* out is set */
	struct dmarc_outcome out;
	enum dmarc_policy dis;           /* applied: NONE, QUARANTINE (hold or mark), REJECT */
	int hold;                        /* into the hold queue */
};

#define SMTPD_MSGID_LOG_MAX 250   /* longest Message-ID written to the log */

struct smtpd_session {
	const struct smtpd_ctx *ctx;
	struct stream *s;
	char client[SMTPD_CLIENT_MAX];   /* peer address for Received and policies */
	char client_log[SMTPD_CLIENT_MAX + 16];   /* "unknown[ADDR]" in logs, as Postfix writes it */
	struct buf helo;                 /* HELO/EHLO argument, empty before */
	int esmtp;                       /* greeted with EHLO */
	int tls;                         /* TLS active on the stream */
	char tls_desc[160];              /* "TLSv1.3 with cipher X (256/256 bits)" */
	struct buf auth_user;            /* authenticated login, empty before */
	const char *auth_mech;           /* its SASL mechanism (log), NULL before */
	unsigned long long auth_failures;
	/* the transaction */
	int in_mail;                     /* MAIL accepted, transaction open */
	struct buf sender;               /* envelope sender, "" for <> */
	int smtputf8;                    /* RFC 6531 SMTPUTF8 on MAIL */
	char body[16];                   /* RFC 6152 BODY value, "" if none */
	char ret[8];                     /* RFC 3461 RET value, "" if none */
	struct buf envid;                /* RFC 3461 ENVID, decoded */
	unsigned long long mail_size;    /* RFC 1870 SIZE of MAIL, 0 if none */
	struct smtpd_rcpt *rcpts;        /* accepted recipients */
	size_t nrcpt;
	size_t rcpt_alloc;
	size_t rcpt_fields;              /* enqueue record fields the recipients take */
	unsigned long long rcpt_overshoot;   /* RCPTs refused for the recipient limit */
	struct smtpd_msg *msg;           /* message being received (BDAT), or NULL */
	/* the session */
	struct timespec started;
	unsigned long long errors;       /* error replies so far (hard limit) */
	int done;                        /* end the session after this reply */
	long long slot;                  /* session slot held (smtpd_limit_acquire), -1: none */
	const char *verb;                /* command being answered, for reject logs */
	const char *log_rcpt;            /* RCPT being answered, for reject logs, or NULL */
	/* policy delegation (smtpd_delegate.c), per transaction */
	char policy_instance[48];        /* instance attribute, "" until the first request */
	int policy_hold;                 /* HOLD: the message goes to the hold queue */
	int policy_discard;              /* DISCARD: accept and drop the message */
	struct buf policy_prepend;       /* PREPEND header lines, LF-ended */
	struct smtpd_milters *milters;   /* milter connections (smtpd_milter.c), or NULL */
	struct {                         /* smtpd_access.c, per session */
		int refused;             /* client REJECT: only QUIT is served (RFC 5321 3.1) */
		int hold, discard;       /* client / HELO said HOLD / DISCARD: every message */
	} access;
	struct smtpd_spf_state spf;      /* set at each MAIL */
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
/* Queue a reply that repeats an error already counted and logged in this
 * transaction: neither counted against smtpd_hard_error_limit nor logged. */
void smtpd_reply_again(struct smtpd_session *ss, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Forget the current transaction (sender, recipients, a message being
 * received); HELO, TLS and AUTH stay. */
void smtpd_reset(struct smtpd_session *ss);
/* Set the stream timeout for the next read from smtpd_timeout and what
 * is left of smtpd_session_time_limit.  -1 (after a 421, session done)
 * when the session time is up. */
int smtpd_arm_timeout(struct smtpd_session *ss);
/* Whether AUTH is offered now: submission or SMTPS, over TLS. */
int smtpd_auth_offered(const struct smtpd_session *ss);
/* Parse the ESMTP parameters of MAIL or RCPT (count in *n_r); 0, or -1
 * after a 501 reply (RFC 5321 4.1.1.11 leaves the meaning to each verb). */
int smtpd_params(struct smtpd_session *ss, const char *p, size_t len,
		 struct smtp_param params[SMTP_CMD_MAX_PARAMS], size_t *n_r);

/* smtpd_auth.c */
/* AUTH (RFC 4954): PLAIN and LOGIN, checked by authd; failure throttling. */
void smtpd_cmd_auth(struct smtpd_session *ss, const struct smtp_cmd *cmd);

/* smtpd_policy.c */
/* Parse mynetworks and smtpd_client_limit_exceptions into ctx; exits
 * with a message on a bad entry. */
void smtpd_policy_init(struct smtpd_ctx *ctx);
/* Whether the client address (text) lies in mynetworks. */
int smtpd_policy_mynetworks(const struct smtpd_ctx *ctx, const char *client);
/* Whether the authenticated user may use sender as MAIL FROM: 1 yes,
 * 0 no, -1 map lookup failure. */
int smtpd_policy_sender_owned(const struct smtpd_ctx *ctx, const char *user, const char *sender);
/* Take one of the client IP's session slots: 1 taken (or no limit, or
 * the client is exempt: *slot_r = -1), 0 when all
 * smtpd_client_connection_limit slots are in use. */
int smtpd_limit_acquire(const struct smtpd_ctx *ctx, const char *client, long long *slot_r);
/* Whether the client is in smtpd_client_limit_exceptions. */
int smtpd_policy_limit_exempt(const struct smtpd_ctx *ctx, const char *client);
/* Give the slot back (slot from smtpd_limit_acquire; -1 is ignored). */
void smtpd_limit_release(const struct smtpd_ctx *ctx, long long slot);

/* smtpd_delegate.c */
/* Read the policy delegation settings; exits with a message on a bad one. */
void smtpd_delegate_init(void);
/* Ask the smtpd_policy_services about rcpt (normalised): 1 go on, 0 answered. */
int smtpd_delegate_rcpt(struct smtpd_session *ss, const char *rcpt);
/* Ask the smtpd_end_of_data_policy_services: 1 go on, 0 answered. */
int smtpd_delegate_eod(struct smtpd_session *ss, unsigned long long size);
struct policy_action;
/* Answer an access(5) REJECT/DEFER with code: "CODE D.D.D what: how
 * rejected: text" (DSN X.7.1 and "Access denied" when the action has
 * none; 421 ends the session); what is e.g. "<a@b>". */
void smtpd_delegate_refuse(struct smtpd_session *ss, const struct policy_action *a, int code,
			   const char *what, const char *how);

/* smtpd_main.c */
struct daemon;
/* The cdb map named by config key (a file relative to DIR/etc), opened
 * now; NULL when the key is empty; exits on a bad name or file. */
struct cdbmap *smtpd_open_map_key(const struct daemon *d, const char *key);

/* smtpd_access.c */
#define SMTPD_ACCESS_HOLD 1
#define SMTPD_ACCESS_DISCARD 2
/* Open the access maps and the rate table (before the privilege drop);
 * exits with a message on a bad setting. */
void smtpd_access_init(struct smtpd_ctx *ctx, const struct daemon *d);
/* Free what smtpd_access_init made. */
void smtpd_access_free(struct smtpd_ctx *ctx);
/* Connection rate, pregreet, smtpd_client_access: 1 greet; 0 answered
 * (ss->done, or ss->access.refused after a 554 greeting). */
int smtpd_access_connect(struct smtpd_session *ss);
/* smtpd_helo_access for a HELO/EHLO name: 1 go on, 0 answered. */
int smtpd_access_helo(struct smtpd_session *ss, const char *name);
/* Message rates and smtpd_sender_access for ss->sender: 1 go on (HOLD /
 * DISCARD applied to the transaction), 0 answered. */
int smtpd_access_mail(struct smtpd_session *ss);
/* Recipient rates and smtpd_recipient_access: 1 go on with *mark_r
 * (SMTPD_ACCESS_HOLD / _DISCARD or 0) for smtpd_access_mark once the
 * recipient is accepted, 0 answered. */
int smtpd_access_rcpt(struct smtpd_session *ss, const char *rcpt, int *mark_r);
/* Apply a mark and the session's HOLD / DISCARD to the transaction. */
void smtpd_access_mark(struct smtpd_session *ss, int mark);

/* smtpd_rcpt.c */
/* RCPT TO: parse, apply the recipient policy, add to the transaction. */
void smtpd_cmd_rcpt(struct smtpd_session *ss, const struct smtp_cmd *cmd);
/* Append a recipient to the transaction; -1 on memory exhaustion or
 * when the limit is reached.  Takes the DSN strings (freed on failure). */
int smtpd_rcpt_add(struct smtpd_session *ss, const char *addr, size_t len, char *notify, char *orcpt);

/* smtpd_verify.c */
/* A recipient of an LMTP domain (addr normalised, shown as in replies):
 * 1 the LMTP server takes it (or it is not to be verified), 0 after a
 * 550 / 450 / 451 reply (docs/operator.md, "LMTP"). */
int smtpd_verify_rcpt(struct smtpd_session *ss, const char *addr, size_t len, const char *shown);

/* smtpd_space.c */
/* Open the queue's tmp/ for the free-space check (before the drop). */
void smtpd_space_init(struct smtpd_ctx *ctx, const struct daemon *d);
/* Whether the queue has queue_minfree + the declared SIZE free: 1 go
 * on, 0 after a 452 4.3.1. */
int smtpd_space_check(struct smtpd_session *ss);

/* smtpd_spf.c */
/* Read the SPF and Authentication-Results settings; open the resolver
 * (before chroot) when port 25 checks SPF.  Exits on a bad setting. */
void smtpd_spf_init(struct smtpd_ctx *ctx);
/* Close the resolver and free the settings. */
void smtpd_spf_free(struct smtpd_ctx *ctx);
/* At an accepted MAIL FROM: check the HELO and MAIL FROM identities
 * (when this client is checked at all) into ss->spf. */
void smtpd_spf_mail(struct smtpd_session *ss);
/* At RCPT: 1 go on, 0 after 550 5.7.23 (fail, spf_reject_fail). */
int smtpd_spf_rcpt(struct smtpd_session *ss, const char *shown);
/* Append the Authentication-Results field with the SPF result, the
 * DMARC result of dmarc (when evaluated; NULL is fine) and the DKIM
 * results of dkim (nothing when SPF was not checked and dkim is NULL)
 * to out.  0, or -1 when it could not be formatted whole. */
int smtpd_auth_results(const struct smtpd_session *ss, const struct dkim_verify *dkim,
		       const struct smtpd_dmarc_msg *dmarc, struct buf *out);
/* Remove incoming Authentication-Results fields with our authserv-id
 * from the header section hdr..len in place; the new length. */
size_t smtpd_auth_results_strip(const struct smtpd_session *ss, char *hdr, size_t len);

/* smtpd_dkim.c */
/* Read the DKIM verification settings; open its resolver (before
 * chroot) on port 25.  Exits on a bad setting. */
void smtpd_dkim_init(struct smtpd_ctx *ctx);
/* Close the resolver and free the settings. */
void smtpd_dkim_free(struct smtpd_ctx *ctx);
/* A message begins: its verification state, or NULL when it is not
 * verified (not port 25, dkim_verify off, an authenticated client). */
struct dkim_verify *smtpd_dkim_start(const struct smtpd_session *ss);
/* The data is complete: look up the keys, check, log the results. */
void smtpd_dkim_finish(const struct smtpd_session *ss, struct dkim_verify *v);

/* smtpd_dmarc.c */
/* Read the DMARC settings; on port 25 with DKIM verification, load the
 * public suffix list and open a resolver (before chroot).  Exits on a
 * bad setting. */
void smtpd_dmarc_init(struct smtpd_ctx *ctx);
/* Close the resolver, free the list and the settings. */
void smtpd_dmarc_free(struct smtpd_ctx *ctx);
/* A message begins: dm is evaluated when it is DKIM-verified. */
void smtpd_dmarc_start(const struct smtpd_session *ss, struct smtpd_dmarc_msg *dm, int dkim_verified);
/* The header section as received is complete: take the From domain. */
void smtpd_dmarc_header(struct smtpd_dmarc_msg *dm, const char *hdr, size_t len);
/* The data and the DKIM results are complete: evaluate, log, apply
 * the policy.  1 go on (dm->hold: into hold/), 0 after a 550 5.7.1. */
int smtpd_dmarc_finish(struct smtpd_session *ss, struct smtpd_dmarc_msg *dm, const struct dkim_verify *dkim);
struct auth_results;
/* Add the dmarc result (when evaluated) to ar.  0, or -1 when full. */
int smtpd_dmarc_auth_result(const struct smtpd_dmarc_msg *dm, struct auth_results *ar);

/* smtpd_data.c */
/* DATA: stream the message to enqueue and answer only after it did. */
void smtpd_cmd_data(struct smtpd_session *ss, const struct smtp_cmd *cmd);
/* BDAT (RFC 3030): one chunk; the LAST one is answered like DATA's end. */
void smtpd_cmd_bdat(struct smtpd_session *ss, const struct smtp_cmd *cmd);
/* Drop a message being received (no end chunk reaches enqueue). */
void smtpd_msg_discard(struct smtpd_session *ss);
/* Connect to enqueue with the transaction's envelope as it stands.  0,
 * or -1 (logged; the caller answers). */
int smtpd_msg_enqueue(struct smtpd_session *ss, struct enqueue **e_r);
/* The queue ID of the message whose end of data is being answered, once
 * enqueue has named it (its client= line is logged), else NULL: replies
 * then are about the message (ID: reject: END-OF-MESSAGE), not about a
 * command between BDAT chunks. */
const char *smtpd_msg_queue_id(const struct smtpd_session *ss);

/* smtpd_milter.c: the milters of smtpd_milters (docs/operator.md,
 * "Milters").  Each stage hook returns 1 to go on, 0 when it answered. */
/* Read the milter settings; exits with a message on a bad one. */
void smtpd_milter_init(void);
/* A session starts: connect to each milter, negotiate, send the client. */
void smtpd_milter_connect(struct smtpd_session *ss, int client_fd);
int smtpd_milter_helo(struct smtpd_session *ss);
int smtpd_milter_mail(struct smtpd_session *ss);
int smtpd_milter_rcpt(struct smtpd_session *ss, const char *rcpt);
/* DATA or the first BDAT: 1 go on (the message is then held: see
 * smtpd_milter_eom), 0 answered. */
int smtpd_milter_data(struct smtpd_session *ss);
/* Whether milters take part in this transaction (the message is held). */
int smtpd_milter_active(const struct smtpd_session *ss);
/* The held message (fd, LF line ends, our header included) is complete:
 * run it through the milters, apply their changes, and open enqueue
 * with the final envelope and content in *e_r (*size_r its bytes).  1
 * go on to enqueue_finish; 0 answered (reject, tempfail, discard). */
int smtpd_milter_eom(struct smtpd_session *ss, int fd, struct enqueue **e_r,
		     unsigned long long *size_r);
/* Whether a milter quarantined the message (into hold/). */
int smtpd_milter_hold(const struct smtpd_session *ss);
/* The transaction ends without a message (RSET, HELO, reject...). */
void smtpd_milter_abort(struct smtpd_session *ss);
/* The session ends: QUIT to each milter, free the state. */
void smtpd_milter_end(struct smtpd_session *ss);

#endif
