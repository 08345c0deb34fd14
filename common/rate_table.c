/* rate_table: shared per-key event counters (see the header).
 *
 * Trusts: the keys come from the caller (a peer address, a user name
 * authd confirmed); the file is ours (root made it 0600 before the
 * privilege drop), but its contents are only counters: whatever a
 * damaged file holds can skew a count, never a read out of bounds.
 *
 * Fails: open errors are returned; a lock error while counting is
 * logged and the event allowed. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "rate_table.h"

struct rate_entry {
	uint64_t key;                       /* hash of the key; 0: free */
	int64_t start;                      /* window start, seconds */
	uint32_t count[RATE_TABLE_COUNTERS];
	uint32_t pad;
};

_Static_assert(sizeof(struct rate_entry) == 32, "rate entry layout is part of the file format");
_Static_assert(RATE_TABLE_SLOTS % RATE_TABLE_GROUP == 0, "whole groups");

#define RATE_TABLE_BYTES ((size_t)RATE_TABLE_SLOTS * sizeof(struct rate_entry))

struct rate_table {
	int fd;
	struct rate_entry *e;
};

int rate_table_open(const char *path, struct rate_table **t_r, const char **error_r)
{
	struct rate_table *t;
	struct stat st;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	*t_r = NULL;
	if (fd < 0) {
		*error_r = strerror(errno);
		return -1;
	}
	/* A new file (or one of another size) is sized to the table; two
	 * processes doing it at once both set the same size. */
	if (fstat(fd, &st) < 0 || (st.st_size != (off_t)RATE_TABLE_BYTES &&
				   ftruncate(fd, (off_t)RATE_TABLE_BYTES) < 0)) {
		*error_r = strerror(errno);
		close(fd);
		return -1;
	}
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		*error_r = "out of memory";
		close(fd);
		return -1;
	}
	t->e = mmap(NULL, RATE_TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (t->e == MAP_FAILED) {
		*error_r = strerror(errno);
		free(t);
		close(fd);
		return -1;
	}
	t->fd = fd;
	*t_r = t;
	return 0;
}

static int rate_table_lock(int fd, size_t group, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)(group * RATE_TABLE_GROUP * sizeof(struct rate_entry));
	fl.l_len = (off_t)(RATE_TABLE_GROUP * sizeof(struct rate_entry));
	while (fcntl(fd, F_OFD_SETLKW, &fl) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return 0;
}

/* The key's entry in its group (lock held): its own, a free or expired
 * one, or the one whose window began first. */
static struct rate_entry *rate_table_slot(struct rate_entry *g, uint64_t h, unsigned window,
					  time_t now)
{
	struct rate_entry *spare = NULL, *oldest = &g[0];

	for (size_t i = 0; i < RATE_TABLE_GROUP; i++) {
		if (g[i].key == h)
			return &g[i];
		if (spare == NULL && (g[i].key == 0 || g[i].start > now ||
				      now - g[i].start >= (int64_t)window))
			spare = &g[i];
		if (g[i].start < oldest->start)
			oldest = &g[i];
	}
	return spare != NULL ? spare : oldest;
}

int rate_table_hit(struct rate_table *t, const char *key, enum rate_event ev,
		   unsigned long long limit, unsigned window, time_t now,
		   unsigned long long *count_r)
{
	uint64_t h = hash_fnv64_str(HASH_FNV64_INIT, key);
	size_t group;
	struct rate_entry *e;
	int allowed;

	*count_r = 0;
	if (t == NULL || limit == 0 || (unsigned)ev >= RATE_TABLE_COUNTERS)
		return 1;
	h = h != 0 ? h : 1;   /* 0 marks a free entry */
	group = (size_t)(h % (RATE_TABLE_SLOTS / RATE_TABLE_GROUP));
	if (rate_table_lock(t->fd, group, F_WRLCK) < 0) {
		log_warn("rate table lock: %s", strerror(errno));
		return 1;
	}
	e = rate_table_slot(t->e + group * RATE_TABLE_GROUP, h, window, now);
	/* A window that ended (or lies in the future: the clock went back)
	 * starts over, as does an entry taken from another key. */
	if (e->key != h || e->start > now || now - e->start >= (int64_t)window) {
		memset(e, 0, sizeof(*e));
		e->key = h;
		e->start = now;
	}
	allowed = e->count[ev] < limit;
	if (allowed && e->count[ev] < UINT32_MAX)
		e->count[ev]++;
	*count_r = e->count[ev];
	if (rate_table_lock(t->fd, group, F_UNLCK) < 0)
		log_warn("rate table unlock: %s", strerror(errno));
	return allowed;
}

void rate_table_close(struct rate_table **t)
{
	if (*t == NULL)
		return;
	munmap((*t)->e, RATE_TABLE_BYTES);
	close((*t)->fd);
	free(*t);
	*t = NULL;
}
