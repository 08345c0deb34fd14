/* login_policy: the plaintext and failed-login policy of the login
 * processes (popd now, imapd with its imap_* keys later).
 *
 * Offers: login_policy_init() reads a protocol's three keys once;
 * login_plaintext_ok() answers for one connection (RFC 2595 section 2.2,
 * RFC 9051 LOGINDISABLED: no password in clear off loopback unless the
 * operator says so); login_failure_delay()/login_failure_wait() slow
 * password guessing with the failure count that authd keeps per client
 * address and user across every login process (docs/protocols.md).
 *
 * Trusts: the settings (from the operator) and the client address as
 * peer_addr() printed it; an address it cannot read as loopback
 * ("unknown", a pipe in inetd mode) is not loopback.
 *
 * Fails: a bad PROTO_plaintext_auth is an error for the caller to make
 * fatal at start.  Delays are capped at LOGIN_DELAY_CEILING. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "authclient.h"
#include "sasl.h"
#include "log.h"
#include "metric.h"
#include "login_policy.h"

/* PROTO_NAME, read as a time.  -1 if the name would not fit. */
static int login_policy_time(const char *proto, const char *name, unsigned long *value_r)
{
	char key[64];
	unsigned long long v;
	int n = snprintf(key, sizeof(key), "%s_%s", proto, name);

	if (n < 0 || (size_t)n >= sizeof(key))
		return -1;
	v = config_time(key);
	*value_r = v > LOGIN_DELAY_CEILING ? LOGIN_DELAY_CEILING : (unsigned long)v;
	return 0;
}

int login_policy_init(struct login_policy *p, const char *proto, const char **error_r)
{
	char key[64];
	const char *plain;
	int n = snprintf(key, sizeof(key), "%s_plaintext_auth", proto);

	if (n < 0 || (size_t)n >= sizeof(key) ||
	    login_policy_time(proto, "auth_failure_delay", &p->delay) < 0 ||
	    login_policy_time(proto, "auth_failure_delay_max", &p->delay_max) < 0) {
		*error_r = "protocol name too long";
		return -1;
	}
	if (p->delay_max < p->delay)
		p->delay_max = p->delay;
	plain = config_str(key);
	if (strcmp(plain, "yes") == 0) {
		p->plaintext = LOGIN_PLAINTEXT_YES;
	} else if (strcmp(plain, "no") == 0) {
		p->plaintext = LOGIN_PLAINTEXT_NO;
	} else if (strcmp(plain, "loopback") == 0) {
		p->plaintext = LOGIN_PLAINTEXT_LOOPBACK;
	} else {
		static char msg[160];
		snprintf(msg, sizeof(msg), "%s = %.64s: must be loopback, yes or no", key, plain);
		*error_r = msg;
		return -1;
	}
	return 0;
}

int login_addr_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0;
}

int login_plaintext_ok(const struct login_policy *p, int tls, const char *client_addr)
{
	if (tls || p->plaintext == LOGIN_PLAINTEXT_YES)
		return 1;
	return p->plaintext == LOGIN_PLAINTEXT_LOOPBACK && login_addr_loopback(client_addr);
}

unsigned long login_failure_delay(const struct login_policy *p, unsigned long failures)
{
	unsigned long d = p->delay;

	for (unsigned long i = 1; i < failures && d > 0 && d < p->delay_max; i++)
		d *= 2;
	return d > p->delay_max ? p->delay_max : d;
}

void login_failure_wait(const struct login_policy *p, unsigned long failures)
{
	struct timespec ts = { .tv_sec = (time_t)login_failure_delay(p, failures), .tv_nsec = 0 };

	/* A signal (SIGTERM) cuts the wait short: the process is stopping. */
	(void)nanosleep(&ts, NULL);
}

enum login_result login_authenticate(const struct login_policy *p, const char *service, const char *user,
				     const char *secret, const char *client, struct buf *ticket)
{
	struct buf canon;
	struct auth_failure fail;
	const char *error = "";
	enum login_result res;

	buf_init(&canon, SASL_USER_MAX + 1);
	int r = auth_login_ticket(user, secret, service, client, &canon, ticket, &fail, &error);
	if (r == 1) {
		res = LOGIN_OK;
		metric_count(METRIC_AUTH_OK);
	} else if (r == 0) {
		metric_count(METRIC_AUTH_FAIL);
		log_info("login failed user=%s client=%s failures=%lu%s", user, client, fail.failures,
			 fail.throttled ? " throttled" : "");
		login_failure_wait(p, fail.failures);
		res = fail.throttled ? LOGIN_THROTTLED : LOGIN_FAILED;
	} else {
		log_warn("user=%s client=%s: %s", user, client, error);
		res = LOGIN_TEMPFAIL;
	}
	buf_free(&canon);
	return res;
}
