/* ipc_no_stub.c - OnConnect returns NULL: the connect fails with
 * NCP_ERR_CONNECTION_FAILED. */
#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    return NULL;
}

void NativeChildProcess_MainProc(void)
{
}
