/* test_ipc_wire_peer.c - the IPC engine against a hostile peer that this
 * test plays itself, byte by byte, on the other end of a socketpair: the
 * engine serves a stub on one end (OH_Ohncp_IPCServeChannel, as a child
 * does), the test writes raw messages on the other and reads what comes
 * back, so every answer the engine gives is seen exactly. */
#include "testlib.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <IPCKit/ipc_kit.h>

#include "ipc_bridge.h"
#include "ipc_transport.h"

struct peer {
    int fd;        /* our end */
    uint32_t root; /* the export id of the served stub */
};

struct msg {
    struct ipc_wire_hdr h;
    struct ipc_wire_obj objs[4];
    uint8_t data[4096];
};

/* One message from the engine within 20 s (fds that come with it are
 * closed); its length, or -1. */
static ssize_t recv_msg(int fd, struct msg *m) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 20000) != 1)
        return -1;
    union {
        char b[CMSG_SPACE(sizeof(int) * 253)];
        struct cmsghdr a;
    } u;
    struct iovec iov = {m, sizeof *m};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                        .msg_controllen = sizeof u.b};
    ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c != NULL; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int f;
                memcpy(&f, CMSG_DATA(c) + i * sizeof f, sizeof f);
                close(f);
            }
        }
    }
    return n;
}

static void send_hdr(int fd, uint16_t type, uint16_t flags, uint32_t seq, uint32_t target,
                     int32_t code) {
    struct ipc_wire_hdr h = {IPC_MAGIC, type, flags, seq, target, code, 0, 0};
    CHECK_EQ(send(fd, &h, sizeof h, MSG_NOSIGNAL), (ssize_t)sizeof h);
}

/* Serve `root` on a new socketpair; read its HELLO. */
static struct peer serve(OHIPCRemoteStub *root) {
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    CHECK_EQ(OH_Ohncp_IPCServeChannel(sv[0], root), 0);
    struct msg m;
    CHECK(recv_msg(sv[1], &m) > 0);
    CHECK_EQ(m.h.type, IPC_MSG_HELLO);
    CHECK_EQ(m.h.nobjs, 1);
    return (struct peer){sv[1], m.objs[0].id};
}

static int calls;
static uint32_t last_code;
static int count_calls(uint32_t code, const OHIPCParcel *d, OHIPCParcel *r, void *u) {
    (void)d, (void)r, (void)u;
    __atomic_store_n(&last_code, code, __ATOMIC_RELAXED);
    __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
    return 0;
}

/* The reply to request `seq`; its status. */
static int32_t reply_status(int fd, uint32_t seq) {
    struct msg m;
    CHECK(recv_msg(fd, &m) > 0);
    CHECK_EQ(m.h.type, IPC_MSG_REPLY);
    CHECK_EQ(m.h.seq, seq);
    return m.h.code;
}

/* The send side refuses codes 0 and above 0xFFFFFF with
 * OH_IPC_CODE_OUT_OF_RANGE; a peer that sends them anyway gets the same
 * answer, and the stub never sees them. */
TEST(bad_codes_never_reach_the_stub) {
    OHIPCRemoteStub *stub = OH_IPCRemoteStub_Create("ohncp.test.Count", count_calls, NULL, NULL);
    struct peer p = serve(stub);
    const uint32_t bad[] = {0, 0x1000000u, 0xFFFFFFFFu};
    uint32_t seq = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        send_hdr(p.fd, IPC_MSG_REQUEST, 0, seq, p.root, (int32_t)bad[i]);
        CHECK_EQ(reply_status(p.fd, seq), OH_IPC_CODE_OUT_OF_RANGE);
        seq++;
        /* oneway: no answer, and no call either */
        send_hdr(p.fd, IPC_MSG_REQUEST, IPC_FLAG_ONEWAY, 0, p.root, (int32_t)bad[i]);
    }
    /* the connection still serves good codes, at both ends of the range */
    send_hdr(p.fd, IPC_MSG_REQUEST, 0, seq, p.root, 1);
    CHECK_EQ(reply_status(p.fd, seq++), 0);
    send_hdr(p.fd, IPC_MSG_REQUEST, 0, seq, p.root, 0xFFFFFF);
    CHECK_EQ(reply_status(p.fd, seq++), 0);
    CHECK_EQ(OH_Ohncp_IPCDrain(10000), 0);
    CHECK_EQ(__atomic_load_n(&calls, __ATOMIC_RELAXED), 2);
    CHECK_EQ(__atomic_load_n(&last_code, __ATOMIC_RELAXED), 0xFFFFFF);
    close(p.fd);
    OH_IPCRemoteStub_Destroy(stub);
}

/* Play a child: send HELLO naming our object 1 on a new socketpair, and
 * have the engine accept it; *proxy reaches our object 1. Our end. */
static int accept_peer(OHIPCRemoteProxy **proxy) {
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    struct {
        struct ipc_wire_hdr h;
        struct ipc_wire_obj o;
    } hello = {{IPC_MAGIC, IPC_MSG_HELLO, 0, 0, 0, 0, 0, 1},
               {PARCEL_OBJECT_STUB, 0, IPC_OWNER_SENDER, 1}};
    CHECK_EQ(send(sv[1], &hello, sizeof hello, MSG_NOSIGNAL), (ssize_t)sizeof hello);
    CHECK_EQ(OH_Ohncp_IPCAcceptChannel(sv[0], 10000, proxy), 0);
    return sv[1];
}

static int destroyed;
static void on_destroy(void *u) {
    (void)u;
    __atomic_add_fetch(&destroyed, 1, __ATOMIC_RELAXED);
}

/* A send refused after the parcel's stub was exported (too many fds
 * behind it, or a proxy to a third process behind it) takes the export
 * back: once its owner lets go, the stub is destroyed at once, not when the
 * peer dies. Nothing went out: the peer gets no message. */
TEST(a_refused_send_leaves_nothing_exported) {
    OHIPCRemoteProxy *proxy, *third;
    int fd = accept_peer(&proxy);
    int other = accept_peer(&third);
    for (int k = 0; k < 2; k++) {
        OHIPCRemoteStub *stub =
            OH_IPCRemoteStub_Create("ohncp.test.Refused", count_calls, on_destroy, NULL);
        OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
        CHECK_EQ(OH_IPCParcel_WriteRemoteStub(data, stub), OH_IPC_SUCCESS);
        CHECK_EQ(OH_IPCParcel_WriteRemoteStub(data, stub), OH_IPC_SUCCESS); /* twice */
        if (k == 0) {
            for (int i = 0; i < (int)IPC_MAX_FDS + 1; i++)
                CHECK_EQ(OH_IPCParcel_WriteFileDescriptor(data, 0), OH_IPC_SUCCESS);
        } else {
            CHECK_EQ(OH_IPCParcel_WriteRemoteProxy(data, third), OH_IPC_SUCCESS);
        }
        CHECK_EQ(OH_IPCRemoteProxy_SendRequest(proxy, 1, data, reply, NULL),
                 OH_IPC_PARCEL_WRITE_ERROR);
        OH_IPCParcel_Destroy(data);
        OH_IPCParcel_Destroy(reply);
        OH_IPCRemoteStub_Destroy(stub);
        CHECK_EQ(__atomic_load_n(&destroyed, __ATOMIC_RELAXED), k + 1);
    }
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_EQ(OH_IPCRemoteProxy_IsRemoteDead(proxy), 0);
    OH_IPCRemoteProxy_Destroy(proxy);
    OH_IPCRemoteProxy_Destroy(third);
    close(fd);
    close(other);
}

/* ---- running out of fds ---- */

/* A peer that answers every request: code 2 with a reply carrying one fd
 * (a pipe's), any other with an empty one; it ends when its socket does. */
struct answerer {
    int fd;
    int give; /* the fd code 2 replies carry */
};

static void *answer_main(void *arg) {
    struct answerer *a = arg;
    struct msg m;
    while (recv_msg(a->fd, &m) > 0) {
        if (m.h.type != IPC_MSG_REQUEST || (m.h.flags & IPC_FLAG_ONEWAY))
            continue;
        if (m.h.code != 2) {
            send_hdr(a->fd, IPC_MSG_REPLY, 0, m.h.seq, 0, 0);
            continue;
        }
        struct {
            struct ipc_wire_hdr h;
            struct ipc_wire_obj o;
            uint32_t slot[2];
        } r = {{IPC_MAGIC, IPC_MSG_REPLY, 0, m.h.seq, 0, 0, 8, 1},
               {PARCEL_OBJECT_FD, 0, 0, 0},
               {PARCEL_OBJECT_FD, 0}};
        union {
            char b[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = {&r, sizeof r};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                            .msg_controllen = sizeof u.b};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &a->give, sizeof(int));
        CHECK_EQ(sendmsg(a->fd, &mh, MSG_NOSIGNAL), (ssize_t)sizeof r);
    }
    return NULL;
}

static int fillers[1024];
static int nfillers;

/* Use up every fd this process may open (under a lowered RLIMIT_NOFILE). */
static void exhaust_fds(void) {
    struct rlimit rl;
    CHECK_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur > 256) {
        rl.rlim_cur = 256;
        CHECK_EQ(setrlimit(RLIMIT_NOFILE, &rl), 0);
    }
    for (;;) {
        int f = fcntl(0, F_DUPFD_CLOEXEC, 0);
        if (f < 0) {
            CHECK_EQ(errno, EMFILE);
            return;
        }
        CHECK(nfillers < 1024);
        fillers[nfillers++] = f;
    }
}

static void give_fds_back(void) {
    while (nfillers > 0)
        close(fillers[--nfillers]);
}

static int call(OHIPCRemoteProxy *proxy, uint32_t code, int *got_fd) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    CHECK(data != NULL && reply != NULL);
    int rc = OH_IPCRemoteProxy_SendRequest(proxy, code, data, reply, NULL);
    if (got_fd != NULL && rc == 0)
        CHECK_EQ(OH_IPCParcel_ReadFileDescriptor(reply, got_fd), OH_IPC_SUCCESS);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    return rc;
}

struct answered_peer {
    OHIPCRemoteProxy *proxy;
    int fd;
    int pipe[2];
    pthread_t t;
    struct answerer a;
};

static void start_answered(struct answered_peer *p) {
    p->fd = accept_peer(&p->proxy);
    CHECK_EQ(pipe2(p->pipe, O_CLOEXEC), 0);
    p->a = (struct answerer){p->fd, p->pipe[0]};
    CHECK_EQ(pthread_create(&p->t, NULL, answer_main, &p->a), 0);
}

static void stop_answered(struct answered_peer *p) {
    CHECK_EQ(OH_IPCRemoteProxy_IsRemoteDead(p->proxy), 0); /* it lived through it all */
    shutdown(p->fd, SHUT_RDWR);
    pthread_join(p->t, NULL);
    OH_IPCRemoteProxy_Destroy(p->proxy);
    close(p->fd);
    close(p->pipe[0]);
    close(p->pipe[1]);
}

/* A reply whose fd arrives when this process has no free fd fails that
 * call (the kernel drops the fd, MSG_CTRUNC); it used to kill the
 * connection. Once fds are back, the same call works. */
TEST(a_reply_with_an_fd_at_the_fd_limit_fails_only_that_call) {
    struct answered_peer p;
    start_answered(&p);
    CHECK_EQ(call(p.proxy, 1, NULL), 0); /* this thread's reader exists now */
    exhaust_fds();
    CHECK_EQ(call(p.proxy, 2, NULL), OH_IPC_INNER_ERROR);
    CHECK_EQ(call(p.proxy, 1, NULL), 0); /* no fd in it: fine meanwhile */
    give_fds_back();
    int got = -1;
    CHECK_EQ(call(p.proxy, 2, &got), 0);
    CHECK(got >= 0);
    close(got);
    stop_answered(&p);
}

static void *first_call_main(void *arg) {
    OHIPCRemoteProxy *proxy = arg;
    exhaust_fds();
    int rc = call(proxy, 1, NULL); /* its reader's eventfd cannot be made */
    give_fds_back();
    CHECK_EQ(rc, OH_IPC_INNER_ERROR);
    CHECK_EQ(call(proxy, 1, NULL), 0);
    return NULL;
}

/* A thread's first synchronous call with no free fd returns an error (it
 * used to wait for ever, even once fds were back); its next call works. */
TEST(a_first_call_without_a_free_fd_is_an_error) {
    struct answered_peer p;
    start_answered(&p);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, first_call_main, p.proxy), 0);
    pthread_join(t, NULL);
    stop_answered(&p);
}

/* ---- a peer that sends and does not read ---- */

struct caller {
    OHIPCRemoteProxy *proxy;
    int rc;
};

static void *caller_main(void *arg) {
    struct caller *c = arg;
    c->rc = call(c->proxy, 1, NULL);
    return NULL;
}

/* Sends `count` requests and descriptor queries for an id never exported
 * (blocking sends, as a peer that does not care), then the reply to `seq`;
 * stops at the first failed send. */
struct flood {
    int fd;
    uint32_t seq;
    int count;
};

static void *flood_main(void *arg) {
    struct flood *f = arg;
    for (int i = 0; i < f->count; i++) {
        struct ipc_wire_hdr h = {IPC_MAGIC, i % 2 ? IPC_MSG_DESC_QUERY : IPC_MSG_REQUEST, 0,
                                 1000 + (uint32_t)i, 999, 1, 0, 0};
        if (send(f->fd, &h, sizeof h, MSG_NOSIGNAL) < 0)
            return NULL; /* dropped */
    }
    struct ipc_wire_hdr r = {IPC_MAGIC, IPC_MSG_REPLY, 0, f->seq, 0, 0, 0, 0};
    (void)send(f->fd, &r, sizeof r, MSG_NOSIGNAL);
    return NULL;
}

/* While a thread waits for its reply (and so reads the connection), the
 * peer floods it with requests and descriptor queries for ids never
 * exported, never reading the answers, then sends the reply. The DEAD
 * answers used to block the caller in sendmsg while the peer blocked
 * sending: both hung. Now a peer with no room for a refusal is dropped:
 * the call returns (DEAD), and the engine serves others. */
TEST(a_peer_that_sends_bogus_requests_and_does_not_read_is_dropped) {
    OHIPCRemoteProxy *proxy;
    int fd = accept_peer(&proxy);
    struct caller c = {proxy, -1};
    pthread_t t, ft;
    CHECK_EQ(pthread_create(&t, NULL, caller_main, &c), 0);
    struct msg m;
    CHECK(recv_msg(fd, &m) > 0);
    CHECK_EQ(m.h.type, IPC_MSG_REQUEST);
    struct flood f = {fd, m.h.seq, 5000};
    CHECK_EQ(pthread_create(&ft, NULL, flood_main, &f), 0);
    pthread_join(t, NULL);
    pthread_join(ft, NULL);
    CHECK_EQ(c.rc, OH_IPC_DEAD_REMOTE_OBJECT);
    /* another peer is served after */
    struct answered_peer p;
    start_answered(&p);
    CHECK_EQ(call(p.proxy, 1, NULL), 0);
    stop_answered(&p);
    OH_IPCRemoteProxy_Destroy(proxy);
    close(fd);
}

/* The same against the workers (a stub is exported, so they read): they
 * drop the flooding peer rather than block in sendmsg for it, and the
 * connection's end is seen (the peer reads EOF). */
TEST(workers_drop_a_peer_that_floods_bogus_requests_without_reading) {
    OHIPCRemoteStub *stub = OH_IPCRemoteStub_Create("ohncp.test.Count", count_calls, NULL, NULL);
    struct peer p = serve(stub);
    for (uint32_t i = 0; i < 100000; i++) {
        struct ipc_wire_hdr h = {IPC_MAGIC, IPC_MSG_REQUEST, 0, 1000 + i, 999, 1, 0, 0};
        if (send(p.fd, &h, sizeof h, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            break;
    }
    /* keep sending (blocking) until the engine hangs up on us */
    for (uint32_t i = 0;; i++) {
        struct ipc_wire_hdr h = {IPC_MAGIC, IPC_MSG_REQUEST, 0, 500000 + i, 999, 1, 0, 0};
        if (send(p.fd, &h, sizeof h, MSG_NOSIGNAL) < 0) {
            CHECK(errno == EPIPE || errno == ECONNRESET);
            break;
        }
    }
    close(p.fd);
    OH_IPCRemoteStub_Destroy(stub);
}

/* ---- a peer that floods and never reads ---- */

struct flooder {
    int fd;
    uint32_t target;
    int sent;
};

/* Valid requests, blocking sends, never a read: until the socket ends. */
static void *valid_flood_main(void *arg) {
    struct flooder *f = arg;
    for (uint32_t i = 1; i < 1000000; i++) {
        struct ipc_wire_hdr h = {IPC_MAGIC, IPC_MSG_REQUEST, 0, i, f->target, 1, 0, 0};
        if (send(f->fd, &h, sizeof h, MSG_NOSIGNAL) < 0)
            break;
        f->sent++;
    }
    return NULL;
}

/* A peer sends valid requests as fast as it can and never reads the
 * replies. The threads that reply to it used to block in sendmsg, all of
 * them in the end, and nobody served anyone else. Now a few wait for it,
 * its other replies queue up behind them, it is read no more meanwhile,
 * and another peer is served as usual, again and again. */
TEST_TIMEOUT(a_peer_that_floods_and_never_reads_holds_no_one_else_up, 120) {
    OHIPCRemoteStub *stub = OH_IPCRemoteStub_Create("ohncp.test.Count", count_calls, NULL, NULL);
    struct peer bad = serve(stub);
    struct flooder f = {bad.fd, bad.root, 0};
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, valid_flood_main, &f), 0);
    /* more replies than its socket holds: someone waits for room; then
     * time for the flood to take whatever it can */
    while (__atomic_load_n(&calls, __ATOMIC_RELAXED) < 12)
        usleep(10000);
    usleep(500000);
    struct peer good = serve(stub);
    for (uint32_t seq = 1; seq <= 50; seq++) {
        send_hdr(good.fd, IPC_MSG_REQUEST, 0, seq, good.root, 1);
        CHECK_EQ(reply_status(good.fd, seq), 0);
    }
    shutdown(bad.fd, SHUT_RDWR); /* its end: the waiting senders give up */
    pthread_join(t, NULL);
    close(bad.fd);
    close(good.fd);
    OH_IPCRemoteStub_Destroy(stub);
}
