/* cdbmap: lookup tables in cdb files (tinycdb).
 *
 * Offers: cdbmap_compile turns a text map into a cdb file atomically
 * (dst.tmp.PID, fsync, rename over dst, fsync of the directory), so a
 * reader sees the old map or the new one, never half of one; the
 * cdbmap_writer_* calls do the same for a caller with its own source
 * syntax (common/alias_file for etc/aliases).  The new file takes the
 * owner, group and mode of its source, as Postfix's postmap does, so
 * that a map kept 0600 stays 0600 (mode 0644 when there is no source).
 * cdbmap_open / cdbmap_lookup / cdbmap_close read it.  A map is opened
 * once, before chroot, and kept (tinycdb mmaps it).
 *
 * Text syntax: `key<white space>value` (value = rest of the line with
 * white space trimmed, may be empty; a key alone is allowed), `#` comment
 * lines, blank lines; keys are folded to lower case; a duplicate key, a
 * line over CDBMAP_LINE_MAX bytes or a key over CDBMAP_KEY_MAX bytes is
 * an error.  Lookups fold the key to lower case too; a key longer than
 * CDBMAP_KEY_MAX cannot be in a map and is simply not found.
 *
 * Trusts: the text map is the operator's, but is still parsed with hard
 * limits; the cdb file is our own output (tinycdb checks its offsets).
 *
 * Fails: -1 with "file:line: message" (compile) or a message (open) in a
 * static buffer; on a compile error dst is untouched and the temporary
 * file removed. */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "cdbmap.h"
#include "fsutil.h"
#include "stream.h"

#define CDBMAP_LINE_MAX 4096   /* longest text line, LF excluded */

struct cdbmap {
	int fd;
	struct cdb cdb;
};

static char cdbmap_error[4096 + 512];   /* room for a full path + message */

static int cdbmap_fail(const char **error_r, const char *file, size_t line, const char *msg)
{
	if (line > 0)
		snprintf(cdbmap_error, sizeof(cdbmap_error), "%s:%zu: %s", file, line, msg);
	else
		snprintf(cdbmap_error, sizeof(cdbmap_error), "%s: %s", file, msg);
	*error_r = cdbmap_error;
	return -1;
}

/* ---- reading ---- */

int cdbmap_open(const char *path, struct cdbmap **map_r, const char **error_r)
{
	struct cdbmap *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return cdbmap_fail(error_r, path, 0, "out of memory");
	m->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m->fd < 0) {
		int e = errno;
		free(m);
		return cdbmap_fail(error_r, path, 0, strerror(e));
	}
	if (cdb_init(&m->cdb, m->fd) < 0) {
		close(m->fd);
		free(m);
		return cdbmap_fail(error_r, path, 0, "not a valid cdb file");
	}
	*map_r = m;
	return 0;
}

static void cdbmap_lower(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = src[i];
		dst[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
}

int cdbmap_lookup(struct cdbmap *map, const char *key, size_t keylen, struct buf *value_r)
{
	char folded[CDBMAP_KEY_MAX];
	const void *v;
	int r;

	if (keylen > CDBMAP_KEY_MAX)
		return 0;   /* compile refuses such keys: it cannot be there */
	cdbmap_lower(folded, key, keylen);
	r = cdb_find(&map->cdb, folded, (unsigned)keylen);
	if (r <= 0)
		return r < 0 ? -1 : 0;
	v = cdb_get(&map->cdb, cdb_datalen(&map->cdb), cdb_datapos(&map->cdb));
	if (v == NULL)
		return -1;
	return buf_set(value_r, v, cdb_datalen(&map->cdb)) < 0 ? -1 : 1;
}

void cdbmap_close(struct cdbmap **mapp)
{
	struct cdbmap *m = *mapp;

	if (m == NULL)
		return;
	cdb_free(&m->cdb);
	close(m->fd);
	free(m);
	*mapp = NULL;
}

/* ---- writing ---- */

struct cdbmap_writer {
	struct atomic_file af;
	int started;   /* cm holds memory until cdb_make_finish */
	struct cdb_make cm;
};

/* The new map takes the owner, group and mode of its source (as postmap
 * does): a map the operator keeps 0600 must not become readable by
 * everyone when it is compiled.  Root must manage the owner; anyone
 * else keeps their own when the kernel refuses (the file is theirs). */
static const char *cdbmap_take_owner(int fd, const struct stat *like)
{
	if (like == NULL)
		return fchmod(fd, 0644) < 0 ? strerror(errno) : NULL;
	if (fchown(fd, like->st_uid, like->st_gid) < 0) {
		if (geteuid() == 0)
			return "cannot give the map the owner of its source";
		if (fchown(fd, (uid_t)-1, like->st_gid) < 0)
			errno = 0;   /* not our group: the file stays wholly ours */
	}
	/* After fchown, which may clear set-id bits; no exec bits on data. */
	return fchmod(fd, like->st_mode & 0666) < 0 ? strerror(errno) : NULL;
}

int cdbmap_writer_start(const char *dst, const struct stat *like, struct cdbmap_writer **w_r,
			const char **error_r)
{
	struct cdbmap_writer *w = calloc(1, sizeof(*w));
	const char *why;

	if (w == NULL)
		return cdbmap_fail(error_r, dst, 0, "out of memory");
	/* Read-write: cdb_make_exists reads back records already flushed.
	 * 0600 until cdbmap_take_owner gives it the source's mode. */
	if (atomic_file_open(&w->af, AT_FDCWD, dst, NULL, O_RDWR, 0600) < 0) {
		int e = errno;
		free(w);
		return cdbmap_fail(error_r, dst, 0, e == ENAMETOOLONG ? "path too long" : strerror(e));
	}
	why = cdbmap_take_owner(w->af.fd, like);
	if (why == NULL && cdb_make_start(&w->cm, w->af.fd) < 0)
		why = "cannot start cdb";
	w->started = why == NULL;
	if (why != NULL) {
		cdbmap_writer_abort(&w);
		return cdbmap_fail(error_r, dst, 0, why);
	}
	*w_r = w;
	return 0;
}

int cdbmap_writer_add(struct cdbmap_writer *w, const char *key, size_t keylen,
		      const char *value, size_t valuelen, const char **error_r)
{
	char folded[CDBMAP_KEY_MAX];
	int r;

	if (keylen > CDBMAP_KEY_MAX) {
		*error_r = "key longer than 1024 bytes";
		return -1;
	}
	if (valuelen > UINT_MAX / 2) {
		*error_r = "value too long";
		return -1;
	}
	cdbmap_lower(folded, key, keylen);
	r = cdb_make_exists(&w->cm, folded, (unsigned)keylen);
	if (r > 0) {
		*error_r = "duplicate key";
		return -1;
	}
	if (r < 0 || cdb_make_add(&w->cm, folded, (unsigned)keylen, value, (unsigned)valuelen) < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	return 0;
}

void cdbmap_writer_abort(struct cdbmap_writer **wp)
{
	struct cdbmap_writer *w = *wp;

	if (w == NULL)
		return;
	if (w->started)
		(void)cdb_make_finish(&w->cm);   /* frees its tables; the file goes anyway */
	atomic_file_abort(&w->af);
	free(w);
	*wp = NULL;
}

int cdbmap_writer_commit(struct cdbmap_writer **wp, const char **error_r)
{
	struct cdbmap_writer *w = *wp;
	char dst[sizeof(w->af.name)];
	int r;

	memcpy(dst, w->af.name, sizeof(dst));
	w->started = 0;
	if (cdb_make_finish(&w->cm) < 0) {
		cdbmap_writer_abort(wp);
		return cdbmap_fail(error_r, dst, 0, "cannot write cdb");
	}
	r = atomic_file_commit(&w->af, ATOMIC_SYNC | ATOMIC_SYNC_DIR);
	int e = errno;
	free(w);
	*wp = NULL;
	return r < 0 ? cdbmap_fail(error_r, dst, 0, strerror(e)) : 0;
}

/* ---- compiling text maps ---- */

struct cdbmap_compiler {
	const char *src;
	size_t line;
	struct cdbmap_writer *w;
	cdbmap_value_check *check;
	const char **error_r;
};

static int cdbmap_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* One text line without its LF: add `key value` to the cdb. */
static int cdbmap_compile_line(struct cdbmap_compiler *c, const char *s, size_t n)
{
	const char *why;
	size_t i = 0, k, v;

	while (i < n && cdbmap_is_space(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	if (memchr(s, '\0', n) != NULL)
		return cdbmap_fail(c->error_r, c->src, c->line, "NUL byte in line");
	for (k = i; k < n && !cdbmap_is_space(s[k]); k++)
		;
	for (v = k; v < n && cdbmap_is_space(s[v]); v++)
		;
	while (n > v && cdbmap_is_space(s[n - 1]))
		n--;
	if (c->check != NULL && (why = c->check(s + v, n - v)) != NULL)
		return cdbmap_fail(c->error_r, c->src, c->line, why);
	if (cdbmap_writer_add(c->w, s + i, k - i, s + v, n - v, &why) < 0)
		return cdbmap_fail(c->error_r, c->src, c->line, why);
	return 0;
}

/* Read every line of src (fd) into the cdb under construction. */
static int cdbmap_compile_lines(struct cdbmap_compiler *c, int fd)
{
	struct stream *in = stream_new(fd, -1, CDBMAP_LINE_MAX + 1, 0);
	int r = 0;

	if (in == NULL)
		return cdbmap_fail(c->error_r, c->src, 0, "out of memory");
	for (;;) {
		const char *line;
		size_t len;
		enum stream_status st = stream_read_line(in, &line, &len);

		c->line++;
		if (st == STREAM_TOOLONG) {
			r = cdbmap_fail(c->error_r, c->src, c->line, "line longer than 4096 bytes");
			break;
		}
		if (st != STREAM_OK && st != STREAM_EOF) {
			r = cdbmap_fail(c->error_r, c->src, c->line, strerror(errno));
			break;
		}
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && cdbmap_compile_line(c, line, len) < 0) {
			r = -1;
			break;
		}
		if (st == STREAM_EOF)
			break;
	}
	stream_free(&in);
	return r;
}

int cdbmap_compile(const char *src, const char *dst, const char **error_r)
{
	return cdbmap_compile_checked(src, dst, NULL, error_r);
}

int cdbmap_compile_checked(const char *src, const char *dst, cdbmap_value_check *check,
			   const char **error_r)
{
	struct cdbmap_compiler c = { .src = src, .line = 0, .check = check, .error_r = error_r };
	struct stat st;
	int sfd = open(src, O_RDONLY | O_CLOEXEC);

	if (sfd < 0)
		return cdbmap_fail(error_r, src, 0, strerror(errno));
	if (fstat(sfd, &st) < 0) {
		int e = errno;
		close(sfd);
		return cdbmap_fail(error_r, src, 0, strerror(e));
	}
	if (cdbmap_writer_start(dst, &st, &c.w, error_r) < 0) {
		close(sfd);
		return -1;
	}
	if (cdbmap_compile_lines(&c, sfd) < 0) {
		close(sfd);
		cdbmap_writer_abort(&c.w);
		return -1;
	}
	close(sfd);
	return cdbmap_writer_commit(&c.w, error_r);
}

int cdbmap_replaced(const struct cdbmap *map)
{
	struct stat st;

	return map != NULL && fstat(map->fd, &st) == 0 && st.st_nlink == 0;
}
