/* Unit tests for common/mailq.c: the listing record (mailq_put /
 * mailq_get), its limits, the readable and Postfix formats and the walk
 * over a queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mailq.h"
#include "tmpdir_fixture.h"

static const char *const test_id = "18C2A3F45E001A2B";

/* Parse the one record in out. */
static void test_parse(const struct buf *out, struct record *rec)
{
	const char *error;
	size_t used;

	assert_int_equal(record_parse(out->data, out->len, rec, &used, &error), 0);
	assert_int_equal(used, out->len);
}

static void test_mailq_record_round_trips(void **state)
{
	struct mailq_rcpt rcpt[] = { { "pending", "bob@example.test", NULL }, { "failed", "\"a b\"@example.test", NULL } };
	struct mailq_entry e = {
		.id = test_id, .state = "deferred", .size = 1234, .arrival = 1700000000,
		.next_try = 1700000300, .sender = "", .kind = QUEUEFILE_KIND_DSN, .attempts = 3,
		.rcpt = rcpt, .nrcpt = 2,
	}, got;
	struct record rec = { 0 };
	const char *error = NULL;
	struct buf out;

	(void)state;
	buf_init(&out, 65536);
	assert_int_equal(mailq_put(&out, &e), 0);
	test_parse(&out, &rec);
	assert_string_equal(record_get(&rec, "rcpt"), "pending bob@example.test");
	assert_int_equal(mailq_get(&rec, &got, &error), 0);
	assert_string_equal(got.id, test_id);
	assert_string_equal(got.state, "deferred");
	assert_null(got.error);
	assert_true(got.size == 1234 && got.arrival == 1700000000 && got.next_try == 1700000300);
	assert_string_equal(got.sender, "");
	assert_int_equal(got.kind, QUEUEFILE_KIND_DSN);
	assert_int_equal(got.attempts, 3);
	assert_int_equal(got.nrcpt, 2);
	assert_string_equal(got.rcpt[1].status, "failed");
	assert_string_equal(got.rcpt[1].addr, "\"a b\"@example.test");
	assert_int_equal(got.rcpt_more, 0);
	mailq_entry_free(&got);
	record_clear(&rec);
	buf_free(&out);
}

static void test_mailq_damaged_entry_carries_its_error(void **state)
{
	struct mailq_entry e = { .id = test_id, .state = "active", .error = "bad magic" }, got;
	struct record rec = { 0 };
	const char *error = NULL;
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	assert_int_equal(mailq_put(&out, &e), 0);
	test_parse(&out, &rec);
	assert_int_equal(mailq_get(&rec, &got, &error), 0);
	assert_string_equal(got.error, "bad magic");
	assert_string_equal(got.state, "active");
	mailq_entry_free(&got);
	record_clear(&rec);
	buf_free(&out);
}

static void test_mailq_get_rejects_bad_records(void **state)
{
	static const char *const bad[] = {
		"state=hold\nsize=1\n\n",                                             /* no queue_id */
		"queue_id=../etc\nstate=hold\nerror=x\n\n",                           /* not an ID */
		"queue_id=18C2A3F45E001A2B\nstate=tmp\nerror=x\n\n",                  /* not a state */
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=1\nsize=1\nsender=\nkind=mail\n\n", /* no attempts */
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=x\nsize=1\nsender=\nkind=mail\nattempts=0\n\n",
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=1\nsize=1\nsender=\nkind=spam\nattempts=0\n\n",
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=1\nsize=1\nsender=\nkind=mail\nattempts=0\n"
		"rcpt=bob@example.test\n\n",                                          /* no status word */
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=1\nsize=1\nsender=\nkind=mail\nattempts=0\n"
		"rcpt=done bob@example.test\n\n",                                     /* unknown status */
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=1\nsize=1\nsender=\nkind=mail\nattempts=0\n"
		"next_try=-5\n\n",
		"queue_id=18C2A3F45E001A2B\nstate=hold\narrival=99999999999999999999\nsize=1\nsender=\n"
		"kind=mail\nattempts=0\n\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct record rec = { 0 };
		struct mailq_entry e;
		const char *error = NULL;
		size_t used;

		if (record_parse(bad[i], strlen(bad[i]), &rec, &used, &error) == 0) {
			error = NULL;
			assert_int_equal(mailq_get(&rec, &e, &error), -1);
			assert_non_null(error);
		}
		record_clear(&rec);
	}
}

static void test_mailq_recipients_are_bounded(void **state)
{
	size_t n = MAILQ_RCPT_MAX + 5;
	struct mailq_rcpt *rcpt = calloc(n, sizeof(*rcpt));
	struct mailq_entry e = { .id = test_id, .state = "incoming", .sender = "a@b.example" }, got;
	struct record rec = { 0 };
	const char *error = NULL;
	struct buf out;

	(void)state;
	assert_non_null(rcpt);
	for (size_t i = 0; i < n; i++)
		rcpt[i] = (struct mailq_rcpt){ "pending", "x@example.test", NULL };
	e.rcpt = rcpt;
	e.nrcpt = n;
	buf_init(&out, 1024 * 1024);
	assert_int_equal(mailq_put(&out, &e), 0);
	test_parse(&out, &rec);
	assert_int_equal(mailq_get(&rec, &got, &error), 0);
	assert_int_equal(got.nrcpt, MAILQ_RCPT_MAX);
	assert_int_equal(got.rcpt_more, 5);
	mailq_entry_free(&got);
	/* one rcpt field too many is refused by the reader */
	out.len = 0;
	e.nrcpt = MAILQ_RCPT_MAX;
	assert_int_equal(mailq_put(&out, &e), 0);
	out.len--;   /* reopen the record: add one more recipient */
	assert_int_equal(record_put_str(&out, "rcpt", "pending y@example.test"), 0);
	assert_int_equal(record_end(&out), 0);
	record_clear(&rec);
	test_parse(&out, &rec);
	assert_int_equal(mailq_get(&rec, &got, &error), -1);
	assert_string_equal(error, "too many recipients");
	record_clear(&rec);
	buf_free(&out);
	free(rcpt);
}

static void test_mailq_text_format(void **state)
{
	struct mailq_rcpt rcpt[] = { { "pending", "bob@example.test", NULL } };
	struct mailq_entry e = {
		.id = test_id, .state = "hold", .size = 42, .arrival = 0, .sender = "a\033]0;x@example.test",
		.rcpt = rcpt, .nrcpt = 1,
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	setenv("TZ", "UTC", 1);
	mailq_text(f, &e);
	mailq_text_end(f, 1, 0);
	mailq_text_end(f, 0, 0);
	fclose(f);
	assert_string_equal(text,
			    "18C2A3F45E001A2B     hold              42  1970-01-01 00:00:00  <a?]0;x@example.test>\n"
			    "    pending   <bob@example.test>\n"
			    "1 message.\n"
			    "The queue is empty.\n");
	free(text);
}

static void test_mailq_postfix_format(void **state)
{
	struct mailq_rcpt rcpt[] = {
		{ "pending", "bob@example.test", "connect to x[1.2.3.4]:25: Connection refused" },
		{ "pending", "carl@example.test", "connect to x[1.2.3.4]:25: Connection refused" },
		{ "delivered", "dan@example.test", NULL },
		{ "pending", "eve@example.test", "4.2.2 mailbox full\033" },
		{ "pending", "fay@example.test", NULL },
	};
	struct mailq_entry held = {
		.id = "ABCDEF12", .state = "hold", .size = 1536, .arrival = 0, .sender = "",
		.rcpt = rcpt, .nrcpt = 5,
	}, active = held, damaged = { .id = test_id, .state = "active", .error = "bad" };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	setenv("TZ", "UTC", 1);
	active.id = test_id;
	active.state = "active";
	active.sender = "a@example.test";
	active.nrcpt = 1;
	assert_int_equal(mailq_postfix(f, &held, 1), 1);
	assert_int_equal(mailq_postfix(f, &damaged, 0), 0);   /* not listed */
	assert_int_equal(mailq_postfix(f, &active, 0), 1);
	mailq_postfix_end(f, 2, 3072);
	mailq_postfix_end(f, 1, 1023);
	mailq_postfix_end(f, 0, 0);
	fclose(f);
	assert_string_equal(text,
			    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
			    "ABCDEF12!      1536 Thu Jan  1 00:00:00  MAILER-DAEMON\n"
			    "                                (connect to x[1.2.3.4]:25: Connection refused)\n"
			    "                                         bob@example.test\n"
			    "                                         carl@example.test\n"
			    "                                                         (4.2.2 mailbox full?)\n"
			    "                                         eve@example.test\n"
			    "                                         fay@example.test\n"
			    "\n"
			    "18C2A3F45E001A2B*    1536 Thu Jan  1 00:00:00  a@example.test\n"
			    "                                (connect to x[1.2.3.4]:25: Connection refused)\n"
			    "                                         bob@example.test\n"
			    "\n"
			    "-- 3 Kbytes in 2 Requests.\n"
			    "-- 0 Kbytes in 1 Request.\n"
			    "Mail queue is empty\n");
	free(text);
}

static void test_mailq_reason_travels_in_the_record(void **state)
{
	struct mailq_rcpt rcpt[] = { { "pending", "bob@example.test", "4.4.1 no route" }, { "failed", "c@x.test", NULL } };
	struct mailq_entry e = { .id = test_id, .state = "deferred", .sender = "a@x.test", .rcpt = rcpt, .nrcpt = 2 };
	struct record rec = { 0 };
	struct mailq_entry got;
	const char *error;
	struct buf out;

	(void)state;
	buf_init(&out, MAILQ_RECORD_MAX);
	assert_int_equal(mailq_put(&out, &e), 0);
	test_parse(&out, &rec);
	assert_int_equal(mailq_get(&rec, &got, &error), 0);
	assert_string_equal(got.rcpt[0].reason, "4.4.1 no route");
	assert_null(got.rcpt[1].reason);
	mailq_entry_free(&got);
	record_clear(&rec);
	/* a reason before any rcpt, or two for one, is refused */
	out.len = 0;
	assert_int_equal(record_put_str(&out, "queue_id", test_id) | record_put_str(&out, "state", "hold") |
			 record_put_str(&out, "sender", "") | record_put_str(&out, "kind", "mail") |
			 record_put_num(&out, "arrival", 1) | record_put_num(&out, "size", 1) |
			 record_put_num(&out, "attempts", 0) | record_put_str(&out, "reason", "x") | record_end(&out), 0);
	test_parse(&out, &rec);
	assert_int_equal(mailq_get(&rec, &got, &error), -1);
	assert_string_equal(error, "bad reason field");
	record_clear(&rec);
	buf_free(&out);
}

/* ---- the walk over a real queue ---- */

static char test_dir[] = "/tmp/test_mailq.XXXXXX";

static int test_walk_one(const struct mailq_entry *e, void *arg)
{
	size_t *n = arg;

	assert_null(e->error);
	assert_string_equal(e->state, "incoming");
	assert_string_equal(e->sender, "alice@example.test");
	assert_int_equal(e->nrcpt, 1);
	assert_string_equal(e->rcpt[0].addr, "bob@example.test");
	assert_string_equal(e->rcpt[0].status, "pending");
	assert_int_equal(e->size, 6);
	(*n)++;
	return 0;
}

static void test_mailq_walk_lists_and_truncates(void **state)
{
	const char *rcpt[] = { "bob@example.test" };
	size_t lens[] = { 16 }, n = 0;
	struct queuefile_env env = {
		.sender = "alice@example.test", .sender_len = 18, .rcpt = rcpt, .rcpt_len = lens, .nrcpt = 1,
	};
	const char *err = NULL;
	int truncated;

	(void)state;
	assert_non_null(mkdtemp(test_dir));
	assert_int_equal(chdir(test_dir), 0);
	assert_int_equal(queuefile_mkdirs(&err), 0);
	for (int i = 0; i < 3; i++) {
		struct queuefile_out qo;
		assert_int_equal(queuefile_create(&qo, &err), 0);
		assert_int_equal(queuefile_write_envelope(&qo, &env, &err), 0);
		assert_int_equal(queuefile_write_data(&qo, "hello\n", 6, &err), 0);
		assert_int_equal(queuefile_commit(&qo, &err), 0);
	}
	assert_int_equal(mailq_walk(0, test_walk_one, &n, &truncated, &err), 3);
	assert_int_equal(n, 3);
	assert_false(truncated);
	n = 0;
	assert_int_equal(mailq_walk(2, test_walk_one, &n, &truncated, &err), 2);
	assert_true(truncated);
	assert_int_equal(tmpdir_remove(test_dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mailq_record_round_trips),
		cmocka_unit_test(test_mailq_damaged_entry_carries_its_error),
		cmocka_unit_test(test_mailq_get_rejects_bad_records),
		cmocka_unit_test(test_mailq_recipients_are_bounded),
		cmocka_unit_test(test_mailq_text_format),
		cmocka_unit_test(test_mailq_postfix_format),
		cmocka_unit_test(test_mailq_reason_travels_in_the_record),
		cmocka_unit_test(test_mailq_walk_lists_and_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
