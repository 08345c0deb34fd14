/* milter_proto: packets of the Sendmail milter protocol, MTA side.
 *
 * Offers: a packet builder over struct buf (milter_begin ... milter_end,
 * the length written last), the splitter that finds one packet in the
 * bytes read from a filter, and the decoder of the filter's replies:
 * negotiation (version, actions, steps and the optional macro lists of
 * protocol 6), accept / continue / reject / tempfail / discard / skip /
 * progress / connection failure / shutdown, the reply code with its text,
 * and the modifications of the end of message (add, insert and change
 * header, add and delete recipient, change sender, replace body,
 * quarantine).
 *
 * Trusts: nothing in a reply.  Every string must end with its NUL inside
 * the packet, every fixed field must fit, nothing may follow the last
 * field (but the ESMTP argument list, which runs to the end); a packet
 * longer than the caller's max is refused before it is read.
 *
 * Fails: -1 with a static error text; never reads past (p, len). */
#include <string.h>

#include "milter_proto.h"

int milter_begin(struct buf *out, char cmd, size_t *mark_r)
{
	static const char zero[4];

	*mark_r = out->len;
	if (buf_append(out, zero, sizeof(zero)) < 0 || buf_putc(out, cmd) < 0) {
		buf_truncate(out, *mark_r);
		return -1;
	}
	return 0;
}

int milter_add_str(struct buf *out, const char *s)
{
	return buf_append(out, s, strlen(s) + 1);
}

int milter_add_bytes(struct buf *out, const void *p, size_t n)
{
	return n == 0 ? 0 : buf_append(out, p, n);
}

int milter_add_u32(struct buf *out, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };

	return buf_append(out, b, sizeof(b));
}

int milter_add_u16(struct buf *out, uint16_t v)
{
	unsigned char b[2] = { (unsigned char)(v >> 8), (unsigned char)v };

	return buf_append(out, b, sizeof(b));
}

int milter_end(struct buf *out, size_t mark)
{
	size_t n = out->len - mark - 4;
	unsigned char *p = (unsigned char *)out->data + mark;

	if (n > MILTER_PACKET_MAX) {
		buf_truncate(out, mark);
		return -1;
	}
	p[0] = (unsigned char)(n >> 24);
	p[1] = (unsigned char)(n >> 16);
	p[2] = (unsigned char)(n >> 8);
	p[3] = (unsigned char)n;
	return 0;
}

int milter_packet(struct buf *out, char cmd, const void *data, size_t len)
{
	size_t mark;

	if (milter_begin(out, cmd, &mark) < 0)
		return -1;
	if (milter_add_bytes(out, data, len) < 0) {
		buf_truncate(out, mark);
		return -1;
	}
	return milter_end(out, mark);
}

static uint32_t milter_get_u32(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

int milter_packet_split(const char *p, size_t len, size_t max, const char **pkt_r,
			size_t *pkt_len_r, size_t *used_r)
{
	uint32_t n;

	if (len < 4)
		return 0;
	n = milter_get_u32(p);
	if (n == 0 || n > max)
		return -1;
	if (len - 4 < n)
		return 0;
	*pkt_r = p + 4;
	*pkt_len_r = n;
	*used_r = 4 + (size_t)n;
	return 1;
}

/* A cursor over a packet's data. */
struct milter_cur {
	const char *p;
	size_t left;
};

/* The NUL-terminated string at the cursor, or NULL when it has no NUL. */
static const char *milter_str(struct milter_cur *c)
{
	const char *s = c->p;
	const char *nul = c->left > 0 ? memchr(c->p, '\0', c->left) : NULL;

	if (nul == NULL)
		return NULL;
	c->left -= (size_t)(nul - c->p) + 1;
	c->p = nul + 1;
	return s;
}

static int milter_u32(struct milter_cur *c, uint32_t *v)
{
	if (c->left < 4)
		return -1;
	*v = milter_get_u32(c->p);
	c->p += 4;
	c->left -= 4;
	return 0;
}

/* 'O': version, actions, steps, then (protocol 6) stage + list pairs. */
static int milter_parse_optneg(struct milter_cur *c, struct milter_reply *r, const char **error_r)
{
	if (milter_u32(c, &r->version) < 0 || milter_u32(c, &r->actions) < 0 ||
	    milter_u32(c, &r->protocol) < 0) {
		*error_r = "short negotiation reply";
		return -1;
	}
	while (c->left > 0) {
		uint32_t stage;
		const char *list;

		if (milter_u32(c, &stage) < 0 || stage >= MILTER_STAGES ||
		    (list = milter_str(c)) == NULL || r->macros[stage] != NULL) {
			*error_r = "bad macro list in the negotiation reply";
			return -1;
		}
		r->macros[stage] = list;
	}
	return 0;
}

/* 'y': "NNN text" (or "NNN-..." lines joined by CRLF), 4xx or 5xx. */
static int milter_parse_replycode(struct milter_cur *c, struct milter_reply *r, const char **error_r)
{
	const char *s = milter_str(c);

	if (s == NULL || c->left != 0 || strlen(s) < 4 || (s[0] != '4' && s[0] != '5') ||
	    s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' || (s[3] != ' ' && s[3] != '-')) {
		*error_r = "bad reply code";
		return -1;
	}
	r->smtp_code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	r->text = s;
	return 0;
}

/* 'h', 'i', 'm': [index] name value. */
static int milter_parse_header(struct milter_cur *c, struct milter_reply *r, int indexed,
			       const char **error_r)
{
	if ((indexed && milter_u32(c, &r->index) < 0) || (r->name = milter_str(c)) == NULL ||
	    (r->value = milter_str(c)) == NULL || c->left != 0 || r->name[0] == '\0') {
		*error_r = "bad header modification";
		return -1;
	}
	return 0;
}

/* '+', '-', '2', 'e': an address, then (for '2' and 'e') ESMTP args. */
static int milter_parse_addr(struct milter_cur *c, struct milter_reply *r, int args,
			     const char **error_r)
{
	if ((r->addr = milter_str(c)) == NULL || (!args && c->left != 0)) {
		*error_r = "bad address modification";
		return -1;
	}
	r->args = c->p;
	r->args_len = c->left;
	if (c->left > 0 && c->p[c->left - 1] != '\0') {
		*error_r = "unterminated ESMTP argument";
		return -1;
	}
	return 0;
}

/* Replies without data. */
static int milter_bare(char code)
{
	return code == MILTER_R_ACCEPT || code == MILTER_R_CONTINUE || code == MILTER_R_DISCARD ||
	       code == MILTER_R_REJECT || code == MILTER_R_TEMPFAIL || code == MILTER_R_SKIP ||
	       code == MILTER_R_PROGRESS || code == MILTER_R_CONN_FAIL || code == MILTER_R_SHUTDOWN;
}

int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r, const char **error_r)
{
	struct milter_cur c = { pkt + 1, len - 1 };

	memset(r, 0, sizeof(*r));
	if (len == 0) {
		*error_r = "empty packet";
		return -1;
	}
	r->code = pkt[0];
	if (milter_bare(r->code))
		return 0;   /* libmilter sends none; anything extra is ignored, as Sendmail does */
	switch (r->code) {
	case MILTER_R_OPTNEG:
		return milter_parse_optneg(&c, r, error_r);
	case MILTER_R_REPLYCODE:
		return milter_parse_replycode(&c, r, error_r);
	case MILTER_R_ADDHEADER:
		return milter_parse_header(&c, r, 0, error_r);
	case MILTER_R_INSHEADER:
	case MILTER_R_CHGHEADER:
		return milter_parse_header(&c, r, 1, error_r);
	case MILTER_R_ADDRCPT:
	case MILTER_R_DELRCPT:
		return milter_parse_addr(&c, r, 0, error_r);
	case MILTER_R_ADDRCPT_PAR:
	case MILTER_R_CHGFROM:
		return milter_parse_addr(&c, r, 1, error_r);
	case MILTER_R_REPLBODY:
		r->data = c.p;
		r->data_len = c.left;
		return 0;
	case MILTER_R_QUARANTINE:
		if ((r->text = milter_str(&c)) == NULL || c.left != 0) {
			*error_r = "bad quarantine reason";
			return -1;
		}
		return 0;
	default:
		*error_r = "unknown reply code";
		return -1;
	}
}
