/* policy_reply: the client's parser of a Postfix SMTP access policy
 * server's answer (Postfix SMTPD_POLICY_README): name=value lines ended
 * by an empty line, of which `action=` counts, and of that action as
 * Postfix access(5) words it (OK, DUNNO, REJECT, DEFER, DEFER_IF_PERMIT,
 * DEFER_IF_REJECT, 4NN/5NN text, HOLD, DISCARD, PREPEND, WARN, INFO).
 * Takes (pointer, length), bounds lines, attributes and text; the fuzz
 * target is tests/fuzz/fuzz_policy_reply.c. */
#ifndef POSTERN_POLICY_REPLY_H
#define POSTERN_POLICY_REPLY_H

#include <stddef.h>

#define POLICY_REPLY_MAX 4096      /* bytes of one answer, empty line included */
#define POLICY_REPLY_ATTRS_MAX 32  /* attribute lines in one answer */
#define POLICY_TEXT_MAX 512        /* text of an action (reply text, header) */
#define POLICY_SERVICES_MAX 8      /* servers in one smtpd_*policy_services list */
#define POLICY_SPEC_MAX 256        /* "inet:HOST:PORT" or "unix:PATH" */

enum policy_verdict {
	POLICY_DUNNO,            /* no opinion: the next check (or accept) decides */
	POLICY_OK,               /* accept */
	POLICY_REJECT,           /* 5xx: code, dsn, text */
	POLICY_DEFER,            /* 4xx: code, dsn, text */
	POLICY_DEFER_IF_PERMIT,  /* 450 if the rest would accept */
	POLICY_DEFER_IF_REJECT,  /* 450 instead of a later reject */
	POLICY_HOLD,             /* accept, into the hold queue */
	POLICY_DISCARD,          /* accept and throw the message away */
	POLICY_PREPEND,          /* accept; add the header field in text */
	POLICY_WARN,             /* log text, no opinion */
	POLICY_INFO,             /* log text, no opinion */
	POLICY_UNSUPPORTED,      /* an action we do not carry out (REDIRECT, FILTER...) */
};

struct policy_action {
	enum policy_verdict verdict;
	int code;                      /* REJECT/DEFER: 4xx or 5xx; else 0 */
	char dsn[12];                  /* "5.7.1"; "" when the server gave none */
	char text[POLICY_TEXT_MAX];    /* printable ASCII, "" when none */
};

/* Look for a whole answer in (p, len): 1 with the action value copied
 * to action_r (NUL-terminated, at most cap - 1 bytes) and *used_r the
 * bytes it took; 0 when more bytes are needed; -1 when malformed (no
 * action, an overlong or non-printable line, too many attributes). */
int policy_reply_parse(const char *p, size_t len, char *action_r, size_t cap, size_t *used_r);
/* Parse an action value: 0, or -1 when the word is unknown or its text
 * is not acceptable (a->verdict is then POLICY_UNSUPPORTED). */
int policy_action_parse(const char *p, size_t len, struct policy_action *a_r);
/* Split a list of policy servers (spaces or commas) into specs: 0 with
 * *n_r, or -1 with *error_r (static) for a bad or overlong entry or more
 * than POLICY_SERVICES_MAX. */
int policy_services_parse(const char *v, char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX],
			  size_t *n_r, const char **error_r);
/* Whether an action is fit for smtpd_policy_service_default_action. */
int policy_default_action_ok(const char *v);

#endif
