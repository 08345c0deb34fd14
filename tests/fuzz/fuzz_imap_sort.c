/* fuzz_imap_sort: libFuzzer target for common/imap_sort.c and
 * common/imap_thread.c (with mime_header.c under them).
 *
 * Input: one option byte, then message headers separated by NUL bytes
 * (at most 64).  Each header's keys are read (every key SORT and THREAD
 * use); then the messages are sorted under criteria chosen by the option
 * byte and threaded with both algorithms.  Checked: the base subject has
 * no white space at either end, and extracting it again gives it back
 * unchanged and no reply marker (when step 1 has nothing left to do in
 * it: no encoded word, no line end); collation keys hold no lower-case
 * ASCII letter; the sort is a strict order (mailbox order breaks every
 * tie) over all the messages; each thread answer is well formed (RFC
 * 5256 4: balanced, no empty list, a nested part only after its parent's
 * members) and names every message exactly once.  ASan and UBSan catch
 * the rest. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "imap_sort.h"
#include "imap_thread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MSGS 64

static void check_base_subject(const char *s, size_t n)
{
	struct buf b1, b2;
	bool reply;

	buf_init(&b1, 1 << 20);
	buf_init(&b2, 1 << 20);
	if (imap_base_subject(s, n, &b1, &reply) != 0)
		abort();
	if (b1.len > 0 && (b1.data[0] == ' ' || b1.data[b1.len - 1] == ' '))
		abort();
	if (b1.len > 0 && memchr(b1.data, '\r', b1.len) == NULL && memchr(b1.data, '\n', b1.len) == NULL &&
	    memmem(b1.data, b1.len, "=?", 2) == NULL) {
		if (imap_base_subject(b1.data, b1.len, &b2, &reply) != 0 || reply || b2.len != b1.len ||
		    memcmp(b1.data, b2.data, b1.len) != 0)
			abort();
	}
	buf_free(&b1);
	buf_free(&b2);
}

/* Well formed (thread-list = "(" (thread-members / thread-nested) ")",
 * thread-members = nz-number *(SP nz-number) [SP thread-nested],
 * thread-nested = 2*thread-list), and every id 1..n exactly once. */
static void check_threads(const char *s, size_t len, size_t n)
{
	unsigned char seen[FUZZ_MSGS + 1] = { 0 };
	unsigned int lists[2 * FUZZ_MSGS + 2];   /* nested lists per open list */
	size_t depth = 0, found = 0;
	char prev = ')';

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '(') {
			if (prev == '0' || depth + 1 >= sizeof(lists) / sizeof(lists[0]))
				abort();
			if (depth > 0)
				lists[depth]++;
			lists[++depth] = 0;
		} else if (c == ')') {
			if (depth == 0 || prev == '(' || prev == ' ' || lists[depth] == 1)
				abort();
			depth--;
		} else if (c == ' ') {
			if (prev != '0')
				abort();
		} else if (c >= '1' && c <= '9') {
			unsigned long v = strtoul(s + i, NULL, 10);

			if (prev == ')' || v == 0 || v > n || seen[v]++)
				abort();
			while (i + 1 < len && s[i + 1] >= '0' && s[i + 1] <= '9')
				i++;
			c = '0';
			found++;
		} else {
			abort();
		}
		if (depth == 0 && c != ')')
			abort();
		prev = c;
	}
	if (depth != 0 || found != n)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct imap_sort_criterion choices[] = {
		{ IMAP_SORT_SUBJECT, false }, { IMAP_SORT_DATE, true }, { IMAP_SORT_FROM, false },
		{ IMAP_SORT_TO, true }, { IMAP_SORT_CC, false }, { IMAP_SORT_DISPLAYFROM, false },
		{ IMAP_SORT_DISPLAYTO, true }, { IMAP_SORT_ARRIVAL, false },
	};
	struct imap_sort_msg msgs[FUZZ_MSGS];
	const struct imap_sort_msg *v[FUZZ_MSGS];
	struct imap_sort_criterion crit[3];
	struct arena a;
	struct buf out;
	size_t n = 0, pos = 1;
	unsigned int opt;

	if (size < 1)
		return 0;
	opt = data[0];
	arena_init(&a, 65536, 64u << 20);
	while (pos <= size && n < FUZZ_MSGS) {
		const uint8_t *end = memchr(data + pos, '\0', size - pos);
		size_t len = end != NULL ? (size_t)(end - data) - pos : size - pos;
		struct imap_sort_msg *m = &msgs[n];

		*m = (struct imap_sort_msg){ .seq = (uint32_t)n + 1, .id = (uint32_t)n + 1,
					     .arrival = (int64_t)(n * 37 % 11), .size = len };
		if (imap_sort_msg_fill(m, (const char *)data + pos, len, IMAP_SORT_NEED_THREAD |
				       IMAP_SORT_NEED_FROM | IMAP_SORT_NEED_TO | IMAP_SORT_NEED_CC |
				       IMAP_SORT_NEED_DISPLAYFROM | IMAP_SORT_NEED_DISPLAYTO, &a) != 0)
			abort();
		for (int k = 0; k < IMAP_SORT_S_COUNT; k++)
			for (size_t i = 0; i < m->len[k]; i++)
				if (m->str[k][i] >= 'a' && m->str[k][i] <= 'z')
					abort();
		if (n < 4)
			check_base_subject((const char *)data + pos, len);
		n++;
		pos += len + 1;
	}
	for (int k = 0; k < 3; k++)
		crit[k] = choices[(opt >> (2 * k)) & 7];
	for (size_t i = 0; i < n; i++)
		v[i] = &msgs[i];
	imap_sort_run(v, n, crit, 1 + (opt >> 6) % 3);
	for (size_t i = 0; i + 1 < n; i++)
		if (imap_sort_cmp(crit, 1 + (opt >> 6) % 3, v[i], v[i + 1]) >= 0)
			abort();
	for (int alg = 0; alg < 2; alg++) {
		buf_init(&out, 1 << 20);
		if (imap_thread_run(alg ? IMAP_THREAD_REFERENCES : IMAP_THREAD_ORDEREDSUBJECT, msgs, n, &out) != 0)
			abort();
		check_threads(out.data != NULL ? out.data : "", out.len, n);
		buf_free(&out);
	}
	arena_free(&a);
	return 0;
}
