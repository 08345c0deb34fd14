/* sandbox_int: what sandbox.c and sandbox_landlock.c share, and the
 * pure parts the unit test checks. */
#ifndef POSTERN_SANDBOX_INT_H
#define POSTERN_SANDBOX_INT_H

#include <stdint.h>

#include "sandbox.h"

/* Whether the profile may change files beneath its root. */
int sandbox_profile_writes(enum sandbox_profile p);
/* Restrict the file system with Landlock (or log that the kernel cannot). */
void sandbox_landlock(enum sandbox_profile p, int chrooted);
/* The Landlock ABI version: 1 or more, or 0 (and a log line) without. */
int sandbox_landlock_abi(void);
/* The file system rights Landlock ABI abi can restrict. */
uint64_t sandbox_landlock_handled(int abi);
/* What a profile may do beneath its root, out of handled. */
uint64_t sandbox_landlock_root_rights(enum sandbox_profile p, uint64_t handled);

#endif
