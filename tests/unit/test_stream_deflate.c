/* Unit tests for common/stream_deflate.c and the compression of
 * common/stream.c (IMAP COMPRESS=DEFLATE, RFC 4978): a round trip
 * between two streams, a peer that is plain zlib (raw deflate with sync
 * flushes, as clients do), bytes pipelined behind the command, the sync
 * flush at each stream_flush, corrupt input, the end of the peer's
 * stream, and a compression bomb held to the line and literal limits. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <zlib.h>

#include "buf.h"
#include "stream.h"
#include "stream_fixture.h"
#include "stream_deflate.h"

#define SLACK 4096   /* common/stream.c STREAM_SLACK: read-ahead beyond one line */

/* Raw deflate of p as a client sends it: ends with flush (Z_SYNC_FLUSH
 * or Z_FINISH).  malloc()ed, *n_r bytes. */
static unsigned char *client_deflate(const void *p, size_t n, int flush, size_t *n_r)
{
	z_stream zs;
	size_t cap = compressBound(n) + 64;
	unsigned char *out = malloc(cap);

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (unsigned char *)p;
	zs.avail_in = n;
	zs.next_out = out;
	zs.avail_out = cap;
	assert_int_equal(deflate(&zs, flush), flush == Z_FINISH ? Z_STREAM_END : Z_OK);
	assert_int_equal(zs.avail_in, 0);
	*n_r = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

/* Raw inflate of all of p, as a client does; asserts it is complete
 * (everything sent so far can be inflated: a sync flush ended it). */
static unsigned char *client_inflate(const void *p, size_t n, size_t max, size_t *n_r)
{
	z_stream zs;
	unsigned char *out = malloc(max);

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, -15), Z_OK);
	zs.next_in = (unsigned char *)p;
	zs.avail_in = n;
	zs.next_out = out;
	zs.avail_out = max;
	int r = inflate(&zs, Z_SYNC_FLUSH);
	assert_true(r == Z_OK || r == Z_BUF_ERROR);
	assert_int_equal(zs.avail_in, 0);
	*n_r = max - zs.avail_out;
	inflateEnd(&zs);
	return out;
}

static void start_deflate(struct stream *s)
{
	struct stream_deflate *z = stream_deflate_new();

	assert_non_null(z);
	assert_int_equal(stream_start_deflate(s, &z), 0);
	assert_null(z);
	assert_true(stream_deflate_active(s));
}

/* Read from fd until n bytes came or it closes. */
static size_t read_all(int fd, unsigned char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void test_stream_deflate_round_trip_between_two_streams(void **state)
{
	int sv[2];
	struct stream *a, *b;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	a = stream_new(sv[0], sv[0], 1000, 2000);
	b = stream_new(sv[1], sv[1], 1000, 2000);
	start_deflate(a);
	start_deflate(b);
	assert_int_equal(stream_puts(a, "* 3 EXISTS\r\n"), 0);
	assert_int_equal(stream_printf(a, "a1 OK %s\r\n", "done"), 0);
	assert_int_equal(stream_flush(a), 0);
	expect_line(b, STREAM_OK, "* 3 EXISTS\r\n");
	expect_line(b, STREAM_OK, "a1 OK done\r\n");
	assert_int_equal(stream_pending(b), 0);
	/* And back: the other direction has its own state. */
	assert_int_equal(stream_puts(b, "a2 NOOP\r\n"), 0);
	assert_int_equal(stream_flush(b), 0);
	expect_line(a, STREAM_OK, "a2 NOOP\r\n");
	/* A second switch is refused, the stream unchanged. */
	struct stream_deflate *z = stream_deflate_new();
	assert_int_equal(stream_start_deflate(a, &z), -1);
	assert_int_equal(errno, EALREADY);
	assert_non_null(z);
	stream_deflate_free(&z);
	assert_null(z);
	close(sv[1]);
	stream_free(&b);
	expect_line(a, STREAM_EOF, "");
	close(sv[0]);
	stream_free(&a);
}

static void test_stream_deflate_reads_a_zlib_client(void **state)
{
	const char *cmds = "a SELECT INBOX\r\nb FETCH 1 BODY[]\r\nc LOGOUT\r\n";
	size_t zn;
	unsigned char *zc = client_deflate(cmds, strlen(cmds), Z_SYNC_FLUSH, &zn);
	struct stream *s = stream_of(zc, zn, 1000);

	(void)state;
	start_deflate(s);
	expect_line(s, STREAM_OK, "a SELECT INBOX\r\n");
	expect_line(s, STREAM_OK, "b FETCH 1 BODY[]\r\n");
	expect_line(s, STREAM_OK, "c LOGOUT\r\n");
	expect_line(s, STREAM_EOF, "");
	assert_null(stream_deflate_failure(s));
	free(zc);
	stream_done(&s);
}

/* RFC 4978 3: the client compresses from the command after COMPRESS;
 * what it sent in the same packet is already in the read buffer. */
static void test_stream_deflate_inflates_bytes_pipelined_behind_the_command(void **state)
{
	const char *cmd = "x COMPRESS DEFLATE\r\n", *next = "y NOOP\r\nz LOGOUT\r\n";
	size_t zn, n = strlen(cmd);
	unsigned char *zc = client_deflate(next, strlen(next), Z_SYNC_FLUSH, &zn);
	unsigned char *all = malloc(n + zn);
	struct stream *s;

	(void)state;
	memcpy(all, cmd, n);
	memcpy(all + n, zc, zn);
	s = stream_of(all, n + zn, 1000);
	expect_line(s, STREAM_OK, "x COMPRESS DEFLATE\r\n");
	assert_int_equal(stream_pending(s), zn);   /* plain: still compressed bytes */
	start_deflate(s);
	/* Counted by what they inflate to, before any read. */
	assert_int_equal(stream_pending(s), strlen(next));
	assert_memory_equal(stream_peek(s), next, strlen(next));
	expect_line(s, STREAM_OK, "y NOOP\r\n");
	expect_line(s, STREAM_OK, "z LOGOUT\r\n");
	expect_line(s, STREAM_EOF, "");
	free(zc);
	free(all);
	stream_done(&s);
}

/* The tagged OK goes out plain, what follows compressed, and each
 * stream_flush ends with a sync flush: the client can inflate all of it
 * without waiting for more (RFC 4978 4). */
static void test_stream_deflate_ok_plain_then_sync_flushed_output(void **state)
{
	int sv[2];
	struct stream *s;
	unsigned char raw[4096], *text;
	size_t n, tn;
	const char *ok = "x OK DEFLATE active\r\n", *later = "* 4 EXISTS\r\n";

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], sv[0], 1000, 2000);
	assert_int_equal(stream_puts(s, ok), 0);
	start_deflate(s);
	assert_int_equal(read_all(sv[1], raw, strlen(ok)), strlen(ok));
	assert_memory_equal(raw, ok, strlen(ok));
	assert_int_equal(stream_puts(s, later), 0);
	assert_int_equal(stream_flush(s), 0);
	/* A flush with nothing new sends nothing (no empty block each time). */
	assert_int_equal(stream_flush(s), 0);
	stream_free(&s);
	close(sv[0]);
	n = read_all(sv[1], raw, sizeof(raw));
	assert_true(n >= 4);
	assert_memory_equal(raw + n - 4, "\x00\x00\xff\xff", 4);   /* the sync flush marker, once */
	assert_true(n < 8 || memcmp(raw + n - 8, "\x00\x00\xff\xff", 4) != 0);
	text = client_inflate(raw, n, 4096, &tn);
	assert_int_equal(tn, strlen(later));
	assert_memory_equal(text, later, tn);
	free(text);
	close(sv[1]);
}

/* A large burst (a big FETCH): more than the output buffer, written by a
 * child while the parent inflates it as a client would. */
static void test_stream_deflate_large_output_reaches_a_zlib_client(void **state)
{
	enum { N = 3 * 1024 * 1024 };
	int sv[2];
	unsigned char *raw = malloc(N), *text;
	size_t n, tn;
	pid_t pid;
	int status;

	(void)state;
	assert_non_null(raw);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct stream *s = stream_new(sv[0], sv[0], 1000, 5000);
		struct stream_deflate *z = stream_deflate_new();
		uint32_t x = 1;

		close(sv[1]);
		if (z == NULL || stream_start_deflate(s, &z) < 0)
			_exit(1);
		/* Lines of pseudo-random digits: compressible, not trivially. */
		for (int i = 0; i < 40000; i++) {
			x = x * 1103515245u + 12345u;
			if (stream_printf(s, "line %d %u %u\r\n", i, x, x >> 7) < 0)
				_exit(2);
		}
		_exit(stream_flush(s) < 0 ? 3 : 0);
	}
	close(sv[0]);
	n = read_all(sv[1], raw, N);
	close(sv[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	text = client_inflate(raw, n, 4 * 1024 * 1024, &tn);
	assert_true(tn > 40000 * 10);
	assert_true(n < tn);   /* it did compress */
	assert_memory_equal(text, "line 0 ", 7);
	assert_memory_equal(text + tn - 2, "\r\n", 2);
	assert_non_null(memmem(text, tn, "\r\nline 39999 ", 13));
	free(text);
	free(raw);
}

static void test_stream_deflate_corrupt_input_is_an_error_after_the_good_lines(void **state)
{
	const char *good = "a NOOP\r\n";
	size_t zn;
	unsigned char *zc = client_deflate(good, strlen(good), Z_SYNC_FLUSH, &zn);
	unsigned char all[256];
	struct stream *s;

	(void)state;
	memcpy(all, zc, zn);
	/* 0xff: BTYPE 11, reserved: "invalid block type". */
	memset(all + zn, 0xff, 32);
	s = stream_of(all, zn + 32, 1000);
	start_deflate(s);
	expect_line(s, STREAM_OK, "a NOOP\r\n");
	errno = 0;
	expect_line(s, STREAM_ERROR, "");
	assert_int_equal(errno, EBADMSG);
	assert_non_null(stream_deflate_failure(s));
	/* It stays broken; nothing blocks. */
	expect_line(s, STREAM_ERROR, "");
	assert_int_equal(stream_pending(s), 0);
	free(zc);
	stream_done(&s);
}

static void test_stream_deflate_plain_text_after_the_switch_is_refused(void **state)
{
	const char *plain = "a NOOP\r\nb NOOP\r\n";
	struct stream *s = stream_of(plain, strlen(plain), 1000);
	const char *p;
	size_t n;

	(void)state;
	start_deflate(s);
	assert_int_equal(stream_pending(s), 0);
	assert_int_equal(stream_read_some(s, &p, &n), STREAM_ERROR);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(stream_deflate_failure(s));
	stream_done(&s);
}

/* A client that ends its deflate stream (Z_FINISH) has said all. */
static void test_stream_deflate_end_of_the_peer_stream_is_eof(void **state)
{
	const char *last = "a LOGOUT\r\n";
	size_t zn;
	unsigned char *zc = client_deflate(last, strlen(last), Z_FINISH, &zn);
	unsigned char all[256];
	struct stream *s;

	(void)state;
	memcpy(all, zc, zn);
	memcpy(all + zn, "junk after the end", 18);
	s = stream_of(all, zn + 18, 1000);
	start_deflate(s);
	expect_line(s, STREAM_OK, "a LOGOUT\r\n");
	expect_line(s, STREAM_EOF, "");
	assert_null(stream_deflate_failure(s));
	free(zc);
	stream_done(&s);
}

/* 16 MB of one byte deflate to about 16 KB; inflated they must come out
 * a roomful at a time: never more buffered than a line plus read-ahead,
 * the overlong "line" discarded as any other, the next line read. */
static void test_stream_deflate_bomb_is_held_to_the_line_limit(void **state)
{
	enum { BOMB = 16 * 1024 * 1024, MAX_LINE = 1000 };
	unsigned char *plain = malloc(BOMB + 16), *zc;
	size_t zn, n;
	struct stream *s;
	const char *p;

	(void)state;
	assert_non_null(plain);
	memset(plain, 'A', BOMB);
	memcpy(plain + BOMB, "\r\nok\r\n", 6);
	zc = client_deflate(plain, BOMB + 6, Z_SYNC_FLUSH, &zn);
	assert_true(zn < 64 * 1024);   /* fits the pipe */
	s = stream_of(zc, zn, MAX_LINE);
	start_deflate(s);
	assert_int_equal(stream_read_some(s, &p, &n), STREAM_OK);
	assert_true(n > 0 && n <= MAX_LINE + SLACK);
	assert_true(stream_pending(s) <= MAX_LINE + SLACK);
	expect_line(s, STREAM_TOOLONG, "");
	assert_int_equal(stream_toolong_crlf(s), 1);
	expect_line(s, STREAM_OK, "ok\r\n");
	expect_line(s, STREAM_EOF, "");
	free(zc);
	free(plain);
	stream_done(&s);
}

/* A literal that inflates past its cap is read and dropped in step
 * (STREAM_TOOLONG), the next command read after it. */
static void test_stream_deflate_bomb_literal_is_held_to_its_cap(void **state)
{
	enum { BIG = 8 * 1024 * 1024 };
	unsigned char *plain = malloc(BIG + 16), *zc;
	size_t zn;
	struct stream *s;
	struct buf lit;

	(void)state;
	assert_non_null(plain);
	memset(plain, 0, BIG);
	memcpy(plain + BIG, "a NOOP\r\n", 8);
	zc = client_deflate(plain, BIG + 8, Z_SYNC_FLUSH, &zn);
	s = stream_of(zc, zn, 1000);
	start_deflate(s);
	buf_init(&lit, 64 * 1024);
	assert_int_equal(stream_read_exact(s, BIG, &lit), STREAM_TOOLONG);
	assert_int_equal(lit.len, 0);
	expect_line(s, STREAM_OK, "a NOOP\r\n");
	buf_free(&lit);
	free(zc);
	free(plain);
	stream_done(&s);
}

/* The module alone: output never exceeds the room given, and when the
 * room filled, it says more may come without input. */
static void test_stream_deflate_inflate_fills_only_the_room(void **state)
{
	enum { N = 100000 };
	unsigned char *plain = malloc(N), *zc, out[1000];
	size_t zn, made, total = 0;
	struct stream_deflate *z = stream_deflate_new();

	(void)state;
	assert_non_null(z);
	memset(plain, 'x', N);
	zc = client_deflate(plain, N, Z_SYNC_FLUSH, &zn);
	assert_int_equal(stream_deflate_in_put(z, zc, zn), 0);
	while (stream_deflate_in_ready(z)) {
		assert_int_equal(stream_deflate_inflate(z, out, sizeof(out), &made), STREAM_DEFLATE_OK);
		assert_true(made <= sizeof(out));
		assert_non_null(memchr(out, 'x', 1));
		total += made;
	}
	assert_int_equal(total, N);
	assert_int_equal(stream_deflate_inflate(z, out, sizeof(out), &made), STREAM_DEFLATE_OK);
	assert_int_equal(made, 0);   /* needs input */
	stream_deflate_free(&z);
	assert_null(z);
	free(zc);
	free(plain);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_deflate_round_trip_between_two_streams),
		cmocka_unit_test(test_stream_deflate_reads_a_zlib_client),
		cmocka_unit_test(test_stream_deflate_inflates_bytes_pipelined_behind_the_command),
		cmocka_unit_test(test_stream_deflate_ok_plain_then_sync_flushed_output),
		cmocka_unit_test(test_stream_deflate_large_output_reaches_a_zlib_client),
		cmocka_unit_test(test_stream_deflate_corrupt_input_is_an_error_after_the_good_lines),
		cmocka_unit_test(test_stream_deflate_plain_text_after_the_switch_is_refused),
		cmocka_unit_test(test_stream_deflate_end_of_the_peer_stream_is_eof),
		cmocka_unit_test(test_stream_deflate_bomb_is_held_to_the_line_limit),
		cmocka_unit_test(test_stream_deflate_bomb_literal_is_held_to_its_cap),
		cmocka_unit_test(test_stream_deflate_inflate_fills_only_the_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
