/* An IPC-mode child library as it would be written for a device: a
 * calculator service. OnConnect hands the parent a stub; MainProc keeps the
 * process alive until the parent asks it to exit. */
#include <pthread.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

#include "calc.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done = PTHREAD_COND_INITIALIZER;
static int quit;

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)user;
    if (code == CALC_ADD) {
        int32_t a, b;
        if (OH_IPCParcel_ReadInt32(data, &a) != OH_IPC_SUCCESS ||
            OH_IPCParcel_ReadInt32(data, &b) != OH_IPC_SUCCESS)
            return OH_IPC_PARCEL_READ_ERROR;
        return OH_IPCParcel_WriteInt32(reply, a + b);
    }
    if (code == CALC_EXIT) {
        pthread_mutex_lock(&lock);
        quit = 1;
        pthread_cond_signal(&done);
        pthread_mutex_unlock(&lock);
        return OH_IPC_SUCCESS;
    }
    return OH_IPC_CODE_OUT_OF_RANGE;
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create(CALC_DESCRIPTOR, on_request, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    pthread_mutex_lock(&lock);
    while (!quit)
        pthread_cond_wait(&done, &lock);
    pthread_mutex_unlock(&lock);
}
