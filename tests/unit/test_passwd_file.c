/* test_passwd_file: users-file parsing and password verification
 * (common/passwd_file.c), with real crypt(3) hashes made at run time. */
#include <crypt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "passwd_file.h"

/* Hash password with a fresh salt of the given method ("$y$", "$6$"). */
static void make_hash(const char *prefix, const char *password, char *out, size_t outlen)
{
	char setting[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *h;

	memset(&cd, 0, sizeof(cd));
	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, setting, sizeof(setting)));
	h = crypt_rn(password, setting, &cd, sizeof(cd));
	assert_non_null(h);
	assert_true(strlen(h) < outlen);
	snprintf(out, outlen, "%s", h);
}

static struct passwd_file *parse_ok(const char *text)
{
	struct passwd_file *pf = NULL;
	const char *err = NULL;

	if (passwd_file_parse(text, strlen(text), &pf, &err) < 0)
		fail_msg("parse failed: %s", err);
	return pf;
}

static const char *parse_err(const char *text)
{
	struct passwd_file *pf = NULL;
	const char *err = NULL;

	assert_int_equal(passwd_file_parse(text, strlen(text), &pf, &err), -1);
	assert_null(pf);
	return err;
}

static void test_comments_blank_lines_and_extra_fields(void **state)
{
	struct passwd_file *pf = parse_ok("# users\n\nalice@example.test:$6$x$y:1000:extra\r\n"
					  "  # indented comment\nbob@example.test:$y$abc\n");
	const char *canon = NULL;
	(void)state;

	assert_int_equal(passwd_file_count(pf), 2);
	assert_string_equal(passwd_file_lookup(pf, "alice@example.test", 18, &canon), "$6$x$y");
	assert_string_equal(canon, "alice@example.test");
	assert_string_equal(passwd_file_lookup(pf, "bob@example.test", 16, NULL), "$y$abc");
	passwd_file_free(&pf);
	assert_null(pf);
}

static void test_lookup_folds_case(void **state)
{
	struct passwd_file *pf = parse_ok("Alice@Example.TEST:$6$a$b\n");
	const char *canon = NULL;
	(void)state;

	assert_string_equal(passwd_file_lookup(pf, "ALICE@example.test", 18, &canon), "$6$a$b");
	assert_string_equal(canon, "alice@example.test");
	assert_null(passwd_file_lookup(pf, "alice@example.tes", 17, NULL));
	assert_null(passwd_file_lookup(pf, "", 0, NULL));
	assert_null(passwd_file_lookup(pf, "alice@example.test\0x", 20, NULL));
	passwd_file_free(&pf);
}

static void test_last_line_without_newline(void **state)
{
	struct passwd_file *pf = parse_ok("a@x:$6$a$b\nb@x:$6$c$d");
	(void)state;

	assert_string_equal(passwd_file_lookup(pf, "b@x", 3, NULL), "$6$c$d");
	passwd_file_free(&pf);
}

static void test_malformed_lines_are_errors_with_line_numbers(void **state)
{
	(void)state;
	assert_string_equal(parse_err("a@x:$6$a$b\nno-colon-here\n"), "line 2: expected address:hash");
	assert_string_equal(parse_err("a@x:\n"), "line 1: bad or empty password hash");
	assert_string_equal(parse_err(":$6$a$b\n"), "line 1: bad address");
	assert_string_equal(parse_err("a b@x:$6$a$b\n"), "line 1: bad address");
	assert_string_equal(parse_err(" a@x:$6$a$b\n"), "line 1: leading white space");
}

static void test_duplicate_address_is_an_error(void **state)
{
	(void)state;
	assert_string_equal(parse_err("a@x:$6$a$b\nb@x:$6$a$b\nA@X:$6$c$d\n"),
			    "line 3: duplicate address");
}

static void test_overlong_line_is_an_error(void **state)
{
	char *text = malloc(PASSWD_LINE_MAX + 64);
	(void)state;

	memcpy(text, "ok@x:$6$a$b\n", 12);
	memset(text + 12, 'a', PASSWD_LINE_MAX + 10);
	text[12 + PASSWD_LINE_MAX + 10] = '\0';
	assert_string_equal(parse_err(text), "line 2: line too long");
	free(text);
}

static void test_nul_byte_is_an_error(void **state)
{
	struct passwd_file *pf = NULL;
	const char *err = NULL;
	static const char text[] = "a@x:$6$a\0b\n";
	(void)state;

	assert_int_equal(passwd_file_parse(text, sizeof(text) - 1, &pf, &err), -1);
	assert_string_equal(err, "line 1: NUL byte in line");
}

static void test_yescrypt_and_sha512_verify(void **state)
{
	char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE], text[2 * CRYPT_OUTPUT_SIZE + 64];
	struct passwd_file *pf;
	const char *canon = NULL;
	(void)state;

	make_hash("$y$", "correct horse", h1, sizeof(h1));
	make_hash("$6$", "p\xc3\xa4ss word", h2, sizeof(h2));
	snprintf(text, sizeof(text), "alice@example.test:%s\nbob@example.test:%s:x\n", h1, h2);
	pf = parse_ok(text);
	assert_int_equal(passwd_file_verify(pf, "Alice@example.test", 18, "correct horse", 13, &canon), 1);
	assert_string_equal(canon, "alice@example.test");
	assert_int_equal(passwd_file_verify(pf, "alice@example.test", 18, "correct hors", 12, NULL), 0);
	assert_int_equal(passwd_file_verify(pf, "alice@example.test", 18, "correct horse!", 14, NULL), 0);
	assert_int_equal(passwd_file_verify(pf, "bob@example.test", 16, "p\xc3\xa4ss word", 10, NULL), 1);
	assert_int_equal(passwd_file_verify(pf, "bob@example.test", 16, "correct horse", 13, NULL), 0);
	passwd_file_free(&pf);
}

static void test_unknown_user_fails_even_with_a_known_password(void **state)
{
	char h[CRYPT_OUTPUT_SIZE], text[CRYPT_OUTPUT_SIZE + 64];
	struct passwd_file *pf;
	const char *canon = NULL;
	(void)state;

	make_hash("$y$", "secret", h, sizeof(h));
	snprintf(text, sizeof(text), "alice@example.test:%s\n", h);
	pf = parse_ok(text);
	/* The dummy is alice's hash: her password must still not open a
	 * non-existent account. */
	assert_int_equal(passwd_file_verify(pf, "mallory@example.test", 20, "secret", 6, &canon), 0);
	assert_null(canon);
	passwd_file_free(&pf);

	pf = parse_ok("# nobody here\n");
	assert_int_equal(passwd_file_verify(pf, "x@y", 3, "secret", 6, NULL), 0);
	passwd_file_free(&pf);
}

static void test_nul_in_password_and_locked_hashes_never_match(void **state)
{
	char h[CRYPT_OUTPUT_SIZE];
	char *longpw = malloc(PASSWD_SECRET_MAX + 2);
	(void)state;

	make_hash("$6$", "ab", h, sizeof(h));
	assert_int_equal(passwd_hash_verify(h, "ab", 2), 1);
	assert_int_equal(passwd_hash_verify(h, "ab\0c", 4), 0);
	assert_int_equal(passwd_hash_verify("!", "ab", 2), 0);
	assert_int_equal(passwd_hash_verify("*", "", 0), 0);
	assert_int_equal(passwd_hash_verify("", "", 0), 0);
	memset(longpw, 'a', PASSWD_SECRET_MAX + 1);
	longpw[PASSWD_SECRET_MAX + 1] = '\0';
	assert_int_equal(passwd_hash_verify(h, longpw, PASSWD_SECRET_MAX + 1), 0);
	free(longpw);
}

static void test_load_reads_file_and_refuses_non_regular(void **state)
{
	char dir[] = "/tmp/test_passwd_XXXXXX", path[256];
	struct passwd_file *pf = NULL;
	struct stat st;
	const char *err = NULL;
	FILE *f;
	(void)state;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/users", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("a@x:$6$a$b\n", f);
	fclose(f);
	assert_int_equal(passwd_file_load(path, &pf, &st, &err), 0);
	assert_int_equal(passwd_file_count(pf), 1);
	assert_int_equal(st.st_size, 11);
	passwd_file_free(&pf);
	assert_int_equal(passwd_file_load(dir, &pf, NULL, &err), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(path);
	assert_int_equal(passwd_file_load(path, &pf, NULL, &err), -1);
	assert_non_null(strstr(err, "No such file"));
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_comments_blank_lines_and_extra_fields),
		cmocka_unit_test(test_lookup_folds_case),
		cmocka_unit_test(test_last_line_without_newline),
		cmocka_unit_test(test_malformed_lines_are_errors_with_line_numbers),
		cmocka_unit_test(test_duplicate_address_is_an_error),
		cmocka_unit_test(test_overlong_line_is_an_error),
		cmocka_unit_test(test_nul_byte_is_an_error),
		cmocka_unit_test(test_yescrypt_and_sha512_verify),
		cmocka_unit_test(test_unknown_user_fails_even_with_a_known_password),
		cmocka_unit_test(test_nul_in_password_and_locked_hashes_never_match),
		cmocka_unit_test(test_load_reads_file_and_refuses_non_regular),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
