/*
 * internal.h - declarations shared inside libchild_process.so, and the one
 * structure the spawner shares with it.
 */
#ifndef OHNCP_INTERNAL_H
#define OHNCP_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "native_child_process.h"
#include "ohncp_ext.h"
#include "sys.h"

/* ---- shared with ohncp-spawner ------------------------------------------ */

/* The spawner exports `ohncp_spawner_state` (its only dynamic symbol). In a
 * child it forked, `in_child` is 1 and `args` points at the entry's
 * arguments; libchild_process.so finds it with dlsym(RTLD_DEFAULT) and
 * answers OH_Ability_GetCurrentChildProcessArgs and ALREADY_IN_CHILD from it.
 * In any other process the symbol does not exist. */
#define OHNCP_STATE_MAGIC 0x6f6e6370u /* "ocnp" */
#define OHNCP_STATE_VERSION 1u

enum ohncp_child_mode { OHNCP_MODE_NONE = 0, OHNCP_MODE_ARGS = 1, OHNCP_MODE_IPC = 2 };

struct ohncp_spawner_state {
    uint32_t magic;
    uint32_t version;
    int in_child;
    int mode;
    NativeChildProcess_Args *args;
};

/* ---- libchild_process.so internals -------------------------------------- */

#define OHNCP_MAX_CHILDREN_HARD 512
#define OHNCP_MAX_IPC_CHILDREN 50
#define OHNCP_FD_NAME_MAX 20
#define OHNCP_PARAMS_MAX 153600
#define OHNCP_PROCESS_NAME_MAX 64

/* Per-thread error text for OH_Ohncp_GetLastErrorMessage. */
OHNCP_HIDDEN void ncp_clear_error(void);
OHNCP_HIDDEN int ncp_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
OHNCP_HIDDEN void ncp_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The spawner state if this process is a child of the runtime, else NULL. */
OHNCP_HIDDEN const struct ohncp_spawner_state *ncp_child_state(void);

/* One validated start request, ready to be sent (runtime.c). */
struct ncp_start_req {
    const char *lib;
    size_t lib_len;        /* without NUL */
    const char *sym;
    size_t sym_len;
    const char *params;
    size_t params_len;
    int nfds;
    const char *names[16]; /* sorted by name */
    int fds[16];
    int isolation_mode;
    bool isolation_uid;
    const char *process_name; /* NULL: default name */
    bool ipc;                 /* IPC mode: sym is "", channel_fd goes along */
    int channel_fd;
    char *const *envp;        /* the child's environment; NULL: environ */
};

/* Start an args-mode child; returns an NCP code, *ret_pid on success and
 * *ret_id (if not NULL) the start id its exit is reported with. */
OHNCP_HIDDEN int runtime_start(const struct ncp_start_req *req, int32_t *ret_pid,
                               uint64_t *ret_id);
/* Start an IPC-mode child; `cb` runs once on the runtime thread. */
OHNCP_HIDDEN int runtime_create(struct ncp_start_req *req, OH_Ability_OnNativeChildProcessStarted cb);
OHNCP_HIDDEN int runtime_kill(int32_t pid);
OHNCP_HIDDEN int runtime_kill_by_id(uint64_t id);
/* The live children, as OH_Ability_AcquireChildProcessInfos gives them. */
OHNCP_HIDDEN int runtime_child_infos(OH_AbilityRuntime_ChildProcessInfosHandle *infos,
                                     uint32_t *count);
/* The three exit callback types runtime_add_exit_cb keeps apart. */
enum ncp_exit_cb_kind {
    NCP_EXIT_CB_SDK,    /* OH_Ability_OnNativeChildProcessExit */
    NCP_EXIT_CB_STATUS, /* OH_Ohncp_OnChildExitStatus */
    NCP_EXIT_CB_BY_ID,  /* OH_Ohncp_OnChildExitById */
};
OHNCP_HIDDEN int runtime_add_exit_cb(void *fn, void *user, int kind);
OHNCP_HIDDEN int runtime_remove_exit_cb(void *fn, void *user, int kind);

#endif /* OHNCP_INTERNAL_H */
