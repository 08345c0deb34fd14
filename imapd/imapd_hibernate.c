/* imapd_hibernate: the hibernation process, the one process of the unix
 * service imap-hibernate (docs/protocols.md, "IMAP hibernation").
 *
 * Offers: a home for IMAP sessions that sit in IDLE with nothing to
 * send.  A session process (imapd_resume.c) hands over the client's
 * descriptor with the session's state record (common/
 * imap_hibernate_state.c) and is then free for another client; here
 * the session costs a descriptor, a few hundred bytes and a share of
 * one inotify watch per distinct folder.  One epoll loop watches every
 * client (input or hang-up) and every folder (new/, cur/ and the
 * store's own files in the folder directory).  A folder that changed
 * is synced here once for all its sessions (hib_folder_news): a session
 * for which the change is only new messages is told them here (EXISTS,
 * RECENT; common/imap_hibernate_news.c) and its state renewed.  When
 * the client speaks or its folder changes otherwise, the descriptor and
 * the state go back, with request=resume, to a session process over
 * private/imap-session, which takes the session up again where it was:
 * in IDLE, the client's bytes still unread in the socket.  A client
 * that hangs up is
 * forgotten; one whose imap_timeout passes gets the autologout BYE;
 * when the system stops (the master's SIGUSR1) or the master is gone,
 * every client gets "* BYE Server shutting down".  No byte from a
 * client is ever read here: input is only peeked at (MSG_PEEK) to tell
 * it from a hang-up.
 *
 * Both hand-offs are three steps on one connection, so that a client
 * is never held by two processes nor by none: the sender sends the
 * record with the descriptor, the receiver answers status=ok (or
 * status=fail), the sender gives up the client (releasing its session
 * slots) and says request=commit, and only then does the receiver take
 * the client and the slots.  A sender that hears nothing keeps its
 * client (and sends no commit); a receiver that gets no commit drops
 * its copy of the descriptor.
 *
 * Between its status=ok and the commit a session process looks at its
 * folder once more (a change there makes it keep the client and tell
 * the change); a folder event in that window marks the session here,
 * and its folder is looked at as soon as it is taken.  So no change is
 * missed in the hand-over, and the session's own writes before it
 * (read from the inotify queue before status=ok) do not wake it.
 *
 * Runs as: postern-vmail in the mail root, as imap-session does; it
 * opens and syncs a folder as a session does (its lock held meanwhile
 * holds this loop up), never a message for its text.  It raises its
 * descriptor limit to the hard limit; imap_hibernate_limit (and that
 * limit less a reserve) bound the sessions held.  Sessions count in
 * imap_user_session_limit and imap_client_session_limit here as they
 * did in their session process (common/session_slots.c).
 *
 * Trusts: its callers (postern-vmail and root, daemon_peer_ok) for the
 * descriptor, but their record is checked field by field all the same.
 *
 * Fails: a hand-off it cannot take (limit, stopping, no inotify watch,
 * bad record) is answered status=fail and the session stays in its
 * process.  A wake-up that no session process takes within
 * HIBERNATE_ANSWER_MS is tried again HIBERNATE_WAKE_TRIES times, each
 * HIBERNATE_RETRY_MS later, then the client is told BYE: never left
 * hanging silently.  If this process dies, the kernel closes every
 * client (they reconnect) and the master starts another. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "fdrecord.h"
#include "hash.h"
#include "imap_hibernate_news.h"
#include "imap_hibernate_state.h"
#include "imapd.h"
#include "log.h"
#include "record.h"
#include "session_slots.h"
#include "sockets.h"

#define HIBERNATE_INCOMING_MAX 64     /* hand-offs being read at once */
#define HIBERNATE_WAKING_MAX 32       /* wake-ups waiting for a session process's answer */
#define HIBERNATE_WAKE_TRIES 5        /* attempts at a wake-up before the client gets BYE */
#define HIBERNATE_RETRY_MS 1000       /* between two attempts */
#define HIBERNATE_ANSWER_MS 10000     /* for status=ok (at most ipc_timeout) */
#define HIBERNATE_FD_RESERVE 64       /* descriptors kept for everything but clients */
#define HIBERNATE_EVENTS 256          /* epoll events taken per wait */
#define HIBERNATE_BUCKETS 4096        /* of the folder tables */
#define HIBERNATE_ANSWER_MAX 128      /* an answer or commit record */
#define HIBERNATE_TICK_MS 250         /* deadlines are looked at no more often than this */

/* What an epoll event is about: the first member of each owner. */
enum hib_kind { HIB_LISTEN, HIB_STOP, HIB_HURRY, HIB_LIFELINE, HIB_INOTIFY, HIB_CLIENT, HIB_WAKE, HIB_IN };
struct hib_ev {
	enum hib_kind kind;
};

struct hib_session;
struct hib_folder;

/* One inotify watch: of a folder, its new/ or its cur/. */
struct hib_watch {
	int wd;                         /* -1: none (removed, or gone with its directory) */
	int which;                      /* 0 the folder, 1 new/, 2 cur/ */
	struct hib_folder *folder;
	struct hib_watch *next;         /* bucket chain */
};

/* One watched folder, shared by the sessions on it. */
struct hib_folder {
	char *path;
	struct hib_watch w[3];
	size_t refs;                    /* sessions on it (pending, held, waking) */
	bool hashed;                    /* found by its path (not after its directory went away) */
	struct hib_session *sessions;   /* on it */
	struct hib_folder *next;        /* bucket chain */
	bool changed;                   /* on the list of folders to look at (holds a reference) */
	struct hib_folder *cnext;       /* that list */
};

enum hib_state {
	HIB_PENDING,   /* status=ok sent, waiting for the commit */
	HIB_HELD,      /* hibernated */
	HIB_QUEUED,    /* to be woken, waiting for a free slot */
	HIB_WAKING,    /* record sent, waiting for status=ok */
	HIB_RETRY,     /* a wake-up failed; the next at due */
};

struct hib_session {
	struct hib_ev client_ev;
	struct hib_ev wake_ev;
	enum hib_state state;
	int fd;                         /* the client */
	int conn;                       /* while waking: the session process, else -1 */
	char *rec;                      /* the state record as received */
	size_t rec_len;
	char *user;
	char client[IMAP_HIBERNATE_CLIENT_MAX];
	struct hib_folder *folder;
	long long deadline;             /* imap_timeout: autologout */
	long long due;                  /* HIB_WAKING: answer by; HIB_RETRY: next attempt */
	long long user_slot, client_slot;
	unsigned tries;
	bool dirty;                     /* HIB_PENDING: its folder changed meanwhile */
	bool stale;                     /* HIB_HELD: its folder changed since it was last looked at */
	bool readonly, rev1;            /* EXAMINE; not IMAP4rev2 (\Recent is shown) */
	uint32_t uidvalidity;           /* of its state record */
	uint64_t modseq;                /* of its state record: every change up to it was told */
	enum imap_hibernate_wake wake;
	char answer[HIBERNATE_ANSWER_MAX];
	size_t answer_len;
	struct hib_session *prev, *next;     /* every session */
	struct hib_session *fprev, *fnext;   /* on its folder */
	struct hib_session *qnext;           /* the wake queue */
};

/* A hand-off being received. */
struct hib_in {
	struct hib_ev ev;
	int conn;
	int fd;                         /* the client's descriptor, once received */
	char *buf;                      /* the record (then the commit) so far */
	size_t len;
	size_t scanned;                 /* fdrecord_end's place in buf */
	struct hib_session *s;          /* taken (status=ok sent): waiting for the commit */
	long long due;
	struct hib_in *prev, *next;
};

struct hib {
	struct daemon *d;
	const struct imapd_limits *l;
	int ep, inotify;
	struct hib_ev listen_ev, stop_ev, hurry_ev, lifeline_ev, inotify_ev;
	bool listening, draining, master_gone, busy;
	size_t limit;                   /* sessions at most */
	size_t nsessions, nin, nwaking;
	int answer_ms;
	struct hib_session *sessions;
	struct hib_session *queue, *queue_tail;
	struct hib_in *ins;
	struct hib_folder *changed;     /* folders to look at (hib_folder_news) */
	struct hib_folder *by_path[HIBERNATE_BUCKETS];
	struct hib_watch *by_wd[HIBERNATE_BUCKETS];
	long long next_due;             /* earliest deadline or due, LLONG_MAX: none */
	long long last_scan;            /* of hib_timers: at most one per HIBERNATE_TICK_MS */
};

/* The doubly linked lists of sessions and of hand-offs (prev, next). */
#define HIB_LIST_PUSH(head, x)                  \
	do {                                    \
		(x)->prev = NULL;               \
		(x)->next = (head);             \
		if ((head) != NULL)             \
			(head)->prev = (x);     \
		(head) = (x);                   \
	} while (0)
#define HIB_LIST_REMOVE(head, x)                        \
	do {                                            \
		if ((x)->prev != NULL)                  \
			(x)->prev->next = (x)->next;    \
		else                                    \
			(head) = (x)->next;             \
		if ((x)->next != NULL)                  \
			(x)->next->prev = (x)->prev;    \
	} while (0)

static long long hib_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hib_due(struct hib *h, long long t)
{
	if (t < h->next_due)
		h->next_due = t;
}

static int hib_epoll(struct hib *h, int op, int fd, uint32_t events, struct hib_ev *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(h->ep, op, fd, &e);
}

/* Send text to a client without waiting (a full socket loses it). */
static void hib_say(int fd, const char *text)
{
	if (send(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("client: %s", strerror(errno));
}

/* ---- folders ---- */

static size_t hib_path_bucket(const char *path)
{
	return hash_fnv32_str(HASH_FNV32_INIT, path) % HIBERNATE_BUCKETS;
}

static size_t hib_wd_bucket(int wd)
{
	return (size_t)((unsigned)wd % HIBERNATE_BUCKETS);
}

static struct hib_watch *hib_watch_find(struct hib *h, int wd)
{
	for (struct hib_watch *w = h->by_wd[hib_wd_bucket(wd)]; w != NULL; w = w->next)
		if (w->wd == wd)
			return w;
	return NULL;
}

/* Forget a watch: the kernel removed it (IN_IGNORED), or we remove it. */
static void hib_watch_drop(struct hib *h, struct hib_watch *w, bool remove)
{
	if (w->wd < 0)
		return;
	for (struct hib_watch **pp = &h->by_wd[hib_wd_bucket(w->wd)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	if (remove)
		inotify_rm_watch(h->inotify, w->wd);
	w->wd = -1;
}

static void hib_folder_unhash(struct hib *h, struct hib_folder *f)
{
	if (!f->hashed)
		return;
	for (struct hib_folder **pp = &h->by_path[hib_path_bucket(f->path)]; *pp != NULL; pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->hashed = false;
}

static void hib_folder_put(struct hib *h, struct hib_folder *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	for (int k = 0; k < 3; k++)
		hib_watch_drop(h, &f->w[k], true);
	hib_folder_unhash(h, f);
	free(f->path);
	free(f);
}

/* The folder of path, watched, with one more reference; NULL when it
 * cannot be watched (logged). */
static struct hib_folder *hib_folder_get(struct hib *h, const char *path)
{
	static const char *const subs[3] = { "", "/new", "/cur" };
	static int warned;
	const uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_DELETE_SELF |
			      IN_MOVE_SELF | IN_ONLYDIR;
	struct hib_folder *f;
	char sub[IMAP_HIBERNATE_PATH_MAX + 8];

	for (f = h->by_path[hib_path_bucket(path)]; f != NULL; f = f->next)
		if (strcmp(f->path, path) == 0) {
			f->refs++;
			return f;
		}
	if ((f = calloc(1, sizeof(*f))) == NULL || (f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	for (int k = 0; k < 3; k++)
		f->w[k] = (struct hib_watch){ .wd = -1, .which = k, .folder = f };
	for (int k = 0; k < 3; k++) {
		snprintf(sub, sizeof(sub), "%s%s", path, subs[k]);
		int wd = inotify_add_watch(h->inotify, sub, mask);
		if (wd < 0 || hib_watch_find(h, wd) != NULL) {
			/* ENOSPC, said once; ENOENT: the folder has gone.  A
			 * watch we have already: another path to the same
			 * directory, which one folder entry must not share. */
			if (wd < 0 && errno == ENOSPC && !warned++)
				log_warn("inotify %s: %s (fs.inotify.max_user_watches)", sub, strerror(errno));
			else if (wd < 0)
				log_debug("inotify %s: %s", sub, strerror(errno));
			hib_folder_put(h, f);
			return NULL;
		}
		f->w[k].wd = wd;
		f->w[k].next = h->by_wd[hib_wd_bucket(wd)];
		h->by_wd[hib_wd_bucket(wd)] = &f->w[k];
	}
	f->hashed = true;
	f->next = h->by_path[hib_path_bucket(path)];
	h->by_path[hib_path_bucket(path)] = f;
	return f;
}

static void hib_folder_link(struct hib_session *s, struct hib_folder *f)
{
	s->folder = f;
	s->fprev = NULL;
	s->fnext = f->sessions;
	if (f->sessions != NULL)
		f->sessions->fprev = s;
	f->sessions = s;
}

static void hib_folder_unlink(struct hib *h, struct hib_session *s)
{
	struct hib_folder *f = s->folder;

	if (f == NULL)
		return;
	if (s->fprev != NULL)
		s->fprev->fnext = s->fnext;
	else
		f->sessions = s->fnext;
	if (s->fnext != NULL)
		s->fnext->fprev = s->fprev;
	s->folder = NULL;
	hib_folder_put(h, f);
}

/* ---- sessions ---- */

static void hib_queue_remove(struct hib *h, struct hib_session *s)
{
	struct hib_session *prev = NULL;

	for (struct hib_session *q = h->queue; q != NULL; prev = q, q = q->qnext)
		if (q == s) {
			if (prev != NULL)
				prev->qnext = q->qnext;
			else
				h->queue = q->qnext;
			if (h->queue_tail == s)
				h->queue_tail = prev;
			break;
		}
	s->qnext = NULL;
}

/* Forget s: close what it holds, give its slots back. */
static void hib_session_free(struct hib *h, struct hib_session *s)
{
	if (s->state == HIB_QUEUED)
		hib_queue_remove(h, s);
	if (s->conn >= 0) {
		close(s->conn);
		h->nwaking--;
	}
	/* Out of the epoll set first: a session process may still hold
	 * the same open file, which would keep it there after close. */
	if (s->state == HIB_HELD)
		hib_epoll(h, EPOLL_CTL_DEL, s->fd, 0, NULL);
	if (s->fd >= 0)
		close(s->fd);
	hib_folder_unlink(h, s);
	session_slots_release(h->l->slots_fd, s->user_slot);
	session_slots_release(h->l->slots_fd, s->client_slot);
	HIB_LIST_REMOVE(h->sessions, s);
	h->nsessions--;
	free(s->rec);
	free(s->user);
	free(s);
}

/* End s with a last word to its client. */
static void hib_session_bye(struct hib *h, struct hib_session *s, const char *bye)
{
	hib_say(s->fd, bye);
	hib_session_free(h, s);
}

/* The client spoke or its folder changed: hand s back to a session process. */
static void hib_wake(struct hib *h, struct hib_session *s, enum imap_hibernate_wake why)
{
	if (s->state == HIB_PENDING) {
		s->dirty = true;
		return;
	}
	if (s->state != HIB_HELD)
		return;   /* on its way already */
	hib_epoll(h, EPOLL_CTL_DEL, s->fd, 0, NULL);
	s->wake = why;
	s->tries = 0;
	s->state = HIB_QUEUED;
	if (h->queue_tail != NULL)
		h->queue_tail->qnext = s;
	else
		h->queue = s;
	h->queue_tail = s;
}

/* The resume record of s into out: its state with request=resume and why. */
static int hib_resume_record(struct hib_session *s, struct buf *out)
{
	struct record rec = { 0 };
	struct imap_hibernate_state st;
	const char *error;
	size_t used;
	int r = -1;

	if (record_parse(s->rec, s->rec_len, &rec, &used, &error) == 0 &&
	    imap_hibernate_state_decode(&rec, &st, &error) == 0) {
		st.request = IMAP_HIBERNATE_REQ_RESUME;
		st.wake = s->wake;
		r = imap_hibernate_state_encode(&st, out);
		imap_hibernate_state_free(&st);
	}
	record_clear(&rec);
	return r;
}

/* A wake-up attempt failed: later again, or BYE after the last. */
static void hib_wake_failed(struct hib *h, struct hib_session *s, const char *why)
{
	if (s->conn >= 0) {
		close(s->conn);
		s->conn = -1;
		h->nwaking--;
	}
	if (++s->tries >= HIBERNATE_WAKE_TRIES) {
		log_warn("user=%s client=%s: no session process took the session back (%s): disconnected",
			 s->user, s->client, why);
		hib_session_bye(h, s, "* BYE [UNAVAILABLE] Server busy, please reconnect\r\n");
		return;
	}
	log_debug("user=%s client=%s: wake-up failed (%s), again in %d ms", s->user, s->client, why,
		  HIBERNATE_RETRY_MS);
	s->state = HIB_RETRY;
	s->due = hib_now() + HIBERNATE_RETRY_MS;
	hib_due(h, s->due);
}

static void hib_wake_start(struct hib *h, struct hib_session *s)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct buf rec;
	int conn;

	buf_init(&rec, IMAP_HIBERNATE_RECORD_MAX + 1024);
	if (hib_resume_record(s, &rec) < 0 || daemon_socket_path(IMAPD_SESSION_SERVICE, sun.sun_path, sizeof(sun.sun_path)) < 0) {
		buf_free(&rec);
		log_warn("user=%s client=%s: cannot write the resume record", s->user, s->client);
		hib_session_bye(h, s, "* BYE [SERVERBUG] Internal error, please reconnect\r\n");
		return;
	}
	conn = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	s->state = HIB_WAKING;
	s->answer_len = 0;
	if (conn >= 0)
		h->nwaking++;
	s->conn = conn;
	if (conn < 0 || connect(conn, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    fd_send(conn, s->fd, rec.data, rec.len) < 0 ||
	    hib_epoll(h, EPOLL_CTL_ADD, conn, EPOLLIN, &s->wake_ev) < 0) {
		const char *why = strerror(errno);
		buf_free(&rec);
		hib_wake_failed(h, s, why);
		return;
	}
	buf_free(&rec);
	s->due = hib_now() + h->answer_ms;
	hib_due(h, s->due);
}

/* The session process's answer: status=ok, then our commit ends it. */
static void hib_wake_answer(struct hib *h, struct hib_session *s)
{
	static const char commit[] = "request=commit\n\n";
	struct record rec = { 0 };
	const char *error, *status;
	size_t used;
	ssize_t n = recv(s->conn, s->answer + s->answer_len, sizeof(s->answer) - 1 - s->answer_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		hib_wake_failed(h, s, n == 0 ? "closed" : strerror(errno));
		return;
	}
	s->answer_len += (size_t)n;
	if (s->answer_len < 2 || memcmp(s->answer + s->answer_len - 2, "\n\n", 2) != 0) {
		if (s->answer_len == sizeof(s->answer) - 1)
			hib_wake_failed(h, s, "answer too long");
		return;
	}
	if (record_parse(s->answer, s->answer_len, &rec, &used, &error) < 0 ||
	    (status = record_get(&rec, "status")) == NULL || strcmp(status, "ok") != 0) {
		/* Refused (a record it could not take): trying again would not help. */
		log_warn("user=%s client=%s: a session process refused the session: %s", s->user, s->client,
			 record_get(&rec, "reason") != NULL ? record_get(&rec, "reason") : "no reason");
		record_clear(&rec);
		hib_session_bye(h, s, "* BYE [SERVERBUG] Internal error, please reconnect\r\n");
		return;
	}
	record_clear(&rec);
	/* Our slots go first, so that the session process finds them free. */
	session_slots_release(h->l->slots_fd, s->user_slot);
	session_slots_release(h->l->slots_fd, s->client_slot);
	s->user_slot = s->client_slot = -1;
	if (send(s->conn, commit, sizeof(commit) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(commit) - 1) {
		imapd_slots_take(h->l, s->user, s->client, &s->user_slot, &s->client_slot, NULL);
		hib_wake_failed(h, s, "commit not sent");
		return;
	}
	log_debug("user=%s client=%s: woken (%s)", s->user, s->client,
		  s->wake == IMAP_HIBERNATE_WAKE_CLIENT ? "client" : "folder");
	hib_session_free(h, s);   /* the session process has it now */
}

/* A held client is readable: input (wake) or a hang-up (forget). */
static void hib_client_event(struct hib *h, struct hib_session *s, uint32_t events)
{
	char c;
	ssize_t n = recv(s->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n > 0) {
		hib_wake(h, s, IMAP_HIBERNATE_WAKE_CLIENT);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR) && (events & (EPOLLHUP | EPOLLERR)) == 0)
		return;
	log_info("user=%s client=%s: left while hibernated", s->user, s->client);
	hib_session_free(h, s);
}

/* ---- folder events ---- */

/* Whether an event on the folder directory itself matters to a client:
 * the store's log and lists change with every flag change, expunge and
 * new message; its cache and lock files do not. */
static bool hib_event_matters(const struct inotify_event *ev, int which)
{
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
		return true;
	if (which != 0)
		return (ev->mask & IN_MODIFY) == 0;   /* new/, cur/: files come, go, are renamed */
	return ev->len > 0 && (strcmp(ev->name, MBOX_INDEX_NAME) == 0 || strcmp(ev->name, "dovecot-uidlist") == 0 ||
			       strcmp(ev->name, "dovecot-keywords") == 0);
}

/* s is to be looked at against its folder (hib_folder_news) before
 * the next wait. */
static void hib_mark_stale(struct hib *h, struct hib_session *s)
{
	struct hib_folder *f = s->folder;

	s->stale = true;
	if (f->changed)
		return;
	f->changed = true;
	f->refs++;
	f->cnext = h->changed;
	h->changed = f;
}

/* The folder changed: its held sessions are looked at once the events
 * read so far are all taken in (hib_folders_news); one in its hand-off
 * is woken once it is taken. */
static void hib_folder_changed(struct hib *h, struct hib_folder *f)
{
	for (struct hib_session *s = f->sessions; s != NULL; s = s->fnext)
		if (s->state == HIB_PENDING)
			s->dirty = true;
		else if (s->state == HIB_HELD)
			hib_mark_stale(h, s);
}

static void hib_inotify_one(struct hib *h, const struct inotify_event *ev)
{
	struct hib_watch *w;

	if (ev->mask & IN_Q_OVERFLOW) {
		/* Events were lost: every folder is looked at. */
		log_warn("inotify queue overflow: looking at every hibernated session's folder");
		for (struct hib_session *s = h->sessions; s != NULL; s = s->next)
			if (s->state == HIB_PENDING)
				s->dirty = true;
			else if (s->state == HIB_HELD)
				hib_mark_stale(h, s);
		return;
	}
	if ((w = hib_watch_find(h, ev->wd)) == NULL || !hib_event_matters(ev, w->which))
		return;
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		/* Gone or moved: a session process says so (BYE). */
		for (struct hib_session *s = w->folder->sessions; s != NULL; s = s->fnext)
			hib_wake(h, s, IMAP_HIBERNATE_WAKE_FOLDER);
	} else {
		hib_folder_changed(h, w->folder);
	}
	if (ev->mask & IN_IGNORED) {
		/* The directory is gone (or moved): new sessions watch afresh. */
		hib_folder_unhash(h, w->folder);
		hib_watch_drop(h, w, false);
	}
}

/* Read every queued event and act on it. */
static void hib_inotify_read(struct hib *h)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		ssize_t n = read(h->inotify, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (size_t off = 0; off + sizeof(struct inotify_event) <= (size_t)n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);
			hib_inotify_one(h, ev);
			off += sizeof(struct inotify_event) + ev->len;
		}
	}
}

/* ---- news told here ---- */

/* The state record of s, decoded.  0, or -1 (logged). */
static int hib_state_of(struct hib_session *s, struct imap_hibernate_state *st)
{
	struct record rec = { 0 };
	const char *error = "";
	size_t used;
	int r = -1;

	if (record_parse(s->rec, s->rec_len, &rec, &used, &error) == 0 &&
	    imap_hibernate_state_decode(&rec, st, &error) == 0)
		r = 0;
	else
		log_warn("user=%s client=%s: its own state record: %s", s->user, s->client, error);
	record_clear(&rec);
	return r;
}

/* Send text to the held client s whole, or nothing: only into an empty
 * send queue (a client that does not read is woken, and its session
 * process waits for it).  1 sent, 0 not (wake it), -1 the client is
 * gone or cut off (s freed). */
static int hib_tell(struct hib *h, struct hib_session *s, const struct buf *text)
{
	int queued = 0;
	ssize_t n;

	if (ioctl(s->fd, SIOCOUTQ, &queued) < 0 || queued > 0)
		return 0;
	n = send(s->fd, text->data, text->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (n < 0) {
		log_info("user=%s client=%s: left while hibernated", s->user, s->client);
		hib_session_free(h, s);
		return -1;
	}
	if ((size_t)n != text->len) {
		/* Never seen into an empty queue; the rest cannot follow. */
		log_warn("user=%s client=%s: %zd of %zu bytes sent while hibernated: disconnected", s->user, s->client,
			 n, text->len);
		hib_session_free(h, s);
		return -1;
	}
	return 1;
}

/* What s is to be told of mb, if only new messages: told here, its
 * state record renewed; else it is woken.  *claim: mb was opened with
 * a claim of \Recent not yet given to a session: a read-write session
 * told of new messages takes it.  Returns 1 told, 0 nothing to tell,
 * -1 woken or gone. */
static int hib_session_news(struct hib *h, struct hib_session *s, struct mbox *mb, bool *claim)
{
	struct imap_hibernate_state st;
	struct buf text, rec;
	size_t first_new;
	bool take = false;
	char *copy = NULL;
	int r = -1;

	s->stale = false;
	if (s->uidvalidity == mb->uidvalidity && s->modseq == mb->highestmodseq)
		return 0;   /* no change since its state (every change takes a MODSEQ) */
	if (hib_state_of(s, &st) < 0) {
		hib_wake(h, s, IMAP_HIBERNATE_WAKE_FOLDER);
		return -1;
	}
	buf_init(&text, 128);
	buf_init(&rec, IMAP_HIBERNATE_RECORD_MAX + 1024);
	enum imap_hibernate_news news = imap_hibernate_news_check(mb, &st, &first_new);
	if (news == IMAP_HIBERNATE_NEWS_NEW && first_new < mb->n && !s->readonly && *claim) {
		/* The first read-write session told of new messages takes
		 * their \Recent, as the first woken session would. */
		*claim = false;
		take = true;
	}
	int told = 0;   /* 1 sent (or nothing to send), 0 not: wake it, -1 it is gone */
	if (news == IMAP_HIBERNATE_NEWS_NONE)
		told = -2;
	else if (news == IMAP_HIBERNATE_NEWS_NEW && imap_hibernate_news_apply(mb, &st, first_new, take, &text) == 0 &&
		 imap_hibernate_state_encode(&st, &rec) == 0 && (copy = malloc(rec.len)) != NULL)
		told = text.len == 0 ? 1 : hib_tell(h, s, &text);
	if (told == -2) {
		r = 0;
	} else if (told == 1) {
		memcpy(copy, rec.data, rec.len);
		free(s->rec);
		s->rec = copy;
		s->rec_len = rec.len;
		s->modseq = st.modseq;
		copy = NULL;
		if (text.len > 0)
			log_debug("user=%s client=%s: told %llu EXISTS while hibernated", s->user, s->client,
				  (unsigned long long)st.uids.count);
		r = text.len > 0 ? 1 : 0;
	} else if (told == 0) {
		hib_wake(h, s, IMAP_HIBERNATE_WAKE_FOLDER);   /* a session process tells it */
	}
	free(copy);
	buf_free(&text);
	buf_free(&rec);
	imap_hibernate_state_free(&st);
	return r;
}

/* Whether a read-write session of f is to be told of messages above
 * those it knows, and nothing else: then the messages' \Recent goes to
 * it, as it would to the first session woken. */
static bool hib_claimant(struct hib_folder *f, const struct mbox *mb)
{
	for (struct hib_session *s = f->sessions; s != NULL; s = s->fnext) {
		struct imap_hibernate_state st;
		size_t first_new;
		if (s->state != HIB_HELD || !s->stale || s->readonly ||
		    (s->uidvalidity == mb->uidvalidity && s->modseq == mb->highestmodseq) || hib_state_of(s, &st) < 0)
			continue;
		bool yes = imap_hibernate_news_check(mb, &st, &first_new) == IMAP_HIBERNATE_NEWS_NEW && first_new < mb->n;
		imap_hibernate_state_free(&st);
		if (yes)
			return true;
	}
	return false;
}

/* Look at f once for all its held sessions whose folder changed: one
 * open (and sync) of the folder, then each is told of new messages
 * here or woken (hib_session_news).  An IMAP4rev1 read-write session
 * goes first, so that the \Recent claimed goes where it can be shown. */
static void hib_folder_news(struct hib *h, struct hib_folder *f)
{
	struct mbox *mb = NULL;
	const char *error = "";
	size_t stale = 0, told = 0, woken = 0;
	bool claim = false;

	for (struct hib_session *s = f->sessions; s != NULL; s = s->fnext)
		if (s->state == HIB_HELD && s->stale)
			stale++;
		else
			s->stale = false;
	if (stale == 0)
		return;
	if (f->hashed && mbox_open(f->path, strlen(f->path), 0, &mb, &error) == 0 && hib_claimant(f, mb)) {
		/* Open again, claiming \Recent for what no session has had:
		 * the view then marks exactly what this open took. */
		mbox_close(&mb);
		claim = mbox_open(f->path, strlen(f->path), MBOX_CLAIM_RECENT, &mb, &error) == 0;
	}
	if (mb == NULL) {
		/* Gone, or unreadable here: each session process finds out. */
		log_debug("%s: %s: waking its sessions", f->path, f->hashed ? error : "gone");
		for (struct hib_session *s = f->sessions; s != NULL; s = s->fnext)
			if (s->stale) {
				s->stale = false;
				hib_wake(h, s, IMAP_HIBERNATE_WAKE_FOLDER);
			}
		return;
	}
	for (int round = 0; round < 2; round++)
		for (struct hib_session *s = f->sessions, *next; s != NULL; s = next) {
			next = s->fnext;
			if (s->state != HIB_HELD || !s->stale || (round == 0 && (s->readonly || !s->rev1)))
				continue;
			int r = hib_session_news(h, s, mb, &claim);
			told += r > 0;
			woken += r < 0;
		}
	mbox_close(&mb);
	if (told > 0 || woken > 0)
		log_info("%s: %zu hibernated session(s) told of new mail, %zu woken", f->path, told, woken);
}

/* Every folder that changed since the last look, looked at. */
static void hib_folders_news(struct hib *h)
{
	struct hib_folder *f;
	bool any = h->changed != NULL;

	while ((f = h->changed) != NULL) {
		h->changed = f->cnext;
		f->cnext = NULL;
		f->changed = false;
		hib_folder_news(h, f);
		hib_folder_put(h, f);
	}
	if (any)
		malloc_trim(0);   /* a large folder's view is not kept */
}

/* ---- hand-offs from session processes ---- */

static void hib_in_free(struct hib *h, struct hib_in *in)
{
	if (in->s != NULL)
		hib_session_free(h, in->s);   /* no commit: the session process kept its client */
	if (in->fd >= 0)
		close(in->fd);
	close(in->conn);
	HIB_LIST_REMOVE(h->ins, in);
	h->nin--;
	free(in->buf);
	free(in);
}

static void hib_in_refuse(struct hib *h, struct hib_in *in, const char *why)
{
	char text[128];
	int n = snprintf(text, sizeof(text), "status=fail\nreason=%s\n\n", why);

	log_debug("hibernation refused: %s", why);
	if (send(in->conn, text, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("answer: %s", strerror(errno));
	hib_in_free(h, in);
}

/* A new session from st and the received descriptor, pending its commit. */
static struct hib_session *hib_session_new(struct hib *h, struct hib_in *in, const struct imap_hibernate_state *st,
					   struct hib_folder *f)
{
	struct hib_session *s = calloc(1, sizeof(*s));
	long long latest = hib_now() + h->l->timeout_ms;

	if (s == NULL || (s->rec = malloc(in->len)) == NULL || (s->user = strdup(st->user)) == NULL) {
		if (s != NULL)
			free(s->rec);
		free(s);
		return NULL;
	}
	memcpy(s->rec, in->buf, in->len);
	s->rec_len = in->len;
	s->client_ev.kind = HIB_CLIENT;
	s->wake_ev.kind = HIB_WAKE;
	s->state = HIB_PENDING;
	s->fd = in->fd;
	in->fd = -1;
	s->conn = -1;
	s->user_slot = s->client_slot = -1;
	snprintf(s->client, sizeof(s->client), "%s", st->client);
	s->readonly = st->readonly;
	s->rev1 = (st->enabled & IMAP_HIBERNATE_REV2) == 0;
	s->uidvalidity = st->uidvalidity;
	s->modseq = st->modseq;
	/* Our own imap_timeout bounds what the record says. */
	s->deadline = st->deadline_ms < latest ? st->deadline_ms : latest;
	hib_folder_link(s, f);
	HIB_LIST_PUSH(h->sessions, s);
	h->nsessions++;
	return s;
}

/* The hand-off record is whole: take the session (status=ok) or refuse. */
static void hib_in_record(struct hib *h, struct hib_in *in)
{
	static const char ok[] = "status=ok\n\n";
	struct record rec = { 0 };
	struct imap_hibernate_state st;
	struct hib_folder *f;
	const char *error = "";
	size_t used;

	if (record_parse(in->buf, in->len, &rec, &used, &error) < 0 || used != in->len ||
	    imap_hibernate_state_decode(&rec, &st, &error) < 0) {
		record_clear(&rec);
		log_warn("a hibernation record refused: %s", error);
		hib_in_refuse(h, in, "bad record");
		return;
	}
	record_clear(&rec);
	if (st.request != IMAP_HIBERNATE_REQ_HIBERNATE || in->fd < 0)
		error = "not a hibernation";
	else if (h->draining || h->master_gone || daemon_hurrying())
		error = "stopping";
	else if (h->nsessions >= h->limit)
		error = "imap_hibernate_limit";
	else if ((f = hib_folder_get(h, st.path)) == NULL)
		error = "no watch";
	else {
		/* Older events are not this session's: it has seen the folder
		 * after them (its own writes among them). */
		hib_inotify_read(h);
		if ((in->s = hib_session_new(h, in, &st, f)) == NULL) {
			hib_folder_put(h, f);
			error = "out of memory";
		}
	}
	imap_hibernate_state_free(&st);
	if (in->s == NULL) {
		hib_in_refuse(h, in, error);
		return;
	}
	if (send(in->conn, ok, sizeof(ok) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof(ok) - 1) {
		hib_in_free(h, in);
		return;
	}
	in->len = in->scanned = 0;   /* now the commit */
}

/* The commit: the client is ours. */
static void hib_in_commit(struct hib *h, struct hib_in *in)
{
	struct hib_session *s = in->s;

	if (in->len != sizeof("request=commit\n\n") - 1 || memcmp(in->buf, "request=commit\n\n", in->len) != 0) {
		log_warn("user=%s: a hibernation without its commit", s->user);
		hib_in_free(h, in);
		return;
	}
	in->s = NULL;
	hib_in_free(h, in);
	/* A limit reached meanwhile (a login in the moment between) does
	 * not end a session that had a slot: it goes on uncounted. */
	imapd_slots_take(h->l, s->user, s->client, &s->user_slot, &s->client_slot, NULL);
	s->state = HIB_HELD;
	if (hib_epoll(h, EPOLL_CTL_ADD, s->fd, EPOLLIN | EPOLLRDHUP, &s->client_ev) < 0) {
		log_warn("user=%s client=%s: epoll: %s", s->user, s->client, strerror(errno));
		hib_session_bye(h, s, "* BYE [SERVERBUG] Internal error, please reconnect\r\n");
		return;
	}
	hib_due(h, s->deadline);
	log_debug("user=%s client=%s: held (%zu sessions)", s->user, s->client, h->nsessions);
	if (s->dirty)
		hib_mark_stale(h, s);
}

static void hib_in_event(struct hib *h, struct hib_in *in)
{
	size_t cap = in->s == NULL ? IMAP_HIBERNATE_RECORD_MAX : HIBERNATE_ANSWER_MAX;
	size_t n;
	int fd = in->s != NULL ? FDRECORD_NO_FD : in->fd;   /* the commit carries none */
	int r = fdrecord_recv(in->conn, 0, in->buf + in->len, cap - in->len, &n, &fd);

	if (in->s == NULL)
		in->fd = fd;
	if (r < 0 && errno == EAGAIN)
		return;
	if (r < 0 || n == 0) {
		hib_in_free(h, in);   /* a second descriptor, closed before the end (or after status=ok without commit) */
		return;
	}
	in->len += n;
	size_t end = fdrecord_end(in->buf, in->len, &in->scanned);
	if (end != 0 && end != in->len) {
		/* the peer waits for an answer: nothing may follow its record */
		log_warn("a hibernation record followed by %zu more bytes", in->len - end);
		hib_in_free(h, in);
	} else if (end != 0) {
		if (in->s == NULL)
			hib_in_record(h, in);
		else
			hib_in_commit(h, in);
	} else if (in->len == cap) {
		log_warn("a hibernation record over %zu bytes", cap);
		hib_in_free(h, in);
	}
}

static void hib_listen_arm(struct hib *h)
{
	bool want = !h->draining && h->nin < HIBERNATE_INCOMING_MAX;

	if (want != h->listening && hib_epoll(h, EPOLL_CTL_MOD, h->d->listen_fd, want ? EPOLLIN : 0, &h->listen_ev) == 0)
		h->listening = want;
}

static void hib_accept(struct hib *h)
{
	while (h->nin < HIBERNATE_INCOMING_MAX) {
		int conn = accept4(h->d->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct hib_in *in;
		if (conn < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", strerror(errno));
			break;
		}
		if (!daemon_peer_ok(h->d, conn)) {
			close(conn);
			continue;
		}
		if ((in = calloc(1, sizeof(*in))) == NULL || (in->buf = malloc(IMAP_HIBERNATE_RECORD_MAX)) == NULL) {
			free(in);
			close(conn);
			log_warn("out of memory");
			break;
		}
		in->ev.kind = HIB_IN;
		in->conn = conn;
		in->fd = -1;
		in->due = hib_now() + h->answer_ms;
		if (hib_epoll(h, EPOLL_CTL_ADD, conn, EPOLLIN, &in->ev) < 0) {
			free(in->buf);
			free(in);
			close(conn);
			continue;
		}
		HIB_LIST_PUSH(h->ins, in);
		h->nin++;
		hib_due(h, in->due);
	}
	hib_listen_arm(h);
}

/* ---- time ---- */

/* Deadlines, retries and answers that are due; the next due time. */
static void hib_timers(struct hib *h)
{
	long long now = hib_now();

	if (now < h->next_due || now < h->last_scan + HIBERNATE_TICK_MS)
		return;
	h->last_scan = now;
	h->next_due = LLONG_MAX;
	for (struct hib_in *in = h->ins, *next; in != NULL; in = next) {
		next = in->next;
		if (in->due <= now)
			hib_in_free(h, in);
		else
			hib_due(h, in->due);
	}
	for (struct hib_session *s = h->sessions, *next; s != NULL; s = next) {
		next = s->next;
		if (s->state == HIB_PENDING)
			continue;   /* its hand-off's own deadline */
		if (s->deadline <= now && s->state == HIB_HELD) {
			log_info("user=%s client=%s: timeout (hibernated)", s->user, s->client);
			hib_session_bye(h, s, "* BYE Autologout: idle for too long\r\n");
			continue;
		}
		if (s->state == HIB_WAKING && s->due <= now) {
			hib_wake_failed(h, s, "no answer in time");
			continue;
		}
		if (s->state == HIB_RETRY && s->due <= now) {
			s->state = HIB_HELD;
			hib_wake(h, s, s->wake);
			continue;
		}
		hib_due(h, s->state == HIB_HELD ? s->deadline : s->state == HIB_QUEUED ? LLONG_MAX : s->due);
	}
}

/* Start queued wake-ups while there is room. */
static void hib_run_queue(struct hib *h)
{
	while (h->queue != NULL && h->nwaking < HIBERNATE_WAKING_MAX) {
		struct hib_session *s = h->queue;
		h->queue = s->qnext;
		if (h->queue == NULL)
			h->queue_tail = NULL;
		s->qnext = NULL;
		hib_wake_start(h, s);
	}
}

/* ---- set-up, the loop, the end ---- */

/* As many descriptors as the hard limit allows: one per client. */
static size_t hib_fd_room(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024 - HIBERNATE_FD_RESERVE;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			log_warn("RLIMIT_NOFILE: %s", strerror(errno));
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1000000)
		return 1000000;
	return rl.rlim_cur > HIBERNATE_FD_RESERVE * 2 ? (size_t)rl.rlim_cur - HIBERNATE_FD_RESERVE : HIBERNATE_FD_RESERVE;
}

static void hib_setup(struct hib *h, struct daemon *d, const struct imapd_limits *l)
{
	size_t room = hib_fd_room();

	memset(h, 0, sizeof(*h));
	h->d = d;
	h->l = l;
	h->next_due = LLONG_MAX;
	h->limit = l->hibernate_limit;
	if (h->limit > room) {
		log_warn("imap_hibernate_limit %zu: the descriptor limit allows %zu", h->limit, room);
		h->limit = room;
	}
	h->answer_ms = l->ipc_timeout_ms > 0 && l->ipc_timeout_ms < HIBERNATE_ANSWER_MS ? l->ipc_timeout_ms
											 : HIBERNATE_ANSWER_MS;
	if (d->listen_fd < 0)
		log_fatal("imap-hibernate needs its listening socket (fd 3): it is no inetd service");
	fd_set_nonblock(d->listen_fd, 1);
	if ((h->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || (h->inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		log_fatal("epoll or inotify: %s", strerror(errno));
	h->listen_ev.kind = HIB_LISTEN;
	h->stop_ev.kind = HIB_STOP;
	h->hurry_ev.kind = HIB_HURRY;
	h->lifeline_ev.kind = HIB_LIFELINE;
	h->inotify_ev.kind = HIB_INOTIFY;
	if (hib_epoll(h, EPOLL_CTL_ADD, d->listen_fd, EPOLLIN, &h->listen_ev) < 0 ||
	    hib_epoll(h, EPOLL_CTL_ADD, h->inotify, EPOLLIN, &h->inotify_ev) < 0 ||
	    (daemon_stop_fd() >= 0 && hib_epoll(h, EPOLL_CTL_ADD, daemon_stop_fd(), EPOLLIN, &h->stop_ev) < 0) ||
	    (daemon_hurry_fd() >= 0 && hib_epoll(h, EPOLL_CTL_ADD, daemon_hurry_fd(), EPOLLIN, &h->hurry_ev) < 0) ||
	    (daemon_lifeline() >= 0 && hib_epoll(h, EPOLL_CTL_ADD, daemon_lifeline(), EPOLLIN, &h->lifeline_ev) < 0))
		log_fatal("epoll: %s", strerror(errno));
	h->listening = true;
	log_debug("imap-hibernate: at most %zu sessions", h->limit);
}

/* The system stops: every client is told so, none is handed back. */
static void hib_shutdown(struct hib *h)
{
	size_t n = h->nsessions;

	while (h->ins != NULL)
		hib_in_free(h, h->ins);
	while (h->sessions != NULL)
		hib_session_bye(h, h->sessions, "* BYE Server shutting down\r\n");
	if (n > 0)
		log_info("ended %zu hibernated sessions: the system stops", n);
}

static void hib_event(struct hib *h, struct hib_ev *ev, uint32_t events)
{
	switch (ev->kind) {
	case HIB_LISTEN: hib_accept(h); break;
	case HIB_STOP:
		/* Noted by daemon_stopping(); the pipe stays readable. */
		hib_epoll(h, EPOLL_CTL_DEL, daemon_stop_fd(), 0, NULL);
		break;
	case HIB_HURRY: break;   /* daemon_hurrying() says so */
	case HIB_LIFELINE: h->master_gone = true; break;
	case HIB_INOTIFY: hib_inotify_read(h); break;
	case HIB_CLIENT: {
		struct hib_session *s = (struct hib_session *)((char *)ev - offsetof(struct hib_session, client_ev));
		hib_client_event(h, s, events);
		break;
	}
	case HIB_WAKE: {
		struct hib_session *s = (struct hib_session *)((char *)ev - offsetof(struct hib_session, wake_ev));
		hib_wake_answer(h, s);
		break;
	}
	case HIB_IN: hib_in_event(h, (struct hib_in *)ev); break;
	}
}

/* Busy for the master while holding anyone: a stop then tells us to
 * hurry (SIGUSR1), and its spare count stays right. */
static void hib_report(struct hib *h)
{
	bool busy = h->nsessions > 0 || h->nin > 0;

	if (busy != h->busy) {
		daemon_report(h->d, busy);
		h->busy = busy;
	}
}

void imapd_hibernate_main(struct daemon *d, const struct imapd_limits *l)
{
	static struct hib h;
	struct epoll_event evs[HIBERNATE_EVENTS];

	hib_setup(&h, d, l);
	for (;;) {
		if (daemon_hurrying() || h.master_gone) {
			if (h.master_gone)
				log_warn("the master is gone: ending the hibernated sessions");
			hib_shutdown(&h);
			break;
		}
		if (daemon_stopping() && !h.draining) {
			/* A reload or a retirement: take no more, wake none early;
			 * the sessions held end as they wake or leave. */
			h.draining = true;
			hib_listen_arm(&h);
		}
		if (h.draining && h.nsessions == 0 && h.nin == 0)
			break;
		hib_run_queue(&h);
		hib_report(&h);
		int timeout = -1;
		if (h.next_due != LLONG_MAX) {
			long long at = h.next_due > h.last_scan + HIBERNATE_TICK_MS ? h.next_due
										    : h.last_scan + HIBERNATE_TICK_MS;
			long long wait = at - hib_now();
			timeout = wait < 0 ? 0 : wait > INT_MAX ? INT_MAX : (int)wait;
		}
		int n = epoll_wait(h.ep, evs, HIBERNATE_EVENTS, timeout);
		if (n < 0 && errno != EINTR)
			log_fatal("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			hib_event(&h, evs[i].data.ptr, evs[i].events);
		hib_folders_news(&h);
		hib_timers(&h);
	}
	hib_report(&h);
}
