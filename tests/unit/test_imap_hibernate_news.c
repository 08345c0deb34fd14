/* Unit tests for common/imap_hibernate_news.c: what imap-hibernate may
 * tell a hibernated session by itself (only messages above every UID it
 * knows), and what must wake it (an expunge or flag change of a known
 * message, a new keyword, another UIDVALIDITY). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_hibernate_news.h"

#define V 1700000000u

/* A folder view of n messages: UIDs uids[i], MODSEQ modseq[i]. */
static void folder(struct mbox *mb, struct mbox_msg *msgs, const uint32_t *uids, const uint64_t *modseq, size_t n)
{
	memset(mb, 0, sizeof(*mb));
	mb->uidvalidity = V;
	for (size_t i = 0; i < n; i++) {
		msgs[i] = (struct mbox_msg){ .uid = uids[i], .modseq = modseq[i] };
		if (modseq[i] > mb->highestmodseq)
			mb->highestmodseq = modseq[i];
	}
	mb->msgs = msgs;
	mb->n = n;
	mb->uidnext = n > 0 ? uids[n - 1] + 1 : 1;
}

/* A session that knows uids (recent: those \Recent to it), told up to modseq. */
static void session(struct imap_hibernate_state *st, const uint32_t *uids, size_t n, const uint32_t *recent,
		    size_t nr, uint64_t modseq, unsigned enabled)
{
	memset(st, 0, sizeof(*st));
	st->uidvalidity = V;
	st->modseq = modseq;
	st->enabled = enabled;
	assert_int_equal(imap_hibernate_set_from(&st->uids, uids, n), 0);
	assert_int_equal(imap_hibernate_set_from(&st->recent, recent, nr), 0);
}

static void test_new_messages_are_told_and_kept(void **state)
{
	static const uint32_t uids[] = { 1, 2, 4, 6, 7 };
	static const uint64_t mods[] = { 3, 4, 5, 9, 10 };
	static const uint32_t known[] = { 1, 2, 4 };
	static const uint32_t rec[] = { 2 };
	struct mbox_msg msgs[5];
	struct mbox mb;
	struct imap_hibernate_state st;
	struct buf text;
	size_t first = 0;

	(void)state;
	folder(&mb, msgs, uids, mods, 5);
	msgs[4].recent = 1;   /* claimed by this look: UID 7 */
	session(&st, known, 3, rec, 1, 5, 0);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NEW);
	assert_int_equal(first, 3);
	buf_init(&text, 128);
	assert_int_equal(imap_hibernate_news_apply(&mb, &st, first, true, &text), 0);
	assert_string_equal(buf_cstr(&text), "* 5 EXISTS\r\n* 2 RECENT\r\n");
	assert_int_equal(st.uids.count, 5);
	assert_int_equal(st.uids.n, 3);   /* 1:2, 4, 6:7 */
	assert_int_equal(st.uids.r[2].lo, 6);
	assert_int_equal(st.uids.r[2].hi, 7);
	assert_true(imap_hibernate_set_has(&st.recent, 7));
	assert_false(imap_hibernate_set_has(&st.recent, 6));
	assert_int_equal(st.modseq, 10);
	/* Nothing since: nothing to tell. */
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NONE);
	buf_free(&text);
	imap_hibernate_state_free(&st);
}

static void test_imap4rev2_gets_no_recent_and_no_claim_keeps_recent(void **state)
{
	static const uint32_t uids[] = { 1, 2 };
	static const uint64_t mods[] = { 3, 7 };
	static const uint32_t known[] = { 1 };
	struct mbox_msg msgs[2];
	struct mbox mb;
	struct imap_hibernate_state st;
	struct buf text;
	size_t first = 0;

	(void)state;
	folder(&mb, msgs, uids, mods, 2);
	msgs[1].recent = 1;
	session(&st, known, 1, NULL, 0, 3, IMAP_HIBERNATE_REV2);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NEW);
	buf_init(&text, 128);
	assert_int_equal(imap_hibernate_news_apply(&mb, &st, first, false, &text), 0);
	assert_string_equal(buf_cstr(&text), "* 2 EXISTS\r\n");
	assert_int_equal(st.recent.count, 0);   /* not the claimant */
	buf_free(&text);
	imap_hibernate_state_free(&st);
}

static void test_what_wakes(void **state)
{
	static const uint32_t uids[] = { 1, 2, 3 };
	static const uint64_t mods[] = { 3, 4, 5 };
	static const uint32_t known[] = { 1, 2, 3 };
	static const uint32_t gone[] = { 1, 2, 3, 4 };
	struct mbox_msg msgs[3];
	struct mbox mb;
	struct imap_hibernate_state st;
	size_t first = 0;

	(void)state;
	folder(&mb, msgs, uids, mods, 3);
	/* A flag change of a known message (its MODSEQ above the told one). */
	session(&st, known, 3, NULL, 0, 4, 0);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_WAKE);
	imap_hibernate_state_free(&st);
	/* A known message expunged (UID 4). */
	mb.highestmodseq = 6;
	session(&st, gone, 4, NULL, 0, 5, 0);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_WAKE);
	imap_hibernate_state_free(&st);
	/* Another UIDVALIDITY. */
	session(&st, known, 3, NULL, 0, 5, 0);
	mb.uidvalidity = V + 1;
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_WAKE);
	mb.uidvalidity = V;
	/* A keyword name the client was not told (a * FLAGS first). */
	mb.keywords[0] = "$Work";
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_WAKE);
	st.keywords = 1;
	/* Told of it: a change of a message it never knew is none of its business. */
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NEW);
	assert_int_equal(first, 3);
	imap_hibernate_state_free(&st);
}

static void test_unknown_below_top_stay_out(void **state)
{
	static const uint32_t uids[] = { 1, 2, 3, 4 };
	static const uint64_t mods[] = { 3, 8, 5, 9 };
	static const uint32_t known[] = { 1, 3 };
	struct mbox_msg msgs[4];
	struct mbox mb;
	struct imap_hibernate_state st;
	struct buf text;
	size_t first = 0;

	(void)state;
	folder(&mb, msgs, uids, mods, 4);
	session(&st, known, 2, NULL, 0, 5, 0);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NEW);
	assert_int_equal(first, 3);   /* UID 2 was never shown: left out, as a resume leaves it */
	buf_init(&text, 128);
	assert_int_equal(imap_hibernate_news_apply(&mb, &st, first, false, &text), 0);
	assert_string_equal(buf_cstr(&text), "* 3 EXISTS\r\n* 0 RECENT\r\n");
	assert_false(imap_hibernate_set_has(&st.uids, 2));
	buf_free(&text);
	imap_hibernate_state_free(&st);
}

static void test_no_new_message_only_raises_modseq(void **state)
{
	static const uint32_t uids[] = { 1 };
	static const uint64_t mods[] = { 2 };
	static const uint32_t known[] = { 1 };
	struct mbox_msg msgs[1];
	struct mbox mb;
	struct imap_hibernate_state st;
	struct buf text;
	size_t first = 0;

	(void)state;
	folder(&mb, msgs, uids, mods, 1);
	mb.highestmodseq = 9;   /* a message it never knew came and went */
	session(&st, known, 1, NULL, 0, 3, 0);
	assert_int_equal(imap_hibernate_news_check(&mb, &st, &first), IMAP_HIBERNATE_NEWS_NEW);
	assert_int_equal(first, 1);
	buf_init(&text, 128);
	assert_int_equal(imap_hibernate_news_apply(&mb, &st, first, false, &text), 0);
	assert_int_equal(text.len, 0);
	assert_int_equal(st.modseq, 9);
	assert_int_equal(st.uids.count, 1);
	buf_free(&text);
	imap_hibernate_state_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_messages_are_told_and_kept),
		cmocka_unit_test(test_imap4rev2_gets_no_recent_and_no_claim_keeps_recent),
		cmocka_unit_test(test_what_wakes),
		cmocka_unit_test(test_unknown_below_top_stay_out),
		cmocka_unit_test(test_no_new_message_only_raises_modseq),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
