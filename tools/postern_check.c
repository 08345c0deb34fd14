/* postern_check: `postern check [-d DIR]`, everything that can stop mail.
 *
 * Offers: loads postern.conf (the daemons' parser), checks master.conf
 * line by line (common/master_line.c, the master's rules, plus: the user
 * exists, the root directory exists, the command is in
 * program_directory), test-compiles every map Postern reads (domains,
 * mailboxes, aliases, transport, quota and the maps named by
 * postern.conf) and finds a .cdb missing or older than its source, a map
 * readable by others that holds passwords (remote_auth_map) or whose
 * source is not, parses etc/users, checks the TLS certificate and key
 * (postern_check_tls.c), the DKIM keys (postern_check_dkim.c), the
 * directories of docs/tree.md with their owners and modes, and the
 * listening ports (postern_check_tree.c).  It
 * prints every problem, not only the first.
 *
 * Trusts: nothing in the files; they are only parsed.  check writes no
 * file of the tree: test compiles go to a temporary .cdb that is removed.
 *
 * Fails: prints "postern: check: ..." per problem to stderr and exits 1
 * if there was any; "postern: check: warning: ..." lines (a certificate
 * that expires soon or is self-signed, a map readable by others) do not
 * change the exit code. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdbmap.h"
#include "config.h"
#include "dnsbl_sites.h"
#include "log.h"
#include "map_setting.h"
#include "master_line.h"
#include "passwd_file.h"
#include "policy_reply.h"
#include "postern.h"

/* One line "postern: check: PREFIXtext" on stderr. */
static void postern_check_say(const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void postern_check_say(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "postern: check: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void postern_check_fail(struct postern_check *ck, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	postern_check_say("", fmt, ap);
	va_end(ap);
	ck->errors++;
}

void postern_check_warn(struct postern_check *ck, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	postern_check_say("warning: ", fmt, ap);
	va_end(ap);
	ck->warnings++;
}

/* The checks of one service line; the first problem or NULL. */
static const char *postern_check_service(const struct postern_check *ck, char **f, size_t nf)
{
	char path[PATH_MAX];
	struct stat st;
	uid_t uid;
	gid_t gid;
	const char *why = master_line_check(f, nf);

	if (why != NULL)
		return why;
	if (strcmp(f[1], "inet") == 0 && !master_line_inet_ok(f[2]))
		return "inet listen must be ADDRESS:PORT or [IPV6]:PORT";
	/* Only root switches users: as anyone else everything runs as the
	 * invoking user (DESIGN.md). */
	if (geteuid() == 0 && postern_user_ids(f[3], &uid, &gid) < 0) {
		static char why_user[128];

		snprintf(why_user, sizeof(why_user), "no such system user %s (postern init as root creates "
			 "the postern-* users)", f[3]);   /* f[3]: at most 32, master_line_check */
		return why_user;
	}
	if (strcmp(f[4], "-") != 0 &&
	    (snprintf(path, sizeof(path), "%s/%s", ck->tree, f[4]) >= (int)sizeof(path) ||
	     stat(path, &st) < 0 || !S_ISDIR(st.st_mode)))
		return "root directory missing";
	if (snprintf(path, sizeof(path), "%s/%s", config_str("program_directory"), f[6]) >= (int)sizeof(path) ||
	    access(path, X_OK) < 0)
		return "command not found in program_directory";
	return NULL;
}

/* Remember an inet listener for the port checks. */
static void postern_check_note_inet(struct postern_check *ck, char **f)
{
	struct postern_check_listener *l;

	if (strcmp(f[1], "inet") != 0 || ck->nlisteners == POSTERN_CHECK_LISTENERS)
		return;
	l = &ck->listeners[ck->nlisteners++];
	memcpy(l->name, f[0], strlen(f[0]) + 1);   /* master_line_check: at most 32 */
	if (str_copy(l->listen, sizeof(l->listen), f[2]) < 0)
		ck->nlisteners--;
}

static void postern_check_master(struct postern_check *ck)
{
	char path[PATH_MAX], line[MASTER_LINE_MAX + 2], names[64][MASTER_LINE_NAME_MAX + 1];
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
		char *f[MASTER_LINE_FIELDS + 1];
		size_t nf;
		const char *why;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			postern_check_fail(ck, "%s:%u: line too long", path, lineno);
			break;
		}
		nf = master_line_split(line, f, MASTER_LINE_FIELDS + 1);
		if (master_line_is_comment(f, nf))
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
		postern_check_note_inet(ck, f);
	}
	fclose(fp);
	if (nservices == 0)
		postern_check_fail(ck, "%s: no services", path);
}

/* A map must not be readable by others when it holds secrets, nor when
 * its operator kept the source from them (a .cdb compiled before
 * `postern map` copied the source's mode may still be 0644). */
static void postern_check_map_mode(struct postern_check *ck, const char *src, const struct stat *s_src,
				   const char *cdb, const struct stat *s_cdb, int secret)
{
	unsigned m_src = (unsigned)(s_src->st_mode & 07777), m_cdb = (unsigned)(s_cdb->st_mode & 07777);

	/* A secret readable by others is a problem, like etc/users and the
	 * TLS key; a plain map that is only a warning. */
	void (*say)(struct postern_check *, const char *, ...) = secret ? postern_check_fail : postern_check_warn;

	if (secret && (s_src->st_mode & S_IROTH))
		say(ck, "%s holds passwords and is readable by others (mode %04o): chmod 600 it, "
		    "then postern map gives %s the same mode", src, m_src, cdb);
	else if (!(s_src->st_mode & S_IROTH) && (s_cdb->st_mode & S_IROTH))
		say(ck, "%s is readable by others (mode %04o) but its source %s is not (mode %04o)%s: "
		    "run postern map, which gives it the source's mode", cdb, m_cdb, src, m_src,
		    secret ? " and it holds passwords" : "");
}

/* Compile map NAME (absolute, or relative to DIR/etc; "" = not
 * configured) to a temporary cdb beside it, then remove that.  The real
 * NAME.cdb missing or older than NAME or a file it includes is a
 * problem (the services read the .cdb, not what the operator edited);
 * one readable by others when it should not be is a warning. */
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
		postern_check_fail(ck, "%s is older than %s%s: run postern map -d %s %s", cdb, src,
				   newest > s_src.st_mtime ? " or a file it includes" : "", ck->tree, name);
	postern_check_map_mode(ck, src, &s_src, cdb, &s_cdb, secret);
}

/* A remote map setting: its text map NAME (common/map_setting.c), if
 * there is one; remote goes without a missing map. */
static void postern_check_map_setting(struct postern_check *ck, const char *key, int secret)
{
	char name[MAP_SETTING_NAME_MAX], cdb[MAP_SETTING_NAME_MAX];

	if (map_setting_source(config_str(key), name, sizeof(name)) < 0 ||
	    map_setting_cdb(config_str(key), cdb, sizeof(cdb)) < 0)
		postern_check_fail(ck, "%s: name too long", key);
	else
		postern_check_map(ck, name, 1, secret);
}

/* smtpd_sender_login_maps and the smtpd_*_access maps name a map NAME
 * or NAME.cdb (common/map_setting.c) relative to DIR/etc, and smtpd
 * does not start without NAME.cdb (smtpd_open_map_key): the text NAME,
 * when there is one, is checked as any map, else NAME.cdb must open as
 * a compiled map. */
static void postern_check_sender_logins(struct postern_check *ck)
{
	static const char *const keys[] = { "smtpd_sender_login_maps", "smtpd_client_access",
					    "smtpd_helo_access", "smtpd_sender_access",
					    "smtpd_recipient_access" };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *v = config_str(keys[i]), *error;
		char name[MAP_SETTING_NAME_MAX], cdb[MAP_SETTING_NAME_MAX], path[PATH_MAX];
		struct cdbmap *map = NULL;
		struct stat st;

		if (v[0] == '\0')
			continue;
		if (v[0] == '/' || strstr(v, "..") != NULL) {
			postern_check_fail(ck, "%s = %s: must be a map relative to %s/etc (smtpd would not start)",
					   keys[i], v, ck->tree);
			continue;
		}
		if (map_setting_source(v, name, sizeof(name)) < 0 || map_setting_cdb(v, cdb, sizeof(cdb)) < 0) {
			postern_check_fail(ck, "%s = %s: name too long (smtpd would not start)", keys[i], v);
			continue;
		}
		if (postern_path(path, sizeof(path), "%s/etc/%s", ck->tree, name) == 0 && stat(path, &st) == 0) {
			postern_check_map(ck, name, 0, 0);
			continue;
		}
		if (postern_path(path, sizeof(path), "%s/etc/%s", ck->tree, cdb) < 0)
			continue;
		if (cdbmap_open(path, &map, &error) < 0)
			postern_check_fail(ck, "%s = %s: %s (smtpd would not start; postern map compiles a text "
					   "map NAME into NAME.cdb)", keys[i], v, error);
		cdbmap_close(&map);
	}
}

/* log_file: the master does not start when it cannot open it for
 * appending as a regular file (master/master_log.c); checked as far as
 * it can be without creating it. */
static void postern_check_log_file(struct postern_check *ck)
{
	const char *v = config_str("log_file");
	char path[PATH_MAX], dir[PATH_MAX];
	struct stat st;
	char *slash;

	if (v[0] == '\0' || strcmp(v, "-") == 0)
		return;
	if (postern_path(path, sizeof(path), "%s%s%s", v[0] == '/' ? "" : ck->tree, v[0] == '/' ? "" : "/", v) < 0)
		return;
	if (lstat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode))
			postern_check_fail(ck, "log_file %s: not a regular file (the master would not start)", path);
		else if (access(path, W_OK) < 0)
			postern_check_fail(ck, "log_file %s: %s (the master would not start)", path, strerror(errno));
		return;
	}
	if (errno != ENOENT) {
		postern_check_fail(ck, "log_file %s: %s (the master would not start)", path, strerror(errno));
		return;
	}
	memcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		postern_check_fail(ck, "log_file %s: its directory %s does not exist (the master would not start)",
				   path, dir);
	else if (access(dir, W_OK | X_OK) < 0)
		postern_check_fail(ck, "log_file %s: cannot create it in %s: %s (the master would not start)", path,
				   dir, strerror(errno));
}

/* The policy delegation, DNSBL and milter settings smtpd would refuse at start. */
static void postern_check_policy(struct postern_check *ck)
{
	static const char *const lists[] = { "smtpd_policy_services",
					     "smtpd_end_of_data_policy_services", "smtpd_milters",
					     "non_smtpd_milters" };
	const char *mda = config_str("milter_default_action");
	char specs[POLICY_SERVICES_MAX][POLICY_SPEC_MAX];
	struct dnsbl_site sites[DNSBL_SITES_MAX];
	const char *err;
	size_t n;

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (policy_services_parse(config_str(lists[i]), specs, &n, &err) < 0)
			postern_check_fail(ck, "%s: %s", lists[i], err);
	if (dnsbl_sites_parse(config_str("smtpd_dnsbl_sites"), strlen(config_str("smtpd_dnsbl_sites")),
			      sites, &n, &err) < 0)
		postern_check_fail(ck, "smtpd_dnsbl_sites: %s", err);
	if (!policy_default_action_ok(config_str("smtpd_policy_service_default_action")))
		postern_check_fail(ck, "smtpd_policy_service_default_action: not an action smtpd can take "
				   "(OK, DUNNO, REJECT, DEFER, 4NN/5NN text, ...)");
	if (strcmp(mda, "tempfail") != 0 && strcmp(mda, "reject") != 0 && strcmp(mda, "accept") != 0)
		postern_check_fail(ck, "milter_default_action: must be tempfail, reject or accept");
	if (config_size("milter_protocol") < 2 || config_size("milter_protocol") > 6)
		postern_check_fail(ck, "milter_protocol: must be between 2 and 6");
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
	postern_check_map_setting(&ck, "remote_tls_policy_map", 0);
	postern_check_map_setting(&ck, "remote_auth_map", 1);
	postern_check_sender_logins(&ck);
	postern_check_log_file(&ck);
	postern_check_policy(&ck);
	postern_check_dkim(&ck);
	postern_check_dmarc(&ck);
	if (log_set_syslog_name(config_str("syslog_name")) < 0)   /* the daemons would log as postern */
		postern_check_fail(&ck, "syslog_name %s: not 1 to 63 of A-Z a-z 0-9 . _ - / without / at an end",
				   config_str("syslog_name"));
	postern_check_users(&ck);
	postern_check_tree(&ck);
	postern_check_tls(&ck);
	postern_check_ports(&ck);
	return ck.errors > 0 ? POSTERN_EXIT_FAIL : POSTERN_EXIT_OK;
}
