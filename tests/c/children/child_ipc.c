/* child_ipc.c - an IPC-mode child library: its stub answers the requests
 * the IPC tests send (codes below), MainProc returns on CHILD_EXIT. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

#include "child_ipc_codes.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int exit_requested, destroyed;

static void on_destroy(void *user) {
    (void)user;
    pthread_mutex_lock(&lock);
    destroyed++;
    pthread_mutex_unlock(&lock);
}

static int handle(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user);

static int add(const OHIPCParcel *data, OHIPCParcel *reply) {
    int32_t a, b;
    if (OH_IPCParcel_ReadInt32(data, &a) || OH_IPCParcel_ReadInt32(data, &b))
        return OH_IPC_PARCEL_READ_ERROR;
    return OH_IPCParcel_WriteInt32(reply, a + b);
}

/* Call the proxy in `data` with code 42 and an int; answer its answer + 1. */
static int call_back(const OHIPCParcel *data, OHIPCParcel *reply) {
    OHIPCRemoteProxy *parent = OH_IPCParcel_ReadRemoteProxy(data);
    int32_t v;
    if (parent == NULL || OH_IPCParcel_ReadInt32(data, &v))
        return OH_IPC_PARCEL_READ_ERROR;
    OHIPCParcel *req = OH_IPCParcel_Create(), *rep = OH_IPCParcel_Create();
    OH_IPCParcel_WriteInt32(req, v);
    int rc = OH_IPCRemoteProxy_SendRequest(parent, 42, req, rep, NULL);
    int32_t got = 0;
    if (rc == 0)
        rc = OH_IPCParcel_ReadInt32(rep, &got);
    OH_IPCParcel_Destroy(req);
    OH_IPCParcel_Destroy(rep);
    OH_IPCRemoteProxy_Destroy(parent);
    return rc ? rc : OH_IPCParcel_WriteInt32(reply, got + 1);
}

/* Write to the fd in `data`; answer with a pipe holding "from-child". */
static int fds(const OHIPCParcel *data, OHIPCParcel *reply) {
    int32_t fd;
    if (OH_IPCParcel_ReadFileDescriptor(data, &fd))
        return OH_IPC_PARCEL_READ_ERROR;
    (void)!write(fd, "hello-fd", 8);
    close(fd);
    int p[2];
    if (pipe(p) != 0)
        return OH_IPC_INNER_ERROR;
    (void)!write(p[1], "from-child", 10);
    close(p[1]);
    int rc = OH_IPCParcel_WriteFileDescriptor(reply, p[0]);
    close(p[0]);
    return rc;
}

struct later {
    OHIPCRemoteProxy *parent;
    int32_t v, ms;
};
static void *call_back_later_main(void *arg) {
    struct later *l = arg;
    usleep((useconds_t)l->ms * 1000);
    OHIPCParcel *req = OH_IPCParcel_Create(), *rep = OH_IPCParcel_Create();
    OH_IPCParcel_WriteInt32(req, l->v);
    (void)OH_IPCRemoteProxy_SendRequest(l->parent, 42, req, rep, NULL);
    OH_IPCParcel_Destroy(req);
    OH_IPCParcel_Destroy(rep);
    OH_IPCRemoteProxy_Destroy(l->parent);
    free(l);
    return NULL;
}
/* Keep the proxy in `data` and call it later, from a thread of our own,
 * when the parent waits for nothing of ours. */
static int call_back_later(const OHIPCParcel *data) {
    struct later *l = calloc(1, sizeof *l);
    if (l == NULL)
        return OH_IPC_INNER_ERROR;
    l->parent = OH_IPCParcel_ReadRemoteProxy(data);
    pthread_t t;
    if (l->parent == NULL || OH_IPCParcel_ReadInt32(data, &l->v) ||
        OH_IPCParcel_ReadInt32(data, &l->ms) ||
        pthread_create(&t, NULL, call_back_later_main, l) != 0) {
        OH_IPCRemoteProxy_Destroy(l->parent);
        free(l);
        return OH_IPC_PARCEL_READ_ERROR;
    }
    pthread_detach(t);
    return 0;
}
static int caller(OHIPCParcel *reply) {
    OH_IPCParcel_WriteInt64(reply, (int64_t)OH_IPCSkeleton_GetCallingPid());
    OH_IPCParcel_WriteInt64(reply, (int64_t)OH_IPCSkeleton_GetCallingUid());
    OH_IPCParcel_WriteInt32(reply, OH_IPCSkeleton_IsHandlingTransaction());
    return OH_IPCParcel_WriteInt32(reply, OH_IPCSkeleton_IsLocalCalling());
}

static int handle(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)user;
    int32_t n;
    switch (code) {
    case CHILD_ADD:
        return add(data, reply);
    case CHILD_ECHO:
        return OH_IPCParcel_Append(reply, data);
    case CHILD_EXIT:
        pthread_mutex_lock(&lock);
        exit_requested = 1;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&lock);
        return 0;
    case CHILD_CALLER:
        return caller(reply);
    case CHILD_CALLBACK:
        return call_back(data, reply);
    case CHILD_FDS:
        return fds(data, reply);
    case CHILD_CALLBACK_LATER:
        return call_back_later(data);
    case CHILD_RETURN:
        return OH_IPCParcel_ReadInt32(data, &n) ? OH_IPC_PARCEL_READ_ERROR : n;
    case CHILD_SLEEP_MS:
        if (OH_IPCParcel_ReadInt32(data, &n))
            return OH_IPC_PARCEL_READ_ERROR;
        usleep((useconds_t)n * 1000);
        return OH_IPCParcel_WriteInt32(reply, n);
    case CHILD_CRASH:
        abort();
    case CHILD_NEW_STUB: {
        OHIPCRemoteStub *s = OH_IPCRemoteStub_Create("ohncp.test.Inner", handle, on_destroy, NULL);
        int rc = OH_IPCParcel_WriteRemoteStub(reply, s);
        OH_IPCRemoteStub_Destroy(s); /* the reply and then the parent hold it */
        return rc;
    }
    case CHILD_DESTROYED:
        pthread_mutex_lock(&lock);
        n = destroyed;
        pthread_mutex_unlock(&lock);
        return OH_IPCParcel_WriteInt32(reply, n);
    case CHILD_BIG: {
        if (OH_IPCParcel_ReadInt32(data, &n) || n < 0 || n > 300000)
            return OH_IPC_PARCEL_READ_ERROR;
        uint8_t *buf = calloc(1, (size_t)n + 1);
        for (int32_t i = 0; i < n; i++)
            buf[i] = (uint8_t)i;
        int rc = n > 0 ? OH_IPCParcel_WriteBuffer(reply, buf, n) : 0; /* 0: refused */
        free(buf);
        return rc;
    }
    default:
        return OH_IPC_CODE_OUT_OF_RANGE;
    }
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create("ohncp.test.Child", handle, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    pthread_mutex_lock(&lock);
    while (!exit_requested)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}
