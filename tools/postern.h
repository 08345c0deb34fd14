/* postern: the operator command.  Internal interface between the
 * tools/postern_*.c modules; nothing here is used outside tools/. */
#ifndef POSTERN_TOOL_H
#define POSTERN_TOOL_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>
#include "buf.h"

/* Exit codes: success, failure, usage error, "not running" (status). */
#define POSTERN_EXIT_OK 0
#define POSTERN_EXIT_FAIL 1
#define POSTERN_EXIT_USAGE 2
#define POSTERN_EXIT_NOT_RUNNING 3

/* Largest text file (users, mailboxes, domains) the command rewrites. */
#define POSTERN_FILE_MAX (64UL * 1024 * 1024)

/* Ownership and mode of a file or directory the command creates. */
struct postern_owner {
	uid_t uid;     /* (uid_t)-1: leave as created */
	gid_t gid;     /* (gid_t)-1: leave as created */
	mode_t mode;
};

/* ---- postern_main.c ---- */
/* Print a message prefixed "postern: " to stderr. */
void postern_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the usage text to stderr; returns POSTERN_EXIT_USAGE. */
int postern_usage(void);
/* Resolve the tree: dir (may be NULL: POSTERN_DIR, else the installed
 * tree, common/layout.h) made absolute into out.  0, or -1 with a
 * message printed. */
int postern_tree(const char *dir, char *out, size_t outlen);

/* ---- postern_util.c ---- */
/* Print out to stdout unless r (how making it went) is -1, and free it;
 * the exit code, with "cannot write WHAT" printed on failure. */
int postern_print(struct buf *out, int r, const char *what);
/* snprintf that fails (-1, message printed) instead of truncating. */
int postern_path(char *out, size_t outlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Replace path atomically with data: temp file, fsync, rename, fsync of
 * the directory; owner and mode from own.  0, or -1 (message printed). */
int postern_write_file(const char *path, const void *data, size_t len, const struct postern_owner *own);
/* mkdir path (existing is fine) and set owner and mode. 0 or -1 (printed). */
int postern_mkdir(const char *path, const struct postern_owner *own);
/* Set owner and mode of an existing path. 0 or -1 (printed). */
int postern_chown(const char *path, const struct postern_owner *own);
/* uid and gid of a user name, or -1 if unknown. */
int postern_user_ids(const char *name, uid_t *uid_r, gid_t *gid_r);
/* gid of a group name, or -1 if unknown. */
int postern_group_id(const char *name, gid_t *gid_r);
/* Whether tree was made by root (`postern init` as root: DIR/etc owned
 * by root), so that its files have the postern-* owners. */
int postern_tree_made_by_root(const char *tree);
/* For commands that write files with owners: root on a tree another user
 * made would give it files that user cannot read (and mailboxes the
 * postern-* users own), so refuse.  0, or -1 (printed). */
int postern_tree_writable_as_us(const char *tree);
/* Take an exclusive lock on DIR/etc against concurrent `postern` runs;
 * returns the descriptor (kept until exit) or -1 (printed). */
int postern_lock_etc(const char *tree);
/* The master's pid if DIR/run/master.pid names a live process, else 0. */
pid_t postern_master_pid(const char *tree);
/* Whether pid names a live process (a zombie, exited but not reaped, is not). */
int postern_pid_alive(pid_t pid);
/* Tell a running master to reload (SIGHUP); quiet when none runs. */
void postern_master_reload(const char *tree);
/* Run argv[0] (absolute path) with argv, no shell; wait.  Its exit
 * status, or -1 if it could not be run. */
int postern_run(char *const argv[]);
/* Compile the text map src into the cdb dst: aliases(5) syntax when
 * src is named `aliases` (common/alias_file), else `key value` lines
 * (common/cdbmap); dst takes src's owner, group and mode.  newest_r (may
 * be NULL): latest mtime of src and the files it includes.  0, or -1
 * with *error_r ("src:line: reason"); nothing printed. */
int postern_map_compile(const char *src, const char *dst, time_t *newest_r, const char **error_r);
/* Compile DIR/etc/NAME into DIR/etc/NAME.cdb. 0 or -1 (printed). */
int postern_compile_map(const char *tree, const char *name);

/* ---- postern_text.c ---- */
/* Whether text has a line whose key (first field up to sep or white
 * space; comments skipped) equals key, ignoring case. */
int postern_text_find(const struct buf *text, const char *key, char sep);
/* Copy text without the lines of key into out; the number removed, or -1. */
int postern_text_remove(struct buf *text, const char *key, char sep, struct buf *out);
/* Append line and a newline (adding a missing final newline first). 0 or -1. */
int postern_text_append(struct buf *text, const char *line);

/* ---- postern_user.c ---- */
/* Add domain to DIR/etc/domains when missing (creating the file) and
 * recompile domains.cdb.  0 or -1 (printed). */
int postern_domains_add(const char *tree, const char *domain, int verbose);
/* Owner and mode of the map files (domains, mailboxes) and of users. */
void postern_map_owner(struct postern_owner *own_r);
int postern_users_owner(struct postern_owner *own_r);

/* ---- postern_conf.c ---- */
/* Append the documented default postern.conf to out; when host and
 * progdir are not NULL, active lines for myhostname and
 * program_directory are added after their defaults.  0 or -1. */
int postern_conf_text(struct buf *out, const char *host, const char *progdir);
/* Append the keys of postern.conf as roff for postern.conf(5): each
 * key with its default and documentation, from the same table. 0 or -1. */
int postern_conf_man(struct buf *out);
/* Append the documented master.conf for ADDR and port base. 0 or -1. */
int postern_master_text(struct buf *out, const char *addr, unsigned port_base);

/* ---- postern_tls.c ---- */
/* Write a self-signed certificate for host to cert_path and its key to
 * key_path (mode 0600, owner from key_own). 0 or -1 (printed). */
int postern_tls_selfsigned(const char *host, const char *cert_path, const char *key_path,
			   const struct postern_owner *cert_own, const struct postern_owner *key_own);

/* ---- postern_confcmd.c, postern_confmaster.c ---- */
/* One run of `postern conf`: the tree, the file and the options. */
struct postern_confcmd {
	char tree[PATH_MAX];
	char path[PATH_MAX];   /* the file shown or edited */
	int non_default, defaults, values_only, master, field, remove;
};

/* Read path (at most max bytes) into text (initialised here). 0 or -1 (printed). */
int postern_confcmd_read(const char *path, struct buf *text, size_t max);
/* Replace path with text atomically, keeping the old file's owner and mode. 0 or -1 (printed). */
int postern_confcmd_write(const char *path, const struct buf *text);
/* The master.conf part (-M, -F) on the arguments after the options; the exit code. */
int postern_confmaster(const struct postern_confcmd *c, char **args, int n);

/* ---- postern_check*.c ---- */
#define POSTERN_CHECK_LISTENERS 64   /* inet services checked (the master's limit) */

/* An inet service of master.conf, for the port checks. */
struct postern_check_listener {
	char name[33];
	char listen[256];
};

/* One run of `postern check`: the tree and what was found. */
struct postern_check {
	char tree[PATH_MAX];
	int errors;     /* problems: exit 1 */
	int warnings;   /* printed, exit code unchanged */
	struct postern_check_listener listeners[POSTERN_CHECK_LISTENERS];
	size_t nlisteners;
};

/* Print "postern: check: ..." (a problem) to stderr and count it. */
void postern_check_fail(struct postern_check *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "postern: check: warning: ..." to stderr and count it. */
void postern_check_warn(struct postern_check *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The TLS certificate and key of postern.conf: readable, a pair, valid
 * now, not expiring within 30 days (warning), the chain verifying. */
void postern_check_tls(struct postern_check *ck);
/* The dkim_* settings, etc/dkim_keys and the keys it names (docs/dkim.md). */
void postern_check_dkim(struct postern_check *ck);
/* The dmarc_* settings and the public suffix list (docs/operator.md, "DMARC"). */
void postern_check_dmarc(struct postern_check *ck);
/* The directories of docs/tree.md: present, owners (as root) and modes;
 * the TLS key not readable by others. */
void postern_check_tree(struct postern_check *ck);
/* The inet listeners: free to bind when the master is not running,
 * answering when it is. */
void postern_check_ports(struct postern_check *ck);

/* ---- commands (argv[0] is the command name) ---- */
int postern_cmd_init(int argc, char **argv);
int postern_cmd_user(int argc, char **argv);
int postern_cmd_start(int argc, char **argv);
int postern_cmd_stop(int argc, char **argv);
int postern_cmd_reload(int argc, char **argv);
int postern_cmd_status(int argc, char **argv);
/* postern_status.c: print the services the master runs (processes,
 * restarts) and the queue (messages, oldest) of tree. */
void postern_status_report(const char *tree);
int postern_cmd_map(int argc, char **argv);
int postern_cmd_check(int argc, char **argv);
int postern_cmd_conf(int argc, char **argv);
int postern_cmd_queue(int argc, char **argv);
/* `postern log`: one message's lines from the log (postern_log.c). */
int postern_cmd_log(int argc, char **argv);
int postern_cmd_dkim(int argc, char **argv);
/* etc/dkim/ (0700, postern-dkim's as root) and a commented etc/dkim_keys,
 * each unless it exists (postern init). 0 or -1 (reported). */
int postern_dkim_init(const char *tree);
int postern_cmd_config_defaults(int argc, char **argv);
int postern_cmd_master_defaults(int argc, char **argv);
int postern_cmd_services(int argc, char **argv);

#endif
