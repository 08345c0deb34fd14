/* Unit tests for common/imap_hibernate_state.c: the record of a
 * hibernated IMAP session round-trips, large UID sets are split into
 * pieces and bounded, and the reader refuses every field out of its
 * bounds (it decides whose mailbox a session process opens). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "imap_hibernate_state.h"

static void sample(struct imap_hibernate_state *st)
{
	static const uint32_t uids[] = { 1, 2, 3, 5, 8, 9, 10, 4000000000u };
	static const uint32_t recent[] = { 9, 10 };
	static const uint32_t saved[] = { 2, 77 };

	memset(st, 0, sizeof(*st));
	st->request = IMAP_HIBERNATE_REQ_HIBERNATE;
	snprintf(st->user, sizeof(st->user), "alice@example.test");
	snprintf(st->root, sizeof(st->root), "example.test/alice");
	snprintf(st->client, sizeof(st->client), "127.0.0.1");
	st->tls = true;
	st->enabled = IMAP_HIBERNATE_CONDSTORE | IMAP_HIBERNATE_QRESYNC;
	snprintf(st->mailbox, sizeof(st->mailbox), "Sent Items");
	snprintf(st->path, sizeof(st->path), "example.test/alice/.Sent Items");
	st->uidvalidity = 1700000000u;
	st->modseq = 42;
	st->keywords = 5;
	assert_int_equal(imap_hibernate_set_from(&st->uids, uids, sizeof(uids) / sizeof(uids[0])), 0);
	assert_int_equal(imap_hibernate_set_from(&st->recent, recent, 2), 0);
	assert_int_equal(imap_hibernate_set_from(&st->saved, saved, 2), 0);
	snprintf(st->tag, sizeof(st->tag), "A0001]");
	st->idle_since_ms = 123456;
	st->deadline_ms = 1923456;
	st->errors = 3;
}

/* Encode st, parse the record; the record's bytes into out. */
static void encode(const struct imap_hibernate_state *st, struct buf *out, struct record *rec)
{
	const char *error = NULL;
	size_t used = 0;

	buf_init(out, 1 << 20);
	assert_int_equal(imap_hibernate_state_encode(st, out), 0);
	assert_int_equal(record_parse(out->data, out->len, rec, &used, &error), 0);
	assert_int_equal(used, out->len);
}

static void assert_same_set(const struct imap_hibernate_set *a, const struct imap_hibernate_set *b)
{
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->count, b->count);
	for (size_t i = 0; i < a->n; i++) {
		assert_int_equal(a->r[i].lo, b->r[i].lo);
		assert_int_equal(a->r[i].hi, b->r[i].hi);
	}
}

static void test_state_round_trips(void **state)
{
	struct imap_hibernate_state st, back;
	struct record rec = { 0 };
	struct buf out;
	const char *error = NULL;

	(void)state;
	sample(&st);
	encode(&st, &out, &rec);
	assert_non_null(strstr(out.data, "uids=1:3,5,8:10,4000000000\n"));
	assert_non_null(strstr(out.data, "enabled=CONDSTORE QRESYNC\n"));
	assert_int_equal(imap_hibernate_state_decode(&rec, &back, &error), 0);
	assert_int_equal(back.request, IMAP_HIBERNATE_REQ_HIBERNATE);
	assert_string_equal(back.user, st.user);
	assert_string_equal(back.root, st.root);
	assert_string_equal(back.client, st.client);
	assert_true(back.tls);
	assert_int_equal(back.enabled, st.enabled);
	assert_string_equal(back.mailbox, st.mailbox);
	assert_string_equal(back.path, st.path);
	assert_false(back.readonly);
	assert_int_equal(back.uidvalidity, st.uidvalidity);
	assert_int_equal(back.modseq, 42);
	assert_int_equal(back.keywords, 5);
	assert_same_set(&back.uids, &st.uids);
	assert_same_set(&back.recent, &st.recent);
	assert_same_set(&back.saved, &st.saved);
	assert_int_equal(back.uids.count, 8);
	assert_string_equal(back.tag, "A0001]");
	assert_int_equal(back.idle_since_ms, 123456);
	assert_int_equal(back.deadline_ms, 1923456);
	assert_int_equal(back.errors, 3);
	assert_true(imap_hibernate_set_has(&back.uids, 9));
	assert_false(imap_hibernate_set_has(&back.uids, 4));
	assert_false(imap_hibernate_set_has(&back.uids, 0));
	imap_hibernate_state_free(&back);

	/* A resume says why; an empty folder and no extensions are fine. */
	imap_hibernate_state_free(&st);
	st.request = IMAP_HIBERNATE_REQ_RESUME;
	st.wake = IMAP_HIBERNATE_WAKE_FOLDER;
	st.enabled = 0;
	buf_free(&out);
	record_clear(&rec);
	encode(&st, &out, &rec);
	assert_null(strstr(out.data, "uids="));
	assert_int_equal(imap_hibernate_state_decode(&rec, &back, &error), 0);
	assert_int_equal(back.request, IMAP_HIBERNATE_REQ_RESUME);
	assert_int_equal(back.wake, IMAP_HIBERNATE_WAKE_FOLDER);
	assert_int_equal(back.uids.n, 0);
	imap_hibernate_state_free(&back);
	record_clear(&rec);
	buf_free(&out);
}

/* Every other UID of a large folder: several pieces, one set again; a
 * set too long to write is EMSGSIZE and leaves the buffer as it was. */
static void test_large_sets_are_split_and_bounded(void **state)
{
	struct imap_hibernate_state st, back;
	struct record rec = { 0 };
	struct buf out;
	const char *error = NULL;
	size_t n = 3000, pieces = 0;
	uint32_t *v = calloc(20000, sizeof(*v));

	(void)state;
	assert_non_null(v);
	sample(&st);
	imap_hibernate_state_free(&st);
	for (size_t i = 0; i < n; i++)
		v[i] = (uint32_t)(2 * i + 1);
	assert_int_equal(imap_hibernate_set_from(&st.uids, v, n), 0);
	encode(&st, &out, &rec);
	for (size_t i = 0; i < rec.n; i++)
		if (strcmp(rec.fields[i].key, "uids") == 0) {
			pieces++;
			assert_true(rec.fields[i].value_len <= IMAP_HIBERNATE_SET_PIECE);
		}
	assert_true(pieces > 1);
	assert_int_equal(imap_hibernate_state_decode(&rec, &back, &error), 0);
	assert_same_set(&back.uids, &st.uids);
	imap_hibernate_state_free(&back);
	imap_hibernate_state_free(&st);
	record_clear(&rec);

	for (size_t i = 0; i < 20000; i++)
		v[i] = (uint32_t)(2 * i + 100000);
	assert_int_equal(imap_hibernate_set_from(&st.uids, v, 20000), 0);
	buf_reset(&out);
	assert_int_equal(buf_append_str(&out, "before"), 0);
	errno = 0;
	assert_int_equal(imap_hibernate_state_encode(&st, &out), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_string_equal(buf_cstr(&out), "before");
	imap_hibernate_state_free(&st);
	buf_free(&out);
	free(v);
}

/* Replace (or with value NULL, drop; with add, append) field key in the
 * record text of the sample and decode it: the decoder's verdict. */
static int decode_edited(const char *key, const char *value, bool add, const char **error_r)
{
	struct imap_hibernate_state st, back;
	struct record rec = { 0 }, edited = { 0 };
	struct buf out, text;
	size_t used;
	int r;

	sample(&st);
	encode(&st, &out, &rec);
	buf_init(&text, 1 << 20);
	for (size_t i = 0; i < rec.n; i++) {
		const struct record_field *f = &rec.fields[i];
		if (!add && strcmp(f->key, key) == 0) {
			if (value != NULL)
				assert_int_equal(record_put_str(&text, key, value), 0);
			continue;
		}
		assert_int_equal(record_put(&text, f->key, f->value, f->value_len), 0);
	}
	if (add)
		assert_int_equal(record_put_str(&text, key, value), 0);
	assert_int_equal(record_end(&text), 0);
	assert_int_equal(record_parse(text.data, text.len, &edited, &used, error_r), 0);
	r = imap_hibernate_state_decode(&edited, &back, error_r);
	if (r == 0)
		imap_hibernate_state_free(&back);
	imap_hibernate_state_free(&st);
	record_clear(&rec);
	record_clear(&edited);
	buf_free(&out);
	buf_free(&text);
	return r;
}

static void refused(const char *key, const char *value, bool add)
{
	const char *error = NULL;

	if (decode_edited(key, value, add, &error) == 0)
		fail_msg("%s=%s (%s) was accepted", key, value != NULL ? value : "(none)", add ? "added" : "replaced");
	assert_non_null(error);
}

static void accepted(const char *key, const char *value)
{
	const char *error = NULL;

	if (decode_edited(key, value, false, &error) != 0)
		fail_msg("%s=%s refused: %s", key, value, error);
}

static void test_every_field_is_checked(void **state)
{
	static const char *const required[] = { "request", "version", "user", "root", "client", "tls", "enabled",
						"mailbox", "path", "readonly", "uidvalidity", "modseq", "keywords",
						"tag", "idle_since", "deadline", "errors" };

	(void)state;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		refused(required[i], NULL, false);       /* missing */
		refused(required[i], "1", true);         /* repeated */
	}
	refused("unknown", "x", true);
	refused("wake", "client", true);                 /* only a resume says why */
	refused("request", "suspend", false);
	refused("version", "2", false);
	refused("version", "01", false);
	refused("user", "", false);
	refused("user", "a b@example.test", false);
	refused("user", "a\nb", false);
	refused("root", "/etc", false);
	refused("root", "example.test/../bob", false);
	refused("root", "private", false);
	refused("path", "example.test/bob", false);                    /* another user's */
	refused("path", "example.test/alice/.a/b", false);
	refused("path", "example.test/alice/../bob", false);
	refused("path", "example.test/alicex", false);
	refused("tls", "maybe", false);
	refused("enabled", "CONDSTORE CONDSTORE", false);
	refused("enabled", "CONDSTORE ", false);
	refused("enabled", "NOTIFY", false);
	refused("mailbox", "", false);
	refused("mailbox", "a\rb", false);
	refused("readonly", "yes", false);
	refused("uidvalidity", "0", false);
	refused("uidvalidity", "4294967296", false);
	refused("modseq", "-1", false);
	refused("modseq", "18446744073709551615", false);
	refused("keywords", "67108864", false);
	refused("tag", "", false);
	refused("tag", "a b", false);
	refused("tag", "a+", false);
	refused("tag", "a{", false);
	refused("idle_since", "4611686018427387905", false);
	refused("errors", "x", false);
	/* UID sets: ascending, disjoint, plain numbers, bounded */
	refused("uids", "", false);
	refused("uids", "3,2", false);
	refused("uids", "1:3,3", false);
	refused("uids", "3:1", false);
	refused("uids", "2:2", false);
	refused("uids", "0", false);
	refused("uids", "1,", false);
	refused("uids", ",1", false);
	refused("uids", "1:*", false);
	refused("uids", "4294967296", false);
	refused("uids", "1:1000001", false);
	refused("uids", "20", true);                     /* a second piece below the first's end */
	refused("recent", "11", false);                  /* not a known UID */
	refused("saved", "1:4294967295", false);         /* over MBOX_MESSAGES_MAX UIDs */

	accepted("uids", "1:1000000");
	accepted("path", "example.test/alice");
	accepted("enabled", "");
	accepted("tag", "x]");
	refused("tag", "a*", false);
	accepted("mailbox", "Entw\xc3\xbcrfe");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_round_trips),
		cmocka_unit_test(test_large_sets_are_split_and_bounded),
		cmocka_unit_test(test_every_field_is_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
