/* ipc_hang.c - OnConnect never returns: the runtime's start timeout
 * (OHNCP_START_TIMEOUT_MS) ends the connect with NCP_ERR_TIMEOUT. */
#include <unistd.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    for (;;)
        pause();
}

void NativeChildProcess_MainProc(void)
{
}
