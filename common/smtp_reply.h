/* smtp_reply: the client's parser of SMTP server replies (RFC 5321 4.2)
 * and of the EHLO keyword list (RFC 5321 4.1.1.1).  A reply is fed line
 * by line; every line must carry the same three-digit code, "-" marks a
 * continuation and " " (or nothing) the last line.  The enhanced status
 * code (RFC 3463, RFC 2034) of the first line is extracted when present.
 * Takes (pointer, length), bounds lines and text, never reads past the
 * end; the fuzz target is tests/fuzz/fuzz_smtp_reply.c. */
#ifndef POSTERN_SMTP_REPLY_H
#define POSTERN_SMTP_REPLY_H

#include <stddef.h>
#include "buf.h"

#define SMTP_REPLY_LINES_MAX 100       /* lines in one reply (EHLO lists are ~15) */
#define SMTP_REPLY_TEXT_MAX 16384      /* text bytes kept for one reply */
#define SMTP_REPLY_ENH_MAX 12          /* "5.123.123" and its NUL fit */

struct smtp_reply {
	int code;                      /* 200..599 once a line was taken, else 0 */
	char enh[SMTP_REPLY_ENH_MAX];  /* enhanced status of the first line, "" if none */
	struct buf text;               /* each line's text (after code and separator), LF-joined */
	size_t nlines;
	int complete;                  /* the last line was seen */
};

/* The ESMTP extensions of an EHLO reply that the client uses. */
struct smtp_ext {
	int esmtp;                     /* EHLO was answered 250 */
	int pipelining, eightbitmime, smtputf8, dsn, starttls, enhanced;
	int size;                      /* SIZE was announced */
	unsigned long long size_max;   /* its limit, 0 for none given */
	int auth_plain, auth_login;    /* AUTH mechanisms offered */
};

/* Empty reply ready for its first line. */
void smtp_reply_init(struct smtp_reply *r);
/* Forget the reply, keeping the allocation (for the next command). */
void smtp_reply_reset(struct smtp_reply *r);
/* Free the text. */
void smtp_reply_free(struct smtp_reply *r);
/* Add one line (CRLF or LF may end it).  1 the reply is complete, 0 more
 * lines follow, -1 malformed (*error_r): bad code, a code that differs
 * from the first line's, too many lines or too much text. */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len, const char **error_r);
/* Parse a whole reply held in memory (the fuzz entry).  0 with the reply
 * complete and *consumed_r bytes used, 1 incomplete, -1 malformed. */
int smtp_reply_parse(struct smtp_reply *r, const char *p, size_t n, size_t *consumed_r,
		     const char **error_r);
/* Read the extensions from a complete 250 EHLO reply. */
void smtp_reply_ehlo(const struct smtp_reply *r, struct smtp_ext *ext);
/* Append "CODE [ENH] text" on one line, control bytes and non-ASCII as
 * '?', line breaks as spaces, at most max bytes of text (marked "..."). */
int smtp_reply_summary(const struct smtp_reply *r, struct buf *out, size_t max);
/* The RFC 3463 status of a complete reply: its enhanced code when the
 * class agrees with the reply code, else 2.0.0, 5.0.0 or 4.0.0 (any
 * other class: a temporary failure). */
const char *smtp_reply_dsn(const struct smtp_reply *r);
/* The status of a reply that did not give what the command needed:
 * smtp_reply_dsn for 4xx and 5xx, 4.0.0 for any other (a deferral). */
const char *smtp_reply_dsn_failure(const struct smtp_reply *r);
/* "WHO said: CODE [ENH] text (in reply to CMD)" into out, the text cut
 * at shown bytes (smtp_reply_summary): the reason of a result. */
void smtp_reply_said(const struct smtp_reply *r, const char *who, const char *cmd, size_t shown,
		     char *out, size_t outlen);
/* A result's reason, printf-style into out: a diagnostic, so a text cut
 * to fit is no error. */
void smtp_reason(char *out, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Whether p[0..n) is exactly an RFC 3463 enhanced status code: class 2,
 * 4 or 5, then two numbers of 1-3 digits ("5.1.1"). */
int smtp_enhanced_code_ok(const char *p, size_t n);

#endif
