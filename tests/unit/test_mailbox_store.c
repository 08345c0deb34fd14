/* test_mailbox_store: UIDs, the UID list, the index and their locking
 * (common/mailbox_store.c), on Maildirs in a temporary directory,
 * including several processes assigning UIDs at once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "mailbox_store.h"

static char test_dir[] = "/tmp/test_mailbox_store_XXXXXX";
static char old_cwd[4096];

static int setup(void **state)
{
	(void)state;
	if (getcwd(old_cwd, sizeof(old_cwd)) == NULL || mkdtemp(test_dir) == NULL ||
	    chdir(test_dir) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];
	(void)state;
	if (chdir(old_cwd) < 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void make_maildir(const char *p)
{
	char d[256];
	mkdir(p, 0700);
	snprintf(d, sizeof(d), "%s/new", p); mkdir(d, 0700);
	snprintf(d, sizeof(d), "%s/cur", p); mkdir(d, 0700);
	snprintf(d, sizeof(d), "%s/tmp", p); mkdir(d, 0700);
}

/* Deliver like local does: write tmp/, then link into new/. */
static void deliver(const char *md, const char *name, const char *text)
{
	char tmp[512], dst[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", md, name);
	snprintf(dst, sizeof(dst), "%s/new/%s", md, name);
	f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, dst), 0);
}

static int exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void test_new_messages_get_uids_in_arrival_order(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	(void)state;

	make_maildir("a");
	deliver("a", "1000.M2P1.h", "Subject: two\n\nbody\n");
	deliver("a", "1000.M1P1.h", "Subject: one\n\nline1\nline2\n");
	deliver("a", "999.M9P1.h", "X: y\n\nno final newline");
	deliver("a", "1000.M10P1.h", "S: z\n\n");   /* after M2: numeric order */
	assert_int_equal(mbox_open("a", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(mb->n, 4);
	assert_int_equal(mb->uidnext, 5);
	assert_true(mb->uidvalidity > 0);
	assert_string_equal(mb->msgs[0].name, "cur/999.M9P1.h:2,");
	assert_string_equal(mb->msgs[1].name, "cur/1000.M1P1.h:2,");
	assert_string_equal(mb->msgs[2].name, "cur/1000.M2P1.h:2,");
	assert_string_equal(mb->msgs[3].name, "cur/1000.M10P1.h:2,");
	assert_int_equal(mb->msgs[1].uid, 2);
	assert_int_equal(mb->msgs[1].size, 26);
	assert_int_equal(mb->msgs[1].vsize, 30);          /* 4 LFs sent as CRLF */
	assert_int_equal(mb->msgs[1].hdr_size, 14);
	assert_int_equal(mb->msgs[1].body_lines, 2);
	assert_int_equal(mb->msgs[0].body_lines, 1);
	assert_int_equal(mb->msgs[0].vsize, 22 + 2 + 2);   /* two LFs, and a CRLF supplied */
	assert_int_equal(mb->msgs[3].body_lines, 0);
	assert_true(exists("a/cur/999.M9P1.h:2,"));
	assert_false(exists("a/new/999.M9P1.h"));
	assert_true(exists("a/" MBOX_UIDLIST_NAME));
	assert_true(exists("a/" MBOX_INDEX_NAME));
	mbox_close(&mb);
	assert_null(mb);
}

static void test_uids_stable_and_never_reused(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	uint32_t v;
	(void)state;

	make_maildir("b");
	deliver("b", "1.A.h", "a\n");
	deliver("b", "2.A.h", "b\n");
	assert_int_equal(mbox_open("b", 1, 0, &mb, &err), 0);   /* no move: new/ stays */
	v = mb->uidvalidity;
	assert_string_equal(mb->msgs[0].name, "new/1.A.h");
	mbox_close(&mb);
	deliver("b", "3.A.h", "c\n");
	assert_int_equal(mbox_open("b", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->uidvalidity, v);
	assert_int_equal(mb->msgs[0].uid, 1);
	assert_int_equal(mb->msgs[2].uid, 3);
	assert_int_equal(mbox_msg_remove(mb, 2), 0);    /* the newest goes */
	assert_int_equal(mbox_msg_remove(mb, 2), 0);    /* twice is fine */
	mbox_close(&mb);
	deliver("b", "4.A.h", "d\n");
	assert_int_equal(mbox_open("b", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(mb->n, 3);
	assert_int_equal(mb->msgs[2].uid, 4);           /* 3 is not reused */
	assert_int_equal(mb->uidnext, 5);
	assert_int_equal(mbox_find_uid(mb, 4), 2);
	assert_int_equal(mbox_find_uid(mb, 3), -1);
	mbox_close(&mb);
}

static void test_flag_rename_keeps_uid_and_open_follows(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	int fd;
	(void)state;

	make_maildir("c");
	deliver("c", "5.B.h", "hello\n");
	assert_int_equal(mbox_open("c", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(rename("c/cur/5.B.h:2,", "c/cur/5.B.h:2,RS"), 0);
	fd = mbox_msg_open(mb, 0);               /* the cached name is stale */
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(mb->msgs[0].flags, "RS");
	mbox_close(&mb);
	assert_int_equal(mbox_open("c", 1, 0, &mb, &err), 0);
	assert_int_equal(mb->n, 1);
	assert_int_equal(mb->msgs[0].uid, 1);
	assert_string_equal(mb->msgs[0].flags, "RS");
	mbox_close(&mb);
}

static void test_index_means_parsed_once(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	FILE *f;
	(void)state;

	make_maildir("d");
	deliver("d", "6.C.h", "S: x\n\nabc\n");
	assert_int_equal(mbox_open("d", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(mb->msgs[0].size, 10);
	mbox_close(&mb);
	/* Change the file behind the store's back: the cached numbers stay,
	 * which shows the second open did not read the message again. */
	f = fopen("d/cur/6.C.h:2,", "a");
	assert_non_null(f);
	fputs("more\n", f);
	fclose(f);
	assert_int_equal(mbox_open("d", 1, 0, &mb, &err), 0);
	assert_int_equal(mb->msgs[0].size, 10);
	mbox_close(&mb);
	/* Without the index it is measured again. */
	assert_int_equal(unlink("d/" MBOX_INDEX_NAME), 0);
	assert_int_equal(mbox_open("d", 1, 0, &mb, &err), 0);
	assert_int_equal(mb->msgs[0].size, 15);
	mbox_close(&mb);
}

static void test_damaged_uidlist_starts_new_uidvalidity(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	FILE *f;
	(void)state;

	make_maildir("e");
	deliver("e", "7.D.h", "x\n");
	f = fopen("e/" MBOX_UIDLIST_NAME, "w");
	assert_non_null(f);
	fputs("POSTERN-UIDLIST 1\nuidvalidity=5\nuidnext=2\n9 7.D.h\n", f);   /* 9 >= uidnext */
	fclose(f);
	assert_int_equal(mbox_open("e", 1, 0, &mb, &err), 0);
	assert_int_not_equal(mb->uidvalidity, 5);
	assert_int_equal(mb->msgs[0].uid, 1);
	mbox_close(&mb);
}

static void test_bad_paths_refused(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	(void)state;

	assert_int_equal(mbox_open("/etc", 4, 0, &mb, &err), -1);
	assert_int_equal(mbox_open("x/../y", 6, 0, &mb, &err), -1);
	assert_int_equal(mbox_open("missing", 7, 0, &mb, &err), -1);
	assert_int_equal(mbox_open("made/here", 9, MBOX_CREATE, &mb, &err), 0);
	assert_int_equal(mb->n, 0);
	mbox_close(&mb);
}

static void test_uidlist_parser(void **state)
{
	struct mbox_uidlist ul;
	const char *err = NULL;
	const char good[] = "POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n1 a.b\n5 c.d\n";
	(void)state;

	assert_int_equal(mbox_uidlist_parse(good, strlen(good), &ul, &err), 0);
	assert_int_equal(ul.uidvalidity, 7);
	assert_int_equal(ul.uidnext, 10);
	assert_int_equal(ul.n, 2);
	assert_int_equal(ul.e[1].uid, 5);
	assert_int_equal(ul.e[1].base_len, 3);
	mbox_uidlist_free(&ul);
	static const char *const bad[] = {
		"",
		"POSTERN-UIDLIST 2\nuidvalidity=7\nuidnext=10\n",
		"POSTERN-UIDLIST 1\nuidvalidity=0\nuidnext=10\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=4294967296\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n5 a\n5 b\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n10 a\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n1 a:2,S\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n1 .hidden\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n1 a b\n",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n1 a",
		"POSTERN-UIDLIST 1\nuidvalidity=7\nuidnext=10\n-1 a\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(mbox_uidlist_parse(bad[i], strlen(bad[i]), &ul, &err), -1);
		assert_null(ul.e);
	}
}

#define CONC_PROCS 4
#define CONC_ROUNDS 25

/* One child: deliver and sync in turn, writing "base uid" of every
 * message it saw to conc.PID. */
static void conc_child(int k)
{
	char name[64], out[64];
	FILE *log;

	snprintf(out, sizeof(out), "conc.%d", k);
	log = fopen(out, "w");
	if (log == NULL)
		_exit(2);
	for (int r = 0; r < CONC_ROUNDS; r++) {
		struct mbox *mb;
		const char *err;
		snprintf(name, sizeof(name), "%d.P%dR%d.h", 100 + r, k, r);
		deliver("f", name, "Subject: c\n\nx\n");
		if (mbox_open("f", 1, (r & 1) ? MBOX_MOVE_NEW : 0, &mb, &err) < 0)
			_exit(3);
		for (size_t i = 0; i < mb->n; i++)
			fprintf(log, "%.*s %u\n", (int)mb->msgs[i].base_len, mb->msgs[i].name + 4,
				mb->msgs[i].uid);
		mbox_close(&mb);
	}
	fclose(log);
	_exit(0);
}

static void test_concurrent_processes_assign_each_uid_once(void **state)
{
	struct mbox *mb;
	const char *err = NULL;
	pid_t pids[CONC_PROCS];
	char line[256], path[64];
	(void)state;

	make_maildir("f");
	for (int k = 0; k < CONC_PROCS; k++) {
		pids[k] = fork();
		assert_true(pids[k] >= 0);
		if (pids[k] == 0)
			conc_child(k);
	}
	for (int k = 0; k < CONC_PROCS; k++) {
		int st;
		assert_int_equal(waitpid(pids[k], &st, 0), pids[k]);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	assert_int_equal(mbox_open("f", 1, MBOX_MOVE_NEW, &mb, &err), 0);
	assert_int_equal(mb->n, CONC_PROCS * CONC_ROUNDS);
	assert_int_equal(mb->uidnext, CONC_PROCS * CONC_ROUNDS + 1);   /* none lost, none twice */
	for (size_t i = 0; i < mb->n; i++)
		assert_int_equal(mb->msgs[i].uid, i + 1);
	/* Every observation any child made agrees with the final list. */
	for (int k = 0; k < CONC_PROCS; k++) {
		FILE *f;
		snprintf(path, sizeof(path), "conc.%d", k);
		f = fopen(path, "r");
		assert_non_null(f);
		while (fgets(line, sizeof(line), f) != NULL) {
			char base[200];
			unsigned uid;
			long idx;
			assert_int_equal(sscanf(line, "%199s %u", base, &uid), 2);
			idx = mbox_find_uid(mb, uid);
			assert_true(idx >= 0);
			assert_int_equal(mb->msgs[idx].base_len, strlen(base));
			assert_memory_equal(mb->msgs[idx].name + 4, base, strlen(base));
		}
		fclose(f);
	}
	mbox_close(&mb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_messages_get_uids_in_arrival_order),
		cmocka_unit_test(test_uids_stable_and_never_reused),
		cmocka_unit_test(test_flag_rename_keeps_uid_and_open_follows),
		cmocka_unit_test(test_index_means_parsed_once),
		cmocka_unit_test(test_damaged_uidlist_starts_new_uidvalidity),
		cmocka_unit_test(test_bad_paths_refused),
		cmocka_unit_test(test_uidlist_parser),
		cmocka_unit_test(test_concurrent_processes_assign_each_uid_once),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
