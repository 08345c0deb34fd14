/* config_snapshot: the accepted postern.conf, passed from the master to
 * its children.
 *
 * Offers: the master loads postern.conf with config_snapshot_load(): the
 * text is parsed (all or nothing, config_parse) and, when valid, copied
 * into a memfd sealed against any write, growth or shrinking, which the
 * master passes to each child as fd CONFIG_SNAPSHOT_FD.  A child reads
 * its settings from there (config_snapshot_read) instead of the file, so
 * a file edited since the last accepted reload, even a broken one, does
 * not reach a process the master starts for a new client or a restart.
 *
 * Trusts: the snapshot only as the file: it is parsed again in the child
 * with the same limits.  The seals keep a compromised child, which holds
 * the same open file, from changing what its siblings will read.
 *
 * Fails: -1 with a "name:line: message" error in a static buffer; the
 * settings in force are untouched on any failure. */
#include "config_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "fsutil.h"

#define CONFIG_SNAPSHOT_MAX (1024 * 1024)   /* config.c's file limit */

static char config_snapshot_error[512];

static int config_snapshot_fail(const char *name, const char *what, const char **error_r)
{
	snprintf(config_snapshot_error, sizeof config_snapshot_error, "%s:0: %s: %s", name, what,
		 errno == EFBIG ? "file larger than 1 MiB" : strerror(errno));
	*error_r = config_snapshot_error;
	return -1;
}

/* A sealed memfd holding text; -1 (errno) on failure. */
static int config_snapshot_seal(const char *text, size_t len)
{
	int fd = memfd_create("postern.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int config_snapshot_load(const char *path, int *fd_r, const char **error_r)
{
	struct buf text;
	int fd;

	buf_init(&text, CONFIG_SNAPSHOT_MAX);
	if (file_read_all(path, 0, &text, CONFIG_SNAPSHOT_MAX) < 0) {
		buf_free(&text);
		return config_snapshot_fail(path, "cannot read", error_r);
	}
	fd = config_snapshot_seal(buf_cstr(&text), text.len);
	if (fd < 0) {
		buf_free(&text);
		return config_snapshot_fail(path, "cannot make the snapshot", error_r);
	}
	if (config_parse(path, buf_cstr(&text), text.len, error_r) < 0) {
		close(fd);
		buf_free(&text);
		return -1;
	}
	buf_free(&text);
	*fd_r = fd;
	return 0;
}

int config_snapshot_read(int fd, const char *name, const char **error_r)
{
	struct buf text;
	struct stat st;
	char chunk[8192];
	off_t off = 0;
	int r;

	if (fstat(fd, &st) < 0)
		return config_snapshot_fail(name, "snapshot", error_r);
	if (st.st_size > CONFIG_SNAPSHOT_MAX) {
		errno = EFBIG;
		return config_snapshot_fail(name, "snapshot", error_r);
	}
	buf_init(&text, CONFIG_SNAPSHOT_MAX);
	while (off < st.st_size) {
		ssize_t n = pread(fd, chunk, sizeof chunk, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || buf_append(&text, chunk, (size_t)n) < 0) {
			if (n == 0)
				errno = EIO;   /* sealed: it cannot have shrunk */
			buf_free(&text);
			return config_snapshot_fail(name, "snapshot", error_r);
		}
		off += n;
	}
	r = config_parse(name, buf_cstr(&text), text.len, error_r);
	buf_free(&text);
	return r;
}
