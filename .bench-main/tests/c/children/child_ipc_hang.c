/* child_ipc_hang.c - OnConnect never returns: NCP_ERR_TIMEOUT. */
#include <unistd.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    for (;;)
        pause();
}
void NativeChildProcess_MainProc(void) {}
