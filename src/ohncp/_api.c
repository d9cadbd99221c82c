/*
 * _api.c - newer runtime functions through dlsym; see _api.h for why.
 *
 * Map:
 *   1. the table of functions, with the API level of each
 *   2. finding libchild_process.so and resolving the table (once)
 *   3. what was missing, per thread
 *   4. the wrappers
 *   5. exit reports where the OH_Ohncp_ extension is missing
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, Dl_info */
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "_api.h"

/* ---- 1. the table ---------------------------------------------------------- */

enum api_fn {
    FN_CREATE_CONFIGS,
    FN_DESTROY_CONFIGS,
    FN_SET_ISOLATION_MODE,
    FN_SET_ISOLATION_UID,
    FN_SET_PROCESS_NAME,
    FN_CREATE_WITH_CONFIGS,
    FN_START_WITH_CONFIGS,
    FN_REGISTER_EXIT,
    FN_KILL,
    FN_IS_SUPPORTED,
    FN_EXT_REGISTER_STATUS,
    FN_EXT_LAST_ERROR,
    FN_GET_CURRENT_ARGS,
    FN_EXT_REGISTER_BY_ID,
    FN_EXT_START_ENV,
    FN_EXT_CREATE_ENV,
    FN_EXT_KILL_BY_ID,
    FN_EXT_PROXY_PID, /* in libipc_capi.so, not libchild_process.so */
    FN_EXT_LAST_START_ID,
    FN_EXT_START_ERROR,
    FN_ACQUIRE_INFOS,
    /* From here on in other libraries: OTHER_LIBS_FROM and lib_of(). */
    FN_INFO_BY_INDEX, /* libability_runtime.so */
    FN_INFO_PID,
    FN_INFO_PARENT_PID,
    FN_INFO_NAME,
    FN_RELEASE_INFOS,
    FN_SET_PRIORITY, /* libbackground_process_manager.z.so */
    FN_RESET_PRIORITY,
    FN_COUNT
};
#define OTHER_LIBS_FROM FN_INFO_BY_INDEX

static const struct {
    const char *name;
    int level; /* device API level; OHNCP_API_LEVEL_HOST_ONLY for extensions */
} api_names[FN_COUNT] = {
    [FN_CREATE_CONFIGS] = {"OH_Ability_CreateChildProcessConfigs", 20},
    [FN_DESTROY_CONFIGS] = {"OH_Ability_DestroyChildProcessConfigs", 20},
    [FN_SET_ISOLATION_MODE] = {"OH_Ability_ChildProcessConfigs_SetIsolationMode", 20},
    [FN_SET_ISOLATION_UID] = {"OH_Ability_ChildProcessConfigs_SetIsolationUid", 21},
    [FN_SET_PROCESS_NAME] = {"OH_Ability_ChildProcessConfigs_SetProcessName", 20},
    [FN_CREATE_WITH_CONFIGS] = {"OH_Ability_CreateNativeChildProcessWithConfigs", 20},
    [FN_START_WITH_CONFIGS] = {"OH_Ability_StartNativeChildProcessWithConfigs", 20},
    [FN_REGISTER_EXIT] = {"OH_Ability_RegisterNativeChildProcessExitCallback", 20},
    [FN_KILL] = {"OH_Ability_KillChildProcess", 22},
    [FN_IS_SUPPORTED] = {"OH_Ability_IsNativeChildProcessSupported", 26},
    [FN_EXT_REGISTER_STATUS] = {"OH_Ohncp_RegisterExitStatusCallback", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_LAST_ERROR] = {"OH_Ohncp_GetLastErrorMessage", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_GET_CURRENT_ARGS] = {"OH_Ability_GetCurrentChildProcessArgs", 17},
    [FN_EXT_REGISTER_BY_ID] = {"OH_Ohncp_RegisterExitByIdCallback", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_START_ENV] = {"OH_Ohncp_StartChildProcessWithEnv", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_CREATE_ENV] = {"OH_Ohncp_CreateChildProcessWithEnv", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_KILL_BY_ID] = {"OH_Ohncp_KillChildProcessById", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_PROXY_PID] = {"OH_Ohncp_RemoteProxyGetPid", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_LAST_START_ID] = {"OH_Ohncp_GetLastStartId", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_EXT_START_ERROR] = {"OH_Ohncp_GetStartErrorMessage", OHNCP_API_LEVEL_HOST_ONLY},
    [FN_ACQUIRE_INFOS] = {"OH_Ability_AcquireChildProcessInfos", 2601}, /* 26.1 */
    [FN_INFO_BY_INDEX] = {"OH_AbilityRuntime_GetChildProcessInfoByIndex", 2601},
    [FN_INFO_PID] = {"OH_AbilityRuntime_ChildProcessInfo_GetPid", 2601},
    [FN_INFO_PARENT_PID] = {"OH_AbilityRuntime_ChildProcessInfo_GetParentPid", 2601},
    [FN_INFO_NAME] = {"OH_AbilityRuntime_ChildProcessInfo_GetProcessName", 2601},
    [FN_RELEASE_INFOS] = {"OH_AbilityRuntime_ReleaseChildProcessInfos", 2601},
    [FN_SET_PRIORITY] = {"OH_BackgroundProcessManager_SetProcessPriority", 17},
    [FN_RESET_PRIORITY] = {"OH_BackgroundProcessManager_ResetProcessPriority", 17},
};

/* The library of the functions from OTHER_LIBS_FROM on. */
static const char *lib_of(int fn) {
    return fn >= FN_SET_PRIORITY ? "libbackground_process_manager.z.so" : "libability_runtime.so";
}

/* Filled once by resolve(); NULL where the library lacks the function.
 * dlsym returns void *; POSIX guarantees it converts to a function pointer. */
static void *api_fns[FN_COUNT];
static char api_library_path[4096];
static pthread_once_t api_once = PTHREAD_ONCE_INIT;

/* ---- 2. resolving ------------------------------------------------------------- */

/* The library is found through a function every device has (API 12), which
 * the extension links directly: whichever libchild_process.so the dynamic
 * linker picked (the bundled one, or the system's) is the one searched. It
 * is already loaded, so RTLD_NOLOAD only returns a handle to it; Python
 * loaded it RTLD_LOCAL, so RTLD_DEFAULT would not see it. */
static void resolve(void) {
    Dl_info info;
    void *handle = NULL;
    if (dladdr((void *)OH_Ability_CreateNativeChildProcess, &info) != 0 &&
        info.dli_fname != NULL) {
        snprintf(api_library_path, sizeof api_library_path, "%s", info.dli_fname);
        handle = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    }
    if (handle == NULL)
        handle = dlopen("libchild_process.so", RTLD_NOW | RTLD_NOLOAD);
    if (handle == NULL)
        return; /* everything stays missing */
    for (int i = 0; i < OTHER_LIBS_FROM; i++)
        if (i != FN_EXT_PROXY_PID)
            api_fns[i] = dlsym(handle, api_names[i].name);
    /* The libraries of 26.1's infos and API 17's priorities: the ones next
     * to libchild_process.so if there, else the dynamic linker's. */
    for (int i = OTHER_LIBS_FROM; i < FN_COUNT; i++) {
        char path[sizeof api_library_path + 64];
        const char *slash = strrchr(api_library_path, '/');
        snprintf(path, sizeof path, "%.*s/%s", slash != NULL ? (int)(slash - api_library_path) : 0,
                 api_library_path, lib_of(i));
        void *other = slash != NULL ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;
        if (other == NULL)
            other = dlopen(lib_of(i), RTLD_NOW | RTLD_LOCAL);
        if (other != NULL) /* kept open, like the handle above */
            api_fns[i] = dlsym(other, api_names[i].name);
    }
    /* The handle stays open: the library cannot go away under the table. */
    /* The IPC library the same way, through a function of API level 12. */
    void *ipc = NULL;
    if (dladdr((void *)OH_IPCParcel_Create, &info) != 0 && info.dli_fname != NULL)
        ipc = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
    if (ipc == NULL)
        ipc = dlopen("libipc_capi.so", RTLD_NOW | RTLD_NOLOAD);
    if (ipc != NULL)
        api_fns[FN_EXT_PROXY_PID] = dlsym(ipc, api_names[FN_EXT_PROXY_PID].name);
}

/* The function, or NULL; never noted as missing (for optional extras). */
static void *api_peek(enum api_fn fn) {
    pthread_once(&api_once, resolve);
    return api_fns[fn];
}

/* ---- 3. what was missing --------------------------------------------------- */

static __thread int missing_fn = -1;

const char *ohncp_api_missing_library(void) {
    if (missing_fn < 0)
        return "libchild_process.so";
    if (missing_fn == FN_EXT_PROXY_PID)
        return "libipc_capi.so";
    return missing_fn >= OTHER_LIBS_FROM ? lib_of(missing_fn) : "libchild_process.so";
}

const char *ohncp_api_missing_symbol(void) {
    return missing_fn < 0 ? "" : api_names[missing_fn].name;
}

int ohncp_api_missing_level(void) {
    return missing_fn < 0 ? OHNCP_API_LEVEL_HOST_ONLY : api_names[missing_fn].level;
}

/* The function, or NULL after noting it as this thread's missing one. */
static void *api_get(enum api_fn fn) {
    pthread_once(&api_once, resolve);
    if (api_fns[fn] == NULL)
        missing_fn = (int)fn;
    return api_fns[fn];
}

bool ohncp_api_has(const char *symbol) {
    (void)api_peek(FN_KILL);
    for (int i = 0; i < FN_COUNT; i++)
        if (strcmp(api_names[i].name, symbol) == 0)
            return api_fns[i] != NULL;
    return false;
}

int ohncp_api_library_dir(char *buf, size_t len) {
    (void)api_peek(FN_KILL);
    const char *slash = strrchr(api_library_path, '/');
    if (slash == NULL || len == 0)
        return -1;
    int n = snprintf(buf, len, "%.*s", (int)(slash - api_library_path), api_library_path);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* ---- 4. the wrappers ------------------------------------------------------------ */

typedef Ability_ChildProcessConfigs *(*create_configs_fn)(void);
typedef Ability_NativeChildProcess_ErrCode (*configs_fn)(Ability_ChildProcessConfigs *);
typedef Ability_NativeChildProcess_ErrCode (*set_mode_fn)(Ability_ChildProcessConfigs *,
                                                          NativeChildProcess_IsolationMode);
typedef Ability_NativeChildProcess_ErrCode (*set_uid_fn)(Ability_ChildProcessConfigs *, bool);
typedef Ability_NativeChildProcess_ErrCode (*set_name_fn)(Ability_ChildProcessConfigs *,
                                                          const char *);
typedef Ability_NativeChildProcess_ErrCode (*create_with_fn)(
    const char *, Ability_ChildProcessConfigs *, OH_Ability_OnNativeChildProcessStarted);
typedef Ability_NativeChildProcess_ErrCode (*start_with_fn)(
    const char *, NativeChildProcess_Args, Ability_ChildProcessConfigs *, int32_t *);
typedef Ability_NativeChildProcess_ErrCode (*register_exit_fn)(
    OH_Ability_OnNativeChildProcessExit);
typedef Ability_NativeChildProcess_ErrCode (*kill_fn)(int32_t);
typedef bool (*is_supported_fn)(void);
typedef int (*register_status_fn)(OH_Ohncp_OnChildExitStatus, void *);
typedef const char *(*last_error_fn)(void);
typedef NativeChildProcess_Args *(*current_args_fn)(void);
typedef int32_t (*proxy_pid_fn)(const OHIPCRemoteProxy *);
typedef int (*register_by_id_fn)(OH_Ohncp_OnChildExitById, void *);
typedef int (*start_env_fn)(const char *, NativeChildProcess_Args, Ability_ChildProcessConfigs *,
                            char *const *, int32_t *, uint64_t *);
typedef int (*create_env_fn)(const char *, Ability_ChildProcessConfigs *, char *const *,
                             OH_Ability_OnNativeChildProcessStarted);
typedef int (*kill_by_id_fn)(uint64_t);

static __thread bool configs_missing;

Ability_ChildProcessConfigs *ohncp_api_CreateChildProcessConfigs(void) {
    create_configs_fn f = (create_configs_fn)api_get(FN_CREATE_CONFIGS);
    configs_missing = f == NULL;
    return f == NULL ? NULL : f();
}

int ohncp_api_configs_failure(void) {
    return configs_missing ? OHNCP_API_MISSING : NCP_ERR_INTERNAL;
}

int ohncp_api_DestroyChildProcessConfigs(Ability_ChildProcessConfigs *configs) {
    configs_fn f = (configs_fn)api_get(FN_DESTROY_CONFIGS);
    return f == NULL ? OHNCP_API_MISSING : (int)f(configs);
}

int ohncp_api_ChildProcessConfigs_SetIsolationMode(Ability_ChildProcessConfigs *configs,
                                                   NativeChildProcess_IsolationMode mode) {
    set_mode_fn f = (set_mode_fn)api_get(FN_SET_ISOLATION_MODE);
    return f == NULL ? OHNCP_API_MISSING : (int)f(configs, mode);
}

int ohncp_api_ChildProcessConfigs_SetIsolationUid(Ability_ChildProcessConfigs *configs,
                                                  bool isolationUid) {
    set_uid_fn f = (set_uid_fn)api_get(FN_SET_ISOLATION_UID);
    return f == NULL ? OHNCP_API_MISSING : (int)f(configs, isolationUid);
}

int ohncp_api_ChildProcessConfigs_SetProcessName(Ability_ChildProcessConfigs *configs,
                                                 const char *processName) {
    set_name_fn f = (set_name_fn)api_get(FN_SET_PROCESS_NAME);
    return f == NULL ? OHNCP_API_MISSING : (int)f(configs, processName);
}

int ohncp_api_CreateNativeChildProcessWithConfigs(const char *libName,
                                                  Ability_ChildProcessConfigs *configs,
                                                  OH_Ability_OnNativeChildProcessStarted cb) {
    create_with_fn f = (create_with_fn)api_get(FN_CREATE_WITH_CONFIGS);
    return f == NULL ? OHNCP_API_MISSING : (int)f(libName, configs, cb);
}

int ohncp_api_StartNativeChildProcessWithConfigs(const char *entry, NativeChildProcess_Args args,
                                                 Ability_ChildProcessConfigs *configs,
                                                 int32_t *pid) {
    start_with_fn f = (start_with_fn)api_get(FN_START_WITH_CONFIGS);
    return f == NULL ? OHNCP_API_MISSING : (int)f(entry, args, configs, pid);
}

int ohncp_api_StartChildProcessWithEnv(const char *entry, NativeChildProcess_Args args,
                                       Ability_ChildProcessConfigs *configs, char *const *envp,
                                       int32_t *pid, uint64_t *startId) {
    start_env_fn ext = (start_env_fn)api_peek(FN_EXT_START_ENV);
    if (ext != NULL)
        return ext(entry, args, configs, envp, pid, startId);
    *startId = 0;
    return ohncp_api_StartNativeChildProcessWithConfigs(entry, args, configs, pid);
}

int ohncp_api_CreateChildProcessWithEnv(const char *libName, Ability_ChildProcessConfigs *configs,
                                        char *const *envp,
                                        OH_Ability_OnNativeChildProcessStarted cb) {
    create_env_fn ext = (create_env_fn)api_peek(FN_EXT_CREATE_ENV);
    if (ext != NULL)
        return ext(libName, configs, envp, cb);
    return ohncp_api_CreateNativeChildProcessWithConfigs(libName, configs, cb);
}

static void note_killed(int32_t pid); /* section 5 */

int ohncp_api_KillChildProcess(int32_t pid) {
    kill_fn f = (kill_fn)api_get(FN_KILL);
    if (f == NULL)
        return OHNCP_API_MISSING;
    note_killed(pid); /* before: the exit may be reported before f returns */
    return (int)f(pid);
}

int ohncp_api_KillChildProcessById(uint64_t start_id, int32_t pid) {
    kill_by_id_fn ext = (kill_by_id_fn)api_peek(FN_EXT_KILL_BY_ID);
    if (ext != NULL && start_id != 0)
        return ext(start_id);
    return ohncp_api_KillChildProcess(pid);
}

int ohncp_api_IsNativeChildProcessSupported(void) {
    is_supported_fn f = (is_supported_fn)api_peek(FN_IS_SUPPORTED);
    if (f != NULL)
        return f() ? 1 : 0;
    return api_fns[FN_CREATE_CONFIGS] != NULL && api_fns[FN_START_WITH_CONFIGS] != NULL &&
           (api_fns[FN_EXT_REGISTER_STATUS] != NULL || api_fns[FN_REGISTER_EXIT] != NULL);
}

NativeChildProcess_Args *ohncp_api_GetCurrentChildProcessArgs(void) {
    current_args_fn f = (current_args_fn)api_get(FN_GET_CURRENT_ARGS);
    return f == NULL ? NULL : f();
}

int32_t ohncp_api_RemoteProxyGetPid(const OHIPCRemoteProxy *proxy) {
    proxy_pid_fn f = (proxy_pid_fn)api_get(FN_EXT_PROXY_PID);
    return f == NULL ? OHNCP_API_MISSING : f(proxy);
}

const char *ohncp_api_GetLastErrorMessage(void) {
    /* Optional: peeked, so it never hides the function that was missing. */
    last_error_fn f = (last_error_fn)api_peek(FN_EXT_LAST_ERROR);
    const char *msg = f == NULL ? NULL : f();
    return msg == NULL ? "" : msg;
}

typedef uint64_t (*last_start_id_fn)(void);
typedef int (*start_error_fn)(uint64_t, char *, size_t);
typedef Ability_NativeChildProcess_ErrCode (*acquire_fn)(OH_AbilityRuntime_ChildProcessInfosHandle *,
                                                         uint32_t *);
typedef AbilityRuntime_ErrorCode (*by_index_fn)(OH_AbilityRuntime_ChildProcessInfosHandle, uint32_t,
                                                OH_AbilityRuntime_ChildProcessInfoHandle *);
typedef AbilityRuntime_ErrorCode (*info_pid_fn)(OH_AbilityRuntime_ChildProcessInfoHandle, int32_t *);
typedef AbilityRuntime_ErrorCode (*info_name_fn)(OH_AbilityRuntime_ChildProcessInfoHandle, char *,
                                                 uint32_t, uint32_t *);
typedef void (*release_fn)(OH_AbilityRuntime_ChildProcessInfosHandle *);
typedef int (*set_priority_fn)(int, BackgroundProcessManager_ProcessPriority);
typedef int (*reset_priority_fn)(int);

uint64_t ohncp_api_GetLastStartId(void) {
    last_start_id_fn f = (last_start_id_fn)api_peek(FN_EXT_LAST_START_ID);
    return f == NULL ? 0 : f();
}

int ohncp_api_GetStartErrorMessage(uint64_t id, char *buf, size_t size) {
    start_error_fn f = (start_error_fn)api_peek(FN_EXT_START_ERROR);
    return f == NULL ? OHNCP_API_MISSING : f(id, buf, size);
}

/* One info into the arrays at k; its NCP/AbilityRuntime code. */
static int read_info(OH_AbilityRuntime_ChildProcessInfosHandle set, uint32_t i, int32_t *pids,
                     int32_t *ppids, char *names, size_t name_size) {
    OH_AbilityRuntime_ChildProcessInfoHandle info = NULL;
    uint32_t need = 0;
    int rc = (int)((by_index_fn)api_fns[FN_INFO_BY_INDEX])(set, i, &info);
    if (rc == 0)
        rc = (int)((info_pid_fn)api_fns[FN_INFO_PID])(info, &pids[i]);
    if (rc == 0)
        rc = (int)((info_pid_fn)api_fns[FN_INFO_PARENT_PID])(info, &ppids[i]);
    if (rc == 0)
        rc = (int)((info_name_fn)api_fns[FN_INFO_NAME])(info, names + i * name_size,
                                                        (uint32_t)name_size, &need);
    return rc;
}

int ohncp_api_child_infos(int32_t *pids, int32_t *ppids, char *names, size_t name_size, int max,
                          int *count) {
    acquire_fn acquire = (acquire_fn)api_get(FN_ACQUIRE_INFOS);
    for (int i = FN_INFO_BY_INDEX; acquire != NULL && i <= FN_RELEASE_INFOS; i++)
        if (api_get((enum api_fn)i) == NULL)
            return OHNCP_API_MISSING;
    if (acquire == NULL)
        return OHNCP_API_MISSING;
    OH_AbilityRuntime_ChildProcessInfosHandle set = NULL;
    uint32_t n = 0;
    int rc = (int)acquire(&set, &n);
    *count = rc == 0 ? (int)n : 0;
    for (uint32_t i = 0; rc == 0 && i < n && (int)i < max; i++)
        rc = read_info(set, i, pids, ppids, names, name_size);
    ((release_fn)api_fns[FN_RELEASE_INFOS])(&set);
    return rc;
}

int ohncp_api_SetProcessPriority(int pid, int priority) {
    set_priority_fn f = (set_priority_fn)api_get(FN_SET_PRIORITY);
    return f == NULL ? OHNCP_API_MISSING : f(pid, (BackgroundProcessManager_ProcessPriority)priority);
}

int ohncp_api_ResetProcessPriority(int pid) {
    reset_priority_fn f = (reset_priority_fn)api_get(FN_RESET_PRIORITY);
    return f == NULL ? OHNCP_API_MISSING : f(pid);
}

/* ---- 5. exit reports without the extension ---------------------------------- */

/* Pids this process asked to kill, most recent last. A pid killed long ago
 * and reused by a child that then exits with code 9 would be misread; the
 * ring keeps that window to the last KILLED_RING kills. */
#define KILLED_RING 256
static struct {
    pthread_mutex_t lock;
    int32_t pids[KILLED_RING];
    unsigned next;
    OH_Ohncp_OnChildExitStatus cb;
    void *user;
} sdk_exit = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void note_killed(int32_t pid) {
    pthread_mutex_lock(&sdk_exit.lock);
    sdk_exit.pids[sdk_exit.next++ % KILLED_RING] = pid;
    pthread_mutex_unlock(&sdk_exit.lock);
}

/* Forget `pid` as killed; returns whether it was. Lock held. */
static bool take_killed(int32_t pid) {
    for (unsigned i = 0; i < KILLED_RING; i++) {
        if (sdk_exit.pids[i] == pid && pid != 0) {
            sdk_exit.pids[i] = 0;
            return true;
        }
    }
    return false;
}

/* The SDK callback: (pid, signal number if killed, else exit code). */
static void on_sdk_exit(int32_t pid, int32_t value) {
    pthread_mutex_lock(&sdk_exit.lock);
    bool signalled = take_killed(pid) && value == SIGKILL;
    OH_Ohncp_OnChildExitStatus cb = sdk_exit.cb;
    void *user = sdk_exit.user;
    pthread_mutex_unlock(&sdk_exit.lock);
    /* The wait status layout of Linux (what os.waitstatus_to_exitcode reads):
     * signal number in the low 7 bits, or exit code in bits 8-15. */
    int32_t status = signalled ? (value & 0x7f) : ((value & 0xff) << 8);
    if (cb != NULL)
        cb(pid, status, user);
}

int ohncp_api_RegisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb, void *userData) {
    register_status_fn ext = (register_status_fn)api_peek(FN_EXT_REGISTER_STATUS);
    if (ext != NULL)
        return ext(cb, userData);
    if (cb == NULL)
        return NCP_ERR_INVALID_PARAM;
    register_exit_fn sdk = (register_exit_fn)api_get(FN_REGISTER_EXIT);
    if (sdk == NULL)
        return OHNCP_API_MISSING;
    pthread_mutex_lock(&sdk_exit.lock);
    sdk_exit.cb = cb;
    sdk_exit.user = userData;
    pthread_mutex_unlock(&sdk_exit.lock);
    /* The runtime keeps one copy of the same callback: registering again
     * (after a fork, say) is harmless. */
    return (int)sdk(on_sdk_exit);
}

bool ohncp_api_exact_exit_status(void) {
    return api_peek(FN_EXT_REGISTER_STATUS) != NULL;
}

/* Without the by-id extension: exits come as (pid, status) and are passed
 * on with start id 0. One (cb, userData) at a time, set before the
 * registration (the lock orders it against the first report). */
static struct {
    pthread_mutex_t lock;
    OH_Ohncp_OnChildExitById cb;
    void *user;
} by_pid = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void on_exit_by_pid(int32_t pid, int32_t status, void *unused) {
    (void)unused;
    pthread_mutex_lock(&by_pid.lock);
    OH_Ohncp_OnChildExitById cb = by_pid.cb;
    void *user = by_pid.user;
    pthread_mutex_unlock(&by_pid.lock);
    if (cb != NULL)
        cb(0, pid, status, user);
}

int ohncp_api_RegisterExitByIdCallback(OH_Ohncp_OnChildExitById cb, void *userData) {
    register_by_id_fn ext = (register_by_id_fn)api_peek(FN_EXT_REGISTER_BY_ID);
    if (ext != NULL)
        return ext(cb, userData);
    if (cb == NULL)
        return NCP_ERR_INVALID_PARAM;
    pthread_mutex_lock(&by_pid.lock);
    by_pid.cb = cb;
    by_pid.user = userData;
    pthread_mutex_unlock(&by_pid.lock);
    return ohncp_api_RegisterExitStatusCallback(on_exit_by_pid, NULL);
}

bool ohncp_api_exit_by_id(void) {
    return api_peek(FN_EXT_REGISTER_BY_ID) != NULL && api_peek(FN_EXT_START_ENV) != NULL;
}
