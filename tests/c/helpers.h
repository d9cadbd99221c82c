/* helpers.h - what the runtime tests share: starting test children,
 * recording exit callbacks, counting process resources. */
#ifndef OHNCP_TEST_HELPERS_H
#define OHNCP_TEST_HELPERS_H

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "native_child_process.h"
#include "ohncp_ext.h"
#include "testlib.h"

#define CHILD_LIB OHNCP_TEST_CHILD_DIR "/libchild_basic.so"

static inline const char *entry_of(const char *sym) {
    static __thread char buf[512];
    snprintf(buf, sizeof buf, "%s:%s", CHILD_LIB, sym);
    return buf;
}

/* Start `sym` from child_basic with one fd named "out" (if out >= 0). */
static inline int start_child(const char *sym, const char *params, int out, int32_t *pid) {
    NativeChildProcess_Fd node = {.fdName = (char *)"out", .fd = out, .next = NULL};
    NativeChildProcess_Args args = {.entryParams = (char *)params,
                                    .fdList = {.head = out >= 0 ? &node : NULL}};
    NativeChildProcess_Options opts = {.isolationMode = NCP_ISOLATION_MODE_NORMAL};
    return OH_Ability_StartNativeChildProcess(entry_of(sym), args, opts, pid);
}

/* Read until EOF or `size-1` bytes, with a 10 s limit. */
static inline ssize_t read_all(int fd, char *buf, size_t size) {
    size_t len = 0;
    while (len + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            break;
        ssize_t n = read(fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* ---- exit recording ---- */

#define MAX_EXITS 8192
static pthread_mutex_t exits_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exits_cond = PTHREAD_COND_INITIALIZER;
static struct {
    int32_t pid, signal;
} exits[MAX_EXITS];
static int nexits;

static inline void record_exit(int32_t pid, int32_t signal) {
    pthread_mutex_lock(&exits_lock);
    if (nexits < MAX_EXITS) {
        exits[nexits].pid = pid;
        exits[nexits++].signal = signal;
    }
    pthread_cond_broadcast(&exits_cond);
    pthread_mutex_unlock(&exits_lock);
}

static inline int count_exits(int32_t pid) {
    int n = 0;
    for (int i = 0; i < nexits; i++)
        n += exits[i].pid == pid;
    return n;
}

/* The `signal` value of pid's exit callback; -1 after `ms` without one. */
static inline int wait_exit(int32_t pid, int ms) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int result = -1;
    pthread_mutex_lock(&exits_lock);
    for (;;) {
        for (int i = 0; i < nexits; i++)
            if (exits[i].pid == pid)
                result = exits[i].signal;
        if (result >= 0 || pthread_cond_timedwait(&exits_cond, &exits_lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&exits_lock);
    return result;
}

static inline void register_recorder(void) {
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(record_exit), NCP_NO_ERROR);
}

/* ---- resources ---- */

static inline int count_dir(const char *path) {
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd, for /proc/self/fd */
}

static inline int count_fds(void) { return count_dir("/proc/self/fd"); }

/* The number of fds open in the child that `fd_list_out` (the write end of
 * a pipe; closed here) is given to under the name "out" by an
 * Entry_ListFds start: it lists "fd,fd,...;names:...". */
static inline int child_fd_count(int fd_list_read, int fd_list_out) {
    close(fd_list_out);
    char list[4096];
    read_all(fd_list_read, list, sizeof list);
    close(fd_list_read);
    char *names = strstr(list, ";names:");
    if (names == NULL)
        return -1;
    int nfds = 0;
    for (char *c = list; c < names; c++)
        nfds += *c == ',';
    return nfds;
}
static inline int count_threads(void) { return count_dir("/proc/self/task") + 1; }

static inline long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return kb;
}

/* True once `pid` no longer runs (exited, zombie or gone), within `ms`. */
static inline bool wait_gone(pid_t pid, int ms) {
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    close(fd);
    return r > 0;
}

/* Whether the tests run under qemu-user (the cross-build ctest sets the
 * spawner's launcher to the emulator). A few observations differ there for
 * reasons of the emulator, not of the runtime; those cases skip. */
static inline bool under_qemu_user(void) {
    const char *launcher = getenv("OHNCP_SPAWNER_LAUNCHER");
    return launcher != NULL && strstr(launcher, "qemu-") != NULL;
}

/* Whether this kernel, or the emulator the tests run under, offers
 * Landlock (qemu-user 7.2 answers ENOSYS), without which isolated starts are
 * refused with NCP_ERR_NOT_SUPPORTED. */
static inline bool landlock_available(void) {
#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444 /* the same on every architecture */
#endif
    /* flags = LANDLOCK_CREATE_RULESET_VERSION (1): ask for the ABI version */
    return syscall(SYS_landlock_create_ruleset, NULL, 0, 1U) >= 0;
}

/* The pids of the children of `parent` (its threads' children too), at most
 * `max` of them. */
static inline int children_of(pid_t parent, pid_t *out, int max) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char *close_paren = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        int ppid = 0;
        if (close_paren != NULL && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == parent)
            out[n++] = atoi(e->d_name);
        fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

#endif /* OHNCP_TEST_HELPERS_H */
