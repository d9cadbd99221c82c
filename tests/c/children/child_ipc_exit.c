/* child_ipc_exit.c - OnConnect calls exit(3): the start fails, and says so. */
#include <stdlib.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) { exit(3); }
void NativeChildProcess_MainProc(void) {}
