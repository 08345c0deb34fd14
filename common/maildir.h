/* maildir: durable delivery into a Maildir (cr.yp.to/proto/maildir.html).
 * A message is written to tmp/, fsynced, hard-linked into new/ (never
 * renamed, so an existing name is never replaced) and new/ is fsynced
 * before success is returned.  File names have the modern form
 * `SECONDS.M<usec>P<pid>Q<counter>.HOST,S=<size>,W=<crlf size>`, where
 * S= is the file size and W= is S plus the number of LF bytes in the file
 * (the size a reader sends when it writes every LF as CRLF).  Paths are
 * relative to the current directory (the mail root) or absolute. */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>
#include <sys/types.h>
#include "buf.h"

#define MAILDIR_NAME_MAX 512      /* room for any file name maildir_deliver makes */
#define MAILDIR_PATH_MAX 1024     /* longest Maildir path accepted */
#define MAILDIR_NAME_RETRIES 8    /* fresh names tried after EEXIST before giving up */
#define MAILDIR_DEPTH_MAX 32      /* most directory levels maildir_create makes */

/* Create maildir (and missing parents, mode 0700) with tmp/, new/, cur/.
 * 0, or -1 with errno and *error_r naming the step that failed. */
int maildir_create(const char *maildir, const char **error_r);
/* Deliver prefix (may be NULL) followed by size bytes of data_fd read
 * with pread at offset into maildir/new/, creating the Maildir when it is
 * missing.  On success the new file name (without "new/") is copied to
 * name_r (NULL: not wanted; else name_len >= MAILDIR_NAME_MAX).  0, or -1
 * with errno and *error_r naming the step; nothing is left in new/. */
/* Deliveries of this process flush through g (local's shared group
 * commit) where the Maildir is on g's file system; NULL: fsyncs. */
struct group_commit;
void maildir_use_group_commit(struct group_commit *g);
int maildir_deliver(const char *maildir, const struct buf *prefix, int data_fd,
		    off_t offset, off_t size, char *name_r, size_t name_len,
		    const char **error_r);
/* A fresh unique base name SECONDS.M<usec>P<pid>Q<counter>.HOST (the
 * shape maildir_deliver uses) into out.  0, or -1 (ENAMETOOLONG). */
int maildir_unique_name(char *out, size_t outlen);
/* Whether a maildir_deliver errno is worth retrying later (1) or means the
 * message can never be delivered there (0). */
int maildir_error_temporary(int err);
/* RFC 3463 enhanced status code for a maildir_deliver errno. */
const char *maildir_error_dsn(int err);
/* S= and W= values of a Maildir file name (before any ":2," info).
 * 0 with both found, -1 otherwise. */
int maildir_name_sizes(const char *name, unsigned long long *s_r, unsigned long long *w_r);

/* Whether p is a Maildir path that may be used below the mail root:
 * relative, printable, no empty, "." or ".." component (a trailing '/'
 * aside), not under "private/" (the service sockets). */
int maildir_path_ok(const char *p, size_t len);

#endif
