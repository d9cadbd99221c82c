/*
 * runtime.c - the parent side of the host runtime.
 *
 * Map:
 *   1. state: slots (one per live child), exit callbacks, the runtime thread
 *   2. slot bookkeeping (reservation, exit, hand-over between threads)
 *   3. the spawner: finding, launching, losing it
 *   4. the runtime thread
 *   5. start: building and sending a request, waiting for the child's report
 *   6. IPC-mode starts, followed by the runtime thread
 *   7. kill, callback registration
 *   8. fork safety
 *
 * Process model (design.md): one ohncp-spawner per parent process, launched
 * from the long-lived runtime thread (so its PR_SET_PDEATHSIG follows the
 * process, not some caller thread). A starting thread talks to the spawner
 * directly and gets the child's verdict on a private pipe; the runtime
 * thread only reads exit events and runs callbacks. The parent holds no fd
 * per child.
 */
#include "internal.h"
#include "child_process_info.h"
#include "ipc_bridge.h"
#include "proto.h"

#include <dlfcn.h>
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ---- 1. state ------------------------------------------------------------ */

enum slot_state { SLOT_FREE = 0, SLOT_USED = 1 };
enum phase { RT_DOWN = 0, RT_LAUNCHING, RT_UP };

struct slot {
    int state;
    uint32_t gen;        /* names this start to the spawner (proto.h) */
    bool ipc;            /* an IPC-mode child (at most 50 live) */
    pid_t pid;
    bool caller_done;    /* the starting thread has its verdict */
    bool failed;         /* ... and it was a failure: no exit callbacks */
    bool exited;         /* the spawner reaped it */
    bool notify_pending; /* exited before the start call returned */
    int wstatus;
    uint64_t start_id;   /* set at reservation, before the child can exit */
    char name[PROTO_NAME_MAX]; /* "{bundle}:{name}", for OH_Ability_AcquireChildProcessInfos */
};

struct exit_cb {
    void *fn;
    void *user;
    int kind; /* enum ncp_exit_cb_kind: which of the three callback types */
};

#define MAX_EXIT_CBS 128

/* An IPC-mode start the runtime thread follows until its callback ran. */
struct pending_ipc {
    bool used;
    bool loaded; /* the child loaded the library: failures now are connection failures */
    bool dead;   /* its report pipe reached EOF without a report */
    bool awaiting_exit; /* ... before loading: its exit decides the code */
    int slot;
    pid_t pid;
    int report_fd;
    int channel_fd;
    long long deadline_ns;
    OH_Ability_OnNativeChildProcessStarted cb;
    uint64_t id; /* its slot's start id (OH_Ohncp_GetLastStartId gives it) */
    /* It reported "connected": its HELLO is now awaited on channel_fd, in
     * the runtime thread's poll set. (Accepting it with a blocking wait let
     * a child that withholds its HELLO stall every other child's callbacks
     * for the whole start timeout.) */
    bool hello;
};

/* Why an IPC-mode start failed, kept for OH_Ohncp_GetStartErrorMessage: the
 * callback has only a code, and a caller (the Python layer) may read the
 * reason on another thread later. The last START_REASONS failures stay. */
#define START_REASONS 64
struct start_reason {
    uint64_t id; /* 0: empty */
    char msg[248];
};

static struct {
    pthread_mutex_t lock; /* everything below but the callbacks */
    pthread_cond_t cond;
    int phase;
    bool thread_running;
    pthread_t thread;
    int ctl_fd;  /* control socket to the spawner: KILL out, EXIT in */
    int start_fd; /* start socket: START out, to the spawner's standby child;
                   * the numbers of both never change once created */
    int wake_fd; /* eventfd that wakes the runtime thread */
    pid_t spawner_pid;
    char launch_error[256];
    struct slot slots[OHNCP_MAX_CHILDREN_HARD];
    uint32_t gens[OHNCP_MAX_CHILDREN_HARD]; /* the last gen of each slot */
    int used;
    int used_ipc;
    /* The IPC-mode starts the runtime thread follows. The race this rule is
     * for: a callback the runtime thread runs may start another IPC child,
     * whose runtime_create claims the entry just freed, on any thread.
     * A free entry (!used) is claimed, every field written, by
     * runtime_create under `lock`. A used entry is the runtime thread's: it
     * alone writes it, with `lock` held for `pid` (read by
     * runtime_pid_of_start) and for freeing it (finish_ipc), and touches it
     * no more once freed; other threads read only used, slot and pid, under
     * `lock`. The runtime thread reads its entries without the lock. */
    struct pending_ipc pending[OHNCP_MAX_IPC_CHILDREN];
    struct start_reason reasons[START_REASONS]; /* by id % START_REASONS */
    unsigned long name_counter;
    uint64_t last_start_id; /* start ids are never reused in a process */

    pthread_mutex_t cb_lock; /* taken after `lock`, never before */
    struct exit_cb cbs[MAX_EXIT_CBS];
    int ncbs;
} rt = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
    .ctl_fd = -1,
    .start_fd = -1,
    .wake_fd = -1,
    .cb_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* ---- 2. slot bookkeeping (all with rt.lock held) -------------------------- */

static int child_limit(void) {
    const char *v = getenv("OHNCP_MAX_CHILDREN");
    if (v == NULL || *v == '\0')
        return OHNCP_MAX_CHILDREN_HARD;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > OHNCP_MAX_CHILDREN_HARD)
        return OHNCP_MAX_CHILDREN_HARD;
    return (int)n;
}

static int slot_reserve(bool ipc) {
    if (rt.used >= child_limit() || (ipc && rt.used_ipc >= OHNCP_MAX_IPC_CHILDREN))
        return -1;
    for (int i = 0; i < OHNCP_MAX_CHILDREN_HARD; i++) {
        if (rt.slots[i].state == SLOT_FREE) {
            if (++rt.gens[i] == 0) /* 0 is no start, to the spawner */
                rt.gens[i] = 1;
            rt.slots[i] = (struct slot){.state = SLOT_USED, .gen = rt.gens[i], .ipc = ipc,
                                        .start_id = ++rt.last_start_id};
            rt.used++;
            rt.used_ipc += ipc;
            return i;
        }
    }
    return -1;
}

static void slot_free(int i) {
    rt.used_ipc -= rt.slots[i].ipc;
    rt.slots[i] = (struct slot){0};
    rt.used--;
}

/* A live child: its start call succeeded and the spawner has not reaped it. */
static bool slot_live(const struct slot *s) {
    return s->state != SLOT_FREE && s->pid > 0 && s->caller_done && !s->failed && !s->exited;
}

static void slot_set_name(int i, const char *name) {
    pthread_mutex_lock(&rt.lock);
    snprintf(rt.slots[i].name, sizeof rt.slots[i].name, "%s", name);
    pthread_mutex_unlock(&rt.lock);
}

static void wake_runtime(void) {
    uint64_t one = 1;
    (void)sys_write_all(rt.wake_fd, &one, sizeof one);
}

/* The spawner reaped start `gen` of slot `i`. Returns true if the exit
 * callbacks must run now (the start call returned success); the slot is
 * then freed. */
static bool slot_exited(int i, uint32_t gen, pid_t pid, int wstatus) {
    struct slot *s = &rt.slots[i];
    if (s->state == SLOT_FREE || s->exited || s->gen != gen)
        return false;
    s->exited = true;
    s->wstatus = wstatus;
    if (s->pid == 0)
        s->pid = pid;
    if (!s->caller_done) {
        pthread_cond_broadcast(&rt.cond); /* for died_during_start */
        return false; /* slot_caller_done finishes it */
    }
    bool notify = !s->failed;
    slot_free(i);
    return notify;
}

/* The starting thread got its verdict for slot `i`. */
static void slot_caller_done(int i, bool ok, pid_t pid) {
    struct slot *s = &rt.slots[i];
    s->caller_done = true;
    s->failed = !ok;
    if (ok)
        s->pid = pid;
    if (!s->exited)
        return;
    if (ok) {
        s->notify_pending = true; /* callbacks belong on the runtime thread */
        wake_runtime();
    } else {
        slot_free(i);
    }
}

/* ---- exit callbacks -------------------------------------------------------- */

static void run_exit_callbacks(pid_t pid, int wstatus, uint64_t start_id) {
    struct exit_cb cbs[MAX_EXIT_CBS];
    pthread_mutex_lock(&rt.cb_lock);
    int n = rt.ncbs;
    memcpy(cbs, rt.cbs, (size_t)n * sizeof cbs[0]);
    pthread_mutex_unlock(&rt.cb_lock);
    int value = WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus);
    ncp_debug("child %d exited: status 0x%x", (int)pid, wstatus);
    for (int i = 0; i < n; i++) {
        if (cbs[i].kind == NCP_EXIT_CB_BY_ID)
            ((OH_Ohncp_OnChildExitById)cbs[i].fn)(start_id, pid, wstatus, cbs[i].user);
        else if (cbs[i].kind == NCP_EXIT_CB_STATUS)
            ((OH_Ohncp_OnChildExitStatus)cbs[i].fn)(pid, wstatus, cbs[i].user);
        else
            ((OH_Ability_OnNativeChildProcessExit)cbs[i].fn)(pid, value);
    }
}

/* ---- 3. the spawner ------------------------------------------------------- */

/* OHNCP_SPAWNER, else next to this library, else ../libexec/ohncp/. */
static int find_spawner(char *out, size_t size) {
    const char *env = getenv("OHNCP_SPAWNER");
    if (env != NULL && *env != '\0') {
        snprintf(out, size, "%s", env);
        return 0;
    }
    Dl_info info;
    if (dladdr((void *)find_spawner, &info) == 0 || info.dli_fname == NULL)
        return -ENOENT;
    const char *slash = strrchr(info.dli_fname, '/');
    int dirlen = slash == NULL ? 1 : (int)(slash - info.dli_fname);
    const char *dir = slash == NULL ? "." : info.dli_fname;
    snprintf(out, size, "%.*s/ohncp-spawner", dirlen, dir);
    if (access(out, X_OK) == 0)
        return 0;
    snprintf(out, size, "%.*s/../libexec/ohncp/ohncp-spawner", dirlen, dir);
    return access(out, X_OK) == 0 ? 0 : -ENOENT;
}

static int spawn_attrs(posix_spawnattr_t *attr, posix_spawn_file_actions_t *fa,
                       const int *child_ends) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    int rc = posix_spawnattr_init(attr);
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (rc == 0)
        rc = posix_spawnattr_setsigmask(attr, &none);
    if (rc == 0)
        rc = posix_spawnattr_setsigdefault(attr, &all);
    if (rc == 0)
        rc = posix_spawn_file_actions_init(fa);
    /* dup2 onto 3 and 4 clears close-on-exec; the ends are >= 5 (never 3
     * or 4, where dup2 would be a no-op that keeps the flag) */
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(fa, child_ends[0], 3);
    if (rc == 0)
        rc = posix_spawn_file_actions_adddup2(fa, child_ends[1], 4);
    return -rc;
}

/* Make a socketpair whose first end lands on `*fixed` (created the first
 * time, replaced in place later, so a number a sender read is never some
 * other file) and whose second end is >= 5. */
static int spawner_socket(int *fixed, int *child_end) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    int rc = 0;
    *child_end = fcntl(sv[1], F_DUPFD_CLOEXEC, 5);
    if (*child_end < 0)
        rc = -errno;
    else if (*fixed < 0 && (*fixed = fcntl(sv[0], F_DUPFD_CLOEXEC, 3)) < 0)
        rc = -errno;
    else if (*fixed >= 0 && dup3(sv[0], *fixed, O_CLOEXEC) < 0)
        rc = -errno;
    sys_close(sv[0]);
    sys_close(sv[1]);
    if (rc < 0)
        sys_closep(child_end);
    return rc;
}

/* OHNCP_SPAWNER_LAUNCHER: words (split at spaces) put in front of the
 * spawner's command line, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu" when
 * the runtime itself runs under qemu-user without binfmt_misc (the spawner
 * is an executable of the target architecture too). Children are forked by
 * the spawner, so they run under the same emulator. Fills argv from the
 * copy in `buf` and returns the number of words (0: no launcher). */
#define LAUNCHER_MAX_WORDS 16
static int launcher_words(char *buf, size_t size, char **argv) {
    const char *env = getenv("OHNCP_SPAWNER_LAUNCHER");
    int n = 0;
    if (env == NULL)
        return 0;
    snprintf(buf, size, "%s", env);
    for (char *save = NULL, *w = strtok_r(buf, " ", &save); w != NULL && n < LAUNCHER_MAX_WORDS;
         w = strtok_r(NULL, " ", &save))
        argv[n++] = w;
    return n;
}

/* Launch a spawner from the runtime thread (lock held). */
static int launch_spawner(void) {
    char path[PATH_MAX];
    int ends[2] = {-1, -1};
    if (find_spawner(path, sizeof path) < 0) {
        snprintf(rt.launch_error, sizeof rt.launch_error,
                 "ohncp-spawner not found next to libchild_process.so (set OHNCP_SPAWNER)");
        return -ENOENT;
    }
    int rc = spawner_socket(&rt.ctl_fd, &ends[0]);
    if (rc == 0)
        rc = spawner_socket(&rt.start_fd, &ends[1]);
    if (rc < 0) {
        snprintf(rt.launch_error, sizeof rt.launch_error, "cannot set up the spawner sockets: %s",
                 strerror(-rc));
        sys_close(ends[0]);
        return rc;
    }
    char ppid[24], pad[PROTO_NAME_MAX];
    snprintf(ppid, sizeof ppid, "%d", (int)getpid());
    memset(pad, ' ', sizeof pad - 1); /* room to write process names into */
    pad[sizeof pad - 1] = '\0';
    char launcher[512];
    char *argv[LAUNCHER_MAX_WORDS + 4];
    int argc = launcher_words(launcher, sizeof launcher, argv);
    argv[argc++] = path;
    argv[argc++] = ppid;
    argv[argc++] = pad;
    argv[argc] = NULL;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_t fa;
    /* Behind a launcher a missing spawner would only show as the launcher's
     * failure: check it here, so the error names the spawner. */
    rc = spawn_attrs(&attr, &fa, ends);
    if (rc == 0 && argv[0] != path && access(path, F_OK) < 0)
        rc = -errno;
    if (rc == 0 && argv[0] != path) /* a launcher: searched in PATH */
        rc = -posix_spawnp(&rt.spawner_pid, argv[0], &fa, &attr, argv, environ);
    else if (rc == 0)
        rc = -posix_spawn(&rt.spawner_pid, path, &fa, &attr, argv, environ);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    sys_close(ends[0]);
    sys_close(ends[1]);
    if (rc < 0)
        snprintf(rt.launch_error, sizeof rt.launch_error, "cannot start %.200s: %s", path,
                 strerror(-rc));
    return rc;
}

/* The spawner went away (it crashed or was killed): its children died with
 * it (PR_SET_PDEATHSIG). Report them as killed and start afresh next time. */
static void spawner_lost(void) {
    pthread_mutex_lock(&rt.lock);
    ncp_debug("spawner %d lost", (int)rt.spawner_pid);
    rt.phase = RT_DOWN;
    int st;
    while (rt.spawner_pid > 0 && waitpid(rt.spawner_pid, &st, 0) < 0 && errno == EINTR)
        ;
    rt.spawner_pid = 0;
    struct { pid_t pid; uint64_t id; } dead[OHNCP_MAX_CHILDREN_HARD];
    int ndead = 0;
    for (int i = 0; i < OHNCP_MAX_CHILDREN_HARD; i++) {
        pid_t pid = rt.slots[i].pid;
        uint64_t id = rt.slots[i].start_id;
        if (rt.slots[i].state != SLOT_FREE && slot_exited(i, rt.slots[i].gen, pid, SIGKILL)) {
            dead[ndead].pid = pid;
            dead[ndead++].id = id;
        }
    }
    pthread_cond_broadcast(&rt.cond);
    pthread_mutex_unlock(&rt.lock);
    for (int i = 0; i < ndead; i++)
        run_exit_callbacks(dead[i].pid, SIGKILL, dead[i].id);
}

/* ---- 4. the runtime thread --------------------------------------------------- */

static void handle_wake(void) {
    uint64_t v;
    (void)sys_read(rt.wake_fd, &v, sizeof v);
    pthread_mutex_lock(&rt.lock);
    if (rt.phase == RT_LAUNCHING) {
        rt.phase = launch_spawner() == 0 ? RT_UP : RT_DOWN;
        pthread_cond_broadcast(&rt.cond);
    }
    struct { pid_t pid; int wstatus; uint64_t id; } due[OHNCP_MAX_CHILDREN_HARD];
    int ndue = 0;
    for (int i = 0; i < OHNCP_MAX_CHILDREN_HARD; i++) {
        struct slot *s = &rt.slots[i];
        if (s->state != SLOT_FREE && s->notify_pending) {
            due[ndue].pid = s->pid;
            due[ndue].id = s->start_id;
            due[ndue++].wstatus = s->wstatus;
            slot_free(i);
        }
    }
    pthread_mutex_unlock(&rt.lock);
    for (int i = 0; i < ndue; i++)
        run_exit_callbacks(due[i].pid, due[i].wstatus, due[i].id);
}

/* Reads exit events until the socket is empty; false if the spawner is gone. */
static bool handle_events(void) {
    for (;;) {
        struct proto_exit ev;
        struct iovec iov = {.iov_base = &ev, .iov_len = sizeof ev};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = sys_recvmsg(rt.ctl_fd, &msg, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return true;
        if (n <= 0)
            return false;
        if (n != sizeof ev || ev.type != PROTO_EXIT || ev.slot >= OHNCP_MAX_CHILDREN_HARD)
            continue; /* our own spawner never sends this; ignore it */
        pthread_mutex_lock(&rt.lock);
        uint64_t id = rt.slots[ev.slot].start_id; /* slot_exited may free it */
        bool notify = slot_exited((int)ev.slot, ev.gen, ev.pid, ev.wstatus);
        pthread_mutex_unlock(&rt.lock);
        if (notify)
            run_exit_callbacks(ev.pid, ev.wstatus, id);
    }
}

static void handle_pending(const struct pollfd *p, const int *which, int n);
static int poll_pending(struct pollfd *p, int *which, int *n);

static void *runtime_thread(void *arg) {
    (void)arg;
    for (;;) {
        struct pollfd p[2 + OHNCP_MAX_IPC_CHILDREN];
        int which[OHNCP_MAX_IPC_CHILDREN], m = 0;
        pthread_mutex_lock(&rt.lock);
        p[0] = (struct pollfd){.fd = rt.wake_fd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = rt.phase == RT_UP ? rt.ctl_fd : -1, .events = POLLIN};
        int timeout = poll_pending(p + 2, which, &m); /* p[2..2+m): IPC starts */
        pthread_mutex_unlock(&rt.lock);
        if (poll(p, (nfds_t)(2 + m), timeout) < 0)
            continue; /* EINTR: all signals are blocked here, but be safe */
        if (p[1].revents && !handle_events())
            spawner_lost();
        if (p[0].revents)
            handle_wake();
        handle_pending(p + 2, which, m);
    }
    return NULL;
}

/* Start the runtime thread (lock held). All signals are blocked in it so it
 * never takes a signal meant for the application. */
static int start_thread(void) {
    rt.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (rt.wake_fd < 0)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&rt.thread, NULL, runtime_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        sys_closep(&rt.wake_fd);
        return -rc;
    }
    pthread_setname_np(rt.thread, "ohncp-runtime");
    rt.thread_running = true;
    return 0;
}

/* Make sure a spawner is running (lock held). Returns an NCP code. */
static int ensure_up(void) {
    if (rt.phase == RT_UP)
        return NCP_NO_ERROR;
    if (!rt.thread_running) {
        int rc = start_thread();
        if (rc < 0)
            return ncp_fail(NCP_ERR_INTERNAL, "cannot start the runtime thread: %s", strerror(-rc));
    }
    if (pthread_equal(pthread_self(), rt.thread)) {
        /* Called from an exit callback: launch here, nobody else can. */
        rt.phase = launch_spawner() == 0 ? RT_UP : RT_DOWN;
        pthread_cond_broadcast(&rt.cond);
    } else {
        if (rt.phase == RT_DOWN) {
            rt.phase = RT_LAUNCHING;
            wake_runtime();
        }
        while (rt.phase == RT_LAUNCHING)
            pthread_cond_wait(&rt.cond, &rt.lock);
    }
    if (rt.phase != RT_UP)
        return ncp_fail(NCP_ERR_SERVICE_ERROR, "%s", rt.launch_error);
    return NCP_NO_ERROR;
}

/* ---- 5. start -------------------------------------------------------------- */

/* "{bundle}:{name}" (spec §5); the default name is Native_{stem}{N}. */
static void process_name(const struct ncp_start_req *req, char *out, size_t size) {
    const char *bundle = getenv("OHNCP_BUNDLE_NAME");
    if (bundle == NULL || *bundle == '\0')
        bundle = program_invocation_short_name;
    if (req->process_name != NULL) {
        snprintf(out, size, "%.255s:%s", bundle, req->process_name);
        return;
    }
    const char *base = req->lib;
    for (size_t i = 0; i < req->lib_len; i++)
        if (req->lib[i] == '/')
            base = req->lib + i + 1;
    size_t len = (size_t)(req->lib + req->lib_len - base);
    if (len > 3 && memcmp(base, "lib", 3) == 0) {
        base += 3;
        len -= 3;
    }
    const char *dot = memchr(base, '.', len);
    if (dot != NULL)
        len = (size_t)(dot - base);
    unsigned long n = __atomic_add_fetch(&rt.name_counter, 1, __ATOMIC_RELAXED);
    snprintf(out, size, "%.255s:Native_%.*s%lu", bundle, (int)(len > 64 ? 64 : len), base, n);
}

struct request {
    struct proto_start hdr;
    char *payload;
    int fds[PROTO_FIXED_FDS + PROTO_MAX_FDS];
    int nfds;
    int memfd;
};

static char *put(char *p, const void *src, size_t len) {
    memcpy(p, src, len);
    p[len] = '\0';
    return p + len + 1;
}

/* The environment as NUL-terminated strings, in `buf` (malloc'd). */
struct env_copy {
    char *buf;
    size_t len;  /* bytes, NULs included */
    uint32_t n;  /* strings */
};

/* Copy `env` in one pass of at most `room` bytes. The race this is for:
 * another thread may setenv/unsetenv meanwhile (C code does, holding no
 * lock of ours). Each entry is read once and measured as it is copied, so
 * the count and length sent are those of the bytes sent, whatever moved
 * meanwhile; a count taken in an earlier pass could disagree and overrun
 * the buffer. (The C library's own races stay: it may free an array it
 * replaces, as getenv in another thread would also find.) */
static int copy_env(char *const *env, size_t room, struct env_copy *out) {
    size_t cap = 4096;
    *out = (struct env_copy){.buf = malloc(cap)};
    if (out->buf == NULL)
        return ncp_fail(NCP_ERR_INTERNAL, "out of memory");
    for (size_t i = 0; env != NULL; i++) {
        const char *e = __atomic_load_n(&env[i], __ATOMIC_RELAXED);
        if (e == NULL)
            break;
        size_t len = strnlen(e, room - out->len);
        if (len == room - out->len)
            return ncp_fail(NCP_ERR_INVALID_PARAM,
                            "request too large (environment of more than %zu bytes)", out->len + len);
        while (out->len + len + 1 > cap) {
            char *bigger = realloc(out->buf, cap *= 2);
            if (bigger == NULL)
                return ncp_fail(NCP_ERR_INTERNAL, "out of memory");
            out->buf = bigger;
        }
        put(out->buf + out->len, e, len);
        out->len += len + 1;
        out->n++;
    }
    return NCP_NO_ERROR;
}

/* Serialise the payload: lib, sym, params, names, env, process name. */
static int build_payload(const struct ncp_start_req *req, struct request *r) {
    char pname[PROTO_NAME_MAX];
    process_name(req, pname, sizeof pname);
    size_t names_len = 0;
    for (int i = 0; i < req->nfds; i++)
        names_len += strlen(req->names[i]) + 1;
    size_t pname_len = strlen(pname) + 1;
    size_t fixed = req->lib_len + 1 + req->sym_len + 1 + req->params_len + 1 + names_len + pname_len;
    struct env_copy env = {0};
    int rc = fixed >= PROTO_PAYLOAD_MAX
                 ? ncp_fail(NCP_ERR_INVALID_PARAM, "request too large (%zu bytes)", fixed)
                 : copy_env(req->envp != NULL ? req->envp
                                              : __atomic_load_n(&environ, __ATOMIC_RELAXED),
                            PROTO_PAYLOAD_MAX - fixed, &env);
    char *p = rc == NCP_NO_ERROR ? r->payload = malloc(fixed + env.len) : NULL;
    if (rc == NCP_NO_ERROR && p == NULL)
        rc = ncp_fail(NCP_ERR_INTERNAL, "out of memory");
    if (rc != NCP_NO_ERROR) {
        free(env.buf);
        return rc;
    }
    p = put(p, req->lib, req->lib_len);
    p = put(p, req->sym, req->sym_len);
    p = put(p, req->params, req->params_len);
    for (int i = 0; i < req->nfds; i++)
        p = put(p, req->names[i], strlen(req->names[i]));
    memcpy(p, env.buf, env.len);
    put(p + env.len, pname, pname_len - 1);
    free(env.buf);
    r->hdr.lib_len = (uint32_t)req->lib_len + 1;
    r->hdr.sym_len = (uint32_t)req->sym_len + 1;
    r->hdr.params_len = (uint32_t)req->params_len + 1;
    r->hdr.names_len = (uint32_t)names_len;
    r->hdr.env_len = (uint32_t)env.len;
    r->hdr.nenv = env.n;
    r->hdr.pname_len = (uint32_t)pname_len;
    r->hdr.payload_len = (uint32_t)(fixed + env.len);
    return NCP_NO_ERROR;
}

/* Large payloads go through a sealed-size memfd instead of the socket. */
static int payload_to_memfd(struct request *r) {
    r->memfd = sys_memfd("ohncp-request");
    if (r->memfd < 0) {
        int err = -r->memfd;
        r->memfd = -1;
        return ncp_fail(NCP_ERR_INTERNAL, "memfd_create: %s", strerror(err));
    }
    ssize_t n = sys_write_all(r->memfd, r->payload, r->hdr.payload_len);
    if (n < 0)
        return ncp_fail(NCP_ERR_INTERNAL, "writing the request: %s", strerror((int)-n));
    r->hdr.flags |= PROTO_F_MEMFD;
    return NCP_NO_ERROR;
}

/* fds in SCM_RIGHTS order (proto.h); only the report pipe and cwd are ours. */
static int collect_fds(const struct ncp_start_req *req, struct request *r, int report_w) {
    int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (cwd < 0)
        return ncp_fail(NCP_ERR_INTERNAL, "cannot open the working directory: %s", strerror(errno));
    r->fds[r->nfds++] = report_w;
    r->fds[r->nfds++] = cwd;
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) >= 0) {
            r->hdr.std_mask |= 1u << fd;
            r->fds[r->nfds++] = fd;
        }
    }
    if (r->memfd >= 0)
        r->fds[r->nfds++] = r->memfd;
    if (req->ipc)
        r->fds[r->nfds++] = req->channel_fd;
    for (int i = 0; i < req->nfds; i++)
        r->fds[r->nfds++] = req->fds[i];
    r->hdr.nfds = (uint32_t)req->nfds;
    return NCP_NO_ERROR;
}

static int send_request(struct request *r) {
    union {
        char buf[CMSG_SPACE(sizeof(int) * (PROTO_FIXED_FDS + PROTO_MAX_FDS))];
        struct cmsghdr align;
    } u;
    struct iovec iov[2] = {{.iov_base = &r->hdr, .iov_len = sizeof r->hdr},
                           {.iov_base = r->payload, .iov_len = r->hdr.payload_len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = r->memfd >= 0 ? 1 : 2,
                         .msg_control = u.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)r->nfds)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)r->nfds);
    memcpy(CMSG_DATA(c), r->fds, sizeof(int) * (size_t)r->nfds);
    ssize_t n = sys_sendmsg(rt.start_fd, &msg, 0);
    if (n < 0)
        return ncp_fail(NCP_ERR_SERVICE_ERROR, "cannot reach the spawner: %s", strerror((int)-n));
    return NCP_NO_ERROR;
}

static int start_timeout_ms(void) {
    const char *v = getenv("OHNCP_START_TIMEOUT_MS");
    long ms = v != NULL && *v != '\0' ? strtol(v, NULL, 10) : 10000;
    return ms > 0 && ms < INT_MAX ? (int)ms : 10000;
}

/* Kill start `gen` of `slot` (and only if its pid is `pid`, when not 0). */
static void send_kill(int slot, uint32_t gen, pid_t pid, uint32_t flags) {
    struct proto_kill k = {.type = PROTO_KILL, .slot = (uint32_t)slot, .gen = gen,
                           .flags = flags, .pid = pid};
    struct iovec iov = {.iov_base = &k, .iov_len = sizeof k};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    (void)sys_sendmsg(rt.ctl_fd, &msg, 0);
}

/* A refused sandbox is worth a line on stderr even without OHNCP_DEBUG
 * (behaviour.md §5: never a silent refusal); once per process, the
 * rest go to the debug log and OH_Ohncp_GetLastErrorMessage. */
static void log_refusal(int code, const char *msg) {
    static int said;
    if (code != NCP_ERR_NOT_SUPPORTED)
        return;
    if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED) == 0)
        fprintf(stderr, "ohncp[%d]: %s\n", (int)getpid(), msg);
    else
        ncp_debug("%s", msg);
}

/* The spawner itself refused start `slot` (its report has no pid): no
 * process exists whose EXIT would free the slot. */
static void no_child(int slot) {
    pthread_mutex_lock(&rt.lock);
    rt.slots[slot].exited = true;
    pthread_mutex_unlock(&rt.lock);
}

/* The start's report pipe reached EOF without a report: the process that
 * took it died. Ask the spawner for its exit (its standby may have died
 * before the spawner knew the slot: PROTO_KILL_F_TAKEN) and wait for it
 * until `deadline` (CLOCK_REALTIME): a library that crashed while loading
 * is the library's failure; a process killed (a standby killed from
 * outside, or with the spawner) is the runtime's. */
static int death_verdict(bool up, bool exited, int st);

/* No EXIT came for a start whose report pipe hit EOF before any report
 * (lock held): its taker died, yet the spawner never learnt which start it
 * had taken (a standby killed between reading START and writing its note).
 * The slot would otherwise stay used for good; a late EXIT of this gen is
 * ignored (slot_exited). */
static void exit_never_came(int slot, uint32_t gen) {
    (void)slot_exited(slot, gen, 0, SIGKILL);
}

static int died_during_start(int slot, uint32_t gen, const struct timespec *deadline) {
    pthread_mutex_lock(&rt.lock);
    if (rt.phase == RT_UP)
        send_kill(slot, gen, 0, PROTO_KILL_F_TAKEN);
    while (rt.phase == RT_UP && !rt.slots[slot].exited &&
           pthread_cond_timedwait(&rt.cond, &rt.lock, deadline) == 0)
        ;
    bool up = rt.phase == RT_UP, exited = rt.slots[slot].exited;
    int st = rt.slots[slot].wstatus;
    if (up && !exited)
        exit_never_came(slot, gen);
    pthread_mutex_unlock(&rt.lock);
    return death_verdict(up, exited, st);
}

/* The code of a start whose taker died before it reported: `up`, whether
 * the spawner still runs; `exited` and `st`, the taker's exit if it came. */
static int death_verdict(bool up, bool exited, int st) {
    if (!up)
        return ncp_fail(NCP_ERR_SERVICE_ERROR, "the spawner exited during the start");
    if (!exited || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))
        return ncp_fail(NCP_ERR_SERVICE_ERROR, "the child was killed during the start");
    if (WIFSIGNALED(st))
        return ncp_fail(NCP_ERR_LIB_LOADING_FAILED,
                        "the child died of signal %d while loading the library", WTERMSIG(st));
    return ncp_fail(NCP_ERR_LIB_LOADING_FAILED,
                    "the child exited with status %d while loading the library", WEXITSTATUS(st));
}

/* Wait for the one report the child (or the spawner) writes. */
static int await_report(int report_r, int slot, uint32_t gen, int32_t *ret_pid) {
    struct proto_report rep;
    int ev = sys_poll1(report_r, POLLIN, start_timeout_ms());
    if (ev == 0) {
        send_kill(slot, gen, 0, 0); /* taken or not: the spawner keeps it for its start */
        return ncp_fail(NCP_ERR_TIMEOUT, "the child did not load its library within %d ms",
                        start_timeout_ms());
    }
    ssize_t n = ev < 0 ? ev : sys_read(report_r, &rep, sizeof rep);
    if (n != (ssize_t)sizeof rep) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += start_timeout_ms() / 1000 + 1;
        return died_during_start(slot, gen, &deadline);
    }
    rep.msg[sizeof rep.msg - 1] = '\0';
    if (rep.code != NCP_NO_ERROR) {
        if (rep.pid <= 0)
            no_child(slot);
        log_refusal(rep.code, rep.msg);
        return ncp_fail(rep.code, "%s", rep.msg);
    }
    *ret_pid = rep.pid;
    return NCP_NO_ERROR;
}

/* The limits the child gets: ours now, which may differ from the
 * spawner's (ours when it was launched). */
static void caller_limits(struct proto_start *h) {
    for (int i = 0; i < PROTO_NRLIMITS; i++) {
        struct rlimit rl;
        if (getrlimit(i, &rl) < 0)
            continue; /* a kernel without limit i: the spawner's stays */
        h->rlim[i].cur = rl.rlim_cur;
        h->rlim[i].max = rl.rlim_max;
        h->rlim_mask |= 1u << i;
    }
}

/* Reserve a slot and send START. On NCP_NO_ERROR: *ret_slot and its
 * *ret_gen, and in *ret_report the read end of the report pipe. */
static int send_start(const struct ncp_start_req *req, int *ret_slot, uint32_t *ret_gen,
                      int *ret_report) {
    uint32_t flags = (req->ipc ? PROTO_F_IPC : 0) |
                     (req->isolation_mode == NCP_ISOLATION_MODE_ISOLATED
                          ? PROTO_F_ISOLATED | (req->isolation_uid ? PROTO_F_OWN_UID : 0)
                          : 0);
    struct request r = {.hdr = {.type = PROTO_START, .flags = flags}, .memfd = -1};
    int pipefd[2] = {-1, -1}, slot = -1;
    pthread_mutex_lock(&rt.lock);
    int rc = ensure_up();
    if (rc == NCP_NO_ERROR && (slot = slot_reserve(req->ipc)) < 0)
        rc = ncp_fail(NCP_ERR_MAX_CHILD_PROCESSES_REACHED,
                      "%d children are alive, %d of them in IPC mode: the limit is %d (at "
                      "most %d in IPC mode); a child counts until it has exited",
                      rt.used, rt.used_ipc, child_limit(), OHNCP_MAX_IPC_CHILDREN);
    uint32_t gen = slot >= 0 ? rt.slots[slot].gen : 0;
    pthread_mutex_unlock(&rt.lock);
    if (rc != NCP_NO_ERROR)
        return rc;
    r.hdr.slot = (uint32_t)slot;
    r.hdr.gen = *ret_gen = gen;
    int cpu = sched_getcpu();
    if (cpu >= 0 && cpu < 0xffff)
        r.hdr.flags |= (uint32_t)(cpu + 1) << PROTO_CPU_SHIFT;
    caller_limits(&r.hdr);
    rc = build_payload(req, &r);
    if (rc == NCP_NO_ERROR) /* the name ends the payload */
        slot_set_name(slot, r.payload + r.hdr.payload_len - r.hdr.pname_len);
    if (rc == NCP_NO_ERROR && r.hdr.payload_len > PROTO_INLINE_MAX)
        rc = payload_to_memfd(&r);
    if (rc == NCP_NO_ERROR && pipe2(pipefd, O_CLOEXEC) < 0)
        rc = ncp_fail(NCP_ERR_INTERNAL, "pipe2: %s", strerror(errno));
    if (rc == NCP_NO_ERROR)
        rc = collect_fds(req, &r, pipefd[1]);
    if (rc == NCP_NO_ERROR)
        rc = send_request(&r);
    if (r.nfds > 1)
        sys_close(r.fds[1]); /* cwd */
    sys_closep(&pipefd[1]);
    sys_close(r.memfd);
    free(r.payload);
    if (rc != NCP_NO_ERROR) {
        sys_close(pipefd[0]);
        pthread_mutex_lock(&rt.lock);
        slot_free(slot); /* the spawner never heard of it */
        pthread_mutex_unlock(&rt.lock);
        return rc;
    }
    *ret_slot = slot;
    *ret_report = pipefd[0];
    return NCP_NO_ERROR;
}

int runtime_start(const struct ncp_start_req *req, int32_t *ret_pid, uint64_t *ret_id) {
    int slot, report;
    uint32_t gen;
    int rc = send_start(req, &slot, &gen, &report);
    if (rc != NCP_NO_ERROR)
        return rc;
    int32_t pid = 0;
    pthread_mutex_lock(&rt.lock);
    uint64_t id = rt.slots[slot].start_id; /* the slot is ours until caller_done */
    pthread_mutex_unlock(&rt.lock);
    rc = await_report(report, slot, gen, &pid);
    sys_close(report);
    pthread_mutex_lock(&rt.lock);
    slot_caller_done(slot, rc == NCP_NO_ERROR, pid);
    pthread_mutex_unlock(&rt.lock);
    if (rc == NCP_NO_ERROR)
        *ret_pid = pid;
    if (rc == NCP_NO_ERROR && ret_id != NULL)
        *ret_id = id;
    return rc;
}

/* ---- 6. IPC-mode starts ---------------------------------------------------- */

static __thread uint64_t last_start_id;

uint64_t OH_Ohncp_GetLastStartId(void) { return last_start_id; }

int OH_Ohncp_GetStartErrorMessage(uint64_t id, char *buf, size_t size) {
    if (buf == NULL || size == 0)
        return NCP_ERR_INVALID_PARAM;
    int rc = NCP_ERR_INVALID_PARAM;
    pthread_mutex_lock(&rt.lock);
    const struct start_reason *r = &rt.reasons[id % START_REASONS];
    if (id != 0 && r->id == id) {
        snprintf(buf, size, "%s", r->msg);
        rc = NCP_NO_ERROR;
    }
    pthread_mutex_unlock(&rt.lock);
    return rc;
}

int runtime_create(struct ncp_start_req *req, OH_Ability_OnNativeChildProcessStarted cb) {
    int sv[2], slot, report;
    uint32_t gen;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return ncp_fail(NCP_ERR_INTERNAL, "socketpair: %s", strerror(errno));
    req->ipc = true;
    req->channel_fd = sv[1];
    int rc = send_start(req, &slot, &gen, &report);
    sys_close(sv[1]);
    if (rc != NCP_NO_ERROR) {
        sys_close(sv[0]);
        return rc;
    }
    pthread_mutex_lock(&rt.lock);
    uint64_t id = rt.slots[slot].start_id;
    for (int i = 0; i < OHNCP_MAX_IPC_CHILDREN; i++) {
        if (!rt.pending[i].used) { /* a place exists: slots are limited to 50 too */
            rt.pending[i] = (struct pending_ipc){true, false, false, false, slot, 0, report, sv[0],
                                                 sys_now_ns() + start_timeout_ms() * 1000000LL, cb,
                                                 id, false};
            break;
        }
    }
    wake_runtime();
    pthread_mutex_unlock(&rt.lock);
    last_start_id = id;
    return NCP_NO_ERROR;
}

/* The start's one callback (runtime thread, no lock held), with `why` (a
 * failure's reason) in this thread's OH_Ohncp_GetLastErrorMessage while it
 * runs, and kept by id. A failed child is killed: it must not run on
 * without its parent knowing it. */
static void finish_ipc(struct pending_ipc *p, int code, OHIPCRemoteProxy *proxy, const char *why) {
    struct pending_ipc done = *p;
    sys_close(done.report_fd);
    sys_close(done.channel_fd);
    pthread_mutex_lock(&rt.lock);
    /* Kill only a child that has not been reaped (the spawner would keep
     * the kill for a start it already forgot). The gen names this start
     * alone; with the pid (once the child reported) the spawner checks both. */
    if (code != NCP_NO_ERROR && rt.phase == RT_UP && !rt.slots[done.slot].exited)
        send_kill(done.slot, rt.slots[done.slot].gen, done.pid, done.dead ? PROTO_KILL_F_TAKEN : 0);
    if (code != NCP_NO_ERROR) {
        struct start_reason *r = &rt.reasons[done.id % START_REASONS];
        r->id = done.id;
        snprintf(r->msg, sizeof r->msg, "%s", why);
    }
    *p = (struct pending_ipc){0};
    slot_caller_done(done.slot, code == NCP_NO_ERROR, done.pid);
    pthread_mutex_unlock(&rt.lock);
    ncp_debug("IPC start of slot %d: %d", done.slot, code);
    ncp_clear_error();
    if (code != NCP_NO_ERROR)
        (void)ncp_fail(code, "%s", why);
    done.cb(code, proxy);
}

/* It died before loading: as died_during_start, but the runtime thread
 * cannot wait; its exit (or the spawner's loss, or 1 s more) comes to
 * check_exit. */
static void await_exit(struct pending_ipc *p) {
    pthread_mutex_lock(&rt.lock);
    if (rt.phase == RT_UP && !rt.slots[p->slot].exited)
        send_kill(p->slot, rt.slots[p->slot].gen, 0, PROTO_KILL_F_TAKEN);
    pthread_mutex_unlock(&rt.lock);
    p->awaiting_exit = true;
    p->deadline_ns = sys_now_ns() + 1000000000LL; /* 1 s, whatever the start's deadline */
}

static void check_exit(struct pending_ipc *p, long long now) {
    pthread_mutex_lock(&rt.lock);
    bool up = rt.phase == RT_UP, exited = rt.slots[p->slot].exited;
    int st = rt.slots[p->slot].wstatus;
    pthread_mutex_unlock(&rt.lock);
    if (!up || exited || now >= p->deadline_ns) {
        int code = death_verdict(up, exited, st);
        char why[256]; /* death_verdict's sentence, before finish_ipc resets it */
        snprintf(why, sizeof why, "%s", OH_Ohncp_GetLastErrorMessage());
        if (up && !exited) {
            pthread_mutex_lock(&rt.lock);
            exit_never_came(p->slot, rt.slots[p->slot].gen);
            pthread_mutex_unlock(&rt.lock);
        }
        finish_ipc(p, code, NULL, why);
    }
}

/* Its channel is readable (the HELLO, or its end), or its time is up:
 * the accept then only reads what is there. */
static void accept_hello(struct pending_ipc *p, bool readable) {
    OHIPCRemoteProxy *proxy = NULL;
    int rc = -ETIMEDOUT;
    if (readable) {
        rc = OH_Ohncp_IPCAcceptChannel(p->channel_fd, 0, &proxy);
        p->channel_fd = -1; /* taken over */
    }
    finish_ipc(p, rc == 0 ? NCP_NO_ERROR : NCP_ERR_CONNECTION_FAILED, proxy,
               readable ? "the child's IPC channel failed before its first message"
                        : "the child reported connected but sent no IPC message in time");
}

/* The fd the runtime thread watches for a pending start. */
static int pending_fd(const struct pending_ipc *p) { return p->hello ? p->channel_fd : p->report_fd; }

/* The child's pid, read by other threads under the lock (rt.pending). */
static void set_pending_pid(struct pending_ipc *p, pid_t pid) {
    pthread_mutex_lock(&rt.lock);
    p->pid = pid;
    pthread_mutex_unlock(&rt.lock);
}

/* Its report pipe is readable, or its time is up (spec §4). */
static void follow_ipc(struct pending_ipc *p, bool readable) {
    if (p->hello) {
        accept_hello(p, readable);
        return;
    }
    if (!readable) {
        finish_ipc(p, NCP_ERR_TIMEOUT, NULL,
                   p->loaded ? "the child did not connect in time"
                             : "the child did not load its library in time");
        return;
    }
    struct proto_report rep;
    ssize_t n = sys_read(p->report_fd, &rep, sizeof rep);
    if (n != (ssize_t)sizeof rep) { /* died: before or after loading */
        p->dead = true;
        if (p->loaded)
            finish_ipc(p, NCP_ERR_CONNECTION_FAILED, NULL,
                       "the child exited or was killed before its start completed (in "
                       "NativeChildProcess_OnConnect or early in NativeChildProcess_MainProc)");
        else
            await_exit(p);
    } else if (rep.code != NCP_NO_ERROR) {
        rep.msg[sizeof rep.msg - 1] = '\0';
        if (rep.pid > 0)
            set_pending_pid(p, rep.pid); /* the child's own report: kill it by pid */
        else if (!p->loaded)
            no_child(p->slot);
        log_refusal(rep.code, rep.msg);
        ncp_debug("IPC start of slot %d failed: %s", p->slot, rep.msg);
        finish_ipc(p, rep.code, NULL, rep.msg);
    } else if (!p->loaded) {
        p->loaded = true;
        set_pending_pid(p, rep.pid);
    } else {
        p->hello = true; /* connected: the HELLO is watched for from now on */
        if (sys_poll1(p->channel_fd, POLLIN, 0) > 0)
            accept_hello(p, true); /* already there, as it is from a child that keeps to it */
    }
}

/* Add the pending starts to the runtime thread's poll set (lock held);
 * returns the ms to the nearest deadline, or -1. */
static int poll_pending(struct pollfd *p, int *which, int *n) {
    long long now = sys_now_ns(), next = -1;
    for (int i = 0; i < OHNCP_MAX_IPC_CHILDREN; i++) {
        if (!rt.pending[i].used)
            continue;
        int fd = rt.pending[i].awaiting_exit ? -1 : pending_fd(&rt.pending[i]); /* at EOF */
        p[*n] = (struct pollfd){.fd = fd, .events = POLLIN};
        which[(*n)++] = i;
        long long d = rt.pending[i].deadline_ns;
        next = next < 0 || d < next ? d : next;
    }
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int)((next - now + 999999) / 1000000);
}

/* Follow the entries poll_pending put in the poll set: still used, as only
 * this thread frees them. Each is touched no more after the call that may
 * finish it: its callback may have started another IPC child in its place. */
static void handle_pending(const struct pollfd *p, const int *which, int n) {
    long long now = sys_now_ns();
    for (int k = 0; k < n; k++) {
        struct pending_ipc *pi = &rt.pending[which[k]];
        if (pi->awaiting_exit)
            check_exit(pi, now);
        else if (p[k].revents)
            follow_ipc(pi, true);
        else if (now >= pi->deadline_ns)
            follow_ipc(pi, false);
    }
}

/* ---- 7. kill, callback registration ------------------------------------------ */

int runtime_kill(int32_t pid) {
    int slot = -1;
    pthread_mutex_lock(&rt.lock);
    for (int i = 0; pid > 0 && i < OHNCP_MAX_CHILDREN_HARD; i++) {
        const struct slot *s = &rt.slots[i];
        if (slot_live(s) && s->pid == pid) {
            slot = i;
            break;
        }
    }
    if (slot >= 0 && rt.phase == RT_UP)
        send_kill(slot, rt.slots[slot].gen, pid, 0); /* the spawner checks pid again */
    pthread_mutex_unlock(&rt.lock);
    if (slot < 0)
        return ncp_fail(NCP_ERR_INVALID_PID, "pid %d is not a live child of this process", (int)pid);
    return NCP_NO_ERROR;
}

/* The slot of start `id` while it has a child (lock held); -1 if none. */
static int slot_of_start(uint64_t id) {
    for (int i = 0; id > 0 && i < OHNCP_MAX_CHILDREN_HARD; i++) {
        const struct slot *s = &rt.slots[i];
        if (s->state != SLOT_FREE && s->start_id == id && !s->exited && !(s->caller_done && s->failed))
            return i;
    }
    return -1;
}

/* runtime_kill for the child of start `id`: a pid may be reused by the time
 * a caller asks, a start id is not. A start still under way (an IPC-mode
 * child that has not connected yet; the caller gave up on it) is killed
 * too: the spawner holds the kill for that start until a standby takes it,
 * and the start then ends with the child's death. */
int runtime_kill_by_id(uint64_t id) {
    pthread_mutex_lock(&rt.lock);
    int slot = slot_of_start(id);
    if (slot >= 0 && rt.phase == RT_UP) {
        const struct slot *s = &rt.slots[slot];
        send_kill(slot, s->gen, s->caller_done ? s->pid : 0, 0);
    }
    pthread_mutex_unlock(&rt.lock);
    if (slot < 0)
        return ncp_fail(NCP_ERR_INVALID_PID, "start %llu has no live child in this process",
                        (unsigned long long)id);
    return NCP_NO_ERROR;
}

/* The pid of start `id`'s child, 0 if it is not known yet or gone. */
int32_t runtime_pid_of_start(uint64_t id) {
    pthread_mutex_lock(&rt.lock);
    int slot = slot_of_start(id);
    int32_t pid = slot >= 0 ? rt.slots[slot].pid : 0;
    for (int i = 0; slot >= 0 && pid == 0 && i < OHNCP_MAX_IPC_CHILDREN; i++)
        if (rt.pending[i].used && rt.pending[i].slot == slot)
            pid = rt.pending[i].pid;
    pthread_mutex_unlock(&rt.lock);
    return pid;
}

int runtime_child_infos(OH_AbilityRuntime_ChildProcessInfosHandle *ret, uint32_t *count) {
    pthread_mutex_lock(&rt.lock);
    uint32_t n = 0;
    size_t names = 0;
    for (int i = 0; i < OHNCP_MAX_CHILDREN_HARD; i++) {
        if (slot_live(&rt.slots[i])) {
            n++;
            names += strlen(rt.slots[i].name) + 1;
        }
    }
    struct OH_AbilityRuntime_ChildProcessInfos *set = NULL;
    if (n > 0)
        set = malloc(sizeof *set + n * sizeof set->items[0] + names);
    if (n > 0 && set == NULL) {
        pthread_mutex_unlock(&rt.lock);
        return ncp_fail(NCP_ERR_INTERNAL, "out of memory");
    }
    char *text = set != NULL ? (char *)&set->items[n] : NULL;
    for (int i = 0, k = 0; set != NULL && i < OHNCP_MAX_CHILDREN_HARD; i++) {
        const struct slot *s = &rt.slots[i];
        if (!slot_live(s))
            continue;
        size_t len = strlen(s->name) + 1;
        memcpy(text, s->name, len);
        set->items[k++] = (struct OH_AbilityRuntime_ChildProcessInfo){s->pid, getpid(), text};
        text += len;
    }
    if (set != NULL)
        set->count = n;
    pthread_mutex_unlock(&rt.lock);
    *ret = set;
    *count = n;
    return NCP_NO_ERROR;
}

static int find_cb(void *fn, void *user, int kind) {
    for (int i = 0; i < rt.ncbs; i++)
        if (rt.cbs[i].fn == fn && rt.cbs[i].user == user && rt.cbs[i].kind == kind)
            return i;
    return -1;
}

int runtime_add_exit_cb(void *fn, void *user, int kind) {
    int rc = NCP_NO_ERROR;
    pthread_mutex_lock(&rt.cb_lock);
    if (find_cb(fn, user, kind) < 0) {
        if (rt.ncbs == MAX_EXIT_CBS)
            rc = ncp_fail(NCP_ERR_INTERNAL, "more than %d exit callbacks", MAX_EXIT_CBS);
        else
            rt.cbs[rt.ncbs++] = (struct exit_cb){fn, user, kind};
    }
    pthread_mutex_unlock(&rt.cb_lock);
    return rc;
}

int runtime_remove_exit_cb(void *fn, void *user, int kind) {
    int rc = NCP_NO_ERROR;
    pthread_mutex_lock(&rt.cb_lock);
    int i = find_cb(fn, user, kind);
    if (i < 0) {
        rc = ncp_fail(NCP_ERR_CALLBACK_NOT_EXIST, "callback is not registered");
    } else {
        memmove(&rt.cbs[i], &rt.cbs[i + 1], (size_t)(rt.ncbs - i - 1) * sizeof rt.cbs[0]);
        rt.ncbs--;
    }
    pthread_mutex_unlock(&rt.cb_lock);
    return rc;
}

/* ---- 8. fork safety ---------------------------------------------------------- */

/* A fork()ed copy of the parent has none of our threads and must not talk on
 * the original's sockets: it gets a fresh runtime on first use. Its children
 * (none yet) and the exit callbacks it registered carry over.
 *
 * The race these handlers exist for: another thread of the parent may be in
 * the middle of a start or an exit (slots half written, a mutex held) at the
 * moment of fork(). prepare takes both locks, in their declared order, so the
 * child inherits a consistent `rt` and locks held by the forking thread
 * itself, which it may unlock (initialising a held mutex again would be
 * undefined). */
static void atfork_prepare(void) {
    pthread_mutex_lock(&rt.lock);
    pthread_mutex_lock(&rt.cb_lock);
}

static void atfork_parent(void) {
    pthread_mutex_unlock(&rt.cb_lock);
    pthread_mutex_unlock(&rt.lock);
}

static void atfork_child(void) {
    /* Threads of the parent may have been waiting on rt.cond; none of them
     * exists here, so the object is taken over as a new one. */
    rt.cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    sys_closep(&rt.ctl_fd);
    sys_closep(&rt.start_fd);
    sys_closep(&rt.wake_fd);
    rt.phase = RT_DOWN;
    rt.thread_running = false;
    rt.spawner_pid = 0;
    memset(rt.slots, 0, sizeof rt.slots);
    rt.used = rt.used_ipc = 0;
    for (int i = 0; i < OHNCP_MAX_IPC_CHILDREN; i++) { /* the parent's, not ours */
        if (rt.pending[i].used) {
            sys_close(rt.pending[i].report_fd);
            sys_close(rt.pending[i].channel_fd);
        }
        rt.pending[i] = (struct pending_ipc){0};
    }
    pthread_mutex_unlock(&rt.cb_lock);
    pthread_mutex_unlock(&rt.lock);
}

__attribute__((constructor)) static void runtime_init(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}
