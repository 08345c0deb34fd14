/* mailbox_store_scan: the store's view of message files.
 *
 * Offers: Maildir info letters <-> flags, message file names, directory
 * scans of new/ and cur/, directory stamps, what the store learns of a
 * message when it first sees it (sizes from the S= and W= of its name,
 * Dovecot's and Postern's deliveries write both, when the file's size
 * bears S= out; else by reading it), and the one measurement of a
 * message (sizes, header size, body lines) when it must be read.
 *
 * Trusts: nothing in the folder but a W= in a name whose S= is the
 * file's size (W= cannot be checked without reading; a message whose
 * W= lies is sent with its true size once read: mbox_msg_header_size).
 * Scans list regular files only (a
 * FIFO, device or symlink is skipped, so nothing can make a scan block
 * while it holds the folder lock), names must be printable base names
 * (mbox_base_ok).  Messages are opened O_NOFOLLOW | O_NONBLOCK relative
 * to the folder's descriptor and checked to be regular files before
 * they are read.
 *
 * Fails: -1 with errno; a scan that cannot list a directory fails
 * (the caller does not take "unreadable" for "empty"). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailbox_store_int.h"

#define MBOX_READ_BLOCK 65536

/* The system flags in Maildir letter order. */
static const struct { char letter; uint32_t flag; } mbox_system_letters[] = {
	{ 'D', MBOX_DRAFT }, { 'F', MBOX_FLAGGED }, { 'R', MBOX_ANSWERED },
	{ 'S', MBOX_SEEN }, { 'T', MBOX_DELETED },
};

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

void mbox_info_parse(const char *p, size_t len, uint32_t *flags_r, uint32_t *other_r)
{
	uint32_t flags = 0, other = 0;

	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c >= 'a' && c <= 'z') {
			flags |= MBOX_KEYWORD(c - 'a');
			continue;
		}
		if (c < 'A' || c > 'Z')
			continue;   /* not a flag letter: not kept */
		int sys = 0;
		for (size_t j = 0; j < sizeof(mbox_system_letters) / sizeof(mbox_system_letters[0]); j++)
			if (mbox_system_letters[j].letter == c) {
				flags |= mbox_system_letters[j].flag;
				sys = 1;
			}
		if (!sys)
			other |= 1u << (c - 'A');
	}
	*flags_r = flags;
	*other_r = other;
}

size_t mbox_info_letters(uint32_t flags, uint32_t other, char *out)
{
	size_t n = 0;

	/* ASCII order, as the Maildir specification asks: capitals, then
	 * the keyword letters. */
	for (char c = 'A'; c <= 'Z'; c++) {
		int set = (other & (1u << (c - 'A'))) != 0;
		for (size_t j = 0; j < sizeof(mbox_system_letters) / sizeof(mbox_system_letters[0]); j++)
			if (mbox_system_letters[j].letter == c && (flags & mbox_system_letters[j].flag) != 0)
				set = 1;
		if (set)
			out[n++] = c;
	}
	for (int i = 0; i < MBOX_KEYWORDS_MAX; i++)
		if ((flags & MBOX_KEYWORD(i)) != 0)
			out[n++] = (char)('a' + i);
	out[n] = '\0';
	return n;
}

int mbox_msg_path(const char *base, size_t base_len, uint32_t flags, uint32_t other, char *out, size_t outlen)
{
	char letters[64];
	int n;

	mbox_info_letters(flags, other, letters);
	n = snprintf(out, outlen, "cur/%.*s:2,%s", (int)base_len, base, letters);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* ---- scans ---- */

int mbox_scan_push(struct mbox_scan *sc, const struct mbox_file *f)
{
	void *grown = mbox_grow(sc->f, sc->n, &sc->alloc, sizeof(*sc->f));
	if (grown == NULL)
		return -1;
	sc->f = grown;
	sc->f[sc->n++] = *f;
	return 0;
}

static int mbox_scan_add(struct mbox_scan *sc, const char *sub, const char *name)
{
	const char *colon = strchr(name, ':');
	size_t base_len = colon != NULL ? (size_t)(colon - name) : strlen(name);

	if (!mbox_base_ok(name, base_len))
		return 0;   /* not a message file we can name */
	if (sc->n >= mbox_messages_max) {
		sc->overflow = 1;
		return 0;
	}
	struct mbox_file f = { .base_len = base_len };
	if (asprintf(&f.name, "%s/%s", sub, name) < 0)
		return -1;
	if (colon != NULL && strncmp(colon, ":2,", 3) == 0) {
		f.has_info = 1;
		mbox_info_parse(colon + 3, strlen(colon + 3), &f.flags, &f.other);
	}
	if (mbox_scan_push(sc, &f) < 0) {
		free(f.name);
		return -1;
	}
	return 0;
}

int mbox_scan_dir(struct mbox *mb, const char *sub, struct mbox_scan *sc)
{
	int fd = openat(mb->dirfd, sub, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;

	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	mb->dir_scans++;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		const char *name = de->d_name;
		if (name[0] == '.')
			continue;
		if (de->d_type == DT_UNKNOWN) {
			struct stat sb;
			if (fstatat(fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
				continue;
		} else if (de->d_type != DT_REG) {
			continue;   /* a FIFO, device, link or directory is no message */
		}
		if (mbox_scan_add(sc, sub, name) < 0) {
			closedir(d);
			return -1;
		}
	}
	int e = errno;
	closedir(d);
	errno = e;
	return e != 0 ? -1 : 0;
}

void mbox_scan_free(struct mbox_scan *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		free(sc->f[i].name);
	free(sc->f);
	memset(sc, 0, sizeof(*sc));
}

static int mbox_file_base_cmp(const void *a, const void *b)
{
	const struct mbox_file *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->name + 4, y->name + 4, n);
	if (c != 0)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	return memcmp(x->name, y->name, 3);   /* cur/ before new/ */
}

void mbox_scan_sort_base(struct mbox_scan *sc)
{
	if (sc->n > 1)
		qsort(sc->f, sc->n, sizeof(sc->f[0]), mbox_file_base_cmp);
}

int mbox_find_base(struct mbox *mb, const char *base, size_t len, struct mbox_scan *sc)
{
	struct mbox_scan all = { 0 };
	int r = 0;

	memset(sc, 0, sizeof(*sc));
	if (mbox_scan_dir(mb, "cur", &all) < 0 || mbox_scan_dir(mb, "new", &all) < 0) {
		int e = errno;
		mbox_scan_free(&all);
		errno = e;
		return -1;
	}
	for (size_t i = 0; i < all.n; i++) {
		if (all.f[i].base_len != len || memcmp(all.f[i].name + 4, base, len) != 0)
			continue;
		if (mbox_scan_push(sc, &all.f[i]) < 0) {
			r = -1;
			break;
		}
		all.f[i].name = NULL;
	}
	mbox_scan_free(&all);
	return r;
}

long long mbox_dir_stamp(struct mbox *mb, const char *sub)
{
	struct stat sb;

	if (fstatat(mb->dirfd, sub, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	return (long long)sb.st_mtim.tv_sec * 1000000000LL + sb.st_mtim.tv_nsec;
}

/* ---- arrival order ---- */

void mbox_name_time(const char *p, size_t len, unsigned long long *sec_r, unsigned long long *usec_r)
{
	size_t i = 0, j;

	*sec_r = *usec_r = 0;
	for (; i < len && i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
		*sec_r = *sec_r * 10 + (unsigned long long)(p[i] - '0');
	if (i + 1 < len && p[i] == '.' && p[i + 1] == 'M')
		for (j = i + 2; j < len && j < i + 2 + 9 && p[j] >= '0' && p[j] <= '9'; j++)
			*usec_r = *usec_r * 10 + (unsigned long long)(p[j] - '0');
}

int mbox_base_time_order(unsigned long long as, unsigned long long au, const char *a, size_t alen,
			 unsigned long long bs, unsigned long long bu, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c;

	if (as != bs)
		return as < bs ? -1 : 1;
	if (au != bu)
		return au < bu ? -1 : 1;
	c = memcmp(a, b, n);
	return c != 0 ? c : (alen > blen) - (alen < blen);
}

/* ---- measuring a message (the one parse) ---- */

struct mbox_measure {
	unsigned long long size, bare_lfs, hdr_size, body_lines;
	unsigned long long line_len;   /* bytes of the current line so far */
	int in_header;
	char last;                     /* the byte before, across blocks */
};

/* One line end at a time (memchr), not one byte at a time: a first
 * SELECT measures every message of the folder, and the byte loop was
 * most of its time (bench/RESULTS.md, IMAP). */
static void mbox_measure_block(struct mbox_measure *m, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t run = (size_t)((nl != NULL ? nl : end) - p);

		m->size += run;
		m->line_len += run;
		if (run > 0)
			m->last = p[run - 1];
		if (nl == NULL)
			return;
		m->size++;
		/* A line already ending in CRLF goes out as it is: only a
		 * bare LF gains a CR. */
		int crlf = m->last == '\r';
		if (!crlf)
			m->bare_lfs++;
		if (m->in_header && m->line_len == (unsigned long long)crlf) {
			m->in_header = 0;       /* the empty line ends the header */
			m->hdr_size = m->size;
		} else if (!m->in_header) {
			m->body_lines++;
		}
		m->line_len = 0;
		m->last = '\n';
		p = nl + 1;
	}
}

int mbox_measure_fd(struct mbox *mb, int fd, struct mbox_index_rec *r)
{
	struct mbox_measure m = { .in_header = 1, .last = '\n' };
	struct stat st;
	char *block;
	int ret = -1;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		errno = ENOENT;   /* not a message: as if it were gone */
		return -1;
	}
	if ((block = malloc(MBOX_READ_BLOCK)) == NULL)
		return -1;
	for (;;) {
		ssize_t n = read(fd, block, MBOX_READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		mbox_measure_block(&m, block, (size_t)n);   /* m.last carries across blocks */
	}
	if (m.in_header)
		m.hdr_size = m.size;
	else if (m.last != '\n')
		m.body_lines++;           /* a last line without LF */
	r->size = m.size;
	/* Every bare LF goes out as CRLF, and a missing final line end is
	 * supplied (only the LF after a final CR). */
	r->vsize = m.size + m.bare_lfs + (m.last != '\n' ? (m.last == '\r' ? 1 : 2) : 0);
	r->hdr_size = m.hdr_size;
	r->body_lines = m.body_lines;
	r->date = (long long)st.st_mtim.tv_sec;
	r->state &= (uint8_t)~MBOX_STATE_UNMEASURED;
	mb->msgs_measured++;
	ret = 0;
out:
	free(block);
	return ret;
}

int mbox_measure(struct mbox *mb, const char *name, struct mbox_index_rec *r)
{
	int fd = openat(mb->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0)
		return -1;
	int ret = mbox_measure_fd(mb, fd, r), e = errno;
	close(fd);
	errno = e;
	return ret;
}

/* The decimal value after key ("S=") in a ','-separated field of the
 * base name; 1 with *v_r, or 0. */
static int mbox_name_field(const char *base, size_t len, char key, unsigned long long *v_r)
{
	for (size_t i = 0; i + 3 <= len; i++) {
		if (base[i] != ',' || base[i + 1] != key || base[i + 2] != '=')
			continue;
		unsigned long long v = 0;
		size_t j = i + 3, start = j;
		for (; j < len && base[j] >= '0' && base[j] <= '9' && j - start < 19; j++)
			v = v * 10 + (unsigned long long)(base[j] - '0');
		/* All digits up to the next field or the end, and no more
		 * than fit: anything else is no size. */
		if (j > start && (j == len || base[j] == ',')) {
			*v_r = v;
			return 1;
		}
	}
	return 0;
}

int mbox_name_sizes(const char *base, size_t len, unsigned long long *s_r, unsigned long long *w_r)
{
	return mbox_name_field(base, len, 'S', s_r) | mbox_name_field(base, len, 'W', w_r) << 1;
}

int mbox_first_sight(struct mbox *mb, const char *name, size_t base_len, struct mbox_index_rec *r)
{
	unsigned long long s = 0, w = 0;
	struct stat st;
	int have = mbox_name_sizes(name + 4, base_len, &s, &w);

	if (fstatat(mb->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = ENOENT;   /* not a message: as if it were gone */
		return -1;
	}
	unsigned long long size = (unsigned long long)st.st_size;
	/* W= is trusted only beside an S= that the file's size bears out,
	 * and only within what CRLF can add (every byte an LF). */
	if ((have & 3) == 3 && s == size && w >= size && w - size <= size + 2) {
		r->size = size;
		r->vsize = w;
		r->hdr_size = r->body_lines = 0;
		r->date = (long long)st.st_mtim.tv_sec;
		r->state |= MBOX_STATE_UNMEASURED;
		return 0;
	}
	return mbox_measure(mb, name, r);
}
