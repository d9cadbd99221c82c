/*
 * _shim.c - the runtime's reports for Python, on one path: the event ring.
 *
 * The runtime reports each child's exit, and each IPC-mode start, on one of
 * its own threads. Calling into Python from there would wait for the GIL (up
 * to the 5 ms switch interval while Python code runs), and a runtime thread
 * must never wait for Python. So every report is queued here, in one ring,
 * and ohncp's event thread (ohncp/_events.py) takes them and resolves the
 * per-handle waiter each one is for: the exit of a start (keyed by the
 * runtime's start id, which is never reused, unlike a pid), the result of a
 * connect (keyed by the token Python chose before the connect began), a
 * death notice, a stub let go.
 *
 * Map:
 *   1. the event ring
 *   2. the exit callback, registration, the fork handler
 *   3. args-mode starts
 *   4. IPC-mode connects: slots and trampolines
 *   5. memory for strings the IPC API hands back
 *   6. death recipients and stubs
 *
 * Lock order (fork_prepare takes them all in this order; nothing takes an
 * earlier one while holding a later one): registration_lock, then
 * connects.lock, then events.lock. No shim lock is held while calling into
 * the runtime except registration_lock (see ensure_registered).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "native_child_process.h"
#include "ipc_kit.h"
#include "ohncp_ext.h"
#include "_shim.h"
#include "_api.h"

/* IPC-mode connects waiting for their start callbacks (section 4). A slot
 * is busy from shim_connect_begin until the runtime's one callback for it;
 * `token` is what the callback's event carries. Under connects.lock. */
struct connect_slot {
    bool busy;
    uint64_t token;
};

static struct {
    pthread_mutex_t lock;
    struct connect_slot slots[SHIM_CONNECT_SLOTS];
} connects = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- 1. the event ring ------------------------------------------------------
 *
 * A ring that doubles when full, up to events.limit entries (default
 * SHIM_EVENTS_LIMIT, ~32 MiB: far beyond what 512 live children and the IPC
 * traffic can queue while the event thread runs). An event that finds no
 * room (the limit, or malloc failing) is counted in events.lost, and the
 * event thread turns a count that grew into an error for every waiter it
 * cannot vouch for: never a silent loss. Nothing is queued while nobody
 * listens (events.fd < 0: before shim_events_open, and in a forked child).
 *
 * Thread-safety: every field is under events.lock.
 */

#define SHIM_EVENTS_LIMIT ((size_t)1 << 20)

static struct {
    pthread_mutex_t lock;
    int fd;                 /* eventfd; -1 while nobody listens */
    struct shim_event *ring;
    size_t head, len, cap;
    size_t limit;           /* most entries the ring may grow to */
    uint64_t lost;          /* events that found no room, ever */
} events = {.lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1, .limit = SHIM_EVENTS_LIMIT};

static bool events_grow(void)
{
    size_t cap = events.cap == 0 ? 64 : events.cap * 2;
    struct shim_event *ring;

    if (cap > events.limit)
        cap = events.limit;
    if (cap <= events.cap)
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

/* Queue one event; false if it was lost (counted) or nobody listens. */
static bool events_push(struct shim_event ev)
{
    bool queued = false;

    pthread_mutex_lock(&events.lock);
    if (events.fd >= 0) {
        if (events.len == events.cap && !events_grow()) {
            events.lost++;
        } else {
            events.ring[(events.head + events.len) % events.cap] = ev;
            events.len++;
            queued = true;
        }
        events_signal(events.fd);
    }
    pthread_mutex_unlock(&events.lock);
    return queued;
}

static void fork_install(void); /* section 2 */
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

int shim_events_open(void)
{
    int fd;

    pthread_once(&fork_once, fork_install);
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

uint64_t shim_events_lost(void)
{
    uint64_t n;

    pthread_mutex_lock(&events.lock);
    n = events.lost;
    pthread_mutex_unlock(&events.lock);
    return n;
}

size_t shim_events_set_limit(size_t limit)
{
    size_t old;

    pthread_mutex_lock(&events.lock);
    old = events.limit;
    events.limit = limit > events.cap ? limit : events.cap; /* never below what is held */
    if (events.limit == 0)
        events.limit = 1;
    pthread_mutex_unlock(&events.lock);
    return old;
}

/* ---- 2. the exit callback, registration, the fork handler ------------------ */

static void on_exit_by_id(uint64_t start_id, int32_t pid, int32_t status, void *user_data)
{
    (void)user_data;
    (void)events_push((struct shim_event){
        .kind = SHIM_EV_EXIT, .pid = pid, .status = status, .token = start_id});
}

/* Registration has a lock of its own, held while calling the runtime (which
 * takes its callback lock inside, and never calls the shim with it held). */
static pthread_mutex_t registration_lock = PTHREAD_MUTEX_INITIALIZER;
static bool registered;

/* fork(2) while another thread holds a shim lock would leave it locked for
 * good in the child: all are taken here, in the order written at the top. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&registration_lock);
    pthread_mutex_lock(&connects.lock);
    pthread_mutex_lock(&events.lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&events.lock);
    pthread_mutex_unlock(&connects.lock);
    pthread_mutex_unlock(&registration_lock);
}

/* In the child: the runtime there is a new one, with no children and no
 * connects, and there is no event thread until Python opens the ring again.
 * The ring is dropped, not freed (its memory is the parent's copy; leaking
 * it is safe, freeing what another thread of the parent was using is not
 * worth reasoning about). The eventfd is shared with the parent: closed here,
 * never read, so the parent keeps its wake-ups. */
static void fork_child(void)
{
    if (events.fd >= 0)
        (void)close(events.fd);
    events.fd = -1;
    events.ring = NULL;
    events.head = events.len = events.cap = 0;
    events.lost = 0;
    memset(connects.slots, 0, sizeof(connects.slots)); /* no callback will come here */
    registered = false;
    pthread_mutex_unlock(&events.lock);
    pthread_mutex_unlock(&connects.lock);
    pthread_mutex_unlock(&registration_lock);
}

static void fork_install(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Register on_exit_by_id once per process. After a fork it is registered
 * again: the runtime keeps one copy of the same pair, if it kept any. */
static int ensure_registered(void)
{
    int rc = NCP_NO_ERROR;

    pthread_once(&fork_once, fork_install);
    pthread_mutex_lock(&registration_lock);
    if (!registered) {
        rc = ohncp_api_RegisterExitByIdCallback(on_exit_by_id, NULL);
        registered = rc == NCP_NO_ERROR;
    }
    pthread_mutex_unlock(&registration_lock);
    return rc;
}

int shim_init(void)
{
    int rc = ensure_registered();

    /* A device without any exit report still imports; starts say why not. */
    return rc == OHNCP_API_MISSING ? NCP_NO_ERROR : rc;
}

int shim_exit_by_id(void)
{
    return ohncp_api_exit_by_id() ? 1 : 0;
}

/* ---- 3. args-mode starts ----------------------------------------------------- */

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

int shim_start(const char *entry, const char *params, int nfds, char *const *fd_names,
               const int32_t *fds, int isolation, int isolation_uid, const char *process_name,
               char *const *envp, int32_t *pid, uint64_t *start_id, char *errbuf,
               size_t errbuf_len)
{
    NativeChildProcess_Fd *nodes = NULL;
    NativeChildProcess_Args args = {.entryParams = (char *)params};
    Ability_ChildProcessConfigs *configs = NULL;
    int rc;

    if (errbuf != NULL && errbuf_len > 0)
        errbuf[0] = '\0';
    if (nfds < 0 || pid == NULL || start_id == NULL)
        return NCP_ERR_INVALID_PARAM;
    rc = ensure_registered();
    if (rc != NCP_NO_ERROR)
        return rc;
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
    rc = make_configs(isolation, isolation_uid, process_name, &configs, errbuf, errbuf_len);
    if (rc == NCP_NO_ERROR) {
        /* The message is copied right after the failing call: the next call
         * into the runtime may clear it. */
        rc = ohncp_api_StartChildProcessWithEnv(entry, args, configs, envp, pid, start_id);
        if (rc != NCP_NO_ERROR)
            copy_message(errbuf, errbuf_len);
        (void)ohncp_api_DestroyChildProcessConfigs(configs);
    }
    free(nodes);
    return rc;
}

/* ---- 4. IPC-mode connects ----------------------------------------------------
 *
 * OH_Ability_OnNativeChildProcessStarted carries no user data, so one shared
 * callback could not tell whose start it reports when several run at once.
 * Each slot therefore has a trampoline of its own: a distinct function that
 * knows its slot number. A connect takes a free slot with the token Python
 * chose (and registered its waiter under) before the connect began, hands
 * the runtime that slot's trampoline, and the trampoline queues a
 * SHIM_EV_CONNECT with the token, the code and the proxy, and frees the slot.
 * The runtime calls back exactly once per accepted start, so a slot is busy
 * until then, even if Python gave up on the connect: the event thread then
 * destroys the proxy nobody waits for.
 */

static void connect_done(int i, int code, OHIPCRemoteProxy *proxy)
{
    uint64_t token;

    pthread_mutex_lock(&connects.lock);
    token = connects.slots[i].token;
    connects.slots[i].busy = false;
    pthread_mutex_unlock(&connects.lock);
    if (!events_push((struct shim_event){
            .kind = SHIM_EV_CONNECT, .status = code, .token = token, .proxy = proxy}))
        OH_IPCRemoteProxy_Destroy(proxy); /* lost (counted) or nobody listens */
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

/* Take a free slot for `token`; its index, or -1 if all are busy. */
static int connect_reserve(uint64_t token)
{
    int slot = -1;

    pthread_mutex_lock(&connects.lock);
    for (int i = 0; i < SHIM_CONNECT_SLOTS && slot < 0; i++) {
        if (!connects.slots[i].busy) {
            connects.slots[i] = (struct connect_slot){.busy = true, .token = token};
            slot = i;
        }
    }
    pthread_mutex_unlock(&connects.lock);
    return slot;
}

int shim_connect_begin(const char *lib_name, int isolation, int isolation_uid,
                       const char *process_name, char *const *envp, uint64_t token,
                       char *errbuf, size_t errbuf_len)
{
    Ability_ChildProcessConfigs *configs = NULL;
    int slot, rc;

    if (errbuf != NULL && errbuf_len > 0)
        errbuf[0] = '\0';
    slot = connect_reserve(token);
    if (slot < 0) {
        /* The runtime refuses a 51st live IPC child, so this takes connects
         * given up by Python whose children have not answered yet. */
        if (errbuf != NULL)
            snprintf(errbuf, errbuf_len, "%d connects are waiting for their children already",
                     SHIM_CONNECT_SLOTS);
        return NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
    }
    rc = make_configs(isolation, isolation_uid, process_name, &configs, errbuf, errbuf_len);
    if (rc == NCP_NO_ERROR) {
        rc = ohncp_api_CreateChildProcessWithEnv(lib_name, configs, envp, trampolines[slot]);
        if (rc != NCP_NO_ERROR)
            copy_message(errbuf, errbuf_len);
        (void)ohncp_api_DestroyChildProcessConfigs(configs);
    }
    if (rc != NCP_NO_ERROR) { /* refused: no callback comes */
        pthread_mutex_lock(&connects.lock);
        connects.slots[slot].busy = false;
        pthread_mutex_unlock(&connects.lock);
    }
    return rc;
}

int shim_connect_busy(void)
{
    int n = 0;

    pthread_mutex_lock(&connects.lock);
    for (int i = 0; i < SHIM_CONNECT_SLOTS; i++)
        n += connects.slots[i].busy;
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

/* ---- 6. death recipients and stubs ---------------------------------------- */

static void on_death(void *user_data)
{
    (void)events_push((struct shim_event){
        .kind = SHIM_EV_DEATH, .token = (uint64_t)(uintptr_t)user_data});
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
    (void)events_push((struct shim_event){
        .kind = SHIM_EV_STUB_GONE, .token = (uint64_t)(uintptr_t)user_data});
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
