/* alias: the value side of the aliases map (etc/aliases, docs/operator.md
 * "Aliases").  A value is a comma-separated list of targets: a mailbox
 * `local@domain`, a bare local part `local` (the caller qualifies it with
 * the recipient's domain) or `|command` (a shell command the operator
 * wrote).  A target may be enclosed in double quotes to hold commas, with
 * `\"` and `\\` escapes inside.  Takes (pointer, length); every count and
 * length is bounded.  The file around the values (etc/aliases in
 * aliases(5) form) is common/alias_file. */
#ifndef POSTERN_ALIAS_H
#define POSTERN_ALIAS_H

#include <stddef.h>

#define ALIAS_TARGETS_MAX 1000     /* most targets in one value */
#define ALIAS_COMMAND_MAX 1024     /* longest command, '|' excluded */
#define ALIAS_VALUE_MAX 65536      /* longest value (one entry with its continuation lines and includes) */

enum alias_kind {
	ALIAS_ADDRESS,    /* local@domain, or a bare local part */
	ALIAS_COMMAND,    /* the text after '|' */
};

struct alias_target {
	enum alias_kind kind;
	char *text;       /* NUL-terminated, unquoted; no control bytes */
	size_t len;
	int qualified;    /* ALIAS_ADDRESS: has a domain */
};

struct alias_list {
	struct alias_target *t;
	size_t n;
};

/* Parse value (len bytes) into list (zero-initialised or freed before).
 * 0, or -1 with a static *error_r; list is empty after a failure. */
int alias_parse(const char *value, size_t len, struct alias_list *list, const char **error_r);
/* Free the targets; the list is empty and reusable after. */
void alias_list_free(struct alias_list *list);
/* Length of the target at the start of p (up to the first comma outside
 * double quotes, or n); -1 for an unterminated quote. */
long alias_target_span(const char *p, size_t n);
/* Parse one trimmed target as written (quotes included) into *t_r, whose
 * text is malloc'ed (the caller frees it). 0, or -1 with a static *error_r. */
int alias_target_parse(const char *p, size_t n, struct alias_target *t_r, const char **error_r);

#endif
