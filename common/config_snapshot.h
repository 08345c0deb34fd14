/* config_snapshot: postern.conf as the master last accepted it, handed
 * to every child as a sealed in-memory file, so that an edited file
 * changes nothing until a reload accepts it. */
#ifndef POSTERN_CONFIG_SNAPSHOT_H
#define POSTERN_CONFIG_SNAPSHOT_H

/* The descriptor a child finds the snapshot on, and the variable naming it. */
#define CONFIG_SNAPSHOT_FD 6
#define CONFIG_SNAPSHOT_ENV "POSTERN_CONF_FD"

/* Load path like config_load and, only if it is valid, return in *fd_r a
 * new sealed, read-only snapshot of its text (close-on-exec).  0, or -1
 * with *error_r ("file:line: message"); the settings are unchanged then. */
int config_snapshot_load(const char *path, int *fd_r, const char **error_r);
/* Load the settings from a snapshot descriptor (read with pread: the
 * offset is shared by every process holding it); name is used in error
 * messages.  0, or -1 with *error_r. */
int config_snapshot_read(int fd, const char *name, const char **error_r);

#endif
