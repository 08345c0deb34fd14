/* Unit tests for common/dns.c.  MX answers built byte by byte check the
 * parser (order, shuffling of equal preferences, null MX, bounds); a real
 * dnsmasq started on a loopback port checks the lookups end to end
 * (MX, implicit MX, NXDOMAIN vs no data, A/AAAA interleaving, TXT and
 * PTR, a resolver that does not answer).  TXT answers built by hand
 * check that a record's strings are joined.  Without dnsmasq those
 * tests are skipped. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "dns.h"

/* ---- hand-made answers ---- */

struct pkt {
	unsigned char b[4096];
	size_t n;
};

static void put16(struct pkt *p, unsigned v)
{
	p->b[p->n++] = (unsigned char)(v >> 8);
	p->b[p->n++] = (unsigned char)v;
}

static void put_name(struct pkt *p, const char *name)
{
	while (*name != '\0') {
		const char *dot = strchr(name, '.');
		size_t len = dot ? (size_t)(dot - name) : strlen(name);
		p->b[p->n++] = (unsigned char)len;
		memcpy(p->b + p->n, name, len);
		p->n += len;
		name += len + (dot != NULL);
	}
	p->b[p->n++] = 0;
}

/* An answer to "example.test MX" with n records (pref[i], host[i]). */
static void mx_answer(struct pkt *p, size_t n, const unsigned *pref, const char *const *host)
{
	p->n = 0;
	put16(p, 0x1234);
	put16(p, 0x8180);
	put16(p, 1);
	put16(p, (unsigned)n);
	put16(p, 0);
	put16(p, 0);
	put_name(p, "example.test");
	put16(p, 15);
	put16(p, 1);
	for (size_t i = 0; i < n; i++) {
		size_t len_at;
		put16(p, 0xc00c);
		put16(p, 15);
		put16(p, 1);
		put16(p, 0);
		put16(p, 300);
		len_at = p->n;
		put16(p, 0);
		put16(p, pref[i]);
		put_name(p, host[i]);
		p->b[len_at] = (unsigned char)((p->n - len_at - 2) >> 8);
		p->b[len_at + 1] = (unsigned char)(p->n - len_at - 2);
	}
}

static unsigned rnd_state;
/* A fixed LCG: reproducible, yet varied enough to reach every order. */
static unsigned rnd_counter(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 16;
}

static void test_mx_sorted_by_preference(void **state)
{
	static const unsigned pref[] = { 30, 10, 20 };
	static const char *const host[] = { "c.example.test", "a.example.test", "b.example.test" };
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;

	(void)state;
	mx_answer(&p, 3, pref, host);
	assert_int_equal(dns_mx_parse(p.b, (int)p.n, &l, rnd_counter, &err), DNS_OK);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.mx[0].host, "a.example.test");
	assert_string_equal(l.mx[1].host, "b.example.test");
	assert_string_equal(l.mx[2].host, "c.example.test");
}

static void test_equal_preferences_are_shuffled(void **state)
{
	static const unsigned pref[] = { 10, 10, 10, 5 };
	static const char *const host[] = { "x1.test", "x2.test", "x3.test", "best.test" };
	int first_seen[3] = { 0, 0, 0 };
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;

	(void)state;
	mx_answer(&p, 4, pref, host);
	rnd_state = 1;
	for (int round = 0; round < 60; round++) {
		assert_int_equal(dns_mx_parse(p.b, (int)p.n, &l, rnd_counter, &err), DNS_OK);
		assert_string_equal(l.mx[0].host, "best.test");
		assert_int_equal(l.mx[1].pref, 10);
		first_seen[l.mx[1].host[1] - '1'] = 1;
	}
	/* Every host of the tied group came first at some point. */
	assert_true(first_seen[0] && first_seen[1] && first_seen[2]);
}

static void test_null_mx_alone_means_no_mail(void **state)
{
	static const unsigned pref[] = { 0 };
	static const char *const host[] = { "" };
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;

	(void)state;
	mx_answer(&p, 1, pref, host);
	assert_int_equal(dns_mx_parse(p.b, (int)p.n, &l, NULL, &err), DNS_NULLMX);
}

static void test_null_mx_next_to_real_mx_is_ignored(void **state)
{
	static const unsigned pref[] = { 0, 10 };
	static const char *const host[] = { "", "mx.example.test" };
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;

	(void)state;
	mx_answer(&p, 2, pref, host);
	assert_int_equal(dns_mx_parse(p.b, (int)p.n, &l, NULL, &err), DNS_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.mx[0].host, "mx.example.test");
}

static void test_many_mx_keep_the_best(void **state)
{
	unsigned pref[DNS_MX_MAX + 8];
	char names[DNS_MX_MAX + 8][32];
	const char *host[DNS_MX_MAX + 8];
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;
	size_t n = DNS_MX_MAX + 8;

	(void)state;
	for (size_t i = 0; i < n; i++) {
		pref[i] = (unsigned)(n - i);       /* worst first on the wire */
		snprintf(names[i], sizeof names[i], "mx%zu.test", i);
		host[i] = names[i];
	}
	mx_answer(&p, n, pref, host);
	assert_int_equal(dns_mx_parse(p.b, (int)p.n, &l, NULL, &err), DNS_OK);
	assert_int_equal(l.n, DNS_MX_MAX);
	assert_int_equal(l.mx[0].pref, 1);
	assert_int_equal(l.mx[DNS_MX_MAX - 1].pref, DNS_MX_MAX);
}

static void test_truncated_answer_is_a_temporary_failure(void **state)
{
	static const unsigned pref[] = { 10 };
	static const char *const host[] = { "mx.example.test" };
	struct dns_mx_list l;
	struct pkt p;
	const char *err = NULL;

	(void)state;
	mx_answer(&p, 1, pref, host);
	assert_int_equal(dns_mx_parse(p.b, (int)p.n - 5, &l, NULL, &err), DNS_TEMPFAIL);
	assert_non_null(err);
}

/* An answer to "example.test TXT": two records, the first of two
 * character-strings (RFC 7208 3.3: joined without a space). */
static void test_txt_strings_joined_per_record(void **state)
{
	static const char *const strs[][3] = { { "v=spf1 ip4:192.0.2.1", " -all", NULL }, { "other", NULL, NULL } };
	struct dns_txt_list l;
	struct pkt p = { .n = 0 };
	const char *err = NULL;

	(void)state;
	put16(&p, 0x1234);
	put16(&p, 0x8180);
	put16(&p, 1);
	put16(&p, 2);
	put16(&p, 0);
	put16(&p, 0);
	put_name(&p, "example.test");
	put16(&p, 16);
	put16(&p, 1);
	for (size_t r = 0; r < 2; r++) {
		size_t len_at;
		put16(&p, 0xc00c);
		put16(&p, 16);
		put16(&p, 1);
		put16(&p, 0);
		put16(&p, 300);
		len_at = p.n;
		put16(&p, 0);
		for (size_t k = 0; strs[r][k] != NULL; k++) {
			p.b[p.n++] = (unsigned char)strlen(strs[r][k]);
			memcpy(p.b + p.n, strs[r][k], strlen(strs[r][k]));
			p.n += strlen(strs[r][k]);
		}
		p.b[len_at] = (unsigned char)((p.n - len_at - 2) >> 8);
		p.b[len_at + 1] = (unsigned char)(p.n - len_at - 2);
	}
	assert_int_equal(dns_txt_parse(p.b, (int)p.n, &l, &err), DNS_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.rec[0], "v=spf1 ip4:192.0.2.1 -all");
	assert_int_equal(l.len[0], strlen("v=spf1 ip4:192.0.2.1 -all"));
	assert_string_equal(l.rec[1], "other");
	dns_txt_free(&l);
	assert_int_equal(l.n, 0);
	assert_int_equal(dns_txt_parse(p.b, (int)p.n - 3, &l, &err), DNS_TEMPFAIL);
}

static void test_reverse_names(void **state)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	char out[128];

	(void)state;
	inet_pton(AF_INET, "192.0.2.3", &s4.sin_addr);
	assert_int_equal(dns_reverse_name((struct sockaddr *)&s4, out, sizeof out), 0);
	assert_string_equal(out, "3.2.0.192.in-addr.arpa");
	inet_pton(AF_INET6, "2001:db8::cb01", &s6.sin6_addr);
	assert_int_equal(dns_reverse_name((struct sockaddr *)&s6, out, sizeof out), 0);
	assert_string_equal(out, "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name((struct sockaddr *)&s6, out, 40), -1);
}

/* ---- against dnsmasq ---- */

static pid_t dnsmasq_pid = -1;
static int dnsmasq_port;
static struct dns *dns;

static int free_udp_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_DGRAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int dnsmasq_setup(void **state)
{
	static const char *const paths[] = { "/usr/sbin/dnsmasq", "/usr/bin/dnsmasq", "/sbin/dnsmasq" };
	const char *path = NULL, *err = NULL;
	char port_arg[32], servers[64];
	struct dns_mx_list l;

	(void)state;
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
		if (access(paths[i], X_OK) == 0)
			path = paths[i];
	if (path == NULL)
		return 0;   /* the tests skip */
	dnsmasq_port = free_udp_port();
	snprintf(port_arg, sizeof port_arg, "--port=%d", dnsmasq_port);
	dnsmasq_pid = fork();
	if (dnsmasq_pid == 0) {
		int null = open("/dev/null", 1);
		dup2(null, 1);
		dup2(null, 2);
		execl(path, "dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--bind-interfaces",
		      "--listen-address=127.0.0.1", port_arg, "--local=/test/",
		      "--mx-host=multi.test,mx-b.multi.test,20", "--mx-host=multi.test,mx-a.multi.test,10",
		      "--host-record=mx-a.multi.test,127.0.0.2", "--host-record=mx-b.multi.test,127.0.0.3",
		      "--host-record=implicit.test,127.0.0.4,::1", "--host-record=v4only.test,127.0.0.5",
		      "--dns-rr=nullmx.test,15,000000", "--txt-record=txt.test,v=spf1 a, -all",
		      "--txt-record=txt.test,second", (char *)NULL);
		_exit(127);
	}
	snprintf(servers, sizeof servers, "127.0.0.1:%d", dnsmasq_port);
	if (dns_open(servers, 500, 2, &dns, &err) != 0)
		return -1;
	/* Wait until it answers: it starts in milliseconds, but a busy
	 * machine may take seconds; 30 s tells slow from broken. */
	struct timespec now, end;

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += 30;
	do {
		if (dns_lookup_mx(dns, "multi.test", &l, &err) == DNS_OK)
			return 0;
		if (waitpid(dnsmasq_pid, NULL, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = -1;   /* it exited: no use waiting */
			return -1;
		}
		usleep(100000);
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec < end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));
	return -1;
}

static int dnsmasq_teardown(void **state)
{
	(void)state;
	dns_close(&dns);
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
	}
	return 0;
}

#define NEED_DNSMASQ() do { if (dnsmasq_pid <= 0) skip(); } while (0)

static const char *addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
	if (ss->ss_family == AF_INET6)
		return inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, out, (socklen_t)len);
	return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, out, (socklen_t)len);
}

static void test_dnsmasq_mx_in_preference_order(void **state)
{
	struct dns_mx_list l;
	const char *err = NULL;

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_mx(dns, "multi.test", &l, &err), DNS_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.mx[0].host, "mx-a.multi.test");
	assert_int_equal(l.mx[0].pref, 10);
	assert_string_equal(l.mx[1].host, "mx-b.multi.test");
}

static void test_dnsmasq_name_without_mx_is_no_data(void **state)
{
	struct dns_mx_list l;
	const char *err = NULL;

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_mx(dns, "implicit.test", &l, &err), DNS_NODATA);
}

static void test_dnsmasq_unknown_name_is_not_found(void **state)
{
	struct dns_mx_list l;
	struct dns_addr_list a;
	const char *err = NULL;

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_mx(dns, "nosuch.test", &l, &err), DNS_NOTFOUND);
	assert_int_equal(dns_lookup_addr(dns, "nosuch.test", AF_UNSPEC, &a, &err), DNS_NOTFOUND);
}

static void test_dnsmasq_null_mx(void **state)
{
	struct dns_mx_list l;
	const char *err = NULL;

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_mx(dns, "nullmx.test", &l, &err), DNS_NULLMX);
}

static void test_dnsmasq_addresses_ipv6_first_then_ipv4(void **state)
{
	struct dns_addr_list a;
	const char *err = NULL;
	char t[64];

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_addr(dns, "implicit.test", AF_UNSPEC, &a, &err), DNS_OK);
	assert_int_equal(a.n, 2);
	assert_string_equal(addr_text(&a.addr[0], t, sizeof t), "::1");
	assert_string_equal(addr_text(&a.addr[1], t, sizeof t), "127.0.0.4");
	assert_int_equal(dns_lookup_addr(dns, "implicit.test", AF_INET, &a, &err), DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(addr_text(&a.addr[0], t, sizeof t), "127.0.0.4");
	assert_int_equal(dns_lookup_addr(dns, "v4only.test", AF_INET6, &a, &err), DNS_NODATA);
}

static void test_numeric_host_needs_no_query(void **state)
{
	struct dns_addr_list a;
	const char *err = NULL;
	char t[64];

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_addr(dns, "192.0.2.7", AF_UNSPEC, &a, &err), DNS_OK);
	assert_int_equal(a.n, 1);
	assert_string_equal(addr_text(&a.addr[0], t, sizeof t), "192.0.2.7");
}

static void test_silent_resolver_is_a_temporary_failure(void **state)
{
	struct dns *quiet = NULL;
	struct dns_mx_list l;
	const char *err = NULL;
	char servers[64];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	time_t t0;

	(void)state;
	/* A bound UDP socket that never answers: every try times out. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(servers, sizeof servers, "127.0.0.1:%d", ntohs(sa.sin_port));
	assert_int_equal(dns_open(servers, 200, 2, &quiet, &err), 0);
	t0 = time(NULL);
	assert_int_equal(dns_lookup_mx(quiet, "multi.test", &l, &err), DNS_TEMPFAIL);
	assert_true(time(NULL) - t0 < 10);
	dns_close(&quiet);
	close(fd);
}

static void test_bad_server_list_is_refused(void **state)
{
	struct dns *d = NULL;
	const char *err = NULL;

	(void)state;
	assert_int_equal(dns_open("not a server!", 100, 1, &d, &err), -1);
	assert_null(d);
	assert_int_equal(dns_open(" , ", 100, 1, &d, &err), -1);
}

static void test_dnsmasq_txt_and_ptr(void **state)
{
	struct dns_txt_list t;
	struct dns_name_list n;
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	const char *err = NULL;

	(void)state;
	NEED_DNSMASQ();
	assert_int_equal(dns_lookup_txt(dns, "txt.test", &t, &err), DNS_OK);
	assert_int_equal(t.n, 2);
	/* dnsmasq's record order is its own: find each */
	int spf = strcmp(t.rec[0], "second") == 0;
	assert_string_equal(t.rec[spf], "v=spf1 a -all");
	assert_string_equal(t.rec[!spf], "second");
	dns_txt_free(&t);
	assert_int_equal(dns_lookup_txt(dns, "multi.test", &t, &err), DNS_NODATA);
	inet_pton(AF_INET, "127.0.0.2", &s4.sin_addr);
	assert_int_equal(dns_lookup_ptr(dns, (struct sockaddr *)&s4, &n, &err), DNS_OK);
	assert_int_equal(n.n, 1);
	assert_string_equal(n.name[0], "mx-a.multi.test");
}

int main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_mx_sorted_by_preference),
		cmocka_unit_test(test_equal_preferences_are_shuffled),
		cmocka_unit_test(test_null_mx_alone_means_no_mail),
		cmocka_unit_test(test_null_mx_next_to_real_mx_is_ignored),
		cmocka_unit_test(test_many_mx_keep_the_best),
		cmocka_unit_test(test_truncated_answer_is_a_temporary_failure),
		cmocka_unit_test(test_txt_strings_joined_per_record),
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_silent_resolver_is_a_temporary_failure),
		cmocka_unit_test(test_bad_server_list_is_refused),
	};
	const struct CMUnitTest live_tests[] = {
		cmocka_unit_test(test_dnsmasq_mx_in_preference_order),
		cmocka_unit_test(test_dnsmasq_name_without_mx_is_no_data),
		cmocka_unit_test(test_dnsmasq_unknown_name_is_not_found),
		cmocka_unit_test(test_dnsmasq_null_mx),
		cmocka_unit_test(test_dnsmasq_addresses_ipv6_first_then_ipv4),
		cmocka_unit_test(test_numeric_host_needs_no_query),
		cmocka_unit_test(test_dnsmasq_txt_and_ptr),
	};
	int failed = cmocka_run_group_tests(parse_tests, NULL, NULL);

	return failed + cmocka_run_group_tests(live_tests, dnsmasq_setup, dnsmasq_teardown);
}
