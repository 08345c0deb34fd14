/* Unit tests for common/maildir: deliveries into temporary Maildirs,
 * checked byte for byte, with the S=/W= sizes, name uniqueness, creation
 * of missing directories and clean failure. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "group_commit.h"
#include "maildir.h"

#define TEST_NAMES_MAX 300

struct fixture {
	char root[64];          /* temporary directory */
	char maildir[128];      /* root/mbox */
	char datafile[128];     /* the fake queue file */
	int data_fd;
};

static void path_join(char *out, size_t outlen, const char *a, const char *b)
{
	int n = snprintf(out, outlen, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < outlen);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	memcpy(f->root, "/tmp/test_maildir.XXXXXX", sizeof "/tmp/test_maildir.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	path_join(f->maildir, sizeof f->maildir, f->root, "mbox");
	path_join(f->datafile, sizeof f->datafile, f->root, "queuefile");
	f->data_fd = -1;
	*state = f;
	return 0;
}

static void remove_tree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;
	char sub[512];

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0700);
	d = opendir(path);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			path_join(sub, sizeof sub, path, e->d_name);
			remove_tree(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->data_fd >= 0)
		close(f->data_fd);
	remove_tree(f->root);
	free(f);
	return 0;
}

/* Write the fake queue file and keep it open read-only, as qmgr passes it. */
static void write_data(struct fixture *f, const char *p, size_t n)
{
	int fd = open(f->datafile, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, n), (ssize_t)n);
	close(fd);
	f->data_fd = open(f->datafile, O_RDONLY);
	assert_true(f->data_fd >= 0);
}

/* Names in dir (excluding dots); returns the count. */
static size_t list_dir(const char *dir, char names[][MAILDIR_NAME_MAX], size_t max)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		assert_true(n < max);
		assert_true(strlen(e->d_name) < MAILDIR_NAME_MAX);
		memcpy(names[n++], e->d_name, strlen(e->d_name) + 1);
	}
	closedir(d);
	return n;
}

static size_t count_dir(const char *dir)
{
	static char names[TEST_NAMES_MAX][MAILDIR_NAME_MAX];

	return list_dir(dir, names, TEST_NAMES_MAX);
}

/* The contents of maildir/new/name into a malloc'd buffer. */
static char *read_new(const struct fixture *f, const char *name, size_t *len_r)
{
	char path[1024];
	struct stat st;
	char *p;
	int fd, n;

	n = snprintf(path, sizeof path, "%s/new/%s", f->maildir, name);
	assert_true(n > 0 && (size_t)n < sizeof path);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = malloc((size_t)st.st_size + 1);
	assert_non_null(p);
	assert_int_equal(read(fd, p, (size_t)st.st_size), st.st_size);
	p[st.st_size] = '\0';
	close(fd);
	*len_r = (size_t)st.st_size;
	return p;
}

static void subdir(const struct fixture *f, const char *sub, char *out, size_t outlen)
{
	path_join(out, outlen, f->maildir, sub);
}

static void test_deliver_writes_prefix_then_data_range(void **state)
{
	struct fixture *f = *state;
	const char file[] = "HEADERJUNK" "Subject: hi\n\nbody\n" "TRAILER";
	const char expect[] = "Return-Path: <a@example.test>\nDelivered-To: b@example.test\n"
			      "Subject: hi\n\nbody\n";
	struct buf prefix;
	char name[MAILDIR_NAME_MAX], dir[256], names[2][MAILDIR_NAME_MAX];
	const char *error = NULL;
	size_t len;
	char *got;

	write_data(f, file, sizeof file - 1);
	buf_init(&prefix, 1024);
	assert_int_equal(buf_append_str(&prefix, "Return-Path: <a@example.test>\nDelivered-To: b@example.test\n"), 0);
	assert_int_equal(maildir_deliver(f->maildir, &prefix, f->data_fd, 10, 18, name, sizeof name, &error), 0);

	subdir(f, "new", dir, sizeof dir);
	assert_int_equal(list_dir(dir, names, 2), 1);
	assert_string_equal(names[0], name);
	got = read_new(f, name, &len);
	assert_int_equal(len, sizeof expect - 1);
	assert_memory_equal(got, expect, len);
	free(got);
	/* tmp/ holds nothing after a delivery; cur/ exists. */
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
	subdir(f, "cur", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
	buf_free(&prefix);
}

static void test_name_has_unique_form_and_exact_sizes(void **state)
{
	struct fixture *f = *state;
	const char msg[] = "A: b\n\nline one\nline two\n";
	struct buf prefix;
	char name[MAILDIR_NAME_MAX], pid[32], *got;
	unsigned long long s = 0, w = 0;
	const char *error = NULL, *p;
	size_t len;

	write_data(f, msg, sizeof msg - 1);
	buf_init(&prefix, 1024);
	assert_int_equal(buf_append_str(&prefix, "X: y\n"), 0);
	assert_int_equal(maildir_deliver(f->maildir, &prefix, f->data_fd, 0, sizeof msg - 1,
					 name, sizeof name, &error), 0);
	/* SECONDS.M<usec>P<pid>Q<counter>.HOST,S=..,W=.. */
	p = name;
	assert_true(*p >= '0' && *p <= '9');
	while (*p >= '0' && *p <= '9')
		p++;
	assert_memory_equal(p, ".M", 2);
	snprintf(pid, sizeof pid, "P%ldQ", (long)getpid());
	assert_non_null(strstr(name, pid));
	assert_null(strchr(name, '/'));
	assert_null(strchr(name, ':'));
	assert_int_equal(maildir_name_sizes(name, &s, &w), 0);
	got = read_new(f, name, &len);
	free(got);
	assert_int_equal(s, len);
	assert_int_equal(s, 5 + sizeof msg - 1);
	assert_int_equal(w, s + 5);   /* five LFs, each counted as CRLF */
	/* stored CRLF is sent as it is; a last line ending in CR gets its LF */
	{
		const char crlf[] = "A: b\r\n\r\nbare\nlast\r";

		write_data(f, crlf, sizeof crlf - 1);
		assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, sizeof crlf - 1,
						 name, sizeof name, &error), 0);
		assert_int_equal(maildir_name_sizes(name, &s, &w), 0);
		assert_int_equal(s, sizeof crlf - 1);
		assert_int_equal(w, s + 1 + 1);   /* the bare LF, and the LF after the last CR */
	}
	buf_free(&prefix);
}

static void test_large_message_copied_across_blocks(void **state)
{
	struct fixture *f = *state;
	size_t n = 200 * 1024 + 17, lfs = 0, len;
	char *data = malloc(n), *got, name[MAILDIR_NAME_MAX];
	unsigned long long s, w;
	const char *error = NULL;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++) {
		data[i] = (i % 73 == 72) ? '\n' : (char)('a' + i % 26);
		lfs += data[i] == '\n';
	}
	write_data(f, data, n);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, (off_t)n,
					 name, sizeof name, &error), 0);
	got = read_new(f, name, &len);
	assert_int_equal(len, n);
	assert_memory_equal(got, data, n);
	assert_int_equal(maildir_name_sizes(name, &s, &w), 0);
	assert_int_equal(s, n);
	/* every LF as CRLF, and the CRLF the last line (no line end) is sent with */
	assert_int_equal(data[n - 1] != '\n', 1);
	assert_int_equal(w, n + lfs + 2);
	free(got);
	free(data);
}

/* A short prefix goes out with the first block of data, a long one on
 * its own: the file is prefix + data either way, across block edges. */
static void test_prefix_and_data_across_blocks(void **state)
{
	struct fixture *f = *state;
	const size_t prefix_sizes[] = { 100, 40 * 1024 };
	size_t n = 150 * 1024 + 3, len;
	char *data = malloc(n), *got, name[MAILDIR_NAME_MAX];
	const char *error = NULL;
	unsigned long long s, w;

	assert_non_null(data);
	for (size_t i = 0; i < n; i++)
		data[i] = (i % 61 == 60) ? '\n' : (char)('A' + i % 26);
	write_data(f, data, n);
	for (size_t k = 0; k < sizeof prefix_sizes / sizeof prefix_sizes[0]; k++) {
		size_t plen = prefix_sizes[k], lfs = 0;
		struct buf prefix;

		buf_init(&prefix, plen + 1);
		for (size_t i = 0; i < plen; i++)
			assert_int_equal(buf_append(&prefix, i % 50 == 49 ? "\n" : "p", 1), 0);
		assert_int_equal(maildir_deliver(f->maildir, &prefix, f->data_fd, 0, (off_t)n,
						 name, sizeof name, &error), 0);
		got = read_new(f, name, &len);
		assert_int_equal(len, plen + n);
		assert_memory_equal(got, prefix.data, plen);
		assert_memory_equal(got + plen, data, n);
		for (size_t i = 0; i < len; i++)
			lfs += got[i] == '\n';
		assert_int_equal(maildir_name_sizes(name, &s, &w), 0);
		assert_int_equal(s, len);
		assert_int_equal(got[len - 1] != '\n', 1);   /* sent with a CRLF more */
		assert_int_equal(w, len + lfs + 2);
		free(got);
		buf_free(&prefix);
	}
	free(data);
}

static void test_empty_data_gives_prefix_only(void **state)
{
	struct fixture *f = *state;
	struct buf prefix;
	char name[MAILDIR_NAME_MAX], *got;
	unsigned long long s, w;
	const char *error = NULL;
	size_t len;

	write_data(f, "x", 1);
	buf_init(&prefix, 64);
	assert_int_equal(buf_append_str(&prefix, "H: v\n"), 0);
	assert_int_equal(maildir_deliver(f->maildir, &prefix, f->data_fd, 1, 0, name, sizeof name, &error), 0);
	got = read_new(f, name, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(got, "H: v\n", 5);
	assert_int_equal(maildir_name_sizes(name, &s, &w), 0);
	assert_int_equal(s, 5);
	assert_int_equal(w, 6);
	free(got);
	buf_free(&prefix);
}

static void test_many_deliveries_get_distinct_names(void **state)
{
	struct fixture *f = *state;
	static char names[TEST_NAMES_MAX][MAILDIR_NAME_MAX];
	char name[MAILDIR_NAME_MAX], dir[256];
	const char *error = NULL;
	const size_t count = 250;

	write_data(f, "m\n", 2);
	for (size_t i = 0; i < count; i++)
		assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, 2, name, sizeof name, &error), 0);
	subdir(f, "new", dir, sizeof dir);
	assert_int_equal(list_dir(dir, names, TEST_NAMES_MAX), count);
	for (size_t i = 0; i < count; i++)
		for (size_t j = i + 1; j < count; j++)
			assert_string_not_equal(names[i], names[j]);
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
}

static void test_missing_directories_are_created_0700(void **state)
{
	struct fixture *f = *state;
	char deep[256], path[320], name[MAILDIR_NAME_MAX];
	const char *error = NULL, *subs[] = { "", "/tmp", "/new", "/cur" };
	struct stat st;
	int n;

	write_data(f, "m\n", 2);
	n = snprintf(deep, sizeof deep, "%s/example.test/alice/", f->root);
	assert_true(n > 0 && (size_t)n < sizeof deep);
	assert_int_equal(maildir_deliver(deep, NULL, f->data_fd, 0, 2, name, sizeof name, &error), 0);
	for (size_t i = 0; i < 4; i++) {
		n = snprintf(path, sizeof path, "%s/example.test/alice%s", f->root, subs[i]);
		assert_true(n > 0 && (size_t)n < sizeof path);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISDIR(st.st_mode));
		assert_int_equal(st.st_mode & 0777, 0700);
	}
}

static void test_missing_new_in_existing_maildir_is_recreated(void **state)
{
	struct fixture *f = *state;
	char dir[256], name[MAILDIR_NAME_MAX];
	const char *error = NULL;

	write_data(f, "m\n", 2);
	assert_int_equal(mkdir(f->maildir, 0700), 0);
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, 2, name, sizeof name, &error), 0);
	subdir(f, "new", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 1);
}

static void test_short_data_fails_and_leaves_nothing(void **state)
{
	struct fixture *f = *state;
	char name[MAILDIR_NAME_MAX], dir[256];
	const char *error = NULL;

	write_data(f, "0123456789", 10);
	errno = 0;
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 4, 100, name, sizeof name, &error), -1);
	assert_int_equal(errno, EIO);
	assert_string_equal(error, "message data ends early");
	assert_true(maildir_error_temporary(errno));
	subdir(f, "new", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
}

static void test_bad_arguments_are_refused(void **state)
{
	struct fixture *f = *state;
	char name[MAILDIR_NAME_MAX];
	const char *error = NULL;

	write_data(f, "m\n", 2);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, -1, 2, name, sizeof name, &error), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, -2, name, sizeof name, &error), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, 2, name, 16, &error), -1);
	assert_int_equal(errno, EINVAL);
	/* name_r may be NULL when the caller does not want it. */
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, 2, NULL, 0, &error), 0);
}

static void test_unwritable_maildir_is_temporary(void **state)
{
	struct fixture *f = *state;
	char dir[256], name[MAILDIR_NAME_MAX];
	const char *error = NULL;

	if (geteuid() == 0)
		skip();   /* root ignores the mode */
	write_data(f, "m\n", 2);
	assert_int_equal(maildir_create(f->maildir, &error), 0);
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(chmod(dir, 0500), 0);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, 2, name, sizeof name, &error), -1);
	assert_int_equal(errno, EACCES);
	assert_true(maildir_error_temporary(errno));
	assert_string_equal(maildir_error_dsn(errno), "4.3.5");
}

static void test_error_classes(void **state)
{
	(void)state;
	assert_true(maildir_error_temporary(ENOSPC));
	assert_string_equal(maildir_error_dsn(ENOSPC), "4.3.1");
	assert_true(maildir_error_temporary(EDQUOT));
	assert_string_equal(maildir_error_dsn(EDQUOT), "4.2.2");
	assert_true(maildir_error_temporary(EIO));
	assert_string_equal(maildir_error_dsn(EIO), "4.3.0");
	assert_true(maildir_error_temporary(EAGAIN));
	/* a missing mailbox root is an unmounted disk more often than not */
	assert_true(maildir_error_temporary(ENOENT));
	assert_false(maildir_error_temporary(EFBIG));
	assert_string_equal(maildir_error_dsn(EFBIG), "5.3.4");
}

static void test_name_sizes_parsing(void **state)
{
	unsigned long long s = 0, w = 0;

	(void)state;
	assert_int_equal(maildir_name_sizes("1.M2P3Q4.host,S=10,W=12:2,S", &s, &w), 0);
	assert_int_equal(s, 10);
	assert_int_equal(w, 12);
	assert_int_equal(maildir_name_sizes("1.M2P3Q4.host,W=7,S=5", &s, &w), 0);
	assert_int_equal(s, 5);
	assert_int_equal(w, 7);
	/* missing W, sizes only after ':', junk digits, overflow */
	assert_int_equal(maildir_name_sizes("1.M2P3Q4.host,S=10", &s, &w), -1);
	assert_int_equal(maildir_name_sizes("1.host:2,S=1,W=2", &s, &w), -1);
	assert_int_equal(maildir_name_sizes("1.host,S=1x,W=2", &s, &w), -1);
	assert_int_equal(maildir_name_sizes("1.host,S=,W=2", &s, &w), -1);
	assert_int_equal(maildir_name_sizes("1.host,S=99999999999999999999999,W=2", &s, &w), -1);
	assert_int_equal(maildir_name_sizes("", &s, &w), -1);
}

/* With a group commit on the Maildir's file system, a delivery waits
 * for two shared flushes (the file before its link, new/ after) and the
 * message is in new/ as without one; a Maildir on another file system
 * (none here: the same one) would keep its fsyncs. */
static void test_deliver_through_a_group_commit(void **state)
{
	struct fixture *f = *state;
	const char file[] = "Subject: grouped\n\nbody\n";
	struct group_commit *g;
	char name[MAILDIR_NAME_MAX], dir[256], names[2][MAILDIR_NAME_MAX];
	const char *error = NULL;
	uint64_t flushes, messages;
	int root = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(root >= 0);
	assert_int_equal(group_commit_private(root, &g), 0);
	maildir_use_group_commit(g);
	write_data(f, file, sizeof file - 1);
	assert_int_equal(maildir_deliver(f->maildir, NULL, f->data_fd, 0, sizeof file - 1, name, sizeof name, &error), 0);
	maildir_use_group_commit(NULL);
	group_commit_counts(g, &flushes, &messages);
	assert_int_equal(flushes, 2);
	assert_int_equal(messages, 2);
	subdir(f, "new", dir, sizeof dir);
	assert_int_equal(list_dir(dir, names, 2), 1);
	assert_string_equal(names[0], name);
	subdir(f, "tmp", dir, sizeof dir);
	assert_int_equal(count_dir(dir), 0);
	group_commit_free(&g);
	close(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_deliver_writes_prefix_then_data_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deliver_through_a_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_has_unique_form_and_exact_sizes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_large_message_copied_across_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prefix_and_data_across_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_data_gives_prefix_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_deliveries_get_distinct_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directories_are_created_0700, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_new_in_existing_maildir_is_recreated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_data_fails_and_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unwritable_maildir_is_temporary, setup, teardown),
		cmocka_unit_test(test_error_classes),
		cmocka_unit_test(test_name_sizes_parsing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
