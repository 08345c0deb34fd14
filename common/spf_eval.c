/* spf_eval: the SPF check of RFC 7208 (check_host, section 4).
 *
 * Offers: spf_check_host() evaluates the SPF record of a domain for a
 * client address: record selection (4.5: exactly one "v=spf1" TXT
 * record), the mechanisms of section 5 in order, redirect= (6.1, ignored
 * beside "all"), and for a fail the exp= explanation (6.2), taken only
 * from the record that failed and never from inside an include.
 *
 * Limits (4.6.4): at most SPF_LOOKUP_LIMIT terms that query the DNS
 * (include, a, mx, ptr, exists, redirect) in the whole check, more is a
 * permerror; at most SPF_VOID_LIMIT lookups that find nothing (NXDOMAIN
 * or no records), more is a permerror; an mx term with more than
 * SPF_MX_LIMIT names is a permerror; a ptr term looks at the first
 * SPF_PTR_LIMIT names only; the time_limit_ms of the query bounds the
 * whole check (then temperror).  Recursion is bounded by the lookup
 * limit (every include and redirect counts).
 *
 * Trusts: nothing in DNS answers: records go through spf_record.c,
 * expanded names are checked (labels of 1..63, 7.3's 253-byte
 * truncation from the left) before they are asked for.
 *
 * Fails: a DNS failure (timeout, SERVFAIL) is temperror (5), a bad
 * record permerror; the answer says why in `problem`. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sockets.h"
#include "spf_eval.h"

#define SPF_NAME_MAX 253          /* 7.3: expanded names longer are cut from the left */

struct spf_eval {
	const struct spf_dns *dns;
	const struct spf_query *q;
	struct spf_answer *a;
	int family;                   /* AF_INET or AF_INET6 */
	unsigned char ip[16];
	struct sockaddr_storage sa;   /* the client, for PTR */
	char ip_dotted[72], ip_text[48], time[24];
	char local[256], sender[600], sender_domain[256];
	char validated[DNS_NAME_MAX + 1];
	const char *cur_domain;       /* d while a %{p} is being expanded */
	struct timespec start;
	enum spf_result err;          /* the result of a failed term */
};

/* ---- resolver table for common/dns.c ---- */

static enum dns_result spf_res_txt(void *arg, const char *name, struct dns_txt_list *out, const char **e)
{
	return dns_lookup_txt(arg, name, out, e);
}

static enum dns_result spf_res_mx(void *arg, const char *name, struct dns_mx_list *out, const char **e)
{
	return dns_lookup_mx(arg, name, out, e);
}

static enum dns_result spf_res_addr(void *arg, const char *name, int family, struct dns_addr_list *out,
				    const char **e)
{
	return dns_lookup_addr(arg, name, family, out, e);
}

static enum dns_result spf_res_ptr(void *arg, const struct sockaddr *sa, struct dns_name_list *out,
				   const char **e)
{
	return dns_lookup_ptr(arg, sa, out, e);
}

void spf_dns_resolver(struct dns *resolver, struct spf_dns *dns)
{
	*dns = (struct spf_dns){ .arg = resolver, .txt = spf_res_txt, .mx = spf_res_mx,
				 .addr = spf_res_addr, .ptr = spf_res_ptr };
}

/* ---- helpers ---- */

/* Set the error result and its reason; returns -1 for the caller. */
static int spf_fail(struct spf_eval *ev, enum spf_result r, const char *fmt, const char *arg)
{
	ev->err = r;
	snprintf(ev->a->problem, sizeof(ev->a->problem), fmt, arg);
	return -1;
}

/* Before each DNS query: the time limit (4.6.4). */
static int spf_time_ok(struct spf_eval *ev)
{
	struct timespec now;
	long long ms;

	if (ev->q->time_limit_ms <= 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(now.tv_sec - ev->start.tv_sec) * 1000 + (now.tv_nsec - ev->start.tv_nsec) / 1000000;
	if (ms < ev->q->time_limit_ms)
		return 1;
	spf_fail(ev, SPF_TEMPERROR, "%s", "time limit exceeded");
	return 0;
}

/* Count a DNS-querying term (4.6.4). */
static int spf_count_lookup(struct spf_eval *ev)
{
	if (++ev->a->lookups > SPF_LOOKUP_LIMIT)
		return spf_fail(ev, SPF_PERMERROR, "%s", "more than 10 DNS lookups");
	return 0;
}

/* A lookup that found nothing (4.6.4); -1 past the limit. */
static int spf_count_void(struct spf_eval *ev)
{
	if (++ev->a->voids > SPF_VOID_LIMIT)
		return spf_fail(ev, SPF_PERMERROR, "%s", "more than 2 void DNS lookups");
	return 0;
}

/* Whether name is a domain we may look up: 1..253 bytes, labels 1..63. */
static int spf_name_ok(const char *name, int multi_label)
{
	size_t len = strlen(name), label = 0, dots = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > SPF_NAME_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			dots++;
		} else if (c <= 0x20 || c >= 0x7f || ++label > 63) {
			return 0;
		}
	}
	return label > 0 && (!multi_label || dots > 0);
}

/* 7.3: cut labels from the left until the name fits in 253 bytes. */
static const char *spf_name_cut(const char *name)
{
	while (strlen(name) > SPF_NAME_MAX) {
		const char *dot = strchr(name, '.');
		if (dot == NULL)
			break;
		name = dot + 1;
	}
	return name;
}

/* Whether the client address lies in addr/prefix (family given). */
static int spf_ip_in(const struct spf_eval *ev, int family, const unsigned char *addr, unsigned prefix)
{
	return family == ev->family && ip_prefix_match(ev->ip, addr, prefix);
}

/* Whether one of the addresses of l is the client's, within the CIDR. */
static int spf_addrs_match(const struct spf_eval *ev, const struct dns_addr_list *l, const struct spf_term *t)
{
	for (size_t i = 0; i < l->n; i++) {
		const void *sa = &l->addr[i];
		const struct sockaddr_in *s4 = sa;
		const struct sockaddr_in6 *s6 = sa;

		if (s4->sin_family == AF_INET &&
		    spf_ip_in(ev, AF_INET, (const unsigned char *)&s4->sin_addr, t->cidr4))
			return 1;
		if (s6->sin6_family == AF_INET6 && spf_ip_in(ev, AF_INET6, s6->sin6_addr.s6_addr, t->cidr6))
			return 1;
	}
	return 0;
}

/* ---- macros ---- */

static const char *spf_validated_name(void *arg);

static void spf_vars(struct spf_eval *ev, const char *domain, struct spf_macro_vars *v)
{
	*v = (struct spf_macro_vars){
		.sender = ev->sender, .local = ev->local, .sender_domain = ev->sender_domain,
		.domain = domain, .ip_dotted = ev->ip_dotted, .ip_text = ev->ip_text,
		.ip_version = ev->family == AF_INET ? "in-addr" : "ip6",
		.helo = ev->q->helo != NULL ? ev->q->helo : "",
		.receiver = ev->q->receiver != NULL ? ev->q->receiver : "unknown",
		.time = ev->time, .validated = spf_validated_name, .arg = ev,
	};
}

/* The target name of a term: its domain-spec expanded, or domain. */
static int spf_target(struct spf_eval *ev, const char *spec, size_t len, const char *domain, struct buf *out)
{
	struct spf_macro_vars v;
	const char *err;

	buf_reset(out);
	if (spec == NULL)
		return buf_append_str(out, domain) < 0 ? spf_fail(ev, SPF_PERMERROR, "%s", "name too long") : 0;
	spf_vars(ev, domain, &v);
	ev->cur_domain = domain;
	if (spf_macro_expand(spec, len, &v, 0, out, &err) < 0)
		return spf_fail(ev, SPF_PERMERROR, "%s", err);
	return 0;
}

/* ---- the address checks shared by ptr and %{p} ---- */

/* Whether name has the client address among its A/AAAA records. */
static int spf_name_has_ip(struct spf_eval *ev, const char *name)
{
	struct dns_addr_list l;
	const char *err;
	struct spf_term any = { .cidr4 = 32, .cidr6 = 128 };

	if (!spf_time_ok(ev))
		return 0;
	if (ev->dns->addr(ev->dns->arg, name, ev->family, &l, &err) != DNS_OK)
		return 0;
	return spf_addrs_match(ev, &l, &any);
}

/* Whether name equals target or is a subdomain of it. */
static int spf_under(const char *name, const char *target)
{
	size_t n = strlen(name), t = strlen(target);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (t > 0 && target[t - 1] == '.')
		t--;
	if (n == t)
		return strncasecmp(name, target, n) == 0;
	return n > t && name[n - t - 1] == '.' && strncasecmp(name + n - t, target, t) == 0;
}

/* 5.5: the validated names of the client (first SPF_PTR_LIMIT PTR names
 * whose addresses include it); the first one under target is copied to
 * out (when target is NULL: the first one at all).  1 found, 0 none,
 * -1 after spf_fail (void lookup limit). */
static int spf_ptr_names(struct spf_eval *ev, const char *target, char *out, size_t outlen)
{
	struct dns_name_list names;
	const char *err;
	enum dns_result r;

	if (!spf_time_ok(ev))
		return -1;
	r = ev->dns->ptr(ev->dns->arg, (const struct sockaddr *)&ev->sa, &names, &err);
	if (r == DNS_NOTFOUND || r == DNS_NODATA)
		return spf_count_void(ev) < 0 ? -1 : 0;
	if (r != DNS_OK)
		return 0;   /* 5.5: a DNS error makes ptr not match */
	for (size_t i = 0; i < names.n && i < SPF_PTR_LIMIT; i++) {
		if (target != NULL && !spf_under(names.name[i], target))
			continue;
		if (spf_name_has_ip(ev, names.name[i])) {
			if (strlen(names.name[i]) < outlen)
				memcpy(out, names.name[i], strlen(names.name[i]) + 1);
			return 1;
		}
	}
	return 0;
}

/* %{p} (7.3): a validated name under the current domain, else any, else
 * "unknown".  Not counted against the lookup limit. */
static const char *spf_validated_name(void *arg)
{
	struct spf_eval *ev = arg;
	enum spf_result keep = ev->err;
	unsigned voids = ev->a->voids;

	ev->validated[0] = '\0';
	if (spf_ptr_names(ev, ev->cur_domain, ev->validated, sizeof(ev->validated)) != 1 &&
	    spf_ptr_names(ev, NULL, ev->validated, sizeof(ev->validated)) != 1)
		memcpy(ev->validated, "unknown", sizeof("unknown"));
	ev->err = keep;
	ev->a->voids = voids;
	return ev->validated;
}

/* ---- mechanisms (5) ---- */

static enum spf_result spf_check(struct spf_eval *ev, const char *domain, int in_include);

/* a (5.3) and exists (5.7, always A records). */
static int spf_mech_a(struct spf_eval *ev, const struct spf_term *t, const char *target)
{
	struct dns_addr_list l;
	const char *err;
	int family = t->mech == SPF_MECH_EXISTS ? AF_INET : ev->family;
	enum dns_result r;

	if (!spf_name_ok(target, 0))
		return spf_count_void(ev) < 0 ? -1 : 0;
	if (!spf_time_ok(ev))
		return -1;
	r = ev->dns->addr(ev->dns->arg, target, family, &l, &err);
	if (r == DNS_TEMPFAIL)
		return spf_fail(ev, SPF_TEMPERROR, "DNS: %s", err);
	if (r != DNS_OK)
		return spf_count_void(ev) < 0 ? -1 : 0;
	if (t->mech == SPF_MECH_EXISTS)
		return l.n > 0;
	return spf_addrs_match(ev, &l, t);
}

/* mx (5.4): the addresses of up to SPF_MX_LIMIT MX hosts. */
static int spf_mech_mx(struct spf_eval *ev, const struct spf_term *t, const char *target)
{
	struct dns_mx_list mx;
	const char *err;
	enum dns_result r;

	if (!spf_name_ok(target, 0))
		return spf_count_void(ev) < 0 ? -1 : 0;
	if (!spf_time_ok(ev))
		return -1;
	r = ev->dns->mx(ev->dns->arg, target, &mx, &err);
	if (r == DNS_TEMPFAIL)
		return spf_fail(ev, SPF_TEMPERROR, "DNS: %s", err);
	if (r == DNS_NOTFOUND || r == DNS_NODATA)
		return spf_count_void(ev) < 0 ? -1 : 0;
	if (r != DNS_OK)
		return 0;   /* null MX: no hosts */
	if (mx.n > SPF_MX_LIMIT)
		return spf_fail(ev, SPF_PERMERROR, "%s", "more than 10 MX names");
	for (size_t i = 0; i < mx.n; i++) {
		struct dns_addr_list l;

		if (!spf_time_ok(ev))
			return -1;
		r = ev->dns->addr(ev->dns->arg, mx.mx[i].host, ev->family, &l, &err);
		if (r == DNS_TEMPFAIL)
			return spf_fail(ev, SPF_TEMPERROR, "DNS: %s", err);
		if (r == DNS_OK && spf_addrs_match(ev, &l, t))
			return 1;
	}
	return 0;
}

/* include (5.2): pass matches, fail/softfail/neutral do not, errors
 * stay errors and none is a permerror. */
static int spf_mech_include(struct spf_eval *ev, const char *target)
{
	enum spf_result r = spf_check(ev, target, 1);

	switch (r) {
	case SPF_PASS: return 1;
	case SPF_FAIL: case SPF_SOFTFAIL: case SPF_NEUTRAL: return 0;
	case SPF_NONE: return spf_fail(ev, SPF_PERMERROR, "include:%s has no SPF record", target);
	default:
		ev->err = r;
		return -1;
	}
}

/* Evaluate one directive: 1 match, 0 no match, -1 error (ev->err). */
static int spf_term_eval(struct spf_eval *ev, const struct spf_term *t, const char *domain, struct buf *target)
{
	switch (t->mech) {
	case SPF_MECH_ALL:
		return 1;
	case SPF_MECH_IP4:
		return spf_ip_in(ev, AF_INET, t->addr, t->cidr4);
	case SPF_MECH_IP6:
		return spf_ip_in(ev, AF_INET6, t->addr, t->cidr6);
	default:
		break;
	}
	if (spf_count_lookup(ev) < 0 || spf_target(ev, t->spec, t->spec_len, domain, target) < 0)
		return -1;
	const char *name = spf_name_cut(buf_cstr(target));
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		return spf_mech_include(ev, name);
	case SPF_MECH_MX:
		return spf_mech_mx(ev, t, name);
	case SPF_MECH_PTR: {
		char found[DNS_NAME_MAX + 1];
		return spf_ptr_names(ev, name, found, sizeof(found));
	}
	default:
		return spf_mech_a(ev, t, name);
	}
}

/* ---- explanation (6.2) ---- */

/* The exp= text of a failing record, into the answer; any problem
 * (no record, several, bad syntax) leaves it empty. */
static void spf_explain(struct spf_eval *ev, const struct spf_record *rec, const char *domain)
{
	struct buf target, text;
	struct dns_txt_list txt = { 0 };
	struct spf_macro_vars v;
	const char *err;
	enum spf_result keep = ev->err;

	buf_init(&target, SPF_EXPAND_MAX);
	buf_init(&text, SPF_EXPLAIN_MAX);
	if (spf_target(ev, rec->exp, rec->exp_len, domain, &target) < 0 || !spf_time_ok(ev))
		goto done;
	const char *name = spf_name_cut(buf_cstr(&target));
	if (!spf_name_ok(name, 0) || ev->dns->txt(ev->dns->arg, name, &txt, &err) != DNS_OK || txt.n != 1)
		goto done;
	spf_vars(ev, domain, &v);
	ev->cur_domain = domain;
	if (spf_macro_expand(txt.rec[0], txt.len[0], &v, 1, &text, &err) < 0)
		goto done;
	for (size_t i = 0; i < text.len; i++)
		if ((unsigned char)text.data[i] < 0x20 || (unsigned char)text.data[i] > 0x7e)
			goto done;   /* 6.2: ASCII only; it goes into an SMTP reply */
	memcpy(ev->a->explanation, text.data, text.len);
	ev->a->explanation[text.len] = '\0';
done:
	ev->err = keep;
	ev->a->problem[0] = '\0';
	dns_txt_free(&txt);
	buf_free(&target);
	buf_free(&text);
}

/* ---- the record ---- */

/* 4.4, 4.5: the one SPF record of domain.  1 found (rec parsed, its
 * text in *txt), 0 none, -1 error (ev->err). */
static int spf_record_get(struct spf_eval *ev, const char *domain, struct dns_txt_list *txt,
			  struct spf_record *rec)
{
	const char *err;
	size_t found = 0, which = 0;
	enum dns_result r;

	if (!spf_time_ok(ev))
		return -1;
	r = ev->dns->txt(ev->dns->arg, domain, txt, &err);
	if (r == DNS_TEMPFAIL)
		return spf_fail(ev, SPF_TEMPERROR, "DNS: %s", err);
	if (r != DNS_OK)
		return 0;
	for (size_t i = 0; i < txt->n; i++)
		if (spf_record_is_spf1(txt->rec[i], txt->len[i])) {
			found++;
			which = i;
		}
	if (txt->more)
		return spf_fail(ev, SPF_PERMERROR, "too many TXT records at %s", domain);
	if (found == 0)
		return 0;
	if (found > 1)
		return spf_fail(ev, SPF_PERMERROR, "more than one SPF record at %s", domain);
	if (spf_record_parse(txt->rec[which], txt->len[which], rec, &err) < 0) {
		char why[96];
		snprintf(why, sizeof(why), "%s at %s", err, domain);
		return spf_fail(ev, SPF_PERMERROR, "bad SPF record: %s", why);
	}
	return 1;
}

/* The mechanisms of rec in order, then redirect; -1 on error. */
static enum spf_result spf_record_eval(struct spf_eval *ev, const struct spf_record *rec, const char *domain,
				       int in_include)
{
	struct buf target;
	enum spf_result res = SPF_NEUTRAL;

	buf_init(&target, SPF_EXPAND_MAX);
	for (size_t i = 0; i < rec->n; i++) {
		int m = spf_term_eval(ev, &rec->term[i], domain, &target);
		if (m < 0) {
			res = ev->err;
			goto done;
		}
		if (m > 0) {
			res = rec->term[i].qual;
			if (res == SPF_FAIL && !in_include && rec->exp != NULL)
				spf_explain(ev, rec, domain);
			goto done;
		}
	}
	/* 6.1 (and 5.1: ignored when the record has "all"). */
	if (rec->redirect != NULL && !rec->has_all) {
		if (spf_count_lookup(ev) < 0 ||
		    spf_target(ev, rec->redirect, rec->redirect_len, domain, &target) < 0) {
			res = ev->err;
			goto done;
		}
		char *name = strdup(spf_name_cut(buf_cstr(&target)));
		if (name == NULL) {
			spf_fail(ev, SPF_TEMPERROR, "%s", "out of memory");
			res = SPF_TEMPERROR;
			goto done;
		}
		res = spf_check(ev, name, in_include);
		if (res == SPF_NONE) {
			spf_fail(ev, SPF_PERMERROR, "redirect=%s has no SPF record", name);
			res = SPF_PERMERROR;
		}
		free(name);
	}
done:
	buf_free(&target);
	return res;
}

/* check_host() for one domain (4.3 - 4.7). */
static enum spf_result spf_check(struct spf_eval *ev, const char *domain, int in_include)
{
	struct dns_txt_list txt = { 0 };
	struct spf_record *rec;
	enum spf_result res;
	int r;

	/* 4.3: a malformed or single-label domain has no policy. */
	if (!spf_name_ok(domain, 1))
		return SPF_NONE;
	rec = malloc(sizeof(*rec));
	if (rec == NULL) {
		spf_fail(ev, SPF_TEMPERROR, "%s", "out of memory");
		return SPF_TEMPERROR;
	}
	r = spf_record_get(ev, domain, &txt, rec);
	if (r < 0)
		res = ev->err;
	else if (r == 0)
		res = SPF_NONE;
	else
		res = spf_record_eval(ev, rec, domain, in_include);
	free(rec);
	dns_txt_free(&txt);
	return res;
}

/* ---- the query ---- */

/* The client address in its forms for matching and for macros. */
static int spf_ip_setup(struct spf_eval *ev, const char *ip)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	size_t o = 0;

	memset(&ev->sa, 0, sizeof(ev->sa));
	if (inet_pton(AF_INET, ip, ev->ip) == 1) {
		ev->family = AF_INET;
	} else if (inet_pton(AF_INET6, ip, ev->ip) == 1) {
		ev->family = AF_INET6;
		/* 5: an IPv4-mapped client is an IPv4 client. */
		if (memcmp(ev->ip, v4mapped, sizeof(v4mapped)) == 0) {
			memmove(ev->ip, ev->ip + 12, 4);
			ev->family = AF_INET;
		}
	} else {
		return -1;
	}
	if (ev->family == AF_INET) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ev->sa;
		s->sin_family = AF_INET;
		memcpy(&s->sin_addr, ev->ip, 4);
		snprintf(ev->ip_dotted, sizeof(ev->ip_dotted), "%u.%u.%u.%u",
			 ev->ip[0], ev->ip[1], ev->ip[2], ev->ip[3]);
		memcpy(ev->ip_text, ev->ip_dotted, strlen(ev->ip_dotted) + 1);
		return 0;
	}
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ev->sa;
	s6->sin6_family = AF_INET6;
	memcpy(&s6->sin6_addr, ev->ip, 16);
	/* 7.3: i of IPv6 is the dot-format of all 32 nibbles. */
	for (int i = 0; i < 16; i++) {
		static const char hex[] = "0123456789abcdef";
		ev->ip_dotted[o++] = hex[ev->ip[i] >> 4];
		ev->ip_dotted[o++] = '.';
		ev->ip_dotted[o++] = hex[ev->ip[i] & 15];
		ev->ip_dotted[o++] = i < 15 ? '.' : '\0';
	}
	if (inet_ntop(AF_INET6, ev->ip, ev->ip_text, sizeof(ev->ip_text)) == NULL)
		return -1;
	return 0;
}

/* <sender> and its parts (4.3: no local-part means postmaster). */
static int spf_sender_setup(struct spf_eval *ev, const char *sender, const char *domain)
{
	const char *at = sender != NULL ? strrchr(sender, '@') : NULL;
	const char *local = "postmaster", *dom = domain;
	size_t llen = strlen(local);

	if (at != NULL) {
		if (at > sender) {
			local = sender;
			llen = (size_t)(at - sender);
		}
		dom = at + 1;
	} else if (sender != NULL && sender[0] != '\0') {
		dom = sender;
	}
	if (llen >= sizeof(ev->local) || strlen(dom) >= sizeof(ev->sender_domain))
		return -1;
	memcpy(ev->local, local, llen);
	ev->local[llen] = '\0';
	memcpy(ev->sender_domain, dom, strlen(dom) + 1);
	int n = snprintf(ev->sender, sizeof(ev->sender), "%s@%s", ev->local, ev->sender_domain);
	return n < 0 || (size_t)n >= sizeof(ev->sender) ? -1 : 0;
}

enum spf_result spf_check_host(const struct spf_dns *dns, const struct spf_query *q, struct spf_answer *a)
{
	struct spf_eval *ev = calloc(1, sizeof(*ev));

	memset(a, 0, sizeof(*a));
	if (ev == NULL) {
		snprintf(a->problem, sizeof(a->problem), "out of memory");
		return a->result = SPF_TEMPERROR;
	}
	ev->dns = dns;
	ev->q = q;
	ev->a = a;
	clock_gettime(CLOCK_MONOTONIC, &ev->start);
	snprintf(ev->time, sizeof(ev->time), "%lld", (long long)time(NULL));
	if (spf_ip_setup(ev, q->ip) < 0) {
		snprintf(a->problem, sizeof(a->problem), "not an IP address");
		a->result = SPF_PERMERROR;
	} else if (q->domain == NULL || spf_sender_setup(ev, q->sender, q->domain) < 0) {
		a->result = SPF_NONE;   /* 4.3: no usable domain */
	} else {
		a->result = spf_check(ev, q->domain, 0);
	}
	if (a->result != SPF_TEMPERROR && a->result != SPF_PERMERROR)
		a->problem[0] = '\0';
	free(ev);
	return a->result;
}
