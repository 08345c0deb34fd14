/* queue_scan: counting a queue directory without reading its files.
 *
 * Offers: queue_scan_dir() (queue_scan.h).  The age of a message comes
 * from its queue ID, which begins with its arrival time (docs/queue.md,
 * "Queue IDs"), so no file is opened or even stat()ed: the metrics
 * service reads the directories through descriptors it opened before
 * it gave up the rights to look inside them.
 *
 * Trusts: directory entries as names only; a name that is not a queue
 * ID is counted but has no age.
 *
 * Fails: -1 with errno when the directory cannot be read; a limit stops
 * the count there and says so (capped), never silently. */
#include "queue_scan.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static const char *const queue_scan_states[QUEUE_SCAN_STATES] = {
	"incoming", "active", "deferred", "hold",
};

const char *queue_scan_state(size_t i)
{
	return i < QUEUE_SCAN_STATES ? queue_scan_states[i] : NULL;
}

time_t queue_scan_id_time(const char *name)
{
	size_t len = strlen(name);
	time_t t = 0;

	/* 8 digits of seconds, 5 of microseconds, at least 1 of inode, at most 32 */
	if (len < 14 || len > 32)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return 0;
		if (i < 8)
			t = t * 16 + v;
	}
	return t;
}

int queue_scan_dir(int dirfd, size_t limit, struct queue_scan *r)
{
	int fd = dup(dirfd);   /* closedir closes it; dirfd stays ours */
	DIR *dir;
	struct dirent *de;

	memset(r, 0, sizeof *r);
	if (fd < 0)
		return -1;
	if ((dir = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	/* the duplicate shares the offset: start from the beginning */
	rewinddir(dir);
	while ((de = readdir(dir)) != NULL) {
		time_t t;
		if (de->d_name[0] == '.')
			continue;
		if (r->messages == limit) {
			r->capped = 1;
			break;
		}
		r->messages++;
		t = queue_scan_id_time(de->d_name);
		if (t != 0 && (r->oldest == 0 || t < r->oldest))
			r->oldest = t;
	}
	closedir(dir);
	return 0;
}
