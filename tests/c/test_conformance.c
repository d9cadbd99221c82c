/* test_conformance.c - behaviours that code written for a device relies on,
 * one test each: the order of an IPC-mode start, the calling identity, ... */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include <IPCKit/ipc_kit.h>

#define IPC_LIB(name) OHNCP_TEST_CHILD_DIR "/lib" name ".so"

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static int cb_code = -1;
static OHIPCRemoteProxy *cb_proxy;
static int cb_count;

static void on_started(int code, OHIPCRemoteProxy *proxy) {
    pthread_mutex_lock(&cb_lock);
    cb_code = code;
    cb_proxy = proxy;
    cb_count++;
    pthread_cond_broadcast(&cb_cond);
    pthread_mutex_unlock(&cb_lock);
}

/* Start `lib` and wait (15 s at most) for its callback; its proxy or NULL. */
static OHIPCRemoteProxy *connect_to(const char *lib) {
    pthread_mutex_lock(&cb_lock);
    int before = cb_count;
    pthread_mutex_unlock(&cb_lock);
    CHECK_EQ(OH_Ability_CreateNativeChildProcess(lib, on_started), NCP_NO_ERROR);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 15;
    pthread_mutex_lock(&cb_lock);
    while (cb_count == before && pthread_cond_timedwait(&cb_cond, &cb_lock, &dl) != ETIMEDOUT)
        ;
    CHECK_EQ(cb_count, before + 1);
    CHECK_EQ(cb_code, NCP_NO_ERROR);
    OHIPCRemoteProxy *p = cb_proxy;
    pthread_mutex_unlock(&cb_lock);
    CHECK(p != NULL);
    return p;
}

static int32_t request_int(OHIPCRemoteProxy *proxy, uint32_t code) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    int32_t v = -1;
    CHECK_EQ(OH_IPCRemoteProxy_SendRequest(proxy, code, data, reply, NULL), 0);
    CHECK_EQ(OH_IPCParcel_ReadInt32(reply, &v), 0);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    return v;
}

static bool dead_soon(OHIPCRemoteProxy *proxy) {
    for (int i = 0; i < 1000 && !OH_IPCRemoteProxy_IsRemoteDead(proxy); i++)
        usleep(10000);
    return OH_IPCRemoteProxy_IsRemoteDead(proxy) == 1;
}

/* The start callback comes once MainProc runs: a child that listens for
 * its exit request only from MainProc gets the one sent from the callback
 * at once. With the notice sent before MainProc, most of these are dropped
 * and the children never exit. */
TEST_TIMEOUT(start_callback_follows_main_proc, 120) {
    for (int i = 0; i < 20; i++) {
        OHIPCRemoteProxy *p = connect_to(IPC_LIB("child_ipc_late"));
        CHECK_EQ(request_int(p, 1), 1); /* taken: MainProc was waiting */
        CHECK(dead_soon(p));
        OH_IPCRemoteProxy_Destroy(p);
    }
}

static void *alloc(int32_t len) { return malloc((size_t)len); }

/* Outside a request any identity string is taken and changes nothing, and
 * the reset that follows succeeds, as device code expects. */
TEST(calling_identity_outside_a_request) {
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity("an identity of another system"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCSkeleton_GetCallingPid(), (uint64_t)getpid());
    char *id = NULL;
    int32_t len = 0;
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(&id, &len, alloc), OH_IPC_SUCCESS);
    CHECK(id != NULL);
    CHECK_EQ(len, (int32_t)strlen(id) + 1);
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity(id), OH_IPC_SUCCESS);
    free(id);
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity(NULL), OH_IPC_CHECK_PARAM_ERROR);
}
