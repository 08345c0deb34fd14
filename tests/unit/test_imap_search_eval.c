/* test_imap_search_eval: common/imap_search_eval.c, whether messages
 * match SEARCH programs.
 *
 * A program is written as a client sends it ("UNSEEN BODY x"), read by
 * the real parser (imap_parser, imap_search_parse), compiled and run over
 * a small mailbox of fixed messages; the result is the matching sequence
 * numbers ("1 3") or the compile error, compared exactly.  Each test names
 * the behaviour it checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_search_eval.h"

/* 2024-01-01 00:00:00 UTC */
#define JAN1 1704067200LL
#define DAY 86400LL
#define HOUR 3600LL

struct tmsg {
	const char *data;
	unsigned int flags;
	const char *kw[3];
	uint64_t modseq;
	int64_t idate;
};

/* 1: plain ASCII, CRLF. */
static const char M1[] =
	"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
	"From: Alice Example <alice@example.com>\r\n"
	"To: bob@example.org, \"Carol Q. Public\" <carol@example.net>\r\n"
	"Cc: dave@example.com\r\n"
	"Subject: Quarterly report\r\n"
	"X-Mailer: TestMailer 1.0\r\n"
	"\r\n"
	"The numbers are in.\r\n"
	"See you on Monday.\r\n";

/* 2: encoded words, quoted-printable ISO-8859-1 body, a far-east zone. */
static const char M2[] =
	"Date: Tue, 02 Jan 2024 00:30:00 +1400\r\n"
	"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\n"
	"To: Team: a@x.org, b@y.org;, undisclosed-recipients:;\r\n"
	"Subject: =?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?b?YXVz?=\r\n"
	"  Berlin\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: text/plain; charset=iso-8859-1\r\n"
	"Content-Transfer-Encoding: quoted-printable\r\n"
	"\r\n"
	"caf=E9 na=EFve r=E9sum=E9 soft=\r\n"
	"break\r\n";

/* 3: multipart: a base64 UTF-8 text, a binary attachment, an attached
 * message, an HTML part; a west-coast zone. */
static const char M3[] =
	"Date: Wed, 3 Jan 2024 23:59:59 -0800\r\n"
	"From: Eve <eve@example.com>\r\n"
	"To: alice@example.com\r\n"
	"Bcc: hidden@example.com\r\n"
	"Subject: Photos\r\n"
	"MIME-Version: 1.0\r\n"
	"Content-Type: multipart/mixed; boundary=\"BB\"\r\n"
	"\r\n"
	"preamble words\r\n"
	"--BB\r\n"
	"Content-Type: text/plain; charset=utf-8\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"X-Part-Hdr: parthdrvalue\r\n"
	"\r\n"
	/* "Grüße aus Köln ΣΑΣ\r\n" */
	"R3LDvMOfZSBhdXMgS8O2bG4gzqPOkc6jDQo=\r\n"
	"--BB\r\n"
	"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
	"Content-Transfer-Encoding: base64\r\n"
	"\r\n"
	/* "secretpayload" */
	"c2VjcmV0cGF5bG9hZA==\r\n"
	"--BB\r\n"
	"Content-Type: message/rfc822\r\n"
	"\r\n"
	"From: inner@example.org\r\n"
	"Subject: Inner subject\r\n"
	"\r\n"
	"innerbody words\r\n"
	"--BB\r\n"
	"Content-Type: text/html; charset=x-unknown\r\n"
	"\r\n"
	"<p>html<b>word</b></p>\r\n"
	"--BB--\r\n";

/* 4: LF line ends, no Date field, folded Subject, keywords. */
static const char M4[] =
	"From: frank@example.com (Frank Comment)\n"
	"Subject: aus\n"
	"  Berlin\tund  Bonn\n"
	"Cc: =?iso-8859-1?b?SvxyZ2Vu?= <jurgen@example.de>\n"
	"\n"
	"Line one\n"
	"Line two mentions Quarterly\n";

/* 5: an unparsable Date, 8-bit UTF-8 in a text/plain us-ascii body,
 * padding for size keys. */
static const char M5[] =
	"Date: garbage\r\n"
	"From: \"Doe, John\" <john@doe.net>\r\n"
	"Subject: \xc3\x89T\xc3\x89 = summer\r\n"
	"X-Empty:\r\n"
	"\r\n"
	"Stra\xc3\x9f" "e ist lang. \xef\xac\x81nal \xef\xbc\xa1\xef\xbc\xa2\r\n"
	"..........................................................................\r\n"
	"..........................................................................\r\n";

static const struct tmsg mailbox[] = {
	{ M1, IMAP_FLAG_SEEN | IMAP_FLAG_ANSWERED, { "$Forwarded", "Work", NULL }, 5, JAN1 + 10 * HOUR },
	{ M2, IMAP_FLAG_RECENT, { NULL }, 7, JAN1 + DAY },
	{ M3, IMAP_FLAG_RECENT | IMAP_FLAG_SEEN | IMAP_FLAG_FLAGGED, { "work", NULL }, 12, JAN1 + 3 * DAY + 20 * HOUR },
	/* 2023-12-31 23:30 UTC */
	{ M4, IMAP_FLAG_DELETED | IMAP_FLAG_DRAFT, { "$Junk", NULL }, 3, JAN1 - 30 * 60 },
	/* 1969-12-31 12:00 UTC: before the epoch */
	{ M5, 0, { NULL }, 20, -12 * HOUR },
};
#define NMSG (sizeof(mailbox) / sizeof(mailbox[0]))

/* ---------------------------------------------------------- harness */

static int loads;          /* how often load was called */
static int load_fail;      /* make load fail */
static enum imap_search_need last_need;
static int header_only;    /* load only the header */

static int t_load(void *ctx, enum imap_search_need need, const char **data_r, size_t *len_r)
{
	const char *d = ctx;
	const char *end;

	loads++;
	last_need = need;
	if (load_fail)
		return -1;
	*data_r = d;
	*len_r = strlen(d);
	if (header_only) {
		end = strstr(d, "\r\n\r\n");
		*len_r = end != NULL ? (size_t)(end - d) + 4 : (size_t)(strstr(d, "\n\n") - d) + 2;
	}
	return 0;
}

struct run_opts {
	int zone;
	int64_t now;
	const struct imap_seqset *saved;
	int eager;                /* give data up front instead of load */
};

/* Parse "A SEARCH <program>\r\n" into *s; free *p_r after. */
static void parse_program(const char *program, struct imap_parser **p_r, struct imap_search *s)
{
	struct imap_parser_limits l;
	struct buf line;
	size_t used;
	enum imap_parse_event e;
	const struct imap_cmd *cmd;
	const char *err;

	imap_parser_limits_default(&l);
	*p_r = imap_parser_new(&l);
	assert_non_null(*p_r);
	buf_init(&line, 1 << 20);
	buf_printf(&line, "A SEARCH %s\r\n", program);
	e = imap_parser_feed(*p_r, line.data, line.len, &used);
	if (e != IMAP_PARSE_COMMAND)
		fail_msg("parser: %d for %s", (int)e, program);
	cmd = imap_parser_command(*p_r);
	if (imap_search_parse(cmd->args, cmd->count, imap_parser_arena(*p_r), s, &err) < 0)
		fail_msg("imap_search_parse: %s for %s", err, program);
	buf_free(&line);
}

/* Run program over the mailbox: "1 3", "" for none, or "ERR n reason". */
static char *run_with(const char *program, const struct run_opts *o)
{
	struct imap_parser *p;
	struct buf out;
	struct imap_search s;
	struct imap_search_env env = { NMSG, NMSG * 10, o->saved, o->now, o->zone };
	struct imap_search_eval *ev;
	const char *err;
	char *res;
	int rc;

	buf_init(&out, 1 << 20);
	parse_program(program, &p, &s);
	rc = imap_search_eval_new(&s, &env, &ev, &err);
	if (rc != 0) {
		buf_printf(&out, "ERR %d %s", rc, err);
	} else {
		for (unsigned int i = 0; i < NMSG; i++) {
			const struct tmsg *t = &mailbox[i];
			unsigned int nkw = 0;
			struct imap_search_msg m = {
				.seq = i + 1, .uid = (i + 1) * 10, .flags = t->flags, .keywords = t->kw,
				.modseq = t->modseq, .size = strlen(t->data), .internal_date = t->idate,
			};

			while (nkw < 3 && t->kw[nkw] != NULL)
				nkw++;
			m.nkeywords = nkw;
			if (o->eager) {
				m.data = t->data;
				m.len = strlen(t->data);
			} else {
				m.load = t_load;
				m.load_ctx = (void *)t->data;
			}
			rc = imap_search_eval_match(ev, &m, &err);
			if (rc < 0) {
				buf_printf(&out, "%sERR %s", out.len ? " " : "", err);
				break;
			}
			if (rc == 1)
				buf_printf(&out, "%s%u", out.len ? " " : "", i + 1);
		}
		imap_search_eval_free(&ev);
		assert_null(ev);
	}
	res = strdup(buf_cstr(&out));
	buf_free(&out);
	imap_parser_free(&p);
	return res;
}

static char *run(const char *program)
{
	struct run_opts o = { 0, JAN1 + 4 * DAY, NULL, 0 };

	return run_with(program, &o);
}

#define CHECK(program, expect)                                               \
	do {                                                                 \
		char *got_ = run(program);                                   \
		if (strcmp(got_, expect) != 0)                               \
			fail_msg("SEARCH %s: got \"%s\", want \"%s\"", program, got_, expect); \
		free(got_);                                                  \
	} while (0)

#define CHECK_OPTS(o, program, expect)                                       \
	do {                                                                 \
		char *got_ = run_with(program, o);                           \
		if (strcmp(got_, expect) != 0)                               \
			fail_msg("SEARCH %s: got \"%s\", want \"%s\"", program, got_, expect); \
		free(got_);                                                  \
	} while (0)

/* ---------------------------------------------------------- flags, sizes, sets */

static void test_system_flags_and_their_negations(void **state)
{
	(void)state;
	CHECK("ALL", "1 2 3 4 5");
	CHECK("ANSWERED", "1");
	CHECK("UNANSWERED", "2 3 4 5");
	CHECK("DELETED", "4");
	CHECK("UNDELETED", "1 2 3 5");
	CHECK("DRAFT", "4");
	CHECK("UNDRAFT", "1 2 3 5");
	CHECK("FLAGGED", "3");
	CHECK("UNFLAGGED", "1 2 4 5");
	CHECK("SEEN", "1 3");
	CHECK("UNSEEN", "2 4 5");
	CHECK("RECENT", "2 3");
}

static void test_new_is_recent_unseen_and_old_is_not_recent(void **state)
{
	(void)state;
	CHECK("NEW", "2");
	CHECK("OLD", "1 4 5");
}

static void test_keywords_match_case_insensitively(void **state)
{
	(void)state;
	CHECK("KEYWORD Work", "1 3");
	CHECK("KEYWORD WORK", "1 3");
	CHECK("KEYWORD $forwarded", "1");
	CHECK("UNKEYWORD work", "2 4 5");
	CHECK("KEYWORD Nothing", "");
}

static void test_larger_and_smaller_are_strict(void **state)
{
	char prog[64];
	size_t n1 = strlen(M1);

	(void)state;
	snprintf(prog, sizeof(prog), "LARGER %zu", n1);
	CHECK(prog, "2 3 5");
	snprintf(prog, sizeof(prog), "SMALLER %zu", n1);
	CHECK(prog, "4");
	snprintf(prog, sizeof(prog), "NOT LARGER %zu NOT SMALLER %zu", n1, n1);
	CHECK(prog, "1");
	CHECK("LARGER 0", "1 2 3 4 5");
	CHECK("SMALLER 1", "");
}

static void test_modseq_is_at_least(void **state)
{
	(void)state;
	CHECK("MODSEQ 7", "2 3 5");
	CHECK("MODSEQ 0", "1 2 3 4 5");
	CHECK("MODSEQ \"/flags/\\\\draft\" all 12", "3 5");
}

static void test_sequence_sets_with_star(void **state)
{
	(void)state;
	CHECK("1", "1");
	CHECK("2:3", "2 3");
	CHECK("4:2", "2 3 4");
	CHECK("*", "5");
	CHECK("4:*", "4 5");
	CHECK("*:4", "4 5");
	CHECK("1,3,5", "1 3 5");
	CHECK("7:9", "");
	CHECK("3:9", "3 4 5");
}

static void test_uid_sets_with_star(void **state)
{
	(void)state;
	CHECK("UID 10", "1");
	CHECK("UID 1", "");
	CHECK("UID 20:35", "2 3");
	CHECK("UID *", "5");
	CHECK("UID 45:*", "5");
	CHECK("UID 100:*", "5");     /* RFC 9051 6.4.8: "*" is the last UID, in any order */
	CHECK("UID 1:15,40", "1 4");
}

static void test_saved_result_in_both_set_positions(void **state)
{
	struct imap_seq_range r[] = { { 20, 30 }, { 50, 50 } };
	struct imap_seqset saved = { false, 2, r };
	struct run_opts o = { 0, JAN1, &saved, 0 };
	struct run_opts none = { 0, JAN1, NULL, 0 };

	(void)state;
	CHECK_OPTS(&o, "$", "2 3 5");
	CHECK_OPTS(&o, "UID $", "2 3 5");
	CHECK_OPTS(&o, "NOT $", "1 4");
	CHECK_OPTS(&o, "$ SEEN", "3");
	CHECK_OPTS(&none, "$", "");
	CHECK_OPTS(&none, "NOT UID $", "1 2 3 4 5");
}

/* ---------------------------------------------------------- dates */

static void test_internal_dates_in_the_server_zone(void **state)
{
	struct run_opts utc = { 0, JAN1, NULL, 0 };
	struct run_opts cet = { 60, JAN1, NULL, 0 };
	struct run_opts ny = { -300, JAN1, NULL, 0 };

	(void)state;
	CHECK_OPTS(&utc, "ON 1-Jan-2024", "1");
	CHECK_OPTS(&utc, "ON 31-Dec-2023", "4");
	CHECK_OPTS(&utc, "ON 31-Dec-1969", "5");
	CHECK_OPTS(&utc, "BEFORE 1-Jan-2024", "4 5");
	CHECK_OPTS(&utc, "SINCE 1-Jan-2024", "1 2 3");
	CHECK_OPTS(&utc, "SINCE 2-Jan-2024", "2 3");
	CHECK_OPTS(&utc, "BEFORE 1-Jan-1970", "5");
	/* 23:30 UTC on 31 Dec is 00:30 on 1 Jan at +0100 */
	CHECK_OPTS(&cet, "ON 1-Jan-2024", "1 4");
	CHECK_OPTS(&cet, "BEFORE 1-Jan-2024", "5");
	/* 00:00 UTC on 2 Jan is 19:00 on 1 Jan at -0500 */
	CHECK_OPTS(&ny, "ON 1-Jan-2024", "1 2");
	CHECK_OPTS(&ny, "SINCE 2-Jan-2024", "3");
	CHECK_OPTS(&ny, "NOT SINCE 1-Jan-2024", "4 5");
}

static void test_older_and_younger_are_complements(void **state)
{
	struct run_opts o = { 0, JAN1 + 2 * DAY, NULL, 0 };

	(void)state;
	/* now - 1 day = 2 Jan 00:00: message 2 is exactly that old */
	CHECK_OPTS(&o, "OLDER 86400", "1 4 5");
	CHECK_OPTS(&o, "YOUNGER 86400", "2 3");
	CHECK_OPTS(&o, "YOUNGER 1", "3");
	CHECK_OPTS(&o, "OLDER 4000000000", "");
}

static void test_older_and_younger_near_the_end_of_time_do_not_overflow(void **state)
{
	struct run_opts o = { 0, INT64_MIN + 5, NULL, 0 };

	(void)state;
	CHECK_OPTS(&o, "OLDER 100", "");
	CHECK_OPTS(&o, "YOUNGER 100", "1 2 3 4 5");
}

static void test_sent_dates_use_the_date_field_in_its_own_zone(void **state)
{
	struct run_opts utc = { 0, JAN1, NULL, 0 };

	(void)state;
	/* 1: 1 Jan +0000; 2: 2 Jan +1400 (1 Jan UTC); 3: 3 Jan -0800 (4 Jan UTC) */
	CHECK_OPTS(&utc, "SENTON 1-Jan-2024", "1");
	CHECK_OPTS(&utc, "SENTON 2-Jan-2024", "2");
	CHECK_OPTS(&utc, "SENTON 3-Jan-2024", "3");
	CHECK_OPTS(&utc, "SENTBEFORE 3-Jan-2024", "1 2 4 5");
	CHECK_OPTS(&utc, "SENTSINCE 2-Jan-2024", "2 3");
}

static void test_sent_dates_without_a_usable_date_field_use_the_internal_date(void **state)
{
	struct run_opts utc = { 0, JAN1, NULL, 0 };
	struct run_opts cet = { 60, JAN1, NULL, 0 };

	(void)state;
	/* 4 has no Date (internal 31 Dec 23:30 UTC), 5 "garbage" (internal 31 Dec 1969) */
	CHECK_OPTS(&utc, "SENTON 31-Dec-2023", "4");
	CHECK_OPTS(&cet, "SENTON 1-Jan-2024", "1 4");
	CHECK_OPTS(&utc, "SENTON 31-Dec-1969", "5");
	CHECK_OPTS(&utc, "SENTBEFORE 1-Jan-1970", "5");
}

/* ---------------------------------------------------------- header keys */

static void test_subject_decodes_encoded_words_and_white_space(void **state)
{
	(void)state;
	CHECK("SUBJECT report", "1");
	CHECK("SUBJECT QUARTERLY", "1");
	CHECK("SUBJECT \"Grüße\"", "2");
	CHECK("SUBJECT \"GRÜSSE\"", "");                /* no full case folding, as Dovecot */
	CHECK("SUBJECT \"grüßeaus berlin\"", "2");      /* RFC 2047 6.2: no space between words */
	CHECK("SUBJECT \"aus berlin und bonn\"", "4");  /* folding and tabs read as one space */
	CHECK("SUBJECT \"=?iso\"", "");
	CHECK("SUBJECT \"été = summer\"", "5");          /* 8-bit UTF-8 in a header */
	CHECK("SUBJECT \"\"", "1 2 3 4 5");
	CHECK("SUBJECT nothing", "");
}

static void test_address_keys_match_names_and_addresses(void **state)
{
	(void)state;
	CHECK("FROM alice", "1");
	CHECK("FROM \"Alice Example\"", "1");
	CHECK("FROM \"alice@example.com\"", "1");
	CHECK("FROM \"<alice@example.com>\"", "1");
	CHECK("FROM \"example <alice@\"", "1");
	CHECK("FROM example.com", "1 3 4");
	CHECK("FROM \"jürgen müller\"", "2");
	CHECK("FROM \"Doe, John\"", "5");
	CHECK("FROM \"frank comment\"", "4");           /* a comment as the name */
	CHECK("FROM \"=?utf-8\"", "");
	CHECK("TO carol", "1");
	CHECK("TO \"Carol Q. Public <carol@example.net>\"", "1");
	CHECK("TO bob@example.org", "1");
	CHECK("TO alice@example.com", "3");
	CHECK("TO team", "2");                          /* a group's name */
	CHECK("TO b@y.org", "2");
	CHECK("TO undisclosed", "2");
	CHECK("CC dave", "1");
	CHECK("CC \"jürgen\"", "4");
	CHECK("CC \"\"", "1 4");
	CHECK("BCC hidden", "3");
	CHECK("BCC \"\"", "3");
	CHECK("TO \"\"", "1 2 3");
}

static void test_header_key_any_field_of_the_message_header(void **state)
{
	(void)state;
	CHECK("HEADER X-Mailer testmailer", "1");
	CHECK("HEADER x-mailer \"1.0\"", "1");
	CHECK("HEADER X-Empty \"\"", "5");
	CHECK("HEADER X-Nope \"\"", "");
	CHECK("HEADER Subject \"aus  Berlin\"", "2 4");  /* as unfolded: no white space squeezed */
	CHECK("HEADER Subject \"aus Berlin\"", "");
	CHECK("HEADER From \"Alice Example <alice\"", "1");
	CHECK("HEADER X-Part-Hdr parthdrvalue", "");    /* a MIME part's header: not the message's */
	CHECK("HEADER Content-Type \"\"", "2 3");
	CHECK("HEADER Date 2024", "1 2 3");
}

/* ---------------------------------------------------------- bodies */

static void test_body_decodes_qp_and_base64_with_charsets(void **state)
{
	(void)state;
	CHECK("BODY numbers", "1");
	CHECK("BODY \"café\"", "2");                    /* QP ISO-8859-1 */
	CHECK("BODY \"RÉSUMÉ\"", "2");
	CHECK("BODY softbreak", "2");                   /* a soft line break joins */
	CHECK("BODY \"köln\"", "3");                    /* base64 UTF-8 */
	CHECK("BODY \"σας\"", "3");                     /* final sigma folds to sigma */
	CHECK("BODY \"straße\"", "5");                  /* 8-bit bytes in a us-ascii part */
	CHECK("BODY \"=E9\"", "");
	CHECK("BODY R3LDvMOf", "");
}

static void test_body_searches_text_parts_only_and_no_headers(void **state)
{
	(void)state;
	CHECK("BODY secretpayload", "");                /* application/octet-stream */
	CHECK("BODY innerbody", "3");                   /* inside an attached message */
	CHECK("BODY \"Inner subject\"", "");            /* its header is a header */
	CHECK("BODY parthdrvalue", "");
	CHECK("BODY \"html<b>word\"", "3");             /* unknown charset: bytes as they are */
	CHECK("BODY preamble", "");
	CHECK("BODY Quarterly", "4");
	CHECK("BODY Photos", "");
}

static void test_text_adds_every_header_of_every_part(void **state)
{
	(void)state;
	CHECK("TEXT Quarterly", "1 4");
	CHECK("TEXT \"Inner subject\"", "3");
	CHECK("TEXT parthdrvalue", "3");
	CHECK("TEXT \"x-part-hdr: parthdr\"", "3");
	CHECK("TEXT \"subject: photos\"", "3");
	CHECK("TEXT data.bin", "3");
	CHECK("TEXT secretpayload", "");
	CHECK("TEXT \"grüße\"", "2 3");
	CHECK("TEXT \"=?iso\"", "");
}

static void test_empty_body_and_text_match_every_message(void **state)
{
	(void)state;
	loads = 0;
	CHECK("BODY \"\"", "1 2 3 4 5");
	CHECK("TEXT \"\"", "1 2 3 4 5");
	assert_int_equal(loads, 0);
}

static void test_a_string_never_spans_two_parts(void **state)
{
	(void)state;
	/* the last text of part 1 and the first of the HTML part */
	CHECK("BODY {7+}\r\n\xcf\x83\r\n<p>", "");
	CHECK("BODY {4+}\r\n\xcf\x83\r\n", "3");
}

static void test_unicode_folding(void **state)
{
	(void)state;
	CHECK("BODY \"CAFE\"", "2");                    /* é is e + U+0301 (RFC 5051, as Dovecot) */
	CHECK("BODY \"naive\"", "");                    /* the mark sits between i and v */
	CHECK("BODY \"NAÏVE\"", "2");
	CHECK("BODY \"nai\xcc\x88ve\"", "2");           /* decomposed in the key */
	CHECK("BODY \"STRASSE\"", "");
	CHECK("BODY \"final\"", "5");                   /* U+FB01 ligature fi */
	CHECK("BODY \"ab\"", "5");                      /* full-width A B */
	CHECK("SUBJECT \"ÉTÉ\"", "5");
	CHECK("SUBJECT \"ete\"", "");
}

static void test_fold_function(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(imap_search_fold("ABC xyz", 7, &b), 0);
	assert_string_equal(b.data, "abc xyz");
	buf_reset(&b);
	assert_int_equal(imap_search_fold("\xc3\x89", 2, &b), 0);        /* É */
	assert_string_equal(b.data, "e\xcc\x81");
	buf_reset(&b);
	assert_int_equal(imap_search_fold("\xce\xa3\xcf\x82", 4, &b), 0); /* Σς */
	assert_string_equal(b.data, "\xcf\x83\xcf\x83");
	buf_reset(&b);
	assert_int_equal(imap_search_fold("\xd0\x96", 2, &b), 0);        /* Ж */
	assert_string_equal(b.data, "\xd0\xb6");
	buf_reset(&b);
	assert_int_equal(imap_search_fold("a\xff\xc3z", 4, &b), 0);      /* malformed bytes kept */
	assert_memory_equal(b.data, "a\xff\xc3z", 4);
	buf_reset(&b);
	assert_int_equal(imap_search_fold("\xe4\xb8\xad\xf0\x9f\x98\x80", 7, &b), 0);  /* kept */
	assert_string_equal(b.data, "\xe4\xb8\xad\xf0\x9f\x98\x80");
	buf_free(&b);
}

/* ---------------------------------------------------------- charsets */

static void test_charset_converts_search_strings(void **state)
{
	(void)state;
	/* "café" in ISO-8859-1, as a literal */
	CHECK("CHARSET ISO-8859-1 BODY {4+}\r\ncaf\xe9", "2");
	CHECK("CHARSET ISO-8859-1 SUBJECT {5+}\r\nGr\xfc\xdf" "e", "2");
	CHECK("CHARSET UTF-8 BODY \"köln\"", "3");
	CHECK("CHARSET US-ASCII BODY numbers", "1");
	CHECK("CHARSET windows-1252 BODY {1+}\r\n\x80", "");
}

static void test_unknown_charset_is_badcharset_and_invalid_bytes_bad(void **state)
{
	char want[64];

	(void)state;
	snprintf(want, sizeof(want), "ERR %d Unknown charset", IMAP_SEARCH_EVAL_BADCHARSET);
	CHECK("CHARSET X-NOSUCH-CHARSET BODY x", want);
	CHECK("CHARSET \"bad name!\" BODY x", want);
	snprintf(want, sizeof(want), "ERR %d Search string not valid in its charset", IMAP_SEARCH_EVAL_BADSTRING);
	CHECK("CHARSET US-ASCII BODY \"k\xc3\xb6ln\"", want);
	CHECK("CHARSET UTF-8 BODY {2+}\r\n\xc3(", want);
}

/* ---------------------------------------------------------- programs */

static void test_nested_not_or_and(void **state)
{
	(void)state;
	CHECK("OR SEEN DELETED", "1 3 4");
	CHECK("NOT OR SEEN DELETED", "2 5");
	CHECK("NOT NOT SEEN", "1 3");
	CHECK("(SEEN FLAGGED)", "3");
	CHECK("NOT (SEEN FLAGGED)", "1 2 4 5");
	/* De Morgan: NOT (a OR b) = NOT a NOT b */
	CHECK("UNSEEN UNDELETED", "2 5");
	CHECK("OR (SEEN FROM alice) (RECENT BODY \"café\")", "1 2");
	CHECK("OR OR 1 2 OR 3 BODY \"straße\"", "1 2 3 5");
	CHECK("NOT OR BODY \"café\" NOT SUBJECT photos", "3");
	CHECK("(((((SEEN)))))", "1 3");
	CHECK("OR NOT 1 NOT 2", "1 2 3 4 5");
	CHECK("1:3 NOT 2 OR ANSWERED FLAGGED", "1 3");
}

static void test_needs_says_what_a_program_reads(void **state)
{
	static const struct { const char *program; enum imap_search_need need; } cases[] = {
		{ "ALL", IMAP_SEARCH_NEED_NONE },
		{ "UNSEEN LARGER 10 UID 1:* SINCE 1-Jan-2024 OLDER 5 MODSEQ 3 KEYWORD x", IMAP_SEARCH_NEED_NONE },
		{ "BODY \"\"", IMAP_SEARCH_NEED_NONE },
		{ "SUBJECT x", IMAP_SEARCH_NEED_HEADER },
		{ "NOT HEADER X-A \"\"", IMAP_SEARCH_NEED_HEADER },
		{ "OR SEEN SENTON 1-Jan-2024", IMAP_SEARCH_NEED_HEADER },
		{ "FROM a TO b CC c BCC d", IMAP_SEARCH_NEED_HEADER },
		{ "OR SUBJECT a (SEEN BODY x)", IMAP_SEARCH_NEED_FULL },
		{ "NOT TEXT x", IMAP_SEARCH_NEED_FULL },
	};

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct imap_parser *p;
		struct imap_search s;

		parse_program(cases[k].program, &p, &s);
		if (imap_search_needs(&s) != cases[k].need)
			fail_msg("%s: need %d, want %d", cases[k].program, (int)imap_search_needs(&s), (int)cases[k].need);
		imap_parser_free(&p);
	}
}

static void test_flag_only_programs_never_load_a_message(void **state)
{
	(void)state;
	loads = 0;
	CHECK("OR SEEN NOT (DELETED LARGER 5) UID 1:* 2:4 SINCE 1-Jan-2000 UNKEYWORD x", "2 3");
	assert_int_equal(loads, 0);
}

static void test_cheap_keys_decide_before_loading(void **state)
{
	(void)state;
	/* BODY written first: SEEN is still tried first, so only 1 and 3 load */
	loads = 0;
	CHECK("BODY numbers SEEN", "1");
	assert_int_equal(loads, 2);
	loads = 0;
	CHECK("OR BODY numbers DELETED", "1 4");
	assert_int_equal(loads, 4);
	loads = 0;
	CHECK("NOT (BODY x ANSWERED)", "1 2 3 4 5");
	assert_int_equal(loads, 1);
}

static void test_each_message_is_loaded_once_with_what_the_program_needs(void **state)
{
	(void)state;
	loads = 0;
	CHECK("OR BODY nothing1 OR TEXT nothing2 OR SUBJECT x OR FROM y SENTON 1-Jan-1990", "");
	assert_int_equal(loads, 5);
	assert_int_equal(last_need, IMAP_SEARCH_NEED_FULL);
	loads = 0;
	CHECK("SUBJECT report", "1");
	assert_int_equal(loads, 5);
	assert_int_equal(last_need, IMAP_SEARCH_NEED_HEADER);
}

static void test_header_keys_work_on_the_header_alone(void **state)
{
	(void)state;
	header_only = 1;
	CHECK("SUBJECT photos", "3");
	CHECK("FROM \"jürgen\"", "2");
	CHECK("SENTON 3-Jan-2024", "3");
	header_only = 0;
}

static void test_a_message_that_cannot_be_read_is_an_error(void **state)
{
	(void)state;
	load_fail = 1;
	CHECK("UNSEEN BODY x", "ERR Message could not be read");
	CHECK("SEEN", "1 3");
	load_fail = 0;
}

static void test_data_given_up_front(void **state)
{
	struct run_opts o = { 0, JAN1, NULL, 1 };

	(void)state;
	loads = 0;
	CHECK_OPTS(&o, "TEXT \"inner subject\"", "3");
	CHECK_OPTS(&o, "BODY \"café\" SUBJECT \"grüße\"", "2");
	assert_int_equal(loads, 0);
}

static void test_literal_key_with_line_break(void **state)
{
	(void)state;
	CHECK("BODY {19+}\r\nare in.\r\nSee you on", "1");
	CHECK("BODY {9+}\r\none\r\nline", "");   /* stored LF stays LF: M4 has no CRLF */
	CHECK("BODY {8+}\r\none\nline", "4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_system_flags_and_their_negations),
		cmocka_unit_test(test_new_is_recent_unseen_and_old_is_not_recent),
		cmocka_unit_test(test_keywords_match_case_insensitively),
		cmocka_unit_test(test_larger_and_smaller_are_strict),
		cmocka_unit_test(test_modseq_is_at_least),
		cmocka_unit_test(test_sequence_sets_with_star),
		cmocka_unit_test(test_uid_sets_with_star),
		cmocka_unit_test(test_saved_result_in_both_set_positions),
		cmocka_unit_test(test_internal_dates_in_the_server_zone),
		cmocka_unit_test(test_older_and_younger_are_complements),
		cmocka_unit_test(test_older_and_younger_near_the_end_of_time_do_not_overflow),
		cmocka_unit_test(test_sent_dates_use_the_date_field_in_its_own_zone),
		cmocka_unit_test(test_sent_dates_without_a_usable_date_field_use_the_internal_date),
		cmocka_unit_test(test_subject_decodes_encoded_words_and_white_space),
		cmocka_unit_test(test_address_keys_match_names_and_addresses),
		cmocka_unit_test(test_header_key_any_field_of_the_message_header),
		cmocka_unit_test(test_body_decodes_qp_and_base64_with_charsets),
		cmocka_unit_test(test_body_searches_text_parts_only_and_no_headers),
		cmocka_unit_test(test_text_adds_every_header_of_every_part),
		cmocka_unit_test(test_empty_body_and_text_match_every_message),
		cmocka_unit_test(test_a_string_never_spans_two_parts),
		cmocka_unit_test(test_unicode_folding),
		cmocka_unit_test(test_fold_function),
		cmocka_unit_test(test_charset_converts_search_strings),
		cmocka_unit_test(test_unknown_charset_is_badcharset_and_invalid_bytes_bad),
		cmocka_unit_test(test_nested_not_or_and),
		cmocka_unit_test(test_needs_says_what_a_program_reads),
		cmocka_unit_test(test_flag_only_programs_never_load_a_message),
		cmocka_unit_test(test_cheap_keys_decide_before_loading),
		cmocka_unit_test(test_each_message_is_loaded_once_with_what_the_program_needs),
		cmocka_unit_test(test_header_keys_work_on_the_header_alone),
		cmocka_unit_test(test_a_message_that_cannot_be_read_is_an_error),
		cmocka_unit_test(test_data_given_up_front),
		cmocka_unit_test(test_literal_key_with_line_break),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
