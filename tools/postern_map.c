/* postern_map: `postern map [-d DIR] FILE`.
 *
 * Offers: map compiles a text map to FILE.cdb (postern_map_compile: a
 * file named `aliases` in aliases(5) syntax, any other as `key value`
 * lines; the .cdb takes the source's owner, group and mode); a bare
 * FILE name (no '/') is taken from DIR/etc when a tree is given by -d or
 * POSTERN_DIR, and a running master is then told to reload.
 *
 * Trusts: nothing in the map; it is only parsed.
 *
 * Fails: exits 1 with "file:line: message". */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "postern.h"

int postern_cmd_map(int argc, char **argv)
{
	char tree[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
	const char *dir = NULL, *error = "";
	int c, have_tree;

	optind = 0;
	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c != 'd')
			return postern_usage();
		dir = optarg;
	}
	if (optind != argc - 1)
		return postern_usage();
	have_tree = (dir != NULL && dir[0] != '\0') ||
		    (getenv("POSTERN_DIR") != NULL && getenv("POSTERN_DIR")[0] != '\0');
	if (have_tree && postern_tree(dir, tree, sizeof(tree)) < 0)
		return POSTERN_EXIT_FAIL;
	if (have_tree && strchr(argv[optind], '/') == NULL) {
		if (postern_path(src, sizeof(src), "%s/etc/%s", tree, argv[optind]) < 0)
			return POSTERN_EXIT_FAIL;
	} else if (postern_path(src, sizeof(src), "%s", argv[optind]) < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_path(dst, sizeof(dst), "%s.cdb", src) < 0)
		return POSTERN_EXIT_FAIL;
	if (postern_map_compile(src, dst, NULL, &error) < 0) {
		postern_err("%s", error);
		return POSTERN_EXIT_FAIL;
	}
	if (have_tree)
		postern_master_reload(tree);
	return POSTERN_EXIT_OK;
}
