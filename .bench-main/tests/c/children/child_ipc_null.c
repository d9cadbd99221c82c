/* child_ipc_null.c - OnConnect returns NULL: NCP_ERR_CONNECTION_FAILED. */
#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) { return NULL; }
void NativeChildProcess_MainProc(void) {}
