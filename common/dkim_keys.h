/* dkim_keys: the signing key map etc/dkim_keys (docs/dkim.md), one line
 * per key: DOMAIN SELECTOR rsa|ed25519 FILE (FILE under etc/dkim/). */
#ifndef POSTERN_DKIM_KEYS_H
#define POSTERN_DKIM_KEYS_H

#include <stddef.h>

#include "dkim_sig.h"

#define DKIM_KEYS_DOMAIN_MAX 253
#define DKIM_KEYS_SELECTOR_MAX 63
#define DKIM_KEYS_FILE_MAX 255
#define DKIM_KEYS_TEXT_MAX (1024 * 1024)   /* bytes of the map read */

struct dkim_key_entry {
	char domain[DKIM_KEYS_DOMAIN_MAX + 1];     /* lower case */
	char selector[DKIM_KEYS_SELECTOR_MAX + 1];
	enum dkim_alg alg;
	char file[DKIM_KEYS_FILE_MAX + 1];         /* a plain file name */
};

/* Parse the map text (n bytes; '#' comments and blank lines skipped):
 * at most limit entries, at most one per domain and algorithm and one
 * per domain and selector.  *entries_r is malloc'd (free it).  0, or -1
 * with *error_r and the 1-based *line_r (0: not a line's fault). */
int dkim_keys_parse(const char *p, size_t n, size_t limit, struct dkim_key_entry **entries_r,
		    size_t *n_r, size_t *line_r, const char **error_r);
/* The entries for domain or, if none, for its nearest parent domain
 * that has some (sub.example.org falls back to example.org; never a
 * top-level label alone): their indexes into idx_r, in map order.
 * Returns how many (0, 1 or 2: one per algorithm). */
size_t dkim_keys_find(const struct dkim_key_entry *e, size_t n, const char *domain, size_t idx_r[2]);

#endif
