/* master: the supervisor's shared state.  One struct service per line of
 * master.conf; one struct child per running process. */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "master_line.h"

#define MASTER_MAX_SERVICES 64
#define MASTER_MAX_ARGS MASTER_LINE_ARGS_MAX

enum service_type { SERVICE_INET, SERVICE_UNIX };

struct service {
	char name[33];
	enum service_type type;
	char listen[256];
	char user[33];
	char root[256];              /* relative to DIR, or "-" */
	unsigned maxproc;
	char command[65];
	char *args[MASTER_MAX_ARGS]; /* extra arguments (owned) */
	size_t nargs;

	int listen_fd;               /* -1 when not bound */
	int status_r, status_w;      /* status pipe: children write, we read */
	double status_resume;        /* master_now(): poll status_r again from then on */
	unsigned count;              /* live children of this generation */
	unsigned idle;               /* of them, not serving a client */
	unsigned finishing;          /* children told to stop (a reload, a spare too many) that
				      * have not exited: not counted against maxproc, but shown
				      * (master_service_processes) */
	unsigned crashes;            /* consecutive abnormal exits */
	double next_spawn;           /* monotonic time before which we wait */
	int retired;                 /* removed by a reload: no new children */
	int on_demand;               /* started when a client waits (master_service_on_demand) */
	int warm;                    /* on demand: a client came, so a spare is kept ready,
				      * until a process leaves idle (docs/master.md) */
	unsigned restarts;           /* abnormal exits since the master started (kept by reloads) */
	int metrics_sent;            /* the metrics service has count and restarts as below */
	unsigned long sent_count;
	unsigned sent_restarts;
};

struct child {
	pid_t pid;
	struct service *svc;
	int busy;
	int retiring;                /* told to stop: not counted, not restarted */
	double started;
	struct child *next;
};

/* master_conf.c */
/* Parse master.conf into svcs (at most MASTER_MAX_SERVICES). Count or -1 with *error_r. */
int master_conf_load(const char *path, struct service *svcs, size_t max, const char **error_r);
/* Free the parsed arguments of a service. */
void master_service_clear(struct service *svc);

/* master_service.c */
/* Bind svc's listener (or adopt old's when the address is unchanged). 0 or -1. */
int master_service_bind(struct service *svc, const char *base_dir);
/* Link into each root's private/ the unix listeners its processes use,
 * and remove the others'. 0 or -1. */
int master_service_link(struct service *svcs, size_t n, const char *base_dir);
/* Make the lifeline pipe whose read end every child gets as fd 5. 0 or -1. */
int master_lifeline_init(void);
/* Whether svc gets a process only when a client waits on its listener:
 * every service of the table but its resident ones; an operator's own
 * program and a connection front are kept running as before. */
int master_service_on_demand(const struct service *svc);
/* Start one child of svc, with the postern.conf snapshot conf_fd as its fd 6. 0 or -1. */
int master_service_spawn(struct service *svc, const char *base_dir, const char *etc_dir,
			 const char *program_dir, int conf_fd, int foreground, int verbose);
/* Read busy/idle reports from svc's status pipe. */
void master_service_status(struct service *svc);
/* A child ended: update counts, log, schedule a restart with backoff. */
void master_child_exited(pid_t pid, int status, int stopping);
/* Find a child by pid, or NULL. */
struct child *master_child_find(pid_t pid);
/* Send sig to every child (or only those of svc when svc != NULL); mark them retiring. */
void master_children_signal(struct service *svc, int sig, int retire);
/* The system stops: tell every child serving a client, and each that
 * starts serving one from now on, to end its session now (SIGUSR1). */
void master_children_hurry(void);
/* Number of live children. */
size_t master_children_count(void);
/* Processes of svc now: this generation's and those still finishing. */
unsigned long master_service_processes(const struct service *svc);
/* Whether svc takes clients from outside: an inet service, or a network
 * program (smtpd, popd, imapd) on a Unix socket that the connection
 * front feeds (docs/front.md).  A stop lets these finish first. */
int master_service_faces_clients(const struct service *svc);
/* Number of live children of the services that face clients (facing
 * 1) or of the others (0). */
size_t master_children_facing(int facing);
/* Monotonic seconds. */
double master_now(void);

/* master_metrics.c */
/* Make or close the event socket pair as master.conf has a metrics service or not. */
void master_metrics_update(struct service *svcs, size_t n);
/* The descriptor a child of svc gets as fd 7: the receiving end for
 * the metrics service, the sending end for the others; -1 for none. */
int master_metrics_fd(const struct service *svc);
/* The descriptor a child of svc gets as fd 8: the metrics service's
 * counters (a memfd), -1 for every other service or none. */
int master_metrics_state_fd(const struct service *svc);
/* A child of started was started: a metrics process needs every state again. */
void master_metrics_started(struct service *svcs, size_t n, const struct service *started);
/* Send the processes and restarts of each service whose numbers changed. */
void master_metrics_report(struct service *svcs, size_t n);

/* master_auth_cache.c */
/* Make the authd processes' shared login cache anew (after each reading
 * of the configuration), or none. */
void master_auth_cache_update(struct service *svcs, size_t n);
/* The login cache memfd a child of svc gets (authd only); -1 for none. */
int master_auth_cache_fd(const struct service *svc);

/* master_group_commit.c */
/* Make the shared flush state of the enqueue, and of the local,
 * processes once there is such a service (kept across reloads). */
void master_group_commit_update(struct service *svcs, size_t n);
/* The group commit memfd a child of svc gets (enqueue, local); -1 for none. */
int master_group_commit_fd(const struct service *svc);

/* master_control.c */
/* Bind DIR/run/master.sock (root only), where `postern status` reads
 * the state of every service.  The descriptor, or -1 (logged). */
int master_control_open(const char *base_dir);
/* Answer every client waiting on fd with the state of svcs, then close it. */
void master_control_answer(int fd, const struct service *svcs, size_t n);

/* master_notify.c */
/* Take $NOTIFY_SOCKET (systemd) and remove it from the environment. */
void master_notify_init(void);
/* Send state ("READY=1", "STOPPING=1", ...: sd_notify(3) lines) when
 * there is a NOTIFY_SOCKET; a failure is logged only. */
void master_notify(const char *state);

#endif
