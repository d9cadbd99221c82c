/*
 * ipc_cskeleton.h - the IPC worker threads and the identity of the caller.
 *
 * Source- and ABI-compatible with the OpenHarmony SDK header of the same
 * name (IPCKit). Names and signatures are fixed by the SDK; the comments are
 * ours and describe the ohncp host runtime (behaviour.md §2.2, §6). Return
 * codes are OH_IPC_ErrorCode values (ipc_error_code.h).
 *
 * Map:
 *   1. worker threads
 *   2. caller identity
 */
#ifndef OHNCP_IPC_CSKELETON_H
#define OHNCP_IPC_CSKELETON_H

#include "ohncp_api_level.h"

#include <stdint.h>

#include "ipc_cparcel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. worker threads ---------------------------------------------------- */

/* Make the calling thread serve incoming requests; returns only after
 * OH_IPCSkeleton_StopWorkThread. */
void OH_IPCSkeleton_JoinWorkThread(void) OHNCP_SINCE(12);

/* Let a thread that joined with OH_IPCSkeleton_JoinWorkThread return. */
void OH_IPCSkeleton_StopWorkThread(void) OHNCP_SINCE(12);

/* Most threads that serve requests at once: 1..32, 16 by default.
 * OH_IPC_CHECK_PARAM_ERROR outside that range. */
int OH_IPCSkeleton_SetMaxWorkThreadNum(const int maxThreadNum) OHNCP_SINCE(12);

/* 1 while the calling thread is inside a request callback, else 0. */
int OH_IPCSkeleton_IsHandlingTransaction(void) OHNCP_SINCE(12);

/* ---- 2. caller identity ---------------------------------------------------- */

/* Inside a request callback these describe the requesting process; elsewhere
 * they describe the calling process itself. Pid and uid come from the
 * kernel, never from the message. */
uint64_t OH_IPCSkeleton_GetCallingTokenId(void) OHNCP_SINCE(12);
uint64_t OH_IPCSkeleton_GetFirstTokenId(void) OHNCP_SINCE(12);
uint64_t OH_IPCSkeleton_GetSelfTokenId(void) OHNCP_SINCE(12);
uint64_t OH_IPCSkeleton_GetCallingPid(void) OHNCP_SINCE(12);
uint64_t OH_IPCSkeleton_GetCallingUid(void) OHNCP_SINCE(12);

/* 1 if the current request comes from this same process, else 0. */
int OH_IPCSkeleton_IsLocalCalling(void) OHNCP_SINCE(12);

/* Make the calling identity this process's own, and hand back the previous
 * one (memory from `allocator`, *len bytes) for OH_IPCSkeleton_SetCallingIdentity.
 * OH_IPC_CHECK_PARAM_ERROR for NULL arguments, OH_IPC_MEM_ALLOCATOR_ERROR if
 * the allocator returns NULL. */
int OH_IPCSkeleton_ResetCallingIdentity(char **identity, int32_t *len,
                                        OH_IPC_MemAllocator allocator) OHNCP_SINCE(12);

/* Restore an identity returned by OH_IPCSkeleton_ResetCallingIdentity. */
int OH_IPCSkeleton_SetCallingIdentity(const char *identity) OHNCP_SINCE(12);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_IPC_CSKELETON_H */
