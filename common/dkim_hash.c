/* dkim_hash: the data a DKIM signature covers (RFC 6376 3.7), hashed.
 *
 * Offers dkim_header_hash: the selected header fields (5.4.2: each name
 * in h= takes the last instance not yet taken, so a name listed more
 * often than it occurs signs the absence of more), then the signature
 * field with b= emptied (3.5 b=, 3.7), canonicalized and hashed with
 * SHA-256.  Signing and verifying differ only in who made sig_field.
 *
 * Trusts: nothing; counts and sizes are bounded (dkim_hash.h): a header
 * with more fields is refused, never partly hashed. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "dkim_canon.h"
#include "dkim_hash.h"
#include "mime_header.h"

struct field_pos {
	size_t offset, size;
	const char *name;
	size_t name_len;
	int used;
};

/* The fields of hdr; -1 when there are too many. */
static int list_fields(const char *hdr, size_t len, struct field_pos *f, size_t *n)
{
	struct mime_header_iter it;
	struct mime_field mf;

	*n = 0;
	mime_header_iter_init(&it, hdr, len);
	while (mime_header_next(&it, &mf)) {
		if (mf.name.len == 0)
			continue;   /* a line without a colon is no field */
		if (*n == DKIM_HASH_MAX_FIELDS)
			return -1;
		f[*n].offset = mf.offset;
		f[*n].size = mf.size;
		f[*n].name = mf.name.p;
		f[*n].name_len = mf.name.len;
		f[*n].used = 0;
		(*n)++;
	}
	return 0;
}

/* sig_field with the bytes of the b= value left out. */
static int sig_without_b(const struct dkim_sig *sig, const char *field, size_t len, size_t value_off,
			 struct buf *out)
{
	const struct dkim_tag *b = dkim_tags_find(&sig->tags, "b");
	size_t start, end;

	if (b == NULL || value_off + b->value_off + b->value_len > len)
		return -1;
	start = value_off + b->value_off;
	end = start + b->value_len;
	if (buf_append(out, field, start) < 0 || buf_append(out, field + end, len - end) < 0)
		return -1;
	return 0;
}

int dkim_header_hash(const struct dkim_sig *sig, const char *hdr, size_t hdr_len, const char *sig_field,
		     size_t sig_field_len, size_t value_off, unsigned char out[32], const char **error_r)
{
	struct field_pos *f = malloc(DKIM_HASH_MAX_FIELDS * sizeof(*f));
	struct buf data, own;
	size_t n = 0;
	unsigned int md_len = 0;
	int r = -1;

	buf_init(&data, DKIM_HASH_MAX_INPUT);
	buf_init(&own, DKIM_HASH_MAX_INPUT);
	*error_r = "out of memory";
	if (f == NULL)
		goto done;
	*error_r = "too many header fields";
	if (list_fields(hdr, hdr_len, f, &n) < 0)
		goto done;
	*error_r = "header too big to hash";
	for (size_t k = 0; k < sig->nh; k++) {
		for (size_t j = n; j-- > 0;) {
			if (f[j].used || !dkim_name_eq(f[j].name, f[j].name_len, sig->h[k].p, sig->h[k].len))
				continue;
			f[j].used = 1;
			if (dkim_canon_header(sig->c_header, hdr + f[j].offset, f[j].size, 1, &data) < 0)
				goto done;
			break;
		}
	}
	*error_r = "bad signature field";
	if (sig_without_b(sig, sig_field, sig_field_len, value_off, &own) < 0 ||
	    dkim_canon_header(sig->c_header, own.data, own.len, 0, &data) < 0)
		goto done;
	*error_r = "hash failed";
	if (EVP_Digest(data.data ? data.data : "", data.len, out, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32)
		goto done;
	*error_r = NULL;
	r = 0;
done:
	free(f);
	buf_free(&data);
	buf_free(&own);
	return r;
}
