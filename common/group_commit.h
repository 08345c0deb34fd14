/* group_commit: one flush of a file system for many messages.
 *
 * Every enqueue process writes its queue file and renames it into
 * incoming/ without a flush of its own, then waits in group_commit_wait()
 * until a syncfs(2) of the queue file system that began after its rename
 * has ended; local does the same for the Maildir file it wrote and for
 * its link into new/ (common/maildir.c).  Whoever finds no such flush under way becomes the leader and
 * runs one for every message renamed so far; the others wait on the lock
 * and find their message covered when they get it.  With one client the
 * leader is always the message itself (no added wait); with many, one
 * flush answers all who arrived during the previous one (docs/queue.md,
 * "Group commit").
 *
 * The shared state (two counters and a robust process-shared mutex) lives
 * in a memfd the master makes once per program (master_group_commit.c)
 * and hands to every enqueue, or every local, process
 * (POSTERN_GROUP_COMMIT_FD).  A process started by hand keeps a state of
 * its own, which is as safe, only alone.
 *
 * A leader killed while it flushes leaves the mutex to the next process,
 * which sees EOWNERDEAD and flushes again: the counter of durable
 * messages moves only after a syncfs returned 0. */
#ifndef POSTERN_GROUP_COMMIT_H
#define POSTERN_GROUP_COMMIT_H

#include <stdint.h>

#define GROUP_COMMIT_ENV "POSTERN_GROUP_COMMIT_FD"   /* the master's memfd, for enqueue */

struct group_commit;

/* A new shared state in a sealed memfd (the master's); -1 with errno. */
int group_commit_memfd(void);

/* Map the state of fd (from group_commit_memfd) for flushes of the file
 * system of dir_fd (the queue); 0, or -1 with errno when fd is not one. */
int group_commit_attach(int fd, int dir_fd, struct group_commit **g_r);

/* A state of this process alone, for flushes of the file system of dir_fd. */
int group_commit_private(int dir_fd, struct group_commit **g_r);

/* Until everything this process wrote and renamed on the file system
 * before the call is on stable storage: 0, or -1 with errno of the failed
 * syncfs (the caller then takes its message back). */
int group_commit_wait(struct group_commit *g);

/* Whether fd is on the file system g flushes (a delivery elsewhere
 * keeps its own fsyncs). */
int group_commit_covers(const struct group_commit *g, int fd);

/* For a daemon after its chroot (enqueue: the queue; local: the mail
 * root): with group_commit = yes, the state the master passed
 * (POSTERN_GROUP_COMMIT_FD) or else one of its own, flushing the file
 * system of the working directory; NULL with group_commit = no. */
struct group_commit *group_commit_for_daemon(void);

/* Flushes run and messages covered since the state was made. */
void group_commit_counts(const struct group_commit *g, uint64_t *flushes, uint64_t *messages);

void group_commit_free(struct group_commit **g);

#endif
