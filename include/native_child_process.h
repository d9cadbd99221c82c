/*
 * native_child_process.h - starting and managing native child processes.
 *
 * Source- and ABI-compatible with the OpenHarmony SDK header of the same
 * name (AbilityKit). Names, values, field order and calling conventions are
 * fixed by the SDK; the comments are ours and describe the ohncp host runtime.
 *
 * Map:
 *   1. error codes and enums
 *   2. argument structures
 *   3. callbacks
 *   4. functions, by SDK API level
 *
 * Each declaration carries its API level (OHNCP_SINCE): see
 * ohncp_api_level.h for building against an older device's level.
 */
#ifndef OHNCP_NATIVE_CHILD_PROCESS_H
#define OHNCP_NATIVE_CHILD_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "AbilityKit/ability_runtime/child_process_info.h"
#include "ipc_cparcel.h"
#include "ohncp_api_level.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. error codes and enums ------------------------------------------ */

/* Result of every function below that returns a code. */
typedef enum Ability_NativeChildProcess_ErrCode {
    NCP_NO_ERROR OHNCP_SINCE(12) = 0,
    /* An argument was missing, empty, too long or malformed. */
    NCP_ERR_INVALID_PARAM OHNCP_SINCE(12) = 401,
    /* The requested feature is not available on this machine. */
    NCP_ERR_NOT_SUPPORTED OHNCP_SINCE(12) = 801,
    /* An unexpected failure inside the runtime (out of memory, ...). */
    NCP_ERR_INTERNAL OHNCP_SINCE(12) = 16000050,
    /* Deprecated on the device; never returned by the host runtime. */
    NCP_ERR_BUSY OHNCP_SINCE(12) = 16010001,
    /* The child did not connect in time (IPC mode). */
    NCP_ERR_TIMEOUT OHNCP_SINCE(12) = 16010002,
    /* The spawner service could not be started or reached. */
    NCP_ERR_SERVICE_ERROR OHNCP_SINCE(12) = 16010003,
    /* Multi-process is switched off (OHNCP_MULTI_PROCESS=0 on the host). */
    NCP_ERR_MULTI_PROCESS_DISABLED OHNCP_SINCE(12) = 16010004,
    /* Called from inside a child process started by this runtime. */
    NCP_ERR_ALREADY_IN_CHILD OHNCP_SINCE(12) = 16010005,
    /* Too many live children for this parent process. */
    NCP_ERR_MAX_CHILD_PROCESSES_REACHED OHNCP_SINCE(12) = 16010006,
    /* The library could not be loaded, or the entry symbol is missing. */
    NCP_ERR_LIB_LOADING_FAILED OHNCP_SINCE(12) = 16010007,
    /* The child could not hand over its IPC object (IPC mode). */
    NCP_ERR_CONNECTION_FAILED OHNCP_SINCE(12) = 16010008,
    /* Unregistering a callback that was never registered. */
    NCP_ERR_CALLBACK_NOT_EXIST OHNCP_SINCE(20) = 16010009,
    /* The pid is not a live child of this process. */
    NCP_ERR_INVALID_PID OHNCP_SINCE(22) = 16010010,
} Ability_NativeChildProcess_ErrCode OHNCP_SINCE_T(12);

/* How strongly the child is separated from the parent. */
typedef enum NativeChildProcess_IsolationMode {
    /* Same user, same file system view, same network as the parent. */
    NCP_ISOLATION_MODE_NORMAL OHNCP_SINCE(13) = 0,
    /* Own namespaces, no network, private data directory. */
    NCP_ISOLATION_MODE_ISOLATED OHNCP_SINCE(13) = 1,
} NativeChildProcess_IsolationMode OHNCP_SINCE_T(13);

/* Opaque set of start options; see OH_Ability_CreateChildProcessConfigs. */
typedef struct Ability_ChildProcessConfigs Ability_ChildProcessConfigs OHNCP_SINCE_T(20);

/* ---- 2. argument structures -------------------------------------------- */

/* One named file descriptor handed to an args-mode child. */
typedef struct NativeChildProcess_Fd {
    char *fdName;                       /* 1..20 bytes, unique in a list */
    int32_t fd;                         /* open in the caller; duplicated */
    struct NativeChildProcess_Fd *next; /* next node, NULL at the end */
} NativeChildProcess_Fd OHNCP_SINCE_T(13);

/* Singly linked list of named fds; head NULL means none. */
typedef struct NativeChildProcess_FdList {
    struct NativeChildProcess_Fd *head;
} NativeChildProcess_FdList OHNCP_SINCE_T(13);

/* Options for OH_Ability_StartNativeChildProcess. */
typedef struct NativeChildProcess_Options {
    NativeChildProcess_IsolationMode isolationMode;
    int64_t reserved; /* must be 0 */
} NativeChildProcess_Options OHNCP_SINCE_T(13);

/* What an args-mode entry function receives. In the child, entryParams is
 * never NULL and fdList is sorted by name. */
typedef struct NativeChildProcess_Args {
    char *entryParams;                  /* at most 150 KiB; NULL means "" */
    struct NativeChildProcess_FdList fdList;
} NativeChildProcess_Args OHNCP_SINCE_T(13);

/* ---- 3. callbacks ------------------------------------------------------- */

/* IPC mode: called once per started child, on a runtime thread, with
 * NCP_NO_ERROR and a proxy the callee owns, or an error code and NULL. */
typedef void (*OH_Ability_OnNativeChildProcessStarted)(int errCode,
                                                       OHIPCRemoteProxy *remoteProxy)
    OHNCP_SINCE_T(12);

/* Called once per child exit, on a runtime thread. `signal` is the number
 * of the signal that killed the child, or its exit code if it exited. */
typedef void (*OH_Ability_OnNativeChildProcessExit)(int32_t pid, int32_t signal)
    OHNCP_SINCE_T(20);

/* ---- 4. functions --------------------------------------------------------- */

/* [API 12] Start an IPC-mode child from library `libName`; the result
 * arrives through `onProcessStarted`. Returns 0 or an NCP_ERR_* value. */
int OH_Ability_CreateNativeChildProcess(const char *libName,
                                        OH_Ability_OnNativeChildProcessStarted onProcessStarted) OHNCP_SINCE(12);

/* [API 13] Start an args-mode child that runs `entry` ("library:function")
 * with `args`. On NCP_NO_ERROR the library is loaded, the function found,
 * and *pid holds the child's pid. */
Ability_NativeChildProcess_ErrCode OH_Ability_StartNativeChildProcess(
    const char *entry, NativeChildProcess_Args args,
    NativeChildProcess_Options options, int32_t *pid) OHNCP_SINCE(13);

/* [API 17] In an args-mode child: its arguments, owned by the runtime and
 * valid for the life of the process. NULL in any other process. */
NativeChildProcess_Args *OH_Ability_GetCurrentChildProcessArgs(void) OHNCP_SINCE(17);

/* [API 20] A new configs object with default values (normal isolation,
 * no isolation uid, default process name), or NULL if out of memory. */
Ability_ChildProcessConfigs *OH_Ability_CreateChildProcessConfigs(void) OHNCP_SINCE(20);

/* [API 20] Free a configs object. NULL gives NCP_ERR_INVALID_PARAM. */
Ability_NativeChildProcess_ErrCode OH_Ability_DestroyChildProcessConfigs(
    Ability_ChildProcessConfigs *configs) OHNCP_SINCE(20);

/* [API 20] Choose the isolation mode (0 or 1). */
Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetIsolationMode(
    Ability_ChildProcessConfigs *configs, NativeChildProcess_IsolationMode isolationMode) OHNCP_SINCE(20);

/* [API 21] Run an isolated child under a uid of its own. */
Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetIsolationUid(
    Ability_ChildProcessConfigs *configs, bool isolationUid) OHNCP_SINCE(21);

/* [API 20] Name the child: 1..64 bytes of [A-Za-z0-9_]. */
Ability_NativeChildProcess_ErrCode OH_Ability_ChildProcessConfigs_SetProcessName(
    Ability_ChildProcessConfigs *configs, const char *processName) OHNCP_SINCE(20);

/* [API 20] IPC-mode start with a configs object. */
Ability_NativeChildProcess_ErrCode OH_Ability_CreateNativeChildProcessWithConfigs(
    const char *libName, Ability_ChildProcessConfigs *configs,
    OH_Ability_OnNativeChildProcessStarted onProcessStarted) OHNCP_SINCE(20);

/* [API 20] Args-mode start with a configs object. */
Ability_NativeChildProcess_ErrCode OH_Ability_StartNativeChildProcessWithConfigs(
    const char *entry, NativeChildProcess_Args args,
    Ability_ChildProcessConfigs *configs, int32_t *pid) OHNCP_SINCE(20);

/* [API 20] Call `onProcessExit` for every child exit from now on. Registering
 * the same pointer twice keeps one registration. */
Ability_NativeChildProcess_ErrCode OH_Ability_RegisterNativeChildProcessExitCallback(
    OH_Ability_OnNativeChildProcessExit onProcessExit) OHNCP_SINCE(20);

/* [API 20] Stop calling `onProcessExit`; NCP_ERR_CALLBACK_NOT_EXIST if it
 * was not registered. */
Ability_NativeChildProcess_ErrCode OH_Ability_UnregisterNativeChildProcessExitCallback(
    OH_Ability_OnNativeChildProcessExit onProcessExit) OHNCP_SINCE(20);

/* [API 22] SIGKILL a live child of this process; NCP_ERR_INVALID_PID for
 * any other pid. */
Ability_NativeChildProcess_ErrCode OH_Ability_KillChildProcess(int32_t pid) OHNCP_SINCE(22);

/* [API 26] Whether this process may start native child processes. */
bool OH_Ability_IsNativeChildProcessSupported(void) OHNCP_SINCE(26);

/* [API 26.1] The live children of this process (started by any of the
 * calls above and not yet exited) as a set the caller releases with
 * OH_AbilityRuntime_ReleaseChildProcessInfos; with none, *infos is NULL
 * and *count 0. NCP_ERR_INVALID_PARAM for a NULL argument. */
Ability_NativeChildProcess_ErrCode OH_Ability_AcquireChildProcessInfos(
    OH_AbilityRuntime_ChildProcessInfosHandle *infos, uint32_t *count) OHNCP_SINCE(26_1);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_NATIVE_CHILD_PROCESS_H */
