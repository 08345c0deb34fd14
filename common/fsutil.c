/* fsutil: durable directory entries and bounded whole-file reads.
 *
 * Offers the fsync-the-directory step that every atomic "write a temp
 * file, fsync, rename or link" sequence ends with (queue files, Maildir
 * deliveries, compiled maps, the operator tool's files), and a bounded
 * read of a small file or of a descriptor to its end.  Trusts nothing about the paths beyond that they
 * are NUL-terminated; fails with -1 and errno, never silently. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r, saved;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int fsync_parent(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	size_t n;

	if (slash == NULL)
		return fsync_dir(".");
	n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return fsync_dir(dir);
}

int fd_read_all(int fd, struct buf *out, size_t max)
{
	char chunk[8192];
	ssize_t n = 0;
	size_t total = 0;
	int saved;

	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (__builtin_add_overflow(total, (size_t)n, &total) || total > max) {
			errno = EFBIG;
			n = -1;
			break;
		}
		if (buf_append(out, chunk, (size_t)n) < 0) {
			n = -1;
			break;
		}
	}
	saved = errno;
	explicit_bzero(chunk, sizeof chunk);
	errno = saved;
	return n == 0 ? 0 : -1;
}

int file_read_all(const char *path, int flags, struct buf *out, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = fd_read_all(fd, out, max);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

int fd_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}
