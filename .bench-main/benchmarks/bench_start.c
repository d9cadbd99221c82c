/*
 * bench_start.c - start latency, from the start call to the entry running
 * (the entry writes a byte that the parent reads), for:
 *   ohncp     OH_Ability_StartNativeChildProcess through this runtime
 *   template  bare baseline: a template process with the library loaded
 *             forks on request; the child calls the entry
 *   template+dlopen  the same, but the child loads the library itself (what
 *             any runtime must do that keeps library constructors in the
 *             child)
 *   spawn     posix_spawn of a dynamically linked launcher that dlopens
 *             the library
 *   isolated  the ohncp C API in isolated mode, without and with
 *             isolationUid (the sandbox of src/sandbox.c)
 * plus the time to have 512 children alive and the latency from
 * OH_Ability_KillChildProcess to the exit callback.
 * Output: one JSON object per line (run_start.py reads them).
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "native_child_process.h"

#define LIB BENCH_DIR "/libbench_child.so"

extern char **environ;

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double *v, int n) {
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    printf("{\"name\": \"%s\", \"n\": %d, \"median_us\": %.1f, \"p99_us\": %.1f}\n", name, n,
           v[n / 2], v[(n * 99) / 100]);
    fflush(stdout);
}

static void read_byte(int fd) {
    char c;
    while (read(fd, &c, 1) < 0 && errno == EINTR)
        ;
}

/* ---- exit callbacks ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int exited;
static double exit_seen_us;

static void on_exit_cb(int32_t pid, int32_t sig) {
    (void)pid;
    (void)sig;
    pthread_mutex_lock(&mu);
    exited++;
    exit_seen_us = now_us();
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_exits(int n) {
    pthread_mutex_lock(&mu);
    while (exited < n)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

/* 0: normal mode; 1: isolated; 2: isolated with isolationUid. */
static int isolation;

static int start(const char *sym, int fd, int32_t *pid) {
    NativeChildProcess_Fd node = {.fdName = (char *)"out", .fd = fd};
    NativeChildProcess_Args args = {.fdList = {.head = &node}};
    char entry[512];
    snprintf(entry, sizeof entry, "%s:%s", LIB, sym);
    if (isolation == 0) {
        NativeChildProcess_Options opts = {0};
        return OH_Ability_StartNativeChildProcess(entry, args, opts, pid);
    }
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    OH_Ability_ChildProcessConfigs_SetIsolationMode(c, NCP_ISOLATION_MODE_ISOLATED);
    OH_Ability_ChildProcessConfigs_SetIsolationUid(c, isolation == 2);
    int rc = OH_Ability_StartNativeChildProcessWithConfigs(entry, args, c, pid);
    OH_Ability_DestroyChildProcessConfigs(c);
    return rc;
}

/* gap_us: idle time between starts (0: back to back, after the exit). */
static void bench_ohncp(int n, int gap_us, const char *name) {
    double *v = calloc((size_t)n, sizeof *v);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        exit(1);
    int base = exited;
    for (int i = -50; i < n; i++) { /* 50 warm-up rounds */
        int32_t pid;
        double t0 = now_us();
        if (start("Bench_WriteByte", p[1], &pid) != NCP_NO_ERROR)
            exit(1);
        read_byte(p[0]);
        if (i >= 0)
            v[i] = now_us() - t0;
        wait_exits(base + i + 51);
        if (gap_us > 0)
            usleep((useconds_t)gap_us);
    }
    report(name, v, n);
    free(v);
}

typedef void (*entry_fn)(NativeChildProcess_Args);

static entry_fn load(void) {
    void *h = dlopen(LIB, RTLD_NOW);
    entry_fn entry;
    *(void **)&entry = h != NULL ? dlsym(h, "Bench_WriteByte") : NULL;
    if (entry == NULL)
        _exit(1);
    return entry;
}

/* The template: forked before anything else, forks one child per request
 * (the request carries the fd to write to). With `preload` it has the
 * library loaded already; otherwise each child loads it. */
static void template_loop(int sock, int preload) {
    entry_fn entry = preload ? load() : NULL;
    signal(SIGCHLD, SIG_IGN); /* children reaped by the kernel */
    for (;;) {
        char c;
        union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } u;
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                             .msg_controllen = sizeof u.b};
        if (recvmsg(sock, &msg, 0) <= 0)
            _exit(0);
        int fd;
        memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof fd);
        if (fork() == 0) {
            if (entry == NULL)
                entry = load();
            NativeChildProcess_Fd node = {.fdName = (char *)"out", .fd = fd};
            NativeChildProcess_Args args = {.entryParams = (char *)"", .fdList = {.head = &node}};
            entry(args);
            _exit(0);
        }
        close(fd);
    }
}

static void bench_template(int n, int sock, int gap_us, const char *name) {
    double *v = calloc((size_t)n, sizeof *v);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        exit(1);
    for (int i = -50; i < n; i++) {
        union { char b[CMSG_SPACE(sizeof(int))]; struct cmsghdr a; } u;
        char c = 's';
        struct iovec iov = {.iov_base = &c, .iov_len = 1};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                             .msg_controllen = sizeof u.b};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
        double t0 = now_us();
        if (sendmsg(sock, &msg, 0) < 0)
            exit(1);
        read_byte(p[0]);
        if (i >= 0)
            v[i] = now_us() - t0;
        usleep((useconds_t)(200 + gap_us)); /* its child finishes, as the others wait for exit */
    }
    report(name, v, n);
    free(v);
}

static void bench_spawn(int n) {
    double *v = calloc((size_t)n, sizeof *v);
    int p[2];
    if (pipe(p) < 0)
        exit(1);
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", p[1]);
    char *argv[] = {(char *)BENCH_DIR "/bench_launcher", (char *)LIB, (char *)"Bench_WriteByte",
                    fdarg, NULL};
    for (int i = -20; i < n; i++) {
        pid_t pid;
        double t0 = now_us();
        if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
            exit(1);
        read_byte(p[0]);
        if (i >= 0)
            v[i] = now_us() - t0;
        waitpid(pid, NULL, 0);
    }
    report("posix_spawn dynamic launcher", v, n);
    free(v);
}

static void bench_many(void) {
    int in[2];
    if (pipe2(in, O_CLOEXEC) < 0)
        exit(1);
    int base = exited;
    double t0 = now_us();
    for (int i = 0; i < 512; i++) {
        int32_t pid;
        if (start("Bench_WaitEof", in[0], &pid) != NCP_NO_ERROR)
            exit(1);
    }
    double t = now_us() - t0;
    printf("{\"name\": \"512 children alive\", \"total_ms\": %.1f}\n", t / 1000);
    close(in[1]);
    wait_exits(base + 512);
}

static void bench_kill_to_callback(int n) {
    double *v = calloc((size_t)n, sizeof *v);
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        exit(1);
    for (int i = 0; i < n; i++) {
        int32_t pid;
        int before = exited;
        if (start("Bench_Block", p[1], &pid) != NCP_NO_ERROR)
            exit(1);
        read_byte(p[0]);
        double t0 = now_us();
        OH_Ability_KillChildProcess(pid);
        wait_exits(before + 1);
        v[i] = exit_seen_us - t0;
    }
    report("KillChildProcess to exit callback", v, n);
    free(v);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n < 10 || n > 100000)
        n = 1000;
    int sv[2], sv2[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv2) < 0)
        return 1;
    pid_t tmpl = fork();
    if (tmpl == 0) {
        close(sv[0]);
        template_loop(sv[1], 1);
    }
    pid_t tmpl2 = fork();
    if (tmpl2 == 0) {
        close(sv[0]); /* or the first template never sees EOF */
        close(sv2[0]);
        template_loop(sv2[1], 0);
    }
    close(sv[1]);
    close(sv2[1]);
    OH_Ability_RegisterNativeChildProcessExitCallback(on_exit_cb);
    bench_template(n, sv[0], 0, "fork from template, library preloaded (bare baseline)");
    bench_template(n, sv2[0], 0, "fork from template + dlopen in the child");
    bench_ohncp(n, 0, "ohncp C API");
    bench_template(n / 2, sv[0], 2000, "fork from template, library preloaded, 2 ms apart");
    bench_ohncp(n / 2, 2000, "ohncp C API, 2 ms apart");
    bench_spawn(n / 2);
    isolation = 1;
    bench_ohncp(n / 2, 0, "ohncp C API, isolated");
    isolation = 2;
    bench_ohncp(n / 2, 0, "ohncp C API, isolated + isolationUid");
    isolation = 0;
    bench_many();
    bench_kill_to_callback(n / 5);
    close(sv[0]);
    close(sv2[0]);
    waitpid(tmpl, NULL, 0);
    waitpid(tmpl2, NULL, 0);
    return 0;
}
