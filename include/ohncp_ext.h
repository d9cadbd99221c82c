/*
 * ohncp_ext.h - extensions of the ohncp host runtime (not part of the SDK).
 *
 * A device's libchild_process.so does not have these symbols; code that must
 * also run on a device uses them only when OHNCP_HOST_RUNTIME is defined, or
 * looks them up with dlsym. The Python package uses them on the host backend
 * to tell an exit code from a signal and to give precise error messages.
 */
#ifndef OHNCP_EXT_H
#define OHNCP_EXT_H

#include <stddef.h>
#include <stdint.h>

#include "native_child_process.h"

#ifdef __cplusplus
extern "C" {
#endif

#define OHNCP_HOST_RUNTIME 1

/* Called once per child exit with the raw wait status (as waitpid(2) gives
 * it: use WIFEXITED/WEXITSTATUS/WTERMSIG), on the same runtime thread and in
 * the same registration order as the SDK exit callbacks. */
typedef void (*OH_Ohncp_OnChildExitStatus)(int32_t pid, int32_t waitStatus, void *userData);

/* Register (cb, userData); the same pair twice is kept once. Returns an
 * NCP_* code: 401 for a NULL cb. */
int OH_Ohncp_RegisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb, void *userData);

/* Unregister (cb, userData); 16010009 if the pair is not registered. */
int OH_Ohncp_UnregisterExitStatusCallback(OH_Ohncp_OnChildExitStatus cb, void *userData);

/* Called once per child exit, like OH_Ohncp_OnChildExitStatus, with the
 * start id of the child besides: a number the runtime gives each start
 * (args and IPC mode) before the child can run, counting from 1, never
 * reused in a process (a pid is reused; this is not). */
typedef void (*OH_Ohncp_OnChildExitById)(uint64_t startId, int32_t pid, int32_t waitStatus,
                                         void *userData);

/* Register or unregister (cb, userData), as for the exit-status callback. */
int OH_Ohncp_RegisterExitByIdCallback(OH_Ohncp_OnChildExitById cb, void *userData);
int OH_Ohncp_UnregisterExitByIdCallback(OH_Ohncp_OnChildExitById cb, void *userData);

/* OH_Ability_StartNativeChildProcessWithConfigs with the child's environment
 * given: envp is a NULL-terminated array of "NAME=value" strings (NULL: the
 * caller's environ), read during the call only. On NCP_NO_ERROR, *startId is
 * the start id the child's exit is reported with. A caller that lets other
 * threads change the environment passes a copy of its own, since environ is
 * read without a lock. */
int OH_Ohncp_StartChildProcessWithEnv(const char *entry, NativeChildProcess_Args args,
                                      Ability_ChildProcessConfigs *configs, char *const *envp,
                                      int32_t *pid, uint64_t *startId);

/* OH_Ability_KillChildProcess for the child of the start that returned
 * `startId`: NCP_ERR_INVALID_PID once that child has exited, even if its pid
 * is some newer child's by now. */
int OH_Ohncp_KillChildProcessById(uint64_t startId);

/* OH_Ability_CreateNativeChildProcessWithConfigs with the child's
 * environment given, as above. */
int OH_Ohncp_CreateChildProcessWithEnv(const char *libName, Ability_ChildProcessConfigs *configs,
                                       char *const *envp,
                                       OH_Ability_OnNativeChildProcessStarted onProcessStarted);

/* A sentence about why the last failing OH_Ability_* call made by this
 * thread failed (which argument, which dlopen error, ...), or "" if none.
 * Valid until this thread's next call into the runtime. */
const char *OH_Ohncp_GetLastErrorMessage(void);

/* Why an IPC-mode start failed. Its start callback has only a code; the
 * reason is, while that callback runs, its thread's
 * OH_Ohncp_GetLastErrorMessage, and stays retrievable by the start's id:
 * OH_Ohncp_GetLastStartId gives the id of the IPC-mode start the calling
 * thread's last successful OH_Ability_CreateNativeChildProcess* call made
 * (0: none), and OH_Ohncp_GetStartErrorMessage copies that start's reason
 * (the dlopen error, a missing or NULL-returning entry, a crash in
 * NativeChildProcess_OnConnect, ...) into buf, truncated to size. It returns
 * 0, or 401 for a NULL/empty buf, a start that did not fail (yet), or one of
 * more than the last 64 failures. */
uint64_t OH_Ohncp_GetLastStartId(void);
int OH_Ohncp_GetStartErrorMessage(uint64_t id, char *buf, size_t size);

struct OHIPCRemoteProxy;

/* The pid of the process whose stub `proxy` reaches, as the kernel reported
 * it with that process's first message (a proxy from the start callback has
 * one at once); the caller's own pid for a proxy of a local stub; 0 if the
 * peer has not sent anything yet; -1 for NULL. In libipc_capi.so. */
int32_t OH_Ohncp_RemoteProxyGetPid(const struct OHIPCRemoteProxy *proxy);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_EXT_H */
