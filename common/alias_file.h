/* alias_file: the aliases file (etc/aliases) that `postern map`
 * compiles into aliases.cdb: aliases(5) lines as Postfix, sendmail and
 * Exim read them (`name: target, target`, continuation lines that start
 * with white space, `:include:/path`, quoted "|command"), and Postern's
 * older `name target, target` lines.  Every line is read as intended or
 * refused with its line number and the reason (docs/operator.md,
 * "Aliases").  Takes (pointer, length); every length and count is
 * bounded. */
#ifndef POSTERN_ALIAS_FILE_H
#define POSTERN_ALIAS_FILE_H

#include <stddef.h>
#include <time.h>
#include "buf.h"

#define ALIAS_FILE_LINE_MAX 4096                   /* longest line, LF excluded */
#define ALIAS_FILE_MAX (64UL * 1024 * 1024)        /* largest aliases file */
#define ALIAS_INCLUDE_MAX (1024UL * 1024)          /* largest :include: file */
#define ALIAS_INCLUDE_PATH_MAX 1024                /* longest :include: path */

struct alias_file_error {
	size_t line;      /* line of the aliases file (1-based); 0: the file as a whole */
	char msg[2048];   /* the reason; ":include:PATH:N: reason" for a line of an included file */
};

struct alias_file_hooks {
	/* One entry: key as written, value in the form alias_parse() reads
	 * ("target, target", every :include: expanded). 0, or -1 with a
	 * static *error_r (reported at the entry's first line). */
	int (*entry)(void *ctx, const char *key, size_t key_len, const char *value,
		     size_t value_len, const char **error_r);
	/* Append the text of the :include: file path (as written) to text_r
	 * (capped at ALIAS_INCLUDE_MAX). 0, or -1 with a static *error_r.
	 * NULL: :include: is refused. */
	int (*include)(void *ctx, const char *path, struct buf *text_r, const char **error_r);
	void *ctx;
};

/* Parse the aliases file text (len bytes), calling the hooks per entry
 * in file order. 0, or -1 with *err_r filled (parsing stops at the first
 * problem). */
int alias_file_parse(const char *text, size_t len, const struct alias_file_hooks *hooks,
		     struct alias_file_error *err_r);
/* Compile the aliases file src into the cdb dst (cdbmap_writer: atomic,
 * owner, group and mode of src).  A relative :include: path is taken
 * from the directory of src.  newest_r (may be NULL) gets the latest
 * modification time of src and the files it includes.  0, or -1 with a
 * static *error_r ("src:line: reason"); dst is then untouched. */
int alias_file_compile(const char *src, const char *dst, time_t *newest_r, const char **error_r);

#endif
