/* ipc_crash.c - OnConnect dies of SIGSEGV: the connect fails with
 * NCP_ERR_CONNECTION_FAILED and says that OnConnect crashed. */
#include <signal.h>

#include <IPCKit/ipc_kit.h>

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    raise(SIGSEGV);
    return NULL;
}

void NativeChildProcess_MainProc(void)
{
}
