/*
 * _shim.c - exit statuses and IPC-mode start results for Python, kept in C.
 *
 * The runtime reports each child's exit, and each IPC-mode start, on one of
 * its own threads. Calling into Python from there would wait for the GIL (up
 * to the 5 ms switch interval while Python code runs), so the reports are
 * stored here instead, and Python collects them with calls that block on a
 * condition variable with the GIL released.
 *
 * Map:
 *   1. the table: entries, lookup, insertion, removal
 *   2. the exit-status callback and the fork handler
 *   3. the functions Python calls (args mode)
 *   4. IPC-mode connects: slots, trampolines, the functions Python calls
 *   5. memory for strings the IPC API hands back
 *   6. events for the Python event thread: exits, deaths, connects, stubs
 *
 * The race the exit table exists for: the runtime may report a child's exit
 * after OH_Ability_StartNativeChildProcessWithConfigs returned but before
 * shim_start has recorded the pid. So while any start is in flight, the
 * callback records exits of unknown pids as "unclaimed"; shim_start then
 * claims the entry for its pid, or inserts a running one if there is none.
 * When no start is in flight, unclaimed entries (children that this module
 * did not start) are dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "native_child_process.h"
#include "ipc_kit.h"
#include "ohncp_ext.h"
#include "_shim.h"
#include "_api.h"

/* ---- 1. the table -------------------------------------------------------- */

/* Handles Python may hold at once (started and not yet collected). */
#define SHIM_MAX_HANDLES 3584
/* Room for exits of unknown pids seen while a start is in flight. */
#define SHIM_MAX_UNCLAIMED 512
#define SHIM_TABLE_SIZE (SHIM_MAX_HANDLES + SHIM_MAX_UNCLAIMED)

struct shim_entry {
    uint64_t handle; /* 0 while unclaimed; never reused otherwise */
    int32_t pid;
    int status;      /* raw wait status, valid when exited */
    bool exited;
    bool claimed;    /* started by shim_start (else: exit seen first) */
    bool forgotten;  /* Python let go; drop the entry at exit */
};

/* Entries are packed in [0, n); removal moves the last one into the hole. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t exited; /* broadcast on every recorded exit */
    struct shim_entry entries[SHIM_TABLE_SIZE];
    int n;
    int n_claimed;
    int n_unclaimed;
    int in_flight;         /* shim_start calls between reserve and claim */
    uint64_t next_handle;
} table = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .next_handle = 1,
};

/* Registration has a lock of its own: the runtime may hold its callback
 * lock while calling on_exit_status (which takes table.lock), so calling
 * into the runtime with table.lock held could deadlock. */
static pthread_mutex_t registration_lock = PTHREAD_MUTEX_INITIALIZER;
static bool registered;

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void table_init_cond(void)
{
    pthread_condattr_t attr;

    /* Timed waits measure against the monotonic clock, so a change of the
     * wall clock neither shortens nor stretches them. */
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&table.exited, &attr);
    pthread_condattr_destroy(&attr);
}

/* All table_* functions: the caller holds table.lock. */
static struct shim_entry *table_find_handle(uint64_t handle)
{
    for (int i = 0; i < table.n; i++)
        if (table.entries[i].claimed && table.entries[i].handle == handle)
            return &table.entries[i];
    return NULL;
}

/* The oldest running entry for `pid`. There can be two: when a pid is
 * reused by a new child before the old one's exit was reported. Reports
 * arrive in exit order, so the oldest is the one that exited. */
static struct shim_entry *table_find_running(int32_t pid)
{
    struct shim_entry *best = NULL;

    for (int i = 0; i < table.n; i++) {
        struct shim_entry *e = &table.entries[i];
        if (e->claimed && !e->exited && e->pid == pid &&
            (best == NULL || e->handle < best->handle))
            best = e;
    }
    return best;
}

static struct shim_entry *table_find_unclaimed(int32_t pid)
{
    for (int i = 0; i < table.n; i++)
        if (!table.entries[i].claimed && table.entries[i].pid == pid)
            return &table.entries[i];
    return NULL;
}

/* Returns the new entry, zeroed but for pid; the caller checked the room. */
static struct shim_entry *table_append(int32_t pid)
{
    struct shim_entry *e = &table.entries[table.n++];

    memset(e, 0, sizeof(*e));
    e->pid = pid;
    return e;
}

static void table_remove(struct shim_entry *e)
{
    if (e->claimed)
        table.n_claimed--;
    else
        table.n_unclaimed--;
    *e = table.entries[--table.n];
}

static void table_purge_unclaimed(void)
{
    for (int i = table.n - 1; i >= 0; i--)
        if (!table.entries[i].claimed)
            table_remove(&table.entries[i]);
}

/* ---- 2. callbacks from the runtime and from fork ------------------------- */

static void connects_after_fork(void); /* section 4 */
static void events_after_fork(void);   /* section 6 */
static void events_push(int kind, int32_t pid, int32_t status, uint64_t token);

static void on_exit_status(int32_t pid, int32_t status, void *user_data)
{
    struct shim_entry *e;

    (void)user_data;
    pthread_mutex_lock(&table.lock);
    e = table_find_running(pid);
    if (e != NULL && e->forgotten) {
        table_remove(e);
    } else if (e != NULL) {
        e->exited = true;
        e->status = status;
        pthread_cond_broadcast(&table.exited);
    } else if (table.in_flight > 0 && table.n_unclaimed < SHIM_MAX_UNCLAIMED) {
        /* Maybe the child of a start that has not claimed it yet. If the
         * room is exhausted (more than SHIM_MAX_UNCLAIMED foreign children
         * exiting during one start), that start's wait would never end;
         * the bound is far above the runtime's 512 live children. */
        e = table_append(pid);
        e->exited = true;
        e->status = status;
        table.n_unclaimed++;
    }
    pthread_mutex_unlock(&table.lock);
    events_push(SHIM_EV_EXIT, pid, status, 0);
}

/* In the child of a fork() of this process: the runtime there is a new one
 * with no children, so nothing in the table applies. The lock may have been
 * held by a thread that does not exist here: make a new one. */
static void on_fork_child(void)
{
    pthread_mutex_init(&table.lock, NULL);
    pthread_mutex_init(&registration_lock, NULL);
    table_init_cond();
    table.n = 0;
    table.n_claimed = 0;
    table.n_unclaimed = 0;
    table.in_flight = 0;
    registered = false;
    connects_after_fork();
    events_after_fork();
}

static void table_init_once(void)
{
    table_init_cond();
    pthread_atfork(NULL, NULL, on_fork_child);
}

/* Register on_exit_status once per process. After a fork it is registered
 * again: the runtime keeps one copy of the same pair, if it kept any. */
static int ensure_registered(void)
{
    int rc = NCP_NO_ERROR;

    pthread_once(&table_once, table_init_once);
    pthread_mutex_lock(&registration_lock);
    if (!registered) {
        rc = ohncp_api_RegisterExitStatusCallback(on_exit_status, NULL);
        registered = rc == NCP_NO_ERROR;
    }
    pthread_mutex_unlock(&registration_lock);
    return rc;
}

/* ---- 3. the functions Python calls (args mode) --------------------------- */

int shim_init(void)
{
    int rc = ensure_registered();

    /* A device without any exit report still imports; starts say why not. */
    return rc == OHNCP_API_MISSING ? NCP_NO_ERROR : rc;
}

static void copy_message(char *buf, size_t len)
{
    const char *msg = ohncp_api_GetLastErrorMessage();

    if (buf == NULL || len == 0)
        return;
    if (msg == NULL)
        msg = "";
    strncpy(buf, msg, len - 1);
    buf[len - 1] = '\0';
}

/* New configs with the caller's options in *ret. On failure nothing is left
 * to free and the runtime's message is in errbuf: destroying the configs
 * would clear it, so it is copied first. */
static int make_configs(int isolation, int isolation_uid, const char *process_name,
                        Ability_ChildProcessConfigs **ret, char *errbuf, size_t errbuf_len)
{
    Ability_ChildProcessConfigs *configs = ohncp_api_CreateChildProcessConfigs();
    int rc;

    if (configs == NULL) {
        copy_message(errbuf, errbuf_len);
        return ohncp_api_configs_failure();
    }
    rc = ohncp_api_ChildProcessConfigs_SetIsolationMode(
        configs, (NativeChildProcess_IsolationMode)isolation);
    if (rc == NCP_NO_ERROR && isolation_uid)
        rc = ohncp_api_ChildProcessConfigs_SetIsolationUid(configs, true);
    if (rc == NCP_NO_ERROR && process_name != NULL)
        rc = ohncp_api_ChildProcessConfigs_SetProcessName(configs, process_name);
    if (rc != NCP_NO_ERROR) {
        copy_message(errbuf, errbuf_len);
        (void)ohncp_api_DestroyChildProcessConfigs(configs);
        return rc;
    }
    *ret = configs;
    return NCP_NO_ERROR;
}

/* Build the configs and call the runtime. The message is copied right after
 * the failing call: the next call into the runtime may clear it. */
static int start_with_configs(const char *entry, NativeChildProcess_Args args,
                              int isolation, int isolation_uid,
                              const char *process_name, int32_t *pid,
                              char *errbuf, size_t errbuf_len)
{
    Ability_ChildProcessConfigs *configs = NULL;
    int rc = make_configs(isolation, isolation_uid, process_name, &configs, errbuf,
                          errbuf_len);

    if (rc != NCP_NO_ERROR)
        return rc;
    rc = ohncp_api_StartNativeChildProcessWithConfigs(entry, args, configs, pid);
    if (rc != NCP_NO_ERROR)
        copy_message(errbuf, errbuf_len);
    (void)ohncp_api_DestroyChildProcessConfigs(configs);
    return rc;
}

/* Record the started child (table.lock held): take over the entry its exit
 * already made, or add a running one. Room was reserved by in_flight. */
static uint64_t claim(int32_t pid)
{
    struct shim_entry *e = table_find_unclaimed(pid);

    if (e != NULL) {
        table.n_unclaimed--;
    } else {
        e = table_append(pid);
    }
    e->claimed = true;
    e->handle = table.next_handle++;
    table.n_claimed++;
    return e->handle;
}

int shim_start(const char *entry, const char *params, int nfds,
               char *const *fd_names, const int32_t *fds, int isolation,
               int isolation_uid, const char *process_name, int32_t *pid,
               uint64_t *handle, char *errbuf, size_t errbuf_len)
{
    NativeChildProcess_Fd *nodes = NULL;
    NativeChildProcess_Args args = {.entryParams = (char *)params};
    int32_t child = 0;
    int rc;

    if (errbuf != NULL && errbuf_len > 0)
        errbuf[0] = '\0';
    if (nfds < 0 || pid == NULL || handle == NULL)
        return NCP_ERR_INVALID_PARAM;
    if (nfds > 0) {
        nodes = calloc((size_t)nfds, sizeof(*nodes));
        if (nodes == NULL)
            return NCP_ERR_INTERNAL;
        for (int i = 0; i < nfds; i++) {
            nodes[i].fdName = fd_names[i];
            nodes[i].fd = fds[i];
            nodes[i].next = i + 1 < nfds ? &nodes[i + 1] : NULL;
        }
        args.fdList.head = &nodes[0];
    }

    rc = ensure_registered();
    pthread_mutex_lock(&table.lock);
    if (rc == NCP_NO_ERROR && table.n_claimed + table.in_flight >= SHIM_MAX_HANDLES)
        rc = NCP_ERR_MAX_CHILD_PROCESSES_REACHED; /* too many uncollected */
    if (rc == NCP_NO_ERROR)
        table.in_flight++;
    pthread_mutex_unlock(&table.lock);
    if (rc != NCP_NO_ERROR) {
        free(nodes);
        return rc;
    }

    rc = start_with_configs(entry, args, isolation, isolation_uid, process_name,
                            &child, errbuf, errbuf_len);
    free(nodes);

    pthread_mutex_lock(&table.lock);
    if (rc == NCP_NO_ERROR) {
        *pid = child;
        *handle = claim(child);
    }
    if (--table.in_flight == 0)
        table_purge_unclaimed();
    pthread_mutex_unlock(&table.lock);
    return rc;
}

/* Fill the absolute monotonic deadline `ms` milliseconds from now. */
static void deadline_after(int ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int shim_wait(uint64_t handle, int timeout_ms, int *status)
{
    struct timespec deadline;
    bool timed_out = false;
    int result;

    if (timeout_ms > 0)
        deadline_after(timeout_ms, &deadline);
    pthread_once(&table_once, table_init_once);
    pthread_mutex_lock(&table.lock);
    for (;;) {
        struct shim_entry *e = table_find_handle(handle);

        if (e == NULL) {
            result = SHIM_UNKNOWN;
            break;
        }
        if (e->exited) {
            if (status != NULL)
                *status = e->status;
            result = SHIM_EXITED;
            break;
        }
        if (timeout_ms == 0 || timed_out) {
            result = SHIM_RUNNING;
            break;
        }
        /* Look once more after a timeout: the exit may have come with it. */
        if (timeout_ms < 0)
            pthread_cond_wait(&table.exited, &table.lock);
        else if (pthread_cond_timedwait(&table.exited, &table.lock, &deadline) == ETIMEDOUT)
            timed_out = true;
    }
    pthread_mutex_unlock(&table.lock);
    return result;
}

int shim_poll(uint64_t handle, int *status)
{
    return shim_wait(handle, 0, status);
}

void shim_forget(uint64_t handle)
{
    struct shim_entry *e;

    pthread_once(&table_once, table_init_once);
    pthread_mutex_lock(&table.lock);
    e = table_find_handle(handle);
    if (e != NULL && e->exited)
        table_remove(e);
    else if (e != NULL)
        e->forgotten = true;
    pthread_mutex_unlock(&table.lock);
}

int shim_tracked(void)
{
    int n;

    pthread_once(&table_once, table_init_once);
    pthread_mutex_lock(&table.lock);
    n = table.n_claimed;
    pthread_mutex_unlock(&table.lock);
    return n;
}

/* ---- 4. IPC-mode connects --------------------------------------------------
 *
 * OH_Ability_OnNativeChildProcessStarted carries no user data, so one shared
 * callback could not tell whose start it reports when several run at once.
 * Each slot therefore has a trampoline of its own: a distinct function that
 * knows its slot number. A connect takes a free slot, hands the runtime that
 * slot's trampoline, and later collects what the trampoline stored.
 *
 * A slot moves FREE -> PENDING (shim_connect_begin) -> DONE (the callback)
 * -> FREE (shim_connect_wait collects it). If Python gives up first,
 * shim_connect_abandon makes a PENDING slot ABANDONED: the runtime calls back
 * exactly once per accepted start, so the slot stays reserved until then,
 * and the callback destroys the proxy that nobody will collect.
 *
 * Besides the condition variable, the callback signals the slot's eventfd,
 * so an event loop can wait for a connect without a thread.
 */

enum connect_state { CONNECT_FREE, CONNECT_PENDING, CONNECT_DONE, CONNECT_ABANDONED };

struct connect_slot {
    enum connect_state state;
    uint64_t generation;      /* bumped by each begin: old handles stop matching */
    int code;                 /* the callback's errCode, valid when DONE */
    OHIPCRemoteProxy *proxy;  /* the callback's proxy, owned here while DONE */
    int event_fd;             /* eventfd, -1 until the slot is first used */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t done;      /* broadcast on every callback */
    struct connect_slot slots[SHIM_CONNECT_SLOTS];
} connects = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t connects_once = PTHREAD_ONCE_INIT;
static bool connects_ready; /* connects_init_once ran: the event_fds are set */

static void connects_init_cond(void)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&connects.done, &attr);
    pthread_condattr_destroy(&attr);
}

static void connects_init_once(void)
{
    connects_init_cond();
    for (int i = 0; i < SHIM_CONNECT_SLOTS; i++)
        connects.slots[i].event_fd = -1;
    connects_ready = true;
}

/* A handle names a slot and one use of it. */
static uint64_t connect_handle(int i)
{
    return connects.slots[i].generation * SHIM_CONNECT_SLOTS + (uint64_t)i;
}

/* The slot `handle` names, if that use of it is current and not abandoned
 * (lock held). */
static struct connect_slot *connect_find(uint64_t handle)
{
    struct connect_slot *s = &connects.slots[handle % SHIM_CONNECT_SLOTS];

    if (s->generation != handle / SHIM_CONNECT_SLOTS ||
        (s->state != CONNECT_PENDING && s->state != CONNECT_DONE))
        return NULL;
    return s;
}

/* Back to FREE, with the eventfd emptied for the next use (lock held). */
static void connect_release(struct connect_slot *s)
{
    uint64_t count;

    if (s->event_fd >= 0)
        while (read(s->event_fd, &count, sizeof(count)) < 0 && errno == EINTR)
            ;
    s->state = CONNECT_FREE;
    s->proxy = NULL;
}

/* The runtime's callback for slot i, on a runtime thread. A proxy nobody
 * will collect is destroyed outside the lock. */
static void connect_done(int i, int code, OHIPCRemoteProxy *proxy)
{
    struct connect_slot *s = &connects.slots[i];
    OHIPCRemoteProxy *orphan = NULL;
    uint64_t one = 1, handle = 0;
    bool tell = false;

    pthread_mutex_lock(&connects.lock);
    if (s->state == CONNECT_PENDING) {
        handle = connect_handle(i);
        tell = true;
        s->state = CONNECT_DONE;
        s->code = code;
        s->proxy = proxy;
        if (s->event_fd >= 0)
            (void)!write(s->event_fd, &one, sizeof(one));
        pthread_cond_broadcast(&connects.done);
    } else {
        /* ABANDONED: nobody will collect it. (Any other state would be a
         * second callback for one start, which the runtime rules out.) */
        if (s->state == CONNECT_ABANDONED)
            connect_release(s);
        orphan = proxy;
    }
    pthread_mutex_unlock(&connects.lock);
    OH_IPCRemoteProxy_Destroy(orphan);
    if (tell)
        events_push(SHIM_EV_CONNECT, 0, 0, handle);
}

#define TRAMPOLINE(hi, lo)                                                       \
    static void connect_done_##hi##lo(int code, OHIPCRemoteProxy *proxy)         \
    {                                                                            \
        connect_done(8 * hi + lo, code, proxy);                                  \
    }
#define TRAMPOLINE_ROW(hi)                                                       \
    TRAMPOLINE(hi, 0) TRAMPOLINE(hi, 1) TRAMPOLINE(hi, 2) TRAMPOLINE(hi, 3)      \
    TRAMPOLINE(hi, 4) TRAMPOLINE(hi, 5) TRAMPOLINE(hi, 6) TRAMPOLINE(hi, 7)
#define TRAMPOLINE_NAMES(hi)                                                     \
    connect_done_##hi##0, connect_done_##hi##1, connect_done_##hi##2,            \
    connect_done_##hi##3, connect_done_##hi##4, connect_done_##hi##5,            \
    connect_done_##hi##6, connect_done_##hi##7

TRAMPOLINE_ROW(0) TRAMPOLINE_ROW(1) TRAMPOLINE_ROW(2) TRAMPOLINE_ROW(3)
TRAMPOLINE_ROW(4) TRAMPOLINE_ROW(5) TRAMPOLINE_ROW(6) TRAMPOLINE_ROW(7)

static const OH_Ability_OnNativeChildProcessStarted trampolines[] = {
    TRAMPOLINE_NAMES(0), TRAMPOLINE_NAMES(1), TRAMPOLINE_NAMES(2), TRAMPOLINE_NAMES(3),
    TRAMPOLINE_NAMES(4), TRAMPOLINE_NAMES(5), TRAMPOLINE_NAMES(6), TRAMPOLINE_NAMES(7),
};
_Static_assert(sizeof(trampolines) / sizeof(trampolines[0]) == SHIM_CONNECT_SLOTS,
               "one trampoline per connect slot");

/* In the child of a fork(): no callback will come for the parent's starts,
 * and the lock may have been held by a thread that does not exist here.
 * Proxies held for the parent are forgotten, not destroyed: they belong to
 * connections of the parent's runtime. The eventfds are the parent's too
 * (shared, not copied): closed here, never read or written, so that the
 * parent keeps its signals; the slots make new ones when used. */
static void connects_after_fork(void)
{
    pthread_mutex_init(&connects.lock, NULL);
    if (!connects_ready)
        return;
    connects_init_cond();
    for (int i = 0; i < SHIM_CONNECT_SLOTS; i++) {
        struct connect_slot *s = &connects.slots[i];

        if (s->event_fd >= 0)
            (void)close(s->event_fd);
        s->event_fd = -1;
        s->state = CONNECT_FREE;
        s->proxy = NULL;
    }
}

/* Take a free slot, with its eventfd made, as PENDING (lock held). Returns
 * its index, or a negative NCP code with the reason in errbuf. */
static int connect_reserve(char *errbuf, size_t errbuf_len)
{
    for (int i = 0; i < SHIM_CONNECT_SLOTS; i++) {
        struct connect_slot *s = &connects.slots[i];

        if (s->state != CONNECT_FREE)
            continue;
        if (s->event_fd < 0)
            s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->event_fd < 0) {
            if (errbuf != NULL)
                snprintf(errbuf, errbuf_len, "eventfd: %s", strerror(errno));
            return -NCP_ERR_INTERNAL;
        }
        s->state = CONNECT_PENDING;
        s->generation++;
        return i;
    }
    /* The runtime refuses a 51st live IPC child, so this takes connects
     * abandoned by Python whose children have not answered yet. */
    if (errbuf != NULL)
        snprintf(errbuf, errbuf_len, "%d connects are waiting for their children already",
                 SHIM_CONNECT_SLOTS);
    return -NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
}

int shim_connect_begin(const char *lib_name, int isolation, int isolation_uid,
                       const char *process_name, uint64_t *handle, char *errbuf,
                       size_t errbuf_len)
{
    Ability_ChildProcessConfigs *configs = NULL;
    int slot, rc;

    if (errbuf != NULL && errbuf_len > 0)
        errbuf[0] = '\0';
    if (handle == NULL)
        return NCP_ERR_INVALID_PARAM;
    pthread_once(&connects_once, connects_init_once);
    pthread_mutex_lock(&connects.lock);
    slot = connect_reserve(errbuf, errbuf_len);
    pthread_mutex_unlock(&connects.lock);
    if (slot < 0)
        return -slot;
    rc = make_configs(isolation, isolation_uid, process_name, &configs, errbuf, errbuf_len);
    if (rc == NCP_NO_ERROR) {
        rc = ohncp_api_CreateNativeChildProcessWithConfigs(lib_name, configs,
                                                            trampolines[slot]);
        if (rc != NCP_NO_ERROR)
            copy_message(errbuf, errbuf_len);
        (void)ohncp_api_DestroyChildProcessConfigs(configs);
    }
    pthread_mutex_lock(&connects.lock);
    if (rc == NCP_NO_ERROR)
        *handle = connect_handle(slot);
    else
        connect_release(&connects.slots[slot]); /* refused: no callback comes */
    pthread_mutex_unlock(&connects.lock);
    return rc;
}

int shim_connect_wait(uint64_t handle, int timeout_ms, int *code, OHIPCRemoteProxy **proxy)
{
    struct timespec deadline;
    bool timed_out = false;
    int result;

    if (timeout_ms > 0)
        deadline_after(timeout_ms, &deadline);
    pthread_once(&connects_once, connects_init_once);
    pthread_mutex_lock(&connects.lock);
    for (;;) {
        struct connect_slot *s = connect_find(handle);

        if (s == NULL) {
            result = SHIM_UNKNOWN;
            break;
        }
        if (s->state == CONNECT_DONE) {
            *code = s->code;
            *proxy = s->proxy;
            connect_release(s);
            result = SHIM_DONE;
            break;
        }
        if (timeout_ms == 0 || timed_out) {
            result = SHIM_TIMEOUT;
            break;
        }
        /* Look once more after a timeout: the callback may have come with it. */
        if (timeout_ms < 0)
            pthread_cond_wait(&connects.done, &connects.lock);
        else if (pthread_cond_timedwait(&connects.done, &connects.lock, &deadline) == ETIMEDOUT)
            timed_out = true;
    }
    pthread_mutex_unlock(&connects.lock);
    return result;
}

void shim_connect_abandon(uint64_t handle)
{
    struct connect_slot *s;
    OHIPCRemoteProxy *orphan = NULL;

    pthread_once(&connects_once, connects_init_once);
    pthread_mutex_lock(&connects.lock);
    s = connect_find(handle);
    if (s != NULL && s->state == CONNECT_PENDING) {
        s->state = CONNECT_ABANDONED;
    } else if (s != NULL && s->state == CONNECT_DONE) {
        orphan = s->proxy; /* it came after all, but too late */
        connect_release(s);
    }
    pthread_mutex_unlock(&connects.lock);
    OH_IPCRemoteProxy_Destroy(orphan);
}

int shim_connect_fd(uint64_t handle)
{
    struct connect_slot *s;
    int fd;

    pthread_once(&connects_once, connects_init_once);
    pthread_mutex_lock(&connects.lock);
    s = connect_find(handle);
    fd = s != NULL ? s->event_fd : -1;
    pthread_mutex_unlock(&connects.lock);
    return fd;
}

int shim_connect_busy(void)
{
    int n = 0;

    pthread_once(&connects_once, connects_init_once);
    pthread_mutex_lock(&connects.lock);
    for (int i = 0; i < SHIM_CONNECT_SLOTS; i++)
        n += connects.slots[i].state != CONNECT_FREE;
    pthread_mutex_unlock(&connects.lock);
    return n;
}

/* ---- 5. memory for strings the IPC API hands back ------------------------- */

void *shim_ipc_alloc(int32_t len)
{
    return len > 0 ? malloc((size_t)len) : NULL;
}

void shim_ipc_free(void *ptr)
{
    free(ptr);
}

/* ---- 6. events for the Python event thread ---------------------------------
 *
 * ohncp's event thread (ohncp/_events.py) sleeps in poll() on one eventfd
 * and, when woken, takes what the runtime's threads queued here: exits,
 * death notices, finished connects, stubs whose last reference went. The
 * runtime's threads never wait for Python. Nothing is queued until the
 * thread asks for the fd; the queue is a ring that doubles up to
 * SHIM_EVENTS_MAX entries, and counts what it had to drop beyond that.
 */

#define SHIM_EVENTS_MAX 65536

static struct {
    pthread_mutex_t lock;
    int fd;                 /* eventfd; -1 while nobody listens */
    struct shim_event *ring;
    size_t head, len, cap;
    uint64_t dropped;
} events = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1};

static bool events_grow(void)
{
    size_t cap = events.cap == 0 ? 64 : events.cap * 2;
    struct shim_event *ring;

    if (cap > SHIM_EVENTS_MAX)
        return false;
    ring = malloc(cap * sizeof(*ring));
    if (ring == NULL)
        return false;
    for (size_t i = 0; i < events.len; i++)
        ring[i] = events.ring[(events.head + i) % events.cap];
    free(events.ring);
    events.ring = ring;
    events.head = 0;
    events.cap = cap;
    return true;
}

static void events_signal(int fd)
{
    uint64_t one = 1;

    while (write(fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
}

static void events_push(int kind, int32_t pid, int32_t status, uint64_t token)
{
    pthread_mutex_lock(&events.lock);
    if (events.fd >= 0) {
        if (events.len == events.cap && !events_grow()) {
            events.dropped++;
        } else {
            events.ring[(events.head + events.len) % events.cap] =
                (struct shim_event){kind, pid, status, token};
            events.len++;
        }
        events_signal(events.fd);
    }
    pthread_mutex_unlock(&events.lock);
}

/* The forked child has no event thread: stop queueing. The eventfd is
 * shared with the parent, so it is closed here, never read. */
static void events_after_fork(void)
{
    pthread_mutex_init(&events.lock, NULL);
    if (events.fd >= 0)
        (void)close(events.fd);
    events.fd = -1;
    free(events.ring);
    events.ring = NULL;
    events.head = events.len = events.cap = 0;
    events.dropped = 0;
}

int shim_events_open(void)
{
    int fd;

    pthread_once(&table_once, table_init_once); /* the fork handler */
    pthread_mutex_lock(&events.lock);
    if (events.fd < 0) {
        events.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (events.fd < 0) {
            int err = errno;
            pthread_mutex_unlock(&events.lock);
            return -err;
        }
    }
    fd = events.fd;
    pthread_mutex_unlock(&events.lock);
    return fd;
}

int shim_events_take(struct shim_event *out, int max)
{
    uint64_t count;
    int n = 0;

    pthread_mutex_lock(&events.lock);
    if (events.fd >= 0)
        while (read(events.fd, &count, sizeof(count)) < 0 && errno == EINTR)
            ;
    while (n < max && events.len > 0) {
        out[n++] = events.ring[events.head];
        events.head = (events.head + 1) % events.cap;
        events.len--;
    }
    pthread_mutex_unlock(&events.lock);
    return n;
}

void shim_events_wake(void)
{
    pthread_mutex_lock(&events.lock);
    if (events.fd >= 0)
        events_signal(events.fd);
    pthread_mutex_unlock(&events.lock);
}

uint64_t shim_events_dropped(void)
{
    uint64_t n;

    pthread_mutex_lock(&events.lock);
    n = events.dropped;
    pthread_mutex_unlock(&events.lock);
    return n;
}

static void on_death(void *user_data)
{
    events_push(SHIM_EV_DEATH, 0, 0, (uint64_t)(uintptr_t)user_data);
}

OHIPCDeathRecipient *shim_death_recipient(uint64_t token)
{
    return OH_IPCDeathRecipient_Create(on_death, NULL, (void *)(uintptr_t)token);
}

static int on_stub_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply,
                           void *user_data)
{
    return _ohncp_stub_request(code, data, reply, (uint64_t)(uintptr_t)user_data);
}

static void on_stub_gone(void *user_data)
{
    events_push(SHIM_EV_STUB_GONE, 0, 0, (uint64_t)(uintptr_t)user_data);
}

OHIPCRemoteStub *shim_stub_create(const char *descriptor, uint64_t token)
{
    return OH_IPCRemoteStub_Create(descriptor, on_stub_request, on_stub_gone,
                                   (void *)(uintptr_t)token);
}

int32_t shim_proxy_pid(const OHIPCRemoteProxy *proxy)
{
    return ohncp_api_RemoteProxyGetPid(proxy);
}
