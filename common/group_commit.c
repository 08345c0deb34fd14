/* group_commit: see group_commit.h. */
#include "group_commit.h"
#include "config.h"
#include "daemon.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GROUP_COMMIT_MAGIC 0x706f7374676331ULL   /* "postgc1" */

struct group_commit_state {
	uint64_t magic;
	pthread_mutex_t lock;          /* held by the leader during its syncfs */
	_Atomic uint64_t issued;       /* messages renamed, each numbered after its rename */
	_Atomic uint64_t durable;      /* every message numbered up to here is flushed */
	_Atomic uint64_t flushes;      /* syncfs calls that returned 0 */
};

struct group_commit {
	struct group_commit_state *st;
	int dir_fd;
	dev_t dev;                     /* the file system syncfs flushes */
};

static size_t group_commit_len(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 && (size_t)page >= sizeof(struct group_commit_state) ? (size_t)page
									     : sizeof(struct group_commit_state);
}

static int group_commit_init_state(struct group_commit_state *st)
{
	pthread_mutexattr_t a;
	int r;

	memset(st, 0, sizeof(*st));
	if ((r = pthread_mutexattr_init(&a)) != 0)
		return r;
	if ((r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) == 0 &&
	    (r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) == 0)
		r = pthread_mutex_init(&st->lock, &a);
	pthread_mutexattr_destroy(&a);
	st->magic = GROUP_COMMIT_MAGIC;
	return r;
}

int group_commit_memfd(void)
{
	size_t len = group_commit_len();
	int fd = memfd_create("postern-group-commit", MFD_CLOEXEC | MFD_ALLOW_SEALING), r, e;
	void *m = MAP_FAILED;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)len) < 0 ||
	    (m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED)
		goto fail;
	if ((r = group_commit_init_state(m)) != 0) {
		errno = r;
		goto fail;
	}
	munmap(m, len);
	m = MAP_FAILED;
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:
	e = errno;
	if (m != MAP_FAILED)
		munmap(m, len);
	close(fd);
	errno = e;
	return -1;
}

static int group_commit_new(struct group_commit_state *st, int dir_fd, struct group_commit **g_r)
{
	struct group_commit *g = calloc(1, sizeof(*g));

	if (g == NULL) {
		munmap(st, group_commit_len());
		return -1;
	}
	struct stat sb;

	if (fstat(dir_fd, &sb) < 0) {
		int e = errno;

		munmap(st, group_commit_len());
		free(g);
		errno = e;
		return -1;
	}
	g->st = st;
	g->dir_fd = dir_fd;
	g->dev = sb.st_dev;
	*g_r = g;
	return 0;
}

int group_commit_attach(int fd, int dir_fd, struct group_commit **g_r)
{
	size_t len = group_commit_len();
	struct stat sb;
	struct group_commit_state *st;

	*g_r = NULL;
	if (fstat(fd, &sb) < 0)
		return -1;
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size != len) {
		errno = EINVAL;
		return -1;
	}
	st = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (st == MAP_FAILED)
		return -1;
	if (st->magic != GROUP_COMMIT_MAGIC) {
		munmap(st, len);
		errno = EINVAL;
		return -1;
	}
	return group_commit_new(st, dir_fd, g_r);
}

int group_commit_private(int dir_fd, struct group_commit **g_r)
{
	size_t len = group_commit_len();
	struct group_commit_state *st;
	int r;

	*g_r = NULL;
	st = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		return -1;
	if ((r = group_commit_init_state(st)) != 0) {
		munmap(st, len);
		errno = r;
		return -1;
	}
	return group_commit_new(st, dir_fd, g_r);
}

/* The lock, also from a leader that died holding it (its flush may not
 * have ended: ours comes next anyway). */
static int group_commit_lock(struct group_commit_state *st)
{
	int r = pthread_mutex_lock(&st->lock);

	if (r == EOWNERDEAD)
		r = pthread_mutex_consistent(&st->lock);
	return r;
}

int group_commit_wait(struct group_commit *g)
{
	struct group_commit_state *st = g->st;
	/* Numbered after our rename: a flush that starts once `issued`
	 * counts us covers it. */
	uint64_t mine = atomic_fetch_add(&st->issued, 1) + 1, upto;
	int r;

	if (atomic_load(&st->durable) >= mine)
		return 0;
	if ((r = group_commit_lock(st)) != 0) {
		errno = r;
		return -1;
	}
	if (atomic_load(&st->durable) >= mine) {   /* a leader flushed us while we waited */
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	upto = atomic_load(&st->issued);
	if (syncfs(g->dir_fd) < 0) {
		int e = errno;

		pthread_mutex_unlock(&st->lock);
		errno = e;
		return -1;
	}
	atomic_fetch_add(&st->flushes, 1);
	if (atomic_load(&st->durable) < upto)
		atomic_store(&st->durable, upto);
	pthread_mutex_unlock(&st->lock);
	return 0;
}

int group_commit_covers(const struct group_commit *g, int fd)
{
	struct stat sb;

	return g != NULL && fstat(fd, &sb) == 0 && sb.st_dev == g->dev;
}

struct group_commit *group_commit_for_daemon(void)
{
	int fd = daemon_passed_fd(GROUP_COMMIT_ENV), dir;
	struct group_commit *g = NULL;

	if (!config_bool("group_commit")) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if ((dir = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		log_fatal("group commit: cannot open the working directory: %s", strerror(errno));
	if (fd >= 0) {
		if (group_commit_attach(fd, dir, &g) < 0)
			log_warn("shared group commit (fd %d): %s; this process flushes alone", fd, strerror(errno));
		close(fd);
	}
	if (g == NULL && group_commit_private(dir, &g) < 0)
		log_fatal("group commit: %s", strerror(errno));
	return g;
}

void group_commit_counts(const struct group_commit *g, uint64_t *flushes, uint64_t *messages)
{
	*flushes = atomic_load(&g->st->flushes);
	*messages = atomic_load(&g->st->durable);
}

void group_commit_free(struct group_commit **g)
{
	if (*g == NULL)
		return;
	munmap((*g)->st, group_commit_len());
	free(*g);
	*g = NULL;
}
