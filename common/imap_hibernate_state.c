/* imap_hibernate_state: the record of an IMAP session set aside in IDLE
 * (see the header, and docs/protocols.md "IMAP hibernation").
 *
 * Offers: the writer and the checking reader of the record, and the
 * compact UID sets it carries ("1:5,7,9:12", split over fields of at
 * most IMAP_HIBERNATE_SET_PIECE bytes, each piece whole ranges).
 *
 * Trusts: nothing it reads.  The record comes from another Postern
 * process running as postern-vmail, but it decides which user's
 * mailbox a session process serves, so it is read as network input
 * is: each field once (a set's pieces excepted), every value within its
 * bounds and syntax (numbers plain decimal, paths as maildir_path_ok
 * wants them and the folder inside the user's Maildir, sets ascending
 * and disjoint with at most MBOX_MESSAGES_MAX UIDs, the \Recent ones
 * among the known ones), no unknown key, version exactly 1.
 *
 * Fails: -1 with a static reason; nothing is half decoded. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap_hibernate_state.h"
#include "maildir.h"

/* ---- UID sets ---- */

int imap_hibernate_set_from(struct imap_hibernate_set *set, const uint32_t *v, size_t n)
{
	size_t k = 0;

	memset(set, 0, sizeof(*set));
	if (n == 0)
		return 0;
	if ((set->r = calloc(n, sizeof(*set->r))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (k > 0 && v[i] <= set->r[k - 1].hi)
			continue;   /* a repeat */
		if (k > 0 && v[i] == set->r[k - 1].hi + 1)
			set->r[k - 1].hi = v[i];
		else
			set->r[k++] = (struct mbox_uid_range){ v[i], v[i] };
		set->count++;
	}
	set->n = k;
	return 0;
}

bool imap_hibernate_set_has(const struct imap_hibernate_set *set, uint32_t uid)
{
	size_t lo = 0, hi = set->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->r[mid].hi < uid)
			lo = mid + 1;
		else if (set->r[mid].lo > uid)
			hi = mid;
		else
			return true;
	}
	return false;
}

int imap_hibernate_set_grow(const struct imap_hibernate_set *set, const struct mbox *mb, size_t from, bool recent_only,
			    struct imap_hibernate_set *out)
{
	size_t k = set->n;

	*out = (struct imap_hibernate_set){ 0 };
	if (from > mb->n)
		from = mb->n;
	if ((out->r = calloc(set->n + (mb->n - from) + 1, sizeof(*out->r))) == NULL)
		return -1;
	if (set->n > 0)
		memcpy(out->r, set->r, set->n * sizeof(*out->r));
	out->count = set->count;
	for (size_t i = from; i < mb->n; i++) {
		uint32_t uid = mb->msgs[i].uid;
		if (recent_only && !mb->msgs[i].recent)
			continue;
		if (k > 0 && uid == out->r[k - 1].hi + 1)
			out->r[k - 1].hi = uid;
		else
			out->r[k++] = (struct mbox_uid_range){ uid, uid };
		out->count++;
	}
	out->n = k;
	if (k == 0) {
		free(out->r);
		out->r = NULL;
	}
	return 0;
}

/* Append set as fields key, each at most IMAP_HIBERNATE_SET_PIECE
 * bytes of whole ranges; none for an empty set.  0 or -1. */
static int imap_hibernate_put_set(struct buf *out, const char *key, const struct imap_hibernate_set *set)
{
	char piece[IMAP_HIBERNATE_SET_PIECE + 32];
	size_t len = 0, total = 0;

	for (size_t i = 0; i < set->n; i++) {
		char one[32];
		int w = set->r[i].lo == set->r[i].hi ? snprintf(one, sizeof(one), "%u", set->r[i].lo)
						     : snprintf(one, sizeof(one), "%u:%u", set->r[i].lo, set->r[i].hi);
		if (len > 0 && len + 1 + (size_t)w > IMAP_HIBERNATE_SET_PIECE) {
			if (record_put(out, key, piece, len) < 0)
				return -1;
			len = 0;
		}
		if (len > 0)
			piece[len++] = ',';
		memcpy(piece + len, one, (size_t)w);
		len += (size_t)w;
		total += (size_t)w + 1;
		if (total > IMAP_HIBERNATE_SET_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
	}
	return len > 0 ? record_put(out, key, piece, len) : 0;
}

/* A plain decimal number (no sign, no leading zero) in [min, max] from
 * p[0..len).  0 or -1. */
static int imap_hibernate_num(const char *p, size_t len, unsigned long long min, unsigned long long max,
			      unsigned long long *v_r)
{
	unsigned long long v = 0;

	if (len == 0 || len > 20 || (len > 1 && p[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (unsigned)(p[i] - '0'), &v))
			return -1;
	}
	if (v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

/* Add the ranges of one piece to set (after those already there). */
static int imap_hibernate_parse_piece(struct imap_hibernate_set *set, size_t *alloc, const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return -1;
	while (i <= len) {
		const char *comma = memchr(p + i, ',', len - i);
		size_t end = comma != NULL ? (size_t)(comma - p) : len;
		const char *colon = memchr(p + i, ':', end - i);
		unsigned long long lo, hi;
		if (colon == NULL) {
			if (imap_hibernate_num(p + i, end - i, 1, UINT32_MAX, &lo) < 0)
				return -1;
			hi = lo;
		} else {
			size_t c = (size_t)(colon - p);
			if (imap_hibernate_num(p + i, c - i, 1, UINT32_MAX, &lo) < 0 ||
			    imap_hibernate_num(p + c + 1, end - c - 1, lo + 1, UINT32_MAX, &hi) < 0)
				return -1;
		}
		if (set->n > 0 && lo <= set->r[set->n - 1].hi)
			return -1;   /* not ascending and disjoint */
		set->count += hi - lo + 1;
		if (set->count > MBOX_MESSAGES_MAX)
			return -1;
		if (set->n == *alloc) {
			size_t na = *alloc == 0 ? 16 : *alloc * 2;
			struct mbox_uid_range *r = reallocarray(set->r, na, sizeof(*r));
			if (r == NULL)
				return -1;
			set->r = r;
			*alloc = na;
		}
		set->r[set->n++] = (struct mbox_uid_range){ (uint32_t)lo, (uint32_t)hi };
		if (comma == NULL)
			break;
		i = end + 1;
	}
	return 0;
}

/* Every field key of rec, in order, as one set.  0 or -1. */
static int imap_hibernate_get_set(const struct record *rec, const char *key, struct imap_hibernate_set *set)
{
	size_t alloc = 0, bytes = 0;

	memset(set, 0, sizeof(*set));
	for (size_t i = 0; i < rec->n; i++) {
		const struct record_field *f = &rec->fields[i];
		if (strcmp(f->key, key) != 0)
			continue;
		bytes += f->value_len + 1;
		if (bytes > IMAP_HIBERNATE_SET_MAX || imap_hibernate_parse_piece(set, &alloc, f->value, f->value_len) < 0) {
			free(set->r);
			memset(set, 0, sizeof(*set));
			return -1;
		}
	}
	return 0;
}

/* Whether every UID of sub is in set. */
static bool imap_hibernate_subset(const struct imap_hibernate_set *sub, const struct imap_hibernate_set *set)
{
	size_t j = 0;

	for (size_t i = 0; i < sub->n; i++) {
		while (j < set->n && set->r[j].hi < sub->r[i].lo)
			j++;
		if (j == set->n || set->r[j].lo > sub->r[i].lo || set->r[j].hi < sub->r[i].hi)
			return false;
	}
	return true;
}

/* ---- writing ---- */

static const struct { unsigned bit; const char *name; } imap_hibernate_exts[] = {
	{ IMAP_HIBERNATE_REV2, "IMAP4rev2" },
	{ IMAP_HIBERNATE_CONDSTORE, "CONDSTORE" },
	{ IMAP_HIBERNATE_QRESYNC, "QRESYNC" },
	{ IMAP_HIBERNATE_UTF8, "UTF8=ACCEPT" },
};
#define IMAP_HIBERNATE_NEXTS (sizeof(imap_hibernate_exts) / sizeof(imap_hibernate_exts[0]))

static const char *const imap_hibernate_wakes[] = { "", "client", "folder" };

static int imap_hibernate_put_fields(const struct imap_hibernate_state *st, struct buf *out)
{
	char enabled[64] = "";
	size_t len = 0;

	for (size_t i = 0; i < IMAP_HIBERNATE_NEXTS; i++)
		if (st->enabled & imap_hibernate_exts[i].bit)
			len += (size_t)snprintf(enabled + len, sizeof(enabled) - len, "%s%s", len > 0 ? " " : "",
						imap_hibernate_exts[i].name);
	if (record_put_str(out, "request", st->request == IMAP_HIBERNATE_REQ_RESUME ? "resume" : "hibernate") < 0 ||
	    record_put_num(out, "version", IMAP_HIBERNATE_VERSION) < 0 ||
	    (st->request == IMAP_HIBERNATE_REQ_RESUME && st->wake != IMAP_HIBERNATE_WAKE_NONE &&
	     record_put_str(out, "wake", imap_hibernate_wakes[st->wake]) < 0) ||
	    record_put_str(out, "user", st->user) < 0 || record_put_str(out, "root", st->root) < 0 ||
	    record_put_str(out, "client", st->client) < 0 || record_put_str(out, "tls", st->tls ? "yes" : "no") < 0 ||
	    record_put_str(out, "enabled", enabled) < 0 || record_put_str(out, "mailbox", st->mailbox) < 0 ||
	    record_put_str(out, "path", st->path) < 0 || record_put_num(out, "readonly", st->readonly) < 0 ||
	    record_put_num(out, "uidvalidity", st->uidvalidity) < 0 || record_put_num(out, "modseq", st->modseq) < 0 ||
	    record_put_num(out, "keywords", st->keywords) < 0 ||
	    imap_hibernate_put_set(out, "uids", &st->uids) < 0 ||
	    imap_hibernate_put_set(out, "recent", &st->recent) < 0 ||
	    imap_hibernate_put_set(out, "saved", &st->saved) < 0 || record_put_str(out, "tag", st->tag) < 0 ||
	    record_put_num(out, "idle_since", (unsigned long long)st->idle_since_ms) < 0 ||
	    record_put_num(out, "deadline", (unsigned long long)st->deadline_ms) < 0 ||
	    record_put_num(out, "errors", st->errors) < 0)
		return -1;
	return record_end(out);
}

int imap_hibernate_state_encode(const struct imap_hibernate_state *st, struct buf *out)
{
	size_t before = out->len;
	/* A hibernation leaves room for the wake field its resume adds. */
	size_t max = IMAP_HIBERNATE_RECORD_MAX - (st->request == IMAP_HIBERNATE_REQ_HIBERNATE ? 64 : 0);

	if (imap_hibernate_put_fields(st, out) < 0 || out->len - before > max) {
		buf_truncate(out, before);
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* ---- reading ---- */

/* Bytes a text field may hold: none below 0x20, no DEL; with no_space
 * none of 0x20 either. */
static bool imap_hibernate_text_ok(const char *p, size_t len, bool no_space)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f || (no_space && c == ' '))
			return false;
	}
	return true;
}

/* RFC 9051 tag: 1*<ASTRING-CHAR except "+">. */
static bool imap_hibernate_tag_ok(const char *p, size_t len)
{
	if (len == 0 || len > IMAP_TAG_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\+", c) != NULL)
			return false;
	}
	return true;
}

/* The one field key of rec into *v_r (with its length); NULL when it is
 * missing or repeated. */
static const struct record_field *imap_hibernate_one(const struct record *rec, const char *key)
{
	const struct record_field *found = NULL;

	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, key) == 0) {
			if (found != NULL)
				return NULL;
			found = &rec->fields[i];
		}
	return found;
}

static int imap_hibernate_str(const struct record *rec, const char *key, char *out, size_t cap, bool no_space,
			      bool may_be_empty)
{
	const struct record_field *f = imap_hibernate_one(rec, key);

	if (f == NULL || f->value_len >= cap || (f->value_len == 0 && !may_be_empty) ||
	    !imap_hibernate_text_ok(f->value, f->value_len, no_space))
		return -1;
	memcpy(out, f->value, f->value_len + 1);
	return 0;
}

static int imap_hibernate_u(const struct record *rec, const char *key, unsigned long long min,
			    unsigned long long max, unsigned long long *v_r)
{
	const struct record_field *f = imap_hibernate_one(rec, key);

	return f != NULL ? imap_hibernate_num(f->value, f->value_len, min, max, v_r) : -1;
}

static int imap_hibernate_bool(const struct record *rec, const char *key, const char *yes, const char *no,
			       bool *v_r)
{
	const struct record_field *f = imap_hibernate_one(rec, key);

	if (f == NULL || (strcmp(f->value, yes) != 0 && strcmp(f->value, no) != 0))
		return -1;
	*v_r = strcmp(f->value, yes) == 0;
	return 0;
}

static int imap_hibernate_enabled(const struct record *rec, unsigned *v_r)
{
	const struct record_field *f = imap_hibernate_one(rec, "enabled");
	size_t i = 0;

	*v_r = 0;
	if (f == NULL)
		return -1;
	while (i < f->value_len) {
		const char *sp = memchr(f->value + i, ' ', f->value_len - i);
		size_t end = sp != NULL ? (size_t)(sp - f->value) : f->value_len;
		unsigned bit = 0;
		for (size_t k = 0; k < IMAP_HIBERNATE_NEXTS; k++)
			if (strlen(imap_hibernate_exts[k].name) == end - i &&
			    memcmp(imap_hibernate_exts[k].name, f->value + i, end - i) == 0)
				bit = imap_hibernate_exts[k].bit;
		if (bit == 0 || (*v_r & bit) != 0)
			return -1;
		*v_r |= bit;
		if (sp == NULL)
			break;
		i = end + 1;
		if (i == f->value_len)
			return -1;   /* a trailing space */
	}
	return 0;
}

/* The keys a record may have; the sets may repeat. */
static bool imap_hibernate_key_known(const char *key, bool resume)
{
	static const char *const keys[] = { "request", "version", "user", "root", "client", "tls", "enabled",
					    "mailbox", "path", "readonly", "uidvalidity", "modseq", "keywords",
					    "uids", "recent", "saved", "tag", "idle_since", "deadline", "errors" };

	if (resume && strcmp(key, "wake") == 0)
		return true;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i], key) == 0)
			return true;
	return false;
}

/* The folder is the user's Maildir or one of its Maildir++ folders. */
static bool imap_hibernate_paths_ok(const struct imap_hibernate_state *st)
{
	size_t rl = strlen(st->root), pl = strlen(st->path);

	if (!maildir_path_ok(st->root, rl) || !maildir_path_ok(st->path, pl))
		return false;
	if (pl == rl)
		return memcmp(st->path, st->root, rl) == 0;
	/* root + "/." + one name with no further slash */
	return pl > rl + 2 && memcmp(st->path, st->root, rl) == 0 && st->path[rl] == '/' && st->path[rl + 1] == '.' &&
	       memchr(st->path + rl + 2, '/', pl - rl - 2) == NULL;
}

static int imap_hibernate_head(const struct record *rec, struct imap_hibernate_state *st, const char **error_r)
{
	const struct record_field *req = imap_hibernate_one(rec, "request");
	const struct record_field *wake = imap_hibernate_one(rec, "wake");
	unsigned long long v;

	if (req == NULL || (strcmp(req->value, "hibernate") != 0 && strcmp(req->value, "resume") != 0))
		return *error_r = "no request", -1;
	st->request = strcmp(req->value, "resume") == 0 ? IMAP_HIBERNATE_REQ_RESUME : IMAP_HIBERNATE_REQ_HIBERNATE;
	if (imap_hibernate_u(rec, "version", IMAP_HIBERNATE_VERSION, IMAP_HIBERNATE_VERSION, &v) < 0)
		return *error_r = "not version 1", -1;
	for (size_t i = 0; i < rec->n; i++)
		if (!imap_hibernate_key_known(rec->fields[i].key, st->request == IMAP_HIBERNATE_REQ_RESUME))
			return *error_r = "unknown field", -1;
	if (wake != NULL) {
		if (strcmp(wake->value, "client") == 0)
			st->wake = IMAP_HIBERNATE_WAKE_CLIENT;
		else if (strcmp(wake->value, "folder") == 0)
			st->wake = IMAP_HIBERNATE_WAKE_FOLDER;
		else
			return *error_r = "bad wake", -1;
	} else {
		for (size_t i = 0; i < rec->n; i++)
			if (strcmp(rec->fields[i].key, "wake") == 0)
				return *error_r = "bad wake", -1;
	}
	return 0;
}

static int imap_hibernate_identity(const struct record *rec, struct imap_hibernate_state *st, const char **error_r)
{
	if (imap_hibernate_str(rec, "user", st->user, sizeof(st->user), true, false) < 0)
		return *error_r = "bad user", -1;
	if (imap_hibernate_str(rec, "root", st->root, sizeof(st->root), false, false) < 0 ||
	    imap_hibernate_str(rec, "path", st->path, sizeof(st->path), false, false) < 0 ||
	    !imap_hibernate_paths_ok(st))
		return *error_r = "bad root or path", -1;
	if (imap_hibernate_str(rec, "client", st->client, sizeof(st->client), true, false) < 0)
		return *error_r = "bad client", -1;
	if (imap_hibernate_bool(rec, "tls", "yes", "no", &st->tls) < 0)
		return *error_r = "bad tls", -1;
	if (imap_hibernate_enabled(rec, &st->enabled) < 0)
		return *error_r = "bad enabled", -1;
	if (imap_hibernate_str(rec, "mailbox", st->mailbox, sizeof(st->mailbox), false, false) < 0)
		return *error_r = "bad mailbox", -1;
	return 0;
}

static int imap_hibernate_numbers(const struct record *rec, struct imap_hibernate_state *st, const char **error_r)
{
	unsigned long long v;
	const struct record_field *tag = imap_hibernate_one(rec, "tag");

	if (imap_hibernate_bool(rec, "readonly", "1", "0", &st->readonly) < 0)
		return *error_r = "bad readonly", -1;
	if (imap_hibernate_u(rec, "uidvalidity", 1, UINT32_MAX, &v) < 0)
		return *error_r = "bad uidvalidity", -1;
	st->uidvalidity = (uint32_t)v;
	if (imap_hibernate_u(rec, "modseq", 0, INT64_MAX, &v) < 0)
		return *error_r = "bad modseq", -1;
	st->modseq = v;
	if (imap_hibernate_u(rec, "keywords", 0, (1u << MBOX_KEYWORDS_MAX) - 1, &v) < 0)
		return *error_r = "bad keywords", -1;
	st->keywords = (uint32_t)v;
	if (tag == NULL || !imap_hibernate_tag_ok(tag->value, tag->value_len))
		return *error_r = "bad tag", -1;
	memcpy(st->tag, tag->value, tag->value_len + 1);
	if (imap_hibernate_u(rec, "idle_since", 0, IMAP_HIBERNATE_TIME_MAX, &v) < 0)
		return *error_r = "bad idle_since", -1;
	st->idle_since_ms = (long long)v;
	if (imap_hibernate_u(rec, "deadline", 0, IMAP_HIBERNATE_TIME_MAX, &v) < 0)
		return *error_r = "bad deadline", -1;
	st->deadline_ms = (long long)v;
	if (imap_hibernate_u(rec, "errors", 0, UINT32_MAX, &v) < 0)
		return *error_r = "bad errors", -1;
	st->errors = (unsigned long)v;
	return 0;
}

int imap_hibernate_state_decode(const struct record *rec, struct imap_hibernate_state *st, const char **error_r)
{
	memset(st, 0, sizeof(*st));
	if (imap_hibernate_head(rec, st, error_r) < 0 || imap_hibernate_identity(rec, st, error_r) < 0 ||
	    imap_hibernate_numbers(rec, st, error_r) < 0)
		return -1;
	if (imap_hibernate_get_set(rec, "uids", &st->uids) < 0 ||
	    imap_hibernate_get_set(rec, "recent", &st->recent) < 0 ||
	    imap_hibernate_get_set(rec, "saved", &st->saved) < 0) {
		imap_hibernate_state_free(st);
		return *error_r = "bad UID set", -1;
	}
	if (!imap_hibernate_subset(&st->recent, &st->uids)) {
		imap_hibernate_state_free(st);
		return *error_r = "a \\Recent UID the client does not know", -1;
	}
	return 0;
}

void imap_hibernate_state_free(struct imap_hibernate_state *st)
{
	free(st->uids.r);
	free(st->recent.r);
	free(st->saved.r);
	st->uids = st->recent = st->saved = (struct imap_hibernate_set){ 0 };
}
