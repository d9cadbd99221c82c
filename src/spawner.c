/*
 * spawner.c - ohncp-spawner: forks every child of one parent process.
 *
 * Map:
 *   1. state: the exported child-state symbol, the children table
 *   2. exit events (queued, sent without blocking)
 *   3. requests: START and KILL
 *   4. shutdown and main loop
 *
 * Started once per parent by libchild_process.so with its control socket as
 * fd 3 and argv = {path, parent pid, padding}. Single-threaded, so children
 * forked here may allocate and dlopen freely. It is the children's real
 * parent, so a pid in its table cannot be recycled before it is reaped
 * here: kill() by pid is race-free without pidfds. It dies with the parent
 * (PR_SET_PDEATHSIG, and EOF on the socket) and takes the children with it.
 */
#include "internal.h"
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- 1. state -------------------------------------------------------------- */

__attribute__((visibility("default"))) struct ohncp_spawner_state ohncp_spawner_state = {
    .magic = OHNCP_STATE_MAGIC,
    .version = OHNCP_STATE_VERSION,
};

char *spawner_argv_area;
size_t spawner_argv_len;
pid_t spawner_pid;
struct rlimit spawner_orig_nofile;

#define CTL_FD 3
#define MAX_KIDS 1024

static struct kid {
    pid_t pid;
    uint32_t slot;
} kids[MAX_KIDS];
static int nkids;

static int find_kid(pid_t pid) {
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid == pid)
            return i;
    return -1;
}

/* ---- 2. exit events ------------------------------------------------------------ */

/* The parent may be busy in a callback that itself starts a child; never
 * block on it. The queue holds at most one event per child. */
static struct proto_exit outq[MAX_KIDS];
static int outq_head, outq_len;

static void queue_exit(uint32_t slot, pid_t pid, int wstatus) {
    int tail = (outq_head + outq_len) % MAX_KIDS;
    outq[tail] = (struct proto_exit){PROTO_EXIT, slot, pid, wstatus};
    outq_len++;
}

/* Returns false if the parent is gone. */
static bool flush_exits(void) {
    while (outq_len > 0) {
        struct iovec iov = {.iov_base = &outq[outq_head], .iov_len = sizeof outq[0]};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
        ssize_t n = sys_sendmsg(CTL_FD, &msg, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return true;
        if (n < 0)
            return false;
        outq_head = (outq_head + 1) % MAX_KIDS;
        outq_len--;
    }
    return true;
}

static void reap(int sigfd) {
    struct signalfd_siginfo si;
    while (sys_read(sigfd, &si, sizeof si) > 0)
        ;
    for (;;) {
        int st;
        pid_t pid = waitpid(-1, &st, WNOHANG);
        if (pid <= 0)
            break;
        int i = find_kid(pid);
        if (i < 0)
            continue;
        queue_exit(kids[i].slot, pid, st);
        kids[i] = kids[--nkids];
    }
}

/* ---- 3. requests ------------------------------------------------------------- */

/* Each section must be exactly `count` NUL-terminated strings filling `len`. */
static const char *take_strings(const char **p, const char *end, uint32_t len, uint32_t count,
                                const char **out) {
    const char *start = *p;
    if (len > (size_t)(end - start))
        return NULL;
    const char *q = start, *stop = start + len;
    for (uint32_t i = 0; i < count; i++) {
        const char *nul = memchr(q, '\0', (size_t)(stop - q));
        if (nul == NULL)
            return NULL;
        if (out != NULL)
            out[i] = q;
        q = nul + 1;
    }
    if (q != stop)
        return NULL;
    *p = stop;
    return start;
}

static int parse_sections(const struct proto_start *h, struct child_req *r) {
    const char *p = r->payload, *end = r->payload + h->payload_len;
    if (h->nenv > h->env_len)
        return -1;
    r->envp = calloc((size_t)h->nenv + 1, sizeof(char *));
    if (r->envp == NULL)
        return -1;
    if ((r->lib = take_strings(&p, end, h->lib_len, 1, NULL)) == NULL ||
        (r->sym = take_strings(&p, end, h->sym_len, 1, NULL)) == NULL ||
        (r->params = take_strings(&p, end, h->params_len, 1, NULL)) == NULL ||
        take_strings(&p, end, h->names_len, h->nfds, r->names) == NULL ||
        take_strings(&p, end, h->env_len, h->nenv, (const char **)r->envp) == NULL ||
        (r->pname = take_strings(&p, end, h->pname_len, 1, NULL)) == NULL || p != end)
        return -1;
    return 0;
}

/* Assign the received fds to their roles (proto.h order). */
static int assign_fds(const struct proto_start *h, struct child_req *r, const int *fds, int n,
                      int *memfd) {
    int want = 2 + __builtin_popcount(h->std_mask & 7u) + (h->flags & PROTO_F_MEMFD ? 1 : 0) +
               (int)h->nfds;
    if (h->nfds > PROTO_MAX_FDS || n != want)
        return -1;
    int k = 0;
    r->report_fd = fds[k++];
    r->cwd_fd = fds[k++];
    for (int i = 0; i < 3; i++)
        r->std_fds[i] = h->std_mask & (1u << i) ? fds[k++] : -1;
    *memfd = h->flags & PROTO_F_MEMFD ? fds[k++] : -1;
    r->nfds = (int)h->nfds;
    for (int i = 0; i < r->nfds; i++)
        r->fds[i] = fds[k++];
    return 0;
}

static int load_payload(const struct proto_start *h, const char *inline_data, size_t inline_len,
                        int memfd, struct child_req *r) {
    if (h->payload_len > PROTO_PAYLOAD_MAX)
        return -1;
    if (memfd < 0 && inline_len != h->payload_len)
        return -1;
    r->payload = malloc(h->payload_len ? h->payload_len : 1);
    if (r->payload == NULL)
        return -1;
    if (memfd < 0) {
        memcpy(r->payload, inline_data, inline_len);
        return 0;
    }
    ssize_t got;
    do
        got = pread(memfd, r->payload, h->payload_len, 0);
    while (got < 0 && errno == EINTR);
    return got == (ssize_t)h->payload_len ? 0 : -1;
}

static void report(int fd, int code, const char *msg) {
    struct proto_report rep = {.code = code, .pid = 0};
    strncpy(rep.msg, msg, sizeof rep.msg - 1);
    (void)sys_write_all(fd, &rep, sizeof rep);
}

static void do_start(const char *buf, size_t n, const int *fds, int nfds) {
    struct proto_start h;
    struct child_req r = {.report_fd = -1};
    int memfd = -1;
    memcpy(&h, buf, sizeof h);
    if (assign_fds(&h, &r, fds, nfds, &memfd) < 0)
        return; /* malformed: the caller sees EOF on its report pipe */
    r.slot = h.slot;
    if (load_payload(&h, buf + sizeof h, n - sizeof h, memfd, &r) < 0 ||
        parse_sections(&h, &r) < 0) {
        report(r.report_fd, NCP_ERR_INTERNAL, "spawner: malformed start request");
    } else if (nkids == MAX_KIDS) {
        report(r.report_fd, NCP_ERR_MAX_CHILD_PROCESSES_REACHED, "spawner: child table full");
    } else {
        pid_t pid = fork();
        if (pid == 0)
            child_run(&r);
        if (pid < 0)
            report(r.report_fd, NCP_ERR_INTERNAL, strerror(errno));
        else
            kids[nkids++] = (struct kid){pid, h.slot};
    }
    free(r.envp);
    free(r.payload);
}

static void do_kill(const struct proto_kill *k) {
    for (int i = 0; i < nkids; i++) {
        if (kids[i].slot == k->slot && (k->pid == 0 || kids[i].pid == k->pid)) {
            (void)kill(kids[i].pid, SIGKILL);
            return;
        }
    }
}

/* Returns false once the parent is gone. */
static bool handle_request(void) {
    static char buf[sizeof(struct proto_start) + PROTO_INLINE_MAX];
    union {
        char c[CMSG_SPACE(sizeof(int) * (PROTO_FIXED_FDS + PROTO_MAX_FDS))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c,
                         .msg_controllen = sizeof u.c};
    ssize_t n = sys_recvmsg(CTL_FD, &msg, MSG_DONTWAIT);
    if (n == -EAGAIN)
        return true;
    if (n <= 0)
        return false;
    int fds[PROTO_FIXED_FDS + PROTO_MAX_FDS], nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
        nfds += k;
    }
    uint32_t type = 0;
    if ((size_t)n >= sizeof type)
        memcpy(&type, buf, sizeof type);
    if (type == PROTO_START && (size_t)n >= sizeof(struct proto_start) && !(msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC)))
        do_start(buf, (size_t)n, fds, nfds);
    else if (type == PROTO_KILL && (size_t)n == sizeof(struct proto_kill))
        do_kill((const struct proto_kill *)(void *)buf);
    for (int i = 0; i < nfds; i++)
        sys_close(fds[i]);
    return true;
}

/* ---- 4. shutdown and main loop ---------------------------------------------------- */

/* The parent is gone: no child outlives it. */
static __attribute__((noreturn)) void shutdown_all(void) {
    for (int i = 0; i < nkids; i++)
        (void)kill(kids[i].pid, SIGKILL);
    for (int i = 0; i < nkids; i++)
        while (waitpid(kids[i].pid, NULL, 0) < 0 && errno == EINTR)
            ;
    _exit(0);
}

static int setup(int argc, char **argv, sigset_t *mask) {
    if (argc < 3)
        return -1;
    /* The parent's fds without close-on-exec came along through exec; none
     * of them is ours to keep (a child holding a pipe end open would keep
     * the parent's reader waiting for EOF). */
    if (close_range(CTL_FD + 1, ~0U, 0) < 0)
        return -1;
    pid_t parent = (pid_t)atoi(argv[1]);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        return -1; /* the parent died before we could watch it */
    spawner_pid = getpid();
    spawner_argv_area = argv[0];
    spawner_argv_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) + 1 - argv[0]);
    for (int fd = 0; fd < 3; fd++) /* received fds must never land on 0-2 */
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
            return -1;
    if (sys_set_cloexec(CTL_FD, 1) < 0)
        return -1;
    getrlimit(RLIMIT_NOFILE, &spawner_orig_nofile);
    struct rlimit raised = spawner_orig_nofile;
    raised.rlim_cur = raised.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &raised);
    sigemptyset(mask);
    sigaddset(mask, SIGCHLD);
    sigset_t blocked = *mask;
    sigaddset(&blocked, SIGPIPE);
    sigaddset(&blocked, SIGINT); /* Ctrl-C is for the parent and the children */
    sigaddset(&blocked, SIGQUIT);
    return sigprocmask(SIG_BLOCK, &blocked, NULL);
}

int main(int argc, char **argv) {
    sigset_t mask;
    if (setup(argc, argv, &mask) < 0)
        return 1;
    int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sigfd < 0)
        return 1;
    for (;;) {
        struct pollfd p[2] = {
            {.fd = CTL_FD, .events = (short)(POLLIN | (outq_len ? POLLOUT : 0))},
            {.fd = sigfd, .events = POLLIN},
        };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            shutdown_all();
        }
        if (p[1].revents)
            reap(sigfd);
        if ((p[0].revents & POLLIN) && !handle_request())
            shutdown_all();
        if ((p[0].revents & (POLLHUP | POLLERR)) && !(p[0].revents & POLLIN))
            shutdown_all();
        if (!flush_exits())
            shutdown_all();
    }
}
