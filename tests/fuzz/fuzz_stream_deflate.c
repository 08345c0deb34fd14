/* libFuzzer target for the compressed input path of common/stream.c and
 * common/stream_deflate.c (IMAP COMPRESS=DEFLATE): a plain line, then
 * the switch (stream_start_deflate, with whatever followed the line
 * already buffered, as a pipelining client leaves it), then the rest
 * read through the inflater with stream_read_line, stream_read_exact or
 * stream_read_some/stream_consume.
 *
 * Input: byte 0 picks the line limit (low 6 bits) and the reader (high
 * 2 bits: 0 lines of at most the limit, 1 lines, 2 exact reads, 3
 * read_some/consume); byte 1 bit 0 says whether the rest is taken as compressed
 * bytes as they are (corrupt streams, odd block types) or is plain text
 * the target deflates first (a valid stream whose content is fuzzed:
 * then every inflated byte must come out, exactly, and the rest of
 * byte 1 says how often the client flushes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "stream.h"
#include "stream_deflate.h"

#define FUZZ_MAX 65536   /* compressed bytes: within one socket buffer */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Raw deflate of p with a sync flush every `every` bytes (0: at the end
 * only), as a client sends it; *n_r bytes into out (cap bytes). */
static int deflate_as_client(const uint8_t *p, size_t n, size_t every, uint8_t *out, size_t cap, size_t *n_r)
{
	z_stream zs;
	size_t done = 0;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	zs.next_out = out;
	zs.avail_out = cap;
	while (done < n) {
		size_t k = every > 0 && n - done > every ? every : n - done;

		zs.next_in = (uint8_t *)p + done;
		zs.avail_in = k;
		if (deflate(&zs, Z_SYNC_FLUSH) != Z_OK || zs.avail_in != 0 || zs.avail_out == 0) {
			deflateEnd(&zs);
			return -1;
		}
		done += k;
	}
	*n_r = cap - zs.avail_out;
	deflateEnd(&zs);
	return 0;
}

/* Read everything; the number of inflated bytes seen. */
static size_t read_all(struct stream *s, unsigned int mode, size_t step)
{
	const char *p;
	size_t len, total = 0;
	enum stream_status st;
	struct buf lit;

	switch (mode) {
	case 0:
	case 1:
		do {
			st = stream_read_line(s, &p, &len);
			if (len > 0 && p[len - 1] != '\n' && st != STREAM_EOF)
				abort();
			total += len;
		} while (st == STREAM_OK || st == STREAM_TOOLONG);
		return total;
	case 2:
		buf_init(&lit, 4096);
		do {
			buf_reset(&lit);
			st = stream_read_exact(s, step * 97, &lit);
			if (st == STREAM_OK && lit.len != step * 97)
				abort();
		} while (st == STREAM_OK || st == STREAM_TOOLONG);
		buf_free(&lit);
		return 0;
	default:
		while (stream_read_some(s, &p, &len) == STREAM_OK) {
			size_t k = len < step ? len : step;

			stream_consume(s, k);
			total += k;
			if (stream_pending(s) > 65536 + 4096)
				abort();   /* more than a line and read-ahead: the bound broke */
		}
		return total;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t wire[FUZZ_MAX + 64];
	int sv[2];
	size_t n, plain = 0, step;
	unsigned int mode;
	struct stream *s;
	struct stream_deflate *z;
	const char *line;
	size_t len;

	if (size < 2 || size > FUZZ_MAX)
		return 0;
	mode = data[0] >> 6;
	step = 1 + (data[0] & 0x3f) * 31;
	memcpy(wire, "c\r\n", 3);
	if (data[1] & 1) {
		n = size - 2;
		memcpy(wire + 3, data + 2, n);
	} else {
		plain = size - 2;
		if (deflate_as_client(data + 2, plain, (data[1] >> 1) * 7, wire + 3, FUZZ_MAX, &n) < 0)
			return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[1], wire, n + 3) != (ssize_t)(n + 3)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[1]);
	s = stream_new(sv[0], sv[0], mode == 0 ? step : 65536, 1000);
	z = stream_deflate_new();
	if (s != NULL && z != NULL && stream_read_line(s, &line, &len) == STREAM_OK &&
	    stream_start_deflate(s, &z) == 0) {
		size_t got = read_all(s, mode, step);

		/* A valid stream comes out whole, in order, nothing added. */
		if (plain > 0 && (mode == 1 || mode == 3) && got != plain)
			abort();
	}
	stream_deflate_free(&z);
	stream_free(&s);
	close(sv[0]);
	return 0;
}
