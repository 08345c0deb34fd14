/* layout: where the parts of a Postern tree are (docs/tree.md, "The
 * installed layout"). */
#ifndef POSTERN_LAYOUT_H
#define POSTERN_LAYOUT_H

#include <stddef.h>

/* The installed tree and the FHS directories `postern init` links into
 * it (DIR/etc, DIR/queue, DIR/run). */
#define LAYOUT_TREE "/var/lib/postern"
#define LAYOUT_ETC "/etc/postern"
#define LAYOUT_QUEUE "/var/spool/postern"
#define LAYOUT_RUN "/run/postern"
/* Environment variable that puts all of them under another root. */
#define LAYOUT_SYSROOT_ENV "POSTERN_SYSROOT"

/* An installed path (one of the above) under $POSTERN_SYSROOT when that
 * is set.  0, or -1 (ENAMETOOLONG) when it would not fit. */
int layout_path(const char *fhs_path, char *out, size_t outlen);
/* The tree of the configuration directory etc: the directory that holds
 * etc as it is named, not the parent of what a link named etc points to
 * (the installed DIR/etc is a link to /etc/postern), made absolute with
 * links resolved.  0, or -1 with errno (EINVAL: etc ends in . or ..;
 * ENOSPC: out is too small). */
int layout_tree_of_etc(const char *etc, char *out, size_t outlen);
/* The directory of the Postern programs: that of the running executable
 * when it holds `master` (a build directory, or libexec/postern itself),
 * else ../libexec/postern beside it when that holds `master` (the
 * installed `postern` in sbin), else that of the executable.  0 or -1. */
int layout_program_dir(char *out, size_t outlen);

#endif
