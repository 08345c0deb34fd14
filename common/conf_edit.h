/* conf_edit: in-place edits of postern.conf and master.conf text for
 * `postern conf` (tools/postern_cmd_conf.c).  Every line the edit does not
 * concern is copied byte for byte, comments and blank lines included;
 * the edits are pure functions of (text, length) into a buf, so the
 * caller validates the result before it writes anything. */
#ifndef POSTERN_CONF_EDIT_H
#define POSTERN_CONF_EDIT_H

#include <stddef.h>

#include "buf.h"

/* Copy text into out with `key = value` set: the key's active line (and
 * its continuation lines) replaced, else the line inserted after its
 * commented-out default (`#key =` or `# key = ...`), else appended.  A
 * second active line of key (an error for the parser) is dropped.
 * 0, or -1 (out's cap, no memory; errno set). */
int conf_edit_set(const char *text, size_t len, const char *key, const char *value, struct buf *out);
/* Copy text into out without key's active lines and their continuation
 * lines; the number of lines of key removed (0: not set), or -1. */
int conf_edit_remove(const char *text, size_t len, const char *key, struct buf *out);
/* Whether line [p, p+len) of master.conf is the entry name/type (its first
 * two white-space separated fields; a comment line never is); type NULL
 * matches any type. */
int conf_edit_master_is(const char *p, size_t len, const char *name, const char *type);
/* Copy master.conf text into out with the entries name/type replaced by
 * line (the first one; others dropped), or appended when there is none;
 * line NULL removes them.  The number of entries found, or -1. */
int conf_edit_master(const char *text, size_t len, const char *name, const char *type,
		     const char *line, struct buf *out);

#endif
