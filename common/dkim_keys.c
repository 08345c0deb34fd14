/* dkim_keys: the DKIM key map, parsed and searched.
 *
 * Offers dkim_keys_parse (the text of etc/dkim_keys, as `postern dkim
 * keygen` writes it) and dkim_keys_find (exact domain, then parents).
 * The dkim-sign service reads the map as text at start (it is small and
 * read once, so it needs no compiled form); `postern check` the same way.
 *
 * Trusts: nothing; names are checked as DNS names, the file as a plain
 * name (no '/', no leading '.'), counts bounded by the caller's limit. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dkim_keys.h"

static int dkim_keys_file_ok(const char *p, size_t n)
{
	if (n == 0 || n > DKIM_KEYS_FILE_MAX || p[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '/' || (unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return 0;
	return 1;
}

/* Split one line into at most 5 words (5 means too many). */
static size_t dkim_keys_words(const char *p, size_t n, const char *w[5], size_t wl[5])
{
	size_t k = 0, i = 0;

	while (i < n && k < 5) {
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i == n)
			break;
		w[k] = p + i;
		while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			i++;
		wl[k] = (size_t)(p + i - w[k]);
		k++;
	}
	return k;
}

static const char *dkim_keys_line(const char *p, size_t n, struct dkim_key_entry *e)
{
	const char *w[5];
	size_t wl[5], k = dkim_keys_words(p, n, w, wl);

	if (k != 4)
		return "expected: domain selector rsa|ed25519 file";
	if (!dkim_dns_name_ok(w[0], wl[0], DKIM_KEYS_DOMAIN_MAX))
		return "bad domain";
	if (!dkim_dns_name_ok(w[1], wl[1], DKIM_KEYS_SELECTOR_MAX))
		return "bad selector";
	if (wl[2] == 3 && memcmp(w[2], "rsa", 3) == 0)
		e->alg = DKIM_ALG_RSA_SHA256;
	else if (wl[2] == 7 && memcmp(w[2], "ed25519", 7) == 0)
		e->alg = DKIM_ALG_ED25519_SHA256;
	else
		return "algorithm must be rsa or ed25519";
	if (!dkim_keys_file_ok(w[3], wl[3]))
		return "bad key file name (a name under etc/dkim/)";
	for (size_t i = 0; i < wl[0]; i++)
		e->domain[i] = (char)(w[0][i] >= 'A' && w[0][i] <= 'Z' ? w[0][i] + 32 : w[0][i]);
	e->domain[wl[0]] = '\0';
	memcpy(e->selector, w[1], wl[1]);
	e->selector[wl[1]] = '\0';
	memcpy(e->file, w[3], wl[3]);
	e->file[wl[3]] = '\0';
	return NULL;
}

static const char *dkim_keys_clash(const struct dkim_key_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(e[i].domain, e[n].domain) != 0)
			continue;
		if (e[i].alg == e[n].alg)
			return "a second key of this algorithm for the domain";
		if (strcmp(e[i].selector, e[n].selector) == 0)
			return "a second key of this selector for the domain";
	}
	return NULL;
}

int dkim_keys_parse(const char *p, size_t n, size_t limit, struct dkim_key_entry **entries_r,
		    size_t *n_r, size_t *line_r, const char **error_r)
{
	struct dkim_key_entry *e = NULL;
	size_t count = 0, line = 0, pos = 0;

	*entries_r = NULL;
	*n_r = 0;
	*line_r = 0;
	if (n > DKIM_KEYS_TEXT_MAX) {
		*error_r = "key map too big";
		return -1;
	}
	while (pos < n) {
		const char *nl = memchr(p + pos, '\n', n - pos), *s = p + pos, *err;
		size_t len = nl ? (size_t)(nl - s) : n - pos, k = 0;

		pos += len + (nl != NULL);
		line++;
		while (k < len && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r'))
			k++;
		if (k == len || s[k] == '#')
			continue;
		if (memchr(s, '\0', len) != NULL) {
			err = "NUL byte";
		} else if (count == limit) {
			err = "more keys than dkim_key_limit";
		} else {
			struct dkim_key_entry *grown = realloc(e, (count + 1) * sizeof(*e));

			if (grown == NULL) {
				err = "out of memory";
			} else {
				e = grown;
				if ((err = dkim_keys_line(s, len, &e[count])) == NULL &&
				    (err = dkim_keys_clash(e, count)) == NULL)
					count++;
			}
		}
		if (err != NULL) {
			free(e);
			*line_r = line;
			*error_r = err;
			return -1;
		}
	}
	*entries_r = e;
	*n_r = count;
	return 0;
}

size_t dkim_keys_find(const struct dkim_key_entry *e, size_t n, const char *domain, size_t idx_r[2])
{
	const char *d = domain;

	while (d != NULL && *d != '\0') {
		size_t found = 0;

		for (size_t i = 0; i < n && found < 2; i++)
			if (strcasecmp(e[i].domain, d) == 0)
				idx_r[found++] = i;
		if (found > 0)
			return found;
		/* the parent domain; never the bare top-level label */
		d = strchr(d, '.');
		if (d != NULL && strchr(++d, '.') == NULL)
			break;
	}
	return 0;
}
