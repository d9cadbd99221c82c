/* child_ipc_nomain.c - no NativeChildProcess_MainProc: NCP_ERR_LIB_LOADING_FAILED. */
#include <IPCKit/ipc_kit.h>

static int ignore(uint32_t c, const OHIPCParcel *d, OHIPCParcel *r, void *u) {
    (void)c, (void)d, (void)r, (void)u;
    return 0;
}
OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create("x", ignore, NULL, NULL);
}
