/* test_child_info.c - API 26.1 child process infos and API 17 priorities:
 * the live children listed with their pids, parent and names; priorities
 * seen in /proc by every thread of a real child. */
#include "helpers.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <AbilityKit/ability_runtime/child_process_info.h>
#include <background_process_manager/background_process_manager.h>

/* Start Entry_Block named `name` (NULL: the default name); its pid. */
static int32_t start_blocked(const char *name) {
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK(c != NULL);
    if (name != NULL)
        CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, name), NCP_NO_ERROR);
    int p[2];
    CHECK_EQ(pipe(p), 0);
    NativeChildProcess_Fd node = {.fdName = (char *)"out", .fd = p[1], .next = NULL};
    NativeChildProcess_Args args = {.entryParams = (char *)"", .fdList = {.head = &node}};
    int32_t pid = 0;
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_Block"), args, c, &pid),
             NCP_NO_ERROR);
    close(p[1]);
    char r[4];
    CHECK_EQ(read_all(p[0], r, 2), 1); /* "r": the entry runs */
    close(p[0]);
    OH_Ability_DestroyChildProcessConfigs(c);
    return pid;
}

static void kill_and_wait(int32_t pid) {
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_NO_ERROR);
    pthread_mutex_lock(&exits_lock);
    while (count_exits(pid) == 0)
        pthread_cond_wait(&exits_cond, &exits_lock);
    pthread_mutex_unlock(&exits_lock);
}

TEST(infos_list_the_live_children) {
    register_recorder();
    setenv("OHNCP_BUNDLE_NAME", "com.example.app", 1);
    OH_AbilityRuntime_ChildProcessInfosHandle infos = (OH_AbilityRuntime_ChildProcessInfosHandle)1;
    uint32_t count = 7;
    CHECK_EQ(OH_Ability_AcquireChildProcessInfos(NULL, &count), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_AcquireChildProcessInfos(&infos, NULL), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_AcquireChildProcessInfos(&infos, &count), NCP_NO_ERROR);
    CHECK(infos == NULL && count == 0); /* none yet */
    int32_t a = start_blocked("worker_a"), b = start_blocked(NULL);
    CHECK_EQ(OH_Ability_AcquireChildProcessInfos(&infos, &count), NCP_NO_ERROR);
    CHECK_EQ(count, 2);
    bool seen_a = false, seen_b = false;
    for (uint32_t i = 0; i < count; i++) {
        OH_AbilityRuntime_ChildProcessInfoHandle info = NULL;
        CHECK_EQ(OH_AbilityRuntime_GetChildProcessInfoByIndex(infos, i, &info), 0);
        int32_t pid = 0, ppid = 0;
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetPid(info, &pid), 0);
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetParentPid(info, &ppid), 0);
        CHECK_EQ(ppid, getpid());
        char name[128];
        uint32_t need = 0;
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetProcessName(info, name, sizeof name, &need), 0);
        CHECK_EQ(need, strlen(name) + 1);
        if (pid == a) {
            seen_a = true;
            CHECK_STREQ(name, "com.example.app:worker_a");
        } else if (pid == b) {
            seen_b = true;
            CHECK(strncmp(name, "com.example.app:Native_child_basic", 34) == 0);
        }
        char small[4];
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetProcessName(info, small, sizeof small, &need),
                 ABILITY_RUNTIME_ERROR_CODE_BUFFER_TOO_SMALL);
        CHECK_EQ(need, strlen(name) + 1);
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetProcessName(info, name, 0, &need),
                 ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID);
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetProcessName(info, NULL, 8, &need),
                 ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID);
        CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetPid(NULL, &pid),
                 ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID);
    }
    CHECK(seen_a && seen_b);
    OH_AbilityRuntime_ChildProcessInfoHandle info;
    CHECK_EQ(OH_AbilityRuntime_GetChildProcessInfoByIndex(infos, count, &info),
             ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID);
    CHECK_EQ(OH_AbilityRuntime_GetChildProcessInfoByIndex(NULL, 0, &info),
             ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID);
    OH_AbilityRuntime_ReleaseChildProcessInfos(&infos);
    CHECK(infos == NULL);
    OH_AbilityRuntime_ReleaseChildProcessInfos(&infos); /* NULL: nothing */
    OH_AbilityRuntime_ReleaseChildProcessInfos(NULL);
    /* a child that is gone is not listed */
    kill_and_wait(a);
    CHECK_EQ(OH_Ability_AcquireChildProcessInfos(&infos, &count), NCP_NO_ERROR);
    CHECK_EQ(count, 1);
    int32_t pid = 0;
    CHECK_EQ(OH_AbilityRuntime_GetChildProcessInfoByIndex(infos, 0, &info), 0);
    CHECK_EQ(OH_AbilityRuntime_ChildProcessInfo_GetPid(info, &pid), 0);
    CHECK_EQ(pid, b);
    OH_AbilityRuntime_ReleaseChildProcessInfos(&infos);
    kill_and_wait(b);
}

/* Field `field` (1-based, after the name) of /proc/<pid>/task/<tid>/stat. */
static long task_stat(int32_t pid, const char *tid, int field) {
    char path[96], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, tid);
    FILE *f = fopen(path, "re");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')') + 2; /* field 3 */
    for (int i = 3; i < field; i++)
        p = strchr(p, ' ') + 1;
    return strtol(p, NULL, 10);
}

/* Every thread of `pid` has scheduling policy `policy` and nice `nice`. */
static void check_threads(int32_t pid, long policy, long nice) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    CHECK(d != NULL);
    int threads = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        threads++;
        CHECK_EQ(task_stat(pid, e->d_name, 41), policy); /* policy */
        if (policy != SCHED_IDLE)
            CHECK_EQ(task_stat(pid, e->d_name, 19), nice); /* nice */
    }
    closedir(d);
    CHECK(threads >= 1);
}

TEST(priorities_of_a_child) {
    register_recorder();
    int32_t pid = start_blocked(NULL);
    errno = 0;
    int own = getpriority(PRIO_PROCESS, 0);
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(pid, (BackgroundProcessManager_ProcessPriority)3),
             ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM);
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(getpid(), PROCESS_BACKGROUND),
             ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM); /* not a child */
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(-1, PROCESS_BACKGROUND),
             ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM);
    CHECK_EQ(OH_BackgroundProcessManager_ResetProcessPriority(0),
             ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM);
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(pid, PROCESS_INACTIVE), 0);
    check_threads(pid, SCHED_OTHER, own + 10 > 19 ? 19 : own + 10);
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(pid, PROCESS_BACKGROUND), 0);
    check_threads(pid, SCHED_IDLE, 0);
    int rc = OH_BackgroundProcessManager_ResetProcessPriority(pid);
    if (geteuid() == 0) {
        CHECK_EQ(rc, 0);
        check_threads(pid, SCHED_OTHER, own);
    } else { /* Linux lets only CAP_SYS_NICE lower a nice value */
        CHECK(rc == 0 || rc == ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR);
    }
    kill_and_wait(pid);
    CHECK_EQ(OH_BackgroundProcessManager_SetProcessPriority(pid, PROCESS_INACTIVE),
             ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM); /* gone */
}
