/* fdrecord: one record and at most one descriptor (see fdrecord.h).
 *
 * Trusts: nothing the peer sends; the caller bounds the buffer.  Fails:
 * -1 with errno, never a descriptor left open that the caller does not
 * know of. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fdrecord.h"
#include "sockets.h"

int fdrecord_recv(int sock, int plain, void *p, size_t cap, size_t *n_r, int *fd_r)
{
	ssize_t n;
	int fd = -1;

	*n_r = 0;
	do
		n = plain ? read(sock, p, cap) : fd_recv(sock, p, cap, &fd);
	while (n < 0 && errno == EINTR);
	if (fd >= 0 && *fd_r != -1) {
		close(fd);
		errno = EPROTO;
		return -1;
	}
	if (fd >= 0)
		*fd_r = fd;
	if (n < 0)
		return -1;
	*n_r = (size_t)n;
	return 0;
}

size_t fdrecord_end(const char *data, size_t len, size_t *scanned)
{
	size_t from = *scanned > 0 ? *scanned - 1 : 0;   /* "\n\n" may straddle two reads */
	const char *hit;

	if (len > 0 && data[0] == '\n')
		return 1;                                   /* the empty record */
	hit = len > from ? memmem(data + from, len - from, "\n\n", 2) : NULL;
	*scanned = len;
	return hit != NULL ? (size_t)(hit - data) + 2 : 0;
}
