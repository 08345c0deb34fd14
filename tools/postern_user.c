/* postern_user: `postern user add|del|passwd|list -d DIR ADDRESS [PASSWORD]`.
 *
 * Offers: virtual users.  A user is a line `ADDRESS:HASH` in etc/users
 * (crypt(3): yescrypt, or SHA-512 where libcrypt lacks it), a line
 * `ADDRESS DOMAIN/LOCALPART/` in etc/mailboxes, a local domain in
 * etc/domains, and the Maildir++ DIR/mail/DOMAIN/LOCALPART/.  Every table
 * is replaced atomically and the maps are recompiled; a running master is
 * then told to reload (SIGHUP).  `del` keeps the mail on disk.
 *
 * Trusts: the operator, but not the address: it is validated
 * (address_validate), lower-cased, and its local part must be a plain
 * dot-atom without '/' because it becomes a directory name; address
 * literals are refused as local domains.  The password is never printed
 * or logged and is wiped from memory after hashing.
 *
 * Fails: "postern: ..." and exit 1; tables are replaced in an order that
 * never leaves a user who can log in without a mailbox (maildir, then
 * mailboxes, then users; the reverse for del). */
#include <errno.h>
#include <fcntl.h>
#include <crypt.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "address.h"
#include "fsutil.h"
#include "postern.h"

#define POSTERN_PASSWORD_MAX 1024

struct postern_user {
	char tree[PATH_MAX];
	char addr[ADDRESS_PATH_MAX + 1];   /* lower-cased local@domain */
	const char *local;                  /* points into local_buf */
	const char *domain;                 /* points into addr */
	char local_buf[ADDRESS_LOCAL_MAX + 1];
};

/* ---- owners ---- */

void postern_map_owner(struct postern_owner *own_r)
{
	own_r->uid = geteuid() == 0 ? 0 : (uid_t)-1;
	own_r->gid = geteuid() == 0 ? 0 : (gid_t)-1;
	own_r->mode = 0644;
}

/* etc/users: readable by authd's group only (DESIGN: mode 0640). */
int postern_users_owner(struct postern_owner *own_r)
{
	uid_t uid;
	gid_t gid;

	own_r->uid = (uid_t)-1;
	own_r->gid = (gid_t)-1;
	own_r->mode = 0640;
	if (geteuid() != 0)
		return 0;
	if (postern_user_ids("postern-auth", &uid, &gid) < 0) {
		postern_err("no system user postern-auth (run postern init as root)");
		return -1;
	}
	own_r->uid = 0;
	own_r->gid = gid;
	return 0;
}

/* ---- tables ---- */

static int postern_user_load(const char *tree, const char *name, struct buf *text)
{
	char path[PATH_MAX];

	if (postern_path(path, sizeof(path), "%s/etc/%s", tree, name) < 0)
		return -1;
	if (file_read_all(path, O_NOFOLLOW, text, POSTERN_FILE_MAX) < 0 && errno != ENOENT) {
		postern_err("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int postern_user_store(const char *tree, const char *name, const struct buf *text,
			      const struct postern_owner *own)
{
	char path[PATH_MAX];

	if (postern_path(path, sizeof(path), "%s/etc/%s", tree, name) < 0)
		return -1;
	return postern_write_file(path, buf_cstr(text), text->len, own);
}

int postern_domains_add(const char *tree, const char *domain, int verbose)
{
	struct postern_owner own;
	struct buf text;
	int r = 0;

	postern_map_owner(&own);
	buf_init(&text, POSTERN_FILE_MAX);
	if (postern_user_load(tree, "domains", &text) < 0)
		r = -1;
	else if (!postern_text_find(&text, domain, ' ')) {
		if (postern_text_append(&text, domain) < 0 ||
		    postern_user_store(tree, "domains", &text, &own) < 0)
			r = -1;
		else if (verbose)
			fprintf(stderr, "postern: added local domain %s\n", domain);
	}
	buf_free(&text);
	if (r < 0)
		return -1;
	return postern_compile_map(tree, "domains");
}

/* Replace the mailboxes line of addr (value NULL: remove it). */
static int postern_user_mailbox(const struct postern_user *u, const char *value)
{
	struct postern_owner own;
	struct buf text, out, line;
	int r = -1;

	postern_map_owner(&own);
	buf_init(&text, POSTERN_FILE_MAX);
	buf_init(&out, POSTERN_FILE_MAX);
	buf_init(&line, 4096);
	if (postern_user_load(u->tree, "mailboxes", &text) == 0 &&
	    postern_text_remove(&text, u->addr, ' ', &out) >= 0 &&
	    (value == NULL || (buf_printf(&line, "%s %s", u->addr, value) == 0 &&
			       postern_text_append(&out, buf_cstr(&line)) == 0)) &&
	    postern_user_store(u->tree, "mailboxes", &out, &own) == 0 &&
	    postern_compile_map(u->tree, "mailboxes") == 0)
		r = 0;
	buf_free(&text);
	buf_free(&out);
	buf_free(&line);
	return r;
}

/* Replace the users line of addr (hash NULL: remove it).  The buffers
 * hold hashes, so they are wiped (buf_free does). */
static int postern_user_passwd_line(const struct postern_user *u, const char *hash)
{
	struct postern_owner own;
	struct buf text, out, line;
	int r = -1;

	if (postern_users_owner(&own) < 0)
		return -1;
	buf_init(&text, POSTERN_FILE_MAX);
	buf_init(&out, POSTERN_FILE_MAX);
	buf_init(&line, 4096);
	if (postern_user_load(u->tree, "users", &text) == 0 &&
	    postern_text_remove(&text, u->addr, ':', &out) >= 0 &&
	    (hash == NULL || (buf_printf(&line, "%s:%s", u->addr, hash) == 0 &&
			      postern_text_append(&out, buf_cstr(&line)) == 0)) &&
	    postern_user_store(u->tree, "users", &out, &own) == 0)
		r = 0;
	buf_free(&text);
	buf_free(&out);
	buf_free(&line);
	return r;
}

/* 1 if addr has a line in users, 0 if not, -1 on error. */
static int postern_user_exists(const struct postern_user *u)
{
	struct buf text;
	int r;

	buf_init(&text, POSTERN_FILE_MAX);
	r = postern_user_load(u->tree, "users", &text) < 0 ? -1 :
	    postern_text_find(&text, u->addr, ':');
	buf_free(&text);
	return r;
}

/* ---- the address ---- */

/* A local part that is safe as a directory name: dot-atom text without
 * '/', not starting or ending with '.', no "..". */
static int postern_user_local_ok(const char *s)
{
	static const char atext[] = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-=?^_`{|}~";

	if (s[0] == '\0' || s[0] == '.' || s[strlen(s) - 1] == '.' || strstr(s, "..") != NULL)
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (*p != '.' && strchr(atext, *p) == NULL)
			return 0;
	return 1;
}

static int postern_user_domain_ok(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || s[0] == '-' || strstr(s, "..") != NULL)
		return 0;
	for (const char *p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return 0;
	return 1;
}

static int postern_user_address(struct postern_user *u, const char *arg)
{
	const char *error = "invalid address";
	size_t len = strlen(arg);
	long at;

	if (len > ADDRESS_PATH_MAX || address_validate(arg, len, 0, &error) < 0) {
		postern_err("%s: %s", arg, error);
		return -1;
	}
	for (size_t i = 0; i <= len; i++)
		u->addr[i] = (arg[i] >= 'A' && arg[i] <= 'Z') ? (char)(arg[i] - 'A' + 'a') : arg[i];
	at = address_at(u->addr, len);
	if (at <= 0 || (size_t)at > ADDRESS_LOCAL_MAX) {
		postern_err("%s: invalid address", arg);
		return -1;
	}
	memcpy(u->local_buf, u->addr, (size_t)at);
	u->local_buf[at] = '\0';
	u->local = u->local_buf;
	u->domain = u->addr + at + 1;
	if (!postern_user_local_ok(u->local)) {
		postern_err("%s: a virtual user's local part must be a plain dot-atom "
			    "(letters, digits, !#$%%&'*+-=?^_`{|}~ and single dots)", arg);
		return -1;
	}
	if (!postern_user_domain_ok(u->domain)) {
		postern_err("%s: a local domain must be a DNS name, not an address literal", arg);
		return -1;
	}
	return 0;
}

/* ---- the password ---- */

/* One line from stdin, newline stripped; echo off on a terminal. */
static int postern_user_read_password(char *pw, size_t size)
{
	struct termios old, quiet;
	int tty = isatty(0) && tcgetattr(0, &old) == 0;
	size_t n = 0;
	int r = -1;
	char c;

	if (tty) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		(void)tcsetattr(0, TCSAFLUSH, &quiet);
		fputs("password: ", stderr);
	}
	for (;;) {
		ssize_t got = read(0, &c, 1);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || c == '\n') {
			r = (got < 0 || (got == 0 && n == 0)) ? -1 : 0;
			break;
		}
		if (n + 1 >= size) {
			postern_err("password longer than %zu bytes", size - 1);
			break;
		}
		pw[n++] = c;
	}
	if (r == 0 && n > 0 && pw[n - 1] == '\r')
		n--;
	pw[n] = '\0';
	c = 0;
	if (tty) {
		(void)tcsetattr(0, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	return r;
}

static int postern_user_get_password(int argc, char **argv, int idx, char *pw, size_t size)
{
	if (idx < argc) {
		if (strlen(argv[idx]) >= size) {
			postern_err("password longer than %zu bytes", size - 1);
			return -1;
		}
		memcpy(pw, argv[idx], strlen(argv[idx]) + 1);
	} else if (postern_user_read_password(pw, size) < 0) {
		postern_err("no password given (on the command line or as a line on stdin)");
		return -1;
	}
	if (pw[0] == '\0') {
		postern_err("empty password refused");
		return -1;
	}
	return 0;
}

/* crypt(3) with a fresh salt: yescrypt, or SHA-512 where the library
 * has no yescrypt.  The hash goes into out. */
static int postern_user_hash(const char *pw, struct buf *out)
{
	char *salt = crypt_gensalt_ra("$y$", 0, NULL, 0);
	void *data = NULL;
	int size = 0;
	char *hash;
	int r = -1;

	if (salt == NULL)
		salt = crypt_gensalt_ra("$6$", 0, NULL, 0);
	if (salt == NULL) {
		postern_err("crypt_gensalt: %s", strerror(errno));
		return -1;
	}
	hash = crypt_ra(pw, salt, &data, &size);
	/* libcrypt signals failure with NULL or a string starting with '*'. */
	if (hash == NULL || hash[0] == '*' || strchr(hash, ':') != NULL)
		postern_err("crypt failed");
	else if (buf_set(out, hash, strlen(hash)) == 0)
		r = 0;
	if (data != NULL) {
		explicit_bzero(data, (size_t)size);
		free(data);
	}
	free(salt);
	return r;
}

/* ---- the Maildir ---- */

static uid_t postern_user_chown_uid;
static gid_t postern_user_chown_gid;

static int postern_user_chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (lchown(path, postern_user_chown_uid, postern_user_chown_gid) < 0) {
		postern_err("cannot chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int postern_user_maildir(const struct postern_user *u)
{
	static const char *const subdirs[] = { "", "/cur", "/new", "/tmp" };
	struct postern_owner own = { (uid_t)-1, (gid_t)-1, 0700 };
	char path[PATH_MAX];

	if (geteuid() == 0 &&
	    postern_user_ids("postern-vmail", &own.uid, &own.gid) < 0) {
		postern_err("no system user postern-vmail (run postern init as root)");
		return -1;
	}
	if (postern_path(path, sizeof(path), "%s/mail/%s", u->tree, u->domain) < 0 ||
	    postern_mkdir(path, &own) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (postern_path(path, sizeof(path), "%s/mail/%s/%s%s", u->tree, u->domain,
				 u->local, subdirs[i]) < 0 || postern_mkdir(path, &own) < 0)
			return -1;
	if (geteuid() != 0)
		return 0;
	/* Mail left from an earlier user of that name becomes postern-vmail's
	 * too, or the delivery agent could not write there. */
	postern_user_chown_uid = own.uid;
	postern_user_chown_gid = own.gid;
	if (postern_path(path, sizeof(path), "%s/mail/%s/%s", u->tree, u->domain, u->local) < 0 ||
	    nftw(path, postern_user_chown_one, 32, FTW_PHYS) != 0)
		return -1;
	return 0;
}

/* ---- commands ---- */

/* Parse "SUB [-d DIR] ARGS..."; returns the index of the first argument
 * after the options, or -1 after a usage message. */
static int postern_user_args(int argc, char **argv, const char **dir_r)
{
	int c;

	optind = 0;
	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c != 'd')
			return -1;
		*dir_r = optarg;
	}
	return optind;
}

static int postern_user_list(const char *tree)
{
	struct buf text;
	size_t pos = 0;

	buf_init(&text, POSTERN_FILE_MAX);
	if (postern_user_load(tree, "users", &text) < 0) {
		buf_free(&text);
		return POSTERN_EXIT_FAIL;
	}
	while (pos < text.len) {
		const char *line = text.data + pos;
		const char *nl = memchr(line, '\n', text.len - pos);
		size_t len = nl != NULL ? (size_t)(nl - line) : text.len - pos;
		size_t klen = strcspn(line, ":\n");

		if (len > 0 && line[0] != '#' && klen <= len)
			printf("%.*s\n", (int)klen, line);
		pos += len + 1;
	}
	buf_free(&text);
	return fflush(stdout) == 0 ? POSTERN_EXIT_OK : POSTERN_EXIT_FAIL;
}

static int postern_user_add(struct postern_user *u, const char *pw)
{
	struct buf hash, value;
	int r = -1;

	buf_init(&hash, 1024);
	buf_init(&value, PATH_MAX);
	if (postern_user_exists(u) != 0) {
		postern_err("user %s exists already (postern user passwd changes the password)", u->addr);
	} else if (postern_user_hash(pw, &hash) == 0 &&
		   postern_domains_add(u->tree, u->domain, 1) == 0 &&
		   postern_user_maildir(u) == 0 &&
		   buf_printf(&value, "%s/%s/", u->domain, u->local) == 0 &&
		   postern_user_mailbox(u, buf_cstr(&value)) == 0 &&
		   postern_user_passwd_line(u, buf_cstr(&hash)) == 0) {
		printf("postern: added %s, mailbox %s/mail/%s\n", u->addr, u->tree, buf_cstr(&value));
		r = 0;
	}
	buf_free(&hash);
	buf_free(&value);
	return r;
}

static int postern_user_passwd(struct postern_user *u, const char *pw)
{
	struct buf hash;
	int r = -1;

	buf_init(&hash, 1024);
	if (postern_user_exists(u) != 1)
		postern_err("no such user: %s", u->addr);
	else if (postern_user_hash(pw, &hash) == 0 && postern_user_passwd_line(u, buf_cstr(&hash)) == 0) {
		printf("postern: changed the password of %s\n", u->addr);
		r = 0;
	}
	buf_free(&hash);
	return r;
}

static int postern_user_del(struct postern_user *u)
{
	if (postern_user_exists(u) != 1) {
		postern_err("no such user: %s", u->addr);
		return -1;
	}
	if (postern_user_passwd_line(u, NULL) < 0 || postern_user_mailbox(u, NULL) < 0)
		return -1;
	printf("postern: deleted %s; the mail in %s/mail/%s/%s/ was kept (remove it by hand)\n",
	       u->addr, u->tree, u->domain, u->local);
	return 0;
}

/* add, passwd, del: one address, a password for add and passwd. */
static int postern_user_change(const char *sub, struct postern_user *u, int argc, char **argv, int idx)
{
	char pw[POSTERN_PASSWORD_MAX];
	int needs_pw = strcmp(sub, "del") != 0;
	int r = -1;

	if (idx >= argc || argc - idx > (needs_pw ? 2 : 1))
		return postern_usage();
	if (postern_user_address(u, argv[idx]) < 0 || postern_lock_etc(u->tree) < 0)
		return POSTERN_EXIT_FAIL;
	if (!needs_pw)
		r = postern_user_del(u);
	else if (postern_user_get_password(argc, argv, idx + 1, pw, sizeof(pw)) == 0)
		r = strcmp(sub, "add") == 0 ? postern_user_add(u, pw) : postern_user_passwd(u, pw);
	explicit_bzero(pw, sizeof(pw));
	if (idx + 1 < argc)
		explicit_bzero(argv[idx + 1], strlen(argv[idx + 1]));
	if (r < 0)
		return POSTERN_EXIT_FAIL;
	postern_master_reload(u->tree);
	return POSTERN_EXIT_OK;
}

int postern_cmd_user(int argc, char **argv)
{
	struct postern_user u;
	const char *dir = NULL, *sub;
	int idx;

	if (argc < 2)
		return postern_usage();
	sub = argv[1];
	idx = postern_user_args(argc - 1, argv + 1, &dir);
	if (idx < 0)
		return postern_usage();
	idx += 1;   /* index into argv, not argv + 1 */
	memset(&u, 0, sizeof(u));
	if (strcmp(sub, "list") != 0 && strcmp(sub, "add") != 0 &&
	    strcmp(sub, "del") != 0 && strcmp(sub, "passwd") != 0) {
		postern_err("unknown user command: %s", sub);
		return postern_usage();
	}
	if (strcmp(sub, "list") == 0 && idx != argc)
		return postern_usage();
	if (postern_tree(dir, u.tree, sizeof(u.tree)) < 0)
		return POSTERN_EXIT_FAIL;
	if (strcmp(sub, "list") == 0)
		return postern_user_list(u.tree);
	if (postern_tree_writable_as_us(u.tree) < 0)
		return POSTERN_EXIT_FAIL;
	return postern_user_change(sub, &u, argc, argv, idx);
}
