#ifndef POSTERN_MAP_SETTING_H
#define POSTERN_MAP_SETTING_H

#include <stddef.h>

/* The compiled file a map setting names: value as is when it ends in
 * ".cdb", else value + ".cdb".  0, or -1 when it does not fit out. */
int map_setting_cdb(const char *value, char *out, size_t len);
/* The text map a map setting names: value without a final ".cdb".  0,
 * or -1 when it does not fit out. */
int map_setting_source(const char *value, char *out, size_t len);

#endif
