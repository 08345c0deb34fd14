/* deferfile: the deferral reasons of a queued message (see deferfile.h,
 * docs/queue.md "Deferral reasons").
 *
 * Offers: deferfile_write for qmgr, deferfile_read / deferfile_find for
 * mailq and `postern queue`, deferfile_remove for both.  The file is one
 * record (docs/protocols.md escaping): `version=1`, then for each
 * recipient `rcpt`, `dsn` (may be empty) and `reason`, in that order.
 *
 * Trusts: nothing it reads: every field is checked (order, lengths, the
 * number of recipients), the file size is bounded.
 *
 * Fails: a write returns -1 with errno and leaves the old file (or none);
 * a damaged file reads as an error, and the caller shows no reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "buf.h"
#include "deferfile.h"
#include "fsutil.h"
#include "queuefile.h"

#define DEFERFILE_CUT " [...]"

static int deferfile_path(char *out, size_t len, const char *id, const char *suffix)
{
	int n;

	if (!queuefile_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(out, len, "defer/%s%s", id, suffix);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* A reason cut at DEFERFILE_REASON_MAX bytes, saying so. */
static int deferfile_put_reason(struct buf *out, const char *reason)
{
	size_t n = strlen(reason), keep = DEFERFILE_REASON_MAX - (sizeof(DEFERFILE_CUT) - 1);
	char cut[DEFERFILE_REASON_MAX + 1];

	if (n <= DEFERFILE_REASON_MAX)
		return record_put(out, "reason", reason, n);
	memcpy(cut, reason, keep);
	memcpy(cut + keep, DEFERFILE_CUT, sizeof(DEFERFILE_CUT));
	return record_put(out, "reason", cut, DEFERFILE_REASON_MAX);
}

int deferfile_write(const char *id, const struct deferfile_entry *e, size_t n)
{
	char path[64], tmp[64];
	struct buf out;
	int r = 0, saved;

	if (deferfile_path(path, sizeof(path), id, "") < 0 || deferfile_path(tmp, sizeof(tmp), id, ".tmp") < 0)
		return -1;
	buf_init(&out, DEFERFILE_SIZE_MAX);
	r |= record_put_str(&out, "version", "1");
	for (size_t i = 0; i < n && i < DEFERFILE_RCPT_MAX; i++) {
		const char *dsn = e[i].dsn != NULL && strlen(e[i].dsn) <= DEFERFILE_DSN_MAX ? e[i].dsn : "";

		r |= record_put_str(&out, "rcpt", e[i].rcpt);
		r |= record_put_str(&out, "dsn", dsn);
		r |= deferfile_put_reason(&out, e[i].reason != NULL ? e[i].reason : "");
	}
	r |= record_end(&out);
	if (r < 0) {
		buf_free(&out);
		errno = EFBIG;
		return -1;
	}
	/* Never written in place: a crash leaves the old file or the new one.
	 * Not fsynced: the reasons only word mailq and a later DSN; a crash
	 * costs the latest of them, never the message. */
	r = atomic_file_write(AT_FDCWD, path, tmp, out.data, out.len, 0600, 0);
	saved = errno;
	buf_free(&out);
	errno = saved;
	return r;
}

static int deferfile_fail(struct deferfile *df, const char *why, const char **error_r)
{
	deferfile_free(df);
	*error_r = why;
	return -1;
}

int deferfile_parse(const char *p, size_t n, struct deferfile *df, const char **error_r)
{
	const char *v;
	size_t used, k;

	memset(df, 0, sizeof(*df));
	if (record_parse(p, n, &df->rec, &used, error_r) < 0)
		return deferfile_fail(df, *error_r, error_r);
	if (used != n)
		return deferfile_fail(df, "data after the record", error_r);
	v = record_get(&df->rec, "version");
	if (df->rec.n == 0 || strcmp(df->rec.fields[0].key, "version") != 0 || v == NULL || strcmp(v, "1") != 0)
		return deferfile_fail(df, "not a version 1 defer file", error_r);
	if ((df->rec.n - 1) % 3 != 0 || (df->rec.n - 1) / 3 > DEFERFILE_RCPT_MAX)
		return deferfile_fail(df, "wrong number of fields", error_r);
	df->e = calloc((df->rec.n - 1) / 3 + 1, sizeof(*df->e));
	if (df->e == NULL)
		return deferfile_fail(df, "out of memory", error_r);
	for (k = 1; k < df->rec.n; k += 3) {
		const struct record_field *f = &df->rec.fields[k];

		if (strcmp(f[0].key, "rcpt") != 0 || strcmp(f[1].key, "dsn") != 0 ||
		    strcmp(f[2].key, "reason") != 0)
			return deferfile_fail(df, "fields out of order", error_r);
		if (f[0].value_len == 0 || f[0].value_len > QUEUEFILE_ADDR_MAX ||
		    f[1].value_len > DEFERFILE_DSN_MAX || f[2].value_len > DEFERFILE_REASON_MAX)
			return deferfile_fail(df, "field too long", error_r);
		df->e[df->n].rcpt = f[0].value;
		df->e[df->n].dsn = f[1].value;
		df->e[df->n++].reason = f[2].value;
	}
	return 0;
}

int deferfile_read(const char *id, struct deferfile *df, const char **error_r)
{
	char path[64];
	struct buf in;
	int r;

	memset(df, 0, sizeof(*df));
	if (deferfile_path(path, sizeof(path), id, "") < 0) {
		*error_r = "not a queue ID";
		return -1;
	}
	buf_init(&in, DEFERFILE_SIZE_MAX);
	if (file_read_all(path, O_NOFOLLOW, &in, DEFERFILE_SIZE_MAX) < 0) {
		buf_free(&in);
		if (errno == ENOENT)
			return 1;
		*error_r = errno == EFBIG ? "defer file too big" : strerror(errno);
		return -1;
	}
	r = deferfile_parse(in.data != NULL ? in.data : "", in.len, df, error_r);
	buf_free(&in);
	return r;
}

const struct deferfile_entry *deferfile_find(const struct deferfile *df, const char *rcpt)
{
	for (size_t i = 0; i < df->n; i++)
		if (strcmp(df->e[i].rcpt, rcpt) == 0)
			return &df->e[i];
	return NULL;
}

void deferfile_free(struct deferfile *df)
{
	free(df->e);
	df->e = NULL;
	df->n = 0;
	record_clear(&df->rec);
}

int deferfile_remove(const char *id)
{
	char path[64], tmp[64];
	int r = 0;

	if (deferfile_path(path, sizeof(path), id, "") < 0 || deferfile_path(tmp, sizeof(tmp), id, ".tmp") < 0)
		return -1;
	if (unlink(path) < 0 && errno != ENOENT)
		r = -1;
	if (unlink(tmp) < 0 && errno != ENOENT)
		r = -1;
	return r;
}
