#ifndef POSTERN_MAP_SETTING_H
#define POSTERN_MAP_SETTING_H

#include <stddef.h>

#define MAP_SETTING_NAME_MAX 256   /* the longest map name a setting may give, .cdb included, with its NUL */

/* The compiled file a map setting names: value as is when it ends in
 * ".cdb", else value + ".cdb".  0, or -1 when it does not fit out. */
int map_setting_cdb(const char *value, char *out, size_t len);
/* The text map a map setting names: value without a final ".cdb".  0,
 * or -1 when it does not fit out. */
int map_setting_source(const char *value, char *out, size_t len);

#endif
