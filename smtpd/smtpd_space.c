/* smtpd_space: refuse mail while the queue's file system is short of
 * space (queue_minfree; docs/operator.md "A full disk").
 *
 * Offers: smtpd_space_init(), which opens DIR/queue/tmp before the
 * privilege drop (the chroot is an empty jail), and smtpd_space_check(),
 * asked at MAIL, at DATA and at the first BDAT chunk: a pipelining client
 * whose MAIL was taken may meet a disk that filled since.  The message
 * needs queue_minfree plus its declared SIZE.
 *
 * Why queue/tmp and not queue: every directory fd outside the jail is a
 * way out of it (fchdir), unless the process may not search it; tmp/ is
 * mode 0700 postern-queue, queue/ is 0755.  tmp/ is also where enqueue
 * writes, so its file system is the one that counts.
 *
 * Fails: a directory that cannot be opened is fatal at start (a broken
 * tree); an fstatvfs error lets the message come (logged), since
 * enqueue still answers a real ENOSPC with 452 4.3.1 after the data. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"
#include "queue_space.h"
#include "smtpd.h"

void smtpd_space_init(struct smtpd_ctx *ctx, const struct daemon *d)
{
	char path[sizeof(d->base_dir) + 16];
	int n = snprintf(path, sizeof(path), "%s/queue/tmp", d->base_dir);

	ctx->queue_minfree = config_size("queue_minfree");
	ctx->queue_fd = -1;
	if (ctx->queue_minfree == 0)
		return;
	if (n < 0 || (size_t)n >= sizeof(path))
		log_fatal("%s/queue: path too long", d->base_dir);
	/* O_PATH: enough for fstatvfs, no reading of the directory. */
	ctx->queue_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (ctx->queue_fd < 0)
		log_fatal("%s: %s (queue_minfree needs it)", path, strerror(errno));
}

int smtpd_space_check(struct smtpd_session *ss)
{
	const struct smtpd_ctx *ctx = ss->ctx;
	unsigned long long avail;
	int r = queue_space_ok(ctx->queue_fd, ctx->queue_minfree, ss->mail_size, &avail);

	if (r < 0) {
		log_warn("cannot check the queue's free space: %s", strerror(errno));
		return 1;
	}
	if (r > 0)
		return 1;
	log_warn("queue file system has %llu bytes free, queue_minfree is %llu: refusing mail from %s",
		 avail, ctx->queue_minfree, ss->client_log);
	smtpd_reply(ss, "452 4.3.1 Insufficient system storage");
	return 0;
}
