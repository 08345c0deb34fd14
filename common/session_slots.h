/* session_slots: at most N sessions per key (a client address, a user)
 * across every process of a service, counted by byte-range locks on one
 * shared file.  A session takes a slot by locking one byte with an
 * open-file-description lock (F_OFD_SETLK, non-blocking) at offset
 * H * SESSION_SLOTS_STRIDE + k, where H is a 40-bit hash of the key and
 * k < the limit; when every k is held by other sessions the key has its
 * limit.  The kernel drops a lock when its process dies, so a crashed
 * process can never leak a slot, and nothing is ever written to the
 * file.  Two keys with the same 40-bit hash would share slots; that
 * costs at worst an early refusal. */
#ifndef POSTERN_SESSION_SLOTS_H
#define POSTERN_SESSION_SLOTS_H

#define SESSION_SLOTS_STRIDE 4096ULL   /* bytes per key hash: a limit is at most this */

/* Open (creating, 0600) the slot file at path, before the privilege
 * drop.  fd, or -1 (logged: the limit named what is then not enforced). */
int session_slots_open(const char *path, const char *what);
/* Take a slot for key under limit (0: no limit).  1 with *slot_r (-1
 * when none was needed or locks do not work here: better no limit than
 * no service), or 0 when the key has its limit. */
int session_slots_acquire(int fd, const char *key, unsigned long long limit, long long *slot_r);
/* Give back a slot (slot < 0: nothing). */
void session_slots_release(int fd, long long slot);

#endif
