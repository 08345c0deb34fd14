/* queuefile: write, read and update Postern queue files (docs/queue.md;
 * version 3 is written, versions 1, 2 and 3 are read).
 *
 * Offers: queuefile_create/write_envelope/write_data/commit for enqueue
 * (tmp/ID, fsync, rename into incoming/, fsync of incoming/), and
 * queuefile_open/parse/mark/set_attempts for qmgr and the `postern queue`
 * tool.  The header is `key=value` lines escaped as in common/record.h,
 * so no value can inject a line; the per-recipient status byte and the
 * attempts digits have fixed offsets so that they can be overwritten in
 * place with one pwrite, and so has the prepend slot (version 3): header
 * fields known only after the data (a DKIM signature), written before
 * the fsync and emitted by every reader before the message.
 *
 * Trusts: nothing in a file it reads, although only Postern writes them:
 * a disk error, a half-restored backup or an operator's editor must give
 * a clean error, never a crash.  Every count and length is bounded
 * (QUEUEFILE_* in queuefile.h) and parsing works on (pointer, length).
 * The writer trusts its caller for the envelope only as far as it checks
 * the same limits the reader enforces, so whatever it writes reads back.
 *
 * Fails: every function returns -1 with a static *error_r text; errno is
 * kept from the failing call where there is one.  A writer that fails
 * leaves no file behind (queuefile_abort unlinks tmp/ID). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "queuefile.h"
#include "fsutil.h"
#include "queue_spare.h"
#include "group_commit.h"
#include "record.h"
#include "self_pid.h"

#define QUEUEFILE_READ_STEP 16384
#define QUEUEFILE_KEY_MAX 16

static const char *const queuefile_dirs[] = {
	"tmp", "incoming", "active", "deferred", "hold",
};

/* ---- small helpers ---- */

int queuefile_id_valid(const char *s, size_t n)
{
	if (n == 0 || n > QUEUEFILE_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* pwrite(2) exactly n bytes at off. */
static int queuefile_pwrite_all(int fd, const void *p, size_t n, off_t off)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* rename without ever replacing an existing name: two messages must never
 * share an ID.  Falls back to link+unlink where renameat2 is refused. */
static int queuefile_rename_new(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	if (link(from, to) < 0)
		return -1;
	if (unlink(from) < 0) {
		int e = errno;

		(void)unlink(to);
		errno = e;
		return -1;
	}
	return 0;
}

int queuefile_mkdirs(const char **error_r)
{
	for (size_t i = 0; i < sizeof(queuefile_dirs) / sizeof(queuefile_dirs[0]); i++) {
		if (mkdir(queuefile_dirs[i], 0700) < 0 && errno != EEXIST) {
			*error_r = "cannot create queue subdirectory";
			return -1;
		}
	}
	return 0;
}

/* ---- writer ---- */

int queuefile_tmp_name(char *name, size_t namelen, unsigned tries)
{
	/* A random start per process, then a count: no getrandom(2) per
	 * message.  A name left by an earlier process with the same pid
	 * is met as EEXIST, and the caller tries the next. */
	static uint32_t next;
	static pid_t seeded_for;
	uint32_t r;
	int n;

	if (seeded_for != self_pid()) {
		if (getrandom(&next, sizeof(next), GRND_NONBLOCK) != (ssize_t)sizeof(next))
			next = (uint32_t)time(NULL) ^ (uint32_t)tries * 2654435761u;
		seeded_for = self_pid();
	}
	r = next++;
	n = snprintf(name, namelen, "tmp/%ld.%08x", (long)self_pid(), (unsigned)r);
	if (n < 0 || (size_t)n >= namelen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* Open a file under a name nobody else can hold (pid + random), so that
 * the inode, and with it the ID, exists before the ID is chosen: a spare
 * file (common/queue_spare.c) if there is one, else a new file. */
static int queuefile_open_unique(char *name, size_t namelen, struct stat *st)
{
	int fd = queue_spare_take(name, namelen, st);

	if (fd >= 0)
		return fd;
	for (unsigned tries = 0; tries < 8; tries++) {
		if (queuefile_tmp_name(name, namelen, tries) < 0)
			return -1;
		fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd >= 0) {
			if (fstat(fd, st) == 0)
				return fd;
			int e = errno;
			close(fd);
			(void)unlink(name);
			errno = e;
			return -1;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

int queuefile_create(struct queuefile_out *qo, const char **error_r)
{
	char tmpname[64];
	struct stat st;
	struct timespec ts;
	int n;

	memset(qo, 0, sizeof(*qo));
	qo->fd = queuefile_open_unique(tmpname, sizeof(tmpname), &st);
	if (qo->fd < 0) {
		*error_r = "cannot create file in tmp/";
		return -1;
	}
	if (clock_gettime(CLOCK_REALTIME, &ts) < 0) {
		*error_r = "cannot read the clock";
		goto fail;
	}
	/* seconds, microseconds, inode: the inode is unique among the files
	 * that exist now, and the time only grows, so no two messages ever
	 * get the same ID (docs/queue.md). */
	n = snprintf(qo->id, sizeof(qo->id), "%08llX%05lX%llX",
		     (unsigned long long)ts.tv_sec, (unsigned long)(ts.tv_nsec / 1000),
		     (unsigned long long)st.st_ino);
	if (n < 0 || (size_t)n >= sizeof(qo->id)) {
		*error_r = "queue ID too long";
		goto fail;
	}
	/* The file keeps its tmp/ name until the commit renames it to
	 * incoming/ID: a rename to tmp/ID first cost a system call and a
	 * directory update per message, and nothing reads tmp/ by ID. */
	n = snprintf(qo->path, sizeof(qo->path), "%s", tmpname);
	if (n < 0 || (size_t)n >= sizeof(qo->path)) {
		*error_r = "queue path too long";
		goto fail;
	}
	qo->time = (long long)ts.tv_sec;
	return 0;
fail: {
		int e = errno;   /* the caller tells a full disk by it */

		close(qo->fd);
		(void)unlink(tmpname);
		qo->fd = -1;
		qo->path[0] = '\0';
		errno = e;
		return -1;
	}
}

/* Whether a value may be stored: bounded and free of NUL (the reader
 * hands values out as C strings). */
static int queuefile_value_ok(const char *v, size_t n, size_t max)
{
	return n <= max && memchr(v, '\0', n) == NULL;
}

static int queuefile_env_check(const struct queuefile_env *env, const char **error_r)
{
	const char *info[3] = { env->client, env->helo, env->proto };

	if (env->sender == NULL || !queuefile_value_ok(env->sender, env->sender_len, QUEUEFILE_ADDR_MAX)) {
		*error_r = "bad sender";
		return -1;
	}
	for (size_t i = 0; i < 3; i++)
		if (info[i] != NULL && strlen(info[i]) > QUEUEFILE_INFO_MAX) {
			*error_r = "client information too long";
			return -1;
		}
	if (env->nrcpt == 0 || env->nrcpt > QUEUEFILE_RCPT_MAX) {
		*error_r = "bad number of recipients";
		return -1;
	}
	for (size_t i = 0; i < env->nrcpt; i++) {
		const char *o = env->rcpt_orcpt != NULL ? env->rcpt_orcpt[i] : NULL;

		if (env->rcpt_len[i] == 0 ||
		    !queuefile_value_ok(env->rcpt[i], env->rcpt_len[i], QUEUEFILE_ADDR_MAX) ||
		    (o != NULL && !queuefile_orcpt_valid(o, strlen(o)))) {
			*error_r = "bad recipient";
			return -1;
		}
	}
	if (env->envid != NULL && !queuefile_envid_valid(env->envid, strlen(env->envid))) {
		*error_r = "bad envelope ID";
		return -1;
	}
	return 0;
}

/* rcpt=, then the optional notify= and orcpt= that belong to it. */
static int queuefile_put_rcpt(struct buf *hdr, struct buf *tmp, const struct queuefile_env *env,
			      size_t i)
{
	char notify[QUEUEFILE_NOTIFY_TEXT_MAX];

	buf_reset(tmp);
	if (buf_putc(tmp, QUEUEFILE_PENDING) < 0 || buf_append(tmp, env->rcpt[i], env->rcpt_len[i]) < 0 ||
	    record_put(hdr, "rcpt", tmp->data, tmp->len) < 0)
		return -1;
	if (env->rcpt_notify != NULL && env->rcpt_notify[i] != 0) {
		queuefile_notify_format(env->rcpt_notify[i], notify, sizeof(notify));
		if (record_put_str(hdr, "notify", notify) < 0)
			return -1;
	}
	if (env->rcpt_orcpt != NULL && env->rcpt_orcpt[i] != NULL &&
	    record_put_str(hdr, "orcpt", env->rcpt_orcpt[i]) < 0)
		return -1;
	return 0;
}

static const char *const queuefile_kind_names[] = { "mail", "dsn", "double" };

/* The message-level DSN and MIME fields of version 2 (absent = default). */
static int queuefile_put_options(struct buf *hdr, const struct queuefile_env *env)
{
	if (env->kind != QUEUEFILE_KIND_MAIL &&
	    record_put_str(hdr, "kind", queuefile_kind_names[env->kind]) < 0)
		return -1;
	if (env->ret != QUEUEFILE_RET_DEFAULT &&
	    record_put_str(hdr, "ret", env->ret == QUEUEFILE_RET_FULL ? "FULL" : "HDRS") < 0)
		return -1;
	if (env->envid != NULL && record_put_str(hdr, "envid", env->envid) < 0)
		return -1;
	if (env->smtputf8 && record_put_str(hdr, "smtputf8", "1") < 0)
		return -1;
	if (env->body != QUEUEFILE_BODY_NONE &&
	    record_put_str(hdr, "body", env->body == QUEUEFILE_BODY_7BIT ? "7BIT" : "8BITMIME") < 0)
		return -1;
	return 0;
}

/* Build the whole header in memory; size_off_r is the offset of the size
 * digits that commit fills in. */
static int queuefile_build_header(const struct queuefile_out *qo, const struct queuefile_env *env,
				  struct buf *hdr, off_t *size_off_r, off_t *prepend_off_r)
{
	struct buf tmp;
	int r = -1;

	buf_init(&tmp, QUEUEFILE_ADDR_MAX + 1);
	if (buf_printf(hdr, "%s\n", QUEUEFILE_MAGIC) < 0 ||
	    record_put_str(hdr, "id", qo->id) < 0 ||
	    record_put_num(hdr, "time", (unsigned long long)qo->time) < 0 ||
	    record_put(hdr, "sender", env->sender, env->sender_len) < 0)
		goto out;
	if ((env->client && record_put_str(hdr, "client", env->client) < 0) ||
	    (env->helo && record_put_str(hdr, "helo", env->helo) < 0) ||
	    (env->proto && record_put_str(hdr, "proto", env->proto) < 0))
		goto out;
	if ((unsigned)env->kind > QUEUEFILE_KIND_DOUBLE || queuefile_put_options(hdr, env) < 0)
		goto out;
	if (buf_printf(hdr, "attempts=%0*u\nwarned=0\n", QUEUEFILE_ATTEMPTS_WIDTH, 0u) < 0)
		goto out;
	for (size_t i = 0; i < env->nrcpt; i++)
		if (queuefile_put_rcpt(hdr, &tmp, env, i) < 0)
			goto out;
	*prepend_off_r = 0;
	if (env->prepend_slot > 0) {
		/* "0:" and spaces: empty until queuefile_set_prepend */
		*prepend_off_r = (off_t)hdr->len + 8;   /* after "prepend=" */
		if (buf_printf(hdr, "prepend=0:%*s\n", (int)env->prepend_slot - 2, "") < 0)
			goto out;
	}
	*size_off_r = (off_t)hdr->len + 5;   /* after "size=" */
	if (buf_printf(hdr, "size=%0*llu\n\n", QUEUEFILE_SIZE_WIDTH, 0ull) < 0)
		goto out;
	r = 0;
out:
	buf_free(&tmp);
	return r;
}

int queuefile_write_envelope(struct queuefile_out *qo, const struct queuefile_env *env, const char **error_r)
{
	struct buf hdr;
	int r = -1;

	if (queuefile_env_check(env, error_r) < 0)
		return -1;
	if (env->prepend_slot != 0 && (env->prepend_slot < 2 || env->prepend_slot > QUEUEFILE_PREPEND_SLOT_MAX)) {
		*error_r = "bad prepend slot width";
		return -1;
	}
	qo->prepend_slot = env->prepend_slot;
	buf_init(&hdr, QUEUEFILE_HEADER_MAX);
	if (queuefile_build_header(qo, env, &hdr, &qo->size_off, &qo->prepend_off) < 0) {
		*error_r = errno == EMSGSIZE ? "queue file header too long" : "out of memory";
		goto out;
	}
	if (fd_write_all(qo->fd, hdr.data, hdr.len) < 0) {
		*error_r = "cannot write queue file";
		goto out;
	}
	r = 0;
out: {
		int e = errno;

		buf_free(&hdr);
		errno = e;
	}
	return r;
}

int queuefile_write_data(struct queuefile_out *qo, const void *p, size_t n, const char **error_r)
{
	if (__builtin_add_overflow(qo->size, (unsigned long long)n, &qo->size)) {
		*error_r = "message too big";
		return -1;
	}
	if (fd_write_all(qo->fd, p, n) < 0) {
		*error_r = "cannot write queue file";
		return -1;
	}
	return 0;
}

int queuefile_prepend_valid(const char *p, size_t n)
{
	if (n == 0)
		return 1;
	if (n > QUEUEFILE_PREPEND_MAX || p[n - 1] != '\n' || p[0] == ' ' || p[0] == '\t' ||
	    memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL || memmem(p, n, "\n\n", 2) != NULL)
		return 0;
	/* every field starts with a name and a colon (a continuation line
	 * starts with white space) */
	for (size_t i = 0; i < n;) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t len = (size_t)(nl - (p + i));

		if (p[i] != ' ' && p[i] != '\t') {
			const char *colon = memchr(p + i, ':', len);

			if (colon == NULL || colon == p + i)
				return 0;
			for (const char *c = p + i; c < colon; c++)
				if (*c <= ' ' || *c > '~')
					return 0;
		}
		i += len + 1;
	}
	return 1;
}

int queuefile_set_prepend(struct queuefile_out *qo, const char *p, size_t n, const char **error_r)
{
	struct buf field, slot;
	int r = -1;

	if (qo->prepend_off == 0) {
		*error_r = "queue file has no prepend slot";
		return -1;
	}
	if (!queuefile_prepend_valid(p, n)) {
		*error_r = "prepended text is not header fields";
		return -1;
	}
	buf_init(&field, 4 * QUEUEFILE_PREPEND_MAX);
	buf_init(&slot, QUEUEFILE_PREPEND_SLOT_MAX);
	*error_r = "prepended fields do not fit the slot (dkim_prepend_slot)";
	/* the record escaping, as every value: "p=" + escaped + "\n" */
	if (record_put(&field, "p", p, n) < 0 ||
	    buf_printf(&slot, "%zu:%.*s", field.len - 3, (int)(field.len - 3), field.data + 2) < 0 ||
	    slot.len > qo->prepend_slot)
		goto out;
	while (slot.len < qo->prepend_slot)
		if (buf_putc(&slot, ' ') < 0)
			goto out;
	if (queuefile_pwrite_all(qo->fd, slot.data, slot.len, qo->prepend_off) < 0) {
		*error_r = "cannot write queue file";
		goto out;
	}
	r = 0;
out:
	buf_free(&field);
	buf_free(&slot);
	return r;
}

int queuefile_commit(struct queuefile_out *qo, const char **error_r)
{
	return queuefile_commit_into(qo, "incoming", NULL, error_r);
}

/* fsync incoming/ (or hold/) through a descriptor opened once per
 * process: an open and a close a message saved.  The queue's
 * directories are made once and never replaced while a writer runs. */
static int queuefile_sync_dir(int hold)
{
	static int fds[2] = { -1, -1 };
	int *fd = &fds[hold ? 1 : 0];

	if (*fd < 0)
		*fd = open(hold ? "hold" : "incoming", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return *fd < 0 ? -1 : fsync(*fd);
}

int queuefile_commit_into(struct queuefile_out *qo, const char *dir, struct group_commit *g,
			  const char **error_r)
{
	int hold = strcmp(dir, "hold") == 0;
	char digits[QUEUEFILE_SIZE_WIDTH + 1];
	char dest[64];
	int n;

	n = snprintf(digits, sizeof(digits), "%0*llu", QUEUEFILE_SIZE_WIDTH, qo->size);
	if (n != QUEUEFILE_SIZE_WIDTH) {
		*error_r = "message size does not fit";
		goto fail;
	}
	if (queuefile_pwrite_all(qo->fd, digits, QUEUEFILE_SIZE_WIDTH, qo->size_off) < 0 ||
	    (g == NULL && fsync(qo->fd) < 0)) {
		*error_r = "cannot write queue file";
		goto fail;
	}
	if (close(qo->fd) < 0) {
		qo->fd = -1;
		*error_r = "cannot close queue file";
		goto fail;
	}
	qo->fd = -1;
	n = snprintf(dest, sizeof(dest), "%s/%s", hold ? "hold" : "incoming", qo->id);
	if (n < 0 || (size_t)n >= sizeof(dest)) {
		*error_r = "queue path too long";
		goto fail;
	}
	if (queuefile_rename_new(qo->path, dest) < 0) {
		*error_r = hold ? "cannot move queue file into hold/" : "cannot move queue file into incoming/";
		goto fail;
	}
	/* Without this the rename may not survive a crash, and we are about
	 * to tell the client that the message is safe.  A group flush
	 * covers the file's data as well as its new name. */
	if (g != NULL ? group_commit_wait(g) < 0 : queuefile_sync_dir(hold) < 0) {
		int e = errno;   /* the sync's error is the one to report */

		*error_r = g != NULL ? "cannot flush the queue file system"
			 : hold ? "cannot sync hold/" : "cannot sync incoming/";
		/* Take it back: it was never acknowledged, so dropping it
		 * costs the client a retry.  If neither works, qmgr may still
		 * deliver it and the retry makes a duplicate, never a loss. */
		if (rename(dest, qo->path) < 0) {
			(void)unlink(dest);
			qo->path[0] = '\0';
		}
		errno = e;
		goto fail;
	}
	qo->path[0] = '\0';
	return 0;
fail:
	queuefile_abort(qo);
	return -1;
}

void queuefile_abort(struct queuefile_out *qo)
{
	int e = errno;   /* callers report the failure that led here */

	if (qo->fd >= 0)
		close(qo->fd);
	qo->fd = -1;
	if (qo->path[0] != '\0')
		(void)unlink(qo->path);
	qo->path[0] = '\0';
	errno = e;
}

/* ---- reader ---- */

static int queuefile_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode an escaped value (raw, n bytes) into a new NUL-terminated string
 * of at most max bytes.  Refuses raw control bytes, malformed or lower
 * case escapes (the writer never produces them) and decoded NULs. */
static char *queuefile_unescape(const char *raw, size_t n, size_t max, size_t *len_r)
{
	char *out;
	size_t o = 0;

	if (n / 3 > max)   /* cannot possibly fit, even fully escaped */
		return NULL;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)raw[i];

		if (c < 0x20 || c == 0x7f)
			goto bad;
		if (c == '%') {
			int hi, lo;

			if (n - i < 3)
				goto bad;
			hi = queuefile_hex(raw[i + 1]);
			lo = queuefile_hex(raw[i + 2]);
			if (hi < 0 || lo < 0)
				goto bad;
			c = (unsigned char)(hi * 16 + lo);
			if (c == '\0')
				goto bad;
			i += 2;
		}
		if (o >= max)
			goto bad;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	*len_r = o;
	return out;
bad:
	free(out);
	return NULL;
}

/* Exactly width decimal digits (width 0: 1..19 digits) into *v_r. */
static int queuefile_digits(const char *p, size_t n, size_t width, unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (n == 0 || (width != 0 && n != width) || (width == 0 && n > 19))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		if (__builtin_mul_overflow(v, 10ull, &v) ||
		    __builtin_add_overflow(v, (unsigned long long)(p[i] - '0'), &v))
			return -1;
	}
	*v_r = v;
	return 0;
}

/* Parser state: which single-valued keys were seen. */
struct queuefile_seen {
	unsigned id : 1, time : 1, sender : 1, client : 1, helo : 1, proto : 1,
		 attempts : 1, size : 1, kind : 1, ret : 1, envid : 1, smtputf8 : 1,
		 body : 1, warned : 1, prepend : 1;
	size_t notify_for, orcpt_for;   /* 1 + index of the rcpt that has one */
};

static int queuefile_add_rcpt(struct queuefile *qf, const char *raw, size_t n, off_t off,
			      size_t *alloc, const char **error_r)
{
	struct queuefile_rcpt *r;

	if (n < 2 || (raw[0] != QUEUEFILE_PENDING && !queuefile_status_final(raw[0]))) {
		*error_r = "bad recipient line";
		return -1;
	}
	if (qf->nrcpt >= QUEUEFILE_RCPT_MAX) {
		*error_r = "too many recipients";
		return -1;
	}
	if (qf->nrcpt == *alloc) {
		size_t na = *alloc ? *alloc * 2 : 8;

		if (na > QUEUEFILE_RCPT_MAX)
			na = QUEUEFILE_RCPT_MAX;
		r = reallocarray(qf->rcpt, na, sizeof(*r));
		if (r == NULL) {
			*error_r = "out of memory";
			return -1;
		}
		qf->rcpt = r;
		*alloc = na;
	}
	r = &qf->rcpt[qf->nrcpt];
	r->addr = queuefile_unescape(raw + 1, n - 1, QUEUEFILE_ADDR_MAX, &r->addr_len);
	if (r->addr == NULL) {
		*error_r = "bad recipient address";
		return -1;
	}
	r->status = raw[0];
	r->status_off = off;
	r->notify = 0;
	r->orcpt = NULL;
	qf->nrcpt++;
	return 0;
}

/* A once-only string field. */
static int queuefile_set_str(char **dst, size_t *len_r, const char *raw, size_t n,
			     size_t max, const char **error_r)
{
	size_t len;

	*dst = queuefile_unescape(raw, n, max, &len);
	if (*dst == NULL) {
		*error_r = "bad header value";
		return -1;
	}
	if (len_r != NULL)
		*len_r = len;
	return 0;
}

/* Whether v (n bytes) is exactly the word w. */
static int queuefile_is(const char *v, size_t n, const char *w)
{
	return n == strlen(w) && memcmp(v, w, n) == 0;
}

/* notify= and orcpt= belong to the rcpt line just before them; each at
 * most once per recipient. */
static int queuefile_rcpt_option(struct queuefile *qf, struct queuefile_seen *seen, int orcpt,
				 const char *v, size_t vlen, const char **error_r)
{
	size_t *for_r = orcpt ? &seen->orcpt_for : &seen->notify_for;
	struct queuefile_rcpt *r;
	size_t len;

	if (qf->version < 2 || qf->nrcpt == 0 || *for_r == qf->nrcpt) {
		*error_r = "misplaced recipient option";
		return -1;
	}
	*for_r = qf->nrcpt;
	r = &qf->rcpt[qf->nrcpt - 1];
	if (!orcpt) {
		if (queuefile_notify_parse(v, vlen, &r->notify) < 0) {
			*error_r = "bad notify value";
			return -1;
		}
		return 0;
	}
	r->orcpt = queuefile_unescape(v, vlen, QUEUEFILE_ORCPT_MAX, &len);
	if (r->orcpt == NULL || !queuefile_orcpt_valid(r->orcpt, len)) {
		*error_r = "bad orcpt value";
		return -1;
	}
	return 0;
}

/* prepend= (version 3): LEN ":" LEN escaped bytes, then spaces only. */
static int queuefile_prepend_field(struct queuefile *qf, const char *v, size_t vlen, const char **error_r)
{
	const char *colon = memchr(v, ':', vlen);
	unsigned long long len;
	size_t start;

	*error_r = "bad prepend";
	if (vlen > QUEUEFILE_PREPEND_SLOT_MAX || colon == NULL ||
	    queuefile_digits(v, (size_t)(colon - v), 0, &len) < 0 ||
	    (colon - v > 1 && v[0] == '0'))
		return -1;
	start = (size_t)(colon - v) + 1;
	if (len > vlen - start)
		return -1;
	for (size_t i = start + (size_t)len; i < vlen; i++)
		if (v[i] != ' ')
			return -1;
	qf->prepend = queuefile_unescape(v + start, (size_t)len, QUEUEFILE_PREPEND_MAX, &qf->prepend_len);
	if (qf->prepend == NULL && len > 0)
		return -1;
	if (qf->prepend != NULL && !queuefile_prepend_valid(qf->prepend, qf->prepend_len))
		return -1;
	return 0;
}

/* The message-level fields of version 2; 1 if key was not one of them. */
static int queuefile_v2_field(struct queuefile *qf, struct queuefile_seen *seen, const char *key,
			      size_t klen, const char *v, size_t vlen, off_t voff, const char **error_r)
{
	size_t len;

#define QF_KEY(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
#define QF_ONCE(f) do { if (seen->f) { *error_r = "duplicate header field"; return -1; } seen->f = 1; } while (0)
#define QF_BAD(msg) do { *error_r = msg; return -1; } while (0)
	if (QF_KEY("notify") || QF_KEY("orcpt"))
		return queuefile_rcpt_option(qf, seen, QF_KEY("orcpt"), v, vlen, error_r);
	if (QF_KEY("kind")) {
		QF_ONCE(kind);
		if (queuefile_is(v, vlen, "dsn"))
			qf->kind = QUEUEFILE_KIND_DSN;
		else if (queuefile_is(v, vlen, "double"))
			qf->kind = QUEUEFILE_KIND_DOUBLE;
		else
			QF_BAD("bad kind");
	} else if (QF_KEY("ret")) {
		QF_ONCE(ret);
		if (queuefile_is(v, vlen, "FULL"))
			qf->ret = QUEUEFILE_RET_FULL;
		else if (queuefile_is(v, vlen, "HDRS"))
			qf->ret = QUEUEFILE_RET_HDRS;
		else
			QF_BAD("bad ret");
	} else if (QF_KEY("body")) {
		QF_ONCE(body);
		if (queuefile_is(v, vlen, "7BIT"))
			qf->body = QUEUEFILE_BODY_7BIT;
		else if (queuefile_is(v, vlen, "8BITMIME"))
			qf->body = QUEUEFILE_BODY_8BITMIME;
		else
			QF_BAD("bad body");
	} else if (QF_KEY("smtputf8")) {
		QF_ONCE(smtputf8);
		if (!queuefile_is(v, vlen, "1"))
			QF_BAD("bad smtputf8");
		qf->smtputf8 = 1;
	} else if (QF_KEY("warned")) {
		QF_ONCE(warned);
		if (vlen != 1 || (v[0] != '0' && v[0] != '1'))
			QF_BAD("bad warned");
		qf->warned = v[0] == '1';
		qf->warned_off = voff;
	} else if (QF_KEY("prepend") && qf->version >= 3) {
		QF_ONCE(prepend);
		return queuefile_prepend_field(qf, v, vlen, error_r);
	} else if (QF_KEY("envid")) {
		QF_ONCE(envid);
		qf->envid = queuefile_unescape(v, vlen, QUEUEFILE_ENVID_MAX, &len);
		if (qf->envid == NULL || !queuefile_envid_valid(qf->envid, len))
			QF_BAD("bad envid");
	} else {
		return 1;
	}
	return 0;
#undef QF_KEY
#undef QF_ONCE
#undef QF_BAD
}

/* One `key=value` line whose value starts at file offset voff. */
static int queuefile_field(struct queuefile *qf, struct queuefile_seen *seen, const char *key,
			   size_t klen, const char *v, size_t vlen, off_t voff, size_t *alloc,
			   const char **error_r)
{
	unsigned long long num;

#define QF_KEY(s) (klen == sizeof(s) - 1 && memcmp(key, s, klen) == 0)
#define QF_ONCE(f) do { if (seen->f) { *error_r = "duplicate header field"; return -1; } seen->f = 1; } while (0)
	if (QF_KEY("rcpt"))
		return queuefile_add_rcpt(qf, v, vlen, voff, alloc, error_r);
	if (qf->version >= 2) {
		int r = queuefile_v2_field(qf, seen, key, klen, v, vlen, voff, error_r);

		if (r <= 0)
			return r;
	}
	if (QF_KEY("id")) {
		QF_ONCE(id);
		if (!queuefile_id_valid(v, vlen)) {
			*error_r = "bad queue ID";
			return -1;
		}
		memcpy(qf->id, v, vlen);
		qf->id[vlen] = '\0';
		return 0;
	}
	if (QF_KEY("time")) {
		QF_ONCE(time);
		if (queuefile_digits(v, vlen, 0, &num) < 0 || num > LLONG_MAX) {
			*error_r = "bad time";
			return -1;
		}
		qf->time = (long long)num;
		return 0;
	}
	if (QF_KEY("attempts")) {
		QF_ONCE(attempts);
		if (queuefile_digits(v, vlen, QUEUEFILE_ATTEMPTS_WIDTH, &num) < 0) {
			*error_r = "bad attempts";
			return -1;
		}
		qf->attempts = (unsigned)num;
		qf->attempts_off = voff;
		return 0;
	}
	if (QF_KEY("size")) {
		QF_ONCE(size);
		if (queuefile_digits(v, vlen, QUEUEFILE_SIZE_WIDTH, &num) < 0) {
			*error_r = "bad size";
			return -1;
		}
		qf->data_size = num;
		return 0;
	}
	if (QF_KEY("sender")) {
		QF_ONCE(sender);
		return queuefile_set_str(&qf->sender, &qf->sender_len, v, vlen, QUEUEFILE_ADDR_MAX, error_r);
	}
	if (QF_KEY("client")) {
		QF_ONCE(client);
		return queuefile_set_str(&qf->client, NULL, v, vlen, QUEUEFILE_INFO_MAX, error_r);
	}
	if (QF_KEY("helo")) {
		QF_ONCE(helo);
		return queuefile_set_str(&qf->helo, NULL, v, vlen, QUEUEFILE_INFO_MAX, error_r);
	}
	if (QF_KEY("proto")) {
		QF_ONCE(proto);
		return queuefile_set_str(&qf->proto, NULL, v, vlen, QUEUEFILE_INFO_MAX, error_r);
	}
#undef QF_KEY
#undef QF_ONCE
	*error_r = "unknown header field";
	return -1;
}

/* Give absent optional strings the value "" so that users need no NULL
 * checks. */
static int queuefile_fill_optional(struct queuefile *qf)
{
	char **opt[5] = { &qf->client, &qf->helo, &qf->proto, &qf->envid, &qf->prepend };

	for (size_t i = 0; i < 5; i++)
		if (*opt[i] == NULL && (*opt[i] = calloc(1, 1)) == NULL)
			return -1;
	for (size_t i = 0; i < qf->nrcpt; i++)
		if (qf->rcpt[i].orcpt == NULL && (qf->rcpt[i].orcpt = calloc(1, 1)) == NULL)
			return -1;
	return 0;
}

static int queuefile_parse_lines(const char *p, size_t n, size_t pos, struct queuefile *qf,
				 const char **error_r)
{
	struct queuefile_seen seen = { 0 };
	size_t alloc = 0;

	for (;;) {
		const char *line = p + pos, *nl, *eq;
		size_t len;

		nl = memchr(line, '\n', n - pos);
		if (nl == NULL) {
			*error_r = n >= QUEUEFILE_HEADER_MAX ? "header too long" : "header not terminated";
			return -1;
		}
		len = (size_t)(nl - line);
		if (len == 0) {
			pos++;
			break;
		}
		eq = memchr(line, '=', len);
		if (eq == NULL || eq == line || (size_t)(eq - line) > QUEUEFILE_KEY_MAX) {
			*error_r = "bad header line";
			return -1;
		}
		if (queuefile_field(qf, &seen, line, (size_t)(eq - line), eq + 1,
				    len - (size_t)(eq - line) - 1, (off_t)(eq + 1 - p), &alloc,
				    error_r) < 0)
			return -1;
		pos += len + 1;
	}
	if (!seen.id || !seen.time || !seen.sender || !seen.attempts || !seen.size || qf->nrcpt == 0 ||
	    (qf->version >= 2 && !seen.warned)) {
		*error_r = "missing header field";
		return -1;
	}
	if (qf->data_size > (unsigned long long)(LLONG_MAX - (long long)pos)) {
		*error_r = "bad size";
		return -1;
	}
	qf->data_offset = (off_t)pos;
	return 0;
}

int queuefile_parse(const char *p, size_t n, struct queuefile *qf, const char **error_r)
{
	size_t mlen = sizeof(QUEUEFILE_MAGIC) - 1;

	memset(qf, 0, sizeof(*qf));
	qf->fd = -1;
	if (n > QUEUEFILE_HEADER_MAX)
		n = QUEUEFILE_HEADER_MAX;   /* the header must end within the limit */
	/* The magics have the same length; only the version digit differs. */
	if (n >= mlen + 1 && memcmp(p, QUEUEFILE_MAGIC, mlen) == 0 && p[mlen] == '\n')
		qf->version = 3;
	else if (n >= mlen + 1 && memcmp(p, QUEUEFILE_MAGIC_V2, mlen) == 0 && p[mlen] == '\n')
		qf->version = 2;
	else if (n >= mlen + 1 && memcmp(p, QUEUEFILE_MAGIC_V1, mlen) == 0 && p[mlen] == '\n')
		qf->version = 1;
	else {
		*error_r = "not a Postern queue file (version 1, 2 or 3)";
		return -1;
	}
	if (queuefile_parse_lines(p, n, mlen + 1, qf, error_r) < 0)
		goto fail;
	if (queuefile_fill_optional(qf) < 0) {
		*error_r = "out of memory";
		goto fail;
	}
	return 0;
fail:
	queuefile_free(qf);
	return -1;
}

/* Read from the start of fd until the empty line that ends the header
 * (or the header limit, or end of file) into hdr. */
static int queuefile_read_header(int fd, struct buf *hdr)
{
	char chunk[QUEUEFILE_READ_STEP];

	for (;;) {
		size_t from = hdr->len > 0 ? hdr->len - 1 : 0;
		size_t want = sizeof(chunk);
		ssize_t r;

		if (hdr->max - hdr->len < want)
			want = hdr->max - hdr->len;
		if (want == 0)
			return 0;
		r = pread(fd, chunk, want, (off_t)hdr->len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			return 0;
		if (buf_append(hdr, chunk, (size_t)r) < 0)
			return -1;
		if (memmem(hdr->data + from, hdr->len - from, "\n\n", 2) != NULL)
			return 0;
	}
}

int queuefile_open(const char *path, int writable, struct queuefile *qf, const char **error_r)
{
	struct buf hdr;
	struct stat st;
	int fd;

	memset(qf, 0, sizeof(*qf));
	qf->fd = -1;
	fd = open(path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		*error_r = "cannot open queue file";
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*error_r = "not a regular file";
		close(fd);
		return -1;
	}
	buf_init(&hdr, QUEUEFILE_HEADER_MAX);
	if (queuefile_read_header(fd, &hdr) < 0) {
		*error_r = "cannot read queue file";
		goto fail;
	}
	if (queuefile_parse(hdr.data ? hdr.data : "", hdr.len, qf, error_r) < 0)
		goto fail;
	/* The data must fill the rest exactly: catches truncation and any
	 * write that went wrong after the header. */
	if ((unsigned long long)st.st_size < (unsigned long long)qf->data_offset ||
	    (unsigned long long)st.st_size - (unsigned long long)qf->data_offset != qf->data_size) {
		*error_r = "message size does not match the file";
		queuefile_free(qf);
		goto fail;
	}
	buf_free(&hdr);
	qf->fd = fd;
	return 0;
fail:
	buf_free(&hdr);
	close(fd);
	qf->fd = -1;
	return -1;
}

int queuefile_status_final(char status)
{
	return status == QUEUEFILE_DELIVERED || status == QUEUEFILE_FAILED ||
	       status == QUEUEFILE_DELIVERED_REPORTED || status == QUEUEFILE_FAILED_REPORTED;
}

int queuefile_set_status(struct queuefile *qf, size_t i, char status, const char **error_r)
{
	if (i >= qf->nrcpt || (status != QUEUEFILE_PENDING && !queuefile_status_final(status)) ||
	    qf->fd < 0) {
		*error_r = "bad recipient status update";
		return -1;
	}
	/* One byte at a fixed offset: either the old or the new value is on
	 * disk, never a torn record. */
	if (queuefile_pwrite_all(qf->fd, &status, 1, qf->rcpt[i].status_off) < 0) {
		*error_r = "cannot update queue file";
		return -1;
	}
	qf->rcpt[i].status = status;
	return 0;
}

int queuefile_sync(struct queuefile *qf, const char **error_r)
{
	if (qf->fd < 0 || fdatasync(qf->fd) < 0) {
		*error_r = "cannot sync queue file";
		return -1;
	}
	return 0;
}

int queuefile_mark(struct queuefile *qf, size_t i, char status, const char **error_r)
{
	char old = i < qf->nrcpt ? qf->rcpt[i].status : 0;

	if (queuefile_set_status(qf, i, status, error_r) < 0)
		return -1;
	if (queuefile_sync(qf, error_r) < 0) {
		qf->rcpt[i].status = old;   /* not known to be on disk */
		return -1;
	}
	return 0;
}

int queuefile_set_warned(struct queuefile *qf, const char **error_r)
{
	if (qf->fd < 0 || qf->warned_off == 0) {
		*error_r = "no delay warning flag in this queue file";
		return -1;
	}
	if (queuefile_pwrite_all(qf->fd, "1", 1, qf->warned_off) < 0 || fdatasync(qf->fd) < 0) {
		*error_r = "cannot update queue file";
		return -1;
	}
	qf->warned = 1;
	return 0;
}

static const struct {
	const char *word;
	unsigned bit;
} queuefile_notify_words[] = {
	{ "SUCCESS", QUEUEFILE_NOTIFY_SUCCESS },
	{ "FAILURE", QUEUEFILE_NOTIFY_FAILURE },
	{ "DELAY", QUEUEFILE_NOTIFY_DELAY },
};

/* One NOTIFY keyword (any case, RFC 3461 4.1) to its bit, or 0. */
static unsigned queuefile_notify_word(const char *s, size_t n)
{
	if (n == 5 && strncasecmp(s, "NEVER", 5) == 0)
		return QUEUEFILE_NOTIFY_NEVER;
	for (size_t k = 0; k < sizeof(queuefile_notify_words) / sizeof(queuefile_notify_words[0]); k++)
		if (strlen(queuefile_notify_words[k].word) == n &&
		    strncasecmp(s, queuefile_notify_words[k].word, n) == 0)
			return queuefile_notify_words[k].bit;
	return 0;
}

int queuefile_notify_parse(const char *s, size_t n, unsigned *bits_r)
{
	unsigned bits = 0;
	size_t pos = 0;

	if (n == 0 || n > QUEUEFILE_NOTIFY_TEXT_MAX)
		return -1;
	while (pos <= n) {
		const char *comma = memchr(s + pos, ',', n - pos);
		size_t len = comma != NULL ? (size_t)(comma - (s + pos)) : n - pos;
		unsigned bit = queuefile_notify_word(s + pos, len);

		if (bit == 0 || (bits & bit) != 0)
			return -1;
		bits |= bit;
		pos += len + 1;
	}
	/* NEVER must be alone (RFC 3461 4.1). */
	if ((bits & QUEUEFILE_NOTIFY_NEVER) && bits != QUEUEFILE_NOTIFY_NEVER)
		return -1;
	*bits_r = bits;
	return 0;
}

void queuefile_notify_format(unsigned bits, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (bits & QUEUEFILE_NOTIFY_NEVER) {
		snprintf(out, outlen, "NEVER");
		return;
	}
	for (size_t k = 0; k < sizeof(queuefile_notify_words) / sizeof(queuefile_notify_words[0]); k++) {
		int w;

		if (!(bits & queuefile_notify_words[k].bit))
			continue;
		w = snprintf(out + o, outlen - o, "%s%s", o ? "," : "", queuefile_notify_words[k].word);
		if (w < 0 || (size_t)w >= outlen - o)
			return;
		o += (size_t)w;
	}
}

unsigned queuefile_notify_merge(unsigned a, unsigned b)
{
	/* Not given means what qmgr does by default: FAILURE,DELAY. */
	const unsigned dflt = QUEUEFILE_NOTIFY_FAILURE | QUEUEFILE_NOTIFY_DELAY;

	if (a == b || (b & QUEUEFILE_NOTIFY_NEVER))
		return a;
	if (a & QUEUEFILE_NOTIFY_NEVER)
		return b;
	return (a != 0 ? a : dflt) | (b != 0 ? b : dflt);
}

/* Printable US-ASCII or UTF-8 (bytes >= 0x80), no control bytes. */
static int queuefile_printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int queuefile_orcpt_valid(const char *s, size_t n)
{
	const char *semi = memchr(s, ';', n);

	/* addr-type ";" xtext (decoded), RFC 3461 4.2. */
	return n <= QUEUEFILE_ORCPT_MAX && semi != NULL && semi != s && semi != s + n - 1 &&
	       queuefile_printable(s, n);
}

int queuefile_envid_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			return 0;   /* RFC 3461 4.4: printable US-ASCII */
	return n > 0 && n <= QUEUEFILE_ENVID_MAX;
}

int queuefile_set_attempts(struct queuefile *qf, unsigned attempts, const char **error_r)
{
	char digits[QUEUEFILE_ATTEMPTS_WIDTH + 1];

	if (attempts > QUEUEFILE_ATTEMPTS_MAX)
		attempts = QUEUEFILE_ATTEMPTS_MAX;   /* a counter that saturates */
	if (snprintf(digits, sizeof(digits), "%0*u", QUEUEFILE_ATTEMPTS_WIDTH, attempts) !=
	    QUEUEFILE_ATTEMPTS_WIDTH || qf->fd < 0 || qf->attempts_off == 0) {
		*error_r = "bad attempts update";
		return -1;
	}
	if (queuefile_pwrite_all(qf->fd, digits, QUEUEFILE_ATTEMPTS_WIDTH, qf->attempts_off) < 0) {
		*error_r = "cannot update queue file";
		return -1;
	}
	qf->attempts = attempts;
	return 0;
}

size_t queuefile_pending(const struct queuefile *qf)
{
	size_t n = 0;

	for (size_t i = 0; i < qf->nrcpt; i++)
		if (qf->rcpt[i].status == QUEUEFILE_PENDING)
			n++;
	return n;
}

void queuefile_free(struct queuefile *qf)
{
	for (size_t i = 0; i < qf->nrcpt; i++) {
		free(qf->rcpt[i].addr);
		free(qf->rcpt[i].orcpt);
	}
	free(qf->rcpt);
	free(qf->envid);
	free(qf->prepend);
	free(qf->sender);
	free(qf->client);
	free(qf->helo);
	free(qf->proto);
	if (qf->fd >= 0)
		close(qf->fd);
	memset(qf, 0, sizeof(*qf));
	qf->fd = -1;
}
