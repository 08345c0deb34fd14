/* libFuzzer target for common/stream.c and the stream side of
 * common/record.c: the input is fed through a socketpair into
 * stream_read_line, record_read and record_read_chunk.  The first byte
 * picks the reader and the line limit. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "record.h"
#include "stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void read_lines(struct stream *s)
{
	const char *line;
	size_t len;
	enum stream_status st;

	do {
		st = stream_read_line(s, &line, &len);
		if (len > 0 && line[len - 1] != '\n' && st != STREAM_EOF)
			abort();
	} while (st == STREAM_OK || st == STREAM_TOOLONG);
}

static void read_records(struct stream *s)
{
	struct record rec = { 0 };
	struct buf body;
	const char *error;
	size_t n;
	enum stream_status st;

	buf_init(&body, 4096);
	if (record_read(s, &rec, &error) == STREAM_OK) {
		do
			st = record_read_chunk(s, &body, &n);
		while ((st == STREAM_OK && n > 0) || st == STREAM_TOOLONG);
	}
	record_clear(&rec);
	buf_free(&body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2];
	struct stream *s;

	/* Keep within one socket buffer so the write cannot block. */
	if (size < 1 || size > 100000)
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return 0;
	if (write(sv[1], data + 1, size - 1) != (ssize_t)(size - 1)) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	close(sv[1]);
	s = stream_new(sv[0], sv[0], 1 + (data[0] & 0x7f), 1000);
	if (s != NULL) {
		if (data[0] & 0x80)
			read_records(s);
		else
			read_lines(s);
		stream_free(&s);
	}
	close(sv[0]);
	return 0;
}
