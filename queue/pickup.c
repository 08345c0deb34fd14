/* pickup: local submission (docs/protocols.md "pickup").
 *
 * Offers: the server side of the pickup protocol.  The sendmail(1)
 * front-end connects to DIR/public/pickup (a world-reachable link to
 * this service's socket, made by the master with its other socket
 * links, before it reports itself ready) and sends a record with
 * the recipients (`rcpt`, one or more), optionally `sender` (the -f
 * address, empty for <>) and `full_name` (-F), followed by the message
 * as chunks.  pickup learns who submits from SO_PEERCRED (no setuid
 * binary anywhere): the user's login name from /etc/passwd (opened
 * before the chroot) makes the default sender LOGIN@pickup_sender_domain
 * (myhostname when empty).  It prepends a Received header, adds Date,
 * Message-ID and From when the message has none (RFC 5322 3.6: Date and
 * From are required), runs the result through non_smtpd_milters when
 * there are any (pickup_milter.c: their refusal is the answer, their
 * changes are queued), and hands it to enqueue (enqueue_client).
 * The answer is the enqueue answer: status=ok queue_id=ID, or
 * status=tempfail|fail reason=TEXT; status=ok discarded=yes when a
 * milter discarded the message.
 *
 * It is also the mailq service (Postfix's showq): a request record
 * cmd=list is answered with one record per queued message (common/mailq.c,
 * at most MAILQ_LIST_MAX) and then status=ok count=N [truncated=yes];
 * with mailq_restrict = yes only root and the queue owner may list.
 * cmd=flush, from root or the queue owner only, makes the deferred
 * messages due and pokes qmgr (private/qmgr) as `postern queue flush` does.
 *
 * Runs as postern-queue with its root at DIR/queue (chrooted as root).
 * Reads /etc/passwd through a descriptor opened before the drop, and the
 * queue files (read-only) for cmd=list; writes nothing but the enqueue
 * request and, for cmd=flush, the mtimes of deferred/ files.
 *
 * Trusts: nobody it talks to: every local user may connect.  Fields are
 * checked (addresses with address_validate, at most
 * smtpd_recipient_limit recipients, full name without control bytes),
 * the message is bounded by message_size_limit and each read by
 * ipc_timeout.  A user may name any sender with -f, as with Postfix;
 * the Received header and the log record the real uid.
 *
 * Fails: a bad request gets status=fail and the connection is closed;
 * an enqueue failure is passed on (tempfail or fail); with less than
 * queue_minfree (plus the message) free in the queue, tempfail
 * "insufficient system storage" without asking enqueue. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "log.h"
#include "mailq.h"
#include "pickup_milter.h"
#include "queue_space.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"

#define PICKUP_PASSWD_MAX (4 * 1024 * 1024)   /* largest /etc/passwd read */
#define PICKUP_LOGIN_MAX 64                   /* longest login name used */
#define PICKUP_NAME_MAX 256                   /* longest -F full name */
#define PICKUP_LINE_MAX (3 * RECORD_MAX_VALUE + 64)
#define PICKUP_HEADERS_MAX 2048               /* extra header bytes we write */

struct pickup_ctx {
	int passwd_fd;
	int ipc_ms;
	unsigned long long size_limit, rcpt_limit;
	int mailq_restrict;   /* cmd=list only for root and the queue owner */
	unsigned long long minfree;   /* queue_minfree; 0 = no check */
	int queue_fd;         /* our root, the queue, for fstatvfs */
};

/* ---- who is it ---- */

/* The login name of uid from /etc/passwd (re-read each time: users come
 * and go).  0 with name_r, or -1. */
static int pickup_login(const struct pickup_ctx *ctx, uid_t uid, char *name_r, size_t len)
{
	struct buf pw;
	size_t pos = 0;
	int r = -1;

	buf_init(&pw, PICKUP_PASSWD_MAX);
	for (;;) {
		char block[16384];
		ssize_t n = pread(ctx->passwd_fd, block, sizeof block, (off_t)pw.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(&pw, block, (size_t)n) < 0)
			break;
	}
	while (r < 0 && pos < pw.len) {
		char *nl = memchr(pw.data + pos, '\n', pw.len - pos);
		size_t end = nl != NULL ? (size_t)(nl - pw.data) : pw.len;
		char *c1 = memchr(pw.data + pos, ':', end - pos);
		char *c2 = c1 != NULL ? memchr(c1 + 1, ':', (size_t)(pw.data + end - c1 - 1)) : NULL;
		if (c2 != NULL && (size_t)(c1 - (pw.data + pos)) < len && c1 > pw.data + pos) {
			char *e;
			unsigned long v = strtoul(c2 + 1, &e, 10);
			if (e != c2 + 1 && *e == ':' && v == (unsigned long)uid) {
				memcpy(name_r, pw.data + pos, (size_t)(c1 - (pw.data + pos)));
				name_r[c1 - (pw.data + pos)] = '\0';
				r = 0;
			}
		}
		pos = end + 1;
	}
	buf_free(&pw);
	for (size_t i = 0; r == 0 && name_r[i] != '\0'; i++)
		if (!((name_r[i] >= 'a' && name_r[i] <= 'z') || (name_r[i] >= 'A' && name_r[i] <= 'Z') ||
		      (name_r[i] >= '0' && name_r[i] <= '9') || strchr("._-", name_r[i])))
			r = -1;   /* not usable as a local part as it is */
	return r;
}

/* ---- headers ---- */

/* Whether the header section of msg has a field name (case-insensitive). */
static int pickup_has_header(const struct buf *msg, const char *name)
{
	size_t pos = 0, k = strlen(name);

	while (pos < msg->len && msg->data[pos] != '\n') {
		const char *nl = memchr(msg->data + pos, '\n', msg->len - pos);
		size_t end = nl != NULL ? (size_t)(nl - msg->data) : msg->len;
		if (end - pos > k && msg->data[pos + k] == ':' && strncasecmp(msg->data + pos, name, k) == 0)
			return 1;
		pos = end + 1;
	}
	return 0;
}

/* Whether the message starts with a header field ("name:"). */
static int pickup_starts_with_header(const struct buf *msg)
{
	for (size_t i = 0; i < msg->len; i++) {
		char c = msg->data[i];
		if (c == ':')
			return i > 0;
		if (c <= ' ' || c == 0x7f)
			return 0;
	}
	return 0;
}

static int pickup_headers(struct buf *h, const struct buf *msg, const char *sender,
			  const char *full_name, const char *login, uid_t uid, const char *qid_hint)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	const char *host = config_str("myhostname");
	int r = 0;

	(void)qid_hint;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	/* RFC 5321 4.4: the trace header of this hop. */
	r |= buf_printf(h, "Received: by %s (Postern pickup, from userid %lu);\n\t%s\n",
			host, (unsigned long)uid, date);
	if (!pickup_has_header(msg, "date"))
		r |= buf_printf(h, "Date: %s\n", date);
	if (!pickup_has_header(msg, "message-id"))
		r |= buf_printf(h, "Message-ID: <%lld.%ld.%s@%s>\n", (long long)now, (long)getpid(), login, host);
	if (!pickup_has_header(msg, "from")) {
		if (full_name[0] != '\0')
			r |= buf_printf(h, "From: \"%s\" <%s>\n", full_name, sender);
		else
			r |= buf_printf(h, "From: <%s>\n", sender);
	}
	if (!pickup_starts_with_header(msg))
		r |= buf_putc(h, '\n');   /* body only: close the header we made */
	return r < 0 ? -1 : 0;
}

/* ---- one submission ---- */

struct pickup_answer {
	const char *status;
	char reason[256];
	char id[ENQUEUE_QUEUE_ID_MAX + 1];
	char who[128];              /* cmd=submit: "uid=N user=LOGIN", for the log */
	unsigned long count;        /* cmd=list: messages listed; cmd=flush: made due */
	int truncated;              /* cmd=list: more than MAILQ_LIST_MAX */
};

static int pickup_read_data(const struct pickup_ctx *ctx, struct stream *s, struct buf *msg,
			    struct pickup_answer *a)
{
	for (;;) {
		size_t n;
		enum stream_status st = record_read_chunk(s, msg, &n);
		if (st == STREAM_TOOLONG) {
			snprintf(a->reason, sizeof a->reason, "message too big (limit %llu bytes)", ctx->size_limit);
			a->status = "fail";
			return -1;
		}
		if (st != STREAM_OK) {
			a->status = "fail";
			snprintf(a->reason, sizeof a->reason, "message data not complete");
			return -1;
		}
		if (n == 0)
			return 0;
	}
}

/* The RFC 3461 parameters of a submission (sendmail -N, -R, -V). */
struct pickup_dsn {
	char notify[QUEUEFILE_NOTIFY_TEXT_MAX];   /* canonical, "" = not given */
	const char *ret, *envid;                  /* NULL = not given */
};

/* notify, ret, envid: checked as enqueue would, NOTIFY made canonical.
 * 0, or -1 with a->reason. */
static int pickup_dsn_fields(const struct record *rec, struct pickup_dsn *dsn, struct pickup_answer *a)
{
	const char *v;
	unsigned bits;

	memset(dsn, 0, sizeof(*dsn));
	if ((v = record_get(rec, "notify")) != NULL) {
		if (queuefile_notify_parse(v, strlen(v), &bits) < 0) {
			snprintf(a->reason, sizeof a->reason, "bad notify (NEVER, or SUCCESS, FAILURE, DELAY)");
			return -1;
		}
		queuefile_notify_format(bits, dsn->notify, sizeof(dsn->notify));
	}
	if ((v = record_get(rec, "ret")) != NULL) {
		if (strcasecmp(v, "FULL") != 0 && strcasecmp(v, "HDRS") != 0) {
			snprintf(a->reason, sizeof a->reason, "bad ret (FULL or HDRS)");
			return -1;
		}
		dsn->ret = strcasecmp(v, "FULL") == 0 ? "FULL" : "HDRS";
	}
	if ((v = record_get(rec, "envid")) != NULL) {
		if (!queuefile_envid_valid(v, strlen(v))) {
			snprintf(a->reason, sizeof a->reason, "bad envid (1 to 100 printable ASCII characters)");
			return -1;
		}
		dsn->envid = v;
	}
	return 0;
}

/* Check the envelope fields; rcpts filled. */
static int pickup_envelope(const struct pickup_ctx *ctx, const struct record *rec,
			   const char **rcpts, size_t *n_r, const char **full_name_r,
			   struct pickup_answer *a)
{
	const char *error;
	size_t n = 0;

	*full_name_r = "";
	for (size_t i = 0; i < rec->n; i++) {
		const struct record_field *f = &rec->fields[i];
		if (strcmp(f->key, "rcpt") == 0) {
			if (n >= ctx->rcpt_limit || address_validate(f->value, f->value_len, 1, &error) < 0) {
				snprintf(a->reason, sizeof a->reason, n >= ctx->rcpt_limit ?
					 "too many recipients" : "bad recipient %.200s", f->value);
				return -1;
			}
			rcpts[n++] = f->value;
		} else if (strcmp(f->key, "sender") == 0 && f->value_len > 0 &&
			   address_validate(f->value, f->value_len, 1, &error) < 0) {
			snprintf(a->reason, sizeof a->reason, "bad sender %.200s", f->value);
			return -1;
		} else if (strcmp(f->key, "full_name") == 0) {
			if (f->value_len > PICKUP_NAME_MAX || strpbrk(f->value, "\"\\") != NULL) {
				snprintf(a->reason, sizeof a->reason, "bad full name");
				return -1;
			}
			*full_name_r = f->value;   /* record values carry no control bytes unescaped */
			for (size_t k = 0; k < f->value_len; k++)
				if ((unsigned char)f->value[k] < 0x20 || f->value[k] == 0x7f) {
					snprintf(a->reason, sizeof a->reason, "bad full name");
					return -1;
				}
		}
	}
	if (n == 0) {
		snprintf(a->reason, sizeof a->reason, "no recipients");
		return -1;
	}
	*n_r = n;
	return 0;
}

static void pickup_enqueue(const char *sender, const char *const *rcpts, size_t n, int hold,
			   const struct pickup_dsn *dsn, const struct buf *head, const struct buf *msg,
			   struct pickup_answer *a)
{
	struct enqueue_rcpt *list = calloc(n + 1, sizeof(*list));
	struct enqueue_envelope env = { .sender = sender, .rcpts = list, .nrcpt = n, .client = "localhost",
					.proto = "local", .ret = dsn->ret, .envid = dsn->envid,
					.submission = 1, .hold = hold, .early_id = 1 };
	struct enqueue *e = NULL;
	const char *error = "out of memory";
	int permanent = 0;

	for (size_t i = 0; list != NULL && i < n; i++) {
		list[i].addr = rcpts[i];
		list[i].notify = dsn->notify[0] != '\0' ? dsn->notify : NULL;
	}
	if (list != NULL && enqueue_begin_env(&e, &env, &error) == 0 && enqueue_queue_id(e)[0] != '\0')
		/* Postfix's pickup line, before enqueue or qmgr can log
		 * anything about the message (log tools count it from here) */
		log_info("%s: %s from=<%s>", enqueue_queue_id(e), a->who, sender);
	if (list == NULL || e == NULL ||
	    enqueue_write(e, head->data, head->len) < 0 || enqueue_write(e, msg->data, msg->len) < 0 ||
	    enqueue_finish(e, a->id, sizeof a->id, &permanent, &error) < 0) {
		a->status = permanent ? "fail" : "tempfail";
		snprintf(a->reason, sizeof a->reason, "%s", error);
	} else {
		a->status = "ok";
	}
	enqueue_abort(&e);
	free(list);
}

/* queue_minfree, as smtpd checks it at MAIL: 1 go on, 0 with a tempfail. */
static int pickup_space(const struct pickup_ctx *ctx, size_t size, struct pickup_answer *a)
{
	unsigned long long avail;
	int r = queue_space_ok(ctx->queue_fd, ctx->minfree, size, &avail);

	if (r < 0)
		log_warn("cannot check the queue's free space: %s", strerror(errno));
	if (r != 0)
		return 1;
	log_warn("queue file system has %llu bytes free, queue_minfree is %llu: refusing a submission",
		 avail, ctx->minfree);
	a->status = "tempfail";
	snprintf(a->reason, sizeof a->reason, "insufficient system storage");
	return 0;
}

/* The submission through non_smtpd_milters, then to enqueue. */
static void pickup_filter_enqueue(const struct pickup_ctx *ctx, const char *sender,
				  const char *const *rcpts, size_t n, const struct pickup_dsn *dsn,
				  const struct buf *head, const struct buf *msg, struct pickup_answer *a)
{
	struct pickup_milter_msg pm = { .max_rcpt = ctx->rcpt_limit, .size_limit = ctx->size_limit };
	struct buf env_sender, out;
	int r = -1;

	if (!pickup_milter_active()) {
		pickup_enqueue(sender, rcpts, n, 0, dsn, head, msg, a);
		return;
	}
	buf_init(&env_sender, ADDRESS_PATH_MAX + 1);
	buf_init(&out, ctx->size_limit + PICKUP_HEADERS_MAX + PICKUP_MILTER_EXTRA);
	pm.sender = &env_sender;
	if ((pm.rcpts = calloc(ctx->rcpt_limit + 1, sizeof(*pm.rcpts))) != NULL &&
	    buf_set(&env_sender, sender, strlen(sender)) == 0) {
		while (pm.nrcpt < n && (pm.rcpts[pm.nrcpt] = strdup(rcpts[pm.nrcpt])) != NULL)
			pm.nrcpt++;
		if (pm.nrcpt == n)
			r = pickup_milter_run(&pm, head, msg, &out);
	}
	if (r < 0) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "milter processing failed");
	} else if (r == 0) {
		a->status = pm.status;
		snprintf(a->reason, sizeof a->reason, "%s", pm.reason);
	} else if (pm.discard) {
		log_info("discarded submission %s from=<%s> nrcpt=%zu (milter discard)", a->who, sender, n);
		a->status = "ok";
		a->id[0] = '\0';
	} else {
		struct buf none;

		buf_init(&none, 1);
		pickup_enqueue(buf_cstr(&env_sender), (const char *const *)pm.rcpts, pm.nrcpt, pm.hold, dsn,
			       &none, &out, a);
		buf_free(&none);
		if (pm.hold && strcmp(a->status, "ok") == 0)
			log_info("%s: quarantined by a milter: into hold/", a->id);
	}
	for (size_t i = 0; pm.rcpts != NULL && i < pm.nrcpt; i++)
		free(pm.rcpts[i]);
	free(pm.rcpts);
	buf_free(&env_sender);
	buf_free(&out);
}

static void pickup_submit(const struct pickup_ctx *ctx, int fd, struct stream *s,
			  const struct record *rec, struct pickup_answer *a)
{
	const char **rcpts = calloc(ctx->rcpt_limit + 1, sizeof *rcpts);
	char login[PICKUP_LOGIN_MAX + 1], sender_buf[ADDRESS_PATH_MAX + 1];
	const char *full_name, *sender = record_get(rec, "sender"), *dom;
	struct pickup_dsn dsn;
	struct buf msg, head;
	uid_t uid;
	pid_t pid;
	gid_t gid;
	size_t n = 0;

	buf_init(&msg, ctx->size_limit);
	buf_init(&head, PICKUP_HEADERS_MAX);
	a->status = "fail";
	if (rcpts == NULL || peer_cred(fd, &pid, &uid, &gid) < 0) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "cannot identify the submitting user");
	} else if (pickup_envelope(ctx, rec, rcpts, &n, &full_name, a) == 0 &&
		   pickup_dsn_fields(rec, &dsn, a) == 0 && pickup_read_data(ctx, s, &msg, a) == 0) {
		if (pickup_login(ctx, uid, login, sizeof login) < 0)
			snprintf(login, sizeof login, "uid%lu", (unsigned long)uid);
		snprintf(a->who, sizeof a->who, "uid=%lu user=%s", (unsigned long)uid, login);
		dom = config_str("pickup_sender_domain");
		if (dom[0] == '\0')
			dom = config_str("myhostname");
		if (sender == NULL) {
			snprintf(sender_buf, sizeof sender_buf, "%s@%s", login, dom);
			sender = sender_buf;
		}
		if (pickup_headers(&head, &msg, sender[0] != '\0' ? sender : "MAILER-DAEMON",
				   full_name, login, uid, NULL) < 0)
			snprintf(a->reason, sizeof a->reason, "cannot build headers");
		else if (!pickup_space(ctx, head.len + msg.len, a))
			;   /* a tempfail, as smtpd's 452 */
		else
			pickup_filter_enqueue(ctx, sender, rcpts, n, &dsn, &head, &msg, a);
		if (strcmp(a->status, "ok") != 0)
			log_info("%s from=<%s>: %s (%s)", a->who, sender, a->status, a->reason);
	}
	free(rcpts);
	buf_free(&msg);
	buf_free(&head);
}

/* ---- cmd=list and cmd=flush ---- */

struct pickup_listing {
	struct stream *s;
	struct buf out;
	int failed;
};

/* One message of the listing as one record, written as it is found:
 * the memory used does not grow with the queue. */
static int pickup_list_one(const struct mailq_entry *e, void *arg)
{
	struct pickup_listing *l = arg;

	l->out.len = 0;
	if (mailq_put(&l->out, e) < 0 || stream_write(l->s, l->out.data, l->out.len) < 0) {
		l->failed = 1;
		return 1;
	}
	return 0;
}

/* The operator's rights: root, or the user the queue belongs to (the
 * user pickup runs as). */
static int pickup_is_operator(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

static void pickup_list(const struct pickup_ctx *ctx, struct stream *s, uid_t uid,
			struct pickup_answer *a)
{
	struct pickup_listing l = { .s = s };
	const char *error;
	long n;
	int truncated = 0;

	if (ctx->mailq_restrict && !pickup_is_operator(uid)) {
		snprintf(a->reason, sizeof a->reason, "the queue listing is restricted to the mail system's operators");
		log_info("uid=%lu: queue listing refused (mailq_restrict)", (unsigned long)uid);
		return;
	}
	buf_init(&l.out, MAILQ_RECORD_MAX);
	n = mailq_walk(MAILQ_LIST_MAX, pickup_list_one, &l, &truncated, &error);
	buf_free(&l.out);
	if (n < 0) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "cannot read the queue: %s", error);
		log_warn("queue listing for uid=%lu: %s", (unsigned long)uid, a->reason);
	} else if (l.failed) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "listing not sent");
	} else {
		a->status = "ok";
		a->count = (unsigned long)n;
		a->truncated = truncated;
	}
}

static void pickup_flush(struct pickup_answer *a, uid_t uid)
{
	long n;

	if (!pickup_is_operator(uid)) {
		snprintf(a->reason, sizeof a->reason, "only root and the queue owner may flush the queue");
		log_info("uid=%lu: flush refused", (unsigned long)uid);
		return;
	}
	n = mailq_flush_deferred(NULL);
	if (n < 0 || mailq_poke("flush") == -2) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "cannot flush the queue: %s", strerror(errno));
		return;
	}
	log_info("uid=%lu: flush: %ld deferred messages due now", (unsigned long)uid, n);
	a->status = "ok";
	a->count = (unsigned long)n;
}

/* A request with cmd=: list or flush. */
static void pickup_command(const struct pickup_ctx *ctx, int fd, struct stream *s, const char *cmd,
			   struct pickup_answer *a)
{
	uid_t uid;
	pid_t pid;
	gid_t gid;

	a->status = "fail";
	if (peer_cred(fd, &pid, &uid, &gid) < 0) {
		a->status = "tempfail";
		snprintf(a->reason, sizeof a->reason, "cannot identify the user");
	} else if (strcmp(cmd, "list") == 0) {
		pickup_list(ctx, s, uid, a);
	} else if (strcmp(cmd, "flush") == 0) {
		pickup_flush(a, uid);
	} else {
		snprintf(a->reason, sizeof a->reason, "unknown command");
	}
}

static void pickup_serve(int in_fd, int out_fd, void *arg)
{
	const struct pickup_ctx *ctx = arg;
	struct stream *s = stream_new(in_fd, out_fd, PICKUP_LINE_MAX, ctx->ipc_ms);
	struct pickup_answer a = { .status = "fail" };
	struct record rec = { 0 };
	const char *error, *cmd = NULL;
	struct buf out;
	int r;

	if (s == NULL)
		return;
	if (record_read(s, &rec, &error) != STREAM_OK)
		snprintf(a.reason, sizeof a.reason, "bad request");
	else if ((cmd = record_get(&rec, "cmd")) != NULL)
		pickup_command(ctx, in_fd, s, cmd, &a);
	else
		pickup_submit(ctx, in_fd, s, &rec, &a);
	buf_init(&out, 1024);
	if (strcmp(a.status, "ok") != 0)
		r = record_put_str(&out, "status", a.status) | record_put_str(&out, "reason", a.reason);
	else if (cmd != NULL)
		r = record_put_str(&out, "status", "ok") | record_put_num(&out, "count", a.count) |
		    (a.truncated ? record_put_str(&out, "truncated", "yes") : 0);
	else if (a.id[0] == '\0')   /* a milter discarded it */
		r = record_put_str(&out, "status", "ok") | record_put_str(&out, "discarded", "yes");
	else
		r = record_put_str(&out, "status", "ok") | record_put_str(&out, "queue_id", a.id);
	if (r == 0 && record_end(&out) == 0 && stream_write(s, out.data, out.len) == 0)
		(void)stream_flush(s);
	buf_free(&out);
	record_clear(&rec);
	stream_free(&s);
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct pickup_ctx ctx;
	unsigned long long t = 0;

	daemon_init(&d, "pickup", argc, argv);
	if (d.argc != 0)
		log_fatal("unexpected argument: %s", d.argv[0]);
	ctx.passwd_fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	if (ctx.passwd_fd < 0)
		log_fatal("/etc/passwd: %s", strerror(errno));
	t = config_time("ipc_timeout");
	ctx.ipc_ms = t == 0 ? -1 : t > INT_MAX / 1000 ? INT_MAX : (int)t * 1000;
	ctx.size_limit = config_size("message_size_limit");
	ctx.rcpt_limit = config_size("smtpd_recipient_limit");
	ctx.mailq_restrict = config_bool("mailq_restrict");
	if (ctx.rcpt_limit == 0 || ctx.rcpt_limit >= RECORD_MAX_FIELDS)
		ctx.rcpt_limit = RECORD_MAX_FIELDS - 1;
	enqueue_set_timeout(ctx.ipc_ms < 0 ? 0 : ctx.ipc_ms);
	ctx.minfree = config_size("queue_minfree");
	pickup_milter_init();
	daemon_drop(&d);
	/* Our root is the queue: "." is on its file system. */
	ctx.queue_fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx.queue_fd < 0)
		log_fatal("queue directory: %s", strerror(errno));
	daemon_serve(&d, pickup_serve, &ctx);
	return 0;
}
