/* mailq: the queue listing and flush (see mailq.h).
 *
 * Offers: mailq_walk reads each queue file's header read-only with
 * common/queuefile.c (which validates it as untrusted input) and hands a
 * summary to a callback; mailq_put/mailq_get carry a summary as one
 * record between pickup and sendmail; mailq_text prints it the way
 * `postern queue list` always has (mailq_time its times, also for
 * `postern queue show`), mailq_postfix the way Postfix's mailq
 * does; each pending recipient carries its last deferral reason
 * (defer/ID, common/deferfile.c; advisory: none when unreadable);
 * mailq_flush_deferred (all, or one domain's) and mailq_poke are
 * `postern queue flush` (also pickup's cmd=flush).
 *
 * Trusts: queue files no more than qmgr does; records no more than any
 * record (mailq_get checks every number and bounds the recipients).
 *
 * Fails: a damaged queue file is an entry with its error; a file that
 * moved on while we looked (ENOENT) is skipped; an unreadable directory
 * ends the walk with an error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mailq.h"
#include "sockets.h"

#define MAILQ_POKE_MS 1000

static const char *const mailq_dirs[] = { "incoming", "active", "deferred", "hold" };
#define MAILQ_NDIRS (sizeof(mailq_dirs) / sizeof(mailq_dirs[0]))
static const char *const mailq_kinds[] = { "mail", "dsn", "double" };

const char *mailq_status_word(char status)
{
	switch (status) {
	case QUEUEFILE_PENDING: return "pending";
	case QUEUEFILE_DELIVERED: case QUEUEFILE_DELIVERED_REPORTED: return "delivered";
	default: return "failed";
	}
}

const char *mailq_kind_word(enum queuefile_kind kind)
{
	return (size_t)kind < sizeof(mailq_kinds) / sizeof(mailq_kinds[0]) ? mailq_kinds[kind] : "mail";
}

/* ---- reading the queue ---- */

/* One file: fn's return, or 0 when it moved on. */
static int mailq_walk_one(const char *dir, const char *name, mailq_walk_fn *fn, void *arg, int *seen_r)
{
	char path[64];
	struct queuefile qf;
	struct mailq_entry e = { .id = name, .state = dir };
	struct deferfile df = { 0 };
	struct stat st;
	const char *err;
	int r;

	*seen_r = 0;
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;   /* not a queue ID (those are checked before) */
	if (queuefile_open(path, 0, &qf, &err) < 0) {
		if (errno == ENOENT)
			return 0;   /* moved on while we looked: listed where it went, or gone */
		e.error = err;
		*seen_r = 1;
		return fn(&e, arg);
	}
	e.size = qf.data_size;
	e.arrival = qf.time;
	e.sender = qf.sender;
	e.kind = qf.kind;
	e.attempts = qf.attempts;
	if (strcmp(dir, "deferred") == 0 && fstat(qf.fd, &st) == 0)
		e.next_try = (long long)st.st_mtime;
	/* Why it waits: advisory, so a missing or damaged file shows none. */
	if (deferfile_read(name, &df, &err) != 0)
		deferfile_free(&df);
	e.rcpt = calloc(qf.nrcpt + 1, sizeof(*e.rcpt));
	if (e.rcpt == NULL) {
		e.error = "out of memory";
	} else {
		for (size_t i = 0; i < qf.nrcpt; i++) {
			const struct deferfile_entry *de = NULL;

			e.rcpt[i].status = mailq_status_word(qf.rcpt[i].status);
			e.rcpt[i].addr = qf.rcpt[i].addr;
			if (qf.rcpt[i].status == QUEUEFILE_PENDING && (de = deferfile_find(&df, qf.rcpt[i].addr)) != NULL)
				e.rcpt[i].reason = de->reason;
		}
		e.nrcpt = qf.nrcpt;
	}
	*seen_r = 1;
	r = fn(&e, arg);
	free(e.rcpt);
	deferfile_free(&df);
	queuefile_free(&qf);
	return r;
}

long mailq_walk(size_t max, mailq_walk_fn *fn, void *arg, int *truncated_r, const char **error_r)
{
	long count = 0;
	int stop = 0;

	*truncated_r = 0;
	for (size_t i = 0; i < MAILQ_NDIRS && !stop; i++) {
		DIR *dp = opendir(mailq_dirs[i]);
		struct dirent *de;

		if (dp == NULL) {
			*error_r = strerror(errno);
			return -1;
		}
		while (!stop && (de = readdir(dp)) != NULL) {
			int seen;

			if (!queuefile_id_valid(de->d_name, strlen(de->d_name)))
				continue;
			if (max > 0 && (size_t)count >= max) {
				*truncated_r = 1;
				stop = 1;
				break;
			}
			stop = mailq_walk_one(mailq_dirs[i], de->d_name, fn, arg, &seen);
			count += seen;
		}
		closedir(dp);
	}
	return count;
}

/* ---- as a record ---- */

int mailq_put(struct buf *out, const struct mailq_entry *e)
{
	int r = 0;

	r |= record_put_str(out, "queue_id", e->id);
	r |= record_put_str(out, "state", e->state);
	if (e->error != NULL) {
		r |= record_put_str(out, "error", e->error);
		return r | record_end(out);
	}
	r |= record_put_num(out, "arrival", (unsigned long long)(e->arrival < 0 ? 0 : e->arrival));
	r |= record_put_num(out, "size", e->size);
	r |= record_put_str(out, "sender", e->sender);
	r |= record_put_str(out, "kind", mailq_kind_word(e->kind));
	r |= record_put_num(out, "attempts", e->attempts);
	if (e->next_try > 0)
		r |= record_put_num(out, "next_try", (unsigned long long)e->next_try);
	for (size_t i = 0; i < e->nrcpt && i < MAILQ_RCPT_MAX; i++) {
		struct buf v;
		/* "STATUS ADDR": the status word has no space, the address may. */
		buf_init(&v, QUEUEFILE_ADDR_MAX + 32);
		r |= buf_printf(&v, "%s %s", e->rcpt[i].status, e->rcpt[i].addr);
		r |= record_put(out, "rcpt", v.data, v.len);
		if (e->rcpt[i].reason != NULL)
			r |= record_put_str(out, "reason", e->rcpt[i].reason);
		buf_free(&v);
	}
	if (e->rcpt_more > 0 || e->nrcpt > MAILQ_RCPT_MAX)
		r |= record_put_num(out, "rcpt_more",
				    e->rcpt_more + (e->nrcpt > MAILQ_RCPT_MAX ? e->nrcpt - MAILQ_RCPT_MAX : 0));
	r |= record_end(out);
	return r < 0 ? -1 : 0;
}

static int mailq_get_word(const char *v, const char *const *words, size_t n)
{
	for (size_t i = 0; v != NULL && i < n; i++)
		if (strcmp(v, words[i]) == 0)
			return (int)i;
	return -1;
}

int mailq_get(const struct record *rec, struct mailq_entry *e, const char **error_r)
{
	static const char *const status_words[] = { "pending", "delivered", "failed" };
	unsigned long long arrival, size, attempts, next_try = 0, more = 0;
	int st, kind;

	memset(e, 0, sizeof(*e));
	e->id = record_get(rec, "queue_id");
	e->state = record_get(rec, "state");
	st = mailq_get_word(e->state, mailq_dirs, MAILQ_NDIRS);
	if (e->id == NULL || !queuefile_id_valid(e->id, strlen(e->id)) || st < 0) {
		*error_r = "bad queue_id or state";
		return -1;
	}
	e->state = mailq_dirs[st];
	if ((e->error = record_get(rec, "error")) != NULL)
		return 0;
	e->sender = record_get(rec, "sender");
	kind = mailq_get_word(record_get(rec, "kind"), mailq_kinds, 3);
	if (record_get_num(rec, "arrival", &arrival) < 0 || record_get_num(rec, "size", &size) < 0 ||
	    record_get_num(rec, "attempts", &attempts) < 0 || e->sender == NULL || kind < 0 ||
	    strlen(e->sender) > QUEUEFILE_ADDR_MAX ||
	    arrival > (unsigned long long)LLONG_MAX || attempts > QUEUEFILE_ATTEMPTS_MAX ||
	    (record_get(rec, "next_try") != NULL &&
	     (record_get_num(rec, "next_try", &next_try) < 0 || next_try > (unsigned long long)LLONG_MAX)) ||
	    (record_get(rec, "rcpt_more") != NULL &&
	     (record_get_num(rec, "rcpt_more", &more) < 0 || more > QUEUEFILE_RCPT_MAX))) {
		*error_r = "bad message fields";
		return -1;
	}
	e->arrival = (long long)arrival;
	e->size = size;
	e->attempts = (unsigned)attempts;
	e->next_try = (long long)next_try;
	e->kind = (enum queuefile_kind)kind;
	e->rcpt_more = (size_t)more;
	e->rcpt = calloc(MAILQ_RCPT_MAX, sizeof(*e->rcpt));
	if (e->rcpt == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < rec->n; i++) {
		const struct record_field *f = &rec->fields[i];
		const char *sp;
		int w;

		if (strcmp(f->key, "reason") == 0) {
			/* belongs to the rcpt just before it */
			if (e->nrcpt == 0 || e->rcpt[e->nrcpt - 1].reason != NULL ||
			    f->value_len > DEFERFILE_REASON_MAX) {
				*error_r = "bad reason field";
				mailq_entry_free(e);
				return -1;
			}
			e->rcpt[e->nrcpt - 1].reason = f->value;
			continue;
		}
		if (strcmp(f->key, "rcpt") != 0)
			continue;
		sp = memchr(f->value, ' ', f->value_len);
		w = -1;
		if (sp != NULL) {
			for (size_t k = 0; k < 3 && w < 0; k++)
				if ((size_t)(sp - f->value) == strlen(status_words[k]) &&
				    memcmp(f->value, status_words[k], (size_t)(sp - f->value)) == 0)
					w = (int)k;
		}
		if (w < 0 || f->value_len - (size_t)(sp + 1 - f->value) > QUEUEFILE_ADDR_MAX ||
		    e->nrcpt >= MAILQ_RCPT_MAX) {
			*error_r = e->nrcpt >= MAILQ_RCPT_MAX ? "too many recipients" : "bad rcpt field";
			mailq_entry_free(e);
			return -1;
		}
		e->rcpt[e->nrcpt].status = status_words[w];
		e->rcpt[e->nrcpt++].addr = sp + 1;
	}
	return 0;
}

void mailq_entry_free(struct mailq_entry *e)
{
	free(e->rcpt);
	e->rcpt = NULL;
	e->nrcpt = 0;
}

/* ---- readable ---- */

void mailq_time(long long t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (localtime_r(&tt, &tm) == NULL || strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "%lld", t);
}

/* Control bytes of a (record-decoded) string shown as '?': a listing
 * must not drive the user's terminal. */
static void mailq_put_safe(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

void mailq_text(FILE *f, const struct mailq_entry *e)
{
	char when[64], next[64];

	if (e->error != NULL) {
		fprintf(f, "%-20s %-9s damaged: ", e->id, e->state);
		mailq_put_safe(f, e->error);
		fputc('\n', f);
		return;
	}
	mailq_time(e->arrival, when, sizeof(when));
	fprintf(f, "%-20s %-9s %10llu  %s  <", e->id, e->state, e->size, when);
	mailq_put_safe(f, e->sender);
	fprintf(f, ">%s\n", e->kind == QUEUEFILE_KIND_MAIL ? "" : " (notification)");
	if (strcmp(e->state, "deferred") == 0) {
		mailq_time(e->next_try, next, sizeof(next));
		fprintf(f, "    attempts %u, next try %s\n", e->attempts, next);
	}
	for (size_t i = 0; i < e->nrcpt; i++) {
		fprintf(f, "    %-9s <", e->rcpt[i].status);
		mailq_put_safe(f, e->rcpt[i].addr);
		fputs(">", f);
		if (e->rcpt[i].reason != NULL) {
			fputs(" (", f);
			mailq_put_safe(f, e->rcpt[i].reason);
			fputs(")", f);
		}
		fputs("\n", f);
	}
	if (e->rcpt_more > 0)
		fprintf(f, "    and %zu more recipients\n", e->rcpt_more);
}

void mailq_text_end(FILE *f, size_t count, int truncated)
{
	if (count == 0)
		fprintf(f, "The queue is empty.\n");
	else
		fprintf(f, "%zu message%s%s.\n", count, count == 1 ? "" : "s",
			truncated ? " listed (more are queued: the listing is cut there)" : "");
}

/* ---- Postfix's format ---- */

/* The columns of postqueue -p (Postfix's "%-11s %7ld %20.20s %s"):
 * queue ID with its mark (11, longer IDs push the rest right, as
 * Postfix's do), size (7), arrival (20), sender; recipients under the
 * sender (column 42). */
#define MAILQ_PF_RCPT_INDENT 41
#define MAILQ_PF_REASON_END 76   /* a reason is padded to end here (then ")") */

int mailq_postfix(FILE *f, const struct mailq_entry *e, int first)
{
	const char *last = NULL;
	char when[32], idmark[QUEUEFILE_ID_MAX + 2];
	time_t tt = (time_t)e->arrival;
	struct tm tm;
	char mark = strcmp(e->state, "active") == 0 ? '*' : strcmp(e->state, "hold") == 0 ? '!' : ' ';

	if (e->error != NULL)
		return 0;
	if (first)
		fputs("-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n", f);
	if (localtime_r(&tt, &tm) == NULL || strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm) == 0)
		snprintf(when, sizeof(when), "%lld", e->arrival);
	snprintf(idmark, sizeof(idmark), "%.*s%c", QUEUEFILE_ID_MAX, e->id, mark);
	fprintf(f, "%-11s %7llu %-20s ", idmark, e->size, when);
	mailq_put_safe(f, e->sender[0] != '\0' ? e->sender : "MAILER-DAEMON");
	fputc('\n', f);
	/* Only what is still to be delivered, each reason once before the
	 * recipients that share it. */
	for (size_t i = 0; i < e->nrcpt; i++) {
		const struct mailq_rcpt *r = &e->rcpt[i];

		if (strcmp(r->status, "pending") != 0)
			continue;
		if (r->reason != NULL && (last == NULL || strcmp(last, r->reason) != 0)) {
			/* As Postfix: a short reason ends at column 78, a long
			 * one starts at the margin. */
			size_t len = strlen(r->reason);

			fprintf(f, "%*s(", len < MAILQ_PF_REASON_END ? (int)(MAILQ_PF_REASON_END - len) : 0, "");
			mailq_put_safe(f, r->reason);
			fputs(")\n", f);
			last = r->reason;
		}
		fprintf(f, "%*s", MAILQ_PF_RCPT_INDENT, "");
		mailq_put_safe(f, r->addr);
		fputc('\n', f);
	}
	fputc('\n', f);
	return 1;
}

void mailq_postfix_end(FILE *f, size_t count, unsigned long long bytes)
{
	if (count == 0)
		fputs("Mail queue is empty\n", f);
	else
		fprintf(f, "-- %llu Kbytes in %zu Request%s.\n", bytes / 1024, count, count == 1 ? "" : "s");
}

/* ---- flush ---- */

int mailq_poke(const char *what)
{
	char line[16];
	int fd = unix_connect("private/qmgr", MAILQ_POKE_MS);
	int n = snprintf(line, sizeof(line), "%s\n", what), r = 0;

	if (fd < 0)
		return -1;
	if (n <= 0 || n >= (int)sizeof(line))
		r = -2;
	else if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
		/* a qmgr that closed its socket while we connected is going
		 * away (a reload, a new domains.cdb): as if not running */
		r = errno == EPIPE || errno == ECONNRESET ? -1 : -2;
	close(fd);
	return r;
}

/* Whether a pending recipient of deferred/name is in domain (any case). */
static int mailq_for_domain(const char *name, const char *domain)
{
	char path[64];
	struct queuefile qf;
	const char *err;
	int found = 0;

	if (snprintf(path, sizeof(path), "deferred/%s", name) >= (int)sizeof(path) ||
	    queuefile_open(path, 0, &qf, &err) < 0)
		return 0;   /* gone meanwhile, or damaged: qmgr deals with it */
	for (size_t i = 0; i < qf.nrcpt && !found; i++) {
		const char *at = strrchr(qf.rcpt[i].addr, '@');

		found = qf.rcpt[i].status == QUEUEFILE_PENDING && at != NULL && strcasecmp(at + 1, domain) == 0;
	}
	queuefile_free(&qf);
	return found;
}

long mailq_flush_deferred(const char *domain)
{
	DIR *dp = opendir("deferred");
	struct dirent *de;
	long n = 0;

	if (dp == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (!queuefile_id_valid(de->d_name, strlen(de->d_name)) ||
		    (domain != NULL && !mailq_for_domain(de->d_name, domain)))
			continue;
		/* NULL times = now; a file qmgr took meanwhile is simply gone. */
		if (utimensat(dirfd(dp), de->d_name, NULL, AT_SYMLINK_NOFOLLOW) == 0)
			n++;
	}
	closedir(dp);
	return n;
}
