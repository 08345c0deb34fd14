/* mailbox_store_index: postern-index, the store's append-only log.
 *
 * Offers: the record codec (fixed 64-byte little-endian records after a
 * 64-byte header), reading the whole log or only what was appended since
 * the last read, appending records, creating and compacting the file.
 * Every record read or written is folded into the folder's state
 * (struct mbox_state): per UID its measurements, flags and MODSEQ;
 * remembered expunges; directory stamps; the \Recent mark.  A sync thus
 * costs time in proportion to the records other sessions appended, not
 * to the folder's size.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "mailbox_store_int.h"

#define MBOX_INDEX_MAGIC "POSTERN-INDEX\0\0\0"   /* 16 bytes */
#define MBOX_INDEX_VERSION 1
#define MBOX_INDEX_TMP "postern-index.tmp"
#define MBOX_READ_RECORDS 1024                   /* records per read() */

/* ---- codec ---- */

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

void mbox_index_header_encode(const struct mbox_index_hdr *h, unsigned char *out)
{
	memset(out, 0, MBOX_INDEX_HDR_SIZE);
	memcpy(out, MBOX_INDEX_MAGIC, 16);
	put32(out + 16, MBOX_INDEX_VERSION);
	put32(out + 20, h->uidvalidity);
	put64(out + 24, h->modseq_base);
	put64(out + 32, h->expunge_floor);
}

int mbox_index_header_parse(const unsigned char *p, size_t len, struct mbox_index_hdr *h)
{
	if (len < MBOX_INDEX_HDR_SIZE || memcmp(p, MBOX_INDEX_MAGIC, 16) != 0 ||
	    get32(p + 16) != MBOX_INDEX_VERSION || get32(p + 20) == 0)
		return -1;
	h->uidvalidity = get32(p + 20);
	h->modseq_base = get64(p + 24);
	h->expunge_floor = get64(p + 32);
	if (h->expunge_floor > h->modseq_base || h->modseq_base > INT64_MAX)
		return -1;
	return 0;
}

void mbox_index_rec_encode(const struct mbox_index_rec *r, unsigned char *out)
{
	memset(out, 0, MBOX_REC_SIZE);
	out[0] = r->type;
	out[1] = r->state;
	put32(out + 4, r->uid);
	put64(out + 8, r->modseq);
	if (r->type == MBOX_REC_STAMP) {
		put32(out + 16, r->stamp_verified);
		put64(out + 24, (uint64_t)r->new_stamp);
		put64(out + 32, (uint64_t)r->cur_stamp);
		return;
	}
	put32(out + 16, r->flags);
	put32(out + 20, r->other);
	put64(out + 24, r->size);
	put64(out + 32, r->vsize);
	put64(out + 40, (uint64_t)r->date);
	put64(out + 48, r->hdr_size);
	put64(out + 56, r->body_lines);
}

int mbox_index_rec_decode(const unsigned char *p, struct mbox_index_rec *r)
{
	memset(r, 0, sizeof(*r));
	r->type = p[0];
	r->state = p[1];
	r->uid = get32(p + 4);
	r->modseq = get64(p + 8);
	if ((p[1] & ~MBOX_STATE_BITS) != 0 || p[2] != 0 || p[3] != 0 || r->modseq > INT64_MAX)
		return -1;
	switch (r->type) {
	case MBOX_REC_STAMP:
		r->stamp_verified = get32(p + 16);
		r->new_stamp = (long long)get64(p + 24);
		r->cur_stamp = (long long)get64(p + 32);
		return r->stamp_verified <= 3 ? 0 : -1;
	case MBOX_REC_RECENT:
		return 0;
	case MBOX_REC_MSG:
	case MBOX_REC_FLAGS:
	case MBOX_REC_EXPUNGE:
		break;
	default:
		return -1;
	}
	r->flags = get32(p + 16);
	r->other = get32(p + 20);
	r->size = get64(p + 24);
	r->vsize = get64(p + 32);
	r->date = (long long)get64(p + 40);
	r->hdr_size = get64(p + 48);
	r->body_lines = get64(p + 56);
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

/* ---- folding records into the state ---- */

static struct mbox_idx_msg *mbox_index_search(struct mbox_state *st, uint32_t uid, size_t *pos_r)
{
	size_t lo = 0, hi = st->im_n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (st->im[mid].rec.uid == uid) {
			*pos_r = mid;
			return &st->im[mid];
		}
		if (st->im[mid].rec.uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos_r = lo;
	return NULL;
}

struct mbox_idx_msg *mbox_index_find(struct mbox_state *st, uint32_t uid)
{
	size_t pos;
	struct mbox_idx_msg *m = mbox_index_search(st, uid, &pos);
	return m != NULL && m->rec.type != 0 ? m : NULL;
}

static int mbox_index_insert(struct mbox_state *st, const struct mbox_index_rec *r)
{
	size_t pos;
	struct mbox_idx_msg *m = mbox_index_search(st, r->uid, &pos);

	if (m != NULL) {
		if (m->rec.type == 0)
			st->im_dead--;
		m->rec = *r;
		return 0;
	}
	if (st->im_n == st->im_alloc) {
		size_t na = st->im_alloc == 0 ? 64 : st->im_alloc * 2;
		struct mbox_idx_msg *n = reallocarray(st->im, na, sizeof(*n));
		if (n == NULL)
			return -1;
		st->im = n;
		st->im_alloc = na;
	}
	memmove(&st->im[pos + 1], &st->im[pos], (st->im_n - pos) * sizeof(st->im[0]));
	st->im[pos].rec = *r;
	st->im_n++;
	return 0;
}

static int mbox_expunged_add(struct mbox_state *st, uint32_t uid, uint64_t modseq)
{
	if (st->ex_n == MBOX_EXPUNGED_MAX) {
		/* Forget the oldest: QRESYNC then reports from the floor. */
		size_t drop = MBOX_EXPUNGED_MAX / 10;
		st->ex_floor = st->ex[drop - 1].modseq;
		memmove(st->ex, st->ex + drop, (st->ex_n - drop) * sizeof(st->ex[0]));
		st->ex_n -= drop;
	}
	if (st->ex_n == st->ex_alloc) {
		size_t na = st->ex_alloc == 0 ? 64 : st->ex_alloc * 2;
		struct mbox_expunged *n = reallocarray(st->ex, na, sizeof(*n));
		if (n == NULL)
			return -1;
		st->ex = n;
		st->ex_alloc = na;
	}
	st->ex[st->ex_n++] = (struct mbox_expunged){ uid, modseq };
	return 0;
}

/* Fold one record; a record that does not fit the state (flags of an
 * unknown UID) is ignored. */
static int mbox_index_fold(struct mbox *mb, const struct mbox_index_rec *r)
{
	struct mbox_state *st = mb->st;
	struct mbox_idx_msg *m;

	if (r->modseq > mb->highestmodseq)
		mb->highestmodseq = r->modseq;
	switch (r->type) {
	case MBOX_REC_MSG:
		return mbox_index_insert(st, r);
	case MBOX_REC_FLAGS:
		m = mbox_index_find(st, r->uid);
		if (m == NULL)
			return 0;
		m->rec.flags = r->flags;
		m->rec.other = r->other;
		m->rec.state = r->state;
		m->rec.modseq = r->modseq;
		return mbox_note_change(&st->chg_flag, &st->chg_flag_n, &st->chg_flag_alloc, r->uid);
	case MBOX_REC_EXPUNGE:
		m = mbox_index_find(st, r->uid);
		if (m != NULL) {
			m->rec.type = 0;
			st->im_dead++;
		}
		if (r->modseq > st->ex_floor && mbox_expunged_add(st, r->uid, r->modseq) < 0)
			return -1;
		return mbox_note_change(&st->chg_exp, &st->chg_exp_n, &st->chg_exp_alloc, r->uid);
	case MBOX_REC_STAMP:
		st->new_stamp = r->new_stamp;
		st->cur_stamp = r->cur_stamp;
		st->stamp_verified = (int)r->stamp_verified;
		return 0;
	case MBOX_REC_RECENT:
		if (r->uid > st->recent_hw)
			st->recent_hw = r->uid;
		return 0;
	}
	return 0;
}

/* Drop the expunged entries of im. */
static void mbox_index_drop_dead(struct mbox_state *st)
{
	size_t keep = 0;

	if (st->im_dead == 0)
		return;
	for (size_t i = 0; i < st->im_n; i++)
		if (st->im[i].rec.type != 0)
			st->im[keep++] = st->im[i];
	st->im_n = keep;
	st->im_dead = 0;
}

static void mbox_index_reset(struct mbox *mb, const struct mbox_index_hdr *h)
{
	struct mbox_state *st = mb->st;

	st->im_n = st->im_dead = 0;
	st->ex_n = 0;
	st->hdr = *h;
	st->ex_floor = h->expunge_floor;
	st->new_stamp = st->cur_stamp = -1;
	st->stamp_verified = 0;
	st->recent_hw = 0;
	st->idx_records = 0;
	mb->highestmodseq = h->modseq_base;
}

/* ---- reading ---- */

static ssize_t mbox_pread_full(int fd, void *p, size_t n, off_t off)
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
			if (mbox_index_fold(mb, &rec) < 0) {
				r = -1;
				break;
			}
			off += MBOX_REC_SIZE;
			st->idx_records++;
		}
		if (r < 0 || recs < want)
			break;
	}
	st->idx_pos.off = off;
	mbox_index_drop_dead(st);
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
	mbox_index_reset(mb, &h);
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

int mbox_index_append(struct mbox *mb, const struct mbox_index_rec *recs, size_t n)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	unsigned char *out;
	int fd, r = -1;

	if (n == 0)
		return 0;
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
		r = mbox_index_fold(mb, &recs[i]);
	st->idx_pos.off += (off_t)(n * MBOX_REC_SIZE);
	st->idx_records += n;
	mbox_index_drop_dead(st);
out:
	if (fd >= 0)
		close(fd);
	free(out);
	return r;
}

/* Write a complete log (header + records) as a new file in place of the
 * old one, and take it as read. */
static int mbox_index_replace(struct mbox *mb, const struct mbox_index_hdr *h,
			      const struct mbox_index_rec *recs, size_t n)
{
	struct mbox_state *st = mb->st;
	unsigned char hdr[MBOX_INDEX_HDR_SIZE], rec[MBOX_REC_SIZE];
	struct stat sb;
	int fd, ok;

	fd = openat(mb->dirfd, MBOX_INDEX_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	mbox_index_header_encode(h, hdr);
	ok = fd_write_all(fd, hdr, sizeof(hdr)) == 0;
	for (size_t i = 0; ok && i < n; i++) {
		mbox_index_rec_encode(&recs[i], rec);
		ok = fd_write_all(fd, rec, sizeof(rec)) == 0;
	}
	if (!ok || fstat(fd, &sb) < 0 || renameat(mb->dirfd, MBOX_INDEX_TMP, mb->dirfd, MBOX_INDEX_NAME) < 0) {
		int e = errno;
		close(fd);
		unlinkat(mb->dirfd, MBOX_INDEX_TMP, 0);
		errno = e;
		return -1;
	}
	mbox_filepos_take(&st->idx_pos, fd, &sb, sb.st_size);   /* fd stays open */
	st->idx_records = n;
	return 0;
}

int mbox_index_create(struct mbox *mb)
{
	struct mbox_index_hdr h = { mb->uidvalidity, 0, 0 };
	struct timespec now;

	/* MODSEQs of a rebuilt log start above any an earlier log of this
	 * UIDVALIDITY can have given out at ~65,000 changes a second, so a
	 * CONDSTORE client never sees one go back (RFC 7162 3.1.1). */
	clock_gettime(CLOCK_REALTIME, &now);
	h.modseq_base = (uint64_t)(now.tv_sec > 0 ? now.tv_sec : 1) << 16;
	if (h.modseq_base < mb->highestmodseq)
		h.modseq_base = mb->highestmodseq;
	h.expunge_floor = h.modseq_base;
	mbox_index_reset(mb, &h);
	return mbox_index_replace(mb, &h, NULL, 0);
}

int mbox_index_compact_maybe(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	size_t live = st->im_n + st->ex_n + 2, n = 0;
	struct mbox_index_rec *recs;
	struct mbox_index_hdr h = st->hdr;
	int r;

	if (st->idx_records <= 2 * live + MBOX_COMPACT_SLACK)
		return 0;
	if ((recs = calloc(live, sizeof(*recs))) == NULL)
		return -1;
	h.modseq_base = mb->highestmodseq;
	h.expunge_floor = st->ex_floor;
	for (size_t i = 0; i < st->im_n; i++)
		recs[n++] = st->im[i].rec;
	for (size_t i = 0; i < st->ex_n; i++)
		recs[n++] = (struct mbox_index_rec){ .type = MBOX_REC_EXPUNGE, .uid = st->ex[i].uid,
						     .modseq = st->ex[i].modseq };
	recs[n++] = (struct mbox_index_rec){ .type = MBOX_REC_STAMP, .new_stamp = st->new_stamp,
					     .cur_stamp = st->cur_stamp,
					     .stamp_verified = (uint32_t)st->stamp_verified };
	if (st->recent_hw > 0)
		recs[n++] = (struct mbox_index_rec){ .type = MBOX_REC_RECENT, .uid = st->recent_hw };
	r = mbox_index_replace(mb, &h, recs, n);
	if (r == 0)
		st->hdr = h;
	free(recs);
	return r;
}
