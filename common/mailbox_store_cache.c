/* mailbox_store_cache: postern-cache, the folder's cache of what IMAP
 * would otherwise parse a message again for: its ENVELOPE, BODY and
 * BODYSTRUCTURE texts, in each of the forms a session may need (IMAP4rev1,
 * UTF-8, IMAP4rev2).  Filled on first use, so a message is parsed at most
 * once for them, whichever session asks.
 *
 * Format: a 32-byte header ("POSTERN-CACHE", version, the UIDVALIDITY
 * the texts belong to), then records: UID, kind, length, an FNV-1a
 * checksum of the text (all 32-bit little-endian), the text.  Records are
 * appended with O_APPEND in one write() each, so concurrent writers do
 * not interleave; a reader takes only whole records whose checksum holds
 * and stops at the first that does not (a torn tail, or damage: the rest
 * is filled again on use).  A cache of another UIDVALIDITY, or one larger
 * than MBOX_CACHE_FILE_MAX, is replaced by an empty one.
 *
 * Compaction: records of expunged messages, and the older of two records
 * for one text (two sessions filled it at once), are dead.  When a
 * session indexes the file first, and each time the file has grown by a
 * quarter since, it counts them; when more than half the file is dead
 * (and at least MBOX_CACHE_COMPACT_SLACK), it writes the live records to
 * a temp file and renames it over the cache.  A session still reading
 * the old file keeps its descriptor and moves to the new file at its
 * next use; a record appended to the old file meanwhile is lost, which
 * costs one parse.  A put that would take the file past
 * MBOX_CACHE_FILE_MAX compacts first and is refused if that is not
 * enough: the cache never grows without bound nor starts over while it
 * is in use.  The session
 * keeps only an index (UID and kind -> offset) and reads texts with
 * pread() through one descriptor of the file, kept open: each use
 * looks the name up (fstatat) and opens it again only when the name
 * is another file now.
 *
 * Batches: a command that uses the cache for many messages (a FETCH)
 * brackets them with mbox_cache_begin and mbox_cache_end.  Inside, the
 * name is looked up once, at the first use: texts are never changed in
 * place, so a file that was current then still gives right texts, and
 * what others append meanwhile is seen at the next command.  Reads go
 * through a read-ahead window (the texts of consecutive messages lie
 * together: one pread per MBOX_CACHE_WINDOW bytes, not one per text),
 * and puts are kept and appended in one write per MBOX_CACHE_PENDING
 * bytes (still whole records in one O_APPEND write), then indexed from
 * memory when nobody appended in between.  A batch that outlives a
 * compaction by another session appends to the replaced file: lost,
 * at the cost of one parse each, as above.
 *
 * Trusts: nothing in the file (bounded record sizes, checksums);
 * mbox_cache_parse is fuzzed by tests/fuzz/fuzz_store_cache.c.
 * Fails: the cache is only a cache: every error means "not cached". */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "mailbox_store_int.h"

#define MBOX_CACHE_NAME "postern-cache"
#define MBOX_CACHE_MAGIC "POSTERN-CACHE\0\0\0"   /* 16 bytes */
#define MBOX_CACHE_HDR 32
#define MBOX_CACHE_REC 16
#define MBOX_CACHE_TEXT_MAX (1u << 20)          /* longest cached text */
#define MBOX_CACHE_FILE_MAX (512ULL << 20)      /* larger: started again */
#define MBOX_CACHE_COMPACT_SLACK (1u << 20)     /* dead bytes worth a rewrite */
#define MBOX_CACHE_COPY_BLOCK (1u << 20)        /* compaction writes this much at once */
#define MBOX_CACHE_WINDOW (128u << 10)          /* read-ahead of a batch */
#define MBOX_CACHE_PENDING (256u << 10)         /* puts of a batch kept before a write */

struct mbox_cache_slot {
	uint32_t uid;          /* 0: empty */
	uint32_t kind;
	off_t off;             /* of the text */
	uint32_t len;
};

struct mbox_cache {
	int fd;                /* the file indexed (dev, ino), kept open; -1: none */
	dev_t dev;
	ino_t ino;
	off_t off;             /* bytes indexed */
	off_t next_check;      /* count dead records when off reaches this */
	struct mbox_cache_slot *slot;
	size_t nslots, used;   /* open addressing, power of two */
	/* Batch state (mbox_cache_begin): kept across a reset, which only
	 * forgets the file. */
	int batch;             /* inside begin/end */
	int looked;            /* the name was looked up in this batch */
	unsigned char *win;    /* read-ahead: file bytes [win_off, win_off + win_len) */
	off_t win_off;
	size_t win_len;
	struct buf pend;       /* records put, not written yet */
};

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void mbox_cache_header(unsigned char *hdr, uint32_t uidvalidity)
{
	memcpy(hdr, MBOX_CACHE_MAGIC, 16);
	put32(hdr + 16, 1);
	put32(hdr + 20, uidvalidity);
	memset(hdr + 24, 0, MBOX_CACHE_HDR - 24);
}

static uint32_t mbox_cache_sum(const unsigned char *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

int mbox_cache_parse(const unsigned char *p, size_t len, uint32_t uidvalidity,
		     int (*each)(void *ctx, uint32_t uid, uint32_t kind, size_t off, uint32_t tlen), void *ctx,
		     size_t *end_r)
{
	size_t off = MBOX_CACHE_HDR;

	*end_r = 0;
	if (len < MBOX_CACHE_HDR || memcmp(p, MBOX_CACHE_MAGIC, 16) != 0 || get32(p + 16) != 1 ||
	    get32(p + 20) != uidvalidity)
		return -1;
	while (len - off >= MBOX_CACHE_REC) {
		uint32_t uid = get32(p + off), kind = get32(p + off + 4), tlen = get32(p + off + 8);
		if (uid == 0 || kind >= MBOX_CACHE_KINDS || tlen > MBOX_CACHE_TEXT_MAX ||
		    len - off - MBOX_CACHE_REC < tlen ||
		    mbox_cache_sum(p + off + MBOX_CACHE_REC, tlen) != get32(p + off + 12))
			break;
		if (each != NULL && each(ctx, uid, kind, off + MBOX_CACHE_REC, tlen) < 0)
			return -1;
		off += MBOX_CACHE_REC + tlen;
	}
	*end_r = off;
	return 0;
}

/* ---- the index ---- */

static size_t mbox_cache_hash(uint32_t uid, uint32_t kind, size_t mask)
{
	uint64_t h = ((uint64_t)uid << 4 | kind) * 0x9e3779b97f4a7c15ULL;
	return (size_t)(h >> 17) & mask;
}

struct mbox_cache_indexer {
	struct mbox_cache *c;
	off_t base;            /* file offset of the parsed buffer's byte 0 */
};

static int mbox_cache_index(void *ctx, uint32_t uid, uint32_t kind, size_t boff, uint32_t len)
{
	struct mbox_cache_indexer *ix = ctx;
	struct mbox_cache *c = ix->c;
	off_t off = ix->base + (off_t)boff;

	if ((c->used + 1) * 2 > c->nslots) {
		size_t n = c->nslots == 0 ? 1024 : c->nslots * 2;
		struct mbox_cache_slot *s = calloc(n, sizeof(*s));
		if (s == NULL)
			return -1;
		for (size_t i = 0; i < c->nslots; i++) {
			if (c->slot[i].uid == 0)
				continue;
			size_t j = mbox_cache_hash(c->slot[i].uid, c->slot[i].kind, n - 1);
			while (s[j].uid != 0)
				j = (j + 1) & (n - 1);
			s[j] = c->slot[i];
		}
		free(c->slot);
		c->slot = s;
		c->nslots = n;
	}
	size_t j = mbox_cache_hash(uid, kind, c->nslots - 1);
	while (c->slot[j].uid != 0 && !(c->slot[j].uid == uid && c->slot[j].kind == kind))
		j = (j + 1) & (c->nslots - 1);
	if (c->slot[j].uid == 0)
		c->used++;
	c->slot[j] = (struct mbox_cache_slot){ uid, kind, off, len };
	return 0;
}

/* Forget the file (its descriptor, index and window); a batch and
 * its pending records go on, for whichever file comes next. */
static void mbox_cache_reset(struct mbox_cache *c)
{
	int batch = c->batch;
	unsigned char *win = c->win;
	struct buf pend = c->pend;

	if (c->fd >= 0)
		close(c->fd);
	free(c->slot);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->batch = batch;
	c->win = win;
	c->pend = pend;
}

void mbox_cache_free(struct mbox_state *st)
{
	struct mbox_cache *c = st->cache;

	if (c == NULL)
		return;
	/* Pending puts of a batch never ended (an error path): written
	 * if the file holds them, else dropped. */
	if (c->pend.len > 0 && c->fd >= 0 &&
	    (unsigned long long)c->off + c->pend.len <= MBOX_CACHE_FILE_MAX)
		(void)fd_write_all(c->fd, c->pend.data, c->pend.len);
	mbox_cache_reset(c);
	free(c->win);
	buf_free(&c->pend);
	free(c);
	st->cache = NULL;
}

/* Index what was appended since the last look (all of a new file).  The
 * tail is parsed behind a copy of the header, so one parser serves both. */
static int mbox_cache_refresh(struct mbox *mb, int fd, const struct stat *sb)
{
	struct mbox_cache *c = mb->st->cache;
	size_t end, got = 0;

	if (c->dev != sb->st_dev || c->ino != sb->st_ino) {
		mbox_cache_reset(c);
		c->dev = sb->st_dev;
		c->ino = sb->st_ino;
	}
	if (sb->st_size <= c->off)
		return 0;
	off_t from = c->off;                          /* 0, or just after a record */
	size_t pre = from > 0 ? MBOX_CACHE_HDR : 0;   /* the fake header */
	size_t n = (size_t)(sb->st_size - from);
	unsigned char *p = malloc(pre + n);
	if (p == NULL)
		return -1;
	if (pre > 0)
		mbox_cache_header(p, mb->uidvalidity);
	while (got < n) {
		ssize_t r = pread(fd, p + pre + got, n - got, from + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	struct mbox_cache_indexer ix = { c, from - (off_t)pre };
	int r = mbox_cache_parse(p, pre + got, mb->uidvalidity, mbox_cache_index, &ix, &end);
	free(p);
	if (r < 0)
		return -1;
	c->off = from + (off_t)(end - pre);
	return 0;
}

/* ---- compaction ---- */

/* Whether uid's texts are still of use: the message is in the view, or
 * is newer than the view knows. */
static int mbox_cache_live(const struct mbox *mb, uint32_t uid)
{
	return uid >= mb->uidnext || mbox_find_uid(mb, uid) >= 0;
}

/* Bytes of the records the index holds for live messages. */
static unsigned long long mbox_cache_live_bytes(const struct mbox *mb)
{
	const struct mbox_cache *c = mb->st->cache;
	unsigned long long live = 0;

	for (size_t i = 0; i < c->nslots; i++)
		if (c->slot[i].uid != 0 && mbox_cache_live(mb, c->slot[i].uid))
			live += MBOX_CACHE_REC + c->slot[i].len;
	return live;
}

/* Copy the live records of fd (indexed) into tmp, a new file. */
static int mbox_cache_copy_live(struct mbox *mb, int fd, int tmp)
{
	const struct mbox_cache *c = mb->st->cache;
	size_t cap = MBOX_CACHE_COPY_BLOCK + MBOX_CACHE_REC + MBOX_CACHE_TEXT_MAX, used = MBOX_CACHE_HDR;
	unsigned char *block = malloc(cap);
	int r = 0;

	if (block == NULL)
		return -1;
	mbox_cache_header(block, mb->uidvalidity);
	for (size_t i = 0; r == 0 && i < c->nslots; i++) {
		const struct mbox_cache_slot *sl = &c->slot[i];
		size_t n = MBOX_CACHE_REC + sl->len;
		if (sl->uid == 0 || !mbox_cache_live(mb, sl->uid))
			continue;
		/* The record as it is, its header with it (the checksum holds). */
		if (pread(fd, block + used, n, sl->off - MBOX_CACHE_REC) != (ssize_t)n)
			r = -1;
		used += n;
		if (r == 0 && used >= MBOX_CACHE_COPY_BLOCK) {
			r = fd_write_all(tmp, block, used);
			used = 0;
		}
	}
	if (r == 0 && used > 0)
		r = fd_write_all(tmp, block, used);
	free(block);
	return r;
}

/* Rewrite the cache with only its live records, when enough is dead.
 * The session forgets its index: its next use reads the new file. */
static void mbox_cache_compact_maybe(struct mbox *mb, int fd, int force)
{
	struct mbox_cache *c = mb->st->cache;
	unsigned long long total = (unsigned long long)c->off - MBOX_CACHE_HDR;
	unsigned long long dead = total - mbox_cache_live_bytes(mb);
	struct atomic_file af;

	c->next_check = c->off + c->off / 4;
	if (dead < MBOX_CACHE_COMPACT_SLACK || (!force && dead * 2 <= total))
		return;
	/* Not fsynced: the cache is made again from the messages when lost. */
	if (atomic_file_open(&af, mb->dirfd, MBOX_CACHE_NAME, NULL, O_WRONLY, 0600) < 0)
		return;
	if (mbox_cache_copy_live(mb, fd, af.fd) < 0) {
		atomic_file_abort(&af);
		return;
	}
	if (atomic_file_commit(&af, 0) == 0) {
		mb->cache_compactions++;
		mbox_cache_reset(c);
	}
}

static int mbox_cache_open(struct mbox *mb, int create, int again);

/* fd (or -1: none), noted as the batch's file when a batch is open. */
static int mbox_cache_looked(struct mbox_cache *c, int fd)
{
	if (c->batch)
		c->looked = 1;
	return fd;
}

static int mbox_cache_new(struct mbox_state *st)
{
	if ((st->cache = calloc(1, sizeof(*st->cache))) == NULL)
		return -1;
	st->cache->fd = -1;
	buf_init(&st->cache->pend, MBOX_CACHE_PENDING + MBOX_CACHE_REC + MBOX_CACHE_TEXT_MAX);
	return 0;
}

/* fd, indexed; or, if a compaction due now replaced the file, the new one. */
static int mbox_cache_checked(struct mbox *mb, int fd, int create, int again)
{
	struct mbox_cache *c = mb->st->cache;

	if (c->off < c->next_check)
		return fd;
	mbox_cache_compact_maybe(mb, fd, 0);
	return c->fd >= 0 ? fd : mbox_cache_open(mb, create, again);
}

/* The cache file, opened and indexed up to date: fd (the cache's own:
 * not to be closed), or -1 (not there: nothing cached; or unusable). */
static int mbox_cache_open(struct mbox *mb, int create, int again)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	int fd;

	if (st->cache == NULL && mbox_cache_new(st) < 0)
		return -1;
	/* In a batch, the file found at its first use serves all of it;
	 * none found then: nothing cached, until a put makes one. */
	if (st->cache->batch && st->cache->looked && (st->cache->fd >= 0 || !create))
		return st->cache->fd;
	/* Still the file we hold open (a FETCH asks once or more per
	 * message): one lookup instead of open, fstat and close. */
	if (st->cache->fd >= 0 && fstatat(mb->dirfd, MBOX_CACHE_NAME, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode) && sb.st_dev == st->cache->dev && sb.st_ino == st->cache->ino &&
	    (unsigned long long)sb.st_size <= MBOX_CACHE_FILE_MAX && mbox_cache_refresh(mb, st->cache->fd, &sb) == 0)
		return mbox_cache_looked(st->cache, mbox_cache_checked(mb, st->cache->fd, create, again));
	fd = openat(mb->dirfd, MBOX_CACHE_NAME, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT && create) {
		unsigned char hdr[MBOX_CACHE_HDR];
		mbox_cache_header(hdr, mb->uidvalidity);
		/* Made whole under a temp name, then linked in: never seen half
		 * made.  EEXIST: another session made it first, as good.  Not
		 * synced: the cache is made again from the messages when lost. */
		(void)atomic_file_write(mb->dirfd, MBOX_CACHE_NAME, NULL, hdr, sizeof(hdr), 0600, ATOMIC_NOREPLACE);
		fd = openat(mb->dirfd, MBOX_CACHE_NAME, O_RDWR | O_APPEND | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0)
		return mbox_cache_looked(st->cache, -1);
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return mbox_cache_looked(st->cache, -1);
	}
	if ((unsigned long long)sb.st_size > MBOX_CACHE_FILE_MAX || mbox_cache_refresh(mb, fd, &sb) < 0) {
		/* Another folder's (an old UIDVALIDITY), damaged at its head, or
		 * too big: start again empty. */
		close(fd);
		mbox_cache_reset(st->cache);
		if (!create || !again || unlinkat(mb->dirfd, MBOX_CACHE_NAME, 0) < 0)
			return mbox_cache_looked(st->cache, -1);
		return mbox_cache_open(mb, 1, 0);
	}
	if (st->cache->fd >= 0 && st->cache->fd != fd)
		close(st->cache->fd);
	st->cache->fd = fd;   /* refresh set dev and ino to this file's */
	return mbox_cache_looked(st->cache, mbox_cache_checked(mb, fd, create, again));
}

/* Append len bytes of the file at off to out: through the batch's
 * window when a text fits it, else straight into out.  0 or -1. */
static int mbox_cache_read(struct mbox_cache *c, off_t off, uint32_t len, struct buf *out)
{
	if (c->batch && len <= MBOX_CACHE_WINDOW) {
		if (off < c->win_off || off + (off_t)len > c->win_off + (off_t)c->win_len) {
			ssize_t n;
			if (c->win == NULL && (c->win = malloc(MBOX_CACHE_WINDOW)) == NULL)
				return -1;
			c->win_len = 0;
			while ((n = pread(c->fd, c->win, MBOX_CACHE_WINDOW, off)) < 0 && errno == EINTR)
				;
			if (n < (ssize_t)len)
				return -1;
			c->win_off = off;
			c->win_len = (size_t)n;
		}
		return buf_append(out, c->win + (off - c->win_off), len);
	}
	char *p = buf_room(out, len);
	ssize_t n;
	if (p == NULL)
		return -1;
	while ((n = pread(c->fd, p, len, off)) < 0 && errno == EINTR)
		;
	if (n != (ssize_t)len)
		return -1;
	buf_extend(out, len);
	return 0;
}

int mbox_cache_get(struct mbox *mb, uint32_t uid, uint32_t kind, struct buf *out)
{
	int fd = mbox_cache_open(mb, 0, 0);
	struct mbox_cache *c = mb->st->cache;

	if (fd < 0 || c->nslots == 0)
		return 0;
	size_t j = mbox_cache_hash(uid, kind, c->nslots - 1);
	while (c->slot[j].uid != 0 && !(c->slot[j].uid == uid && c->slot[j].kind == kind))
		j = (j + 1) & (c->nslots - 1);
	if (c->slot[j].uid == 0)
		return 0;
	size_t old = out->len;
	if (mbox_cache_read(c, c->slot[j].off, c->slot[j].len, out) < 0) {
		buf_truncate(out, old);
		return 0;
	}
	return 1;
}

/* Append one record (header and text) to rec. */
static int mbox_cache_record(struct buf *rec, uint32_t uid, uint32_t kind, const char *text, size_t len)
{
	unsigned char *p = (unsigned char *)buf_room(rec, MBOX_CACHE_REC + len);

	if (p == NULL)
		return -1;
	put32(p, uid);
	put32(p + 4, kind);
	put32(p + 8, (uint32_t)len);
	if (len > 0)   /* an empty text (a preview of nothing) may be NULL */
		memcpy(p + MBOX_CACHE_REC, text, len);
	put32(p + 12, mbox_cache_sum(p + MBOX_CACHE_REC, len));
	buf_extend(rec, MBOX_CACHE_REC + len);
	return 0;
}

/* Make room in the file for n more bytes: compact when it would pass
 * MBOX_CACHE_FILE_MAX.  The descriptor to append to, or -1 (full of
 * live texts, or unusable). */
static int mbox_cache_room(struct mbox *mb, size_t n)
{
	int fd = mbox_cache_open(mb, 1, 1);

	if (fd < 0)
		return -1;
	if ((unsigned long long)mb->st->cache->off + n > MBOX_CACHE_FILE_MAX) {
		mbox_cache_compact_maybe(mb, fd, 1);
		if ((fd = mbox_cache_open(mb, 1, 1)) < 0 ||
		    (unsigned long long)mb->st->cache->off + n > MBOX_CACHE_FILE_MAX)
			return -1;
	}
	return fd;
}

/* Write the batch's pending records in one append; index them from
 * memory when they landed right after what is indexed (nobody appended
 * in between), else the next refresh reads them. */
static void mbox_cache_flush(struct mbox *mb)
{
	struct mbox_cache *c = mb->st->cache;
	struct buf *pend = &c->pend;
	int fd;

	if (pend->len == 0)
		return;
	if ((fd = mbox_cache_room(mb, pend->len)) >= 0 && fd_write_all(fd, pend->data, pend->len) == 0) {
		/* O_APPEND leaves the offset at the end of this write. */
		off_t end = lseek(fd, 0, SEEK_CUR);
		if (end >= 0 && end - (off_t)pend->len == c->off) {
			struct mbox_cache_indexer ix = { c, c->off };
			size_t at = 0;
			while (at < pend->len) {
				const unsigned char *r = (const unsigned char *)pend->data + at;
				uint32_t len = get32(r + 8);
				if (mbox_cache_index(&ix, get32(r), get32(r + 4), at + MBOX_CACHE_REC, len) < 0)
					break;   /* no memory: the rest stays unindexed */
				at += MBOX_CACHE_REC + len;
			}
			c->off = at == pend->len ? end : c->off + (off_t)at;
		}
	}
	buf_reset(pend);
}

int mbox_cache_put(struct mbox *mb, uint32_t uid, uint32_t kind, const char *text, size_t len)
{
	struct mbox_cache *c;
	struct buf rec;
	int fd, r;

	if (uid == 0 || kind >= MBOX_CACHE_KINDS || len > MBOX_CACHE_TEXT_MAX)
		return -1;
	if (mb->st->cache == NULL && mbox_cache_new(mb->st) < 0)
		return -1;
	c = mb->st->cache;
	if (c->batch) {
		if (c->pend.len + MBOX_CACHE_REC + len > MBOX_CACHE_PENDING)
			mbox_cache_flush(mb);
		return mbox_cache_record(&c->pend, uid, kind, text, len);
	}
	if ((fd = mbox_cache_room(mb, MBOX_CACHE_REC + len)) < 0)
		return -1;
	buf_init(&rec, MBOX_CACHE_REC + len);
	/* One write with O_APPEND: records of concurrent writers never mix. */
	r = mbox_cache_record(&rec, uid, kind, text, len) == 0 ? fd_write_all(fd, rec.data, rec.len) : -1;
	buf_free(&rec);
	return r;
}

void mbox_cache_begin(struct mbox *mb)
{
	if (mb->st->cache == NULL && mbox_cache_new(mb->st) < 0)
		return;   /* no batch: every use works as outside one */
	mb->st->cache->batch = 1;
	mb->st->cache->looked = 0;
}

void mbox_cache_end(struct mbox *mb)
{
	struct mbox_cache *c = mb->st->cache;

	if (c == NULL || !c->batch)
		return;
	c->batch = 0;   /* the flush looks the name up again */
	mbox_cache_flush(mb);
	/* An idle session keeps neither buffer. */
	buf_free(&c->pend);
	free(c->win);
	c->win = NULL;
	c->win_len = 0;
}
