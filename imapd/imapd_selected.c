/* imapd_selected: SELECT and EXAMINE, and what works on the selected
 * folder: the untagged updates other sessions' changes call for, STORE,
 * EXPUNGE, CLOSE and UNSELECT.
 *
 * Offers: see imapd_session.h.  The session's view of the folder is the
 * store's (mb->msgs, in UID order, so sequence number = index + 1).  It
 * changes only at mbox_sync, which this module calls where RFC 9051 7.5.1
 * allows EXPUNGE responses: never during FETCH, STORE or SEARCH by
 * sequence number, so sequence numbers never shift under a client.
 * Expunges are reported in ascending UID order, each with the sequence
 * number the message has at that moment.
 *
 * Trusts: the typed commands (common/imap_grammar.c); sequence sets are
 * resolved against the view, never trusted as indexes.
 *
 * Fails: a store error is NO [SERVERBUG] for that command, logged; the
 * session goes on.  A message expunged by another session (or whose file
 * another program removed) that the client was not told of yet is no
 * server error: EXPUNGEISSUED (RFC 5530), see imapd_cmd_store. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imapd_session.h"
#include "log.h"

/* ---- flags ---- */

static const struct { uint32_t store; unsigned int imap; const char *name; } imapd_system_flags[] = {
	{ MBOX_ANSWERED, IMAP_FLAG_ANSWERED, "\\Answered" },
	{ MBOX_FLAGGED, IMAP_FLAG_FLAGGED, "\\Flagged" },
	{ MBOX_DELETED, IMAP_FLAG_DELETED, "\\Deleted" },
	{ MBOX_SEEN, IMAP_FLAG_SEEN, "\\Seen" },
	{ MBOX_DRAFT, IMAP_FLAG_DRAFT, "\\Draft" },
};
#define IMAPD_NSYSTEM (sizeof(imapd_system_flags) / sizeof(imapd_system_flags[0]))

/* "(\Seen $Label)" of message m into the stream. */
static void imapd_put_flags(struct imapd_session *ss, const struct mbox_msg *m)
{
	const char *sep = "";

	stream_puts(ss->s, "(");
	for (size_t i = 0; i < IMAPD_NSYSTEM; i++)
		if ((m->flags & imapd_system_flags[i].store) != 0) {
			stream_printf(ss->s, "%s%s", sep, imapd_system_flags[i].name);
			sep = " ";
		}
	/* IMAP4rev2 has no \Recent (RFC 9051 Appendix E), as FETCH FLAGS
	 * (common/imap_fetch_render.c) already knows. */
	if (m->recent && !ss->rev2) {
		stream_printf(ss->s, "%s\\Recent", sep);
		sep = " ";
	}
	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++)
		if ((m->flags & MBOX_KEYWORD(k)) != 0 && ss->mb->keywords[k] != NULL) {
			stream_printf(ss->s, "%s%s", sep, ss->mb->keywords[k]);
			sep = " ";
		}
	stream_puts(ss->s, ")");
}

static void imapd_put_flag_list(struct imapd_session *ss)
{
	stream_puts(ss->s, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++)
		if (ss->mb->keywords[k] != NULL)
			stream_printf(ss->s, " %s", ss->mb->keywords[k]);
	stream_puts(ss->s, ")\r\n");
	if (ss->readonly)
		stream_puts(ss->s, "* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n");
	else
		stream_puts(ss->s, "* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] "
			    "Flags permitted\r\n");
}

void imapd_put_fetch_flags(struct imapd_session *ss, size_t idx)
{
	imapd_put_fetch_flags_of(ss, idx, &ss->mb->msgs[idx]);
}

void imapd_put_fetch_flags_of(struct imapd_session *ss, size_t idx, const struct mbox_msg *m)
{
	stream_printf(ss->s, "* %zu FETCH (UID %u FLAGS ", idx + 1, m->uid);
	imapd_put_flags(ss, m);
	if (ss->condstore)
		stream_printf(ss->s, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	stream_puts(ss->s, ")\r\n");
}

/* ---- selecting ---- */

void imapd_unselect(struct imapd_session *ss)
{
	mbox_close(&ss->mb);
	ss->selected[0] = '\0';
	ss->shown = 0;
	imapd_save_result(ss, NULL, 0);   /* "$" is empty in the next folder (RFC 5182 2.1) */
}

void imapd_save_result(struct imapd_session *ss, const uint32_t *v, size_t n)
{
	struct imap_seq_range *r = n > 0 ? calloc(n, sizeof(*r)) : NULL;
	unsigned int count = 0;

	free(ss->saved.ranges);
	ss->saved.ranges = NULL;
	ss->saved.count = 0;
	if (r == NULL)
		return;   /* nothing saved, or no memory: "$" is empty */
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		r[count++] = (struct imap_seq_range){ v[i], v[j] };
		i = j + 1;
	}
	ss->saved.ranges = r;
	ss->saved.count = count;
}

static size_t imapd_count_recent(const struct mbox *mb)
{
	size_t n = 0;

	for (size_t i = 0; i < mb->n; i++)
		n += mb->msgs[i].recent;
	return n;
}

/* \Recent of a view just opened (SELECT): only its one sync claimed
 * any, the UIDs from the first no session had taken up to UIDNEXT, so
 * they are the view's last messages.  Counted from the end: a SELECT of
 * a large folder reads none of the others (they may be pages of the
 * snapshot not even mapped in yet).  Later syncs may leave gaps (a
 * message another session claimed): imapd_count_recent then. */
static size_t imapd_count_recent_opened(const struct mbox *mb)
{
	size_t n = 0;

	while (n < mb->n && mb->msgs[mb->n - 1 - n].recent)
		n++;
	return n;
}

void imapd_cmd_select(struct imapd_session *ss, const struct imap_command *c)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why, *error;
	bool examine = c->id == IMAP_CMD_EXAMINE;

	if (c->u.select.qresync && !ss->qresync) {
		imapd_bad(ss, c->tag, "QRESYNC is not enabled");   /* RFC 7162 3.2.5 */
		return;
	}
	if (ss->mb != NULL) {
		imapd_unselect(ss);
		/* RFC 9051 7.1; RFC 7162 3.2.11 for QRESYNC clients of IMAP4rev1. */
		if (ss->rev2 || ss->qresync)
			stream_puts(ss->s, "* OK [CLOSED] Previous mailbox closed\r\n");
	}
	if (c->u.select.condstore || c->u.select.qresync)
		imapd_condstore_enable(ss);
	if (imapd_mailbox_path(ss, c->u.select.mailbox, path, sizeof(path), &why) < 0) {
		imapd_tagged(ss, c->tag, "NO %s", why);
		return;
	}
	if (mbox_open(path, strlen(path), examine ? 0 : MBOX_CLAIM_RECENT, &ss->mb, &error) < 0) {
		if (errno == ENOENT)
			imapd_tagged(ss, c->tag, "NO [NONEXISTENT] No such mailbox");
		else {
			log_warn("user=%s %s: %s: %s", buf_cstr(&ss->user), path, error, strerror(errno));
			imapd_tagged(ss, c->tag, "NO [SERVERBUG] Cannot open the mailbox");
		}
		return;
	}
	ss->readonly = examine;
	snprintf(ss->selected, sizeof(ss->selected), "%s", c->u.select.mailbox);
	ss->shown = ss->mb->n;
	imapd_put_flag_list(ss);
	stream_printf(ss->s, "* %zu EXISTS\r\n", ss->mb->n);
	if (!ss->rev2) {
		/* IMAP4rev1 only (RFC 3501 6.3.1): RECENT and the first unseen. */
		stream_printf(ss->s, "* %zu RECENT\r\n", imapd_count_recent_opened(ss->mb));
		for (size_t i = 0; i < ss->mb->n; i++)
			if ((ss->mb->msgs[i].flags & MBOX_SEEN) == 0) {
				stream_printf(ss->s, "* OK [UNSEEN %zu] First unseen\r\n", i + 1);
				break;
			}
	} else {
		stream_printf(ss->s, "* LIST () \"%c\" ", IMAPD_HIERARCHY_SEP);
		stream_printf(ss->s, "\"%s\"\r\n", c->u.select.mailbox);
	}
	stream_printf(ss->s, "* OK [UIDVALIDITY %u] UIDs valid\r\n", ss->mb->uidvalidity);
	stream_printf(ss->s, "* OK [UIDNEXT %u] Predicted next UID\r\n", ss->mb->uidnext);
	/* Every folder keeps MODSEQs: HIGHESTMODSEQ on every SELECT (RFC 7162 3.1.2.1). */
	stream_printf(ss->s, "* OK [HIGHESTMODSEQ %llu] Highest\r\n", (unsigned long long)ss->mb->highestmodseq);
	char mailboxid[48];
	mbox_mailboxid(ss->mb, mailboxid, sizeof(mailboxid));
	stream_printf(ss->s, "* OK [MAILBOXID (%s)] Ok\r\n", mailboxid);   /* RFC 8474 4.2 */
	if (ss->mb->overflow)
		stream_printf(ss->s, "* NO [ALERT] More than %zu messages: not all are shown\r\n", mbox_messages_max);
	if (c->u.select.qresync && imapd_qresync_select(ss, &c->u.select) < 0)
		log_warn("user=%s %s: out of memory for QRESYNC", buf_cstr(&ss->user), path);
	imapd_tagged(ss, c->tag, "OK [%s] %s completed", examine ? "READ-ONLY" : "READ-WRITE",
		     examine ? "EXAMINE" : "SELECT");
}

/* ---- updates ---- */

/* Messages of the view with a UID below uid. */
static size_t imapd_count_below(const struct mbox *mb, uint32_t uid)
{
	size_t lo = 0, hi = mb->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (mb->msgs[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void imapd_send_updates(struct imapd_session *ss, bool expunges_allowed)
{
	const char *error;
	struct mbox *mb = ss->mb;

	if (mb == NULL || !expunges_allowed)
		return;
	if (mbox_sync(mb, ss->readonly ? 0 : MBOX_CLAIM_RECENT, &error) < 0) {
		log_warn("user=%s %s: %s", buf_cstr(&ss->user), mb->path, error);
		return;
	}
	imapd_report_changes(ss);
}

uint32_t imapd_keyword_mask(const struct mbox *mb)
{
	uint32_t mask = 0;

	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++)
		if (mb->keywords[k] != NULL)
			mask |= 1u << k;
	return mask;
}

void imapd_report_changes(struct imapd_session *ss)
{
	struct mbox *mb = ss->mb;

	/* Ascending UIDs: each one's number is counted in the new view, to
	 * which every earlier EXPUNGE has already brought the client.  A
	 * QRESYNC client is told the UIDs instead (RFC 7162 3.2.10). */
	if (ss->qresync)
		imapd_put_vanished(ss, mb->changes.expunged, mb->changes.n_expunged);
	else
		for (size_t k = 0; k < mb->changes.n_expunged; k++)
			stream_printf(ss->s, "* %zu EXPUNGE\r\n", imapd_count_below(mb, mb->changes.expunged[k]) + 1);
	ss->shown -= mb->changes.n_expunged <= ss->shown ? mb->changes.n_expunged : ss->shown;
	if (mb->changes.keywords_changed)
		imapd_put_flag_list(ss);
	if (mb->n != ss->shown) {
		stream_printf(ss->s, "* %zu EXISTS\r\n", mb->n);
		if (!ss->rev2)
			stream_printf(ss->s, "* %zu RECENT\r\n", imapd_count_recent(mb));
		ss->shown = mb->n;
	}
	for (size_t k = 0; k < mb->changes.n_flagged; k++) {
		long idx = mbox_find_uid(mb, mb->changes.flagged[k]);
		if (idx >= 0 && (size_t)idx < mb->changes.first_new)
			imapd_put_fetch_flags(ss, (size_t)idx);
	}
}

/* ---- message sets ---- */

/* The view indexes named by set (sequence numbers or UIDs), ascending,
 * into a malloc()ed array.  0, or -1 after a reply. */
int imapd_resolve(struct imapd_session *ss, const char *tag, const struct imap_seqset *set, bool uid,
		  size_t **idx_r, size_t *n_r)
{
	struct mbox *mb = ss->mb;
	struct imap_seqset r;
	size_t n = 0, *idx;

	*idx_r = NULL;
	*n_r = 0;
	if (set->saved) {
		/* RFC 5182 2.1: the saved UIDs that are still in the view. */
		if ((idx = calloc(ss->shown > 0 ? ss->shown : 1, sizeof(*idx))) == NULL) {
			imapd_tagged(ss, tag, "NO [SERVERBUG] Out of memory");
			return -1;
		}
		for (size_t i = 0; i < ss->shown && i < mb->n; i++)
			if (ss->saved.count > 0 && imap_seqset_contains(&ss->saved, mb->msgs[i].uid))
				idx[n++] = i;
		*idx_r = idx;
		*n_r = n;
		return 0;
	}
	uint32_t max = uid ? (mb->n > 0 ? mb->msgs[mb->n - 1].uid : 0) : (uint32_t)ss->shown;
	if (!uid && imap_seqset_highest(set) > ss->shown) {
		imapd_bad(ss, tag, "Invalid message sequence number");
		return -1;
	}
	if (imap_seqset_resolve(set, max, imap_parser_arena(ss->p), &r) < 0 ||
	    (idx = calloc(ss->shown > 0 ? ss->shown : 1, sizeof(*idx))) == NULL) {
		imapd_tagged(ss, tag, "NO [SERVERBUG] Out of memory");
		return -1;
	}
	for (size_t i = 0; i < ss->shown && i < mb->n; i++)
		if (imap_seqset_contains(&r, uid ? mb->msgs[i].uid : (uint32_t)(i + 1)))
			idx[n++] = i;
	*idx_r = idx;
	*n_r = n;
	return 0;
}

/* ---- STORE ---- */

int imapd_flag_bits(struct imapd_session *ss, const char *tag, const struct imap_flags *f, struct mbox *mb,
		    bool create, uint32_t *bits_r)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < IMAPD_NSYSTEM; i++)
		if ((f->system & imapd_system_flags[i].imap) != 0)
			bits |= imapd_system_flags[i].store;
	for (unsigned int k = 0; k < f->nkeywords; k++) {
		uint32_t bit;
		if (mbox_keyword(mb, f->keywords[k], strlen(f->keywords[k]), create, &bit) < 0) {
			if (errno == ENOENT)
				continue;   /* removing a keyword nobody has */
			imapd_tagged(ss, tag, errno == ENOSPC ? "NO [LIMIT] Too many keywords in this mailbox"
							     : "NO [SERVERBUG] Cannot add the keyword");
			return -1;
		}
		bits |= bit;
	}
	*bits_r = bits;
	return 0;
}

bool imapd_expunges_told(const struct imapd_session *ss, const uint32_t *uids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (mbox_find_uid(ss->mb, uids[i]) >= 0)
			return false;
	return true;
}

void imapd_cmd_store(struct imapd_session *ss, const struct imap_command *c)
{
	const struct imap_store *st = &c->u.store;
	size_t *idx, n, n_gone = 0, failed = 0, nmod = 0;
	uint32_t bits, add, remove, *gone, *modified;   /* modified: failed UNCHANGEDSINCE (RFC 7162 3.1.3) */
	uint64_t since = st->unchangedsince_set ? st->unchangedsince : UINT64_MAX;

	if (ss->readonly) {
		imapd_tagged(ss, c->tag, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	if (st->unchangedsince_set)
		imapd_condstore_enable(ss);
	if (imapd_resolve(ss, c->tag, &st->set, c->uid, &idx, &n) < 0)
		return;
	gone = calloc(n > 0 ? n : 1, sizeof(*gone));
	modified = calloc(n > 0 ? n : 1, sizeof(*modified));
	if (gone == NULL || modified == NULL) {
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Out of memory");
		goto out;
	}
	if (imapd_flag_bits(ss, c->tag, &st->flags, ss->mb, st->op != IMAP_STORE_REMOVE, &bits) < 0)
		goto out;
	add = st->op == IMAP_STORE_REMOVE ? 0 : bits;
	remove = st->op == IMAP_STORE_SET ? UINT32_MAX : st->op == IMAP_STORE_REMOVE ? bits : 0;
	for (size_t i = 0; i < n; i++) {
		const struct mbox_msg *m = &ss->mb->msgs[idx[i]];
		uint32_t told = (m->flags & ~remove) | add;   /* what the client expects now */
		/* The store checks each message is there even when its flags
		 * stay as they are: a gone message gets no FETCH.  With
		 * UNCHANGEDSINCE the MODSEQ is checked even then (0 always
		 * fails: RFC 7162 3.1.3). */
		int r = mbox_msg_update_flags_if(ss->mb, idx[i], add, remove, since);
		if (r > 0) {
			modified[nmod++] = c->uid ? m->uid : (uint32_t)(idx[i] + 1);
			continue;
		}
		if (r < 0) {
			if (errno == ENOENT) {
				gone[n_gone++] = m->uid;
			} else {
				log_warn("user=%s %s: UID %u: %s", buf_cstr(&ss->user), ss->mb->path, m->uid,
					 strerror(errno));
				failed++;
			}
			continue;
		}
		/* The change is made to the flags as stored, and the view now
		 * holds them: another session's change the client was not told
		 * yet is told here, .SILENT or not (RFC 9051 6.4.6), or never. */
		if (!st->silent || m->flags != told)
			imapd_put_fetch_flags(ss, idx[i]);
		else if (ss->condstore)   /* the new MODSEQ even so (RFC 7162 3.1.3's example) */
			stream_printf(ss->s, "* %zu FETCH (UID %u MODSEQ (%llu))\r\n", idx[i] + 1, m->uid,
				      (unsigned long long)m->modseq);
	}
	imapd_send_updates(ss, c->uid);
	/* Messages expunged meanwhile (by another session or program) are
	 * left out.  RFC 2180 4.2 says how to answer: with .SILENT, OK
	 * (4.2.1); without, NO, after the FETCHes of the others (4.2.2,
	 * 4.2.3), since the client asked to see flags it will not get.  A
	 * UID STORE whose reply told those EXPUNGEs named UIDs that no
	 * longer exist, which is no error (RFC 9051 6.4.9).  Either way the
	 * reply carries EXPUNGEISSUED (RFC 9051 7.1, RFC 5530 3): the client
	 * may want a NOOP, which tells it the EXPUNGEs.  (Dovecot 2.3 keeps
	 * a ghost of the message in its index and answers OK with a FETCH
	 * of flags that were never stored; with no ghost to change, Postern
	 * says what happened.)  [MODIFIED] goes before EXPUNGEISSUED: a
	 * client not told which messages the conditional STORE left alone
	 * takes its change as made (RFC 7162 3.1.3), while the expunges
	 * reach it at its next sync anyway. */
	if (failed > 0) {
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Some flags could not be changed");
	} else if (nmod > 0) {
		struct buf set;
		buf_init(&set, (size_t)-1);
		imapd_put_uid_set(&set, modified, nmod);
		imapd_tagged(ss, c->tag, "OK [MODIFIED %s] Conditional STORE failed%s", buf_cstr(&set),
			     n_gone > 0 ? "; some messages were expunged meanwhile" : "");
		buf_free(&set);
	} else if (n_gone > 0 && !st->silent && !imapd_expunges_told(ss, gone, n_gone)) {
		imapd_tagged(ss, c->tag, "NO [EXPUNGEISSUED] Some of the messages were expunged meanwhile");
	} else if (n_gone > 0) {
		imapd_tagged(ss, c->tag, "OK [EXPUNGEISSUED] STORE completed; some messages were expunged meanwhile");
	} else {
		imapd_tagged(ss, c->tag, "OK STORE completed");
	}
out:
	free(idx);
	free(gone);
	free(modified);
}

/* ---- EXPUNGE, CLOSE, UNSELECT ---- */

/* Remove the \Deleted messages (of uids when given): those with the flag
 * as stored now (RFC 9051 6.4.3), not as the session last saw them.  The
 * caller has brought the view up to date (another session's \Deleted
 * counts), and each removal checks the flag again under the folder lock
 * (one another session cleared does not).  The number that could not
 * be removed. */
static size_t imapd_expunge_deleted(struct imapd_session *ss, const struct imap_seqset *uids)
{
	struct imap_seqset r;
	size_t failed = 0;
	struct mbox *mb = ss->mb;
	long long bytes = 0, count = 0;

	if (uids != NULL && imap_seqset_resolve(uids, mb->n > 0 ? mb->msgs[mb->n - 1].uid : 0,
						imap_parser_arena(ss->p), &r) < 0)
		return 1;
	for (size_t i = 0; i < mb->n; i++) {
		if ((mb->msgs[i].flags & MBOX_DELETED) == 0 ||
		    (uids != NULL && !imap_seqset_contains(&r, mb->msgs[i].uid)))
			continue;
		int removed;
		if (mbox_msg_remove_if(mb, i, MBOX_DELETED, &removed) < 0) {
			log_warn("user=%s %s: cannot expunge UID %u: %s", buf_cstr(&ss->user), mb->path,
				 mb->msgs[i].uid, strerror(errno));
			failed++;
		} else if (removed) {
			/* Not what another session removed first: it counts its own. */
			bytes += (long long)mb->msgs[i].size;
			count++;
		}
	}
	imapd_quota_account(ss, -bytes, -count);
	return failed;
}

void imapd_cmd_expunge(struct imapd_session *ss, const struct imap_command *c)
{
	if (ss->readonly) {
		imapd_tagged(ss, c->tag, "NO [READ-ONLY] Mailbox is read-only");
		return;
	}
	imapd_send_updates(ss, true);   /* the flags as they are now */
	size_t failed = imapd_expunge_deleted(ss, c->uid ? &c->u.expunge : NULL);
	imapd_send_updates(ss, true);
	if (failed > 0)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Some messages could not be expunged");
	else
		imapd_tagged(ss, c->tag, "OK EXPUNGE completed");
}

void imapd_cmd_close(struct imapd_session *ss, const struct imap_command *c, bool expunge)
{
	/* CLOSE expunges silently (RFC 9051 6.4.1); UNSELECT does not.  The
	 * view is synced without telling (nor claiming \Recent). */
	if (expunge && !ss->readonly) {
		const char *error;
		if (mbox_sync(ss->mb, 0, &error) < 0)
			log_warn("user=%s %s: %s", buf_cstr(&ss->user), ss->mb->path, error);
		imapd_expunge_deleted(ss, NULL);
	}
	imapd_unselect(ss);
	imapd_tagged(ss, c->tag, "OK %s completed", expunge ? "CLOSE" : "UNSELECT");
}
