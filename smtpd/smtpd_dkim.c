/* smtpd_dkim: DKIM verification of what the SMTP port receives
 * (docs/dkim.md, "Verification").
 *
 * Offers: smtpd_dkim_init() reads dkim_verify,
 * dkim_verify_signature_limit and dkim_dns_timeout and, on port 25,
 * opens a resolver (dns_servers) before the chroot.  smtpd_dkim_start()
 * gives a message from a client that is not authenticated, not in
 * mynetworks and not in dkim_verify_skip_addresses its
 * verification state (common/dkim_verify.c), which smtpd_data.c feeds
 * with the header section and the body as they stream to enqueue;
 * smtpd_dkim_finish(), at the end of the data, looks up the keys (one
 * after the other, all within dkim_dns_timeout), checks the signatures
 * and logs one line per signature.  The results join the
 * Authentication-Results field (smtpd_auth_results), which then goes to
 * enqueue in the trailer, for the queue file's prepend slot: the result
 * is known only after the header has been streamed.
 *
 * Trusts: nothing in the message or in DNS (common/dkim_verify.c).
 *
 * Fails: a bad resolver setting is fatal at start; out of memory leaves
 * a message unverified (no dkim result, a warning); DNS trouble is a
 * temperror result.  Never a refusal. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "dkim_verify.h"
#include "dns.h"
#include "log.h"
#include "smtpd.h"

struct smtpd_dkim_conf {
	struct dns *resolver;         /* NULL: no verification */
	size_t limit;                 /* dkim_verify_signature_limit */
	long long timeout_ms;         /* dkim_dns_timeout */
	struct netlist_net *skip;       /* dkim_verify_skip_addresses */
	size_t nskip;
};

void smtpd_dkim_init(struct smtpd_ctx *ctx)
{
	struct smtpd_dkim_conf *c;
	unsigned long long dt = config_time("dns_timeout"), t = config_time("dkim_dns_timeout");
	unsigned long long limit = config_size("dkim_verify_signature_limit");
	int query_ms;
	const char *err;

	if (ctx->mode != SMTPD_MODE_SMTP || !config_bool("dkim_verify"))
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		log_fatal("out of memory");
	if (limit > DKIM_VERIFY_LIMIT_MAX) {
		log_warn("dkim_verify_signature_limit = %llu: more than %d; using %d", limit, DKIM_VERIFY_LIMIT_MAX,
			 DKIM_VERIFY_LIMIT_MAX);
		limit = DKIM_VERIFY_LIMIT_MAX;
	}
	c->limit = (size_t)limit;
	c->skip = netlist_parse("dkim_verify_skip_addresses", config_str("dkim_verify_skip_addresses"), NULL, 0,
				      &c->nskip);
	c->timeout_ms = t > LLONG_MAX / 1000 ? LLONG_MAX : (long long)t * 1000;
	/* One query never outlasts the whole budget. */
	query_ms = dt > INT_MAX / 1000 ? INT_MAX : (int)dt * 1000;
	if (c->timeout_ms < query_ms)
		query_ms = (int)c->timeout_ms;
	if (dns_open(config_str("dns_servers"), query_ms, (int)config_size("dns_tries"), &c->resolver, &err) < 0)
		log_fatal("dns: %s", err);
	ctx->dkim = c;
}

void smtpd_dkim_free(struct smtpd_ctx *ctx)
{
	if (ctx->dkim == NULL)
		return;
	dns_close(&ctx->dkim->resolver);
	free(ctx->dkim->skip);
	free(ctx->dkim);
	ctx->dkim = NULL;
}

struct dkim_verify *smtpd_dkim_start(const struct smtpd_session *ss)
{
	struct dkim_verify *v;

	/* Our own users' mail is signed by us, not verified (docs/dkim.md);
	 * trusted and local clients are skipped as SPF skips them. */
	if (ss->ctx->dkim == NULL || ss->auth_user.len > 0 || smtpd_policy_mynetworks(ss->ctx, ss->client) ||
	    netlist_match(ss->ctx->dkim->skip, ss->ctx->dkim->nskip, ss->client))
		return NULL;
	v = dkim_verify_new(ss->ctx->dkim->limit, (uint64_t)time(NULL));
	if (v == NULL)
		log_warn("out of memory: the message from %s is not DKIM-verified", ss->client_log);
	return v;
}

static long long smtpd_dkim_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void smtpd_dkim_finish(const struct smtpd_session *ss, struct dkim_verify *v)
{
	const struct smtpd_dkim_conf *c = ss->ctx->dkim;
	long long deadline = smtpd_dkim_now_ms() + c->timeout_ms;
	char name[DNS_NAME_MAX + 1];

	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		struct dns_txt_list txt = { 0 };
		const char *err = NULL;
		enum dns_result r;

		if (!dkim_verify_key_name(v, i, name, sizeof(name)))
			continue;
		if (smtpd_dkim_now_ms() >= deadline)
			break;   /* unanswered: temperror at dkim_verify_finish */
		r = dns_lookup_txt(c->resolver, name, &txt, &err);
		dkim_verify_key_answer(v, i, r, &txt);
		dns_txt_free(&txt);
	}
	dkim_verify_finish(v);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const char *reason, *d, *s, *res = dkim_verify_result(v, i, &reason, &d, &s);

		log_info("DKIM %s: client=%s, d=%s, s=%s%s%s", res, ss->client_log, d[0] ? d : "?", s[0] ? s : "?",
			 reason != NULL ? ", reason=" : "", reason != NULL ? reason : "");
	}
}
