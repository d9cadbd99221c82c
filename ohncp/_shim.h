/*
 * _shim.h - the C half of the Python binding (see _shim.c).
 *
 * These functions are what `ohncp._ohncp.lib` exposes besides a few SDK
 * calls. _cdef.h repeats the prototypes for cffi; the generated module
 * includes this header, so the compiler checks that both agree.
 */
#ifndef OHNCP_SHIM_H
#define OHNCP_SHIM_H

#include <stddef.h>
#include <stdint.h>

#define SHIM_API __attribute__((visibility("hidden")))

/* Results of shim_wait and shim_poll. */
#define SHIM_EXITED 1   /* *status holds the raw wait status */
#define SHIM_RUNNING 0  /* not exited yet (or timed out) */
#define SHIM_UNKNOWN -1 /* no such handle (forgotten, or from before a fork) */

/* Register the exit-status callback and the fork handler. Idempotent.
 * Returns an NCP_* code. */
SHIM_API int shim_init(void);

/* Start an args-mode child: `entry` is "library:function", `params` may be
 * NULL, fd i is (fd_names[i], fds[i]), `process_name` may be NULL. On
 * NCP_NO_ERROR, *pid is the child's pid and *handle identifies it to
 * shim_wait/shim_poll/shim_forget. On failure, the runtime's explanation is
 * copied to errbuf (NUL-terminated, possibly empty). */
SHIM_API int shim_start(const char *entry, const char *params, int nfds,
                        char *const *fd_names, const int32_t *fds, int isolation,
                        int isolation_uid, const char *process_name, int32_t *pid,
                        uint64_t *handle, char *errbuf, size_t errbuf_len);

/* Block until the child exits or timeout_ms passes (negative: no limit).
 * Returns SHIM_EXITED (and *status), SHIM_RUNNING or SHIM_UNKNOWN. */
SHIM_API int shim_wait(uint64_t handle, int timeout_ms, int *status);

/* shim_wait without blocking. */
SHIM_API int shim_poll(uint64_t handle, int *status);

/* Drop the handle. A child still running is dropped when it exits. */
SHIM_API void shim_forget(uint64_t handle);

/* How many handles the table holds (claimed ones; for leak tests). */
SHIM_API int shim_tracked(void);

#endif /* OHNCP_SHIM_H */
