/* postern_queue: `postern queue -d DIR list [--json] | show ID | flush |
 * delete ID | hold ID | release ID | requeue ID`.
 *
 * Offers: a readable (or JSON) listing of every message in incoming/,
 * active/, deferred/ and hold/; the envelope and text of one message; and
 * the operator's moves.  flush makes every deferred message due now (its
 * mtime, which is its next try) and asks qmgr for a full scan; hold moves
 * a message into hold/, which qmgr never reads; release moves it back into
 * incoming/; requeue gives a deferred or held message a fresh start
 * (attempts reset to 0) through incoming/; delete removes it.
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
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "mailq.h"
#include "postern.h"
#include "queuefile.h"

static const char *const postern_queue_dirs[] = { "incoming", "active", "deferred", "hold" };
#define POSTERN_QUEUE_NDIRS (sizeof(postern_queue_dirs) / sizeof(postern_queue_dirs[0]))

/* ---- small helpers ---- */

static int postern_queue_usage(void)
{
	fputs("usage: postern queue [-d DIR] list [--json]\n"
	      "       postern queue [-d DIR] show|delete|hold|release|requeue ID\n"
	      "       postern queue [-d DIR] flush\n", stderr);
	return POSTERN_EXIT_USAGE;
}

/* Tell qmgr to look (what = "wakeup" or "flush"); quiet when it is not running. */
static void postern_queue_poke(const char *what)
{
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
		printf(",\"status\":\"%s\"}", e->rcpt[i].status);
	}
	printf("]}");
}

struct postern_queue_listing {
	int json;
	size_t count;
};

static int postern_queue_list_one(const struct mailq_entry *e, void *arg)
{
	struct postern_queue_listing *l = arg;

	if (l->json) {
		printf("%s", l->count ? ",\n" : "");
		postern_queue_json(e);
	} else {
		mailq_text(stdout, e);
	}
	l->count++;
	return 0;
}

static int postern_queue_list(int json)
{
	struct postern_queue_listing l = { .json = json };
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
	else
		mailq_text_end(stdout, l.count, 0);
	return POSTERN_EXIT_OK;
}

/* ---- one message ---- */

static int postern_queue_show(const char *id, const char *dir)
{
	char path[64], chunk[65536];
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
	printf("id: %s\nstate: %s\nsender: <%s>\narrival: %lld\nattempts: %u\n", qf.id, dir, qf.sender,
	       qf.time, qf.attempts);
	if (qf.client[0] != '\0')
		printf("client: %s (helo %s, %s)\n", qf.client, qf.helo, qf.proto);
	if (qf.envid[0] != '\0')
		printf("envid: %s\n", qf.envid);
	for (size_t i = 0; i < qf.nrcpt; i++) {
		char notify[QUEUEFILE_NOTIFY_TEXT_MAX];

		queuefile_notify_format(qf.rcpt[i].notify, notify, sizeof(notify));
		printf("recipient: <%s> %s%s%s%s%s\n", qf.rcpt[i].addr,
		       mailq_status_word(qf.rcpt[i].status), notify[0] ? " notify=" : "", notify,
		       qf.rcpt[i].orcpt[0] ? " orcpt=" : "", qf.rcpt[i].orcpt);
	}
	printf("\n");
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
	if (postern_queue_move(id, "hold", "incoming") < 0)
		return POSTERN_EXIT_FAIL;
	postern_queue_poke("wakeup");
	printf("%s: requeued\n", id);
	return POSTERN_EXIT_OK;
}

static int postern_queue_delete(const char *id, const char *dir)
{
	char path[64];

	if (postern_path(path, sizeof(path), "%s/%s", dir, id) < 0)
		return POSTERN_EXIT_FAIL;
	if (unlink(path) < 0) {
		postern_err("%s: %s", path, strerror(errno));
		return POSTERN_EXIT_FAIL;
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
			printf("%s: already on hold\n", id);
			return POSTERN_EXIT_OK;
		}
		if (postern_queue_move(id, dir, "hold") < 0)
			return POSTERN_EXIT_FAIL;
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
	printf("%s: released\n", id);
	return POSTERN_EXIT_OK;
}

/* flush: every deferred message is due now; then a full scan. */
static int postern_queue_flush(void)
{
	long n = mailq_flush_deferred();

	if (n < 0) {
		postern_err("deferred: %s", strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	postern_queue_poke("flush");
	printf("%ld deferred message%s due now\n", n, n == 1 ? "" : "s");
	return POSTERN_EXIT_OK;
}

int postern_cmd_queue(int argc, char **argv)
{
	const char *dir = NULL, *args[2] = { NULL, NULL };
	char tree[4096];
	size_t nargs = 0;
	int json = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (argv[i][0] == '-' || nargs == 2)
			return postern_queue_usage();
		else
			args[nargs++] = argv[i];
	}
	if (nargs == 0)
		return postern_queue_usage();
	if (postern_tree(dir, tree, sizeof(tree)) < 0 || postern_queue_enter(tree) < 0)
		return POSTERN_EXIT_FAIL;
	if (strcmp(args[0], "list") == 0 && nargs == 1)
		return postern_queue_list(json);
	if (json)
		return postern_queue_usage();
	if (strcmp(args[0], "flush") == 0 && nargs == 1)
		return postern_queue_flush();
	if (nargs == 2 && (strcmp(args[0], "show") == 0 || strcmp(args[0], "delete") == 0 ||
			   strcmp(args[0], "hold") == 0 || strcmp(args[0], "release") == 0 ||
			   strcmp(args[0], "requeue") == 0))
		return postern_queue_one(args[0], args[1]);
	return postern_queue_usage();
}
