/* dmarc_eval: DMARC evaluation of one message.
 *
 * Offers: dmarc_evaluate() runs policy discovery (RFC 7489 6.6.3): the
 * TXT records at _dmarc.<From domain>, those that are no DMARC records
 * discarded; when none is left, the same at _dmarc.<Organizational
 * Domain> (common/psl.c), whose sp= then applies; more than one record,
 * none at all, or one without a usable policy: dmarc=none (no DMARC
 * processing).  A DNS failure on the way is temperror (6.6.3 leaves it
 * to the receiver; we accept the message).  Then identifier alignment
 * (3.1): the SPF-checked domain with an SPF pass, and the d= of every
 * DKIM pass, against the From domain, strict (equal names) or relaxed
 * (equal Organizational Domains) by aspf= and adkim=.  One aligned pass
 * is a pass; otherwise, when an aligned identifier could not be checked
 * (its SPF or DKIM result is temperror), temperror, so that a DNS
 * hiccup never rejects mail; otherwise fail, and the policy requested
 * is p= (or sp=), one step milder when the message falls outside pct=
 * (6.6.4: reject becomes quarantine, quarantine becomes none).
 *
 * Trusts: nothing in DNS answers (common/dmarc_record.c parses them).
 *
 * Fails: never; every problem is a result with a reason. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dmarc_eval.h"

enum dmarc_found { DMARC_FOUND, DMARC_FOUND_NONE, DMARC_FOUND_MANY, DMARC_FOUND_TEMP };

/* The DMARC records at _dmarc.domain: exactly one kept in *rec with its
 * status. */
static enum dmarc_found dmarc_lookup(const struct dmarc_dns *dns, const char *domain, struct dmarc_record *rec,
				     enum dmarc_record_status *status)
{
	char name[DNS_NAME_MAX + 1];
	struct dns_txt_list txt = { 0 };
	struct dmarc_record r;
	const char *err = NULL;
	enum dns_result res;
	size_t n = 0;
	int len = snprintf(name, sizeof(name), "_dmarc.%s", domain);

	if (len < 0 || (size_t)len >= sizeof(name))
		return DMARC_FOUND_NONE;   /* no such name can hold a record */
	res = dns->txt(dns->arg, name, &txt, &err);
	if (res == DNS_TEMPFAIL)
		return DMARC_FOUND_TEMP;
	if (res != DNS_OK)
		return DMARC_FOUND_NONE;
	for (size_t i = 0; i < txt.n; i++) {
		enum dmarc_record_status st = dmarc_record_parse(txt.rec[i], txt.len[i], &r);

		if (st == DMARC_RECORD_NOT_DMARC)
			continue;
		if (n++ == 0) {
			*rec = r;
			*status = st;
		}
	}
	dns_txt_free(&txt);
	return n == 0 ? DMARC_FOUND_NONE : n == 1 ? DMARC_FOUND : DMARC_FOUND_MANY;
}

/* 3.1.1, 3.1.2: an identifier aligned with the From domain. */
static int dmarc_aligned(const struct psl *psl, const char *from_org, const char *from, const char *id, char mode)
{
	if (id == NULL || *id == '\0')
		return 0;
	if (mode == 's')
		return strcasecmp(id, from) == 0;
	return strcasecmp(psl_org_domain(psl, id), from_org) == 0;
}

/* Policy discovery into out; 0 when a policy record applies. */
static int dmarc_discover(const struct dmarc_dns *dns, const char *from, struct dmarc_outcome *out)
{
	enum dmarc_record_status st = DMARC_RECORD_OK;
	enum dmarc_found f = dmarc_lookup(dns, from, &out->rec, &st);

	if (f == DMARC_FOUND_NONE && strcasecmp(from, out->org_domain) != 0) {
		out->at_org = 1;
		f = dmarc_lookup(dns, out->org_domain, &out->rec, &st);
	}
	switch (f) {
	case DMARC_FOUND_TEMP:
		out->result = DMARC_TEMPERROR;
		out->reason = "DNS error looking up the DMARC record";
		return -1;
	case DMARC_FOUND_NONE:
		out->result = DMARC_NONE;
		return -1;
	case DMARC_FOUND_MANY:
		out->result = DMARC_NONE;
		out->reason = "more than one DMARC record";
		return -1;
	case DMARC_FOUND:
		break;
	}
	if (st != DMARC_RECORD_OK) {
		out->result = DMARC_NONE;
		out->reason = "DMARC record without a valid policy";
		return -1;
	}
	out->have_record = 1;
	out->policy = out->at_org && out->rec.sp != DMARC_POLICY_UNSET ? out->rec.sp : out->rec.p;
	return 0;
}

void dmarc_evaluate(const struct dmarc_dns *dns, const struct psl *psl, const struct dmarc_input *in,
		    struct dmarc_outcome *out)
{
	const char *from = in->from_domain;
	int temp = 0;

	memset(out, 0, sizeof(*out));
	if (from == NULL) {
		out->result = DMARC_PERMERROR;
		out->reason = in->from_error != NULL ? in->from_error : "no usable From domain";
		return;
	}
	if (snprintf(out->org_domain, sizeof(out->org_domain), "%s", psl_org_domain(psl, from)) >=
	    (int)sizeof(out->org_domain)) {
		out->result = DMARC_PERMERROR;
		out->reason = "From domain too long";
		return;
	}
	if (dmarc_discover(dns, from, out) < 0)
		return;
	out->requested = DMARC_POLICY_NONE;
	if (in->spf_domain != NULL && dmarc_aligned(psl, out->org_domain, from, in->spf_domain, out->rec.aspf)) {
		out->spf_aligned = in->spf == DMARC_AUTH_PASS;
		temp |= in->spf == DMARC_AUTH_TEMPERROR;
	}
	for (size_t i = 0; i < in->ndkim && i < DMARC_DKIM_MAX; i++) {
		if (!dmarc_aligned(psl, out->org_domain, from, in->dkim[i].d, out->rec.adkim))
			continue;
		out->dkim_aligned |= in->dkim[i].result == DMARC_AUTH_PASS;
		temp |= in->dkim[i].result == DMARC_AUTH_TEMPERROR;
	}
	if (out->spf_aligned || out->dkim_aligned) {
		out->result = DMARC_PASS;
	} else if (temp) {
		out->result = DMARC_TEMPERROR;
		out->reason = "aligned SPF or DKIM result is temperror";
	} else {
		out->result = DMARC_FAIL;
		out->requested = out->policy;
		/* 6.6.4: outside the sample, the next milder policy */
		if (in->sample >= out->rec.pct && out->requested != DMARC_POLICY_NONE)
			out->requested = out->requested == DMARC_POLICY_REJECT ? DMARC_POLICY_QUARANTINE
										: DMARC_POLICY_NONE;
	}
}

const char *dmarc_result_str(enum dmarc_result r)
{
	static const char *const names[] = { "none", "pass", "fail", "temperror", "permerror" };

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}
