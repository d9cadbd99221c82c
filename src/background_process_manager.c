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
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The runtime's list of children (API 26.1), found at run time: this API
 * 17 library also loads beside a runtime of an older level (then no pid
 * counts as a child), and finds the copy of libchild_process.so the caller
 * loaded (Python loads it RTLD_LOCAL), by its soname. */
typedef Ability_NativeChildProcess_ErrCode (*acquire_fn)(OH_AbilityRuntime_ChildProcessInfosHandle *,
                                                         uint32_t *);
typedef AbilityRuntime_ErrorCode (*by_index_fn)(OH_AbilityRuntime_ChildProcessInfosHandle, uint32_t,
                                                OH_AbilityRuntime_ChildProcessInfoHandle *);
typedef AbilityRuntime_ErrorCode (*get_pid_fn)(OH_AbilityRuntime_ChildProcessInfoHandle, int32_t *);
typedef void (*release_fn)(OH_AbilityRuntime_ChildProcessInfosHandle *);

static struct {
    acquire_fn acquire;
    by_index_fn by_index;
    get_pid_fn get_pid;
    release_fn release;
} infos_api; /* written once (pthread_once), then only read */
static pthread_once_t infos_once = PTHREAD_ONCE_INIT;

static void *open_loaded(const char *soname) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
    return h != NULL ? h : dlopen(soname, RTLD_NOW | RTLD_LOCAL); /* kept open */
}

static void find_infos_api(void) {
    void *ncp = open_loaded("libchild_process.so"), *ar = open_loaded("libability_runtime.so");
    if (ncp == NULL || ar == NULL)
        return;
    void *a = dlsym(ncp, "OH_Ability_AcquireChildProcessInfos");
    void *b = dlsym(ar, "OH_AbilityRuntime_GetChildProcessInfoByIndex");
    void *p = dlsym(ar, "OH_AbilityRuntime_ChildProcessInfo_GetPid");
    void *r = dlsym(ar, "OH_AbilityRuntime_ReleaseChildProcessInfos");
    if (a == NULL || b == NULL || p == NULL || r == NULL)
        return;
    memcpy(&infos_api.acquire, &a, sizeof a); /* POSIX: void * converts to a function */
    memcpy(&infos_api.by_index, &b, sizeof b);
    memcpy(&infos_api.get_pid, &p, sizeof p);
    memcpy(&infos_api.release, &r, sizeof r);
}

/* Whether `pid` is a live child of this process, started by the runtime. */
static bool is_our_child(int pid) {
    OH_AbilityRuntime_ChildProcessInfosHandle infos = NULL;
    uint32_t n = 0;
    bool found = false;
    pthread_once(&infos_once, find_infos_api);
    if (infos_api.acquire == NULL)
        return false; /* an older runtime: it cannot say */
    if (pid <= 0 || infos_api.acquire(&infos, &n) != NCP_NO_ERROR)
        return false;
    for (uint32_t i = 0; i < n && !found; i++) {
        OH_AbilityRuntime_ChildProcessInfoHandle info;
        int32_t p;
        found = infos_api.by_index(infos, i, &info) == 0 && infos_api.get_pid(info, &p) == 0 &&
                p == pid;
    }
    infos_api.release(&infos);
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
