/*
 * ipc_error_code.h - result codes of the IPC Kit C API.
 *
 * Source- and ABI-compatible with the OpenHarmony SDK header of the same
 * name (IPCKit). The names and values are fixed by the SDK; the comments are
 * ours and describe the ohncp host runtime (behaviour.md §2.2, §6).
 *
 * Map:
 *   1. OH_IPC_ErrorCode
 */
#ifndef OHNCP_IPC_ERROR_CODE_H
#define OHNCP_IPC_ERROR_CODE_H

#include "ohncp_api_level.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. OH_IPC_ErrorCode ------------------------------------------------ */

/* Every IPC function that returns an int returns one of these, or, from
 * OH_IPCRemoteProxy_SendRequest, a user code the stub chose. */
typedef enum {
    OH_IPC_SUCCESS OHNCP_SINCE(12) = 0,
    /* First value of the IPC range; equal to OH_IPC_CHECK_PARAM_ERROR. */
    OH_IPC_ERROR_CODE_BASE OHNCP_SINCE(12) = 1901000,
    /* A NULL pointer, negative length, out-of-range position or bad fd. */
    OH_IPC_CHECK_PARAM_ERROR OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE,
    /* The parcel would grow past its limit, or memory ran out. */
    OH_IPC_PARCEL_WRITE_ERROR OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 1,
    /* Not enough data left, or the data there is not what was asked for. */
    OH_IPC_PARCEL_READ_ERROR OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 2,
    /* The caller's allocator returned NULL. */
    OH_IPC_MEM_ALLOCATOR_ERROR OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 3,
    /* A request code outside [1, 0xFFFFFF]. */
    OH_IPC_CODE_OUT_OF_RANGE OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 4,
    /* The process that owns the remote object has gone. */
    OH_IPC_DEAD_REMOTE_OBJECT OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 5,
    /* A stub callback returned a value outside the user range below. */
    OH_IPC_INVALID_USER_ERROR_CODE OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 6,
    /* Any other failure inside the runtime. */
    OH_IPC_INNER_ERROR OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 7,
    /* End of the IPC range (exclusive bound, never returned). */
    OH_IPC_ERROR_CODE_MAX OHNCP_SINCE(12) = OH_IPC_ERROR_CODE_BASE + 1000,
    /* Codes a stub callback may return; they reach the requester as is. */
    OH_IPC_USER_ERROR_CODE_MIN OHNCP_SINCE(12) = 1909000,
    OH_IPC_USER_ERROR_CODE_MAX OHNCP_SINCE(12) = 1909999,
} OH_IPC_ErrorCode OHNCP_SINCE_T(12);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_IPC_ERROR_CODE_H */
