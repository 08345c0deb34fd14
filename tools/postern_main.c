/* postern_main: the `postern` operator command, dispatch and usage.
 *
 * Offers: `postern COMMAND [options] [args]` for init, user, start, stop,
 * reload, status, map, check, conf, queue, log and dkim (docs/operator.md,
 * docs/dkim.md),
 * plus the hidden `config-defaults` that prints the documented default
 * postern.conf (etc/postern.conf in the source tree is its output, and a
 * test diffs the two), `master-defaults`, the master.conf a non-root init writes
 * with the default address and port base (etc/master.conf), and
 * `services`, the service table (common/service_table.c) as the tests
 * read it (tools/postern_services.c).  The tree is named by -d DIR or
 * the environment variable POSTERN_DIR, else it is the installed tree
 * (/var/lib/postern, common/layout.h); it is always made absolute.
 *
 * Trusts: its caller, the operator (it is run by hand or by scripts, often
 * as root).  It never runs a shell and never passes operator input to one.
 *
 * Fails: a usage error prints the usage to stderr and exits 2 (asked for
 * with help, -h or --help, it goes to stdout and exits 0); any other
 * failure prints "postern: ..." to stderr and exits 1; `status` exits 3
 * when the master is not running. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layout.h"
#include "postern.h"

struct postern_command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct postern_command postern_commands[] = {
	{ "init", postern_cmd_init },
	{ "user", postern_cmd_user },
	{ "start", postern_cmd_start },
	{ "stop", postern_cmd_stop },
	{ "reload", postern_cmd_reload },
	{ "status", postern_cmd_status },
	{ "map", postern_cmd_map },
	{ "check", postern_cmd_check },
	{ "conf", postern_cmd_conf },
	{ "queue", postern_cmd_queue },
	{ "log", postern_cmd_log },
	{ "dkim", postern_cmd_dkim },
	{ "config-defaults", postern_cmd_config_defaults },
	{ "master-defaults", postern_cmd_master_defaults },
	{ "services", postern_cmd_services },
};

void postern_err(const char *fmt, ...)
{
	va_list ap;

	fputs("postern: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void postern_usage_to(FILE *f)
{
	fputs("usage: postern init [-d DIR] [--domain D] [--listen ADDR] [--port-base N] [--force]\n"
	      "       postern user add|passwd [-d DIR] ADDRESS [PASSWORD]   (PASSWORD from stdin when omitted)\n"
	      "       postern user del [-d DIR] ADDRESS\n"
	      "       postern user list [-d DIR]\n"
	      "       postern start [-d DIR] [-f]\n"
	      "       postern stop|reload|status|check [-d DIR]\n"
	      "       postern map [-d DIR] FILE\n"
	      "       postern conf [-d DIR] [-n|-D] [-h] [KEY...] | KEY=VALUE... | -X KEY...\n"
	      "       postern conf [-d DIR] -M [-X] [NAME[/TYPE][=ENTRY]...]\n"
	      "       postern conf [-d DIR] [-h] -F NAME/TYPE/FIELD[=VALUE]...\n"
	      "       postern queue [-d DIR] list [--json|--mailq] | show ID | delete|hold|release|requeue ID|ALL|-\n"
	      "       postern queue [-d DIR] flush [--domain DOMAIN]\n"
	      "       postern log [-d DIR] [-f FILE] QUEUEID\n"
	      "       postern dkim keygen [-d DIR] [--type rsa|ed25519] [--bits N] DOMAIN SELECTOR\n"
	      "-d DIR may be replaced by the environment variable POSTERN_DIR; without\n"
	      "either, the tree is the installed one, " LAYOUT_TREE " (init creates it\n"
	      "with etc in " LAYOUT_ETC ", the queue in " LAYOUT_QUEUE " and run in " LAYOUT_RUN ").\n",
	      f);
}

int postern_usage(void)
{
	postern_usage_to(stderr);
	return POSTERN_EXIT_USAGE;
}

/* Asked for (help, -h or --help first, or --help after a command): the
 * usage is the output, on stdout, and not an error. */
static int postern_asked_for_help(int argc, char **argv)
{
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0)
		return 1;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return 1;
	return 0;
}

/* Drop trailing slashes so that "DIR/etc" is built the same way for
 * "/srv/mail" and "/srv/mail/"; "/" stays "/". */
static void postern_strip_slashes(char *path)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		path[--n] = '\0';
}

int postern_tree(const char *dir, char *out, size_t outlen)
{
	char cwd[PATH_MAX];
	char *real;

	char installed[PATH_MAX];

	if (dir == NULL || dir[0] == '\0')
		dir = getenv("POSTERN_DIR");
	if (dir == NULL || dir[0] == '\0') {
		/* The installed tree (docs/tree.md, "The installed layout"). */
		if (layout_path(LAYOUT_TREE, installed, sizeof installed) < 0) {
			postern_err("%s is too long", LAYOUT_SYSROOT_ENV);
			return -1;
		}
		dir = installed;
	}
	/* An existing tree is named by its real path, so that the paths
	 * the master and the daemons see are the same ones we write. */
	real = realpath(dir, NULL);
	if (real != NULL) {
		int r = postern_path(out, outlen, "%s", real);

		free(real);
		return r;
	}
	if (dir[0] == '/') {
		if (postern_path(out, outlen, "%s", dir) < 0)
			return -1;
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			postern_err("cannot get the current directory: %s", strerror(errno));
			return -1;
		}
		if (postern_path(out, outlen, "%s/%s", cwd, dir) < 0)
			return -1;
	}
	postern_strip_slashes(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return postern_usage();
	if (postern_asked_for_help(argc, argv)) {
		postern_usage_to(stdout);
		return fflush(stdout) == 0 ? POSTERN_EXIT_OK : POSTERN_EXIT_FAIL;
	}
	/* Files we create get exactly the modes we ask for. */
	umask(022);
	for (size_t i = 0; i < sizeof(postern_commands) / sizeof(postern_commands[0]); i++)
		if (strcmp(argv[1], postern_commands[i].name) == 0)
			return postern_commands[i].fn(argc - 1, argv + 1);
	postern_err("unknown command: %s", argv[1]);
	return postern_usage();
}
