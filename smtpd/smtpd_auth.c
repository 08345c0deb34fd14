/* smtpd_auth: the AUTH command (RFC 4954) with the PLAIN (RFC 4616) and
 * LOGIN mechanisms, both with an optional initial response.
 *
 * Offers: smtpd_cmd_auth().  AUTH exists only on submission and SMTPS,
 * and only once TLS is up (smtpd_auth_offered), so a password never
 * crosses the network in clear.  The credentials go to authd
 * (common/authclient.h, service "smtp"), which alone can read the
 * password file; on success the session remembers the canonical login
 * that authd matched.
 *
 * Failed attempts are throttled: each failure waits
 * smtpd_auth_failure_delay before its 535 5.7.8, and the failure after
 * smtpd_auth_failure_limit gets 421 4.7.0 and the end of the session.
 *
 * Trusts: authd's verdict; nothing from the client, whose base64 is
 * decoded strictly into capped buffers.  Passwords are wiped after use
 * and never logged (nor are the raw AUTH lines).
 *
 * Fails: authd unreachable: 454 4.7.0 (the client may retry later). */
#include <string.h>
#include <unistd.h>

#include "authclient.h"
#include "buf.h"
#include "log.h"
#include "metric.h"
#include "sasl.h"
#include "smtp_cmd.h"
#include "smtpd.h"
#include "stream.h"

enum smtpd_auth_step { SMTPD_AUTH_GOT, SMTPD_AUTH_CANCEL, SMTPD_AUTH_BAD, SMTPD_AUTH_REFUSED,
		       SMTPD_AUTH_GONE };

/* common/sasl.c's verdict as a step of the exchange. */
static enum smtpd_auth_step smtpd_auth_step_of(enum sasl_status st)
{
	switch (st) {
	case SASL_OK: return SMTPD_AUTH_GOT;
	case SASL_CANCEL: return SMTPD_AUTH_CANCEL;
	case SASL_REFUSED: return SMTPD_AUTH_REFUSED;
	case SASL_BAD:
	default: return SMTPD_AUTH_BAD;
	}
}

/* Ask the client for one response (334 + base64 challenge) and decode
 * it into out. */
static enum smtpd_auth_step smtpd_auth_ask(struct smtpd_session *ss, const char *challenge,
					   struct buf *out)
{
	const char *line;
	size_t len;
	enum stream_status st;
	enum smtpd_auth_step r;

	smtpd_reply(ss, "334 %s", challenge);
	if (stream_flush(ss->s) < 0 || smtpd_arm_timeout(ss) < 0)
		return SMTPD_AUTH_GONE;
	st = stream_read_line(ss->s, &line, &len);
	if (st == STREAM_TOOLONG) {
		smtpd_reply(ss, "500 5.5.6 Authentication Exchange line is too long");
		return SMTPD_AUTH_CANCEL;
	}
	if (st != STREAM_OK) {
		if (st == STREAM_TIMEOUT)
			smtpd_reply(ss, "421 4.4.2 %s Error: timeout exceeded", ss->ctx->hostname);
		ss->done = 1;
		return SMTPD_AUTH_GONE;
	}
	r = smtpd_auth_step_of(sasl_response_decode(line, len, out));
	if (r == SMTPD_AUTH_CANCEL)
		smtpd_reply(ss, "501 5.7.0 Authentication aborted");   /* RFC 4954 4 */
	return r;
}

/* The initial response, if any ("=" is an empty one), else one asked for. */
static enum smtpd_auth_step smtpd_auth_first(struct smtpd_session *ss, const char *ir, size_t ir_len,
					     const char *challenge, struct buf *out)
{
	if (ir == NULL)
		return smtpd_auth_ask(ss, challenge, out);
	return smtpd_auth_step_of(sasl_initial_decode(ir, ir_len, out));
}

/* RFC 4616: one message authzid NUL authcid NUL passwd (common/sasl.c
 * checks it; an authzid other than the user itself is refused). */
static enum smtpd_auth_step smtpd_auth_plain(struct smtpd_session *ss, const char *ir, size_t ir_len,
					     struct buf *user, struct buf *pass)
{
	struct buf msg;
	enum smtpd_auth_step r;

	buf_init(&msg, SASL_MESSAGE_MAX);
	r = smtpd_auth_first(ss, ir, ir_len, "", &msg);
	if (r == SMTPD_AUTH_GOT)
		r = smtpd_auth_step_of(sasl_plain_parse(msg.data, msg.len, user, pass));
	buf_free(&msg);   /* wipes */
	return r;
}

/* LOGIN: user name (maybe the initial response), then password. */
static enum smtpd_auth_step smtpd_auth_login(struct smtpd_session *ss, const char *ir, size_t ir_len,
					     struct buf *user, struct buf *pass)
{
	enum smtpd_auth_step r;

	r = smtpd_auth_first(ss, ir, ir_len, SASL_LOGIN_USER_PROMPT, user);
	if (r != SMTPD_AUTH_GOT)
		return r;
	r = smtpd_auth_ask(ss, SASL_LOGIN_PASSWORD_PROMPT, pass);
	if (r == SMTPD_AUTH_GOT)
		r = smtpd_auth_step_of(sasl_login_check(user, pass));
	return r;
}

static void smtpd_auth_failed(struct smtpd_session *ss)
{
	const struct smtpd_ctx *ctx = ss->ctx;

	ss->auth_failures++;
	metric_count(METRIC_AUTH_FAIL);
	/* Slow down guessing; the session is ours to hold. */
	if (ctx->auth_fail_delay > 0)
		sleep(ctx->auth_fail_delay);
	if (ss->auth_failures > ctx->auth_fail_limit) {
		smtpd_reply(ss, "421 4.7.0 %s Error: too many failed authentication attempts",
			    ctx->hostname);
		ss->done = 1;
		return;
	}
	smtpd_reply(ss, "535 5.7.8 Error: authentication failed");
}

/* Ask authd about user/pass and answer. */
static void smtpd_auth_check(struct smtpd_session *ss, const struct buf *user, const struct buf *pass)
{
	struct buf canon;
	const char *err;
	int r;

	buf_init(&canon, SMTPD_AUTH_USER_MAX);
	r = auth_verify_user(buf_cstr(user), buf_cstr(pass), "smtp", ss->client, &canon, NULL, &err);
	if (r == 1 && canon.len > 0 && buf_set(&ss->auth_user, canon.data, canon.len) == 0) {
		log_info("%s: authenticated as %s", ss->client_log, buf_cstr(&ss->auth_user));
		metric_count(METRIC_AUTH_OK);
		smtpd_reply(ss, "235 2.7.0 Authentication successful");
	} else if (r < 0) {
		log_warn("authd: %s", err);
		smtpd_reply(ss, "454 4.7.0 Temporary authentication failure");
	} else {
		/* Postfix's wording, which log tools count. */
		log_warn("%s: SASL %s authentication failed: user %s", ss->client_log,
			 ss->auth_mech != NULL ? ss->auth_mech : "?", buf_cstr(user));
		smtpd_auth_failed(ss);
	}
	buf_free(&canon);
}

/* State checks before any exchange; 0 when AUTH may go on. */
static int smtpd_auth_allowed(struct smtpd_session *ss)
{
	if (!smtpd_auth_offered(ss)) {
		smtpd_reply(ss, "503 5.5.1 Error: authentication not enabled");
		return -1;
	}
	if (ss->helo.len == 0 || !ss->esmtp) {
		smtpd_reply(ss, "503 5.5.1 Error: send EHLO first");
		return -1;
	}
	if (ss->auth_user.len > 0) {
		smtpd_reply(ss, "503 5.5.1 Error: already authenticated");
		return -1;
	}
	if (ss->in_mail) {
		smtpd_reply(ss, "503 5.5.1 Error: MAIL transaction in progress");
		return -1;
	}
	return 0;
}

void smtpd_cmd_auth(struct smtpd_session *ss, const struct smtp_cmd *cmd)
{
	const char *mech = cmd->arg, *ir = NULL, *sp;
	size_t mech_len = cmd->arg_len, ir_len = 0;
	struct buf user, pass;
	enum smtpd_auth_step r;
	enum sasl_mech mech_id;

	if (smtpd_auth_allowed(ss) < 0)
		return;
	sp = memchr(mech, ' ', mech_len);
	if (sp != NULL) {
		ir = sp + 1;
		ir_len = mech_len - (size_t)(ir - mech);
		mech_len = (size_t)(sp - mech);
	}
	buf_init(&user, SASL_MESSAGE_MAX);
	buf_init(&pass, SASL_MESSAGE_MAX);
	mech_id = sasl_mech_parse(mech, mech_len);
	if (mech_id == SASL_MECH_PLAIN)
		r = smtpd_auth_plain(ss, ir, ir_len, &user, &pass);
	else if (mech_id == SASL_MECH_LOGIN)
		r = smtpd_auth_login(ss, ir, ir_len, &user, &pass);
	else {
		smtpd_reply(ss, "504 5.5.4 Error: unsupported authentication mechanism");
		r = SMTPD_AUTH_CANCEL;
	}
	if (r == SMTPD_AUTH_BAD) {
		smtpd_reply(ss, "501 5.5.2 Error: malformed authentication response");
	} else if (r == SMTPD_AUTH_GOT) {
		ss->auth_mech = mech_id == SASL_MECH_PLAIN ? "PLAIN" : "LOGIN";
		smtpd_auth_check(ss, &user, &pass);
	} else if (r == SMTPD_AUTH_REFUSED) {
		smtpd_auth_failed(ss);
	}
	buf_free(&user);   /* wipes */
	buf_free(&pass);
}
