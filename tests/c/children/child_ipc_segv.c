/* child_ipc_segv.c - OnConnect dies of SIGSEGV: the start fails, and says so. */
#include <signal.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    (void)raise(SIGSEGV);
    return (OHIPCRemoteStub *)0;
}
void NativeChildProcess_MainProc(void) {}
