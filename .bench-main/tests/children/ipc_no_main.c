/* ipc_no_main.c - NativeChildProcess_MainProc is missing: the connect fails
 * with NCP_ERR_LIB_LOADING_FAILED. */
#include <IPCKit/ipc_kit.h>

static int ignore(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user)
{
    (void)code;
    (void)data;
    (void)reply;
    (void)user;
    return OH_IPC_SUCCESS;
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    return OH_IPCRemoteStub_Create("ohncp.test.NoMain", ignore, NULL, NULL);
}
