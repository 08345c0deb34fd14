/* Unit tests for common/stream.c: lines, overlong lines, EOF with a
 * partial line, timeouts, exact reads, buffered writes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "stream.h"
#include "stream_fixture.h"

static void test_stream_reads_lines_with_terminator(void **state)
{
	const char *in = "HELO x\r\nMAIL\n\nlast";
	struct stream *s = stream_of(in, strlen(in), 100);

	(void)state;
	expect_line(s, STREAM_OK, "HELO x\r\n");
	expect_line(s, STREAM_OK, "MAIL\n");
	expect_line(s, STREAM_OK, "\n");
	expect_line(s, STREAM_EOF, "last");
	expect_line(s, STREAM_EOF, "");
	stream_done(&s);
}

static void test_stream_overlong_line_reported_once_then_next_line_ok(void **state)
{
	struct stream *s;
	char in[30000];
	size_t n = 0;

	(void)state;
	memset(in, 'a', 20000);
	n = 20000;
	memcpy(in + n, "\nok\n", 4);
	n += 4;
	memset(in + n, 'b', 11);   /* 11 + LF = 12 > 10 */
	n += 11;
	memcpy(in + n, "\n123456789\n", 11);   /* exactly 10: fits */
	n += 11;
	s = stream_of(in, n, 10);
	expect_line(s, STREAM_TOOLONG, "");
	expect_line(s, STREAM_OK, "ok\n");
	expect_line(s, STREAM_TOOLONG, "");
	expect_line(s, STREAM_OK, "123456789\n");
	expect_line(s, STREAM_EOF, "");
	stream_done(&s);
}

/* A len-byte overlong line ended by CRLF or a bare LF, a short line, and
 * an overlong line with a bare CR inside and a bare LF at its end. */
static void check_overlong_end(size_t len, int crlf)
{
	static char in[20000];
	struct stream *s;
	size_t n = len;

	memset(in, 'a', len);
	if (crlf)
		in[n++] = '\r';
	memcpy(in + n, "\nok\r\nb\r", 7);
	n += 7;
	memset(in + n, 'c', 20);
	n += 20;
	in[n++] = '\n';
	s = stream_of(in, n, 10);
	expect_line(s, STREAM_TOOLONG, "");
	assert_int_equal(stream_toolong_crlf(s), crlf);
	expect_line(s, STREAM_OK, "ok\r\n");
	expect_line(s, STREAM_TOOLONG, "");
	assert_int_equal(stream_toolong_crlf(s), 0);
	expect_line(s, STREAM_EOF, "");
	stream_done(&s);
}

/* Review finding 2: how a discarded line ended is reported, also when
 * its CR and LF arrive in different reads. */
static void test_stream_overlong_line_reports_crlf_or_bare_lf(void **state)
{
	/* Around the reader's buffer sizes, so that CR and LF get split. */
	static const size_t ranges[][2] = { { 11, 100 }, { 4000, 4300 }, { 8000, 8400 } };
	(void)state;

	for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
		for (size_t len = ranges[r][0]; len < ranges[r][1]; len++) {
			check_overlong_end(len, 0);
			check_overlong_end(len, 1);
		}
}

static void test_stream_overlong_partial_line_at_eof(void **state)
{
	const char *in = "0123456789abcdef";
	struct stream *s = stream_of(in, strlen(in), 8);

	(void)state;
	expect_line(s, STREAM_TOOLONG, "");
	expect_line(s, STREAM_EOF, "");
	stream_done(&s);
}

static void test_stream_timeout_reported(void **state)
{
	int p[2];
	struct stream *s;
	const char *line;
	size_t len;

	(void)state;
	assert_int_equal(pipe(p), 0);
	s = stream_new(p[0], -1, 100, 50);
	assert_int_equal(write(p[1], "par", 3), 3);
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_TIMEOUT);
	/* The partial line is kept: the rest completes it. */
	assert_int_equal(write(p[1], "tial\n", 5), 5);
	expect_line(s, STREAM_OK, "partial\n");
	close(p[1]);
	stream_done(&s);
}

/* A child writing 40 bytes "x", one every 30 ms, then LF into fd (and
 * closing other, the reader's end, in itself); its pid. */
static pid_t trickle(int fd, int other)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		close(other);
		for (int i = 0; i < 40; i++) {
			if (write(fd, "x", 1) != 1)
				_exit(1);
			usleep(30 * 1000);
		}
		_exit(write(fd, "\n", 1) == 1 ? 0 : 1);
	}
	return pid;
}

/* Read a trickle under a deadline of 200 ms (the per-wait timeout, 1 s,
 * is never reached): cut off; without the deadline the rest of the line
 * arrives.  Then the writer ended well. */
static void read_a_trickle(struct stream *s, pid_t pid)
{
	const char *line;
	size_t len;
	int status;

	stream_set_deadline(s, 200);
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_TIMEOUT);
	stream_set_deadline(s, 0);
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_OK);
	assert_int_equal(len, 41);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* A deadline ends a read whose per-wait timeout was never reached, and
 * stream_set_deadline(s, 0) removes the bound again. */
static void test_stream_deadline_ends_a_trickle(void **state)
{
	int p[2];
	struct stream *s;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	s = stream_new(p[0], -1, 1000, 1000);
	pid = trickle(p[1], p[0]);
	close(p[1]);
	read_a_trickle(s, pid);
	stream_done(&s);
}

/* After a read that fills the buffer, the next read of a socket is
 * tried without waiting; when nothing is there it must still wait under
 * the timeout (the socket is blocking: a plain read would hang), and
 * the deadline still ends it. */
static void test_stream_bulk_read_then_silence_times_out(void **state)
{
	int sv[2];
	struct stream *s;
	struct buf b;
	char *data = malloc(3 * 8192);

	(void)state;
	assert_non_null(data);
	memset(data, 'b', 3 * 8192);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], data, 3 * 8192), 3 * 8192);
	s = stream_new(sv[0], sv[0], 100, 100);
	buf_init(&b, 4 * 8192);
	assert_int_equal(stream_read_exact(s, 3 * 8192, &b), STREAM_OK);
	assert_int_equal(b.len, 3 * 8192);
	buf_reset(&b);
	assert_int_equal(stream_read_exact(s, 1, &b), STREAM_TIMEOUT);
	/* Again after a full read, under a deadline that has passed. */
	assert_int_equal(write(sv[1], data, 3 * 8192), 3 * 8192);
	assert_int_equal(stream_read_exact(s, 3 * 8192, &b), STREAM_OK);
	stream_set_timeout(s, 0);
	stream_set_deadline(s, 1);
	while (stream_wait_ms(s) != 0)   /* until the deadline has passed */
		usleep(100);
	assert_int_equal(write(sv[1], "x", 1), 1);
	assert_int_equal(stream_read_exact(s, 1, &b), STREAM_TIMEOUT);
	buf_free(&b);
	free(data);
	close(sv[1]);
	stream_done(&s);
}

/* stream_read_blocking: reads of a blocking socket wait in the kernel
 * (SO_RCVTIMEO), end with STREAM_TIMEOUT after the timeout, keep a
 * partial line, and a deadline still ends a trickle; a pipe is refused
 * and keeps polling; a socket that turns out not to block is polled
 * from its first empty read on (a trickle slower than nothing, faster
 * than the timeout, still arrives whole). */
static void test_stream_blocking_reads_keep_timeout_and_deadline(void **state)
{
	int sv[2], p[2], status;
	struct stream *s, *np;
	const char *line;
	size_t len;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(p), 0);
	np = stream_new(p[0], -1, 100, 100);
	assert_int_equal(stream_read_blocking(np), -1);
	close(p[1]);
	stream_done(&np);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	np = stream_new(sv[0], sv[0], 100, 1000);
	assert_int_equal(stream_read_blocking(np), 0);
	pid = trickle(sv[1], sv[0]);
	close(sv[1]);
	assert_int_equal(stream_read_line(np, &line, &len), STREAM_OK);
	assert_int_equal(len, 41);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stream_done(&np);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], sv[0], 100, 100);
	assert_int_equal(stream_read_blocking(s), 0);
	assert_int_equal(write(sv[1], "one\npar", 7), 7);
	expect_line(s, STREAM_OK, "one\n");
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_TIMEOUT);
	assert_int_equal(write(sv[1], "tial\n", 5), 5);
	expect_line(s, STREAM_OK, "partial\n");
	/* A new timeout is taken up. */
	stream_set_timeout(s, 50);
	assert_int_equal(stream_read_line(s, &line, &len), STREAM_TIMEOUT);
	/* Under a deadline reads poll again: a trickle is cut at 200 ms. */
	stream_set_timeout(s, 1000);
	read_a_trickle(s, trickle(sv[1], sv[0]));
	close(sv[1]);
	expect_line(s, STREAM_EOF, "");
	stream_done(&s);
}

static void test_stream_read_exact_and_cap(void **state)
{
	const char *in = "LEN\nhello worldrest\n";
	struct stream *s = stream_of(in, strlen(in), 100);
	struct buf b, small;

	(void)state;
	buf_init(&b, 100);
	buf_init(&small, 3);
	expect_line(s, STREAM_OK, "LEN\n");
	assert_int_equal(stream_pending(s), strlen(in) - 4);
	assert_int_equal(stream_read_exact(s, 5, &b), STREAM_OK);
	assert_string_equal(buf_cstr(&b), "hello");
	/* Too big for the buf: reported, and the bytes are consumed so the
	 * stream stays in step. */
	assert_int_equal(stream_read_exact(s, 6, &small), STREAM_TOOLONG);
	assert_int_equal(small.len, 0);
	expect_line(s, STREAM_OK, "rest\n");
	assert_int_equal(stream_read_exact(s, 1, &b), STREAM_EOF);
	buf_free(&b);
	buf_free(&small);
	stream_done(&s);
}

/* What a child process writes with writer(w, data) through a stream
 * on a socketpair, read back whole (total bytes) through another
 * stream into b; the child must succeed. */
static void read_what_a_child_writes(int (*writer)(struct stream *w, const char *data), const char *data,
				     size_t total, struct buf *b)
{
	int sv[2], status;
	struct stream *s;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], sv[0], 64, 2000);
	if (fork() == 0) {
		struct stream *w = stream_new(sv[1], sv[1], 64, 2000);
		close(sv[0]);
		_exit(writer(w, data) == 0 && stream_flush(w) == 0 ? 0 : 1);
	}
	close(sv[1]);
	buf_init(b, total);
	assert_int_equal(stream_read_exact(s, total, b), STREAM_OK);
	assert_true(wait(&status) > 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	stream_done(&s);
}

/* Bytes that are not all the same, so that a shift shows. */
static char *pattern(size_t n)
{
	char *data = malloc(n);

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (char)(i * 7);
	return data;
}

enum { LARGE = 200000, BIG = 300000 };

static int write_large(struct stream *w, const char *data)
{
	return stream_write(w, data, LARGE);
}

static void test_stream_read_exact_large_across_reads(void **state)
{
	struct buf b;
	char *data = pattern(LARGE);

	(void)state;
	read_what_a_child_writes(write_large, data, LARGE, &b);
	assert_memory_equal(b.data, data, LARGE);
	buf_free(&b);
	free(data);
}

static int write_mixed(struct stream *w, const char *data)
{
	return stream_puts(w, "head ") | stream_write(w, data, BIG) | stream_puts(w, " mid ") |
	       stream_write(w, data, 70000) | stream_write(w, data, 10) | stream_puts(w, " tail");
}

/* Writes larger than the output buffer go out directly, in order with
 * what was queued before and after them. */
static void test_stream_large_writes_keep_their_order(void **state)
{
	struct buf b;
	char *data = pattern(BIG);

	(void)state;
	read_what_a_child_writes(write_mixed, data, 5 + BIG + 5 + 70000 + 10 + 5, &b);
	assert_memory_equal(b.data, "head ", 5);
	assert_memory_equal(b.data + 5, data, BIG);
	assert_memory_equal(b.data + 5 + BIG, " mid ", 5);
	assert_memory_equal(b.data + 10 + BIG, data, 70000);
	assert_memory_equal(b.data + 10 + BIG + 70000, data, 10);
	assert_memory_equal(b.data + 20 + BIG + 70000, " tail", 5);
	buf_free(&b);
	free(data);
}

static void test_stream_write_flush_and_printf(void **state)
{
	int p[2];
	struct stream *s;
	char got[64];

	(void)state;
	assert_int_equal(pipe(p), 0);
	s = stream_new(p[0], p[1], 100, 1000);
	assert_int_equal(stream_puts(s, "250 "), 0);
	assert_int_equal(stream_printf(s, "%s %d\r\n", "ok", 7), 0);
	assert_int_equal(stream_flush(s), 0);
	assert_int_equal(read(p[0], got, sizeof(got)), 10);
	assert_memory_equal(got, "250 ok 7\r\n", 10);
	close(p[1]);
	stream_done(&s);
}

static void test_stream_write_to_closed_socket_fails_without_sigpipe(void **state)
{
	int sv[2];
	struct stream *s;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	s = stream_new(sv[0], sv[0], 100, 1000);
	assert_int_equal(stream_puts(s, "hello\n"), 0);
	assert_int_equal(stream_flush(s), -1);
	assert_int_equal(errno, EPIPE);
	stream_done(&s);
}

static void test_stream_write_timeout(void **state)
{
	int sv[2];
	struct stream *s;
	char block[65536];
	int r = 0;

	(void)state;
	memset(block, 'x', sizeof(block));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = stream_new(sv[0], sv[0], 100, 50);
	/* Nobody reads sv[1]: the socket buffer fills, then we time out. */
	for (int i = 0; i < 100 && r == 0; i++)
		r = stream_write(s, block, sizeof(block));
	if (r == 0)
		r = stream_flush(s);
	assert_int_equal(r, -1);
	assert_int_equal(errno, ETIMEDOUT);
	close(sv[1]);
	stream_done(&s);
}

/* A client moving between processes: what one stream read ahead is
 * read first, once, by the next. */
static void test_stream_read_ahead_then_preload_reads_it_once(void **state)
{
	struct stream *s = stream_of("PASS x\r\nSTAT\r\nLI", 16, 64);
	struct stream *t;
	struct buf all;
	(void)state;

	expect_line(s, STREAM_OK, "PASS x\r\n");
	assert_int_equal(stream_pending(s), 8);
	buf_init(&all, 64);
	assert_int_equal(buf_set(&all, stream_peek(s), stream_pending(s)), 0);
	stream_done(&s);

	/* The next process: the preloaded bytes, then its descriptor's. */
	t = stream_of("ST 1\r\nQUIT\r\n", 12, 64);
	assert_int_equal(stream_preload(t, all.data, all.len), 0);
	assert_int_equal(stream_preload(t, "x", 1), -1);         /* only on a fresh stream */
	expect_line(t, STREAM_OK, "STAT\r\n");
	expect_line(t, STREAM_OK, "LIST 1\r\n");
	expect_line(t, STREAM_OK, "QUIT\r\n");
	expect_line(t, STREAM_EOF, "");
	stream_done(&t);
	buf_free(&all);
}

/* More preloaded than one line and its read-ahead: still every line,
 * and an overlong one is reported as from the descriptor. */
static void test_stream_preload_larger_than_the_line_buffer(void **state)
{
	char big[9000];
	struct stream *t;
	size_t n = 0;
	(void)state;

	while (n + 6 <= 4000) {
		memcpy(big + n, "NOOP\r\n", 6);
		n += 6;
	}
	memset(big + n, 'x', 5000);
	n += 5000;
	memcpy(big + n, "\r\n", 2);
	n += 2;
	t = stream_of("QUIT\r\n", 6, 64);
	assert_int_equal(stream_preload(t, big, n), 0);
	for (size_t i = 0; i + 6 <= 4000; i += 6)
		expect_line(t, STREAM_OK, "NOOP\r\n");
	expect_line(t, STREAM_TOOLONG, "");
	expect_line(t, STREAM_OK, "QUIT\r\n");
	stream_done(&t);
}

static void test_stream_tls_detach_without_tls_is_null(void **state)
{
	struct stream *s = stream_of("", 0, 64);
	(void)state;

	assert_null(stream_tls_detach(s));
	stream_done(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_reads_lines_with_terminator),
		cmocka_unit_test(test_stream_overlong_line_reported_once_then_next_line_ok),
		cmocka_unit_test(test_stream_overlong_line_reports_crlf_or_bare_lf),
		cmocka_unit_test(test_stream_overlong_partial_line_at_eof),
		cmocka_unit_test(test_stream_timeout_reported),
		cmocka_unit_test(test_stream_deadline_ends_a_trickle),
		cmocka_unit_test(test_stream_bulk_read_then_silence_times_out),
		cmocka_unit_test(test_stream_blocking_reads_keep_timeout_and_deadline),
		cmocka_unit_test(test_stream_read_exact_and_cap),
		cmocka_unit_test(test_stream_read_exact_large_across_reads),
		cmocka_unit_test(test_stream_large_writes_keep_their_order),
		cmocka_unit_test(test_stream_write_flush_and_printf),
		cmocka_unit_test(test_stream_write_to_closed_socket_fails_without_sigpipe),
		cmocka_unit_test(test_stream_write_timeout),
		cmocka_unit_test(test_stream_read_ahead_then_preload_reads_it_once),
		cmocka_unit_test(test_stream_preload_larger_than_the_line_buffer),
		cmocka_unit_test(test_stream_tls_detach_without_tls_is_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
