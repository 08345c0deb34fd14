/* Unit tests for common/recipient.c: splitting an address like local
 * delivery does, the RCPT-time lookup (aliases, bare keys, +tags,
 * mailboxes, catch-all, postmaster, LMTP domains, map errors) and the
 * transport map values. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "recipient.h"

static char dir[64];

/* Compile text into DIR/name.cdb and open it. */
static struct cdbmap *make_map(const char *name, const char *text)
{
	char src[128], dst[128];
	struct cdbmap *m = NULL;
	const char *error;
	int fd;

	snprintf(src, sizeof src, "%s/%s", dir, name);
	snprintf(dst, sizeof dst, "%s/%s.cdb", dir, name);
	fd = open(src, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(cdbmap_compile(src, dst, &error), 0);
	assert_int_equal(cdbmap_open(dst, &m, &error), 0);
	return m;
}

static struct recipient_maps maps;

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_recipient_XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	maps.mailboxes = make_map("mailboxes", "alice@example.org example.org/alice/\n"
				  "bob@example.org example.org/bob/\n");
	maps.aliases = make_map("aliases", "team@example.org alice, bob\n"
				"abuse alice@example.org\n"
				"@catch.example alice@example.org\n"
				"list@example.org alice\n");
	maps.transport = make_map("transport", "lmtp.example lmtp:127.0.0.1:24\n"
				  "plain.example local\n"
				  "broken.example smtp:mx.example\n");
	maps.delimiters = "+-";
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	cdbmap_close(&maps.mailboxes);
	cdbmap_close(&maps.aliases);
	cdbmap_close(&maps.transport);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int lookup(const char *addr)
{
	const char *error;

	return recipient_lookup(&maps, addr, strlen(addr), &error);
}

static void test_recipient_split_tag_and_base(void **state)
{
	struct recipient_parts p;
	const char *a = "alice+lists@example.org";

	(void)state;
	assert_int_equal(recipient_split(a, strlen(a), "+", &p), 0);
	assert_string_equal(p.local, "alice+lists");
	assert_string_equal(p.domain, "example.org");
	assert_string_equal(p.base, "alice");
	assert_string_equal(p.base_addr, "alice@example.org");
	assert_string_equal(p.tag, "lists");
}

static void test_recipient_split_without_delimiter_has_no_tag(void **state)
{
	struct recipient_parts p;
	const char *a = "alice+lists@example.org";

	(void)state;
	assert_int_equal(recipient_split(a, strlen(a), "", &p), 0);
	assert_null(p.tag);
	assert_int_equal(recipient_split("+x@d", 4, "+", &p), 0);   /* leading delimiter: no base */
	assert_null(p.tag);
	assert_int_equal(recipient_split("\"a+b\"@d", 7, "+", &p), 0);   /* quoted: never split */
	assert_null(p.tag);
	assert_int_equal(recipient_split("noat", 4, "+", &p), -1);
	assert_int_equal(recipient_split("@d", 2, "+", &p), -1);
}

static void test_recipient_known_mailbox_and_alias(void **state)
{
	(void)state;
	assert_int_equal(lookup("alice@example.org"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("ALICE@Example.ORG"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("team@example.org"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("abuse@example.org"), RECIPIENT_KNOWN);   /* bare key */
	assert_int_equal(lookup("nobody@example.org"), RECIPIENT_UNKNOWN);
}

static void test_recipient_plus_address_uses_the_base(void **state)
{
	(void)state;
	assert_int_equal(lookup("alice+news@example.org"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("bob-x@example.org"), RECIPIENT_KNOWN);    /* second delimiter */
	assert_int_equal(lookup("list+x@example.org"), RECIPIENT_KNOWN);   /* alias base */
	assert_int_equal(lookup("abuse+x@example.org"), RECIPIENT_KNOWN);  /* bare base */
	assert_int_equal(lookup("carol+news@example.org"), RECIPIENT_UNKNOWN);
}

static void test_recipient_catch_all_and_postmaster(void **state)
{
	(void)state;
	assert_int_equal(lookup("anything@catch.example"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("postmaster@nowhere.example"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("PostMaster@example.org"), RECIPIENT_KNOWN);
}

static void test_recipient_lmtp_domain_accepts_everyone(void **state)
{
	(void)state;
	assert_int_equal(lookup("whoever@lmtp.example"), RECIPIENT_KNOWN);
	assert_int_equal(lookup("whoever@plain.example"), RECIPIENT_UNKNOWN);
	/* A bad transport entry is a configuration error, not a 550. */
	assert_int_equal(lookup("whoever@broken.example"), RECIPIENT_ERROR);
}

static void test_recipient_without_maps_knows_only_postmaster(void **state)
{
	struct recipient_maps none = { 0 };
	const char *error;

	(void)state;
	assert_int_equal(recipient_lookup(&none, "a@b", 3, &error), RECIPIENT_UNKNOWN);
	assert_int_equal(recipient_lookup(&none, "postmaster@b", 12, &error), RECIPIENT_KNOWN);
	assert_int_equal(recipient_lookup(&none, "bad", 3, &error), RECIPIENT_UNKNOWN);
}

static void test_recipient_transport_values(void **state)
{
	struct buf d;
	const char *error;

	(void)state;
	buf_init(&d, RECIPIENT_TRANSPORT_MAX);
	assert_int_equal(recipient_transport_parse("lmtp:unix:private/lmtp", 22, &d, &error), 1);
	assert_string_equal(buf_cstr(&d), "unix:private/lmtp");
	assert_int_equal(recipient_transport_parse(" LMTP:[::1]:24 ", 15, &d, &error), 1);
	assert_string_equal(buf_cstr(&d), "[::1]:24");
	assert_int_equal(recipient_transport_parse("local", 5, &d, &error), 0);
	assert_int_equal(recipient_transport_parse("lmtp:", 5, &d, &error), -1);
	assert_int_equal(recipient_transport_parse("lmtp:a b", 8, &d, &error), -1);
	assert_int_equal(recipient_transport_parse("smtp:x", 6, &d, &error), -1);
	assert_int_equal(recipient_transport_parse("lmtp:\n", 6, &d, &error), -1);
	assert_int_equal(recipient_transport(&maps, "lmtp.example", 12, &d, &error), 1);
	assert_string_equal(buf_cstr(&d), "127.0.0.1:24");
	assert_int_equal(recipient_transport(&maps, "other.example", 13, &d, &error), 0);
	buf_free(&d);
}

/* Issue 9 item 8: spellings of one local mailbox are one recipient. */
static void test_recipient_same_mailbox(void **state)
{
	static const struct { const char *a, *b; int same; } cases[] = {
		{ "bob@example.org", "bob@example.org", 1 },
		{ "bob@example.org", "BOB@example.org", 1 },
		{ "Bob+news@example.org", "bOB+news@example.org", 1 },
		{ "bob+News@example.org", "bob+news@example.org", 0 },   /* folder names keep case */
		{ "bob+news@example.org", "bob@example.org", 0 },
		{ "bob+x@example.org", "bob-x@example.org", 0 },
		{ "bob@example.org", "bobb@example.org", 0 },
		{ "alice@example.org", "bob@example.org", 0 },
		{ "bob@lmtp.example", "BOB@lmtp.example", 0 },          /* the LMTP server decides */
		{ "bob@lmtp.example", "bob@lmtp.example", 1 },
		{ "bob@broken.example", "BOB@broken.example", 0 },      /* bad transport entry */
		{ "\"a b\"@example.org", "\"A B\"@example.org", 1 },
		{ "noat", "NOAT", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *a = cases[i].a, *b = cases[i].b;

		assert_int_equal(recipient_same_mailbox(&maps, a, strlen(a), b, strlen(b)), cases[i].same);
		assert_int_equal(recipient_same_mailbox(&maps, b, strlen(b), a, strlen(a)), cases[i].same);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_recipient_split_tag_and_base),
		cmocka_unit_test(test_recipient_split_without_delimiter_has_no_tag),
		cmocka_unit_test(test_recipient_known_mailbox_and_alias),
		cmocka_unit_test(test_recipient_plus_address_uses_the_base),
		cmocka_unit_test(test_recipient_catch_all_and_postmaster),
		cmocka_unit_test(test_recipient_lmtp_domain_accepts_everyone),
		cmocka_unit_test(test_recipient_without_maps_knows_only_postmaster),
		cmocka_unit_test(test_recipient_transport_values),
		cmocka_unit_test(test_recipient_same_mailbox),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
