/* Unit tests for common/maildir_quota: the maildirsize parser (definition
 * "NNNS,MMMC", delta lines), the quota map value "SIZE[,COUNT]", and the
 * file work on temporary Maildirs: rebuild from the folders, delta lines,
 * when a stale or oversized file is rebuilt, and the quota of a mailbox
 * from a map or postern.conf. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdbmap.h"
#include "config.h"
#include "maildir_quota.h"
#include "tmpdir_fixture.h"

/* ------------------------------------------------------------ parsing */

static void assert_def(const char *text, int ok, unsigned long long bytes, unsigned long long messages)
{
	struct maildir_quota q = { 99, 99 };
	int r = maildir_quota_def_parse(text, strlen(text), &q);

	if (r != (ok ? 0 : -1))
		fail_msg("def \"%s\": got %d", text, r);
	if (ok && (q.bytes != bytes || q.messages != messages))
		fail_msg("def \"%s\": got %lluS %lluC", text, q.bytes, q.messages);
}

static void test_definition_line(void **state)
{
	(void)state;
	assert_def("4096S", 1, 4096, 0);
	assert_def("100C", 1, 0, 100);
	assert_def("104857600S,5000C", 1, 104857600, 5000);
	assert_def("5000C,10S", 1, 10, 5000);          /* any order */
	assert_def("4096S \r", 1, 4096, 0);            /* trailing blanks */
	assert_def("0S", 1, 0, 0);
	assert_def("999999999999999999S", 1, 999999999999999999ULL, 0);
	assert_def("", 0, 0, 0);
	assert_def("S", 0, 0, 0);
	assert_def("4096", 0, 0, 0);
	assert_def("4096X", 0, 0, 0);
	assert_def("4096S,", 0, 0, 0);
	assert_def(",4096S", 0, 0, 0);
	assert_def("1S,2S", 0, 0, 0);                  /* one of each at most */
	assert_def("1C,2C", 0, 0, 0);
	assert_def("-1S", 0, 0, 0);
	assert_def("1S 2C", 0, 0, 0);
	assert_def("4096s", 0, 0, 0);
	assert_def("1000000000000000000S", 0, 0, 0);   /* 19 digits: refused, never wrapped */
}

static void test_definition_format_round_trips(void **state)
{
	struct maildir_quota cases[] = { { 4096, 0 }, { 0, 100 }, { 104857600, 5000 }, { 1, 1 } };
	const char *want[] = { "4096S", "100C", "104857600S,5000C", "1S,1C" };
	char line[MAILDIR_QUOTA_DEF_MAX], tiny[4];
	(void)state;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct maildir_quota back;
		assert_int_equal(maildir_quota_def_format(&cases[i], line, sizeof(line)), 0);
		assert_string_equal(line, want[i]);
		assert_int_equal(maildir_quota_def_parse(line, strlen(line), &back), 0);
		assert_true(back.bytes == cases[i].bytes && back.messages == cases[i].messages);
	}
	assert_int_equal(maildir_quota_def_format(&cases[2], tiny, sizeof(tiny)), -1);   /* no room: no clip */
}

static int parse_text(const char *text, struct maildir_quota *q, struct maildir_usage *u)
{
	return maildir_quota_parse(text, strlen(text), q, u);
}

static void test_file_image(void **state)
{
	struct maildir_quota q;
	struct maildir_usage u;
	(void)state;

	assert_int_equal(parse_text("4096S\n", &q, &u), 0);
	assert_true(q.bytes == 4096 && u.bytes == 0 && u.count == 0);
	assert_int_equal(parse_text("104857600S,5000C\n1000 2\n 300  1 \n-200 -1\n", &q, &u), 0);
	assert_true(q.messages == 5000 && u.bytes == 1100 && u.count == 2);
	/* More removed than counted (a reader's lines after a rebuild): 0, never negative. */
	assert_int_equal(parse_text("10S\n5 1\n-900 -3\n", &q, &u), 0);
	assert_true(u.bytes == 0 && u.count == 0);
	assert_int_equal(parse_text("4096S\n100 1\r\n", &q, &u), 0);   /* CRLF tolerated */
	assert_int_equal(parse_text("4096S\n100 1\n50", &q, &u), -1);  /* torn last line */
	assert_int_equal(parse_text("4096S", &q, &u), -1);             /* no line end */
	assert_int_equal(parse_text("4096S\n100\n", &q, &u), -1);
	assert_int_equal(parse_text("4096S\n100 1 2\n", &q, &u), -1);
	assert_int_equal(parse_text("4096S\n100x 1\n", &q, &u), -1);
	assert_int_equal(parse_text("4096S\n--1 1\n", &q, &u), -1);
	assert_int_equal(parse_text("4096S\n\n", &q, &u), -1);
	assert_int_equal(parse_text("junk\n1 1\n", &q, &u), -1);
	/* Sums are overflow-checked, not wrapped. */
	assert_int_equal(parse_text("1S\n999999999999999999 1\n999999999999999999 1\n999999999999999999 1\n"
				    "999999999999999999 1\n999999999999999999 1\n999999999999999999 1\n"
				    "999999999999999999 1\n999999999999999999 1\n999999999999999999 1\n"
				    "999999999999999999 1\n", &q, &u), -1);
}

static void assert_value(const char *text, int ok, unsigned long long bytes, unsigned long long messages)
{
	struct maildir_quota q = { 1, 77 };   /* 77: the default count a SIZE-only value keeps */
	int r = maildir_quota_value_parse(text, strlen(text), &q);

	if (r != (ok ? 0 : -1))
		fail_msg("value \"%s\": got %d", text, r);
	if (!ok)
		bytes = 1, messages = 77;   /* untouched */
	if (q.bytes != bytes || q.messages != messages)
		fail_msg("value \"%s\": got %llu,%llu", text, q.bytes, q.messages);
}

static void test_quota_map_value(void **state)
{
	(void)state;
	assert_value("100m", 1, 100ULL << 20, 77);
	assert_value("100m,5000", 1, 100ULL << 20, 5000);
	assert_value("2k", 1, 2048, 77);
	assert_value("0", 1, 0, 77);
	assert_value("0,0", 1, 0, 0);
	assert_value("0,10", 1, 0, 10);
	assert_value("", 0, 0, 0);
	assert_value(",5", 0, 0, 0);
	assert_value("100m,", 0, 0, 0);
	assert_value("100m,x", 0, 0, 0);
	assert_value("100m,5k", 0, 0, 0);
	assert_value("100m,5,6", 0, 0, 0);
	assert_value("100q", 0, 0, 0);
	assert_value("lots", 0, 0, 0);
}

static void test_fits(void **state)
{
	struct maildir_quota q = { 1000, 3 };
	struct maildir_usage u = { 900, 2 };
	(void)state;

	assert_true(maildir_quota_fits(&q, &u, 100, 1));
	assert_false(maildir_quota_fits(&q, &u, 101, 1));
	assert_false(maildir_quota_fits(&q, &u, 10, 2));
	q.messages = 0;
	assert_true(maildir_quota_fits(&q, &u, 10, 200));
	q.bytes = 0;
	q.messages = 2;
	assert_true(maildir_quota_fits(&q, &u, 1ULL << 40, 0));
	assert_false(maildir_quota_fits(&q, &u, 0, 1));
	u.bytes = ~0ULL;
	q.bytes = ~0ULL;
	assert_false(maildir_quota_fits(&q, &u, 1, 0));   /* overflow is "does not fit" */
}

/* ------------------------------------------------------------ files */

struct fixture {
	char root[64];
	char maildir[128];
};

static void path_join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	assert_true(n > 0 && (size_t)n < len);
}

static void make_dirs(const char *maildir)
{
	char p[256];
	const char *sub[] = { "", "/cur", "/new", "/tmp" };

	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "%s%s", maildir, sub[i]);
		assert_int_equal(mkdir(p, 0700), 0);
	}
}

static void put_file(const char *dir, const char *name, size_t size)
{
	char p[512];
	FILE *f;

	path_join(p, sizeof(p), dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	assert_int_equal(fclose(f), 0);
}

static void put_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return text;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char p[256];

	assert_non_null(f);
	memcpy(f->root, "/tmp/test_maildir_quota.XXXXXX", sizeof("/tmp/test_maildir_quota.XXXXXX"));
	assert_non_null(mkdtemp(f->root));
	path_join(f->maildir, sizeof(f->maildir), f->root, "mbox");
	make_dirs(f->maildir);
	/* INBOX: a name with S= (its size taken from the name, not the file),
	 * one without (stat), one in cur/ with flags. */
	path_join(p, sizeof(p), f->maildir, "new");
	put_file(p, "1.M1P1.host,S=1000,W=1020", 10);
	put_file(p, "2.M2P2.host", 300);
	path_join(p, sizeof(p), f->maildir, "cur");
	put_file(p, "3.M3P3.host,S=200,W=210:2,S", 200);
	/* A folder; and tmp/ and dot files never count. */
	path_join(p, sizeof(p), f->maildir, ".Sent");
	make_dirs(p);
	path_join(p, sizeof(p), f->maildir, ".Sent/cur");
	put_file(p, "4.M4P4.host,S=500,W=510:2,S", 500);
	path_join(p, sizeof(p), f->maildir, "tmp");
	put_file(p, "5.M5P5.host,S=9999,W=9999", 1);
	path_join(p, sizeof(p), f->maildir, "new");
	put_file(p, ".hidden", 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(tmpdir_remove(f->root), 0);
	free(f);
	return 0;
}

static void test_scan_counts_every_folder(void **state)
{
	struct fixture *f = *state;
	struct maildir_usage u;

	maildir_quota_scan(f->maildir, &u);
	assert_int_equal(u.bytes, 1000 + 300 + 200 + 500);
	assert_int_equal(u.count, 4);
}

static void test_rebuild_writes_the_file(void **state)
{
	struct fixture *f = *state;
	struct maildir_quota q = { 10240, 50 }, back;
	struct maildir_usage u, back_u;
	char p[256];

	assert_int_equal(maildir_quota_rebuild(f->maildir, &q, &u), 0);
	path_join(p, sizeof(p), f->maildir, MAILDIR_QUOTA_FILE);
	assert_string_equal(read_text(p), "10240S,50C\n2000 4\n");
	assert_int_equal(maildir_quota_read(f->maildir, &back, &back_u), 0);
	assert_true(back.bytes == 10240 && back.messages == 50 && back_u.bytes == 2000 && back_u.count == 4);
}

static void test_add_appends_lines_only_to_an_existing_file(void **state)
{
	struct fixture *f = *state;
	struct maildir_quota q = { 10240, 0 };
	struct maildir_usage u;
	char p[256];

	path_join(p, sizeof(p), f->maildir, MAILDIR_QUOTA_FILE);
	assert_int_equal(maildir_quota_add(f->maildir, 100, 1), 0);
	assert_null(read_text(p));                        /* no file: nothing made */
	assert_int_equal(maildir_quota_rebuild(f->maildir, &q, &u), 0);
	assert_int_equal(maildir_quota_add(f->maildir, 100, 1), 0);
	assert_int_equal(maildir_quota_add(f->maildir, -1000, -1), 0);
	assert_int_equal(maildir_quota_add(f->maildir, 0, 0), 0);   /* no line */
	assert_string_equal(read_text(p), "10240S\n2000 4\n100 1\n-1000 -1\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 0, 0, &u), 1);
	assert_true(u.bytes == 1100 && u.count == 4);
}

static void test_check_trusts_a_fresh_file(void **state)
{
	struct fixture *f = *state;
	struct maildir_quota q = { 10240, 0 };
	struct maildir_usage u;
	char p[256];

	/* The file says less than the Maildir holds: a fitting message is
	 * decided from the file alone (no scan on the hot path). */
	path_join(p, sizeof(p), f->maildir, MAILDIR_QUOTA_FILE);
	put_text(p, "10240S\n100 1\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 5000, 1, &u), 1);
	assert_true(u.bytes == 100 && u.count == 1);
	assert_string_equal(read_text(p), "10240S\n100 1\n");
}

static void test_check_rebuilds_before_saying_no(void **state)
{
	struct fixture *f = *state;
	struct maildir_quota q = { 3000, 0 };
	struct maildir_usage u;
	char p[256];

	/* Mail was removed by a reader that wrote no negative line: the file
	 * says full, the Maildir is not. */
	path_join(p, sizeof(p), f->maildir, MAILDIR_QUOTA_FILE);
	put_text(p, "3000S\n2900 9\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 900, 1, &u), 1);
	assert_true(u.bytes == 2000 && u.count == 4);
	assert_string_equal(read_text(p), "3000S\n2000 4\n");
	/* Truly full. */
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1001, 1, &u), 0);
	assert_int_equal(u.bytes, 2000);
	/* The message count limit. */
	q.messages = 4;
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1, 1, &u), 0);
	assert_string_equal(read_text(p), "3000S,4C\n2000 4\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 0, 0, &u), 1);
}

static void test_stale_files_are_rebuilt(void **state)
{
	struct fixture *f = *state;
	struct maildir_quota q = { 10240, 0 };
	struct maildir_usage u;
	char p[256], big[MAILDIR_QUOTA_FILE_MAX + 64];

	path_join(p, sizeof(p), f->maildir, MAILDIR_QUOTA_FILE);
	/* Another quota named: rebuilt under ours. */
	put_text(p, "5000S\n1 1\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1, 1, &u), 1);
	assert_string_equal(read_text(p), "10240S\n2000 4\n");
	/* Malformed. */
	put_text(p, "10240S\n1 1\ngarbage\n");
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1, 1, &u), 1);
	assert_string_equal(read_text(p), "10240S\n2000 4\n");
	/* Over MAILDIR_QUOTA_FILE_MAX bytes (Maildir++): rebuilt. */
	size_t n = (size_t)snprintf(big, sizeof(big), "10240S\n");
	while (n + 4 <= MAILDIR_QUOTA_FILE_MAX + 4)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "0 0\n");
	put_text(p, big);
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1, 1, &u), 1);
	assert_string_equal(read_text(p), "10240S\n2000 4\n");
	/* Missing. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(maildir_quota_check(f->maildir, &q, 0, 0, &u), 1);
	assert_string_equal(read_text(p), "10240S\n2000 4\n");
	/* No quota: nothing read, nothing written. */
	assert_int_equal(unlink(p), 0);
	q.bytes = 0;
	assert_int_equal(maildir_quota_check(f->maildir, &q, 1ULL << 50, 1, &u), 1);
	assert_null(read_text(p));
}

static void test_quota_of_map_and_config(void **state)
{
	struct fixture *f = *state;
	struct cdbmap_writer *w = NULL;
	struct cdbmap *map = NULL;
	struct maildir_quota q;
	const char *error = NULL;
	const char *conf = "mailbox_quota = 1m\nmailbox_quota_messages = 1000\n";
	char path[256];

	assert_int_equal(config_parse("t.conf", conf, strlen(conf), &error), 0);
	path_join(path, sizeof(path), f->root, "quota.cdb");
	assert_int_equal(cdbmap_writer_start(path, NULL, &w, &error), 0);
	assert_int_equal(cdbmap_writer_add(w, "bob@example.test", 16, "2k", 2, &error), 0);
	assert_int_equal(cdbmap_writer_add(w, "carol@example.test", 18, "100m,5000", 9, &error), 0);
	assert_int_equal(cdbmap_writer_add(w, "dave@example.test", 17, "0,0", 3, &error), 0);
	assert_int_equal(cdbmap_writer_add(w, "eve@example.test", 16, "lots", 4, &error), 0);
	assert_int_equal(cdbmap_writer_commit(&w, &error), 0);
	assert_int_equal(cdbmap_open(path, &map, &error), 0);

	maildir_quota_of(NULL, "bob@example.test", &q);
	assert_true(q.bytes == 1048576 && q.messages == 1000);
	maildir_quota_of(map, "alice@example.test", &q);          /* not listed: the defaults */
	assert_true(q.bytes == 1048576 && q.messages == 1000);
	maildir_quota_of(map, "BOB@example.test", &q);            /* keys fold case */
	assert_true(q.bytes == 2048 && q.messages == 1000);       /* SIZE alone keeps the count */
	maildir_quota_of(map, "carol@example.test", &q);
	assert_true(q.bytes == 100ULL << 20 && q.messages == 5000);
	maildir_quota_of(map, "dave@example.test", &q);           /* exempt */
	assert_false(maildir_quota_active(&q));
	maildir_quota_of(map, "eve@example.test", &q);            /* bad entry: logged, defaults */
	assert_true(q.bytes == 1048576 && q.messages == 1000);
	cdbmap_close(&map);
	config_parse("t.conf", "", 0, &error);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_definition_line),
		cmocka_unit_test(test_definition_format_round_trips),
		cmocka_unit_test(test_file_image),
		cmocka_unit_test(test_quota_map_value),
		cmocka_unit_test(test_fits),
		cmocka_unit_test_setup_teardown(test_scan_counts_every_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild_writes_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_appends_lines_only_to_an_existing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_trusts_a_fresh_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_rebuilds_before_saying_no, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_files_are_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_quota_of_map_and_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
