/* Unit tests for the envelope smtpd sends to enqueue (common/
 * enqueue_client.c, enqueue_begin_env): the record contract of
 * docs/protocols.md with the DSN and SMTPUTF8 fields (ret, envid, body,
 * smtputf8; notify and orcpt right after the rcpt they belong to), the
 * data chunks, the answer, and the early queue ID.  A fake enqueue listens on
 * private/enqueue in a temp directory; the client runs in a child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "enqueue_client.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_envelope.XXXXXX");
	if (mkdtemp(dir) == NULL || chdir(dir) < 0 || mkdir("private", 0700) < 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink("private/enqueue");
	rmdir("private");
	if (chdir("/") == 0)
		rmdir(dir);
	return 0;
}

/* The client: one message with two recipients, DSN on the first. */
static _Noreturn void run_client(void)
{
	struct enqueue_rcpt rcpts[2] = {
		{ "alice@example.test", "SUCCESS,FAILURE", "rfc822;alice+x@example.test" },
		{ "bob@example.test", NULL, NULL },
	};
	struct enqueue_envelope env = {
		.sender = "s@example.org", .rcpts = rcpts, .nrcpt = 2, .client = "127.0.0.1",
		.helo = "c.example", .proto = "UTF8SMTPSA", .ret = "HDRS", .envid = "QQ+314",
		.body = "8BITMIME", .smtputf8 = 1,
	};
	struct enqueue *e;
	const char *err;
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	int permanent;

	if (enqueue_begin_env(&e, &env, &err) < 0)
		_exit(10);
	if (enqueue_write(e, "Subject: x\n\nhi\n", 15) < 0)
		_exit(11);
	if (enqueue_finish(e, id, sizeof(id), &permanent, &err) < 0)
		_exit(12);
	enqueue_abort(&e);
	_exit(strcmp(id, "ABC123") == 0 ? 0 : 13);
}

static void test_envelope_carries_dsn_fields_in_order(void **state)
{
	static const char *const want[][2] = {
		{ "sender", "s@example.org" }, { "rcpt", "alice@example.test" },
		{ "notify", "SUCCESS,FAILURE" }, { "orcpt", "rfc822;alice+x@example.test" },
		{ "rcpt", "bob@example.test" }, { "client", "127.0.0.1" }, { "helo", "c.example" },
		{ "proto", "UTF8SMTPSA" }, { "ret", "HDRS" }, { "envid", "QQ+314" },
		{ "body", "8BITMIME" }, { "smtputf8", "1" },
	};
	struct record rec = { 0 };
	struct buf data;
	struct stream *s;
	const char *err;
	size_t n;
	int lfd, fd, status;
	pid_t pid;

	(void)state;
	lfd = unix_listen("private/enqueue", 0600, 4);
	assert_true(lfd >= 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		run_client();
	fd = accept(lfd, NULL, NULL);
	assert_true(fd >= 0);
	s = stream_new(fd, fd, 65536, 5000);
	assert_int_equal(record_read(s, &rec, &err), STREAM_OK);
	assert_int_equal(rec.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < rec.n; i++) {
		assert_string_equal(rec.fields[i].key, want[i][0]);
		assert_string_equal(rec.fields[i].value, want[i][1]);
	}
	buf_init(&data, 4096);
	do
		assert_int_equal(record_read_chunk(s, &data, &n), STREAM_OK);
	while (n > 0);
	assert_string_equal(buf_cstr(&data), "Subject: x\n\nhi\n");
	stream_puts(s, "status=ok\nqueue_id=ABC123\n\n");
	assert_int_equal(stream_flush(s), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	buf_free(&data);
	record_clear(&rec);
	stream_free(&s);
	close(fd);
	close(lfd);
}

/* early_id=1 (docs/protocols.md): the queue ID comes before the data;
 * a refusal of the envelope itself comes back as begin's reason, a
 * malformed ID as an error.  mode: the fake's answer to the envelope. */
static _Noreturn void run_early_client(int mode)
{
	struct enqueue_rcpt rcpt = { "alice@example.test", NULL, NULL };
	struct enqueue_envelope env = { .sender = "s@example.org", .rcpts = &rcpt, .nrcpt = 1, .early_id = 1 };
	struct enqueue *e;
	const char *err;
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	int permanent;

	if (enqueue_begin_env(&e, &env, &err) < 0)
		_exit(mode == 1 && strcmp(err, "bad envelope") == 0 ? 0
		      : mode == 2 && strcmp(err, "malformed queue ID from enqueue") == 0 ? 0 : 20);
	if (mode != 0 || strcmp(enqueue_queue_id(e), "E1") != 0)
		_exit(21);
	if (enqueue_write(e, "S: x\n\nhi\n", 10) < 0 || enqueue_finish(e, id, sizeof(id), &permanent, &err) < 0)
		_exit(22);
	enqueue_abort(&e);
	_exit(strcmp(id, "E1") == 0 ? 0 : 23);
}

static void test_early_id_before_the_data(void **state)
{
	static const char *const answers[] = { "queue_id=E1\n\n", "status=fail\nreason=bad envelope\n\n",
						"queue_id=E 1\n\n" };

	(void)state;
	for (int mode = 0; mode < 3; mode++) {
		struct record rec = { 0 };
		struct buf data;
		struct stream *s;
		const char *err, *v;
		size_t n;
		int lfd = unix_listen("private/enqueue", 0600, 4), fd, status;
		pid_t pid;

		assert_true(lfd >= 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0)
			run_early_client(mode);
		fd = accept(lfd, NULL, NULL);
		assert_true(fd >= 0);
		s = stream_new(fd, fd, 65536, 5000);
		assert_int_equal(record_read(s, &rec, &err), STREAM_OK);
		assert_non_null(v = record_get(&rec, "early_id"));
		assert_string_equal(v, "1");
		stream_puts(s, answers[mode]);
		assert_int_equal(stream_flush(s), 0);
		if (mode == 0) {   /* then the data, then the answer */
			buf_init(&data, 4096);
			do
				assert_int_equal(record_read_chunk(s, &data, &n), STREAM_OK);
			while (n > 0);
			assert_string_equal(buf_cstr(&data), "S: x\n\nhi\n");
			buf_free(&data);
			stream_puts(s, "status=ok\nqueue_id=E1\n\n");
			assert_int_equal(stream_flush(s), 0);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		record_clear(&rec);
		stream_free(&s);
		close(fd);
		close(lfd);
		unlink("private/enqueue");
	}
}

static void test_envelope_refuses_too_many_fields(void **state)
{
	static struct enqueue_rcpt many[RECORD_MAX_FIELDS];
	struct enqueue_envelope env = { .sender = "", .rcpts = many, .nrcpt = RECORD_MAX_FIELDS / 2 };
	struct enqueue *e = NULL;
	const char *err = NULL;

	(void)state;
	for (size_t i = 0; i < RECORD_MAX_FIELDS; i++)
		many[i] = (struct enqueue_rcpt){ "a@example.test", "NEVER", "rfc822;a@example.test" };
	/* 1024 recipients with three fields each: more than a record holds;
	 * refused before anything is sent. */
	assert_int_equal(enqueue_begin_env(&e, &env, &err), -1);
	assert_null(e);
	assert_non_null(strstr(err, "recipient count"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_carries_dsn_fields_in_order),
		cmocka_unit_test(test_early_id_before_the_data),
		cmocka_unit_test(test_envelope_refuses_too_many_fields),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
