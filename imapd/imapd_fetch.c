/* imapd_fetch: FETCH and SEARCH of the selected folder.
 *
 * Offers: imapd_cmd_fetch gathers, per message, what the request needs
 * (imap_fetch_render_needs: metadata only, the header, or the whole
 * message), reads it from the Maildir file as stored (the parser counts
 * the line ends it lacks, and a whole message is made wire form, every
 * bare LF CRLF, straight into its literal of the size the store
 * measured), or with every bare LF made CRLF first when BINARY or a
 * window of the whole message is asked for, or when the file is no
 * longer the size measured; sets \Seen where a non-PEEK item asks for
 * it, and sends what common/imap_fetch_render.c writes, gathered into
 * large writes.  imapd_search_matches compiles a program once
 * (common/imap_search_eval.c), loads a message's bytes only when a key
 * needs them, and gives the messages found (SEARCH, SORT and THREAD
 * search alike); imapd_cmd_search answers SEARCH (IMAP4rev1) or ESEARCH
 * (IMAP4rev2, or RETURN given: RFC 4731 MIN, MAX, COUNT, ALL).
 *
 * Trusts: the view for what exists; message files only through the
 * store (regular files, O_NOFOLLOW) and up to message_size_limit plus
 * its line ends.  Fails: a message whose file is gone (expunged by
 * another session or program, the EXPUNGE not told yet) gets no FETCH
 * response when its data needs the file, and the command ends
 * NO [EXPUNGEISSUED] (RFC 2180 4.1.2, RFC 5530 3), or OK [EXPUNGEISSUED]
 * for a UID FETCH whose reply told the EXPUNGEs (a UID that no longer
 * exists is no error, RFC 9051 6.4.9); what the view holds (FLAGS, UID,
 * sizes) is still answered.  (Dovecot 2.3 sends such a message with
 * its body NIL, RFC 2180 4.1.3, and OK: data that is not the message's.)
 * A file that cannot be read for another reason is NO [SERVERBUG];
 * memory or size limits NO [LIMIT]. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crlf.h"
#include "imap_fetch_render.h"
#include "imap_preview.h"
#include "mime.h"
#include "imap_search_eval.h"
#include "imapd_session.h"
#include "log.h"

/* Flags of m as IMAP_FLAG_* bits, and its keyword names into kw. */
static unsigned int imapd_msg_flags(const struct imapd_session *ss, const struct mbox_msg *m,
				    const char **kw, unsigned int *nkw)
{
	static const struct { uint32_t store; unsigned int imap; } map[] = {
		{ MBOX_ANSWERED, IMAP_FLAG_ANSWERED }, { MBOX_FLAGGED, IMAP_FLAG_FLAGGED },
		{ MBOX_DELETED, IMAP_FLAG_DELETED }, { MBOX_SEEN, IMAP_FLAG_SEEN }, { MBOX_DRAFT, IMAP_FLAG_DRAFT },
	};
	unsigned int f = m->recent ? IMAP_FLAG_RECENT : 0;

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((m->flags & map[i].store) != 0)
			f |= map[i].imap;
	*nkw = 0;
	for (int k = 0; k < MBOX_KEYWORDS_MAX; k++)
		if ((m->flags & MBOX_KEYWORD(k)) != 0 && ss->mb->keywords[k] != NULL)
			kw[(*nkw)++] = ss->mb->keywords[k];
	return f;
}

/* Append n bytes of src to out in wire form (crlf_expand; prev is the
 * byte before src).  0, or -1 (EMSGSIZE: past out's cap). */
static int imapd_crlf_append(struct buf *out, const char *src, size_t n, char prev)
{
	/* Room for the worst case (every byte an LF) or what the cap leaves. */
	size_t room = out->max - out->len, k;
	char *d;

	if (room / 2 >= n)
		room = 2 * n;
	if ((d = buf_room(out, room)) == NULL)
		return -1;
	if ((k = crlf_expand(d, room, src, n, prev)) == SIZE_MAX) {
		errno = EMSGSIZE;
		return -1;
	}
	buf_extend(out, k);
	return 0;
}

#define IMAPD_READ_MAX (1u << 20)   /* most bytes read at once into the buffer */

/* Read message idx into out: as stored when raw (straight into the
 * buffer), else with every bare LF as CRLF; only the header when
 * header_only.  A whole message whose last line has no line end gets
 * one, as POP3 sends it and as the store's size counts it (RFC822.SIZE
 * is the octets of BODY[]).  0, or -1 with errno (ENOENT: gone). */
static int imapd_msg_load(struct imapd_session *ss, size_t idx, int header_only, bool raw, struct buf *out)
{
	unsigned long long want = ss->mb->msgs[idx].size;
	char block[65536];
	char last = '\n';
	int fd;

	buf_reset(out);
	/* The header size is measured when first needed (the store lists a
	 * message by the sizes in its name). */
	if ((header_only && mbox_msg_header_size(ss->mb, idx, &want) < 0) || (fd = mbox_msg_open(ss->mb, idx)) < 0)
		return -1;
	while (want > 0) {
		size_t k = raw ? IMAPD_READ_MAX : sizeof(block);
		char *to = raw ? buf_room(out, k = want < k ? (size_t)want : k) : block;
		if (to == NULL)
			goto fail;
		ssize_t n = read(fd, to, want < k ? (size_t)want : k);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;   /* shorter than measured: what is there */
		want -= (unsigned long long)n;
		if (raw)
			buf_extend(out, (size_t)n);
		else if (imapd_crlf_append(out, block, (size_t)n, last) < 0)
			goto fail;
		last = to[n - 1];
	}
	close(fd);
	/* LF after a last CR, CRLF (or LF, made CRLF by the renderer's
	 * expansion of raw data) after any other last byte */
	if (!header_only && last != '\n' &&
	    (raw || last == '\r' ? buf_putc(out, '\n') : buf_append(out, "\r\n", 2)) < 0)
		return -1;
	return 0;
fail:;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

int imapd_msg_read(struct imapd_session *ss, size_t idx, int header_only, struct buf *out)
{
	return imapd_msg_load(ss, idx, header_only, false, out);
}

/* ---- the structure cache (the store's postern-cache) ---- */

#define IMAPD_STRUCTURE_ITEMS (IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY | IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_PREVIEW)
#define IMAPD_STRUCTURE_MAX (1u << 20)   /* longest cached text (the store's bound) */
#define IMAPD_TEXTS 4                    /* ENVELOPE, BODY, BODYSTRUCTURE, PREVIEW */
#define IMAPD_PREVIEW 3

static const unsigned int imapd_structure_item[IMAPD_TEXTS] = { IMAP_FETCH_ENVELOPE, IMAP_FETCH_BODY,
								 IMAP_FETCH_BODYSTRUCTURE, IMAP_FETCH_PREVIEW };

/* Cache kind of text k (0 ENVELOPE, 1 BODY, 2 BODYSTRUCTURE: one per
 * form; 3 PREVIEW, UTF-8 in every form). */
static uint32_t imapd_structure_kind(int k, unsigned int form)
{
	return k == IMAPD_PREVIEW ? 9 : (uint32_t)(k * 3) + form;
}

/* Fetch the wanted texts from the cache into texts[]; the items found. */
static unsigned int imapd_structure_cached(struct imapd_session *ss, uint32_t uid, const struct imap_fetch *f,
					   unsigned int flags, struct buf *texts)
{
	unsigned int found = 0, form = imap_fetch_render_form(flags);

	for (int k = 0; k < IMAPD_TEXTS; k++) {
		buf_reset(&texts[k]);
		if ((f->items & imapd_structure_item[k]) != 0 &&
		    mbox_cache_get(ss->mb, uid, imapd_structure_kind(k, form), &texts[k]) == 1)
			found |= imapd_structure_item[k];
	}
	return found;
}

/* Parse the message once, make the missing texts, cache them. 0, or -1. */
static int imapd_structure_fill(struct imapd_session *ss, uint32_t uid, const struct imap_fetch *f,
				unsigned int flags, const struct buf *data, int whole, unsigned int cached,
				struct buf *texts, struct mime_message **mime_r)
{
	const char *error;
	unsigned int form = imap_fetch_render_form(flags);

	if (mime_parse(data->data != NULL ? data->data : "", data->len, mime_r, &error) < 0)
		return -1;
	for (int k = 0; k < IMAPD_TEXTS; k++) {
		if ((f->items & imapd_structure_item[k]) == 0 || (cached & imapd_structure_item[k]) != 0 ||
		    (k > 0 && !whole))
			continue;   /* BODY, BODYSTRUCTURE and PREVIEW need the whole message */
		buf_reset(&texts[k]);
		int r = k == IMAPD_PREVIEW ? imap_preview_make(data->data, data->len, *mime_r, &texts[k])
			: imap_fetch_render_structure(&texts[k], k == 0 ? -1 : k - 1, *mime_r, flags);
		if (r < 0) {
			buf_reset(&texts[k]);
			continue;
		}
		mbox_cache_put(ss->mb, uid, imapd_structure_kind(k, form), texts[k].data, texts[k].len);
	}
	return 0;
}

/* Hand the texts at hand to the renderer. */
static void imapd_structure_give(const struct imap_fetch *f, struct buf *texts, struct imap_fetch_msg *fm)
{
	const char **p[IMAPD_TEXTS] = { &fm->envelope, &fm->body, &fm->bodystructure, &fm->preview };
	size_t *l[IMAPD_TEXTS] = { &fm->envelope_len, &fm->body_len, &fm->bodystructure_len, &fm->preview_len };

	for (int k = 0; k < IMAPD_TEXTS; k++)
		if ((f->items & imapd_structure_item[k]) != 0 && (texts[k].len > 0 || k == IMAPD_PREVIEW)) {
			*p[k] = texts[k].data != NULL ? texts[k].data : "";   /* a preview may be empty */
			*l[k] = texts[k].len;
		}
}

#define IMAPD_FETCH_SEND (256u << 10)   /* FETCH responses gathered before a write */

/* Write the gathered responses. */
static void imapd_fetch_send(struct imapd_session *ss, struct buf *out)
{
	if (out->len > 0)
		stream_write(ss->s, out->data, out->len);
	buf_reset(out);
}

void imapd_cmd_fetch(struct imapd_session *ss, const struct imap_command *c)
{
	const struct imap_fetch *f = &c->u.fetch.fetch;
	enum imap_fetch_need need;
	size_t *idx, n, n_gone = 0, unreadable = 0;
	uint32_t *gone;
	struct buf data, out;
	int failed = 0;

	if (f->vanished && !ss->qresync) {
		imapd_bad(ss, c->tag, "VANISHED needs QRESYNC enabled");   /* RFC 7162 3.2.6 */
		return;
	}
	if ((f->items & IMAP_FETCH_MODSEQ) != 0 || f->changedsince_set)
		imapd_condstore_enable(ss);
	struct imap_fetch_render_opts opts = {
		.flags = (ss->rev2 ? IMAP_FETCH_R_REV2 : 0) | (ss->utf8 ? IMAP_FETCH_R_UTF8 : 0) |
			 (c->uid ? IMAP_FETCH_R_UID : 0) |
			 (ss->condstore ? IMAP_FETCH_R_CONDSTORE : 0),
		.max = (size_t)(2 * ss->l->literal_max + 65536),
	};
	if (imapd_resolve(ss, c->tag, &c->u.fetch.set, c->uid, &idx, &n) < 0)
		return;
	/* Structures and sections are the same from the message as stored
	 * (the parser counts the line ends it lacks), and a whole message
	 * is made wire form as it is sent: then no CRLF pass before. */
	bool raw = !imap_fetch_render_wants_wire(f);
	if ((gone = calloc(n > 0 ? n : 1, sizeof(*gone))) == NULL ||
	    (f->vanished && imapd_fetch_vanished(ss, &c->u.fetch.set, f->changedsince) < 0)) {
		free(gone);
		free(idx);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Out of memory");
		return;
	}
	buf_init(&data, (size_t)(2 * ss->l->literal_max + 65536));
	buf_init(&out, opts.max + IMAPD_FETCH_SEND + 4096);
	struct buf texts[IMAPD_TEXTS];   /* ENVELOPE, BODY, BODYSTRUCTURE, PREVIEW of the message at hand */
	for (int k = 0; k < IMAPD_TEXTS; k++)
		buf_init(&texts[k], IMAPD_STRUCTURE_MAX);
	mbox_cache_begin(ss->mb);   /* one look at the cache file for all the messages */
	for (size_t i = 0; i < n && !failed; i++) {
		struct mbox_msg *m = &ss->mb->msgs[idx[i]];
		const char *kw[MBOX_KEYWORDS_MAX];
		struct imap_fetch_msg fm = { .seq = (uint32_t)(idx[i] + 1), .uid = m->uid };
		struct mime_message *mime = NULL;
		bool seen_set = false;

		if (f->changedsince_set && m->modseq <= f->changedsince)
			continue;   /* RFC 7162 3.1.4.1: only what changed since */
		unsigned int cached = imapd_structure_cached(ss, m->uid, f, opts.flags, texts);
		need = imap_fetch_render_needs(f, cached);
		if (need != IMAP_FETCH_NEED_NONE &&
		    imapd_msg_load(ss, idx[i], need == IMAP_FETCH_NEED_HEADER, raw, &data) < 0) {
			if (errno == ENOENT) {
				gone[n_gone++] = m->uid;
			} else {
				log_warn("user=%s %s: UID %u: %s", buf_cstr(&ss->user), ss->mb->path, m->uid,
					 strerror(errno));
				unreadable++;
			}
			continue;
		}
		/* The structure texts not cached yet: parsed now, once for all
		 * sessions. */
		if ((f->items & IMAPD_STRUCTURE_ITEMS & ~cached) != 0 && need != IMAP_FETCH_NEED_NONE &&
		    imapd_structure_fill(ss, m->uid, f, opts.flags, &data, need == IMAP_FETCH_NEED_MESSAGE,
					 cached, texts, &mime) < 0)
			mime = NULL;   /* the renderer parses it itself */
		imapd_structure_give(f, texts, &fm);
		fm.mime = mime;
		fm.flags = imapd_msg_flags(ss, m, kw, &fm.nkeywords);
		if (imap_fetch_render_sets_seen(f, fm.flags, ss->readonly) &&
		    mbox_msg_update_flags(ss->mb, idx[i], MBOX_SEEN, 0) == 0) {
			/* The flags as stored now, which the view has taken:
			 * other sessions' changes included, told here. */
			fm.flags = imapd_msg_flags(ss, m, kw, &fm.nkeywords);
			seen_set = true;
		}
		fm.keywords = kw;
		fm.modseq = m->modseq;
		fm.emailid = (f->items & IMAP_FETCH_EMAILID) != 0 ? mbox_msg_emailid(ss->mb, idx[i]) : 0;
		fm.size = m->vsize;
		fm.internal_date = m->date;
		fm.seen_set = seen_set;
		fm.data = need != IMAP_FETCH_NEED_NONE ? buf_cstr(&data) : NULL;
		fm.len = need != IMAP_FETCH_NEED_NONE ? data.len : 0;
		fm.data_wire = !raw;   /* imapd_msg_load made every line end CRLF */
		/* As stored, a whole message is made wire form straight into
		 * its literal, of the size the store measured. */
		fm.data_sized = raw && need == IMAP_FETCH_NEED_MESSAGE;
		/* Responses gather in out and go to the stream together: a
		 * few large writes, not one copy and send per message. */
		int rc = imap_fetch_render(&out, f, &fm, &opts);
		mime_message_free(&mime);
		fm.mime = NULL;
		if (rc == IMAP_FETCH_RENDER_NO_DATA && fm.data_sized &&
		    imapd_msg_load(ss, idx[i], 0, false, &data) == 0) {
			/* Not the size measured (the file changed?): as read. */
			fm.data = buf_cstr(&data);
			fm.len = data.len;
			fm.data_wire = true;
			fm.data_sized = false;
			rc = imap_fetch_render(&out, f, &fm, &opts);
		}
		if (rc != IMAP_FETCH_RENDER_OK)
			failed = rc;
		else if (out.len >= IMAPD_FETCH_SEND)
			imapd_fetch_send(ss, &out);
	}
	imapd_fetch_send(ss, &out);   /* the responses before any tagged reply */
	mbox_cache_end(ss->mb);
	free(idx);
	buf_free(&data);
	buf_free(&out);
	for (int k = 0; k < IMAPD_TEXTS; k++)
		buf_free(&texts[k]);
	if (failed) {
		imapd_tagged(ss, c->tag, failed == IMAP_FETCH_RENDER_UNKNOWN_CTE ? "NO [UNKNOWN-CTE] Cannot decode this part"
			     : failed == IMAP_FETCH_RENDER_TOO_BIG ? "NO [LIMIT] Response too large"
			     : "NO [SERVERBUG] Cannot render the message");
		free(gone);
		return;
	}
	imapd_send_updates(ss, c->uid);
	if (unreadable > 0)
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Some messages could not be read");
	else if (n_gone > 0 && !imapd_expunges_told(ss, gone, n_gone))
		imapd_tagged(ss, c->tag, "NO [EXPUNGEISSUED] Some of the messages were expunged meanwhile");
	else if (n_gone > 0)
		imapd_tagged(ss, c->tag, "OK [EXPUNGEISSUED] FETCH completed; some messages were expunged meanwhile");
	else
		imapd_tagged(ss, c->tag, "OK FETCH completed");
	free(gone);
}

/* ---- SEARCH ---- */

struct imapd_search_load {
	struct imapd_session *ss;
	size_t idx;
	struct buf *data;
};

static int imapd_search_load(void *ctx, enum imap_search_need need, const char **data_r, size_t *len_r)
{
	struct imapd_search_load *l = ctx;

	if (imapd_msg_read(l->ss, l->idx, need == IMAP_SEARCH_NEED_HEADER, l->data) < 0)
		return -1;
	*data_r = buf_cstr(l->data);
	*len_r = l->data->len;
	return 0;
}

/* Save the result (numbers, or UIDs when uid) as UIDs: all of it, or
 * with MIN or MAX (and not ALL or COUNT) only those (RFC 5182 2.4). */
static void imapd_search_save(struct imapd_session *ss, bool uid, const uint32_t *hits, size_t nh,
			      unsigned int ret)
{
	uint32_t *uids = NULL, ends[2];
	const uint32_t *v = hits;
	size_t k = 0;

	if (!uid) {
		if ((uids = calloc(nh > 0 ? nh : 1, sizeof(*uids))) == NULL) {
			imapd_save_result(ss, NULL, 0);
			return;
		}
		for (size_t i = 0; i < nh; i++)
			uids[i] = ss->mb->msgs[hits[i] - 1].uid;   /* ascending as the numbers are */
		v = uids;
	}
	if ((ret & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0 &&
	    (ret & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0 && nh > 0) {
		if (ret & IMAP_SEARCH_RETURN_MIN)
			ends[k++] = v[0];
		if ((ret & IMAP_SEARCH_RETURN_MAX) && (k == 0 || v[nh - 1] != ends[0]))
			ends[k++] = v[nh - 1];
		imapd_save_result(ss, ends, k);
	} else {
		imapd_save_result(ss, v, nh);
	}
	free(uids);
}

int imapd_search_matches(struct imapd_session *ss, const char *tag, const struct imap_search *s,
			 size_t **idx_r, size_t *n_r, uint64_t *modseq_r)
{
	struct mbox *mb = ss->mb;
	struct imap_search_env env = {
		.max_seq = (uint32_t)ss->shown,
		.max_uid = mb->n > 0 ? mb->msgs[mb->n - 1].uid : 0,
		.saved = ss->saved.count > 0 ? &ss->saved : NULL,
		.now = (int64_t)time(NULL),
	};
	struct imap_search_eval *ev = NULL;
	const char *error;
	struct buf data;
	size_t *idx, n = 0;
	uint64_t top_modseq = 0;   /* of the messages found (RFC 7162 3.1.5) */

	if (s->uses_modseq)
		imapd_condstore_enable(ss);
	int r = imap_search_eval_new(s, &env, &ev, &error);   /* copies "$" */
	/* A SEARCH that fails leaves "$" empty (RFC 5182 2.1). */
	if (s->esearch && (s->ret & IMAP_SEARCH_RETURN_SAVE) != 0)
		imapd_save_result(ss, NULL, 0);
	if (r == IMAP_SEARCH_EVAL_BADCHARSET) {
		imapd_tagged(ss, tag, "NO [BADCHARSET (%s)] Unknown charset", IMAP_SEARCH_CHARSETS);
		return -1;
	}
	if (r == IMAP_SEARCH_EVAL_BADSTRING) {
		imapd_bad(ss, tag, error);
		return -1;
	}
	if (r != 0 || (idx = calloc(ss->shown + 1, sizeof(*idx))) == NULL) {
		imap_search_eval_free(&ev);
		imapd_tagged(ss, tag, "NO [SERVERBUG] Out of memory");
		return -1;
	}
	buf_init(&data, (size_t)(2 * ss->l->literal_max + 65536));
	for (size_t i = 0; i < ss->shown && i < mb->n; i++) {
		const struct mbox_msg *m = &mb->msgs[i];
		const char *kw[MBOX_KEYWORDS_MAX];
		struct imapd_search_load load = { ss, i, &data };
		struct imap_search_msg sm = { .seq = (uint32_t)(i + 1), .uid = m->uid, .modseq = m->modseq,
					      .emailid = s->uses_objectid ? mbox_msg_emailid(mb, i) : 0,
					      .size = m->vsize, .internal_date = m->date,
					      .load = imapd_search_load, .load_ctx = &load };
		sm.flags = imapd_msg_flags(ss, m, kw, &sm.nkeywords);
		sm.keywords = kw;
		if (imap_search_eval_match(ev, &sm, &error) > 0) {
			idx[n++] = i;
			if (m->modseq > top_modseq)
				top_modseq = m->modseq;
		}
		/* A message that cannot be read (gone meanwhile) matches no text key. */
	}
	imap_search_eval_free(&ev);
	buf_free(&data);
	*idx_r = idx;
	*n_r = n;
	*modseq_r = top_modseq;
	return 0;
}

void imapd_cmd_search(struct imapd_session *ss, const struct imap_command *c)
{
	const struct imap_search *s = &c->u.search;
	struct buf out;
	uint32_t *hits;
	size_t *idx, nh = 0;
	uint64_t top_modseq;

	if (imapd_search_matches(ss, c->tag, s, &idx, &nh, &top_modseq) < 0)
		return;
	/* numbers or UIDs, ascending as the view is */
	if ((hits = calloc(nh + 1, sizeof(*hits))) == NULL) {
		free(idx);
		imapd_tagged(ss, c->tag, "NO [SERVERBUG] Out of memory");
		return;
	}
	for (size_t i = 0; i < nh; i++)
		hits[i] = c->uid ? ss->mb->msgs[idx[i]].uid : (uint32_t)(idx[i] + 1);
	free(idx);
	unsigned int ret = s->esearch ? s->ret : IMAP_SEARCH_RETURN_ALL;
	if (ret == 0)
		ret = IMAP_SEARCH_RETURN_ALL;   /* RETURN () means ALL */
	if (ret & IMAP_SEARCH_RETURN_SAVE)
		imapd_search_save(ss, c->uid, hits, nh, ret);
	buf_init(&out, 64 + 11 * (nh + 4));
	if (ret == IMAP_SEARCH_RETURN_SAVE) {
		/* SAVE alone: no ESEARCH response (RFC 5182 2.1). */
	} else if (s->esearch || ss->rev2) {
		/* RFC 4731 / RFC 9051 7.3.4. */
		buf_printf(&out, "* ESEARCH (TAG \"%s\")%s", c->tag, c->uid ? " UID" : "");
		if ((ret & IMAP_SEARCH_RETURN_MIN) && nh > 0)
			buf_printf(&out, " MIN %u", hits[0]);
		if ((ret & IMAP_SEARCH_RETURN_MAX) && nh > 0)
			buf_printf(&out, " MAX %u", hits[nh - 1]);
		if (ret & IMAP_SEARCH_RETURN_COUNT)
			buf_printf(&out, " COUNT %zu", nh);
		if ((ret & IMAP_SEARCH_RETURN_ALL) && nh > 0) {
			buf_append_str(&out, " ALL ");
			imapd_put_uid_set(&out, hits, nh);
		}
		if (s->uses_modseq && nh > 0)
			buf_printf(&out, " MODSEQ %llu", (unsigned long long)top_modseq);
	} else {
		buf_append_str(&out, "* SEARCH");
		for (size_t i = 0; i < nh; i++)
			buf_printf(&out, " %u", hits[i]);
		if (s->uses_modseq && nh > 0)
			buf_printf(&out, " (MODSEQ %llu)", (unsigned long long)top_modseq);
	}
	buf_append_str(&out, "\r\n");
	stream_write(ss->s, out.data, out.len);
	buf_free(&out);
	free(hits);
	imapd_send_updates(ss, c->uid);
	imapd_tagged(ss, c->tag, "OK SEARCH completed");
}
