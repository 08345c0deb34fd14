/* Unit tests for common/atomic_file.c: a replaced file is the old one or
 * the new one whole, the temporary file never stays behind (after a
 * failed rename, an abort or a failed write), ATOMIC_KEEP_FD leaves a
 * descriptor of the new file, names relative to a directory descriptor
 * work as paths do, a write that fails (a file size limit) leaves the old
 * file and no temporary, and ATOMIC_SYNC_DIR does fsync the directory (a
 * directory descriptor that cannot be synced fails the commit only with
 * it), a crash's leftover temporary file gives way to a new one with
 * the wanted mode, and ATOMIC_NOREPLACE never replaces a name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "atomic_file.h"
#include "tmpdir_fixture.h"

static char dir[] = "/tmp/test_atomic_file_XXXXXX";

static int setup(void **state)
{
	(void)state;
	umask(022);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	return tmpdir_remove(dir);
}

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static size_t entries(void)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void assert_content(const char *path, const char *want)
{
	char got[256] = { 0 };
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, got, sizeof(got) - 1), (ssize_t)strlen(want));
	close(fd);
	assert_string_equal(got, want);
}

static void test_atomic_file_write_replaces_whole_and_leaves_no_temp(void **state)
{
	char path[256];
	struct stat st;

	(void)state;
	path_of(path, sizeof(path), "file");
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "one\n", 4, 0640, ATOMIC_SYNC | ATOMIC_SYNC_DIR), 0);
	assert_content(path, "one\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);   /* umask 022 (setup) */
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "two, longer\n", 12, 0600, 0), 0);
	assert_content(path, "two, longer\n");
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "", 0, 0600, ATOMIC_SYNC), 0);
	assert_content(path, "");
	assert_int_equal(entries(), 1);
	unlink(path);
}

static void test_atomic_file_failed_rename_keeps_the_old_and_removes_the_temp(void **state)
{
	char path[256], sub[256];

	(void)state;
	/* A directory in the way: rename(2) of a file over it fails. */
	path_of(path, sizeof(path), "taken");
	assert_int_equal(mkdir(path, 0700), 0);
	path_of(sub, sizeof(sub), "taken/inside");
	assert_int_equal(atomic_file_write(AT_FDCWD, sub, NULL, "x", 1, 0600, 0), 0);
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "new", 3, 0600, ATOMIC_SYNC), -1);
	assert_true(errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST);
	assert_int_equal(entries(), 1);     /* only the directory */
	assert_content(sub, "x");
	unlink(sub);
	rmdir(path);
}

static void test_atomic_file_abort_and_keep_fd(void **state)
{
	struct atomic_file af;
	char buf[16] = { 0 };
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);

	(void)state;
	assert_true(dfd >= 0);
	assert_int_equal(atomic_file_write(dfd, "kept", "kept.tmp", "old", 3, 0600, 0), 0);
	/* Abort: the old file stays, the temporary goes. */
	assert_int_equal(atomic_file_open(&af, dfd, "kept", "kept.tmp", O_WRONLY, 0600), 0);
	assert_int_equal(write(af.fd, "half", 4), 4);
	atomic_file_abort(&af);
	assert_int_equal(af.fd, -1);
	assert_int_equal(faccessat(dfd, "kept.tmp", F_OK, 0), -1);
	assert_int_equal(entries(), 1);
	/* KEEP_FD: the descriptor reads the file now under the name. */
	assert_int_equal(atomic_file_open(&af, dfd, "kept", NULL, O_RDWR, 0600), 0);
	assert_int_equal(write(af.fd, "newer", 5), 5);
	assert_int_equal(atomic_file_commit(&af, ATOMIC_SYNC | ATOMIC_SYNC_DIR | ATOMIC_KEEP_FD), 0);
	assert_true(af.fd >= 0);
	assert_int_equal(pread(af.fd, buf, sizeof(buf) - 1, 0), 5);
	assert_string_equal(buf, "newer");
	struct stat a, b;
	assert_int_equal(fstat(af.fd, &a), 0);
	assert_int_equal(fstatat(dfd, "kept", &b, 0), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	close(af.fd);
	assert_int_equal(entries(), 1);
	unlinkat(dfd, "kept", 0);
	close(dfd);
}

static void test_atomic_file_refuses_long_names_and_follows_no_symlinked_temp(void **state)
{
	struct atomic_file af;
	char longname[PATH_MAX + 8], path[256], link_tmp[256], target[256];

	(void)state;
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(atomic_file_open(&af, AT_FDCWD, longname, NULL, O_WRONLY, 0600), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	/* A symbolic link planted at the temporary name is not followed:
	 * it goes, and a new file takes its name. */
	path_of(path, sizeof(path), "f");
	path_of(link_tmp, sizeof(link_tmp), "f.tmp");
	path_of(target, sizeof(target), "target");
	assert_int_equal(symlink(target, link_tmp), 0);
	assert_int_equal(atomic_file_open(&af, AT_FDCWD, path, link_tmp, O_WRONLY, 0600), 0);
	assert_int_equal(access(target, F_OK), -1);
	struct stat st;
	assert_int_equal(lstat(link_tmp, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	atomic_file_abort(&af);
	assert_int_equal(entries(), 0);
}

static void test_atomic_file_leftover_temp_gives_way_with_its_mode(void **state)
{
	char path[256], left[300];
	struct stat st;
	int fd;

	(void)state;
	/* A crash left "NAME.tmp.PID" readable by all, with bytes in it:
	 * the new file has the wanted mode and only its own bytes. */
	path_of(path, sizeof(path), "secret");
	snprintf(left, sizeof(left), "%s.tmp.%ld", path, (long)getpid());
	fd = open(left, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "leftover bytes", 14), 14);
	close(fd);
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "key", 3, 0600, ATOMIC_SYNC), 0);
	assert_content(path, "key");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(entries(), 1);
	unlink(path);
}

static void test_atomic_file_noreplace_publishes_only_a_new_name(void **state)
{
	char path[256];

	(void)state;
	path_of(path, sizeof(path), "once");
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "first", 5, 0600, ATOMIC_NOREPLACE), 0);
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "second", 6, 0600, ATOMIC_NOREPLACE), -1);
	assert_int_equal(errno, EEXIST);
	assert_content(path, "first");
	assert_int_equal(entries(), 1);   /* no temporary left either time */
	unlink(path);
}

static void test_atomic_file_failed_write_keeps_the_old_and_removes_the_temp(void **state)
{
	char path[256], big[4096];
	struct rlimit old, small;
	void (*was)(int);

	(void)state;
	path_of(path, sizeof(path), "limited");
	assert_int_equal(atomic_file_write(AT_FDCWD, path, NULL, "old\n", 4, 0600, 0), 0);
	/* A file size limit makes write(2) fail (EFBIG) part way, as a full
	 * disk would (ENOSPC). */
	memset(big, 'x', sizeof(big));
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	small = old;
	small.rlim_cur = 100;
	was = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	int r = atomic_file_write(AT_FDCWD, path, NULL, big, sizeof(big), 0600, ATOMIC_SYNC | ATOMIC_SYNC_DIR);
	int e = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_int_equal(r, -1);
	assert_int_equal(e, EFBIG);
	assert_content(path, "old\n");
	assert_int_equal(entries(), 1);
	unlink(path);
}

static void test_atomic_file_sync_dir_syncs_the_directory(void **state)
{
	int pfd = open(dir, O_PATH | O_DIRECTORY);

	(void)state;
	/* An O_PATH descriptor serves renameat and openat but fsync(2) of it
	 * fails (EBADF): only a commit that syncs the directory sees that. */
	assert_true(pfd >= 0);
	assert_int_equal(atomic_file_write(pfd, "synced", NULL, "a", 1, 0600, ATOMIC_SYNC), 0);
	assert_int_equal(atomic_file_write(pfd, "synced", NULL, "b", 1, 0600, ATOMIC_SYNC | ATOMIC_SYNC_DIR), -1);
	assert_int_equal(errno, EBADF);
	/* The rename was done before: the new file is in place, no temp. */
	assert_int_equal(entries(), 1);
	char path[256];
	path_of(path, sizeof(path), "synced");
	assert_content(path, "b");
	unlinkat(pfd, "synced", 0);
	close(pfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_file_write_replaces_whole_and_leaves_no_temp),
		cmocka_unit_test(test_atomic_file_failed_rename_keeps_the_old_and_removes_the_temp),
		cmocka_unit_test(test_atomic_file_abort_and_keep_fd),
		cmocka_unit_test(test_atomic_file_refuses_long_names_and_follows_no_symlinked_temp),
		cmocka_unit_test(test_atomic_file_failed_write_keeps_the_old_and_removes_the_temp),
		cmocka_unit_test(test_atomic_file_sync_dir_syncs_the_directory),
		cmocka_unit_test(test_atomic_file_leftover_temp_gives_way_with_its_mode),
		cmocka_unit_test(test_atomic_file_noreplace_publishes_only_a_new_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
