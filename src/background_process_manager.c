/*
 * background_process_manager.c - libbackground_process_manager.z.so on the
 * host: hold a child's CPU use back (see its header for the Linux meaning).
 *
 * Only live children of this process are touched: the runtime's list of
 * them (OH_Ability_AcquireChildProcessInfos) is asked first. A policy and
 * a nice value belong to a thread on Linux, so every thread listed in
 * /proc/<pid>/task is set. Thread-safe: nothing is kept between calls.
 */
#include "background_process_manager/background_process_manager.h"

#include <AbilityKit/native_child_process.h>

#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* API 26.1: weak, so that this API 17 library also loads with a runtime
 * of an older level (then no pid counts as a child). */
#pragma weak OH_Ability_AcquireChildProcessInfos
#pragma weak OH_AbilityRuntime_GetChildProcessInfoByIndex
#pragma weak OH_AbilityRuntime_ChildProcessInfo_GetPid
#pragma weak OH_AbilityRuntime_ReleaseChildProcessInfos

/* Whether `pid` is a live child of this process, started by the runtime. */
static bool is_our_child(int pid) {
    OH_AbilityRuntime_ChildProcessInfosHandle infos = NULL;
    uint32_t n = 0;
    bool found = false;
    if (OH_Ability_AcquireChildProcessInfos == NULL ||
        OH_AbilityRuntime_ReleaseChildProcessInfos == NULL ||
        OH_AbilityRuntime_GetChildProcessInfoByIndex == NULL ||
        OH_AbilityRuntime_ChildProcessInfo_GetPid == NULL)
        return false; /* an older runtime: it cannot say */
    if (pid <= 0 || OH_Ability_AcquireChildProcessInfos(&infos, &n) != NCP_NO_ERROR)
        return false;
    for (uint32_t i = 0; i < n && !found; i++) {
        OH_AbilityRuntime_ChildProcessInfoHandle info;
        int32_t p;
        found = OH_AbilityRuntime_GetChildProcessInfoByIndex(infos, i, &info) == 0 &&
                OH_AbilityRuntime_ChildProcessInfo_GetPid(info, &p) == 0 && p == pid;
    }
    OH_AbilityRuntime_ReleaseChildProcessInfos(&infos);
    return found;
}

/* The system call itself: musl's sched_setscheduler() is a stub (ENOSYS),
 * as the call acts on one thread, not on a process as POSIX has it. */
static int set_policy(pid_t tid, int policy) {
    struct sched_param param = {.sched_priority = 0};
    return syscall(SYS_sched_setscheduler, tid, policy, &param) < 0 ? -errno : 0;
}

/* Give thread `tid` `policy` and nice value `nice`; 0 or -errno. */
static int set_thread(pid_t tid, int policy, int nice) {
    int rc;
    /* From SCHED_IDLE back to SCHED_OTHER the nice value must be allowed
     * first; towards SCHED_IDLE the order does not matter. */
    if (policy == SCHED_OTHER && (rc = set_policy(tid, SCHED_OTHER)) < 0)
        return rc;
    if (setpriority(PRIO_PROCESS, (id_t)tid, nice) < 0)
        return -errno;
    if (policy != SCHED_OTHER && (rc = set_policy(tid, policy)) < 0)
        return rc;
    return 0;
}

/* Every thread of `pid`; a thread that ended meanwhile (ESRCH) is fine. */
static int set_process(int pid, int policy, int nice) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return set_thread(pid, policy, nice); /* no /proc: the main thread */
    int rc = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        pid_t tid = (pid_t)atoi(e->d_name);
        int r = tid > 0 ? set_thread(tid, policy, nice) : 0;
        if (r < 0 && r != -ESRCH)
            rc = r;
    }
    closedir(d);
    return rc;
}

/* The parent's nice value (getpriority may return -1 legitimately). */
static int own_nice(void) {
    errno = 0;
    int n = getpriority(PRIO_PROCESS, 0);
    return errno == 0 ? n : 0;
}

int OH_BackgroundProcessManager_SetProcessPriority(int pid,
                                                   BackgroundProcessManager_ProcessPriority priority) {
    if ((priority != PROCESS_BACKGROUND && priority != PROCESS_INACTIVE) || !is_our_child(pid))
        return ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM;
    int nice = own_nice() + 10;
    int rc = priority == PROCESS_BACKGROUND ? set_process(pid, SCHED_IDLE, 19)
                                            : set_process(pid, SCHED_OTHER, nice > 19 ? 19 : nice);
    return rc == 0 ? ERR_BACKGROUND_PROCESS_MANAGER_SUCCESS
                   : ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR;
}

int OH_BackgroundProcessManager_ResetProcessPriority(int pid) {
    if (!is_our_child(pid))
        return ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM;
    return set_process(pid, SCHED_OTHER, own_nice()) == 0 ? ERR_BACKGROUND_PROCESS_MANAGER_SUCCESS
                                                          : ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR;
}
