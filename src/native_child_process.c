/*
 * native_child_process.c - the OH_Ability_* entry points.
 *
 * Map:
 *   1. error text and debug log
 *   2. child detection (ohncp_spawner_state)
 *   3. configs object
 *   4. argument validation (spec §3)
 *   5. start, kill, callbacks, support query
 *
 * These functions validate and delegate to runtime.c; every code they
 * return is decided here or there, never left in errno.
 */
#include "internal.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- 1. error text and debug log ---------------------------------------- */

static __thread char last_error[512];

void ncp_clear_error(void) { last_error[0] = '\0'; }

int ncp_fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    ncp_debug("error %d: %s", code, last_error);
    return code;
}

void ncp_debug(const char *fmt, ...) {
    /* Read once, by whichever thread logs first (the runtime thread and a
     * caller's may at once): atomic, each stores the same value. */
    static int enabled_once = -1;
    int enabled = __atomic_load_n(&enabled_once, __ATOMIC_RELAXED);
    if (enabled < 0) {
        const char *v = getenv("OHNCP_DEBUG");
        enabled = v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
        __atomic_store_n(&enabled_once, enabled, __ATOMIC_RELAXED);
    }
    if (!enabled)
        return;
    char line[768];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    fprintf(stderr, "ohncp[%d]: %s\n", (int)getpid(), line);
}

const char *OH_Ohncp_GetLastErrorMessage(void) { return last_error; }

/* ---- 2. child detection -------------------------------------------------- */

/* Looked up once: concurrent first callers would otherwise race on the
 * result. The address is inherited unchanged across fork. */
static const struct ohncp_spawner_state *child_state;
static pthread_once_t child_state_once = PTHREAD_ONCE_INIT;

static void child_state_lookup(void) {
    const struct ohncp_spawner_state *s = dlsym(RTLD_DEFAULT, "ohncp_spawner_state");
    if (s != NULL && (s->magic != OHNCP_STATE_MAGIC || s->version != OHNCP_STATE_VERSION))
        s = NULL;
    child_state = s;
}

const struct ohncp_spawner_state *ncp_child_state(void) {
    pthread_once(&child_state_once, child_state_lookup);
    return child_state != NULL && child_state->in_child ? child_state : NULL;
}

NativeChildProcess_Args *OH_Ability_GetCurrentChildProcessArgs(void) {
    const struct ohncp_spawner_state *s = ncp_child_state();
    return s != NULL && s->mode == OHNCP_MODE_ARGS ? s->args : NULL;
}

/* ---- 3. configs object --------------------------------------------------- */

struct Ability_ChildProcessConfigs {
    int isolation_mode;
    bool isolation_uid;
    bool has_name;
    char name[OHNCP_PROCESS_NAME_MAX + 1];
};

Ability_ChildProcessConfigs *OH_Ability_CreateChildProcessConfigs(void) {
    return calloc(1, sizeof(Ability_ChildProcessConfigs));
}

Ability_NativeChildProcess_ErrCode OH_Ability_DestroyChildProcessConfigs(
    Ability_ChildProcessConfigs *configs) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    free(configs);
    return NCP_NO_ERROR;
}

static int check_isolation_mode(int mode) {
    if (mode != NCP_ISOLATION_MODE_NORMAL && mode != NCP_ISOLATION_MODE_ISOLATED)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "isolation mode %d is neither 0 nor 1", mode);
    return NCP_NO_ERROR;
}

Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetIsolationMode(
    Ability_ChildProcessConfigs *configs, NativeChildProcess_IsolationMode isolationMode) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    int rc = check_isolation_mode((int)isolationMode);
    if (rc == NCP_NO_ERROR)
        configs->isolation_mode = (int)isolationMode;
    return rc;
}

Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetIsolationUid(
    Ability_ChildProcessConfigs *configs, bool isolationUid) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    configs->isolation_uid = isolationUid;
    return NCP_NO_ERROR;
}

Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetProcessName(
    Ability_ChildProcessConfigs *configs, const char *processName) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    if (processName == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "processName is NULL");
    size_t len = strnlen(processName, OHNCP_PROCESS_NAME_MAX + 1);
    if (len == 0 || len > OHNCP_PROCESS_NAME_MAX)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "processName must be 1..%d bytes",
                        OHNCP_PROCESS_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = processName[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return ncp_fail(NCP_ERR_INVALID_PARAM,
                            "processName byte %zu (0x%02x) is not in [A-Za-z0-9_]", i,
                            (unsigned char)c);
    }
    memcpy(configs->name, processName, len + 1);
    configs->has_name = true;
    return NCP_NO_ERROR;
}

/* ---- 4. argument validation ---------------------------------------------- */

/* Split "lib:function" at the last ':' (spec §3). */
static int parse_entry(const char *entry, struct ncp_start_req *req) {
    if (entry == NULL || entry[0] == '\0')
        return ncp_fail(NCP_ERR_INVALID_PARAM, "entry is NULL or empty");
    size_t len = strnlen(entry, 8192);
    if (len == 8192)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "entry is longer than 8191 bytes");
    const char *colon = strrchr(entry, ':');
    if (colon == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "entry \"%s\" has no ':' between library and function", entry);
    req->lib = entry;
    req->lib_len = (size_t)(colon - entry);
    req->sym = colon + 1;
    req->sym_len = len - req->lib_len - 1;
    if (req->lib_len == 0 || req->sym_len == 0)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "entry \"%s\" has an empty %s part", entry,
                        req->lib_len == 0 ? "library" : "function");
    if (memmem(req->lib, req->lib_len, "../", 3) != NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "library path in \"%s\" contains \"../\"", entry);
    return NCP_NO_ERROR;
}

static int check_fd_node(const NativeChildProcess_Fd *node) {
    size_t len = node->fdName == NULL ? 0 : strnlen(node->fdName, OHNCP_FD_NAME_MAX + 1);
    if (node->fdName == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "fd name of fd %d is NULL (it must be 1..%d bytes)",
                        (int)node->fd, OHNCP_FD_NAME_MAX);
    if (len == 0 || len > OHNCP_FD_NAME_MAX)
        return ncp_fail(NCP_ERR_INVALID_PARAM,
                        "fd name \"%.*s%s\" of fd %d is %s (it must be 1..%d bytes)",
                        OHNCP_FD_NAME_MAX, node->fdName, len > OHNCP_FD_NAME_MAX ? "..." : "",
                        (int)node->fd, len == 0 ? "empty" : "too long", OHNCP_FD_NAME_MAX);
    if (node->fd < 0 || fcntl(node->fd, F_GETFD) < 0)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "fd %d named \"%s\" is not open", (int)node->fd,
                        node->fdName);
    return NCP_NO_ERROR;
}

/* Insert `node` into the sorted name table; a duplicate name keeps the first
 * fd (device behaviour) and is logged. */
static int add_fd(struct ncp_start_req *req, const NativeChildProcess_Fd *node) {
    int i = 0;
    while (i < req->nfds && strcmp(req->names[i], node->fdName) < 0)
        i++;
    if (i < req->nfds && strcmp(req->names[i], node->fdName) == 0) {
        ncp_debug("warning: duplicate fd name \"%s\": fd %d dropped", node->fdName, (int)node->fd);
        return NCP_NO_ERROR;
    }
    if (req->nfds == 16)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "more than 16 distinct fd names");
    memmove(&req->names[i + 1], &req->names[i], (size_t)(req->nfds - i) * sizeof req->names[0]);
    memmove(&req->fds[i + 1], &req->fds[i], (size_t)(req->nfds - i) * sizeof req->fds[0]);
    req->names[i] = node->fdName;
    req->fds[i] = node->fd;
    req->nfds++;
    return NCP_NO_ERROR;
}

static int parse_args(const NativeChildProcess_Args *args, struct ncp_start_req *req) {
    req->params = args->entryParams != NULL ? args->entryParams : "";
    req->params_len = strnlen(req->params, OHNCP_PARAMS_MAX + 1);
    if (req->params_len > OHNCP_PARAMS_MAX)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "entryParams is longer than %d bytes",
                        OHNCP_PARAMS_MAX);
    int walked = 0;
    for (const NativeChildProcess_Fd *n = args->fdList.head; n != NULL; n = n->next) {
        if (++walked > 1024) /* also stops a cyclic list */
            return ncp_fail(NCP_ERR_INVALID_PARAM, "fd list has more than 1024 nodes");
        int rc = check_fd_node(n);
        if (rc == NCP_NO_ERROR)
            rc = add_fd(req, n);
        if (rc != NCP_NO_ERROR)
            return rc;
    }
    return NCP_NO_ERROR;
}

/* Checks shared by both start forms; the caller fills isolation fields. */
static int prepare_start(const char *entry, const NativeChildProcess_Args *args,
                         int32_t *pid, struct ncp_start_req *req) {
    if (ncp_child_state() != NULL)
        return ncp_fail(NCP_ERR_ALREADY_IN_CHILD, "this process is itself a native child process");
    if (!OH_Ability_IsNativeChildProcessSupported())
        return ncp_fail(NCP_ERR_MULTI_PROCESS_DISABLED, "multi-process is disabled (OHNCP_MULTI_PROCESS=0)");
    int rc = parse_entry(entry, req);
    if (rc == NCP_NO_ERROR && pid == NULL)
        rc = ncp_fail(NCP_ERR_INVALID_PARAM, "pid is NULL");
    if (rc == NCP_NO_ERROR)
        rc = parse_args(args, req);
    return rc;
}

/* ---- 5. start, kill, callbacks, support query ----------------------------- */

/* Isolated mode is set up by the child itself (sandbox.c); where the
 * kernel refuses a step, the child's report makes this NCP_ERR_NOT_SUPPORTED. */
static int start_validated(struct ncp_start_req *req, int32_t *pid) {
    return runtime_start(req, pid, NULL);
}

Ability_NativeChildProcess_ErrCode OH_Ability_StartNativeChildProcess(
    const char *entry, NativeChildProcess_Args args, NativeChildProcess_Options options,
    int32_t *pid) {
    ncp_clear_error();
    struct ncp_start_req req = {0};
    int rc = prepare_start(entry, &args, pid, &req);
    if (rc == NCP_NO_ERROR)
        rc = check_isolation_mode((int)options.isolationMode);
    if (rc != NCP_NO_ERROR)
        return rc;
    req.isolation_mode = (int)options.isolationMode;
    return start_validated(&req, pid);
}

Ability_NativeChildProcess_ErrCode OH_Ability_StartNativeChildProcessWithConfigs(
    const char *entry, NativeChildProcess_Args args, Ability_ChildProcessConfigs *configs,
    int32_t *pid) {
    ncp_clear_error();
    struct ncp_start_req req = {0};
    int rc = prepare_start(entry, &args, pid, &req);
    if (rc == NCP_NO_ERROR && configs == NULL)
        rc = ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    if (rc != NCP_NO_ERROR)
        return rc;
    req.isolation_mode = configs->isolation_mode;
    req.isolation_uid = configs->isolation_uid;
    req.process_name = configs->has_name ? configs->name : NULL;
    return start_validated(&req, pid);
}

/* Host extension: the configs form with an explicit environment, and the
 * start id that OH_Ohncp_OnChildExitById reports the exit with. */
int OH_Ohncp_StartChildProcessWithEnv(const char *entry, NativeChildProcess_Args args,
                                      Ability_ChildProcessConfigs *configs, char *const *envp,
                                      int32_t *pid, uint64_t *startId) {
    ncp_clear_error();
    struct ncp_start_req req = {0};
    int rc = prepare_start(entry, &args, pid, &req);
    if (rc == NCP_NO_ERROR && configs == NULL)
        rc = ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    if (rc == NCP_NO_ERROR && startId == NULL)
        rc = ncp_fail(NCP_ERR_INVALID_PARAM, "startId is NULL");
    if (rc != NCP_NO_ERROR)
        return rc;
    req.isolation_mode = configs->isolation_mode;
    req.isolation_uid = configs->isolation_uid;
    req.process_name = configs->has_name ? configs->name : NULL;
    req.envp = envp;
    return runtime_start(&req, pid, startId);
}

int OH_Ohncp_KillChildProcessById(uint64_t startId) {
    ncp_clear_error();
    return runtime_kill_by_id(startId);
}

int32_t OH_Ohncp_GetStartPid(uint64_t startId) { return runtime_pid_of_start(startId); }

Ability_NativeChildProcess_ErrCode OH_Ability_KillChildProcess(int32_t pid) {
    ncp_clear_error();
    return runtime_kill(pid);
}

Ability_NativeChildProcess_ErrCode OH_Ability_AcquireChildProcessInfos(
    OH_AbilityRuntime_ChildProcessInfosHandle *infos, uint32_t *count) {
    ncp_clear_error();
    if (infos == NULL || count == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "%s is NULL", infos == NULL ? "infos" : "count");
    return runtime_child_infos(infos, count);
}

Ability_NativeChildProcess_ErrCode OH_Ability_RegisterNativeChildProcessExitCallback(
    OH_Ability_OnNativeChildProcessExit onProcessExit) {
    ncp_clear_error();
    if (onProcessExit == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_add_exit_cb((void *)onProcessExit, NULL, NCP_EXIT_CB_SDK);
}

Ability_NativeChildProcess_ErrCode OH_Ability_UnregisterNativeChildProcessExitCallback(
    OH_Ability_OnNativeChildProcessExit onProcessExit) {
    ncp_clear_error();
    if (onProcessExit == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_remove_exit_cb((void *)onProcessExit, NULL, NCP_EXIT_CB_SDK);
}

int OH_Ohncp_RegisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb, void *userData) {
    ncp_clear_error();
    if (cb == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_add_exit_cb((void *)cb, userData, NCP_EXIT_CB_STATUS);
}

int OH_Ohncp_UnregisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb, void *userData) {
    ncp_clear_error();
    if (cb == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_remove_exit_cb((void *)cb, userData, NCP_EXIT_CB_STATUS);
}

int OH_Ohncp_RegisterExitByIdCallback(OH_Ohncp_OnChildExitById cb, void *userData) {
    ncp_clear_error();
    if (cb == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_add_exit_cb((void *)cb, userData, NCP_EXIT_CB_BY_ID);
}

int OH_Ohncp_UnregisterExitByIdCallback(OH_Ohncp_OnChildExitById cb, void *userData) {
    ncp_clear_error();
    if (cb == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    return runtime_remove_exit_cb((void *)cb, userData, NCP_EXIT_CB_BY_ID);
}

bool OH_Ability_IsNativeChildProcessSupported(void) {
    const char *v = getenv("OHNCP_MULTI_PROCESS");
    return !(v != NULL && strcmp(v, "0") == 0);
}

/* IPC mode (spec §4): the checks are synchronous, the result arrives
 * through `cb` on the runtime thread, exactly once. */
static int create_child(const char *libName, Ability_ChildProcessConfigs *configs,
                        char *const *envp, OH_Ability_OnNativeChildProcessStarted cb) {
    if (libName == NULL || libName[0] == '\0')
        return ncp_fail(NCP_ERR_INVALID_PARAM, "libName is NULL or empty");
    size_t len = strnlen(libName, 8192);
    if (len == 8192)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "libName is longer than 8191 bytes");
    if (strstr(libName, "../") != NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "libName \"%s\" contains \"../\"", libName);
    if (cb == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "callback is NULL");
    if (ncp_child_state() != NULL)
        return ncp_fail(NCP_ERR_ALREADY_IN_CHILD, "this process is itself a native child process");
    if (!OH_Ability_IsNativeChildProcessSupported())
        return ncp_fail(NCP_ERR_MULTI_PROCESS_DISABLED, "multi-process is disabled (OHNCP_MULTI_PROCESS=0)");
    struct ncp_start_req req = {.lib = libName, .lib_len = len, .sym = "", .params = "",
                                .envp = envp};
    if (configs != NULL) {
        req.isolation_mode = configs->isolation_mode;
        req.isolation_uid = configs->isolation_uid;
        req.process_name = configs->has_name ? configs->name : NULL;
    }
    return runtime_create(&req, cb);
}

int OH_Ability_CreateNativeChildProcess(const char *libName,
                                        OH_Ability_OnNativeChildProcessStarted onProcessStarted) {
    ncp_clear_error();
    return create_child(libName, NULL, NULL, onProcessStarted);
}

Ability_NativeChildProcess_ErrCode OH_Ability_CreateNativeChildProcessWithConfigs(
    const char *libName, Ability_ChildProcessConfigs *configs,
    OH_Ability_OnNativeChildProcessStarted onProcessStarted) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    return create_child(libName, configs, NULL, onProcessStarted);
}

int OH_Ohncp_CreateChildProcessWithEnv(const char *libName, Ability_ChildProcessConfigs *configs,
                                       char *const *envp,
                                       OH_Ability_OnNativeChildProcessStarted onProcessStarted) {
    ncp_clear_error();
    if (configs == NULL)
        return ncp_fail(NCP_ERR_INVALID_PARAM, "configs is NULL");
    return create_child(libName, configs, envp, onProcessStarted);
}
