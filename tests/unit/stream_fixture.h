/* Streams over pipes for the unit tests of the stream layer and of what
 * reads records and lines through it (include after cmocka.h). */
#ifndef POSTERN_TEST_STREAM_FIXTURE_H
#define POSTERN_TEST_STREAM_FIXTURE_H

#include <string.h>
#include <unistd.h>

#include "stream.h"

/* A stream reading what was written into a pipe (then closed). */
static inline struct stream *stream_of(const void *data, size_t len, size_t max_line)
{
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], data, len), (ssize_t)len);
	close(p[1]);
	return stream_new(p[0], -1, max_line, 2000);
}

static inline void stream_done(struct stream **s)
{
	close(stream_fd(*s));
	stream_free(s);
	assert_null(*s);
}

/* The next line of s is text (terminator included), read with status st. */
static inline void expect_line(struct stream *s, enum stream_status st, const char *text)
{
	const char *line;
	size_t len;

	assert_int_equal(stream_read_line(s, &line, &len), st);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(line, text, len);
}

#endif
