/* queue_spare: emptied queue files kept for reuse (DIR/queue/spare/).
 * See docs/queue.md, "Spare files".  Both calls work relative to the
 * queue root (the working directory of enqueue and qmgr). */
#ifndef POSTERN_QUEUE_SPARE_H
#define POSTERN_QUEUE_SPARE_H

#include <stddef.h>
#include <sys/stat.h>

/* The directory, made by postern init (the queue root is root's). */
#define QUEUE_SPARE_DIR "spare"

/* For a writer (queuefile_create): take a spare file by renaming it to
 * tmp/PID.RANDOM (written into name) and open it for writing, empty, *st
 * its fstat.  The descriptor, or -1 when there is none to take (the
 * caller creates a new file); never fails otherwise. */
int queue_spare_take(char *name, size_t namelen, struct stat *st);

/* For qmgr, instead of unlinking a finished message: empty path (whose
 * open descriptor is fd, never written after this; the caller checks
 * that path still names that file) and rename it to
 * spare/ID, unless spare/ holds
 * max files already (counted when its count says so, at most once a
 * second) or max
 * is 0.  0 done; -1 not done (the caller unlinks path as before). */
int queue_spare_put(int fd, const char *path, const char *id, unsigned long long max);

/* Forget what queue_spare_take read of spare/ (tests: a fresh process). */
void queue_spare_reset(void);

#endif
