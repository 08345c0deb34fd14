/* authd: the password checker of Postern.
 *
 * Offers: the authd service (docs/protocols.md): for each `cmd=auth`
 * record (user, password, service, client) it answers `status=ok` with
 * the canonical address and the mailbox path from etc/mailboxes.cdb,
 * `status=fail` (unknown user or wrong password, one answer for both), or
 * `status=tempfail reason=...`.  Several requests may share a connection.
 * `cmd=ticket` checks the same way but answers a one-time ticket instead
 * of the mailbox (for a login process); `cmd=redeem` turns a ticket into
 * user and mailbox (for a session process).  Each command has its one
 * caller: `auth` postern-smtpd, `ticket` postern-login, `redeem`
 * postern-vmail (and root for all); a login process must never learn a
 * mailbox path, so it may not use `auth`.
 * Failed logins are counted per client address and per existing user
 * (authd_state.c, files under run/auth/ shared by all authd processes);
 * over auth_failure_limit_client / _user the password is not even
 * tried and the answer says `throttled=yes`.  A success is remembered
 * for auth_cache_ttl (common/auth_cache.c: a keyed hash, never the
 * password, in a table the master shares among all authd processes,
 * POSTERN_AUTH_CACHE_FD), so that the same user and password are not hashed again
 * while etc/users keeps that user's hash; the log line then ends in
 * `cache=hit`.
 *
 * Runs as: postern-auth, not chrooted; its working directory is the tree
 * DIR.  It is the only process that reads etc/users (mode 0640,
 * root:postern-auth); it also reads etc/mailboxes.cdb.  It writes only
 * run/auth/ (tickets and failure counters, made 0700 for it at start)
 * and its log.
 *
 * Trusts: as root-started, only peers whose SO_PEERCRED uid is root,
 * postern-smtpd, postern-login or postern-vmail (looked up at start, a
 * missing name is skipped; daemon_serve refuses the others before we see
 * them), and each only for its own command (authd_callers); in
 * development (not started as root) only our own uid and root, for every
 * command.  Requests are parsed with the bounded record
 * reader; the users file with passwd_file's limits.  Both files are
 * stat()ed before each request and re-read when they change (inode,
 * size, mtime), so `postern user add` takes effect without a reload.
 *
 * Fails: a users file that cannot be read or parsed makes every request
 * a tempfail (logged once per version of the file) rather than falling
 * back to an older copy: a file the operator just changed must not keep
 * its old passwords alive.  A bad request ends its connection.  Passwords
 * are wiped from our buffers after use and never logged; the log line is
 * `user=U service=S client=C result=ok|fail|tempfail`. */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth_cache.h"
#include "authd.h"
#include "buf.h"
#include "cdbmap.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "maildir.h"
#include "passwd_file.h"
#include "record.h"
#include "sockets.h"

#define AUTHD_USERS "etc/users"
#define AUTHD_MAILBOXES "etc/mailboxes.cdb"
#define AUTHD_ALLOWED_MAX 8
#define AUTHD_USER_MAX 1024        /* longest user name looked at */
#define AUTHD_SERVICE_MAX 16
#define AUTHD_MAILBOX_MAX 1024     /* longest mailbox path answered */
#define AUTHD_REPLY_MAX 16384

/* A file's identity, to notice that it changed. */
struct authd_file_id {
	int present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
};

/* The commands, and the one user (besides root) who may send each. */
enum authd_cmd { AUTHD_CMD_AUTH, AUTHD_CMD_TICKET, AUTHD_CMD_REDEEM, AUTHD_NCMD };
static const struct {
	const char *cmd;
	const char *user;
} authd_callers[AUTHD_NCMD] = {
	[AUTHD_CMD_AUTH] = { "auth", "postern-smtpd" },      /* SMTP AUTH: no mailbox needed, but given */
	[AUTHD_CMD_TICKET] = { "ticket", "postern-login" },  /* a login process: a ticket, never a mailbox */
	[AUTHD_CMD_REDEEM] = { "redeem", "postern-vmail" },  /* a session process: the mailbox */
};

struct authd {
	int inetd;
	uid_t allowed[AUTHD_NCMD][AUTHD_ALLOWED_MAX];   /* per command: who may send it */
	size_t nallowed[AUTHD_NCMD];
	uid_t peer;                          /* of the current connection */
	struct passwd_file *users;
	struct authd_file_id users_id;    /* of the table we hold, or of the last failure */
	struct cdbmap *mailboxes;
	struct authd_file_id mailboxes_id;
	struct auth_cache *cache;            /* recent successes (auth_cache_size) */
};

/* ---- who may ask ---- */

static void authd_uid_add(uid_t *set, size_t *n, uid_t uid)
{
	for (size_t i = 0; i < *n; i++)
		if (set[i] == uid)
			return;
	if (*n < AUTHD_ALLOWED_MAX)
		set[(*n)++] = uid;
}

static void authd_allow(struct authd *a, enum authd_cmd cmd, uid_t uid)
{
	authd_uid_add(a->allowed[cmd], &a->nallowed[cmd], uid);
}

static int authd_uid_in(const uid_t *set, size_t n, uid_t uid)
{
	for (size_t i = 0; i < n; i++)
		if (set[i] == uid)
			return 1;
	return 0;
}

/* Before the privilege drop: the uids of our clients, per command. */
static void authd_allowed_init(struct authd *a)
{
	for (int cmd = 0; cmd < AUTHD_NCMD; cmd++) {
		authd_allow(a, cmd, 0);
		if (getuid() != 0) {
			authd_allow(a, cmd, getuid());   /* development: everything runs as us */
			continue;
		}
		struct passwd *pw = getpwnam(authd_callers[cmd].user);
		if (pw != NULL)
			authd_allow(a, cmd, pw->pw_uid);
		else
			log_debug("no user %s: it cannot send cmd=%s", authd_callers[cmd].user,
				  authd_callers[cmd].cmd);
	}
}

/* Whether uid may send at least one command. */
static int authd_caller_any(const struct authd *a, uid_t uid)
{
	for (int cmd = 0; cmd < AUTHD_NCMD; cmd++)
		if (authd_uid_in(a->allowed[cmd], a->nallowed[cmd], uid))
			return 1;
	return 0;
}

static void authd_put_tempfail(struct buf *out, const char *reason);

/* Whether the current peer may send cmd; if not, the answer is a
 * tempfail and the connection ends (the caller returns -1). */
static int authd_cmd_ok(const struct authd *a, enum authd_cmd cmd, struct buf *out)
{
	char reason[64];

	if (authd_uid_in(a->allowed[cmd], a->nallowed[cmd], a->peer))
		return 1;
	log_warn("cmd=%s refused to peer uid=%lu", authd_callers[cmd].cmd, (unsigned long)a->peer);
	snprintf(reason, sizeof(reason), "not allowed to %s", cmd == AUTHD_CMD_AUTH ? "authenticate"
		 : cmd == AUTHD_CMD_TICKET ? "ask for a ticket" : "redeem");
	authd_put_tempfail(out, reason);
	return 0;
}

static int authd_peer_ok(struct authd *a, int fd)
{
	pid_t pid;
	uid_t uid;
	gid_t gid;

	if (peer_cred(fd, &pid, &uid, &gid) < 0) {
		/* Not a Unix socket: only a person at a terminal running
		 * `authd -i` by hand, and only in development. */
		if (a->inetd && getuid() != 0) {
			a->peer = getuid();
			return 1;
		}
		log_warn("cannot read peer credentials: %s", strerror(errno));
		return 0;
	}
	a->peer = uid;
	if (authd_caller_any(a, uid))
		return 1;
	log_warn("refused peer uid=%lu pid=%ld", (unsigned long)uid, (long)pid);
	return 0;
}

/* ---- the files ---- */

/* Identity of path now; present = 0 if it does not exist.  0 or -1. */
static int authd_file_stat(const char *path, struct authd_file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	id->present = 1;
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
	return 0;
}

static int authd_file_same(const struct authd_file_id *x, const struct authd_file_id *y)
{
	return x->present == y->present && x->dev == y->dev && x->ino == y->ino &&
	       x->size == y->size && x->mtime.tv_sec == y->mtime.tv_sec &&
	       x->mtime.tv_nsec == y->mtime.tv_nsec;
}

/* Make a->users current.  0, or -1 (the table is unusable now). */
static int authd_users_refresh(struct authd *a)
{
	struct authd_file_id now;
	struct stat st;
	const char *error;

	if (authd_file_stat(AUTHD_USERS, &now) < 0) {
		log_warn("%s: %s", AUTHD_USERS, strerror(errno));
		return -1;
	}
	if (authd_file_same(&now, &a->users_id))
		return a->users != NULL ? 0 : -1;   /* unchanged: same verdict */
	passwd_file_free(&a->users);
	a->users_id = now;
	if (passwd_file_load(AUTHD_USERS, &a->users, &st, &error) < 0) {
		log_warn("%s: %s; every login fails temporarily until it is fixed",
			 AUTHD_USERS, error);
		return -1;
	}
	if ((st.st_mode & S_IROTH) != 0)
		log_warn("%s is readable by everybody: chmod 0640", AUTHD_USERS);
	log_info("%s: %zu users", AUTHD_USERS, passwd_file_count(a->users));
	return 0;
}

/* Make a->mailboxes current (NULL when the map does not exist). */
static void authd_mailboxes_refresh(struct authd *a)
{
	struct authd_file_id now;
	const char *error;

	if (authd_file_stat(AUTHD_MAILBOXES, &now) < 0) {
		log_warn("%s: %s", AUTHD_MAILBOXES, strerror(errno));
		return;   /* keep what we have */
	}
	if (authd_file_same(&now, &a->mailboxes_id))
		return;
	cdbmap_close(&a->mailboxes);
	a->mailboxes_id = now;
	if (now.present && cdbmap_open(AUTHD_MAILBOXES, &a->mailboxes, &error) < 0)
		log_warn("%s: %s", AUTHD_MAILBOXES, error);
}

/* ---- one request ---- */

static int authd_service_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > AUTHD_SERVICE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

/* The password must not outlive the request (record_clear frees but
 * does not wipe). */
static void authd_wipe_secrets(struct record *rec)
{
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, "password") == 0 && rec->fields[i].value != NULL)
			explicit_bzero(rec->fields[i].value, rec->fields[i].value_len);
}

static void authd_put_tempfail(struct buf *out, const char *reason)
{
	buf_reset(out);
	if (record_put_str(out, "status", "tempfail") < 0 ||
	    record_put_str(out, "reason", reason) < 0 || record_end(out) < 0)
		log_panic("authd: reply buffer too small");
}

/* The mailbox of canon from etc/mailboxes.cdb into mailbox: 1 found, 0
 * none (a tempfail was written unless service is smtp), -1 a tempfail
 * was written. */
static int authd_mailbox(struct authd *a, const char *canon, const char *service,
			 struct buf *mailbox, struct buf *out)
{
	int found = 0;

	authd_mailboxes_refresh(a);
	if (a->mailboxes != NULL)
		found = cdbmap_lookup(a->mailboxes, canon, strlen(canon), mailbox);
	if (found < 0 || (found == 1 && !maildir_path_ok(mailbox->data, mailbox->len))) {
		log_warn("%s: bad or unreadable entry for %s", AUTHD_MAILBOXES, canon);
		authd_put_tempfail(out, "mailbox map error");
		return -1;
	}
	/* SMTP AUTH needs no mailbox; a mail reader does. */
	if (found == 0 && strcmp(service, "smtp") != 0) {
		log_warn("%s has no mailbox for %s", AUTHD_MAILBOXES, canon);
		authd_put_tempfail(out, "no mailbox for this user");
		return -1;
	}
	return found;
}

/* Answer for a user whose password matched (cmd=auth) or whose ticket
 * was redeemed: the canonical address and the mailbox. */
static const char *authd_put_ok(struct authd *a, const char *canon, const char *service,
				struct buf *out)
{
	struct buf mailbox;
	int found;

	buf_init(&mailbox, AUTHD_MAILBOX_MAX);
	found = authd_mailbox(a, canon, service, &mailbox, out);
	if (found < 0) {
		buf_free(&mailbox);
		return "tempfail";
	}
	if (record_put_str(out, "status", "ok") < 0 || record_put_str(out, "user", canon) < 0 ||
	    (found == 1 && record_put(out, "mailbox", mailbox.data, mailbox.len) < 0) ||
	    record_end(out) < 0)
		log_panic("authd: reply buffer too small");
	buf_free(&mailbox);
	return "ok";
}

/* cmd=ticket after the password matched: a one-time ticket instead of
 * the mailbox, which the login process has no business knowing. */
static const char *authd_put_ticket(struct authd *a, const char *canon, const char *service,
				    struct buf *out)
{
	char ticket[AUTHD_TICKET_HEX + 1];
	struct buf mailbox;
	int found;

	buf_init(&mailbox, AUTHD_MAILBOX_MAX);
	found = authd_mailbox(a, canon, service, &mailbox, out);
	buf_free(&mailbox);
	if (found < 0)
		return "tempfail";
	if (authd_ticket_issue(canon, service, ticket) < 0) {
		log_warn("cannot write a ticket in %s: %s", AUTHD_STATE_DIR, strerror(errno));
		authd_put_tempfail(out, "cannot issue a ticket");
		return "tempfail";
	}
	if (record_put_str(out, "status", "ok") < 0 || record_put_str(out, "user", canon) < 0 ||
	    record_put_str(out, "ticket", ticket) < 0 || record_end(out) < 0)
		log_panic("authd: reply buffer too small");
	explicit_bzero(ticket, sizeof(ticket));
	return "ok";
}

static unsigned long authd_limit(const char *key)
{
	unsigned long long v = config_size(key);
	return v == 0 || v > 1000000 ? 1000000 : (unsigned long)v;   /* 0: no limit */
}

/* status=fail with the failure count the client side turns into a delay,
 * and throttled=yes once a limit is reached (the client disconnects). */
static void authd_put_fail(struct buf *out, const struct authd_throttle *t)
{
	unsigned long n = t->client > t->user ? t->client : t->user;
	int over = t->client >= authd_limit("auth_failure_limit_client") ||
		   t->user >= authd_limit("auth_failure_limit_user");

	if (record_put_str(out, "status", "fail") < 0 || record_put_num(out, "failures", n) < 0 ||
	    (over && record_put_str(out, "throttled", "yes") < 0) || record_end(out) < 0)
		log_panic("authd: reply buffer too small");
}

static unsigned long long authd_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec;
}

/* Check one request's credentials and write the answer.  Returns the
 * result word for the log; *cached_r = 1 when the password was not
 * hashed because auth_cache had this success. */
static const char *authd_check(struct authd *a, const char *user, const char *password,
			       size_t password_len, const char *service, const char *client,
			       int ticket, int *cached_r, struct buf *out)
{
	const char *canon = NULL, *known = NULL;
	struct authd_throttle t;
	int r;

	if (authd_users_refresh(a) < 0) {
		authd_put_tempfail(out, "users file unavailable");
		return "tempfail";
	}
	/* Per-user counters only for users that exist: guessed names must
	 * not fill run/auth/. */
	const char *stored = passwd_file_lookup(a->users, user, strlen(user), &known);
	if (stored == NULL)
		known = NULL;
	authd_throttle_get(client, known, &t);
	if (t.client >= authd_limit("auth_failure_limit_client") ||
	    t.user >= authd_limit("auth_failure_limit_user")) {
		authd_put_fail(out, &t);   /* the password is not even tried */
		return "throttled";
	}
	/* The cache is asked only for a user that exists, after the
	 * throttle: a throttled client gets nothing from it either. */
	unsigned long long now = authd_now();
	if (stored != NULL && auth_cache_hit(a->cache, known, password, password_len, stored, now)) {
		r = 1;
		canon = known;
		*cached_r = 1;
	} else {
		r = passwd_file_verify(a->users, user, strlen(user), password, password_len, &canon);
		if (r == 1)
			auth_cache_put(a->cache, canon, password, password_len, stored, now);
	}
	if (r < 0) {
		authd_put_tempfail(out, "out of memory");
		return "tempfail";
	}
	if (r == 0) {
		authd_throttle_fail(client, known, &t);
		authd_put_fail(out, &t);
		return "fail";
	}
	authd_throttle_reset(client, canon);
	return ticket ? authd_put_ticket(a, canon, service, out)
		      : authd_put_ok(a, canon, service, out);
}

/* cmd=redeem: a session process turns a ticket into user and mailbox. */
static int authd_redeem(struct authd *a, const struct record *rec, struct buf *out)
{
	const char *ticket = record_get(rec, "ticket");
	const char *service = record_get(rec, "service");
	const char *result;
	struct buf user;
	int r;

	if (ticket == NULL || service == NULL || !authd_service_ok(service)) {
		log_warn("malformed redeem request");
		authd_put_tempfail(out, "malformed request");
		return -1;
	}
	if (!authd_cmd_ok(a, AUTHD_CMD_REDEEM, out))
		return -1;
	buf_init(&user, AUTHD_USER_MAX);
	r = authd_ticket_redeem(ticket, service, &user);
	if (r < 0) {
		authd_put_tempfail(out, "ticket store error");
		result = "tempfail";
	} else if (r == 0) {
		if (record_put_str(out, "status", "fail") < 0 || record_end(out) < 0)
			log_panic("authd: reply buffer too small");
		result = "fail";
	} else {
		result = authd_put_ok(a, buf_cstr(&user), service, out);
	}
	log_info("redeem user=%s service=%s result=%s", r == 1 ? buf_cstr(&user) : "-", service, result);
	buf_free(&user);
	return 0;
}

/* One request record -> one answer.  0, or -1 to end the connection. */
static int authd_request(struct authd *a, struct record *rec, struct buf *out)
{
	const char *cmd = record_get(rec, "cmd");
	const char *user = record_get(rec, "user");
	const char *service = record_get(rec, "service");
	const char *client = record_get(rec, "client");
	const char *result;
	int cached = 0;
	size_t password_len = 0;
	const char *password = NULL;
	int ticket = cmd != NULL && strcmp(cmd, "ticket") == 0;

	if (cmd != NULL && strcmp(cmd, "redeem") == 0)
		return authd_redeem(a, rec, out);
	for (size_t i = 0; i < rec->n; i++)
		if (strcmp(rec->fields[i].key, "password") == 0 && password == NULL) {
			password = rec->fields[i].value;
			password_len = rec->fields[i].value_len;
		}
	if (cmd == NULL || (strcmp(cmd, "auth") != 0 && !ticket) || user == NULL ||
	    password == NULL || service == NULL || !authd_service_ok(service)) {
		log_warn("malformed request (cmd=%s)", cmd != NULL ? cmd : "none");
		authd_put_tempfail(out, "malformed request");
		return -1;
	}
	/* Checked after the syntax, before the password is looked at: a
	 * caller learns nothing from a command that is not its own. */
	if (!authd_cmd_ok(a, ticket ? AUTHD_CMD_TICKET : AUTHD_CMD_AUTH, out))
		return -1;
	if (strlen(user) > AUTHD_USER_MAX) {
		struct authd_throttle none = { 0, 0 };
		authd_put_fail(out, &none);
		result = "fail";
	} else {
		result = authd_check(a, user, password, password_len, service, client, ticket, &cached, out);
	}
	log_info("user=%s service=%s client=%s result=%s%s%s", user, service,
		 client != NULL ? client : "unknown", result, ticket ? " ticket=yes" : "",
		 cached ? " cache=hit" : "");
	return 0;
}

static int authd_answer(void *arg, struct record *rec, struct buf *out)
{
	int r = authd_request(arg, rec, out);

	authd_wipe_secrets(rec);
	return r;
}

static void authd_serve(int in_fd, int out_fd, void *arg)
{
	struct authd *a = arg;
	unsigned long long t = config_time("ipc_timeout");
	int timeout_ms = t > INT_MAX / 1000 ? INT_MAX : (int)(t * 1000);

	if (!authd_peer_ok(a, in_fd))
		return;
	daemon_serve_records(in_fd, out_fd, timeout_ms, AUTHD_REPLY_MAX, authd_answer, a);
}

/* run/auth/ for tickets and counters, owned by the user we become. */
static void authd_state_setup(const struct daemon *d)
{
	struct passwd *pw = NULL;

	if (chdir(d->base_dir) < 0)
		log_fatal("chdir %s: %s", d->base_dir, strerror(errno));
	if (getuid() == 0 && d->user != NULL && (pw = getpwnam(d->user)) == NULL)
		log_fatal("no user %s", d->user);
	if (authd_state_init(pw ? pw->pw_uid : 0, pw ? pw->pw_gid : 0, pw != NULL) < 0)
		log_fatal("%s: %s", AUTHD_STATE_DIR, strerror(errno));
}

/* The login cache: the one the master shares among all authd processes
 * (POSTERN_AUTH_CACHE_FD), else, run alone or when that fails, one of
 * our own. */
static void authd_cache_open(struct authd *a)
{
	int fd = daemon_passed_fd(AUTH_CACHE_ENV);
	unsigned long long ttl = config_time("auth_cache_ttl");

	if (fd >= 0 && ttl > 0) {
		int r = auth_cache_attach(fd, ttl, &a->cache);

		if (r < 0)
			log_warn("shared auth cache (fd %d): %s; this process keeps its own", fd, strerror(errno));
		close(fd);
		if (r == 0)
			return;
	}
	if (auth_cache_new(config_size("auth_cache_size"), ttl, &a->cache) < 0)
		log_fatal("auth cache: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	struct daemon d;
	static struct authd a;

	daemon_init(&d, "authd", argc, argv);
	a.inetd = d.inetd;
	a.users_id.present = -1;       /* matches no real state: load at once */
	a.mailboxes_id.present = -1;
	authd_allowed_init(&a);
	authd_state_setup(&d);
	authd_cache_open(&a);
	daemon_drop(&d);
	/* Read the files once now, so that a broken one shows in the log at
	 * start and not only at the first login. */
	(void)authd_users_refresh(&a);
	authd_mailboxes_refresh(&a);
	daemon_serve(&d, authd_serve, &a);
	passwd_file_free(&a.users);
	cdbmap_close(&a.mailboxes);
	auth_cache_free(&a.cache);
	return 0;
}
