/* queue_spare: emptied queue files kept for reuse (docs/queue.md, "Spare
 * files").
 *
 * Offers: qmgr, when a message is finished, renames its file into spare/
 * and empties it (queue_spare_put) instead of unlinking it; enqueue (and
 * qmgr's own reports) take such a file for a new message by renaming it
 * to tmp/ (queue_spare_take) instead of creating one.  The point is the
 * inode: creating and freeing one inode per message is most of the file
 * system's cost of a small message, and on ext4 without a journal a
 * freed inode is not handed out again for a while, so that every create
 * under load searched past thousands of recently freed ones (measured:
 * a third to a half of enqueue's and local's CPU; issue 15).  A spare
 * file holds no data: its blocks are freed when it is emptied, as they
 * would be by the unlink.
 *
 * Trusts: nothing in spare/ beyond what is checked: a name must be a
 * queue ID; a taken file must be a regular file of ours with one link,
 * else it is removed and the next one tried.  Several writers take from
 * spare/ at once: the rename decides who gets a file, the loser tries the
 * next name.
 *
 * Fails: never in a way that matters: a writer that finds nothing usable
 * creates a file as before, and qmgr unlinks when it cannot rename.  A
 * tree made before spare/ existed works as before (`postern init --force`
 * makes the directory; the daemons cannot, the queue root is root's).
 * spare/ is bounded (queue_spare_files): qmgr counts it when its own
 * count says full, at most once every QUEUE_SPARE_RECOUNT_MS, and unlinks
 * meanwhile. */
#include "queue_spare.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "queuefile.h"
#include "self_pid.h"

#define QUEUE_SPARE_BATCH 64           /* names read from spare/ at a time */
#define QUEUE_SPARE_READS 3            /* listings of spare/ for one file at most */
#define QUEUE_SPARE_RECOUNT_MS 1000    /* qmgr's full count of spare/, at most this often */
#define QUEUE_SPARE_PATH (sizeof(QUEUE_SPARE_DIR) + 1 + QUEUEFILE_ID_MAX + 1)

/* The writer's side: names read from spare/, the untried ones first. */
static char spare_names[QUEUE_SPARE_BATCH][QUEUEFILE_ID_MAX + 1];
static size_t spare_n, spare_left;
static uint32_t spare_rand;            /* xorshift state for the order of tries */
static struct timespec spare_seen;     /* spare/'s mtime when last read; 0: unknown */

/* qmgr's side: spare/'s size as far as it knows. */
static unsigned long long spare_count;
static long long spare_counted_at;     /* monotonic ms; 0: never counted */

static long long spare_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + 1;
}

void queue_spare_reset(void)
{
	spare_n = spare_left = 0;
	memset(&spare_seen, 0, sizeof spare_seen);
	spare_count = 0;
	spare_counted_at = 0;
}

/* Call fn for each queue-ID name in spare/, up to max of them; how many.
 * *missing: spare/ does not exist (a tree made before it).  With mtime
 * not NULL (a writer): *mtime is the directory's before the reading, and
 * nothing is listed unless the directory is this process's user's (an
 * operator running enqueue by hand as root takes no spare files). */
static size_t queue_spare_list(void (*fn)(const char *name, size_t len), size_t max, int *missing,
			       struct timespec *mtime)
{
	DIR *d = opendir(QUEUE_SPARE_DIR);
	struct dirent *de;
	struct stat st;
	size_t n = 0;

	*missing = d == NULL && errno == ENOENT;
	if (d == NULL)
		return 0;
	if (mtime != NULL) {
		if (fstat(dirfd(d), &st) < 0 || st.st_uid != geteuid()) {
			closedir(d);
			return 0;
		}
		*mtime = st.st_mtim;
	}
	while (n < max && (de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (!queuefile_id_valid(de->d_name, len) || de->d_type == DT_DIR)
			continue;
		if (fn != NULL)
			fn(de->d_name, len);
		n++;
	}
	closedir(d);
	return n;
}

static void queue_spare_keep_name(const char *name, size_t len)
{
	memcpy(spare_names[spare_n], name, len + 1);
	spare_n++;
}

/* Refill the list, unless spare/ has not changed since it was last read
 * (one stat instead of a listing per message while it is empty). */
static void queue_spare_read(void)
{
	struct stat st;
	int missing;

	spare_n = spare_left = 0;
	if ((spare_seen.tv_sec != 0 || spare_seen.tv_nsec != 0) && stat(QUEUE_SPARE_DIR, &st) == 0 &&
	    st.st_mtim.tv_sec == spare_seen.tv_sec && st.st_mtim.tv_nsec == spare_seen.tv_nsec)
		return;
	spare_left = queue_spare_list(queue_spare_keep_name, QUEUE_SPARE_BATCH, &missing, &spare_seen);
}

/* The next name to try, at random among the untried: writers working at
 * once hold the same list, and taking it in order made each follow the
 * others' footsteps (measured: five failed renames a message at 10
 * sessions).  The list keeps the tried names behind the untried. */
static const char *queue_spare_pick(void)
{
	size_t i;
	char tmp[QUEUEFILE_ID_MAX + 1];

	if (spare_rand == 0)
		spare_rand = (uint32_t)self_pid() * 2654435761u ^ (uint32_t)time(NULL) ^ 1u;
	spare_rand ^= spare_rand << 13;
	spare_rand ^= spare_rand >> 17;
	spare_rand ^= spare_rand << 5;
	i = spare_rand % spare_left;
	spare_left--;
	memcpy(tmp, spare_names[i], sizeof tmp);
	memcpy(spare_names[i], spare_names[spare_left], sizeof tmp);
	memcpy(spare_names[spare_left], tmp, sizeof tmp);
	return spare_names[spare_left];
}

/* Rename spare/NAME to tmp/ under *name (made once per take, anew only
 * if taken): 0, or -1 with errno. */
static int queue_spare_claim(const char *spare, char *name, size_t namelen, int *named)
{
	for (unsigned tries = 0; tries < 8; tries++) {
		if (!*named && queuefile_tmp_name(name, namelen, tries) < 0)
			return -1;
		*named = 1;
		if (renameat2(AT_FDCWD, spare, AT_FDCWD, name, RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return -1;
		*named = 0;
	}
	return -1;
}

int queue_spare_take(char *name, size_t namelen, struct stat *st)
{
	static uid_t euid = (uid_t)-1;
	int named = 0, relisted = 0, reads = 0;

	if (euid == (uid_t)-1)
		euid = geteuid();
	for (;;) {
		char spare[QUEUE_SPARE_PATH];
		int fd;

		if (spare_left == 0) {
			/* Bounded: under a storm of writers a new file is
			 * cheaper than a fourth listing. */
			if (reads++ == QUEUE_SPARE_READS)
				return -1;
			queue_spare_read();
			if (spare_left == 0)
				return -1;
		}
		snprintf(spare, sizeof spare, "%s/%s", QUEUE_SPARE_DIR, queue_spare_pick());
		if (queue_spare_claim(spare, name, namelen, &named) < 0) {
			if (errno != ENOENT) {
				spare_left = 0;
				return -1;
			}
			/* Another writer was first: the list is stale (the
			 * others took from it since it was read), so read
			 * spare/ again, once per file taken. */
			if (!relisted) {
				relisted = 1;
				memset(&spare_seen, 0, sizeof spare_seen);
				spare_left = 0;
			}
			continue;
		}
		/* O_NONBLOCK: a FIFO would not hold up the open (it fails the
		 * checks below); on a regular file it changes nothing. */
		fd = open(name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		if (fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode) && st->st_nlink == 1 &&
		    st->st_uid == euid && (st->st_size == 0 || ftruncate(fd, 0) == 0)) {
			st->st_size = 0;
			return fd;
		}
		if (fd >= 0)
			close(fd);
		(void)unlink(name);
		named = 0;
	}
}

int queue_spare_put(int fd, const char *path, const char *id, unsigned long long max)
{
	char spare[QUEUE_SPARE_PATH];
	long long now;
	int n;

	if (max == 0 || fd < 0)
		return -1;
	now = spare_now_ms();
	if (spare_counted_at == 0 || (spare_count >= max && now - spare_counted_at >= QUEUE_SPARE_RECOUNT_MS)) {
		static int told;
		int missing;

		spare_count = queue_spare_list(NULL, (size_t)-1, &missing, NULL);
		spare_counted_at = now;
		if (missing) {
			if (!told)
				log_info("queue/spare is missing (postern init --force makes it): "
					 "files of finished messages are removed, not reused");
			told = 1;
			spare_count = max;
		}
	}
	if (spare_count >= max)
		return -1;
	/* Emptied before the rename, never after: once in spare/ the file
	 * may be taken at once by a writer, and a late truncation would
	 * empty the next message (acknowledged mail lost; seen under load).
	 * If the rename then fails, the caller unlinks the empty file; if
	 * that fails too, qmgr removes an empty file when it meets it. */
	n = snprintf(spare, sizeof spare, "%s/%s", QUEUE_SPARE_DIR, id);
	if (n < 0 || (size_t)n >= sizeof spare || ftruncate(fd, 0) < 0 ||
	    renameat2(AT_FDCWD, path, AT_FDCWD, spare, RENAME_NOREPLACE) < 0)
		return -1;
	spare_count++;
	return 0;
}
