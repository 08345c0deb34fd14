/* dns: MX and address lookups for the remote delivery agent.
 *
 * Offers: dns_lookup_mx (RFC 5321 5.1: MX hosts by preference, equal
 * preferences in random order so load spreads; RFC 7505 null MX),
 * dns_lookup_addr (A and AAAA asked in parallel, answers interleaved
 * IPv6/IPv4 so that a broken family costs one attempt, not all), and
 * for SPF dns_lookup_txt (each record's character-strings joined,
 * RFC 7208 3.3; at most DNS_TXT_MAX records, `more` says when there were
 * more) and dns_lookup_ptr (at most DNS_PTR_MAX distinct names).  c-ares
 * is asynchronous; here its queries are driven to completion with
 * poll(), bounded by its own per-try timeout and try count, so a caller
 * sees a plain blocking call that can never hang.
 *
 * Trusts: nothing in answers.  Parsing of the wire format is c-ares's
 * (ares_parse_*); counts are bounded here (DNS_MX_MAX, DNS_ADDR_MAX;
 * extra records are dropped after sorting, which only loses the least
 * preferred hosts, and logged by the caller through the count).  Names
 * are checked for length and control bytes before use.
 *
 * Fails: NXDOMAIN is DNS_NOTFOUND and "no records of that type" is
 * DNS_NODATA, both permanent facts; every other failure (timeout,
 * SERVFAIL, REFUSED, a malformed answer, out of memory) is DNS_TEMPFAIL
 * with *error_r, so mail is deferred, never bounced, on a DNS outage.
 * The resolver configuration is read at dns_open (before chroot);
 * nothing is read from the file system afterwards. */
#include <arpa/inet.h>
#include <ares.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "dns.h"

#define DNS_SERVERS_MAX 1024        /* longest dns_servers value */

struct dns {
	ares_channel ch;
};

/* One outstanding query and what came back. */
struct dns_query {
	int done;
	int status;                 /* ARES_* */
	unsigned char *answer;      /* copy of the answer when status is ARES_SUCCESS */
	int len;
};

static unsigned dns_random(void)
{
	return arc4random();
}

const char *dns_result_str(enum dns_result r)
{
	switch (r) {
	case DNS_OK: return "ok";
	case DNS_NOTFOUND: return "not found";
	case DNS_NODATA: return "no data";
	case DNS_NULLMX: return "null MX";
	case DNS_TEMPFAIL: return "temporary failure";
	}
	return "unknown";
}

/* A name we may send as a query: 1..255 octets of printable ASCII. */
static int dns_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > DNS_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)name[i] <= 0x20 || (unsigned char)name[i] >= 0x7f)
			return 0;
	return 1;
}

/* "a:53, [::1]:5353" -> "a:53,[::1]:5353" for ares_set_servers_ports_csv. */
static int dns_servers_csv(const char *servers, struct buf *csv)
{
	int sep = 0;

	for (const char *p = servers; *p != '\0'; p++) {
		if (*p == ',' || *p == ' ' || *p == '\t') {
			sep = csv->len > 0;
			continue;
		}
		if ((sep && buf_putc(csv, ',') < 0) || buf_putc(csv, *p) < 0)
			return -1;
		sep = 0;
	}
	return csv->len > 0 ? 0 : -1;
}

int dns_open(const char *servers, int timeout_ms, int tries, struct dns **dns_r, const char **error_r)
{
	static int lib_ready;
	struct ares_options o;
	struct dns *d;
	int r;

	*dns_r = NULL;
	if (!lib_ready && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
		*error_r = "cannot initialise c-ares";
		return -1;
	}
	lib_ready = 1;
	d = calloc(1, sizeof *d);
	if (d == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	memset(&o, 0, sizeof o);
	o.timeout = timeout_ms > 0 ? timeout_ms : 5000;
	o.tries = tries > 0 ? tries : 2;
	o.lookups = (char *)"b";        /* DNS only: /etc/hosts is not visible in the chroot */
	r = ares_init_options(&d->ch, &o, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
	if (r != ARES_SUCCESS) {
		free(d);
		*error_r = ares_strerror(r);
		return -1;
	}
	if (servers != NULL && *servers != '\0') {
		struct buf csv;
		buf_init(&csv, DNS_SERVERS_MAX);
		if (dns_servers_csv(servers, &csv) < 0) {
			*error_r = "dns_servers: empty or too long";
			r = ARES_EBADSTR;
		} else if ((r = ares_set_servers_ports_csv(d->ch, csv.data)) != ARES_SUCCESS) {
			*error_r = "dns_servers: not a list of numeric host[:port]";
		}
		buf_free(&csv);
		if (r != ARES_SUCCESS) {
			ares_destroy(d->ch);
			free(d);
			return -1;
		}
	}
	*dns_r = d;
	return 0;
}

void dns_close(struct dns **dns)
{
	if (*dns == NULL)
		return;
	ares_destroy((*dns)->ch);
	free(*dns);
	*dns = NULL;
}

/* ---- driving c-ares ---- */

static void dns_callback(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_query *q = arg;

	(void)timeouts;
	q->done = 1;
	q->status = status;
	if (status == ARES_SUCCESS && abuf != NULL && alen > 0) {
		q->answer = malloc((size_t)alen);
		if (q->answer == NULL) {
			q->status = ARES_ENOMEM;
			return;
		}
		memcpy(q->answer, abuf, (size_t)alen);
		q->len = alen;
	}
}

/* Milliseconds until c-ares wants to handle a timeout (at most 1 s). */
static int dns_wait_ms(struct dns *d)
{
	struct timeval max = { 1, 0 }, tv, *tvp = ares_timeout(d->ch, &max, &tv);

	return (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
}

/* Run c-ares until every query in q[0..n) is done. */
static void dns_run(struct dns *d, struct dns_query *q, size_t n)
{
	for (;;) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		int bits, nfds = 0, r;
		size_t pending = 0;

		for (size_t i = 0; i < n; i++)
			pending += !q[i].done;
		if (pending == 0)
			return;
		bits = ares_getsock(d->ch, socks, ARES_GETSOCK_MAXNUM);
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			/* c-ares's own macros shift a signed 1 into bit 31 (UB). */
			unsigned ub = (unsigned)bits;
			short ev = (short)(((ub >> i) & 1u ? POLLIN : 0) |
					   ((ub >> (i + ARES_GETSOCK_MAXNUM)) & 1u ? POLLOUT : 0));
			if (ev != 0)
				pfd[nfds++] = (struct pollfd){ .fd = socks[i], .events = ev };
		}
		r = poll(pfd, (nfds_t)nfds, dns_wait_ms(d));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  /* timeouts */
			continue;
		}
		for (int i = 0; i < nfds; i++) {
			short re = pfd[i].revents;
			ares_process_fd(d->ch, (re & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD,
					(re & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
		}
	}
}

/* The result class of a finished query. */
static enum dns_result dns_status_result(int status, const char **error_r)
{
	switch (status) {
	case ARES_SUCCESS: return DNS_OK;
	case ARES_ENOTFOUND: return DNS_NOTFOUND;
	case ARES_ENODATA: return DNS_NODATA;
	default:
		*error_r = ares_strerror(status);
		return DNS_TEMPFAIL;
	}
}

/* The outcome of an ares_parse_*_reply call. */
static enum dns_result dns_parse_status(int r, const char **error_r)
{
	if (r == ARES_ENODATA)
		return DNS_NODATA;
	if (r != ARES_SUCCESS) {
		*error_r = ares_strerror(r);
		return DNS_TEMPFAIL;
	}
	return DNS_OK;
}

/* Ask one question of type about name and wait for it: DNS_OK with the
 * answer in *q (the caller frees q->answer), or why not. */
static enum dns_result dns_ask(struct dns *dns, const char *name, int type, struct dns_query *q,
			       const char **error_r)
{
	if (!dns_name_ok(name)) {
		*error_r = "malformed domain name";
		return DNS_NOTFOUND;
	}
	ares_query(dns->ch, name, ns_c_in, type, dns_callback, q);
	dns_run(dns, q, 1);
	return dns_status_result(q->status, error_r);
}

/* ---- MX ---- */

void dns_mx_sort(struct dns_mx_list *l, unsigned (*rnd)(void))
{
	/* Insertion sort: at most DNS_MX_MAX entries. */
	for (size_t i = 1; i < l->n; i++) {
		struct dns_mx t = l->mx[i];
		size_t j = i;
		for (; j > 0 && l->mx[j - 1].pref > t.pref; j--)
			l->mx[j] = l->mx[j - 1];
		l->mx[j] = t;
	}
	/* RFC 5321 5.1: equal preferences in random order (Fisher-Yates per run). */
	for (size_t a = 0; a < l->n;) {
		size_t b = a + 1;
		while (b < l->n && l->mx[b].pref == l->mx[a].pref)
			b++;
		for (size_t i = b - 1; i > a; i--) {
			size_t j = a + rnd() % (i - a + 1);
			struct dns_mx t = l->mx[i];
			l->mx[i] = l->mx[j];
			l->mx[j] = t;
		}
		a = b;
	}
}

/* Keep the best DNS_MX_MAX records of a c-ares list (a bounded
 * selection: the list from the wire may be long). */
static void dns_mx_keep(struct dns_mx_list *out, const struct ares_mx_reply *m)
{
	size_t worst = 0;

	if (strlen(m->host) > DNS_NAME_MAX)
		return;
	if (out->n == DNS_MX_MAX) {
		for (size_t i = 1; i < out->n; i++)
			if (out->mx[i].pref > out->mx[worst].pref)
				worst = i;
		if (out->mx[worst].pref <= m->priority)
			return;
	} else {
		worst = out->n++;
	}
	memcpy(out->mx[worst].host, m->host, strlen(m->host) + 1);
	out->mx[worst].pref = m->priority;
}

enum dns_result dns_mx_parse(const unsigned char *answer, int len, struct dns_mx_list *out,
			     unsigned (*rnd)(void), const char **error_r)
{
	struct ares_mx_reply *mx = NULL;
	size_t total = 0, nulls = 0;
	enum dns_result pr = dns_parse_status(ares_parse_mx_reply(answer, len, &mx), error_r);

	out->n = 0;
	if (pr != DNS_OK)
		return pr;
	for (const struct ares_mx_reply *m = mx; m != NULL; m = m->next) {
		total++;
		/* RFC 7505 3: the null MX is "." (c-ares gives ""). */
		if (m->host[0] == '\0' || strcmp(m->host, ".") == 0) {
			nulls++;
			continue;
		}
		dns_mx_keep(out, m);
	}
	ares_free_data(mx);
	if (total == 0)
		return DNS_NODATA;
	/* RFC 7505 3: a null MX must stand alone; next to real MX records it
	 * is ignored, since the other records show the domain takes mail. */
	if (nulls > 0 && out->n == 0)
		return DNS_NULLMX;
	dns_mx_sort(out, rnd != NULL ? rnd : dns_random);
	return DNS_OK;
}

enum dns_result dns_lookup_mx(struct dns *dns, const char *domain, struct dns_mx_list *out,
			      const char **error_r)
{
	struct dns_query q = { 0 };
	enum dns_result res;

	out->n = 0;
	res = dns_ask(dns, domain, ns_t_mx, &q, error_r);
	if (res == DNS_OK)
		res = dns_mx_parse(q.answer, q.len, out, NULL, error_r);
	free(q.answer);
	return res;
}

/* ---- addresses ---- */

static int dns_add_addr(struct dns_addr_list *out, const void *sa, socklen_t len)
{
	if (out->n >= DNS_ADDR_MAX)
		return -1;
	memset(&out->addr[out->n], 0, sizeof out->addr[out->n]);
	memcpy(&out->addr[out->n], sa, len);
	out->len[out->n] = len;
	out->n++;
	return 0;
}

static int dns_numeric(const char *host, int family, struct dns_addr_list *out)
{
	struct sockaddr_in in4 = { .sin_family = AF_INET };
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };

	if (family != AF_INET6 && inet_pton(AF_INET, host, &in4.sin_addr) == 1)
		return dns_add_addr(out, &in4, sizeof in4) == 0;
	if (family != AF_INET && inet_pton(AF_INET6, host, &in6.sin6_addr) == 1)
		return dns_add_addr(out, &in6, sizeof in6) == 0;
	return 0;
}

/* Addresses of one answer into v4/v6 lists (the caller interleaves). */
static void dns_parse_addrs(const struct dns_query *q, int v6, struct dns_addr_list *l)
{
	struct ares_addrttl a4[DNS_ADDR_MAX];
	struct ares_addr6ttl a6[DNS_ADDR_MAX];
	int n = DNS_ADDR_MAX;

	l->n = 0;
	if (q->status != ARES_SUCCESS)
		return;
	if (v6 ? ares_parse_aaaa_reply(q->answer, q->len, NULL, a6, &n) != ARES_SUCCESS
	       : ares_parse_a_reply(q->answer, q->len, NULL, a4, &n) != ARES_SUCCESS)
		return;
	for (int i = 0; i < n && i < DNS_ADDR_MAX; i++) {
		if (v6) {
			struct sockaddr_in6 s = { .sin6_family = AF_INET6 };
			memcpy(&s.sin6_addr, &a6[i].ip6addr, sizeof s.sin6_addr);
			dns_add_addr(l, &s, sizeof s);
		} else {
			struct sockaddr_in s = { .sin_family = AF_INET, .sin_addr = a4[i].ipaddr };
			dns_add_addr(l, &s, sizeof s);
		}
	}
}

/* Combine the A and AAAA outcomes: any address wins; else a temporary
 * failure of either; else NXDOMAIN only if the name does not exist. */
static enum dns_result dns_addr_result(const struct dns_query *q, size_t n, size_t found,
				       const char **error_r)
{
	int tempfail = 0, notfound = 0;

	if (found > 0)
		return DNS_OK;
	for (size_t i = 0; i < n; i++) {
		enum dns_result r = dns_status_result(q[i].status, error_r);
		tempfail |= r == DNS_TEMPFAIL;
		notfound |= r == DNS_NOTFOUND;
	}
	if (tempfail)
		return DNS_TEMPFAIL;
	return notfound ? DNS_NOTFOUND : DNS_NODATA;
}

enum dns_result dns_lookup_addr(struct dns *dns, const char *host, int family,
				struct dns_addr_list *out, const char **error_r)
{
	struct dns_query q[2] = { { 0 }, { 0 } };   /* [0] AAAA, [1] A */
	struct dns_addr_list l6, l4;
	enum dns_result res;

	out->n = 0;
	if (dns_numeric(host, family, out))
		return DNS_OK;
	if (!dns_name_ok(host)) {
		*error_r = "malformed host name";
		return DNS_NOTFOUND;
	}
	q[0].done = family == AF_INET;
	q[1].done = family == AF_INET6;
	q[0].status = q[1].status = ARES_ENODATA;
	if (!q[0].done)
		ares_query(dns->ch, host, ns_c_in, ns_t_aaaa, dns_callback, &q[0]);
	if (!q[1].done)
		ares_query(dns->ch, host, ns_c_in, ns_t_a, dns_callback, &q[1]);
	dns_run(dns, q, 2);
	dns_parse_addrs(&q[0], 1, &l6);
	dns_parse_addrs(&q[1], 0, &l4);
	/* Alternate families, IPv6 first (RFC 8305 4 in spirit). */
	for (size_t i = 0; i < DNS_ADDR_MAX && (i < l6.n || i < l4.n); i++) {
		if (i < l6.n)
			dns_add_addr(out, &l6.addr[i], l6.len[i]);
		if (i < l4.n)
			dns_add_addr(out, &l4.addr[i], l4.len[i]);
	}
	res = dns_addr_result(q, 2, out->n, error_r);
	free(q[0].answer);
	free(q[1].answer);
	return res;
}

/* ---- TXT ---- */

void dns_txt_free(struct dns_txt_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->rec[i]);
	l->n = 0;
	l->more = 0;
}

/* Append one character-string to the last record of l. */
static int dns_txt_append(struct dns_txt_list *l, const unsigned char *p, size_t n)
{
	size_t i = l->n - 1, len = l->len[i];
	char *r;

	/* One DNS message is at most 65535 bytes: no sum can overflow. */
	r = realloc(l->rec[i], len + n + 1);
	if (r == NULL)
		return -1;
	memcpy(r + len, p, n);
	r[len + n] = '\0';
	l->rec[i] = r;
	l->len[i] = len + n;
	return 0;
}

enum dns_result dns_txt_parse(const unsigned char *answer, int len, struct dns_txt_list *out,
			      const char **error_r)
{
	struct ares_txt_ext *txt = NULL;
	enum dns_result pr = dns_parse_status(ares_parse_txt_reply_ext(answer, len, &txt), error_r);
	int skip = 0;

	out->n = 0;
	out->more = 0;
	if (pr != DNS_OK)
		return pr;
	for (const struct ares_txt_ext *t = txt; t != NULL; t = t->next) {
		/* RFC 7208 3.3: a record's strings are joined without spaces. */
		if (t->record_start || out->n == 0) {
			skip = out->n == DNS_TXT_MAX;
			if (skip) {
				out->more = 1;
				continue;
			}
			out->rec[out->n] = NULL;
			out->len[out->n] = 0;
			out->n++;
		}
		if (!skip && dns_txt_append(out, t->txt, t->length) < 0) {
			ares_free_data(txt);
			dns_txt_free(out);
			*error_r = "out of memory";
			return DNS_TEMPFAIL;
		}
	}
	ares_free_data(txt);
	/* An empty record (a TXT RR of zero strings) still has its buffer. */
	for (size_t i = 0; i < out->n; i++)
		if (out->rec[i] == NULL && (out->rec[i] = calloc(1, 1)) == NULL) {
			dns_txt_free(out);
			*error_r = "out of memory";
			return DNS_TEMPFAIL;
		}
	return out->n > 0 ? DNS_OK : DNS_NODATA;
}

enum dns_result dns_lookup_txt(struct dns *dns, const char *name, struct dns_txt_list *out,
			       const char **error_r)
{
	struct dns_query q = { 0 };
	enum dns_result res;

	out->n = 0;
	out->more = 0;
	res = dns_ask(dns, name, ns_t_txt, &q, error_r);
	if (res == DNS_OK)
		res = dns_txt_parse(q.answer, q.len, out, error_r);
	free(q.answer);
	return res;
}

/* ---- PTR ---- */

int dns_reverse_name(const struct sockaddr *sa, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (sa->sa_family == AF_INET) {
		const unsigned char *a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
		int n = snprintf(out, outlen, "%u.%u.%u.%u.in-addr.arpa", a[3], a[2], a[1], a[0]);
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (sa->sa_family != AF_INET6 || outlen < 16 * 4 + sizeof("ip6.arpa"))
		return -1;
	const unsigned char *a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	memcpy(out + o, "ip6.arpa", sizeof("ip6.arpa"));
	return 0;
}

/* Keep one PTR name (without a trailing dot) if it is a usable name
 * not kept already. */
static void dns_ptr_keep(struct dns_name_list *out, const char *name)
{
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (out->n == DNS_PTR_MAX || n == 0 || n > DNS_NAME_MAX)
		return;
	/* c-ares lists the first name again among the aliases. */
	for (size_t i = 0; i < out->n; i++)
		if (strlen(out->name[i]) == n && strncasecmp(out->name[i], name, n) == 0)
			return;
	memcpy(out->name[out->n], name, n);
	out->name[out->n][n] = '\0';
	if (dns_name_ok(out->name[out->n]))
		out->n++;
}

enum dns_result dns_lookup_ptr(struct dns *dns, const struct sockaddr *sa, struct dns_name_list *out,
			       const char **error_r)
{
	char rev[128];
	struct dns_query q = { 0 };
	struct hostent *he = NULL;
	enum dns_result res;

	out->n = 0;
	if (dns_reverse_name(sa, rev, sizeof rev) < 0) {
		*error_r = "not an IPv4 or IPv6 address";
		return DNS_NOTFOUND;
	}
	res = dns_ask(dns, rev, ns_t_ptr, &q, error_r);
	if (res == DNS_OK) {
		const void *addr = sa->sa_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
		int r = ares_parse_ptr_reply(q.answer, q.len, addr, sa->sa_family == AF_INET ? 4 : 16,
					     sa->sa_family, &he);
		if (r == ARES_ENODATA) {
			res = DNS_NODATA;
		} else if (r != ARES_SUCCESS) {
			*error_r = ares_strerror(r);
			res = DNS_TEMPFAIL;
		} else {
			/* c-ares gives the first name as h_name, the others as aliases. */
			dns_ptr_keep(out, he->h_name);
			for (char **a = he->h_aliases; a != NULL && *a != NULL; a++)
				dns_ptr_keep(out, *a);
			res = out->n > 0 ? DNS_OK : DNS_NODATA;
		}
	}
	if (he != NULL)
		ares_free_hostent(he);
	free(q.answer);
	return res;
}
