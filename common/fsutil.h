/* fsutil: small filesystem steps that several modules need: making a
 * directory entry durable, reading a whole bounded file or descriptor. */
#ifndef POSTERN_FSUTIL_H
#define POSTERN_FSUTIL_H

#include <stddef.h>
#include "buf.h"

/* fsync the directory dir, so that entries made in it survive a crash. 0 or -1 (errno). */
int fsync_dir(const char *dir);
/* fsync the directory holding path ("." for a bare name). 0 or -1 (errno). */
int fsync_parent(const char *path);
/* write(2) all n bytes of p, retrying after EINTR and short writes; a
 * write of 0 bytes is EIO.  0 or -1 (errno). */
int fd_write_all(int fd, const void *p, size_t n);
/* Append what fd yields until end of file to out; more than max bytes
 * fails with EFBIG.  The stack copy is wiped.  0 or -1 (errno). */
int fd_read_all(int fd, struct buf *out, size_t max);
/* Append the whole file at path to out; more than max bytes fails with
 * EFBIG.  flags are added to O_RDONLY|O_CLOEXEC (e.g. O_NOFOLLOW).  The
 * stack copy is wiped, since the file may hold secrets. 0 or -1 (errno). */
int file_read_all(const char *path, int flags, struct buf *out, size_t max);

#endif
