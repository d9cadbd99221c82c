/*
 * child_process_info.h - the layout of a set of child process infos, shared
 * by libchild_process.so (which fills one: OH_Ability_AcquireChildProcessInfos)
 * and libability_runtime.so (which reads and frees it). One malloc'd block:
 * the header, `count` items, then the names they point into.
 */
#ifndef OHNCP_CHILD_PROCESS_INFO_INTERNAL_H
#define OHNCP_CHILD_PROCESS_INFO_INTERNAL_H

#include <stdint.h>

#include "AbilityKit/ability_runtime/child_process_info.h"

struct OH_AbilityRuntime_ChildProcessInfo {
    int32_t pid;
    int32_t parent_pid;
    const char *name; /* into the same block */
};

struct OH_AbilityRuntime_ChildProcessInfos {
    uint32_t count;
    struct OH_AbilityRuntime_ChildProcessInfo items[];
};

#endif
