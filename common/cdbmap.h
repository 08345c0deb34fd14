/* cdbmap: lookup tables.  Text maps (`key value`, `#` comments; keys are
 * case-folded to lower case) are compiled atomically into cdb files
 * (tinycdb): written to a temp file, fsynced, renamed.  Lookups fold the
 * key to lower case too.  A map is opened once (before chroot) and kept. */
#ifndef POSTERN_CDBMAP_H
#define POSTERN_CDBMAP_H

#include <stddef.h>
#include "buf.h"

struct cdbmap;

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
/* Compile text map src into cdb dst. 0, or -1 with *error_r ("src:line: msg"). */
int cdbmap_compile(const char *src, const char *dst, const char **error_r);

#endif
