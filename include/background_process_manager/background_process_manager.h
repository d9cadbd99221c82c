/*
 * background_process_manager.h - lower the CPU priority of a child process
 * (OpenHarmony SDK, API 17; libbackground_process_manager.z.so). ABI-exact
 * with the SDK.
 *
 * On the host (Linux) the pid must be a live child this process started
 * with OH_Ability_StartNativeChildProcess* or OH_Ability_CreateNativeChildProcess*
 * (401 otherwise, where a device returns 0 and ignores it). Every thread of
 * the child gets PROCESS_BACKGROUND: the SCHED_IDLE policy (CPU only when
 * nothing else wants it); PROCESS_INACTIVE: the nice value of the parent + 10
 * (at most 19). Reset puts back SCHED_OTHER with the parent's nice value;
 * without CAP_SYS_NICE (or a high enough RLIMIT_NICE) Linux refuses that and
 * Reset returns ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR. Threads the
 * child creates later inherit the setting from the thread that creates them.
 */
#ifndef RESOURCESCHEDULE_BACKGROUND_PROCESS_MANAGER_H
#define RESOURCESCHEDULE_BACKGROUND_PROCESS_MANAGER_H

#include "../ohncp_api_level.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How much a child is held back. Since API 17. */
typedef enum BackgroundProcessManager_ProcessPriority {
    PROCESS_BACKGROUND OHNCP_SINCE(17) = 1, /* most: work the user does not see */
    PROCESS_INACTIVE OHNCP_SINCE(17) = 2,   /* less: audio, navigation */
} BackgroundProcessManager_ProcessPriority;

/* Since API 17. */
typedef enum BackgroundProcessManager_ErrorCode {
    ERR_BACKGROUND_PROCESS_MANAGER_SUCCESS OHNCP_SINCE(17) = 0,
    ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM OHNCP_SINCE(17) = 401,
    ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR OHNCP_SINCE(17) = 31800001,
} BackgroundProcessManager_ErrorCode;

/* Hold child `pid` back by `priority`; returns a BackgroundProcessManager_ErrorCode. */
int OH_BackgroundProcessManager_SetProcessPriority(int pid,
                                                   BackgroundProcessManager_ProcessPriority priority)
    OHNCP_SINCE(17);

/* Let child `pid` run as its parent does again. */
int OH_BackgroundProcessManager_ResetProcessPriority(int pid) OHNCP_SINCE(17);

#ifdef __cplusplus
}
#endif

#endif /* RESOURCESCHEDULE_BACKGROUND_PROCESS_MANAGER_H */
