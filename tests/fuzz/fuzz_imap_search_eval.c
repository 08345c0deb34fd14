/* fuzz_imap_search_eval: libFuzzer target for common/imap_search_eval.c
 * (with imap_parser, imap_search, mime, mime_header under it).
 *
 * Input: one option byte, a SEARCH program up to the first NUL, then a
 * message.  The program goes through the real parser ("A SEARCH
 * <program>\r\n") and imap_search_parse; when it parses, it is compiled
 * and run on the message under a few flag sets.  Checked: a match never
 * fails when the bytes are given; loading on demand gives the same
 * answers and loads at most once per message, and never for a program
 * that needs nothing; a program that needs only the header gives the
 * same answers on the header alone; NOT (program) gives the opposite
 * answer.  ASan and UBSan catch the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "imap_parser.h"
#include "imap_search.h"
#include "imap_search_eval.h"
#include "mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_msg {
	const char *data;
	size_t len;
	int loads;
};

static int fuzz_load(void *ctx, enum imap_search_need need, const char **data_r, size_t *len_r)
{
	struct fuzz_msg *m = ctx;

	(void)need;
	m->loads++;
	*data_r = m->data;
	*len_r = m->len;
	return 0;
}

/* Parse "A SEARCH <program>\r\n" (whole: one command and nothing after
 * it); the parser must be freed by the caller. */
static int fuzz_parse(const char *program, size_t n, struct imap_parser **p_r, struct imap_search *s)
{
	struct imap_parser_limits l;
	struct buf line;
	size_t used;
	const struct imap_cmd *cmd;
	const char *err;
	int rc = -1;

	imap_parser_limits_default(&l);
	*p_r = imap_parser_new(&l);
	if (*p_r == NULL)
		return -1;
	buf_init(&line, 1 << 20);
	if (buf_append(&line, "A SEARCH ", 9) == 0 && buf_append(&line, program, n) == 0 &&
	    buf_append(&line, "\r\n", 2) == 0 &&
	    imap_parser_feed(*p_r, line.data, line.len, &used) == IMAP_PARSE_COMMAND && used == line.len) {
		cmd = imap_parser_command(*p_r);
		rc = imap_search_parse(cmd->args, cmd->count, imap_parser_arena(*p_r), s, &err);
	}
	buf_free(&line);
	return rc;
}

/* Run ev on the message under flags; give the bytes (or load them). */
static int fuzz_match(struct imap_search_eval *ev, const char *msg, size_t len, size_t size,
		      unsigned int flags, int lazy, struct fuzz_msg *fm)
{
	static const char *const kw[] = { "$Junk", "work" };
	struct imap_search_msg m = {
		.seq = 3, .uid = 30, .flags = flags, .keywords = kw, .nkeywords = flags & 1 ? 2 : 0,
		.modseq = 17, .size = size, .internal_date = 1704067200 + (int64_t)flags * 40000,
	};
	const char *err;
	int r;

	if (lazy) {
		fm->data = msg;
		fm->len = len;
		fm->loads = 0;
		m.load = fuzz_load;
		m.load_ctx = fm;
	} else {
		m.data = msg;
		m.len = len;
	}
	r = imap_search_eval_match(ev, &m, &err);
	if (r < 0 || r > 1)
		abort();
	if (lazy && fm->loads > 1)
		abort();
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct imap_seq_range saved_r[] = { { 10, 30 } };
	struct imap_seqset saved = { false, 1, saved_r };
	struct imap_search_env env = { 5, 50, &saved, 1704067200 + 86400, 0 };
	const uint8_t *nul;
	struct imap_parser *p = NULL, *pn = NULL;
	struct imap_search s, sn;
	struct imap_search_eval *ev = NULL, *evn = NULL;
	struct mime_message *mm = NULL;
	const char *err;
	char *msg, *neg;
	size_t plen, mlen, hlen;
	enum imap_search_need need;
	int have_neg;

	if (size < 1 || (nul = memchr(data + 1, '\0', size - 1)) == NULL)
		return 0;
	env.zone = (int)(data[0] % 25) * 60 - 720;
	plen = (size_t)(nul - (data + 1));
	mlen = size - plen - 2;
	/* Exact-size heap copies, so ASan sees any read past the length. */
	msg = malloc(mlen ? mlen : 1);
	neg = malloc(plen + 6);
	if (msg == NULL || neg == NULL)
		goto out;
	memcpy(msg, nul + 1, mlen);
	if (fuzz_parse((const char *)data + 1, plen, &p, &s) < 0)
		goto out;
	if (imap_search_eval_new(&s, &env, &ev, &err) != 0)
		goto out;
	need = imap_search_needs(&s);
	/* NOT ( program ) */
	memcpy(neg, "NOT (", 5);
	memcpy(neg + 5, data + 1, plen);
	neg[plen + 5] = ')';
	have_neg = fuzz_parse(neg, plen + 6, &pn, &sn) == 0 && imap_search_eval_new(&sn, &env, &evn, &err) == 0;
	hlen = mlen;
	if (need == IMAP_SEARCH_NEED_HEADER && mime_parse(msg, mlen, &mm, &err) == 0)
		hlen = mm->root->header.size;
	for (unsigned int flags = 0; flags < 64; flags += 21) {
		struct fuzz_msg fm;
		int r = fuzz_match(ev, msg, mlen, mlen, flags, 0, NULL);

		if (fuzz_match(ev, msg, mlen, mlen, flags, 1, &fm) != r)
			abort();
		if (need == IMAP_SEARCH_NEED_NONE && fm.loads != 0)
			abort();
		if (hlen != mlen && fuzz_match(ev, msg, hlen, mlen, flags, 0, NULL) != r)
			abort();
		if (have_neg && fuzz_match(evn, msg, mlen, mlen, flags, 0, NULL) != !r)
			abort();
	}
out:
	mime_message_free(&mm);
	imap_search_eval_free(&ev);
	imap_search_eval_free(&evn);
	imap_parser_free(&p);
	imap_parser_free(&pn);
	free(msg);
	free(neg);
	return 0;
}
