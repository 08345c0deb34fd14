/* Unit tests for common/milter_proto.c: the milter packets smtpd builds
 * and the filter replies it decodes (Sendmail milter protocol 2-6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "milter_proto.h"

/* Decode a whole reply packet given as cmd + data bytes. */
static int parse(const char *pkt, size_t len, struct milter_reply *r)
{
	const char *err = NULL;
	int rc = milter_reply_parse(pkt, len, r, &err);

	assert_true(rc == 0 || err != NULL);
	return rc;
}

static void test_build_packets(void **state)
{
	struct buf b;
	size_t mark;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(milter_begin(&b, MILTER_CMD_OPTNEG, &mark), 0);
	assert_int_equal(milter_add_u32(&b, 6), 0);
	assert_int_equal(milter_add_u32(&b, MILTER_ACT_ALL), 0);
	assert_int_equal(milter_add_u32(&b, 0x1ff7ff), 0);
	assert_int_equal(milter_end(&b, mark), 0);
	assert_int_equal(b.len, 17);
	assert_memory_equal(b.data, "\0\0\0\x0dO\0\0\0\x06\0\0\x01\xff\0\x1f\xf7\xff", 17);
	buf_reset(&b);
	assert_int_equal(milter_begin(&b, MILTER_CMD_MACRO, &mark), 0);
	assert_int_equal(milter_add_bytes(&b, "C", 1), 0);
	assert_int_equal(milter_add_str(&b, "j"), 0);
	assert_int_equal(milter_add_str(&b, "mx.example"), 0);
	assert_int_equal(milter_end(&b, mark), 0);
	assert_memory_equal(b.data, "\0\0\0\x0f" "DCj\0mx.example\0", 19);
	buf_reset(&b);
	assert_int_equal(milter_packet(&b, MILTER_CMD_QUIT, NULL, 0), 0);
	assert_memory_equal(b.data, "\0\0\0\x01Q", 5);
	buf_free(&b);
}

static void test_split_packets(void **state)
{
	const char two[] = "\0\0\0\x01" "c" "\0\0\0\x02" "yZ";
	const char *pkt;
	size_t len, used;

	(void)state;
	assert_int_equal(milter_packet_split(two, sizeof(two) - 1, 100, &pkt, &len, &used), 1);
	assert_int_equal(len, 1);
	assert_int_equal(pkt[0], 'c');
	assert_int_equal(used, 5);
	assert_int_equal(milter_packet_split(two + 5, 4, 100, &pkt, &len, &used), 0);
	assert_int_equal(milter_packet_split(two + 5, 6, 100, &pkt, &len, &used), 1);
	assert_int_equal(milter_packet_split("\0\0\0\0", 4, 100, &pkt, &len, &used), -1);
	assert_int_equal(milter_packet_split("\0\0\x01\0", 4, 100, &pkt, &len, &used), -1);
	assert_int_equal(milter_packet_split("\0\0", 2, 100, &pkt, &len, &used), 0);
}

static void test_negotiation_reply(void **state)
{
	const char ok[] = "O\0\0\0\x06\0\0\0\x21\0\0\0\x80"
			  "\0\0\0\x02" "{mail_addr} i\0" "\0\0\0\x05" "i\0";
	const char bad_stage[] = "O\0\0\0\x06\0\0\0\x21\0\0\0\x80" "\0\0\0\x07" "i\0";
	const char unterminated[] = "O\0\0\0\x06\0\0\0\x21\0\0\0\x80" "\0\0\0\x01" "i";
	struct milter_reply r;

	(void)state;
	assert_int_equal(parse(ok, sizeof(ok) - 1, &r), 0);
	assert_int_equal(r.code, 'O');
	assert_int_equal(r.version, 6);
	assert_int_equal(r.actions, 0x21);
	assert_int_equal(r.protocol, 0x80);
	assert_string_equal(r.macros[MILTER_STAGE_MAIL], "{mail_addr} i");
	assert_string_equal(r.macros[MILTER_STAGE_EOM], "i");
	assert_null(r.macros[MILTER_STAGE_CONNECT]);
	assert_int_equal(parse(ok, 12, &r), -1);   /* short */
	assert_int_equal(parse(bad_stage, sizeof(bad_stage) - 1, &r), -1);
	assert_int_equal(parse(unterminated, sizeof(unterminated) - 1, &r), -1);
}

static void test_verdicts_and_reply_codes(void **state)
{
	const char y[] = "y550 5.7.1 Go away\0";
	const char multi[] = "y451-4.7.1 one\r\n451 4.7.1 two\0";
	struct milter_reply r;

	(void)state;
	assert_int_equal(parse("c", 1, &r), 0);
	assert_int_equal(r.code, MILTER_R_CONTINUE);
	assert_int_equal(parse("a", 1, &r), 0);
	assert_int_equal(parse("p", 1, &r), 0);
	assert_int_equal(parse(y, sizeof(y) - 1, &r), 0);
	assert_int_equal(r.smtp_code, 550);
	assert_string_equal(r.text, "550 5.7.1 Go away");
	assert_int_equal(parse(multi, sizeof(multi) - 1, &r), 0);
	assert_int_equal(r.smtp_code, 451);
	assert_int_equal(parse("y250 ok\0", 8, &r), -1);     /* not a refusal */
	assert_int_equal(parse("y55 x\0", 6, &r), -1);
	assert_int_equal(parse("y550 x", 6, &r), -1);        /* no NUL */
	assert_int_equal(parse("y550 x\0z", 8, &r), -1);     /* trailing bytes */
	assert_int_equal(parse("Z", 1, &r), -1);
	assert_int_equal(parse("", 0, &r), -1);
}

static void test_modifications(void **state)
{
	const char h[] = "hX-Spam\0yes\0";
	const char i[] = "i\0\0\0\x02X-Top\0first\0";
	const char m[] = "m\0\0\0\x01Subject\0\0";
	const char plus[] = "+<a@example.org>\0";
	const char two[] = "2<a@example.org>\0NOTIFY=NEVER\0";
	const char e[] = "e<>\0";
	const char b[] = "bnew\r\nbody";
	const char q[] = "qsuspicious\0";
	struct milter_reply r;

	(void)state;
	assert_int_equal(parse(h, sizeof(h) - 1, &r), 0);
	assert_string_equal(r.name, "X-Spam");
	assert_string_equal(r.value, "yes");
	assert_int_equal(parse(i, sizeof(i) - 1, &r), 0);
	assert_int_equal(r.index, 2);
	assert_string_equal(r.name, "X-Top");
	assert_int_equal(parse(m, sizeof(m) - 1, &r), 0);
	assert_int_equal(r.index, 1);
	assert_string_equal(r.value, "");
	assert_int_equal(parse(plus, sizeof(plus) - 1, &r), 0);
	assert_string_equal(r.addr, "<a@example.org>");
	assert_int_equal(parse(two, sizeof(two) - 1, &r), 0);
	assert_int_equal(r.args_len, 13);
	assert_string_equal(r.args, "NOTIFY=NEVER");
	assert_int_equal(parse(e, sizeof(e) - 1, &r), 0);
	assert_string_equal(r.addr, "<>");
	assert_int_equal(parse(b, sizeof(b) - 1, &r), 0);
	assert_int_equal(r.data_len, 9);
	assert_int_equal(parse(q, sizeof(q) - 1, &r), 0);
	assert_string_equal(r.text, "suspicious");
	/* Malformed: no value, empty name, short index, unterminated args. */
	assert_int_equal(parse("hX-Spam\0", 8, &r), -1);
	assert_int_equal(parse("h\0v\0", 4, &r), -1);
	assert_int_equal(parse("i\0\0", 3, &r), -1);
	assert_int_equal(parse("2<a@b>\0X", 8, &r), -1);
	assert_int_equal(parse("+<a@b>\0X\0", 9, &r), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_packets),
		cmocka_unit_test(test_split_packets),
		cmocka_unit_test(test_negotiation_reply),
		cmocka_unit_test(test_verdicts_and_reply_codes),
		cmocka_unit_test(test_modifications),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
