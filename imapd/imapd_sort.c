/* imapd_sort: SORT and THREAD of the selected folder.
 *
 * Offers: imapd_cmd_sort (RFC 5256 SORT; RFC 5957 DISPLAYFROM and
 * DISPLAYTO; RFC 5267 ESORT: with RETURN, an ESEARCH answer whose MIN
 * and MAX are the first and last message in the sort order and whose ALL
 * lists the messages in that order, ranges only for ascending runs;
 * RETURN (SAVE) of RFC 5182 saves the messages found; CONDSTORE's
 * MODSEQ as SEARCH has it) and imapd_cmd_thread (THREAD=ORDEREDSUBJECT,
 * THREAD=REFERENCES).  Both find messages as SEARCH does
 * (imapd_search_matches), read each one's header only when a key needs
 * it (SORT by ARRIVAL or SIZE reads none), and leave the keys, the order
 * and the threads to common/imap_sort.c and common/imap_thread.c.  As
 * SEARCH, they send EXPUNGE only after the UID forms.
 *
 * Trusts: the view; headers only through the store (imapd_msg_read).
 * Fails: a message whose file is gone meanwhile (or cannot be read,
 * logged) sorts and threads as one without a header: its internal date
 * is its sent date; the keys of one command past IMAP_SORT_MEM_MAX, or
 * memory: NO [LIMIT] / NO [SERVERBUG]. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "imap_sort.h"
#include "imap_thread.h"
#include "imapd_session.h"
#include "log.h"

/* The keys of the messages at view indexes idx[0..n) as need asks, in
 * mailbox order.  0 with *msgs_r (free() it), or -1 after a reply. */
static int imapd_sort_keys(struct imapd_session *ss, const char *tag, const size_t *idx, size_t n, bool uid,
			   unsigned int need, struct arena *a, struct imap_sort_msg **msgs_r)
{
	struct imap_sort_msg *msgs = calloc(n + 1, sizeof(*msgs));
	struct buf hdr;
	int rc = 0, err = 0;

	if (msgs == NULL) {
		imapd_tagged(ss, tag, "NO [SERVERBUG] Out of memory");
		return -1;
	}
	buf_init(&hdr, (size_t)(2 * ss->l->literal_max + 65536));
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct mbox_msg *m = &ss->mb->msgs[idx[i]];
		struct imap_sort_msg *sm = &msgs[i];
		const char *h = "";
		size_t hl = 0;

		sm->seq = (uint32_t)(idx[i] + 1);
		sm->id = uid ? m->uid : sm->seq;
		sm->arrival = m->date;
		sm->size = m->vsize;
		if (need != 0) {
			if (imapd_msg_read(ss, idx[i], 1, &hdr) == 0) {
				h = buf_cstr(&hdr);
				hl = hdr.len;
			} else if (errno != ENOENT) {
				log_warn("user=%s %s: UID %u: %s", buf_cstr(&ss->user), ss->mb->path, m->uid,
					 strerror(errno));
			}
		}
		if (imap_sort_msg_fill(sm, h, hl, need, a) < 0) {
			rc = -1;
			err = errno;
		}
	}
	buf_free(&hdr);
	if (rc < 0) {
		imapd_tagged(ss, tag, err == EMSGSIZE ? "NO [LIMIT] Too much to sort"
				      : "NO [SERVERBUG] Out of memory");
		free(msgs);
		return -1;
	}
	*msgs_r = msgs;
	return 0;
}

/* Append ids in their order as a sequence-set: ranges only where they
 * ascend by one, so that the order survives (RFC 5267 3.2). */
static void imapd_put_ordered_set(struct buf *out, const struct imap_sort_msg *const *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j + 1 < n && v[j]->id != UINT32_MAX && v[j + 1]->id == v[j]->id + 1)
			j++;
		buf_printf(out, j > i ? "%s%u:%u" : "%s%u", i > 0 ? "," : "", v[i]->id, v[j]->id);
		i = j + 1;
	}
}

static int imapd_uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* RETURN (SAVE): the messages found, or with MIN or MAX alone only
 * those (RFC 5182 2.4), as sorted UIDs. */
static void imapd_sort_save(struct imapd_session *ss, const struct imap_sort_msg *const *v, size_t n,
			    unsigned int ret)
{
	uint32_t *uids = calloc(n + 1, sizeof(*uids));
	size_t k = 0;

	if (uids == NULL) {
		imapd_save_result(ss, NULL, 0);
		return;
	}
	if ((ret & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0 &&
	    (ret & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0) {
		if ((ret & IMAP_SEARCH_RETURN_MIN) && n > 0)
			uids[k++] = ss->mb->msgs[v[0]->seq - 1].uid;
		if ((ret & IMAP_SEARCH_RETURN_MAX) && n > 0 && (k == 0 || v[n - 1] != v[0]))
			uids[k++] = ss->mb->msgs[v[n - 1]->seq - 1].uid;
	} else {
		for (size_t i = 0; i < n; i++)
			uids[k++] = ss->mb->msgs[v[i]->seq - 1].uid;
	}
	qsort(uids, k, sizeof(*uids), imapd_uid_cmp);
	imapd_save_result(ss, uids, k);
	free(uids);
}

/* The untagged answer of SORT: SORT, or ESEARCH with RETURN. */
static void imapd_sort_answer(struct imapd_session *ss, const struct imap_command *c,
			      const struct imap_sort_msg *const *v, size_t n, uint64_t top_modseq)
{
	const struct imap_search *s = &c->u.sort.search;
	unsigned int ret = s->ret != 0 ? s->ret : IMAP_SEARCH_RETURN_ALL;   /* RETURN () is ALL */
	struct buf out;

	if (s->esearch && (ret & IMAP_SEARCH_RETURN_SAVE) != 0)
		imapd_sort_save(ss, v, n, ret);
	if (s->esearch && ret == IMAP_SEARCH_RETURN_SAVE)
		return;   /* SAVE alone: no ESEARCH (RFC 5182 2.1) */
	buf_init(&out, 64 + 24 * (n + 4));
	if (s->esearch) {
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", c->tag, c->uid ? " UID" : "");
		if ((ret & IMAP_SEARCH_RETURN_MIN) && n > 0)
			buf_printf(&out, " MIN %u", v[0]->id);
		if ((ret & IMAP_SEARCH_RETURN_MAX) && n > 0)
			buf_printf(&out, " MAX %u", v[n - 1]->id);
		if (ret & IMAP_SEARCH_RETURN_COUNT)
			buf_printf(&out, " COUNT %zu", n);
		if ((ret & IMAP_SEARCH_RETURN_ALL) && n > 0) {
			buf_append_str(&out, " ALL ");
			imapd_put_ordered_set(&out, v, n);
		}
		if (s->uses_modseq && n > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)top_modseq);
	} else {
		buf_append_str(&out, "* SORT");
		for (size_t i = 0; i < n; i++)
			buf_printf(&out, " %u", v[i]->id);
		if (s->uses_modseq && n > 0)   /* RFC 7162 3.1.5 */
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)top_modseq);
	}
	buf_append_str(&out, "\r\n");
	stream_write(ss->s, out.data, out.len);
	buf_free(&out);
}

void imapd_cmd_sort(struct imapd_session *ss, const struct imap_command *c)
{
	const struct imap_sort_cmd *sc = &c->u.sort;
	struct imap_sort_msg *msgs = NULL;
	const struct imap_sort_msg **v;
	struct arena a;
	size_t *idx, n;
	uint64_t top_modseq;

	if (imapd_search_matches(ss, c->tag, &sc->search, &idx, &n, &top_modseq) < 0)
		return;
	arena_init(&a, 65536, IMAP_SORT_MEM_MAX);
	if (imapd_sort_keys(ss, c->tag, idx, n, c->uid, imap_sort_needs(sc->crit, sc->ncrit), &a, &msgs) < 0)
		goto done;
	if ((v = calloc(n + 1, sizeof(*v))) == NULL) {
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Out of memory");
		goto done;
	}
	for (size_t i = 0; i < n; i++)
		v[i] = &msgs[i];
	imap_sort_run(v, n, sc->crit, sc->ncrit);
	imapd_sort_answer(ss, c, v, n, top_modseq);
	free(v);
	imapd_send_updates(ss, c->uid);
	imapd_tagged(ss, c->tag, "OK SORT completed");
done:
	free(msgs);
	free(idx);
	arena_free(&a);
}

void imapd_cmd_thread(struct imapd_session *ss, const struct imap_command *c)
{
	struct imap_sort_msg *msgs = NULL;
	struct arena a;
	struct buf out;
	size_t *idx, n;
	uint64_t top_modseq;

	if (imapd_search_matches(ss, c->tag, &c->u.thread.search, &idx, &n, &top_modseq) < 0)
		return;
	arena_init(&a, 65536, IMAP_SORT_MEM_MAX);
	buf_init(&out, IMAP_SORT_MEM_MAX);
	if (imapd_sort_keys(ss, c->tag, idx, n, c->uid, IMAP_SORT_NEED_THREAD, &a, &msgs) < 0)
		goto done;
	/* thread-data = "THREAD" [SP 1*thread-list] (RFC 5256 4) */
	if (buf_append_str(&out, n > 0 ? "* THREAD " : "* THREAD") < 0 ||
	    imap_thread_run(c->u.thread.alg, msgs, n, &out) < 0 || buf_append_str(&out, "\r\n") < 0) {
		imapd_tagged(ss, c->tag, errno == EMSGSIZE ? "NO [LIMIT] Too much to thread"
				      : "NO [SERVERBUG] Out of memory");
		goto done;
	}
	stream_write(ss->s, out.data, out.len);
	imapd_send_updates(ss, c->uid);
	imapd_tagged(ss, c->tag, "OK THREAD completed");
done:
	buf_free(&out);
	free(msgs);
	free(idx);
	arena_free(&a);
}
