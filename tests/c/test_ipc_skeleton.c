/* test_ipc_skeleton.c - OH_IPCSkeleton_* outside requests, their argument
 * checks, and JoinWorkThread/StopWorkThread. (Inside a remote request:
 * test_ipc_mode.c, calling_identity_inside_a_request.) */
#include "helpers.h"

#include <stdlib.h>

#include <IPCKit/ipc_kit.h>

static void *alloc(int32_t len) { return malloc((size_t)len); }
static void *no_memory(int32_t len) {
    (void)len;
    return NULL;
}

TEST(outside_a_request) {
    CHECK_EQ(OH_IPCSkeleton_GetCallingPid(), (uint64_t)getpid());
    CHECK_EQ(OH_IPCSkeleton_GetCallingUid(), (uint64_t)getuid());
    CHECK_EQ(OH_IPCSkeleton_GetCallingTokenId(), (uint64_t)getuid());
    CHECK_EQ(OH_IPCSkeleton_GetSelfTokenId(), (uint64_t)getuid());
    CHECK_EQ(OH_IPCSkeleton_GetFirstTokenId(), 0);
    CHECK_EQ(OH_IPCSkeleton_IsHandlingTransaction(), 0);
    CHECK_EQ(OH_IPCSkeleton_IsLocalCalling(), 1);
}

TEST(max_work_threads_bounds) {
    CHECK_EQ(OH_IPCSkeleton_SetMaxWorkThreadNum(0), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_SetMaxWorkThreadNum(33), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_SetMaxWorkThreadNum(-5), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_SetMaxWorkThreadNum(1), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCSkeleton_SetMaxWorkThreadNum(32), OH_IPC_SUCCESS);
}

TEST(calling_identity_arguments) {
    char *id = NULL;
    int32_t len = 0;
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(NULL, &len, alloc), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(&id, NULL, alloc), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(&id, &len, NULL), OH_IPC_CHECK_PARAM_ERROR);
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(&id, &len, no_memory), OH_IPC_MEM_ALLOCATOR_ERROR);
    CHECK_EQ(OH_IPCSkeleton_ResetCallingIdentity(&id, &len, alloc), OH_IPC_SUCCESS);
    CHECK(id != NULL && len == 1); /* outside a request: "", as on the device */
    CHECK_STREQ(id, "");
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity(id), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCSkeleton_GetCallingPid(), (uint64_t)getpid()); /* outside: still us */
    free(id);
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity(NULL), OH_IPC_CHECK_PARAM_ERROR);
    /* outside a request any string is taken and changes nothing (device) */
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity("not an identity"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCSkeleton_SetCallingIdentity("1:2:3"), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCSkeleton_GetCallingPid(), (uint64_t)getpid());
    CHECK_EQ(OH_IPCSkeleton_IsHandlingTransaction(), 0);
    CHECK_EQ(OH_IPCSkeleton_IsLocalCalling(), 1);
}

static void *joiner(void *arg) {
    (void)arg;
    OH_IPCSkeleton_JoinWorkThread(); /* serves requests until stopped */
    return (void *)1;
}

TEST(join_until_stopped) {
    pthread_t t;
    pthread_create(&t, NULL, joiner, NULL);
    usleep(100000);
    OH_IPCSkeleton_StopWorkThread();
    void *ret = NULL;
    CHECK_EQ(pthread_join(t, &ret), 0);
    CHECK(ret == (void *)1);
}
