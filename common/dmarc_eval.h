/* dmarc_eval: one message's DMARC evaluation (RFC 7489 6.6): policy
 * discovery at _dmarc.<From domain> and its Organizational Domain,
 * identifier alignment of the SPF and DKIM results, pct sampling.  The
 * DNS is reached through a lookup function, so the tests serve records
 * from memory; no other I/O. */
#ifndef POSTERN_DMARC_EVAL_H
#define POSTERN_DMARC_EVAL_H

#include <stddef.h>

#include "dmarc_from.h"
#include "dmarc_record.h"
#include "dns.h"
#include "psl.h"

#define DMARC_DKIM_MAX 16   /* DKIM results considered (DKIM_VERIFY_SIGS_MAX) */

struct dmarc_dns {
	void *arg;
	/* as dns_lookup_txt: DNS_OK, DNS_NODATA, DNS_NOTFOUND, DNS_TEMPFAIL */
	enum dns_result (*txt)(void *arg, const char *name, struct dns_txt_list *out, const char **error_r);
};

enum dmarc_result { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };

enum dmarc_auth {
	DMARC_AUTH_OTHER = 0,      /* no result, or one that is not pass (fail, neutral, ...) */
	DMARC_AUTH_PASS,
	DMARC_AUTH_TEMPERROR,
};

struct dmarc_input {
	const char *from_domain;   /* lower case, from dmarc_from_domain; NULL when unusable */
	const char *from_error;    /* then why */
	const char *spf_domain;    /* the domain SPF checked (MAIL FROM, HELO for <>), NULL: not checked */
	enum dmarc_auth spf;
	struct {
		const char *d;     /* the signature's d= */
		enum dmarc_auth result;
	} dkim[DMARC_DKIM_MAX];
	size_t ndkim;
	unsigned sample;           /* 0..99, uniform: pct sampling (6.6.4) */
};

struct dmarc_outcome {
	enum dmarc_result result;
	const char *reason;        /* why none / temperror / permerror (static), or NULL */
	int have_record;           /* a policy record applies (rec, policy) */
	struct dmarc_record rec;
	int at_org;                /* the record is the Organizational Domain's */
	char org_domain[DMARC_FROM_DOMAIN_MAX + 1];
	enum dmarc_policy policy;  /* p=, or sp= for a subdomain by the org record */
	enum dmarc_policy requested;   /* for a fail: policy after pct; else NONE (UNSET without record) */
	int spf_aligned, dkim_aligned; /* an aligned pass */
};

/* Evaluate; psl may be NULL (the last two labels). */
void dmarc_evaluate(const struct dmarc_dns *dns, const struct psl *psl, const struct dmarc_input *in,
		    struct dmarc_outcome *out);
/* The result keyword: "none", "pass", "fail", "temperror", "permerror". */
const char *dmarc_result_str(enum dmarc_result r);

#endif
