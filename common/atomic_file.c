/* atomic_file: replace a file whole (see atomic_file.h).
 *
 * Trusts: the caller's names (NUL-terminated, shorter than PATH_MAX) and
 * that only it writes the temporary name (a fixed one under its lock, or
 * one with its pid).  Fails: -1 with errno, the temporary file removed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "fsutil.h"
#include "self_pid.h"

int atomic_file_open(struct atomic_file *af, int dirfd, const char *name, const char *tmp, int oflags,
		     mode_t mode)
{
	size_t len = strlen(name);
	int n;

	af->dirfd = dirfd;
	af->fd = -1;
	if (len >= sizeof(af->name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(af->name, name, len + 1);
	n = tmp != NULL ? snprintf(af->tmp, sizeof(af->tmp), "%s", tmp)
			: snprintf(af->tmp, sizeof(af->tmp), "%s.tmp.%ld", name, (long)self_pid());
	if (n < 0 || (size_t)n >= sizeof(af->tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	oflags = (oflags & ~O_TRUNC) | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	af->fd = openat(dirfd, af->tmp, oflags, mode);
	/* Only this caller writes the name (atomic_file.h): what is there
	 * is a crash's leftover.  Truncating it would keep its mode. */
	if (af->fd < 0 && errno == EEXIST && unlinkat(dirfd, af->tmp, 0) == 0)
		af->fd = openat(dirfd, af->tmp, oflags, mode);
	return af->fd < 0 ? -1 : 0;
}

void atomic_file_abort(struct atomic_file *af)
{
	int e = errno;

	if (af->fd >= 0)
		close(af->fd);
	af->fd = -1;
	unlinkat(af->dirfd, af->tmp, 0);
	errno = e;
}

int atomic_file_commit(struct atomic_file *af, unsigned flags)
{
	if ((flags & ATOMIC_SYNC) != 0 && fsync(af->fd) < 0)
		goto fail;
	if ((flags & ATOMIC_KEEP_FD) == 0) {
		int r = close(af->fd);
		af->fd = -1;
		if (r < 0)
			goto fail;
	}
	if ((flags & ATOMIC_NOREPLACE) != 0) {
		/* linkat, not renameat2: it works on every file system with
		 * hard links; the temporary name goes either way. */
		if (linkat(af->dirfd, af->tmp, af->dirfd, af->name, 0) < 0)
			goto fail;
		unlinkat(af->dirfd, af->tmp, 0);
	} else if (renameat(af->dirfd, af->tmp, af->dirfd, af->name) < 0) {
		goto fail;
	}
	if ((flags & ATOMIC_SYNC_DIR) != 0 &&
	    (af->dirfd == AT_FDCWD ? fsync_parent(af->name) : fsync(af->dirfd)) < 0)
		return -1;
	return 0;
fail:
	atomic_file_abort(af);
	return -1;
}

int atomic_file_write(int dirfd, const char *name, const char *tmp, const void *p, size_t len, mode_t mode,
		      unsigned flags)
{
	struct atomic_file af;

	if (atomic_file_open(&af, dirfd, name, tmp, O_WRONLY, mode) < 0)
		return -1;
	if (fd_write_all(af.fd, p, len) < 0) {
		atomic_file_abort(&af);
		return -1;
	}
	return atomic_file_commit(&af, flags & ~ATOMIC_KEEP_FD);
}
