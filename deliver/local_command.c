/* local_command: delivery to `|command` targets of the aliases map.
 *
 * Offers: local_command_start(), called by local before its privilege
 * drop, forks a helper process that stays outside the mail root's
 * chroot (where /bin/sh is) and drops to local_command_user; and
 * local_command_run(), which asks the helper to run one alias command
 * with the message on its standard input.  The helper runs
 * `/bin/sh -c COMMAND` with fork + execve, in its own process group,
 * with an environment built from scratch: SENDER, RECIPIENT, LOCAL,
 * DOMAIN, QUEUE_ID, HOME=/, SHELL=/bin/sh, PATH=/usr/bin:/bin.  Envelope
 * values only ever go into the environment, with every byte outside
 * [A-Za-z0-9@._+=-] replaced by '_', never into the command line
 * (OpenSMTPD CVE-2020-7247 is the lesson).  Standard input is
 * `Return-Path:` and `Delivered-To:` followed by the message; standard
 * output and error are kept (first LOCAL_CMD_OUTPUT_MAX bytes) for the
 * answer's reason.  local_command_timeout bounds the whole run; after
 * it the process group gets SIGKILL.
 *
 * Trusts: local only for which alias it asks about.  The helper runs a
 * command only if that exact text is a `|command` target of the named
 * key in its own copy of aliases.cdb (opened before the drop), so even a
 * compromised local cannot make it run anything the operator did not
 * write.  The request record is read with record_parse's limits.
 *
 * Fails: exit status per sysexits(3): 0 delivered; 75 (EX_TEMPFAIL)
 * deferred 4.3.0; 67 (EX_NOUSER) failed 5.1.1; 77 (EX_NOPERM) failed
 * 5.7.1; any other status 64..78 failed 5.3.0; other non-zero statuses,
 * signals and the timeout deferred 4.3.0 (an unknown failure is not a
 * reason to lose mail).  A dead helper defers the recipient; the local
 * process then exits so that the master starts a fresh pair. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "alias.h"
#include "config.h"
#include "daemon.h"
#include "fdrecord.h"
#include "local.h"
#include "log.h"
#include "privdrop.h"
#include "queuefile.h"
#include "record.h"
#include "sandbox.h"
#include "sockets.h"

#define LOCAL_CMD_REQUEST_MAX 32768   /* one helper request (prepended fields escaped included) */
#define LOCAL_CMD_OUTPUT_MAX 200      /* command output kept for the reason */
#define LOCAL_CMD_ENV_MAX 16
#define LOCAL_CMD_BLOCK 65536

/* ---- both sides: one record over the socket ---- */

/* Read one record (and at most max_fds descriptors) from sock into b.
 * 1 read, 0 EOF, -1 error or timeout (no descriptor left open). */
static int local_cmd_read(int sock, struct buf *b, int max_fds, int *fd_r, int timeout_ms)
{
	const struct fdrecord_wait w = { .first_ms = timeout_ms, .next_ms = timeout_ms };
	size_t end;

	return fdrecord_read(sock, 0, b, max_fds, &w, &end, fd_r);
}

static int local_cmd_write(int sock, int fd, const struct buf *b)
{
	size_t off = 0;

	if (fd >= 0) {
		if (fd_send(sock, fd, b->data, 1) < 0)
			return -1;
		off = 1;
	}
	while (off < b->len) {
		ssize_t n = write(sock, b->data + off, b->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* ---- the helper ---- */

static void local_cmd_clean(char *out, size_t outlen, const char *in)
{
	size_t i = 0;

	for (; in[i] != '\0' && i + 1 < outlen; i++) {
		char c = in[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 strchr("@._+=-", c) != NULL;
		out[i] = ok ? c : '_';
	}
	out[i] = '\0';
}

/* Whether cmd is a command target of alias key. */
static int local_cmd_allowed(struct cdbmap *aliases, const char *key, const char *cmd)
{
	struct alias_list list = { 0 };
	struct buf v;
	const char *error;
	int ok = 0;

	buf_init(&v, ALIAS_VALUE_MAX);
	if (aliases != NULL && cdbmap_lookup(aliases, key, strlen(key), &v) > 0 &&
	    alias_parse(v.data, v.len, &list, &error) == 0)
		for (size_t i = 0; i < list.n && !ok; i++)
			ok = list.t[i].kind == ALIAS_COMMAND && strcmp(list.t[i].text, cmd) == 0;
	alias_list_free(&list);
	buf_free(&v);
	return ok;
}

struct local_cmd_job {
	const char *cmd, *sender, *rcpt, *queue_id;
	const char *prepend;         /* header fields before the message ("" none) */
	int fd;
	off_t offset, size;
	char output[LOCAL_CMD_OUTPUT_MAX + 1];
	size_t outlen;
};

static _Noreturn void local_cmd_exec(const struct local_cmd_job *j, int in_fd, int out_fd)
{
	static char env_store[LOCAL_CMD_ENV_MAX][ADDRESS_PATH_MAX + 32];
	char *envp[LOCAL_CMD_ENV_MAX + 1], clean[ADDRESS_PATH_MAX + 1], dom[ADDRESS_PATH_MAX + 1];
	const char *at = strrchr(j->rcpt, '@');
	size_t n = 0;
	char *argv[] = { "sh", "-c", (char *)j->cmd, NULL };

	setpgid(0, 0);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		_exit(75);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	local_cmd_clean(clean, sizeof clean, j->sender);
	snprintf(env_store[n], sizeof env_store[n], "SENDER=%s", clean), n++;
	local_cmd_clean(clean, sizeof clean, j->rcpt);
	snprintf(env_store[n], sizeof env_store[n], "RECIPIENT=%s", clean), n++;
	/* The domain is envelope data like the rest: cleaned, never raw. */
	local_cmd_clean(dom, sizeof dom, at != NULL ? at + 1 : "");
	snprintf(env_store[n], sizeof env_store[n], "DOMAIN=%s", dom), n++;
	if (at != NULL)
		clean[at - j->rcpt < (long)sizeof clean ? at - j->rcpt : 0] = '\0';
	snprintf(env_store[n], sizeof env_store[n], "LOCAL=%s", clean), n++;
	local_cmd_clean(clean, sizeof clean, j->queue_id);
	snprintf(env_store[n], sizeof env_store[n], "QUEUE_ID=%s", clean), n++;
	snprintf(env_store[n], sizeof env_store[n], "HOME=/"), n++;
	snprintf(env_store[n], sizeof env_store[n], "SHELL=/bin/sh"), n++;
	snprintf(env_store[n], sizeof env_store[n], "PATH=/usr/local/bin:/usr/bin:/bin"), n++;
	for (size_t i = 0; i < n; i++)
		envp[i] = env_store[i];
	envp[n] = NULL;
	execve("/bin/sh", argv, envp);
	_exit(75);   /* EX_TEMPFAIL: try again later */
}

static long long local_cmd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Feed the message to in_fd and collect output from out_fd until the
 * command closes its output or the deadline passes. 0, or -1 timeout. */
static int local_cmd_pump(struct local_cmd_job *j, int in_fd, int out_fd, const struct buf *prefix,
			  long long deadline)
{
	static char block[LOCAL_CMD_BLOCK];
	size_t bpos = 0, blen = 0;
	off_t done = 0;

	fd_set_nonblock(in_fd, 1);
	fd_set_nonblock(out_fd, 1);
	memcpy(block, prefix->data, prefix->len);
	blen = prefix->len;
	while (out_fd >= 0) {
		struct pollfd p[2] = { { .fd = out_fd, .events = POLLIN }, { .fd = in_fd, .events = POLLOUT } };
		long long left = deadline - local_cmd_now_ms();
		if (left <= 0)
			return -1;
		if (in_fd >= 0 && bpos == blen) {
			if (done >= j->size) {
				close(in_fd);   /* EOF for the command */
				in_fd = -1;
				continue;
			}
			size_t want = j->size - done < (off_t)sizeof block ? (size_t)(j->size - done) : sizeof block;
			ssize_t n = pread(j->fd, block, want, j->offset + done);
			if (n <= 0) {
				close(in_fd);
				in_fd = -1;
				continue;
			}
			bpos = 0;
			blen = (size_t)n;
			done += n;
		}
		if (poll(p, in_fd >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			return -1;
		if (p[0].revents) {
			char tmp[4096];
			ssize_t n = read(out_fd, tmp, sizeof tmp);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
				close(out_fd);
				out_fd = -1;
			} else if (n > 0 && j->outlen < LOCAL_CMD_OUTPUT_MAX) {
				size_t k = (size_t)n < LOCAL_CMD_OUTPUT_MAX - j->outlen ? (size_t)n
					   : LOCAL_CMD_OUTPUT_MAX - j->outlen;
				memcpy(j->output + j->outlen, tmp, k);
				j->outlen += k;
			}
		}
		if (in_fd >= 0 && p[1].revents) {
			ssize_t n = write(in_fd, block + bpos, blen - bpos);
			if (n > 0)
				bpos += (size_t)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				close(in_fd);   /* the command stopped reading (EPIPE): fine */
				in_fd = -1;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	return 0;
}

/* Wait for pid until deadline; SIGKILL its group after. Status or -1. */
static int local_cmd_wait(pid_t pid, long long deadline, int *timed_out_r)
{
	int status;

	*timed_out_r = 0;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		if (local_cmd_now_ms() >= deadline) {
			*timed_out_r = 1;
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		poll(NULL, 0, 20);
	}
}

static void local_cmd_status(int status, int timed_out, const struct local_cmd_job *j,
			     struct local_result *r)
{
	char out[LOCAL_CMD_OUTPUT_MAX + 1];
	size_t n = 0;

	for (; n < j->outlen && j->output[n] != '\n'; n++)
		out[n] = (unsigned char)j->output[n] < 0x20 || j->output[n] == 0x7f ? ' ' : j->output[n];
	out[n] = '\0';
	/* what the command printed, after ": ", or nothing */
	const char *sep = n > 0 ? ": " : "";
	if (timed_out)
		local_result_set(r, "deferred", "4.3.0", "command timed out");
	else if (WIFSIGNALED(status))
		local_result_set(r, "deferred", "4.3.0", "command killed by signal %d", WTERMSIG(status));
	else if (WEXITSTATUS(status) == 0)
		local_result_set(r, "delivered", "2.0.0", "delivered to command");
	else if (WEXITSTATUS(status) == 75)
		local_result_set(r, "deferred", "4.3.0", "command exit 75 (EX_TEMPFAIL)%s%s", sep, out);
	else if (WEXITSTATUS(status) >= 64 && WEXITSTATUS(status) <= 78)
		local_result_set(r, "failed", WEXITSTATUS(status) == 67 ? "5.1.1" :
				 WEXITSTATUS(status) == 77 ? "5.7.1" : "5.3.0",
				 "command exit %d%s%s", WEXITSTATUS(status), sep, out);
	else
		local_result_set(r, "deferred", "4.3.0", "command exit %d%s%s", WEXITSTATUS(status), sep, out);
}

static void local_cmd_execute(struct local_cmd_job *j, struct local_result *r)
{
	long long deadline = local_cmd_now_ms() + (long long)config_time("local_command_timeout") * 1000;
	int in[2], out[2], timed_out = 0, status;
	struct buf prefix;
	pid_t pid;

	buf_init(&prefix, 2 * ADDRESS_PATH_MAX + 64 + QUEUEFILE_PREPEND_MAX);
	if (buf_printf(&prefix, "Return-Path: <%s>\nDelivered-To: %s\n", j->sender, j->rcpt) < 0 ||
	    buf_append_str(&prefix, j->prepend) < 0 ||
	    pipe2(in, O_CLOEXEC) < 0) {
		local_result_set(r, "deferred", "4.3.0", "cannot set up command");
		buf_free(&prefix);
		return;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		local_result_set(r, "deferred", "4.3.0", "cannot set up command");
		buf_free(&prefix);
		return;
	}
	pid = fork();
	if (pid == 0)
		local_cmd_exec(j, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		local_result_set(r, "deferred", "4.3.0", "cannot fork: %s", strerror(errno));
		buf_free(&prefix);
		return;
	}
	timed_out = local_cmd_pump(j, in[1], out[0], &prefix, deadline) < 0;
	status = local_cmd_wait(pid, timed_out ? 0 : deadline, &timed_out);
	local_cmd_status(status, timed_out, j, r);
	buf_free(&prefix);
}

/* Answer one request of local. */
static int local_cmd_serve_one(const struct local_ctx *ctx, int sock, struct buf *in)
{
	struct record rec = { 0 };
	struct local_cmd_job j = { 0 };
	struct local_result r;
	unsigned long long off, size;
	const char *error, *key;
	struct buf ans;
	size_t used;
	int fd, got = local_cmd_read(sock, in, 1, &fd, -1);

	if (got <= 0)
		return -1;
	buf_init(&ans, 4096);
	if (fd < 0 || record_parse(in->data, in->len, &rec, &used, &error) < 0 ||
	    (key = record_get(&rec, "key")) == NULL || (j.cmd = record_get(&rec, "command")) == NULL ||
	    (j.sender = record_get(&rec, "sender")) == NULL || (j.rcpt = record_get(&rec, "rcpt")) == NULL ||
	    (j.queue_id = record_get(&rec, "queue_id")) == NULL ||
	    record_get_num(&rec, "offset", &off) < 0 || record_get_num(&rec, "size", &size) < 0) {
		local_result_set(&r, "deferred", "4.3.0", "bad command request");
	} else if (!local_cmd_allowed(ctx->aliases, key, j.cmd)) {
		log_warn("refused to run a command that is not in aliases under %s", key);
		local_result_set(&r, "deferred", "4.3.5", "command not found in aliases");
	} else {
		j.fd = fd;
		j.prepend = record_get(&rec, "prepend");
		if (j.prepend == NULL || !queuefile_prepend_valid(j.prepend, strlen(j.prepend)))
			j.prepend = "";
		j.offset = (off_t)off;
		j.size = (off_t)size;
		local_cmd_execute(&j, &r);
	}
	if (fd >= 0)
		close(fd);
	record_clear(&rec);
	if (record_put_str(&ans, "status", r.status) < 0 || record_put_str(&ans, "dsn", r.dsn) < 0 ||
	    record_put_str(&ans, "reason", r.reason) < 0 || record_end(&ans) < 0 ||
	    local_cmd_write(sock, -1, &ans) < 0) {
		buf_free(&ans);
		return -1;
	}
	buf_free(&ans);
	return 0;
}

static _Noreturn void local_cmd_helper(const struct local_ctx *ctx, int sock)
{
	const char *error;
	struct buf in;

	if (ctx->d->listen_fd >= 0)
		close(ctx->d->listen_fd);
	if (ctx->d->status_fd >= 0)
		close(ctx->d->status_fd);
	if (chdir("/") < 0)
		log_fatal("command helper: chdir /: %s", strerror(errno));
	if (priv_drop(getuid() == 0 ? config_str("local_command_user") : NULL, NULL, &error) < 0)
		log_fatal("command helper: %s", error);
	/* Forked before local confined itself: the helper and the commands
	 * it runs take local's deny-list here (a filter passes only to
	 * children forked after it), with EPERM for a denied call. */
	sandbox_enter(SANDBOX_COMMAND, 0);
	buf_init(&in, LOCAL_CMD_REQUEST_MAX);
	while (local_cmd_serve_one(ctx, sock, &in) == 0)
		;
	_exit(0);
}

void local_command_start(struct local_ctx *ctx)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		log_fatal("socketpair: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		log_fatal("fork: %s", strerror(errno));
	if (pid == 0) {
		close(sv[0]);
		local_cmd_helper(ctx, sv[1]);
	}
	close(sv[1]);
	ctx->command_fd = sv[0];
}

/* ---- local's side ---- */

void local_command_run(const struct local_ctx *ctx, const struct local_msg *m, const char *key,
		       const char *cmd, const char *rcpt, const char *prefix_to,
		       struct local_result *r)
{
	struct buf req, ans;
	struct record rec = { 0 };
	const char *error, *st, *dsn, *reason;
	size_t used;
	int fd, wait_ms = local_ms(config_time("local_command_timeout") + 30);

	(void)prefix_to;
	buf_init(&req, LOCAL_CMD_REQUEST_MAX);
	buf_init(&ans, LOCAL_CMD_REQUEST_MAX);
	if (record_put_str(&req, "key", key) < 0 || record_put_str(&req, "command", cmd) < 0 ||
	    record_put_str(&req, "sender", m->sender) < 0 || record_put_str(&req, "rcpt", rcpt) < 0 ||
	    record_put_str(&req, "queue_id", m->queue_id) < 0 ||
	    record_put_num(&req, "offset", (unsigned long long)m->offset) < 0 ||
	    record_put_num(&req, "size", (unsigned long long)m->size) < 0 ||
	    (m->prepend_len > 0 && record_put(&req, "prepend", m->prepend, m->prepend_len) < 0) ||
	    record_end(&req) < 0) {
		local_result_set(r, "deferred", "4.3.0", "command request too large");
	} else if (ctx->command_fd < 0 || local_cmd_write(ctx->command_fd, m->fd, &req) < 0 ||
		   local_cmd_read(ctx->command_fd, &ans, 0, &fd, wait_ms) <= 0 ||
		   record_parse(ans.data, ans.len, &rec, &used, &error) < 0 ||
		   (st = record_get(&rec, "status")) == NULL || (dsn = record_get(&rec, "dsn")) == NULL ||
		   (reason = record_get(&rec, "reason")) == NULL) {
		/* The helper is gone or confused: defer, and let the master
		 * give us a fresh helper. */
		log_warn("%s: command helper failed; restarting", m->queue_id);
		local_result_set(r, "deferred", "4.3.0", "command helper failed");
		kill(getpid(), SIGTERM);
	} else {
		const char *status = strcmp(st, "delivered") == 0 ? "delivered" :
				     strcmp(st, "failed") == 0 ? "failed" : "deferred";
		/* Only codes that mean something here are taken from the helper. */
		local_result_set(r, status, strcmp(status, "delivered") == 0 ? "2.0.0" :
				 strcmp(status, "failed") == 0 ? "5.3.0" : "4.3.0", "%s", reason);
		if (strcmp(status, "failed") == 0 && strcmp(dsn, "5.1.1") == 0)
			snprintf(r->dsn, sizeof r->dsn, "5.1.1");
		else if (strcmp(status, "failed") == 0 && strcmp(dsn, "5.7.1") == 0)
			snprintf(r->dsn, sizeof r->dsn, "5.7.1");
	}
	record_clear(&rec);
	buf_free(&req);
	buf_free(&ans);
}
