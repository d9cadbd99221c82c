/*
 * ipc_bridge.h - private calls from libchild_process.so (and the spawner's
 * children) into libipc_capi.so. Only OH_* names leave the libraries, so
 * these carry the host prefix OH_Ohncp_; no public header declares them and
 * applications must not use them.
 */
#ifndef OHNCP_IPC_BRIDGE_H
#define OHNCP_IPC_BRIDGE_H

#include "ipc_cparcel.h"

#ifdef __cplusplus
extern "C" {
#endif

/* In an IPC-mode child: serve `root` on the channel `fd` (taken over) and
 * send it to the parent. 0 or -errno. */
__attribute__((visibility("default"))) int OH_Ohncp_IPCServeChannel(int fd,
                                                                    OHIPCRemoteStub *root);

/* In the parent: wait up to `timeout_ms` for the child's root object on the
 * channel `fd` (taken over, even on failure) and return a proxy to it.
 * 0, -ETIMEDOUT, -EPIPE (the child hung up first), -EPROTO, -ENOMEM. */
__attribute__((visibility("default"))) int OH_Ohncp_IPCAcceptChannel(int fd, int timeout_ms,
                                                                     OHIPCRemoteProxy **ret);

/* In an IPC-mode child whose MainProc returned: wait up to `timeout_ms`
 * for requests being handled to finish and their replies to go out. 0 or
 * -ETIMEDOUT. */
__attribute__((visibility("default"))) int OH_Ohncp_IPCDrain(int timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* OHNCP_IPC_BRIDGE_H */
