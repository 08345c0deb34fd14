/* sandbox_landlock: the file system half of the confinement (sandbox.h).
 *
 * Offers: sandbox_landlock(profile, chrooted).  Where the kernel has
 * Landlock (landlock_create_ruleset with LANDLOCK_CREATE_RULESET_VERSION
 * answers 1 or more), the process may afterwards reach only its root (the
 * current directory: the chroot's "/", or the directory daemon_drop
 * entered in development mode).  The programs that keep files (queue,
 * mailboxes, authd's state) may do everything there; the others (smtpd,
 * login, remote, dkim-sign, metrics) may only read.  Without a chroot the
 * rest of the file system stays readable (the resolver's and time zone
 * files, /proc for the sanitizers) and /dev writable as files (/dev/null),
 * and nothing else may change.  local is not restricted: its `|command`
 * deliveries inherit the rules and may write wherever the operator meant.
 *
 * Trusts: the kernel's ABI answer.  Fails: log_fatal when a kernel that
 * has Landlock refuses the rules; a kernel without it (ENOSYS, or
 * EOPNOTSUPP when disabled at boot) is logged and skipped. */
#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "log.h"
#include "sandbox_int.h"

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

#define SANDBOX_LL_READ (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* The parts of a tree that an installed tree links elsewhere. */
static const char *const sandbox_tree_links[] = { "run", "queue", "mail" };

uint64_t sandbox_landlock_handled(int abi)
{
	uint64_t h = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1;   /* ABI 1: bits 0..12 */

	if (abi >= 2)
		h |= LANDLOCK_ACCESS_FS_REFER;   /* renames across directories */
	if (abi >= 3)
		h |= LANDLOCK_ACCESS_FS_TRUNCATE;
	return abi >= 1 ? h : 0;
}

uint64_t sandbox_landlock_root_rights(enum sandbox_profile p, uint64_t handled)
{
	if (sandbox_profile_writes(p))
		return handled & ~LANDLOCK_ACCESS_FS_EXECUTE;
	return handled & SANDBOX_LL_READ;
}

int sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	if (abi < 1) {
		log_info("Landlock not available (%s): file system confined by chroot and users only",
			 abi < 0 ? strerror(errno) : "no ABI");
		return 0;
	}
	return (int)abi;
}

static void sandbox_landlock_path(int ruleset, const char *path, uint64_t rights)
{
	struct landlock_path_beneath_attr attr = { .allowed_access = rights };

	if (rights == 0)
		return;
	attr.parent_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (attr.parent_fd < 0) {
		log_debug("landlock: %s: %s (no rule)", path, strerror(errno));
		return;
	}
	if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) < 0)
		log_fatal("landlock rule for %s: %s", path, strerror(errno));
	close(attr.parent_fd);
}

void sandbox_landlock(enum sandbox_profile p, int chrooted)
{
	int abi = sandbox_landlock_abi();
	struct landlock_ruleset_attr attr;
	int ruleset;

	if (abi == 0)
		return;
	memset(&attr, 0, sizeof attr);
	attr.handled_access_fs = sandbox_landlock_handled(abi);
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (ruleset < 0)
		log_fatal("landlock_create_ruleset: %s", strerror(errno));
	sandbox_landlock_path(ruleset, ".", sandbox_landlock_root_rights(p, attr.handled_access_fs));
	if (!chrooted) {
		/* A process rooted at the tree itself (authd) reaches its
		 * parts through the installed tree's links (tree.md):
		 * run -> /run/postern and the like. */
		for (size_t i = 0; i < sizeof sandbox_tree_links / sizeof sandbox_tree_links[0]; i++)
			sandbox_landlock_path(ruleset, sandbox_tree_links[i],
					      sandbox_landlock_root_rights(p, attr.handled_access_fs));
		sandbox_landlock_path(ruleset, "/", attr.handled_access_fs &
				      (SANDBOX_LL_READ | LANDLOCK_ACCESS_FS_EXECUTE));
		sandbox_landlock_path(ruleset, "/dev", attr.handled_access_fs &
				      (SANDBOX_LL_READ | LANDLOCK_ACCESS_FS_WRITE_FILE |
				       LANDLOCK_ACCESS_FS_TRUNCATE));
	}
	/* priv_drop has set no_new_privs, which landlock_restrict_self needs. */
	if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
		log_fatal("landlock_restrict_self: %s", strerror(errno));
	close(ruleset);
	log_debug("landlock: %s confined to its root (ABI %d)", sandbox_profile_name(p), abi);
}
