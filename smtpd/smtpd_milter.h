/* smtpd_milter.h: what smtpd_milter.c (connections, commands, verdicts)
 * shares with smtpd_milter_msg.c (the held message at its end). */
#ifndef POSTERN_SMTPD_MILTER_H
#define POSTERN_SMTPD_MILTER_H

#include <stdint.h>

#include "buf.h"
#include "milter_proto.h"
#include "policy_reply.h"
#include "smtpd.h"

struct smtpd_milter {
	const char *spec;                 /* inet:HOST:PORT or unix:PATH */
	int fd;                           /* -1: closed, failed or never reached */
	uint32_t version, actions, protocol;   /* negotiated */
	char *macros[MILTER_STAGES];      /* the filter's own macro lists, or NULL */
	int skip_session;                 /* accepted at connect or HELO */
	int skip_msg;                     /* accepted (or no longer asked) for this message */
	int in_msg;                       /* saw MAIL: an abort is due if the message ends early */
};

struct smtpd_milters {
	struct smtpd_milter m[POLICY_SERVICES_MAX];
	size_t n;
	char sticky[SMTPD_REPLY_MAX];     /* answer to every later transaction command, "" none */
	int hold;                         /* quarantined: into hold/ */
	int discard;                      /* a filter said discard */
	const char *rcpt;                 /* RCPT being asked about, for its macros */
	char client_port[8];
	char if_addr[64];
};

/* Timeouts in milliseconds (milter_command_timeout, milter_content_timeout). */
int smtpd_milter_command_ms(void);
int smtpd_milter_content_ms(void);
/* Send the stage's macros (stage < 0: none) and the command cmd with its
 * data; when want_reply, read the answer into r (progress skipped;
 * strings live in in).  0, or -1 after a failure (logged, filter closed). */
int smtpd_milter_ask(struct smtpd_session *ss, struct smtpd_milter *mi, int stage, char cmd,
		     const void *data, size_t len, int want_reply, int ms, struct buf *in,
		     struct milter_reply *r);
/* Read one more answer (the end of message sends several).  0 or -1 (logged, closed). */
int smtpd_milter_read(struct smtpd_session *ss, struct smtpd_milter *mi, struct buf *in,
		      struct milter_reply *r, int ms);
/* Act on an accept/reject answer at a message stage: 1 go on, 0 answered. */
int smtpd_milter_verdict(struct smtpd_session *ss, struct smtpd_milter *mi,
			 const struct milter_reply *r);
/* A filter failed (closed already or now; why is logged unless NULL):
 * milter_default_action.  1 go on without it; 0: the answer is kept for
 * the session's later commands and, when answer, given now. */
int smtpd_milter_failed(struct smtpd_session *ss, struct smtpd_milter *mi, const char *why, int answer);
/* Whether the filter takes part in the message now. */
int smtpd_milter_usable(const struct smtpd_milter *mi);

#endif
