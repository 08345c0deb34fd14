/* test_imap_sort: common/imap_sort.c: base subjects (RFC 5256 2.1),
 * collation keys, msg-id normalization, the keys of a header (sent date
 * of 2.2, address keys, RFC 5957 display keys, references) and SORT's
 * order; and the sort-criteria reader. */
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
#include "imap_parser.h"
#include "imap_sort.h"

/* The base subject of a raw Subject value, "+" appended when it counts
 * as a reply or forward. */
static const char *base(const char *value)
{
	static char out[1024];
	struct buf b;
	bool reply;

	buf_init(&b, 4096);
	assert_int_equal(imap_base_subject(value, strlen(value), &b, &reply), 0);
	snprintf(out, sizeof(out), "%s%s", buf_cstr(&b), reply ? "+" : "");
	buf_free(&b);
	return out;
}

static void test_base_subject_removes_re_and_fwd_leaders(void **state)
{
	(void)state;
	assert_string_equal(base("Re: lunch"), "lunch+");
	assert_string_equal(base("RE:lunch"), "lunch+");
	assert_string_equal(base("re : lunch"), "lunch+");
	assert_string_equal(base("Fwd: lunch"), "lunch+");
	assert_string_equal(base("FW: lunch"), "lunch+");
	assert_string_equal(base("fw:lunch"), "lunch+");
	assert_string_equal(base("Re: Re: Fwd: RE: lunch"), "lunch+");
	assert_string_equal(base("re:re:re:lunch"), "lunch+");
	assert_string_equal(base("Re[2]: lunch"), "lunch+");           /* subj-refwd's blob */
	assert_string_equal(base("Re [2] : lunch"), "lunch+");
	assert_string_equal(base("Re:"), "+");
	assert_string_equal(base("lunch"), "lunch");
}

static void test_base_subject_keeps_what_is_no_leader(void **state)
{
	(void)state;
	assert_string_equal(base("Refresh: lunch"), "Refresh: lunch");   /* "re" then "f" */
	assert_string_equal(base("Re(2): lunch"), "Re(2): lunch");       /* not the RFC's form */
	assert_string_equal(base("AW: lunch"), "AW: lunch");             /* translations: RFC 5256 7 */
	assert_string_equal(base("Re"), "Re");
	assert_string_equal(base("Fwd lunch"), "Fwd lunch");
	assert_string_equal(base("lunch: Re: x"), "lunch: Re: x");
}

static void test_base_subject_fwd_trailers_and_brackets(void **state)
{
	(void)state;
	assert_string_equal(base("lunch (fwd)"), "lunch+");
	assert_string_equal(base("lunch(FWD) (fwd)  "), "lunch+");
	assert_string_equal(base("[fwd: lunch]"), "lunch+");
	assert_string_equal(base("[Fwd: Re: lunch]"), "lunch+");          /* back to step 2 */
	assert_string_equal(base("Re: [fwd: [list] lunch] (fwd)"), "lunch+");
	assert_string_equal(base("[fwd: [fwd: lunch]]"), "lunch+");
	assert_string_equal(base("[fwd:]"), "+");
	assert_string_equal(base("[fwd: lunch"), "[fwd: lunch");          /* no trailer */
	assert_string_equal(base("(fwd) lunch"), "(fwd) lunch");          /* only a trailer */
}

static void test_base_subject_blobs(void **state)
{
	(void)state;
	assert_string_equal(base("[list] Re: lunch"), "lunch+");          /* subj-leader: blob refwd */
	assert_string_equal(base("Re: [list] Re: lunch"), "lunch+");
	assert_string_equal(base("[list] lunch"), "lunch");               /* step 4, no reply */
	assert_string_equal(base("[a] [b] lunch"), "lunch");
	assert_string_equal(base("[a][b]"), "[b]");                       /* the last blob is the base */
	assert_string_equal(base("[list]"), "[list]");
	assert_string_equal(base("Re: [list]"), "[list]+");
	assert_string_equal(base("[list]   "), "[list]");
	assert_string_equal(base("[Liste franz\xc3\xa7" "aise] lunch"), "lunch");   /* UTF-8 in a blob */
	assert_string_equal(base("[a [b] lunch"), "[a [b] lunch");        /* "[" is no BLOBCHAR */
}

static void test_base_subject_white_space_and_encoded_words(void **state)
{
	(void)state;
	assert_string_equal(base("  lunch \t at   noon  "), "lunch at noon");
	assert_string_equal(base("lunch\r\n\tat noon"), "lunch at noon");
	assert_string_equal(base("=?utf-8?q?Re=3A_caf=C3=A9?="), "caf\xc3\xa9+");
	assert_string_equal(base("=?iso-8859-1?q?Gr=FC=DFe?= aus\r\n  Berlin"), "Gr\xc3\xbc\xc3\x9f" "e aus Berlin");
	assert_string_equal(base("Re: =?utf-8?b?W2xpc3RdIFJlOiBsdW5jaA==?="), "lunch+");   /* "[list] Re: lunch" */
	assert_string_equal(base("=?utf-8?q?a?= =?utf-8?q?b?="), "ab");  /* space between words goes */
	assert_string_equal(base("=?x-unknown?q?a?= lunch"), "=?x-unknown?q?a?= lunch");
	assert_string_equal(base(""), "");
	assert_string_equal(base("   "), "");
}

/* ------------------------------------------------------------ collation */

static const char *ckey(const char *s)
{
	static char out[256];
	struct buf b;

	buf_init(&b, 1024);
	assert_int_equal(imap_sort_collation_key(s, strlen(s), &b), 0);
	snprintf(out, sizeof(out), "%s", buf_cstr(&b));
	buf_free(&b);
	return out;
}

static void test_collation_key_is_upper_case_and_decomposed(void **state)
{
	(void)state;
	assert_string_equal(ckey("Lunch at Noon"), "LUNCH AT NOON");
	assert_string_equal(ckey("caf\xc3\xa9"), "CAFE\xcc\x81");        /* e + U+0301 */
	assert_string_equal(ckey("CAF\xc3\x89"), "CAFE\xcc\x81");
	/* i;ascii-casemap order: "_" (0x5F) sorts after "Z", as upper case has it */
	char z[32];
	snprintf(z, sizeof(z), "%s", ckey("zebra"));
	assert_true(strcmp(z, ckey("_under")) < 0);
}

/* ------------------------------------------------------------ msg-id */

static const char *msgids(const char *s)
{
	static char out[1024];
	struct buf b;
	size_t pos = 0, k = 0;
	int r;

	buf_init(&b, 1024);
	out[0] = '\0';
	while ((r = imap_msgid_next(s, strlen(s), &pos, &b)) == 1) {
		k += (size_t)snprintf(out + k, sizeof(out) - k, "%s%s", k > 0 ? " " : "", buf_cstr(&b));
		buf_reset(&b);
	}
	assert_int_equal(r, 0);
	buf_free(&b);
	return out;
}

static void test_msgids_are_normalized(void **state)
{
	(void)state;
	assert_string_equal(msgids("<a@b.example>"), "a@b.example");
	/* RFC 5256 3's own example: quoting does not matter */
	assert_string_equal(msgids("<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>"), "01KF8JCEOCBS0045PS@xxx.yyy.com");
	assert_string_equal(msgids(" (comment) <a.b@[1.2.3.4]> (more)"), "a.b@[1.2.3.4]");
	assert_string_equal(msgids("<a (c) . b @ (d) x.y>"), "a.b@x.y");     /* obsolete CFWS */
	assert_string_equal(msgids("<\"a\\\"b c\"@x>"), "a\"b c@x");
	assert_string_equal(msgids("<a@b><c@d>\r\n <e@f>"), "a@b c@d e@f");
	assert_string_equal(msgids("garbage <x> <no@> <@no> <a@b"), "");
	assert_string_equal(msgids("junk <x> <y@z> junk"), "y@z");
	assert_string_equal(msgids("<<a@b>"), "a@b");
	assert_string_equal(msgids("<>"), "");
	assert_string_equal(msgids(""), "");
	assert_string_equal(msgids("<Case@Example>"), "Case@Example");      /* kept: case-sensitive */
}

/* ------------------------------------------------------------ keys of a header */

static struct imap_sort_msg fill(struct arena *a, const char *hdr, unsigned int need)
{
	struct imap_sort_msg m = { .seq = 1, .id = 1, .arrival = 1000, .size = 10 };

	assert_int_equal(imap_sort_msg_fill(&m, hdr, strlen(hdr), need, a), 0);
	return m;
}

#define KEY(m, k) ((m).str[IMAP_SORT_S_##k])

static void test_fill_address_keys(void **state)
{
	struct arena a;
	struct imap_sort_msg m;

	(void)state;
	arena_init(&a, 4096, 1 << 20);
	m = fill(&a, "From: \"Zed Q.\" <alice@Example.COM>, bob@x\r\n"
		     "To: Team: carol@x, dave@y;\r\n"
		     "Cc: =?utf-8?q?J=C3=BCrgen?= <jm@de>\r\n\r\n",
		 IMAP_SORT_NEED_FROM | IMAP_SORT_NEED_TO | IMAP_SORT_NEED_CC | IMAP_SORT_NEED_DISPLAYFROM |
		 IMAP_SORT_NEED_DISPLAYTO);
	assert_string_equal(KEY(m, FROM), "ALICE");          /* addr-mailbox of the first address */
	assert_string_equal(KEY(m, DISPLAYFROM), "ZED Q.");  /* RFC 5957: the display name */
	assert_string_equal(KEY(m, TO), "TEAM");             /* the group marker comes first */
	assert_string_equal(KEY(m, DISPLAYTO), "TEAM");
	assert_string_equal(KEY(m, CC), "JM");
	m = fill(&a, "From: alice@example.com\r\nTo: =?utf-8?q?=C3=89mile?= <e@x>\r\n\r\n",
		 IMAP_SORT_NEED_DISPLAYFROM | IMAP_SORT_NEED_DISPLAYTO | IMAP_SORT_NEED_CC);
	assert_string_equal(KEY(m, DISPLAYFROM), "ALICE@EXAMPLE.COM");   /* no name: mailbox@host */
	assert_string_equal(KEY(m, DISPLAYTO), "E\xcc\x81MILE");
	assert_string_equal(KEY(m, CC), "");                              /* absent: "" */
	arena_free(&a);
}

static void test_fill_sent_date_falls_back_to_the_internal_date(void **state)
{
	struct arena a;
	struct imap_sort_msg m;

	(void)state;
	arena_init(&a, 4096, 1 << 20);
	m = fill(&a, "Date: Thu, 1 Jan 1970 01:00:00 +0100\r\n\r\n", IMAP_SORT_NEED_DATE);
	assert_int_equal(m.sent, 0);                 /* adjusted to UTC (RFC 5256 2.2) */
	m = fill(&a, "Date: 31 Dec 2000 16:01:07 -0800\r\n\r\n", IMAP_SORT_NEED_DATE);
	assert_int_equal(m.sent, 978307267);         /* the RFC's example: 1 Jan 2001 00:01:07 UTC */
	m = fill(&a, "Date: 1 Jan 2001 00:01:07 XYZ\r\n\r\n", IMAP_SORT_NEED_DATE);
	assert_int_equal(m.sent, 978307267);         /* a zone not known is UTC */
	m = fill(&a, "Date: yesterday\r\n\r\n", IMAP_SORT_NEED_DATE);
	assert_int_equal(m.sent, 1000);
	m = fill(&a, "Subject: x\r\n\r\n", IMAP_SORT_NEED_DATE);
	assert_int_equal(m.sent, 1000);
	m = fill(&a, "Date: Thu, 1 Jan 1970 01:00:00 +0100\r\n\r\n", 0);
	assert_int_equal(m.sent, 1000);              /* not asked for */
	arena_free(&a);
}

static void test_fill_references_and_in_reply_to(void **state)
{
	struct arena a;
	struct imap_sort_msg m;
	struct buf h;

	(void)state;
	arena_init(&a, 4096, 8 << 20);
	m = fill(&a, "Message-ID: <\"me\"@x>\r\nReferences: <a@x>\r\n <b@x> junk <c@x>\r\n"
		     "In-Reply-To: <z@x>\r\nSubject: Re: hello\r\n\r\n", IMAP_SORT_NEED_THREAD);
	assert_string_equal(m.msgid, "me@x");
	assert_int_equal(m.nrefs, 3);
	assert_string_equal(m.refs[0], "a@x");
	assert_string_equal(m.refs[2], "c@x");
	assert_true(m.reply);
	assert_string_equal(KEY(m, SUBJECT), "HELLO");
	/* no valid References: the first valid In-Reply-To id */
	m = fill(&a, "References: junk\r\nIn-Reply-To: Your message of <x> <p@x> <q@x>\r\n\r\n",
		 IMAP_SORT_NEED_THREAD);
	assert_null(m.msgid);
	assert_int_equal(m.nrefs, 1);
	assert_string_equal(m.refs[0], "p@x");
	m = fill(&a, "Message-ID: none\r\n\r\n", IMAP_SORT_NEED_THREAD);
	assert_null(m.msgid);
	assert_int_equal(m.nrefs, 0);
	/* a very long References: the last IMAP_SORT_REFS_MAX */
	buf_init(&h, 1 << 20);
	buf_append_str(&h, "References:");
	for (int i = 0; i < IMAP_SORT_REFS_MAX + 50; i++)
		buf_printf(&h, " <r%d@x>", i);
	buf_append_str(&h, "\r\n\r\n");
	m = fill(&a, buf_cstr(&h), IMAP_SORT_NEED_REFS);
	assert_int_equal(m.nrefs, IMAP_SORT_REFS_MAX);
	assert_string_equal(m.refs[0], "r50@x");
	assert_string_equal(m.refs[IMAP_SORT_REFS_MAX - 1], "r149@x");
	buf_free(&h);
	arena_free(&a);
}

static void test_fill_fails_at_the_arena_cap(void **state)
{
	struct arena a;
	struct imap_sort_msg m = { .seq = 1 };
	static const char hdr[] = "Subject: a subject longer than the cap of the arena\r\n\r\n";

	(void)state;
	arena_init(&a, 16, 16);
	assert_int_equal(imap_sort_msg_fill(&m, hdr, strlen(hdr), IMAP_SORT_NEED_SUBJECT, &a), -1);
	arena_free(&a);
}

/* ------------------------------------------------------------ criteria and order */

/* Parse "(criteria)" through the real parser; 0 or -1. */
static int criteria(const char *text, const struct imap_sort_criterion **c, unsigned int *n,
		    struct imap_parser **p_r)
{
	struct imap_parser_limits l;
	char line[256];
	size_t used;
	const char *err;

	imap_parser_limits_default(&l);
	*p_r = imap_parser_new(&l);
	snprintf(line, sizeof(line), "A SORT %s UTF-8 ALL\r\n", text);
	assert_int_equal(imap_parser_feed(*p_r, line, strlen(line), &used), IMAP_PARSE_COMMAND);
	const struct imap_cmd *cmd = imap_parser_command(*p_r);
	return imap_sort_criteria_parse(&cmd->args[0], imap_parser_arena(*p_r), c, n, &err);
}

static void test_criteria_reader(void **state)
{
	const struct imap_sort_criterion *c;
	struct imap_parser *p;
	unsigned int n;

	(void)state;
	assert_int_equal(criteria("(subject REVERSE date displayFrom)", &c, &n, &p), 0);
	assert_int_equal(n, 3);
	assert_int_equal(c[0].key, IMAP_SORT_SUBJECT);
	assert_false(c[0].reverse);
	assert_int_equal(c[1].key, IMAP_SORT_DATE);
	assert_true(c[1].reverse);
	assert_int_equal(c[2].key, IMAP_SORT_DISPLAYFROM);
	assert_int_equal(imap_sort_needs(c, n), IMAP_SORT_NEED_SUBJECT | IMAP_SORT_NEED_DATE |
						IMAP_SORT_NEED_DISPLAYFROM);
	imap_parser_free(&p);
	assert_int_equal(criteria("(ARRIVAL SIZE)", &c, &n, &p), 0);
	assert_int_equal(imap_sort_needs(c, n), 0);
	imap_parser_free(&p);
	assert_int_equal(criteria("()", &c, &n, &p), -1);
	imap_parser_free(&p);
	assert_int_equal(criteria("(REVERSE)", &c, &n, &p), -1);
	imap_parser_free(&p);
	assert_int_equal(criteria("(REVERSE REVERSE DATE)", &c, &n, &p), -1);
	imap_parser_free(&p);
	assert_int_equal(criteria("(SUBJECT BOGUS)", &c, &n, &p), -1);
	imap_parser_free(&p);
	assert_int_equal(criteria("SUBJECT", &c, &n, &p), -1);
	imap_parser_free(&p);
}

static void test_sort_order(void **state)
{
	struct arena a;
	static const char *const hdrs[] = {
		"Subject: Re: beta\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: zed@x\r\n\r\n",
		"Subject: alpha\r\nDate: Mon, 1 Jan 2024 09:00:00 +0000\r\nFrom: amy@x\r\n\r\n",
		"Subject: [list] Beta\r\nDate: Mon, 1 Jan 2024 08:00:00 +0000\r\n\r\n",
		"Subject: ALPHA (fwd)\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: Bob@x\r\n\r\n",
		"Date: Mon, 1 Jan 2024 07:00:00 +0000\r\nFrom: bob@x\r\n\r\n",
	};
	struct imap_sort_msg m[5];
	const struct imap_sort_msg *v[5];
	struct imap_sort_criterion subject_date[] = { { IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, false } };
	struct imap_sort_criterion rsubject[] = { { IMAP_SORT_SUBJECT, true } };
	struct imap_sort_criterion from_rdate[] = { { IMAP_SORT_FROM, false }, { IMAP_SORT_DATE, true } };
	struct imap_sort_criterion date[] = { { IMAP_SORT_DATE, false } };
	char got[64];

	(void)state;
	arena_init(&a, 4096, 1 << 20);
	for (int i = 0; i < 5; i++) {
		m[i] = (struct imap_sort_msg){ .seq = (uint32_t)(i + 1), .id = (uint32_t)(10 * (i + 1)),
					       .arrival = 5000 - i, .size = 100 };
		assert_int_equal(imap_sort_msg_fill(&m[i], hdrs[i], strlen(hdrs[i]), IMAP_SORT_NEED_SUBJECT |
						    IMAP_SORT_NEED_DATE | IMAP_SORT_NEED_FROM, &a), 0);
	}
#define ORDER(crit) do { \
		for (int i = 0; i < 5; i++) \
			v[i] = &m[i]; \
		imap_sort_run(v, 5, crit, sizeof(crit) / sizeof(crit[0])); \
		snprintf(got, sizeof(got), "%u %u %u %u %u", v[0]->id, v[1]->id, v[2]->id, v[3]->id, v[4]->id); \
	} while (0)
	ORDER(subject_date);
	assert_string_equal(got, "50 20 40 30 10");   /* "" first; alpha 09:00, 10:00; beta 08:00, 10:00 */
	/* REVERSE turns the subject only: equal subjects stay in mailbox order */
	ORDER(rsubject);
	assert_string_equal(got, "10 30 20 40 50");
	ORDER(from_rdate);
	assert_string_equal(got, "30 20 40 50 10");   /* "" < AMY < BOB (10:00, 07:00) < ZED */
	ORDER(date);
	assert_string_equal(got, "50 30 20 10 40");   /* equal dates: mailbox order */
	arena_free(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_subject_removes_re_and_fwd_leaders),
		cmocka_unit_test(test_base_subject_keeps_what_is_no_leader),
		cmocka_unit_test(test_base_subject_fwd_trailers_and_brackets),
		cmocka_unit_test(test_base_subject_blobs),
		cmocka_unit_test(test_base_subject_white_space_and_encoded_words),
		cmocka_unit_test(test_collation_key_is_upper_case_and_decomposed),
		cmocka_unit_test(test_msgids_are_normalized),
		cmocka_unit_test(test_fill_address_keys),
		cmocka_unit_test(test_fill_sent_date_falls_back_to_the_internal_date),
		cmocka_unit_test(test_fill_references_and_in_reply_to),
		cmocka_unit_test(test_fill_fails_at_the_arena_cap),
		cmocka_unit_test(test_criteria_reader),
		cmocka_unit_test(test_sort_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
