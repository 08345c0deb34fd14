/* sasl: the server side of the SASL mechanisms PLAIN (RFC 4616) and
 * LOGIN (draft-murchison-sasl-login), as SMTP AUTH (RFC 4954), POP3 AUTH
 * (RFC 5034) and IMAP AUTHENTICATE (RFC 9051 6.2.2) carry them: one
 * base64 response per line, "*" to cancel, "=" for an empty initial
 * response.  Decoding and every check of the credentials are here, so
 * that each protocol only maps the result to its own reply. */
#ifndef POSTERN_SASL_H
#define POSTERN_SASL_H

#include <stddef.h>

#include "buf.h"

#define SASL_USER_MAX 255          /* longest authentication identity taken */
#define SASL_PASSWORD_MAX 1024     /* longest password taken */
#define SASL_MESSAGE_MAX 2048      /* longest decoded response (a PLAIN message) */
#define SASL_LOGIN_USER_PROMPT "VXNlcm5hbWU6"   /* LOGIN's challenges: "Username:" */
#define SASL_LOGIN_PASSWORD_PROMPT "UGFzc3dvcmQ6" /* "Password:" */

enum sasl_mech { SASL_MECH_NONE = 0, SASL_MECH_PLAIN, SASL_MECH_LOGIN };

enum sasl_status {
	SASL_OK = 0,
	SASL_CANCEL,      /* the client answered "*" */
	SASL_BAD,         /* not strict base64, too long, or not the mechanism's syntax */
	SASL_REFUSED,     /* well-formed but no login: another authorization
			   * identity, a NUL, a name or password over its limit */
};

/* The mechanism named by name (any case), SASL_MECH_NONE if unsupported. */
enum sasl_mech sasl_mech_parse(const char *name, size_t len);
/* One response line of an exchange (its CRLF or LF may still be there):
 * "*" cancels, else strict base64, decoded and appended to out (its cap
 * bounds the result: SASL_BAD beyond). */
enum sasl_status sasl_response_decode(const char *line, size_t len, struct buf *out);
/* An initial response given with the command: "=" is the empty
 * response, anything else strict base64 as above. */
enum sasl_status sasl_initial_decode(const char *p, size_t len, struct buf *out);
/* A decoded PLAIN message: authzid NUL authcid NUL passwd, exactly two
 * NULs, authcid and passwd not empty (else SASL_BAD); an authzid must be
 * the authcid itself (ASCII case ignored: no proxy logins), authcid at
 * most SASL_USER_MAX and passwd at most SASL_PASSWORD_MAX bytes (else
 * SASL_REFUSED).  On SASL_OK user and pass (reset first) hold them. */
enum sasl_status sasl_plain_parse(const char *msg, size_t len, struct buf *user, struct buf *pass);
/* The decoded user name and password of LOGIN: empty is SASL_BAD; a NUL
 * or a value over its limit SASL_REFUSED. */
enum sasl_status sasl_login_check(const struct buf *user, const struct buf *pass);

#endif
