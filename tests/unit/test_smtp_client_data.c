/* Unit tests for common/smtp_client_data.c, the DATA pump of the SMTP and
 * LMTP clients: the exact wire form (prepended fields first, CRLF for
 * every LF, CRLF and bare CR, a leading dot doubled, the final dot after
 * a last line without LF), a prepend longer than one block, and the two
 * failures (our file unreadable: -2; the connection gone: -1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "smtp_client_data.h"

/* A file holding text, for the body. */
static int body_file(const char *text)
{
	FILE *f = tmpfile();
	int fd;

	assert_non_null(f);
	fd = dup(fileno(f));
	fclose(f);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	return fd;
}

/* Pump b into a file; the wire bytes into *out (malloc'd), their count. */
static size_t pump(const struct smtp_client_body *b, int *ret_r, char **out)
{
	FILE *f = tmpfile();
	int fd;
	struct stream *s;
	off_t len;

	assert_non_null(f);
	fd = fileno(f);
	s = stream_new(-1, fd, 1024, 1000);
	assert_non_null(s);
	*ret_r = smtp_client_send_data(s, b);
	stream_free(&s);
	len = lseek(fd, 0, SEEK_END);
	*out = malloc((size_t)len + 1);
	assert_non_null(*out);
	assert_int_equal(pread(fd, *out, (size_t)len, 0), len);
	(*out)[len] = '\0';
	fclose(f);
	return (size_t)len;
}

static void test_wire_form_of_prepend_and_body(void **state)
{
	const char *text = "XXSubject: t\n\n.dot\nbare\rcr\r\nmid..dots\n.\nend";
	const char *prepend = "DKIM-Signature: v=1;\n\tb=abc\n";
	struct smtp_client_body b = { .prepend = prepend, .prepend_len = strlen(prepend),
				      .fd = body_file(text), .offset = 2, .size = (off_t)strlen(text) - 2 };
	char *wire;
	int ret;

	(void)state;
	pump(&b, &ret, &wire);
	assert_int_equal(ret, 0);
	assert_string_equal(wire, "DKIM-Signature: v=1;\r\n\tb=abc\r\nSubject: t\r\n\r\n..dot\r\nbare\r\ncr\r\n"
				  "mid..dots\r\n..\r\nend\r\n.\r\n");
	free(wire);
	close(b.fd);
}

static void test_empty_message_is_only_the_final_dot(void **state)
{
	struct smtp_client_body b = { .fd = -1 };
	char *wire;
	int ret;

	(void)state;
	pump(&b, &ret, &wire);
	assert_int_equal(ret, 0);
	assert_string_equal(wire, ".\r\n");
	free(wire);
}

static void test_prepend_longer_than_a_block_is_sent_whole(void **state)
{
	size_t n = SMTP_CLIENT_DATA_BLOCK + 1004, len;   /* a multiple of 10: ends in LF */
	char *prepend = malloc(n), *wire;
	struct smtp_client_body b = { .fd = -1 };
	int ret;

	(void)state;
	assert_non_null(prepend);
	for (size_t i = 0; i < n; i++)
		prepend[i] = i % 10 == 9 ? '\n' : 'a';
	b.prepend = prepend;
	b.prepend_len = n;
	len = pump(&b, &ret, &wire);
	assert_int_equal(ret, 0);
	/* every LF became CRLF, then ".\r\n" */
	assert_int_equal(len, n + n / 10 + 3);
	assert_memory_equal(wire + len - 5, "\r\n.\r\n", 5);
	free(wire);
	free(prepend);
}

static void test_unreadable_file_is_minus_two(void **state)
{
	struct smtp_client_body b = { .fd = body_file("short\n"), .size = 100 };   /* past the end */
	char *wire;
	int ret;

	(void)state;
	pump(&b, &ret, &wire);
	assert_int_equal(ret, -2);
	free(wire);
	close(b.fd);
}

static void test_lost_connection_is_minus_one(void **state)
{
	struct smtp_client_body b = { .fd = body_file("hello\n"), .size = 6 };
	struct stream *s;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	s = stream_new(sv[0], sv[0], 1024, 1000);
	assert_non_null(s);
	assert_int_equal(smtp_client_send_data(s, &b), -1);
	stream_free(&s);
	close(sv[0]);
	close(b.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_form_of_prepend_and_body),
		cmocka_unit_test(test_empty_message_is_only_the_final_dot),
		cmocka_unit_test(test_prepend_longer_than_a_block_is_sent_whole),
		cmocka_unit_test(test_unreadable_file_is_minus_two),
		cmocka_unit_test(test_lost_connection_is_minus_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
