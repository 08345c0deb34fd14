/* libFuzzer target for cdbmap_compile (common/cdbmap.c): the input is a
 * text map, written to a temporary source file and compiled to a
 * temporary cdb.  Never a crash, a leak or a half-written map; on
 * success every `key value` line of the input must be found (in any
 * case) with its value trimmed of white space, and an overlong key must
 * simply not be found.  The files are DIR/fuzz_cdbmap.PID.{src,cdb},
 * created once per process and removed at exit, DIR /dev/shm when there
 * is one (else /tmp): the compile fsyncs the map it writes, which on a
 * disk costs more than all the rest of an input, and on tmpfs nothing. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cdbmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_KEY_MAX 1024      /* CDBMAP_KEY_MAX */
#define FUZZ_LOOKUPS_MAX 256   /* keys checked per input */

static char src_path[64], dst_path[64];
static int src_fd = -1;

static void cleanup(void)
{
	if (src_fd >= 0)
		close(src_fd);
	unlink(src_path);
	unlink(dst_path);
}

static int setup(void)
{
	long pid = (long)getpid();
	const char *dir;

	if (src_fd >= 0)
		return 0;
	dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if (snprintf(src_path, sizeof(src_path), "%s/fuzz_cdbmap.%ld.src", dir, pid) >= (int)sizeof(src_path) ||
	    snprintf(dst_path, sizeof(dst_path), "%s/fuzz_cdbmap.%ld.cdb", dir, pid) >= (int)sizeof(dst_path))
		abort();
	src_fd = open(src_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (src_fd < 0)
		return -1;
	atexit(cleanup);
	return 0;
}

static int write_source(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(src_fd, 0) < 0)
		return -1;
	while (off < size) {
		ssize_t w = pwrite(src_fd, data + off, size - off, (off_t)off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static int map_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Check the line s[0, n) (no LF) against the compiled map; 1 if it was
 * looked up. */
static int check_line(struct cdbmap *map, struct buf *val, const char *s, size_t n)
{
	char upper[FUZZ_KEY_MAX];
	size_t i = 0, k, v;

	while (i < n && map_space(s[i]))
		i++;
	if (i == n || s[i] == '#')
		return 0;
	for (k = i; k < n && !map_space(s[k]); k++)
		;
	for (v = k; v < n && map_space(s[v]); v++)
		;
	while (n > v && map_space(s[n - 1]))
		n--;
	if (k - i > FUZZ_KEY_MAX)
		abort();   /* compile documents this as an error */
	if (cdbmap_lookup(map, s + i, k - i, val) != 1 || val->len != n - v ||
	    memcmp(buf_cstr(val), s + v, n - v) != 0)
		abort();
	/* Lookups fold case like compile did. */
	for (size_t j = i; j < k; j++)
		upper[j - i] = s[j] >= 'a' && s[j] <= 'z' ? (char)(s[j] - 'a' + 'A') : s[j];
	if (cdbmap_lookup(map, upper, k - i, val) != 1 || val->len != n - v ||
	    memcmp(buf_cstr(val), s + v, n - v) != 0)
		abort();
	return 1;
}

static void check_map(const uint8_t *data, size_t size)
{
	static char longkey[FUZZ_KEY_MAX + 1];
	const char *text = (const char *)data;
	struct cdbmap *map = NULL;
	const char *error = NULL;
	struct buf val;
	size_t pos = 0;
	int checked = 0;

	if (cdbmap_open(dst_path, &map, &error) < 0)
		abort();   /* compile said yes: the map must open */
	buf_init(&val, 64 * 1024);
	while (pos < size && checked < FUZZ_LOOKUPS_MAX) {
		const uint8_t *lf = memchr(data + pos, '\n', size - pos);
		size_t end = lf != NULL ? (size_t)(lf - data) : size;

		checked += check_line(map, &val, text + pos, end - pos);
		pos = end + 1;
	}
	memset(longkey, 'a', sizeof(longkey));
	if (cdbmap_lookup(map, longkey, sizeof(longkey), &val) != 0)
		abort();
	buf_free(&val);
	cdbmap_close(&map);
	if (map != NULL)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *error = NULL;

	if (setup() < 0 || write_source(data, size) < 0)
		return 0;   /* broken environment, not a finding */
	unlink(dst_path);
	if (cdbmap_compile(src_path, dst_path, &error) == 0)
		check_map(data, size);
	else if (error == NULL || access(dst_path, F_OK) == 0)
		abort();   /* a failed compile leaves no map behind */
	return 0;
}
