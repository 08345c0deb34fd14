/* psl: the Public Suffix List (publicsuffix.org's format, as Debian's
 * publicsuffix package installs it) and the Organizational Domain of a
 * name (RFC 7489 3.2) that DMARC aligns on. */
#ifndef POSTERN_PSL_H
#define POSTERN_PSL_H

#include <stddef.h>

#define PSL_FILE_MAX (8u * 1024 * 1024)  /* bytes of the list file (Debian's: about 250 KiB) */
#define PSL_RULES_MAX 100000             /* rules in it (Debian's: about 10000) */
#define PSL_LABELS_MAX 127               /* labels of a name looked up (255 bytes hold at most 127) */

struct psl;

/* Parse a list (LF or CRLF lines; "//" comments; each rule up to the
 * first white space; rules that are no valid names are skipped and
 * counted).  0 with *psl_r, or -1 with *error_r (static): too many
 * rules, out of memory. */
int psl_parse(const char *p, size_t len, struct psl **psl_r, const char **error_r);
/* Read and parse the file at path (at most PSL_FILE_MAX bytes).  0, or
 * -1 with *error_r (static text; errno is kept for a file error). */
int psl_load(const char *path, struct psl **psl_r, const char **error_r);
/* Rules kept (duplicates merged) and lines skipped as invalid. */
size_t psl_rules(const struct psl *psl);
size_t psl_skipped(const struct psl *psl);
/* The Organizational Domain of domain (a dot-separated name without a
 * trailing dot; ASCII case is ignored): the public suffix by the list's
 * rules (exceptions first, then the longest match, else the implicit
 * "*") with one more label.  A pointer into domain: domain itself when
 * it is a public suffix or has empty labels.  psl may be NULL: only the
 * implicit rule, i.e. the last two labels. */
const char *psl_org_domain(const struct psl *psl, const char *domain);
/* Free; *psl = NULL (NULL is fine). */
void psl_free(struct psl **psl);

#endif
