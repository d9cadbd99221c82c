/*
 * ability_runtime.c - libability_runtime.so on the host: the accessors of
 * child process infos (include/AbilityKit/ability_runtime/child_process_info.h).
 * The device's library has much more (contexts, abilities); this one has
 * what the native child process API needs. Every function only reads its
 * set, so any number of threads may use one set at once.
 */
#include "child_process_info.h"

#include <stdlib.h>
#include <string.h>

AbilityRuntime_ErrorCode OH_AbilityRuntime_GetChildProcessInfoByIndex(
    OH_AbilityRuntime_ChildProcessInfosHandle infos, uint32_t index,
    OH_AbilityRuntime_ChildProcessInfoHandle *info) {
    if (infos == NULL || info == NULL || index >= infos->count)
        return ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID;
    *info = &infos->items[index];
    return ABILITY_RUNTIME_ERROR_CODE_NO_ERROR;
}

AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetPid(
    OH_AbilityRuntime_ChildProcessInfoHandle info, int32_t *pid) {
    if (info == NULL || pid == NULL)
        return ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID;
    *pid = info->pid;
    return ABILITY_RUNTIME_ERROR_CODE_NO_ERROR;
}

AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetParentPid(
    OH_AbilityRuntime_ChildProcessInfoHandle info, int32_t *parentPid) {
    if (info == NULL || parentPid == NULL)
        return ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID;
    *parentPid = info->parent_pid;
    return ABILITY_RUNTIME_ERROR_CODE_NO_ERROR;
}

AbilityRuntime_ErrorCode OH_AbilityRuntime_ChildProcessInfo_GetProcessName(
    OH_AbilityRuntime_ChildProcessInfoHandle info, char *processName, uint32_t processNameSize,
    uint32_t *requiredSize) {
    if (info == NULL || processName == NULL || requiredSize == NULL || processNameSize == 0)
        return ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID;
    size_t len = strlen(info->name); /* < PROTO_NAME_MAX: fits a uint32_t */
    *requiredSize = (uint32_t)len + 1;
    if (processNameSize < *requiredSize)
        return ABILITY_RUNTIME_ERROR_CODE_BUFFER_TOO_SMALL;
    memcpy(processName, info->name, len + 1);
    return ABILITY_RUNTIME_ERROR_CODE_NO_ERROR;
}

void OH_AbilityRuntime_ReleaseChildProcessInfos(OH_AbilityRuntime_ChildProcessInfosHandle *infos) {
    if (infos == NULL)
        return;
    free(*infos); /* one block: see child_process_info.h */
    *infos = NULL;
}
