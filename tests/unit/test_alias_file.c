/* Unit tests for common/alias_file: the aliases file parser (golden
 * cases: input text -> entries "key => value" or "LINE: reason"), and
 * alias_file_compile (lookups, includes, file:line errors, the cdb
 * taking the owner and mode of its source). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alias.h"
#include "alias_file.h"
#include "cdbmap.h"

/* ---- golden cases for alias_file_parse ---- */

struct golden {
	const char *name;
	const char *in;
	const char *out;   /* entries, one "key => value\n" each, or "error LINE: reason\n" */
};

/* Included files for the golden cases: path -> text (NULL: missing). */
static const char *const includes[][2] = {
	{ "/lists/staff", "# staff list\nalice@example.test\n  bob, carol@example.test,\n\n" },
	{ "/lists/empty", "# nobody yet\n\n" },
	{ "/lists/cmd", "alice\n|/bin/true\n" },
	{ "/lists/nested", ":include:/lists/staff\n" },
	{ "/lists/bad", "alice\nal ice\n" },
	{ "relative", "dave@example.test\n" },
};

static int golden_entry(void *ctx, const char *key, size_t klen, const char *value, size_t vlen,
			const char **error_r)
{
	struct buf *out = ctx;

	if (klen == 4 && memcmp(key, "dup!", 4) == 0) {
		*error_r = "duplicate key";   /* stands in for the cdb's answer */
		return -1;
	}
	assert_int_equal(buf_printf(out, "%.*s => %.*s\n", (int)klen, key, (int)vlen, value), 0);
	return 0;
}

static int golden_include(void *ctx, const char *path, struct buf *text_r, const char **error_r)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof includes / sizeof includes[0]; i++)
		if (strcmp(includes[i][0], path) == 0)
			return buf_append_str(text_r, includes[i][1]);
	*error_r = "No such file or directory";
	return -1;
}

static const struct golden goldens[] = {
	{ "older form still works",
	  "team@example.test  alice, bob@example.test\npostmaster alice\n@example.test bob\n",
	  "team@example.test => alice, bob@example.test\npostmaster => alice\n@example.test => bob\n" },
	{ "aliases(5) colon",
	  "team: alice@example.test, bob@example.test\n",
	  "team => alice@example.test, bob@example.test\n" },
	{ "colon without space, space before colon",
	  "a:alice\nb : bob\nc@example.test:carol\n",
	  "a => alice\nb => bob\nc@example.test => carol\n" },
	{ "continuation lines",
	  "crew: alice@example.test,\n  bob@example.test,\n\tcarol\nnext: dave\n",
	  "crew => alice@example.test, bob@example.test, carol\nnext => dave\n" },
	{ "comment and blank line inside an entry",
	  "crew: alice,\n# bob left\n\n   carol\n",
	  "crew => alice, carol\n" },
	{ "key alone on its line, targets below",
	  "list:\n  alice,\n  bob\n",
	  "list => alice, bob\n" },
	{ "comma at the start of the continuation line",
	  "crew: alice\n  , bob\n",
	  "crew => alice, bob\n" },
	{ "trailing comma at the end of an entry",
	  "crew: alice, bob,\n",
	  "crew => alice, bob\n" },
	{ "quoted command and CRLF",
	  "archive: \"|/usr/bin/archive -a, -b\", alice\r\n",
	  "archive => \"|/usr/bin/archive -a, -b\", alice\n" },
	{ "unquoted command",
	  "log |cat >/dev/null\n",
	  "log => |cat >/dev/null\n" },
	{ "quoted local part key and target",
	  "\"john doe\"@example.test: \"jane doe\"@example.test\n",
	  "\"john doe\"@example.test => \"jane doe\"@example.test\n" },
	{ "quoted keys take the canonical form lookups use",
	  "\"bob\"@Example.TEST: alice\n\"carol\": alice\n\"a\\\\\\\"b\" :alice\n",
	  "bob@example.test => alice\ncarol => alice\n\"a\\\\\\\"b\" => alice\n" },
	{ "address literal key keeps its colons (domain folded)",
	  "bob@[IPv6:::1] alice\n",
	  "bob@[ipv6:::1] => alice\n" },
	{ "include expanded",
	  "staff: :include:/lists/staff, erin\n",
	  "staff => alice@example.test, bob, carol@example.test, erin\n" },
	{ "include in the older form and relative path",
	  "staff :include:relative\n",
	  "staff => dave@example.test\n" },
	{ "include, case of the prefix",
	  "staff: :INCLUDE:/lists/staff\n",
	  "staff => alice@example.test, bob, carol@example.test\n" },
	{ "comments only",
	  "# nothing\n\n   # indented comment\n",
	  "" },
	{ "no final newline",
	  "a: b",
	  "a => b\n" },
	/* errors */
	{ "continuation line alone at the top",
	  "  bob@example.test\nteam: alice\n",
	  "error 1: a line starting with white space continues an entry, but there is none above it\n" },
	{ "a continuation that lost its indent is a key without targets",
	  "crew: alice@example.test,\nbob@example.test\n",
	  "crew => alice@example.test\n"
	  "error 2: bob@example.test has no targets (a continuation line must start with a space or tab)\n" },
	{ "missing comma across lines",
	  "crew: alice\n  bob\n",
	  "error 2: missing comma between targets (the line above ends without one)\n" },
	{ "missing comma on one line",
	  "\n\nteam: alice bob\n",
	  "error 3: bad target: white space inside a target (a missing comma?)\n" },
	{ "key that is not an address",
	  "ok: alice\n<bob>: alice\n",
	  "ok => alice\nerror 2: key is not an address, a local part or @domain: <bob>\n" },
	{ "key with a bad domain",
	  "bob@exa_mple..test: alice\n",
	  "error 1: key is not a valid address: bob@exa_mple..test\n" },
	{ "catch-all without a domain",
	  "@: alice\n",
	  "error 1: key @ names no domain: @\n" },
	{ "line starting with a colon",
	  ":include:/lists/staff\n",
	  "error 1: the line starts with ':' (no key before it)\n" },
	{ "empty target between commas",
	  "team: alice,,bob\n",
	  "error 1: empty target (two commas in a row?)\n" },
	{ "leading comma on the key line",
	  "team: , bob\n",
	  "error 1: empty target (two commas in a row?)\n" },
	{ "unterminated quote",
	  "a: \"|cmd,\n  x\"\n",
	  "error 1: unterminated quote (a quoted target must end on its line)\n" },
	{ "unterminated quote in the key",
	  "\"bob: alice\n",
	  "error 1: unterminated quote in the key\n" },
	{ "file target refused",
	  "a: /var/mail/a\n",
	  "error 1: bad target: file targets (/path) are not supported: local delivers to Maildirs\n" },
	{ "empty command",
	  "a: |\n",
	  "error 1: bad target: empty command\n" },
	{ "control byte",
	  "a: |echo\001\n",
	  "error 1: bad target: control byte in target\n" },
	{ "NUL byte",
	  "a: b\nc: d\0e\n",
	  "error 2: NUL byte in line\n" },
	{ "duplicate key reported at its line",
	  "a: b\n\ndup!: c\n",
	  "a => b\nerror 3: dup!: duplicate key\n" },
	{ "bad line inside an include",
	  "x: y\nlist: :include:/lists/bad\n",
	  "x => y\nerror 2: :include:/lists/bad:2: bad target: white space inside a target (a missing comma?)\n" },
	{ "missing include",
	  "list: :include:/lists/none\n",
	  "error 1: :include:/lists/none: No such file or directory\n" },
	{ "empty include",
	  "list: :include:/lists/empty\n",
	  "error 1: :include:/lists/empty lists no targets\n" },
	{ "command inside an include",
	  "list: :include:/lists/cmd\n",
	  "error 1: :include:/lists/cmd:2: a command in an included file is not allowed\n" },
	{ "nested include",
	  "list: :include:/lists/nested\n",
	  "error 1: :include:/lists/nested:1: :include: inside an included file is not supported\n" },
	{ "include without a path",
	  "list: :include:\n",
	  "error 1: :include: names no file\n" },
};

/* Parse g->in (len bytes) with hooks (ctx: the output) and compare. */
static void run_golden(const struct golden *g, size_t len, int with_include)
{
	struct buf out;
	struct alias_file_hooks hooks = { .entry = golden_entry,
					  .include = with_include ? golden_include : NULL, .ctx = &out };
	struct alias_file_error err;

	buf_init(&out, 1 << 20);
	if (alias_file_parse(g->in, len, &hooks, &err) < 0)
		assert_int_equal(buf_printf(&out, "error %zu: %s\n", err.line, err.msg), 0);
	if (strcmp(buf_cstr(&out), g->out) != 0)
		fail_msg("%s:\n--- want\n%s--- got\n%s", g->name, g->out, buf_cstr(&out));
	buf_free(&out);
}

static void test_golden_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof goldens / sizeof goldens[0]; i++) {
		const struct golden *g = &goldens[i];
		/* The one case with a NUL byte needs its real length. */
		size_t len = strcmp(g->name, "NUL byte") == 0 ? sizeof "a: b\nc: d\0e\n" - 1 : strlen(g->in);

		run_golden(g, len, 1);
	}
}

static void test_include_refused_without_hook(void **state)
{
	const struct golden g = { "no hook", "list: :include:/lists/staff\n",
				  "error 1: :include: is not allowed here\n" };

	(void)state;
	run_golden(&g, strlen(g.in), 0);
}

static void test_limits(void **state)
{
	struct buf text, out;
	struct alias_file_hooks hooks = { .entry = golden_entry, .include = golden_include, .ctx = &out };
	struct alias_file_error err;

	(void)state;
	/* A line over the limit. */
	buf_init(&text, 1 << 22);
	buf_init(&out, 1 << 22);
	assert_int_equal(buf_append_str(&text, "a: "), 0);
	for (size_t i = 0; i < ALIAS_FILE_LINE_MAX; i++)
		assert_int_equal(buf_putc(&text, 'b'), 0);
	assert_int_equal(alias_file_parse(text.data, text.len, &hooks, &err), -1);
	assert_int_equal(err.line, 1);
	assert_string_equal(err.msg, "line longer than 4096 bytes");
	/* More targets than one entry may have, over continuation lines. */
	buf_reset(&text);
	assert_int_equal(buf_append_str(&text, "big:\n"), 0);
	for (size_t i = 0; i <= ALIAS_TARGETS_MAX; i++)
		assert_int_equal(buf_printf(&text, "  u%zu,\n", i), 0);
	assert_int_equal(alias_file_parse(text.data, text.len, &hooks, &err), -1);
	assert_int_equal(err.line, ALIAS_TARGETS_MAX + 2);
	assert_string_equal(err.msg, "more than 1000 targets in one entry");
	/* Exactly the limit is fine, and longer than the old 4096-byte line. */
	buf_reset(&text);
	assert_int_equal(buf_append_str(&text, "big:\n"), 0);
	for (size_t i = 0; i < ALIAS_TARGETS_MAX; i++)
		assert_int_equal(buf_printf(&text, "  u%zu,\n", i), 0);
	assert_int_equal(alias_file_parse(text.data, text.len, &hooks, &err), 0);
	assert_true(out.len > 4096);
	buf_free(&text);
	buf_free(&out);
}

/* ---- alias_file_compile ---- */

static char dir[64], src[128], dst[128], inc[128];

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_alias_file_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(src, sizeof src, "%s/aliases", dir);
	snprintf(dst, sizeof dst, "%s/aliases.cdb", dir);
	snprintf(inc, sizeof inc, "%s/staff.list", dir);
	return 0;
}

static int remove_dir(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void expect_map_value(const char *key, const char *value)
{
	struct cdbmap *m = NULL;
	const char *error;
	struct buf v;

	assert_int_equal(cdbmap_open(dst, &m, &error), 0);
	buf_init(&v, ALIAS_VALUE_MAX);
	assert_int_equal(cdbmap_lookup(m, key, strlen(key), &v), value != NULL ? 1 : 0);
	if (value != NULL)
		assert_string_equal(buf_cstr(&v), value);
	buf_free(&v);
	cdbmap_close(&m);
}

static void test_compile_aliases5_with_include(void **state)
{
	const char *error = NULL;
	time_t newest = 0;
	struct stat st;

	(void)state;
	write_file(inc, "carol@example.test\ndave\n", 0644);
	write_file(src, "Team: alice@example.test, bob@example.test\n"
		   "crew: alice@example.test,\n"
		   "  bob@example.test\n"
		   "staff: :include:staff.list\n", 0640);
	if (alias_file_compile(src, dst, &newest, &error) != 0)
		fail_msg("%s", error);
	expect_map_value("team", "alice@example.test, bob@example.test");
	expect_map_value("crew", "alice@example.test, bob@example.test");
	expect_map_value("staff", "carol@example.test, dave");
	expect_map_value("bob@example.test", NULL);   /* never a key of its own */
	expect_map_value("team:", NULL);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);   /* the source's mode */
	assert_true(newest > 0);
}

static void test_compile_error_names_file_and_line(void **state)
{
	const char *error = NULL;
	struct stat before, after;

	(void)state;
	write_file(src, "ok: alice\n", 0644);
	assert_int_equal(alias_file_compile(src, dst, NULL, &error), 0);
	assert_int_equal(stat(dst, &before), 0);
	write_file(src, "ok: alice\nteam alice bob\n", 0644);
	assert_int_equal(alias_file_compile(src, dst, NULL, &error), -1);
	assert_non_null(strstr(error, "/aliases:2: bad target: white space inside a target"));
	assert_int_equal(strncmp(error, src, strlen(src)), 0);
	assert_int_equal(stat(dst, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);   /* the old map stays */
	write_file(src, "a: b\nA: c\n", 0644);
	assert_int_equal(alias_file_compile(src, dst, NULL, &error), -1);
	assert_non_null(strstr(error, "/aliases:2: A: duplicate key"));
}

static void test_compile_refuses_world_writable_include(void **state)
{
	const char *error = NULL;

	(void)state;
	write_file(inc, "carol@example.test\n", 0666);
	write_file(src, "staff: :include:staff.list\n", 0644);
	assert_int_equal(alias_file_compile(src, dst, NULL, &error), -1);
	assert_non_null(strstr(error, "/aliases:1: :include:staff.list: writable by others"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_cases),
		cmocka_unit_test(test_include_refused_without_hook),
		cmocka_unit_test(test_limits),
		cmocka_unit_test_setup_teardown(test_compile_aliases5_with_include, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_compile_error_names_file_and_line, setup_dir, remove_dir),
		cmocka_unit_test_setup_teardown(test_compile_refuses_world_writable_include, setup_dir, remove_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
