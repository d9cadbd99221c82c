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

/* IPC-mode connects that may wait for their start callbacks at once. */
#define SHIM_CONNECT_SLOTS 64

/* Register the exit callback and the fork handler. Idempotent. Returns an
 * NCP_* code. */
SHIM_API int shim_init(void);

/* 1 if exits are reported with the start id shim_start returns (the host
 * runtime); 0 if with start id 0, known by pid only (a device's runtime). */
SHIM_API int shim_exit_by_id(void);

/* Start an args-mode child: `entry` is "library:function", `params` may be
 * NULL, fd i is (fd_names[i], fds[i]), `process_name` may be NULL, `envp`
 * the child's environment (NULL-terminated "NAME=value" strings; NULL: the
 * caller's environ). On NCP_NO_ERROR, *pid is the child's pid and *start_id
 * the id its SHIM_EV_EXIT will carry (0: see shim_exit_by_id). On failure,
 * the runtime's explanation is copied to errbuf (NUL-terminated, possibly
 * empty). */
SHIM_API int shim_start(const char *entry, const char *params, int nfds,
                        char *const *fd_names, const int32_t *fds, int isolation,
                        int isolation_uid, const char *process_name, char *const *envp,
                        int32_t *pid, uint64_t *start_id, char *errbuf, size_t errbuf_len);

/* Start an IPC-mode child of library `lib_name` (NULL process_name: the
 * default; envp as for shim_start). On NCP_NO_ERROR exactly one
 * SHIM_EV_CONNECT with `token` follows. On failure none does, and the reason
 * is copied to errbuf; NCP_ERR_MAX_CHILD_PROCESSES_REACHED also when
 * SHIM_CONNECT_SLOTS connects are waiting already. */
SHIM_API int shim_connect_begin(const char *lib_name, int isolation, int isolation_uid,
                                const char *process_name, char *const *envp, uint64_t token,
                                char *errbuf, size_t errbuf_len);

/* How many connect slots are in use (for leak tests). */
SHIM_API int shim_connect_busy(void);

/* An OH_IPC_MemAllocator (malloc), and the matching free. */
SHIM_API void *shim_ipc_alloc(int32_t len);
SHIM_API void shim_ipc_free(void *ptr);

/* ---- events for the Python event thread (section 1 of _shim.c) ---- */

/* Kinds of shim_event. */
#define SHIM_EV_EXIT 1      /* a child exited: pid, status (raw wait status), token = start id */
#define SHIM_EV_DEATH 2     /* a death recipient fired: token */
#define SHIM_EV_CONNECT 3   /* a connect's start callback came: token, status = NCP code, proxy */
#define SHIM_EV_STUB_GONE 4 /* a Python stub's last reference went: token */

struct shim_event {
    int kind;
    int32_t pid;
    int32_t status;
    uint64_t token;
    OHIPCRemoteProxy *proxy; /* SHIM_EV_CONNECT: now the taker's (NULL unless code 0) */
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

/* How many events found no room in the queue since the process began (or
 * forked). The event thread turns growth of this count into errors. */
SHIM_API uint64_t shim_events_lost(void);

/* Set the most entries the queue may hold (at least what it holds now);
 * returns the previous limit. For tests of the lost-event error. */
SHIM_API size_t shim_events_set_limit(size_t limit);

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
