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
#include <unistd.h>
#include <cmocka.h>

#include "smtp_data.h"
#include "stream.h"

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
	smtp_data_toolong(&sd, 1);
	assert_true(sd.too_long);
	assert_false(sd.bare_newline);
	assert_int_equal(smtp_data_line(&sd, ".\r\n", 3, &o, &olen, &lf), SMTP_DATA_END);
}

static void test_overlong_bare_lf_line_then_dot_crlf_does_not_end(void **state)
{
	struct smtp_data sd;
	const char *o;
	size_t olen;
	int lf;
	(void)state;

	/* <long line><LF>.<CRLF>: not an end for a relay that passed the
	 * bare LF through, so not for us (review finding 2). */
	smtp_data_init(&sd);
	smtp_data_toolong(&sd, 0);
	assert_true(sd.too_long);
	assert_int_equal(smtp_data_line(&sd, ".\r\n", 3, &o, &olen, &lf), SMTP_DATA_MORE);
	assert_int_equal(smtp_data_line(&sd, "MAIL FROM:<a@b.example>\r\n", 25, &o, &olen, &lf),
			 SMTP_DATA_MORE);
	assert_int_equal(smtp_data_line(&sd, ".\r\n", 3, &o, &olen, &lf), SMTP_DATA_END);
}

/* What smtpd does: lines from a stream (max_line bytes) through the DATA
 * machine.  Returns the input bytes consumed up to the end of data, or
 * -1 when the input ran out first. */
static long stream_data_end(const char *in, size_t n, size_t max_line)
{
	struct smtp_data sd;
	struct stream *s;
	long consumed = 0, r = -1;
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], in, n), (ssize_t)n);
	close(p[1]);
	s = stream_new(p[0], -1, max_line, 1000);
	assert_non_null(s);
	smtp_data_init(&sd);
	for (;;) {
		const char *line, *o;
		size_t len, olen;
		int add_lf;
		enum stream_status st = stream_read_line(s, &line, &len);

		if (st == STREAM_TOOLONG) {
			smtp_data_toolong(&sd, stream_toolong_crlf(s));
			continue;
		}
		if (st != STREAM_OK)
			break;
		consumed += (long)len;
		if (smtp_data_line(&sd, line, len, &o, &olen, &add_lf) == SMTP_DATA_END) {
			r = consumed;
			break;
		}
	}
	stream_free(&s);
	close(p[0]);
	return r;
}

static void test_stream_overlong_lf_line_smuggling_not_ended(void **state)
{
	static const char tail[] = "\n.\r\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\n"
				   "DATA\r\nsmuggled\r\n.\r\n";
	static const char smuggled[] = "MAIL FROM:<evil@example.org>\r\nRCPT TO:<victim@example.org>\r\n"
				       "DATA\r\nsmuggled\r\n.\r\n";
	char in[20000];
	(void)state;

	/* Overlong lines of many lengths, so that the LF falls at the start,
	 * middle and end of the reader's buffer. */
	for (size_t len = 1000; len < 9000; len += 97) {
		memset(in, 'x', len);
		memcpy(in + len, tail, sizeof tail - 1);
		/* The end is the last ".<CRLF>", after the "commands". */
		assert_int_equal(stream_data_end(in, len + sizeof tail - 1, 1000),
				 (long)(sizeof ".\r\n" - 1 + sizeof smuggled - 1));
	}
}

static void test_stream_overlong_crlf_line_then_dot_ends(void **state)
{
	char in[20000];
	(void)state;

	for (size_t len = 1000; len < 9000; len += 89) {
		memset(in, 'x', len);
		memcpy(in + len, "\r\n.\r\nQUIT\r\n", 11);
		assert_int_equal(stream_data_end(in, len + 11, 1000), 3);
	}
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

/* ---- the client side: smtp_dot ---- */

/* Feed in as pieces of at most step bytes, then end; the wire form. */
static size_t dot(const char *in, size_t step, char *out)
{
	struct smtp_dot d;
	size_t n = strlen(in), o = 0;

	smtp_dot_init(&d);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		o += smtp_dot_feed(&d, in + i, k, out + o);
		assert_true(o <= 2 * (i + k) + 2);   /* SMTP_DOT_ROOM holds */
	}
	o += smtp_dot_end(&d, out + o);
	out[o] = '\0';
	return o;
}

static void assert_dot(const char *in, const char *want)
{
	char out[512];

	/* The same wire form however the input is split. */
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		size_t n = dot(in, step, out);
		assert_int_equal(n, strlen(want));
		assert_string_equal(out, want);
	}
}

static void test_dot_lf_and_crlf_become_crlf(void **state)
{
	(void)state;
	assert_dot("a\nb\r\nc\n", "a\r\nb\r\nc\r\n.\r\n");
	assert_dot("", ".\r\n");
	assert_dot("no end", "no end\r\n.\r\n");
}

static void test_dot_bare_cr_becomes_crlf(void **state)
{
	(void)state;
	/* Review finding 3: no bare CR on the wire, ever. */
	assert_dot("a\rb\r\n", "a\r\nb\r\n.\r\n");
	assert_dot("a\r\r\nb\n", "a\r\n\r\nb\r\n.\r\n");
	assert_dot("end\r", "end\r\n.\r\n");
	assert_dot("\n\r.\r\n", "\r\n\r\n..\r\n.\r\n");
}

static void test_dot_leading_dots_doubled(void **state)
{
	(void)state;
	assert_dot(".a\n..b\nc.d\n.\n", "..a\r\n...b\r\nc.d\r\n..\r\n.\r\n");
	/* A dot after a bare CR begins a line too: smuggling "\r.\r\n". */
	assert_dot("x\r.\r\nMAIL FROM:<a@b>\r\n", "x\r\n..\r\nMAIL FROM:<a@b>\r\n.\r\n");
}

static void test_dot_round_trip_through_smtp_data(void **state)
{
	static const char in[] = "Subject: x\n\n.\r.\n\r\n.\nend\rX";
	char wire[256];
	struct run r;
	(void)state;

	dot(in, 3, wire);
	feed_str(wire, &r);
	assert_true(r.ended);
	assert_int_equal(r.consumed, strlen(wire));
	assert_false(r.sd.bare_newline);
	assert_out(&r, "Subject: x\n\n.\n.\n\n.\nend\nX\n");
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
		cmocka_unit_test(test_overlong_bare_lf_line_then_dot_crlf_does_not_end),
		cmocka_unit_test(test_stream_overlong_lf_line_smuggling_not_ended),
		cmocka_unit_test(test_stream_overlong_crlf_line_then_dot_ends),
		cmocka_unit_test(test_dot_lf_and_crlf_become_crlf),
		cmocka_unit_test(test_dot_bare_cr_becomes_crlf),
		cmocka_unit_test(test_dot_leading_dots_doubled),
		cmocka_unit_test(test_dot_round_trip_through_smtp_data),
		cmocka_unit_test(test_big_message_byte_exact),
		cmocka_unit_test(test_bdat_crlf_to_lf_across_chunks),
		cmocka_unit_test(test_bdat_bare_lf_and_cr_flagged),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
