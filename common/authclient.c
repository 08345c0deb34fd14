/* authclient: ask authd whether a user name and password are good.
 *
 * Offers: auth_verify() sends one `cmd=auth` record (docs/protocols.md)
 * to private/authd (relative to the process root: every root holds a
 * link to the authd socket) and turns the answer into 1 / 0 / -1;
 * auth_login_ticket() does the same with `cmd=ticket` for a login
 * process (a one-time ticket instead of the mailbox, and authd's failure
 * count for throttling), auth_redeem() turns a ticket back into user and
 * mailbox for a session process.
 *
 * Trusts: authd for the verdict, but not for the shape of its answer: the
 * record is read with the bounded record reader, an unknown status is a
 * temporary failure, and a mailbox path is returned as given (the caller
 * validates it against its own root before use).
 *
 * Fails: any I/O problem, timeout (ipc_timeout) or malformed answer is a
 * temporary failure (-1) with a static *error_r; the caller answers its
 * client with a "try again later" reply.  The password never leaves this
 * module in a buffer that is not wiped: the request is built in a buf,
 * written with send(2) directly (not through a stream whose buffer we
 * could not wipe) and erased with buf_free. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "authclient.h"
#include "config.h"
#include "daemon.h"
#include "record.h"

#define AUTHCLIENT_REQUEST_MAX (16 * 1024)  /* five fields, escaped */
#define AUTHCLIENT_FIELD_MAX 1024            /* longest user/password we send */

static char authclient_reason[512];

static int authclient_timeout_ms(void)
{
	unsigned long long t = config_time("ipc_timeout");
	return t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);
}

static int authclient_temp(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* Connect, send req (wiped afterwards by the caller), read one answer
 * record into rec.  0, or -1 with *error_r. */
static int authclient_exchange(const struct buf *req, struct record *rec, const char **error_r)
{
	char path[256];

	if (daemon_socket_path("authd", path, sizeof(path)) < 0)
		return authclient_temp(error_r, "authd socket path too long");
	switch (record_call(path, req, authclient_timeout_ms(), rec)) {
	case RECORD_CALL_OK:
		return 0;
	case RECORD_CALL_CONNECT:
		return authclient_temp(error_r, "cannot connect to authd");
	case RECORD_CALL_SEND:
		return authclient_temp(error_r, "cannot send the request to authd");
	default:
		return authclient_temp(error_r, "no valid answer from authd");
	}
}

/* Build a password request for cmd (auth or ticket) into req. 0 or -1. */
static int authclient_build(struct buf *req, const char *cmd, const char *user,
			    const char *password, const char *service, const char *client)
{
	if (record_put_str(req, "cmd", cmd) < 0 ||
	    record_put_str(req, "user", user) < 0 ||
	    record_put_str(req, "password", password) < 0 ||
	    record_put_str(req, "service", service) < 0 ||
	    (client != NULL && record_put_str(req, "client", client) < 0))
		return -1;
	return record_end(req);
}

/* Send a password request and read the answer: 0 or -1 (*error_r).
 * The request, password included, is wiped before return. */
static int authclient_password_request(const char *cmd, const char *user, const char *password,
				       const char *service, const char *client,
				       struct record *rec, const char **error_r)
{
	struct buf req;
	int r;

	buf_init(&req, AUTHCLIENT_REQUEST_MAX);
	if (authclient_build(&req, cmd, user, password, service, client) < 0)
		r = authclient_temp(error_r, "cannot build the authd request");
	else
		r = authclient_exchange(&req, rec, error_r);
	buf_free(&req);   /* wipes the password */
	return r;
}

/* Copy field key of rec into out (when out is not NULL); a missing or
 * empty value is an error.  0 or -1. */
static int authclient_field(const struct record *rec, const char *key, struct buf *out)
{
	const char *v = record_get(rec, key);

	if (out == NULL)
		return 0;
	if (v == NULL || *v == '\0')
		return -1;
	return buf_set(out, v, strlen(v));
}

/* Interpret the status of an answer: 1 ok, 0 fail, -1 tempfail or junk. */
static int authclient_status(const struct record *rec, const char **error_r)
{
	const char *status = record_get(rec, "status");
	const char *v;

	if (status == NULL)
		return authclient_temp(error_r, "authd answer without status");
	if (strcmp(status, "fail") == 0)
		return 0;
	if (strcmp(status, "tempfail") == 0) {
		v = record_get(rec, "reason");
		snprintf(authclient_reason, sizeof(authclient_reason), "authd: %s",
			 v != NULL ? v : "temporary failure");
		return authclient_temp(error_r, authclient_reason);
	}
	if (strcmp(status, "ok") != 0)
		return authclient_temp(error_r, "authd answer with an unknown status");
	return 1;
}

/* Interpret the answer record.  1, 0 or -1. */
static int authclient_answer(const struct record *rec, struct buf *user_r,
			     struct buf *mailbox_r, const char **error_r)
{
	int r = authclient_status(rec, error_r);

	if (r != 1)
		return r;
	if (authclient_field(rec, "user", user_r) < 0)
		return authclient_temp(error_r, "authd answer: bad user");
	if (mailbox_r != NULL && record_get(rec, "mailbox") == NULL)
		return authclient_temp(error_r, "authd knows no mailbox for this user");
	if (authclient_field(rec, "mailbox", mailbox_r) < 0)
		return authclient_temp(error_r, "authd answer: bad mailbox path");
	return 1;
}

int auth_verify_user(const char *user, const char *password, const char *service,
		     const char *client, struct buf *user_r, struct buf *mailbox_r,
		     const char **error_r)
{
	struct record rec = { 0 };
	int ret;

	*error_r = "";
	/* Longer than any account authd holds: a plain rejection, decided
	 * here so that the record writer never has to refuse it. */
	if (strlen(user) > AUTHCLIENT_FIELD_MAX || strlen(password) > AUTHCLIENT_FIELD_MAX)
		return 0;
	ret = authclient_password_request("auth", user, password, service, client, &rec, error_r);
	if (ret == 0)
		ret = authclient_answer(&rec, user_r, mailbox_r, error_r);
	record_clear(&rec);
	return ret;
}

int auth_login_ticket(const char *user, const char *password, const char *service,
		      const char *client, struct buf *user_r, struct buf *ticket_r,
		      struct auth_failure *fail_r, const char **error_r)
{
	struct record rec = { 0 };
	unsigned long long n = 0;
	int ret;

	*error_r = "";
	memset(fail_r, 0, sizeof(*fail_r));
	if (strlen(user) > AUTHCLIENT_FIELD_MAX || strlen(password) > AUTHCLIENT_FIELD_MAX)
		return 0;
	ret = authclient_password_request("ticket", user, password, service, client, &rec, error_r);
	if (ret == 0)
		ret = authclient_status(&rec, error_r);
	if (ret == 0) {
		const char *t = record_get(&rec, "throttled");
		if (record_get_num(&rec, "failures", &n) == 0)
			fail_r->failures = n > 1000000 ? 1000000 : (unsigned long)n;
		fail_r->throttled = t != NULL && strcmp(t, "yes") == 0;
	} else if (ret == 1 && (authclient_field(&rec, "user", user_r) < 0 ||
				authclient_field(&rec, "ticket", ticket_r) < 0)) {
		ret = authclient_temp(error_r, "authd answer without user or ticket");
	}
	if (ticket_r != NULL && ret != 1)
		buf_wipe(ticket_r);
	/* The ticket is a credential too: wipe the record's copy. */
	for (size_t i = 0; i < rec.n; i++)
		if (strcmp(rec.fields[i].key, "ticket") == 0)
			explicit_bzero(rec.fields[i].value, rec.fields[i].value_len);
	record_clear(&rec);
	return ret;
}

int auth_redeem(const char *ticket, const char *service, struct buf *user_r,
		struct buf *mailbox_r, const char **error_r)
{
	struct record rec = { 0 };
	struct buf req;
	int ret;

	*error_r = "";
	if (strlen(ticket) > AUTHCLIENT_FIELD_MAX)
		return 0;
	buf_init(&req, AUTHCLIENT_REQUEST_MAX);
	if (record_put_str(&req, "cmd", "redeem") < 0 || record_put_str(&req, "ticket", ticket) < 0 ||
	    record_put_str(&req, "service", service) < 0 || record_end(&req) < 0)
		ret = authclient_temp(error_r, "cannot build the authd request");
	else
		ret = authclient_exchange(&req, &rec, error_r);
	buf_free(&req);
	if (ret == 0)
		ret = authclient_answer(&rec, user_r, mailbox_r, error_r);
	record_clear(&rec);
	return ret;
}

int auth_verify(const char *user, const char *password, const char *service,
		const char *client, struct buf *mailbox_r, const char **error_r)
{
	return auth_verify_user(user, password, service, client, NULL, mailbox_r, error_r);
}
