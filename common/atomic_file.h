/* atomic_file: replacing a file so that a reader sees the old one or the
 * new one whole, never a part: write a temporary file next to it, then
 * rename it over the name; with ATOMIC_SYNC the data is on disk before
 * the new name exists, with ATOMIC_SYNC_DIR the name itself is (after a
 * crash the file is the old one or the new one, never empty).  The one
 * implementation of the step behind compiled maps, the operator tool's
 * files, the master's pid file, login tickets, quota files, deferral
 * reasons, IMAP subscriptions and the mailbox store's own files; each
 * caller says beside its call why it takes less than both syncs. */
#ifndef POSTERN_ATOMIC_FILE_H
#define POSTERN_ATOMIC_FILE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

#define ATOMIC_SYNC      1u   /* fsync the data before the rename */
#define ATOMIC_SYNC_DIR  2u   /* fsync the directory after it */
#define ATOMIC_KEEP_FD   4u   /* a successful commit leaves fd open for the caller */
#define ATOMIC_NOREPLACE 8u   /* publish only where name does not exist yet (link, not rename): EEXIST */

struct atomic_file {
	int dirfd;                 /* AT_FDCWD: name and tmp are paths */
	int fd;                    /* the temporary file; -1 once closed */
	char name[PATH_MAX];
	char tmp[PATH_MAX];
};

/* Create the temporary file for name in dirfd: tmp (a fixed name the
 * caller's lock keeps to itself), or NULL for "NAME.tmp.PID".  oflags:
 * O_WRONLY or O_RDWR.  The file is always new (O_EXCL, never following a
 * link), so it has mode and no bytes of anybody else's: a leftover of a
 * crash under that name (a process that had our pid, or the lock's
 * previous holder) is removed first.  0, or -1 (errno). */
int atomic_file_open(struct atomic_file *af, int dirfd, const char *name, const char *tmp, int oflags,
		     mode_t mode);
/* Make the temporary file the file: fsync (ATOMIC_SYNC), close (unless
 * ATOMIC_KEEP_FD), rename (or link when ATOMIC_NOREPLACE), fsync of the
 * directory (ATOMIC_SYNC_DIR).  0, or -1 (errno) with the temporary file
 * removed and fd closed (only a failed directory fsync leaves the new
 * file in place). */
int atomic_file_commit(struct atomic_file *af, unsigned flags);
/* Give up: close and remove the temporary file (errno kept). */
void atomic_file_abort(struct atomic_file *af);
/* The whole sequence for len bytes at p: open (O_WRONLY), write, commit
 * with flags.  0, or -1 (errno). */
int atomic_file_write(int dirfd, const char *name, const char *tmp, const void *p, size_t len, mode_t mode,
		      unsigned flags);

#endif
