/* enqueue_client: the client side of the enqueue protocol.
 *
 * Offers: enqueue_begin() connects to the enqueue service at
 * "private/enqueue" relative to the process root (docs/tree.md) and sends
 * the envelope record; enqueue_write() buffers message bytes and sends
 * them as chunks of at most ENQUEUE_CHUNK_MAX bytes, so a message is
 * never held whole in memory; enqueue_finish() sends the end chunk (and,
 * when the envelope announced one, the trailer record with the header
 * fields given to enqueue_set_prepend() and enqueue_set_hold()'s hold) and
 * waits for the answer, which enqueue gives only once the queue file is
 * on stable storage; enqueue_abort() closes without the end chunk, which
 * makes enqueue discard what it received.
 *
 * Trusts: enqueue to tell the truth about the queue file, but not to be
 * well formed: the answer is read with record_read's limits, the queue ID
 * must be short and alphanumeric, and the reason text is cleaned of
 * control bytes before anyone can put it in a protocol reply.
 *
 * Fails: every function returns -1 with a static or per-handle message
 * (and enqueue_no_space() tells a full queue disk from other trouble);
 * a lost connection during the data is remembered and reported by
 * enqueue_finish as a temporary failure (unless enqueue managed to say
 * why before it went away).  The caller must ignore SIGPIPE. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "daemon.h"
#include "enqueue_client.h"
#include "record.h"
#include "sockets.h"
#include "stream.h"

#define ENQUEUE_REASON_MAX 512
#define ENQUEUE_ANSWER_LINE (RECORD_MAX_VALUE * 3 + 64)   /* %XX escaping triples a value */

static int enqueue_timeout_ms = 60000;

struct enqueue {
	int fd;
	struct stream *s;
	struct buf chunk;     /* data not yet sent as a chunk */
	struct buf reason;    /* the answer's reason, cleaned */
	int failed;           /* a write failed: the connection is gone */
	int finished;         /* the end chunk was sent */
	int trailer;          /* the envelope said trailer=1 */
	struct buf prepend;   /* the trailer's prepend= */
	int hold;             /* the trailer's hold=1 */
	int no_space;         /* tempfail with dsn=4.3.1: the queue's disk is full */
	char early_id[ENQUEUE_QUEUE_ID_MAX + 1];   /* enqueue_queue_id */
};

void enqueue_set_timeout(int timeout_ms)
{
	enqueue_timeout_ms = timeout_ms;
}

static struct enqueue *enqueue_new(int fd)
{
	struct enqueue *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->fd = fd;
	e->s = stream_new_socket(fd, ENQUEUE_ANSWER_LINE, enqueue_timeout_ms);
	if (e->s == NULL) {
		free(e);
		return NULL;
	}
	buf_init(&e->chunk, ENQUEUE_CHUNK_MAX);
	buf_init(&e->reason, ENQUEUE_REASON_MAX);
	buf_init(&e->prepend, ENQUEUE_PREPEND_MAX);
	return e;
}

/* Optional string field: absent when value is NULL. */
static int enqueue_put_opt(struct buf *out, const char *key, const char *value)
{
	return value == NULL ? 0 : record_put_str(out, key, value);
}

/* The envelope record (docs/protocols.md, enqueue request).  notify and
 * orcpt follow the rcpt they belong to. */
static int enqueue_envelope(struct buf *out, const struct enqueue_envelope *env)
{
	if (record_put_str(out, "sender", env->sender) < 0)
		return -1;
	for (size_t i = 0; i < env->nrcpt; i++) {
		const struct enqueue_rcpt *r = &env->rcpts[i];

		if (record_put_str(out, "rcpt", r->addr) < 0 ||
		    enqueue_put_opt(out, "notify", r->notify) < 0 ||
		    enqueue_put_opt(out, "orcpt", r->orcpt) < 0)
			return -1;
	}
	if (enqueue_put_opt(out, "client", env->client) < 0 ||
	    enqueue_put_opt(out, "helo", env->helo) < 0 ||
	    enqueue_put_opt(out, "proto", env->proto) < 0 ||
	    enqueue_put_opt(out, "ret", env->ret) < 0 ||
	    enqueue_put_opt(out, "envid", env->envid) < 0 ||
	    enqueue_put_opt(out, "body", env->body) < 0 ||
	    (env->smtputf8 && record_put_str(out, "smtputf8", "1") < 0) ||
	    (env->hold && record_put_str(out, "hold", "1") < 0) ||
	    (env->submission && record_put_str(out, "submission", "1") < 0) ||
	    (env->trailer && record_put_str(out, "trailer", "1") < 0) ||
	    (env->early_id && record_put_str(out, "early_id", "1") < 0))
		return -1;
	return record_end(out);
}

static int enqueue_connect(const char **error_r)
{
	char path[256];
	int fd;

	if (daemon_socket_path("enqueue", path, sizeof(path)) < 0) {
		*error_r = "enqueue socket path too long";
		return -1;
	}
	fd = unix_connect(path, enqueue_timeout_ms);
	if (fd < 0)
		*error_r = "cannot connect to the enqueue service";
	return fd;
}

/* Fields the envelope record will have: enqueue refuses more than
 * RECORD_MAX_FIELDS, so we never send them. */
static size_t enqueue_field_count(const struct enqueue_envelope *env)
{
	size_t n = 12;  /* sender, client, helo, proto, ret, envid, body, smtputf8, hold, submission, trailer, early_id */

	for (size_t i = 0; i < env->nrcpt && n <= RECORD_MAX_FIELDS; i++)
		n += 1 + (env->rcpts[i].notify != NULL) + (env->rcpts[i].orcpt != NULL);
	return n;
}

static int enqueue_copy_id(const char *id, char *out, size_t outlen);
static void enqueue_set_reason(struct enqueue *e, const char *reason);

/* The record enqueue sends after an early_id envelope: queue_id=ID, or
 * queue_id= when it is not writing the message. */
static int enqueue_read_early_id(struct enqueue *e, const char **error_r)
{
	struct record rec = { 0 };
	const char *err = NULL, *id;
	int r = -1;

	if (stream_flush(e->s) < 0) {
		*error_r = "cannot send the envelope to enqueue";
		return -1;
	}
	if (record_read(e->s, &rec, &err) != STREAM_OK)
		*error_r = "no queue ID from enqueue";
	else if (record_get(&rec, "status") != NULL) {
		/* the envelope record itself was refused: enqueue's answer
		 * (copied: e is freed on this failure) */
		static char why[ENQUEUE_REASON_MAX + 1];
		const char *reason = record_get(&rec, "reason");

		enqueue_set_reason(e, reason != NULL ? reason : "refused by enqueue");
		memcpy(why, buf_cstr(&e->reason), e->reason.len + 1);
		*error_r = why;
	} else if ((id = record_get(&rec, "queue_id")) == NULL ||
		 (id[0] != '\0' && enqueue_copy_id(id, e->early_id, sizeof(e->early_id)) < 0))
		*error_r = "malformed queue ID from enqueue";
	else
		r = 0;
	record_clear(&rec);
	return r;
}

const char *enqueue_queue_id(const struct enqueue *e)
{
	return e->early_id;
}

int enqueue_begin_env(struct enqueue **e_r, const struct enqueue_envelope *env,
		      const char **error_r)
{
	struct buf rec;
	struct enqueue *e;
	int fd, r;

	*e_r = NULL;
	if (env->nrcpt == 0 || enqueue_field_count(env) > RECORD_MAX_FIELDS) {
		*error_r = "bad recipient count for enqueue";
		return -1;
	}
	fd = enqueue_connect(error_r);
	if (fd < 0)
		return -1;
	e = enqueue_new(fd);
	if (e == NULL) {
		close(fd);
		*error_r = "out of memory";
		return -1;
	}
	buf_init(&rec, (size_t)RECORD_MAX_FIELDS * (RECORD_MAX_VALUE * 3 + 16));
	r = enqueue_envelope(&rec, env);
	if (r == 0)
		r = stream_write(e->s, rec.data, rec.len);
	buf_free(&rec);
	if (r < 0) {
		enqueue_abort(&e);
		*error_r = "cannot send the envelope to enqueue";
		return -1;
	}
	if (env->early_id && enqueue_read_early_id(e, error_r) < 0) {
		enqueue_abort(&e);
		return -1;
	}
	e->trailer = env->trailer;
	*e_r = e;
	return 0;
}

int enqueue_begin_proto(struct enqueue **e_r, const char *sender, const char *const *rcpts,
			size_t n, const char *client, const char *helo, const char *proto,
			const char **error_r)
{
	struct enqueue_envelope env = { .sender = sender, .nrcpt = n, .client = client,
					.helo = helo, .proto = proto };
	struct enqueue_rcpt *list;
	int r;

	*e_r = NULL;
	if (n == 0 || n > RECORD_MAX_FIELDS - 8) {
		*error_r = "bad recipient count for enqueue";
		return -1;
	}
	list = calloc(n, sizeof(*list));
	if (list == NULL) {
		*error_r = "out of memory";
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		list[i].addr = rcpts[i];
	env.rcpts = list;
	r = enqueue_begin_env(e_r, &env, error_r);
	free(list);
	return r;
}

int enqueue_begin(struct enqueue **e_r, const char *sender, const char *const *rcpts, size_t n,
		  const char *client, const char *helo, const char **error_r)
{
	return enqueue_begin_proto(e_r, sender, rcpts, n, client, helo, NULL, error_r);
}

/* Send the buffered data as one chunk. */
static int enqueue_send_chunk(struct enqueue *e)
{
	if (e->failed)
		return -1;
	if (e->chunk.len == 0)
		return 0;
	if (record_write_chunk(e->s, e->chunk.data, e->chunk.len) < 0) {
		e->failed = 1;
		return -1;
	}
	buf_reset(&e->chunk);
	return 0;
}

int enqueue_write(struct enqueue *e, const void *p, size_t n)
{
	const char *q = p;

	while (n > 0 && !e->failed) {
		size_t room = ENQUEUE_CHUNK_MAX - e->chunk.len;
		size_t take = n < room ? n : room;

		if (buf_append(&e->chunk, q, take) < 0) {
			e->failed = 1;
			break;
		}
		q += take;
		n -= take;
		if (e->chunk.len == ENQUEUE_CHUNK_MAX && enqueue_send_chunk(e) < 0)
			break;
	}
	return e->failed ? -1 : 0;
}

/* Copy the answer's reason, every control byte made '?', so that it can
 * go into an SMTP reply or a log line without injecting anything. */
static void enqueue_set_reason(struct enqueue *e, const char *reason)
{
	size_t n = strlen(reason);

	if (n > ENQUEUE_REASON_MAX)
		n = ENQUEUE_REASON_MAX;   /* a human-readable text: shortening is harmless */
	buf_reset(&e->reason);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)reason[i];
		(void)buf_putc(&e->reason, c < 0x20 || c >= 0x7f ? '?' : (char)c);
	}
}

/* A queue ID is short and alphanumeric; anything else is a broken peer. */
static int enqueue_copy_id(const char *id, char *out, size_t outlen)
{
	size_t n = strlen(id);

	if (n == 0 || n > ENQUEUE_QUEUE_ID_MAX || n >= outlen)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return -1;
	}
	memcpy(out, id, n + 1);
	return 0;
}

/* Interpret the answer record. */
static int enqueue_answer(struct enqueue *e, const struct record *rec, char *queue_id_r,
			  size_t idlen, int *permanent_r, const char **error_r)
{
	const char *status = record_get(rec, "status");
	const char *reason = record_get(rec, "reason");
	const char *id = record_get(rec, "queue_id");

	*permanent_r = 0;
	if (status != NULL && strcmp(status, "ok") == 0) {
		if (id != NULL && enqueue_copy_id(id, queue_id_r, idlen) == 0)
			return 0;
		enqueue_set_reason(e, "enqueue answered ok with a bad queue id");
	} else if (status != NULL && strcmp(status, "fail") == 0) {
		*permanent_r = 1;
		enqueue_set_reason(e, reason != NULL ? reason : "refused by enqueue");
	} else if (status != NULL && strcmp(status, "tempfail") == 0) {
		const char *dsn = record_get(rec, "dsn");

		e->no_space = dsn != NULL && strcmp(dsn, "4.3.1") == 0;
		enqueue_set_reason(e, reason != NULL ? reason : "enqueue temporary failure");
	} else {
		enqueue_set_reason(e, "malformed answer from enqueue");
	}
	*error_r = buf_cstr(&e->reason);
	return -1;
}

int enqueue_set_prepend(struct enqueue *e, const char *p, size_t n)
{
	buf_reset(&e->prepend);
	return buf_append(&e->prepend, p, n);
}

void enqueue_set_hold(struct enqueue *e)
{
	e->hold = 1;
}

/* The trailer record: prepend= when there are fields, hold=1. */
static int enqueue_send_trailer(struct enqueue *e)
{
	struct buf rec;
	int r;

	if (!e->trailer)
		return 0;
	buf_init(&rec, ENQUEUE_PREPEND_MAX * 3 + 64);
	r = (e->prepend.len == 0 || record_put(&rec, "prepend", e->prepend.data, e->prepend.len) == 0) &&
	    (!e->hold || record_put_str(&rec, "hold", "1") == 0) &&
	    record_end(&rec) == 0 && stream_write(e->s, rec.data, rec.len) == 0 ? 0 : -1;
	buf_free(&rec);
	return r;
}

int enqueue_finish(struct enqueue *e, char *queue_id_r, size_t idlen, int *permanent_r,
		   const char **error_r)
{
	struct record rec = { 0 };
	const char *err = NULL;
	enum stream_status st;
	int r;

	*permanent_r = 0;
	if (enqueue_send_chunk(e) == 0 && record_write_chunk_end(e->s) == 0 &&
	    enqueue_send_trailer(e) == 0 && stream_flush(e->s) == 0)
		e->finished = 1;
	else
		e->failed = 1;
	/* Even after a failed write enqueue may have said why it stopped
	 * reading (a size limit, a full disk): read what it sent. */
	st = record_read(e->s, &rec, &err);
	if (st != STREAM_OK) {
		record_clear(&rec);
		enqueue_set_reason(e, e->failed ? "lost connection to enqueue" :
				   st == STREAM_TIMEOUT ? "timeout waiting for enqueue" :
				   "no answer from enqueue");
		*error_r = buf_cstr(&e->reason);
		return -1;
	}
	r = enqueue_answer(e, &rec, queue_id_r, idlen, permanent_r, error_r);
	record_clear(&rec);
	if (r == 0 && !e->finished) {
		/* "ok" without our end chunk cannot be a real commit. */
		enqueue_set_reason(e, "enqueue answered ok before the end of data");
		*error_r = buf_cstr(&e->reason);
		return -1;
	}
	return r;
}

int enqueue_no_space(const struct enqueue *e)
{
	return e != NULL && e->no_space;
}

void enqueue_abort(struct enqueue **ep)
{
	struct enqueue *e = *ep;

	if (e == NULL)
		return;
	*ep = NULL;
	stream_free(&e->s);
	close(e->fd);
	buf_free(&e->chunk);
	buf_free(&e->reason);
	buf_free(&e->prepend);
	free(e);
}
