/* postern_log: `postern log [-d DIR] [-f FILE] QUEUEID`, one message's
 * life from the log (docs/operator.md, "Logs").
 *
 * Offers: every line of the log file about QUEUEID, in file order, with
 * the lines of the messages it led to (a delivery status notification's
 * or a forward's new queue ID, followed in turn) and, for each of them
 * that came in over SMTP, the SMTP session's lines from its `connect
 * from` up to its `client=` line (same smtpd pid).  The file is
 * log_file of postern.conf when set, else /var/log/mail.log, or -f FILE;
 * lines are recognised by syslog_name.  Three passes over the file (IDs,
 * session starts, output), so a log of any size is read in constant
 * memory.
 *
 * Trusts: nothing of the file: lines go through common/log_parse.c, a
 * line over POSTERN_LOG_LINE_MAX is skipped, and at most
 * POSTERN_LOG_IDS_MAX messages and POSTERN_LOG_SESSIONS_MAX sessions are
 * followed (more: a note on stderr).
 *
 * Fails: an unreadable file or postern.conf (without -f) prints why and
 * exits 1; no line about QUEUEID is exit 1 with a message. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log_parse.h"
#include "postern.h"

#define POSTERN_LOG_DEFAULT "/var/log/mail.log"
#define POSTERN_LOG_LINE_MAX 8192      /* longer lines are not ours: skipped */
#define POSTERN_LOG_IDS_MAX 64         /* messages followed */
#define POSTERN_LOG_SESSIONS_MAX 64    /* SMTP sessions shown */

struct postern_log_session {
	char service[64];
	long pid;
	unsigned long long start, end;   /* line numbers, `connect from` .. `client=` */
};

struct postern_log {
	FILE *f;
	const char *name;                 /* syslog_name */
	char ids[POSTERN_LOG_IDS_MAX][LOG_PARSE_ID_MAX + 1];
	size_t nids;
	struct postern_log_session sess[POSTERN_LOG_SESSIONS_MAX];
	size_t nsess;
	int clipped;                      /* a limit was reached */
	char line[POSTERN_LOG_LINE_MAX + 2];
	size_t len;
};

static int postern_log_usage(void)
{
	fputs("usage: postern log [-d DIR] [-f FILE] QUEUEID\n", stderr);
	return POSTERN_EXIT_USAGE;
}

/* The next line into pl->line (without newline).  1, 0 at the end; a
 * line over the limit is read through and comes back empty. */
static int postern_log_next(struct postern_log *pl)
{
	int too_long = 0;

	pl->len = 0;
	for (;;) {
		if (fgets(pl->line, sizeof(pl->line), pl->f) == NULL)
			return pl->len > 0 || too_long;
		size_t n = strlen(pl->line);
		if (n > 0 && pl->line[n - 1] == '\n') {
			pl->len = too_long ? 0 : n - 1;
			return 1;
		}
		if (feof(pl->f)) {
			pl->len = too_long ? 0 : n;
			return 1;
		}
		too_long = 1;   /* the buffer filled up: skip the rest */
	}
}

static int postern_log_has_id(const struct postern_log *pl, const char *id, size_t n)
{
	for (size_t i = 0; i < pl->nids; i++)
		if (strlen(pl->ids[i]) == n && memcmp(pl->ids[i], id, n) == 0)
			return 1;
	return 0;
}

/* The queue ID of the line if it is one we follow, else NULL. */
static const char *postern_log_ours(const struct postern_log *pl, const struct log_parse_line *l)
{
	size_t n = log_parse_queue_id(l->text, l->text_len);

	return n > 0 && postern_log_has_id(pl, l->text, n) ? l->text : NULL;
}

static int postern_log_is_smtpd(const struct log_parse_line *l)
{
	return (l->service_len == 5 && memcmp(l->service, "smtpd", 5) == 0) ||
	       (l->service_len > 6 && memcmp(l->service + l->service_len - 6, "/smtpd", 6) == 0);
}

static void postern_log_rewind(struct postern_log *pl)
{
	rewind(pl->f);
	clearerr(pl->f);
}

/* Pass 1: the IDs to follow and the client= line of each SMTP session. */
static void postern_log_pass_ids(struct postern_log *pl)
{
	struct log_parse_line l;
	char next[LOG_PARSE_ID_MAX + 1];

	for (unsigned long long no = 1; postern_log_next(pl); no++) {
		if (!log_parse_line(pl->line, pl->len, pl->name, &l) || postern_log_ours(pl, &l) == NULL)
			continue;
		if (log_parse_next_id(l.text, l.text_len, next) && !postern_log_has_id(pl, next, strlen(next))) {
			if (pl->nids < POSTERN_LOG_IDS_MAX)
				memcpy(pl->ids[pl->nids++], next, sizeof(next));
			else
				pl->clipped = 1;
		}
		size_t idl = log_parse_queue_id(l.text, l.text_len);
		if (postern_log_is_smtpd(&l) && l.text_len > idl + 9 && memcmp(l.text + idl, ": client=", 9) == 0) {
			struct postern_log_session *s = &pl->sess[pl->nsess];
			if (pl->nsess == POSTERN_LOG_SESSIONS_MAX || l.service_len >= sizeof(s->service)) {
				pl->clipped = 1;
				continue;
			}
			memcpy(s->service, l.service, l.service_len);
			s->service[l.service_len] = '\0';
			s->pid = l.pid;
			s->start = s->end = no;
			pl->nsess++;
		}
	}
}

static int postern_log_same_process(const struct postern_log_session *s, const struct log_parse_line *l)
{
	return s->pid == l->pid && strlen(s->service) == l->service_len &&
	       memcmp(s->service, l->service, l->service_len) == 0;
}

/* Pass 2: where each session began (its last `connect from` before client=). */
static void postern_log_pass_sessions(struct postern_log *pl)
{
	struct log_parse_line l;

	for (unsigned long long no = 1; postern_log_next(pl); no++) {
		if (!log_parse_line(pl->line, pl->len, pl->name, &l) || l.text_len < 13 ||
		    memcmp(l.text, "connect from ", 13) != 0)
			continue;
		for (size_t i = 0; i < pl->nsess; i++)
			if (no < pl->sess[i].end && postern_log_same_process(&pl->sess[i], &l))
				pl->sess[i].start = no;
	}
}

/* Pass 3: print. */
static size_t postern_log_pass_print(struct postern_log *pl)
{
	struct log_parse_line l;
	size_t printed = 0;

	for (unsigned long long no = 1; postern_log_next(pl); no++) {
		int show = 0;
		if (!log_parse_line(pl->line, pl->len, pl->name, &l))
			continue;
		show = postern_log_ours(pl, &l) != NULL;
		for (size_t i = 0; i < pl->nsess && !show; i++)
			show = no >= pl->sess[i].start && no <= pl->sess[i].end &&
			       postern_log_same_process(&pl->sess[i], &l);
		if (show) {
			fwrite(pl->line, 1, pl->len, stdout);
			fputc('\n', stdout);
			printed++;
		}
	}
	return printed;
}

/* Which file: -f, else log_file (relative to the tree), else the default. */
static int postern_log_path(const char *dir, const char *file, char *out, size_t len)
{
	char tree[PATH_MAX], conf[PATH_MAX];
	const char *error = "", *lf;

	if (postern_tree(dir, tree, sizeof(tree)) < 0 ||
	    postern_path(conf, sizeof(conf), "%s/etc/postern.conf", tree) < 0)
		return -1;
	if (config_load(conf, &error) < 0) {
		if (file == NULL) {
			postern_err("%s", error);
			return -1;
		}
		/* With -f the file is named: the defaults (syslog_name postern) do. */
	}
	if (file != NULL)
		return postern_path(out, len, "%s", file);
	lf = config_str("log_file");
	if (*lf == '\0' || strcmp(lf, "-") == 0)
		return postern_path(out, len, "%s", POSTERN_LOG_DEFAULT);
	return lf[0] == '/' ? postern_path(out, len, "%s", lf) : postern_path(out, len, "%s/%s", tree, lf);
}

int postern_cmd_log(int argc, char **argv)
{
	const char *dir = NULL, *file = NULL, *id = NULL;
	static struct postern_log pl;
	char path[PATH_MAX];
	size_t printed;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "-f") == 0 && i + 1 < argc)
			file = argv[++i];
		else if (argv[i][0] == '-' || id != NULL)
			return postern_log_usage();
		else
			id = argv[i];
	}
	if (id == NULL)
		return postern_log_usage();
	if (strlen(id) > LOG_PARSE_ID_MAX || strspn(id, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(id)) {
		postern_err("%s: not a queue ID", id);
		return POSTERN_EXIT_FAIL;
	}
	if (postern_log_path(dir, file, path, sizeof(path)) < 0)
		return POSTERN_EXIT_FAIL;
	pl.f = fopen(path, "r");
	if (pl.f == NULL) {
		postern_err("%s: %s", path, strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	pl.name = config_str("syslog_name");
	memcpy(pl.ids[0], id, strlen(id) + 1);
	pl.nids = 1;
	postern_log_pass_ids(&pl);
	postern_log_rewind(&pl);
	postern_log_pass_sessions(&pl);
	postern_log_rewind(&pl);
	printed = postern_log_pass_print(&pl);
	if (ferror(pl.f))
		postern_err("%s: read error", path);
	fclose(pl.f);
	if (pl.clipped)
		postern_err("more than %d messages or sessions: only the first are shown",
			    POSTERN_LOG_IDS_MAX);
	if (fflush(stdout) != 0) {
		postern_err("cannot write the output: %s", strerror(errno));
		return POSTERN_EXIT_FAIL;
	}
	if (printed == 0) {
		postern_err("%s: no line about this message in %s", id, path);
		return POSTERN_EXIT_FAIL;
	}
	return POSTERN_EXIT_OK;
}
