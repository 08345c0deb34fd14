/* smtpd_spf: SPF checks of the SMTP port and the Authentication-Results
 * header of what it receives.
 *
 * Offers: smtpd_spf_init() reads spf_check, spf_reject_fail,
 * spf_skip_addresses, spf_time_limit and authserv_id and, when SPF is
 * checked (port 25 only), opens the resolver (dns_servers) before the
 * chroot.  smtpd_spf_mail(), at each MAIL FROM, checks a client that is
 * not authenticated, not in mynetworks and not in spf_skip_addresses
 * (RFC 7208 2.3, 2.4): the HELO identity first (once per HELO name;
 * an address literal has none), which decides when it fails; else the
 * MAIL FROM identity, which for the null sender is postmaster@HELO, so
 * the HELO result is reused.  smtpd_spf_rcpt() refuses a recipient with
 * 550 5.7.23 (RFC 7372) when the decisive result is fail and
 * spf_reject_fail is set, as Postfix with policyd-spf does at RCPT.
 * smtpd_auth_results() writes the Authentication-Results field
 * (RFC 8601, one spf result with smtp.mailfrom or smtp.helo, then the
 * dmarc result of smtpd_dmarc.c, the dkim results of smtpd_dkim.c), and smtpd_auth_results_strip()
 * removes incoming fields that claim our authserv-id (RFC 8601 5), on
 * every port: nobody may hand us a verdict in our name.
 *
 * Trusts: the configuration; DNS answers only through common/spf_eval.c.
 *
 * Fails: a bad setting or resolver is fatal at start; a DNS problem is
 * a temperror result, recorded, never a refusal (only fail is refused,
 * and only when asked). */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth_results.h"
#include "config.h"
#include "dkim_verify.h"
#include "dns.h"
#include "log.h"
#include "smtpd.h"
#include "spf_eval.h"

#define SMTPD_AR_MAX 8192         /* the whole Authentication-Results field */

struct smtpd_spf_conf {
	struct dns *resolver;         /* NULL: SPF not checked */
	struct spf_dns dns;
	int reject_fail;
	long long time_limit_ms;
	struct netlist_net *skip;
	size_t nskip;
	char authserv_id[AUTH_RESULTS_ID_MAX + 1];
};

void smtpd_spf_init(struct smtpd_ctx *ctx)
{
	struct smtpd_spf_conf *c = calloc(1, sizeof(*c));
	const char *id = config_str("authserv_id"), *err;
	unsigned long long t = config_time("spf_time_limit"), dt = config_time("dns_timeout");
	static const struct auth_results none;
	struct buf probe;

	if (c == NULL)
		log_fatal("out of memory");
	if (*id == '\0')
		id = ctx->hostname;
	/* Refused now rather than at each message: it must be a token. */
	buf_init(&probe, SMTPD_AR_MAX);
	if (str_copy(c->authserv_id, sizeof(c->authserv_id), id) < 0 ||
	    auth_results_write(id, &none, &probe) < 0)
		log_fatal("authserv_id (or myhostname) must be a token of at most %d bytes (RFC 8601 2.5)",
			  AUTH_RESULTS_ID_MAX);
	buf_free(&probe);
	c->reject_fail = config_bool("spf_reject_fail");
	c->time_limit_ms = t > LLONG_MAX / 1000 ? LLONG_MAX : (long long)t * 1000;
	c->skip = netlist_parse("spf_skip_addresses", config_str("spf_skip_addresses"), NULL, 0, &c->nskip);
	ctx->spf = c;
	if (ctx->mode != SMTPD_MODE_SMTP || !config_bool("spf_check"))
		return;
	if (dns_open(config_str("dns_servers"), dt > INT_MAX / 1000 ? INT_MAX : (int)dt * 1000,
		     (int)config_size("dns_tries"), &c->resolver, &err) < 0)
		log_fatal("dns: %s", err);
	spf_dns_resolver(c->resolver, &c->dns);
}

void smtpd_spf_free(struct smtpd_ctx *ctx)
{
	if (ctx->spf == NULL)
		return;
	dns_close(&ctx->spf->resolver);
	free(ctx->spf->skip);
	free(ctx->spf);
	ctx->spf = NULL;
}

/* Whether this client's identities are checked at all: not for one
 * without an address (smtpd -i on a pipe), nor for trusted ones. */
static int smtpd_spf_applies(const struct smtpd_session *ss)
{
	const struct smtpd_spf_conf *c = ss->ctx->spf;
	unsigned char addr[16];

	if (inet_pton(AF_INET, ss->client, addr) != 1 && inet_pton(AF_INET6, ss->client, addr) != 1)
		return 0;
	return c != NULL && c->resolver != NULL && ss->auth_user.len == 0 &&
	       !smtpd_policy_mynetworks(ss->ctx, ss->client) &&
	       !netlist_match(c->skip, c->nskip, ss->client);
}

/* One check_host() run into the session's answer fields. */
static enum spf_result smtpd_spf_run(struct smtpd_session *ss, const char *domain, const char *sender)
{
	const struct smtpd_spf_conf *c = ss->ctx->spf;
	struct spf_query q = {
		.ip = ss->client, .domain = domain, .sender = sender, .helo = buf_cstr(&ss->helo),
		.receiver = ss->ctx->hostname, .time_limit_ms = c->time_limit_ms,
	};
	struct spf_answer *a = malloc(sizeof(*a));
	enum spf_result r;

	if (a == NULL) {
		str_copy(ss->spf.problem, sizeof(ss->spf.problem), "out of memory");
		return SPF_TEMPERROR;
	}
	r = spf_check_host(&c->dns, &q, a);
	memcpy(ss->spf.problem, a->problem, sizeof(ss->spf.problem));
	memcpy(ss->spf.explanation, a->explanation, sizeof(ss->spf.explanation));
	free(a);
	return r;
}

/* RFC 7208 2.3: the HELO identity, once per HELO name.  An address
 * literal is no domain: none. */
static void smtpd_spf_helo(struct smtpd_session *ss)
{
	struct smtpd_spf_state *st = &ss->spf;
	const char *helo = buf_cstr(&ss->helo);
	char sender[SMTPD_HELO_MAX + 16];

	if (st->helo_done && strcasecmp(st->helo_domain, helo) == 0)
		return;
	str_copy(st->helo_domain, sizeof(st->helo_domain), helo);
	st->helo_done = 1;
	st->helo_problem[0] = st->helo_explanation[0] = '\0';
	if (helo[0] == '[') {
		st->helo = SPF_NONE;
		return;
	}
	snprintf(sender, sizeof(sender), "postmaster@%s", helo);
	st->helo = smtpd_spf_run(ss, helo, sender);
	memcpy(st->helo_problem, st->problem, sizeof(st->helo_problem));
	memcpy(st->helo_explanation, st->explanation, sizeof(st->helo_explanation));
}

void smtpd_spf_mail(struct smtpd_session *ss)
{
	struct smtpd_spf_state *st = &ss->spf;
	const char *sender = buf_cstr(&ss->sender), *at;

	st->checked = 0;
	if (!smtpd_spf_applies(ss))
		return;
	smtpd_spf_helo(ss);
	at = strrchr(sender, '@');
	/* 2.3: a HELO fail decides; 2.4: <> is postmaster@HELO, checked already. */
	if (st->helo == SPF_FAIL || sender[0] == '\0' || at == NULL) {
		st->by_helo = 1;
		st->result = st->helo;
		memcpy(st->problem, st->helo_problem, sizeof(st->problem));
		memcpy(st->explanation, st->helo_explanation, sizeof(st->explanation));
	} else {
		st->by_helo = 0;
		st->result = smtpd_spf_run(ss, at + 1, sender);
	}
	st->checked = 1;
	log_info("SPF %s: client=%s, identity=%s, helo=<%s>, from=<%s>%s%s", spf_result_str(st->result),
		 ss->client_log, st->by_helo ? "helo" : "mailfrom", buf_cstr(&ss->helo), sender,
		 st->problem[0] != '\0' ? ", problem=" : "", st->problem);
}

int smtpd_spf_rcpt(struct smtpd_session *ss, const char *shown)
{
	const struct smtpd_spf_state *st = &ss->spf;

	if (!st->checked || st->result != SPF_FAIL || ss->ctx->spf == NULL || !ss->ctx->spf->reject_fail)
		return 1;
	/* RFC 7372 3.2: 5.7.23, SPF validation failed; 6.2 of RFC 7208: the
	 * domain's explanation, when it gave one. */
	if (st->explanation[0] != '\0')
		smtpd_reply(ss, "550 5.7.23 <%.256s>: Recipient address rejected: SPF fail: %s", shown,
			    st->explanation);
	else
		smtpd_reply(ss, "550 5.7.23 <%.256s>: Recipient address rejected: SPF fail: "
			    "%s not permitted for %s",
			    shown, ss->client, st->by_helo ? "the HELO name" : "the sender domain");
	return 0;
}

int smtpd_auth_results(const struct smtpd_session *ss, const struct dkim_verify *dkim,
		       const struct smtpd_dmarc_msg *dmarc, struct buf *out)
{
	const struct smtpd_spf_state *st = &ss->spf;
	int spf = st->checked && ss->ctx->spf != NULL;
	struct auth_results *ar;
	struct auth_result *r;
	int ret = -1;

	/* Port 25 marks every message (RFC 8601 2.2: "none" when the client
	 * was not checked: mynetworks, the skip lists, checks off); the
	 * submission ports, whose clients are authenticated, only what
	 * they checked (nothing). */
	if (ss->ctx->spf == NULL || (!spf && dkim == NULL && ss->ctx->mode != SMTPD_MODE_SMTP))
		return 0;
	ar = calloc(1, sizeof(*ar));
	if (ar == NULL)
		return -1;
	if (spf) {
		r = auth_results_add(ar, "spf", spf_result_str(st->result),
				     st->problem[0] != '\0' ? st->problem : NULL);
		if (r == NULL || (st->by_helo ? auth_result_prop(r, "smtp", "helo", buf_cstr(&ss->helo))
					      : auth_result_prop(r, "smtp", "mailfrom", buf_cstr(&ss->sender))) < 0)
			goto out;
	}
	/* DMARC before DKIM: one result per signature could fill the list. */
	if (smtpd_dmarc_auth_result(dmarc, ar) < 0)
		log_warn("the DMARC result of the message from %s does not fit its Authentication-Results",
			 ss->client_log);
	/* A result that did not fit is left out, the rest written. */
	if (dkim != NULL && dkim_verify_auth_results(dkim, ar) < 0)
		log_warn("not every DKIM result of the message from %s fits its Authentication-Results",
			 ss->client_log);
	ret = auth_results_write(ss->ctx->spf->authserv_id, ar, out);
out:
	free(ar);
	return ret;
}

size_t smtpd_auth_results_strip(const struct smtpd_session *ss, char *hdr, size_t len)
{
	size_t removed, n;

	if (ss->ctx->spf == NULL)
		return len;
	n = auth_results_strip(hdr, len, ss->ctx->spf->authserv_id, &removed);
	if (removed > 0)
		log_info("removed %zu Authentication-Results header(s) claiming authserv-id %s from %s",
			 removed, ss->ctx->spf->authserv_id, ss->client_log);
	return n;
}
