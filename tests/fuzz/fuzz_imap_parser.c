/* fuzz_imap_parser: libFuzzer target for the IMAP command parser
 * (common/imap_parser.c) and the typed grammar on top of it
 * (imap_grammar, imap_fetch, imap_search, imap_types, imap_utf7).
 *
 * The first three bytes choose the limits, the LITERAL+/- mode, the
 * literal policy (memory / stream APPEND messages and refuse unknown
 * commands / refuse everything) and whether mailbox names are UTF-8; the
 * rest is the client stream.  It is parsed twice: all at once, and in
 * pseudo-random chunks of 1 to 64 bytes; the digests of the two event
 * sequences must be equal (split-at-any-byte invariance).  Every command
 * goes through imap_command_parse, every sequence set through resolve,
 * and every string that decodes as modified UTF-7 must encode back to
 * itself.  ASan and UBSan catch the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_grammar.h"
#include "imap_parser.h"
#include "imap_utf7.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_ctx {
	int policy;                   /* 0 memory, 1 grammar-driven, 2 refuse */
	uint64_t sink_bytes;
	uint64_t sink_cap;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static uint64_t mix_bytes(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = mix(h, (unsigned char)s[i]);
	return mix(h, n);
}

static int fuzz_sink_write(void *ctx, const unsigned char *d, size_t n)
{
	struct fuzz_ctx *c = ctx;

	(void)d;
	if (c->sink_bytes + n > c->sink_cap)
		return -1;
	c->sink_bytes += n;
	return 0;
}

static enum imap_literal_action fuzz_policy(void *ctx, const struct imap_literal_info *info,
					    struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r)
{
	struct fuzz_ctx *c = ctx;

	if (info->tag == NULL || info->name == NULL)
		abort();
	if (c->policy == 2) {
		refusal_r->kind = IMAP_REPLY_NO;
		refusal_r->code = "TOOBIG";
		refusal_r->text = "no";
		return IMAP_LITERAL_REFUSE;
	}
	if (c->policy == 1) {
		enum imap_literal_action action = imap_grammar_literal_action(info, refusal_r);

		if (action == IMAP_LITERAL_SINK) {
			/* Per literal, so that chunking cannot change the outcome. */
			c->sink_bytes = 0;
			sink_r->write = fuzz_sink_write;
			sink_r->ctx = c;
		}
		return action;
	}
	return IMAP_LITERAL_MEMORY;
}

/* Modified UTF-7 must be canonical: what decodes encodes back to itself. */
static void check_utf7(const char *s, size_t len)
{
	struct buf u8, u7;
	const char *err;

	buf_init(&u8, 1 << 20);
	buf_init(&u7, 1 << 20);
	if (imap_utf7_to_utf8(s, len, &u8, &err) == 0) {
		if (imap_utf8_to_utf7(u8.data != NULL ? u8.data : "", u8.len, &u7, &err) < 0 || u7.len != len ||
		    (len > 0 && memcmp(u7.data, s, len) != 0))
			abort();
	}
	buf_free(&u8);
	buf_free(&u7);
}

static uint64_t digest_args(uint64_t h, const struct imap_arg *a, unsigned int n, unsigned int depth)
{
	if (depth > 100)
		abort();
	for (unsigned int k = 0; k < n; k++) {
		h = mix(h, a[k].type);
		h = mix(h, a[k].flags);
		if (a[k].type == IMAP_ARG_STREAM) {
			h = mix(h, a[k].len);
		} else if (a[k].text != NULL) {
			if (a[k].text[a[k].len] != '\0')
				abort();
			h = mix_bytes(h, a[k].text, a[k].len);
			if (a[k].type == IMAP_ARG_ATOM || a[k].type == IMAP_ARG_QUOTED)
				check_utf7(a[k].text, a[k].len);
		}
		if (a[k].type == IMAP_ARG_LIST || a[k].type == IMAP_ARG_SECTION) {
			if (a[k].count > 0 && a[k].items == NULL)
				abort();
			h = digest_args(h, a[k].items, a[k].count, depth + 1);
		}
		if (a[k].suffix != NULL)
			h = mix_bytes(h, a[k].suffix, a[k].suffix_len);
	}
	return h;
}

/* Exercise the typed grammar on one command. */
static uint64_t typed(struct imap_parser *p, const struct imap_cmd *cmd, bool utf8, uint64_t h)
{
	struct imap_grammar_opts opts = { .utf8_names = utf8 };
	struct imap_command tc;
	struct imap_seqset r;
	const char *err = NULL;

	if (imap_command_parse(cmd, &opts, imap_parser_arena(p), &tc, &err) < 0) {
		if (err == NULL)
			abort();
		return mix_bytes(h, err, strlen(err));
	}
	(void)imap_command_states(tc.id);
	(void)imap_command_name(tc.id);
	if (tc.id == IMAP_CMD_FETCH && !tc.u.fetch.set.saved) {
		if (imap_seqset_resolve(&tc.u.fetch.set, 1000, imap_parser_arena(p), &r) == 0) {
			for (unsigned int k = 0; k < r.count; k++)
				if (r.ranges[k].lo > r.ranges[k].hi || r.ranges[k].hi > 1000 ||
				    (k > 0 && r.ranges[k].lo <= r.ranges[k - 1].hi + 1) ||
				    !imap_seqset_contains(&r, r.ranges[k].lo))
					abort();
		}
	}
	if (tc.id == IMAP_CMD_SETQUOTA) {
		/* RFC 9208: the limits are bounded and each names a resource. */
		if (tc.u.setquota.root == NULL || tc.u.setquota.count > IMAP_QUOTA_LIMITS_MAX ||
		    (tc.u.setquota.count > 0 && tc.u.setquota.limits == NULL))
			abort();
		for (unsigned int k = 0; k < tc.u.setquota.count; k++) {
			if (tc.u.setquota.limits[k].resource == NULL || tc.u.setquota.limits[k].limit > IMAP_NUMBER64_MAX)
				abort();
			h = mix_bytes(h, tc.u.setquota.limits[k].resource, strlen(tc.u.setquota.limits[k].resource));
			h = mix(h, tc.u.setquota.limits[k].limit);
		}
	}
	if (tc.id == IMAP_CMD_GETQUOTA && tc.u.quota_root == NULL)
		abort();
	return mix(h, tc.id);
}

static uint64_t run(const struct imap_parser_limits *l, int policy, bool utf8, const uint8_t *in, size_t len,
		    uint32_t seed, bool chunked)
{
	struct fuzz_ctx ctx = { .policy = policy, .sink_cap = 3000 };
	struct imap_parser *p = imap_parser_new(l);
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t pos = 0;
	unsigned int stuck = 0;

	if (p == NULL)
		return 0;
	imap_parser_set_literal_policy(p, fuzz_policy, &ctx);
	while (pos < len) {
		size_t n = len - pos, used = 0;
		enum imap_parse_event ev;
		const struct imap_parse_error *e;
		const char *line;
		size_t llen;

		if (chunked) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 64;
			if (n > len - pos)
				n = len - pos;
		}
		ev = imap_parser_feed(p, in + pos, n, &used);
		if (used > n || (ev == IMAP_PARSE_MORE && used != n))
			abort();
		stuck = used == 0 ? stuck + 1 : 0;
		if (stuck > 2)
			abort();
		pos += used;
		if (ev != IMAP_PARSE_MORE)
			h = mix(h, ev);
		switch (ev) {
		case IMAP_PARSE_COMMAND: {
			const struct imap_cmd *cmd = imap_parser_command(p);

			h = mix_bytes(h, cmd->tag, strlen(cmd->tag));
			h = mix_bytes(h, cmd->name, strlen(cmd->name));
			h = mix(h, cmd->uid);
			h = digest_args(h, cmd->args, cmd->count, 0);
			h = typed(p, cmd, utf8, h);
			if (strcmp(cmd->name, "AUTHENTICATE") == 0 || strcmp(cmd->name, "IDLE") == 0)
				imap_parser_expect_line(p);
			break;
		}
		case IMAP_PARSE_ERROR:
			e = imap_parser_error(p);
			if (e->text == NULL)
				abort();
			h = mix_bytes(h, e->text, strlen(e->text));
			h = mix(h, e->kind);
			if (e->tag != NULL)
				h = mix_bytes(h, e->tag, strlen(e->tag));
			break;
		case IMAP_PARSE_LINE:
			line = imap_parser_line(p, &llen);
			h = mix_bytes(h, line, llen);
			imap_parser_forget(p);
			break;
		default:
			break;
		}
	}
	h = mix(h, imap_parser_idle(p));
	imap_parser_free(&p);
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_parser_limits l;
	int policy;
	bool utf8;
	uint32_t seed;

	if (size < 3 || size > 200000)
		return 0;
	imap_parser_limits_default(&l);
	l.literal_plus = !(data[0] & 1);
	policy = (data[0] >> 1) % 3;
	utf8 = (data[0] & 0x08) != 0;
	if (data[0] & 0x10) {
		/* Small limits, so that every limit is reached often. */
		l.line_max = 64 + data[2];
		l.args_max = 4 + (data[2] & 0x3f);
		l.depth_max = 1 + (data[2] & 7);
		l.literal_max = (uint64_t)data[2] * 20;
		l.literal_mem_max = data[2];
		l.mem_max = 4096 + (size_t)data[2] * 64;
	}
	seed = data[1];
	if (run(&l, policy, utf8, data + 3, size - 3, seed, false) !=
	    run(&l, policy, utf8, data + 3, size - 3, seed, true))
		abort();
	return 0;
}
