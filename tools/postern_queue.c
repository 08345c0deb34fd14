/* postern_queue: `postern queue -d DIR list [--json|--mailq] | show ID |
 * flush [--domain D] | delete|hold|release|requeue ID|ALL|-`.
 *
 * Offers: a readable (or JSON) listing of every message in incoming/,
 * active/, deferred/ and hold/; the envelope and text of one message; and
 * the operator's moves.  flush makes every deferred message due now (its
 * mtime, which is its next try) and asks qmgr for a full scan; hold moves
 * a message into hold/, which qmgr never reads; release moves it back into
 * incoming/; requeue gives a deferred or held message a fresh start
 * (attempts reset to 0, its deferral reasons dropped) through incoming/,
 * where qmgr routes it again with the maps of now; delete removes it.
 * The moves take one ID, ALL (every message they apply to) or `-` (IDs
 * from stdin, one a line); bulk moves sync each directory once at the
 * end and poke qmgr once.  flush --domain D makes due only the deferred
 * messages with a pending recipient in D.  list shows each pending
 * recipient's last deferral reason (defer/ID, docs/queue.md); --mailq
 * prints Postfix's mailq format instead.
 *
 * Safe against a running qmgr: every move is one rename(2) without
 * replacement, so a message is always in exactly one directory and qmgr,
 * which moves files the same way, simply finds it gone (ENOENT) and forgets
 * it.  The only write into a queue file (requeue's attempts counter) is
 * made while the file is in hold/, where no daemon looks.  A message in
 * active/ may be held or deleted, but a delivery already under way can
 * still complete.  Afterwards qmgr is poked through private/qmgr (as
 * enqueue does), so nothing waits for the periodic scan.
 *
 * Runs as: root or the owner of the queue (development trees); anything
 * else is refused up front.  Trusts: queue files no more than qmgr does
 * (common/queuefile.c parses them); a damaged one is listed with its error.
 *
 * Fails: exit 1 with a message (unknown ID, permission, I/O); 2 on usage. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deferfile.h"
#include "fsutil.h"
#include "mailq.h"
#include "postern.h"
#include "queuefile.h"

static const char *const postern_queue_dirs[] = { "incoming", "active", "deferred", "hold" };
#define POSTERN_QUEUE_NDIRS (sizeof(postern_queue_dirs) / sizeof(postern_queue_dirs[0]))

/* ---- small helpers ---- */

#define POSTERN_QUEUE_LINE_MAX 256   /* longest line of IDs read from stdin */

/* A bulk move (ALL, -): directories to sync once at the end, qmgr to
 * poke once, per-message lines left out. */
static struct {
	int bulk;
	int dirty[POSTERN_QUEUE_NDIRS];
	int poke;
} postern_queue_batch;

static int postern_queue_usage(void)
{
	fputs("usage: postern queue [-d DIR] list [--json|--mailq]\n"
	      "       postern queue [-d DIR] show ID\n"
	      "       postern queue [-d DIR] delete|hold|release|requeue ID|ALL|-\n"
	      "       postern queue [-d DIR] flush [--domain DOMAIN]\n", stderr);
	return POSTERN_EXIT_USAGE;
}

/* Tell qmgr to look (what = "wakeup" or "flush"); quiet when it is not running. */
static void postern_queue_poke(const char *what)
{
	if (postern_queue_batch.bulk) {
		postern_queue_batch.poke = 1;   /* once, at the end */
		return;
	}
	if (mailq_poke(what) == -2)
		postern_err("cannot wake qmgr: %s", strerror(errno));
}

/* The directory holding ID, or NULL. */
static const char *postern_queue_find(const char *id)
{
	for (size_t i = 0; i < POSTERN_QUEUE_NDIRS; i++) {
		char path[64];
		struct stat st;

		if (postern_path(path, sizeof(path), "%s/%s", postern_queue_dirs[i], id) == 0 &&
		    lstat(path, &st) == 0)
			return postern_queue_dirs[i];
	}
	return NULL;
}

/* rename without replacing anything, then make it durable. */
static int postern_queue_move(const char *id, const char *from, const char *to)
{
	char src[64], dst[64];

	if (postern_path(src, sizeof(src), "%s/%s", from, id) < 0 ||
	    postern_path(dst, sizeof(dst), "%s/%s", to, id) < 0)
		return -1;
	if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) < 0) {
		postern_err("%s: cannot move %s/ to %s/: %s", id, from, to,
			    errno == ENOENT ? "it moved meanwhile (qmgr is working on it); try again"
					    : strerror(errno));
		return -1;
	}
	if (postern_queue_batch.bulk) {
		for (size_t i = 0; i < POSTERN_QUEUE_NDIRS; i++)
			if (strcmp(postern_queue_dirs[i], to) == 0 || strcmp(postern_queue_dirs[i], from) == 0)
				postern_queue_batch.dirty[i] = 1;
		return 0;
	}
	if (fsync_dir(to) < 0 || fsync_dir(from) < 0)
		postern_err("%s: warning: cannot sync the queue directories: %s", id, strerror(errno));
	return 0;
}

/* The queue belongs to us (root, or the owner of a development tree). */
static int postern_queue_enter(const char *tree)
{
	char path[4200];
	struct stat st;

	if (postern_path(path, sizeof(path), "%s/queue", tree) < 0)
		return -1;
	if (chdir(path) < 0) {
		postern_err("%s: %s", path, strerror(errno));
		return -1;
	}
	if (stat("incoming", &st) < 0) {
		postern_err("%s/incoming: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() != 0 && geteuid() != st.st_uid) {
		postern_err("the queue belongs to uid %u: run as root or as that user", (unsigned)st.st_uid);
		return -1;
	}
	return 0;
}

/* ---- list ---- */

/* A JSON string (RFC 8259 7): quotes, backslash and control bytes escaped. */
static void postern_queue_json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void postern_queue_json(const struct mailq_entry *e)
{
	printf("{\"id\":\"%s\",\"state\":\"%s\",", e->id, e->state);
	if (e->error != NULL) {
		printf("\"error\":");
		postern_queue_json_str(e->error);
		printf("}");
		return;
	}
	printf("\"size\":%llu,\"arrival\":%lld,\"sender\":", e->size, e->arrival);
	postern_queue_json_str(e->sender);
	printf(",\"kind\":\"%s\",\"attempts\":%u,\"next_try\":", mailq_kind_word(e->kind), e->attempts);
	if (strcmp(e->state, "deferred") == 0)
		printf("%lld", e->next_try);
	else
		printf("null");
	printf(",\"recipients\":[");
	for (size_t i = 0; i < e->nrcpt; i++) {
		printf("%s{\"address\":", i ? "," : "");
		postern_queue_json_str(e->rcpt[i].addr);
		printf(",\"status\":\"%s\"", e->rcpt[i].status);
		if (e->rcpt[i].reason != NULL) {
			printf(",\"reason\":");
			postern_queue_json_str(e->rcpt[i].reason);
		}
		printf("}");
	}
	printf("]}");
}

enum postern_queue_format { POSTERN_QUEUE_TEXT, POSTERN_QUEUE_JSON, POSTERN_QUEUE_MAILQ };

struct postern_queue_listing {
	int json;
	int mailq;
	size_t count;
	unsigned long long bytes;
};

static int postern_queue_list_one(const struct mailq_entry *e, void *arg)
{
	struct postern_queue_listing *l = arg;

	if (l->mailq) {
		if (mailq_postfix(stdout, e, l->count == 0)) {
			l->count++;
			l->bytes += e->size;
		}
		return 0;
	}
	if (l->json) {
		printf("%s", l->count ? ",\n" : "");
		postern_queue_json(e);
	} else {
		mailq_text(stdout, e);
	}
	l->count++;
	return 0;
}

static int postern_queue_list(enum postern_queue_format format)
{
	struct postern_queue_listing l = { .json = format == POSTERN_QUEUE_JSON,
					   .mailq = format == POSTERN_QUEUE_MAILQ };
	int json = l.json;
	const char *err;
	int truncated;

	if (json)
		printf("[");
	if (mailq_walk(0, postern_queue_list_one, &l, &truncated, &err) < 0) {
		fflush(stdout);
		postern_err("cannot read the queue: %s", err);
		return POSTERN_EXIT_FAIL;
	}
	if (json)
		printf("]\n");
	else if (l.mailq)
		mailq_postfix_end(stdout, l.count, l.bytes);
	else
		mailq_text_end(stdout, l.count, 0);
	return POSTERN_EXIT_OK;
}

/* ---- one message ---- */

static int postern_queue_show(const char *id, const char *dir)
{
	char path[64], chunk[65536], when[32];
	struct queuefile qf;
	const char *err;
	off_t off;
	unsigned long long left;

	if (postern_path(path, sizeof(path), "%s/%s", dir, id) < 0)
		return POSTERN_EXIT_FAIL;
	if (queuefile_open(path, 0, &qf, &err) < 0) {
		postern_err("%s: %s", path, err);
		return POSTERN_EXIT_FAIL;
	}
	mailq_time(qf.time, when, sizeof(when));
	printf("id: %s\nstate: %s\nsender: <%s>\narrival: %s\nattempts: %u\n", qf.id, dir, qf.sender,
	       when, qf.attempts);
	if (qf.client[0] != '\0')
		printf("client: %s (helo %s, %s)\n", qf.client, qf.helo, qf.proto);
	if (qf.envid[0] != '\0')
		printf("envid: %s\n", qf.envid);
	if (qf.ret != QUEUEFILE_RET_DEFAULT)
		printf("ret: %s\n", qf.ret == QUEUEFILE_RET_FULL ? "FULL" : "HDRS");
	for (size_t i = 0; i < qf.nrcpt; i++) {
		char notify[QUEUEFILE_NOTIFY_TEXT_MAX];

		queuefile_notify_format(qf.rcpt[i].notify, notify, sizeof(notify));
		printf("recipient: <%s> %s%s%s%s%s\n", qf.rcpt[i].addr,
		       mailq_status_word(qf.rcpt[i].status), notify[0] ? " notify=" : "", notify,
		       qf.rcpt[i].orcpt[0] ? " orcpt=" : "", qf.rcpt[i].orcpt);
	}
	printf("\n");
	/* the fields written after the data (DKIM-Signature) come first, as
	 * every delivery emits them */
	if (qf.prepend_len > 0)
		fwrite(qf.prepend, 1, qf.prepend_len, stdout);
	fflush(stdout);
	for (off = qf.data_offset, left = qf.data_size; left > 0;) {
		ssize_t r = pread(qf.fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk), off);

		if (r <= 0 || fwrite(chunk, 1, (size_t)r, stdout) != (size_t)r)
			break;
		off += r;
		left -= (unsigned long long)r;
	}
	queuefile_free(&qf);
	return left == 0 ? POSTERN_EXIT_OK : POSTERN_EXIT_FAIL;
}

/* requeue: in hold/ (where nobody else writes), reset the attempts, then
 * into incoming/. */
static int postern_queue_requeue(const char *id, const char *dir)
{
	char path[64];
	struct queuefile qf;
	const char *err;

	if (strcmp(dir, "active") == 0 || strcmp(dir, "incoming") == 0) {
		postern_err("%s: is in %s/ and will be tried now anyway", id, dir);
		return POSTERN_EXIT_FAIL;
	}
	if (strcmp(dir, "hold") != 0 && postern_queue_move(id, dir, "hold") < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_path(path, sizeof(path), "hold/%s", id) < 0)
		return POSTERN_EXIT_FAIL;
	if (queuefile_open(path, 1, &qf, &err) < 0 || queuefile_set_attempts(&qf, 0, &err) < 0 ||
	    fsync(qf.fd) < 0) {
		postern_err("%s: %s (left in hold/)", id, err);
		queuefile_free(&qf);
		return POSTERN_EXIT_FAIL;
	}
	queuefile_free(&qf);
	/* A fresh start: the old reasons no longer say why it waits. */
	(void)deferfile_remove(id);
	if (postern_queue_move(id, "hold", "incoming") < 0)
		return POSTERN_EXIT_FAIL;
	postern_queue_poke("wakeup");
	if (!postern_queue_batch.bulk)
		printf("%s: requeued\n", id);
	return POSTERN_EXIT_OK;
}

static int postern_queue_delete(const char *id, const char *dir)
{
	char path[64];

	if (postern_path(path, sizeof(path), "%s/%s", dir, id) < 0)
		return POSTERN_EXIT_FAIL;
	/* The reasons first, so that none outlives its message. */
	(void)deferfile_remove(id);
	if (unlink(path) < 0) {
		postern_err("%s: %s", path, strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	if (postern_queue_batch.bulk) {
		for (size_t i = 0; i < POSTERN_QUEUE_NDIRS; i++)
			postern_queue_batch.dirty[i] |= strcmp(postern_queue_dirs[i], dir) == 0;
		return POSTERN_EXIT_OK;
	}
	(void)fsync_dir(dir);
	if (strcmp(dir, "active") == 0)
		printf("%s: deleted (it was in delivery: a delivery under way may still complete)\n", id);
	else
		printf("%s: deleted\n", id);
	return POSTERN_EXIT_OK;
}

/* hold / release / delete / requeue / show of one ID. */
static int postern_queue_one(const char *cmd, const char *id)
{
	const char *dir;

	if (!queuefile_id_valid(id, strlen(id))) {
		postern_err("not a queue ID: %s", id);
		return POSTERN_EXIT_FAIL;
	}
	dir = postern_queue_find(id);
	if (dir == NULL) {
		postern_err("%s: no such message in the queue", id);
		return POSTERN_EXIT_FAIL;
	}
	if (strcmp(cmd, "show") == 0)
		return postern_queue_show(id, dir);
	if (strcmp(cmd, "delete") == 0)
		return postern_queue_delete(id, dir);
	if (strcmp(cmd, "requeue") == 0)
		return postern_queue_requeue(id, dir);
	if (strcmp(cmd, "hold") == 0) {
		if (strcmp(dir, "hold") == 0) {
			if (!postern_queue_batch.bulk)
				printf("%s: already on hold\n", id);
			return POSTERN_EXIT_OK;
		}
		if (postern_queue_move(id, dir, "hold") < 0)
			return POSTERN_EXIT_FAIL;
		if (!postern_queue_batch.bulk)
			printf("%s: on hold\n", id);
		return POSTERN_EXIT_OK;
	}
	/* release */
	if (strcmp(dir, "hold") != 0) {
		postern_err("%s: not on hold (it is in %s/)", id, dir);
		return POSTERN_EXIT_FAIL;
	}
	if (postern_queue_move(id, "hold", "incoming") < 0)
		return POSTERN_EXIT_FAIL;
	postern_queue_poke("wakeup");
	if (!postern_queue_batch.bulk)
		printf("%s: released\n", id);
	return POSTERN_EXIT_OK;
}

/* ---- bulk: ALL and - ---- */

/* The directories ALL means for cmd. */
static int postern_queue_all_applies(const char *cmd, const char *dir)
{
	if (strcmp(cmd, "delete") == 0)
		return 1;
	if (strcmp(cmd, "hold") == 0)
		return strcmp(dir, "hold") != 0;
	if (strcmp(cmd, "release") == 0)
		return strcmp(dir, "hold") == 0;
	return strcmp(dir, "deferred") == 0 || strcmp(dir, "hold") == 0;   /* requeue */
}

struct postern_queue_ids {
	char (*id)[QUEUEFILE_ID_MAX + 1];
	size_t n, alloc;
};

static int postern_queue_ids_add(struct postern_queue_ids *ids, const char *id, size_t len)
{
	if (ids->n == ids->alloc) {
		size_t na = ids->alloc ? ids->alloc * 2 : 256;
		void *p = reallocarray(ids->id, na, sizeof(*ids->id));

		if (p == NULL)
			return -1;
		ids->id = p;
		ids->alloc = na;
	}
	memcpy(ids->id[ids->n], id, len);
	ids->id[ids->n++][len] = '\0';
	return 0;
}

/* Every message ALL means, listed before anything moves (a move must
 * not feed the directory walk). */
static int postern_queue_collect_all(const char *cmd, struct postern_queue_ids *ids)
{
	for (size_t i = 0; i < POSTERN_QUEUE_NDIRS; i++) {
		DIR *dp;
		struct dirent *de;

		if (!postern_queue_all_applies(cmd, postern_queue_dirs[i]))
			continue;
		if ((dp = opendir(postern_queue_dirs[i])) == NULL) {
			postern_err("%s: %s", postern_queue_dirs[i], strerror(errno));
			return -1;
		}
		while ((de = readdir(dp)) != NULL) {
			size_t len = strlen(de->d_name);

			if (queuefile_id_valid(de->d_name, len) && postern_queue_ids_add(ids, de->d_name, len) < 0) {
				closedir(dp);
				postern_err("out of memory");
				return -1;
			}
		}
		closedir(dp);
	}
	return 0;
}

/* IDs from stdin, one a line (blanks around them ignored, empty lines
 * skipped); a line that is not an ID fails the command at once. */
static int postern_queue_collect_stdin(struct postern_queue_ids *ids)
{
	char line[POSTERN_QUEUE_LINE_MAX + 2];
	unsigned long lineno = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		size_t len = strlen(line), start = 0;

		lineno++;
		if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
			postern_err("stdin line %lu: longer than %d bytes", lineno, POSTERN_QUEUE_LINE_MAX);
			return -1;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' ||
				   line[len - 1] == '\t'))
			len--;
		while (start < len && (line[start] == ' ' || line[start] == '\t'))
			start++;
		if (start == len)
			continue;
		line[len] = '\0';
		if (!queuefile_id_valid(line + start, len - start)) {
			postern_err("stdin line %lu: not a queue ID: %s", lineno, line + start);
			return -1;
		}
		if (postern_queue_ids_add(ids, line + start, len - start) < 0) {
			postern_err("out of memory");
			return -1;
		}
	}
	if (ferror(stdin)) {
		postern_err("stdin: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static const char *postern_queue_done_word(const char *cmd)
{
	if (strcmp(cmd, "hold") == 0)
		return "on hold";
	if (strcmp(cmd, "release") == 0)
		return "released";
	if (strcmp(cmd, "requeue") == 0)
		return "requeued";
	return "deleted";
}

static int postern_queue_one(const char *cmd, const char *id);

/* cmd on ALL or on the IDs of stdin: each as alone, errors on stderr,
 * one summary line; the directories synced once, qmgr poked once. */
static int postern_queue_bulk(const char *cmd, const char *which)
{
	struct postern_queue_ids ids = { 0 };
	size_t ok = 0, failed = 0;
	int r = strcmp(which, "ALL") == 0 ? postern_queue_collect_all(cmd, &ids)
					  : postern_queue_collect_stdin(&ids);

	if (r < 0) {
		free(ids.id);
		return POSTERN_EXIT_FAIL;
	}
	postern_queue_batch.bulk = 1;
	for (size_t i = 0; i < ids.n; i++) {
		if (postern_queue_one(cmd, ids.id[i]) == POSTERN_EXIT_OK)
			ok++;
		else
			failed++;
	}
	postern_queue_batch.bulk = 0;
	for (size_t i = 0; i < POSTERN_QUEUE_NDIRS; i++)
		if (postern_queue_batch.dirty[i] && fsync_dir(postern_queue_dirs[i]) < 0)
			postern_err("warning: cannot sync %s/: %s", postern_queue_dirs[i], strerror(errno));
	if (postern_queue_batch.poke)
		postern_queue_poke("wakeup");
	free(ids.id);
	printf("%zu message%s %s", ok, ok == 1 ? "" : "s", postern_queue_done_word(cmd));
	if (failed > 0)
		printf(", %zu failed", failed);
	printf("\n");
	return failed > 0 ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}

/* ---- flush ---- */

/* A domain name as flush takes it: what an address may hold after '@'. */
static int postern_queue_domain_ok(const char *d)
{
	size_t n = strlen(d);

	if (n == 0 || n > 255)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)d[i] <= 0x20 || d[i] == 0x7f || d[i] == '/' || d[i] == '@')
			return 0;
	return 1;
}

/* flush: every deferred message (or those for domain) is due now; then a full scan. */
static int postern_queue_flush(const char *domain)
{
	long n = mailq_flush_deferred(domain);

	if (n < 0) {
		postern_err("deferred: %s", strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	postern_queue_poke("flush");
	printf("%ld deferred message%s due now\n", n, n == 1 ? "" : "s");
	return POSTERN_EXIT_OK;
}

static int postern_queue_is_move(const char *cmd)
{
	return strcmp(cmd, "delete") == 0 || strcmp(cmd, "hold") == 0 || strcmp(cmd, "release") == 0 ||
	       strcmp(cmd, "requeue") == 0;
}

int postern_cmd_queue(int argc, char **argv)
{
	const char *dir = NULL, *domain = NULL, *args[2] = { NULL, NULL };
	char tree[4096];
	size_t nargs = 0;
	enum postern_queue_format format = POSTERN_QUEUE_TEXT;

	for (int i = 1; i < argc; i++) {
		int after_flush = nargs == 1 && strcmp(args[0], "flush") == 0;

		/* After `flush`, -d names a domain once the tree is known
		 * (an earlier -d, or POSTERN_DIR); else it is the tree. */
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc && after_flush &&
		    (dir != NULL || (getenv("POSTERN_DIR") != NULL && getenv("POSTERN_DIR")[0] != '\0')))
			domain = argv[++i];
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if ((strcmp(argv[i], "--domain") == 0 || strcmp(argv[i], "-s") == 0) && i + 1 < argc &&
			 after_flush)
			domain = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			format = POSTERN_QUEUE_JSON;
		else if (strcmp(argv[i], "--mailq") == 0)
			format = POSTERN_QUEUE_MAILQ;
		else if ((argv[i][0] == '-' && strcmp(argv[i], "-") != 0) || nargs == 2)
			return postern_queue_usage();
		else
			args[nargs++] = argv[i];
	}
	if (nargs == 0 || (domain != NULL && !postern_queue_domain_ok(domain)))
		return postern_queue_usage();
	if (postern_tree(dir, tree, sizeof(tree)) < 0 || postern_queue_enter(tree) < 0)
		return POSTERN_EXIT_FAIL;
	if (strcmp(args[0], "list") == 0 && nargs == 1)
		return postern_queue_list(format);
	if (format != POSTERN_QUEUE_TEXT)
		return postern_queue_usage();
	if (strcmp(args[0], "flush") == 0 && nargs == 1)
		return postern_queue_flush(domain);
	if (nargs == 2 && postern_queue_is_move(args[0]) &&
	    (strcmp(args[1], "ALL") == 0 || strcmp(args[1], "-") == 0))
		return postern_queue_bulk(args[0], args[1]);
	if (nargs == 2 && (strcmp(args[0], "show") == 0 || postern_queue_is_move(args[0])))
		return postern_queue_one(args[0], args[1]);
	return postern_queue_usage();
}
