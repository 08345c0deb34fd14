/* postern_init: `postern init [-d DIR] [--domain D] [--listen ADDR]
 * [--port-base N] [--force]` writes a complete, working tree (docs/tree.md).
 * Without -d (and POSTERN_DIR) it is the installed layout: the tree
 * /var/lib/postern whose etc, queue and run are links to /etc/postern,
 * /var/spool/postern and /run/postern, and whose jail is DIR/jail
 * (common/layout.h; all under $POSTERN_SYSROOT when that is set).
 *
 * Offers: etc/postern.conf (every key documented, plus myhostname and
 * program_directory), etc/master.conf, the empty users and mailboxes
 * tables, domains with D, their compiled .cdb, a self-signed certificate,
 * and the directories private/, queue/, mail/, run/ with their owners and
 * modes.  As root it first creates the group `postern` and the system
 * users (those of common/service_table.c) when missing
 * (useradd/groupadd/usermod run with a fixed argv, no shell) and makes
 * the tree root-owned with the service users owning only what they write.  As another user every file is that
 * user's, with the same modes.
 *
 * Trusts: the operator's arguments, after checking them: the listen
 * address must be a numeric IPv4/IPv6 address, the domain a plain DNS
 * name, the port base leave room for every standard port (993 + N).
 *
 * Fails: prints "postern: ..." and exits 1; an existing etc/postern.conf
 * is never overwritten without --force.  With --force the configuration
 * files are rewritten but users, mailboxes, the certificate and any mail
 * are kept. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdbmap.h"
#include "layout.h"
#include "postern.h"
#include "service_table.h"

#define POSTERN_HIGHEST_PORT 993   /* imaps: the highest standard port (DESIGN) */

/* Most system users: the distinct users of the service table. */
#define POSTERN_SYSUSERS_MAX 16

struct postern_init {
	const char *dir;
	const char *domain;
	char listen[INET6_ADDRSTRLEN];
	unsigned port_base;
	int force;
	int as_root;
	int installed;          /* no -d, no POSTERN_DIR: the FHS layout */
	char installed_tree[PATH_MAX];
	char tree[PATH_MAX];
	char host[256];
	char domain_buf[256];
	char progdir[PATH_MAX];
	/* owners and modes, filled by postern_init_owners */
	struct postern_owner dir_own, file_own, private_own, queue_own, mail_own, key_own;
};

/* ---- arguments ---- */

/* A DNS name as we accept it for a domain or a host: letters, digits,
 * '-' and '.', no empty label, at most 253 bytes.  Lower-cased in place. */
static int postern_init_dns_name(char *name)
{
	size_t len = strlen(name), label = 0;

	if (len == 0 || len > 253 || name[0] == '.' || name[len - 1] == '.')
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c >= 'A' && c <= 'Z')
			name[i] = (char)(c - 'A' + 'a');
		else if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			continue;
		} else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return -1;
		if (++label > 63)
			return -1;
	}
	return 0;
}

static int postern_init_listen(struct postern_init *in, const char *arg)
{
	char addr[INET6_ADDRSTRLEN + 2];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t len = strlen(arg);

	if (len >= sizeof(addr)) {
		postern_err("--listen: not an IP address: %s", arg);
		return -1;
	}
	memcpy(addr, arg, len + 1);
	/* "[::1]" is accepted too: master.conf adds the brackets itself. */
	if (len >= 2 && addr[0] == '[' && addr[len - 1] == ']') {
		memmove(addr, addr + 1, len - 2);
		addr[len - 2] = '\0';
	}
	if (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1) {
		postern_err("--listen: not a numeric IPv4 or IPv6 address: %s", arg);
		return -1;
	}
	return postern_path(in->listen, sizeof(in->listen), "%s", addr);
}

static int postern_init_port_base(struct postern_init *in, const char *arg)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || arg[0] == '-' ||
	    v > 65535 - POSTERN_HIGHEST_PORT) {
		postern_err("--port-base: expected a number from 0 to %d", 65535 - POSTERN_HIGHEST_PORT);
		return -1;
	}
	in->port_base = (unsigned)v;
	return 0;
}

static int postern_init_args(struct postern_init *in, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "domain", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, 'l' },
		{ "port-base", required_argument, NULL, 'p' },
		{ "force", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	int c, have_base = 0;

	optind = 0;
	while ((c = getopt_long(argc, argv, "+d:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': in->dir = optarg; break;
		case 'D': in->domain = optarg; break;
		case 'l': if (postern_init_listen(in, optarg) < 0) return -1; break;
		case 'p': if (postern_init_port_base(in, optarg) < 0) return -1; have_base = 1; break;
		case 'F': in->force = 1; break;
		default: return POSTERN_EXIT_USAGE;
		}
	}
	if (optind != argc)
		return POSTERN_EXIT_USAGE;
	if (!have_base)
		in->port_base = in->as_root ? 0 : 10000;
	if ((in->dir == NULL || in->dir[0] == '\0') &&
	    (getenv("POSTERN_DIR") == NULL || getenv("POSTERN_DIR")[0] == '\0')) {
		if (layout_path(LAYOUT_TREE, in->installed_tree, sizeof in->installed_tree) < 0) {
			postern_err("%s is too long", LAYOUT_SYSROOT_ENV);
			return -1;
		}
		in->installed = 1;
		in->dir = in->installed_tree;
	}
	return 0;
}

/* ---- host name, domain, program directory ---- */

/* The FQDN: the host name if it has a dot, else its canonical name from
 * the resolver (usually /etc/hosts) if that has one, else the plain name. */
static int postern_init_hostname(struct postern_init *in)
{
	struct addrinfo hints, *res = NULL;

	if (gethostname(in->host, sizeof(in->host)) < 0 ||
	    memchr(in->host, '\0', sizeof(in->host)) == NULL) {
		postern_err("cannot get the host name");
		return -1;
	}
	if (strchr(in->host, '.') == NULL) {
		memset(&hints, 0, sizeof(hints));
		hints.ai_flags = AI_CANONNAME;
		if (getaddrinfo(in->host, NULL, &hints, &res) == 0 && res->ai_canonname != NULL &&
		    strchr(res->ai_canonname, '.') != NULL &&
		    strlen(res->ai_canonname) < sizeof(in->host))
			memcpy(in->host, res->ai_canonname, strlen(res->ai_canonname) + 1);
		if (res != NULL)
			freeaddrinfo(res);
	}
	if (postern_init_dns_name(in->host) < 0) {
		postern_err("the host name %s is not a valid DNS name", in->host);
		return -1;
	}
	return 0;
}

static int postern_init_domain(struct postern_init *in)
{
	const char *dot = strchr(in->host, '.');
	const char *d = in->domain != NULL ? in->domain : dot != NULL ? dot + 1 : "localdomain";

	if (postern_path(in->domain_buf, sizeof(in->domain_buf), "%s", d) < 0 ||
	    postern_init_dns_name(in->domain_buf) < 0) {
		postern_err("--domain: not a valid domain name: %s", d);
		return -1;
	}
	in->domain = in->domain_buf;
	return 0;
}

/* The daemons: beside the running `postern`, or in ../libexec/postern
 * when it is installed (common/layout.h). */
static int postern_init_progdir(struct postern_init *in)
{
	if (layout_program_dir(in->progdir, sizeof(in->progdir)) < 0) {
		postern_err("cannot find the program directory: %s", strerror(errno));
		return -1;
	}
	/* The value goes into postern.conf: it must stay one line and keep
	 * its exact bytes (the parser trims spaces at either end). */
	for (const char *p = in->progdir; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			postern_err("the program directory has control characters in its name");
			return -1;
		}
	if (in->progdir[strlen(in->progdir) - 1] == ' ') {
		postern_err("the program directory name ends in a space");
		return -1;
	}
	return 0;
}

/* ---- the tree directory ---- */

/* mkdir the missing parents of path (0755): the installed tree's
 * /var/lib, or all of them under POSTERN_SYSROOT. */
static int postern_init_parents(const char *path)
{
	char p[PATH_MAX];

	if (postern_path(p, sizeof(p), "%s", path) < 0)
		return -1;
	for (char *slash = strchr(p + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			postern_err("cannot create %s: %s", p, strerror(errno));
			return -1;
		}
		*slash = '/';
	}
	return 0;
}

static int postern_init_tree(struct postern_init *in)
{
	struct stat st;
	char conf[PATH_MAX];

	if (postern_tree(in->dir, in->tree, sizeof(in->tree)) < 0)
		return -1;
	if (in->installed && postern_init_parents(in->tree) < 0)
		return -1;
	if (mkdir(in->tree, 0755) < 0 && errno != EEXIST) {
		postern_err("cannot create %s: %s", in->tree, strerror(errno));
		return -1;
	}
	/* Now that it exists, name it by its real path ("./x" or a
	 * symlink would otherwise end up in postern.conf and the logs). */
	memcpy(conf, in->tree, sizeof(conf));
	if (postern_tree(conf, in->tree, sizeof(in->tree)) < 0)
		return -1;
	if (lstat(in->tree, &st) < 0 || !S_ISDIR(st.st_mode)) {
		postern_err("%s is not a directory", in->tree);
		return -1;
	}
	/* The master trusts the tree as root: a directory others may write
	 * (such as /tmp itself) would let them swap its contents. */
	if (st.st_mode & S_IWOTH) {
		postern_err("%s is writable by everyone; give Postern a directory of its own", in->tree);
		return -1;
	}
	if (postern_path(conf, sizeof(conf), "%s/etc/postern.conf", in->tree) < 0)
		return -1;
	if (!in->force && access(conf, F_OK) == 0) {
		postern_err("%s exists; use --force to rewrite the configuration", conf);
		return -1;
	}
	/* A configuration left in /etc/postern by an earlier tree. */
	if (in->installed && !in->force &&
	    (layout_path(LAYOUT_ETC "/postern.conf", conf, sizeof(conf)) < 0 || access(conf, F_OK) == 0)) {
		postern_err("%s exists; use --force to rewrite the configuration", conf);
		return -1;
	}
	return 0;
}

/* ---- system users (as root) ---- */

static const char *postern_init_tool(const char *name, char *out, size_t outlen)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		if (snprintf(out, outlen, "%s/%s", dirs[i], name) < (int)outlen &&
		    access(out, X_OK) == 0)
			return out;
	postern_err("cannot find %s", name);
	return NULL;
}

static int postern_init_group(void)
{
	char tool[64];
	gid_t gid;

	if (postern_group_id("postern", &gid) == 0)
		return 0;
	if (postern_init_tool("groupadd", tool, sizeof(tool)) == NULL)
		return -1;
	char *argv[] = { tool, "--system", "postern", NULL };
	if (postern_run(argv) != 0) {
		postern_err("groupadd postern failed");
		return -1;
	}
	return 0;
}

static int postern_init_in_group(const char *user)
{
	struct group *gr = getgrnam("postern");

	if (gr == NULL)
		return 0;
	for (char **m = gr->gr_mem; *m != NULL; m++)
		if (strcmp(*m, user) == 0)
			return 1;
	return 0;
}

static int postern_init_useradd(const char *user)
{
	const char *shell = access("/usr/sbin/nologin", X_OK) == 0 ? "/usr/sbin/nologin" :
			    access("/sbin/nologin", X_OK) == 0 ? "/sbin/nologin" : "/bin/false";
	char tool[64];
	gid_t gid;

	if (postern_init_tool("useradd", tool, sizeof(tool)) == NULL)
		return -1;
	/* --user-group fails when a group of that name exists already
	 * (left by an earlier userdel): join that group instead. */
	char *with_group[] = { tool, "--system", "--no-create-home", "--home-dir", "/nonexistent",
			       "--shell", (char *)shell, "-g", (char *)user, "-G", "postern",
			       (char *)user, NULL };
	char *new_group[] = { tool, "--system", "--no-create-home", "--home-dir", "/nonexistent",
			      "--shell", (char *)shell, "--user-group", "-G", "postern",
			      (char *)user, NULL };
	char **argv = postern_group_id(user, &gid) == 0 ? with_group : new_group;

	if (postern_run(argv) != 0) {
		postern_err("useradd %s failed", user);
		return -1;
	}
	return 0;
}

static int postern_init_usermod(const char *user)
{
	char tool[64];

	if (postern_init_tool("usermod", tool, sizeof(tool)) == NULL)
		return -1;
	char *argv[] = { tool, "-a", "-G", "postern", (char *)user, NULL };
	if (postern_run(argv) != 0) {
		postern_err("usermod -a -G postern %s failed", user);
		return -1;
	}
	return 0;
}

static int postern_init_sysusers(void)
{
	/* The users of the service table (docs/tree.md); all are members
	 * of the group postern. */
	const char *users[POSTERN_SYSUSERS_MAX];
	size_t n = service_table_users(users, POSTERN_SYSUSERS_MAX);
	uid_t uid;
	gid_t gid;

	if (n > POSTERN_SYSUSERS_MAX) {
		postern_err("more than %d system users in the service table", POSTERN_SYSUSERS_MAX);
		return -1;
	}
	if (postern_init_group() < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *u = users[i];

		if (postern_user_ids(u, &uid, &gid) < 0) {
			if (postern_init_useradd(u) < 0)
				return -1;
			printf("postern: created system user %s\n", u);
		} else if (!postern_init_in_group(u) && postern_init_usermod(u) < 0)
			return -1;
	}
	return 0;
}

/* ---- owners and modes ---- */

static void postern_owner_set(struct postern_owner *o, uid_t uid, gid_t gid, mode_t mode)
{
	o->uid = uid;
	o->gid = gid;
	o->mode = mode;
}

static int postern_init_owners(struct postern_init *in)
{
	uid_t queue_uid, vmail_uid, auth_uid;
	gid_t group, queue_gid, vmail_gid, auth_gid;
	const uid_t keep = (uid_t)-1;

	postern_owner_set(&in->dir_own, keep, (gid_t)-1, 0755);
	postern_owner_set(&in->file_own, keep, (gid_t)-1, 0644);
	postern_owner_set(&in->private_own, keep, (gid_t)-1, 0750);
	postern_owner_set(&in->queue_own, keep, (gid_t)-1, 0700);
	postern_owner_set(&in->mail_own, keep, (gid_t)-1, 0750);
	postern_owner_set(&in->key_own, keep, (gid_t)-1, 0600);
	if (!in->as_root)
		return 0;
	if (postern_group_id("postern", &group) < 0 ||
	    postern_user_ids("postern-queue", &queue_uid, &queue_gid) < 0 ||
	    postern_user_ids("postern-vmail", &vmail_uid, &vmail_gid) < 0 ||
	    postern_user_ids("postern-auth", &auth_uid, &auth_gid) < 0) {
		postern_err("the Postern system users are incomplete");
		return -1;
	}
	postern_owner_set(&in->dir_own, 0, 0, 0755);
	postern_owner_set(&in->file_own, 0, 0, 0644);
	postern_owner_set(&in->private_own, 0, group, 0750);
	postern_owner_set(&in->queue_own, queue_uid, queue_gid, 0700);
	postern_owner_set(&in->mail_own, vmail_uid, vmail_gid, 0750);
	postern_owner_set(&in->key_own, 0, 0, 0600);
	return 0;
}

/* ---- writing the tree ---- */

/* mkdir DIR/rel with own.  A part of the tree that is a link to a
 * directory (the installed layout, or an operator's link to another
 * disk) gets the owner and mode on the directory it names. */
static int postern_init_mkdir(const struct postern_init *in, const char *rel,
			      const struct postern_owner *own)
{
	char path[PATH_MAX];
	struct stat st;

	if (postern_path(path, sizeof(path), "%s/%s", in->tree, rel) < 0)
		return -1;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *real = realpath(path, NULL);
		int r;

		if (real == NULL || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
			postern_err("%s is a link to something that is not a directory", path);
			free(real);
			return -1;
		}
		r = postern_chown(real, own);
		free(real);
		return r;
	}
	return postern_mkdir(path, own);
}

/* DIR/name -> target (created), unless DIR/name exists: a directory or
 * link found there is the operator's choice and is kept. */
static int postern_init_link(const struct postern_init *in, const char *name, const char *target)
{
	char link[PATH_MAX];
	struct stat st;

	if (postern_path(link, sizeof(link), "%s/%s", in->tree, name) < 0)
		return -1;
	if (lstat(link, &st) == 0)
		return 0;
	if (errno != ENOENT) {
		postern_err("%s: %s", link, strerror(errno));
		return -1;
	}
	if (postern_init_parents(target) < 0)
		return -1;
	if (mkdir(target, 0755) < 0 && errno != EEXIST) {
		postern_err("cannot create %s: %s", target, strerror(errno));
		return -1;
	}
	if (symlink(target, link) < 0) {
		postern_err("cannot link %s to %s: %s", link, target, strerror(errno));
		return -1;
	}
	return 0;
}

/* The installed layout (docs/tree.md): etc, queue and run are links to
 * the FHS directories; the jail, which must share the filesystem of
 * DIR/private (its sockets are hard links), is DIR/jail, and run/jail a
 * link to it (the master makes it again when /run was emptied). */
static int postern_init_fhs(const struct postern_init *in)
{
	static const struct { const char *name, *fhs; } parts[] = {
		{ "etc", LAYOUT_ETC }, { "queue", LAYOUT_QUEUE }, { "run", LAYOUT_RUN },
	};
	char target[PATH_MAX];

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (layout_path(parts[i].fhs, target, sizeof(target)) < 0) {
			postern_err("%s is too long", LAYOUT_SYSROOT_ENV);
			return -1;
		}
		if (postern_init_link(in, parts[i].name, target) < 0)
			return -1;
	}
	if (postern_init_mkdir(in, "jail", &in->dir_own) < 0 ||
	    postern_path(target, sizeof(target), "%s/jail", in->tree) < 0)
		return -1;
	return postern_init_link(in, "run/jail", target);
}

static int postern_init_dirs(const struct postern_init *in)
{
	static const char *const queue_dirs[] = {
		"queue/tmp", "queue/incoming", "queue/active", "queue/deferred", "queue/hold", "queue/defer",
		"queue/state", "queue/spare",
	};

	if (postern_init_mkdir(in, "etc", &in->dir_own) < 0 ||
	    postern_init_mkdir(in, "etc/tls", &in->dir_own) < 0 ||
	    postern_init_mkdir(in, "private", &in->private_own) < 0 ||
	    postern_init_mkdir(in, "queue", &in->dir_own) < 0 ||
	    postern_init_mkdir(in, "queue/private", &in->private_own) < 0 ||
	    postern_init_mkdir(in, "mail", &in->mail_own) < 0 ||
	    postern_init_mkdir(in, "mail/private", &in->private_own) < 0 ||
	    postern_init_mkdir(in, "run", &in->dir_own) < 0 ||
	    postern_init_mkdir(in, "run/jail", &in->dir_own) < 0 ||
	    postern_init_mkdir(in, "run/jail/private", &in->private_own) < 0 ||
	    postern_init_mkdir(in, "public", &in->dir_own) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]); i++)
		if (postern_init_mkdir(in, queue_dirs[i], &in->queue_own) < 0)
			return -1;
	return 0;
}

/* --force over a configuration file the operator may have changed: the
 * previous one stays as FILE.old (a hard link, made before the new file
 * is renamed over it), unless it already says what is written now. */
static int postern_init_keep_old(const char *path, const struct buf *text)
{
	char old[PATH_MAX], *data = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int same = 0;

	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		postern_err("%s: %s", path, strerror(errno));
		return -1;
	}
	data = malloc(text->len + 2);
	if (data != NULL) {
		len = fread(data, 1, text->len + 1, f);
		same = len == text->len && memcmp(data, buf_cstr(text), len) == 0;
	}
	fclose(f);
	free(data);
	if (same)
		return 0;
	if (postern_path(old, sizeof(old), "%s.old", path) < 0 || (unlink(old) < 0 && errno != ENOENT) ||
	    link(path, old) < 0) {
		postern_err("cannot keep the previous %s as %s.old: %s", path, path, strerror(errno));
		return -1;
	}
	printf("postern: kept the previous %s as %s\n", path, old);
	return 0;
}

static int postern_init_write(const struct postern_init *in, const char *rel, const struct buf *text,
			      const struct postern_owner *own)
{
	char path[PATH_MAX];

	if (postern_path(path, sizeof(path), "%s/%s", in->tree, rel) < 0 ||
	    (in->force && postern_init_keep_old(path, text) < 0))
		return -1;
	return postern_write_file(path, buf_cstr(text), text->len, own);
}

static int postern_init_conf(const struct postern_init *in)
{
	struct buf text;
	int r = -1;

	buf_init(&text, 1024 * 1024);
	if (postern_conf_text(&text, in->host, in->progdir) < 0)
		postern_err("cannot generate postern.conf");
	else if (postern_init_write(in, "etc/postern.conf", &text, &in->file_own) == 0) {
		buf_reset(&text);
		if (postern_master_text(&text, in->listen, in->port_base) < 0)
			postern_err("cannot generate master.conf");
		else
			r = postern_init_write(in, "etc/master.conf", &text, &in->file_own);
	}
	buf_free(&text);
	return r;
}

/* Create rel empty with own unless it exists (--force keeps tables). */
static int postern_init_table(const struct postern_init *in, const char *rel,
			      const struct postern_owner *own)
{
	char path[PATH_MAX];
	struct buf empty;

	if (postern_path(path, sizeof(path), "%s/%s", in->tree, rel) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	buf_init(&empty, 1);
	return postern_init_write(in, rel, &empty, own);
}

/* A text map rel holding only the comment text, unless it exists. */
static int postern_init_commented(const struct postern_init *in, const char *rel, const char *text,
				  size_t len, const struct postern_owner *own)
{
	char path[PATH_MAX];
	struct buf b;
	int r;

	if (postern_path(path, sizeof(path), "%s/%s", in->tree, rel) < 0)
		return -1;
	if (access(path, F_OK) == 0)
		return 0;
	buf_init(&b, len + 1);
	r = buf_append(&b, text, len) < 0 ? -1 : postern_init_write(in, rel, &b, own);
	buf_free(&b);
	return r;
}

/* etc/aliases with its syntax explained, unless it exists (docs/operator.md). */
static int postern_init_aliases(const struct postern_init *in, const struct postern_owner *own)
{
	static const char text[] =
		"# aliases: where local delivery sends mail for an address; compile with\n"
		"# `postern map -d DIR aliases` (or `newaliases -C DIR`) after editing\n"
		"# (docs/operator.md, Aliases).  aliases(5) form, as in Postfix or sendmail:\n"
		"#   KEY: TARGET, TARGET, ...\n"
		"# A line starting with a space or tab continues the one above (end the\n"
		"# line above or start this one with a comma).  `KEY TARGET, ...` without\n"
		"# the colon is read too.\n"
		"# KEY: local@domain, a bare local part (every local domain), or @domain\n"
		"# (catch-all for addresses that are neither aliases nor mailboxes).\n"
		"# TARGET: local@domain (forwarded through the queue when the domain is\n"
		"# not local), a bare local part (same domain), \"|command\" (run by\n"
		"# /bin/sh as local_command_user, the message on stdin), or\n"
		"# :include:/path/to/list (addresses listed in that file, read when the\n"
		"# map is compiled: run postern map again after editing the list).\n"
		"# postern map refuses, with file:line, a line it cannot read.\n"
		"# postmaster of every local domain must reach someone, for example:\n"
		"# postmaster: admin@example.org\n";

	return postern_init_commented(in, "etc/aliases", text, sizeof text - 1, own);
}

/* etc/transport with its syntax explained, unless it exists (docs/operator.md). */
static int postern_init_transport(const struct postern_init *in, const struct postern_owner *own)
{
	static const char text[] =
		"# transport: domains whose mail local delivery hands to an LMTP server\n"
		"# (RFC 2033) instead of Maildirs; compile with `postern map -d DIR transport`\n"
		"# (docs/operator.md, LMTP).  The domain must also be in etc/domains.\n"
		"#   DOMAIN  lmtp:HOST:PORT       numeric IPv4 address, or [IPv6]:PORT\n"
		"#   DOMAIN  lmtp:unix:PATH       PATH relative to DIR/mail (local's root)\n"
		"#   DOMAIN  local                Maildirs (the default)\n"
		"# example.org  lmtp:127.0.0.1:24\n";

	return postern_init_commented(in, "etc/transport", text, sizeof text - 1, own);
}

static int postern_init_tables(const struct postern_init *in)
{
	struct postern_owner users_own, map_own;

	if (postern_users_owner(&users_own) < 0)
		return -1;
	postern_map_owner(&map_own);
	if (postern_init_table(in, "etc/users", &users_own) < 0 ||
	    postern_init_table(in, "etc/mailboxes", &map_own) < 0 ||
	    postern_init_aliases(in, &map_own) < 0 ||
	    postern_compile_map(in->tree, "aliases") < 0 ||
	    postern_init_transport(in, &map_own) < 0 ||
	    postern_compile_map(in->tree, "transport") < 0 ||
	    postern_domains_add(in->tree, in->domain, 0) < 0 ||
	    postern_compile_map(in->tree, "mailboxes") < 0 ||
	    postern_dkim_init(in->tree) < 0)
		return -1;
	return 0;
}

static int postern_init_tls(const struct postern_init *in)
{
	char cert[PATH_MAX], key[PATH_MAX];

	if (postern_path(cert, sizeof(cert), "%s/etc/tls/cert.pem", in->tree) < 0 ||
	    postern_path(key, sizeof(key), "%s/etc/tls/key.pem", in->tree) < 0)
		return -1;
	if (access(cert, F_OK) == 0 && access(key, F_OK) == 0) {
		printf("postern: kept the existing certificate %s\n", cert);
		return 0;
	}
	return postern_tls_selfsigned(in->host, cert, key, &in->file_own, &in->key_own);
}

/* Where the link DIR/name points, for the report (static storage). */
static const char *postern_init_target(const struct postern_init *in, const char *name)
{
	static char targets[3][PATH_MAX];
	static size_t next;
	char link[PATH_MAX];
	char *t = targets[next++ % 3];
	ssize_t n;

	if (postern_path(link, sizeof(link), "%s/%s", in->tree, name) < 0 ||
	    (n = readlink(link, t, PATH_MAX - 1)) < 0)
		return "(not a link)";
	t[n] = '\0';
	return t;
}

static void postern_init_report(const struct postern_init *in)
{
	const char *l = in->listen;
	int v6 = strchr(l, ':') != NULL;

	printf("postern: initialised %s for domain %s (host %s)\n", in->tree, in->domain, in->host);
	printf("postern: smtp on %s%s%s:%u, pop3 on %s%s%s:%u\n",
	       v6 ? "[" : "", l, v6 ? "]" : "", in->port_base + 25,
	       v6 ? "[" : "", l, v6 ? "]" : "", in->port_base + 110);
	if (!in->installed) {
		printf("postern: next: postern user add -d %s USER@%s; postern start -d %s\n",
		       in->tree, in->domain, in->tree);
		return;
	}
	printf("postern: the installed layout: %s with etc -> %s, queue -> %s, run -> %s\n",
	       in->tree, postern_init_target(in, "etc"), postern_init_target(in, "queue"),
	       postern_init_target(in, "run"));
	printf("postern: next: postern user add USER@%s; systemctl start postern (or postern start)\n",
	       in->domain);
}

int postern_cmd_init(int argc, char **argv)
{
	struct postern_init in;
	int r, lock;

	memset(&in, 0, sizeof(in));
	in.as_root = geteuid() == 0;
	memcpy(in.listen, "127.0.0.1", sizeof("127.0.0.1"));
	r = postern_init_args(&in, argc, argv);
	if (r == POSTERN_EXIT_USAGE)
		return postern_usage();
	if (r < 0 || postern_init_hostname(&in) < 0 || postern_init_domain(&in) < 0 ||
	    postern_init_progdir(&in) < 0 || postern_init_tree(&in) < 0)
		return POSTERN_EXIT_FAIL;
	if (in.as_root && postern_init_sysusers() < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_init_owners(&in) < 0 || postern_chown(in.tree, &in.dir_own) < 0 ||
	    (in.installed && postern_init_fhs(&in) < 0) || postern_init_dirs(&in) < 0)
		return POSTERN_EXIT_FAIL;
	lock = postern_lock_etc(in.tree);
	if (lock < 0 || postern_init_conf(&in) < 0 || postern_init_tables(&in) < 0 ||
	    postern_init_tls(&in) < 0)
		return POSTERN_EXIT_FAIL;
	postern_init_report(&in);
	return POSTERN_EXIT_OK;
}
