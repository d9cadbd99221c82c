/*
 * cli_ipc_child.c - an IPC-mode child for the tests of `python -m ohncp call`.
 *
 * conftest.py builds it into libohncp_test_cli_ipc_child.so. Its stub
 * ("ohncp.test.CliSlow") answers one request:
 *   1  SLEEP   int32 ms -> sleeps that long, then replies int32 ms
 * MainProc returns when the stub is gone (the parent released its proxy).
 */
#include <pthread.h>
#include <time.h>

#include <IPCKit/ipc_kit.h>

enum { SLEEP = 1 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static int done;
static OHIPCRemoteStub *root;

static void on_stub_gone(void *user)
{
    (void)user;
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_signal(&finished);
    pthread_mutex_unlock(&lock);
}

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user)
{
    int32_t ms;
    struct timespec pause;

    (void)user;
    if (code != SLEEP)
        return OH_IPC_CODE_OUT_OF_RANGE;
    if (OH_IPCParcel_ReadInt32(data, &ms) != OH_IPC_SUCCESS || ms < 0)
        return OH_IPC_PARCEL_READ_ERROR;
    pause.tv_sec = ms / 1000;
    pause.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&pause, &pause) != 0)
        ;
    return OH_IPCParcel_WriteInt32(reply, ms);
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    root = OH_IPCRemoteStub_Create("ohncp.test.CliSlow", on_request, on_stub_gone, NULL);
    return root;
}

void NativeChildProcess_MainProc(void)
{
    OH_IPCRemoteStub_Destroy(root);
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
}
