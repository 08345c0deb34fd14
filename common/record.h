/* record: the text framing of every inter-process request and answer
 * (docs/protocols.md).  A record is `key=value` lines ended by an empty
 * line.  Keys are [a-z0-9_]; in values the bytes 0x00-0x1f, 0x7f and '%'
 * are written as %XX, so no value can inject a line or a record.  Bulk data
 * (a message) follows a record as chunks: a decimal length line `N\n`, N
 * raw bytes, repeated, and `0\n` at the end. */
#ifndef POSTERN_RECORD_H
#define POSTERN_RECORD_H

#include <stddef.h>
#include "buf.h"
#include "stream.h"

#define RECORD_MAX_FIELDS 4096   /* a request with more fields is refused: 1000 recipients with NOTIFY and ORCPT fit */
#define RECORD_MAX_VALUE 4096    /* longest decoded value */

struct record_field {
	char *key;
	char *value;     /* decoded, NUL-terminated (may contain no NUL) */
	size_t value_len;
};

struct record {
	struct record_field *fields;
	size_t n;
	size_t alloc;
};

/* Append `key=value\n` (value escaped) to out. 0 or -1. */
int record_put(struct buf *out, const char *key, const char *value, size_t value_len);
/* Append key with a C string value. */
int record_put_str(struct buf *out, const char *key, const char *value);
/* Append key with an unsigned number value. */
int record_put_num(struct buf *out, const char *key, unsigned long long value);
/* Append the empty line that ends a record. */
int record_end(struct buf *out);
/* Read one record from a stream.  STREAM_OK, STREAM_EOF (clean end before
 * any field), or STREAM_ERROR/TOOLONG/TIMEOUT with *error_r.  rec must be
 * zero-initialised before first use; its old fields are cleared. */
enum stream_status record_read(struct stream *in, struct record *rec, const char **error_r);
/* Parse one record from memory (n bytes, must end with the empty line). */
int record_parse(const char *p, size_t n, struct record *rec, size_t *consumed_r, const char **error_r);
/* First value of key, or NULL. */
const char *record_get(const struct record *rec, const char *key);
/* Value of key as an unsigned number; -1 if absent or malformed. */
int record_get_num(const struct record *rec, const char *key, unsigned long long *value_r);
/* Free the fields and empty the record (reusable). */
void record_clear(struct record *rec);
/* Write one data chunk header + bytes to a stream (n > 0; data over 1 MiB
 * is split into several chunks).  The caller flushes. */
int record_write_chunk(struct stream *out, const void *p, size_t n);
enum record_call_status {
	RECORD_CALL_OK = 0,
	RECORD_CALL_CONNECT,     /* no connection (errno: ENOENT no such socket, ...) */
	RECORD_CALL_SEND,        /* the request could not be sent */
	RECORD_CALL_ANSWER,      /* no valid answer record within the timeout */
};
/* One exchange on a new connection to the Unix socket at path: send req
 * whole with send(2) (no copy stays in a stream buffer, so the caller
 * can wipe req), read one answer record into rec, close; every wait
 * within timeout_ms.  RECORD_CALL_OK, or the step that failed. */
enum record_call_status record_call(const char *path, const struct buf *req, int timeout_ms,
				    struct record *rec);
/* Write the terminating zero chunk. */
int record_write_chunk_end(struct stream *out);
/* Read one chunk appending to data; *n_r is its size (0 = end).  Fails
 * with STREAM_TOOLONG when data would grow past its cap: the chunk's bytes
 * are then read and dropped, so the caller may keep reading chunks up to
 * the end and answer with a clean error.  A malformed length line (sign,
 * leading zero, over 1 MiB) is STREAM_ERROR with errno EPROTO; the peer
 * closing mid-chunk is STREAM_EOF. */
enum stream_status record_read_chunk(struct stream *in, struct buf *data, size_t *n_r);

#endif
