/* milter_client.h: the MTA side of the milter protocol, independent of
 * where the mail comes from: smtpd (smtpd_milters) and pickup
 * (non_smtpd_milters) drive it with their own macros, answers and
 * envelope (docs/operator.md, "Milters"). */
#ifndef POSTERN_MILTER_CLIENT_H
#define POSTERN_MILTER_CLIENT_H

#include <stdint.h>

#include "buf.h"
#include "milter_proto.h"
#include "policy_reply.h"

#define MILTER_MACRO_LIST_MAX 1024   /* one stage's list of macro names */
#define MILTER_ANSWER_MAX 1024       /* one answer line to the client */

enum milter_default { MILTER_DEF_TEMPFAIL, MILTER_DEF_REJECT, MILTER_DEF_ACCEPT };

/* The settings: one list of filters and the shared milter_* keys. */
struct milter_conf {
	char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX];
	size_t n;
	enum milter_default def;
	uint32_t version;
	int connect_ms, command_ms, content_ms;
	char macros[MILTER_STAGES][MILTER_MACRO_LIST_MAX];
	const char *daemon_name;
};

/* What the caller provides: macro values, answers to its client, and
 * its envelope for the filters' changes. */
struct milter_host_ops {
	/* The value of macro name now (rcpt: the RCPT being asked about,
	 * or NULL), or NULL when there is none. */
	const char *(*macro)(void *arg, const char *name, const char *rcpt, char *tmp, size_t len);
	/* One answer line to the client; last: the final line of it. */
	void (*reply)(void *arg, int last, const char *line);
	/* Add a recipient (normalised): 0, or -1 when there is no room. */
	int (*rcpt_add)(void *arg, const char *addr, size_t len);
	/* Remove a recipient if there (case-insensitive). */
	void (*rcpt_del)(void *arg, const char *addr);
	/* Whether a recipient is there already; how many there are. */
	int (*rcpt_has)(void *arg, const char *addr);
	size_t (*rcpt_count)(void *arg);
};

struct milter {
	const char *spec;                 /* inet:HOST:PORT or unix:PATH */
	int fd;                           /* -1: closed, failed or never reached */
	uint32_t version, actions, protocol;   /* negotiated */
	char *macros[MILTER_STAGES];      /* the filter's own macro lists, or NULL */
	int skip_session;                 /* accepted at connect or HELO */
	int skip_msg;                     /* accepted (or no longer asked) for this message */
	int in_msg;                       /* saw MAIL: an abort is due if the message ends early */
};

/* One client's conversation with the filters of a list. */
struct milter_session {
	const struct milter_conf *conf;
	const struct milter_host_ops *ops;
	void *arg;
	const char *client_log;           /* for log lines */
	const char *hostname;             /* in the 421 text */
	struct buf *sender;               /* the envelope sender, changed by CHGFROM */
	int smtputf8;                     /* addresses from filters may be UTF-8 */
	unsigned long long size_limit;    /* a replaced body at most */
	size_t header_max;                /* the header after changes at most */
	int budget_ms;                    /* whole conversation at most (its caller waits), 0 no bound */
	long long end_ms;                 /* from budget_ms at milter_session_open (monotonic ms) */
	struct milter m[POLICY_SERVICES_MAX];
	size_t n;
	char sticky[MILTER_ANSWER_MAX];   /* answer to every later transaction command, "" none */
	int hold;                         /* quarantined: into hold/ */
	int discard;                      /* a filter said discard */
	int done;                         /* a 421 was given: the caller ends the session */
	const char *rcpt;                 /* RCPT being asked about, for its macros */
};

/* Read the shared milter_* keys and the filter list of list_key
 * (smtpd_milters, non_smtpd_milters); exits with a message on a bad one. */
void milter_conf_load(struct milter_conf *c, const char *list_key);

/* A client starts: open and negotiate with each filter (a failure sets
 * the sticky answer per milter_default_action) and send the connect
 * command with the client's name, family ('4', '6', 'U'), port and address. */
void milter_session_open(struct milter_session *ms, const char *name, char family, uint16_t port,
			 const char *addr);
/* HELO, MAIL, RCPT, DATA: 1 go on, 0 answered through ops->reply. */
int milter_session_helo(struct milter_session *ms, const char *helo);
int milter_session_mail(struct milter_session *ms, const char *sender);
int milter_session_rcpt(struct milter_session *ms, const char *rcpt);
int milter_session_data(struct milter_session *ms);
/* The message at its end (fd: header and body, LF line ends) through
 * each filter, its changes applied.  1 go on: the message is now *fd_r
 * (fd, or a new memfd the caller closes), ms->discard and ms->hold say
 * what became of it; 0 answered; -1 our own failure (nothing answered). */
int milter_session_message(struct milter_session *ms, int fd, int *fd_r);
/* The transaction ends early or is done: abort where due, reset. */
void milter_session_abort(struct milter_session *ms);
/* QUIT to each filter; close and free. */
void milter_session_close(struct milter_session *ms);

/* What milter_message.c shares with milter_client.c. */
/* Send the stage's macros (stage < 0: none) and the command cmd with its
 * data; when want_reply, read the answer into r (progress skipped;
 * strings live in in; tmo in milliseconds).  0, or -1 after a failure
 * (logged, filter closed). */
int milter_ask(struct milter_session *ms, struct milter *mi, int stage, char cmd, const void *data,
	       size_t len, int want_reply, int tmo, struct buf *in, struct milter_reply *r);
/* Read one more answer (the end of message sends several).  0 or -1 (logged, closed). */
int milter_read(struct milter_session *ms, struct milter *mi, struct buf *in, struct milter_reply *r, int tmo);
/* Act on an accept/reject answer at the end of message: 1 go on, 0 answered. */
int milter_verdict(struct milter_session *ms, struct milter *mi, const struct milter_reply *r);
/* A filter failed (closed already or now; why is logged unless NULL):
 * milter_default_action.  1 go on without it; 0: the answer is kept for
 * the session's later commands and, when answer, given now. */
int milter_failed(struct milter_session *ms, struct milter *mi, const char *why, int answer);
/* Whether the filter takes part in the message now. */
int milter_usable(const struct milter *mi);

#endif
