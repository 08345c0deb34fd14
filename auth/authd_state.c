/* authd_state: one-time login tickets and failed-login counters.
 *
 * Offers: tickets (authd_ticket_issue / _redeem) that carry a login from
 * a login process to a session process, and throttling counters per
 * client address and per user (authd_throttle_*).  Both are kept as files
 * under DIR/run/auth/ (authd's working directory is DIR), so every authd
 * process of the service sees the same state, and it survives an authd
 * restart: the login processes come and go, authd sees every attempt.
 *
 *   run/auth/tickets/SHA256(TICKET)   "user=U\nservice=S\nexpires=T\n\n" (record text)
 *   run/auth/throttle/c-HASH          "FAILURES LAST-FAILURE-TIME\n" per client address
 *   run/auth/throttle/u-HASH          the same per existing user
 *
 * A ticket is 32 random bytes (getrandom), given out as 64 hex digits;
 * only its SHA-256 is stored, so reading the directory gives no usable
 * ticket.  Redeeming renames the file to a private name first: rename is
 * atomic, so of two concurrent redeemers exactly one wins (single use).
 * A ticket names the user and the service and expires after
 * auth_ticket_lifetime.  Counters decay: a failure older than
 * auth_failure_window resets its counter.
 *
 * Runs inside authd (postern-auth); the directory is 0700, owned by it.
 * Trusts: the files only as its own, but parses them bounded anyway.
 * Fails: a ticket that cannot be written is a temporary failure of the
 * login; a counter that cannot be read or written is treated as zero and
 * logged (throttling is a brake, not a lock). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "authd.h"
#include "config.h"
#include "fsutil.h"
#include "log.h"
#include "record.h"

#define AUTHD_TICKETS AUTHD_STATE_DIR "/tickets"
#define AUTHD_THROTTLE AUTHD_STATE_DIR "/throttle"
#define AUTHD_TICKET_FILE_MAX 4096
#define AUTHD_SWEEP_EVERY 64        /* sweep stale files every N writes */

static unsigned long authd_writes;

/* ---- helpers ---- */

static void authd_hex(const unsigned char *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* SHA-256 of s as 64 hex digits. */
static void authd_sha256_hex(const char *s, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		log_panic("SHA-256 failed");
	authd_hex(md, 32, out);
}

static int authd_mkdir(const char *path, uid_t uid, gid_t gid, int chown_it)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (chown_it && chown(path, uid, gid) < 0)
		return -1;
	return chmod(path, 0700);
}

/* Remove files in dir last changed more than max_age seconds ago. */
static void authd_sweep(const char *dir, time_t max_age)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    now - st.st_mtime > max_age)
			unlinkat(dirfd(d), de->d_name, 0);
	}
	closedir(d);
}

static time_t authd_ticket_lifetime(void)
{
	unsigned long long t = config_time("auth_ticket_lifetime");
	return t > 3600 ? 3600 : (time_t)t;
}

static time_t authd_window(void)
{
	unsigned long long t = config_time("auth_failure_window");
	return t > 365ULL * 86400 ? 365 * 86400 : (time_t)t;
}

static void authd_maybe_sweep(void)
{
	if (++authd_writes % AUTHD_SWEEP_EVERY != 0)
		return;
	authd_sweep(AUTHD_TICKETS, authd_ticket_lifetime() + 60);
	authd_sweep(AUTHD_THROTTLE, authd_window());
}

int authd_state_init(uid_t uid, gid_t gid, int chown_it)
{
	if (authd_mkdir(AUTHD_STATE_DIR, uid, gid, chown_it) < 0 ||
	    authd_mkdir(AUTHD_TICKETS, uid, gid, chown_it) < 0 ||
	    authd_mkdir(AUTHD_THROTTLE, uid, gid, chown_it) < 0)
		return -1;
	authd_sweep(AUTHD_TICKETS, authd_ticket_lifetime() + 60);
	authd_sweep(AUTHD_THROTTLE, authd_window());
	return 0;
}

/* ---- tickets ---- */

static int authd_ticket_path(const char *hex, char *out, size_t outlen)
{
	char h[65];

	authd_sha256_hex(hex, strlen(hex), h);
	return (size_t)snprintf(out, outlen, "%s/%s", AUTHD_TICKETS, h) < outlen ? 0 : -1;
}

int authd_ticket_issue(const char *user, const char *service, char hex_r[AUTHD_TICKET_HEX + 1])
{
	unsigned char raw[AUTHD_TICKET_BYTES];
	char path[256];
	struct buf b;
	int r = -1;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -1;
	authd_hex(raw, sizeof(raw), hex_r);
	explicit_bzero(raw, sizeof(raw));
	if (authd_ticket_path(hex_r, path, sizeof(path)) < 0)
		return -1;
	buf_init(&b, AUTHD_TICKET_FILE_MAX);
	if (record_put_str(&b, "user", user) < 0 || record_put_str(&b, "service", service) < 0 ||
	    record_put_num(&b, "expires", (unsigned long long)(time(NULL) + authd_ticket_lifetime())) < 0 ||
	    record_end(&b) < 0)
		goto out;
	/* Not fsynced: a ticket lives seconds, and a crash only costs a login. */
	if (atomic_file_write(AT_FDCWD, path, NULL, b.data, b.len, 0600, 0) < 0)
		goto out;
	authd_maybe_sweep();
	r = 0;
out:
	buf_free(&b);
	return r;
}

/* Take the ticket file away from everybody else: 1 taken (path_r holds
 * its private name), 0 not there. */
static int authd_ticket_take(const char *hex, char *mine, size_t minelen)
{
	char path[256];

	if (authd_ticket_path(hex, path, sizeof(path)) < 0 ||
	    (size_t)snprintf(mine, minelen, "%s.redeemed.%ld", path, (long)getpid()) >= minelen)
		return 0;
	return rename(path, mine) == 0;
}

int authd_ticket_redeem(const char *hex, const char *service, struct buf *user_r)
{
	char mine[320];
	struct buf text;
	struct record rec = { 0 };
	const char *err, *user, *svc;
	unsigned long long expires;
	size_t used;
	int r = 0;

	if (strlen(hex) != AUTHD_TICKET_HEX || strspn(hex, "0123456789abcdef") != AUTHD_TICKET_HEX)
		return 0;
	if (!authd_ticket_take(hex, mine, sizeof(mine)))
		return errno == ENOENT ? 0 : -1;
	buf_init(&text, AUTHD_TICKET_FILE_MAX);
	if (file_read_all(mine, O_NOFOLLOW, &text, AUTHD_TICKET_FILE_MAX) < 0) {
		r = -1;
		goto out;
	}
	if (record_parse(text.data, text.len, &rec, &used, &err) < 0 ||
	    (user = record_get(&rec, "user")) == NULL || (svc = record_get(&rec, "service")) == NULL ||
	    record_get_num(&rec, "expires", &expires) < 0) {
		log_warn("%s: damaged ticket file", mine);
		goto out;
	}
	if (strcmp(svc, service) != 0 || (unsigned long long)time(NULL) > expires)
		goto out;
	r = buf_set(user_r, user, strlen(user)) < 0 ? -1 : 1;
out:
	unlink(mine);
	record_clear(&rec);
	buf_free(&text);
	return r;
}

/* ---- throttling ---- */

/* run/auth/throttle/{c,u}-HASH for key, or -1 when key is NULL. */
static int authd_throttle_path(char kind, const char *key, char *out, size_t outlen)
{
	char h[65];

	if (key == NULL || *key == '\0')
		return -1;
	authd_sha256_hex(key, strlen(key), h);
	return (size_t)snprintf(out, outlen, "%s/%c-%s", AUTHD_THROTTLE, kind, h) < outlen ? 0 : -1;
}

/* Read (and with add, update) one counter under its flock.  The new
 * value; reset = 1 removes the file. */
static unsigned long authd_counter(char kind, const char *key, int add, int reset)
{
	char path[256], text[64];
	unsigned long count = 0;
	long long last = 0;
	time_t now = time(NULL);
	ssize_t n;
	int fd;

	if (authd_throttle_path(kind, key, path, sizeof(path)) < 0)
		return 0;
	if (reset) {
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("%s: %s", path, strerror(errno));
		return 0;
	}
	fd = open(path, (add ? O_RDWR | O_CREAT : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn("%s: %s", path, strerror(errno));
		return 0;
	}
	if (flock(fd, add ? LOCK_EX : LOCK_SH) == 0 && (n = pread(fd, text, sizeof(text) - 1, 0)) > 0) {
		text[n] = '\0';
		if (sscanf(text, "%lu %lld", &count, &last) != 2)
			count = 0;
	}
	if (now - last > authd_window())
		count = 0;   /* old failures are forgiven */
	if (add) {
		int len;
		if (count < 1000000)
			count++;
		len = snprintf(text, sizeof(text), "%lu %lld\n", count, (long long)now);
		if (pwrite(fd, text, (size_t)len, 0) != len || ftruncate(fd, len) < 0)
			log_warn("%s: %s", path, strerror(errno));
		authd_maybe_sweep();
	}
	close(fd);
	return count;
}

void authd_throttle_get(const char *client, const char *user, struct authd_throttle *t_r)
{
	t_r->client = authd_counter('c', client, 0, 0);
	t_r->user = authd_counter('u', user, 0, 0);
}

void authd_throttle_fail(const char *client, const char *user, struct authd_throttle *t_r)
{
	t_r->client = authd_counter('c', client, 1, 0);
	t_r->user = authd_counter('u', user, 1, 0);
}

void authd_throttle_reset(const char *client, const char *user)
{
	(void)authd_counter('c', client, 0, 1);
	(void)authd_counter('u', user, 0, 1);
}
