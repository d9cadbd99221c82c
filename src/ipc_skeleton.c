/*
 * ipc_skeleton.c - OH_IPCSkeleton_* on the host.
 *
 * What each means here (the device has access tokens; Linux has uids):
 *   GetCallingPid/Uid    the requesting process, from SO_PEERCRED of the
 *                        connection; this process outside a request
 *   GetCallingTokenId    the calling uid (there are no tokens); own uid
 *   GetFirstTokenId      0: no call chains across processes here
 *   GetSelfTokenId       this process's uid
 *   IsLocalCalling       1 outside a request, or for a request from this
 *                        process (a local proxy); 0 for a remote caller
 *   IsHandlingTransaction  1 inside a request callback
 *   SetMaxWorkThreadNum  1..32 worker threads per process (default 16)
 *   JoinWorkThread       this thread serves requests until StopWorkThread
 *   Reset/SetCallingIdentity  inside a request: save the caller as
 *                        "pid:uid:local" and act as this process; put a
 *                        saved caller back (another string: OH_IPC_INNER_ERROR,
 *                        as the device refuses one it cannot parse). Outside
 *                        a request, as on the device: Reset gives "", Set
 *                        takes any string and changes nothing
 */
#include "ipc_cskeleton.h"
#include "ipc_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void OH_IPCSkeleton_JoinWorkThread(void) { ipc_engine_join(); }

void OH_IPCSkeleton_StopWorkThread(void) { ipc_engine_stop_join(); }

uint64_t OH_IPCSkeleton_GetCallingTokenId(void) { return OH_IPCSkeleton_GetCallingUid(); }

uint64_t OH_IPCSkeleton_GetFirstTokenId(void) { return 0; }

uint64_t OH_IPCSkeleton_GetSelfTokenId(void) { return (uint64_t)getuid(); }

uint64_t OH_IPCSkeleton_GetCallingPid(void) {
    const struct ipc_calling *c = ipc_current_calling();
    return c->active ? (uint64_t)c->pid : (uint64_t)getpid();
}

uint64_t OH_IPCSkeleton_GetCallingUid(void) {
    const struct ipc_calling *c = ipc_current_calling();
    return c->active ? (uint64_t)c->uid : (uint64_t)getuid();
}

int OH_IPCSkeleton_IsLocalCalling(void) {
    const struct ipc_calling *c = ipc_current_calling();
    return !c->active || c->local;
}

int OH_IPCSkeleton_SetMaxWorkThreadNum(const int maxThreadNum) {
    if (maxThreadNum < 1 || maxThreadNum > 32)
        return OH_IPC_CHECK_PARAM_ERROR;
    return ipc_engine_set_max_workers(maxThreadNum);
}

int OH_IPCSkeleton_ResetCallingIdentity(char **identity, int32_t *len,
                                        OH_IPC_MemAllocator allocator) {
    if (identity == NULL || len == NULL || allocator == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    const struct ipc_calling *c = ipc_current_calling();
    char buf[64] = "";
    int n = c->active ? snprintf(buf, sizeof buf, "%d:%u:%d", (int)c->pid, (unsigned)c->uid,
                                 (int)c->local)
                      : 0;
    char *out = allocator(n + 1);
    if (out == NULL)
        return OH_IPC_MEM_ALLOCATOR_ERROR;
    memcpy(out, buf, (size_t)n + 1);
    *identity = out;
    *len = n + 1;
    if (c->active) {
        struct ipc_calling self = {true, true, getpid(), getuid()};
        ipc_set_calling(&self);
    }
    return OH_IPC_SUCCESS;
}

int OH_IPCSkeleton_SetCallingIdentity(const char *identity) {
    int pid, local;
    unsigned uid;
    char tail;
    if (identity == NULL)
        return OH_IPC_CHECK_PARAM_ERROR;
    if (!ipc_current_calling()->active)
        return OH_IPC_SUCCESS; /* no caller to act as: nothing to change */
    if (sscanf(identity, "%d:%u:%d%c", &pid, &uid, &local, &tail) != 3 || pid <= 0)
        return OH_IPC_INNER_ERROR;
    struct ipc_calling c = {true, local != 0, (pid_t)pid, (uid_t)uid};
    ipc_set_calling(&c);
    return OH_IPC_SUCCESS;
}

int OH_IPCSkeleton_IsHandlingTransaction(void) { return ipc_current_calling()->active; }
