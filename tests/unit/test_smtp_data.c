/* Unit tests for common/smtp_data.c: the DATA state machine.  Input is
 * split into lines at LF exactly as stream_read_line does, and the
 * stored bytes, the end position and the flags are compared with golden
 * values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "smtp_data.h"

struct run {
	char out[4096];
	size_t out_len;
	int ended;
	size_t consumed;        /* input bytes up to and including the end line */
	struct smtp_data sd;
};

/* Feed in[0..n) line by line until the end of data or the input runs out. */
static void feed(const char *in, size_t n, struct run *r)
{
	size_t pos = 0;

	memset(r, 0, sizeof(*r));
	smtp_data_init(&r->sd);
	while (pos < n) {
		const char *lf = memchr(in + pos, '\n', n - pos);
		size_t len = lf != NULL ? (size_t)(lf - (in + pos)) + 1 : n - pos;
		const char *o;
		size_t olen;
		int add_lf;

		if (smtp_data_line(&r->sd, in + pos, len, &o, &olen, &add_lf) == SMTP_DATA_END) {
			r->ended = 1;
			r->consumed = pos + len;
			return;
		}
		assert_true(olen + 1 + r->out_len < sizeof(r->out));
		/* The output is a range of the input line. */
		assert_true(o >= in + pos && o + olen <= in + pos + len);
		memcpy(r->out + r->out_len, o, olen);
		r->out_len += olen;
		if (add_lf)
			r->out[r->out_len++] = '\n';
		pos += len;
	}
	r->consumed = pos;
}

static void feed_str(const char *in, struct run *r)
{
	feed(in, strlen(in), r);
}

static void assert_out(const struct run *r, const char *want)
{
	assert_int_equal(r->out_len, strlen(want));
	assert_memory_equal(r->out, want, r->out_len);
	assert_int_equal(r->sd.size, strlen(want));
}

static void test_crlf_becomes_lf_and_crlf_dot_crlf_ends(void **state)
{
	struct run r;
	(void)state;

	feed_str("Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n", &r);
	assert_true(r.ended);
	assert_out(&r, "Subject: hi\n\nbody\n");
	assert_int_equal(r.consumed, strlen("Subject: hi\r\n\r\nbody\r\n.\r\n"));
	assert_false(r.sd.bare_newline);
	assert_int_equal(r.sd.lines, 3);
}

static void test_empty_message_ends_at_once(void **state)
{
	struct run r;
	(void)state;

	feed_str(".\r\n", &r);
	assert_true(r.ended);
	assert_out(&r, "");
}

static void test_dot_unstuffing(void **state)
{
	struct run r;
	(void)state;

	/* RFC 5321 4.5.2: exactly one leading dot goes. */
	feed_str("..\r\n...x\r\n.y\r\na.b\r\n. \r\n.\r\n", &r);
	assert_true(r.ended);
	assert_out(&r, ".\n..x\ny\na.b\n \n");
	assert_false(r.sd.bare_newline);
}

static void test_lf_dot_lf_does_not_end(void **state)
{
	struct run r;
	(void)state;

	feed_str("a\n.\nb\r\n.\r\n", &r);
	assert_true(r.ended);
	assert_true(r.sd.bare_newline);
	assert_int_equal(r.consumed, strlen("a\n.\nb\r\n.\r\n"));
}

static void test_lf_dot_crlf_does_not_end(void **state)
{
	struct run r;
	(void)state;

	/* The 2023 smuggling shape: <LF>.<CRLF> must not end the data. */
	feed_str("a\n.\r\nMAIL FROM:<x@y>\r\n", &r);
	assert_false(r.ended);
	assert_true(r.sd.bare_newline);
}

static void test_cr_dot_cr_does_not_end(void **state)
{
	struct run r;
	(void)state;

	feed_str("a\r.\rMAIL FROM:<x@y>\r\n", &r);
	assert_false(r.ended);
	assert_true(r.sd.bare_newline);
	feed_str("a\r\n.\r", &r);   /* <CRLF>.<CR> at EOF */
	assert_false(r.ended);
}

static void test_crlf_dot_lf_does_not_end(void **state)
{
	struct run r;
	(void)state;

	feed_str("a\r\n.\nb\r\n", &r);
	assert_false(r.ended);
	assert_true(r.sd.bare_newline);
}

static void test_dot_with_trailing_bytes_is_data(void **state)
{
	struct run r;
	(void)state;

	feed_str("a\r\n.x\r\n.\r\r\n", &r);
	assert_false(r.ended);
	assert_true(r.sd.bare_newline);   /* the CR before CRLF is bare */
}

static void test_bare_cr_in_line_flagged(void **state)
{
	struct run r;
	(void)state;

	feed_str("ab\rcd\r\n.\r\n", &r);
	assert_true(r.ended);
	assert_true(r.sd.bare_newline);
}

static void test_eight_bit_and_nul_pass(void **state)
{
	static const char in[] = "caf\xc3\xa9 \xff\x00z\r\n.\r\n";
	struct run r;
	(void)state;

	feed(in, sizeof(in) - 1, &r);
	assert_true(r.ended);
	assert_int_equal(r.out_len, 10);
	assert_memory_equal(r.out, "caf\xc3\xa9 \xff\x00z\n", 10);
	assert_int_equal(r.sd.size, 10);
	assert_false(r.sd.bare_newline);
}

static void test_size_counts_stored_bytes(void **state)
{
	struct smtp_data sd;
	const char *o;
	size_t olen;
	int lf;
	(void)state;

	smtp_data_init(&sd);
	assert_int_equal(smtp_data_line(&sd, "12345\r\n", 7, &o, &olen, &lf), SMTP_DATA_MORE);
	assert_int_equal(sd.size, 6);
	assert_int_equal(smtp_data_line(&sd, "..\r\n", 4, &o, &olen, &lf), SMTP_DATA_MORE);
	assert_int_equal(sd.size, 8);
	assert_int_equal(smtp_data_line(&sd, ".\r\n", 3, &o, &olen, &lf), SMTP_DATA_END);
	assert_int_equal(sd.size, 8);
}

static void test_overlong_line_flagged_end_still_found(void **state)
{
	struct smtp_data sd;
	const char *o;
	size_t olen;
	int lf;
	(void)state;

	smtp_data_init(&sd);
	assert_int_equal(smtp_data_line(&sd, "a\r\n", 3, &o, &olen, &lf), SMTP_DATA_MORE);
	smtp_data_toolong(&sd);
	assert_true(sd.too_long);
	assert_false(sd.bare_newline);
	assert_int_equal(smtp_data_line(&sd, ".\r\n", 3, &o, &olen, &lf), SMTP_DATA_END);
}

static void test_big_message_byte_exact(void **state)
{
	/* 2 MB of varied lines, with dots and 8-bit bytes, survive exactly. */
	size_t nlines = 20000, cap = nlines * 110, n = 0, m = 0;
	char *wire = malloc(cap + 8), *want = malloc(cap), *got = malloc(cap);
	struct smtp_data sd;
	size_t pos = 0;
	int ended = 0;
	(void)state;

	assert_non_null(wire);
	assert_non_null(want);
	assert_non_null(got);
	for (size_t i = 0; i < nlines; i++) {
		size_t len = i % 100;
		if (i % 7 == 0)
			want[m++] = '.';
		for (size_t k = 0; k < len; k++)
			want[m++] = (char)(0x80 + (i + k) % 120);
		want[m++] = '\n';
	}
	for (size_t i = 0; i < m; i++) {
		if ((i == 0 || want[i - 1] == '\n') && want[i] == '.')
			wire[n++] = '.';
		if (want[i] == '\n')
			wire[n++] = '\r';
		wire[n++] = want[i];
	}
	memcpy(wire + n, ".\r\n", 3);
	n += 3;
	smtp_data_init(&sd);
	size_t gn = 0;
	while (pos < n) {
		const char *lf = memchr(wire + pos, '\n', n - pos);
		size_t len = (size_t)(lf - (wire + pos)) + 1;
		const char *o;
		size_t olen;
		int add;

		if (smtp_data_line(&sd, wire + pos, len, &o, &olen, &add) == SMTP_DATA_END) {
			ended = 1;
			pos += len;
			break;
		}
		memcpy(got + gn, o, olen);
		gn += olen;
		if (add)
			got[gn++] = '\n';
		pos += len;
	}
	assert_true(ended);
	assert_true(m > 1000000);
	assert_int_equal(pos, n);
	assert_int_equal(gn, m);
	assert_memory_equal(got, want, m);
	assert_int_equal(sd.size, m);
	assert_false(sd.bare_newline);
	free(wire);
	free(want);
	free(got);
}

/* ---- BDAT ---- */

static size_t bdat(struct smtp_bdat *b, const char *in, char *out)
{
	return smtp_bdat_feed(b, in, strlen(in), out);
}

static void test_bdat_crlf_to_lf_across_chunks(void **state)
{
	struct smtp_bdat b;
	char out[64];
	size_t n;
	(void)state;

	smtp_bdat_init(&b);
	n = bdat(&b, "a\r\nb\r", out);
	assert_int_equal(n, 3);
	assert_memory_equal(out, "a\nb", 3);      /* the CR is held back */
	n = bdat(&b, "\n.c\r\n", out);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\n.c\n", 4);     /* no dot unstuffing in BDAT */
	assert_int_equal(smtp_bdat_end(&b, out), 0);
	assert_false(b.bare_newline);
	assert_int_equal(b.size, 7);
}

static void test_bdat_bare_lf_and_cr_flagged(void **state)
{
	struct smtp_bdat b;
	char out[64];
	(void)state;

	smtp_bdat_init(&b);
	bdat(&b, "a\nb", out);
	assert_true(b.bare_newline);
	smtp_bdat_init(&b);
	assert_int_equal(bdat(&b, "a\rb", out), 3);
	assert_memory_equal(out, "a\rb", 3);
	assert_true(b.bare_newline);
	smtp_bdat_init(&b);
	assert_int_equal(bdat(&b, "end\r", out), 3);
	assert_false(b.bare_newline);
	assert_int_equal(smtp_bdat_end(&b, out), 1);   /* a final lone CR */
	assert_int_equal(out[0], '\r');
	assert_true(b.bare_newline);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crlf_becomes_lf_and_crlf_dot_crlf_ends),
		cmocka_unit_test(test_empty_message_ends_at_once),
		cmocka_unit_test(test_dot_unstuffing),
		cmocka_unit_test(test_lf_dot_lf_does_not_end),
		cmocka_unit_test(test_lf_dot_crlf_does_not_end),
		cmocka_unit_test(test_cr_dot_cr_does_not_end),
		cmocka_unit_test(test_crlf_dot_lf_does_not_end),
		cmocka_unit_test(test_dot_with_trailing_bytes_is_data),
		cmocka_unit_test(test_bare_cr_in_line_flagged),
		cmocka_unit_test(test_eight_bit_and_nul_pass),
		cmocka_unit_test(test_size_counts_stored_bytes),
		cmocka_unit_test(test_overlong_line_flagged_end_still_found),
		cmocka_unit_test(test_big_message_byte_exact),
		cmocka_unit_test(test_bdat_crlf_to_lf_across_chunks),
		cmocka_unit_test(test_bdat_bare_lf_and_cr_flagged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
