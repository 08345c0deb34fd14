/* master_line: the rules of one master.conf line (docs/master.md), shared
 * by the master that loads the file, `postern check` and `postern conf -M`
 * that validates an edit before writing it, so the three never disagree. */
#ifndef POSTERN_MASTER_LINE_H
#define POSTERN_MASTER_LINE_H

#include <stddef.h>

#define MASTER_LINE_MAX 1024      /* longest line, newline excluded */
#define MASTER_LINE_ARGS_MAX 16   /* command arguments after the command */
#define MASTER_LINE_FIELDS (7 + MASTER_LINE_ARGS_MAX)
#define MASTER_LINE_NAME_MAX 32   /* service, user names */

/* Split line in place at blanks, CR and LF into f (at most max fields);
 * the number of fields, or max + 1 when there are more. */
size_t master_line_split(char *line, char **f, size_t max);
/* Whether the split line is a comment or blank (nothing to check). */
int master_line_is_comment(char *const *f, size_t nf);
/* The first syntax problem of an entry's fields, or NULL: field count,
 * name, type, unix socket name, user, root, maxproc 1..10000, command. */
const char *master_line_check(char *const *f, size_t nf);
/* Whether an inet listen field is HOST:PORT or [IPV6]:PORT with a numeric
 * address (or *) and a port 1..65535 (what the master can bind). */
int master_line_inet_ok(const char *listen);

#endif
