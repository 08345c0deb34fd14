/* mailbox_store: UIDs, UIDVALIDITY and a metadata index for Maildir
 * folders, shared by every reader (POP3 sessions now, IMAP next).
 *
 * Offers: mbox_open / mbox_sync give a folder's messages sorted by UID,
 * each with its size, CRLF size, internal date, header size, body lines
 * and Maildir flags.  The UID of a message is assigned once, the first
 * time any reader syncs after its delivery, and kept in postern-uidlist
 * against the message's base name (the file name before ":"), which
 * stays the same when the file moves from new/ to cur/ or its flags
 * change.  UIDs only grow (UIDNEXT) and are never reused within one
 * UIDVALIDITY (RFC 3501 section 2.3.1.1).  A message is read (parsed)
 * once, when it is first seen; its numbers are cached in postern-index.
 *
 * Concurrency: every sync runs under an exclusive flock() of
 * postern-uidlist.lock and rereads both files under it, so several
 * readers in several processes assign each UID exactly once.  Local
 * delivery takes no lock: it only links new files into new/, which the
 * next sync picks up.  Renames of message files (new/ -> cur/, flag
 * changes) are done only under the lock, so a scan never misses a file
 * that is moving.  The UID list is replaced with a temp file, fsync,
 * rename and directory fsync, so after a crash it is the old or the new
 * list, never a mix.  The index is only a cache: written the same way
 * without fsync, and a damaged one is simply rebuilt.
 *
 * Trusts: nothing in the folder.  Both files are parsed with (pointer,
 * length), bounded in size (MBOX_FILE_MAX) and entries
 * (MBOX_MESSAGES_MAX), every number range-checked; a UID list that does
 * not parse is logged and replaced with a new UIDVALIDITY (clients then
 * resynchronise: nothing is lost, only re-downloaded).  File names that
 * are not printable base names are skipped.  Message files are opened
 * with O_NOFOLLOW relative to the folder's descriptor.
 *
 * Fails: -1 with a static *error_r naming the step and errno; the caller
 * answers its client with a temporary error.  Never panics on bad files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "mailbox_store.h"
#include "maildir.h"

#define MBOX_READ_BLOCK 65536
#define MBOX_UIDLIST_MAGIC "POSTERN-UIDLIST 1\n"
#define MBOX_INDEX_MAGIC "POSTERN-INDEX 1\n"
#define MBOX_SUB_NAME_MAX (4 + MBOX_BASE_MAX + 3 + MBOX_FLAGS_MAX)

/* One index entry (a cached measurement). */
struct mbox_meta {
	uint32_t uid;
	unsigned long long size, vsize, hdr_size, body_lines;
	long long date;
};

/* A file found by the directory scan. */
struct mbox_file {
	char *name;        /* "new/..." or "cur/..." */
	size_t base_len;   /* base = name + 4 */
	uint32_t uid;      /* 0 until matched or assigned */
};

/* qsort and bsearch without the undefined behaviour of a NULL array
 * (glibc declares both nonnull even for zero elements). */
static void mbox_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(base, n, size, cmp);
}

static void *mbox_search(const void *key, const void *base, size_t n, size_t size,
			 int (*cmp)(const void *, const void *))
{
	return n > 0 ? bsearch(key, base, n, size, cmp) : NULL;
}

/* ---- small parsers ---- */

int mbox_base_ok(const char *b, size_t len)
{
	if (len == 0 || len > MBOX_BASE_MAX || b[0] == '.')
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)b[i];
		if (c < 0x21 || c > 0x7e || c == '/' || c == ':')
			return 0;
	}
	return 1;
}

/* Decimal digits only, at most max.  0 or -1. */
static int mbox_num(const char *p, size_t len, unsigned long long max, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10ULL, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(p[i] - '0'), &v))
			return -1;
	}
	if (v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* The next LF-terminated line of [*p, end): its start and length
 * without LF; advances *p.  0, or -1 when no complete line is left. */
static int mbox_line(const char **p, const char *end, const char **line_r, size_t *len_r)
{
	const char *lf = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;

	if (lf == NULL)
		return -1;
	*line_r = *p;
	*len_r = (size_t)(lf - *p);
	*p = lf + 1;
	return 0;
}

/* Split a line at single spaces into at most max fields. Count, or -1. */
static int mbox_fields(const char *line, size_t len, const char **f, size_t *flen, int max)
{
	int n = 0;
	size_t i = 0;

	while (i <= len) {
		size_t start = i;
		while (i < len && line[i] != ' ')
			i++;
		if (n == max || i == start)
			return -1;   /* too many fields, or an empty one */
		f[n] = line + start;
		flen[n] = i - start;
		n++;
		i++;
	}
	return n;
}

/* "key=N" with N a 32-bit number > 0. */
static int mbox_header_num(const char *line, size_t len, const char *key, uint32_t *v_r)
{
	size_t k = strlen(key);
	unsigned long long v;

	if (len <= k + 1 || memcmp(line, key, k) != 0 || line[k] != '=' ||
	    mbox_num(line + k + 1, len - k - 1, UINT32_MAX, &v) < 0 || v == 0)
		return -1;
	*v_r = (uint32_t)v;
	return 0;
}

static int mbox_fail(const char **error_r, const char *msg)
{
	*error_r = msg;
	return -1;
}

/* ---- the UID list ---- */

static int mbox_uidlist_entry(struct mbox_uidlist *ul, size_t *alloc, const char *line,
			      size_t len, const char **error_r)
{
	const char *f[2];
	size_t fl[2];
	unsigned long long uid;
	uint32_t last = ul->n > 0 ? ul->e[ul->n - 1].uid : 0;

	if (mbox_fields(line, len, f, fl, 2) != 2 || mbox_num(f[0], fl[0], UINT32_MAX, &uid) < 0)
		return mbox_fail(error_r, "malformed entry");
	/* Strictly ascending and below UIDNEXT: a UID can be neither reused
	 * nor handed out twice by a list that passes this check. */
	if (uid <= last || uid >= ul->uidnext)
		return mbox_fail(error_r, "UID out of order or not below uidnext");
	if (!mbox_base_ok(f[1], fl[1]))
		return mbox_fail(error_r, "bad message name");
	if (ul->n == MBOX_MESSAGES_MAX)
		return mbox_fail(error_r, "too many entries");
	if (ul->n == *alloc) {
		size_t na = *alloc == 0 ? 64 : *alloc * 2;
		struct mbox_uidlist_entry *e = reallocarray(ul->e, na, sizeof(*e));
		if (e == NULL)
			return mbox_fail(error_r, "out of memory");
		ul->e = e;
		*alloc = na;
	}
	ul->e[ul->n].uid = (uint32_t)uid;
	ul->e[ul->n].base = f[1];
	ul->e[ul->n].base_len = fl[1];
	ul->n++;
	return 0;
}

int mbox_uidlist_parse(const char *p, size_t len, struct mbox_uidlist *ul, const char **error_r)
{
	const char *end = p + len, *line;
	size_t llen, alloc = 0;
	size_t mlen = strlen(MBOX_UIDLIST_MAGIC);

	memset(ul, 0, sizeof(*ul));
	if (len < mlen || memcmp(p, MBOX_UIDLIST_MAGIC, mlen) != 0)
		return mbox_fail(error_r, "not a UID list");
	p += mlen;
	if (mbox_line(&p, end, &line, &llen) < 0 ||
	    mbox_header_num(line, llen, "uidvalidity", &ul->uidvalidity) < 0 ||
	    mbox_line(&p, end, &line, &llen) < 0 ||
	    mbox_header_num(line, llen, "uidnext", &ul->uidnext) < 0)
		return mbox_fail(error_r, "bad uidvalidity or uidnext");
	while (p < end) {
		if (mbox_line(&p, end, &line, &llen) < 0) {
			mbox_uidlist_free(ul);
			return mbox_fail(error_r, "truncated entry");
		}
		if (mbox_uidlist_entry(ul, &alloc, line, llen, error_r) < 0) {
			mbox_uidlist_free(ul);
			return -1;
		}
	}
	return 0;
}

void mbox_uidlist_free(struct mbox_uidlist *ul)
{
	free(ul->e);
	ul->e = NULL;
	ul->n = 0;
}

/* ---- the index ---- */

static int mbox_meta_cmp(const void *a, const void *b)
{
	const struct mbox_meta *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Parse the index; a damaged or foreign one is an empty cache. */
static void mbox_index_parse(const char *p, size_t len, uint32_t uidvalidity,
			     struct mbox_meta **meta_r, size_t *n_r)
{
	const char *end = p + len, *line, *f[6];
	size_t llen, fl[6], n = 0, alloc = 0;
	size_t mlen = strlen(MBOX_INDEX_MAGIC);
	struct mbox_meta *meta = NULL;
	uint32_t v;

	*meta_r = NULL;
	*n_r = 0;
	if (len < mlen || memcmp(p, MBOX_INDEX_MAGIC, mlen) != 0)
		return;
	p += mlen;
	if (mbox_line(&p, end, &line, &llen) < 0 ||
	    mbox_header_num(line, llen, "uidvalidity", &v) < 0 || v != uidvalidity)
		return;
	while (p < end && n < MBOX_MESSAGES_MAX && mbox_line(&p, end, &line, &llen) == 0) {
		unsigned long long x[6];
		if (mbox_fields(line, llen, f, fl, 6) != 6)
			break;
		int ok = 1;
		for (int i = 0; i < 6 && ok; i++)
			ok = mbox_num(f[i], fl[i], i == 0 ? UINT32_MAX : LLONG_MAX, &x[i]) == 0;
		if (!ok)
			break;
		if (n == alloc) {
			size_t na = alloc == 0 ? 64 : alloc * 2;
			struct mbox_meta *m = reallocarray(meta, na, sizeof(*m));
			if (m == NULL)
				break;
			meta = m;
			alloc = na;
		}
		meta[n++] = (struct mbox_meta){ (uint32_t)x[0], x[1], x[2], x[4], x[5], (long long)x[3] };
	}
	mbox_sort(meta, n, sizeof(*meta), mbox_meta_cmp);
	*meta_r = meta;
	*n_r = n;
}

/* ---- files ---- */

/* Read a store file into out; a missing file leaves out empty.  0 or -1. */
static int mbox_read_file(const struct mbox *mb, const char *name, struct buf *out)
{
	char path[MBOX_PATH_MAX + 64];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", mb->path, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf_reset(out);
	if (file_read_all(path, O_NOFOLLOW, out, MBOX_FILE_MAX) < 0)
		return errno == ENOENT ? 0 : -1;
	return 0;
}

/* Replace name with the contents of b: write name.tmp, (fsync), rename,
 * (fsync the folder).  Called under the lock, so the temp name is ours. */
static int mbox_write_file(const struct mbox *mb, const char *name, const struct buf *b, int durable)
{
	char tmp[64];
	size_t off = 0;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	fd = openat(mb->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (off < b->len) {
		ssize_t w = write(fd, b->data + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			int e = errno;
			close(fd);
			unlinkat(mb->dirfd, tmp, 0);
			errno = e;
			return -1;
		}
		off += (size_t)w;
	}
	if ((durable && fsync(fd) < 0) || close(fd) < 0 ||
	    renameat(mb->dirfd, tmp, mb->dirfd, name) < 0) {
		int e = errno;
		unlinkat(mb->dirfd, tmp, 0);
		errno = e;
		return -1;
	}
	return durable ? fsync_dir(mb->path) : 0;
}

/* ---- measuring a message (the one parse) ---- */

struct mbox_measure {
	unsigned long long size, lfs, hdr_size, body_lines;
	int in_header, bol;
	char last;
};

static void mbox_measure_block(struct mbox_measure *m, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		m->size++;
		if (c != '\n') {
			m->bol = 0;
			continue;
		}
		m->lfs++;
		if (m->in_header && m->bol) {
			m->in_header = 0;       /* the empty line ends the header */
			m->hdr_size = m->size;
		} else if (!m->in_header) {
			m->body_lines++;
		}
		m->bol = 1;
	}
	if (n > 0)
		m->last = p[n - 1];
}

static int mbox_measure(struct mbox *mb, const char *name, struct mbox_meta *meta)
{
	char *block = malloc(MBOX_READ_BLOCK);
	struct mbox_measure m = { .in_header = 1, .bol = 1, .last = '\n' };
	struct stat st;
	int fd, r = 0;

	if (block == NULL)
		return -1;
	fd = openat(mb->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		r = -1;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, block, MBOX_READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -1;
			goto out;
		}
		if (n == 0)
			break;
		mbox_measure_block(&m, block, (size_t)n);
	}
	if (m.in_header)
		m.hdr_size = m.size;      /* no body at all */
	else if (m.last != '\n')
		m.body_lines++;           /* a last line without LF */
	meta->size = m.size;
	/* Every LF goes out as CRLF, and a missing final LF is supplied. */
	meta->vsize = m.size + m.lfs + (m.last != '\n' ? 2 : 0);
	meta->hdr_size = m.hdr_size;
	meta->body_lines = m.body_lines;
	meta->date = (long long)st.st_mtim.tv_sec;
out:
	if (fd >= 0)
		close(fd);
	free(block);
	return r;
}

/* ---- scanning ---- */

struct mbox_scan {
	struct mbox_file *f;
	size_t n, alloc;
};

static int mbox_scan_add(struct mbox_scan *sc, const char *sub, const char *name)
{
	const char *colon = strchr(name, ':');
	size_t base_len = colon != NULL ? (size_t)(colon - name) : strlen(name);
	char *full;

	if (!mbox_base_ok(name, base_len) || strlen(name) > MBOX_SUB_NAME_MAX - 4)
		return 0;   /* not a message file we can name */
	if (sc->n == MBOX_MESSAGES_MAX)
		return 0;
	if (sc->n == sc->alloc) {
		size_t na = sc->alloc == 0 ? 64 : sc->alloc * 2;
		struct mbox_file *f = reallocarray(sc->f, na, sizeof(*f));
		if (f == NULL)
			return -1;
		sc->f = f;
		sc->alloc = na;
	}
	if (asprintf(&full, "%s/%s", sub, name) < 0)
		return -1;
	sc->f[sc->n++] = (struct mbox_file){ full, base_len, 0 };
	return 0;
}

/* new/NAME -> cur/NAME:2, without replacing anything.  The new name
 * (static buffer) on success, NULL otherwise. */
static const char *mbox_move_new(struct mbox *mb, const char *name)
{
	static char to[MBOX_SUB_NAME_MAX + 8];
	char from[MBOX_SUB_NAME_MAX + 8];

	if ((size_t)snprintf(from, sizeof(from), "new/%s", name) >= sizeof(from) ||
	    (size_t)snprintf(to, sizeof(to), "cur/%s%s", name,
			     strchr(name, ':') != NULL ? "" : ":2,") >= sizeof(to))
		return NULL;
	if (renameat2(mb->dirfd, from, mb->dirfd, to, RENAME_NOREPLACE) < 0) {
		log_warn("%s: cannot move %s to %s: %s", mb->path, from, to, strerror(errno));
		return NULL;
	}
	return to + 4;
}

static int mbox_scan_dir(struct mbox *mb, const char *sub, int move, struct mbox_scan *sc)
{
	int fd = openat(mb->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name, *moved;
		if (name[0] == '.' || (de->d_type != DT_REG && de->d_type != DT_UNKNOWN))
			continue;
		moved = move ? mbox_move_new(mb, name) : NULL;
		if (mbox_scan_add(sc, moved != NULL ? "cur" : sub, moved != NULL ? moved : name) < 0) {
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int mbox_file_base_cmp(const void *a, const void *b)
{
	const struct mbox_file *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->name + 4, y->name + 4, n);
	return c != 0 ? c : (x->base_len > y->base_len) - (x->base_len < y->base_len);
}

static int mbox_entry_base_cmp(const void *a, const void *b)
{
	const struct mbox_uidlist_entry *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->base, y->base, n);
	return c != 0 ? c : (x->base_len > y->base_len) - (x->base_len < y->base_len);
}

/* Base name, then "cur/" before "new/". */
static int mbox_file_sort_cmp(const void *a, const void *b)
{
	const struct mbox_file *x = a, *y = b;
	int c = mbox_file_base_cmp(a, b);
	return c != 0 ? c : memcmp(x->name, y->name, 3);
}

/* Sort by base name and drop duplicates (one base in new/ and cur/
 * after an interrupted move: cur/ wins, it sorts first). */
static void mbox_scan_dedup(struct mbox_scan *sc)
{
	size_t keep = 0;

	mbox_sort(sc->f, sc->n, sizeof(sc->f[0]), mbox_file_sort_cmp);
	for (size_t i = 0; i < sc->n; i++) {
		if (keep > 0 && mbox_file_base_cmp(&sc->f[keep - 1], &sc->f[i]) == 0) {
			free(sc->f[i].name);
			continue;
		}
		sc->f[keep++] = sc->f[i];
	}
	sc->n = keep;
}

static void mbox_scan_free(struct mbox_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->f[i].name);
	free(sc->f);
	memset(sc, 0, sizeof(*sc));
}

/* ---- the sync ---- */

static int mbox_lock(struct mbox *mb)
{
	int fd = openat(mb->dirfd, MBOX_LOCK_NAME,
			O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Match scanned files to the list; count those still without a UID.
 * Sets *dropped when list entries have no file any more. */
static size_t mbox_match(struct mbox_scan *sc, struct mbox_uidlist *ul, int *dropped)
{
	size_t unknown = 0, found = 0;

	mbox_sort(ul->e, ul->n, sizeof(ul->e[0]), mbox_entry_base_cmp);
	for (size_t i = 0; i < sc->n; i++) {
		struct mbox_uidlist_entry key = { 0, sc->f[i].name + 4, sc->f[i].base_len };
		struct mbox_uidlist_entry *e = mbox_search(&key, ul->e, ul->n, sizeof(ul->e[0]),
						       mbox_entry_base_cmp);
		sc->f[i].uid = e != NULL ? e->uid : 0;
		if (e != NULL)
			found++;
		else
			unknown++;
	}
	*dropped = found != ul->n;
	return unknown;
}

/* The delivery time at the start of a Maildir base name: SECONDS, then
 * ".M" USECONDS when present (0 for a name of another shape). */
static void mbox_name_time(const char *p, size_t len, unsigned long long *sec_r,
			   unsigned long long *usec_r)
{
	size_t i = 0, j;

	*sec_r = *usec_r = 0;
	for (; i < len && i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
		*sec_r = *sec_r * 10 + (unsigned long long)(p[i] - '0');
	if (i + 1 < len && p[i] == '.' && p[i + 1] == 'M')
		for (j = i + 2; j < len && j < i + 2 + 9 && p[j] >= '0' && p[j] <= '9'; j++)
			*usec_r = *usec_r * 10 + (unsigned long long)(p[j] - '0');
}

/* Arrival order: delivery time numerically (so M999 comes before
 * M1000), then the names bytewise. */
static int mbox_file_time_cmp(const void *a, const void *b)
{
	const struct mbox_file *x = a, *y = b;
	unsigned long long xs, xu, ys, yu;

	mbox_name_time(x->name + 4, x->base_len, &xs, &xu);
	mbox_name_time(y->name + 4, y->base_len, &ys, &yu);
	if (xs != ys)
		return xs < ys ? -1 : 1;
	if (xu != yu)
		return xu < yu ? -1 : 1;
	return mbox_file_base_cmp(a, b);
}

/* Give the unknown files the next UIDs, in arrival order (Maildir names
 * start with the delivery time).  0, or -1 when the 32-bit UID space is
 * used up. */
static int mbox_assign(struct mbox_scan *sc, struct mbox_uidlist *ul)
{
	mbox_sort(sc->f, sc->n, sizeof(sc->f[0]), mbox_file_time_cmp);
	for (size_t i = 0; i < sc->n; i++) {
		if (sc->f[i].uid != 0)
			continue;
		if (ul->uidnext == UINT32_MAX)
			return -1;
		sc->f[i].uid = ul->uidnext++;
	}
	return 0;
}

static int mbox_file_uid_cmp(const void *a, const void *b)
{
	const struct mbox_file *x = a, *y = b;
	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static int mbox_uidlist_write(struct mbox *mb, const struct mbox_scan *sc)
{
	struct buf b;
	int r = 0;

	buf_init(&b, MBOX_FILE_MAX);
	if (buf_printf(&b, "%suidvalidity=%u\nuidnext=%u\n", MBOX_UIDLIST_MAGIC,
		       mb->uidvalidity, mb->uidnext) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < sc->n; i++)
		if (buf_printf(&b, "%u ", sc->f[i].uid) < 0 ||
		    buf_append(&b, sc->f[i].name + 4, sc->f[i].base_len) < 0 || buf_putc(&b, '\n') < 0)
			r = -1;
	if (r == 0)
		r = mbox_write_file(mb, MBOX_UIDLIST_NAME, &b, 1);
	buf_free(&b);
	return r;
}

static int mbox_index_write(struct mbox *mb)
{
	struct buf b;
	int r = 0;

	buf_init(&b, MBOX_FILE_MAX);
	if (buf_printf(&b, "%suidvalidity=%u\n", MBOX_INDEX_MAGIC, mb->uidvalidity) < 0)
		r = -1;
	for (size_t i = 0; r == 0 && i < mb->n; i++) {
		const struct mbox_msg *m = &mb->msgs[i];
		r = buf_printf(&b, "%u %llu %llu %lld %llu %llu\n", m->uid, m->size, m->vsize,
			       m->date, m->hdr_size, m->body_lines);
	}
	if (r == 0)
		r = mbox_write_file(mb, MBOX_INDEX_NAME, &b, 0);
	buf_free(&b);
	return r;
}

static void mbox_msgs_free(struct mbox *mb)
{
	for (size_t i = 0; i < mb->n; i++)
		free(mb->msgs[i].name);
	free(mb->msgs);
	mb->msgs = NULL;
	mb->n = 0;
}

static void mbox_msg_flags(struct mbox_msg *m)
{
	const char *info = strstr(m->name + 4, ":2,");
	size_t n = 0;

	if (info != NULL)
		for (info += 3; *info != '\0' && n < MBOX_FLAGS_MAX; info++)
			m->flags[n++] = *info;
	m->flags[n] = '\0';
}

/* Build mb->msgs from the scan (taking its names), measuring each
 * message the index does not know.  *measured_r counts those. */
static int mbox_build(struct mbox *mb, struct mbox_scan *sc, const struct mbox_meta *meta,
		      size_t nmeta, size_t *measured_r)
{
	size_t keep = 0;

	mbox_msgs_free(mb);
	*measured_r = 0;
	if (sc->n > 0 && (mb->msgs = calloc(sc->n, sizeof(mb->msgs[0]))) == NULL)
		return -1;
	for (size_t i = 0; i < sc->n; i++) {
		struct mbox_meta key = { .uid = sc->f[i].uid }, m;
		const struct mbox_meta *hit = mbox_search(&key, meta, nmeta, sizeof(*meta), mbox_meta_cmp);
		if (hit != NULL) {
			m = *hit;
		} else if (mbox_measure(mb, sc->f[i].name, &m) == 0) {
			(*measured_r)++;
		} else {
			/* Gone since the scan (another reader deleted it), or
			 * unreadable: not listed now; its UID stays reserved. */
			log_debug("%s/%s: %s", mb->path, sc->f[i].name, strerror(errno));
			free(sc->f[i].name);
			continue;
		}
		struct mbox_msg *msg = &mb->msgs[keep++];
		msg->uid = sc->f[i].uid;
		msg->name = sc->f[i].name;
		msg->base_len = sc->f[i].base_len;
		msg->size = m.size;
		msg->vsize = m.vsize;
		msg->date = m.date;
		msg->hdr_size = m.hdr_size;
		msg->body_lines = m.body_lines;
		mbox_msg_flags(msg);
	}
	sc->n = 0;   /* the names belong to mb->msgs now */
	mb->n = keep;
	return 0;
}

/* Read the UID list; a missing or damaged one starts a new UIDVALIDITY. */
static int mbox_uidlist_load(struct mbox *mb, struct buf *text, struct mbox_uidlist *ul,
			     int *rewrite, const char **error_r)
{
	const char *perr;

	if (mbox_read_file(mb, MBOX_UIDLIST_NAME, text) < 0)
		return mbox_fail(error_r, "cannot read the UID list");
	if (text->len > 0 && mbox_uidlist_parse(text->data, text->len, ul, &perr) == 0)
		return 0;
	if (text->len > 0)
		log_warn("%s/%s: %s: starting a new UIDVALIDITY", mb->path, MBOX_UIDLIST_NAME, perr);
	memset(ul, 0, sizeof(*ul));
	ul->uidvalidity = (uint32_t)time(NULL);
	if (ul->uidvalidity == 0)
		ul->uidvalidity = 1;
	ul->uidnext = 1;
	*rewrite = 1;
	return 0;
}

static int mbox_sync_locked(struct mbox *mb, int options, const char **error_r)
{
	struct buf text, itext;
	struct mbox_uidlist ul = { 0 };
	struct mbox_scan sc = { 0 };
	struct mbox_meta *meta = NULL;
	size_t nmeta = 0, measured = 0;
	int rewrite = 0, dropped = 0, r = -1;

	buf_init(&text, MBOX_FILE_MAX);
	buf_init(&itext, MBOX_FILE_MAX);
	if (mbox_uidlist_load(mb, &text, &ul, &rewrite, error_r) < 0)
		goto out;
	/* new/ before cur/: a message moved meanwhile is then found in cur/. */
	if (mbox_scan_dir(mb, "new", (options & MBOX_MOVE_NEW) != 0, &sc) < 0 ||
	    mbox_scan_dir(mb, "cur", 0, &sc) < 0) {
		*error_r = "cannot scan the Maildir";
		goto out;
	}
	mbox_scan_dedup(&sc);
	if (mbox_match(&sc, &ul, &dropped) > 0)
		rewrite = 1;
	if (mbox_assign(&sc, &ul) < 0) {
		/* UID space exhausted: renumber everything under a new
		 * UIDVALIDITY (RFC 3501 2.3.1.1 allows exactly this). */
		log_warn("%s: UIDs exhausted, new UIDVALIDITY", mb->path);
		ul.n = 0;
		ul.uidnext = 1;
		ul.uidvalidity = ul.uidvalidity == UINT32_MAX ? 1 : ul.uidvalidity + 1;
		for (size_t i = 0; i < sc.n; i++)
			sc.f[i].uid = 0;
		(void)mbox_assign(&sc, &ul);
		rewrite = 1;
	}
	mb->uidvalidity = ul.uidvalidity;
	mb->uidnext = ul.uidnext;
	mbox_sort(sc.f, sc.n, sizeof(sc.f[0]), mbox_file_uid_cmp);
	if ((rewrite || dropped) && mbox_uidlist_write(mb, &sc) < 0) {
		*error_r = "cannot write the UID list";
		goto out;
	}
	if (mbox_read_file(mb, MBOX_INDEX_NAME, &itext) == 0)
		mbox_index_parse(itext.data != NULL ? itext.data : "", itext.len, mb->uidvalidity,
				 &meta, &nmeta);
	if (mbox_build(mb, &sc, meta, nmeta, &measured) < 0) {
		*error_r = "out of memory";
		goto out;
	}
	if ((measured > 0 || nmeta != mb->n) && mbox_index_write(mb) < 0)
		log_warn("%s/%s: cannot write the index: %s", mb->path, MBOX_INDEX_NAME, strerror(errno));
	r = 0;
out:
	mbox_scan_free(&sc);
	mbox_uidlist_free(&ul);
	free(meta);
	buf_free(&text);
	buf_free(&itext);
	return r;
}

int mbox_sync(struct mbox *mb, int options, const char **error_r)
{
	int lockfd = mbox_lock(mb), r;

	if (lockfd < 0)
		return mbox_fail(error_r, "cannot lock the UID list");
	r = mbox_sync_locked(mb, options, error_r);
	close(lockfd);
	return r;
}

/* ---- open / close ---- */

int mbox_open(const char *path, size_t len, int options, struct mbox **mb_r, const char **error_r)
{
	struct mbox *mb;

	*mb_r = NULL;
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (!maildir_path_ok(path, len) || len > MBOX_PATH_MAX)
		return mbox_fail(error_r, "mailbox path leaves the mail root");
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL)
		return mbox_fail(error_r, "out of memory");
	memcpy(mb->path, path, len);
	mb->path[len] = '\0';
	mb->dirfd = open(mb->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mb->dirfd < 0 && errno == ENOENT && (options & MBOX_CREATE) != 0) {
		if (maildir_create(mb->path, error_r) < 0) {
			mbox_close(&mb);
			return -1;
		}
		mb->dirfd = open(mb->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (mb->dirfd < 0) {
		int e = errno;
		mbox_close(&mb);
		errno = e;
		return mbox_fail(error_r, "cannot open the Maildir");
	}
	if ((options & MBOX_NO_SYNC) == 0 && mbox_sync(mb, options, error_r) < 0) {
		mbox_close(&mb);
		return -1;
	}
	*mb_r = mb;
	return 0;
}

void mbox_close(struct mbox **mbp)
{
	struct mbox *mb = *mbp;

	if (mb == NULL)
		return;
	mbox_msgs_free(mb);
	if (mb->dirfd >= 0)
		close(mb->dirfd);
	free(mb);
	*mbp = NULL;
}

/* ---- messages ---- */

/* Find message idx's file again by base name (renamed by another
 * reader).  0 with the name updated, -1 when it is gone. */
static int mbox_relocate(struct mbox *mb, size_t idx)
{
	struct mbox_scan sc = { 0 };
	struct mbox_msg *m = &mb->msgs[idx];
	int r = -1;

	if (mbox_scan_dir(mb, "cur", 0, &sc) < 0 || mbox_scan_dir(mb, "new", 0, &sc) < 0) {
		mbox_scan_free(&sc);
		return -1;
	}
	for (size_t i = 0; i < sc.n; i++)
		if (sc.f[i].base_len == m->base_len &&
		    memcmp(sc.f[i].name + 4, m->name + 4, m->base_len) == 0) {
			free(m->name);
			m->name = sc.f[i].name;
			sc.f[i].name = NULL;
			mbox_msg_flags(m);
			r = 0;
			break;
		}
	mbox_scan_free(&sc);
	if (r < 0)
		errno = ENOENT;
	return r;
}

int mbox_msg_open(struct mbox *mb, size_t idx)
{
	int fd;

	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	fd = openat(mb->dirfd, mb->msgs[idx].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno == ENOENT && mbox_relocate(mb, idx) == 0)
		fd = openat(mb->dirfd, mb->msgs[idx].name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	return fd;
}

int mbox_msg_remove(struct mbox *mb, size_t idx)
{
	if (idx >= mb->n) {
		errno = EINVAL;
		return -1;
	}
	if (unlinkat(mb->dirfd, mb->msgs[idx].name, 0) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	if (mbox_relocate(mb, idx) < 0)
		return 0;   /* already gone: removed by someone else */
	if (unlinkat(mb->dirfd, mb->msgs[idx].name, 0) < 0 && errno != ENOENT)
		return -1;
	return 0;
}

long mbox_find_uid(const struct mbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid == uid)
			return (long)mid;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
