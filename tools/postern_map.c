/* postern_map: `postern map [-d DIR] FILE` and `postern check -d DIR`.
 *
 * Offers: map compiles a text map to FILE.cdb (postern_map_compile: a
 * file named `aliases` in aliases(5) syntax, any other as `key value`
 * lines; the .cdb takes the source's owner, group and mode); a bare
 * FILE name (no '/') is taken from DIR/etc when a tree is given by -d or
 * POSTERN_DIR, and a running master is then told to reload.  check loads
 * postern.conf, checks master.conf line by line (the rules the master
 * applies), test-compiles every map Postern reads (domains, mailboxes,
 * aliases, transport, quota and the maps named by postern.conf), warns
 * about a stale .cdb and about a map readable by others that holds
 * passwords (remote_auth_map) or whose source is not, parses etc/users,
 * and looks for the directories of docs/tree.md; it prints every
 * problem, not only the first.
 *
 * Trusts: nothing in the files; they are only parsed.  check writes no
 * file of the tree: test compiles go to a temporary .cdb that is removed.
 *
 * Fails: map exits 1 with "file:line: message"; check prints
 * "postern: check: ..." per problem and exits 1 if there was any
 * ("postern: check: warning: ..." lines do not change the exit code). */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "passwd_file.h"
#include "postern.h"

#define POSTERN_CHECK_LINE_MAX 1024   /* the master's master.conf line limit */

/* ---- map ---- */

int postern_cmd_map(int argc, char **argv)
{
	char tree[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	const char *dir = NULL, *error = "";
	int c, have_tree;

	optind = 0;
	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c != 'd')
			return postern_usage();
		dir = optarg;
	}
	if (optind != argc - 1)
		return postern_usage();
	have_tree = (dir != NULL && dir[0] != '\0') ||
		    (getenv("POSTERN_DIR") != NULL && getenv("POSTERN_DIR")[0] != '\0');
	if (have_tree && postern_tree(dir, tree, sizeof(tree)) < 0)
		return POSTERN_EXIT_FAIL;
	if (have_tree && strchr(argv[optind], '/') == NULL) {
		if (postern_path(src, sizeof(src), "%s/etc/%s", tree, argv[optind]) < 0)
			return POSTERN_EXIT_FAIL;
	} else if (postern_path(src, sizeof(src), "%s", argv[optind]) < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_path(dst, sizeof(dst), "%s.cdb", src) < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_map_compile(src, dst, NULL, &error) < 0) {
		postern_err("%s", error);
		return POSTERN_EXIT_FAIL;
	}
	if (have_tree)
		postern_master_reload(tree);
	return POSTERN_EXIT_OK;
}

/* ---- check ---- */

struct postern_check {
	char tree[PATH_MAX];
	int errors;
};

static void postern_check_fail(struct postern_check *ck, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void postern_check_fail(struct postern_check *ck, const char *fmt, ...)
{
	va_list ap;

	fputs("postern: check: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ck->errors++;
}

/* "host:port" or "[v6]:port" with a numeric address and port 1..65535. */
static int postern_check_inet(const char *listen)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *colon = strrchr(listen, ':'), *h = listen;
	size_t hlen;
	char *end;
	unsigned long port;

	if (colon == NULL)
		return -1;
	hlen = (size_t)(colon - listen);
	if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
		h++;
		hlen -= 2;
	} else if (memchr(h, ':', hlen) != NULL)
		return -1;   /* IPv6 needs its brackets */
	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
		return -1;
	if (strcmp(host, "*") == 0)
		return 0;
	return inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1 ? 0 : -1;
}

/* The checks of one service line; the first problem or NULL. */
static const char *postern_check_service(const struct postern_check *ck, char **f, size_t nf)
{
	char path[PATH_MAX];
	struct stat st;
	uid_t uid;
	gid_t gid;
	char *end;
	unsigned long maxproc;

	if (nf < 7)
		return "expected: name type listen user root maxproc command [args]";
	if (!config_word_ok(f[0], "") || strlen(f[0]) > 32)
		return "bad service name (a-z 0-9 - _, at most 32)";
	if (strcmp(f[1], "inet") != 0 && strcmp(f[1], "unix") != 0)
		return "type must be inet or unix";
	if (strcmp(f[1], "inet") == 0 && postern_check_inet(f[2]) < 0)
		return "inet listen must be ADDRESS:PORT or [IPV6]:PORT";
	if (strcmp(f[1], "unix") == 0 && !config_word_ok(f[2], "."))
		return "unix listen must be a socket name (a-z 0-9 - _ .)";
	if (!config_word_ok(f[3], ""))
		return "bad user name";
	if (geteuid() == 0 && postern_user_ids(f[3], &uid, &gid) < 0)
		return "no such system user (postern init as root creates them)";
	if (strcmp(f[4], "-") != 0 &&
	    (f[4][0] == '/' || strstr(f[4], "..") != NULL || !config_word_ok(f[4], "/.")))
		return "root must be - or a directory relative to the tree";
	if (strcmp(f[4], "-") != 0 &&
	    (snprintf(path, sizeof(path), "%s/%s", ck->tree, f[4]) >= (int)sizeof(path) ||
	     stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
		return "root directory missing";
	errno = 0;
	maxproc = strtoul(f[5], &end, 10);
	if (errno != 0 || end == f[5] || *end != '\0' || maxproc < 1 || maxproc > 10000)
		return "maxproc must be 1..10000";
	if (!config_word_ok(f[6], "."))
		return "bad command name (a program in program_directory)";
	if (snprintf(path, sizeof(path), "%s/%s", config_str("program_directory"), f[6]) >= (int)sizeof(path) ||
	    access(path, X_OK) < 0)
		return "command not found in program_directory";
	return NULL;
}

/* Split line into white-space separated fields; count, at most max. */
static size_t postern_check_split(char *line, char **f, size_t max)
{
	char *save = NULL, *tok;
	size_t nf = 0;

	for (tok = strtok_r(line, " \t\r\n", &save); tok != NULL && nf < max;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		f[nf++] = tok;
	return nf;
}

static void postern_check_master(struct postern_check *ck)
{
	char path[PATH_MAX], line[POSTERN_CHECK_LINE_MAX + 2], names[64][33];
	size_t nnames = 0, nservices = 0;
	unsigned lineno = 0;
	FILE *fp;

	if (postern_path(path, sizeof(path), "%s/etc/master.conf", ck->tree) < 0)
		return;
	fp = fopen(path, "re");
	if (fp == NULL) {
		postern_check_fail(ck, "%s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		char *f[24];
		size_t nf;
		const char *why;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			postern_check_fail(ck, "%s:%u: line too long", path, lineno);
			break;
		}
		nf = postern_check_split(line, f, sizeof(f) / sizeof(f[0]));
		if (nf == 0 || f[0][0] == '#')
			continue;
		nservices++;
		why = postern_check_service(ck, f, nf);
		if (why != NULL) {
			postern_check_fail(ck, "%s:%u: %s", path, lineno, why);
			continue;
		}
		for (size_t i = 0; i < nnames; i++)
			if (strcmp(names[i], f[0]) == 0)
				postern_check_fail(ck, "%s:%u: duplicate service %s", path, lineno, f[0]);
		if (nnames < sizeof(names) / sizeof(names[0]))
			memcpy(names[nnames++], f[0], strlen(f[0]) + 1);
	}
	fclose(fp);
	if (nservices == 0)
		postern_check_fail(ck, "%s: no services", path);
}

static void postern_check_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void postern_check_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("postern: check: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A map must not be readable by others when it holds secrets, nor when
 * its operator kept the source from them (a .cdb compiled before
 * `postern map` copied the source's mode may still be 0644). */
static void postern_check_map_mode(const char *src, const struct stat *s_src, const char *cdb,
				   const struct stat *s_cdb, int secret)
{
	unsigned m_src = (unsigned)(s_src->st_mode & 07777), m_cdb = (unsigned)(s_cdb->st_mode & 07777);

	if (secret && (s_src->st_mode & S_IROTH))
		postern_check_warn("%s holds passwords and is readable by others (mode %04o): chmod 600 it, "
				   "then postern map gives %s the same mode", src, m_src, cdb);
	else if (!(s_src->st_mode & S_IROTH) && (s_cdb->st_mode & S_IROTH))
		postern_check_warn("%s is readable by others (mode %04o) but its source %s is not (mode %04o)%s: "
				   "run postern map, which gives it the source's mode", cdb, m_cdb, src, m_src,
				   secret ? " and it holds passwords" : "");
}

/* Compile map NAME (absolute, or relative to DIR/etc; "" = not
 * configured) to a temporary cdb beside it, then remove that; warn when
 * the real NAME.cdb is missing, older than NAME or a file it includes,
 * or readable by others when it should not be. */
static void postern_check_map(struct postern_check *ck, const char *name, int optional, int secret)
{
	char src[PATH_MAX], tmp[PATH_MAX], cdb[PATH_MAX];
	struct stat s_src, s_cdb;
	const char *error = "", *base;
	time_t newest = 0;

	if (name[0] == '\0')
		return;
	if (postern_path(src, sizeof(src), "%s%s%s", name[0] == '/' ? "" : ck->tree,
			 name[0] == '/' ? "" : "/etc/", name) < 0)
		return;
	base = strrchr(src, '/') + 1;
	if (postern_path(tmp, sizeof(tmp), "%.*s.check-%s.%ld.cdb", (int)(base - src), src, base,
			 (long)getpid()) < 0 ||
	    postern_path(cdb, sizeof(cdb), "%s.cdb", src) < 0)
		return;
	if (stat(src, &s_src) < 0) {
		if (!optional || errno != ENOENT)
			postern_check_fail(ck, "%s: %s", src, strerror(errno));
		return;
	}
	if (postern_map_compile(src, tmp, &newest, &error) < 0)
		postern_check_fail(ck, "%s", error);
	unlink(tmp);
	if (stat(cdb, &s_cdb) < 0) {
		postern_check_fail(ck, "%s is missing: run postern map -d %s %s", cdb, ck->tree, name);
		return;
	}
	if (s_cdb.st_mtime < (newest > s_src.st_mtime ? newest : s_src.st_mtime))
		postern_check_warn("%s is older than %s%s: run postern map -d %s %s", cdb, src,
				   newest > s_src.st_mtime ? " or a file it includes" : "", ck->tree, name);
	postern_check_map_mode(src, &s_src, cdb, &s_cdb, secret);
}

/* smtpd_sender_login_maps names the .cdb itself: its source is the name
 * without ".cdb". */
static void postern_check_sender_logins(struct postern_check *ck)
{
	const char *v = config_str("smtpd_sender_login_maps");
	char name[PATH_MAX];
	size_t n = strlen(v);

	if (n > 4 && strcmp(v + n - 4, ".cdb") == 0 && n - 4 < sizeof(name)) {
		memcpy(name, v, n - 4);
		name[n - 4] = '\0';
		postern_check_map(ck, name, 1, 0);
	}
}

static void postern_check_users(struct postern_check *ck)
{
	struct passwd_file *pf = NULL;
	char path[PATH_MAX];
	const char *error = "";
	struct stat st;

	if (postern_path(path, sizeof(path), "%s/etc/users", ck->tree) < 0)
		return;
	if (passwd_file_load(path, &pf, &st, &error) < 0) {
		postern_check_fail(ck, "%s: %s", path, error);
		return;
	}
	passwd_file_free(&pf);
	if (st.st_mode & 0007)
		postern_check_fail(ck, "%s is readable by others (mode %o; want 0640)",
				   path, (unsigned)(st.st_mode & 07777));
}

static void postern_check_dirs(struct postern_check *ck)
{
	static const char *const dirs[] = {
		"private", "queue", "queue/tmp", "queue/incoming", "queue/active",
		"queue/deferred", "queue/hold", "queue/private", "mail", "mail/private",
		"run", "run/jail", "run/jail/private", "etc/tls",
	};
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (postern_path(path, sizeof(path), "%s/%s", ck->tree, dirs[i]) < 0)
			return;
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
			postern_check_fail(ck, "directory %s is missing (postern init --force recreates it)", path);
	}
}

int postern_cmd_check(int argc, char **argv)
{
	struct postern_check ck;
	char conf[PATH_MAX];
	const char *dir = NULL, *error = "";
	int c;

	optind = 0;
	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c != 'd')
			return postern_usage();
		dir = optarg;
	}
	if (optind != argc)
		return postern_usage();
	memset(&ck, 0, sizeof(ck));
	if (postern_tree(dir, ck.tree, sizeof(ck.tree)) < 0 ||
	    postern_path(conf, sizeof(conf), "%s/etc/postern.conf", ck.tree) < 0)
		return POSTERN_EXIT_FAIL;
	if (config_load(conf, &error) < 0)
		postern_check_fail(&ck, "%s", error);
	postern_check_master(&ck);
	postern_check_map(&ck, "domains", 0, 0);
	postern_check_map(&ck, "mailboxes", 0, 0);
	postern_check_map(&ck, "aliases", 1, 0);
	postern_check_map(&ck, "transport", 1, 0);
	postern_check_map(&ck, "quota", 1, 0);
	postern_check_map(&ck, config_str("remote_tls_policy_map"), 1, 0);
	postern_check_map(&ck, config_str("remote_auth_map"), 1, 1);
	postern_check_sender_logins(&ck);
	postern_check_users(&ck);
	postern_check_dirs(&ck);
	return ck.errors > 0 ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}
