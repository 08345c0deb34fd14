/* Unit tests for common/queue_spare.c: a finished file goes into spare/
 * emptied, a writer takes it back (same inode, empty, under a tmp/ name),
 * the bound holds, and what is not a plain file of ours is never taken. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "queue_spare.h"

/* A fresh directory per test (mkdtemp fills in the template). */
static char queue_dir[64];
static char start_dir[4096];

static int setup(void **state)
{
	(void)state;
	assert_non_null(getcwd(start_dir, sizeof start_dir));
	snprintf(queue_dir, sizeof queue_dir, "%s", "/tmp/postern-test-spare-XXXXXX");
	assert_non_null(mkdtemp(queue_dir));
	assert_int_equal(chdir(queue_dir), 0);
	assert_int_equal(mkdir("tmp", 0700), 0);
	assert_int_equal(mkdir("active", 0700), 0);
	assert_int_equal(mkdir(QUEUE_SPARE_DIR, 0700), 0);
	queue_spare_reset();
	return 0;
}

static int teardown(void **state)
{
	char cmd[4200];

	(void)state;
	assert_int_equal(chdir(start_dir), 0);
	snprintf(cmd, sizeof cmd, "rm -rf %s", queue_dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A file at path holding text. */
static void make_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* active/ID with some bytes, open as qmgr holds it; its inode. */
static int finished_file(const char *id, ino_t *ino)
{
	char path[128];
	struct stat st;
	int fd;

	snprintf(path, sizeof path, "active/%s", id);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "message text\n", 13), 13);
	assert_int_equal(fstat(fd, &st), 0);
	*ino = st.st_ino;
	return fd;
}

static void test_a_finished_file_is_kept_empty_and_taken_back(void **state)
{
	struct stat st;
	char name[64];
	ino_t ino;
	int fd = finished_file("ABC1", &ino);

	(void)state;
	assert_int_equal(queue_spare_put(fd, "active/ABC1", "ABC1", 10), 0);
	close(fd);
	assert_int_equal(access("active/ABC1", F_OK), -1);
	assert_int_equal(stat("spare/ABC1", &st), 0);
	assert_int_equal(st.st_size, 0);   /* the message's bytes are gone */

	fd = queue_spare_take(name, sizeof name, &st);
	assert_true(fd >= 0);
	assert_int_equal(strncmp(name, "tmp/", 4), 0);
	assert_int_equal(st.st_ino, ino);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(access("spare/ABC1", F_OK), -1);
	assert_int_equal(write(fd, "next", 4), 4);   /* open for writing */
	close(fd);
	assert_int_equal(stat(name, &st), 0);
	assert_int_equal(st.st_size, 4);
	/* Nothing left: the caller creates a file. */
	assert_int_equal(queue_spare_take(name, sizeof name, &st), -1);
}

static void test_the_bound_holds_and_zero_turns_it_off(void **state)
{
	ino_t ino;
	int fd1 = finished_file("A1", &ino), fd2 = finished_file("A2", &ino), fd3 = finished_file("A3", &ino);

	(void)state;
	assert_int_equal(queue_spare_put(fd1, "active/A1", "A1", 0), -1);
	assert_int_equal(access("active/A1", F_OK), 0);   /* left for the caller to unlink */
	assert_int_equal(queue_spare_put(fd1, "active/A1", "A1", 1), 0);
	assert_int_equal(queue_spare_put(fd2, "active/A2", "A2", 1), -1);
	assert_int_equal(access("active/A2", F_OK), 0);
	/* A file the writer took frees a place, found by a later count. */
	assert_int_equal(unlink("spare/A1"), 0);
	queue_spare_reset();
	assert_int_equal(queue_spare_put(fd3, "active/A3", "A3", 1), 0);
	close(fd1);
	close(fd2);
	close(fd3);
}

/* A spare that is not a regular file with one link is removed, never
 * written into; a directory and a name that is no queue ID are left
 * alone. */
static void test_only_plain_files_are_taken(void **state)
{
	struct stat st;
	char name[64];

	(void)state;
	assert_int_equal(mkdir("spare/D1", 0700), 0);
	make_file("spare/F1", "");
	assert_int_equal(link("spare/F1", "active/F1-link"), 0);
	assert_int_equal(mkfifo("spare/F2", 0600), 0);
	make_file("spare/not-an-id", "");
	assert_int_equal(queue_spare_take(name, sizeof name, &st), -1);
	assert_int_equal(access("spare/D1", F_OK), 0);
	assert_int_equal(access("spare/F1", F_OK), -1);
	assert_int_equal(access("spare/F2", F_OK), -1);
	assert_int_equal(access("spare/not-an-id", F_OK), 0);
	assert_int_equal(access("active/F1-link", F_OK), 0);
	assert_int_equal(rmdir("tmp"), 0);   /* what was taken and refused is gone from tmp/ too */
}

/* A spare that kept its bytes (its emptying failed) is emptied when taken. */
static void test_a_spare_with_bytes_is_emptied_when_taken(void **state)
{
	struct stat st;
	char name[64];
	int fd;

	(void)state;
	make_file("spare/B1", "old message");
	fd = queue_spare_take(name, sizeof name, &st);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(stat(name, &st), 0);
	assert_int_equal(st.st_size, 0);
}

/* A writer whose user does not own spare/ (enqueue run by hand as
 * root) takes nothing and removes nothing.  Needs root to give spare/
 * away. */
static void test_a_writer_not_owning_spare_takes_nothing(void **state)
{
	struct stat st;
	char name[64];
	ino_t ino;
	int fd = finished_file("E1", &ino);

	(void)state;
	if (geteuid() != 0) {
		close(fd);
		skip();
	}
	assert_int_equal(queue_spare_put(fd, "active/E1", "E1", 10), 0);
	close(fd);
	assert_int_equal(chown(QUEUE_SPARE_DIR, 65534, 65534), 0);
	assert_int_equal(queue_spare_take(name, sizeof name, &st), -1);
	assert_int_equal(access("spare/E1", F_OK), 0);
	assert_int_equal(chown(QUEUE_SPARE_DIR, 0, 0), 0);
	fd = queue_spare_take(name, sizeof name, &st);
	assert_true(fd >= 0);
	assert_int_equal(st.st_ino, ino);
	close(fd);
}

/* Without spare/ (a tree made before it) nothing is kept or taken. */
static void test_a_tree_without_spare_works_as_before(void **state)
{
	struct stat st;
	char name[64];
	ino_t ino;
	int fd = finished_file("C1", &ino);

	(void)state;
	assert_int_equal(rmdir(QUEUE_SPARE_DIR), 0);
	assert_int_equal(queue_spare_put(fd, "active/C1", "C1", 10), -1);
	assert_int_equal(access("active/C1", F_OK), 0);
	assert_int_equal(queue_spare_take(name, sizeof name, &st), -1);
	close(fd);
}

/* qmgr puts while a writer takes and writes at once (two processes): no
 * written file may lose its bytes, as it did when the emptying came
 * after the rename into spare/. */
static void test_a_taken_file_is_never_emptied_by_the_put(void **state)
{
	enum { N = 3000 };
	int status, lost = 0, written = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The writer: takes whatever appears and writes 4 bytes. */
		for (long spins = 0; spins < 20000000 && written < N; spins++) {
			struct stat st;
			char name[64];
			int fd = queue_spare_take(name, sizeof name, &st);

			if (fd < 0)
				continue;
			if (write(fd, "mail", 4) != 4)
				_exit(2);
			close(fd);
			written++;
		}
		_exit(0);
	}
	for (int i = 0; i < N; i++) {
		char id[32], path[64];
		int fd;

		snprintf(id, sizeof id, "%X", 0x100000 + i);
		snprintf(path, sizeof path, "active/%s", id);
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "old message\n", 12), 12);
		assert_int_equal(queue_spare_put(fd, path, id, N), 0);
		close(fd);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	{
		DIR *d = opendir("tmp");
		struct dirent *de;

		assert_non_null(d);
		while ((de = readdir(d)) != NULL) {
			char path[300];
			struct stat st;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "tmp/%s", de->d_name);
			assert_int_equal(stat(path, &st), 0);
			written++;
			if (st.st_size != 4)
				lost++;
		}
		closedir(d);
	}
	assert_true(written > 0);
	assert_int_equal(lost, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_a_finished_file_is_kept_empty_and_taken_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_the_bound_holds_and_zero_turns_it_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_only_plain_files_are_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_spare_with_bytes_is_emptied_when_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_writer_not_owning_spare_takes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_tree_without_spare_works_as_before, setup, teardown),
		cmocka_unit_test_setup_teardown(test_a_taken_file_is_never_emptied_by_the_put, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
