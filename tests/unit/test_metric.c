/* Unit tests for common/metric.c and common/metric_store.c: records
 * that parse and records that do not; service states taken from the
 * master only; the text in OpenMetrics and in the Prometheus format,
 * exactly, for a store with a few counts and one queue directory; a
 * store full of services refuses the next one; a store left by a
 * previous process is kept only when it is sound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "metric.h"
#include "metric_store.h"

static void test_metric_records_that_parse(void **state)
{
	struct metric_record r;
	char rec[METRIC_RECORD_MAX];
	size_t len;

	(void)state;
	assert_int_equal(metric_record_parse("delivered qmgr\n", 15, &r), 0);
	assert_int_equal(r.kind, METRIC_RECORD_EVENT);
	assert_int_equal(r.event, METRIC_DELIVERED);
	assert_string_equal(r.service, "qmgr");
	assert_int_equal(metric_record_parse("login_imap imap-s.1_x", 21, &r), 0);
	assert_int_equal(r.event, METRIC_LOGIN_IMAP);
	assert_int_equal(metric_service_record(rec, sizeof rec, "smtp", 3, 12, &len), 0);
	assert_string_equal(rec, "service smtp 3 12\n");
	assert_int_equal(metric_record_parse(rec, len, &r), 0);
	assert_int_equal(r.kind, METRIC_RECORD_SERVICE);
	assert_string_equal(r.service, "smtp");
	assert_int_equal(r.processes, 3);
	assert_int_equal(r.restarts, 12);
	for (int e = 0; e < METRIC_NEVENTS; e++) {
		char text[64];
		int n = snprintf(text, sizeof text, "%s x", metric_event_name((enum metric_event)e));
		assert_int_equal(metric_record_parse(text, (size_t)n, &r), 0);
		assert_int_equal(r.event, e);
	}
	assert_null(metric_event_name(METRIC_NEVENTS));
}

static void test_metric_records_that_do_not_parse(void **state)
{
	static const char *const bad[] = {
		"", "\n", "delivered", "delivered ", " delivered qmgr", "delivered  qmgr",
		"delivered qmgr\n\n", "Delivered qmgr", "nosuch qmgr", "delivered qm/gr",
		"delivered qm\"gr", "delivered a b", "service smtp 1", "service smtp 1 x",
		"service smtp 1234567890 1", "service smtp -1 1", "service sm:tp 1 1",
		"delivered 0123456789012345678901234567890123",   /* 33 bytes of name */
	};
	struct metric_record r;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(metric_record_parse(bad[i], strlen(bad[i]), &r), -1);
	/* a 0 byte is not a separator nor a name character */
	assert_int_equal(metric_record_parse("delivered q\0mgr", 15, &r), -1);
}

static void take(struct metric_store *s, const char *rec, int from_master)
{
	metric_store_take(s, rec, strlen(rec), from_master);
}

static const char want_om[] =
	"# TYPE postern_messages_received counter\n"
	"# HELP postern_messages_received Messages accepted into the queue.\n"
	"postern_messages_received_total 2\n"
	"# TYPE postern_recipients_delivered counter\n"
	"# HELP postern_recipients_delivered Recipients delivered (a message to three recipients counts three).\n"
	"postern_recipients_delivered_total 0\n"
	"# TYPE postern_recipients_deferred counter\n"
	"# HELP postern_recipients_deferred Delivery attempts of a recipient that were deferred to a later try.\n"
	"postern_recipients_deferred_total 0\n"
	"# TYPE postern_recipients_bounced counter\n"
	"# HELP postern_recipients_bounced Recipients that failed for good and were reported to the sender.\n"
	"postern_recipients_bounced_total 0\n"
	"# TYPE postern_smtp_rejects counter\n"
	"# HELP postern_smtp_rejects Replies of smtpd with a 4xx or 5xx code (its log's reject: lines), by class.\n"
	"postern_smtp_rejects_total{service=\"smtp\",class=\"5xx\"} 1\n"
	"# TYPE postern_tls_handshakes counter\n"
	"# HELP postern_tls_handshakes TLS handshakes with clients, by result.\n"
	"# TYPE postern_auth_attempts counter\n"
	"# HELP postern_auth_attempts Authentications of clients (SMTP AUTH, POP3, IMAP), by result.\n"
	"# TYPE postern_login_sessions counter\n"
	"# HELP postern_login_sessions Logins handed to a mailbox session, by protocol.\n"
	"postern_login_sessions_total{service=\"pop3\",protocol=\"pop3\"} 1\n"
	"# TYPE postern_service_processes gauge\n"
	"# HELP postern_service_processes Processes of each service the master runs now.\n"
	"postern_service_processes{service=\"smtp\"} 2\n"
	"# TYPE postern_service_restarts counter\n"
	"# HELP postern_service_restarts Processes of each service that ended abnormally and were replaced, since the master started.\n"
	"postern_service_restarts_total{service=\"smtp\"} 1\n"
	"# TYPE postern_queue_messages gauge\n"
	"# HELP postern_queue_messages Messages in each queue directory.\n"
	"postern_queue_messages{state=\"deferred\"} 5\n"
	"# TYPE postern_queue_oldest_message_age_seconds gauge\n"
	"# HELP postern_queue_oldest_message_age_seconds Age of the oldest message in each queue directory (0 when empty).\n"
	"# UNIT postern_queue_oldest_message_age_seconds seconds\n"
	"postern_queue_oldest_message_age_seconds{state=\"deferred\"} 70\n"
	"# TYPE postern_queue_scan_capped gauge\n"
	"# HELP postern_queue_scan_capped 1 when a queue directory held more entries than metrics_queue_scan_limit and was counted only up to it.\n"
	"postern_queue_scan_capped{state=\"deferred\"} 1\n"
	"# TYPE postern_metrics_records_refused counter\n"
	"# HELP postern_metrics_records_refused Event records the metrics service refused: malformed, a service state not from the master, or too many services.\n"
	"postern_metrics_records_refused_total 2\n"
	"# EOF\n";

static void test_metric_store_text_in_both_formats(void **state)
{
	static struct metric_store s;
	struct metric_queue q[QUEUE_SCAN_STATES] = { { 0 } };
	struct buf out;

	(void)state;
	metric_store_init(&s);
	take(&s, "received enqueue\n", 0);
	take(&s, "received enqueue", 0);
	take(&s, "reject_5xx smtp\n", 0);
	take(&s, "login_pop3 pop3\n", 0);
	take(&s, "service smtp 2 1\n", 1);
	take(&s, "service smtp 9 9\n", 0);   /* not from the master: refused */
	take(&s, "garbage\n", 0);            /* refused */
	q[2].ok = 1;                         /* deferred only */
	q[2].scan.messages = 5;
	q[2].scan.oldest = 1000;
	q[2].scan.capped = 1;
	buf_init(&out, 1 << 20);
	assert_int_equal(metric_store_text(&s, q, 1070, 1, &out), 0);
	assert_string_equal(buf_cstr(&out), want_om);
	buf_reset(&out);
	assert_int_equal(metric_store_text(&s, q, 1070, 0, &out), 0);
	/* the Prometheus format: a counter's metadata by its sample, HELP first, no UNIT, no EOF */
	assert_non_null(strstr(buf_cstr(&out), "# HELP postern_messages_received_total Messages accepted into the queue.\n"
				"# TYPE postern_messages_received_total counter\npostern_messages_received_total 2\n"));
	assert_non_null(strstr(buf_cstr(&out), "# HELP postern_service_processes Processes"));
	assert_non_null(strstr(buf_cstr(&out), "# TYPE postern_service_processes gauge\n"));
	assert_null(strstr(buf_cstr(&out), "# UNIT"));
	assert_null(strstr(buf_cstr(&out), "# EOF"));
	buf_free(&out);
}

static void test_metric_store_full_of_services_refuses_one_more(void **state)
{
	static struct metric_store s;
	char rec[64];

	(void)state;
	metric_store_init(&s);
	for (int i = 0; i < METRIC_STORE_SERVICES; i++) {
		snprintf(rec, sizeof rec, "tls_ok s%d", i);
		take(&s, rec, 0);
	}
	assert_int_equal(s.refused, 0);
	take(&s, "tls_ok one-more", 0);
	assert_int_equal(s.refused, 1);
	take(&s, "tls_ok s0", 0);   /* a known one still counts */
	assert_int_equal(s.refused, 1);
	assert_int_equal(s.svc[0].events[METRIC_TLS_OK], 2);
}

static void test_metric_store_adopt_keeps_a_sound_store_only(void **state)
{
	static struct metric_store s;

	(void)state;
	metric_store_init(&s);
	take(&s, "received enqueue", 0);
	take(&s, "tls_ok smtps", 0);
	assert_int_equal(metric_store_adopt(&s), 1);
	assert_int_equal(s.nsvc, 2);
	assert_int_equal(s.svc[0].events[METRIC_RECEIVED], 1);
	/* a name with a byte no record could bring */
	s.svc[1].name[2] = '/';
	assert_int_equal(metric_store_adopt(&s), 0);
	assert_int_equal(s.nsvc, 0);
	assert_int_equal(s.magic, METRIC_STORE_MAGIC);
	/* a name without its end */
	take(&s, "tls_ok smtps", 0);
	memset(s.svc[0].name, 'a', sizeof s.svc[0].name);
	assert_int_equal(metric_store_adopt(&s), 0);
	/* too many services, a wrong magic (fresh memory is all 0) */
	s.nsvc = METRIC_STORE_SERVICES + 1;
	assert_int_equal(metric_store_adopt(&s), 0);
	memset(&s, 0, sizeof s);
	assert_int_equal(metric_store_adopt(&s), 0);
	assert_int_equal(s.magic, METRIC_STORE_MAGIC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_records_that_parse),
		cmocka_unit_test(test_metric_records_that_do_not_parse),
		cmocka_unit_test(test_metric_store_text_in_both_formats),
		cmocka_unit_test(test_metric_store_full_of_services_refuses_one_more),
		cmocka_unit_test(test_metric_store_adopt_keeps_a_sound_store_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
