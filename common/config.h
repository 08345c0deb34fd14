/* config: the postern.conf parser and the table of every known key.
 * Syntax: `key = value` lines, `#` comments, blank lines; a line that
 * begins with white space continues the previous value.  Unknown keys,
 * bad values and duplicates are errors reported as "file:line: message".
 * Values are read once into a process-wide table (config_load) and read
 * back with the typed getters, which panic on a key missing from the table
 * (a programming error, not bad input). */
#ifndef POSTERN_CONFIG_H
#define POSTERN_CONFIG_H

#include <stddef.h>

/* Load DIR/etc/postern.conf into the process-wide settings; defaults for
 * absent keys.  0, or -1 with *error_r = "file:line: message" (static). */
int config_load(const char *path, const char **error_r);
/* Parse a config text held in memory (used by config_load and the fuzzer). */
int config_parse(const char *name, const char *text, size_t len, const char **error_r);
/* String value of a known key (myhostname and program_directory resolve
 * an empty value).  Valid until the next config_load/parse/reset. */
const char *config_str(const char *key);
/* Non-negative integer with optional k/m/g suffix (size keys). */
unsigned long long config_size(const char *key);
/* Parse a size as postern.conf writes it (digits, optional k/m/g, 1024-based)
 * from (s, len), for other files that hold sizes. 0, or -1 if malformed or too big. */
int config_parse_size(const char *s, size_t len, unsigned long long *value_r);
/* Duration in seconds with optional s/m/h/d suffix. */
unsigned long long config_time(const char *key);
/* yes/no value. */
int config_bool(const char *key);
/* Reset every key to its default (tests, reload). */
void config_reset(void);
/* Call fn for every known key with its current value and doc line. */
void config_each(void (*fn)(const char *key, const char *value, const char *doc, void *arg), void *arg);
/* Call fn for every known key with its default value and doc line (for
 * writing a documented default postern.conf). */
void config_each_default(void (*fn)(const char *key, const char *value, const char *doc, void *arg), void *arg);
/* Default value of key as written in the table, or NULL if unknown. */
const char *config_default(const char *key);
/* The value key has in the loaded file, or NULL when the file does not
 * set it (or the key is unknown). */
const char *config_setting(const char *key);
/* Whether value is valid for key, by the rules config_parse applies:
 * 0, or -1 with *error_r ("unknown key KEY" or "bad value for KEY: why",
 * static). */
int config_check(const char *key, const char *value, const char **error_r);
/* Whether s is a non-empty word of [a-z0-9_-] and the octets in extra:
 * the rule for master.cf names, users and paths (master and postern check). */
int config_word_ok(const char *s, const char *extra);
/* The next item of a list separated by spaces, tabs or commas, from
 * *pos in (v, len): 1 with *item_r and *n_r (and *pos past it), 0 at
 * the end. */
int config_list_next(const char *v, size_t len, size_t *pos, const char **item_r, size_t *n_r);

#endif
