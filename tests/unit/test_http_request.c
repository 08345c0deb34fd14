/* Unit tests for common/http_request.c: what a scraper sends gets 200
 * (with its Accept noticed), HEAD and HTTP/1.0, a query ignored; other
 * paths 404, other methods 405; a head that has not ended yet asks for
 * more; malformed heads 400 (bare CR, space before a colon, folding, no
 * or two Host in HTTP/1.1, a long target, too many fields, a bad
 * version). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "http_request.h"

static struct http_request parse_ok(const char *text)
{
	struct http_request r;

	assert_int_equal(http_request_parse(text, strlen(text), "/metrics", &r), 1);
	return r;
}

static void test_http_request_prometheus_scrape_gets_200_openmetrics(void **state)
{
	(void)state;
	struct http_request r = parse_ok("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9155\r\n"
					 "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5\r\n"
					 "User-Agent: Prometheus/2.42.0\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_true(r.openmetrics);
	assert_false(r.head);
	assert_string_equal(r.path, "/metrics");
	r = parse_ok("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n");
	assert_int_equal(r.status, 200);
	assert_false(r.openmetrics);
}

static void test_http_request_head_http10_query_and_bare_lf(void **state)
{
	(void)state;
	struct http_request r = parse_ok("HEAD /metrics?name=x HTTP/1.0\n\n");
	assert_int_equal(r.status, 200);
	assert_true(r.head);
	assert_string_equal(r.path, "/metrics");
}

static void test_http_request_other_path_404_other_method_405(void **state)
{
	(void)state;
	assert_int_equal(parse_ok("GET / HTTP/1.0\r\n\r\n").status, 404);
	assert_int_equal(parse_ok("GET /metricsx HTTP/1.0\r\n\r\n").status, 404);
	assert_int_equal(parse_ok("POST /metrics HTTP/1.0\r\n\r\n").status, 405);
	assert_int_equal(parse_ok("DELETE /x HTTP/1.0\r\n\r\n").status, 405);
}

static void test_http_request_unfinished_head_asks_for_more(void **state)
{
	static const char full[] = "GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_request r;

	(void)state;
	for (size_t n = 0; n < strlen(full); n++)
		assert_int_equal(http_request_parse(full, n, "/metrics", &r), 0);
	assert_int_equal(http_request_parse(full, strlen(full), "/metrics", &r), 1);
	/* bytes after the head are not looked at */
	assert_int_equal(parse_ok("GET /metrics HTTP/1.0\r\n\r\n\x01\x02garbage").status, 200);
}

static void test_http_request_malformed_heads_get_400(void **state)
{
	static const char *const bad[] = {
		"GET /metrics HTTP/1.1\r\n\r\n",                         /* no Host */
		"GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",   /* two */
		"GET /metrics HTTP/1.1\r\nHost : a\r\n\r\n",             /* space before the colon */
		"GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",   /* obsolete folding */
		"GET /metrics HTTP/1.1\r\nHost: a\rb\r\n\r\n",           /* bare CR */
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics HTTP/1.10\r\n\r\n",
		"GET  /metrics HTTP/1.0\r\n\r\n",
		"GET metrics HTTP/1.0\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /met\x01rics HTTP/1.0\r\n\r\n",
		"G(T /metrics HTTP/1.0\r\n\r\n",
		"\r\nGET /metrics HTTP/1.0\r\n\r\n",
		"GET /metrics HTTP/1.0\r\nno colon\r\n\r\n",
		"GET /metrics HTTP/1.0\r\nX: a\x7f\r\n\r\n",
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct http_request r = parse_ok(bad[i]);
		assert_int_equal(r.status, 400);
		assert_string_equal(r.path, "");
	}
}

static void test_http_request_limits(void **state)
{
	static char text[HTTP_REQUEST_MAX * 2];
	struct http_request r;

	(void)state;
	/* a target of HTTP_TARGET_MAX - 1 bytes is taken, one more is not */
	snprintf(text, sizeof text, "GET /%0*d HTTP/1.0\r\n\r\n", HTTP_TARGET_MAX - 2, 0);
	assert_int_equal(parse_ok(text).status, 404);
	snprintf(text, sizeof text, "GET /%0*d HTTP/1.0\r\n\r\n", HTTP_TARGET_MAX - 1, 0);
	assert_int_equal(parse_ok(text).status, 400);
	/* HTTP_HEADERS_MAX fields are taken, one more is not */
	size_t len = (size_t)snprintf(text, sizeof text, "GET /metrics HTTP/1.0\r\n");
	for (int i = 0; i < HTTP_HEADERS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "X-%d: y\r\n", i);
	snprintf(text + len, sizeof text - len, "\r\n");
	assert_int_equal(parse_ok(text).status, 200);
	snprintf(text + len, sizeof text - len, "X-last: y\r\n\r\n");
	assert_int_equal(parse_ok(text).status, 400);
	/* no end within HTTP_REQUEST_MAX: never a look past it */
	memset(text, 'a', sizeof text);
	memcpy(text, "GET /metrics HTTP/1.0\r\nX: ", 26);
	memcpy(text + HTTP_REQUEST_MAX + 10, "\r\n\r\n", 4);
	assert_int_equal(http_request_parse(text, sizeof text, "/metrics", &r), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_request_prometheus_scrape_gets_200_openmetrics),
		cmocka_unit_test(test_http_request_head_http10_query_and_bare_lf),
		cmocka_unit_test(test_http_request_other_path_404_other_method_405),
		cmocka_unit_test(test_http_request_unfinished_head_asks_for_more),
		cmocka_unit_test(test_http_request_malformed_heads_get_400),
		cmocka_unit_test(test_http_request_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
