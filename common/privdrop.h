/* privdrop: become an unprivileged user, optionally inside a chroot.
 * As root: look the user up, initgroups, chroot + chdir("/"), setgid,
 * setuid, then verify that real and effective ids really changed and that
 * root cannot be regained; refuse a target of uid 0.  As any other user
 * (development): chdir into the directory instead of chroot and keep the
 * current ids.  Whatever the process needs from outside the chroot must
 * be opened before this call. */
#ifndef POSTERN_PRIVDROP_H
#define POSTERN_PRIVDROP_H

/* Drop to user (NULL: keep), root into dir (NULL or "-": stay in cwd).
 * 0, or -1 with *error_r.  As root, a dir without a user is refused
 * (chroot while staying root would protect nothing). */
int priv_drop(const char *user, const char *dir, const char **error_r);
/* Whether the last priv_drop call really did chroot(2). */
int priv_chrooted(void);

#endif
