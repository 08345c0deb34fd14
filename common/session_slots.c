/* session_slots: per-key session limits across processes (see the header).
 *
 * Trusts: the key text comes from the caller (a peer address from
 * getpeername, a user name from authd).  Fails: a lock call that fails
 * for any reason but "held" is logged and the session is let in. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "hash.h"
#include "log.h"
#include "session_slots.h"

/* FNV-1a, 64 bits, folded to 40: spreads keys over the file. */
static unsigned long long session_slots_hash(const char *key)
{
	unsigned long long h = hash_fnv64_str(HASH_FNV64_INIT, key);

	return (h ^ (h >> 40)) & ((1ULL << 40) - 1);
}

static int session_slots_lock(int fd, long long off, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)off;
	fl.l_len = 1;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

int session_slots_open(const char *path, const char *what)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0)
		log_warn("%s: %s; %s is not enforced", path, strerror(errno), what);
	return fd;
}

int session_slots_acquire(int fd, const char *key, unsigned long long limit, long long *slot_r)
{
	*slot_r = -1;
	if (fd < 0 || limit == 0)
		return 1;
	if (limit > SESSION_SLOTS_STRIDE)
		limit = SESSION_SLOTS_STRIDE;
	long long base = (long long)(session_slots_hash(key) * SESSION_SLOTS_STRIDE);
	for (unsigned long long k = 0; k < limit; k++) {
		if (session_slots_lock(fd, base + (long long)k, F_WRLCK) == 0) {
			*slot_r = base + (long long)k;
			return 1;
		}
		if (errno != EAGAIN && errno != EACCES) {
			log_warn("session slot lock: %s", strerror(errno));
			return 1;
		}
	}
	return 0;
}

void session_slots_release(int fd, long long slot)
{
	if (fd >= 0 && slot >= 0 && session_slots_lock(fd, slot, F_UNLCK) < 0)
		log_warn("session slot unlock: %s", strerror(errno));
}
