/* smtpd_dmarc: DMARC (RFC 7489) for the mail the SMTP port receives
 * (docs/operator.md, "DMARC").
 *
 * Offers: smtpd_dmarc_init() reads dmarc_check, dmarc_enforce,
 * dmarc_quarantine and dmarc_public_suffix_list and, when port 25
 * verifies DKIM, loads the Public Suffix List and opens a resolver
 * (dns_servers), all before the chroot.  A DKIM-verified message is
 * evaluated (smtpd_dmarc_start): its From domain is taken when its
 * header section is complete (smtpd_dmarc_header), and at the end of
 * the data, once the DKIM results are in, smtpd_dmarc_finish() looks up
 * the policy (common/dmarc_eval.c) with the session's SPF result,
 * logs one line, and applies the policy when dmarc_enforce is set:
 * p=reject is refused with 550 5.7.1, p=quarantine held (hold/) or only
 * marked.  The result joins the Authentication-Results field
 * (smtpd_dmarc_auth_result), in the queue file's prepend slot.
 *
 * Trusts: nothing in the message or in DNS (common/dmarc_*.c).
 *
 * Fails: a bad setting or resolver is fatal at start; a missing suffix
 * list is a warning and the last two labels of a name; DNS trouble and
 * an unusable From field are results (temperror, permerror) under which
 * the message is accepted. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "auth_results.h"
#include "config.h"
#include "dkim_verify.h"
#include "dmarc_eval.h"
#include "dns.h"
#include "log.h"
#include "psl.h"
#include "smtpd.h"

struct smtpd_dmarc_conf {
	struct dns *resolver;
	struct dmarc_dns dns;
	struct psl *psl;              /* NULL: the last two labels */
	int enforce;                  /* dmarc_enforce */
	int hold;                     /* dmarc_quarantine = hold */
};

static enum dns_result smtpd_dmarc_txt(void *arg, const char *name, struct dns_txt_list *out,
				       const char **error_r)
{
	return dns_lookup_txt(arg, name, out, error_r);
}

/* The suffix list, or NULL with a warning. */
static struct psl *smtpd_dmarc_psl(void)
{
	const char *path = config_str("dmarc_public_suffix_list"), *err = NULL;
	struct psl *psl = NULL;

	if (*path == '\0') {
		log_warn("dmarc_public_suffix_list is empty: Organizational Domains are the last two labels");
		return NULL;
	}
	if (psl_load(path, &psl, &err) < 0) {
		log_warn("cannot load the public suffix list %s: %s; Organizational Domains are the last two labels "
			 "(apt-get install publicsuffix)", path, err);
		return NULL;
	}
	if (psl_skipped(psl) > 0)
		log_warn("public suffix list %s: %zu invalid rules skipped", path, psl_skipped(psl));
	return psl;
}

void smtpd_dmarc_init(struct smtpd_ctx *ctx)
{
	struct smtpd_dmarc_conf *c;
	const char *q = config_str("dmarc_quarantine"), *err;
	unsigned long long dt = config_time("dns_timeout");

	if (strcmp(q, "hold") != 0 && strcmp(q, "mark") != 0)
		log_fatal("dmarc_quarantine = %s: not hold or mark", q);
	/* Only DKIM-verified mail is evaluated: without its results DMARC
	 * would fail every message that only DKIM aligns. */
	if (ctx->mode != SMTPD_MODE_SMTP || !config_bool("dmarc_check"))
		return;
	if (ctx->dkim == NULL) {
		if (config_bool("dmarc_enforce") && config_bool("dkim_verify") == 0)
			log_warn("dmarc_enforce = yes has no effect with dkim_verify = no");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		log_fatal("out of memory");
	c->enforce = config_bool("dmarc_enforce");
	c->hold = strcmp(q, "hold") == 0;
	c->psl = smtpd_dmarc_psl();
	if (dns_open(config_str("dns_servers"), dt > INT_MAX / 1000 ? INT_MAX : (int)dt * 1000,
		     (int)config_size("dns_tries"), &c->resolver, &err) < 0)
		log_fatal("dns: %s", err);
	c->dns.arg = c->resolver;
	c->dns.txt = smtpd_dmarc_txt;
	ctx->dmarc = c;
}

void smtpd_dmarc_free(struct smtpd_ctx *ctx)
{
	if (ctx->dmarc == NULL)
		return;
	dns_close(&ctx->dmarc->resolver);
	psl_free(&ctx->dmarc->psl);
	free(ctx->dmarc);
	ctx->dmarc = NULL;
}

void smtpd_dmarc_start(const struct smtpd_session *ss, struct smtpd_dmarc_msg *dm, int dkim_verified)
{
	memset(dm, 0, sizeof(*dm));
	dm->active = dkim_verified && ss->ctx->dmarc != NULL;
	dm->from_error = "no From field";
}

void smtpd_dmarc_header(struct smtpd_dmarc_msg *dm, const char *hdr, size_t len)
{
	if (dm->active && dmarc_from_domain(hdr, len, dm->from, sizeof(dm->from), &dm->from_error) == 0)
		dm->from_error = NULL;
}

/* The session's SPF result as DMARC sees it (3.1.2: the MAIL FROM
 * domain, the HELO name for the null sender). */
static void smtpd_dmarc_spf(const struct smtpd_session *ss, struct dmarc_input *in)
{
	const struct smtpd_spf_state *st = &ss->spf;
	const char *at;

	if (!st->checked)
		return;
	if (st->by_helo)
		in->spf_domain = buf_cstr(&ss->helo);
	else if ((at = strrchr(buf_cstr(&ss->sender), '@')) != NULL)
		in->spf_domain = at + 1;
	in->spf = st->result == SPF_PASS ? DMARC_AUTH_PASS :
		  st->result == SPF_TEMPERROR ? DMARC_AUTH_TEMPERROR : DMARC_AUTH_OTHER;
}

static void smtpd_dmarc_dkim(const struct dkim_verify *dkim, struct dmarc_input *in)
{
	for (size_t i = 0; dkim != NULL && i < dkim_verify_count(dkim) && in->ndkim < DMARC_DKIM_MAX; i++) {
		const char *reason, *d, *s, *res = dkim_verify_result(dkim, i, &reason, &d, &s);

		in->dkim[in->ndkim].d = d;
		in->dkim[in->ndkim].result = strcmp(res, "pass") == 0 ? DMARC_AUTH_PASS :
					     strcmp(res, "temperror") == 0 ? DMARC_AUTH_TEMPERROR : DMARC_AUTH_OTHER;
		in->ndkim++;
	}
}

static unsigned smtpd_dmarc_sample(void)
{
	unsigned x = 0;

	if (getrandom(&x, sizeof(x), 0) != (ssize_t)sizeof(x))
		x = (unsigned)random();
	return x % 100;
}

int smtpd_dmarc_finish(struct smtpd_session *ss, struct smtpd_dmarc_msg *dm, const struct dkim_verify *dkim)
{
	const struct smtpd_dmarc_conf *c = ss->ctx->dmarc;
	const struct dmarc_outcome *o = &dm->out;
	struct dmarc_input in = { 0 };
	const char *action = "accept";

	if (!dm->active || c == NULL)
		return 1;
	in.from_domain = dm->from_error == NULL ? dm->from : NULL;
	in.from_error = dm->from_error;
	smtpd_dmarc_spf(ss, &in);
	smtpd_dmarc_dkim(dkim, &in);
	in.sample = smtpd_dmarc_sample();
	dmarc_evaluate(&c->dns, c->psl, &in, &dm->out);
	dm->done = 1;
	dm->dis = DMARC_POLICY_NONE;
	if (o->result == DMARC_FAIL && c->enforce && o->requested == DMARC_POLICY_REJECT) {
		action = "reject";
		dm->dis = DMARC_POLICY_REJECT;
	} else if (o->result == DMARC_FAIL && c->enforce && o->requested == DMARC_POLICY_QUARANTINE) {
		action = c->hold ? "hold" : "mark";
		dm->dis = DMARC_POLICY_QUARANTINE;
		dm->hold = c->hold;
	}
	/* with the message's ID once it has one (postern log ID shows it) */
	const char *id = smtpd_msg_queue_id(ss);

	log_info("%s%sDMARC %s: client=%s, header.from=%s, policy=%s, requested=%s, aligned=%s, action=%s%s%s",
		 id != NULL ? id : "", id != NULL ? ": " : "", dmarc_result_str(o->result), ss->client_log, in.from_domain != NULL ? in.from_domain : "?",
		 o->have_record ? dmarc_policy_str(o->policy) : "-",
		 o->have_record ? dmarc_policy_str(o->requested) : "-",
		 o->spf_aligned && o->dkim_aligned ? "spf,dkim" : o->spf_aligned ? "spf" : o->dkim_aligned ? "dkim" : "none",
		 action, o->reason != NULL ? ", reason=" : "", o->reason != NULL ? o->reason : "");
	if (dm->dis != DMARC_POLICY_REJECT)
		return 1;
	/* the reply names the domain whose policy refused the message */
	smtpd_reply(ss, "550 5.7.1 Message rejected: it fails the DMARC policy of %s", in.from_domain);
	return 0;
}

int smtpd_dmarc_auth_result(const struct smtpd_dmarc_msg *dm, struct auth_results *ar)
{
	const struct dmarc_outcome *o;
	struct auth_result *r;
	char comment[64];

	if (dm == NULL || !dm->done)
		return 0;
	o = &dm->out;
	r = auth_results_add(ar, "dmarc", dmarc_result_str(o->result), o->reason);
	if (r == NULL)
		return -1;
	/* as large receivers write it: the published policy, then what we did */
	if (o->have_record) {
		snprintf(comment, sizeof(comment), "p=%s%s%s dis=%s", dmarc_policy_str(o->rec.p),
			 o->rec.sp != DMARC_POLICY_UNSET ? " sp=" : "", dmarc_policy_str(o->rec.sp),
			 dmarc_policy_str(dm->dis));
		if (auth_result_comment(r, comment) < 0)
			return -1;
	}
	if (dm->from_error == NULL && auth_result_prop(r, "header", "from", dm->from) < 0)
		return -1;
	return 0;
}
