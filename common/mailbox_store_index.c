/* mailbox_store_index: postern-index, the store's append-only log.
 *
 * Offers: the record codec (fixed 64-byte little-endian records after a
 * 64-byte header), reading the whole log or only what was appended since
 * the last read (or since the snapshot a session started from),
 * appending records, creating and compacting the file, logging the
 * measurements a session made.  Every record read or written is folded
 * into the folder's state (mailbox_store_fold.c): per UID its
 * measurements, flags and MODSEQ; remembered expunges; directory stamps;
 * the \Recent mark.  A sync thus costs time in proportion to the records
 * other sessions appended, not to the folder's size.
 *
 * Concurrency: records are appended under the exclusive folder lock in
 * one write() and read under at least the shared lock, so a reader never
 * sees half a record.  A tail that is not a whole record (a crash in the
 * middle of a write) is ignored by readers and cut off by the next
 * writer.  Compaction writes a new file and renames it into place;
 * readers notice the new inode and read it whole.
 *
 * Trusts: nothing in the file: its size is bounded (MBOX_INDEX_MAX),
 * the header must match the folder's UIDVALIDITY, every record is
 * checked (mbox_index_rec_decode) and a bad one ends the read there as
 * if the log ended (the rest is rebuilt from the directory).  Fuzzed by
 * tests/fuzz/fuzz_store_index.c.
 *
 * Fails: -1 with errno; the caller turns that into a temporary error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "mailbox_store_int.h"

#define MBOX_INDEX_MAGIC "POSTERN-INDEX\0\0\0"   /* 16 bytes */
#define MBOX_INDEX_VERSION 2   /* 1: no MEASURE records, no log ID (read, rewritten before a write) */
#define MBOX_INDEX_TMP "postern-index.tmp"
#define MBOX_READ_RECORDS 1024                   /* records per read() */

/* ---- codec ---- */

void *mbox_grow(void *arr, size_t n, size_t *alloc, size_t elem)
{
	if (n < *alloc)
		return arr;
	size_t na = *alloc == 0 ? 64 : *alloc * 2;
	void *p = reallocarray(arr, na, elem);
	if (p != NULL)
		*alloc = na;
	return p;
}

void mbox_rec_sizes_get(const unsigned char *p, struct mbox_index_rec *r)
{
	r->size = mbox_get64(p + 24);
	r->vsize = mbox_get64(p + 32);
	r->date = (long long)mbox_get64(p + 40);
	r->hdr_size = mbox_get64(p + 48);
	r->body_lines = mbox_get64(p + 56);
}

void mbox_rec_sizes_put(unsigned char *p, const struct mbox_index_rec *r)
{
	mbox_put64(p + 24, r->size);
	mbox_put64(p + 32, r->vsize);
	mbox_put64(p + 40, (uint64_t)r->date);
	mbox_put64(p + 48, r->hdr_size);
	mbox_put64(p + 56, r->body_lines);
}

void mbox_index_header_encode(const struct mbox_index_hdr *h, unsigned char *out)
{
	memset(out, 0, MBOX_INDEX_HDR_SIZE);
	memcpy(out, MBOX_INDEX_MAGIC, 16);
	mbox_put32(out + 16, h->version == 1 ? 1 : MBOX_INDEX_VERSION);
	mbox_put32(out + 20, h->uidvalidity);
	mbox_put64(out + 24, h->modseq_base);
	mbox_put64(out + 32, h->expunge_floor);
	if (h->version != 1)
		mbox_put64(out + 40, h->log_id);
}

int mbox_index_header_parse(const unsigned char *p, size_t len, struct mbox_index_hdr *h)
{
	if (len < MBOX_INDEX_HDR_SIZE || memcmp(p, MBOX_INDEX_MAGIC, 16) != 0 ||
	    (mbox_get32(p + 16) != 1 && mbox_get32(p + 16) != MBOX_INDEX_VERSION) || mbox_get32(p + 20) == 0)
		return -1;
	h->version = mbox_get32(p + 16);
	h->uidvalidity = mbox_get32(p + 20);
	h->modseq_base = mbox_get64(p + 24);
	h->expunge_floor = mbox_get64(p + 32);
	h->log_id = h->version >= 2 ? mbox_get64(p + 40) : 0;
	if (h->expunge_floor > h->modseq_base || h->modseq_base > INT64_MAX ||
	    (h->version >= 2 && h->log_id == 0))
		return -1;
	return 0;
}

void mbox_index_rec_encode(const struct mbox_index_rec *r, unsigned char *out)
{
	memset(out, 0, MBOX_REC_SIZE);
	out[0] = r->type;
	out[1] = r->state;
	mbox_put32(out + 4, r->uid);
	mbox_put64(out + 8, r->modseq);
	if (r->type == MBOX_REC_STAMP) {
		mbox_put32(out + 16, r->stamp_verified);
		mbox_put64(out + 24, (uint64_t)r->new_stamp);
		mbox_put64(out + 32, (uint64_t)r->cur_stamp);
		return;
	}
	mbox_put32(out + 16, r->flags);
	mbox_put32(out + 20, r->other);
	mbox_rec_sizes_put(out, r);
}

int mbox_index_rec_decode(const unsigned char *p, struct mbox_index_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = p[0];
	r->state = p[1];
	r->uid = mbox_get32(p + 4);
	r->modseq = mbox_get64(p + 8);
	if ((p[1] & ~MBOX_STATE_BITS) != 0 || p[2] != 0 || p[3] != 0 || r->modseq > INT64_MAX ||
	    (r->type != MBOX_REC_MSG && (p[1] & MBOX_STATE_UNMEASURED) != 0))
		return -1;
	switch (r->type) {
	case MBOX_REC_STAMP:
		r->stamp_verified = mbox_get32(p + 16);
		r->new_stamp = (long long)mbox_get64(p + 24);
		r->cur_stamp = (long long)mbox_get64(p + 32);
		return r->stamp_verified <= 3 ? 0 : -1;
	case MBOX_REC_RECENT:
		return 0;
	case MBOX_REC_MSG:
	case MBOX_REC_FLAGS:
	case MBOX_REC_EXPUNGE:
	case MBOX_REC_MEASURE:
		break;
	default:
		return -1;
	}
	r->flags = mbox_get32(p + 16);
	r->other = mbox_get32(p + 20);
	mbox_rec_sizes_get(p, r);
	if (r->type == MBOX_REC_MEASURE)   /* facts of the file: no change, no MODSEQ */
		return r->uid == 0 || r->modseq != 0 || r->state != 0 || r->flags != 0 || r->other != 0 ||
				       r->date != 0 || r->size > INT64_MAX || r->vsize < r->size ||
				       r->hdr_size > r->size || r->body_lines > r->size + 1 ? -1 : 0;
	if (r->uid == 0 || r->modseq == 0 ||
	    (r->flags & ~(MBOX_SYSTEM_FLAGS | (((1u << MBOX_KEYWORDS_MAX) - 1) << 5))) != 0 ||
	    (r->other & ~((1u << 26) - 1)) != 0)
		return -1;
	if (r->type == MBOX_REC_MSG &&
	    (r->size > INT64_MAX || r->vsize < r->size || r->hdr_size > r->size ||
	     r->body_lines > r->size + 1))
		return -1;
	return 0;
}

/* ---- reading ---- */

ssize_t mbox_pread_full(int fd, void *p, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)p + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Fold the whole records of [off, end).  Stops (as at the end of the
 * log) at a record that does not decode. */
static int mbox_index_read_records(struct mbox *mb, int fd, off_t off, off_t end)
{
	struct mbox_state *st = mb->st;
	unsigned char *block = malloc((size_t)MBOX_READ_RECORDS * MBOX_REC_SIZE);
	int r = 0;

	if (block == NULL)
		return -1;
	while (end - off >= MBOX_REC_SIZE) {
		size_t want = (size_t)(end - off) / MBOX_REC_SIZE;
		if (want > MBOX_READ_RECORDS)
			want = MBOX_READ_RECORDS;
		ssize_t got = mbox_pread_full(fd, block, want * MBOX_REC_SIZE, off);
		if (got < 0) {
			r = -1;
			break;
		}
		size_t recs = (size_t)got / MBOX_REC_SIZE;
		for (size_t i = 0; i < recs; i++) {
			struct mbox_index_rec rec;
			if (mbox_index_rec_decode(block + i * MBOX_REC_SIZE, &rec) < 0) {
				end = off;   /* a damaged record ends the log */
				break;
			}
			if (mbox_fold_rec(mb, &rec) < 0) {
				r = -1;
				break;
			}
			off += MBOX_REC_SIZE;
			st->idx_records++;
			st->snap_tail += st->snap != NULL;
		}
		if (r < 0 || recs < want)
			break;
	}
	st->idx_pos.off = off;
	mbox_fold_drop_dead(st);
	free(block);
	return r;
}

int mbox_index_read(struct mbox *mb, int *full_r)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	unsigned char hdr[MBOX_INDEX_HDR_SIZE];
	struct mbox_index_hdr h;
	int fd, r = 0;

	*full_r = 0;
	fd = openat(mb->dirfd, MBOX_INDEX_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		mbox_filepos_forget(&st->idx_pos);
		return 1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((unsigned long long)sb.st_size > MBOX_INDEX_MAX) {
		close(fd);
		return 1;   /* outgrew its bound: rebuilt */
	}
	if (st->idx_pos.known && st->idx_pos.dev == sb.st_dev && st->idx_pos.ino == sb.st_ino) {
		if (sb.st_size > st->idx_pos.off)
			r = mbox_index_read_records(mb, fd, st->idx_pos.off, sb.st_size);
		close(fd);
		return r;
	}
	/* New or replaced (compacted) file: read it whole. */
	*full_r = 1;
	if (mbox_pread_full(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
	    mbox_index_header_parse(hdr, sizeof(hdr), &h) < 0 || h.uidvalidity != mb->uidvalidity) {
		close(fd);
		return 1;   /* another folder's or damaged: rebuilt */
	}
	mbox_fold_reset(mb, &h);
	mbox_filepos_take(&st->idx_pos, fd, &sb, MBOX_INDEX_HDR_SIZE);   /* fd stays open */
	return mbox_index_read_records(mb, fd, MBOX_INDEX_HDR_SIZE, sb.st_size);
}

void mbox_filepos_take(struct mbox_filepos *pos, int fd, const struct stat *sb, off_t off)
{
	if (pos->pin >= 0 && pos->pin != fd)
		close(pos->pin);
	*pos = (struct mbox_filepos){ sb->st_dev, sb->st_ino, off, 1, fd };
}

void mbox_filepos_forget(struct mbox_filepos *pos)
{
	if (pos->pin >= 0)
		close(pos->pin);
	pos->pin = -1;
	pos->known = 0;
}

/* ---- writing ---- */

uint64_t mbox_index_next_modseq(const struct mbox *mb)
{
	return mb->highestmodseq + 1;
}

/* A log's ID: random, so that a snapshot never takes another log (one
 * made later, by anyone) for the one it summarizes. */
static uint64_t mbox_index_new_id(void)
{
	uint64_t id = 0;

	if (getrandom(&id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		id = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 40);
	}
	return id != 0 ? id : 1;
}

int mbox_index_append(struct mbox *mb, const struct mbox_index_rec *recs, size_t n)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	unsigned char *out;
	int fd, r = -1;

	if (n == 0)
		return 0;
	/* A version 1 log is first rewritten as version 2: a reader of
	 * version 1 would take a MEASURE record for damage and cut there. */
	if (st->hdr.version < 2 && mbox_index_compact(mb, 1) < 0)
		return -1;
	if ((out = calloc(n, MBOX_REC_SIZE)) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++)
		mbox_index_rec_encode(&recs[i], out + i * MBOX_REC_SIZE);
	fd = openat(mb->dirfd, MBOX_INDEX_NAME, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto out;
	if (!S_ISREG(sb.st_mode) || !st->idx_pos.known || sb.st_ino != st->idx_pos.ino ||
	    sb.st_dev != st->idx_pos.dev || sb.st_size < st->idx_pos.off) {
		errno = ESTALE;   /* the caller read the log under this lock first */
		goto out;
	}
	/* Cut a torn tail (a crashed writer) before appending. */
	if (sb.st_size != st->idx_pos.off && ftruncate(fd, st->idx_pos.off) < 0)
		goto out;
	if (lseek(fd, st->idx_pos.off, SEEK_SET) < 0 ||
	    fd_write_all(fd, out, n * MBOX_REC_SIZE) < 0)
		goto out;
	r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = mbox_fold_rec(mb, &recs[i]);
	st->idx_pos.off += (off_t)(n * MBOX_REC_SIZE);
	st->idx_records += n;
	if (st->snap != NULL)
		st->snap_tail += n;
	mbox_fold_drop_dead(st);
out:
	if (fd >= 0)
		close(fd);
	free(out);
	return r;
}

int mbox_pending_flush(struct mbox *mb)
{
	struct mbox_state *st = mb->st;

	if (st->pend_n == 0)
		return 0;
	if (mbox_index_append(mb, st->pend, st->pend_n) < 0)
		return -1;
	st->pend_n = 0;
	return 0;
}

/* Write a complete log (h, then the records each() gives) as a new file
 * in place of the old one, and take it as read. */
static int mbox_index_replace(struct mbox *mb, struct mbox_index_hdr *h,
			      int (*each)(struct mbox *mb, void *ctx, struct mbox_index_rec *r), void *ctx)
{
	struct mbox_state *st = mb->st;
	unsigned char *out = malloc((size_t)MBOX_READ_RECORDS * MBOX_REC_SIZE);
	struct mbox_index_rec rec;
	struct atomic_file af;
	struct stat sb;
	size_t n = 0, k = 0;
	int fd, ok;

	if (out == NULL)
		return -1;
	if (atomic_file_open(&af, mb->dirfd, MBOX_INDEX_NAME, MBOX_INDEX_TMP, O_RDWR, 0600) < 0) {
		free(out);
		return -1;
	}
	fd = af.fd;
	h->version = MBOX_INDEX_VERSION;
	h->log_id = mbox_index_new_id();
	mbox_index_header_encode(h, out);
	ok = fd_write_all(fd, out, MBOX_INDEX_HDR_SIZE) == 0;
	while (ok && each != NULL && each(mb, ctx, &rec)) {
		mbox_index_rec_encode(&rec, out + k * MBOX_REC_SIZE);
		n++;
		if (++k == MBOX_READ_RECORDS) {
			ok = fd_write_all(fd, out, k * MBOX_REC_SIZE) == 0;
			k = 0;
		}
	}
	if (ok && k > 0)
		ok = fd_write_all(fd, out, k * MBOX_REC_SIZE) == 0;
	free(out);
	if (!ok || fstat(fd, &sb) < 0) {
		atomic_file_abort(&af);
		return -1;
	}
	if (atomic_file_commit(&af, ATOMIC_KEEP_FD) < 0)
		return -1;
	mbox_filepos_take(&st->idx_pos, fd, &sb, sb.st_size);   /* fd stays open */
	st->idx_records = n;
	st->hdr = *h;
	return 0;
}

int mbox_index_create(struct mbox *mb)
{
	struct mbox_index_hdr h = { .uidvalidity = mb->uidvalidity };
	struct timespec now;

	/* MODSEQs of a rebuilt log start above any an earlier log of this
	 * UIDVALIDITY can have given out at ~65,000 changes a second, so a
	 * CONDSTORE client never sees one go back (RFC 7162 3.1.1). */
	clock_gettime(CLOCK_REALTIME, &now);
	h.modseq_base = (uint64_t)(now.tv_sec > 0 ? now.tv_sec : 1) << 16;
	if (h.modseq_base < mb->highestmodseq)
		h.modseq_base = mb->highestmodseq;
	h.expunge_floor = h.modseq_base;
	mbox_fold_reset(mb, &h);
	return mbox_index_replace(mb, &h, NULL, NULL);
}

/* The records of a compacted log, one at a time: the messages, the
 * remembered expunges, the stamp, the \Recent mark. */
struct mbox_compact_walk {
	struct mbox_fold_iter it;
	size_t ex, nex;
	int step;
};

static int mbox_compact_next(struct mbox *mb, void *ctx, struct mbox_index_rec *r)
{
	struct mbox_compact_walk *w = ctx;
	struct mbox_state *st = mb->st;

	if (w->step == 0) {
		if (mbox_fold_next(st, &w->it, r))
			return 1;
		w->step = 1;
	}
	if (w->step == 1) {
		if (w->ex < w->nex) {
			struct mbox_expunged e = mbox_expunged_at(st, w->ex++);
			*r = (struct mbox_index_rec){ .type = MBOX_REC_EXPUNGE, .uid = e.uid, .modseq = e.modseq };
			return 1;
		}
		w->step = 2;
		*r = (struct mbox_index_rec){ .type = MBOX_REC_STAMP, .new_stamp = st->new_stamp,
					      .cur_stamp = st->cur_stamp,
					      .stamp_verified = (uint32_t)st->stamp_verified };
		return 1;
	}
	if (w->step == 2) {
		w->step = 3;
		if (st->recent_hw > 0) {
			*r = (struct mbox_index_rec){ .type = MBOX_REC_RECENT, .uid = st->recent_hw };
			return 1;
		}
	}
	return 0;
}

int mbox_index_compact(struct mbox *mb, int force)
{
	struct mbox_state *st = mb->st;
	struct mbox_compact_walk w = { .nex = mbox_expunged_count(st) };
	size_t live = st->live_n + w.nex + 2;
	struct mbox_index_hdr h = st->hdr;

	if (!force && st->idx_records <= 2 * live + MBOX_COMPACT_SLACK)
		return 0;
	h.modseq_base = mb->highestmodseq;
	h.expunge_floor = st->ex_floor;
	/* The state in memory is the new file's: only the file changes. */
	return mbox_index_replace(mb, &h, mbox_compact_next, &w) < 0 ? -1 : 1;
}
