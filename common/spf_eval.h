/* spf_eval: check_host() of RFC 7208 4: is this client address allowed
 * to use this domain?  The DNS is reached through a small table of
 * lookups (struct spf_dns) so that the tests can serve a zone from
 * memory; spf_dns_resolver() fills it for a c-ares resolver
 * (common/dns.c). */
#ifndef POSTERN_SPF_EVAL_H
#define POSTERN_SPF_EVAL_H

#include <sys/socket.h>

#include "dns.h"
#include "spf_record.h"

#define SPF_LOOKUP_LIMIT 10      /* 4.6.4: DNS-querying terms per check */
#define SPF_VOID_LIMIT 2         /* 4.6.4: lookups answering nothing */
#define SPF_MX_LIMIT 10          /* 4.6.4: MX names of one mx term (more: permerror) */
#define SPF_PTR_LIMIT 10         /* 4.6.4: PTR names of one ptr term (the rest ignored) */
#define SPF_EXPLAIN_MAX 256      /* longest explanation text kept */

struct spf_dns {
	void *arg;
	enum dns_result (*txt)(void *arg, const char *name, struct dns_txt_list *out, const char **error_r);
	enum dns_result (*mx)(void *arg, const char *name, struct dns_mx_list *out, const char **error_r);
	enum dns_result (*addr)(void *arg, const char *name, int family, struct dns_addr_list *out,
				const char **error_r);
	enum dns_result (*ptr)(void *arg, const struct sockaddr *sa, struct dns_name_list *out,
			       const char **error_r);
};

struct spf_query {
	const char *ip;           /* client address (IPv4, IPv6; IPv4-mapped counts as IPv4) */
	const char *domain;       /* <domain>: the HELO name or the sender's domain */
	const char *sender;       /* <sender>: local@domain, or a bare domain (postmaster@ added) */
	const char *helo;         /* for the h macro */
	const char *receiver;     /* for the r macro (our host name) */
	long long time_limit_ms;  /* 4.6.4: the whole check; 0 = none */
};

struct spf_answer {
	enum spf_result result;
	char problem[160];        /* why, for temperror and permerror ("" otherwise) */
	char explanation[SPF_EXPLAIN_MAX + 1];   /* fail: the exp= text, "" if none */
	unsigned lookups, voids;  /* spent, for logs and tests */
};

/* Fill dns with the lookups of a c-ares resolver. */
void spf_dns_resolver(struct dns *resolver, struct spf_dns *dns);
/* check_host(ip, domain, sender) with the limits above; the result is
 * also returned. */
enum spf_result spf_check_host(const struct spf_dns *dns, const struct spf_query *q, struct spf_answer *a);

#endif
