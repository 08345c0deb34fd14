/* postern_util: file, process and user helpers of the `postern` command.
 *
 * Offers: bounded path formatting, whole-file reads with a cap, atomic
 * file replacement (temp file, fsync, rename, directory fsync) with an
 * explicit owner and mode, directory creation, the lock that serialises
 * concurrent `postern` runs on one tree, the master's pid, running a
 * helper program (useradd and friends) with a fixed argv and no shell,
 * and printing a generated text.
 *
 * Trusts: the operator who runs it; the paths it gets are built by the
 * command itself from the tree name.  Symbolic links are not followed
 * when files are replaced or ownership is set, so a link planted in the
 * tree cannot redirect a chown done as root.
 *
 * Fails: every function returns -1 (or 0 for "no master") and prints one
 * "postern: ..." line; nothing exits from here. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "access_map.h"
#include "atomic_file.h"
#include "alias_file.h"
#include "cdbmap.h"
#include "fsutil.h"
#include "maildir_quota.h"
#include "postern.h"

int postern_print(struct buf *out, int r, const char *what)
{
	if (r == 0 && (fwrite(out->data, 1, out->len, stdout) != out->len || fflush(stdout) != 0))
		r = -1;
	buf_free(out);
	if (r < 0) {
		postern_err("cannot write %s", what);
		return POSTERN_EXIT_FAIL;
	}
	return POSTERN_EXIT_OK;
}

int postern_path(char *out, size_t outlen, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen) {
		postern_err("path too long (more than %zu bytes)", outlen - 1);
		return -1;
	}
	return 0;
}

static int postern_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int postern_fd_owner(int fd, const struct postern_owner *own)
{
	if ((own->uid != (uid_t)-1 || own->gid != (gid_t)-1) &&
	    fchown(fd, own->uid, own->gid) < 0)
		return -1;
	return fchmod(fd, own->mode);
}

int postern_write_file(const char *path, const void *data, size_t len, const struct postern_owner *own)
{
	struct atomic_file af;

	/* A temp file left by a crashed run is ours to replace (the helper
	 * makes it anew): the etc lock keeps two runs apart. */
	if (atomic_file_open(&af, AT_FDCWD, path, NULL, O_WRONLY, 0600) < 0) {
		postern_err("cannot create a temporary file for %s: %s", path, strerror(errno));
		return -1;
	}
	/* Owner and mode are set before any byte is written, so a secret
	 * is never readable by others, not even for a moment. */
	if (postern_fd_owner(af.fd, own) < 0 || postern_write_all(af.fd, data, len) < 0) {
		postern_err("cannot write %s: %s", af.tmp, strerror(errno));
		atomic_file_abort(&af);
		return -1;
	}
	if (atomic_file_commit(&af, ATOMIC_SYNC | ATOMIC_SYNC_DIR) < 0) {
		postern_err("cannot replace %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int postern_chown(const char *path, const struct postern_owner *own)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0) {
		postern_err("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if (postern_fd_owner(fd, own) < 0) {
		postern_err("cannot set owner and mode of %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int postern_mkdir(const char *path, const struct postern_owner *own)
{
	struct stat st;

	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		postern_err("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
		postern_err("%s exists and is not a directory", path);
		return -1;
	}
	return postern_chown(path, own);
}

int postern_user_ids(const char *name, uid_t *uid_r, gid_t *gid_r)
{
	struct passwd *pw = getpwnam(name);

	if (pw == NULL)
		return -1;
	*uid_r = pw->pw_uid;
	*gid_r = pw->pw_gid;
	return 0;
}

int postern_group_id(const char *name, gid_t *gid_r)
{
	struct group *gr = getgrnam(name);

	if (gr == NULL)
		return -1;
	*gid_r = gr->gr_gid;
	return 0;
}

int postern_tree_made_by_root(const char *tree)
{
	char etc[PATH_MAX];
	struct stat st;

	return postern_path(etc, sizeof(etc), "%s/etc", tree) == 0 && stat(etc, &st) == 0 && st.st_uid == 0;
}

int postern_tree_writable_as_us(const char *tree)
{
	char etc[PATH_MAX];
	struct stat st;
	struct passwd *pw;

	if (geteuid() != 0 || postern_tree_made_by_root(tree))
		return 0;
	if (postern_path(etc, sizeof(etc), "%s/etc", tree) < 0 || stat(etc, &st) < 0) {
		postern_err("%s/etc: %s", tree, strerror(errno));
		return -1;
	}
	pw = getpwuid(st.st_uid);
	if (pw != NULL)
		postern_err("%s was made by %s, not root: run this as %s (as root it would leave files %s "
			    "cannot read)", tree, pw->pw_name, pw->pw_name, pw->pw_name);
	else
		postern_err("%s was made by uid %u, not root: run this as that user", tree, (unsigned)st.st_uid);
	return -1;
}

int postern_lock_etc(const char *tree)
{
	char etc[PATH_MAX];
	int fd;

	if (postern_path(etc, sizeof(etc), "%s/etc", tree) < 0)
		return -1;
	/* flock on the directory itself: no lock file to litter etc/. */
	fd = open(etc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		postern_err("cannot open %s: %s (is %s a Postern tree? see postern init)",
			    etc, strerror(errno), tree);
		return -1;
	}
	if (flock(fd, LOCK_EX) < 0) {
		postern_err("cannot lock %s: %s", etc, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

pid_t postern_master_pid(const char *tree)
{
	char path[PATH_MAX];
	struct buf text;
	char *end;
	long pid;

	if (postern_path(path, sizeof(path), "%s/run/master.pid", tree) < 0)
		return 0;
	buf_init(&text, 64);
	if (file_read_all(path, O_NOFOLLOW, &text, 32) < 0) {
		buf_free(&text);
		return 0;
	}
	errno = 0;
	pid = strtol(buf_cstr(&text), &end, 10);
	/* Only a plain positive number counts: "0" or "-1" would make
	 * kill() signal a whole process group. */
	if (errno != 0 || end == buf_cstr(&text) || (*end != '\0' && *end != '\n') ||
	    pid <= 1 || pid > INT_MAX) {
		buf_free(&text);
		return 0;
	}
	buf_free(&text);
	return postern_pid_alive((pid_t)pid) ? (pid_t)pid : 0;
}

int postern_pid_alive(pid_t pid)
{
	char path[64], stat[256];
	ssize_t n;
	int fd;

	if (kill(pid, 0) < 0 && errno != EPERM)
		return 0;
	/* /proc/PID/stat: "pid (comm) S ..."; comm may hold ')' so take the last. */
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 1;
	n = read(fd, stat, sizeof stat - 1);
	close(fd);
	if (n <= 0)
		return 1;
	stat[n] = '\0';
	char *paren = strrchr(stat, ')');
	return !(paren != NULL && paren[1] == ' ' && paren[2] == 'Z');
}

void postern_master_reload(const char *tree)
{
	pid_t pid = postern_master_pid(tree);

	if (pid == 0)
		return;
	if (kill(pid, SIGHUP) < 0)
		postern_err("cannot signal the master (pid %ld): %s", (long)pid, strerror(errno));
	else
		fprintf(stderr, "postern: told the master (pid %ld) to reload\n", (long)pid);
}

int postern_run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		postern_err("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(argv[0], argv);
		fprintf(stderr, "postern: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			postern_err("waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status)) {
		postern_err("%s was killed by signal %d", argv[0], WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

/* etc/quota: "SIZE[,COUNT]", as local delivery and imapd read it. */
static const char *postern_quota_value_check(const char *value, size_t len)
{
	struct maildir_quota q = { 0 };

	return maildir_quota_value_parse(value, len, &q) < 0
		? "quota is not SIZE[,COUNT] (SIZE in bytes with an optional k, m or g; COUNT messages)"
		: NULL;
}

/* The value check of a map, known by its file name: quota, and the
 * access maps (smtpd_*_access), whose names end in "access". */
static cdbmap_value_check *postern_map_value_check(const char *base)
{
	size_t n = strlen(base);

	if (strcmp(base, "quota") == 0)
		return postern_quota_value_check;
	if (n >= 6 && strcmp(base + n - 6, "access") == 0)
		return access_value_check;
	return NULL;
}

int postern_map_compile(const char *src, const char *dst, time_t *newest_r, const char **error_r)
{
	const char *base = strrchr(src, '/');
	struct stat st;

	base = base != NULL ? base + 1 : src;
	/* The aliases map has a syntax of its own (aliases(5)); it is known
	 * by its name, as local and smtpd know aliases.cdb by name. */
	if (strcmp(base, "aliases") == 0)
		return alias_file_compile(src, dst, newest_r, error_r);
	if (cdbmap_compile_checked(src, dst, postern_map_value_check(base), error_r) < 0)
		return -1;
	if (newest_r != NULL)
		*newest_r = stat(src, &st) == 0 ? st.st_mtime : 0;
	return 0;
}

int postern_compile_map(const char *tree, const char *name)
{
	char src[PATH_MAX], dst[PATH_MAX];
	const char *error = "";

	if (postern_path(src, sizeof(src), "%s/etc/%s", tree, name) < 0 ||
	    postern_path(dst, sizeof(dst), "%s/etc/%s.cdb", tree, name) < 0)
		return -1;
	if (postern_map_compile(src, dst, NULL, &error) < 0) {
		postern_err("%s", error);
		return -1;
	}
	return 0;
}
