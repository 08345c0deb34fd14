/* libFuzzer target for common/dkim_verify.c: the input is a header
 * section, a NUL, a body, a NUL, then key records separated by NUL
 * bytes (the DNS answers; the first byte of each picks the DNS result).
 * Signature i gets record i modulo their number.  The whole message is
 * verified twice, the body fed in one piece and byte-sized pieces: the
 * results must be equal (chunking never changes a verdict), and every
 * result must be an RFC 8601 dkim keyword that auth_results accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth_results.h"
#include "dkim_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEYS 8

static const char *const fuzz_results[] = { "pass", "fail", "neutral", "policy", "temperror", "permerror" };

static void run(const char *hdr, size_t hlen, const char *body, size_t blen, char **rec, size_t *rlen,
		size_t nrec, int bytewise, const char *out[DKIM_VERIFY_SIGS_MAX])
{
	struct dkim_verify *v = dkim_verify_new(4, 1000000000);
	struct auth_results *ar = calloc(1, sizeof(*ar));
	char name[DNS_NAME_MAX + 1];

	if (v == NULL || ar == NULL)
		abort();
	dkim_verify_header(v, hdr, hlen);
	if (bytewise)
		for (size_t k = 0; k < blen; k++)
			dkim_verify_body(v, body + k, 1);
	else
		dkim_verify_body(v, body, blen);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		struct dns_txt_list txt = { 0 };
		enum dns_result r = DNS_NOTFOUND;

		if (!dkim_verify_key_name(v, i, name, sizeof(name)))
			continue;
		if (strstr(name, "._domainkey.") == NULL)
			abort();
		if (nrec > 0) {
			size_t k = i % nrec;

			r = rlen[k] == 0 ? DNS_NODATA : (enum dns_result)((unsigned char)rec[k][0] % 5);
			txt.rec[0] = rec[k] + (rlen[k] > 0);
			txt.len[0] = rlen[k] > 0 ? rlen[k] - 1 : 0;
			txt.n = 1;
		}
		dkim_verify_key_answer(v, i, r, r == DNS_OK ? &txt : NULL);
	}
	dkim_verify_finish(v);
	for (size_t i = 0; i < dkim_verify_count(v); i++) {
		const char *reason, *d, *s;
		size_t k;

		out[i] = dkim_verify_result(v, i, &reason, &d, &s);
		for (k = 0; k < sizeof(fuzz_results) / sizeof(fuzz_results[0]); k++)
			if (strcmp(out[i], fuzz_results[k]) == 0)
				break;
		if (k == sizeof(fuzz_results) / sizeof(fuzz_results[0]))
			abort();
	}
	(void)dkim_verify_auth_results(v, ar);
	free(ar);
	dkim_verify_free(&v);
	if (v != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;
	const char *nul1 = memchr(s, '\0', size), *nul2, *p;
	char *rec[FUZZ_KEYS];
	size_t rlen[FUZZ_KEYS], nrec = 0;
	const char *a[DKIM_VERIFY_SIGS_MAX] = { 0 }, *b[DKIM_VERIFY_SIGS_MAX] = { 0 };

	if (nul1 == NULL || (nul2 = memchr(nul1 + 1, '\0', (size_t)(end - nul1 - 1))) == NULL)
		return 0;
	/* records in their own allocations, so that ASan sees overreads */
	for (p = nul2 + 1; p < end && nrec < FUZZ_KEYS;) {
		const char *z = memchr(p, '\0', (size_t)(end - p));
		size_t n = z != NULL ? (size_t)(z - p) : (size_t)(end - p);

		rec[nrec] = malloc(n + 1);
		if (rec[nrec] == NULL)
			abort();
		memcpy(rec[nrec], p, n);
		rec[nrec][n] = '\0';
		rlen[nrec++] = n;
		p += n + 1;
	}
	run(s, (size_t)(nul1 - s), nul1 + 1, (size_t)(nul2 - nul1 - 1), rec, rlen, nrec, 0, a);
	run(s, (size_t)(nul1 - s), nul1 + 1, (size_t)(nul2 - nul1 - 1), rec, rlen, nrec, 1, b);
	for (size_t i = 0; i < DKIM_VERIFY_SIGS_MAX; i++)
		if ((a[i] == NULL) != (b[i] == NULL) || (a[i] != NULL && strcmp(a[i], b[i]) != 0))
			abort();
	for (size_t i = 0; i < nrec; i++)
		free(rec[i]);
	return 0;
}
