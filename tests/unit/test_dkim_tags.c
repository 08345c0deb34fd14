/* Unit tests for common/dkim_tags.c: the signature of RFC 6376
 * appendix A.2 and the key record of appendix C, syntax errors,
 * duplicates and limits.  Where python3-dkim 1.1.4's
 * dkim.util.parse_tag_value was asked about the same input, its answer
 * agreed (marked "as python3-dkim"). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "dkim_tags.h"
#include "dkim_rfc6376.h"


static void assert_tag(const struct dkim_tags *t, const char *name, const char *value)
{
	const struct dkim_tag *tag = dkim_tags_find(t, name);

	assert_non_null(tag);
	assert_int_equal(tag->value_len, strlen(value));
	assert_memory_equal(tag->value, value, tag->value_len);
}

/* RFC 6376 A.2, as python3-dkim reads it. */
static void test_dkim_tags_rfc6376_signature(void **state)
{
	struct dkim_tags t;
	const struct dkim_tag *b;
	struct buf out;

	(void)state;
	assert_int_equal(dkim_tags_parse(rfc_sig, strlen(rfc_sig), &t), 0);
	assert_int_equal(t.n, 10);
	assert_tag(&t, "v", "1");
	assert_tag(&t, "a", "rsa-sha256");
	assert_tag(&t, "s", "brisbane");
	assert_tag(&t, "d", "example.com");
	assert_tag(&t, "c", "simple/simple");
	assert_tag(&t, "q", "dns/txt");
	assert_tag(&t, "i", "joe@football.example.com");
	assert_tag(&t, "h", "Received : From : To : Subject : Date : Message-ID");
	assert_tag(&t, "bh", "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
	assert_null(dkim_tags_find(&t, "B"));   /* names are case-sensitive */
	b = dkim_tags_find(&t, "b");
	assert_non_null(b);
	assert_ptr_equal(b->value, rfc_sig + b->value_off);
	assert_memory_equal(rfc_sig + b->value_off, "AuUoFEfD", 8);
	buf_init(&out, 1024);
	assert_int_equal(dkim_tag_value_compact(b, &out), 0);
	assert_string_equal(buf_cstr(&out),
			    "AuUoFEfDxTDkHlLXSZEpZj79LICEps6eda7W3deTVFOk4yAUoqOB"
			    "4nujc7YopdG5dWLSdNg6xNAZpOPr+kHxt1IrE+NahM6L/LbvaHut"
			    "KVdkLLkpVaVVQPzeRDI009SO2Il5Lu7rDNH6mZckBdrIx0orEtZV"
			    "4bmp/YzhwvcubU4=");
	buf_free(&out);
}

/* RFC 6376 C: a key record (no folding; TXT strings already joined). */
static void test_dkim_tags_rfc6376_key_record(void **state)
{
	static const char rec[] = "v=DKIM1; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDwIRP/UC3SBsEmGqZ9ZJW3/DkM"
				  "oGeLnQg1fWn7/zYtIxN2SnFCjxOCKG9v3b4jYfcTNh5ijSsq631uBItLa7od+v"
				  "/RtdC2UzJ1lWT947qR+Rcac2gbto/NMqJ0fzfVjH4OuKhitdY9tf6mcwGjaNBcWToIMmPSPDdQPNUYckcQ2QIDAQAB";
	struct dkim_tags t;

	(void)state;
	assert_int_equal(dkim_tags_parse(rec, strlen(rec), &t), 0);
	assert_int_equal(t.n, 2);
	assert_tag(&t, "v", "DKIM1");
	assert_int_equal(dkim_tags_find(&t, "p")->value_len, strlen(rec) - 11);
}

static void test_dkim_tags_empty_values_and_spacing(void **state)
{
	struct dkim_tags t;

	(void)state;
	assert_int_equal(dkim_tags_parse("p=", 2, &t), 0);   /* as python3-dkim: a revoked key */
	assert_int_equal(t.n, 1);
	assert_int_equal(t.tag[0].value_len, 0);
	assert_int_equal(t.tag[0].value_off, 2);
	assert_int_equal(dkim_tags_parse("a=b c; ", 7, &t), 0);   /* as python3-dkim */
	assert_tag(&t, "a", "b c");
	assert_int_equal(dkim_tags_parse(" x_1 \t= v ;\n\ty=\n z\n", 19, &t), 0);
	assert_tag(&t, "x_1", "v");
	assert_tag(&t, "y", "z");
	assert_int_equal(dkim_tags_find(&t, "y")->value_off, 17);
	assert_int_equal(dkim_tags_parse("b=;", 3, &t), 0);
	assert_int_equal(t.tag[0].value_off, 2);
}

static void test_dkim_tags_bad_syntax(void **state)
{
	static const char *const bad[] = {
		"", " ", ";", "v", "=1", "1v=1", "_v=1", "v=1;;", "v=1; ;w=2", "v=a;b",
		"v=1\nw=2",        /* a line end that is not a fold */
		"v=1\r w=2",       /* a bare CR */
		"v=\x80", "v=a\x01", "v-x=1", "v=1; w x=2",
	};
	struct dkim_tags t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(dkim_tags_parse(bad[i], strlen(bad[i]), &t), -1);
		assert_int_equal(errno, EINVAL);
		assert_int_equal(t.n, 0);
	}
}

/* RFC 6376 3.2: a duplicate tag makes the whole list invalid (as
 * python3-dkim). */
static void test_dkim_tags_duplicate_refused(void **state)
{
	struct dkim_tags t;

	(void)state;
	assert_int_equal(dkim_tags_parse("v=1; v=2", 8, &t), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dkim_tags_parse("v=1; V=2", 8, &t), 0);   /* another name */
}

static void test_dkim_tags_limits(void **state)
{
	char list[DKIM_TAGS_MAX_INPUT + 2];
	size_t len = 0;
	struct dkim_tags t;

	(void)state;
	for (int i = 0; i < DKIM_TAGS_MAX; i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len, "t%d=%d;", i, i);
	assert_int_equal(dkim_tags_parse(list, len, &t), 0);
	assert_int_equal(t.n, DKIM_TAGS_MAX);
	len += (size_t)snprintf(list + len, sizeof(list) - len, "t%d=x", DKIM_TAGS_MAX);
	assert_int_equal(dkim_tags_parse(list, len, &t), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(t.n, 0);
	memset(list, 'a', sizeof(list));
	memcpy(list, "v=", 2);
	assert_int_equal(dkim_tags_parse(list, DKIM_TAGS_MAX_INPUT, &t), 0);
	assert_int_equal(dkim_tags_parse(list, DKIM_TAGS_MAX_INPUT + 1, &t), -1);
	assert_int_equal(errno, E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dkim_tags_rfc6376_signature),
		cmocka_unit_test(test_dkim_tags_rfc6376_key_record),
		cmocka_unit_test(test_dkim_tags_empty_values_and_spacing),
		cmocka_unit_test(test_dkim_tags_bad_syntax),
		cmocka_unit_test(test_dkim_tags_duplicate_refused),
		cmocka_unit_test(test_dkim_tags_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
