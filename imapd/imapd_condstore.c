/* imapd_condstore: CONDSTORE and QRESYNC (RFC 7162) on the selected
 * folder.
 *
 * Offers: imapd_condstore_enable, which every CONDSTORE enabling command
 * calls (RFC 7162 3.1: SELECT/EXAMINE (CONDSTORE), STATUS HIGHESTMODSEQ,
 * FETCH MODSEQ or CHANGEDSINCE, SEARCH MODSEQ, STORE UNCHANGEDSINCE,
 * ENABLE); imapd_qresync_select, the resynchronisation answer of SELECT
 * (QRESYNC ...) (3.2.5); imapd_put_vanished, VANISHED in place of
 * EXPUNGE once QRESYNC is enabled (3.2.10); imapd_fetch_vanished, the
 * VANISHED (EARLIER) of UID FETCH (CHANGEDSINCE n VANISHED) (3.2.6).
 *
 * The store keeps a MODSEQ per message and the expunged UIDs with the
 * MODSEQ of their expunge, back to a floor (MBOX_EXPUNGED_MAX): asked
 * about expunges older than that, it cannot list them, and the answer
 * is then every UID of the asked range that the folder does not hold
 * (3.2.5.2 allows UIDs that never existed; never a UID still shown).
 *
 * Trusts: the typed commands; UID sets resolved against the view.
 * Fails: out of memory means no VANISHED line (logged): the client then
 * resynchronises the slow way (UID SEARCH / FETCH), nothing is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapd_session.h"
#include "log.h"

void imapd_condstore_enable(struct imapd_session *ss)
{
	if (ss->condstore)
		return;
	ss->condstore = true;
	/* The client learns the folder's HIGHESTMODSEQ to start from. */
	if (ss->mb != NULL)
		stream_printf(ss->s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n",
			      (unsigned long long)ss->mb->highestmodseq);
}

/* Appends "a" or "a:b" to out, comma first unless it is the first. */
static void imapd_put_range(struct buf *out, bool *first, uint32_t a, uint32_t b)
{
	buf_printf(out, a == b ? "%s%u" : "%s%u:%u", *first ? "" : ",", a, b);
	*first = false;
}

/* VANISHED (EARLIER) for the UIDs of within (resolved; NULL: all) that
 * were expunged after modseq and are not in the view.  Nothing when
 * there are none. */
static void imapd_vanished_earlier(struct imapd_session *ss, uint64_t modseq, const struct imap_seqset *within)
{
	struct mbox *mb = ss->mb;
	uint32_t *uids;
	size_t n;
	struct buf out;
	bool first = true;

	int r = mbox_expunged_since(mb, modseq, &uids, &n);
	if (r < 0) {
		log_warn("user=%s %s: out of memory for VANISHED", buf_cstr(&ss->user), mb->path);
		return;
	}
	buf_init(&out, (size_t)-1);
	buf_append_str(&out, "* VANISHED (EARLIER) ");
	size_t head = out.len;
	if (r == 0) {
		/* Runs of consecutive UIDs as ranges. */
		for (size_t i = 0; i < n;) {
			size_t j = i;
			if ((within != NULL && !imap_seqset_contains(within, uids[i])) || mbox_find_uid(mb, uids[i]) >= 0) {
				i++;
				continue;
			}
			while (j + 1 < n && uids[j + 1] == uids[j] + 1 &&
			       (within == NULL || imap_seqset_contains(within, uids[j + 1])) &&
			       mbox_find_uid(mb, uids[j + 1]) < 0)
				j++;
			imapd_put_range(&out, &first, uids[i], uids[j]);
			i = j + 1;
		}
	} else {
		/* Not remembered that far back: every gap of the view below
		 * UIDNEXT, cut to within. */
		uint32_t next = 1;
		for (size_t i = 0; i <= mb->n; i++) {
			uint32_t end = i < mb->n ? mb->msgs[i].uid : mb->uidnext;   /* gap [next, end) */
			for (uint32_t a = next; a < end;) {
				uint32_t b = end - 1;
				if (within != NULL) {
					/* The part of [a, b] inside within, range by range. */
					const struct imap_seq_range *rg = NULL;
					for (unsigned int k = 0; k < within->count; k++)
						if (within->ranges[k].hi >= a) {
							rg = &within->ranges[k];
							break;
						}
					if (rg == NULL || rg->lo > b)
						break;
					if (rg->lo > a)
						a = rg->lo;
					if (rg->hi < b)
						b = rg->hi;
				}
				imapd_put_range(&out, &first, a, b);
				if (b == UINT32_MAX)
					break;
				a = b + 1;
			}
			if (i < mb->n)
				next = mb->msgs[i].uid + 1;
		}
	}
	if (out.len > head) {
		buf_append_str(&out, "\r\n");
		stream_write(ss->s, out.data, out.len);
	}
	buf_free(&out);
	free(uids);
}

void imapd_put_uid_set(struct buf *out, const uint32_t *v, size_t n)
{
	bool first = true;

	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		imapd_put_range(out, &first, v[i], v[j]);
		i = j + 1;
	}
}

void imapd_put_vanished(struct imapd_session *ss, const uint32_t *uids, size_t n)
{
	struct buf out;

	if (n == 0)
		return;
	buf_init(&out, (size_t)-1);
	buf_append_str(&out, "* VANISHED ");
	imapd_put_uid_set(&out, uids, n);
	buf_append_str(&out, "\r\n");
	stream_write(ss->s, out.data, out.len);
	buf_free(&out);
}

int imapd_qresync_select(struct imapd_session *ss, const struct imap_select *sel)
{
	struct mbox *mb = ss->mb;
	struct imap_seqset known;
	const struct imap_seqset *within = NULL;

	/* Another UIDVALIDITY: the client's cache is void, a plain
	 * SELECT (CONDSTORE) answer it is (3.2.5). */
	if (sel->uidvalidity != mb->uidvalidity)
		return 0;
	if (sel->known_uids_set) {
		uint32_t top = mb->uidnext > 1 ? mb->uidnext - 1 : 0;
		if (imap_seqset_resolve(&sel->known_uids, top, imap_parser_arena(ss->p), &known) < 0)
			return -1;
		within = &known;
	}
	imapd_vanished_earlier(ss, sel->modseq, within);
	struct mbox_changed *chg;
	size_t n;
	if (mbox_changed_since(mb, sel->modseq, &chg, &n) < 0)
		return -1;
	for (size_t k = 0; k < n; k++)
		if (within == NULL || imap_seqset_contains(within, chg[k].m.uid))
			imapd_put_fetch_flags_of(ss, chg[k].idx, &chg[k].m);
	free(chg);
	return 0;
}

int imapd_fetch_vanished(struct imapd_session *ss, const struct imap_seqset *uids, uint64_t changedsince)
{
	struct mbox *mb = ss->mb;
	struct imap_seqset r;
	uint32_t top = mb->uidnext > 1 ? mb->uidnext - 1 : 0;

	if (imap_seqset_resolve(uids, top, imap_parser_arena(ss->p), &r) < 0)
		return -1;
	imapd_vanished_earlier(ss, changedsince, &r);
	return 0;
}
