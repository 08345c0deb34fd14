/* imapd_resume: the session process's side of hibernation (docs/
 * protocols.md, "IMAP hibernation"): a session in IDLE handed to
 * imap-hibernate, and a session taken back from there.
 *
 * Offers: imapd_hibernate() writes the session's state (common/
 * imap_hibernate_state.c: the user and Maildir, the extensions, the
 * selected folder and the UIDs the client knows, the MODSEQ it was
 * told, "$", the IDLE tag and deadlines) and passes it with the client
 * descriptor to private/imap-hibernate.  Once that answers status=ok it
 * looks at the folder once more: a change means the state is already
 * old, so the change is told here and the hand-off dropped (no commit:
 * imap-hibernate lets go of its copy).  Else the session's slots are
 * given up, request=commit sent, and the process is free.
 * imapd_resume_serve() takes a session back: it checks that the caller
 * runs as we do (imap-hibernate: postern-vmail; a login process,
 * postern-login, may not resume anyone), checks the record, answers
 * status=ok, waits for the commit, takes the session slots, opens the
 * folder and rebuilds the client's view from the UIDs it knew
 * (mbox_view_resume), tells what changed meanwhile as IDLE allows
 * (EXPUNGE, or VANISHED under QRESYNC; FLAGS for new keywords; EXISTS
 * and RECENT; FETCH FLAGS, with MODSEQ under CONDSTORE, of what changed
 * since the MODSEQ the client was told) and goes on in IDLE under the
 * saved tag: the client's DONE and whatever follows are still unread
 * in the socket.
 *
 * Trusts: imap-hibernate (checked by SO_PEERCRED) for the descriptor;
 * the record is checked field by field, and the mailbox name must name
 * the folder path under the user's Maildir, as a SELECT would.
 *
 * Fails: a hand-off that fails keeps the session here (logged at debug
 * level).  A session taken back whose folder is gone or has a new
 * UIDVALIDITY gets BYE (its view cannot be kept); a record refused is
 * answered status=fail (imap-hibernate then says BYE). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "imap_hibernate_state.h"
#include "imapd_session.h"
#include "log.h"
#include "record.h"
#include "session_slots.h"
#include "sockets.h"

#define IMAPD_HIBERNATE_IPC_MS 5000   /* the exchange with imap-hibernate (at most ipc_timeout) */

/* A resume is read as a login hand-off is (login_handoff_read). */
_Static_assert(IMAP_HIBERNATE_RECORD_MAX <= LOGIN_HANDOFF_MAX, "a state record fits a hand-off");

static const char imapd_commit[] = "request=commit\n\n";

static int imapd_hibernate_ipc_ms(const struct imapd_limits *l)
{
	return l->ipc_timeout_ms > 0 && l->ipc_timeout_ms < IMAPD_HIBERNATE_IPC_MS ? l->ipc_timeout_ms
										    : IMAPD_HIBERNATE_IPC_MS;
}

/* One record from conn within ms.  0 or -1. */
static int imapd_resume_read(int conn, int ms, struct record *rec)
{
	struct stream *s = stream_new(conn, conn, 1024, ms);
	const char *error;
	int r = -1;

	if (s != NULL && record_read(s, rec, &error) == STREAM_OK)
		r = 0;
	stream_free(&s);
	return r;
}

/* ---- to imap-hibernate ---- */

/* The messages of the view (all, or only the \Recent ones) as a set. */
static int imapd_view_set(const struct mbox *mb, bool recent_only, struct imap_hibernate_set *set)
{
	static const struct imap_hibernate_set none;

	return imap_hibernate_set_grow(&none, mb, 0, recent_only, set);
}

static int imapd_saved_set(const struct imapd_session *ss, struct imap_hibernate_set *set)
{
	memset(set, 0, sizeof(*set));
	if (ss->saved.count == 0)
		return 0;
	if ((set->r = calloc(ss->saved.count, sizeof(*set->r))) == NULL)
		return -1;
	for (unsigned int i = 0; i < ss->saved.count; i++) {
		set->r[i] = (struct mbox_uid_range){ ss->saved.ranges[i].lo, ss->saved.ranges[i].hi };
		set->count += (uint64_t)ss->saved.ranges[i].hi - ss->saved.ranges[i].lo + 1;
	}
	set->n = ss->saved.count;
	return 0;
}

static bool imapd_copy(char *out, size_t cap, const char *in)
{
	size_t n = strlen(in);

	if (n >= cap)
		return false;
	memcpy(out, in, n + 1);
	return true;
}

/* The state of ss, in IDLE under tag.  0, or -1 (a field too long, no memory). */
static int imapd_state_of(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline,
			  struct imap_hibernate_state *st)
{
	memset(st, 0, sizeof(*st));
	st->request = IMAP_HIBERNATE_REQ_HIBERNATE;
	if (!imapd_copy(st->user, sizeof(st->user), buf_cstr(&ss->user)) ||
	    !imapd_copy(st->root, sizeof(st->root), ss->root) || !imapd_copy(st->client, sizeof(st->client), ss->client) ||
	    !imapd_copy(st->mailbox, sizeof(st->mailbox), ss->selected) ||
	    !imapd_copy(st->path, sizeof(st->path), ss->mb->path) || !imapd_copy(st->tag, sizeof(st->tag), tag))
		return -1;
	st->tls = ss->tls;
	st->enabled = (ss->rev2 ? IMAP_HIBERNATE_REV2 : 0) | (ss->condstore ? IMAP_HIBERNATE_CONDSTORE : 0) |
		      (ss->qresync ? IMAP_HIBERNATE_QRESYNC : 0) | (ss->utf8 ? IMAP_HIBERNATE_UTF8 : 0);
	st->readonly = ss->readonly;
	st->uidvalidity = ss->mb->uidvalidity;
	st->modseq = ss->mb->highestmodseq;   /* every change up to it was told */
	st->keywords = imapd_keyword_mask(ss->mb);
	st->idle_since_ms = idle_since;
	st->deadline_ms = deadline;
	st->errors = ss->errors;
	if (imapd_view_set(ss->mb, false, &st->uids) < 0 || imapd_view_set(ss->mb, true, &st->recent) < 0 ||
	    imapd_saved_set(ss, &st->saved) < 0) {
		imap_hibernate_state_free(st);
		return -1;
	}
	return 0;
}

/* After imap-hibernate's status=ok: whether the folder changed since
 * the state was taken (then told here).  1 changed (or unreadable), 0 not. */
static int imapd_hibernate_recheck(struct imapd_session *ss)
{
	struct mbox *mb = ss->mb;
	const char *error;

	if (mbox_sync(mb, ss->readonly ? 0 : MBOX_CLAIM_RECENT, &error) < 0) {
		log_warn("user=%s %s: %s", buf_cstr(&ss->user), mb->path, error);
		return 1;
	}
	if (mb->changes.n_expunged == 0 && mb->changes.n_flagged == 0 && mb->changes.first_new == mb->n &&
	    !mb->changes.keywords_changed)
		return 0;
	imapd_report_changes(ss);
	return 1;
}

/* The exchange on conn: the record with the client, status=ok, the last
 * look at the folder, the commit.  As imapd_hibernate. */
static int imapd_hibernate_pass(struct imapd_session *ss, int conn, const struct buf *rec, int ms)
{
	struct record ans = { 0 };
	const char *status, *who = buf_cstr(&ss->user);
	int ok;

	if (fd_send(conn, stream_fd(ss->s), rec->data, rec->len) < 0) {
		log_debug("user=%s: hibernation: %s", who, strerror(errno));
		return -1;
	}
	ok = imapd_resume_read(conn, ms, &ans) == 0 && (status = record_get(&ans, "status")) != NULL &&
	     strcmp(status, "ok") == 0;
	if (!ok)
		log_debug("user=%s client=%s: not hibernated: %s", who, ss->client,
			  record_get(&ans, "reason") != NULL ? record_get(&ans, "reason") : "no answer");
	record_clear(&ans);
	if (!ok)
		return -1;
	if (imapd_hibernate_recheck(ss))
		return 1;
	/* Our slots go first: imap-hibernate takes its own after the commit. */
	session_slots_release(ss->l->slots_fd, ss->user_slot);
	session_slots_release(ss->l->slots_fd, ss->client_slot);
	ss->user_slot = ss->client_slot = -1;
	if (send(conn, imapd_commit, sizeof(imapd_commit) - 1, MSG_NOSIGNAL) != (ssize_t)sizeof(imapd_commit) - 1) {
		imapd_slots_take(ss->l, who, ss->client, &ss->user_slot, &ss->client_slot, NULL);
		return -1;
	}
	return 0;
}

int imapd_hibernate(struct imapd_session *ss, const char *tag, long long idle_since, long long deadline)
{
	struct imap_hibernate_state st;
	struct buf rec;
	char path[64];
	int ms = imapd_hibernate_ipc_ms(ss->l), conn, r = -1;

	if (imapd_state_of(ss, tag, idle_since, deadline, &st) < 0) {
		log_debug("user=%s: not hibernated: no memory, or a name too long", buf_cstr(&ss->user));
		return -1;
	}
	buf_init(&rec, IMAP_HIBERNATE_RECORD_MAX + 1024);
	if (imap_hibernate_state_encode(&st, &rec) < 0) {
		log_debug("user=%s: not hibernated: its state is over %d bytes", buf_cstr(&ss->user),
			  IMAP_HIBERNATE_RECORD_MAX);
	} else if (daemon_socket_path(IMAPD_HIBERNATE_SERVICE, path, sizeof(path)) == 0) {
		if ((conn = unix_connect(path, ms)) < 0) {
			log_debug("user=%s: not hibernated: %s: %s", buf_cstr(&ss->user), path, strerror(errno));
		} else {
			r = imapd_hibernate_pass(ss, conn, &rec, ms);
			close(conn);
		}
	}
	if (r == 0)
		log_info("user=%s client=%s: hibernated", buf_cstr(&ss->user), ss->client);
	buf_free(&rec);
	imap_hibernate_state_free(&st);
	return r;
}

/* ---- back from imap-hibernate ---- */

/* Only imap-hibernate, which runs as we do, may hand us a session: a
 * login process (postern-login, also a caller of imap-session) must
 * get one only by a ticket that authd redeems. */
static bool imapd_resume_peer_ok(int conn)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (peer_cred(conn, &pid, &uid, &gid) < 0) {
		log_warn("refused a resume: no credentials: %s", strerror(errno));
		return false;
	}
	if (uid == 0 || uid == geteuid())
		return true;
	log_warn("refused a resume from pid=%ld uid=%lu: only imap-hibernate may resume a session", (long)pid,
		 (unsigned long)uid);
	return false;
}

/* The view the client had, and what changed since, told.  0, or -1
 * after a BYE. */
static int imapd_resume_folder(struct imapd_session *ss, const struct imap_hibernate_state *st)
{
	char path[IMAPD_FOLDER_PATH_MAX];
	const char *why = "", *error = "";
	struct mbox *mb;

	/* The name must give the path, as SELECT would find it. */
	if (imapd_mailbox_path(ss, st->mailbox, path, sizeof(path), &why) < 0 || strcmp(path, st->path) != 0) {
		log_warn("user=%s client=%s: resume: mailbox %s is not %s", buf_cstr(&ss->user), ss->client,
			 st->mailbox, st->path);
		stream_puts(ss->s, "* BYE [SERVERBUG] Cannot resume the session\r\n");
		return -1;
	}
	ss->readonly = st->readonly;
	if (mbox_open(path, strlen(path), ss->readonly ? 0 : MBOX_CLAIM_RECENT, &ss->mb, &error) < 0) {
		log_info("user=%s client=%s: resume: %s: %s", buf_cstr(&ss->user), ss->client, path, strerror(errno));
		stream_puts(ss->s, errno == ENOENT ? "* BYE [NONEXISTENT] The mailbox is gone\r\n"
						   : "* BYE [UNAVAILABLE] Cannot open the mailbox\r\n");
		return -1;
	}
	mb = ss->mb;
	if (mb->uidvalidity != st->uidvalidity) {
		log_info("user=%s client=%s: resume: %s has a new UIDVALIDITY", buf_cstr(&ss->user), ss->client, path);
		stream_puts(ss->s, "* BYE [UNAVAILABLE] The mailbox was recreated\r\n");
		return -1;
	}
	if (mbox_view_resume(mb, st->uids.r, st->uids.n, st->modseq) < 0) {
		log_warn("user=%s client=%s: resume: %s", buf_cstr(&ss->user), ss->client, strerror(errno));
		stream_puts(ss->s, "* BYE [SERVERBUG] Cannot resume the session\r\n");
		return -1;
	}
	/* \Recent stays with the messages this session had it for; new ones
	 * have it as this open claimed it. */
	for (size_t i = 0; i < mb->changes.first_new; i++)
		mb->msgs[i].recent = imap_hibernate_set_has(&st->recent, mb->msgs[i].uid);
	mb->changes.keywords_changed = (imapd_keyword_mask(mb) & ~st->keywords) != 0;
	snprintf(ss->selected, sizeof(ss->selected), "%s", st->mailbox);
	ss->shown = (size_t)st->uids.count;
	if (st->saved.n > 0 && (ss->saved.ranges = calloc(st->saved.n, sizeof(*ss->saved.ranges))) != NULL) {
		for (size_t i = 0; i < st->saved.n; i++)
			ss->saved.ranges[i] = (struct imap_seq_range){ st->saved.r[i].lo, st->saved.r[i].hi };
		ss->saved.count = (unsigned int)st->saved.n;
	}
	imapd_report_changes(ss);
	return 0;
}

/* The session of st on ss: who it is, then its folder.  0, or -1 after a BYE. */
static int imapd_resume_session(struct imapd_session *ss, const struct imap_hibernate_state *st)
{
	/* As session_start wants a Maildir from authd: room for its folders. */
	if (buf_set(&ss->user, st->user, strlen(st->user)) < 0 || strlen(st->root) >= sizeof(ss->root) - 256 ||
	    !imapd_copy(ss->root, sizeof(ss->root), st->root)) {
		stream_puts(ss->s, "* BYE [SERVERBUG] Cannot resume the session\r\n");
		return -1;
	}
	ss->tls = st->tls;
	ss->rev2 = (st->enabled & IMAP_HIBERNATE_REV2) != 0;
	ss->condstore = (st->enabled & IMAP_HIBERNATE_CONDSTORE) != 0;
	ss->qresync = (st->enabled & IMAP_HIBERNATE_QRESYNC) != 0;
	ss->utf8 = (st->enabled & IMAP_HIBERNATE_UTF8) != 0;
	ss->errors = st->errors;
	/* Counted again here; a login that took the slot in the moment
	 * between does not end a session that had one: it goes on uncounted. */
	imapd_slots_take(ss->l, st->user, st->client, &ss->user_slot, &ss->client_slot, NULL);
	log_info("user=%s client=%s: resumed (%s)", st->user, st->client,
		 st->wake == IMAP_HIBERNATE_WAKE_CLIENT ? "the client spoke" : "the folder changed");
	return imapd_resume_folder(ss, st);
}

/* status=ok, then the commit.  0 when the client is ours. */
static int imapd_resume_take(int conn, const struct imapd_limits *l)
{
	static const char ok[] = "status=ok\n\n";
	struct record commit = { 0 };
	const char *req;
	int r = -1;

	if (send(conn, ok, sizeof(ok) - 1, MSG_NOSIGNAL) == (ssize_t)sizeof(ok) - 1 &&
	    imapd_resume_read(conn, imapd_hibernate_ipc_ms(l), &commit) == 0 &&
	    (req = record_get(&commit, "request")) != NULL && strcmp(req, "commit") == 0)
		r = 0;
	record_clear(&commit);
	return r;
}

void imapd_resume_serve(int conn, struct login_session_client *c, const struct imapd_limits *l)
{
	struct imap_hibernate_state st;
	struct imapd_session ss;
	const char *error = "";
	long long now = imapd_now_ms();

	if (!imapd_resume_peer_ok(conn)) {
		login_handoff_done(c);
		return;
	}
	int bad = imap_hibernate_state_decode(&c->rec, &st, &error) < 0;
	if (!bad && st.request != IMAP_HIBERNATE_REQ_RESUME) {
		imap_hibernate_state_free(&st);
		error = "not a resume";
		bad = 1;
	}
	if (bad) {
		static const char fail[] = "status=fail\nreason=bad record\n\n";
		log_warn("refused a resume: %s", error);
		if (send(conn, fail, sizeof(fail) - 1, MSG_NOSIGNAL) < 0)
			log_debug("resume answer: %s", strerror(errno));
		login_handoff_done(c);
		return;
	}
	if (imapd_resume_take(conn, l) < 0) {
		log_debug("user=%s: a resume without its commit", st.user);
		imap_hibernate_state_free(&st);
		login_handoff_done(c);
		return;
	}
	/* imap_timeout as we have it bounds what the record says. */
	if (st.deadline_ms > now + l->timeout_ms)
		st.deadline_ms = now + l->timeout_ms;
	if (st.idle_since_ms > now)
		st.idle_since_ms = now;
	if ((c->s = stream_new(c->fd, c->fd, l->line_max, l->timeout_ms)) == NULL) {
		log_warn("user=%s client=%s: resume: out of memory", st.user, st.client);
	} else if (imapd_session_init(&ss, l, c->s, st.client) == 0) {
		if (imapd_resume_session(&ss, &st) == 0) {
			imapd_idle_run(&ss, st.tag, st.idle_since_ms, st.deadline_ms);
			imapd_session_loop(&ss);
		}
		if (!ss.hibernated)
			log_info("logout user=%s client=%s", buf_cstr(&ss.user), ss.client);
		imapd_session_finish(&ss);
	}
	imap_hibernate_state_free(&st);
	login_handoff_done(c);
}
