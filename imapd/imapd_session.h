/* imapd_session: what the parts of the session process share (the
 * session's state, replies).  Not seen by the login process. */
#ifndef POSTERN_IMAPD_SESSION_H
#define POSTERN_IMAPD_SESSION_H

#include <stdbool.h>

#include "imapd.h"
#include "login_handoff.h"

#define IMAPD_FOLDER_PATH_MAX 1024   /* "DOMAIN/USER/.Name" below the mail root */
#define IMAPD_NAME_MAX 512           /* longest mailbox name, as IMAP sees it */
#define IMAPD_HIERARCHY_SEP '.'      /* Maildir++'s (and Dovecot's default for it) */
#define IMAPD_FOLDERS_MAX 10000      /* folders (and subscriptions) one LIST reads */

struct imapd_session {
	const struct imapd_limits *l;
	struct stream *s;
	struct imap_parser *p;
	char client[64];
	struct buf user;                 /* canonical address from authd */
	char root[IMAPD_FOLDER_PATH_MAX];/* the user's Maildir (INBOX), relative to the mail root */
	bool rev2;                       /* ENABLE IMAP4rev2 */
	bool condstore;                  /* CONDSTORE enabled (RFC 7162 3.1): MODSEQ in every FETCH */
	bool qresync;                    /* ENABLE QRESYNC (RFC 7162 3.2): VANISHED, not EXPUNGE */
	bool utf8;                       /* ENABLE UTF8=ACCEPT (RFC 6855): UTF-8 names and strings */
	bool tls;                        /* the login process terminates TLS (for logs) */
	unsigned long errors;
	int done;
	bool hibernated;                 /* handed to imap-hibernate: the client is no longer ours */
	long long user_slot, client_slot;/* common/session_slots.c, -1: none */

	/* The selected folder (NULL: authenticated state). */
	struct mbox *mb;
	bool readonly;                   /* EXAMINE */
	char selected[IMAPD_NAME_MAX + 1];
	size_t shown;                    /* messages the client knows of (EXISTS) */
	struct imap_seqset saved;        /* SEARCH RETURN (SAVE) (RFC 5182): UIDs, ranges malloc()ed */
};

/* Mailbox names and quoted strings in UTF-8 (IMAP4rev2 or UTF8=ACCEPT),
 * else modified UTF-7 names and ASCII strings. */
static inline bool imapd_utf8(const struct imapd_session *ss)
{
	return ss->rev2 || ss->utf8;
}

/* ---- the session (imapd_session.c) ---- */
/* Set ss up for the client stream s (not owned) from client.  0, or -1
 * (out of memory, logged). */
int imapd_session_init(struct imapd_session *ss, const struct imapd_limits *l, struct stream *s, const char *client);
/* Serve commands until the session ends: LOGOUT, BYE, the client
 * leaving, a hibernation. */
void imapd_session_loop(struct imapd_session *ss);
/* Free what ss holds (not its stream) and give its slots back. */
void imapd_session_finish(struct imapd_session *ss);

/* ---- replies (imapd_session.c) ---- */
void imapd_tagged(struct imapd_session *ss, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A BAD that counts against imap_hard_error_limit. */
void imapd_bad(struct imapd_session *ss, const char *tag, const char *text);

/* ---- mailbox names (imapd_mailbox.c) ---- */
/* The folder directory of an IMAP mailbox name (modified UTF-7, or
 * UTF-8 under IMAP4rev2) into path.  0, or -1 with *why_r for a NO. */
int imapd_mailbox_path(struct imapd_session *ss, const char *name, char *path, size_t pathlen,
		       const char **why_r);
/* Create the special-use folders (RFC 6154: Sent, Drafts, Trash, Junk,
 * Archive) that are missing, subscribed, as a new user's clients expect. */
void imapd_mailbox_autocreate(struct imapd_session *ss);
/* The special-use attribute ("\\Sent") of a stored name, or NULL. */
const char *imapd_special_use_of(const char *disk);

struct imapd_folders {
	char **name;          /* stored names (after the leading "."), sorted */
	size_t n;
	int truncated;        /* more than IMAPD_FOLDERS_MAX: the rest are left out */
};
/* The Maildir++ folders of the user: ".NAME" directories with a cur/.
 * 0, or -1 with errno. */
int imapd_folders_read(struct imapd_session *ss, struct imapd_folders *f);
void imapd_folders_free(struct imapd_folders *f);
/* The subscriptions file (one stored name a line) into b, initialised
 * here; empty when there is none.  0, or -1 with errno. */
int imapd_subs_read(struct imapd_session *ss, struct buf *b);
/* One STATUS response for the folder at path, shown as name (the client's
 * form).  0, or -1 with errno (ENOENT: no such mailbox). */
int imapd_status_send(struct imapd_session *ss, const char *name, const char *path, unsigned int items);
void imapd_cmd_status(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_create(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_delete(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_rename(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_subscribe(struct imapd_session *ss, const struct imap_command *c, bool on);

/* ---- LIST, LSUB (imapd_list.c) ---- */
void imapd_cmd_list(struct imapd_session *ss, const struct imap_command *c);

/* ---- the selected state (imapd_selected.c) ---- */
void imapd_cmd_select(struct imapd_session *ss, const struct imap_command *c);
/* Sync the selected folder and send what changed (EXPUNGE, EXISTS,
 * FETCH FLAGS), where the RFC allows it (expunges: not after FETCH,
 * STORE or SEARCH without UID). */
void imapd_send_updates(struct imapd_session *ss, bool expunges_allowed);
/* Whether none of uids is in the view any more: their EXPUNGEs were told. */
bool imapd_expunges_told(const struct imapd_session *ss, const uint32_t *uids, size_t n);
void imapd_cmd_close(struct imapd_session *ss, const struct imap_command *c, bool expunge);
void imapd_cmd_expunge(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_store(struct imapd_session *ss, const struct imap_command *c);
/* Read message idx of the view into out with every bare LF as CRLF; only
 * the header when header_only.  0, or -1 with errno (ENOENT: gone). */
int imapd_msg_read(struct imapd_session *ss, size_t idx, int header_only, struct buf *out);
void imapd_cmd_fetch(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_search(struct imapd_session *ss, const struct imap_command *c);
/* The view indexes of the messages s finds, ascending, into a malloc()ed
 * array, and the highest MODSEQ among them; "$" emptied first when s has
 * RETURN (SAVE).  0, or -1 after a reply (BADCHARSET, BAD, no memory). */
int imapd_search_matches(struct imapd_session *ss, const char *tag, const struct imap_search *s,
			 size_t **idx_r, size_t *n_r, uint64_t *modseq_r);
/* The view indexes named by set (sequence numbers or UIDs), ascending,
 * into a malloc()ed array.  0, or -1 after a reply. */
int imapd_resolve(struct imapd_session *ss, const char *tag, const struct imap_seqset *set, bool uid,
		  size_t **idx_r, size_t *n_r);
/* The store bits of a flag list for folder mb; keywords are created
 * there when create is set.  0, or -1 after a reply. */
int imapd_flag_bits(struct imapd_session *ss, const char *tag, const struct imap_flags *f, struct mbox *mb,
		    bool create, uint32_t *bits_r);
/* Close the selected folder without expunging. */
void imapd_unselect(struct imapd_session *ss);
/* Replace the saved search result ("$") by the sorted UIDs v. */
void imapd_save_result(struct imapd_session *ss, const uint32_t *v, size_t n);

/* Tell what the last sync of the selected folder found (mb->changes):
 * EXPUNGE or VANISHED, FLAGS when keywords were added, EXISTS (and
 * RECENT), FETCH FLAGS; ss->shown follows. */
void imapd_report_changes(struct imapd_session *ss);
/* The keyword letters of mb that have a name (bit i: 'a' + i). */
uint32_t imapd_keyword_mask(const struct mbox *mb);

/* "* n FETCH (UID u FLAGS (...))" of view index idx, with MODSEQ once
 * CONDSTORE is enabled (RFC 7162 3.1). */
void imapd_put_fetch_flags(struct imapd_session *ss, size_t idx);
/* The same for message m at view index idx (m: a copy of the view's). */
void imapd_put_fetch_flags_of(struct imapd_session *ss, size_t idx, const struct mbox_msg *m);

/* ---- CONDSTORE and QRESYNC (imapd_condstore.c) ---- */
/* A CONDSTORE enabling command was given (RFC 7162 3.1). */
void imapd_condstore_enable(struct imapd_session *ss);
/* After SELECT/EXAMINE (QRESYNC (...)): VANISHED (EARLIER) and the FETCH
 * of what changed since the client's MODSEQ.  0, or -1 (no memory). */
int imapd_qresync_select(struct imapd_session *ss, const struct imap_select *sel);
/* Append the sorted numbers v to out as a sequence set ("1:3,7"). */
void imapd_put_uid_set(struct buf *out, const uint32_t *v, size_t n);
/* "* VANISHED uids" for expunges told to a QRESYNC client (sorted). */
void imapd_put_vanished(struct imapd_session *ss, const uint32_t *uids, size_t n);
/* UID FETCH (CHANGEDSINCE n VANISHED): VANISHED (EARLIER) of uids. */
int imapd_fetch_vanished(struct imapd_session *ss, const struct imap_seqset *uids, uint64_t changedsince);

/* ---- SORT and THREAD (imapd_sort.c) ---- */
void imapd_cmd_sort(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_thread(struct imapd_session *ss, const struct imap_command *c);

/* ---- IDLE (imapd_idle.c) ---- */
void imapd_cmd_idle(struct imapd_session *ss, const struct imap_command *c);
/* Wait in IDLE (after "+ idling") under tag until the client's DONE,
 * telling the folder's changes; idle_since and deadline are
 * CLOCK_MONOTONIC ms: when IDLE began without a byte from the client
 * since (imap_hibernate_timeout counts from it), and when imap_timeout
 * ends it.  Sets ss->done when the session ends (or was hibernated). */
void imapd_idle_run(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline);
/* CLOCK_MONOTONIC in milliseconds. */
long long imapd_now_ms(void);

/* ---- hibernation (imapd_resume.c) ---- */
/* Hand the session, in IDLE under tag, to imap-hibernate.  0: handed
 * over (the client is no longer ours); 1: the folder changed meanwhile
 * (the changes are told: try again later); -1: not now (logged at debug
 * level; the session stays). */
int imapd_hibernate(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline);
/* A session back from imap-hibernate on conn (its record and client in
 * c, read by login_handoff_read): take it and serve it.  Consumes c. */
void imapd_resume_serve(int conn, struct login_session_client *c, const struct imapd_limits *l);

/* ---- APPEND, COPY, MOVE (imapd_append.c) ---- */
/* The parser's literal policy: APPEND messages go to temp files. */
enum imap_literal_action imapd_literal_policy(void *ctx, const struct imap_literal_info *info,
					      struct imap_literal_sink *sink_r, struct imap_parse_error *refusal_r);
/* Remove the temp files of a command that ended without using them. */
void imapd_literal_abandon(void);
void imapd_cmd_append(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_copy(struct imapd_session *ss, const struct imap_command *c, bool move);

/* ---- QUOTA, RFC 9208 (imapd_quota.c) ---- */
void imapd_cmd_getquotaroot(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_getquota(struct imapd_session *ss, const struct imap_command *c);
void imapd_cmd_setquota(struct imapd_session *ss, const struct imap_command *c);
/* Before storing count messages of bytes octets: 0 when they fit the
 * user's quota (or there is none), -1 after NO [OVERQUOTA]. */
int imapd_quota_reserve(struct imapd_session *ss, const char *tag, unsigned long long bytes,
			unsigned long long count);
/* After messages were stored (positive) or removed (negative): their
 * delta line in maildirsize, when the user has a quota. */
void imapd_quota_account(struct imapd_session *ss, long long bytes, long long count);

#endif
