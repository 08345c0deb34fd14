/* queue_trigger: the lines on qmgr's trigger socket (docs/protocols.md,
 * "qmgr trigger").  A writer that just put a file into incoming/ sends
 * its queue ID and a newline, so that qmgr takes that file by name
 * instead of reading the whole directory; anything else that arrives
 * (a bare byte, "flush", a line that is no queue ID) is a plain wakeup,
 * as every byte once was. */
#ifndef POSTERN_QUEUE_TRIGGER_H
#define POSTERN_QUEUE_TRIGGER_H

#include <stddef.h>

#include "queuefile.h"

#define QUEUE_TRIGGER_WAKE 1u    /* look at incoming/ (a pass over it) */
#define QUEUE_TRIGGER_FLUSH 2u   /* "flush": scan the whole queue now */

/* What one connection sent that ends no line yet. */
struct queue_trigger_in {
	size_t len;
	int overlong;                  /* the line under way is no queue ID */
	char line[QUEUEFILE_ID_MAX + 1];
};

/* Feed len bytes from one connection: named(arg, id) for each complete
 * line that is a queue ID; the QUEUE_TRIGGER_* flags for the rest.  A
 * line not yet ended is kept in *in for the next call. */
unsigned queue_trigger_feed(struct queue_trigger_in *in, const char *data, size_t len,
			    void (*named)(void *arg, const char *id), void *arg);

/* Whether *in holds the start of a line (the writer may have stopped
 * mid-line: its reader should look at incoming/ all the same). */
int queue_trigger_partial(const struct queue_trigger_in *in);

/* The line that names id into out (at least QUEUEFILE_ID_MAX + 2 bytes):
 * its length, or 0 if id is no queue ID. */
size_t queue_trigger_line(const char *id, char *out, size_t outlen);

#endif
