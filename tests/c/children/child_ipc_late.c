/* child_ipc_late.c - an IPC-mode child written the way device code is: its
 * stub takes an exit request only while MainProc waits for one, and drops
 * (answers 0 to) one that comes earlier. Request 1: exit (-> int32 1 if
 * taken); request 2: -> int32 the child's pid; request 3: -> int32 the code
 * of a start from here (a child may not start children). */
#include <pthread.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int waiting, told;

static void no_cb(int code, OHIPCRemoteProxy *proxy) {
    (void)code;
    (void)proxy;
}

static int handle(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)data;
    (void)user;
    if (code == 2)
        return OH_IPCParcel_WriteInt32(reply, (int32_t)getpid());
    if (code == 3)
        return OH_IPCParcel_WriteInt32(reply, OH_Ability_CreateNativeChildProcess("libx.so", no_cb));
    pthread_mutex_lock(&lock);
    int taken = waiting;
    if (taken) {
        told = 1;
        pthread_cond_signal(&cond);
    }
    pthread_mutex_unlock(&lock);
    return OH_IPCParcel_WriteInt32(reply, taken);
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create("ohncp.test.Late", handle, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    pthread_mutex_lock(&lock);
    waiting = 1;
    while (!told)
        pthread_cond_wait(&cond, &lock);
    waiting = 0;
    pthread_mutex_unlock(&lock);
}
