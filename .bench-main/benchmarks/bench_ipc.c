/*
 * bench_ipc.c - IPC round trip: the same payload to a child process and
 * back, for 16 B, 4 KiB and 200 KiB, measured in one run for:
 *   sendrequest  OH_IPCRemoteProxy_SendRequest (code 1) to an IPC-mode
 *                child (libbench_ipc_child.so) whose stub echoes the parcel
 *                (the payload is one OH_IPCParcel_WriteBuffer)
 *   raw          a blocking send/recv ping-pong on an AF_UNIX SOCK_SEQPACKET
 *                socketpair with a forked echo process (SOCK_STREAM with a
 *                length prefix if a 200 KiB datagram does not fit)
 * and, to show where the difference goes, the raw ping-pong again with the
 * transport's thread structure imitated on one side or both:
 *   parent side: an I/O thread waits in epoll, receives, and hands the reply
 *                to the calling thread through a condition variable
 *   child side:  an I/O thread waits in epoll, receives, and hands the
 *                request to a worker thread that sends the answer
 * (signalled with the mutex held and receiving until EAGAIN, as
 * src/ipc_conn.c does; no parcels, so what is left is the thread shape).
 * CPU placement matters more than anything else here (a wake-up on the
 * other CPU of this VM costs tens of microseconds, one on the same CPU a
 * few), so BENCH_IPC_CPUS in the environment chooses it:
 *   free   (default) the scheduler places every thread
 *   one    everything on the first CPU (set before any process is made)
 *   split  this process on the first CPU, every echo process and the
 *          IPC child (bench_ipc_child.c reads the same variable) on the
 *          last, so every message crosses CPUs
 * BENCH_IPC_ONLY=key[,key...] runs only those ways (for profiling one of
 * them with perf or strace); BENCH_IPC_STREAM=1 makes the raw ways use the
 * SOCK_STREAM fallback even when SEQPACKET would do.
 * Samples are taken in interleaved blocks (every way, then every way again)
 * so slow drifts of the VM hit all of them alike.
 *
 *   bench_ipc [iterations for 16 B and 4 KiB [iterations for 200 KiB]]
 *
 * Output: one JSON object per line (run_ipc.py reads them):
 *   {"name", "way", "size", "n", "median_us", "p99_us", "mb_s", "faults"}
 * mb_s is payload MB/s in each direction at the median round trip (each
 * round trip carries the payload once each way; the median keeps the
 * VM's occasional millisecond stalls out of it); faults is the minor page
 * faults of this process (every thread) per measured round trip.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

#define CHILD_LIB BENCH_DIR "/libbench_ipc_child.so"
#define CODE_ECHO 1
#define CODE_STOP 2
#define BIG (200 * 1024) /* the largest parcel the runtime carries */
#define SOCKBUF (1 << 20)
#define BLOCKS 10 /* interleaved blocks per way and size */
#define WARMUP 20 /* per block */

static const size_t sizes[] = {16, 4096, BIG};
#define NSIZES (sizeof sizes / sizeof sizes[0])

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const char *what) {
    fprintf(stderr, "bench_ipc: %s failed (%s)\n", what, strerror(errno));
    exit(1);
}

/* ---- framing: whole messages over SEQPACKET, or length-prefixed over STREAM ---- */

static int stream_mode; /* 1: the raw ways use SOCK_STREAM (200 KiB did not fit) */

static int xfer_all(int fd, void *buf, size_t len, int sending) {
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = sending ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int msg_send(int fd, const void *buf, size_t len) {
    if (!stream_mode)
        return send(fd, buf, len, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
    uint32_t n = (uint32_t)len;
    struct iovec iov[2] = {{&n, sizeof n}, {(void *)buf, len}};
    ssize_t w = writev(fd, iov, 2);
    if (w < 0)
        return -1;
    if ((size_t)w < sizeof n) /* not seen in practice; finish by hand */
        return xfer_all(fd, (uint8_t *)&n + w, sizeof n - (size_t)w, 1) < 0 ||
                       xfer_all(fd, (void *)buf, len, 1) < 0
                   ? -1
                   : 0;
    return xfer_all(fd, (uint8_t *)buf + (w - (ssize_t)sizeof n), len + sizeof n - (size_t)w, 1);
}

/* A whole message into buf (cap bytes); its length, or -1. */
static ssize_t msg_recv(int fd, void *buf, size_t cap, int flags) {
    if (!stream_mode) {
        ssize_t n;
        do
            n = recv(fd, buf, cap, flags);
        while (n < 0 && errno == EINTR);
        if (n == 0)
            errno = EPIPE;
        return n == 0 ? -1 : n;
    }
    uint32_t n;
    ssize_t first = recv(fd, &n, sizeof n, flags);
    if (first < 0 && errno == EAGAIN)
        return -1;
    if (first == 0)
        errno = EPIPE;
    if (first <= 0 || (first < (ssize_t)sizeof n &&
                       xfer_all(fd, (uint8_t *)&n + first, sizeof n - (size_t)first, 0) < 0))
        return -1;
    if (n > cap || xfer_all(fd, buf, n, 0) < 0)
        return -1;
    return n;
}

static void size_socket(int fd) {
    int big = SOCKBUF;
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

static void make_pair(int sv[2]) {
    if (socketpair(AF_UNIX, (stream_mode ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    size_socket(sv[0]);
    size_socket(sv[1]);
}

/* Does one BIG datagram (plus a header's worth) fit through a sized
 * SEQPACKET pair? */
static int seqpacket_fits_big(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        die("socketpair");
    size_socket(sv[0]);
    size_socket(sv[1]);
    size_t len = BIG + 64;
    char *b = calloc(1, len);
    int ok = send(sv[0], b, len, MSG_DONTWAIT) == (ssize_t)len &&
             recv(sv[1], b, len, MSG_DONTWAIT) == (ssize_t)len;
    free(b);
    close(sv[0]);
    close(sv[1]);
    return ok;
}

/* ---- CPU placement ---------------------------------------------------------- */

static int split_mode;

static void pin_self(int last) {
    cpu_set_t set;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    CPU_ZERO(&set);
    CPU_SET(last && ncpu > 1 ? (int)ncpu - 1 : 0, &set);
    if (sched_setaffinity(0, sizeof set, &set) < 0)
        die("sched_setaffinity");
}

/* ---- the echo processes -------------------------------------------------------- */

/* Child side with handoff: the I/O thread receives, the worker answers. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fd;
    uint8_t *buf;
    ssize_t len; /* > 0: a request waits for the worker */
} ch = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, NULL, 0};

static void *child_worker(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&ch.lock);
        while (ch.len == 0)
            pthread_cond_wait(&ch.cond, &ch.lock);
        ssize_t len = ch.len;
        ch.len = 0; /* taken: the next request cannot come before our answer */
        pthread_mutex_unlock(&ch.lock);
        if (len < 0 || msg_send(ch.fd, ch.buf, (size_t)len) < 0)
            _exit(0);
    }
    return NULL;
}

static void echo_main(int fd, int handoff) {
    uint8_t *buf = malloc(BIG + 64);
    if (buf == NULL)
        _exit(1);
    if (!handoff) {
        for (;;) {
            ssize_t n = msg_recv(fd, buf, BIG + 64, 0);
            if (n < 0 || msg_send(fd, buf, (size_t)n) < 0)
                _exit(0);
        }
    }
    /* As the transport does: epoll, then receive until EAGAIN, then hand
     * each message to a worker. One request is in flight at a time, so
     * the worker is done with the buffer before the next one arrives. */
    ch.fd = fd;
    ch.buf = buf;
    pthread_t t;
    if (pthread_create(&t, NULL, child_worker, NULL) != 0)
        _exit(1);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        _exit(1);
    for (;;) {
        if (epoll_wait(ep, &ev, 1, -1) < 0)
            continue;
        for (;;) {
            ssize_t n = msg_recv(fd, buf, BIG + 64, MSG_DONTWAIT);
            if (n < 0 && errno == EAGAIN)
                break;
            pthread_mutex_lock(&ch.lock);
            ch.len = n < 0 ? -1 : n;
            pthread_cond_signal(&ch.cond);
            pthread_mutex_unlock(&ch.lock);
            if (n < 0) {
                pthread_join(t, NULL);
                _exit(0);
            }
        }
    }
}

struct echo {
    int fd;
    pid_t pid;
};

static struct echo fork_echo(int handoff) {
    int sv[2];
    make_pair(sv);
    pid_t pid = fork();
    if (pid < 0)
        die("fork");
    if (pid == 0) {
        close(sv[0]);
        if (split_mode)
            pin_self(1); /* before its threads: they inherit it */
        echo_main(sv[1], handoff);
    }
    close(sv[1]);
    return (struct echo){sv[0], pid};
}

/* ---- the ways, each one round trip of `len` bytes ---------------------------------- */

struct way {
    const char *name;
    const char *key;
    int (*round_trip)(struct way *w, const uint8_t *out, uint8_t *in, size_t len);
    struct echo echo;
    int parent_handoff;
    OHIPCRemoteProxy *proxy;
    struct handoff *handoff; /* parent_handoff: its I/O thread's state */
    pthread_t io_thread;
    double *samples[NSIZES];
    int count[NSIZES];
    long faults[NSIZES];
};

/* Parent side with handoff: an I/O thread receives for the calling thread. */
struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int fd;
    uint8_t *in; /* the waiting caller's buffer */
    int done;
    ssize_t len;
};

static void *parent_io(void *arg) {
    struct handoff *h = arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = h->fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, h->fd, &ev) < 0)
        die("epoll");
    for (;;) {
        if (epoll_wait(ep, &ev, 1, -1) < 0)
            continue;
        for (;;) {
            pthread_mutex_lock(&h->lock);
            uint8_t *in = h->in;
            pthread_mutex_unlock(&h->lock);
            ssize_t n = msg_recv(h->fd, in, BIG + 64, MSG_DONTWAIT);
            if (n < 0 && errno == EAGAIN)
                break;
            pthread_mutex_lock(&h->lock);
            h->len = n;
            h->done = 1;
            pthread_cond_signal(&h->cond);
            pthread_mutex_unlock(&h->lock);
            if (n < 0) {
                close(ep);
                return NULL;
            }
        }
    }
}

static int raw_round_trip(struct way *w, const uint8_t *out, uint8_t *in, size_t len) {
    struct handoff *h = w->handoff;
    if (h == NULL) {
        if (msg_send(w->echo.fd, out, len) < 0)
            return -1;
        return msg_recv(w->echo.fd, in, BIG + 64, 0) == (ssize_t)len ? 0 : -1;
    }
    pthread_mutex_lock(&h->lock);
    h->done = 0;
    h->in = in;
    pthread_mutex_unlock(&h->lock);
    if (msg_send(w->echo.fd, out, len) < 0)
        return -1;
    pthread_mutex_lock(&h->lock);
    while (!h->done)
        pthread_cond_wait(&h->cond, &h->lock);
    ssize_t n = h->len;
    pthread_mutex_unlock(&h->lock);
    return n == (ssize_t)len ? 0 : -1;
}

static int ipc_round_trip(struct way *w, const uint8_t *out, uint8_t *in, size_t len) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    int rc = data != NULL && reply != NULL ? 0 : -1;
    if (rc == 0)
        rc = OH_IPCParcel_WriteBuffer(data, out, (int32_t)len);
    if (rc == 0)
        rc = OH_IPCRemoteProxy_SendRequest(w->proxy, CODE_ECHO, data, reply, NULL);
    const uint8_t *got = rc == 0 ? OH_IPCParcel_ReadBuffer(reply, (int32_t)len) : NULL;
    if (got == NULL)
        rc = -1;
    else if (in != NULL)
        memcpy(in, got, len); /* only to check it; not on the timed path */
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    return rc;
}

/* ---- the IPC-mode child ---------------------------------------------------------- */

static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static int start_done, start_code;
static OHIPCRemoteProxy *start_proxy;

static void on_started(int code, OHIPCRemoteProxy *proxy) {
    pthread_mutex_lock(&start_lock);
    start_done = 1;
    start_code = code;
    start_proxy = proxy;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&start_lock);
}

static OHIPCRemoteProxy *start_ipc_child(void) {
    if (OH_Ability_CreateNativeChildProcess(CHILD_LIB, on_started) != NCP_NO_ERROR) {
        fprintf(stderr, "bench_ipc: OH_Ability_CreateNativeChildProcess refused %s\n", CHILD_LIB);
        exit(1);
    }
    pthread_mutex_lock(&start_lock);
    while (!start_done)
        pthread_cond_wait(&start_cond, &start_lock);
    pthread_mutex_unlock(&start_lock);
    if (start_code != NCP_NO_ERROR || start_proxy == NULL) {
        fprintf(stderr, "bench_ipc: the IPC child did not start (error %d)\n", start_code);
        exit(1);
    }
    return start_proxy;
}

static void stop_ipc_child(OHIPCRemoteProxy *proxy) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    (void)OH_IPCRemoteProxy_SendRequest(proxy, CODE_STOP, data, reply, NULL);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    for (int i = 0; i < 500 && !OH_IPCRemoteProxy_IsRemoteDead(proxy); i++)
        usleep(10000);
    OH_IPCRemoteProxy_Destroy(proxy);
}

/* ---- measuring ------------------------------------------------------------------- */

static long minor_faults(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static void run_block(struct way *w, size_t si, int n, const uint8_t *out, uint8_t *in) {
    size_t len = sizes[si];
    long faults = 0;
    for (int i = -WARMUP; i < n; i++) {
        if (i == 0)
            faults = minor_faults();
        int check = i < 0; /* warm-up rounds also check the bytes */
        if (check)
            memset(in, 0, len);
        double t0 = now_us();
        /* SendRequest copies the reply out only when checking; the raw
         * ways always receive into `in` */
        uint8_t *dst = check || w->proxy == NULL ? in : NULL;
        if (w->round_trip(w, out, dst, len) < 0) {
            fprintf(stderr, "bench_ipc: %s: round trip of %zu bytes failed\n", w->name, len);
            exit(1);
        }
        double dt = now_us() - t0;
        if (check && memcmp(in, out, len) != 0) {
            fprintf(stderr, "bench_ipc: %s: the echo of %zu bytes differs\n", w->name, len);
            exit(1);
        }
        if (i >= 0) {
            w->samples[si][w->count[si]++] = dt;
        }
    }
    w->faults[si] += minor_faults() - faults;
}

static void report(struct way *w, size_t si) {
    int n = w->count[si];
    double *v = w->samples[si];
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    double mb_s = (double)sizes[si] / v[n / 2]; /* bytes per us = MB/s */
    printf("{\"name\": \"%s\", \"way\": \"%s\", \"size\": %zu, \"n\": %d, \"median_us\": %.2f, "
           "\"p99_us\": %.2f, \"mb_s\": %.1f, \"faults\": %.2f}\n",
           w->name, w->key, sizes[si], n, v[n / 2], v[(n * 99) / 100], mb_s,
           (double)w->faults[si] / n);
    fflush(stdout);
}

int main(int argc, char **argv) {
    int n_small = argc > 1 ? atoi(argv[1]) : 2000;
    int n_big = argc > 2 ? atoi(argv[2]) : 300;
    if (n_small < BLOCKS * 10 || n_small > 1000000)
        n_small = 2000;
    if (n_big < BLOCKS * 10 || n_big > 1000000)
        n_big = 300;
    signal(SIGPIPE, SIG_IGN);
    const char *cpus = getenv("BENCH_IPC_CPUS");
    if (cpus == NULL || *cpus == '\0')
        cpus = "free";
    if (strcmp(cpus, "one") == 0 || strcmp(cpus, "split") == 0)
        pin_self(0); /* the spawner, and so the IPC child, inherit it */
    else if (strcmp(cpus, "free") != 0) {
        fprintf(stderr, "bench_ipc: BENCH_IPC_CPUS must be free, one or split\n");
        return 2;
    }
    split_mode = strcmp(cpus, "split") == 0;
    const char *force_stream = getenv("BENCH_IPC_STREAM");
    stream_mode = (force_stream != NULL && strcmp(force_stream, "1") == 0) || !seqpacket_fits_big();
    printf("{\"name\": \"setup\", \"socket\": \"%s\", \"sockbuf\": %d, \"cpus\": \"%s\", "
           "\"ncpu\": %ld}\n",
           stream_mode ? "SOCK_STREAM with a 4-byte length prefix"
                       : "SOCK_SEQPACKET",
           SOCKBUF, cpus, sysconf(_SC_NPROCESSORS_ONLN));

    /* Fork the echo processes while this process has one thread. */
    struct way ways[] = {
        {.name = "SendRequest (ohncp)", .key = "sendrequest", .round_trip = ipc_round_trip,
         .echo = {-1, 0}},
        {.name = "raw ping-pong", .key = "raw", .round_trip = raw_round_trip,
         .echo = fork_echo(0)},
        {.name = "raw, child: I/O thread + worker", .key = "raw_child_handoff",
         .round_trip = raw_round_trip, .echo = fork_echo(1)},
        {.name = "raw, parent: I/O thread + condvar", .key = "raw_parent_handoff",
         .round_trip = raw_round_trip, .echo = fork_echo(0), .parent_handoff = 1},
        {.name = "raw, both (the transport's thread shape)", .key = "raw_both_handoff",
         .round_trip = raw_round_trip, .echo = fork_echo(1), .parent_handoff = 1},
    };
    size_t nways = sizeof ways / sizeof ways[0];
    const char *only = getenv("BENCH_IPC_ONLY");
    if (only != NULL && *only != '\0') { /* keep the chosen ways, in order */
        size_t kept = 0;
        for (size_t k = 0; k < nways; k++) {
            char pat[64];
            snprintf(pat, sizeof pat, ",%s,", ways[k].key);
            char list[256];
            snprintf(list, sizeof list, ",%s,", only);
            if (strstr(list, pat) != NULL)
                ways[kept++] = ways[k];
            else if (ways[k].echo.pid > 0) {
                /* EOF for its echo process (the later ones hold copies
                 * of this end, so closing it would not do) */
                (void)shutdown(ways[k].echo.fd, SHUT_RDWR);
                close(ways[k].echo.fd);
                waitpid(ways[k].echo.pid, NULL, 0);
            }
        }
        nways = kept;
    }
    for (size_t k = 0; k < nways; k++) {
        struct way *w = &ways[k];
        if (!w->parent_handoff)
            continue;
        w->handoff = calloc(1, sizeof *w->handoff);
        if (w->handoff == NULL)
            die("calloc");
        pthread_mutex_init(&w->handoff->lock, NULL);
        pthread_cond_init(&w->handoff->cond, NULL);
        w->handoff->fd = w->echo.fd;
        if (pthread_create(&w->io_thread, NULL, parent_io, w->handoff) != 0)
            die("pthread_create");
    }
    for (size_t k = 0; k < nways; k++)
        if (ways[k].round_trip == ipc_round_trip)
            ways[k].proxy = start_ipc_child();

    uint8_t *out = malloc(BIG + 64), *in = malloc(BIG + 64);
    if (out == NULL || in == NULL)
        die("malloc");
    for (size_t i = 0; i < BIG + 64; i++)
        out[i] = (uint8_t)(i * 131 + 7);

    for (size_t si = 0; si < NSIZES; si++) {
        int n = sizes[si] >= BIG ? n_big : n_small;
        for (size_t k = 0; k < nways; k++)
            if ((ways[k].samples[si] = calloc((size_t)n, sizeof(double))) == NULL)
                die("calloc");
        for (int b = 0; b < BLOCKS; b++) {
            int per = n / BLOCKS + (b < n % BLOCKS);
            for (size_t k = 0; k < nways; k++)
                run_block(&ways[k], si, per, out, in);
        }
        for (size_t k = 0; k < nways; k++)
            report(&ways[k], si);
    }

    for (size_t k = 0; k < nways; k++) {
        if (ways[k].proxy != NULL) {
            stop_ipc_child(ways[k].proxy);
            continue;
        }
        /* EOF for the echo process and for our I/O thread, if any */
        (void)shutdown(ways[k].echo.fd, SHUT_RDWR);
        if (ways[k].handoff != NULL)
            pthread_join(ways[k].io_thread, NULL);
        close(ways[k].echo.fd);
        waitpid(ways[k].echo.pid, NULL, 0);
        free(ways[k].handoff);
    }
    for (size_t si = 0; si < NSIZES; si++)
        for (size_t k = 0; k < nways; k++)
            free(ways[k].samples[si]);
    free(out);
    free(in);
    return 0;
}
