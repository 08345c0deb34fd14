/* enqueue: the only writer of new queue files.
 *
 * Offers: the enqueue service of docs/protocols.md.  A client (smtpd,
 * pickup, local) sends an envelope record and the message as chunks;
 * enqueue writes tmp/ID, fsyncs it, renames it into incoming/, fsyncs
 * incoming/ (with group_commit = yes: no fsyncs, but a wait for a flush of
 * the queue file system shared with the other enqueue processes,
 * common/group_commit.h), and only then answers `status=ok queue_id=ID`
 * and pokes qmgr through private/qmgr.  Submitted mail (SMTP AUTH, pickup) is
 * DKIM-signed on the way (enqueue_dkim.c, docs/dkim.md): the signature
 * goes into the file's prepend slot before the fsync.  One connection
 * may carry several messages in turn.  At start it creates missing queue subdirectories and removes
 * tmp/ files older than a day (left by a crash; never accepted).
 *
 * Runs as: postern-queue, root (chroot or chdir) = DIR/queue.  Reads its
 * clients' requests; writes tmp/ and incoming/; connects to private/qmgr
 * and private/dkim-sign.
 *
 * Trusts: its clients only as far as the protocol: every field is
 * checked (one sender, 1..smtpd_recipient_limit recipients, lengths, no
 * control bytes in addresses; the DSN fields ret, envid, notify, orcpt
 * and the MIME fields body, smtputf8 of RFC 3461 / 6152 / 6531 are
 * validated and stored in the queue file; a recipient named twice is
 * stored once, its DSN requests merged) and the message size is bounded by
 * message_size_limit plus ENQUEUE_HEADROOM for the Received header the
 * client prepends.
 *
 * Fails: a refused request gets `status=fail` (do not retry), any local
 * trouble (disk, I/O) `status=tempfail`, with `dsn=4.3.1` when the disk
 * is full (ENOSPC, EDQUOT at any write, fsync or rename); in every case
 * nothing is left in the queue.  A client that disconnects or times out before the end of
 * the data loses its message (the tmp file is removed). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
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
#include "enqueue_dkim.h"
#include "group_commit.h"
#include "hash.h"
#include "log.h"
#include "metric.h"
#include "queue_trigger.h"
#include "queuefile.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"

#define ENQUEUE_HEADROOM (64 * 1024)        /* Received header added by the client */
#define ENQUEUE_CHUNK_BUF (1024 * 1024)     /* largest chunk record.c accepts */
#define ENQUEUE_LINE_MAX 1024               /* stream default; record_read sets its own */
#define ENQUEUE_STALE_AGE (24 * 60 * 60)    /* tmp/ files older than this are garbage */
#define ENQUEUE_POKE_TIMEOUT_MS 1000
#define ENQUEUE_DRAIN_FACTOR 4              /* refused data read before we hang up */

struct enqueue_ctx {
	unsigned long long size_limit;  /* message bytes accepted, headroom included */
	size_t rcpt_limit;
	int timeout_ms;
	struct enqueue_dkim_conf dkim;
	struct group_commit *gc;        /* NULL: two fsyncs per message */
};

/* The outcome of one request. */
struct enqueue_answer {
	const char *status;   /* "ok", "tempfail", "fail" */
	const char *reason;
	const char *dsn;      /* RFC 3463 status for the client, NULL: none */
};

static void enqueue_set(struct enqueue_answer *a, const char *status, const char *reason)
{
	/* The first problem is the one reported. */
	if (strcmp(a->status, "ok") == 0) {
		a->status = status;
		a->reason = reason;
	}
}

/* A write, fsync or rename in the queue failed with errno e.  ENOSPC
 * and EDQUOT are a full disk: `dsn=4.3.1`, which smtpd answers with 452
 * 4.3.1 (RFC 3463 X.3.1, mail system full); anything else (EIO, ...) is
 * a plain temporary failure.  Either way nothing stays in the queue. */
static void enqueue_disk_failed(struct enqueue_answer *a, const char *reason, int e)
{
	if (strcmp(a->status, "ok") != 0)
		return;
	if (e == ENOSPC || e == EDQUOT) {
		enqueue_set(a, "tempfail", "insufficient system storage");
		a->dsn = "4.3.1";
	} else {
		enqueue_set(a, "tempfail", reason);
	}
}

/* ---- the envelope ---- */

struct enqueue_env {
	struct queuefile_env qe;
	const char **rcpt;
	size_t *rcpt_len;
	unsigned *notify;     /* per recipient, 0 = not given */
	const char **orcpt;   /* per recipient, NULL = not given */
	unsigned seen;        /* ENQUEUE_SEEN_* of the once-only DSN fields */
	int hold;             /* hold=1: commit into hold/ (smtpd's policy HOLD) */
	int submission;       /* submission=1: a local user's mail (pickup): signed */
};

#define ENQUEUE_SEEN_RET 1u
#define ENQUEUE_SEEN_ENVID 2u
#define ENQUEUE_SEEN_UTF8 4u
#define ENQUEUE_SEEN_BODY 8u
#define ENQUEUE_SEEN_HOLD 16u
#define ENQUEUE_SEEN_SUBMISSION 32u

static int enqueue_addr_ok(const char *a, size_t n)
{
	if (n > QUEUEFILE_ADDR_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)a[i];

		if (c < 0x20 || c == 0x7f)   /* would end up in DSN headers */
			return 0;
	}
	return 1;
}

/* A once-only optional field; *dst keeps the first value. */
static const char *enqueue_info(const struct record_field *f, const char **dst)
{
	if (*dst != NULL)
		return "duplicate field";
	if (f->value_len > QUEUEFILE_INFO_MAX || strlen(f->value) != f->value_len)
		return "field too long";
	*dst = f->value;
	return NULL;
}

/* Whether flag was seen already; marks it. */
static int enqueue_once(struct enqueue_env *env, unsigned flag)
{
	int seen = (env->seen & flag) != 0;

	env->seen |= flag;
	return seen;
}

/* A once-only flag whose one value is "1": NULL, or why_dup / why_bad. */
static const char *enqueue_flag(struct enqueue_env *env, unsigned flag, const char *v, int *dst,
				const char *why_dup, const char *why_bad)
{
	if (enqueue_once(env, flag))
		return why_dup;
	if (strcmp(v, "1") != 0)
		return why_bad;
	*dst = 1;
	return NULL;
}

/* The message-level DSN / MIME fields (docs/protocols.md).  NULL, the
 * reason for refusing the request, or "" when key is not one of them. */
static const char *enqueue_option(const struct record_field *f, struct enqueue_env *env)
{
	struct queuefile_env *qe = &env->qe;
	const char *v = f->value;

	if (strcmp(f->key, "ret") == 0) {
		if (enqueue_once(env, ENQUEUE_SEEN_RET))
			return "duplicate ret";
		if (strcasecmp(v, "FULL") == 0)
			qe->ret = QUEUEFILE_RET_FULL;
		else if (strcasecmp(v, "HDRS") == 0)
			qe->ret = QUEUEFILE_RET_HDRS;
		else
			return "bad ret";
	} else if (strcmp(f->key, "envid") == 0) {
		if (enqueue_once(env, ENQUEUE_SEEN_ENVID))
			return "duplicate envid";
		if (!queuefile_envid_valid(v, f->value_len))
			return "bad envid";
		qe->envid = v;
	} else if (strcmp(f->key, "smtputf8") == 0) {
		return enqueue_flag(env, ENQUEUE_SEEN_UTF8, v, &qe->smtputf8, "duplicate smtputf8", "bad smtputf8");
	} else if (strcmp(f->key, "hold") == 0) {
		return enqueue_flag(env, ENQUEUE_SEEN_HOLD, v, &env->hold, "duplicate hold", "bad hold");
	} else if (strcmp(f->key, "submission") == 0) {
		return enqueue_flag(env, ENQUEUE_SEEN_SUBMISSION, v, &env->submission, "duplicate submission",
				    "bad submission");
	} else if (strcmp(f->key, "body") == 0) {
		if (enqueue_once(env, ENQUEUE_SEEN_BODY))
			return "duplicate body";
		if (strcasecmp(v, "8BITMIME") == 0)
			qe->body = QUEUEFILE_BODY_8BITMIME;
		else if (strcasecmp(v, "7BIT") == 0)
			qe->body = QUEUEFILE_BODY_7BIT;
		else
			return "bad body";
	} else {
		return "";
	}
	return NULL;
}

/* notify= / orcpt= for the recipient just before them. */
static const char *enqueue_rcpt_option(const struct record_field *f, struct enqueue_env *env)
{
	size_t i = env->qe.nrcpt - 1;

	if (env->qe.nrcpt == 0)
		return "recipient option before any recipient";
	if (strcmp(f->key, "notify") == 0) {
		if (env->notify[i] != 0)
			return "duplicate notify";
		if (queuefile_notify_parse(f->value, f->value_len, &env->notify[i]) < 0)
			return "bad notify";
		return NULL;
	}
	if (env->orcpt[i] != NULL)
		return "duplicate orcpt";
	if (strlen(f->value) != f->value_len || !queuefile_orcpt_valid(f->value, f->value_len))
		return "bad orcpt";
	env->orcpt[i] = f->value;
	return NULL;
}

/* Check the request record and fill env (pointers into rec).  NULL or
 * the reason for refusing it. */
static const char *enqueue_envelope(const struct record *rec, const struct enqueue_ctx *ctx,
				    struct enqueue_env *env)
{
	struct queuefile_env *qe = &env->qe;
	int nsender = 0;
	const char *err;

	for (size_t i = 0; i < rec->n; i++) {
		const struct record_field *f = &rec->fields[i];

		if (strcmp(f->key, "sender") == 0) {
			if (nsender++ > 0)
				return "more than one sender";
			if (!enqueue_addr_ok(f->value, f->value_len))
				return "bad sender address";
			qe->sender = f->value;
			qe->sender_len = f->value_len;
		} else if (strcmp(f->key, "rcpt") == 0) {
			if (qe->nrcpt >= ctx->rcpt_limit)
				return "too many recipients";
			if (f->value_len == 0 || !enqueue_addr_ok(f->value, f->value_len))
				return "bad recipient address";
			env->rcpt[qe->nrcpt] = f->value;
			env->rcpt_len[qe->nrcpt] = f->value_len;
			env->notify[qe->nrcpt] = 0;
			env->orcpt[qe->nrcpt] = NULL;
			qe->nrcpt++;
		} else if (strcmp(f->key, "notify") == 0 || strcmp(f->key, "orcpt") == 0) {
			if ((err = enqueue_rcpt_option(f, env)) != NULL)
				return err;
		} else if (strcmp(f->key, "client") == 0) {
			if ((err = enqueue_info(f, &qe->client)) != NULL)
				return err;
		} else if (strcmp(f->key, "helo") == 0) {
			if ((err = enqueue_info(f, &qe->helo)) != NULL)
				return err;
		} else if (strcmp(f->key, "proto") == 0) {
			if ((err = enqueue_info(f, &qe->proto)) != NULL)
				return err;
		} else if ((err = enqueue_option(f, env)) == NULL || err[0] != '\0') {
			if (err != NULL)
				return err;
		} else {
			/* Unknown fields are for newer clients: ignored. */
			log_debug("ignoring request field %s", f->key);
		}
	}
	if (nsender == 0)
		return "no sender";
	if (qe->nrcpt == 0)
		return "no recipients";
	qe->rcpt = env->rcpt;
	qe->rcpt_len = env->rcpt_len;
	qe->rcpt_notify = env->notify;
	qe->rcpt_orcpt = env->orcpt;
	return NULL;
}

/* Keep each recipient once (issue 9 item 8), whoever the client:
 * recipients are compared in address_normalize's canonical form (domain
 * case, quoting).  The case of a local part counts here, since enqueue
 * cannot tell a local domain; smtpd, which can, has folded those
 * already.  A duplicate's NOTIFY merges into the first occurrence
 * (queuefile_notify_merge), whose ORCPT, or else the first one given,
 * stays.  -1 when out of memory. */
static int enqueue_dedup(struct enqueue_env *env)
{
	struct queuefile_env *qe = &env->qe;
	size_t n = 0, slot = QUEUEFILE_ADDR_MAX + 1;
	char *text = malloc(qe->nrcpt * slot);
	size_t *len = calloc(qe->nrcpt, sizeof(*len));
	uint64_t *hash = calloc(qe->nrcpt, sizeof(*hash));
	struct buf norm;
	int r = -1;

	buf_init(&norm, slot);
	if (text == NULL || len == NULL || hash == NULL)
		goto out;
	for (size_t i = 0; i < qe->nrcpt; i++) {
		size_t k;

		/* Checked by enqueue_addr_ok: never longer than a slot. */
		if (address_normalize(env->rcpt[i], env->rcpt_len[i], &norm) < 0)
			log_panic("enqueue: canonical address longer than its source");
		hash[n] = HASH_FNV64_INIT;
		for (size_t c = 0; c < norm.len; c++)
			hash[n] = hash_fnv64_byte(hash[n], (unsigned char)norm.data[c]);
		for (k = 0; k < n; k++)
			if (hash[k] == hash[n] && len[k] == norm.len &&
			    memcmp(text + k * slot, norm.data, norm.len) == 0)
				break;
		if (k < n) {
			env->notify[k] = queuefile_notify_merge(env->notify[k], env->notify[i]);
			if (env->orcpt[k] == NULL)
				env->orcpt[k] = env->orcpt[i];
			continue;
		}
		memcpy(text + n * slot, norm.data, norm.len);
		len[n] = norm.len;
		env->rcpt[n] = env->rcpt[i];
		env->rcpt_len[n] = env->rcpt_len[i];
		env->notify[n] = env->notify[i];
		env->orcpt[n] = env->orcpt[i];
		n++;
	}
	qe->nrcpt = n;
	r = 0;
out:
	buf_free(&norm);
	free(text);
	free(len);
	free(hash);
	return r;
}

/* ---- the data ---- */

/* Read chunks to the end of the data, writing them to qo while the
 * answer is still ok.  Returns 0 at the end chunk, -1 when the stream
 * broke (client gone, timeout, bad framing: no way to resynchronise). */
static int enqueue_data(struct stream *s, const struct enqueue_ctx *ctx, struct queuefile_out *qo,
			struct enqueue_dkim *dk, int writing, struct enqueue_answer *a,
			unsigned long long *size_r)
{
	unsigned long long total = 0;
	struct buf chunk;
	const char *err;
	int r = -1;

	buf_init(&chunk, ENQUEUE_CHUNK_BUF);
	for (;;) {
		size_t n;
		enum stream_status st;

		buf_reset(&chunk);
		st = record_read_chunk(s, &chunk, &n);
		if (st != STREAM_OK) {
			enqueue_set(a, "tempfail", "data not complete");
			break;
		}
		if (n == 0) {
			r = 0;
			break;
		}
		total += n;   /* bounded: we stop long before it could wrap */
		if (total > ctx->size_limit && strcmp(a->status, "ok") == 0)
			enqueue_set(a, "fail", "message too big");
		/* Read refused data to its end so the client gets our answer,
		 * but not forever. */
		if (total / ENQUEUE_DRAIN_FACTOR > ctx->size_limit) {
			enqueue_set(a, "fail", "message too big");
			break;
		}
		if (writing && strcmp(a->status, "ok") == 0 &&
		    queuefile_write_data(qo, chunk.data, n, &err) < 0) {
			int e = errno;

			log_warn("%s: %s: %s", qo->id, err, strerror(e));
			enqueue_disk_failed(a, "queue file write error", e);
			/* Give the space back now, not after the rest of the data. */
			queuefile_abort(qo);
		}
		if (dk != NULL && writing && strcmp(a->status, "ok") == 0)
			enqueue_dkim_data(dk, chunk.data, n);
	}
	buf_free(&chunk);
	*size_r = total;
	return r;
}

/* ---- one request ---- */

static void enqueue_reply(struct stream *s, const struct enqueue_answer *a, const char *id)
{
	struct buf out;

	buf_init(&out, 8192);
	if (record_put_str(&out, "status", a->status) == 0 &&
	    (id == NULL || record_put_str(&out, "queue_id", id) == 0) &&
	    (a->reason == NULL || record_put_str(&out, "reason", a->reason) == 0) &&
	    (a->dsn == NULL || record_put_str(&out, "dsn", a->dsn) == 0) &&
	    record_end(&out) == 0) {
		if (stream_write(s, out.data, out.len) < 0 || stream_flush(s) < 0)
			log_debug("cannot answer client: %s", strerror(errno));
	}
	buf_free(&out);
}

/* The answer to early_id=1, before the data: the queue ID the client
 * logs its line about the message with (smtpd's client=, pickup's uid=)
 * before anything about it can be logged by enqueue or qmgr, as
 * Postfix's log tools need; "" when the message is not being written.
 * 0, or -1 when the client is gone. */
static int enqueue_early_id(struct stream *s, const char *id)
{
	struct buf out;
	int r = -1;

	buf_init(&out, 256);
	if (record_put_str(&out, "queue_id", id) == 0 && record_end(&out) == 0 &&
	    stream_write(s, out.data, out.len) == 0 && stream_flush(s) == 0)
		r = 0;
	buf_free(&out);
	return r;
}

/* Tell qmgr that incoming/id is new.  Only saves latency: qmgr scans
 * anyway.  The connection is kept for the next message (qmgr_trigger.c):
 * a line with the queue ID per message, so that qmgr takes the file by
 * name instead of reading incoming/.  A full socket means qmgr has
 * wakeups it has not read yet, which is as good; a broken one (qmgr
 * restarted) is made again once, and so is one that took only part of
 * the line (its rest would begin the next). */
static void enqueue_poke(const char *id)
{
	static int fd = -1;
	char path[128], line[QUEUEFILE_ID_MAX + 2];
	size_t len = queue_trigger_line(id, line, sizeof line);
	ssize_t w;

	if (len == 0)
		return;   /* not a queue ID (cannot be): the periodic scan finds it */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (fd < 0) {
			if (daemon_socket_path("qmgr", path, sizeof(path)) < 0)
				return;
			fd = unix_connect(path, ENQUEUE_POKE_TIMEOUT_MS);
			if (fd < 0) {
				log_debug("cannot wake qmgr: %s", strerror(errno));
				return;
			}
		}
		w = send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == (ssize_t)len || (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
			return;
		if (w >= 0) {
			close(fd);   /* qmgr takes the part as a wakeup */
			fd = -1;
			return;
		}
		log_debug("cannot wake qmgr: %s", strerror(errno));
		close(fd);
		fd = -1;
	}
}

/* Create the queue file for env; on failure the answer says why. */
static int enqueue_start(struct queuefile_out *qo, const struct enqueue_env *env,
			 struct enqueue_answer *a)
{
	const char *err;

	int e;

	if (queuefile_create(qo, &err) < 0) {
		e = errno;
		log_warn("%s: %s", err, strerror(e));
		enqueue_disk_failed(a, "cannot create queue file", e);
		return -1;
	}
	if (queuefile_write_envelope(qo, &env->qe, &err) < 0) {
		e = errno;
		log_warn("%s: %s: %s", qo->id, err, strerror(e));
		queuefile_abort(qo);
		/* Limits were checked already: this is the disk. */
		enqueue_disk_failed(a, "cannot write queue file", e);
		return -1;
	}
	return 0;
}

/* The trailer record after the end chunk (docs/protocols.md): header
 * fields the client knew only at the end of the data (smtpd's
 * Authentication-Results with DKIM results), into *extra, and a hold
 * it decided then (DMARC quarantine), into *hold.  0, -1 when the
 * stream broke; a bad value makes the answer fail. */
static int enqueue_trailer(struct stream *s, struct record *tr, struct enqueue_answer *a, const char **extra,
			   size_t *extra_len, int *hold)
{
	const char *err = NULL;
	size_t seen = 0, holds = 0;

	*extra = NULL;
	*extra_len = 0;
	if (record_read(s, tr, &err) != STREAM_OK) {
		enqueue_set(a, "tempfail", "trailer not complete");
		return -1;
	}
	for (size_t i = 0; i < tr->n; i++) {
		if (strcmp(tr->fields[i].key, "hold") == 0) {
			if (holds++ > 0 || strcmp(tr->fields[i].value, "1") != 0) {
				enqueue_set(a, "fail", holds > 1 ? "duplicate hold in trailer" : "bad hold in trailer");
				return 0;
			}
			*hold = 1;
			continue;
		}
		if (strcmp(tr->fields[i].key, "prepend") != 0)
			continue;   /* unknown fields are ignored, as in the envelope */
		*extra = tr->fields[i].value;
		*extra_len = tr->fields[i].value_len;
		seen++;
	}
	if (seen > 1 || !queuefile_prepend_valid(*extra, *extra_len)) {
		enqueue_set(a, "fail", seen > 1 ? "duplicate prepend" : "bad prepend in trailer");
		*extra = NULL;
		*extra_len = 0;
	}
	return 0;
}

/* Sign into the prepend slot (docs/dkim.md), the client's trailer
 * fields after the signatures.  A failure of the signer is the answer's
 * when dkim_sign_failure = tempfail, else a warning; trailer fields
 * that do not fit are dropped with a warning (the message stays). */
static void enqueue_prepend(const struct enqueue_ctx *ctx, struct enqueue_dkim *dk, const char *extra,
			    size_t extra_len, struct queuefile_out *qo, struct enqueue_answer *a)
{
	struct buf fields;
	const char *err = NULL;
	size_t signed_len;
	int r = 0;

	buf_init(&fields, QUEUEFILE_PREPEND_MAX);
	if (dk != NULL)
		r = enqueue_dkim_finish(dk, qo->id, (uint64_t)qo->time, &fields, &err);
	if (r < 0)
		buf_reset(&fields);
	signed_len = fields.len;
	if (extra_len > 0 && (buf_append(&fields, extra, extra_len) < 0 ||
			      queuefile_set_prepend(qo, fields.data, fields.len, &err) < 0)) {
		log_warn("%s: trailer header fields dropped: %s", qo->id, err != NULL ? err : "too long");
		fields.len = signed_len;
		extra_len = 0;
	}
	if (r == 0 && extra_len == 0 && fields.len > 0 && queuefile_set_prepend(qo, fields.data, fields.len, &err) < 0)
		r = -1;
	if (r < 0 && ctx->dkim.accept_on_failure) {
		log_warn("%s: not DKIM-signed: %s (dkim_sign_failure = accept)", qo->id, err);
	} else if (r < 0) {
		log_warn("%s: DKIM signing failed: %s", qo->id, err);
		enqueue_set(a, "tempfail", "DKIM signing failed");
	}
	buf_free(&fields);
}

/* Serve one request.  0: go on with the next one; -1: close. */
static int enqueue_one(struct stream *s, const struct enqueue_ctx *ctx)
{
	struct record rec = { 0 }, tr = { 0 };
	struct enqueue_answer a = { "ok", NULL, NULL };
	struct enqueue_env env = { 0 };
	const char *rcpt[QUEUEFILE_RCPT_MAX > RECORD_MAX_FIELDS ? RECORD_MAX_FIELDS : QUEUEFILE_RCPT_MAX];
	size_t rcpt_len[sizeof(rcpt) / sizeof(rcpt[0])];
	unsigned notify[sizeof(rcpt) / sizeof(rcpt[0])];
	const char *orcpt[sizeof(rcpt) / sizeof(rcpt[0])];
	struct queuefile_out qo = { .fd = -1 };
	struct enqueue_dkim *dk = NULL;
	unsigned long long size = 0;
	const char *err = NULL, *reason, *extra = NULL, *t;
	size_t extra_len = 0;
	enum stream_status st;
	int writing = 0, r = -1, trailer, early_id;

	st = record_read(s, &rec, &err);
	if (st == STREAM_EOF)
		return -1;
	if (st != STREAM_OK) {
		if (st != STREAM_TIMEOUT) {
			enqueue_set(&a, "fail", err ? err : "bad request");
			enqueue_reply(s, &a, NULL);
		}
		return -1;
	}
	/* Read before the envelope is judged: a refused envelope's trailer
	 * must still be read, or it would be taken for the next request. */
	trailer = (t = record_get(&rec, "trailer")) != NULL && strcmp(t, "1") == 0;
	early_id = (t = record_get(&rec, "early_id")) != NULL && strcmp(t, "1") == 0;
	env.rcpt = rcpt;
	env.rcpt_len = rcpt_len;
	env.notify = notify;
	env.orcpt = orcpt;
	reason = enqueue_envelope(&rec, ctx, &env);
	if (reason != NULL)
		enqueue_set(&a, "fail", reason);
	else if (enqueue_dedup(&env) < 0)
		enqueue_set(&a, "tempfail", "out of memory");
	else if (ctx->dkim.enabled && enqueue_dkim_submitted(env.qe.proto, env.submission) &&
		 (dk = enqueue_dkim_start(&ctx->dkim)) == NULL)
		enqueue_set(&a, "tempfail", "out of memory");
	else {
		/* submitted mail gets a slot for its signature, mail with a
		 * trailer one for its fields */
		env.qe.prepend_slot = dk != NULL || trailer ? ctx->dkim.slot : 0;
		writing = enqueue_start(&qo, &env, &a) == 0;
	}
	if (early_id && enqueue_early_id(s, writing ? qo.id : "") < 0) {
		if (writing)
			queuefile_abort(&qo);
		enqueue_dkim_free(&dk);
		record_clear(&rec);
		return -1;
	}
	if (enqueue_data(s, ctx, &qo, dk, writing, &a, &size) == 0)
		r = trailer ? enqueue_trailer(s, &tr, &a, &extra, &extra_len, &env.hold) : 0;
	if ((dk != NULL || extra_len > 0) && writing && strcmp(a.status, "ok") == 0)
		enqueue_prepend(ctx, dk, extra, extra_len, &qo, &a);
	enqueue_dkim_free(&dk);
	if (writing && strcmp(a.status, "ok") == 0) {
		if (queuefile_commit_into(&qo, env.hold ? "hold" : "incoming", ctx->gc, &err) < 0) {
			int e = errno;

			log_warn("%s: %s: %s", qo.id, err, strerror(e));
			enqueue_disk_failed(&a, "cannot commit queue file", e);
		}
	} else if (writing) {
		queuefile_abort(&qo);
	}
	if (strcmp(a.status, "ok") == 0) {
		enqueue_reply(s, &a, qo.id);
		log_info("%s: from=<%s>, size=%llu, nrcpt=%zu%s", qo.id, env.qe.sender, size,
			 env.qe.nrcpt, env.hold ? " (queue hold)" : "");
		metric_count(METRIC_RECEIVED);
		if (!env.hold)
			enqueue_poke(qo.id);   /* qmgr never reads hold/ */
	} else {
		log_info("refused message: %s (%s)", a.reason, a.status);
		enqueue_reply(s, &a, NULL);
	}
	record_clear(&rec);
	record_clear(&tr);
	return r;
}

static void enqueue_serve(int in_fd, int out_fd, void *arg)
{
	const struct enqueue_ctx *ctx = arg;
	/* One descriptor: a client daemon_serve accepted, a socket;
	 * inetd mode (-i) passes stdin and stdout, which may be anything. */
	struct stream *s = in_fd == out_fd ? stream_new_socket(in_fd, ENQUEUE_LINE_MAX, ctx->timeout_ms)
					   : stream_new(in_fd, out_fd, ENQUEUE_LINE_MAX, ctx->timeout_ms);

	if (s == NULL) {
		log_warn("out of memory");
		return;
	}
	(void)stream_read_blocking(s);   /* one read(2) per read, not poll(2) + read(2) */
	/* The first message always: a client accepted while we were told
	 * to stop was taken from the backlog to be served (daemon_accept),
	 * and closing it unanswered fails a message its sender has sent. */
	while (enqueue_one(s, ctx) == 0 && !daemon_stopping())
		;
	stream_free(&s);
}

/* ---- start-up ---- */

/* Remove tmp/ files a crashed enqueue left behind.  They were never
 * acknowledged, so removing them loses nothing.  Judged by the change
 * time: a spare file taken a moment ago (renamed into tmp/, which sets
 * it) may still carry the modification time of its emptying, days ago. */
static void enqueue_clean_tmp(void)
{
	DIR *dir = opendir("tmp");
	time_t limit = time(NULL) - ENQUEUE_STALE_AGE;
	struct dirent *de;

	if (dir == NULL) {
		log_warn("cannot open tmp/: %s", strerror(errno));
		return;
	}
	while ((de = readdir(dir)) != NULL) {
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= limit || st.st_ctime >= limit)
			continue;
		if (unlinkat(dirfd(dir), de->d_name, 0) == 0)
			log_info("removed stale tmp/%s", de->d_name);
	}
	closedir(dir);
}

static int enqueue_ms(unsigned long long seconds)
{
	return seconds > INT_MAX / 1000 ? INT_MAX : (int)seconds * 1000;
}

int main(int argc, char **argv)
{
	struct daemon d;
	struct enqueue_ctx ctx;
	unsigned long long limit;
	const char *err;

	daemon_init(&d, "enqueue", argc, argv);
	daemon_drop(&d);
	limit = config_size("smtpd_recipient_limit");
	ctx.rcpt_limit = limit > RECORD_MAX_FIELDS ? RECORD_MAX_FIELDS : (size_t)limit;
	if (ctx.rcpt_limit > QUEUEFILE_RCPT_MAX)
		ctx.rcpt_limit = QUEUEFILE_RCPT_MAX;
	limit = config_size("message_size_limit");
	ctx.size_limit = limit > ULLONG_MAX / ENQUEUE_DRAIN_FACTOR - ENQUEUE_HEADROOM
		? ULLONG_MAX / ENQUEUE_DRAIN_FACTOR : limit + ENQUEUE_HEADROOM;
	ctx.timeout_ms = enqueue_ms(config_time("ipc_timeout"));
	enqueue_dkim_conf_load(&ctx.dkim, enqueue_ms(config_time("dkim_sign_timeout")));
	if (queuefile_mkdirs(&err) < 0)
		log_fatal("%s: %s", err, strerror(errno));
	enqueue_clean_tmp();
	ctx.gc = group_commit_for_daemon();   /* after the chroot: flushes DIR/queue's file system */
	daemon_serve(&d, enqueue_serve, &ctx);
	return 0;
}
