/* privdrop: become an unprivileged user, optionally inside a chroot.
 *
 * Offers: priv_drop(user, dir).  As root: getpwnam, refuse uid 0,
 * initgroups, chroot(dir) + chdir("/"), setgid, setuid, then check that
 * every real and effective id is the target's and that setuid(0) now
 * fails, so a silently ignored call can never leave us privileged.  As
 * any other user (development, `make run`): no id changes (a different
 * target user is ignored), only chdir(dir).  Either way it ends with
 * PR_SET_NO_NEW_PRIVS: nothing this process or its children execute can
 * gain privileges again (set-id bits and file capabilities are ignored),
 * and it is what a seccomp filter installed without CAP_SYS_ADMIN needs.
 *
 * Trusts: the user and directory names (they come from master.conf via
 * the master); the password database as seen before the chroot.
 *
 * Fails: -1 with a static message in *error_r; the caller must then exit,
 * since the process may be half way through the change. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "privdrop.h"

static int priv_did_chroot;
static char priv_error[512];

int priv_chrooted(void)
{
	return priv_did_chroot;
}

static int priv_fail(const char **error_r, const char *what, const char *arg)
{
	snprintf(priv_error, sizeof(priv_error), "%s %s: %s", what, arg, strerror(errno));
	*error_r = priv_error;
	return -1;
}

static int priv_fail_msg(const char **error_r, const char *msg, const char *arg)
{
	snprintf(priv_error, sizeof(priv_error), "%s: %s", msg, arg);
	*error_r = priv_error;
	return -1;
}

static int priv_dir_given(const char *dir)
{
	return dir != NULL && dir[0] != '\0' && strcmp(dir, "-") != 0;
}

/* Confirm that the change took effect and cannot be undone. */
static int priv_verify(uid_t uid, gid_t gid, const char *user, const char **error_r)
{
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return priv_fail_msg(error_r, "ids did not change for user", user);
	if (setuid(0) == 0 || seteuid(0) == 0)
		return priv_fail_msg(error_r, "could regain root after dropping to", user);
	return 0;
}

static int priv_drop_root(const char *user, const char *dir, const char **error_r)
{
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	errno = 0;
	pw = getpwnam(user);
	if (pw == NULL) {
		if (errno == 0)
			return priv_fail_msg(error_r, "no such user", user);
		return priv_fail(error_r, "cannot look up user", user);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0)
		return priv_fail_msg(error_r, "refusing to run as a uid 0 user", user);
	/* initgroups reads /etc/group: it must come before chroot. */
	if (initgroups(user, gid) < 0)
		return priv_fail(error_r, "initgroups for", user);
	if (priv_dir_given(dir)) {
		if (chroot(dir) < 0)
			return priv_fail(error_r, "chroot to", dir);
		if (chdir("/") < 0)
			return priv_fail(error_r, "chdir to / in", dir);
		priv_did_chroot = 1;
	}
	/* Group first: after setuid we could no longer change it. */
	if (setgid(gid) < 0)
		return priv_fail(error_r, "setgid for", user);
	if (setuid(uid) < 0)
		return priv_fail(error_r, "setuid for", user);
	return priv_verify(uid, gid, user, error_r);
}

static int priv_change(const char *user, const char *dir, const char **error_r)
{
	priv_did_chroot = 0;
	if (geteuid() == 0 && user != NULL)
		return priv_drop_root(user, dir, error_r);
	if (geteuid() == 0 && priv_dir_given(dir)) {
		/* Root without a target user would chroot and stay root,
		 * which buys nothing: treat it as a configuration error. */
		return priv_fail_msg(error_r, "no user to drop to for root directory", dir);
	}
	/* Development mode: keep our ids (any target user is ignored). */
	if (priv_dir_given(dir) && chdir(dir) < 0)
		return priv_fail(error_r, "chdir to", dir);
	return 0;
}

int priv_drop(const char *user, const char *dir, const char **error_r)
{
	if (priv_change(user, dir, error_r) < 0)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return priv_fail(error_r, "prctl", "PR_SET_NO_NEW_PRIVS");
	return 0;
}
