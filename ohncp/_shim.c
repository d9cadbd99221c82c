/*
 * _shim.c - exit statuses for Python, kept in C.
 *
 * The runtime reports each child's exit on one of its own threads. Calling
 * into Python from there would wait for the GIL (up to the 5 ms switch
 * interval while Python code runs), so the report is stored here instead,
 * in a table keyed by a handle, and Python collects it with shim_wait (which
 * blocks on a condition variable with the GIL released) or shim_poll.
 *
 * Map:
 *   1. the table: entries, lookup, insertion, removal
 *   2. the exit-status callback and the fork handler
 *   3. the functions Python calls
 *
 * The race this file exists for: the runtime may report a child's exit
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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "native_child_process.h"
#include "ohncp_ext.h"
#include "_shim.h"

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
        rc = OH_Ohncp_RegisterExitStatusCallback(on_exit_status, NULL);
        registered = rc == NCP_NO_ERROR;
    }
    pthread_mutex_unlock(&registration_lock);
    return rc;
}

/* ---- 3. the functions Python calls --------------------------------------- */

int shim_init(void)
{
    return ensure_registered();
}

static void copy_message(char *buf, size_t len)
{
    const char *msg = OH_Ohncp_GetLastErrorMessage();

    if (buf == NULL || len == 0)
        return;
    if (msg == NULL)
        msg = "";
    strncpy(buf, msg, len - 1);
    buf[len - 1] = '\0';
}

/* Build the configs and call the runtime. The message is copied right after
 * the failing call: the next call into the runtime may clear it. */
static int start_with_configs(const char *entry, NativeChildProcess_Args args,
                              int isolation, int isolation_uid,
                              const char *process_name, int32_t *pid,
                              char *errbuf, size_t errbuf_len)
{
    Ability_ChildProcessConfigs *configs = OH_Ability_CreateChildProcessConfigs();
    int rc;

    if (configs == NULL) {
        copy_message(errbuf, errbuf_len);
        return NCP_ERR_INTERNAL;
    }
    rc = OH_Ability_ChildProcessConfigs_SetIsolationMode(
        configs, (NativeChildProcess_IsolationMode)isolation);
    if (rc == NCP_NO_ERROR && isolation_uid)
        rc = OH_Ability_ChildProcessConfigs_SetIsolationUid(configs, true);
    if (rc == NCP_NO_ERROR && process_name != NULL)
        rc = OH_Ability_ChildProcessConfigs_SetProcessName(configs, process_name);
    if (rc == NCP_NO_ERROR)
        rc = OH_Ability_StartNativeChildProcessWithConfigs(entry, args, configs, pid);
    if (rc != NCP_NO_ERROR)
        copy_message(errbuf, errbuf_len);
    (void)OH_Ability_DestroyChildProcessConfigs(configs);
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
