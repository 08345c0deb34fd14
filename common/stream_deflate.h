/* stream_deflate: raw deflate (RFC 1951) both ways for a stream, as IMAP
 * COMPRESS=DEFLATE (RFC 4978) wants it: compressed input buffered and
 * inflated into the caller's room only, output compressed and written
 * through a callback, a sync flush at the end of each burst.  No I/O of
 * its own; common/stream.c puts it between its buffers and the
 * descriptors (stream_start_deflate). */
#ifndef POSTERN_STREAM_DEFLATE_H
#define POSTERN_STREAM_DEFLATE_H

#include <stdbool.h>
#include <stddef.h>

#define STREAM_DEFLATE_IN_BLOCK 16384    /* compressed input read at a time */
#define STREAM_DEFLATE_OUT_BLOCK 16384   /* compressed output handed to emit at a time */

enum stream_deflate_status {
	STREAM_DEFLATE_OK,       /* *made_r bytes (0: give it more input) */
	STREAM_DEFLATE_END,      /* the peer ended its deflate stream: nothing more comes */
	STREAM_DEFLATE_CORRUPT,  /* not deflate data (stream_deflate_error says why); final */
};

struct stream_deflate;

/* Writes n compressed bytes completely.  0, or -1 with errno. */
typedef int stream_deflate_emit_fn(void *ctx, const void *p, size_t n);

/* Fresh inflate and deflate state; NULL (errno ENOMEM) when zlib cannot have its memory. */
struct stream_deflate *stream_deflate_new(void);
/* Free the state (its buffers wiped); *zp = NULL. */
void stream_deflate_free(struct stream_deflate **zp);

/* Take n compressed bytes read before the switch (the stream's read-ahead). 0, or -1 (ENOMEM). */
int stream_deflate_in_put(struct stream_deflate *z, const void *p, size_t n);
/* Where the next compressed bytes may be read to (*n_r > 0). */
void stream_deflate_in_room(struct stream_deflate *z, void **p_r, size_t *n_r);
/* n bytes were read into the room. */
void stream_deflate_in_added(struct stream_deflate *z, size_t n);
/* Whether inflating may give bytes without further input (input buffered,
 * or the last inflate stopped because its room was full). */
bool stream_deflate_in_ready(const struct stream_deflate *z);
/* Inflate buffered input into out, at most n bytes: *made_r of them.
 * Output never exceeds n, however much the input would inflate to. */
enum stream_deflate_status stream_deflate_inflate(struct stream_deflate *z, void *out, size_t n,
						  size_t *made_r);
/* Why the input was refused (after STREAM_DEFLATE_CORRUPT), else NULL. */
const char *stream_deflate_error(const struct stream_deflate *z);

/* Compress n bytes and hand what is made to emit; with sync, end with a
 * sync flush (RFC 4978 4) so the peer can inflate all sent so far.  A
 * sync with nothing compressed since the last one writes nothing.
 * 0, or -1 (emit's errno, or EPROTO for a zlib failure). */
int stream_deflate_out(struct stream_deflate *z, const void *p, size_t n, bool sync,
		       stream_deflate_emit_fn *emit, void *ctx);

#endif
