/* Unit tests for common/queuefile.c: the queue file round trip, durable
 * status marks, the prepend slot of version 3, and refusal of damaged
 * files; versions 1 and 2 are still read. */
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

#include "queuefile.h"
#include "tmpdir_fixture.h"

static char test_dir[] = "/tmp/test_queuefile.XXXXXX";

static int test_setup(void **state)
{
	const char *err;

	(void)state;
	if (mkdtemp(test_dir) == NULL || chdir(test_dir) < 0)
		return -1;
	return queuefile_mkdirs(&err);
}

static int test_teardown(void **state)
{
	(void)state;
	return tmpdir_remove(test_dir);
}

static size_t test_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Write a message with the given recipients into incoming/; its ID in id. */
static void test_write(const char *const *rcpt, size_t n, const char *data, char *id)
{
	struct queuefile_out qo;
	size_t lens[8];
	struct queuefile_env env = {
		.sender = "alice@example.test", .sender_len = 18,
		.client = "127.0.0.1", .helo = "client\nevil", .proto = NULL,
		.rcpt = rcpt, .rcpt_len = lens, .nrcpt = n,
	};
	const char *err = NULL;

	for (size_t i = 0; i < n; i++)
		lens[i] = strlen(rcpt[i]);
	assert_int_equal(queuefile_create(&qo, &err), 0);
	assert_true(queuefile_id_valid(qo.id, strlen(qo.id)));
	assert_int_equal(queuefile_write_envelope(&qo, &env, &err), 0);
	assert_int_equal(queuefile_write_data(&qo, data, strlen(data), &err), 0);
	assert_int_equal(queuefile_commit(&qo, &err), 0);
	memcpy(id, qo.id, strlen(qo.id) + 1);
}

static void test_round_trip_keeps_envelope_and_data(void **state)
{
	const char *rcpt[] = { "bob@example.test", "carol%x=y@example.test" };
	const char *data = "Subject: hi\n\nbody\n";
	char id[QUEUEFILE_ID_MAX + 1], path[64], got[64];
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	test_write(rcpt, 2, data, id);
	assert_int_equal(test_count("tmp"), 0);
	snprintf(path, sizeof(path), "incoming/%s", id);
	assert_int_equal(queuefile_open(path, 0, &qf, &err), 0);
	assert_string_equal(qf.id, id);
	assert_string_equal(qf.sender, "alice@example.test");
	assert_string_equal(qf.client, "127.0.0.1");
	assert_string_equal(qf.helo, "client\nevil");   /* escaped on disk, decoded back */
	assert_string_equal(qf.proto, "");
	assert_int_equal(qf.nrcpt, 2);
	assert_string_equal(qf.rcpt[0].addr, "bob@example.test");
	assert_string_equal(qf.rcpt[1].addr, "carol%x=y@example.test");
	assert_int_equal(qf.rcpt[0].status, QUEUEFILE_PENDING);
	assert_int_equal(qf.attempts, 0);
	assert_int_equal(qf.data_size, strlen(data));
	assert_int_equal(pread(qf.fd, got, sizeof(got), qf.data_offset), (ssize_t)strlen(data));
	assert_memory_equal(got, data, strlen(data));
	assert_int_equal(queuefile_pending(&qf), 2);
	queuefile_free(&qf);
	assert_int_equal(qf.fd, -1);
}

static void test_mark_survives_reopen(void **state)
{
	const char *rcpt[] = { "a@x.test", "b@x.test", "c@x.test" };
	char id[QUEUEFILE_ID_MAX + 1], path[64];
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	test_write(rcpt, 3, "x\n", id);
	snprintf(path, sizeof(path), "incoming/%s", id);
	assert_int_equal(queuefile_open(path, 1, &qf, &err), 0);
	assert_int_equal(queuefile_mark(&qf, 0, QUEUEFILE_DELIVERED, &err), 0);
	assert_int_equal(queuefile_mark(&qf, 2, QUEUEFILE_FAILED, &err), 0);
	assert_int_equal(queuefile_set_attempts(&qf, 7, &err), 0);
	assert_int_equal(queuefile_mark(&qf, 3, QUEUEFILE_DELIVERED, &err), -1);
	assert_int_equal(queuefile_mark(&qf, 1, 'X', &err), -1);
	queuefile_free(&qf);

	assert_int_equal(queuefile_open(path, 0, &qf, &err), 0);
	assert_int_equal(qf.rcpt[0].status, QUEUEFILE_DELIVERED);
	assert_int_equal(qf.rcpt[1].status, QUEUEFILE_PENDING);
	assert_int_equal(qf.rcpt[2].status, QUEUEFILE_FAILED);
	assert_int_equal(qf.attempts, 7);
	assert_int_equal(queuefile_pending(&qf), 1);
	queuefile_free(&qf);
}

static void test_abort_leaves_nothing(void **state)
{
	struct queuefile_out qo;
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_create(&qo, &err), 0);
	assert_int_equal(test_count("tmp"), 1);
	queuefile_abort(&qo);
	queuefile_abort(&qo);
	assert_int_equal(test_count("tmp"), 0);
}

static void test_bad_envelope_refused(void **state)
{
	const char *rcpt[] = { "" };
	size_t len[] = { 0 };
	struct queuefile_env env = { .sender = "", .sender_len = 0, .rcpt = rcpt,
				     .rcpt_len = len, .nrcpt = 1 };
	struct queuefile_out qo;
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_create(&qo, &err), 0);
	assert_int_equal(queuefile_write_envelope(&qo, &env, &err), -1);
	assert_string_equal(err, "bad recipient");
	env.nrcpt = 0;
	assert_int_equal(queuefile_write_envelope(&qo, &env, &err), -1);
	queuefile_abort(&qo);
}

static void test_size_mismatch_refused(void **state)
{
	const char *rcpt[] = { "a@x.test" };
	char id[QUEUEFILE_ID_MAX + 1], path[64];
	struct queuefile qf;
	const char *err = NULL;
	int fd;

	(void)state;
	test_write(rcpt, 1, "data\n", id);
	snprintf(path, sizeof(path), "incoming/%s", id);
	fd = open(path, O_WRONLY | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "!", 1), 1);
	close(fd);
	assert_int_equal(queuefile_open(path, 0, &qf, &err), -1);
	assert_string_equal(err, "message size does not match the file");
	assert_int_equal(qf.fd, -1);
}

#define GOOD_HDR "POSTERN-QUEUE 1\nid=ABC1\ntime=5\nsender=\nattempts=000001\n" \
	"rcpt=Pa@b\nrcpt=Dc%25d@e\nsize=00000000000000000003\n\nhi\n"

static void test_parse_good_header(void **state)
{
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_parse(GOOD_HDR, sizeof(GOOD_HDR) - 1, &qf, &err), 0);
	assert_string_equal(qf.id, "ABC1");
	assert_int_equal(qf.time, 5);
	assert_string_equal(qf.sender, "");
	assert_int_equal(qf.nrcpt, 2);
	assert_string_equal(qf.rcpt[1].addr, "c%d@e");
	assert_int_equal(qf.rcpt[1].status, QUEUEFILE_DELIVERED);
	assert_memory_equal(GOOD_HDR + qf.rcpt[1].status_off, "D", 1);
	assert_memory_equal(GOOD_HDR + qf.attempts_off, "000001", 6);
	assert_int_equal(qf.data_offset, sizeof(GOOD_HDR) - 1 - 3);
	assert_int_equal(qf.data_size, 3);
	queuefile_free(&qf);
}

static void test_parse_refuses_damage(void **state)
{
	static const char *const bad[] = {
		"POSTERN-QUEUE 2\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n",
		"POSTERN-QUEUE 1\nid=A\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=a\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=00000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Xa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=P\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa%0\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa%00b\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=99999999999999999999\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\nbogus=1\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\r\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\nid=A\ntime=-5\nsender=\nattempts=000000\nrcpt=Pa\nsize=00000000000000000000\n\n",
		"POSTERN-QUEUE 1\n=A\n\n",
		"",
	};
	struct queuefile qf;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;

		if (queuefile_parse(bad[i], strlen(bad[i]), &qf, &err) != -1)
			fail_msg("damaged header %zu accepted", i);
		assert_non_null(err);
		assert_null(qf.rcpt);
	}
}

static void test_parse_refuses_overlong_address(void **state)
{
	char hdr[1024];
	char addr[QUEUEFILE_ADDR_MAX + 2];
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	snprintf(hdr, sizeof(hdr), "POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\n"
		 "rcpt=P%s\nsize=00000000000000000000\n\n", addr);
	assert_int_equal(queuefile_parse(hdr, strlen(hdr), &qf, &err), -1);
	addr[sizeof(addr) - 2] = '\0';   /* exactly the limit */
	snprintf(hdr, sizeof(hdr), "POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\n"
		 "rcpt=P%s\nsize=00000000000000000000\n\n", addr);
	assert_int_equal(queuefile_parse(hdr, strlen(hdr), &qf, &err), 0);
	queuefile_free(&qf);
}


/* Version 2: the DSN and MIME fields of RFC 3461 / 6152 / 6531 travel
 * through the file, each per-recipient option with its recipient. */
static void test_v2_round_trip_keeps_dsn_fields(void **state)
{
	const char *rcpt[] = { "a@x.test", "b@x.test", "c@x.test" };
	size_t lens[3] = { 8, 8, 8 };
	unsigned notify[3] = { QUEUEFILE_NOTIFY_NEVER, 0,
			       QUEUEFILE_NOTIFY_SUCCESS | QUEUEFILE_NOTIFY_DELAY };
	const char *orcpt[3] = { NULL, "rfc822;B@X.test", "rfc822;c@x.test" };
	struct queuefile_env env = {
		.sender = "s@x.test", .sender_len = 8, .rcpt = rcpt, .rcpt_len = lens, .nrcpt = 3,
		.rcpt_notify = notify, .rcpt_orcpt = orcpt, .kind = QUEUEFILE_KIND_DSN,
		.ret = QUEUEFILE_RET_HDRS, .body = QUEUEFILE_BODY_8BITMIME, .smtputf8 = 1,
		.envid = "QQ314159",
	};
	struct queuefile_out qo;
	struct queuefile qf;
	char path[64];
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_create(&qo, &err), 0);
	assert_int_equal(queuefile_write_envelope(&qo, &env, &err), 0);
	assert_int_equal(queuefile_write_data(&qo, "x\n", 2, &err), 0);
	assert_int_equal(queuefile_commit(&qo, &err), 0);
	snprintf(path, sizeof(path), "incoming/%s", qo.id);
	assert_int_equal(queuefile_open(path, 1, &qf, &err), 0);
	assert_int_equal(qf.version, 3);
	assert_string_equal(qf.prepend, "");   /* no slot */
	assert_int_equal(qf.kind, QUEUEFILE_KIND_DSN);
	assert_int_equal(qf.ret, QUEUEFILE_RET_HDRS);
	assert_int_equal(qf.body, QUEUEFILE_BODY_8BITMIME);
	assert_int_equal(qf.smtputf8, 1);
	assert_string_equal(qf.envid, "QQ314159");
	assert_int_equal(qf.rcpt[0].notify, QUEUEFILE_NOTIFY_NEVER);
	assert_int_equal(qf.rcpt[1].notify, 0);
	assert_int_equal(qf.rcpt[2].notify, QUEUEFILE_NOTIFY_SUCCESS | QUEUEFILE_NOTIFY_DELAY);
	assert_string_equal(qf.rcpt[0].orcpt, "");
	assert_string_equal(qf.rcpt[1].orcpt, "rfc822;B@X.test");
	assert_int_equal(qf.warned, 0);
	/* The reported states and the delay flag are written in place. */
	assert_int_equal(queuefile_set_status(&qf, 0, QUEUEFILE_FAILED_REPORTED, &err), 0);
	assert_int_equal(queuefile_set_status(&qf, 1, QUEUEFILE_DELIVERED_REPORTED, &err), 0);
	assert_int_equal(queuefile_sync(&qf, &err), 0);
	assert_int_equal(queuefile_set_warned(&qf, &err), 0);
	queuefile_free(&qf);
	assert_int_equal(queuefile_open(path, 0, &qf, &err), 0);
	assert_int_equal(qf.rcpt[0].status, QUEUEFILE_FAILED_REPORTED);
	assert_int_equal(qf.rcpt[1].status, QUEUEFILE_DELIVERED_REPORTED);
	assert_int_equal(qf.warned, 1);
	assert_int_equal(queuefile_pending(&qf), 1);
	queuefile_free(&qf);
}

static void test_version_1_still_read(void **state)
{
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_parse(GOOD_HDR, sizeof(GOOD_HDR) - 1, &qf, &err), 0);
	assert_int_equal(qf.version, 1);
	assert_int_equal(qf.warned_off, 0);
	assert_string_equal(qf.envid, "");
	assert_string_equal(qf.rcpt[0].orcpt, "");
	queuefile_free(&qf);
}

#define V2_HEAD "POSTERN-QUEUE 2\nid=A\ntime=5\nsender=\n"
#define V2_TAIL "size=00000000000000000000\n\n"

static void test_v2_parse_refuses_misplaced_options(void **state)
{
	static const char *const bad[] = {
		V2_HEAD "attempts=000000\nrcpt=Pa\n" V2_TAIL,                       /* no warned */
		V2_HEAD "attempts=000000\nwarned=0\nnotify=NEVER\nrcpt=Pa\n" V2_TAIL, /* before rcpt */
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\nnotify=NEVER\nnotify=NEVER\n" V2_TAIL,
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\nnotify=NEVER,SUCCESS\n" V2_TAIL,
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\nnotify=SOMETIMES\n" V2_TAIL,
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\norcpt=rfc822\n" V2_TAIL,
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\norcpt=x;a\norcpt=x;b\n" V2_TAIL,
		V2_HEAD "attempts=000000\nwarned=2\nrcpt=Pa\n" V2_TAIL,
		V2_HEAD "ret=SOME\nattempts=000000\nwarned=0\nrcpt=Pa\n" V2_TAIL,
		V2_HEAD "kind=spam\nattempts=000000\nwarned=0\nrcpt=Pa\n" V2_TAIL,
		V2_HEAD "envid=a%01b\nattempts=000000\nwarned=0\nrcpt=Pa\n" V2_TAIL,
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nrcpt=Pa\nnotify=NEVER\n" V2_TAIL,
		"POSTERN-QUEUE 1\nid=A\ntime=5\nsender=\nattempts=000000\nwarned=0\nrcpt=Pa\n" V2_TAIL,
	};
	struct queuefile qf;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *err = NULL;

		if (queuefile_parse(bad[i], strlen(bad[i]), &qf, &err) != -1)
			fail_msg("bad version 2 header %zu accepted", i);
		assert_non_null(err);
	}
	assert_int_equal(queuefile_parse(V2_HEAD "attempts=000000\nwarned=1\nrcpt=Ba\nnotify=failure,delay\n"
					 "orcpt=rfc822;a\nrcpt=Sb\n" V2_TAIL,
					 strlen(V2_HEAD "attempts=000000\nwarned=1\nrcpt=Ba\nnotify=failure,delay\n"
						"orcpt=rfc822;a\nrcpt=Sb\n" V2_TAIL), &qf, &(const char *){ NULL }), 0);
	assert_int_equal(qf.rcpt[0].notify, QUEUEFILE_NOTIFY_FAILURE | QUEUEFILE_NOTIFY_DELAY);
	assert_int_equal(qf.rcpt[1].notify, 0);
	assert_int_equal(qf.warned, 1);
	queuefile_free(&qf);
}

/* Version 3: the prepend slot, written empty, filled in place before the
 * commit; the reader gives the fields back and the data is unchanged. */
static void test_v3_prepend_slot(void **state)
{
	static const char fields[] = "DKIM-Signature: v=1; a=rsa-sha256;\n\tb=abc%def\n";
	const char *rcpt[] = { "a@x.test" };
	size_t lens[1] = { 8 };
	struct queuefile_env env = {
		.sender = "s@x.test", .sender_len = 8, .rcpt = rcpt, .rcpt_len = lens, .nrcpt = 1,
		.prepend_slot = 128,
	};
	struct queuefile_out qo, qo2;
	struct queuefile qf;
	char path[64], big[200];
	const char *err = NULL;

	(void)state;
	assert_int_equal(queuefile_create(&qo, &err), 0);
	assert_int_equal(queuefile_write_envelope(&qo, &env, &err), 0);
	assert_int_equal(queuefile_write_data(&qo, "Subject: x\n\nhi\n", 16, &err), 0);
	memset(big, 'a', sizeof(big));
	memcpy(big, "X-Big: ", 7);
	big[sizeof(big) - 1] = '\n';
	assert_int_equal(queuefile_set_prepend(&qo, big, sizeof(big), &err), -1);   /* over the slot */
	assert_int_equal(queuefile_set_prepend(&qo, "no colon\n", 9, &err), -1);
	assert_int_equal(queuefile_set_prepend(&qo, "A: b\n\nC: d\n", 12, &err), -1);
	assert_int_equal(queuefile_set_prepend(&qo, fields, sizeof(fields) - 1, &err), 0);
	assert_int_equal(queuefile_commit(&qo, &err), 0);
	snprintf(path, sizeof(path), "incoming/%s", qo.id);
	assert_int_equal(queuefile_open(path, 0, &qf, &err), 0);
	assert_int_equal(qf.version, 3);
	assert_int_equal(qf.prepend_len, sizeof(fields) - 1);
	assert_memory_equal(qf.prepend, fields, sizeof(fields) - 1);
	assert_int_equal(qf.data_size, 16);
	queuefile_free(&qf);
	/* an empty slot reads as no fields */
	assert_int_equal(queuefile_create(&qo2, &err), 0);
	assert_int_equal(queuefile_write_envelope(&qo2, &env, &err), 0);
	assert_int_equal(queuefile_write_data(&qo2, "x\n", 2, &err), 0);
	assert_int_equal(queuefile_commit(&qo2, &err), 0);
	snprintf(path, sizeof(path), "incoming/%s", qo2.id);
	assert_int_equal(queuefile_open(path, 0, &qf, &err), 0);
	assert_int_equal(qf.prepend_len, 0);
	queuefile_free(&qf);
}

#define V3_HEAD "POSTERN-QUEUE 3\nid=A\ntime=5\nsender=\nattempts=000000\nwarned=0\nrcpt=Pa\n"

static void test_v3_parse_prepend(void **state)
{
	static const char *const bad[] = {
		V3_HEAD "prepend=\n" V2_TAIL,
		V3_HEAD "prepend=5:A: b\n" V2_TAIL,                 /* shorter than its length */
		V3_HEAD "prepend=4:A: b%0A\n" V2_TAIL,              /* junk after the length */
		V3_HEAD "prepend=07:A: b%0A  \n" V2_TAIL,           /* leading zero */
		V3_HEAD "prepend=4:A: b \n" V2_TAIL,                /* no line end */
		V3_HEAD "prepend=6:A b%0A \n" V2_TAIL,              /* not a field */
		V3_HEAD "prepend=0: \nprepend=0: \n" V2_TAIL,      /* twice */
		V2_HEAD "attempts=000000\nwarned=0\nrcpt=Pa\nprepend=0: \n" V2_TAIL,   /* not in v2 */
	};
	static const char good[] = V3_HEAD "prepend=7:A: b%0A   \n" V2_TAIL;
	struct queuefile qf;
	const char *err = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (queuefile_parse(bad[i], strlen(bad[i]), &qf, &err) != -1)
			fail_msg("bad version 3 header %zu accepted", i);
	assert_int_equal(queuefile_parse(good, sizeof(good) - 1, &qf, &err), 0);
	assert_string_equal(qf.prepend, "A: b\n");
	queuefile_free(&qf);
}

static void test_notify_text_round_trip(void **state)
{
	char out[QUEUEFILE_NOTIFY_TEXT_MAX];
	unsigned bits;

	(void)state;
	assert_int_equal(queuefile_notify_parse("delay,Success", 13, &bits), 0);
	queuefile_notify_format(bits, out, sizeof(out));
	assert_string_equal(out, "SUCCESS,DELAY");
	assert_int_equal(queuefile_notify_parse("NEVER", 5, &bits), 0);
	queuefile_notify_format(bits, out, sizeof(out));
	assert_string_equal(out, "NEVER");
	assert_int_equal(queuefile_notify_parse("", 0, &bits), -1);
	assert_int_equal(queuefile_notify_parse("SUCCESS,", 8, &bits), -1);
	assert_int_equal(queuefile_notify_parse("SUCCESS,SUCCESS", 15, &bits), -1);
	assert_int_equal(queuefile_notify_parse("NEVER,DELAY", 11, &bits), -1);
}

/* Issue 9 item 8: NOTIFY of a recipient named twice is the union of
 * what both asked for (RFC 3461 4.1 keeps NEVER alone). */
static void test_notify_merge(void **state)
{
	const unsigned N = QUEUEFILE_NOTIFY_NEVER, S = QUEUEFILE_NOTIFY_SUCCESS,
		F = QUEUEFILE_NOTIFY_FAILURE, D = QUEUEFILE_NOTIFY_DELAY;
	static const struct { unsigned a, b, want; } cases[] = {
		{ 0, 0, 0 }, { N, N, N }, { S, S, S },
		{ N, S, S }, { N, 0, 0 }, { N, F | D, F | D },
		{ 0, S, S | F | D }, { S, F, S | F }, { D, S | F, S | F | D },
		{ 0, F | D, F | D }, { 0, F, F | D },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned ab = queuefile_notify_merge(cases[i].a, cases[i].b);

		assert_int_equal(ab, cases[i].want);
		assert_int_equal(queuefile_notify_merge(cases[i].b, cases[i].a), cases[i].want);
		assert_true(!(ab & N) || ab == N);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_keeps_envelope_and_data),
		cmocka_unit_test(test_mark_survives_reopen),
		cmocka_unit_test(test_abort_leaves_nothing),
		cmocka_unit_test(test_bad_envelope_refused),
		cmocka_unit_test(test_size_mismatch_refused),
		cmocka_unit_test(test_parse_good_header),
		cmocka_unit_test(test_parse_refuses_damage),
		cmocka_unit_test(test_parse_refuses_overlong_address),
		cmocka_unit_test(test_v2_round_trip_keeps_dsn_fields),
		cmocka_unit_test(test_version_1_still_read),
		cmocka_unit_test(test_v2_parse_refuses_misplaced_options),
		cmocka_unit_test(test_v3_prepend_slot),
		cmocka_unit_test(test_v3_parse_prepend),
		cmocka_unit_test(test_notify_text_round_trip),
		cmocka_unit_test(test_notify_merge),
	};

	return cmocka_run_group_tests(tests, test_setup, test_teardown);
}
