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

#include "ipc_cparcel.h"
#include "ipc_cremote_object.h"

#define SHIM_API __attribute__((visibility("hidden")))

/* Results of shim_wait and shim_poll. */
#define SHIM_EXITED 1   /* *status holds the raw wait status */
#define SHIM_RUNNING 0  /* not exited yet (or timed out) */
#define SHIM_UNKNOWN -1 /* no such handle (forgotten, or from before a fork) */

/* Results of shim_connect_wait (and SHIM_UNKNOWN). */
#define SHIM_DONE 1     /* the start callback came: *code, *proxy hold its arguments */
#define SHIM_TIMEOUT 0  /* not yet */

/* IPC-mode connects that may wait for their start callbacks at once. */
#define SHIM_CONNECT_SLOTS 64

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

/* Start an IPC-mode child of library `lib_name` (NULL process_name: the
 * default). On NCP_NO_ERROR, *handle names the connect until it is collected
 * with shim_connect_wait or given up with shim_connect_abandon. On failure
 * no callback will come, and the reason is copied to errbuf;
 * NCP_ERR_MAX_CHILD_PROCESSES_REACHED also when SHIM_CONNECT_SLOTS connects
 * are waiting already. */
SHIM_API int shim_connect_begin(const char *lib_name, int isolation, int isolation_uid,
                                const char *process_name, uint64_t *handle, char *errbuf,
                                size_t errbuf_len);

/* Block until the start callback came or timeout_ms passed (negative: no
 * limit). SHIM_DONE: *code is its NCP code, *proxy its proxy (NULL unless
 * NCP_NO_ERROR), now the caller's, and the handle is spent. SHIM_TIMEOUT:
 * not yet. SHIM_UNKNOWN: the handle is spent, abandoned or unknown. */
SHIM_API int shim_connect_wait(uint64_t handle, int timeout_ms, int *code,
                               OHIPCRemoteProxy **proxy);

/* Give up on a connect: its proxy, when it comes, is destroyed. */
SHIM_API void shim_connect_abandon(uint64_t handle);

/* An eventfd that becomes readable when the connect's callback came; -1 for
 * a spent handle. Owned by the shim: poll it, never read or close it. */
SHIM_API int shim_connect_fd(uint64_t handle);

/* How many connect slots are in use (for leak tests). */
SHIM_API int shim_connect_busy(void);

/* An OH_IPC_MemAllocator (malloc), and the matching free. */
SHIM_API void *shim_ipc_alloc(int32_t len);
SHIM_API void shim_ipc_free(void *ptr);

/* ---- events for the Python event thread (section 6 of _shim.c) ---- */

/* Kinds of shim_event. */
#define SHIM_EV_EXIT 1      /* a child exited: pid, status (raw wait status) */
#define SHIM_EV_DEATH 2     /* a death recipient fired: token */
#define SHIM_EV_CONNECT 3   /* a connect's start callback came: token = its handle */
#define SHIM_EV_STUB_GONE 4 /* a Python stub's last reference went: token */

struct shim_event {
    int kind;
    int32_t pid;
    int32_t status;
    uint64_t token;
};

/* Start queueing events (idempotent) and return the eventfd that becomes
 * readable when events are queued; a negative errno on failure. Owned by
 * the shim: poll it, never close it. */
SHIM_API int shim_events_open(void);

/* Move up to `max` queued events, oldest first, to `out` and return how
 * many; 0 when the queue is empty. Resets the eventfd first. */
SHIM_API int shim_events_take(struct shim_event *out, int max);

/* Make the eventfd readable without an event (to wake the event thread). */
SHIM_API void shim_events_wake(void);

/* Events dropped because the queue was full (SHIM_EVENTS_MAX). */
SHIM_API uint64_t shim_events_dropped(void);

/* A death recipient that queues SHIM_EV_DEATH with `token` when it fires;
 * NULL if out of memory. Released with OH_IPCDeathRecipient_Destroy. */
SHIM_API OHIPCDeathRecipient *shim_death_recipient(uint64_t token);

/* A stub whose requests go to the Python function _ohncp_stub_request with
 * `token`, and whose last reference queues SHIM_EV_STUB_GONE with `token`. */
SHIM_API OHIPCRemoteStub *shim_stub_create(const char *descriptor, uint64_t token);

/* Defined in Python (extern "Python+C" in _cdef.h): handles one request. */
int _ohncp_stub_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply,
                        uint64_t token);

/* OH_Ohncp_RemoteProxyGetPid (host extension). */
SHIM_API int32_t shim_proxy_pid(const OHIPCRemoteProxy *proxy);

#endif /* OHNCP_SHIM_H */
