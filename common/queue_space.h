/* queue_space: whether the queue's file system has room for mail
 * (queue_minfree, docs/operator.md "A full disk"). */
#ifndef POSTERN_QUEUE_SPACE_H
#define POSTERN_QUEUE_SPACE_H

/* The room the file system of fd (any descriptor on it, O_PATH will do)
 * has: 1 when at least reserve + need bytes are free for unprivileged
 * users and an inode is free, 0 when not, -1 when fstatvfs fails
 * (errno).  *avail_r gets the free bytes (saturated).  A reserve of 0
 * disables the check: 1 without a look. */
int queue_space_ok(int fd, unsigned long long reserve, unsigned long long need,
		   unsigned long long *avail_r);

#endif
