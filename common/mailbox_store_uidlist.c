/* mailbox_store_uidlist: the store's use of dovecot-uidlist,
 * dovecot-keywords and the per-user UIDVALIDITY counter.
 *
 * Offers: reading the UID list whole or only its appended tail, appending
 * records (one write and fdatasync before any session shows the UIDs),
 * creating a list for a new UIDVALIDITY, rewriting it without the
 * records of gone messages, base name and UID lookups (the records a
 * snapshot holds are looked up there, mailbox_store_snap.c: a session
 * keeps only those read since in memory); reading and
 * extending the keyword names.  The formats are Dovecot's
 * (common/dovecot_uidlist.c, common/dovecot_keywords.c), so Dovecot and
 * Postern can serve one tree in turn.
 *
 * UIDVALIDITY: a new folder (or one whose list is lost) takes the next
 * value of postern-uidvalidity in the user's INBOX directory, under an
 * flock: the time, or one more than the last value given when that is
 * not smaller, so a folder deleted and made again within one second
 * still gets a new UIDVALIDITY (RFC 9051 2.3.1.1).
 *
 * Trusts: nothing in the files (bounded, parsed with length, a damaged
 * list is logged and replaced by a new UIDVALIDITY: clients then resync,
 * nothing is lost).  Fails: -1 with errno. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "buf.h"
#include "dovecot_keywords.h"
#include "dovecot_uidlist.h"
#include "fsutil.h"
#include "log.h"
#include "mailbox_store_int.h"

#define MBOX_UIDLIST_TMP "dovecot-uidlist.postern-tmp"
#define MBOX_KEYWORDS_TMP "dovecot-keywords.postern-tmp"
#define MBOX_UIDLIST_FILE_MAX ((size_t)DOVECOT_UIDLIST_RECORDS_MAX * 320)

/* ---- reading ---- */

/* EMAILID (RFC 8474) of a record's G field: Postern writes "E" and 16
 * hex digits (a copy keeps its source's); another GUID (Dovecot's) is
 * hashed, as a base name is. */
static uint64_t mbox_ul_emailid(const struct dovecot_uidlist_rec *rec)
{
	const char *v;
	size_t n;
	uint64_t id = 0;

	if (rec->fields == NULL || dovecot_uidlist_field(rec->fields, rec->fields_len, 'G', &v, &n) != 1 || n == 0)
		return 0;
	if (n == 17 && v[0] == 'E') {
		size_t i = 1;
		for (; i < n && ((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')); i++)
			id = id << 4 | (uint64_t)(v[i] <= '9' ? v[i] - '0' : v[i] - 'a' + 10);
		if (i == n && id != 0)
			return id;
	}
	return mbox_emailid_hash(v, n);
}

static int mbox_ul_add(struct mbox *mb, uint32_t uid, const char *base, size_t len, uint64_t emailid)
{
	struct mbox_state *st = mb->st;
	char *copy;

	void *grown = mbox_grow(st->ul, st->ul_n, &st->ul_alloc, sizeof(*st->ul));
	if (grown == NULL)
		return -1;
	st->ul = grown;
	if ((copy = arena_strndup(&st->names, base, len)) == NULL)
		return -1;
	st->ul[st->ul_n++] = (struct mbox_ul_entry){ uid, copy, len, emailid };
	if (uid >= mb->uidnext)
		mb->uidnext = uid + 1;
	return 0;
}

/* Read [off, end) of fd into b. */
static int mbox_read_range(int fd, off_t off, off_t end, struct buf *b)
{
	while (off < end) {
		char chunk[65536];
		size_t want = (size_t)(end - off) < sizeof(chunk) ? (size_t)(end - off) : sizeof(chunk);
		ssize_t n = pread(fd, chunk, want, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (buf_append(b, chunk, (size_t)n) < 0)
			return -1;
		off += n;
	}
	return 0;
}

int mbox_ul_read(struct mbox *mb, int *full_r)
{
	struct mbox_state *st = mb->st;
	struct dovecot_uidlist ul = { 0 };
	struct stat sb;
	struct buf b;
	const char *err = NULL;
	int fd, r = -1, tail;

	fd = openat(mb->dirfd, MBOX_UIDLIST_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		mbox_filepos_forget(&st->ul_pos);
		return 1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if ((unsigned long long)sb.st_size > MBOX_UIDLIST_FILE_MAX) {
		close(fd);
		log_warn("%s/%s: larger than %zu bytes: starting a new UIDVALIDITY", mb->path,
			 MBOX_UIDLIST_FILE, MBOX_UIDLIST_FILE_MAX);
		return 1;
	}
	tail = st->ul_pos.known && st->ul_pos.dev == sb.st_dev && st->ul_pos.ino == sb.st_ino;
	if (tail && sb.st_size <= st->ul_pos.off) {
		close(fd);
		return 0;   /* nothing appended */
	}
	buf_init(&b, MBOX_UIDLIST_FILE_MAX);
	if (mbox_read_range(fd, tail ? st->ul_pos.off : 0, sb.st_size, &b) < 0)
		goto out;
	if (tail) {
		if (dovecot_uidlist_parse_tail(b.data != NULL ? b.data : "", b.len, mbox_ul_last(st), &ul, &err) < 0) {
			log_warn("%s/%s: %s: starting a new UIDVALIDITY", mb->path, MBOX_UIDLIST_FILE, err);
			r = 1;
			goto out;
		}
	} else {
		if (dovecot_uidlist_parse(b.data != NULL ? b.data : "", b.len, &ul, &err) < 0) {
			log_warn("%s/%s: %s: starting a new UIDVALIDITY", mb->path, MBOX_UIDLIST_FILE, err);
			r = 1;
			goto out;
		}
		*full_r = 1;
		mbox_ul_reset(mb);
		mb->uidvalidity = ul.hdr.uidvalidity;
		mb->uidnext = 1;
		memcpy(st->ul_guid, ul.hdr.guid, sizeof(st->ul_guid));
		st->ul_has_guid = ul.hdr.has_guid;
		mbox_filepos_take(&st->ul_pos, fd, &sb, 0);   /* fd stays open */
	}
	for (size_t i = 0; i < ul.n; i++)
		if (mbox_ul_add(mb, ul.recs[i].uid, ul.recs[i].name, ul.recs[i].base_len, mbox_ul_emailid(&ul.recs[i])) < 0)
			goto out;
	if (ul.nextuid > mb->uidnext)
		mb->uidnext = ul.nextuid;
	st->ul_pos.off += (off_t)ul.end;
	if (st->snap != NULL)
		st->snap_tail += ul.n;
	r = 0;
out:
	dovecot_uidlist_free(&ul);
	buf_free(&b);
	if (fd != st->ul_pos.pin)
		close(fd);
	return r;
}

/* ---- lookups ---- */

static const struct mbox_ul_entry *mbox_sort_ul;   /* qsort has no context argument */

static int mbox_ul_base_cmp(const void *a, const void *b)
{
	const struct mbox_ul_entry *x = &mbox_sort_ul[*(const size_t *)a];
	const struct mbox_ul_entry *y = &mbox_sort_ul[*(const size_t *)b];
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->base, y->base, n);
	return c != 0 ? c : (x->base_len > y->base_len) - (x->base_len < y->base_len);
}

/* When the snapshot's names did not hold: its part of the list, read
 * from the list itself (the file it was checked against, kept open:
 * what it holds up to there never changes).  1 when read. */
static int mbox_ul_fallback(struct mbox_state *st)
{
	struct dovecot_uidlist ul = { 0 };
	struct buf b;
	const char *err;
	uint64_t end = mbox_snap_ul_off(st->snap);

	if (st->ulfb_state != 0)
		return st->ulfb_state > 0;
	st->ulfb_state = -1;
	buf_init(&b, MBOX_UIDLIST_FILE_MAX);
	if (st->ul_pos.pin >= 0 && mbox_read_range(st->ul_pos.pin, 0, (off_t)end, &b) == 0 && b.len == end &&
	    dovecot_uidlist_parse(b.data != NULL ? b.data : "", b.len, &ul, &err) == 0 &&
	    (st->ulfb = calloc(ul.n + 1, sizeof(*st->ulfb))) != NULL &&
	    (st->ulfb_sorted = calloc(ul.n + 1, sizeof(*st->ulfb_sorted))) != NULL) {
		size_t i;
		for (i = 0; i < ul.n; i++) {
			char *copy = arena_strndup(&st->names, ul.recs[i].name, ul.recs[i].base_len);
			if (copy == NULL)
				break;
			st->ulfb[i] = (struct mbox_ul_entry){ ul.recs[i].uid, copy, ul.recs[i].base_len,
							      mbox_ul_emailid(&ul.recs[i]) };
			st->ulfb_sorted[i] = i;
		}
		if (i == ul.n) {
			st->ulfb_n = ul.n;
			mbox_sort_ul = st->ulfb;
			if (ul.n > 1)
				qsort(st->ulfb_sorted, ul.n, sizeof(*st->ulfb_sorted), mbox_ul_base_cmp);
			st->ulfb_state = 1;
		}
	}
	dovecot_uidlist_free(&ul);
	buf_free(&b);
	return st->ulfb_state > 0;
}

/* The entry of uid in e[0, n) (ascending UID), or NULL. */
static const struct mbox_ul_entry *mbox_ul_search(const struct mbox_ul_entry *e, size_t n, uint32_t uid)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e[mid].uid == uid)
			return &e[mid];
		if (e[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The last entry named base in e, by sorted (indexes by base name), or NULL. */
static const struct mbox_ul_entry *mbox_ul_search_base(const struct mbox_ul_entry *e, const size_t *sorted, size_t n,
							const char *base, size_t len)
{
	const struct mbox_ul_entry *hit = NULL;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct mbox_ul_entry *x = &e[sorted[mid]];
		size_t k = x->base_len < len ? x->base_len : len;
		int c = memcmp(x->base, base, k);
		if (c == 0)
			c = (x->base_len > len) - (x->base_len < len);
		if (c == 0) {
			/* Several records of one base name (a file that came
			 * back): the highest UID speaks for it. */
			hit = x;
			lo = mid + 1;
		} else if (c < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return hit;
}

int mbox_ul_find_base(struct mbox *mb, const char *base, size_t len, struct mbox_ul_entry *out)
{
	struct mbox_state *st = mb->st;
	const struct mbox_ul_entry *hit;

	if (st->ul_sorted_n != st->ul_n) {
		size_t *p = reallocarray(st->ul_sorted, st->ul_n > 0 ? st->ul_n : 1, sizeof(*p));
		if (p == NULL)
			return -1;
		st->ul_sorted = p;
		for (size_t i = 0; i < st->ul_n; i++)
			p[i] = i;
		mbox_sort_ul = st->ul;
		if (st->ul_n > 1)
			qsort(p, st->ul_n, sizeof(*p), mbox_ul_base_cmp);
		st->ul_sorted_n = st->ul_n;
	}
	/* Those read since the snapshot are above every UID it holds. */
	hit = mbox_ul_search_base(st->ul, st->ul_sorted, st->ul_sorted_n, base, len);
	if (hit == NULL && st->snap != NULL && !mbox_snap_names_ok(st->snap)) {
		if (!mbox_ul_fallback(st)) {
			errno = EIO;
			return -1;
		}
		hit = mbox_ul_search_base(st->ulfb, st->ulfb_sorted, st->ulfb_n, base, len);
	}
	if (hit != NULL) {
		*out = *hit;
		return 1;
	}
	long i = mbox_snap_find_base(st->snap, base, len);
	if (i < 0)
		return 0;
	mbox_snap_entry(st->snap, (size_t)i, out, NULL);
	return 1;
}

int mbox_ul_get(struct mbox_state *st, uint32_t uid, struct mbox_ul_entry *out)
{
	const struct mbox_ul_entry *e = mbox_ul_search(st->ul, st->ul_n, uid);
	long i;

	if (e == NULL && st->snap != NULL && !mbox_snap_names_ok(st->snap) && mbox_ul_fallback(st))
		e = mbox_ul_search(st->ulfb, st->ulfb_n, uid);
	if (e != NULL) {
		*out = *e;
		return 1;
	}
	if (!mbox_snap_names_ok(st->snap) || (i = mbox_snap_find(st->snap, uid)) < 0)
		return 0;
	mbox_snap_entry(st->snap, (size_t)i, out, NULL);
	return 1;
}

void mbox_ul_listed(struct mbox_state *st, size_t k, struct mbox_ul_entry *e)
{
	size_t sn = mbox_snap_count(st->snap);

	if (k >= sn) {
		*e = st->ul[k - sn];
	} else if (mbox_snap_names_ok(st->snap)) {
		mbox_snap_entry(st->snap, k, e, NULL);
	} else {
		uint32_t uid = mbox_snap_uid(st->snap, k);
		const struct mbox_ul_entry *f = mbox_ul_fallback(st) ? mbox_ul_search(st->ulfb, st->ulfb_n, uid) : NULL;
		*e = f != NULL ? *f : (struct mbox_ul_entry){ .uid = uid, .base = "" };
	}
}

size_t mbox_ul_count(const struct mbox_state *st)
{
	return mbox_snap_count(st->snap) + st->ul_n;
}

uint32_t mbox_ul_last(const struct mbox_state *st)
{
	return st->ul_n > 0 ? st->ul[st->ul_n - 1].uid : mbox_snap_max_uid(st->snap);
}

void mbox_ul_reset(struct mbox *mb)
{
	struct mbox_state *st = mb->st;

	st->ul_n = st->ul_sorted_n = 0;
	free(st->ulfb);
	free(st->ulfb_sorted);
	st->ulfb = NULL;
	st->ulfb_sorted = NULL;
	st->ulfb_n = 0;
	st->ulfb_state = 0;
	arena_reset(&st->names);
}

/* ---- writing ---- */

/* One record; a message with its own EMAILID (a copy) keeps it in the
 * G field, where Dovecot keeps a message's GUID, so a rewrite of the
 * list keeps it too. */
static int mbox_ul_record(struct buf *b, const struct mbox_ul_entry *e)
{
	char g[32];
	struct dovecot_uidlist_rec r = { .uid = e->uid, .name = e->base, .name_len = e->base_len,
					 .base_len = e->base_len };

	if (e->emailid != 0) {
		r.fields = g;
		r.fields_len = (size_t)snprintf(g, sizeof(g), "GE%016llx", (unsigned long long)e->emailid);
	}
	return dovecot_uidlist_write_record(b, &r);
}

int mbox_ul_append(struct mbox *mb, const struct mbox_ul_entry *e, size_t n)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	struct buf b;
	int fd, r = -1;

	if (n == 0)
		return 0;
	buf_init(&b, MBOX_UIDLIST_FILE_MAX);
	for (size_t i = 0; i < n; i++)
		if (mbox_ul_record(&b, &e[i]) < 0) {
			buf_free(&b);
			return -1;
		}
	fd = openat(mb->dirfd, MBOX_UIDLIST_FILE, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb) < 0)
		goto out;
	if (!S_ISREG(sb.st_mode) || !st->ul_pos.known || sb.st_dev != st->ul_pos.dev ||
	    sb.st_ino != st->ul_pos.ino || sb.st_size < st->ul_pos.off) {
		errno = ESTALE;   /* the caller read the list under this lock first */
		goto out;
	}
	/* A line a crashed writer left half written is cut first. */
	if (sb.st_size != st->ul_pos.off && ftruncate(fd, st->ul_pos.off) < 0)
		goto out;
	if (lseek(fd, st->ul_pos.off, SEEK_SET) < 0 || fd_write_all(fd, b.data, b.len) < 0 ||
	    fdatasync(fd) < 0)
		goto out;
	st->ul_pos.off += (off_t)b.len;
	r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = mbox_ul_add(mb, e[i].uid, e[i].base, e[i].base_len, e[i].emailid);
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return r;
}

/* Write a whole list (header + the records of keep) in place of the old
 * one: temp file, fsync, rename, fsync of the folder. */
static int mbox_ul_replace(struct mbox *mb, const struct dovecot_uidlist_header *h,
			   const struct mbox_ul_entry *keep, size_t n)
{
	struct mbox_state *st = mb->st;
	struct atomic_file af;
	struct stat sb;
	struct buf b;
	int fd = -1, r = -1;

	buf_init(&b, MBOX_UIDLIST_FILE_MAX);
	if (dovecot_uidlist_write_header(&b, h) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (mbox_ul_record(&b, &keep[i]) < 0)
			goto out;
	if (atomic_file_open(&af, mb->dirfd, MBOX_UIDLIST_FILE, MBOX_UIDLIST_TMP, O_RDWR, 0600) < 0)
		goto out;
	if (fd_write_all(af.fd, b.data, b.len) < 0 || fstat(af.fd, &sb) < 0) {
		atomic_file_abort(&af);
		goto out;
	}
	if (atomic_file_commit(&af, ATOMIC_SYNC | ATOMIC_KEEP_FD | ATOMIC_SYNC_DIR) < 0) {
		fd = af.fd;   /* only a failed directory fsync leaves it open */
		goto out;
	}
	mbox_filepos_take(&st->ul_pos, af.fd, &sb, (off_t)b.len);   /* fd stays open */
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_free(&b);
	return r;
}

/* The user's INBOX directory: the folder itself, or its parent for a
 * Maildir++ subfolder (".Name"). */
static int mbox_root_fd(struct mbox *mb)
{
	const char *slash = strrchr(mb->path, '/');
	const char *last = slash != NULL ? slash + 1 : mb->path;

	if (last[0] == '.' && last[1] != '\0')
		return openat(mb->dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fcntl(mb->dirfd, F_DUPFD_CLOEXEC, 0);
}

int mbox_ul_create(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct dovecot_uidlist_header h = { 0 };
	int root = mbox_root_fd(mb), r;

	if (root < 0)
		return -1;
	r = mbox_uidvalidity_next(root, &h.uidvalidity);
	close(root);
	if (r < 0 || dovecot_uidlist_guid_new(h.guid) < 0)
		return -1;
	h.has_guid = 1;
	h.nextuid = 1;
	if (mbox_ul_replace(mb, &h, NULL, 0) < 0)
		return -1;
	/* Another UIDVALIDITY: nothing of the old list, its snapshot or the
	 * log of its UIDs holds; the log is read whole next (and found to
	 * be another UIDVALIDITY's: made anew). */
	mbox_snap_detach(st);
	mbox_ul_reset(mb);
	mbox_filepos_forget(&st->idx_pos);
	memcpy(st->ul_guid, h.guid, sizeof(st->ul_guid));
	st->ul_has_guid = 1;
	mb->uidvalidity = h.uidvalidity;
	mb->uidnext = 1;
	return 0;
}

int mbox_ul_compact(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct dovecot_uidlist_header h = { .uidvalidity = mb->uidvalidity, .nextuid = mb->uidnext };
	size_t keep = 0, listed = mbox_ul_count(st);

	if (listed <= 2 * st->live_n + MBOX_COMPACT_SLACK)
		return 0;
	/* The GUID names the folder (Dovecot's mailbox GUID): a rewrite keeps it. */
	if (st->ul_has_guid) {
		memcpy(h.guid, st->ul_guid, sizeof(h.guid));
		h.has_guid = 1;
	} else if (dovecot_uidlist_guid_new(h.guid) == 0) {
		h.has_guid = 1;
	}
	size_t alloc = st->live_n + 1;
	struct mbox_ul_entry *k = calloc(alloc, sizeof(*k));
	if (k == NULL)
		return -1;
	for (size_t i = 0; i < listed && keep < alloc; i++) {
		struct mbox_index_rec r;
		struct mbox_ul_entry e;
		mbox_ul_listed(st, i, &e);
		if (e.base_len > 0 && mbox_fold_get(st, e.uid, &r))
			k[keep++] = e;
	}
	int r = mbox_ul_replace(mb, &h, k, keep);
	free(k);
	if (r < 0)
		return -1;
	/* What is in memory still lists the records dropped: the caller
	 * reads the list again. */
	memcpy(st->ul_guid, h.guid, sizeof(st->ul_guid));
	st->ul_has_guid = h.has_guid;
	return 1;
}

/* ---- keywords ---- */

static void mbox_kw_publish(struct mbox *mb)
{
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++)
		mb->keywords[i] = dovecot_keywords_name(&mb->st->kw, (char)('a' + i), NULL);
}

int mbox_kw_read(struct mbox *mb)
{
	struct mbox_state *st = mb->st;
	struct stat sb;
	struct buf b;
	const char *err;
	int fd;

	fd = openat(mb->dirfd, MBOX_KEYWORDS_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)
			return -1;
		dovecot_keywords_init(&st->kw);
		st->kw_size = -1;
		mbox_kw_publish(mb);
		return 0;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	if (sb.st_size == st->kw_size && sb.st_mtim.tv_sec == st->kw_mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == st->kw_mtime.tv_nsec && sb.st_ino == st->kw_ino) {
		close(fd);
		return 0;
	}
	buf_init(&b, DOVECOT_KEYWORDS_FILE_MAX);
	if (fd_read_all(fd, &b, DOVECOT_KEYWORDS_FILE_MAX) < 0 ||
	    dovecot_keywords_parse(b.data != NULL ? b.data : "", b.len, &st->kw, &err) < 0) {
		log_warn("%s/%s: unusable, keyword letters keep no names: %s", mb->path,
			 MBOX_KEYWORDS_FILE, b.len > DOVECOT_KEYWORDS_FILE_MAX ? "too large" : err);
		dovecot_keywords_init(&st->kw);
	}
	close(fd);
	buf_free(&b);
	st->kw_size = sb.st_size;
	st->kw_mtime = sb.st_mtim;
	st->kw_ino = sb.st_ino;
	mbox_kw_publish(mb);
	mb->st->kw_changed = 1;
	return 0;
}

int mbox_kw_add(struct mbox *mb, const char *name, size_t len, int *index_r)
{
	struct mbox_state *st = mb->st;
	struct buf b;
	char letter;
	const char *err;
	int r = -1;

	int added = dovecot_keywords_add(&st->kw, name, len, &letter, &err);
	if (added < 0) {
		errno = ENOSPC;
		return -1;
	}
	*index_r = letter - 'a';
	if (added == 0)
		return 0;
	buf_init(&b, DOVECOT_KEYWORDS_FILE_MAX);
	/* The directory too: message names take the new letter next, and a
	 * crash must not bring back a file that lacks it. */
	if (dovecot_keywords_write(&st->kw, &b) == 0)
		r = atomic_file_write(mb->dirfd, MBOX_KEYWORDS_FILE, MBOX_KEYWORDS_TMP, b.data, b.len, 0600,
				      ATOMIC_SYNC | ATOMIC_SYNC_DIR);
	if (r < 0)
		st->kw_size = -2;   /* reread next time */
	buf_free(&b);
	mbox_kw_publish(mb);
	return r;
}

/* ---- UIDVALIDITY ---- */

int mbox_uidvalidity_next(int root_fd, uint32_t *v_r)
{
	char text[32];
	unsigned long long last = 0;
	int fd = openat(root_fd, MBOX_UIDVALIDITY_NAME, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	ssize_t n;

	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	n = pread(fd, text, sizeof(text) - 1, 0);
	if (n > 0) {
		text[n] = '\0';
		last = strtoull(text, NULL, 10);   /* a damaged file counts as 0: time goes on */
	}
	unsigned long long now = (unsigned long long)time(NULL), v = now > last ? now : last + 1;
	if (v == 0 || v > UINT32_MAX)
		v = 1;   /* after 2106, or a wrapped counter: RFC 9051 only needs a change */
	int len = snprintf(text, sizeof(text), "%llu\n", v);
	if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) < 0 || fdatasync(fd) < 0) {
		close(fd);
		return -1;
	}
	close(fd);   /* releases the lock */
	*v_r = (uint32_t)v;
	return 0;
}
