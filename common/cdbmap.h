/* cdbmap: lookup tables.  Text maps (`key value`, `#` comments; keys are
 * case-folded to lower case) are compiled atomically into cdb files
 * (tinycdb): written to a temp file, fsynced, renamed.  Lookups fold the
 * key to lower case too.  A map is opened once (before chroot) and kept. */
#ifndef POSTERN_CDBMAP_H
#define POSTERN_CDBMAP_H

#include <stddef.h>
#include <sys/stat.h>
#include "buf.h"

#define CDBMAP_KEY_MAX 1024   /* longest key a map may hold */

struct cdbmap;
struct cdbmap_writer;

/* Open a compiled map. 0, or -1 with *error_r. */
int cdbmap_open(const char *path, struct cdbmap **map_r, const char **error_r);
/* Look key up: 1 found (value in *value_r), 0 absent (also for a key
 * over 1024 bytes, which compile refuses), -1 error (value over the
 * buf's cap included). */
int cdbmap_lookup(struct cdbmap *map, const char *key, size_t keylen, struct buf *value_r);
/* Whether the file behind map was replaced or removed since it was
 * opened (no name links to it any more: `postern map` renames a new file
 * over the old one). */
int cdbmap_replaced(const struct cdbmap *map);
/* Close and free; *map = NULL. */
void cdbmap_close(struct cdbmap **map);
/* Compile text map src into cdb dst, which takes src's owner, group and
 * mode. 0, or -1 with *error_r ("src:line: msg"). */
int cdbmap_compile(const char *src, const char *dst, const char **error_r);
/* What a map's value must be: NULL when value is good, else why not
 * (a static string). */
typedef const char *cdbmap_value_check(const char *value, size_t len);
/* cdbmap_compile with every value checked first (check NULL: none); a
 * refused value fails the compile with "src:line: why". */
int cdbmap_compile_checked(const char *src, const char *dst, cdbmap_value_check *check,
			   const char **error_r);
/* Start a cdb that will replace dst, with the owner, group and mode of
 * like (a source's fstat; NULL: 0644, our own). 0, or -1 with *error_r. */
int cdbmap_writer_start(const char *dst, const struct stat *like, struct cdbmap_writer **w_r,
			const char **error_r);
/* Add key (folded to lower case) and value. 0, or -1 with a static
 * *error_r ("duplicate key", "key longer than 1024 bytes", ...). */
int cdbmap_writer_add(struct cdbmap_writer *w, const char *key, size_t keylen,
		      const char *value, size_t valuelen, const char **error_r);
/* Finish, fsync and rename over dst; *w = NULL. 0, or -1 with *error_r. */
int cdbmap_writer_commit(struct cdbmap_writer **w, const char **error_r);
/* Drop the unfinished file; *w = NULL (NULL is fine). */
void cdbmap_writer_abort(struct cdbmap_writer **w);

#endif
