/* Unit tests for common/dovecot_uidlist: files as Dovecot 2.3.19 wrote
 * them (copied from a real run), the stale header after appends, partial
 * last lines and the tail parser, every malformed line refused with an
 * error, the limits, and the writer (round trips, refusals, buf left as
 * it was). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dovecot_uidlist.h"

#define LEN(s) (sizeof(s) - 1)

/* Written by Dovecot 2.3.19 after APPENDs, an external delivery to new/
 * (no W= in its name: W in the record), an EXPUNGE (UID 2 kept until the
 * next rewrite) and a file put into cur/ with flags. */
static const char dovecot_file[] =
	"3 V1796335595 N6 G9513bd0cebe7116b271c000083ecc375\n"
	"1 :1796335595.M226294P7207.vm,S=33,W=37\n"
	"2 :1796335595.M244728P7207.vm,S=33,W=37\n"
	"3 :1796335595.M246540P7207.vm,S=37,W=41\n"
	"4 W42 :1700000000.P1Q1.ext\n"
	"5 :1796335602.M789701P7635.vm,S=35,W=39\n"
	"6 :1700000001.P2Q2.ext\n";

static void assert_name(const struct dovecot_uidlist_rec *r, const char *name, size_t base_len)
{
	assert_int_equal(r->name_len, strlen(name));
	assert_memory_equal(r->name, name, r->name_len);
	assert_int_equal(r->base_len, base_len);
}

static void test_dovecot_uidlist_reads_dovecot_file(void **state)
{
	struct dovecot_uidlist ul;
	const char *err = NULL;
	static const unsigned char guid[16] = { 0x95, 0x13, 0xbd, 0x0c, 0xeb, 0xe7, 0x11, 0x6b,
						0x27, 0x1c, 0x00, 0x00, 0x83, 0xec, 0xc3, 0x75 };

	(void)state;
	assert_int_equal(dovecot_uidlist_parse(dovecot_file, LEN(dovecot_file), &ul, &err), 0);
	assert_int_equal(ul.hdr.uidvalidity, 1796335595u);
	assert_int_equal(ul.hdr.nextuid, 6);
	assert_int_equal(ul.nextuid, 7);   /* UID 6 was appended after the header was written */
	assert_true(ul.hdr.has_guid);
	assert_memory_equal(ul.hdr.guid, guid, 16);
	assert_int_equal(ul.end, LEN(dovecot_file));
	assert_int_equal(ul.n, 6);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(ul.recs[i].uid, i + 1);
	assert_name(&ul.recs[0], "1796335595.M226294P7207.vm,S=33,W=37", 36);
	assert_false(ul.recs[0].has_vsize);
	assert_null(ul.recs[0].fields);
	assert_true(ul.recs[3].has_vsize);
	assert_int_equal(ul.recs[3].vsize, 42);
	assert_false(ul.recs[3].has_size);
	assert_int_equal(ul.recs[3].fields_len, 3);
	assert_memory_equal(ul.recs[3].fields, "W42", 3);
	assert_name(&ul.recs[5], "1700000001.P2Q2.ext", 19);
	/* The records point into the text. */
	assert_true(ul.recs[5].name > dovecot_file && ul.recs[5].name < dovecot_file + LEN(dovecot_file));
	dovecot_uidlist_free(&ul);
	assert_null(ul.recs);
	assert_int_equal(ul.n, 0);
}

/* Dovecot appends records without rewriting the header: N stays 1. */
static void test_dovecot_uidlist_stale_header_nextuid(void **state)
{
	static const char text[] = "3 V1796335595 N1 G9513bd0cebe7116b271c000083ecc375\n"
				   "1 :a,S=33,W=37\n2 :b,S=33,W=37\n3 :c,S=37,W=41\n";
	static const char high[] = "3 V7 N500\n5 :a\n";
	struct dovecot_uidlist ul;
	const char *err;

	(void)state;
	assert_int_equal(dovecot_uidlist_parse(text, LEN(text), &ul, &err), 0);
	assert_int_equal(ul.hdr.nextuid, 1);
	assert_int_equal(ul.nextuid, 4);
	dovecot_uidlist_free(&ul);
	/* N above every record: N rules; no G is no error (Dovecot adds one). */
	assert_int_equal(dovecot_uidlist_parse(high, LEN(high), &ul, &err), 0);
	assert_int_equal(ul.nextuid, 500);
	assert_false(ul.hdr.has_guid);
	dovecot_uidlist_free(&ul);
}

static void test_dovecot_uidlist_unknown_fields_kept(void **state)
{
	static const char text[] = "3 X1 V12 Phello%u  N20 Gffffffffffffffffffffffffffffffff Zz \n"
				   "7 P0001.abc O3  G00ff W100 S98 :base,S=98:2,Sa\n"
				   "9   :spaced name:2,\n";
	struct dovecot_uidlist ul;
	const char *err, *v;
	size_t vl;

	(void)state;
	assert_int_equal(dovecot_uidlist_parse(text, LEN(text), &ul, &err), 0);
	assert_int_equal(ul.hdr.uidvalidity, 12);
	assert_int_equal(ul.hdr.nextuid, 20);
	assert_int_equal(ul.hdr.fields_len, strlen("X1 V12 Phello%u  N20 Gffffffffffffffffffffffffffffffff Zz"));
	assert_int_equal(dovecot_uidlist_field(ul.hdr.fields, ul.hdr.fields_len, 'P', &v, &vl), 1);
	assert_int_equal(vl, 7);
	assert_memory_equal(v, "hello%u", 7);
	assert_int_equal(dovecot_uidlist_field(ul.hdr.fields, ul.hdr.fields_len, 'Q', &v, &vl), 0);
	assert_int_equal(ul.n, 2);
	assert_true(ul.recs[0].has_vsize && ul.recs[0].has_size);
	assert_int_equal(ul.recs[0].vsize, 100);
	assert_int_equal(ul.recs[0].size, 98);
	assert_int_equal(dovecot_uidlist_field(ul.recs[0].fields, ul.recs[0].fields_len, 'O', &v, &vl), 1);
	assert_memory_equal(v, "3", vl);
	assert_int_equal(dovecot_uidlist_field(ul.recs[0].fields, ul.recs[0].fields_len, 'G', &v, &vl), 1);
	assert_memory_equal(v, "00ff", vl);
	/* Dovecot compares by base name: the record's flags are not part of it. */
	assert_name(&ul.recs[0], "base,S=98:2,Sa", 9);
	assert_name(&ul.recs[1], "spaced name:2,", 11);
	assert_null(ul.recs[1].fields);
	assert_int_equal(dovecot_uidlist_field(NULL, 0, 'W', &v, &vl), 0);
	dovecot_uidlist_free(&ul);
}

/* A last line without its LF is an append in progress: not parsed; the
 * tail parser reads it once complete. */
static void test_dovecot_uidlist_partial_line_and_tail(void **state)
{
	static const char text[] = "3 V5 N3\n1 :a\n2 :b\n3 W7 :c";
	static const char later[] = "3 W7 :c\n4 :d\n";
	struct dovecot_uidlist ul, tail;
	const char *err;

	(void)state;
	assert_int_equal(dovecot_uidlist_parse(text, LEN(text), &ul, &err), 0);
	assert_int_equal(ul.n, 2);
	assert_int_equal(ul.end, strlen("3 V5 N3\n1 :a\n2 :b\n"));
	assert_int_equal(ul.nextuid, 3);
	assert_int_equal(dovecot_uidlist_parse_tail(later, LEN(later), ul.recs[ul.n - 1].uid, &tail, &err), 0);
	assert_int_equal(tail.n, 2);
	assert_int_equal(tail.recs[0].uid, 3);
	assert_int_equal(tail.recs[0].vsize, 7);
	assert_int_equal(tail.recs[1].uid, 4);
	assert_int_equal(tail.end, LEN(later));
	assert_int_equal(tail.nextuid, 5);
	assert_int_equal(tail.hdr.uidvalidity, 0);
	dovecot_uidlist_free(&tail);
	/* Nothing new yet, or only a partial line: no records, end 0. */
	assert_int_equal(dovecot_uidlist_parse_tail("", 0, 2, &tail, &err), 0);
	assert_int_equal(tail.n, 0);
	assert_int_equal(tail.nextuid, 0);
	assert_int_equal(dovecot_uidlist_parse_tail("3 :c", 4, 2, &tail, &err), 0);
	assert_int_equal(tail.end, 0);
	/* A tail UID not above the last known one is refused. */
	assert_int_equal(dovecot_uidlist_parse_tail("2 :x\n", 5, 2, &tail, &err), -1);
	assert_non_null(strstr(err, "ascending"));
	assert_null(tail.recs);
	/* A header only, or records after a header-only file. */
	dovecot_uidlist_free(&ul);
	assert_int_equal(dovecot_uidlist_parse("3 V5 N3\n", 8, &ul, &err), 0);
	assert_int_equal(ul.n, 0);
	assert_int_equal(ul.nextuid, 3);
	assert_int_equal(ul.end, 8);
	dovecot_uidlist_free(&ul);
}

struct bad_case {
	const char *text;
	size_t len;          /* 0: strlen(text) */
	const char *error;   /* a part of the expected error */
	size_t end;          /* expected ul.end: start of the bad line */
};

static void test_dovecot_uidlist_malformed_refused(void **state)
{
#define H "3 V1 N1\n"
	static const struct bad_case bad[] = {
		{ "", 0, "no complete header", 0 },
		{ "3 V1 N1", 0, "no complete header", 0 },
		{ "\n", 0, "no version", 0 },
		{ "3V1 N1\n", 0, "no version", 0 },
		{ "x V1 N1\n", 0, "no version", 0 },
		{ "1 1 2\n", 0, "unsupported", 0 },
		{ "2 V1 N1\n", 0, "unsupported", 0 },
		{ "3 N1\n", 0, "no UIDVALIDITY", 0 },
		{ "3 V1\n", 0, "no UIDVALIDITY", 0 },
		{ "3 \n", 0, "no UIDVALIDITY", 0 },
		{ "3 V0 N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V01 N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V4294967296 N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V1x N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V1 V2 N1\n", 0, "UIDVALIDITY (V)", 0 },
		{ "3 V1 N0\n", 0, "next UID (N)", 0 },
		{ "3 V1 N1 N2\n", 0, "next UID (N)", 0 },
		{ "3 V1 N-1\n", 0, "next UID (N)", 0 },
		{ "3 V1 N1 G0123\n", 0, "GUID (G)", 0 },
		{ "3 V1 N1 G0123456789abcdef0123456789abcdeg\n", 0, "GUID (G)", 0 },
		{ "3 V1 N1 G0123456789abcdef0123456789abcdef0\n", 0, "GUID (G)", 0 },
		{ "3 V1 N1 X\x01\n", 0, "bad byte", 0 },
		{ "3 V1 N1 X\xc3\xa9\n", 0, "bad byte", 0 },
		{ "3 V1 N1\r\n", 0, "bad byte", 0 },
		{ H "\n", 0, "bad UID", 8 },
		{ H "0 :a\n", 0, "bad UID", 8 },
		{ H "01 :a\n", 0, "bad UID", 8 },
		{ H "4294967295 :a\n", 0, "bad UID", 8 },
		{ H "99999999999 :a\n", 0, "bad UID", 8 },
		{ H "-1 :a\n", 0, "bad UID", 8 },
		{ H "5:a\n", 0, "bad UID", 8 },
		{ H " 5 :a\n", 0, "bad UID", 8 },
		{ H "1 :a\n2 :b\n2 :c\n", 0, "ascending", 18 },
		{ H "3 :a\n2 :b\n", 0, "ascending", 13 },
		{ H "5 a\n", 0, "bad field key", 8 },
		{ H "5 W1\n", 0, "no file name", 8 },
		{ H "5  \n", 0, "no file name", 8 },
		{ H "5\n", 0, "bad UID", 8 },
		{ H "5 :\n", 0, "file name", 8 },
		{ H "5 ::2,S\n", 0, "empty base", 8 },
		{ H "5 w1 :a\n", 0, "bad field key", 8 },
		{ H "5 W1 W2 :a\n", 0, "virtual size (W)", 8 },
		{ H "5 Wx :a\n", 0, "virtual size (W)", 8 },
		{ H "5 W :a\n", 0, "virtual size (W)", 8 },
		{ H "5 W18446744073709551616 :a\n", 0, "virtual size (W)", 8 },
		{ H "5 S01 :a\n", 0, "size (S)", 8 },
		{ H "5 S1 S1 :a\n", 0, "size (S)", 8 },
		{ H "5 P\x7f :a\n", 0, "bad byte in a record field", 8 },
		{ H "5 :a/b\n", 0, "bad byte in a record's file name", 8 },
		{ H "5 :a\rb\n", 0, "bad byte in a record's file name", 8 },
		{ H "5 :ab\r\n", 0, "bad byte in a record's file name", 8 },
		{ H "5 :a\0b\n", 15, "bad byte in a record's file name", 8 },
	};
#undef H
	struct dovecot_uidlist ul;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;
		size_t len = bad[i].len != 0 ? bad[i].len : strlen(bad[i].text);
		int r = dovecot_uidlist_parse(bad[i].text, len, &ul, &err);

		if (r != -1 || err == NULL || strstr(err, bad[i].error) == NULL || ul.end != bad[i].end)
			fail_msg("case %zu %s: r=%d error=%s end=%zu", i, bad[i].text, r,
				 err != NULL ? err : "(none)", ul.end);
		assert_null(ul.recs);
		assert_int_equal(ul.n, 0);
		assert_int_equal(ul.hdr.uidvalidity, 0);
		/* What is before the bad line parses: the records Dovecot keeps. */
		if (bad[i].end > 0) {
			assert_int_equal(dovecot_uidlist_parse(bad[i].text, bad[i].end, &ul, &err), 0);
			assert_int_equal(ul.end, bad[i].end);
			dovecot_uidlist_free(&ul);
		}
	}
}

/* DOVECOT_UIDLIST_NAME_MAX and DOVECOT_UIDLIST_LINE_MAX, at and past them. */
static void test_dovecot_uidlist_line_limits(void **state)
{
	const size_t max = DOVECOT_UIDLIST_LINE_MAX;
	char *text = malloc(2 * max + 64);
	struct dovecot_uidlist ul;
	const char *err;
	size_t n, pad;

	(void)state;
	assert_non_null(text);
	/* A name of NAME_MAX bytes is fine, one more is not. */
	n = (size_t)snprintf(text, 64, "3 V1 N1\n1 :");
	memset(text + n, 'x', DOVECOT_UIDLIST_NAME_MAX);
	text[n + DOVECOT_UIDLIST_NAME_MAX] = '\n';
	assert_int_equal(dovecot_uidlist_parse(text, n + DOVECOT_UIDLIST_NAME_MAX + 1, &ul, &err), 0);
	assert_int_equal(ul.recs[0].name_len, DOVECOT_UIDLIST_NAME_MAX);
	dovecot_uidlist_free(&ul);
	memset(text + n, 'x', DOVECOT_UIDLIST_NAME_MAX + 1);
	text[n + DOVECOT_UIDLIST_NAME_MAX + 1] = '\n';
	assert_int_equal(dovecot_uidlist_parse(text, n + DOVECOT_UIDLIST_NAME_MAX + 2, &ul, &err), -1);
	assert_non_null(strstr(err, "too long file name"));

	/* A record line of exactly LINE_MAX bytes (LF included): "1 X<pad> :a\n". */
	n = (size_t)snprintf(text, 64, "3 V1 N1\n1 X");
	pad = max - strlen("1 X :a\n");
	memset(text + n, 'p', pad);
	memcpy(text + n + pad, " :a\n", 4);
	assert_int_equal(dovecot_uidlist_parse(text, n + pad + 4, &ul, &err), 0);
	assert_int_equal(ul.n, 1);
	assert_int_equal(ul.recs[0].fields_len, pad + 1);
	dovecot_uidlist_free(&ul);
	/* One byte more is refused, complete or not (it can never fit). */
	memset(text + n, 'p', pad + 1);
	memcpy(text + n + pad + 1, " :a\n", 4);
	assert_int_equal(dovecot_uidlist_parse(text, n + pad + 5, &ul, &err), -1);
	assert_non_null(strstr(err, "line too long"));
	assert_int_equal(ul.end, 8);
	assert_int_equal(dovecot_uidlist_parse(text, 8 + max, &ul, &err), -1);
	assert_non_null(strstr(err, "line too long"));
	/* A partial line shorter than the limit is only not yet written. */
	assert_int_equal(dovecot_uidlist_parse(text, 8 + max - 1, &ul, &err), 0);
	assert_int_equal(ul.n, 0);
	assert_int_equal(ul.end, 8);
	dovecot_uidlist_free(&ul);

	/* The header line has the same limit. */
	n = (size_t)snprintf(text, 64, "3 V1 N1 X");
	pad = max - n - 1;
	memset(text + n, 'h', pad);
	text[n + pad] = '\n';
	assert_int_equal(dovecot_uidlist_parse(text, n + pad + 1, &ul, &err), 0);
	dovecot_uidlist_free(&ul);
	text[n + pad] = 'h';
	text[n + pad + 1] = '\n';
	assert_int_equal(dovecot_uidlist_parse(text, n + pad + 2, &ul, &err), -1);
	assert_non_null(strstr(err, "header line too long"));
	free(text);
}

/* DOVECOT_UIDLIST_RECORDS_MAX records parse; one more is refused. */
static void test_dovecot_uidlist_records_limit(void **state)
{
	struct buf b;
	struct dovecot_uidlist ul;
	const char *err;

	(void)state;
	buf_init(&b, 64u << 20);
	assert_int_equal(buf_append_str(&b, "3 V1 N1\n"), 0);
	for (unsigned i = 1; i <= DOVECOT_UIDLIST_RECORDS_MAX; i++)
		assert_int_equal(buf_printf(&b, "%u :%u\n", i, i), 0);
	assert_int_equal(dovecot_uidlist_parse(b.data, b.len, &ul, &err), 0);
	assert_int_equal(ul.n, DOVECOT_UIDLIST_RECORDS_MAX);
	assert_int_equal(ul.nextuid, DOVECOT_UIDLIST_RECORDS_MAX + 1);
	dovecot_uidlist_free(&ul);
	assert_int_equal(buf_printf(&b, "%u :x\n", DOVECOT_UIDLIST_RECORDS_MAX + 1), 0);
	assert_int_equal(dovecot_uidlist_parse(b.data, b.len, &ul, &err), -1);
	assert_non_null(strstr(err, "too many records"));
	assert_null(ul.recs);
	buf_free(&b);
}

/* The highest UID Dovecot accepts, and the next UID after it. */
static void test_dovecot_uidlist_uid_max(void **state)
{
	static const char text[] = "3 V4294967295 N4294967295\n4294967294 :a\n";
	struct dovecot_uidlist ul;
	const char *err;

	(void)state;
	assert_int_equal(dovecot_uidlist_parse(text, LEN(text), &ul, &err), 0);
	assert_int_equal(ul.recs[0].uid, DOVECOT_UIDLIST_UID_MAX);
	assert_int_equal(ul.nextuid, UINT32_MAX);
	dovecot_uidlist_free(&ul);
}

/* Parse text, write it back header + records, and return the new text. */
static char *rewrite(const char *text, size_t len, struct buf *out)
{
	struct dovecot_uidlist ul;
	const char *err;

	assert_int_equal(dovecot_uidlist_parse(text, len, &ul, &err), 0);
	assert_int_equal(dovecot_uidlist_write_header(out, &ul.hdr), 0);
	for (size_t i = 0; i < ul.n; i++)
		assert_int_equal(dovecot_uidlist_write_record(out, &ul.recs[i]), 0);
	dovecot_uidlist_free(&ul);
	return out->data;
}

static void test_dovecot_uidlist_write_round_trip(void **state)
{
	static const char fancy[] = "3 X1 V12 Phello%u  N20 Gffffffffffffffffffffffffffffffff Zz \n"
				    "7 P0001.abc O3  G00ff S98 W100 :base,S=98:2,Sa\n"
				    "9   :spaced name:2,\n";
	static const char fancy_out[] = "3 V12 N20 Gffffffffffffffffffffffffffffffff X1 Phello%u Zz\n"
					"7 W100 S98 P0001.abc O3 G00ff :base,S=98\n"
					"9 :spaced name\n";
	struct buf b, b2;

	(void)state;
	/* What Dovecot writes comes back byte for byte. */
	buf_init(&b, 1 << 20);
	rewrite(dovecot_file, LEN(dovecot_file), &b);
	assert_int_equal(b.len, LEN(dovecot_file));
	assert_memory_equal(b.data, dovecot_file, b.len);
	/* Others: V N G first, then the other fields, W S first in a record,
	 * the base name only; and a second round changes nothing. */
	buf_reset(&b);
	rewrite(fancy, LEN(fancy), &b);
	assert_string_equal(b.data, fancy_out);
	buf_init(&b2, 1 << 20);
	rewrite(b.data, b.len, &b2);
	assert_string_equal(b2.data, fancy_out);
	buf_free(&b);
	buf_free(&b2);
}

static void test_dovecot_uidlist_write_fields_from_values(void **state)
{
	struct dovecot_uidlist_header h = { .uidvalidity = 1, .nextuid = 2 };
	struct dovecot_uidlist_rec r = { .uid = 1, .name = "n:2,S", .name_len = 5, .base_len = 1,
					 .vsize = 0, .has_vsize = true };
	struct buf b;

	(void)state;
	buf_init(&b, 1 << 10);
	/* A header without a GUID has no G; the record's W comes from vsize. */
	assert_int_equal(dovecot_uidlist_write_header(&b, &h), 0);
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), 0);
	/* W and S in fields are replaced by the values (none here: dropped). */
	r.has_vsize = false;
	r.uid = 4294967294u;
	r.fields = "W5 S6 G1";
	r.fields_len = 8;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), 0);
	assert_string_equal(b.data, "3 V1 N2\n1 W0 :n\n4294967294 G1 :n\n");
	buf_free(&b);
}

static void test_dovecot_uidlist_write_refused(void **state)
{
	struct dovecot_uidlist_header h = { .uidvalidity = 1, .nextuid = 1 };
	struct dovecot_uidlist_rec good = { .uid = 1, .name = "abc", .name_len = 3, .base_len = 3 };
	struct dovecot_uidlist_rec r;
	struct buf b, small;
	char longname[DOVECOT_UIDLIST_NAME_MAX + 2];
	char *bigfield = malloc(DOVECOT_UIDLIST_LINE_MAX + 1);

	(void)state;
	assert_non_null(bigfield);
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_append_str(&b, "keep"), 0);
	h.uidvalidity = 0;
	errno = 0;
	assert_int_equal(dovecot_uidlist_write_header(&b, &h), -1);
	assert_int_equal(errno, EINVAL);
	h.uidvalidity = 1;
	h.nextuid = 0;
	assert_int_equal(dovecot_uidlist_write_header(&b, &h), -1);
	h.nextuid = 1;
	h.fields = "X\x01";
	h.fields_len = 2;
	assert_int_equal(dovecot_uidlist_write_header(&b, &h), -1);
	assert_int_equal(errno, EINVAL);
	h.fields = NULL;
	h.fields_len = 0;

	r = good; r.uid = 0;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.uid = UINT32_MAX;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.base_len = 0;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.base_len = 4;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.name = "a/c";
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.name = "a\nc";
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.name = "a:c";
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.name = NULL;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	memset(longname, 'x', sizeof(longname));
	r = good; r.name = longname; r.name_len = r.base_len = DOVECOT_UIDLIST_NAME_MAX + 1;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	r = good; r.fields = "w1"; r.fields_len = 2;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	assert_int_equal(errno, EINVAL);
	r = good; r.fields = ":x"; r.fields_len = 2;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	/* A line over LINE_MAX, after part of it was appended: EMSGSIZE. */
	bigfield[0] = 'X';
	memset(bigfield + 1, 'y', DOVECOT_UIDLIST_LINE_MAX);
	r = good; r.fields = bigfield; r.fields_len = DOVECOT_UIDLIST_LINE_MAX + 1;
	errno = 0;
	assert_int_equal(dovecot_uidlist_write_record(&b, &r), -1);
	assert_int_equal(errno, EMSGSIZE);
	/* Every refusal left the buffer as it was. */
	assert_int_equal(b.len, 4);
	assert_string_equal(b.data, "keep");
	/* The buf's cap: EMSGSIZE, the buf unchanged. */
	buf_init(&small, 6);
	assert_int_equal(buf_append_str(&small, "12"), 0);
	assert_int_equal(dovecot_uidlist_write_record(&small, &good), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(small.len, 2);
	assert_string_equal(small.data, "12");
	buf_free(&small);
	buf_free(&b);
	free(bigfield);
}

static void test_dovecot_uidlist_guid_new(void **state)
{
	unsigned char a[DOVECOT_GUID_SIZE], b[DOVECOT_GUID_SIZE], zero[DOVECOT_GUID_SIZE] = { 0 };
	struct dovecot_uidlist_header h = { .uidvalidity = 9, .nextuid = 9, .has_guid = true };
	struct dovecot_uidlist ul;
	struct buf out;
	const char *err;

	(void)state;
	assert_int_equal(dovecot_uidlist_guid_new(a), 0);
	assert_int_equal(dovecot_uidlist_guid_new(b), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));
	/* Written as 32 lowercase hex digits and read back. */
	memcpy(h.guid, a, sizeof(a));
	buf_init(&out, 1024);
	assert_int_equal(dovecot_uidlist_write_header(&out, &h), 0);
	assert_int_equal(out.len, strlen("3 V9 N9 G\n") + 32);
	for (size_t i = 9; i < 41; i++)
		assert_true((out.data[i] >= '0' && out.data[i] <= '9') || (out.data[i] >= 'a' && out.data[i] <= 'f'));
	assert_int_equal(dovecot_uidlist_parse(out.data, out.len, &ul, &err), 0);
	assert_memory_equal(ul.hdr.guid, a, sizeof(a));
	dovecot_uidlist_free(&ul);
	buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dovecot_uidlist_reads_dovecot_file),
		cmocka_unit_test(test_dovecot_uidlist_stale_header_nextuid),
		cmocka_unit_test(test_dovecot_uidlist_unknown_fields_kept),
		cmocka_unit_test(test_dovecot_uidlist_partial_line_and_tail),
		cmocka_unit_test(test_dovecot_uidlist_malformed_refused),
		cmocka_unit_test(test_dovecot_uidlist_line_limits),
		cmocka_unit_test(test_dovecot_uidlist_records_limit),
		cmocka_unit_test(test_dovecot_uidlist_uid_max),
		cmocka_unit_test(test_dovecot_uidlist_write_round_trip),
		cmocka_unit_test(test_dovecot_uidlist_write_fields_from_values),
		cmocka_unit_test(test_dovecot_uidlist_write_refused),
		cmocka_unit_test(test_dovecot_uidlist_guid_new),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
