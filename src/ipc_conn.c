/*
 * ipc_conn.c - connections between two processes, and the engine that
 * serves them.
 *
 * Map:
 *   1. the engine: a pool of worker threads, all waiting in one epoll set
 *      (edge-triggered; epoll wakes one waiter per event). The thread that
 *      reads a request runs it, once another thread still waits in epoll.
 *      A thread waiting for a reply reads its own connection meanwhile
 *      (section 6), so a round trip wakes one thread on each side, as a raw
 *      socket does, and no lead is handed over.
 *   2. connections: creation, reference counting, death
 *   3. exports and imports (wire object <-> local object)
 *   4. sending a message (a refused one takes its exports back)
 *   5. receiving a message (everything received is treated as hostile)
 *   6. requests, replies, descriptors; backpressure: a peer with
 *      MAX_INFLIGHT requests here, or MAX_SENDERS threads waiting to send it
 *      replies, is not read until that clears (throttle), so no peer holds
 *      every worker; refusals never wait for room (read_one)
 *   7. the bridge for libchild_process.so (HELLO), fork safety
 *
 * Lock order: all_lock (the list of connections), then a connection's lock,
 * then the engine's; never the other way, and never two connections' locks
 * but in fork's prepare handler (section 7), which takes them all in list
 * order. A connection's receive lock (rlock) comes before its lock.
 * No lock is held while a user callback runs or while sending.
 */
#include "ipc_bridge.h"
#include "ipc_transport.h"
#include "ohncp_ext.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- 1. the engine -------------------------------------------------------------- */

enum job_type { JOB_REQUEST, JOB_DEATH };

struct job {
    enum job_type type;
    pid_t pid; /* REQUEST: the caller, as the kernel tells it */
    uid_t uid;
    struct ipc_conn *conn;   /* REQUEST: a reference */
    OHIPCRemoteStub *stub;   /* REQUEST: a reference */
    uint32_t seq, code;
    bool oneway;
    OHIPCParcel *data;
    OHIPCRemoteProxy *proxy; /* DEATH: a reference */
    OHIPCDeathRecipient *recipient; /* DEATH: a reference */
    struct job *next;
};

/* Registered connections, by slot. epoll hands a worker a (slot,
 * generation) key, not a pointer: the worker takes its own reference under
 * the engine's lock only if the slot still holds that registration, so a
 * connection another worker unregistered meanwhile is never touched. */
struct reg_slot {
    struct ipc_conn *conn; /* NULL: free */
    uint32_t gen;          /* bumped at each unregistration */
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work; /* a job was queued, or joiners must stop */
    int joined;          /* threads in OH_IPCSkeleton_JoinWorkThread */
    int epfd;
    int jobs_fd;         /* eventfd in the epoll set: queued jobs for the workers */
    struct job *head, *tail;
    int workers, in_epoll, max_workers;
    int stuck; /* pool threads waiting for room to send a reply (send_reply) */
    bool stop_join;
    int busy;             /* requests queued or running */
    pthread_cond_t idle_cond; /* busy dropped to 0 */
    struct reg_slot *regs;
    uint32_t nregs;
} eng = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .idle_cond = PTHREAD_COND_INITIALIZER,
    .epfd = -1,
    .jobs_fd = -1,
    .max_workers = 16,
};

/* The epoll key of the jobs eventfd (no slot has this index). */
#define JOBS_KEY UINT64_MAX

static __thread struct ipc_calling calling;

const struct ipc_calling *ipc_current_calling(void) { return &calling; }
void ipc_set_calling(const struct ipc_calling *c) { calling = *c; }

static void conn_unref(struct ipc_conn *c);
static void run_request(struct job *j);

static void run_job(struct job *j) {
    if (j->type == JOB_REQUEST) {
        run_request(j);
    } else {
        j->recipient->on_death(j->recipient->user);
        ipc_recipient_unref(j->recipient);
        ipc_proxy_unref(j->proxy);
    }
    free(j);
}

static void worker_loop(void);
static __thread bool pool_thread; /* this thread is one of the pool's */

/* The oldest queued job, taken off the queue; NULL if none (lock held). */
static struct job *pop_job(void) {
    struct job *j = eng.head;
    if (j != NULL) {
        eng.head = j->next;
        if (eng.head == NULL)
            eng.tail = NULL;
    }
    return j;
}

/* Joined threads (OH_IPCSkeleton_JoinWorkThread) run queued jobs until told
 * to stop (engine lock held); they never wait in epoll, so they can stop. */
static void serve_joined(void) {
    while (!eng.stop_join) {
        struct job *j = pop_job();
        if (j == NULL) {
            pthread_cond_wait(&eng.work, &eng.lock);
            continue;
        }
        pthread_mutex_unlock(&eng.lock);
        run_job(j);
        pthread_mutex_lock(&eng.lock);
    }
}

static void *worker_main(void *arg) {
    (void)arg;
    pool_thread = true;
    worker_loop();
    return NULL;
}

/* Start a thread with every signal blocked (they are the application's). */
static int start_thread(void *(*fn)(void *), pthread_t *ret) {
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, NULL, fn, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0 && ret == NULL)
        pthread_detach(t);
    if (rc == 0 && ret != NULL)
        *ret = t;
    return -rc;
}

/* Keep a thread in epoll_wait while this one runs a job: start one if none
 * waits there and the pool may grow (lock held). */
static void keep_a_watcher(void) {
    if (eng.in_epoll == 0 && eng.workers - eng.stuck < eng.max_workers &&
        start_thread(worker_main, NULL) == 0)
        eng.workers++;
}

/* A pool thread starts (+1) or stops (-1) waiting for room to send: while
 * it waits, the pool may grow past it, so that a peer that does not read
 * cannot take every thread (one of them must watch epoll). */
static void set_stuck(int d) {
    if (!pool_thread)
        return;
    pthread_mutex_lock(&eng.lock);
    eng.stuck += d;
    if (d > 0)
        keep_a_watcher();
    pthread_mutex_unlock(&eng.lock);
}

/* Make the jobs eventfd readable: one epoll worker wakes for the queue. */
static void signal_jobs(void) {
    uint64_t one = 1;
    if (eng.jobs_fd >= 0)
        (void)!write(eng.jobs_fd, &one, sizeof one);
}

static void queue_job(struct job *j) {
    pthread_mutex_lock(&eng.lock);
    j->next = NULL;
    if (eng.tail != NULL)
        eng.tail->next = j;
    else
        eng.head = j;
    eng.tail = j;
    keep_a_watcher();
    signal_jobs();
    if (eng.joined > 0)
        pthread_cond_broadcast(&eng.work);
    pthread_mutex_unlock(&eng.lock);
}

void ipc_queue_death(OHIPCRemoteProxy *proxy, OHIPCDeathRecipient *r) {
    struct job *j = calloc(1, sizeof *j);
    if (j == NULL) { /* cannot tell it: at least do not leak */
        ipc_recipient_unref(r);
        ipc_proxy_unref(proxy);
        return;
    }
    j->type = JOB_DEATH;
    j->proxy = proxy;
    j->recipient = r;
    queue_job(j);
}

int ipc_engine_set_max_workers(int n) {
    pthread_mutex_lock(&eng.lock);
    eng.max_workers = n;
    pthread_mutex_unlock(&eng.lock);
    return 0;
}

/* OH_IPCSkeleton_JoinWorkThread: this thread serves requests until
 * OH_IPCSkeleton_StopWorkThread. */
void ipc_engine_join(void) {
    pthread_mutex_lock(&eng.lock);
    eng.stop_join = false;
    eng.joined++;
    serve_joined();
    eng.joined--;
    pthread_mutex_unlock(&eng.lock);
}

void ipc_engine_stop_join(void) {
    pthread_mutex_lock(&eng.lock);
    eng.stop_join = true;
    pthread_cond_broadcast(&eng.work);
    pthread_mutex_unlock(&eng.lock);
}

/* ---- 2. connections --------------------------------------------------------------- */

struct waiter {
    uint32_t seq;
    int wake_fd; /* while it reads the connection itself: its eventfd */
    bool done;
    int status;
    OHIPCParcel *reply; /* received; moved to the caller's parcel */
    pthread_cond_t cond;
    struct waiter *next;
};

struct export_entry {
    uint32_t id;
    uint32_t count; /* receipts the peer has not released yet */
    OHIPCRemoteStub *stub;
};

/* Requests one peer may have queued or running here at once. At this many
 * the workers stop reading the peer (conn.throttled): its socket fills and
 * its sends wait, so a fast sender is slowed, never dropped. They read it
 * again once half are done (a little slack, so that a saturated peer does
 * not cost an epoll_ctl per request). */
#define MAX_INFLIGHT 4096
#define RESUME_INFLIGHT (MAX_INFLIGHT / 2)
/* A thread waiting for its own reply reads its connection whatever the
 * count (the reply may be behind requests whose handlers wait for a reply
 * too); a peer that gets this far past the limit meanwhile breaks the
 * protocol and is disconnected. */
#define HARD_MAX_INFLIGHT (4 * MAX_INFLIGHT)
/* Threads that may wait for room to send one peer replies (send_reply). */
#define MAX_SENDERS 2

struct out_reply {
    uint32_t seq;
    int status;
    OHIPCParcel *reply;
    struct out_reply *next;
};

struct ipc_conn {
    int refs; /* atomic: the engine's registration, proxies, jobs, waiters */
    int fd;
    int inflight; /* requests from the peer queued or running (atomic) */
    /* The workers stopped reading at MAX_INFLIGHT (atomic, seq_cst with
     * inflight: whoever of a reader setting it and a request ending sees
     * the other last resumes the reading, so it is never left off). */
    int throttled;
    int senders; /* threads waiting for room to send it a reply (atomic; changed under lock) */
    struct out_reply *outq, *outq_tail; /* replies waiting for those (lock) */
    bool reading; /* a waiting thread reads it (the workers do not) */
    bool blocking; /* ... in a blocking recvmsg: the workers must not read */
    bool missed;   /* a worker left an event to that reader */
    uint32_t watch; /* the epoll events registered (engine_add, update_watch) */
    int readers;  /* threads in read_one (a blocking reader needs it 0) */
    pthread_mutex_t lock;
    /* Held from a recvmsg until its message is handled: messages of one
     * connection are handled in the order they came, whichever thread
     * reads them (a reply naming our stub, then the peer's release of it,
     * must not be handled the other way round). */
    pthread_mutex_t rlock;
    bool dead;
    uint32_t next_seq;
    struct waiter *waiters;
    struct export_entry *exports;
    size_t nexports, cap;
    uint32_t next_export_id;
    OHIPCRemoteProxy *imports;
    struct ipc_conn *next_all; /* every connection, for fork */
    int peer_pid; /* atomic: the peer's pid from its first message, or 0 */
    uint64_t key; /* epoll key of its registration (engine lock); 0: none yet */
};

static void wake_waiter(struct waiter *w);
static void update_watch(struct ipc_conn *c, bool again);

/* Every connection, for fork's handlers. all_lock is the first lock of the
 * order (see the top of the file): it is never taken with another held. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ipc_conn *all_conns;

void ipc_conn_lock(struct ipc_conn *c) { pthread_mutex_lock(&c->lock); }
void ipc_conn_unlock(struct ipc_conn *c) { pthread_mutex_unlock(&c->lock); }

static struct ipc_conn *conn_new(int fd) {
    struct ipc_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    /* Every message then carries its sender's pid and uid, filled in by the
     * kernel. (SO_PEERCRED would not do: on a socketpair it names the
     * process that created the pair, for both ends.) */
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    int big = 1 << 20; /* the kernel caps it; large parcels need room */
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    c->refs = 1;
    c->fd = fd;
    c->watch = EPOLLIN | EPOLLET | EPOLLRDHUP;
    c->next_seq = 1;
    c->next_export_id = 1;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->rlock, NULL);
    pthread_mutex_lock(&all_lock);
    c->next_all = all_conns;
    all_conns = c;
    pthread_mutex_unlock(&all_lock);
    return c;
}

static void conn_ref(struct ipc_conn *c) { __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED); }

static void conn_unref(struct ipc_conn *c) {
    if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    pthread_mutex_lock(&all_lock);
    for (struct ipc_conn **p = &all_conns; *p != NULL; p = &(*p)->next_all) {
        if (*p == c) {
            *p = c->next_all;
            break;
        }
    }
    pthread_mutex_unlock(&all_lock);
    sys_close(c->fd);
    while (c->outq != NULL) { /* none is left but by a sender that died with fork */
        struct out_reply *o = c->outq;
        c->outq = o->next;
        OH_IPCParcel_Destroy(o->reply);
        free(o);
    }
    free(c->exports);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->rlock);
    free(c);
}

/* The peer is gone or misbehaved: nothing more is sent or received. Waiters
 * get OH_IPC_DEAD_REMOTE_OBJECT, death recipients fire once, exported stubs
 * lose this connection's references, and the socket is shut down, so the
 * workers see EOF and one of them drops its registration (drop_peer; a
 * worker may be using the connection right now, and holds its own ref). */
static void conn_fail(struct ipc_conn *c) {
    struct death { OHIPCRemoteProxy *proxy; struct ipc_death_link *link; struct death *next; };
    struct death *deaths = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->dead) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    c->dead = true;
    for (struct waiter *w = c->waiters; w != NULL; w = w->next) {
        if (w->done)
            continue; /* its reply came before the end: it keeps it */
        w->done = true;
        w->status = OH_IPC_DEAD_REMOTE_OBJECT;
        wake_waiter(w);
    }
    struct export_entry *ex = c->exports;
    size_t nex = c->nexports;
    c->exports = NULL;
    c->nexports = c->cap = 0;
    for (OHIPCRemoteProxy *p = c->imports; p != NULL; p = p->next_import) {
        p->dead = true;
        for (struct ipc_death_link *l = p->deaths; l != NULL; l = l->next) {
            struct death *d = malloc(sizeof *d);
            if (d == NULL)
                continue; /* that recipient is not told; nothing leaks */
            p->refs++; /* the death job's */
            *d = (struct death){p, NULL, deaths};
            d->link = l;
            deaths = d;
        }
        p->deaths = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    (void)shutdown(c->fd, SHUT_RDWR);
    while (deaths != NULL) {
        struct death *next = deaths->next;
        ipc_queue_death(deaths->proxy, deaths->link->recipient); /* the link's reference */
        free(deaths->link);
        free(deaths);
        deaths = next;
    }
    for (size_t i = 0; i < nex; i++)
        ipc_stub_unref(ex[i].stub);
    free(ex);
}

/* Tell `w` it is done (connection lock held): a thread reading the socket
 * itself sleeps in poll(), not on its condition variable. */
static __thread int reading_efd = -1; /* this thread's, while it reads */

static void wake_waiter(struct waiter *w) {
    if (w->wake_fd >= 0 && w->wake_fd != reading_efd) {
        uint64_t one = 1;
        (void)sys_write_all(w->wake_fd, &one, sizeof one);
    }
    pthread_cond_signal(&w->cond);
}

/* A new request id (never 0) for a waiter; connection lock held. */
static uint32_t new_seq(struct ipc_conn *c) {
    if (c->next_seq == 0)
        c->next_seq = 1;
    return c->next_seq++;
}

/* ---- 3. exports and imports (connection lock held) ------------------------------------ */

/* Count one more receipt of `stub` by the peer; its export id. */
static int export_stub(struct ipc_conn *c, OHIPCRemoteStub *stub, uint32_t *ret_id) {
    for (size_t i = 0; i < c->nexports; i++) {
        if (c->exports[i].stub == stub) {
            c->exports[i].count++;
            *ret_id = c->exports[i].id;
            return 0;
        }
    }
    if (c->nexports == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct export_entry *n = realloc(c->exports, cap * sizeof *n);
        if (n == NULL)
            return -ENOMEM;
        c->exports = n;
        c->cap = cap;
    }
    ipc_stub_ref(stub);
    c->exports[c->nexports++] = (struct export_entry){c->next_export_id, 1, stub};
    *ret_id = c->next_export_id++;
    update_watch(c, false); /* the peer may call it once this goes out */
    return 0;
}

static struct export_entry *find_export(struct ipc_conn *c, uint32_t id) {
    for (size_t i = 0; i < c->nexports; i++)
        if (c->exports[i].id == id)
            return &c->exports[i];
    return NULL;
}

/* The peer released `n` receipts of export `id`; returns the stub to
 * unreference (outside the lock) when the entry goes. */
static OHIPCRemoteStub *release_export(struct ipc_conn *c, uint32_t id, uint32_t n) {
    struct export_entry *e = find_export(c, id);
    if (e == NULL)
        return NULL;
    e->count = n >= e->count ? 0 : e->count - n;
    if (e->count > 0)
        return NULL;
    OHIPCRemoteStub *stub = e->stub;
    *e = c->exports[--c->nexports];
    update_watch(c, false);
    return stub;
}

/* The node for the peer's object `id`, one more reference and receipt. */
static OHIPCRemoteProxy *import_node(struct ipc_conn *c, uint32_t id) {
    for (OHIPCRemoteProxy *p = c->imports; p != NULL; p = p->next_import) {
        if (p->remote_id == id) {
            p->refs++;
            p->receipts++;
            return p;
        }
    }
    OHIPCRemoteProxy *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->refs = 1;
    p->receipts = 1;
    p->conn = c;
    p->remote_id = id;
    p->next_import = c->imports;
    c->imports = p;
    conn_ref(c);
    return p;
}

void ipc_conn_forget_import(OHIPCRemoteProxy *p) {
    struct ipc_conn *c = p->conn;
    /* refs already reached 0 under the lock; unlink and tell the peer */
    for (OHIPCRemoteProxy **q = &c->imports; *q != NULL; q = &(*q)->next_import) {
        if (*q == p) {
            *q = p->next_import;
            break;
        }
    }
    bool alive = !c->dead;
    struct ipc_death_link *deaths = p->deaths;
    p->deaths = NULL;
    pthread_mutex_unlock(&c->lock);
    if (alive) {
        struct ipc_wire_hdr h = {IPC_MAGIC, IPC_MSG_RELEASE, 0, 0, p->remote_id,
                                 (int32_t)p->receipts, 0, 0};
        struct iovec iov = {&h, sizeof h};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        (void)sys_sendmsg(c->fd, &msg, 0);
    }
    while (deaths != NULL) {
        struct ipc_death_link *next = deaths->next;
        ipc_recipient_unref(deaths->recipient);
        free(deaths);
        deaths = next;
    }
    conn_unref(c);
}

/* ---- 4. sending ------------------------------------------------------------------------ */

/* Take back the exports that wire_objects counted for the first `n`
 * objects of a message that then did not go out (the peer never got them,
 * so it will never release them: kept, they would hold the stubs until the
 * connection dies). Connection lock held; the stubs whose entry went are
 * unreferenced by the caller, outside it, through *gone. */
static size_t unexport_objects(struct ipc_conn *c, const struct ipc_wire_obj *objs, size_t n,
                               OHIPCRemoteStub **gone) {
    size_t ngone = 0;
    for (size_t i = 0; i < n; i++) {
        if (objs[i].kind != PARCEL_OBJECT_STUB || objs[i].owner != IPC_OWNER_SENDER ||
            objs[i].id == 0)
            continue; /* an fd, a proxy named back, or not exported */
        OHIPCRemoteStub *stub = release_export(c, objs[i].id, 1);
        if (stub != NULL)
            gone[ngone++] = stub;
    }
    return ngone;
}

/* unexport_objects, locking, and the stubs' references dropped. */
static void unexport_message(struct ipc_conn *c, const struct ipc_wire_obj *objs, size_t n) {
    static __thread OHIPCRemoteStub *gone[IPC_MAX_OBJECTS];
    pthread_mutex_lock(&c->lock);
    size_t ngone = unexport_objects(c, objs, n, gone);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < ngone; i++)
        ipc_stub_unref(gone[i]);
}

/* Describe the parcel's objects for the wire: our stubs are exported, our
 * proxies to the peer's objects name them back. */
static int wire_objects(struct ipc_conn *c, const OHIPCParcel *data, struct ipc_wire_obj *out,
                        int *fds, size_t *ret_nobjs, size_t *ret_nfds) {
    size_t n = 0, nfds = 0;
    const struct parcel_object *objs = data != NULL ? parcel_objects(data, &n) : NULL;
    if (n > IPC_MAX_OBJECTS)
        return OH_IPC_PARCEL_WRITE_ERROR;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    size_t i = 0; /* out[0..i) are filled in */
    for (; i < n && rc == 0; i++) {
        const struct parcel_object *o = &objs[i];
        out[i] = (struct ipc_wire_obj){o->kind, o->offset, 0, 0};
        if (o->kind == PARCEL_OBJECT_FD) {
            if (nfds == IPC_MAX_FDS)
                rc = OH_IPC_PARCEL_WRITE_ERROR;
            else
                fds[nfds++] = o->fd;
            continue;
        }
        OHIPCRemoteStub *stub = o->kind == PARCEL_OBJECT_STUB ? o->ptr : NULL;
        const OHIPCRemoteProxy *proxy = o->kind == PARCEL_OBJECT_PROXY ? o->ptr : NULL;
        if (proxy != NULL && proxy->conn == c) {
            out[i].owner = IPC_OWNER_RECEIVER;
            out[i].id = proxy->remote_id;
            continue;
        }
        if (proxy != NULL)
            stub = proxy->local; /* NULL: an object of a third process */
        out[i].kind = PARCEL_OBJECT_STUB;
        out[i].owner = IPC_OWNER_SENDER;
        if (stub == NULL || export_stub(c, stub, &out[i].id) < 0)
            rc = OH_IPC_PARCEL_WRITE_ERROR;
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0) /* a refused send leaves nothing exported */
        unexport_message(c, out, i);
    *ret_nobjs = n;
    *ret_nfds = nfds;
    return rc;
}

/* How conn_send treats a socket with no room for the message. */
enum send_mode {
    SEND_WAIT,    /* wait for room */
    SEND_OR_DROP, /* drop the peer: it breaks the protocol (see read_one) */
    SEND_TRY,     /* return SEND_AGAIN, nothing sent or exported (see send_reply) */
};
#define SEND_AGAIN 1 /* not an OH_IPC_* code */

/* Send one message carrying `data` (may be NULL). Returns an OH_IPC_*
 * code, or SEND_AGAIN (SEND_TRY). */
static int conn_send(struct ipc_conn *c, struct ipc_wire_hdr *h, const OHIPCParcel *data,
                     enum send_mode mode) {
    static __thread struct ipc_wire_obj objs[IPC_MAX_OBJECTS];
    int fds[IPC_MAX_FDS];
    size_t nobjs = 0, nfds = 0, size = 0;
    int rc = wire_objects(c, data, objs, fds, &nobjs, &nfds);
    if (rc != 0)
        return rc;
    const uint8_t *bytes = data != NULL ? parcel_data(data, &size) : NULL;
    h->magic = IPC_MAGIC;
    h->nobjs = (uint32_t)nobjs;
    h->data_len = (uint32_t)size;
    struct iovec iov[3] = {{h, sizeof *h},
                           {objs, nobjs * sizeof objs[0]},
                           {(void *)bytes, size}};
    union {
        char buf[CMSG_SPACE(sizeof(int) * IPC_MAX_FDS)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
    if (nfds > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    ssize_t n = sys_sendmsg(c->fd, &msg, mode == SEND_WAIT ? 0 : MSG_DONTWAIT);
    if (n == -EAGAIN && mode == SEND_TRY) {
        unexport_message(c, objs, nobjs); /* sent again later, exported again then */
        return SEND_AGAIN;
    }
    if (n == -EMSGSIZE || n == -ENOBUFS) {
        unexport_message(c, objs, nobjs);
        return OH_IPC_PARCEL_WRITE_ERROR;
    }
    if (n < 0) {
        conn_fail(c);
        return OH_IPC_DEAD_REMOTE_OBJECT;
    }
    return OH_IPC_SUCCESS;
}

/* ---- 5. receiving ------------------------------------------------------------------------ */

/* A message is received in two parts: its header into struct received, the
 * rest (object descriptions, then data) into a big buffer of the reading
 * thread (parcel_buf_get). A message of objects and data that does not fit
 * is truncated, hence refused. */
_Static_assert(IPC_MAX_OBJECTS * sizeof(struct ipc_wire_obj) + PARCEL_MAX_DATA <= PARCEL_BUF_SIZE,
               "a big buffer holds the largest message after its header");

/* Data of more than this many bytes and no objects is not copied: the
 * parcel takes the reading thread's buffer, which gets a fresh one. Below
 * it a copy costs little, and a parcel sized to its data holds less memory
 * than a big buffer. */
#define RECV_ADOPT_MIN 65536u

struct received {
    struct ipc_wire_hdr h;
    pid_t pid; /* the sender, from SCM_CREDENTIALS */
    uid_t uid;
    uint8_t **buf; /* the reading thread's big buffer, which objs and data are in */
    const struct ipc_wire_obj *objs;
    const uint8_t *data;
    int fds[IPC_MAX_FDS + 3];
    size_t nfds;
    /* The kernel could not hand us (all) the fds that came with it: this
     * process has no free fd. (The control buffer holds SCM_MAX_FD fds, the
     * most a message can carry, so nothing else truncates it.) A shortage
     * of ours, not the peer's fault: only this message fails. */
    bool lost_fds;
};

static void close_received(struct received *m) {
    for (size_t i = 0; i < m->nfds; i++)
        sys_close(m->fds[i]);
    m->nfds = 0;
}

/* One message: its header into m->h, the rest into the big buffer *buf
 * (which received_parcel may swap for another). Returns 1, 0 (nothing
 * there), -2 when the peer hung up, or -1 when it sent something that is
 * not a well-formed message. */
static int recv_message(struct ipc_conn *c, uint8_t **buf, struct received *m, int flags) {
    union {
        char b[CMSG_SPACE(sizeof(int) * (IPC_MAX_FDS + 3)) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    struct iovec iov[2] = {{&m->h, sizeof m->h}, {*buf, PARCEL_BUF_SIZE}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2, .msg_control = u.b,
                         .msg_controllen = sizeof u.b};
    ssize_t n = sys_recvmsg(c->fd, &msg, flags);
    if (n == -EAGAIN)
        return 0;
    if (n == 0 || n == -ECONNRESET || n == -EPIPE)
        return -2;
    m->nfds = 0;
    m->pid = 0;
    m->uid = (uid_t)-1;
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; cm != NULL;
         cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_CREDENTIALS &&
            cm->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
            struct ucred cred;
            memcpy(&cred, CMSG_DATA(cm), sizeof cred);
            m->pid = cred.pid;
            m->uid = cred.uid;
            if (cred.pid > 0) {
                int unset = 0;
                __atomic_compare_exchange_n(&c->peer_pid, &unset, (int)cred.pid, false,
                                            __ATOMIC_RELAXED, __ATOMIC_RELAXED);
            }
            continue;
        }
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k && m->nfds < IPC_MAX_FDS + 3; i++)
            memcpy(&m->fds[m->nfds++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
    }
    if (n < (ssize_t)sizeof m->h || (msg.msg_flags & MSG_TRUNC))
        goto bad;
    m->lost_fds = (msg.msg_flags & MSG_CTRUNC) != 0;
    if (m->h.magic != IPC_MAGIC || m->h.nobjs > IPC_MAX_OBJECTS ||
        m->h.data_len > PARCEL_MAX_DATA ||
        (size_t)n != sizeof m->h + m->h.nobjs * sizeof(struct ipc_wire_obj) + m->h.data_len)
        goto bad;
    m->buf = buf;
    m->objs = (const struct ipc_wire_obj *)*buf;
    m->data = *buf + m->h.nobjs * sizeof(struct ipc_wire_obj);
    return 1;
bad:
    close_received(m);
    return -1;
}

static void unref_objects(struct parcel_object *objs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (objs[i].kind == PARCEL_OBJECT_STUB)
            ipc_stub_unref(objs[i].ptr);
        else if (objs[i].kind == PARCEL_OBJECT_PROXY)
            ipc_proxy_unref(objs[i].ptr);
    }
}

/* Turn wire objects into local ones (a reference each, for the parcel).
 * An object changes kind on the way (the sender's stub is our proxy, our
 * stub named back by the sender's proxy is our stub): its slot in the data
 * is rewritten to say so, once the slot is known to lie inside the data
 * (parcel_from_wire checks the rest). */
static int local_objects(struct ipc_conn *c, const struct received *m,
                         struct parcel_object *out) {
    size_t nfd = 0;
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    for (uint32_t i = 0; i < m->h.nobjs; i++) {
        const struct ipc_wire_obj *w = &m->objs[i];
        out[i] = (struct parcel_object){w->kind, w->offset, -1, NULL};
        if (w->kind == PARCEL_OBJECT_FD) {
            nfd++;
            continue;
        }
        if (w->kind == PARCEL_OBJECT_STUB && w->owner == IPC_OWNER_SENDER) {
            out[i].kind = PARCEL_OBJECT_PROXY;
            out[i].ptr = import_node(c, w->id);
        } else if (w->kind == PARCEL_OBJECT_PROXY && w->owner == IPC_OWNER_RECEIVER) {
            struct export_entry *e = find_export(c, w->id);
            out[i].kind = PARCEL_OBJECT_STUB;
            out[i].ptr = e != NULL ? e->stub : NULL;
            if (e != NULL)
                ipc_stub_ref(e->stub);
        }
        bool inside = w->offset % 4 == 0 &&
                      (uint64_t)w->offset + PARCEL_OBJECT_SIZE <= m->h.data_len;
        if (inside && out[i].ptr != NULL)
            memcpy((uint8_t *)m->data + w->offset, &out[i].kind, sizeof out[i].kind);
        if (out[i].ptr == NULL || !inside) { /* unknown kind, owner or id */
            if (out[i].ptr != NULL)
                i++; /* drop this one's reference too */
            rc = -EINVAL;
            pthread_mutex_unlock(&c->lock);
            unref_objects(out, i);
            return rc;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return nfd == m->nfds ? 0 : (unref_objects(out, m->h.nobjs), -EINVAL);
}

/* The parcel of a received message; NULL if it does not hold together
 * (then the fds are closed and the references dropped). */
static OHIPCParcel *received_parcel(struct ipc_conn *c, struct received *m) {
    static __thread struct parcel_object objs[IPC_MAX_OBJECTS];
    if (local_objects(c, m, objs) < 0) {
        close_received(m);
        return NULL;
    }
    OHIPCParcel *p = NULL;
    if (m->h.nobjs == 0 && m->h.data_len > RECV_ADOPT_MIN) {
        /* the data starts the buffer: the parcel takes it as it is */
        uint8_t *fresh = parcel_buf_get();
        if (fresh != NULL && parcel_adopt_wire(*m->buf, m->h.data_len, &p) == 0) {
            *m->buf = fresh;
            m->data = NULL;
            return p;
        }
        parcel_buf_put(fresh); /* out of memory: copy instead */
    }
    if (parcel_from_wire(m->data, m->h.data_len, objs, m->h.nobjs, m->fds, m->nfds, &p) < 0) {
        unref_objects(objs, m->h.nobjs);
        close_received(m);
        return NULL;
    }
    m->nfds = 0; /* the parcel owns them */
    return p;
}

/* ---- 6. requests, replies, descriptors ------------------------------------------------------ */

static int reply_to(struct ipc_conn *c, uint32_t seq, int status, const OHIPCParcel *data,
                    enum send_mode mode) {
    struct ipc_wire_hdr h = {.type = IPC_MSG_REPLY, .seq = seq, .code = status};
    return conn_send(c, &h, status == OH_IPC_SUCCESS ? data : NULL, mode);
}

/* Whether `c` has more than `inflight` requests here, or MAX_SENDERS
 * threads waiting to send it replies. */
static bool must_pause(struct ipc_conn *c, int inflight) {
    return __atomic_load_n(&c->inflight, __ATOMIC_SEQ_CST) > inflight ||
           __atomic_load_n(&c->senders, __ATOMIC_SEQ_CST) >= MAX_SENDERS;
}

/* Let the workers read `c` again after a throttle; epoll is told afresh,
 * so it reports what waits in the socket (no new edge would come: the
 * sender waits for room). */
static void resume_reading(struct ipc_conn *c) {
    pthread_mutex_lock(&c->lock);
    if (!must_pause(c, RESUME_INFLIGHT) && __atomic_exchange_n(&c->throttled, 0, __ATOMIC_SEQ_CST))
        update_watch(c, true);
    pthread_mutex_unlock(&c->lock);
}

/* Whether a worker must leave `c` unread for now (the peer has
 * MAX_INFLIGHT requests here, or does not read its replies). */
static bool throttle(struct ipc_conn *c) {
    if (!must_pause(c, MAX_INFLIGHT - 1))
        return false;
    __atomic_store_n(&c->throttled, 1, __ATOMIC_SEQ_CST);
    if (must_pause(c, RESUME_INFLIGHT))
        return true;
    /* they ended meanwhile, maybe before seeing the flag: read on */
    __atomic_store_n(&c->throttled, 0, __ATOMIC_SEQ_CST);
    return false;
}

/* Send a stub's reply (the parcel is taken). A peer that does not read
 * must not hold the workers: the reply goes out at once if there is room;
 * if not, at most MAX_SENDERS threads per connection wait for room (and
 * the workers stop reading the peer meanwhile, throttle), and any other
 * reply joins the connection's queue, which those threads send before
 * they leave. Waiting senders do not count against the pool's size, so
 * other connections keep their watcher (keep_a_watcher). */
static void send_reply(struct ipc_conn *c, uint32_t seq, int status, OHIPCParcel *reply) {
    bool behind = __atomic_load_n(&c->senders, __ATOMIC_SEQ_CST) > 0; /* no use trying */
    if (!behind && reply_to(c, seq, status, reply, SEND_TRY) != SEND_AGAIN) {
        OH_IPCParcel_Destroy(reply);
        return;
    }
    pthread_mutex_lock(&c->lock);
    if (__atomic_load_n(&c->senders, __ATOMIC_SEQ_CST) >= MAX_SENDERS) {
        struct out_reply *o = malloc(sizeof *o);
        if (o != NULL) {
            *o = (struct out_reply){seq, status, reply, NULL};
            *(c->outq != NULL ? &c->outq_tail->next : &c->outq) = o;
            c->outq_tail = o;
            pthread_mutex_unlock(&c->lock);
            return;
        }
        /* out of memory: wait as a sender beyond the cap */
    }
    __atomic_add_fetch(&c->senders, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&c->lock);
    set_stuck(1);
    for (;;) {
        (void)reply_to(c, seq, status, reply, SEND_WAIT); /* a failure fails c */
        OH_IPCParcel_Destroy(reply);
        pthread_mutex_lock(&c->lock);
        struct out_reply *o = c->outq;
        if (o == NULL) {
            __atomic_sub_fetch(&c->senders, 1, __ATOMIC_SEQ_CST);
            pthread_mutex_unlock(&c->lock);
            break;
        }
        c->outq = o->next;
        pthread_mutex_unlock(&c->lock);
        seq = o->seq;
        status = o->status;
        reply = o->reply;
        free(o);
    }
    set_stuck(-1);
    if (__atomic_load_n(&c->throttled, __ATOMIC_SEQ_CST))
        resume_reading(c);
}

static void run_request(struct job *j) {
    OHIPCParcel *reply = OH_IPCParcel_Create();
    struct ipc_calling saved = calling;
    calling = (struct ipc_calling){true, false, j->pid, j->uid};
    int rc = reply == NULL ? OH_IPC_INNER_ERROR
                           : j->stub->on_request(j->code, j->data, reply, j->stub->user);
    calling = saved;
    if (!j->oneway)
        send_reply(j->conn, j->seq, ipc_map_status(rc), reply);
    else
        OH_IPCParcel_Destroy(reply);
    OH_IPCParcel_Destroy(j->data);
    ipc_stub_unref(j->stub);
    if (__atomic_sub_fetch(&j->conn->inflight, 1, __ATOMIC_SEQ_CST) <= RESUME_INFLIGHT &&
        __atomic_load_n(&j->conn->throttled, __ATOMIC_SEQ_CST))
        resume_reading(j->conn);
    conn_unref(j->conn);
    pthread_mutex_lock(&eng.lock);
    if (--eng.busy == 0)
        pthread_cond_broadcast(&eng.idle_cond);
    pthread_mutex_unlock(&eng.lock);
}

/* A job for a received request (*ret NULL if it was answered at once).
 * Returns -1 for a malformed one. The caller runs or queues the job. */
/* A reply that dispatch decided on, sent once the receive lock is let go
 * (a send may block on a full socket). */
struct pending_reply {
    bool set;
    uint32_t seq;
    int status;
    OHIPCParcel *data; /* owned; may be NULL */
};

static int request_job(struct ipc_conn *c, struct received *m, struct job **ret,
                       struct pending_reply *pr) {
    bool oneway = m->h.flags & IPC_FLAG_ONEWAY;
    *ret = NULL;
    if (__atomic_load_n(&c->inflight, __ATOMIC_RELAXED) >= HARD_MAX_INFLIGHT) {
        close_received(m);
        return -1;
    }
    pthread_mutex_lock(&c->lock);
    struct export_entry *e = find_export(c, m->h.target);
    OHIPCRemoteStub *stub = e != NULL ? e->stub : NULL;
    if (stub != NULL)
        ipc_stub_ref(stub);
    pthread_mutex_unlock(&c->lock);
    OHIPCParcel *data = received_parcel(c, m);
    /* The peer's library checks codes before sending, but the peer is not
     * trusted: a code the send side refuses never reaches a stub either. */
    bool code_ok = ipc_code_valid((uint32_t)m->h.code);
    struct job *j = data != NULL && stub != NULL && code_ok ? calloc(1, sizeof *j) : NULL;
    if (j == NULL) {
        OH_IPCParcel_Destroy(data);
        if (stub != NULL)
            ipc_stub_unref(stub);
        if (data == NULL)
            return -1; /* malformed */
        int status = stub == NULL ? OH_IPC_DEAD_REMOTE_OBJECT /* released meanwhile */
                     : !code_ok   ? OH_IPC_CODE_OUT_OF_RANGE /* as the send side says */
                                  : OH_IPC_INNER_ERROR; /* out of memory */
        if (!oneway)
            *pr = (struct pending_reply){true, m->h.seq, status, NULL};
        return 0;
    }
    conn_ref(c);
    __atomic_add_fetch(&c->inflight, 1, __ATOMIC_SEQ_CST);
    *j = (struct job){JOB_REQUEST, m->pid, m->uid, c, stub, m->h.seq, (uint32_t)m->h.code,
                      oneway, data, NULL, NULL, NULL};
    pthread_mutex_lock(&eng.lock);
    eng.busy++;
    pthread_mutex_unlock(&eng.lock);
    *ret = j;
    return 0;
}

/* The caller still waiting for the reply `seq` (lock held); NULL if none. */
static struct waiter *waiter_of(struct ipc_conn *c, uint32_t seq) {
    struct waiter *w = c->waiters;
    while (w != NULL && (w->seq != seq || w->done))
        w = w->next;
    return w;
}

static int handle_reply(struct ipc_conn *c, struct received *m) {
    OHIPCParcel *data = received_parcel(c, m);
    if (data == NULL)
        return -1;
    pthread_mutex_lock(&c->lock);
    struct waiter *w = waiter_of(c, m->h.seq);
    if (w != NULL) {
        w->done = true;
        w->status = m->h.code;
        w->reply = data;
        data = NULL;
        wake_waiter(w);
    }
    pthread_mutex_unlock(&c->lock);
    OH_IPCParcel_Destroy(data); /* nobody waits for it (async, or a lie) */
    return 0;
}

static int handle_desc_query(struct ipc_conn *c, struct received *m, struct pending_reply *pr) {
    close_received(m);
    pthread_mutex_lock(&c->lock);
    struct export_entry *e = find_export(c, m->h.target);
    OHIPCRemoteStub *stub = e != NULL ? e->stub : NULL;
    if (stub != NULL)
        ipc_stub_ref(stub);
    pthread_mutex_unlock(&c->lock);
    OHIPCParcel *p = OH_IPCParcel_Create();
    int status = stub == NULL || p == NULL ? OH_IPC_DEAD_REMOTE_OBJECT
                                           : OH_IPCParcel_WriteString(p, stub->descriptor);
    *pr = (struct pending_reply){true, m->h.seq, status, p};
    if (stub != NULL)
        ipc_stub_unref(stub);
    return 0;
}

/* A request or a reply whose fds we could not take (no free fd here):
 * that one call fails with OH_IPC_INNER_ERROR and the connection lives on.
 * Its objects are taken and dropped at once, so the peer's exports are
 * released as for any parcel. Other messages never carry fds. */
static int handle_lost_fds(struct ipc_conn *c, struct received *m, struct pending_reply *pr) {
    static __thread struct parcel_object objs[IPC_MAX_OBJECTS];
    close_received(m);
    if (local_objects(c, m, objs) == 0) /* it unrefs them itself otherwise */
        unref_objects(objs, m->h.nobjs);
    if (m->h.type == IPC_MSG_REQUEST) {
        if (!(m->h.flags & IPC_FLAG_ONEWAY))
            *pr = (struct pending_reply){true, m->h.seq, OH_IPC_INNER_ERROR, NULL};
        return 0;
    }
    if (m->h.type != IPC_MSG_REPLY)
        return -1;
    pthread_mutex_lock(&c->lock);
    struct waiter *w = waiter_of(c, m->h.seq);
    if (w != NULL) {
        w->done = true;
        w->status = OH_IPC_INNER_ERROR;
        wake_waiter(w);
    }
    pthread_mutex_unlock(&c->lock);
    return 0;
}

/* Act on one message; a request becomes *job for the caller to run or
 * queue. Returns -1 if the peer must be dropped. */
static int dispatch(struct ipc_conn *c, struct received *m, struct job **job,
                    struct pending_reply *pr) {
    *job = NULL;
    if (m->lost_fds)
        return handle_lost_fds(c, m, pr);
    switch (m->h.type) {
    case IPC_MSG_REQUEST:
        return request_job(c, m, job, pr);
    case IPC_MSG_REPLY:
        return handle_reply(c, m);
    case IPC_MSG_DESC_QUERY:
        return handle_desc_query(c, m, pr);
    case IPC_MSG_RELEASE: {
        close_received(m);
        if (m->h.nobjs != 0 || m->h.data_len != 0 || m->h.code <= 0)
            return -1;
        pthread_mutex_lock(&c->lock);
        OHIPCRemoteStub *gone = release_export(c, m->h.target, (uint32_t)m->h.code);
        pthread_mutex_unlock(&c->lock);
        if (gone != NULL)
            ipc_stub_unref(gone);
        return 0;
    }
    default: /* HELLO only comes first, through the bridge */
        close_received(m);
        return -1;
    }
}

/* Receive and act on one message of `c`. Several threads may read one
 * socket (workers, and a caller waiting for its reply); the receive lock
 * makes each handle its message before the next is taken, so a reply one
 * took reaches its waiter before another's EOF fails the connection.
 * Returns < 0 when the connection is finished (failed or at EOF). */
static int read_one(struct ipc_conn *c, uint8_t **buf, struct job **job, bool as_reader) {
    struct received m;
    *job = NULL;
    if (!as_reader && throttle(c))
        return 0;
    pthread_mutex_lock(&c->lock);
    if (c->blocking && !as_reader) { /* the reader reads everything */
        c->missed = true;
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    c->readers++;
    int flags = c->blocking ? 0 : MSG_DONTWAIT;
    pthread_mutex_unlock(&c->lock);
    struct pending_reply pr = {0};
    ipc_stub_hold(); /* no destroy callback runs under the receive lock */
    pthread_mutex_lock(&c->rlock);
    int r = recv_message(c, buf, &m, flags);
    if (r > 0 && dispatch(c, &m, job, &pr) < 0)
        r = -1;
    pthread_mutex_unlock(&c->rlock);
    ipc_stub_release_held();
    /* A refusal (DEAD for an id never exported, a bad code, lost fds) does
     * not wait for room: a peer that sends such requests and does not read
     * would otherwise hold this thread in sendmsg, and, if it is a caller
     * waiting for its own reply, while the peer waits to send that reply
     * (a deadlock). No room means that peer breaks the protocol: it is
     * dropped. A descriptor, a real answer, waits as replies do. */
    if (pr.set) {
        (void)reply_to(c, pr.seq, pr.status, pr.data,
                       pr.status == OH_IPC_SUCCESS ? SEND_WAIT : SEND_OR_DROP);
        OH_IPCParcel_Destroy(pr.data);
    }
    pthread_mutex_lock(&c->lock);
    c->readers--;
    pthread_mutex_unlock(&c->lock);
    if (r < 0)
        conn_fail(c);
    return r < 0 ? -1 : r;
}

static uint64_t reg_key(uint32_t slot, uint32_t gen) { return ((uint64_t)gen << 32) | slot; }

/* Generations start at 1 and skip 0, so that no key is 0 (a connection's
 * "not registered"). */
static void next_gen(struct reg_slot *r) {
    if (++r->gen == 0)
        r->gen = 1;
}

/* The connection registered under `key`, with a reference for the caller;
 * NULL if it was unregistered meanwhile. */
static struct ipc_conn *conn_of_key(uint64_t key) {
    uint32_t slot = (uint32_t)key, gen = (uint32_t)(key >> 32);
    struct ipc_conn *c = NULL;
    pthread_mutex_lock(&eng.lock);
    if (slot < eng.nregs && eng.regs[slot].gen == gen && eng.regs[slot].conn != NULL) {
        c = eng.regs[slot].conn;
        conn_ref(c);
    }
    pthread_mutex_unlock(&eng.lock);
    return c;
}

/* Unregister `c` (once, whoever sees its end first) and drop the
 * registration's reference. A worker that got its key from epoll before
 * finds the slot changed and leaves it alone. */
static void drop_peer(struct ipc_conn *c) {
    pthread_mutex_lock(&eng.lock);
    uint32_t slot = (uint32_t)c->key, gen = (uint32_t)(c->key >> 32);
    bool mine = c->key != 0 && slot < eng.nregs && eng.regs[slot].conn == c &&
                eng.regs[slot].gen == gen;
    if (mine) {
        (void)epoll_ctl(eng.epfd, EPOLL_CTL_DEL, c->fd, NULL);
        eng.regs[slot].conn = NULL;
        next_gen(&eng.regs[slot]);
    }
    pthread_mutex_unlock(&eng.lock);
    if (mine)
        conn_unref(c); /* the registration */
}

/* A pool thread: wait in epoll with the others; read what comes and run a
 * request right here, having made sure another thread still watches; run
 * queued jobs (requests that a waiting caller read, deaths). epoll wakes
 * one waiter per event, so a request wakes one thread, as a raw socket
 * does, and nobody hands a lead over. */
static void worker_loop(void) {
    uint8_t *buf = parcel_buf_get();
    if (buf == NULL) {
        pthread_mutex_lock(&eng.lock);
        eng.workers--;
        pthread_mutex_unlock(&eng.lock);
        return;
    }
    pthread_mutex_lock(&eng.lock);
    for (;;) {
        struct job *j = pop_job();
        if (j != NULL) {
            if (eng.head != NULL)
                signal_jobs(); /* more: another worker may take them */
            keep_a_watcher();
            pthread_mutex_unlock(&eng.lock);
            run_job(j);
            pthread_mutex_lock(&eng.lock);
            continue;
        }
        eng.in_epoll++;
        int epfd = eng.epfd;
        pthread_mutex_unlock(&eng.lock);
        struct epoll_event ev;
        int n = epoll_wait(epfd, &ev, 1, -1);
        pthread_mutex_lock(&eng.lock);
        eng.in_epoll--;
        if (n != 1)
            continue;
        if (ev.data.u64 == JOBS_KEY) {
            uint64_t v;
            (void)!read(eng.jobs_fd, &v, sizeof v);
            continue;
        }
        pthread_mutex_unlock(&eng.lock);
        /* Edge-triggered: read until the socket is empty (a message that was
         * there before the edge brings no edge of its own). The first
         * request runs here; any further ones go to the queue. */
        struct ipc_conn *c = conn_of_key(ev.data.u64);
        struct job *first = NULL;
        for (int r = 1; c != NULL && r > 0;) {
            struct job *j = NULL;
            r = read_one(c, &buf, &j, false);
            if (r < 0)
                drop_peer(c);
            if (j != NULL && first == NULL)
                first = j;
            else if (j != NULL)
                queue_job(j);
        }
        if (c != NULL)
            conn_unref(c);
        if (first != NULL) {
            pthread_mutex_lock(&eng.lock);
            keep_a_watcher();
            pthread_mutex_unlock(&eng.lock);
            run_job(first);
        }
        pthread_mutex_lock(&eng.lock);
    }
}

/* Serve `c` (the engine starts on first use, with one worker). */
static int engine_add(struct ipc_conn *c) {
    pthread_mutex_lock(&eng.lock);
    int rc = 0;
    if (eng.epfd < 0 && (eng.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        rc = -errno;
    if (rc == 0 && eng.jobs_fd < 0) {
        eng.jobs_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event jev = {.events = EPOLLIN | EPOLLET, .data.u64 = JOBS_KEY};
        if (eng.jobs_fd < 0 || epoll_ctl(eng.epfd, EPOLL_CTL_ADD, eng.jobs_fd, &jev) < 0) {
            rc = -errno;
            sys_closep(&eng.jobs_fd);
        }
    }
    uint32_t slot = 0;
    while (rc == 0 && slot < eng.nregs && eng.regs[slot].conn != NULL)
        slot++;
    if (rc == 0 && slot == eng.nregs) {
        struct reg_slot *regs = realloc(eng.regs, (eng.nregs + 16) * sizeof *regs);
        if (regs == NULL) {
            rc = -ENOMEM;
        } else {
            for (uint32_t i = eng.nregs; i < eng.nregs + 16; i++)
                regs[i] = (struct reg_slot){NULL, 1};
            eng.regs = regs;
            eng.nregs += 16;
        }
    }
    if (rc == 0) {
        c->key = reg_key(slot, eng.regs[slot].gen);
        struct epoll_event ev = {.events = c->watch, .data.u64 = c->key};
        eng.regs[slot].conn = c;
        if (epoll_ctl(eng.epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
            rc = -errno;
            eng.regs[slot].conn = NULL;
            next_gen(&eng.regs[slot]);
            c->key = 0;
        }
    }
    if (rc == 0 && eng.workers == 0) {
        rc = start_thread(worker_main, NULL);
        eng.workers += rc == 0;
    }
    pthread_mutex_unlock(&eng.lock);
    return rc;
}

/* What a thread needs to read its own replies: a receive buffer, and an
 * eventfd through which another reader hands it a reply it picked up. */
struct reader {
    int efd;
    uint8_t *buf; /* a big buffer (parcel_buf_get) */
};
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void reader_free(void *p) {
    struct reader *r = p;
    sys_close(r->efd);
    parcel_buf_put(r->buf);
    free(r);
}
static void reader_key_init(void) { (void)pthread_key_create(&reader_key, reader_free); }

/* Made on a thread's first synchronous call, whoever then reads its reply:
 * made only when the thread reads, it would appear at some later call, so a
 * thread's fd count would depend on which thread won the first reply. */
static struct reader *this_reader(void) {
    pthread_once(&reader_once, reader_key_init);
    struct reader *r = pthread_getspecific(reader_key);
    if (r != NULL)
        return r;
    r = malloc(sizeof *r);
    if (r == NULL)
        return NULL;
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    r->buf = parcel_buf_get();
    if (r->efd < 0 || r->buf == NULL || pthread_setspecific(reader_key, r) != 0) {
        sys_close(r->efd);
        parcel_buf_put(r->buf);
        free(r);
        return NULL;
    }
    return r;
}

/* What the workers watch `c` for (connection lock held). Requests,
 * descriptor queries and releases can only come for stubs exported on
 * `c`: with none exported, and while a caller reads `c` itself, the workers
 * wait only for its end (EPOLLHUP, which epoll always reports, and
 * EPOLLRDHUP), so a reply never wakes one. */
static uint32_t wanted_watch(const struct ipc_conn *c) {
    uint32_t ev = EPOLLET | EPOLLRDHUP;
    if (c->nexports > 0 && !c->reading)
        ev |= EPOLLIN;
    return ev;
}

/* Apply wanted_watch(c) if it changed, or anyway if `again` (connection
 * lock held): epoll then looks at the socket afresh and reports what is
 * pending, such as an end that a worker saw but left to a reader. */
static void update_watch(struct ipc_conn *c, bool again) {
    uint32_t ev = wanted_watch(c);
    if ((ev == c->watch && !again) || c->key == 0 || c->dead)
        return;
    struct epoll_event e = {.events = ev, .data.u64 = c->key};
    if (epoll_ctl(eng.epfd, EPOLL_CTL_MOD, c->fd, &e) == 0)
        c->watch = ev;
}

/* Read `c` here until `w` is answered. With nothing exported on `c`
 * (c->blocking), nothing but this thread reads it, so it simply blocks in
 * recvmsg, as a plain socket client would. Otherwise it polls: a worker
 * still draining the socket may take our reply and then wakes us through
 * the eventfd. A failure or the end is handled by read_one (conn_fail);
 * the registration is dropped here too, as a worker would. */
static void read_for(struct ipc_conn *c, struct waiter *w, struct reader *me) {
    pthread_mutex_lock(&c->lock);
    bool blocking = c->blocking;
    pthread_mutex_unlock(&c->lock);
    for (;;) {
        pthread_mutex_lock(&c->lock);
        bool done = w->done;
        pthread_mutex_unlock(&c->lock);
        if (done)
            break;
        if (!blocking) {
            struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN},
                                  {.fd = me->efd, .events = POLLIN}};
            if (poll(p, 2, -1) < 0 && errno != EINTR)
                break;
            if (p[1].revents) {
                uint64_t v;
                (void)sys_read(me->efd, &v, sizeof v);
                continue;
            }
        }
        struct job *j = NULL;
        if (read_one(c, &me->buf, &j, true) < 0) {
            drop_peer(c);
            break;
        }
        if (j != NULL)
            queue_job(j);
    }
}

/* Make this thread the reader of `c` if nobody reads it (connection lock
 * held). The workers stop watching it for messages before the request goes
 * out, so that its reply cannot wake a worker first. */
static struct reader *claim_reader(struct ipc_conn *c, struct waiter *w) {
    struct reader *me = c->reading || c->dead ? NULL : this_reader();
    if (me == NULL)
        return NULL;
    c->reading = true;
    c->blocking = c->nexports == 0 && c->readers == 0;
    w->wake_fd = reading_efd = me->efd;
    update_watch(c, false);
    return me;
}

/* Stop being the reader of `c` (connection lock held): the workers watch
 * it as before (and look again at an end one of them left to us), and the
 * next unanswered waiter may read. */
static void release_reader(struct ipc_conn *c, struct waiter *w) {
    w->wake_fd = reading_efd = -1;
    c->reading = false;
    c->blocking = false;
    bool again = c->missed;
    c->missed = false;
    update_watch(c, again);
    for (struct waiter *o = c->waiters; o != NULL; o = o->next) {
        if (!o->done) {
            pthread_cond_signal(&o->cond);
            break;
        }
    }
}

/* Wait (connection lock held) until `w` is answered. If nobody else reads
 * `c`, read it here: then the reply wakes only us. `me` is set if this
 * thread already is the reader (claim_reader). */
static void await_reply(struct ipc_conn *c, struct waiter *w, struct reader *me) {
    for (;;) {
        if (me == NULL && !w->done)
            me = claim_reader(c, w);
        if (me != NULL && !w->done) {
            pthread_mutex_unlock(&c->lock);
            read_for(c, w, me);
            pthread_mutex_lock(&c->lock);
        }
        if (me != NULL) {
            release_reader(c, w);
            me = NULL;
        }
        if (w->done)
            return;
        pthread_cond_wait(&w->cond, &c->lock);
    }
}

/* Send a request while this thread is the reader of `c`: wait for room,
 * but read meanwhile. The peer may wait to send us something (replies to
 * other threads of ours) before it reads again, and stops reading us when
 * our replies find no room (send_reply): a reader that only waited for
 * room would deadlock with it. */
static int send_reading(struct ipc_conn *c, struct ipc_wire_hdr *h, const OHIPCParcel *data,
                        struct reader *me) {
    for (;;) {
        int rc = conn_send(c, h, data, SEND_TRY);
        if (rc != SEND_AGAIN)
            return rc;
        struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLOUT};
        if (poll(&p, 1, -1) < 0 && errno != EINTR)
            return conn_send(c, h, data, SEND_WAIT);
        if (!(p.revents & (POLLIN | POLLHUP | POLLERR)))
            continue; /* room */
        struct job *j = NULL;
        if (read_one(c, &me->buf, &j, true) < 0) {
            drop_peer(c);
            return OH_IPC_DEAD_REMOTE_OBJECT;
        }
        if (j != NULL)
            queue_job(j);
    }
}

int ipc_conn_send_request(OHIPCRemoteProxy *proxy, uint32_t code, const OHIPCParcel *data,
                          OHIPCParcel *reply, bool oneway) {
    struct ipc_conn *c = proxy->conn;
    /* Made now (see this_reader); without one (no free fd for its eventfd)
     * this thread could not read its reply, and nobody else might: an
     * error for this call, and the next one tries again. */
    if (!oneway && this_reader() == NULL)
        return OH_IPC_INNER_ERROR;
    struct waiter w = {.wake_fd = -1, .cond = PTHREAD_COND_INITIALIZER};
    struct ipc_wire_hdr h = {.type = IPC_MSG_REQUEST, .flags = oneway ? IPC_FLAG_ONEWAY : 0,
                             .target = proxy->remote_id, .code = (int32_t)code};
    pthread_mutex_lock(&c->lock);
    if (proxy->dead || c->dead) {
        pthread_mutex_unlock(&c->lock);
        return OH_IPC_DEAD_REMOTE_OBJECT;
    }
    struct reader *me = NULL;
    if (!oneway) {
        w.seq = h.seq = new_seq(c);
        w.next = c->waiters;
        c->waiters = &w;
        me = claim_reader(c, &w);
    }
    pthread_mutex_unlock(&c->lock);
    int rc = me != NULL ? send_reading(c, &h, data, me) : conn_send(c, &h, data, SEND_WAIT);
    pthread_mutex_lock(&c->lock);
    if (!oneway && rc == OH_IPC_SUCCESS)
        await_reply(c, &w, me);
    else if (me != NULL)
        release_reader(c, &w);
    for (struct waiter **q = &c->waiters; !oneway && *q != NULL; q = &(*q)->next) {
        if (*q == &w) {
            *q = w.next;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&w.cond);
    if (oneway || rc != OH_IPC_SUCCESS)
        return rc;
    if (w.reply != NULL && reply != NULL)
        parcel_move(reply, w.reply);
    else
        OH_IPCParcel_Destroy(w.reply);
    return w.status == OH_IPC_DEAD_REMOTE_OBJECT ? w.status : ipc_map_status(w.status);
}

char *ipc_conn_query_descriptor(OHIPCRemoteProxy *proxy) {
    struct ipc_conn *c = proxy->conn;
    if (this_reader() == NULL) /* see ipc_conn_send_request */
        return NULL;
    OHIPCParcel *reply = OH_IPCParcel_Create();
    struct waiter w = {.wake_fd = -1, .cond = PTHREAD_COND_INITIALIZER};
    struct ipc_wire_hdr h = {.type = IPC_MSG_DESC_QUERY, .target = proxy->remote_id};
    pthread_mutex_lock(&c->lock);
    bool dead = proxy->dead || c->dead || reply == NULL;
    struct reader *me = NULL;
    if (!dead) {
        w.seq = h.seq = new_seq(c);
        w.next = c->waiters;
        c->waiters = &w;
        me = claim_reader(c, &w);
    }
    pthread_mutex_unlock(&c->lock);
    if (dead) {
        OH_IPCParcel_Destroy(reply);
        return NULL;
    }
    int rc = me != NULL ? send_reading(c, &h, NULL, me) : conn_send(c, &h, NULL, SEND_WAIT);
    pthread_mutex_lock(&c->lock);
    if (rc == OH_IPC_SUCCESS)
        await_reply(c, &w, me);
    else if (me != NULL)
        release_reader(c, &w);
    for (struct waiter **q = &c->waiters; *q != NULL; q = &(*q)->next) {
        if (*q == &w) {
            *q = w.next;
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
    pthread_cond_destroy(&w.cond);
    const char *s = w.reply != NULL && w.status == 0 ? OH_IPCParcel_ReadString(w.reply) : NULL;
    char *out = s != NULL ? strdup(s) : NULL;
    OH_IPCParcel_Destroy(w.reply);
    OH_IPCParcel_Destroy(reply);
    return out;
}

/* ---- 7. the bridge, fork safety ---------------------------------------------------------------- */

int32_t OH_Ohncp_RemoteProxyGetPid(const OHIPCRemoteProxy *proxy) {
    if (proxy == NULL)
        return -1;
    if (proxy->conn == NULL)
        return (int32_t)getpid(); /* a local node: the stub lives here */
    return (int32_t)__atomic_load_n(&proxy->conn->peer_pid, __ATOMIC_RELAXED);
}

int OH_Ohncp_IPCServeChannel(int fd, OHIPCRemoteStub *root) {
    if (fd < 0 || root == NULL)
        return -EINVAL;
    struct ipc_conn *c = conn_new(fd);
    OHIPCParcel *p = OH_IPCParcel_Create();
    int rc = c == NULL || p == NULL ? -ENOMEM : 0;
    if (rc == 0 && OH_IPCParcel_WriteRemoteStub(p, root) != OH_IPC_SUCCESS)
        rc = -ENOMEM;
    if (rc == 0)
        rc = engine_add(c); /* before HELLO: the parent may call at once */
    struct ipc_wire_hdr h = {.type = IPC_MSG_HELLO};
    if (rc == 0 && conn_send(c, &h, p, SEND_WAIT) != OH_IPC_SUCCESS)
        rc = -EPIPE;
    OH_IPCParcel_Destroy(p);
    if (rc < 0 && c != NULL)
        conn_fail(c); /* registered or not, EOF follows */
    if (c == NULL)
        sys_close(fd);
    return rc;
}

int OH_Ohncp_IPCAcceptChannel(int fd, int timeout_ms, OHIPCRemoteProxy **ret) {
    struct ipc_conn *c = conn_new(fd);
    uint8_t *buf = parcel_buf_get();
    int rc = c == NULL || buf == NULL ? -ENOMEM : 0;
    int ev = rc == 0 ? sys_poll1(fd, POLLIN, timeout_ms) : 0;
    if (rc == 0 && ev <= 0)
        rc = ev == 0 ? -ETIMEDOUT : ev;
    struct received m;
    if (rc == 0 && recv_message(c, &buf, &m, MSG_DONTWAIT) <= 0)
        rc = -EPIPE;
    if (rc == 0) {
        close_received(&m);
        const struct ipc_wire_obj *o = &m.objs[0];
        bool ok = m.h.type == IPC_MSG_HELLO && m.h.nobjs == 1 &&
                  o->kind == PARCEL_OBJECT_STUB && o->owner == IPC_OWNER_SENDER;
        pthread_mutex_lock(&c->lock);
        *ret = ok ? import_node(c, o->id) : NULL;
        pthread_mutex_unlock(&c->lock);
        rc = *ret == NULL ? -EPROTO : engine_add(c);
        if (rc == 0) { /* nothing exported yet: watch for the end only */
            pthread_mutex_lock(&c->lock);
            update_watch(c, false);
            pthread_mutex_unlock(&c->lock);
        }
        if (rc < 0 && *ret != NULL) {
            ipc_proxy_unref(*ret);
            *ret = NULL;
        }
    }
    parcel_buf_put(buf);
    if (rc < 0 && c != NULL) { /* never registered: ours to drop */
        conn_fail(c);
        conn_unref(c);
    } else if (c == NULL) {
        sys_close(fd);
    }
    return rc;
}

int OH_Ohncp_IPCDrain(int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&eng.lock);
    while (eng.busy > 0 && rc == 0)
        rc = pthread_cond_timedwait(&eng.idle_cond, &eng.lock, &dl);
    pthread_mutex_unlock(&eng.lock);
    return rc == 0 ? 0 : -ETIMEDOUT;
}

/* A fork()ed child has no engine threads and must not use the parent's
 * connections: they are closed here (never shut down: that would cut the
 * parent's too) and count as dead.
 *
 * The race these handlers exist for: at the moment of fork() another thread
 * may be changing the engine, the list of connections or a connection (a
 * registration, a waiter list, an import). prepare takes every lock the
 * child handler needs, in the lock order (all_lock, each connection's lock,
 * the engine's), so the child inherits them consistent and held by its one
 * thread, and unlocks them. A connection's receive lock is not taken: a
 * reader holds it across a blocking recvmsg. In the child it may stay held
 * by a thread that does not exist there, which is harmless because only a
 * reader of a live connection takes it, and every connection is dead there. */
static void atfork_prepare(void) {
    pthread_mutex_lock(&all_lock);
    for (struct ipc_conn *c = all_conns; c != NULL; c = c->next_all)
        pthread_mutex_lock(&c->lock);
    pthread_mutex_lock(&eng.lock);
}

static void unlock_all(void) {
    pthread_mutex_unlock(&eng.lock);
    for (struct ipc_conn *c = all_conns; c != NULL; c = c->next_all)
        pthread_mutex_unlock(&c->lock);
    pthread_mutex_unlock(&all_lock);
}

static void atfork_child(void) {
    /* Threads of the parent may have been waiting on these; none exists
     * here, so the objects are taken over as new ones. */
    eng.work = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    eng.idle_cond = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    eng.joined = 0;
    sys_closep(&eng.epfd);
    sys_closep(&eng.jobs_fd);
    eng.head = eng.tail = NULL; /* jobs of the parent's peers: leaked */
    eng.workers = eng.in_epoll = eng.busy = eng.stuck = 0;
    free(eng.regs); /* the engine's lock was held: nobody was changing it */
    eng.regs = NULL;
    eng.nregs = 0;
    for (struct ipc_conn *c = all_conns; c != NULL; c = c->next_all) {
        sys_closep(&c->fd);
        c->dead = true;
        c->waiters = NULL; /* on the stacks of the parent's other threads */
        for (OHIPCRemoteProxy *p = c->imports; p != NULL; p = p->next_import)
            p->dead = true;
    }
    unlock_all();
}

__attribute__((constructor)) static void ipc_conn_init(void) {
    pthread_atfork(atfork_prepare, unlock_all, atfork_child);
}
