/* layout: where the parts of a Postern tree are.
 *
 * Offers: the installed paths (layout.h) under $POSTERN_SYSROOT, the tree
 * of a configuration directory, and the directory of the programs.  A
 * tree is one directory DIR whose parts (etc/, queue/, mail/, run/, ...)
 * every program names relative to it; the installed tree keeps some of
 * them elsewhere behind links (docs/tree.md, "The installed layout"), so
 * DIR is the directory holding those links, never their targets' parent.
 *
 * Trusts: the operator's paths and the environment (these run in the
 * operator's commands and, before any privilege is dropped, in the
 * master and the daemons, which are given their tree the same way).
 *
 * Fails: -1 with errno; nothing is printed or logged here. */
#include "layout.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

int layout_path(const char *fhs_path, char *out, size_t outlen)
{
	const char *root = getenv(LAYOUT_SYSROOT_ENV);
	int n;

	if (root == NULL)
		root = "";
	n = snprintf(out, outlen, "%s%s", root, fhs_path);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int layout_tree_of_etc(const char *etc, char *out, size_t outlen)
{
	char path[PATH_MAX], cwd[PATH_MAX], *slash, *real;
	size_t len;
	int n, r;

	if (etc[0] == '/')
		n = snprintf(path, sizeof path, "%s", etc);
	else if (getcwd(cwd, sizeof cwd) == NULL)
		return -1;
	else
		n = snprintf(path, sizeof path, "%s/%s", cwd, etc);
	if (n < 0 || (size_t)n >= sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	len = (size_t)n;
	while (len > 1 && path[len - 1] == '/')
		path[--len] = '\0';
	slash = strrchr(path, '/');
	/* The parent of "x/." or "x/.." is not what the text says. */
	if (strcmp(slash + 1, ".") == 0 || strcmp(slash + 1, "..") == 0 || slash[1] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (slash == path)
		slash[1] = '\0';
	else
		*slash = '\0';
	real = realpath(path, NULL);
	if (real == NULL)
		return -1;
	r = str_copy(out, outlen, real);
	free(real);
	return r;
}

static int layout_has_master(const char *dir)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof path, "%s/master", dir);

	return n > 0 && (size_t)n < sizeof path && access(path, X_OK) == 0;
}

int layout_program_dir(char *out, size_t outlen)
{
	char self[PATH_MAX], libexec[PATH_MAX], *slash, *real;
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	int m, r;

	if (n <= 0)
		return -1;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (slash == self)
		slash[1] = '\0';
	else
		*slash = '\0';
	if (layout_has_master(self))
		return str_copy(out, outlen, self);
	/* make install: postern in PREFIX/sbin, the daemons in PREFIX/libexec/postern. */
	m = snprintf(libexec, sizeof libexec, "%s/../libexec/postern", self);
	if (m > 0 && (size_t)m < sizeof libexec && layout_has_master(libexec) &&
	    (real = realpath(libexec, NULL)) != NULL) {
		r = str_copy(out, outlen, real);
		free(real);
		return r;
	}
	return str_copy(out, outlen, self);
}
