/* mime_text: the text of a leaf part as UTF-8, for everything that reads
 * what a message says rather than its bytes (SEARCH BODY/TEXT, PREVIEW).
 *
 * Offers: mime_part_text (mime.h).  The body's transfer encoding
 * (base64, quoted-printable) is undone and the result converted from
 * the part's charset; a charset that cannot be converted leaves the
 * decoded bytes as they are (a search still finds ASCII in them).
 *
 * Trusts: the part's offsets (mime_parse made them for msg).
 * Fails: -1 when memory or a buffer's cap runs out; out may then hold
 * part of the text. */
#include "mime.h"
#include "mime_header.h"

int mime_part_text(const char *msg, size_t msg_len, const struct mime_part *part, size_t max_in,
		   struct buf *tmp, struct buf *out)
{
	const char *p, *cs;
	size_t n = part->body.size < max_in ? part->body.size : max_in, cs_len;
	enum mime_cte cte = mime_cte_of(&part->encoding);

	/* Only what msg holds (it may be a prefix of what was parsed). */
	if (msg == NULL || part->body.offset >= msg_len)
		return 0;
	p = msg + part->body.offset;
	if (n > msg_len - part->body.offset)
		n = msg_len - part->body.offset;

	if (cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP) {
		buf_reset(tmp);
		if ((cte == MIME_CTE_BASE64 ? mime_base64_decode(p, n, tmp) : mime_qp_decode(p, n, tmp)) < 0)
			return -1;
		p = tmp->data != NULL ? tmp->data : "";
		n = tmp->len;
	}
	cs = mime_part_charset(part, &cs_len);
	if (cs != NULL) {
		size_t before = out->len;
		if (mime_charset_to_utf8(cs, cs_len, p, n, out) == 0)
			return 0;
		buf_truncate(out, before);
	}
	return buf_append(out, p, n);
}
