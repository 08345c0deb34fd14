/* Unit tests for common/record.c: escaping, parsing, limits, stream
 * records and chunks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "record.h"
#include "stream_fixture.h"

static void test_record_escaping_round_trips_every_byte(void **state)
{
	struct buf out;
	struct record rec = { 0 };
	char all[256];
	size_t used = 0;
	const char *error = NULL;

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (char)i;
	buf_init(&out, 100000);
	assert_int_equal(record_put(&out, "data", all, sizeof(all)), 0);
	assert_int_equal(record_put_str(&out, "empty", ""), 0);
	assert_int_equal(record_put_num(&out, "n", 18446744073709551615ULL), 0);
	assert_int_equal(record_end(&out), 0);
	/* The only LFs on the wire are the line ends: 3 fields + the end. */
	size_t lfs = 0;
	for (size_t i = 0; i < out.len; i++)
		lfs += out.data[i] == '\n';
	assert_int_equal(lfs, 4);
	assert_non_null(strstr(out.data, "%0A%0B%0C%0D"));
	assert_non_null(strstr(out.data, "%25"));
	assert_non_null(strstr(out.data, "%7F"));

	assert_int_equal(record_parse(out.data, out.len, &rec, &used, &error), 0);
	assert_int_equal(used, out.len);
	assert_int_equal(rec.n, 3);
	assert_string_equal(rec.fields[0].key, "data");
	assert_int_equal(rec.fields[0].value_len, 256);
	assert_memory_equal(rec.fields[0].value, all, 256);
	assert_string_equal(record_get(&rec, "empty"), "");
	unsigned long long v = 0;
	assert_int_equal(record_get_num(&rec, "n", &v), 0);
	assert_true(v == 18446744073709551615ULL);
	assert_null(record_get(&rec, "missing"));
	record_clear(&rec);
	buf_free(&out);
}

static void test_record_value_cannot_inject_a_field(void **state)
{
	struct buf out;
	struct record rec = { 0 };
	size_t used;
	const char *error;
	const char *evil = "a@b\nrcpt=victim@example\n\nX";

	(void)state;
	buf_init(&out, 1000);
	assert_int_equal(record_put_str(&out, "sender", evil), 0);
	assert_int_equal(record_end(&out), 0);
	assert_int_equal(record_parse(out.data, out.len, &rec, &used, &error), 0);
	assert_int_equal(rec.n, 1);
	assert_null(record_get(&rec, "rcpt"));
	assert_string_equal(record_get(&rec, "sender"), evil);
	record_clear(&rec);
	buf_free(&out);
}

static void test_record_writer_refuses_bad_keys_and_long_values(void **state)
{
	struct buf out;
	char big[RECORD_MAX_VALUE + 1];

	(void)state;
	memset(big, 'v', sizeof(big));
	buf_init(&out, 100000);
	assert_int_equal(record_put_str(&out, "Bad", "x"), -1);
	assert_int_equal(record_put_str(&out, "a=b", "x"), -1);
	assert_int_equal(record_put_str(&out, "", "x"), -1);
	assert_int_equal(record_put(&out, "big", big, sizeof(big)), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(out.len, 0);
	assert_int_equal(record_put(&out, "big", big, RECORD_MAX_VALUE), 0);
	buf_free(&out);

	/* A full output buffer leaves no half field behind. */
	buf_init(&out, 10);
	assert_int_equal(record_put_str(&out, "a", "1"), 0);
	assert_int_equal(record_put_str(&out, "b", "12345678"), -1);
	assert_string_equal(buf_cstr(&out), "a=1\n");
	buf_free(&out);
}

static void assert_parse_fails(const char *text, const char *expect)
{
	struct record rec = { 0 };
	size_t used;
	const char *error = NULL;

	assert_int_equal(record_parse(text, strlen(text), &rec, &used, &error), -1);
	assert_string_equal(error, expect);
	assert_int_equal(rec.n, 0);
}

static void test_record_parse_rejects_malformed(void **state)
{
	(void)state;
	assert_parse_fails("a=1\n", "incomplete record");
	assert_parse_fails("a=1", "incomplete record");
	assert_parse_fails("novalue\n\n", "record line without '='");
	assert_parse_fails("Key=1\n\n", "bad key in record");
	assert_parse_fails("=1\n\n", "bad key in record");
	assert_parse_fails("a=%4\n\n", "bad %XX escape in record value");
	assert_parse_fails("a=%G0\n\n", "bad %XX escape in record value");
	assert_parse_fails("a=%\n\n", "bad %XX escape in record value");
	assert_parse_fails("a=x\r\n\n", "unescaped control byte in record value");
	assert_parse_fails("a=\tb\n\n", "unescaped control byte in record value");
}

static void test_record_parse_limits(void **state)
{
	struct buf in;
	struct record rec = { 0 };
	size_t used;
	const char *error = NULL;

	(void)state;
	buf_init(&in, 1 << 20);
	for (int i = 0; i < RECORD_MAX_FIELDS; i++)
		assert_int_equal(buf_append_str(&in, "r=x\n"), 0);
	assert_int_equal(record_end(&in), 0);
	assert_int_equal(record_parse(in.data, in.len, &rec, &used, &error), 0);
	assert_int_equal(rec.n, RECORD_MAX_FIELDS);
	buf_reset(&in);
	for (int i = 0; i <= RECORD_MAX_FIELDS; i++)
		assert_int_equal(buf_append_str(&in, "r=x\n"), 0);
	assert_int_equal(record_end(&in), 0);
	assert_int_equal(record_parse(in.data, in.len, &rec, &used, &error), -1);
	assert_string_equal(error, "too many fields in record");

	buf_reset(&in);
	assert_int_equal(buf_append_str(&in, "v="), 0);
	for (int i = 0; i <= RECORD_MAX_VALUE; i++)
		assert_int_equal(buf_append_str(&in, "%41"), 0);
	assert_int_equal(buf_append_str(&in, "\n\n"), 0);
	assert_int_equal(record_parse(in.data, in.len, &rec, &used, &error), -1);
	assert_string_equal(error, "record value too long");
	record_clear(&rec);
	buf_free(&in);
}

static void test_record_read_from_stream(void **state)
{
	const char *in = "sender=a@b\nrcpt=c@d\nrcpt=e%25f\n\nstatus=ok\n\n";
	struct stream *s = stream_of(in, strlen(in), 64);
	struct record rec = { 0 };
	const char *error = NULL;

	(void)state;
	assert_int_equal(record_read(s, &rec, &error), STREAM_OK);
	assert_int_equal(rec.n, 3);
	assert_string_equal(rec.fields[2].value, "e%f");
	/* The caller's line limit is restored. */
	assert_int_equal(stream_get_max_line(s), 64);
	assert_int_equal(record_read(s, &rec, &error), STREAM_OK);
	assert_string_equal(record_get(&rec, "status"), "ok");
	assert_int_equal(record_read(s, &rec, &error), STREAM_EOF);
	assert_int_equal(rec.n, 0);
	record_clear(&rec);
	stream_done(&s);
}

static void test_record_read_truncated_is_an_error(void **state)
{
	const char *in = "sender=a@b\nrcpt=c";
	struct stream *s = stream_of(in, strlen(in), 64);
	struct record rec = { 0 };
	const char *error = NULL;

	(void)state;
	assert_int_equal(record_read(s, &rec, &error), STREAM_ERROR);
	assert_string_equal(error, "unexpected end of input inside a record");
	assert_int_equal(rec.n, 0);
	stream_done(&s);
}

static void test_record_chunks_round_trip(void **state)
{
	int p[2];
	struct stream *w, *r;
	struct buf data;
	size_t n;

	(void)state;
	assert_int_equal(pipe(p), 0);
	w = stream_new(-1, p[1], 64, 1000);
	assert_int_equal(record_write_chunk(w, "hello\n", 6), 0);
	assert_int_equal(record_write_chunk(w, "world\n", 6), 0);
	assert_int_equal(record_write_chunk(w, "x", 0), -1);
	assert_int_equal(record_write_chunk_end(w), 0);
	assert_int_equal(stream_flush(w), 0);
	stream_free(&w);
	close(p[1]);
	r = stream_new(p[0], -1, 64, 1000);
	buf_init(&data, 100);
	assert_int_equal(record_read_chunk(r, &data, &n), STREAM_OK);
	assert_int_equal(n, 6);
	assert_int_equal(record_read_chunk(r, &data, &n), STREAM_OK);
	assert_int_equal(n, 6);
	assert_int_equal(record_read_chunk(r, &data, &n), STREAM_OK);
	assert_int_equal(n, 0);
	assert_string_equal(buf_cstr(&data), "hello\nworld\n");
	buf_free(&data);
	stream_done(&r);
}

static enum stream_status read_chunk_of(const char *in, size_t max, size_t *n_r)
{
	struct stream *s = stream_of(in, strlen(in), 64);
	struct buf data;
	enum stream_status st;

	buf_init(&data, max);
	st = record_read_chunk(s, &data, n_r);
	buf_free(&data);
	stream_done(&s);
	return st;
}

static void test_record_chunk_length_syntax(void **state)
{
	size_t n;

	(void)state;
	assert_int_equal(read_chunk_of("3\nabc", 10, &n), STREAM_OK);
	assert_int_equal(read_chunk_of("0\n", 10, &n), STREAM_OK);
	assert_int_equal(n, 0);
	assert_int_equal(read_chunk_of("03\nabc", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("+3\nabc", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("-3\nabc", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("3 \nabc", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("\nabc", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("1048577\n", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("99999999999999999999999\n", 10, &n), STREAM_ERROR);
	assert_int_equal(read_chunk_of("5\nabc", 10, &n), STREAM_EOF);
	assert_int_equal(read_chunk_of("", 10, &n), STREAM_EOF);
	/* Over the data cap: TOOLONG, bytes consumed. */
	assert_int_equal(read_chunk_of("5\nabcde", 4, &n), STREAM_TOOLONG);
}

static void test_record_write_chunk_splits_big_data(void **state)
{
	int sv[2];
	struct stream *w, *r;
	struct buf data;
	size_t n, total = 0, count = 0;
	size_t big = 1024 * 1024 + 10;
	char *p = calloc(1, big);
	int status;

	(void)state;
	assert_non_null(p);
	assert_int_equal(pipe(sv), 0);
	if (fork() == 0) {
		close(sv[0]);
		w = stream_new(-1, sv[1], 64, 2000);
		_exit(record_write_chunk(w, p, big) == 0 && record_write_chunk_end(w) == 0 &&
		      stream_flush(w) == 0 ? 0 : 1);
	}
	close(sv[1]);
	r = stream_new(sv[0], -1, 64, 2000);
	buf_init(&data, 2 * big);
	do {
		assert_int_equal(record_read_chunk(r, &data, &n), STREAM_OK);
		total += n;
		count++;
	} while (n > 0);
	assert_int_equal(total, big);
	assert_int_equal(count, 3);
	assert_true(wait(&status) > 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	buf_free(&data);
	free(p);
	stream_done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_escaping_round_trips_every_byte),
		cmocka_unit_test(test_record_value_cannot_inject_a_field),
		cmocka_unit_test(test_record_writer_refuses_bad_keys_and_long_values),
		cmocka_unit_test(test_record_parse_rejects_malformed),
		cmocka_unit_test(test_record_parse_limits),
		cmocka_unit_test(test_record_read_from_stream),
		cmocka_unit_test(test_record_read_truncated_is_an_error),
		cmocka_unit_test(test_record_chunks_round_trip),
		cmocka_unit_test(test_record_chunk_length_syntax),
		cmocka_unit_test(test_record_write_chunk_splits_big_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
