/* milter_message: the message through the milters, and their changes.
 *
 * Offers: milter_session_message().  The caller (smtpd_data.c, pickup)
 * holds the message in a file (as it would be stored: LF line ends, its
 * own trace header on top; bounded by message_size_limit).  Each filter
 * in turn gets the header fields, the end of header, the body in chunks
 * of at most 65535 bytes with CRLF line ends, and the end of message;
 * it answers with modifications, then its verdict.  Header changes (add,
 * insert at an index, change or delete the Nth field of a name) and a
 * new body make a new memfd, which the next filter sees; sender and
 * recipient changes go into the caller's envelope (struct
 * milter_host_ops); quarantine sets ms->hold, discard ms->discard (also
 * when every recipient was removed).
 *
 * Trusts: no filter.  A header name must be printable ASCII without ':'
 * and a value may hold line breaks only as folding (a break followed by
 * a space or tab), addresses go through the same parser as SMTP's, the
 * header may grow to ms->header_max and the body to ms->size_limit; a
 * change the filter did not negotiate is a protocol error.  Any of
 * these: milter_default_action.
 *
 * Fails: memfd trouble: -1, the caller answers (nothing queued). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include "address.h"
#include "fsutil.h"
#include "log.h"
#include "milter_client.h"

#define MILTER_IO 65536

/* One header field as stored: "Name: value\n", folds included. */
struct mhdr {
	char *text;
	size_t len, name_len;
};

struct mmsg {
	int fd;                       /* the message now */
	int own;                      /* fd is ours (a rewrite) */
	struct mhdr *h;
	size_t nh, ah, hbytes, hmax;
	off_t body_off;               /* where the body starts in fd */
	int has_sep;                  /* an empty line ends the header */
	int hdr_changed;
	int body_fd;                  /* replacement body, -1 none */
	unsigned long long body_len;
	int body_cr;                  /* replacement ended in CR (CRLF split over packets) */
};

static void mmsg_headers_free(struct mmsg *m)
{
	for (size_t i = 0; i < m->nh; i++)
		free(m->h[i].text);
	free(m->h);
	m->h = NULL;
	m->nh = m->ah = m->hbytes = 0;
}

/* Insert a field (text owned by the list) at position at. */
static int mmsg_insert(struct mmsg *m, size_t at, char *text, size_t len, size_t name_len)
{
	if (m->hbytes + len > m->hmax) {
		free(text);
		return -1;
	}
	if (m->nh == m->ah) {
		size_t n = m->ah ? m->ah * 2 : 32;
		struct mhdr *p = n > SIZE_MAX / sizeof(*p) ? NULL : realloc(m->h, n * sizeof(*p));

		if (p == NULL) {
			free(text);
			return -1;
		}
		m->h = p;
		m->ah = n;
	}
	if (at > m->nh)
		at = m->nh;
	memmove(m->h + at + 1, m->h + at, (m->nh - at) * sizeof(*m->h));
	m->h[at] = (struct mhdr){ text, len, name_len };
	m->nh++;
	m->hbytes += len;
	return 0;
}

/* The length of a field name at the start of a line, 0 when it is none. */
static size_t mhdr_name(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (unsigned char)p[i] > 32 && (unsigned char)p[i] < 127 && p[i] != ':')
		i++;
	return i > 0 && i < n && p[i] == ':' ? i : 0;
}

/* Split the header of m->fd into fields; find where the body starts. */
static int mmsg_parse(struct mmsg *m)
{
	struct buf hb;
	size_t pos = 0, start = 0, name_len = 0;
	int in_field = 0, rc = -1;

	buf_init(&hb, m->hmax);
	mmsg_headers_free(m);
	m->has_sep = 0;
	for (;;) {
		char *room = buf_room(&hb, MILTER_IO);
		ssize_t r;

		if (room == NULL)
			room = buf_room(&hb, m->hmax - hb.len);
		if (room == NULL || hb.len == m->hmax)
			goto out;   /* no end of header within the bound */
		r = pread(m->fd, room, hb.len + MILTER_IO > m->hmax ? m->hmax - hb.len : MILTER_IO, (off_t)hb.len);
		if (r < 0)
			goto out;
		buf_extend(&hb, (size_t)r);
		/* Lines complete so far. */
		for (;;) {
			const char *lf = memchr(hb.data + pos, '\n', hb.len - pos);
			size_t n = lf != NULL ? (size_t)(lf - (hb.data + pos)) + 1 : (r == 0 ? hb.len - pos : 0);
			const char *line = hb.data + pos;
			int cont = n > 0 && (line[0] == ' ' || line[0] == '\t') && in_field;
			size_t nl = n > 0 && !cont ? mhdr_name(line, n) : 0;

			if (n == 0)
				break;
			if (!cont && in_field) {
				char *t = strndup(hb.data + start, pos - start);
				if (t == NULL || mmsg_insert(m, m->nh, t, pos - start, name_len) < 0)
					goto out;
				in_field = 0;
			}
			if (cont) {
				pos += n;
				continue;
			}
			if (nl == 0) {   /* the empty line, or the body without one */
				m->has_sep = n == 1 && line[0] == '\n';
				m->body_off = (off_t)(pos + (m->has_sep ? 1 : 0));
				rc = 0;
				goto out;
			}
			start = pos;
			name_len = nl;
			in_field = 1;
			pos += n;
		}
		if (r == 0) {
			if (in_field) {
				char *t = strndup(hb.data + start, pos - start);
				if (t == NULL || mmsg_insert(m, m->nh, t, pos - start, name_len) < 0)
					goto out;
			}
			m->body_off = (off_t)pos;
			rc = 0;
			goto out;
		}
	}
out:
	buf_free(&hb);
	return rc;
}

/* ---- sending the message ---- */

/* name NUL value NUL of a field, the value as the filter wants it. */
static int mhdr_packet(const struct milter *mi, const struct mhdr *h, struct buf *out)
{
	const char *v = h->text + h->name_len + 1;
	size_t vlen = h->len - h->name_len - 1;

	if (vlen > 0 && v[vlen - 1] == '\n')
		vlen--;
	if (!(mi->protocol & MILTER_P_HDR_LEADSPC) && vlen > 0 && v[0] == ' ') {
		v++;
		vlen--;
	}
	buf_reset(out);
	if (buf_append(out, h->text, h->name_len) < 0 || buf_putc(out, '\0') < 0 ||
	    buf_append(out, v, vlen) < 0 || buf_putc(out, '\0') < 0)
		return -1;
	return 0;
}

/* Ask and act; 1 go on, 0 answered or the filter is out of the message. */
static int mmsg_step(struct milter_session *ms, struct milter *mi, int stage, char cmd,
		     const void *data, size_t len, uint32_t noreply, struct buf *in, int *skip_r)
{
	struct milter_reply r;
	int nr = (mi->protocol & noreply) != 0;

	if (milter_ask(ms, mi, stage, cmd, data, len, !nr, ms->conf->content_ms, in, &r) < 0)
		return milter_failed(ms, mi, NULL, 1) ? -1 : 0;
	if (nr)
		return 1;
	if (r.code == MILTER_R_SKIP && skip_r != NULL) {
		*skip_r = 1;
		return 1;
	}
	if (!milter_verdict(ms, mi, &r))
		return 0;
	return milter_usable(mi) && !ms->discard ? 1 : -1;
}

/* The body in CRLF chunks.  Same results as mmsg_step. */
static int mmsg_body(struct milter_session *ms, struct milter *mi, struct mmsg *m, struct buf *in)
{
	char raw[MILTER_IO / 2], chunk[MILTER_CHUNK_MAX];
	off_t off = m->body_off;
	size_t o = 0;
	int skip = 0, r = 1;

	for (;;) {
		ssize_t n = pread(m->fd, raw, sizeof(raw), off);

		if (n < 0)
			return -2;
		for (ssize_t i = 0; i < n; i++) {
			if (o + 2 > sizeof(chunk)) {
				if ((r = mmsg_step(ms, mi, -1, MILTER_CMD_BODY, chunk, o, MILTER_P_NR_BODY, in, &skip)) != 1 || skip)
					return r;
				o = 0;
			}
			if (raw[i] == '\n')
				chunk[o++] = '\r';
			chunk[o++] = raw[i];
		}
		off += n;
		if (n == 0)
			break;
	}
	if (o > 0)
		r = mmsg_step(ms, mi, -1, MILTER_CMD_BODY, chunk, o, MILTER_P_NR_BODY, in, &skip);
	return r;
}

/* ---- the changes ---- */

/* Header field text "Name: value\n" from a filter's name and value; NULL
 * when they are not fit for a header. */
static char *mhdr_make(const struct milter *mi, const char *name, const char *value, size_t *len_r)
{
	size_t nl = strlen(name), vl = strlen(value), o = 0;
	int lead = !(mi->protocol & MILTER_P_HDR_LEADSPC);
	char *t;

	if (nl == 0 || mhdr_name(name, nl) != 0 || nl > 998)
		return NULL;
	for (size_t i = 0; i < nl; i++)
		if ((unsigned char)name[i] <= 32 || (unsigned char)name[i] >= 127 || name[i] == ':')
			return NULL;
	if ((t = malloc(nl + vl + 4)) == NULL)
		return NULL;
	memcpy(t, name, nl);
	o = nl;
	t[o++] = ':';
	if (lead)
		t[o++] = ' ';
	for (size_t i = 0; i < vl; i++) {
		char c = value[i];

		if (c == '\r' && value[i + 1] == '\n')
			continue;   /* CRLF is stored as LF */
		if (c == '\r' || (c == '\n' && value[i + 1] != ' ' && value[i + 1] != '\t')) {
			free(t);
			return NULL;   /* a break that is no fold would end the field */
		}
		t[o++] = c;
	}
	t[o++] = '\n';
	*len_r = o;
	return t;
}

/* The index of the nth (from 1) field called name, or nh. */
static size_t mhdr_find(const struct mmsg *m, const char *name, uint32_t nth)
{
	size_t nl = strlen(name);

	if (nth == 0)
		nth = 1;
	for (size_t i = 0; i < m->nh; i++)
		if (m->h[i].name_len == nl && strncasecmp(m->h[i].text, name, nl) == 0 && --nth == 0)
			return i;
	return m->nh;
}

static int mmsg_header_change(struct mmsg *m, const struct milter *mi, const struct milter_reply *r)
{
	size_t len = 0, at;
	char *t;

	if (r->code == MILTER_R_CHGHEADER) {
		at = mhdr_find(m, r->name, r->index);
		if (r->value[0] == '\0') {   /* delete; none there is no error */
			if (at < m->nh) {
				m->hbytes -= m->h[at].len;
				free(m->h[at].text);
				memmove(m->h + at, m->h + at + 1, (m->nh - at - 1) * sizeof(*m->h));
				m->nh--;
				m->hdr_changed = 1;
			}
			return 0;
		}
		if ((t = mhdr_make(mi, r->name, r->value, &len)) == NULL)
			return -1;
		m->hdr_changed = 1;
		if (at == m->nh)   /* no such field: it is added, as libmilter documents */
			return mmsg_insert(m, m->nh, t, len, strlen(r->name));
		if (m->hbytes - m->h[at].len + len > m->hmax) {
			free(t);
			return -1;
		}
		m->hbytes = m->hbytes - m->h[at].len + len;
		free(m->h[at].text);
		m->h[at] = (struct mhdr){ t, len, strlen(r->name) };
		return 0;
	}
	if ((t = mhdr_make(mi, r->name, r->value, &len)) == NULL)
		return -1;
	m->hdr_changed = 1;
	return mmsg_insert(m, r->code == MILTER_R_INSHEADER ? r->index : m->nh, t, len, strlen(r->name));
}

/* SMFIR_REPLBODY: CRLF to LF (a CR may end one packet and its LF begin the next). */
static int mmsg_body_replace(struct milter_session *ms, struct mmsg *m, const char *p, size_t n)
{
	char out[MILTER_IO];
	size_t o = 0;

	if (m->body_fd < 0 && (m->body_fd = memfd_create("postern-milter-body", MFD_CLOEXEC)) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (m->body_cr && p[i] != '\n')
			out[o++] = '\r';
		m->body_cr = p[i] == '\r';
		if (!m->body_cr)
			out[o++] = p[i];
		if (o + 2 > sizeof(out) || i + 1 == n) {
			m->body_len += o;
			if (m->body_len > ms->size_limit || fd_write_all(m->body_fd, out, o) < 0)
				return -1;
			o = 0;
		}
	}
	return 0;
}

/* An address from a filter ("<a@b>" or "a@b") into out, normalised. */
static int mmsg_addr(const struct milter_session *ms, const char *a, int allow_empty, struct buf *out)
{
	struct buf path;
	size_t used;
	const char *err;
	int r;

	buf_init(&path, ADDRESS_PATH_MAX + 2);
	r = (a[0] == '<' ? buf_append_str(&path, a) : buf_printf(&path, "<%s>", a)) < 0 ||
	    address_parse_path(path.data, path.len, allow_empty, ms->smtputf8, out, &used, &err) < 0 ||
	    used != path.len ? -1 : 0;
	buf_free(&path);
	return r;
}

static void mmsg_rcpt_del(struct milter_session *ms, const char *addr)
{
	if (!ms->ops->rcpt_has(ms->arg, addr)) {
		log_info("milter: recipient <%s> to delete is not in the message from %s", addr, ms->client_log);
		return;
	}
	ms->ops->rcpt_del(ms->arg, addr);
}

/* An envelope change: 0, or -1 when it is malformed or finds no room. */
static int mmsg_envelope(struct milter_session *ms, const struct milter *mi, const struct milter_reply *r)
{
	struct buf a;
	int rc = -1;

	buf_init(&a, ADDRESS_PATH_MAX);
	if (mmsg_addr(ms, r->addr, r->code == MILTER_R_CHGFROM, &a) < 0)
		goto out;
	if (r->code == MILTER_R_CHGFROM) {
		log_info("milter %s: sender <%s> changed to <%s> (client %s)", mi->spec,
			 buf_cstr(ms->sender), buf_cstr(&a), ms->client_log);
		rc = buf_set(ms->sender, a.data != NULL ? a.data : "", a.len);
	} else if (r->code == MILTER_R_DELRCPT) {
		mmsg_rcpt_del(ms, buf_cstr(&a));
		rc = 0;
	} else if (a.len > 0) {
		rc = ms->ops->rcpt_has(ms->arg, buf_cstr(&a)) ? 0 :   /* there already */
		     ms->ops->rcpt_add(ms->arg, a.data, a.len);
	}
out:
	buf_free(&a);
	return rc;
}

/* The action bit a modification needs. */
static uint32_t mmsg_needs(char code)
{
	switch (code) {
	case MILTER_R_ADDHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_R_INSHEADER: return MILTER_ACT_ADDHDRS;
	case MILTER_R_CHGHEADER: return MILTER_ACT_CHGHDRS;
	case MILTER_R_ADDRCPT: return MILTER_ACT_ADDRCPT;
	case MILTER_R_ADDRCPT_PAR: return MILTER_ACT_ADDRCPT_PAR;
	case MILTER_R_DELRCPT: return MILTER_ACT_DELRCPT;
	case MILTER_R_CHGFROM: return MILTER_ACT_CHGFROM;
	case MILTER_R_REPLBODY: return MILTER_ACT_CHGBODY;
	case MILTER_R_QUARANTINE: return MILTER_ACT_QUARANTINE;
	default: return 0;
	}
}

/* One modification; 0, or -1 with *why_r. */
static int mmsg_modify(struct milter_session *ms, struct milter *mi, struct mmsg *m,
		       const struct milter_reply *r, const char **why_r)
{
	uint32_t need = mmsg_needs(r->code);

	*why_r = "modification not negotiated";
	if ((mi->actions & need) != need)
		return -1;
	switch (r->code) {
	case MILTER_R_ADDHEADER:
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		*why_r = "bad or too large header modification";
		return mmsg_header_change(m, mi, r);
	case MILTER_R_REPLBODY:
		*why_r = "replacement body too large or not storable";
		return mmsg_body_replace(ms, m, r->data, r->data_len);
	case MILTER_R_QUARANTINE:
		ms->hold = 1;
		log_info("milter %s: quarantine (into hold/) the message from %s: %.200s", mi->spec,
			 ms->client_log, r->text);
		return 0;
	default:
		*why_r = "bad envelope modification";
		return mmsg_envelope(ms, mi, r);
	}
}

/* Write the changed message to a new memfd: header, separator, body. */
static int mmsg_rewrite(struct mmsg *m)
{
	char io[MILTER_IO];
	int src, fd = memfd_create("postern-milter", MFD_CLOEXEC);
	off_t off;
	int sep;

	if (fd < 0)
		return -1;
	for (size_t i = 0; i < m->nh; i++)
		if (fd_write_all(fd, m->h[i].text, m->h[i].len) < 0)
			goto fail;
	src = m->body_fd >= 0 ? m->body_fd : m->fd;
	off = m->body_fd >= 0 ? 0 : m->body_off;
	sep = m->body_fd >= 0 ? m->body_len > 0 || m->has_sep : m->has_sep;
	if (m->body_fd >= 0 && m->body_cr && fd_write_all(m->body_fd, "\r", 1) < 0)
		goto fail;   /* a CR that ended the body */
	if (sep && fd_write_all(fd, "\n", 1) < 0)
		goto fail;
	for (;;) {
		ssize_t n = pread(src, io, sizeof(io), off);

		if (n < 0 || (n > 0 && fd_write_all(fd, io, (size_t)n) < 0))
			goto fail;
		if (n == 0)
			break;
		off += n;
	}
	if (m->own)
		close(m->fd);
	if (m->body_fd >= 0)
		close(m->body_fd);
	m->body_fd = -1;
	m->body_len = 0;
	m->body_cr = 0;
	m->fd = fd;
	m->own = 1;
	m->hdr_changed = 0;
	return 0;
fail:
	close(fd);
	return -1;
}

/* The end of message: modifications until the verdict.  Same results
 * as mmsg_step; -2 when our side failed. */
static int mmsg_eom(struct milter_session *ms, struct milter *mi, struct mmsg *m, struct buf *in)
{
	struct milter_reply r;
	const char *why;

	if (milter_ask(ms, mi, MILTER_STAGE_EOM, MILTER_CMD_BODYEOB, NULL, 0, 1,
			     ms->conf->content_ms, in, &r) < 0)
		return milter_failed(ms, mi, NULL, 1) ? -1 : 0;
	for (;;) {
		if (mmsg_needs(r.code) == 0) {
			mi->in_msg = 0;   /* the filter is done with this message: no abort */
			if (!milter_verdict(ms, mi, &r))
				return 0;
			break;
		}
		if (mmsg_modify(ms, mi, m, &r, &why) < 0)
			return milter_failed(ms, mi, why, 1) ? -1 : 0;
		if (milter_read(ms, mi, in, &r, ms->conf->content_ms) < 0)
			return milter_failed(ms, mi, NULL, 1) ? -1 : 0;
	}
	if ((m->hdr_changed || m->body_fd >= 0) && mmsg_rewrite(m) < 0)
		return -2;
	return 1;
}

/* The whole message to one filter.  1 go on, 0 answered, -2 our failure. */
static int mmsg_one(struct milter_session *ms, struct milter *mi, struct mmsg *m, struct buf *in)
{
	struct buf pkt;
	int r = 1;

	if (mmsg_parse(m) < 0)
		return -2;
	buf_init(&pkt, m->hmax + 2);
	for (size_t i = 0; i < m->nh && r == 1 && !(mi->protocol & MILTER_P_NOHDRS); i++) {
		if (mhdr_packet(mi, &m->h[i], &pkt) < 0) {
			r = -2;
			break;
		}
		r = mmsg_step(ms, mi, -1, MILTER_CMD_HEADER, pkt.data, pkt.len, MILTER_P_NR_HDR, in, NULL);
	}
	buf_free(&pkt);
	if (r == 1 && !(mi->protocol & MILTER_P_NOEOH))
		r = mmsg_step(ms, mi, MILTER_STAGE_EOH, MILTER_CMD_EOH, NULL, 0, MILTER_P_NR_EOH, in, NULL);
	if (r == 1 && !(mi->protocol & MILTER_P_NOBODY))
		r = mmsg_body(ms, mi, m, in);
	if (r == 1)
		r = mmsg_eom(ms, mi, m, in);
	return r < 0 && r != -2 ? 1 : r;   /* -1: the filter is out, the next one goes on */
}

int milter_session_message(struct milter_session *ms, int fd, int *fd_r)
{
	struct mmsg m = { .fd = fd, .body_fd = -1 };
	struct buf in;
	int r = 1;

	*fd_r = -1;
	m.hmax = ms->header_max;
	buf_init(&in, MILTER_PACKET_MAX + 4);
	for (size_t i = 0; i < ms->n && r == 1 && !ms->discard && !ms->done; i++)
		if (milter_usable(&ms->m[i]))
			r = mmsg_one(ms, &ms->m[i], &m, &in);
	buf_free(&in);
	if (r == 1 && !ms->discard && ms->ops->rcpt_count(ms->arg) == 0) {
		log_info("milter: every recipient of the message from %s was removed", ms->client_log);
		ms->discard = 1;
	}
	mmsg_headers_free(&m);
	if (m.body_fd >= 0)
		close(m.body_fd);
	if (r == 1) {
		*fd_r = m.fd;
		return 1;
	}
	if (m.own)
		close(m.fd);
	return r == -2 ? -1 : 0;
}
