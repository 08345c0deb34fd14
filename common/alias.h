/* alias: the value side of the aliases map (etc/aliases, docs/operator.md
 * "Aliases").  A value is a comma-separated list of targets: a mailbox
 * `local@domain`, a bare local part `local` (the caller qualifies it with
 * the recipient's domain) or `|command` (a shell command the operator
 * wrote).  A target may be enclosed in double quotes to hold commas, with
 * `\"` and `\\` escapes inside.  Takes (pointer, length); every count and
 * length is bounded. */
#ifndef POSTERN_ALIAS_H
#define POSTERN_ALIAS_H

#include <stddef.h>

#define ALIAS_TARGETS_MAX 1000     /* most targets in one value */
#define ALIAS_COMMAND_MAX 1024     /* longest command, '|' excluded */
#define ALIAS_VALUE_MAX 4096       /* longest value (the text map's line limit) */

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

#endif
