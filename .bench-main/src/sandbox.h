/* sandbox.h - isolated mode (behaviour.md §5), inside ohncp-spawner. */
#ifndef OHNCP_SANDBOX_H
#define OHNCP_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* With isolationUid the child runs as SANDBOX_UID_BASE + its pid (and the
 * same gid): distinct for every live child on the machine, since pids are.
 * pid_max is at most 2^22, so the range is [1000000000, 1004194304]. */
#define SANDBOX_UID_BASE 1000000000u

/* Where isolated children's data directories are mounted:
 * "${TMPDIR:-/tmp}/ohncp-data-<euid>/data". Each child mounts a tmpfs of
 * its own there, in its own mount namespace, so nothing is left to clean
 * up. Called once by the spawner at start-up; children inherit the result. */
void sandbox_init(void);

/* A network namespace shared by the isolated children of one spawner:
 * joining it costs a setns(), making one costs ~0.35 ms. -1 until
 * sandbox_share_net() made it; `user` is its user namespace (-1 as root).
 * Inherited by forked children; child.c keeps them only for isolated ones. */
extern int sandbox_net_fd, sandbox_user_fd;

/* In the spawner, when it sees an isolated start and has none yet (at
 * most 3 tries). On failure the fds stay -1 and each isolated child makes
 * its own namespace (or reports the refusal). */
void sandbox_share_net(void);

/* Turn the calling process (a fresh child of the spawner, single-threaded,
 * its fds already in place) into an isolated child. `lib` is the path the
 * library will be loaded from (its directory stays readable with
 * isolationUid). Returns 0, or -1 with a sentence in `msg` naming the step
 * the kernel refused; the process is then half-sandboxed and must exit. */
int sandbox_enter(bool own_uid, const char *lib, char *msg, size_t msg_size);

#endif /* OHNCP_SANDBOX_H */
