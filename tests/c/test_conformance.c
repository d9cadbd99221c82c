/* test_conformance.c - behaviours that code written for a device relies on,
 * the ones the device's conformance suites check, one test each: the order
 * of an IPC-mode start, the calling identity, the 50-child limit, no
 * children of children, configs, exit and kill callbacks. Every child here
 * is written as device code is: it takes its exit request only while
 * MainProc waits. */
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

/* 50 IPC-mode children at most; the 51st is refused at once, and once one
 * has exited, a new one starts. */
TEST_TIMEOUT(fifty_ipc_children_then_one_more, 180) {
    OHIPCRemoteProxy *p[50];
    for (int i = 0; i < 50; i++)
        p[i] = connect_to(IPC_LIB("child_ipc_late"));
    CHECK_EQ(OH_Ability_CreateNativeChildProcess(IPC_LIB("child_ipc_late"), on_started),
             NCP_ERR_MAX_CHILD_PROCESSES_REACHED);
    CHECK_EQ(request_int(p[49], 1), 1);
    CHECK(dead_soon(p[49]));
    OH_IPCRemoteProxy_Destroy(p[49]);
    int32_t ok = NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
    for (int i = 0; i < 500 && ok == NCP_ERR_MAX_CHILD_PROCESSES_REACHED; i++) {
        ok = OH_Ability_CreateNativeChildProcess(IPC_LIB("child_ipc_late"), on_started);
        if (ok == NCP_ERR_MAX_CHILD_PROCESSES_REACHED)
            usleep(10000); /* the slot is freed once the spawner reaped it */
    }
    CHECK_EQ(ok, NCP_NO_ERROR);
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 15;
    pthread_mutex_lock(&cb_lock);
    while (cb_code != NCP_NO_ERROR || cb_count < 51)
        if (pthread_cond_timedwait(&cb_cond, &cb_lock, &dl) == ETIMEDOUT)
            break;
    p[49] = cb_proxy;
    CHECK_EQ(cb_count, 51);
    pthread_mutex_unlock(&cb_lock);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(request_int(p[i], 1), 1);
        CHECK(dead_soon(p[i]));
        OH_IPCRemoteProxy_Destroy(p[i]);
    }
}

/* A child may not start children of its own. */
TEST(no_children_of_children) {
    OHIPCRemoteProxy *p = connect_to(IPC_LIB("child_ipc_late"));
    CHECK_EQ(request_int(p, 3), NCP_ERR_ALREADY_IN_CHILD);
    CHECK_EQ(request_int(p, 1), 1);
    CHECK(dead_soon(p));
    OH_IPCRemoteProxy_Destroy(p);
}

/* Configs: names of [A-Za-z0-9_] only, NULL objects refused, and a start
 * with them names the child "{bundle}:{name}". */
TEST(configs) {
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK(c != NULL);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "abc_123"), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "a-b"), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, ""), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(NULL, "x"), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationMode(NULL, NCP_ISOLATION_MODE_NORMAL),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_CreateNativeChildProcessWithConfigs(IPC_LIB("child_ipc_late"), c, NULL),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_CreateNativeChildProcessWithConfigs(NULL, c, on_started),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_CreateNativeChildProcessWithConfigs("../libx.so", c, on_started),
             NCP_ERR_INVALID_PARAM);
    setenv("OHNCP_BUNDLE_NAME", "com.example.conf", 1);
    pthread_mutex_lock(&cb_lock);
    int before = cb_count;
    pthread_mutex_unlock(&cb_lock);
    CHECK_EQ(OH_Ability_CreateNativeChildProcessWithConfigs(IPC_LIB("child_ipc_late"), c, on_started),
             NCP_NO_ERROR);
    pthread_mutex_lock(&cb_lock);
    while (cb_count == before)
        pthread_cond_wait(&cb_cond, &cb_lock);
    OHIPCRemoteProxy *p = cb_proxy;
    pthread_mutex_unlock(&cb_lock);
    CHECK(p != NULL);
    char path[64], name[128] = "";
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)request_int(p, 2));
    FILE *f = fopen(path, "re");
    CHECK(f != NULL);
    CHECK(fgets(name, sizeof name, f) != NULL);
    fclose(f);
    CHECK_STREQ(name, "com.example.conf:abc_123");
    CHECK_EQ(request_int(p, 1), 1);
    CHECK(dead_soon(p));
    OH_IPCRemoteProxy_Destroy(p);
    CHECK_EQ(OH_Ability_DestroyChildProcessConfigs(c), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_DestroyChildProcessConfigs(NULL), NCP_ERR_INVALID_PARAM);
}

/* Exit callbacks: registered twice, called once; unregistered twice, the
 * second is NCP_ERR_CALLBACK_NOT_EXIST; a normal exit gives its code (0), a
 * kill gives SIGKILL, and a pid that is no live child cannot be killed. */
TEST(exit_and_kill_callbacks) {
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(record_exit), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(record_exit), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(NULL), NCP_ERR_INVALID_PARAM);
    OHIPCRemoteProxy *p = connect_to(IPC_LIB("child_ipc_late"));
    int32_t pid = request_int(p, 2);
    CHECK_EQ(request_int(p, 1), 1);
    CHECK_EQ(wait_exit(pid, 15000), 0);
    usleep(100000);
    pthread_mutex_lock(&exits_lock);
    CHECK_EQ(count_exits(pid), 1); /* once, though registered twice */
    pthread_mutex_unlock(&exits_lock);
    OH_IPCRemoteProxy_Destroy(p);
    p = connect_to(IPC_LIB("child_ipc_late"));
    pid = request_int(p, 2);
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 15000), SIGKILL);
    CHECK(dead_soon(p));
    OH_IPCRemoteProxy_Destroy(p);
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ability_KillChildProcess(getpid()), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(record_exit), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(record_exit),
             NCP_ERR_CALLBACK_NOT_EXIST);
}
