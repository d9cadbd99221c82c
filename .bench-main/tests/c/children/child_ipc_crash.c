/* child_ipc_crash.c - OnConnect crashes: NCP_ERR_CONNECTION_FAILED. */
#include <stdlib.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) { abort(); }
void NativeChildProcess_MainProc(void) {}
