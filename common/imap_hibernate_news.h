/* imap_hibernate_news: what a hibernated IMAP session is to be told of
 * its folder's present state, when that is only new messages: then
 * imap-hibernate tells it itself (EXISTS, RECENT to IMAP4rev1) and
 * keeps it, instead of waking it (docs/protocols.md, "IMAP
 * hibernation").  Anything else (an expunge or flag change of a message
 * the client knows, a new keyword, another UIDVALIDITY) needs a session
 * process, which rebuilds the view and tells it. */
#ifndef POSTERN_IMAP_HIBERNATE_NEWS_H
#define POSTERN_IMAP_HIBERNATE_NEWS_H

#include <stddef.h>

#include "buf.h"
#include "imap_hibernate_state.h"
#include "mailbox_store.h"

enum imap_hibernate_news {
	IMAP_HIBERNATE_NEWS_WAKE = -1,   /* more than new messages changed: wake the session */
	IMAP_HIBERNATE_NEWS_NONE = 0,    /* nothing changed for it since its state was taken */
	IMAP_HIBERNATE_NEWS_NEW = 1,     /* only new messages, from *first_new_r on (maybe none) */
};

/* Compare st (the session's state) with mb (its folder, synced): what it
 * is to be told.  *first_new_r: the index in mb->msgs of the first
 * message above every UID the client knows (mb->n: none). */
enum imap_hibernate_news imap_hibernate_news_check(const struct mbox *mb, const struct imap_hibernate_state *st,
						   size_t *first_new_r);
/* After IMAP_HIBERNATE_NEWS_NEW: add the new messages to st (its UIDs;
 * with claim, the \Recent ones of them to its recent set), raise its
 * MODSEQ to the folder's, and append to text what IDLE tells the
 * client (`* N EXISTS`, and `* N RECENT` without IMAP4rev2), nothing
 * when no message is new.  0, or -1 (ENOMEM, or EMSGSIZE: over
 * MBOX_MESSAGES_MAX UIDs; st and text then as they were). */
int imap_hibernate_news_apply(const struct mbox *mb, struct imap_hibernate_state *st, size_t first_new, bool claim,
			      struct buf *text);

#endif
