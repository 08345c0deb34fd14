/* test_imap_thread: common/imap_thread.c, THREAD=ORDEREDSUBJECT and
 * THREAD=REFERENCES (RFC 5256 3) on small mailboxes, among them the
 * shapes of the RFC's own examples (RFC 5256 4); the answer compared
 * exactly as the thread lists the server sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "imap_sort.h"
#include "imap_thread.h"

/* One message: the id the answer names it by, its sent date (minutes),
 * and header lines ("" for none). */
struct tm_msg {
	uint32_t id;
	int minute;
	const char *header;
};

static char answer[4096];

/* Thread msgs[0..n) (in mailbox order) with alg into answer. */
static const char *thread(enum imap_thread_alg alg, const struct tm_msg *msgs, size_t n)
{
	struct imap_sort_msg *m = calloc(n + 1, sizeof(*m));
	struct arena a;
	struct buf out, h;

	arena_init(&a, 4096, 1 << 20);
	buf_init(&out, 1 << 20);
	buf_init(&h, 1 << 16);
	for (size_t i = 0; i < n; i++) {
		m[i].seq = (uint32_t)(i + 1);
		m[i].id = msgs[i].id;
		m[i].arrival = 1700000000;
		buf_reset(&h);
		buf_printf(&h, "%sDate: Tue, 14 Nov 2023 22:%02d:20 +0000\r\n\r\n", msgs[i].header, msgs[i].minute);
		assert_int_equal(imap_sort_msg_fill(&m[i], buf_cstr(&h), h.len, IMAP_SORT_NEED_THREAD, &a), 0);
	}
	assert_int_equal(imap_thread_run(alg, m, n, &out), 0);
	snprintf(answer, sizeof(answer), "%s", buf_cstr(&out));
	buf_free(&out);
	buf_free(&h);
	arena_free(&a);
	free(m);
	return answer;
}

#define N(x) (sizeof(x) / sizeof((x)[0]))
#define OS IMAP_THREAD_ORDEREDSUBJECT
#define REFS IMAP_THREAD_REFERENCES

static void test_nothing_gives_nothing(void **state)
{
	(void)state;
	assert_string_equal(thread(REFS, NULL, 0), "");
	assert_string_equal(thread(OS, NULL, 0), "");
}

/* RFC 5256 4's ORDEREDSUBJECT example, in part: single messages, a pair
 * "(194 195)", threads whose first message has several children
 * "(174 (175)(176)(178)(181)(180))" (181 sent before 180), threads in
 * the order of their first message's date ((172) before (170)). */
static void test_orderedsubject_shapes_of_the_rfc_example(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 166, 1, "Subject: one\r\n" },
		{ 167, 2, "Subject: two\r\n" },
		{ 170, 5, "Subject: four\r\n" },
		{ 172, 4, "Subject: three\r\n" },
		{ 174, 6, "Subject: thread\r\n" },
		{ 175, 7, "Subject: Re: thread\r\n" },
		{ 176, 8, "Subject: re: Thread\r\n" },
		{ 178, 9, "Subject: [fwd: thread]\r\n" },
		{ 180, 11, "Subject: Thread (fwd)\r\n" },
		{ 181, 10, "Subject: THREAD\r\n" },
		{ 194, 12, "Subject: pair\r\n" },
		{ 195, 13, "Subject: Re: pair\r\n" },
	};

	(void)state;
	assert_string_equal(thread(OS, msgs, N(msgs)),
			    "(166)(167)(172)(170)(174 (175)(176)(178)(181)(180))(194 195)");
}

static void test_orderedsubject_sorts_by_sent_date_and_groups_empty_subjects(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 1, 30, "Subject: b\r\n" },
		{ 2, 10, "Subject: Re: b\r\n" },   /* earlier: the parent */
		{ 3, 20, "" },
		{ 4, 20, "Subject: Re:\r\n" },     /* also an empty base subject */
		{ 5, 10, "Subject: a\r\n" },       /* same date as 2: mailbox order */
	};

	(void)state;
	assert_string_equal(thread(OS, msgs, N(msgs)), "(2 1)(5)(3 4)");
}

/* RFC 5256 4's REFERENCES example: "(2)(3 6 (4 23)(44 7 96))". */
static void test_references_shape_of_the_rfc_example(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 2, 1, "Message-ID: <2@x>\r\nSubject: lone\r\n" },
		{ 3, 2, "Message-ID: <3@x>\r\nSubject: topic\r\n" },
		{ 4, 4, "Message-ID: <4@x>\r\nReferences: <3@x> <6@x>\r\nSubject: Re: topic\r\n" },
		{ 6, 3, "Message-ID: <6@x>\r\nIn-Reply-To: <3@x>\r\nSubject: Re: topic\r\n" },
		{ 7, 6, "Message-ID: <7@x>\r\nReferences: <3@x> <6@x> <44@x>\r\nSubject: Re: topic\r\n" },
		{ 23, 5, "Message-ID: <23@x>\r\nReferences: <3@x> <6@x> <4@x>\r\nSubject: Re: topic\r\n" },
		{ 44, 5, "Message-ID: <44@x>\r\nReferences: <3@x> <6@x>\r\nSubject: Re: topic\r\n" },
		{ 96, 7, "Message-ID: <96@x>\r\nReferences: <3@x> <6@x> <44@x> <7@x>\r\nSubject: Re: topic\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(2)(3 6 (4 23)(44 7 96))");
}

static void test_references_dummies(void **state)
{
	/* Two replies to a message not in the mailbox: a dummy stays at the
	 * top with both ("((1)(2))"); one reply to another missing message
	 * is promoted ("(3)"); a missing message in the middle of a chain
	 * goes, its child joins the grandparent ("(4 5)"). */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <a1@x>\r\nReferences: <gone@x>\r\nSubject: one\r\n" },
		{ 2, 2, "Message-ID: <a2@x>\r\nIn-Reply-To: <gone@x>\r\nSubject: two\r\n" },
		{ 3, 3, "Message-ID: <a3@x>\r\nReferences: <other@x>\r\nSubject: three\r\n" },
		{ 4, 4, "Message-ID: <a4@x>\r\nSubject: four\r\n" },
		{ 5, 5, "Message-ID: <a5@x>\r\nReferences: <a4@x> <middle@x>\r\nSubject: five\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "((1)(2))(3)(4 5)");
}

static void test_references_merges_by_subject(void **state)
{
	/* No references at all: a reply joins the thread of the subject's
	 * non-reply (wherever it is); two non-replies get a dummy; a "(fwd)"
	 * forward counts as a reply; an empty subject never merges. */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Subject: Re: lunch\r\n" },
		{ 2, 2, "Subject: lunch\r\n" },
		{ 3, 3, "Subject: [list] Re: lunch\r\n" },
		{ 4, 4, "Subject: dinner\r\n" },
		{ 5, 5, "Subject: DINNER\r\n" },
		{ 6, 6, "Subject: dinner (fwd)\r\n" },
		{ 7, 7, "" },
		{ 8, 8, "Subject: Re:\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(2 (1)(3))((4)(5)(6))(7)(8)");
}

static void test_references_subject_merge_with_dummy_threads(void **state)
{
	/* A dummy thread takes the subject table; a message of that subject
	 * joins it, and a second dummy thread pools its children into it. */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <b1@x>\r\nReferences: <p@x>\r\nSubject: Re: plan\r\n" },
		{ 2, 2, "Message-ID: <b2@x>\r\nReferences: <p@x>\r\nSubject: Re: plan\r\n" },
		{ 3, 3, "Message-ID: <b3@x>\r\nSubject: plan\r\n" },
		{ 4, 4, "Message-ID: <b4@x>\r\nReferences: <q@x>\r\nSubject: Re: plan\r\n" },
		{ 5, 5, "Message-ID: <b5@x>\r\nReferences: <q@x>\r\nSubject: Re: plan\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "((1)(2)(3)(4)(5))");
}

static void test_references_never_loops(void **state)
{
	/* Each names the other as its parent; a message names itself; the
	 * same reference twice. */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <l1@x>\r\nReferences: <l2@x>\r\nSubject: a\r\n" },
		{ 2, 2, "Message-ID: <l2@x>\r\nReferences: <l1@x>\r\nSubject: b\r\n" },
		{ 3, 3, "Message-ID: <l3@x>\r\nReferences: <l3@x>\r\nSubject: c\r\n" },
		{ 4, 4, "Message-ID: <l4@x>\r\nReferences: <l3@x> <l4@x> <l3@x>\r\nSubject: d\r\n" },
	};

	(void)state;
	/* 1 makes 2 its parent; 2 making 1 its parent would loop, so 2 is
	 * left at the top.  3 is not its own parent; 4 is 3's child, and
	 * "<l4@x> <l3@x>" (3 below 4) would loop. */
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(2 1)(3 4)");
}

static void test_references_duplicate_and_missing_message_ids(void **state)
{
	/* The second <dup@x> gets an id of its own: the reply goes to the
	 * first; messages without a Message-ID are threads of their own. */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <dup@x>\r\nSubject: first\r\n" },
		{ 2, 2, "Message-ID: <dup@x>\r\nSubject: second\r\n" },
		{ 3, 3, "Message-ID: <r@x>\r\nIn-Reply-To: <dup@x>\r\nSubject: third\r\n" },
		{ 4, 4, "Subject: fourth\r\n" },
		{ 5, 5, "Subject: fifth\r\nReferences: <r@x>\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(1 3 5)(2)(4)");
}

static void test_references_quoting_does_not_matter(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>\r\nSubject: a\r\n" },
		{ 2, 2, "In-Reply-To: <01KF8JCEOCBS0045PS@xxx.yyy.com>\r\nSubject: b\r\n" },
		{ 3, 3, "In-Reply-To: <01kf8jceocbs0045ps@xxx.yyy.com>\r\nSubject: c\r\n" },   /* case counts */
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(1 2)(3)");
}

static void test_references_truncated_references_keep_the_first_parent(void **state)
{
	/* 3 says b's parent is a (1A); 4's shorter, different chain "x b"
	 * does not re-parent b (it has a parent already). */
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Message-ID: <a@x>\r\nSubject: s1\r\n" },
		{ 2, 2, "Message-ID: <b@x>\r\nSubject: s2\r\n" },
		{ 3, 3, "Message-ID: <c@x>\r\nReferences: <a@x> <b@x>\r\nSubject: s3\r\n" },
		{ 4, 4, "Message-ID: <y@x>\r\nSubject: s4\r\n" },
		{ 5, 5, "Message-ID: <d@x>\r\nReferences: <y@x> <b@x>\r\nSubject: s5\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(1 2 (3)(5))(4)");
}

static void test_references_orders_siblings_by_date_deepest_first(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 1, 10, "Message-ID: <r@x>\r\nSubject: root\r\n" },
		{ 2, 40, "Message-ID: <k1@x>\r\nIn-Reply-To: <r@x>\r\nSubject: k1\r\n" },
		{ 3, 20, "Message-ID: <k2@x>\r\nIn-Reply-To: <r@x>\r\nSubject: k2\r\n" },
		{ 4, 30, "Message-ID: <g1@x>\r\nIn-Reply-To: <k2@x>\r\nSubject: g1\r\n" },
		{ 5, 25, "Message-ID: <g2@x>\r\nIn-Reply-To: <k2@x>\r\nSubject: g2\r\n" },
		{ 6, 5, "Message-ID: <o@x>\r\nSubject: older\r\n" },
		{ 7, 20, "Message-ID: <k3@x>\r\nIn-Reply-To: <r@x>\r\nSubject: k3\r\n" },
	};

	(void)state;
	assert_string_equal(thread(REFS, msgs, N(msgs)), "(6)(1 (3 (5)(4))(7)(2))");
}

static void test_references_long_chain(void **state)
{
	/* 3000 messages, each the reply to the one before, References
	 * truncated to the last IMAP_SORT_REFS_MAX: one chain. */
	enum { CHAIN = 3000 };
	struct imap_sort_msg *m = calloc(CHAIN, sizeof(*m));
	struct arena a;
	struct buf out, h;

	(void)state;
	arena_init(&a, 65536, 256 << 20);
	buf_init(&out, 1 << 20);
	buf_init(&h, 1 << 20);
	for (int i = 0; i < CHAIN; i++) {
		buf_reset(&h);
		buf_printf(&h, "Message-ID: <c%d@x>\r\nReferences:", i);
		for (int k = 0; k < i; k++)
			buf_printf(&h, " <c%d@x>", k);
		buf_append_str(&h, "\r\nSubject: chain\r\n\r\n");
		m[i] = (struct imap_sort_msg){ .seq = (uint32_t)i + 1, .id = (uint32_t)i + 1, .arrival = i };
		assert_int_equal(imap_sort_msg_fill(&m[i], h.data, h.len, IMAP_SORT_NEED_THREAD, &a), 0);
	}
	assert_int_equal(imap_thread_run(REFS, m, CHAIN, &out), 0);
	assert_true(strncmp(buf_cstr(&out), "(1 2 3 ", 7) == 0);
	assert_true(strstr(buf_cstr(&out), " 2999 3000)") != NULL);
	assert_null(strchr(buf_cstr(&out) + 1, '('));
	buf_free(&out);
	buf_free(&h);
	arena_free(&a);
	free(m);
}

static void test_output_cap_is_an_error(void **state)
{
	static const struct tm_msg msgs[] = {
		{ 1, 1, "Subject: a\r\n" }, { 2, 2, "Subject: b\r\n" },
	};
	struct imap_sort_msg m[2];
	struct arena a;
	struct buf out;

	(void)state;
	arena_init(&a, 4096, 1 << 20);
	for (int i = 0; i < 2; i++) {
		m[i] = (struct imap_sort_msg){ .seq = (uint32_t)i + 1, .id = msgs[i].id };
		assert_int_equal(imap_sort_msg_fill(&m[i], msgs[i].header, strlen(msgs[i].header),
						    IMAP_SORT_NEED_THREAD, &a), 0);
	}
	buf_init(&out, 4);
	assert_int_equal(imap_thread_run(REFS, m, 2, &out), -1);
	buf_free(&out);
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_gives_nothing),
		cmocka_unit_test(test_orderedsubject_shapes_of_the_rfc_example),
		cmocka_unit_test(test_orderedsubject_sorts_by_sent_date_and_groups_empty_subjects),
		cmocka_unit_test(test_references_shape_of_the_rfc_example),
		cmocka_unit_test(test_references_dummies),
		cmocka_unit_test(test_references_merges_by_subject),
		cmocka_unit_test(test_references_subject_merge_with_dummy_threads),
		cmocka_unit_test(test_references_never_loops),
		cmocka_unit_test(test_references_duplicate_and_missing_message_ids),
		cmocka_unit_test(test_references_quoting_does_not_matter),
		cmocka_unit_test(test_references_truncated_references_keep_the_first_parent),
		cmocka_unit_test(test_references_orders_siblings_by_date_deepest_first),
		cmocka_unit_test(test_references_long_chain),
		cmocka_unit_test(test_output_cap_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
