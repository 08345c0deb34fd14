/* Unit tests for common/dsn.c: the RFC 3464 report structure and fields,
 * RET handling, sanitised diagnostics, MIME boundary choice. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dsn.h"

#define ORIG "From: a@x.test\nSubject: hello\n\nthe body text\n"

static const struct dsn_rcpt test_failed = {
	.addr = "bob@example.test", .orcpt = "rfc822;Bob@Example.test", .action = DSN_FAILED,
	.status = "5.1.1", .diag_type = "X-Postern", .diag = "user unknown", .last_attempt = 1795669601,
};

static void test_dsn_make(struct dsn *d, const struct dsn_rcpt *r, size_t n, int full)
{
	memset(d, 0, sizeof(*d));
	d->reporting_mta = "mx.example.test";
	d->queue_id = "6B07BE61B8A27A72005";
	d->envid = "ENV-1";
	d->to = "alice@example.test";
	d->orig_sender = "alice@example.test";
	d->arrival = 1795669600;
	d->now = 1795669700;
	d->full = full;
	d->rcpt = r;
	d->nrcpt = n;
}

static void test_compose(const struct dsn *d, const char *orig, struct buf *out, int *eightbit)
{
	const char *err = NULL;

	buf_init(out, 1024 * 1024);
	assert_int_equal(dsn_compose(d, orig, strlen(orig), out, eightbit, &err), 0);
}

static void test_failure_report_has_every_field(void **state)
{
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s;

	(void)state;
	test_dsn_make(&d, &test_failed, 1, 1);
	test_compose(&d, ORIG, &out, &eightbit);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "\nTo: <alice@example.test>\n"));
	assert_non_null(strstr(s, "\nSubject: Undelivered Mail Returned to Sender\n"));
	assert_non_null(strstr(s, "\nAuto-Submitted: auto-replied\n"));
	assert_non_null(strstr(s, "Content-Type: multipart/report; report-type=delivery-status;"));
	assert_non_null(strstr(s, "\nContent-Type: text/plain; charset=us-ascii\n"));
	assert_non_null(strstr(s, "\nContent-Type: message/delivery-status\n"));
	assert_non_null(strstr(s, "\nReporting-MTA: dns; mx.example.test\n"));
	assert_non_null(strstr(s, "\nOriginal-Envelope-Id: ENV-1\n"));
	assert_non_null(strstr(s, "\nArrival-Date: Thu, 26 Nov 2026 05:06:40 +0000\n"));
	assert_non_null(strstr(s, "\n\nFinal-Recipient: rfc822; bob@example.test\n"
			       "Original-Recipient: rfc822;Bob@Example.test\n"
			       "Action: failed\nStatus: 5.1.1\n"
			       "Diagnostic-Code: X-Postern; user unknown\n"
			       "Last-Attempt-Date: Thu, 26 Nov 2026 05:06:41 +0000\n"));
	assert_non_null(strstr(s, "\nContent-Type: message/rfc822\n"));
	assert_non_null(strstr(s, "\n\n" ORIG));
	assert_non_null(strstr(s, "<bob@example.test>: failed: user unknown\n"));
	assert_int_equal(eightbit, 0);
	/* The closing boundary ends the report. */
	assert_non_null(strstr(s, "--=_postern/6B07BE61B8A27A72005/1795669700/0--\n"));
	buf_free(&out);
}

static void test_headers_only_without_body(void **state)
{
	struct dsn d;
	struct buf out;
	int eightbit;

	(void)state;
	test_dsn_make(&d, &test_failed, 1, 0);
	test_compose(&d, ORIG, &out, &eightbit);
	assert_non_null(strstr(buf_cstr(&out), "\nContent-Type: text/rfc822-headers\n"));
	assert_non_null(strstr(buf_cstr(&out), "Subject: hello\n"));
	assert_null(strstr(buf_cstr(&out), "the body text"));
	assert_null(strstr(buf_cstr(&out), "message/rfc822"));
	buf_free(&out);
}

static void test_delay_and_success_actions(void **state)
{
	struct dsn_rcpt r[2] = {
		{ .addr = "a@x.test", .action = DSN_DELAYED, .status = "4.2.2", .diag_type = "smtp",
		  .diag = "452 4.2.2 mailbox full", .last_attempt = 100, .retry_until = 86500 },
		{ .addr = "b@x.test", .action = DSN_DELIVERED, .status = "2.0.0" },
	};
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s;

	(void)state;
	test_dsn_make(&d, r, 2, 0);
	d.envid = NULL;
	test_compose(&d, ORIG, &out, &eightbit);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "\nSubject: Delayed Mail (still being retried)\n"));
	assert_non_null(strstr(s, "\nAction: delayed\nStatus: 4.2.2\nDiagnostic-Code: smtp; 452 4.2.2 mailbox full\n"));
	assert_non_null(strstr(s, "\nWill-Retry-Until: Fri, 02 Jan 1970 00:01:40 +0000\n"));
	assert_non_null(strstr(s, "\nFinal-Recipient: rfc822; b@x.test\nAction: delivered\nStatus: 2.0.0\n"));
	assert_null(strstr(s, "Original-Envelope-Id"));
	/* no "undelivered" in a report of a delay and a delivery */
	assert_non_null(strstr(s, "\nContent-Description: Header of the original message\n"));
	assert_null(strstr(s, "ndelivered"));
	buf_free(&out);
}

/* RFC 3464 2.3.3: relayed and expanded are successes, named as such and
 * explained once in the text part. */
static void test_relayed_and_expanded_actions(void **state)
{
	struct dsn_rcpt r[3] = {
		{ .addr = "a@x.test", .action = DSN_RELAYED, .status = "2.0.0" },
		{ .addr = "b@x.test", .action = DSN_EXPANDED, .status = "2.0.0" },
		{ .addr = "c@x.test", .action = DSN_DELIVERED, .status = "2.0.0" },
	};
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s;

	(void)state;
	test_dsn_make(&d, r, 3, 0);
	test_compose(&d, ORIG, &out, &eightbit);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "\nSubject: Successful Mail Delivery Report\n"));
	assert_non_null(strstr(s, "\nFinal-Recipient: rfc822; a@x.test\nAction: relayed\nStatus: 2.0.0\n"));
	assert_non_null(strstr(s, "\nFinal-Recipient: rfc822; b@x.test\nAction: expanded\nStatus: 2.0.0\n"));
	assert_non_null(strstr(s, "\nFinal-Recipient: rfc822; c@x.test\nAction: delivered\nStatus: 2.0.0\n"));
	assert_non_null(strstr(s, "\n<a@x.test>: relayed\n<b@x.test>: expanded\n<c@x.test>: delivered\n"));
	assert_non_null(strstr(s, "\n\"relayed\": handed to a mail system"));
	buf_free(&out);
	/* only plain deliveries: no word to explain */
	test_dsn_make(&d, &r[2], 1, 0);
	test_compose(&d, ORIG, &out, &eightbit);
	assert_null(strstr(buf_cstr(&out), "\"relayed\""));
	buf_free(&out);
}

/* RFC 3464 2.3.5, 2.3.6: the server that answered, and its reply as the
 * smtp Diagnostic-Code; the text part keeps the whole diagnostic. */
static void test_remote_mta_and_smtp_code(void **state)
{
	static const char reason[] = "host mx.x.test[192.0.2.1]:25 said: 550 5.1.1 no (in reply to RCPT TO command)";
	struct dsn_rcpt r = test_failed;
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s;

	(void)state;
	r.diag = reason;
	r.diag_type = "smtp";
	r.code = strstr(reason, "550");
	r.code_len = 12;
	r.remote_mta = reason + 5;
	r.remote_mta_len = 9;
	test_dsn_make(&d, &r, 1, 0);
	test_compose(&d, ORIG, &out, &eightbit);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "\nStatus: 5.1.1\nRemote-MTA: dns; mx.x.test\nDiagnostic-Code: smtp; 550 5.1.1 no\n"));
	assert_non_null(strstr(s, ": failed: host mx.x.test[192.0.2.1]:25 said: "));
	buf_free(&out);
}

/* A diagnostic from a remote server may hold anything: no control byte
 * reaches the report and no line exceeds RFC 5322's 998 octets. */
static void test_diagnostic_is_sanitised_and_folded(void **state)
{
	char diag[3000];
	struct dsn_rcpt r = test_failed;
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s, *line;

	(void)state;
	memset(diag, 'x', sizeof(diag) - 1);
	diag[sizeof(diag) - 1] = '\0';
	memcpy(diag, "550 evil\r\nInjected: yes\x01\xff", 25);
	r.diag = diag;
	test_dsn_make(&d, &r, 1, 1);
	test_compose(&d, ORIG, &out, &eightbit);
	s = buf_cstr(&out);
	assert_null(strstr(s, "\nInjected: yes"));
	assert_null(strchr(s, '\r'));
	assert_null(strchr(s, '\x01'));
	assert_int_equal(eightbit, 0);
	for (line = s; *line != '\0';) {
		const char *nl = strchr(line, '\n');

		assert_non_null(nl);
		assert_true(nl - line <= 998);
		line = nl + 1;
	}
	buf_free(&out);
}

static void test_boundary_avoids_the_original(void **state)
{
	const char *orig = "Subject: x\n\n--=_postern/6B07BE61B8A27A72005/1795669700/0\nfake\n";
	struct dsn d;
	struct buf out;
	int eightbit;

	(void)state;
	test_dsn_make(&d, &test_failed, 1, 1);
	test_compose(&d, orig, &out, &eightbit);
	assert_non_null(strstr(buf_cstr(&out), "boundary=\"=_postern/6B07BE61B8A27A72005/1795669700/1\""));
	buf_free(&out);
}

static void test_smtputf8_uses_global_types(void **state)
{
	struct dsn_rcpt r = test_failed;
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *s;

	(void)state;
	r.addr = "j\xc3\xb6rg@example.test";
	test_dsn_make(&d, &r, 1, 1);
	d.smtputf8 = 1;
	test_compose(&d, "Subject: gr\xc3\xbc\xc3\x9f\n\nx\n", &out, &eightbit);
	s = buf_cstr(&out);
	assert_non_null(strstr(s, "report-type=global-delivery-status"));
	assert_non_null(strstr(s, "\nContent-Type: message/global-delivery-status\n"));
	assert_non_null(strstr(s, "\nFinal-Recipient: utf-8; j\xc3\xb6rg@example.test\n"));
	assert_non_null(strstr(s, "\nContent-Type: message/global\n"));
	assert_non_null(strstr(s, "Content-Transfer-Encoding: 8bit\n"));
	assert_int_equal(eightbit, 1);
	buf_free(&out);
}

static void test_refuses_what_does_not_fit(void **state)
{
	struct dsn d;
	struct buf out;
	int eightbit;
	const char *err = NULL;

	(void)state;
	test_dsn_make(&d, &test_failed, 1, 1);
	buf_init(&out, 200);
	assert_int_equal(dsn_compose(&d, ORIG, strlen(ORIG), &out, &eightbit, &err), -1);
	assert_non_null(err);
	buf_free(&out);
	test_dsn_make(&d, &test_failed, 0, 1);
	buf_init(&out, 100000);
	assert_int_equal(dsn_compose(&d, ORIG, strlen(ORIG), &out, &eightbit, &err), -1);
	buf_free(&out);
}

static void test_header_length(void **state)
{
	(void)state;
	assert_int_equal(dsn_header_length(ORIG, strlen(ORIG)), strlen("From: a@x.test\nSubject: hello\n\n"));
	assert_int_equal(dsn_header_length("\nbody\n", 6), 1);
	assert_int_equal(dsn_header_length("A: b\n", 5), 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_failure_report_has_every_field),
		cmocka_unit_test(test_headers_only_without_body),
		cmocka_unit_test(test_delay_and_success_actions),
		cmocka_unit_test(test_relayed_and_expanded_actions),
		cmocka_unit_test(test_remote_mta_and_smtp_code),
		cmocka_unit_test(test_diagnostic_is_sanitised_and_folded),
		cmocka_unit_test(test_boundary_avoids_the_original),
		cmocka_unit_test(test_smtputf8_uses_global_types),
		cmocka_unit_test(test_refuses_what_does_not_fit),
		cmocka_unit_test(test_header_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
