/*
 * _api.h - the runtime's newer functions, looked up when first used.
 *
 * A device only has the functions of its API level (behaviour.md §2.1), and
 * the OH_Ohncp_* extensions exist only in the ohncp host runtime. Linking
 * them directly would make `import ohncp` fail on an older device (Python
 * loads extensions with RTLD_NOW). So the extension links only what every
 * device has (API 12/13) and reaches everything newer through these
 * wrappers, which find the function with dlsym in the libchild_process.so
 * that is loaded, once, and otherwise return OHNCP_API_MISSING.
 *
 * OHNCP_API_MISSING is not an NCP_* code (those are 0 or positive); Python
 * turns it into NotSupportedError, naming what ohncp_api_missing_symbol()
 * and ohncp_api_missing_level() report for the calling thread.
 */
#ifndef OHNCP_API_H
#define OHNCP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "native_child_process.h"
#include "background_process_manager/background_process_manager.h"
#include "ohncp_ext.h"

#define OHNCP_API_HIDDEN __attribute__((visibility("hidden")))

/* Returned instead of an NCP_* code when the function is missing. */
#define OHNCP_API_MISSING (-2)
/* ohncp_api_missing_level() of the OH_Ohncp_* host extensions. */
#define OHNCP_API_LEVEL_HOST_ONLY 0

/* The function whose absence made this thread's latest call return
 * OHNCP_API_MISSING ("" if none yet), and the device API level that has it
 * (OHNCP_API_LEVEL_HOST_ONLY for the OH_Ohncp_* extensions). */
OHNCP_API_HIDDEN const char *ohncp_api_missing_symbol(void);
OHNCP_API_HIDDEN int ohncp_api_missing_level(void);

/* Whether the named function (one of the wrapped ones) is present. */
OHNCP_API_HIDDEN bool ohncp_api_has(const char *symbol);

/* The directory of the libchild_process.so in use (the bundled one, or the
 * system's), copied to buf. Returns 0, or -1 if it cannot be told. */
OHNCP_API_HIDDEN int ohncp_api_library_dir(char *buf, size_t len);

/* [20] Returns NULL when missing (ohncp_api_missing_* tell so) or failing. */
OHNCP_API_HIDDEN Ability_ChildProcessConfigs *ohncp_api_CreateChildProcessConfigs(void);
/* OHNCP_API_MISSING if the last ohncp_api_CreateChildProcessConfigs of this
 * thread returned NULL because the function is missing, else NCP_ERR_INTERNAL. */
OHNCP_API_HIDDEN int ohncp_api_configs_failure(void);
/* [20] */
OHNCP_API_HIDDEN int ohncp_api_DestroyChildProcessConfigs(Ability_ChildProcessConfigs *configs);
/* [20] */
OHNCP_API_HIDDEN int ohncp_api_ChildProcessConfigs_SetIsolationMode(
    Ability_ChildProcessConfigs *configs, NativeChildProcess_IsolationMode isolationMode);
/* [21] */
OHNCP_API_HIDDEN int ohncp_api_ChildProcessConfigs_SetIsolationUid(
    Ability_ChildProcessConfigs *configs, bool isolationUid);
/* [20] */
OHNCP_API_HIDDEN int ohncp_api_ChildProcessConfigs_SetProcessName(
    Ability_ChildProcessConfigs *configs, const char *processName);
/* [20] */
OHNCP_API_HIDDEN int ohncp_api_CreateNativeChildProcessWithConfigs(
    const char *libName, Ability_ChildProcessConfigs *configs,
    OH_Ability_OnNativeChildProcessStarted onProcessStarted);
/* [20] */
OHNCP_API_HIDDEN int ohncp_api_StartNativeChildProcessWithConfigs(
    const char *entry, NativeChildProcess_Args args, Ability_ChildProcessConfigs *configs,
    int32_t *pid);
/* [22] */
OHNCP_API_HIDDEN int ohncp_api_KillChildProcess(int32_t pid);
/* OH_Ohncp_KillChildProcessById(start_id) where the runtime has it and
 * start_id is not 0; elsewhere ohncp_api_KillChildProcess(pid). */
OHNCP_API_HIDDEN int ohncp_api_KillChildProcessById(uint64_t start_id, int32_t pid);
/* [26] 1 or 0. Where the function is missing (devices before API 26): 1 if
 * the functions this package starts children with (API 20) are present and
 * some exit report is available, else 0. */
OHNCP_API_HIDDEN int ohncp_api_IsNativeChildProcessSupported(void);

/* OH_Ohncp_RegisterExitStatusCallback where the runtime has it. Elsewhere
 * (a device) the SDK exit callback [20] is registered instead and its
 * (pid, signal-or-exit-code) is turned into a wait status: a signal if this
 * process killed that pid with ohncp_api_KillChildProcess and the number is
 * SIGKILL, an exit code otherwise (the SDK callback cannot tell 6 = SIGABRT
 * from exit(6)). One (cb, userData) at a time in that case. */
OHNCP_API_HIDDEN int ohncp_api_RegisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb,
                                                          void *userData);
/* Whether exits come with their raw wait status (the host extension). */
OHNCP_API_HIDDEN bool ohncp_api_exact_exit_status(void);

/* OH_Ohncp_RegisterExitByIdCallback where the runtime has it; elsewhere
 * ohncp_api_RegisterExitStatusCallback with start id 0 in every report.
 * One (cb, userData) at a time in that case. */
OHNCP_API_HIDDEN int ohncp_api_RegisterExitByIdCallback(OH_Ohncp_OnChildExitById cb,
                                                        void *userData);
/* Whether exits come with the start id the start returned (the extension). */
OHNCP_API_HIDDEN bool ohncp_api_exit_by_id(void);

/* OH_Ohncp_StartChildProcessWithEnv where the runtime has it; elsewhere
 * ohncp_api_StartNativeChildProcessWithConfigs, which reads the caller's
 * environ (envp unused), with *startId 0. */
OHNCP_API_HIDDEN int ohncp_api_StartChildProcessWithEnv(const char *entry,
                                                        NativeChildProcess_Args args,
                                                        Ability_ChildProcessConfigs *configs,
                                                        char *const *envp, int32_t *pid,
                                                        uint64_t *startId);
/* OH_Ohncp_CreateChildProcessWithEnv, or the SDK form (envp unused). */
OHNCP_API_HIDDEN int ohncp_api_CreateChildProcessWithEnv(
    const char *libName, Ability_ChildProcessConfigs *configs, char *const *envp,
    OH_Ability_OnNativeChildProcessStarted cb);

/* OH_Ohncp_GetLastErrorMessage, or "" where the runtime lacks it. */
OHNCP_API_HIDDEN const char *ohncp_api_GetLastErrorMessage(void);

/* [17] NULL when missing (ohncp_api_missing_* tell so) or not in a child. */
OHNCP_API_HIDDEN NativeChildProcess_Args *ohncp_api_GetCurrentChildProcessArgs(void);

/* Host extension of libipc_capi.so: the pid behind `proxy`, or
 * OHNCP_API_MISSING. */
OHNCP_API_HIDDEN int32_t ohncp_api_RemoteProxyGetPid(const OHIPCRemoteProxy *proxy);

/* Host extensions: the id of this thread's last IPC-mode start (0 if
 * unknown) and the reason it failed (OHNCP_API_MISSING, 401, or 0). */
OHNCP_API_HIDDEN uint64_t ohncp_api_GetLastStartId(void);
OHNCP_API_HIDDEN int ohncp_api_GetStartErrorMessage(uint64_t id, char *buf, size_t size);

/* [26.1] The live children: up to `max` pids, parent pids and names (each
 * in `name_size` bytes of `names`); *count is how many there are, which
 * may be more than max. An NCP or AbilityRuntime code, or OHNCP_API_MISSING. */
OHNCP_API_HIDDEN int ohncp_api_child_infos(int32_t *pids, int32_t *ppids, char *names,
                                           size_t name_size, int max, int *count);

/* [17] libbackground_process_manager.z.so's two calls, or OHNCP_API_MISSING. */
OHNCP_API_HIDDEN int ohncp_api_SetProcessPriority(int pid, int priority);
OHNCP_API_HIDDEN int ohncp_api_ResetProcessPriority(int pid);

/* The library ohncp_api_missing_symbol()'s function is looked for in. */
OHNCP_API_HIDDEN const char *ohncp_api_missing_library(void);

#endif /* OHNCP_API_H */
