/* The parent side, as on a device: start the calculator child, get its
 * proxy in the start callback, call "add", ask it to exit, and see the
 * exit callback. */
#include <pthread.h>
#include <stdio.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

#include "calc.h"
#include "../ncp_error.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static OHIPCRemoteProxy *calc;
static int start_code = -1, exit_code = -1;

static void on_started(int errCode, OHIPCRemoteProxy *proxy) {
    pthread_mutex_lock(&lock);
    start_code = errCode;
    calc = proxy;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static void on_exit_cb(int32_t pid, int32_t signal) {
    pthread_mutex_lock(&lock);
    printf("child %d exited (%d)\n", (int)pid, (int)signal);
    exit_code = signal;
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
}

static int add(int32_t a, int32_t b, int32_t *sum) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    OH_IPCParcel_WriteInt32(data, a);
    OH_IPCParcel_WriteInt32(data, b);
    int rc = OH_IPCRemoteProxy_SendRequest(calc, CALC_ADD, data, reply, NULL);
    if (rc == OH_IPC_SUCCESS)
        rc = OH_IPCParcel_ReadInt32(reply, sum);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    return rc;
}

int main(int argc, char **argv) {
    const char *lib = argc > 1 ? argv[1] : "libcalc_child.so";
    OH_Ability_RegisterNativeChildProcessExitCallback(on_exit_cb);
    int rc = OH_Ability_CreateNativeChildProcess(lib, on_started);
    if (rc != NCP_NO_ERROR) {
        char what[512];
        snprintf(what, sizeof what, "start of '%s'", lib);
        ncp_print_error(what, rc);
        return 1;
    }
    pthread_mutex_lock(&lock);
    while (start_code < 0)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    if (start_code != NCP_NO_ERROR) {
        fprintf(stderr, "child '%s' did not start: %s (%d)\n", lib, ncp_error_name(start_code),
                start_code);
        return 1;
    }
    int32_t sum = 0;
    rc = add(19, 23, &sum);
    printf("add(19, 23) = %d (rc %d)\n", (int)sum, rc);
    OHIPCParcel *none = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    OH_IPCRemoteProxy_SendRequest(calc, CALC_EXIT, none, reply, NULL);
    OH_IPCParcel_Destroy(none);
    OH_IPCParcel_Destroy(reply);
    pthread_mutex_lock(&lock);
    while (exit_code < 0)
        pthread_cond_wait(&changed, &lock);
    pthread_mutex_unlock(&lock);
    OH_IPCRemoteProxy_Destroy(calc);
    return rc == OH_IPC_SUCCESS && sum == 42 && exit_code == 0 ? 0 : 1;
}
