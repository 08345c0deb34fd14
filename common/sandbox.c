/* sandbox: the system call filter of every service process but the master.
 *
 * Offers: sandbox_enter(profile, chrooted), called by daemon_drop() once
 * the process has opened what it needs, dropped its privileges and
 * entered its root, and before it reads the first byte of a client.  It
 * installs (seccomp = yes) a seccomp-bpf filter with libseccomp: a base
 * allow-list every program shares (memory, time, signals, threads,
 * descriptors already open, Unix sockets, files beneath the root) plus
 * the profile's additions.  The network-facing programs (smtpd, the login
 * processes, remote) may open files only for reading and change nothing
 * in the file system; only smtpd, remote, verify, pickup and local may open
 * Internet sockets (sandbox_table).
 * local runs operators' `|command` deliveries, which inherit any filter,
 * so it gets a deny-list of calls no mail program or command needs
 * (mount, ptrace, kexec, module loading, bpf, ...) instead.  Then
 * Landlock (sandbox_landlock.c).
 *
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP): the handler logs the
 * call's name and number through the ordinary log and then dies of SIGSYS,
 * so the master logs the signal and restarts the service as after any
 * crash.  The names are looked up before the filter is installed, so the
 * handler itself makes no lookup.
 *
 * Trusts: the profile its caller chose.  Fails: log_fatal (the master
 * restarts us) when a filter cannot be built or loaded. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "sandbox.h"
#include "sandbox_int.h"

#define SANDBOX_NR_MAX 512   /* system call numbers named in the log */

static const char *sandbox_names[SANDBOX_NR_MAX];

/* Every allow-list program: the process's own memory, time, signals and
 * threads, descriptors it holds, Unix sockets, and reading files. */
static const char *const sandbox_base[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"preadv2", "pwritev2", "close", "close_range", "lseek", "fstat", "newfstatat",
	"statx", "stat", "lstat", "fcntl", "dup", "dup2", "dup3", "ioctl", "poll",
	"ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
	"epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd2", "pipe", "pipe2",
	"mmap", "munmap", "mremap", "mprotect", "madvise", "brk", "mincore",
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time", "alarm", "setitimer", "getitimer",
	"timerfd_create", "timerfd_settime", "timerfd_gettime",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending",
	"rt_sigtimedwait", "rt_sigsuspend", "sigaltstack", "signalfd4", "restart_syscall",
	"kill", "tgkill", "tkill", "getpid", "gettid", "exit", "exit_group",
	"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"membarrier", "sched_yield", "sched_getaffinity", "getrandom", "getuid",
	"geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
	"getppid", "getpgrp", "getpgid", "getsid", "getrlimit", "prlimit64",
	"getrusage", "uname", "prctl", "arch_prctl", "sysinfo", "wait4", "waitid",
	"getcwd", "chdir", "fchdir", "getdents", "getdents64", "access", "faccessat",
	"faccessat2", "readlink", "readlinkat", "statfs", "fstatfs", "fadvise64",
	"flock", "umask", "fsync", "fdatasync", "sendfile", "memfd_create",
	"socketpair", "connect", "accept", "accept4", "sendmsg", "recvmsg", "sendto",
	"recvfrom", "sendmmsg", "recvmmsg", "getsockname", "getpeername",
	"getsockopt", "setsockopt", "shutdown", "bind", "listen",
};

/* Programs that keep files: queue, mailboxes, state. */
static const char *const sandbox_write[] = {
	"mkdir", "mkdirat", "rename", "renameat", "renameat2", "unlink", "unlinkat",
	"rmdir", "link", "linkat", "symlink", "symlinkat", "ftruncate", "truncate",
	"fallocate", "fchmod", "fchmodat", "chmod", "fchown", "fchownat", "chown",
	"lchown", "utimensat", "utimes", "futimesat", "syncfs", "sync_file_range",
	"copy_file_range", "splice", "inotify_init1",
	"inotify_add_watch", "inotify_rm_watch",
};

/* local's deny-list: nothing a mail program or a delivery command needs,
 * everything that reaches the kernel's or other processes' state. */
static const char *const sandbox_denied[] = {
	"mount", "umount2", "fsopen", "fsmount", "fsconfig", "fspick", "move_mount",
	"open_tree", "mount_setattr", "pivot_root", "chroot", "ptrace",
	"process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"kexec_load", "kexec_file_load", "init_module", "finit_module",
	"delete_module", "bpf", "perf_event_open", "keyctl", "add_key",
	"request_key", "unshare", "setns", "reboot", "swapon", "swapoff", "acct",
	"quotactl", "quotactl_fd", "settimeofday", "clock_settime", "clock_adjtime",
	"adjtimex", "sethostname", "setdomainname", "iopl", "ioperm", "syslog",
	"userfaultfd", "lookup_dcookie", "open_by_handle_at", "name_to_handle_at",
	"fanotify_init", "vhangup", "nfsservctl", "uselib", "personality",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "mbind",
	"migrate_pages", "move_pages", "set_mempolicy",
};

/* One profile: which groups, and what else it may create. */
struct sandbox_rules {
	const char *name;
	int writes;          /* sandbox_write, and open for writing */
	int inet;            /* socket() of AF_INET/AF_INET6/AF_NETLINK */
	int denylist;        /* local: sandbox_denied instead of an allow-list;
			      * 2: a denied call fails with EPERM (commands) */
};

static const struct sandbox_rules sandbox_table[] = {
	[SANDBOX_NONE] = { "none", 0, 0, 0 },
	[SANDBOX_SMTPD] = { "smtpd", 0, 1, 0 },
	[SANDBOX_LOGIN] = { "login", 0, 0, 0 },
	[SANDBOX_REMOTE] = { "remote", 0, 1, 0 },
	[SANDBOX_QUEUE] = { "queue", 1, 0, 0 },
	[SANDBOX_PICKUP] = { "pickup", 1, 1, 0 },
	[SANDBOX_MAILBOX] = { "mailbox", 1, 0, 0 },
	[SANDBOX_VERIFY] = { "verify", 1, 1, 0 },
	[SANDBOX_AUTHD] = { "authd", 1, 0, 0 },
	[SANDBOX_DKIM] = { "dkim-sign", 0, 0, 0 },
	[SANDBOX_METRICS] = { "metrics", 0, 0, 0 },
	[SANDBOX_LOCAL] = { "local", 1, 1, 1 },
	[SANDBOX_FRONT] = { "front", 0, 0, 0 },
	[SANDBOX_COMMAND] = { "command", 1, 1, 2 },
};

enum sandbox_profile sandbox_profile(const char *program, const char *role)
{
	int sub = role != NULL && (strcmp(role, "session") == 0 || strcmp(role, "hibernate") == 0);

	if (strcmp(program, "smtpd") == 0)
		return SANDBOX_SMTPD;
	if (strcmp(program, "front") == 0)
		return SANDBOX_FRONT;
	if (strcmp(program, "popd") == 0 || strcmp(program, "imapd") == 0)
		return sub ? SANDBOX_MAILBOX : SANDBOX_LOGIN;
	if (strcmp(program, "remote") == 0)
		return SANDBOX_REMOTE;
	if (strcmp(program, "enqueue") == 0 || strcmp(program, "qmgr") == 0)
		return SANDBOX_QUEUE;
	if (strcmp(program, "pickup") == 0)
		return SANDBOX_PICKUP;
	if (strcmp(program, "verify") == 0)
		return SANDBOX_VERIFY;
	if (strcmp(program, "authd") == 0)
		return SANDBOX_AUTHD;
	if (strcmp(program, "dkim-sign") == 0)
		return SANDBOX_DKIM;
	if (strcmp(program, "metrics") == 0)
		return SANDBOX_METRICS;
	if (strcmp(program, "local") == 0)
		return SANDBOX_LOCAL;
	return SANDBOX_NONE;
}

const char *sandbox_profile_name(enum sandbox_profile p)
{
	return (size_t)p < sizeof sandbox_table / sizeof sandbox_table[0] ? sandbox_table[p].name : "?";
}

int sandbox_profile_writes(enum sandbox_profile p)
{
	return sandbox_table[p].writes;
}

const char *sandbox_syscall_name(int nr)
{
	if (nr < 0 || nr >= SANDBOX_NR_MAX || sandbox_names[nr] == NULL)
		return "?";
	return sandbox_names[nr];
}

/* Resolve every name now: the SIGSYS handler may not allocate. */
static void sandbox_names_init(void)
{
	for (int nr = 0; nr < SANDBOX_NR_MAX; nr++) {
		if (sandbox_names[nr] != NULL)
			continue;
		sandbox_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	}
}

/* The call's first argument (a socket's domain, an ioctl's descriptor),
 * where we know the machine's registers. */
static long sandbox_arg0(const void *uc)
{
#if defined(__x86_64__)
	return (long)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RDI];
#elif defined(__aarch64__)
	return (long)((const ucontext_t *)uc)->uc_mcontext.regs[0];
#else
	(void)uc;
	return 0;
#endif
}

static void sandbox_on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction sa;
	sigset_t set;
	int nr = si->si_syscall;

	/* The log code makes only allowed calls, so the trap cannot come
	 * from inside it in this thread; should another thread hold its
	 * lock, the alarm still ends us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGALRM, &sa, NULL);
	alarm(5);
	log_warn("killed: forbidden system call %s (%d), first argument %ld, by the seccomp filter (seccomp = yes)",
		 sandbox_syscall_name(nr), nr, sandbox_arg0(uc));
	/* Die of the signal itself: the master logs it and restarts us. */
	sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(1);
}

#ifdef POSTERN_TEST_HOOKS
/* Test builds only (make TEST_HOOKS=1, the default of a source build; the
 * Debian package is built without): SIGUSR2 makes the process attempt a
 * call that every profile forbids, for tests/integration/test_sandbox.py.
 * Whoever may signal us may kill us anyway: it opens nothing. */
static void sandbox_on_probe(int sig)
{
	(void)sig;
	syscall(SYS_ptrace, 0L, 0L, 0L, 0L);
}

static void sandbox_probe_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sandbox_on_probe;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}
#else
static void sandbox_probe_init(void)
{
}
#endif

static void sandbox_add(scmp_filter_ctx ctx, uint32_t action, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(names[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;   /* not a call of this architecture */
		int r = seccomp_rule_add(ctx, action, nr, 0);
		if (r < 0)
			log_fatal("seccomp rule for %s: %s", names[i], strerror(-r));
	}
}

static void sandbox_rule(const char *what, int r)
{
	if (r < 0)
		log_fatal("seccomp rule for %s: %s", what, strerror(-r));
}

/* Opening for writing or creating, for the programs that keep files;
 * reading only for the others. */
static void sandbox_open_rules(scmp_filter_ctx ctx, const struct sandbox_rules *rules)
{
	const scmp_datum_t wmask = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

	if (rules->writes) {
		sandbox_rule("openat", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 0));
		sandbox_rule("open", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 0));
		return;
	}
	sandbox_rule("openat", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
						     SCMP_A2(SCMP_CMP_MASKED_EQ, wmask, 0)));
	sandbox_rule("open", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
						   SCMP_A1(SCMP_CMP_MASKED_EQ, wmask, 0)));
}

/* Unix sockets for all; the Internet (and netlink, which the resolver
 * asks for local addresses) only where the profile talks to it. */
static void sandbox_socket_rules(scmp_filter_ctx ctx, const struct sandbox_rules *rules)
{
	static const int inet[] = { AF_INET, AF_INET6, AF_NETLINK };

	sandbox_rule("socket", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
						     SCMP_A0(SCMP_CMP_EQ, AF_UNIX)));
	for (size_t i = 0; rules->inet && i < sizeof inet / sizeof inet[0]; i++)
		sandbox_rule("socket", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
							     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)inet[i])));
}

/* Threads, never new processes; clone3 passes its flags in memory the
 * filter cannot read, so it fails with ENOSYS and glibc falls back to clone. */
static void sandbox_thread_rules(scmp_filter_ctx ctx)
{
	sandbox_rule("clone", seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
						    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)));
	sandbox_rule("clone3", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0));
#ifdef __SANITIZE_ADDRESS__
	/* ASan and UBSan start llvm-symbolizer while printing a report: let
	 * that fail (the report then shows addresses) rather than kill the
	 * process half way through it.  Sanitizer builds are test builds. */
	sandbox_rule("clone", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
						    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0)));
	sandbox_rule("fork", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(fork), 0));
	sandbox_rule("vfork", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(vfork), 0));
	sandbox_rule("execve", seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(execve), 0));
#endif
}

static scmp_filter_ctx sandbox_build(const struct sandbox_rules *rules)
{
	scmp_filter_ctx ctx = seccomp_init(rules->denylist ? SCMP_ACT_ALLOW : SCMP_ACT_TRAP);

	if (ctx == NULL)
		log_fatal("seccomp_init failed");
	/* Every thread, also one started before us (none should be). */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		log_fatal("seccomp: cannot synchronise threads");
	if (rules->denylist) {
		/* Operators' commands are not ours: a denied call fails
		 * (programs fall back, as from io_uring) rather than kill a
		 * delivery again at every retry. */
		sandbox_add(ctx, rules->denylist == 2 ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_TRAP, sandbox_denied,
			    sizeof sandbox_denied / sizeof sandbox_denied[0]);
		return ctx;
	}
	sandbox_add(ctx, SCMP_ACT_ALLOW, sandbox_base, sizeof sandbox_base / sizeof sandbox_base[0]);
	if (rules->writes)
		sandbox_add(ctx, SCMP_ACT_ALLOW, sandbox_write, sizeof sandbox_write / sizeof sandbox_write[0]);
	sandbox_open_rules(ctx, rules);
	sandbox_socket_rules(ctx, rules);
	sandbox_thread_rules(ctx);
	return ctx;
}

static void sandbox_seccomp(enum sandbox_profile p)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int r;

	sandbox_names_init();
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = sandbox_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		log_fatal("sigaction SIGSYS: %s", strerror(errno));
	ctx = sandbox_build(&sandbox_table[p]);
	r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		log_fatal("seccomp filter %s: %s", sandbox_table[p].name, strerror(-r));
	log_debug("seccomp filter %s installed", sandbox_table[p].name);
}

void sandbox_enter(enum sandbox_profile p, int chrooted)
{
	if (p == SANDBOX_NONE) {
		log_warn("no confinement profile for this program: not confined");
		return;
	}
	sandbox_probe_init();
	/* Landlock first: its own set-up calls need no place in the filter. */
	if (config_bool("landlock") && p != SANDBOX_LOCAL && p != SANDBOX_COMMAND)
		sandbox_landlock(p, chrooted);
	if (config_bool("seccomp"))
		sandbox_seccomp(p);
}
