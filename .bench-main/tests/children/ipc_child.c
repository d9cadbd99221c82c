/*
 * ipc_child.c - the IPC-mode child library the Python tests connect to.
 *
 * conftest.py builds it into libohncp_test_ipc_child.so. OnConnect hands the
 * parent a stub named "ohncp.test.PyChild" (after sleeping
 * OHNCP_TEST_CONNECT_DELAY_MS milliseconds, if that is set). MainProc
 * returns, and so the child exits, when a request asks it to, or when the
 * stub is gone because the parent released its proxy.
 *
 * Request codes:
 *   1  ADD     int32 a, int32 b -> int32 a + b
 *   2  ECHO    the reply is a copy of the request (fds duplicated)
 *   3  EXIT    MainProc returns
 *   4  RETURN  int32 rc -> the request callback returns rc as is
 *   5  ABORT   abort() while handling the request
 *   6  FD      fd -> writes "hi" to it
 *   7  PID     -> int32 getpid()
 *   8  CALLBACK proxy p, int32 v -> sends p request 42 with v; replies its int32 + 1
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <IPCKit/ipc_kit.h>

enum { ADD = 1, ECHO, EXIT, RETURN, ABORT, FD, PID, CALLBACK };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
static int done;
static OHIPCRemoteStub *root;

static void finish(void)
{
    pthread_mutex_lock(&lock);
    done = 1;
    pthread_cond_signal(&finished);
    pthread_mutex_unlock(&lock);
}

static void on_stub_gone(void *user)
{
    (void)user;
    finish();
}

static int add(const OHIPCParcel *data, OHIPCParcel *reply)
{
    int32_t a, b;

    if (OH_IPCParcel_ReadInt32(data, &a) != OH_IPC_SUCCESS ||
        OH_IPCParcel_ReadInt32(data, &b) != OH_IPC_SUCCESS)
        return OH_IPC_PARCEL_READ_ERROR;
    /* Unsigned: the tests add near INT32_MAX, which must wrap, not trap. */
    return OH_IPCParcel_WriteInt32(reply, (int32_t)((uint32_t)a + (uint32_t)b));
}

static int write_hi(const OHIPCParcel *data)
{
    int32_t fd;
    ssize_t n;

    if (OH_IPCParcel_ReadFileDescriptor(data, &fd) != OH_IPC_SUCCESS)
        return OH_IPC_PARCEL_READ_ERROR;
    n = write(fd, "hi", 2);
    close(fd);
    return n == 2 ? OH_IPC_SUCCESS : OH_IPC_INNER_ERROR;
}

/* Call the caller back through the proxy it sent; the answer plus one. */
static int call_back(const OHIPCParcel *data, OHIPCParcel *reply)
{
    OHIPCRemoteProxy *peer = OH_IPCParcel_ReadRemoteProxy(data);
    OHIPCParcel *request = OH_IPCParcel_Create(), *answer = OH_IPCParcel_Create();
    int32_t v = 0, got = 0;
    int rc = peer == NULL || request == NULL || answer == NULL ? OH_IPC_PARCEL_READ_ERROR : 0;

    if (rc == 0)
        rc = OH_IPCParcel_ReadInt32(data, &v);
    if (rc == 0)
        rc = OH_IPCParcel_WriteInt32(request, v);
    if (rc == 0)
        rc = OH_IPCRemoteProxy_SendRequest(peer, 42, request, answer, NULL);
    if (rc == 0)
        rc = OH_IPCParcel_ReadInt32(answer, &got);
    if (rc == 0)
        rc = OH_IPCParcel_WriteInt32(reply, got + 1);
    OH_IPCParcel_Destroy(request);
    OH_IPCParcel_Destroy(answer);
    OH_IPCRemoteProxy_Destroy(peer);
    return rc;
}

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user)
{
    int32_t rc;

    (void)user;
    switch (code) {
    case ADD:
        return add(data, reply);
    case ECHO:
        return OH_IPCParcel_Append(reply, data);
    case EXIT:
        finish();
        return OH_IPC_SUCCESS;
    case RETURN:
        return OH_IPCParcel_ReadInt32(data, &rc) == OH_IPC_SUCCESS ? rc
                                                                   : OH_IPC_PARCEL_READ_ERROR;
    case ABORT:
        abort();
    case FD:
        return write_hi(data);
    case PID:
        return OH_IPCParcel_WriteInt32(reply, (int32_t)getpid());
    case CALLBACK:
        return call_back(data, reply);
    default:
        return OH_IPC_CODE_OUT_OF_RANGE;
    }
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    const char *delay = getenv("OHNCP_TEST_CONNECT_DELAY_MS");

    if (delay != NULL)
        usleep((useconds_t)atoi(delay) * 1000);
    root = OH_IPCRemoteStub_Create("ohncp.test.PyChild", on_request, on_stub_gone, NULL);
    return root;
}

void NativeChildProcess_MainProc(void)
{
    /* The runtime has handed the stub to the parent: from now on the
     * parent's proxy keeps it alive, and its release ends this process. */
    OH_IPCRemoteStub_Destroy(root);
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&finished, &lock);
    pthread_mutex_unlock(&lock);
}
