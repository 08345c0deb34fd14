/* queue_space: the free-space check that smtpd and pickup make before
 * they take a message (Postfix's queue_minfree).
 *
 * Offers: queue_space_ok().  The caller holds a descriptor on the queue's
 * file system, opened before any chroot, so that a process in an empty
 * jail can still ask (fstatvfs needs no permission on the file).
 *
 * Trusts: the kernel's numbers.  Counts f_bavail (what an unprivileged
 * user may still write: enqueue is not root) and f_favail, so that the
 * blocks reserved for root do not make a full disk look free.
 *
 * Fails: -1 with errno from fstatvfs; callers then let the message come,
 * since enqueue still answers a real ENOSPC with a temporary failure. */
#include <errno.h>
#include <sys/statvfs.h>

#include "queue_space.h"

int queue_space_ok(int fd, unsigned long long reserve, unsigned long long need,
		   unsigned long long *avail_r)
{
	struct statvfs sv;
	unsigned long long avail, want;

	*avail_r = 0;
	if (reserve == 0)
		return 1;
	if (fstatvfs(fd, &sv) < 0)
		return -1;
	if (__builtin_mul_overflow((unsigned long long)sv.f_bavail, (unsigned long long)sv.f_frsize, &avail))
		avail = ~0ULL;
	if (__builtin_add_overflow(reserve, need, &want))
		want = ~0ULL;
	*avail_r = avail;
	/* f_files == 0: a file system without an inode count (btrfs). */
	if (sv.f_files != 0 && sv.f_favail == 0)
		return 0;
	return avail >= want;
}
