/*
 * ipc_cremote_object.h - remote objects: stubs, proxies, requests and death
 * notification.
 *
 * Source- and ABI-compatible with the OpenHarmony SDK header of the same
 * name (IPCKit). Names, values, layouts and signatures are fixed by the SDK;
 * the comments are ours and describe the ohncp host runtime (behaviour.md
 * §2.2, §6). Return codes are OH_IPC_ErrorCode values (ipc_error_code.h).
 *
 * Map:
 *   1. types: callbacks, request mode, message option
 *   2. stubs
 *   3. proxies and requests
 *   4. death recipients
 */
#ifndef OHNCP_IPC_CREMOTE_OBJECT_H
#define OHNCP_IPC_CREMOTE_OBJECT_H

#include "ohncp_api_level.h"

#include <stdint.h>

#include "ipc_cparcel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- 1. types: callbacks, request mode, message option ------------------ */

/* Told when the process behind a proxy dies (section 4). */
typedef struct OHIPCDeathRecipient OHIPCDeathRecipient OHNCP_SINCE_T(12);

/* Handles one request to a stub, on one of its owner's IPC worker threads.
 * `data` is the request and `reply` the answer to fill in; neither may be
 * kept or destroyed. Return 0, an OH_IPC_* code, or a user code in
 * [OH_IPC_USER_ERROR_CODE_MIN, OH_IPC_USER_ERROR_CODE_MAX]; the requester
 * sees anything else as OH_IPC_INVALID_USER_ERROR_CODE. */
typedef int (*OH_OnRemoteRequestCallback)(uint32_t code, const OHIPCParcel *data,
                                          OHIPCParcel *reply, void *userData) OHNCP_SINCE_T(12);

/* Runs once when the last reference to a stub, local or remote, is gone. */
typedef void (*OH_OnRemoteDestroyCallback)(void *userData) OHNCP_SINCE_T(12);

/* Runs once, on a runtime thread, when the watched peer process dies. */
typedef void (*OH_OnDeathRecipientCallback)(void *userData) OHNCP_SINCE_T(12);

/* Runs once when a death recipient is destroyed. */
typedef void (*OH_OnDeathRecipientDestroyCallback)(void *userData) OHNCP_SINCE_T(12);

/* Whether SendRequest waits for the reply. */
typedef enum {
    OH_IPC_REQUEST_MODE_SYNC OHNCP_SINCE(12) = 0,
    /* Returns once the request is queued; the stub's reply is dropped. */
    OH_IPC_REQUEST_MODE_ASYNC OHNCP_SINCE(12) = 1,
} OH_IPC_RequestMode OHNCP_SINCE_T(12);

/* Packed to 4 so the layout is the SDK's: 16 bytes on LP64, 12 on ILP32.
 * As in the SDK, pack() then sets the default packing again (not the one
 * the includer had): structs after the include are laid out as there. */
#pragma pack(4)
typedef struct {
    OH_IPC_RequestMode mode;
    uint32_t timeout; /* kept for the SDK's RPC use; ignored */
    void *reserved;   /* must be NULL */
} OH_IPC_MessageOption OHNCP_SINCE_T(12);
#pragma pack()

/* ---- 2. stubs --------------------------------------------------------------- */

/* A new stub named `descriptor` whose requests go to `requestCallback`.
 * destroyCallback and userData may be NULL. NULL on bad arguments or when
 * out of memory. */
OHIPCRemoteStub *OH_IPCRemoteStub_Create(const char *descriptor,
                                         OH_OnRemoteRequestCallback requestCallback,
                                         OH_OnRemoteDestroyCallback destroyCallback,
                                         void *userData) OHNCP_SINCE(12);

/* Drop the caller's reference; the stub lives on while remote proxies to it
 * exist. NULL is a no-op. */
void OH_IPCRemoteStub_Destroy(OHIPCRemoteStub *stub) OHNCP_SINCE(12);

/* ---- 3. proxies and requests ---------------------------------------------- */

/* Release a proxy the caller owns. NULL is a no-op. */
void OH_IPCRemoteProxy_Destroy(OHIPCRemoteProxy *proxy) OHNCP_SINCE(12);

/* Send `data` to the stub behind `proxy` with request `code` (1..0xFFFFFF,
 * else OH_IPC_CODE_OUT_OF_RANGE). A NULL option means synchronous; a sync
 * request needs a reply parcel, and option->reserved must be NULL (else
 * OH_IPC_CHECK_PARAM_ERROR). Returns the stub's result, or
 * OH_IPC_DEAD_REMOTE_OBJECT if its process is gone. */
int OH_IPCRemoteProxy_SendRequest(const OHIPCRemoteProxy *proxy, uint32_t code,
                                  const OHIPCParcel *data, OHIPCParcel *reply,
                                  const OH_IPC_MessageOption *option) OHNCP_SINCE(12);

/* The stub's descriptor, in memory from `allocator`; *len counts the NUL. */
int OH_IPCRemoteProxy_GetInterfaceDescriptor(OHIPCRemoteProxy *proxy, char **descriptor,
                                             int32_t *len, OH_IPC_MemAllocator allocator) OHNCP_SINCE(12);

/* ---- 4. death recipients ---------------------------------------------------- */

/* A recipient that calls `deathRecipientCallback` (not NULL) when a watched
 * peer dies. NULL on bad arguments or when out of memory. */
OHIPCDeathRecipient *OH_IPCDeathRecipient_Create(
    OH_OnDeathRecipientCallback deathRecipientCallback,
    OH_OnDeathRecipientDestroyCallback destroyCallback, void *userData) OHNCP_SINCE(12);

/* Free a recipient; its destroy callback runs. NULL is a no-op. */
void OH_IPCDeathRecipient_Destroy(OHIPCDeathRecipient *recipient) OHNCP_SINCE(12);

/* Watch the process behind `proxy` with `recipient`. */
int OH_IPCRemoteProxy_AddDeathRecipient(OHIPCRemoteProxy *proxy,
                                        OHIPCDeathRecipient *recipient) OHNCP_SINCE(12);

/* Stop watching. */
int OH_IPCRemoteProxy_RemoveDeathRecipient(OHIPCRemoteProxy *proxy,
                                           OHIPCDeathRecipient *recipient) OHNCP_SINCE(12);

/* 1 if the process behind `proxy` has died, else 0. */
int OH_IPCRemoteProxy_IsRemoteDead(const OHIPCRemoteProxy *proxy) OHNCP_SINCE(12);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_IPC_CREMOTE_OBJECT_H */
