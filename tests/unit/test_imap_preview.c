/* Unit tests for common/imap_preview.c: which part is shown, what is
 * left out (quotes, signature, markup), white space, the 256-character
 * cut and UTF-8 (RFC 8970). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_preview.h"
#include "utf8.h"

/* The preview of a message given with LF line ends, as a C string. */
static char *preview(const char *msg)
{
	struct mime_message *m = NULL;
	const char *err;
	struct buf out;
	char *s;

	assert_int_equal(mime_parse(msg, strlen(msg), &m, &err), 0);
	buf_init(&out, 1 << 16);
	assert_int_equal(imap_preview_make(msg, strlen(msg), m, &out), 0);
	assert_true(utf8_valid(out.data != NULL ? out.data : "", out.len));
	s = strndup(out.data != NULL ? out.data : "", out.len);
	buf_free(&out);
	mime_message_free(&m);
	return s;
}

static void check(const char *msg, const char *want)
{
	char *got = preview(msg);
	assert_string_equal(got, want);
	free(got);
}

static void test_plain_text_with_quotes_and_signature(void **state)
{
	(void)state;
	check("Subject: x\n\nHello Bob,\n\n> what you wrote\n>> before\n  the   answer\tis 42.\n-- \nAlice\nPhone\n",
	      "Hello Bob, the answer is 42.");
	check("Subject: empty\n\n", "");
	check("Subject: x\n\n\n\n   \n", "");
}

static void test_first_plain_part_not_attachments_not_html(void **state)
{
	(void)state;
	check("Content-Type: multipart/mixed; boundary=b\n\n"
	      "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nattached text\n"
	      "--b\nContent-Type: multipart/alternative; boundary=c\n\n"
	      "--c\nContent-Type: text/html\n\n<p>html one</p>\n"
	      "--c\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
	      "Gr=FC=DFe aus K=F6ln\n"
	      "--c--\n--b--\n",
	      "Gr\xc3\xbc\xc3\x9f" "e aus K\xc3\xb6ln");
}

static void test_html_only_loses_its_markup(void **state)
{
	(void)state;
	check("Content-Type: text/html\n\n<html><head><title>T</title><style>p{color:red}</style></head>"
	      "<body><p>One&amp;two</p><br><script>var x=1;</script>three &#8364; &lt;x&gt;</body></html>\n",
	      "One&two three \xe2\x82\xac <x>");
}

static void test_attached_message_is_not_shown(void **state)
{
	(void)state;
	check("Content-Type: multipart/mixed; boundary=b\n\n"
	      "--b\nContent-Type: message/rfc822\n\nSubject: inner\n\ninner text\n--b--\n", "");
}

static void test_cut_at_256_characters_never_inside_one(void **state)
{
	char msg[4096] = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n";
	(void)state;
	for (int i = 0; i < 300; i++)
		strcat(msg, "\xc3\xa9");   /* e-acute, two bytes */
	strcat(msg, "\n");
	char *got = preview(msg);
	assert_int_equal(strlen(got), 2 * IMAP_PREVIEW_CHARS);
	free(got);
	/* Malformed bytes become U+FFFD; control characters spaces. */
	check("Subject: x\n\nab\xff\x01" "cd\n", "ab\xef\xbf\xbd cd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_text_with_quotes_and_signature),
		cmocka_unit_test(test_first_plain_part_not_attachments_not_html),
		cmocka_unit_test(test_html_only_loses_its_markup),
		cmocka_unit_test(test_attached_message_is_not_shown),
		cmocka_unit_test(test_cut_at_256_characters_never_inside_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
