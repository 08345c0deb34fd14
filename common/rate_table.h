/* rate_table: event counters per key (a client address, a user) over a
 * fixed time window, shared by every process of a service through one
 * mmap'd file (DIR/run/smtpd.rates), so that the many chrooted smtpd
 * processes count together without a server process between them.
 *
 * The file holds RATE_TABLE_SLOTS entries of 32 bytes (512 KiB): a
 * 64-bit hash of the key, the start of its window (seconds) and one
 * counter per kind of event.  A key lives in one group of
 * RATE_TABLE_GROUP entries chosen by its hash; a group is guarded by an
 * open-file-description lock on its byte range (F_OFD_SETLKW, which the
 * kernel drops when a process dies, so a crash never wedges the table).
 * A window starts at a key's first counted event and ends `window`
 * seconds later; then the counters start over.  When a group is full of
 * live keys the one whose window began first is evicted: its counts
 * start over (a lenient error, never a false refusal).  Two keys with
 * the same 64-bit hash would share counters. */
#ifndef POSTERN_RATE_TABLE_H
#define POSTERN_RATE_TABLE_H

#include <time.h>

#define RATE_TABLE_SLOTS 16384u   /* entries in the file */
#define RATE_TABLE_GROUP 8u       /* entries a key may use (one lock) */
#define RATE_TABLE_COUNTERS 3u    /* kinds of events per key */

enum rate_event {
	RATE_CONNECTION = 0,
	RATE_MESSAGE = 1,
	RATE_RECIPIENT = 2,
};

struct rate_table;

/* Open (creating, 0600, sized) the table file before the privilege drop.
 * 0, or -1 with *error_r (static). */
int rate_table_open(const char *path, struct rate_table **t_r, const char **error_r);
/* Count one event of key at now, unless the key already had limit of
 * them in its current window (limit 0: no limit, nothing counted).
 * 1 counted (allowed), 0 over the limit (not counted), with the count so
 * far in *count_r.  A lock failure is logged and allows (better no limit
 * than no service). */
int rate_table_hit(struct rate_table *t, const char *key, enum rate_event ev,
		   unsigned long long limit, unsigned window, time_t now,
		   unsigned long long *count_r);
/* Unmap and close; *t = NULL (NULL is fine). */
void rate_table_close(struct rate_table **t);

#endif
