/*
 * child_process_info.h - what OH_Ability_AcquireChildProcessInfos returns
 * (OpenHarmony SDK, API 26.1; libability_runtime.so), and its accessors.
 * ABI-exact with the SDK.
 *
 * A set of infos is a snapshot, owned by the caller until
 * OH_AbilityRuntime_ReleaseChildProcessInfos; the info handles taken from
 * it are valid as long as the set. Reading one set from several threads at
 * once is safe; releasing it while another reads is not.
 */
#ifndef ABILITY_RUNTIME_CHILD_PROCESS_INFO_H
#define ABILITY_RUNTIME_CHILD_PROCESS_INFO_H

#include <stdint.h>

#include "ability_runtime_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The set of infos, and one info in it. */
typedef struct OH_AbilityRuntime_ChildProcessInfos *OH_AbilityRuntime_ChildProcessInfosHandle
    OHNCP_SINCE_T(26_1);
typedef struct OH_AbilityRuntime_ChildProcessInfo *OH_AbilityRuntime_ChildProcessInfoHandle
    OHNCP_SINCE_T(26_1);

/* The info at `index` (< the count the set came with) in *info; PARAM_INVALID
 * for a NULL info or set, or an index out of range. */
AbilityRuntime_ErrorCode OH_AbilityRuntime_GetChildProcessInfoByIndex(
    OH_AbilityRuntime_ChildProcessInfosHandle infos, uint32_t index,
    OH_AbilityRuntime_ChildProcessInfoHandle *info) OHNCP_SINCE(26_1);

/* The child's pid in *pid; PARAM_INVALID for a NULL argument. */
AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetPid(
    OH_AbilityRuntime_ChildProcessInfoHandle info, int32_t *pid) OHNCP_SINCE(26_1);

/* The pid of the process that started it in *parentPid. */
AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetParentPid(
    OH_AbilityRuntime_ChildProcessInfoHandle info, int32_t *parentPid) OHNCP_SINCE(26_1);

/* Its process name ("{bundle}:{name}") into processName; *requiredSize is
 * the size it needs with its NUL, also when processNameSize is too small
 * (BUFFER_TOO_SMALL). PARAM_INVALID for a NULL argument or a size of 0. */
AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetProcessName(
    OH_AbilityRuntime_ChildProcessInfoHandle info, char *processName, uint32_t processNameSize,
    uint32_t *requiredSize) OHNCP_SINCE(26_1);

/* Free the set *infos (NULL or a NULL set: nothing) and set *infos to NULL. */
void OH_AbilityRuntime_ReleaseChildProcessInfos(OH_AbilityRuntime_ChildProcessInfosHandle *infos)
    OHNCP_SINCE(26_1);

#ifdef __cplusplus
}
#endif

#endif /* ABILITY_RUNTIME_CHILD_PROCESS_INFO_H */
