/* search_eval: a test program (not installed) that runs SEARCH programs
 * through common/imap_search_eval over a set of messages, for the
 * integration test that compares it with Dovecot
 * (tests/integration/test_imap_search_dovecot.py).  Built by `make unit`
 * / `make test` into BUILD/tests/helpers/.
 *
 *   search_eval DIR ZONE NOW
 *       DIR/messages: one message a line, in sequence order:
 *           UID MODSEQ RFC822.SIZE INTERNALDATE FLAGS KEYWORDS
 *         (INTERNALDATE in seconds since the epoch, FLAGS the IMAP_FLAG_*
 *         bits as a decimal number, KEYWORDS comma-separated or "-");
 *         the message itself is the file DIR/UID.
 *       DIR/programs: one SEARCH program a line, as a client writes it
 *         after "UID SEARCH ".  A program with RETURN (SAVE) saves its
 *         result for the "$" of the programs after it (RFC 5182).
 *       ZONE is the server's zone in minutes east of UTC, NOW the time
 *       for OLDER / YOUNGER.
 *     Prints one line per program: "OK" and the matching UIDs, or "ERR"
 *     and what failed (parse errors included).
 *
 * Exit status 0, or 1 with a message on stderr. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "fsutil.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_search_eval.h"

#define FILE_MAX ((size_t)256 << 20)
#define MSG_MAX 10000
#define KW_MAX 32

struct msg {
	uint32_t uid;
	unsigned long long modseq, size;
	long long idate;
	unsigned int flags;
	char *kwbuf;
	const char *kw[KW_MAX];
	unsigned int nkw;
	struct buf data;
};

__attribute__((noreturn)) static void die(const char *what, const char *detail)
{
	fprintf(stderr, "search_eval: %s: %s\n", what, detail);
	exit(1);
}

static void read_file(const char *path, struct buf *b)
{
	buf_init(b, FILE_MAX);
	if (file_read_all(path, 0, b, FILE_MAX) < 0)
		die(path, strerror(errno));
}

/* The next line of b from *pos (without its line end), or NULL. */
static char *next_line(struct buf *b, size_t *pos)
{
	char *s, *nl;

	if (*pos >= b->len)
		return NULL;
	s = b->data + *pos;
	nl = memchr(s, '\n', b->len - *pos);
	if (nl == NULL) {
		*pos = b->len;
		return s;
	}
	*nl = '\0';
	if (nl > s && nl[-1] == '\r')
		nl[-1] = '\0';
	*pos = (size_t)(nl - b->data) + 1;
	return s;
}

static unsigned int read_messages(const char *dir, struct msg *msgs)
{
	char path[4096];
	struct buf list;
	size_t pos = 0;
	unsigned int n = 0;
	char *line;

	if ((size_t)snprintf(path, sizeof(path), "%s/messages", dir) >= sizeof(path))
		die(dir, "path too long");
	read_file(path, &list);
	while ((line = next_line(&list, &pos)) != NULL) {
		struct msg *m = &msgs[n];
		char kw[4096];
		unsigned int uid;

		if (*line == '\0')
			continue;
		if (n == MSG_MAX)
			die(path, "too many messages");
		if (sscanf(line, "%u %llu %llu %lld %u %4095s", &uid, &m->modseq, &m->size, &m->idate, &m->flags,
			   kw) != 6)
			die(path, "bad line");
		m->uid = uid;
		m->nkw = 0;
		m->kwbuf = strdup(kw);
		if (m->kwbuf == NULL)
			die(path, "out of memory");
		if (strcmp(kw, "-") != 0) {
			for (char *save = NULL, *t = strtok_r(m->kwbuf, ",", &save); t != NULL && m->nkw < KW_MAX;
			     t = strtok_r(NULL, ",", &save))
				m->kw[m->nkw++] = t;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%u", dir, uid) >= sizeof(path))
			die(dir, "path too long");
		read_file(path, &m->data);
		if ((size_t)snprintf(path, sizeof(path), "%s/messages", dir) >= sizeof(path))
			die(dir, "path too long");
		n++;
	}
	buf_free(&list);
	return n;
}

/* Run one program; print its line; update the saved result. */
static void run_program(const char *program, struct msg *msgs, unsigned int n, int zone, long long now,
			struct arena *saved_arena, struct imap_seqset *saved, int *have_saved)
{
	struct imap_parser_limits l;
	struct imap_parser *p;
	struct buf line, out;
	size_t used;
	struct imap_search s;
	struct imap_search_env env = { n, n ? msgs[n - 1].uid : 0, *have_saved ? saved : NULL, now, zone };
	struct imap_search_eval *ev;
	const struct imap_cmd *cmd;
	const char *err;
	uint32_t *hits;
	unsigned int nhits = 0;
	int rc;

	imap_parser_limits_default(&l);
	p = imap_parser_new(&l);
	hits = calloc(n ? n : 1, sizeof(*hits));
	if (p == NULL || hits == NULL)
		die("run", "out of memory");
	buf_init(&line, 1 << 20);
	buf_init(&out, 1 << 20);
	if (buf_printf(&line, "A UID SEARCH %s\r\n", program) < 0)
		die("run", "program too long");
	if (imap_parser_feed(p, line.data, line.len, &used) != IMAP_PARSE_COMMAND) {
		printf("ERR parse: %s\n", imap_parser_error(p)->text);
		goto out;
	}
	cmd = imap_parser_command(p);
	if (imap_search_parse(cmd->args, cmd->count, imap_parser_arena(p), &s, &err) < 0) {
		printf("ERR BAD %s\n", err);
		goto out;
	}
	if ((rc = imap_search_eval_new(&s, &env, &ev, &err)) != 0) {
		printf("ERR %d %s\n", rc, err);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct imap_search_msg m = {
			.seq = i + 1, .uid = msgs[i].uid, .flags = msgs[i].flags, .keywords = msgs[i].kw,
			.nkeywords = msgs[i].nkw, .modseq = msgs[i].modseq, .size = msgs[i].size,
			.internal_date = msgs[i].idate, .data = msgs[i].data.data ? msgs[i].data.data : "",
			.len = msgs[i].data.len,
		};

		rc = imap_search_eval_match(ev, &m, &err);
		if (rc < 0)
			die("match", err);
		if (rc == 1)
			hits[nhits++] = msgs[i].uid;
	}
	imap_search_eval_free(&ev);
	printf("OK");
	for (unsigned int k = 0; k < nhits; k++)
		printf(" %u", hits[k]);
	printf("\n");
	if (s.ret & IMAP_SEARCH_RETURN_SAVE) {
		/* the UIDs ascend: one range each is a resolved set */
		arena_reset(saved_arena);
		saved->saved = false;
		saved->count = nhits;
		saved->ranges = arena_calloc(saved_arena, nhits ? nhits : 1, sizeof(*saved->ranges));
		if (saved->ranges == NULL)
			die("run", "out of memory");
		for (unsigned int k = 0; k < nhits; k++)
			saved->ranges[k].lo = saved->ranges[k].hi = hits[k];
		*have_saved = 1;
	}
out:
	free(hits);
	buf_free(&line);
	buf_free(&out);
	imap_parser_free(&p);
}

int main(int argc, char **argv)
{
	static struct msg msgs[MSG_MAX];
	char path[4096];
	struct buf programs;
	struct arena saved_arena;
	struct imap_seqset saved = { false, 0, NULL };
	int have_saved = 0;
	size_t pos = 0;
	unsigned int n;
	char *line;

	if (argc != 4)
		die("usage", "search_eval DIR ZONE NOW");
	n = read_messages(argv[1], msgs);
	if ((size_t)snprintf(path, sizeof(path), "%s/programs", argv[1]) >= sizeof(path))
		die(argv[1], "path too long");
	read_file(path, &programs);
	arena_init(&saved_arena, 65536, 64u << 20);
	while ((line = next_line(&programs, &pos)) != NULL)
		if (*line != '\0')
			run_program(line, msgs, n, atoi(argv[2]), atoll(argv[3]), &saved_arena, &saved, &have_saved);
	arena_free(&saved_arena);
	buf_free(&programs);
	for (unsigned int i = 0; i < n; i++) {
		free(msgs[i].kwbuf);
		buf_free(&msgs[i].data);
	}
	return 0;
}
