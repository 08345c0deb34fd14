/* stream_deflate: raw deflate both ways for a stream (RFC 4978 IMAP
 * COMPRESS=DEFLATE), with zlib.
 *
 * Offers: inflate of the peer's compressed input into a room the caller
 * chooses, and deflate of the caller's output through an emit callback.
 * RFC 4978 4: raw deflate (no zlib header or checksum: windowBits -15);
 * the sender flushes at the end of each burst of data (Z_SYNC_FLUSH),
 * so that the other side can inflate everything sent so far and is never
 * left waiting for bytes the compressor still holds; within a burst
 * (a large FETCH) the compressor is not flushed.
 *
 * Trusts: nothing it inflates.  Memory is fixed whatever the input: the
 * compressed input buffer (STREAM_DEFLATE_IN_BLOCK, or the read-ahead
 * handed over at the switch), zlib's window and tables, and the output
 * block.  Inflated bytes go only into the room the caller gives, so a
 * compression bomb (a few kilobytes that inflate to gigabytes) comes out
 * a roomful at a time, and the caller's own limits (line length, literal
 * size) apply to it as to plain input.  Every allocation, zlib's
 * included, is wiped when freed: the window holds recent mail and
 * commands.
 *
 * Fails: input that is not deflate data is STREAM_DEFLATE_CORRUPT, for
 * good (the stream cannot be resynchronised), with zlib's reason.  The
 * end of the peer's deflate stream (a Z_FINISH) is STREAM_DEFLATE_END;
 * anything after it is ignored.  A zlib failure while compressing is
 * -1 with EPROTO (it cannot happen with a valid state). */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "stream_deflate.h"

#define STREAM_DEFLATE_LEVEL 6       /* zlib's default: most of the gain, little CPU */
#define STREAM_DEFLATE_MEMLEVEL 8    /* zlib's default: 128 KB of compressor state */
#define STREAM_DEFLATE_WBITS (-15)   /* raw deflate, 32 KB window (RFC 4978 4) */

struct stream_deflate {
	z_stream in;             /* inflate: next_in/avail_in point into zin */
	z_stream out;            /* deflate */
	unsigned char *zin;      /* compressed input */
	size_t zin_cap;
	unsigned char *zout;     /* STREAM_DEFLATE_OUT_BLOCK bytes */
	bool in_init, out_init;  /* zlib states to end */
	bool in_full;            /* the last inflate filled its room */
	bool ended, corrupt;
	bool dirty;              /* compressed since the last sync flush */
	const char *error;
};

/* ---- zlib's memory: sized, so that it can be wiped when freed ---- */

#define STREAM_DEFLATE_HDR (sizeof(max_align_t))

static voidpf stream_deflate_zalloc(voidpf opaque, uInt items, uInt size)
{
	size_t n;
	unsigned char *p;

	(void)opaque;
	if (__builtin_mul_overflow((size_t)items, (size_t)size, &n) ||
	    __builtin_add_overflow(n, STREAM_DEFLATE_HDR, &n) || (p = malloc(n)) == NULL)
		return Z_NULL;
	memcpy(p, &n, sizeof(n));
	return p + STREAM_DEFLATE_HDR;
}

static void stream_deflate_zfree(voidpf opaque, voidpf ptr)
{
	unsigned char *p;
	size_t n;

	(void)opaque;
	if (ptr == Z_NULL)
		return;
	p = (unsigned char *)ptr - STREAM_DEFLATE_HDR;
	memcpy(&n, p, sizeof(n));
	explicit_bzero(p, n);
	free(p);
}

static void stream_deflate_wipe_free(unsigned char *p, size_t n)
{
	if (p != NULL)
		explicit_bzero(p, n);
	free(p);
}

/* ---- life ---- */

struct stream_deflate *stream_deflate_new(void)
{
	struct stream_deflate *z = calloc(1, sizeof(*z));

	if (z == NULL)
		return NULL;
	z->in.zalloc = z->out.zalloc = stream_deflate_zalloc;
	z->in.zfree = z->out.zfree = stream_deflate_zfree;
	z->zin_cap = STREAM_DEFLATE_IN_BLOCK;
	z->zin = malloc(z->zin_cap);
	z->zout = malloc(STREAM_DEFLATE_OUT_BLOCK);
	if (z->zin != NULL && z->zout != NULL) {
		z->in_init = inflateInit2(&z->in, STREAM_DEFLATE_WBITS) == Z_OK;
		z->out_init = z->in_init &&
			      deflateInit2(&z->out, STREAM_DEFLATE_LEVEL, Z_DEFLATED, STREAM_DEFLATE_WBITS,
					   STREAM_DEFLATE_MEMLEVEL, Z_DEFAULT_STRATEGY) == Z_OK;
	}
	if (!z->out_init) {
		stream_deflate_free(&z);
		errno = ENOMEM;
		return NULL;
	}
	z->in.next_in = z->zin;
	z->in.avail_in = 0;
	return z;
}

void stream_deflate_free(struct stream_deflate **zp)
{
	struct stream_deflate *z = *zp;

	if (z == NULL)
		return;
	if (z->in_init)
		inflateEnd(&z->in);
	if (z->out_init)
		deflateEnd(&z->out);
	stream_deflate_wipe_free(z->zin, z->zin_cap);
	stream_deflate_wipe_free(z->zout, STREAM_DEFLATE_OUT_BLOCK);
	free(z);
	*zp = NULL;
}

/* ---- input ---- */

/* Move the unread input to the front of zin. */
static void stream_deflate_in_compact(struct stream_deflate *z)
{
	if (z->in.avail_in == 0)
		z->in.next_in = z->zin;
	else if (z->in.next_in != z->zin) {
		memmove(z->zin, z->in.next_in, z->in.avail_in);
		z->in.next_in = z->zin;
	}
}

int stream_deflate_in_put(struct stream_deflate *z, const void *p, size_t n)
{
	size_t need;

	stream_deflate_in_compact(z);
	if (__builtin_add_overflow((size_t)z->in.avail_in, n, &need) || need > UINT_MAX) {
		errno = ENOMEM;
		return -1;
	}
	if (need > z->zin_cap) {
		/* Once, at the switch: a read-ahead larger than one block. */
		unsigned char *grown = malloc(need);

		if (grown == NULL) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(grown, z->in.next_in, z->in.avail_in);
		stream_deflate_wipe_free(z->zin, z->zin_cap);
		z->zin = grown;
		z->zin_cap = need;
		z->in.next_in = grown;
	}
	memcpy(z->zin + z->in.avail_in, p, n);
	z->in.avail_in += (uInt)n;
	return 0;
}

void stream_deflate_in_room(struct stream_deflate *z, void **p_r, size_t *n_r)
{
	stream_deflate_in_compact(z);
	*p_r = z->zin + z->in.avail_in;
	*n_r = z->zin_cap - z->in.avail_in;
}

void stream_deflate_in_added(struct stream_deflate *z, size_t n)
{
	z->in.avail_in += (uInt)n;   /* n <= the room, which is at most zin_cap <= UINT_MAX */
}

bool stream_deflate_in_ready(const struct stream_deflate *z)
{
	return !z->ended && !z->corrupt && (z->in.avail_in > 0 || z->in_full);
}

enum stream_deflate_status stream_deflate_inflate(struct stream_deflate *z, void *out, size_t n,
						  size_t *made_r)
{
	uInt room = n > UINT_MAX ? UINT_MAX : (uInt)n;
	int r;

	*made_r = 0;
	if (z->corrupt)
		return STREAM_DEFLATE_CORRUPT;
	if (z->ended)
		return STREAM_DEFLATE_END;
	if (room == 0)
		return STREAM_DEFLATE_OK;
	z->in.next_out = out;
	z->in.avail_out = room;
	r = inflate(&z->in, Z_SYNC_FLUSH);
	*made_r = room - z->in.avail_out;
	z->in_full = z->in.avail_out == 0;
	switch (r) {
	case Z_OK:
	case Z_BUF_ERROR:   /* no progress possible: it needs input */
		return STREAM_DEFLATE_OK;
	case Z_STREAM_END:
		z->ended = true;
		z->in_full = false;
		/* What came out before the end is delivered first. */
		return *made_r > 0 ? STREAM_DEFLATE_OK : STREAM_DEFLATE_END;
	case Z_MEM_ERROR:
		z->error = "out of memory inflating";
		break;
	default:   /* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
		z->error = z->in.msg != NULL ? z->in.msg : "not deflate data";
		break;
	}
	z->corrupt = true;
	z->in_full = false;
	/* Bytes inflated before the damage are good: the next call says CORRUPT. */
	return *made_r > 0 ? STREAM_DEFLATE_OK : STREAM_DEFLATE_CORRUPT;
}

const char *stream_deflate_error(const struct stream_deflate *z)
{
	return z->corrupt ? z->error : NULL;
}

/* ---- output ---- */

/* Run deflate over the pending input with flush until it needs more input
 * (and, for a sync flush, until the flush is complete), emitting output. */
static int stream_deflate_run(struct stream_deflate *z, int flush, stream_deflate_emit_fn *emit, void *ctx)
{
	do {
		int r;
		size_t have;

		z->out.next_out = z->zout;
		z->out.avail_out = STREAM_DEFLATE_OUT_BLOCK;
		r = deflate(&z->out, flush);
		if (r != Z_OK && r != Z_BUF_ERROR) {
			errno = EPROTO;
			return -1;
		}
		have = STREAM_DEFLATE_OUT_BLOCK - z->out.avail_out;
		if (have > 0 && emit(ctx, z->zout, have) < 0)
			return -1;
		/* A full block may leave more: zlib asks to be called again. */
	} while (z->out.avail_out == 0);
	return 0;
}

int stream_deflate_out(struct stream_deflate *z, const void *p, size_t n, bool sync,
		       stream_deflate_emit_fn *emit, void *ctx)
{
	const unsigned char *c = p;

	while (n > 0) {
		uInt chunk = n > UINT_MAX ? UINT_MAX : (uInt)n;

		z->out.next_in = c;
		z->out.avail_in = chunk;
		if (stream_deflate_run(z, Z_NO_FLUSH, emit, ctx) < 0)
			return -1;
		c += chunk;
		n -= chunk;
		z->dirty = true;
	}
	if (sync && z->dirty) {
		z->out.next_in = c;
		z->out.avail_in = 0;
		if (stream_deflate_run(z, Z_SYNC_FLUSH, emit, ctx) < 0)
			return -1;
		z->dirty = false;
	}
	return 0;
}
