/*
 * child.c - the path of a new child, from fork() in the spawner to its entry.
 *
 * The spawner is single-threaded, so this may allocate and dlopen. Steps
 * run in order; each failure is reported on the report pipe, and then the
 * child exits with status 127 before anything of the user's ran (spec §3:
 * a failed load is NCP_ERR_LIB_LOADING_FAILED from the start call itself).
 */
#include "internal.h"
#include "ipc_bridge.h"
#include "sandbox.h"
#include "spawner.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* Linux 5.14; older C library headers (musl 1.2.3) do not name it. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

extern char **environ;
extern struct ohncp_spawner_state ohncp_spawner_state;

typedef void (*entry_fn)(NativeChildProcess_Args args);
typedef OHIPCRemoteStub *(*connect_fn)(void);
typedef void (*main_fn)(void);

static __attribute__((noreturn)) void fail(const struct child_req *r, int code, const char *fmt,
                                           ...) {
    struct proto_report rep = {.code = code, .pid = (int32_t)getpid()};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep.msg, sizeof rep.msg, fmt, ap);
    va_end(ap);
    (void)sys_write_all(r->report_fd, &rep, sizeof rep);
    _exit(127);
}

/* "{bundle}:{name}" in /proc/self/cmdline (the spawner's padded argv) and,
 * truncated by the kernel, in /proc/self/comm. */
static void set_process_name(const char *name) {
    size_t len = strlen(name);
    if (len >= spawner_argv_len)
        len = spawner_argv_len - 1;
    memcpy(spawner_argv_area, name, len);
    memset(spawner_argv_area + len, '\0', spawner_argv_len - len);
    (void)prctl(PR_SET_NAME, name, 0, 0, 0);
}

static int cmp_int(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Close every fd from 3 up but the `n` in `keep` (which it sorts). */
static void close_all_but(int *keep, int n) {
    qsort(keep, (size_t)n, sizeof keep[0], cmp_int);
    unsigned int next = 3;
    for (int i = 0; i < n; i++) {
        if ((unsigned int)keep[i] > next)
            (void)sys_close_range(next, (unsigned int)keep[i] - 1);
        if ((unsigned int)keep[i] + 1 > next)
            next = (unsigned int)keep[i] + 1;
    }
    (void)sys_close_range(next, ~0U);
}

/* Keep 0-2, the report pipe, the note pipe, the IPC channel and the passed
 * fds, and for an isolated child the shared namespaces (sandbox.c closes
 * them); close everything else. */
static void close_others(const struct child_req *r, int note_fd) {
    int keep[PROTO_MAX_FDS + 7], n = 0;
    keep[n++] = 2;
    keep[n++] = r->report_fd;
    if (r->channel_fd >= 0)
        keep[n++] = r->channel_fd;
    if (note_fd >= 0)
        keep[n++] = note_fd;
    for (int i = 0; i < r->nfds; i++)
        keep[n++] = r->fds[i];
    if (r->isolated && sandbox_net_fd >= 0)
        keep[n++] = sandbox_net_fd;
    if (r->isolated && sandbox_user_fd >= 0)
        keep[n++] = sandbox_user_fd;
    if (!r->isolated)
        sandbox_net_fd = sandbox_user_fd = -1; /* closed below */
    close_all_but(keep, n);
}

/* Put the caller's fds 0-2 in place, as they were at the start call. */
static void install_std_fds(const struct child_req *r) {
    for (int fd = 0; fd < 3; fd++) {
        if (r->std_fds[fd] < 0) {
            (void)close(fd);
        } else if (dup2(r->std_fds[fd], fd) < 0) {
            fail(r, NCP_ERR_INTERNAL, "dup2 onto fd %d: %s", fd, strerror(errno));
        }
    }
}

/* The caller's resource limits as they were at its start call, not as
 * the spawner inherited them at its launch (nor its raised RLIMIT_NOFILE).
 * A limit the caller holds can be set here: same credentials, and nothing
 * lowered them in the spawner but its own soft RLIMIT_NOFILE, raised. */
static void apply_limits(const struct child_req *r) {
    if (!(r->rlim_mask & (1u << RLIMIT_NOFILE)))
        (void)setrlimit(RLIMIT_NOFILE, &spawner_orig_nofile);
    for (int i = 0; i < PROTO_NRLIMITS; i++)
        if ((r->rlim_mask & (1u << i)) && setrlimit(i, &r->rlim[i]) < 0)
            fail(r, NCP_ERR_INTERNAL, "cannot set resource limit %d to the caller's (%llu, %llu): %s",
                 i, (unsigned long long)r->rlim[i].rlim_cur,
                 (unsigned long long)r->rlim[i].rlim_max, strerror(errno));
}

/* Bare names are looked up in OHNCP_LIBRARY_PATH first (spec §3). */
static const char *resolve_library(const char *lib, char *buf, size_t size) {
    const char *path = getenv("OHNCP_LIBRARY_PATH");
    if (strchr(lib, '/') != NULL || path == NULL)
        return lib;
    while (*path != '\0') {
        const char *colon = strchr(path, ':');
        size_t dirlen = colon != NULL ? (size_t)(colon - path) : strlen(path);
        if (dirlen > 0 && (size_t)snprintf(buf, size, "%.*s/%s", (int)dirlen, path, lib) < size &&
            access(buf, F_OK) == 0)
            return buf;
        path += dirlen + (colon != NULL);
    }
    return lib;
}

/* Isolated mode (spec §5): the sandbox closes before any code of the
 * user's runs, so its constructors run sandboxed too. `lib` is where the
 * library will be loaded from. The sandbox may change our credentials,
 * which clears the parent-death signal: it is armed again. */
static void isolate(const struct child_req *r, const char *lib) {
    char msg[sizeof ((struct proto_report *)0)->msg];
    if (sandbox_enter(r->own_uid, lib, msg, sizeof msg) < 0)
        fail(r, NCP_ERR_NOT_SUPPORTED, "%s", msg);
    watch_spawner();
}

/* With isolationUid the child's uid may not read the library's directory
 * (pytest's and many home directories are 0700). The library file is
 * opened now, with the caller's rights, and loaded through that fd. Its
 * $ORIGIN is then /proc/self/fd: dependencies must be found by name
 * (README, "Security model"). Returns the path to load; *ret_fd to close. */
static const char *through_fd(const struct child_req *r, const char *path, char *buf,
                              size_t size, int *ret_fd) {
    if (strchr(path, '/') == NULL)
        return path; /* the dynamic linker's search: system directories */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(r, NCP_ERR_LIB_LOADING_FAILED, "cannot load %s: %s", r->lib, strerror(errno));
    snprintf(buf, size, "/proc/self/fd/%d", fd);
    *ret_fd = fd;
    return buf;
}

/* Resolve the library's path, enter the sandbox if isolated, then load. */
static void *load_library(const struct child_req *r) {
    char buf[PATH_MAX], via[32];
    const char *path = resolve_library(r->lib, buf, sizeof buf);
    int lib_fd = -1;
    if (r->isolated && r->own_uid)
        path = through_fd(r, path, via, sizeof via, &lib_fd);
    if (r->isolated)
        isolate(r, path);
    void *h = dlopen(path, RTLD_NOW);
    sys_close(lib_fd); /* only the loading needed it (spec §3: no stray fds) */
    if (h == NULL)
        fail(r, NCP_ERR_LIB_LOADING_FAILED, "cannot load %s: %s", r->lib, dlerror());
    return h;
}

static void *load_symbol(const struct child_req *r, void *h, const char *name) {
    void *sym = dlsym(h, name);
    if (sym == NULL)
        fail(r, NCP_ERR_LIB_LOADING_FAILED, "no symbol %s in %s", name, r->lib);
    return sym;
}

static void report_ok(const struct child_req *r) {
    struct proto_report rep = {.code = NCP_NO_ERROR, .pid = (int32_t)getpid()};
    (void)sys_write_all(r->report_fd, &rep, sizeof rep);
}

/* After the report: if the caller waits on this CPU, it was just woken
 * here; let it return from its start call before we go on (measured: its
 * wake-up drops from ~130 us to ~30 us). Elsewhere, a yield would only put
 * this child behind whatever else runs here (the spawner refilling its
 * standbys, say), ~300 us later for a caller that then waits for the child. */
static void reported(const struct child_req *r, int note_fd) {
    (void)close(r->report_fd);
    if (note_fd >= 0)
        (void)close(note_fd); /* tells the spawner: started, replace me */
    if (r->caller_cpu < 0 || sched_getcpu() == r->caller_cpu)
        (void)sched_yield();
}

/* ---- the "started" notice of an IPC-mode child ----------------------------
 *
 * As on the device, MainProc runs on the main thread first and the notice
 * that the parent's start callback waits for goes out from another thread
 * after that. Code written for the device relies on it: a child that only
 * takes requests once MainProc waits drops those that come earlier. The
 * device's notice follows MainProc's entry by about 1 ms; ours waits until
 * the main thread has blocked inside MainProc (it waits for work), it has
 * spent 1 ms of its own CPU time there without blocking (a busy MainProc),
 * or MainProc returned; never before MainProc was entered. */

enum { MAIN_BEFORE, MAIN_RUNNING, MAIN_RETURNED };

/* Written by the main thread, read by the announcer: nothing else. */
static _Atomic int main_phase = MAIN_BEFORE;
static const struct child_req *announce_req;
static int announce_note_fd;

/* The scheduler state of thread `fd`'s stat file: 'R', 'S', 'D', ... or 0. */
static char thread_state(int fd) {
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    const char *paren = strrchr(buf, ')'); /* the name may hold spaces and ')' */
    return paren != NULL && paren[1] == ' ' ? paren[2] : 0;
}

static long long cpu_ns(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) < 0)
        return -1;
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Wait (polling every 20 us) until MainProc blocked, busied itself for 1 ms
 * of CPU or returned. Without /proc or a CPU clock: until it is entered. */
static void await_main_proc(pid_t tid, clockid_t clock) {
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    long long start = -1;
    const struct timespec tick = {0, 20000};
    for (;;) {
        int phase = main_phase;
        if (phase == MAIN_RETURNED || (phase == MAIN_RUNNING && fd < 0))
            break;
        if (phase == MAIN_RUNNING) {
            char st = thread_state(fd);
            if (st != 'R' && st != 0) /* blocked or stopped inside MainProc */
                break;
            long long now = cpu_ns(clock);
            if (start < 0)
                start = now;
            if (now < 0 || now - start >= 1000000)
                break;
        }
        (void)nanosleep(&tick, NULL); /* EINTR: just look again */
    }
    sys_close(fd);
}

static void *announce(void *arg) {
    clockid_t clock;
    if (pthread_getcpuclockid(*(pthread_t *)arg, &clock) != 0)
        clock = CLOCK_MONOTONIC;
    await_main_proc(getpid(), clock);
    report_ok(announce_req); /* connected: the parent's callback may run */
    reported(announce_req, announce_note_fd);
    return NULL;
}

/* Catch a crash of NativeChildProcess_OnConnect, say so, then die of it.
 * Only async-signal-safe calls: a write of a report made in advance. */
static struct proto_report crash_report;
static int crash_fd = -1;

static void on_connect_crashed(int sig) {
    static const char *const names[] = {[SIGSEGV] = "SIGSEGV", [SIGBUS] = "SIGBUS",
                                        [SIGILL] = "SIGILL",   [SIGFPE] = "SIGFPE",
                                        [SIGABRT] = "SIGABRT"};
    struct proto_report rep = crash_report;
    size_t len = strlen(rep.msg), max = sizeof rep.msg - 1;
    const char *name = sig < (int)(sizeof names / sizeof names[0]) && names[sig] ? names[sig]
                                                                                 : "a signal";
    for (size_t i = 0; name[i] != '\0' && len < max; i++)
        rep.msg[len++] = name[i];
    rep.msg[len] = '\0';
    (void)write(crash_fd, &rep, sizeof rep); /* < PIPE_BUF: whole or not at all */
    (void)raise(sig); /* SA_RESETHAND: the default action now */
}

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};

static struct sigaction crash_saved[sizeof crash_signals / sizeof crash_signals[0]];

/* `on` 1: catch crashes while OnConnect runs; 0: put back what was there,
 * unless OnConnect installed handlers of its own. */
static void catch_crashes(const struct child_req *r, int on) {
    crash_report = (struct proto_report){.code = NCP_ERR_CONNECTION_FAILED,
                                         .pid = (int32_t)getpid()};
    snprintf(crash_report.msg, sizeof crash_report.msg,
             "NativeChildProcess_OnConnect of %s crashed: ", r->lib);
    crash_fd = r->report_fd;
    struct sigaction sa = {.sa_handler = on_connect_crashed, .sa_flags = SA_RESETHAND | SA_NODEFER};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++) {
        struct sigaction cur;
        if (on)
            (void)sigaction(crash_signals[i], &sa, &crash_saved[i]);
        else if (sigaction(crash_signals[i], NULL, &cur) == 0 &&
                 cur.sa_handler == on_connect_crashed)
            (void)sigaction(crash_signals[i], &crash_saved[i], NULL);
    }
}

/* IPC mode (spec §4): load, hand OnConnect's stub to the parent over the
 * channel, then run MainProc; the "started" notice goes out from another
 * thread once MainProc runs (above). Requests are served on IPC worker
 * threads. */
static __attribute__((noreturn)) void run_ipc(const struct child_req *r, int note_fd) {
    void *h = load_library(r);
    void *on_connect = load_symbol(r, h, "NativeChildProcess_OnConnect");
    void *main_proc = load_symbol(r, h, "NativeChildProcess_MainProc");
    report_ok(r); /* loaded: a crash from here on is a connection failure */
    connect_fn connect;
    main_fn run;
    memcpy(&connect, &on_connect, sizeof connect);
    memcpy(&run, &main_proc, sizeof run);
    catch_crashes(r, 1);
    OHIPCRemoteStub *stub = connect();
    catch_crashes(r, 0);
    if (stub == NULL)
        fail(r, NCP_ERR_CONNECTION_FAILED, "NativeChildProcess_OnConnect of %s returned NULL",
             r->lib);
    int rc = OH_Ohncp_IPCServeChannel(r->channel_fd, stub);
    if (rc < 0)
        fail(r, NCP_ERR_CONNECTION_FAILED, "cannot serve the IPC channel: %s", strerror(-rc));
    announce_req = r;
    announce_note_fd = note_fd;
    pthread_t self = pthread_self(), announcer;
    rc = pthread_create(&announcer, NULL, announce, &self);
    if (rc != 0)
        fail(r, NCP_ERR_CONNECTION_FAILED, "cannot start a thread: %s", strerror(rc));
    main_phase = MAIN_RUNNING;
    run();
    main_phase = MAIN_RETURNED;
    (void)pthread_join(announcer, NULL); /* the notice went out: then exit */
    /* Requests in flight (say, the one that made MainProc return) still
     * get their replies; a stuck one does not hold the exit up for long. */
    (void)OH_Ohncp_IPCDrain(1000);
    exit(0);
}

/* The fd list, in the (already sorted) order of the names. */
static NativeChildProcess_Args *build_args(const struct child_req *r) {
    NativeChildProcess_Args *args = calloc(1, sizeof *args);
    NativeChildProcess_Fd *nodes = r->nfds > 0 ? calloc((size_t)r->nfds, sizeof *nodes) : NULL;
    if (args == NULL || (r->nfds > 0 && nodes == NULL))
        fail(r, NCP_ERR_INTERNAL, "out of memory");
    args->entryParams = (char *)r->params;
    for (int i = 0; i < r->nfds; i++) {
        nodes[i].fdName = (char *)r->names[i];
        nodes[i].fd = r->fds[i];
        nodes[i].next = i + 1 < r->nfds ? &nodes[i + 1] : NULL;
        (void)sys_set_cloexec(r->fds[i], 0); /* inherited by the entry's own execs */
    }
    args->fdList.head = nodes;
    return args;
}

/* Die with the spawner (and so with the parent). */
void watch_spawner(void) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != spawner_pid)
        _exit(127);
}

void child_run(const struct child_req *r, int note_fd) {
    /* 1. From here on this process is a child (the caller already made it
     * die with the spawner: watch_spawner). */
    ohncp_spawner_state.in_child = 1;
    ohncp_spawner_state.mode = r->ipc ? OHNCP_MODE_IPC : OHNCP_MODE_ARGS;
    /* 2. The caller's view: signals, fds 0-2, cwd, environment, limits. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    install_std_fds(r);
    if (fchdir(r->cwd_fd) < 0)
        fail(r, NCP_ERR_INTERNAL, "cannot enter the caller's directory: %s", strerror(errno));
    environ = r->envp;
    apply_limits(r);
    set_process_name(r->pname);
    /* 3. Nothing of the spawner's stays open. */
    close_others(r, note_fd);
    if (r->ipc)
        run_ipc(r, note_fd);
    /* 4. Load, then tell the caller; the entry runs only after that. */
    void *h = load_library(r);
    void *sym = load_symbol(r, h, r->sym);
    entry_fn fn;
    memcpy(&fn, &sym, sizeof fn);
    NativeChildProcess_Args *args = build_args(r);
    ohncp_spawner_state.args = args;
    report_ok(r);
    reported(r, note_fd);
    fn(*args);
    exit(0);
}

/* ---- the standby -------------------------------------------------------------- */

/* After fork every page we write costs a copy-on-write fault, expensive in
 * a VM (~1-2 us each, ~50 of them per start). Take them now, while waiting:
 * the spawner's writable private mappings (found once, spawner_map_ranges)
 * and our stack. */
static void prefault(void) {
    for (int i = 0; i < spawner_nranges; i++) {
        uintptr_t hi = spawner_ranges[i].hi;
        if (spawner_ranges[i].is_heap) /* the heap may have grown since */
            hi = (uintptr_t)sbrk(0);
        if (hi > spawner_ranges[i].lo) /* ENOSYS/EINVAL on old kernels: fine */
            (void)madvise((void *)spawner_ranges[i].lo, hi - spawner_ranges[i].lo,
                          MADV_POPULATE_WRITE);
    }
    volatile char stack[32768];
    for (size_t i = 0; i < sizeof stack; i += 4096)
        stack[i] = 0;
}

void standby_run(int note_fd) {
    watch_spawner();
    /* Only the start socket, the note pipe and the shared namespaces stay
     * open (and 0-2, which the request replaces with the caller's). */
    int keep[4] = {START_FD, note_fd}, n = 2;
    if (sandbox_net_fd >= 0)
        keep[n++] = sandbox_net_fd;
    if (sandbox_user_fd >= 0)
        keep[n++] = sandbox_user_fd;
    close_all_but(keep, n);
    prefault();
    struct child_req r;
    int rc;
    do
        rc = request_receive(START_FD, 0, &r);
    while (rc == -EINVAL);
    if (rc < 0)
        _exit(0); /* EOF: the parent is gone */
    struct standby_note note = {.slot = r.slot, .gen = r.gen, .isolated = r.isolated};
    (void)sys_write_all(note_fd, &note, sizeof note);
    child_run(&r, note_fd);
}
