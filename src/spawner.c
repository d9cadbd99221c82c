/*
 * spawner.c - ohncp-spawner: makes every child of one parent process.
 *
 * Map:
 *   1. state: the exported child-state symbol, the children table
 *   2. exit events (queued, sent without blocking); kills
 *   3. the standby child
 *   4. requests: KILL, and START when there is no standby
 *   5. shutdown and main loop
 *
 * Started once per parent by libchild_process.so with the control socket
 * as fd 3, the start socket as fd 4, argv = {path, parent pid, padding}.
 * Single-threaded, so children forked here may allocate and dlopen freely.
 *
 * Starts take the fork off their path: pre-forked, pre-faulted standby
 * children wait on the start socket; one takes the next request itself,
 * tells us its slot, and becomes that child while we fork a replacement.
 * With no standby (fork failing) we take requests ourselves and fork per
 * request.
 *
 * We are the children's real parent, so a pid in our table cannot be
 * recycled before it is reaped here: kill() by pid is race-free without
 * pidfds. We die with the parent (PR_SET_PDEATHSIG, and EOF on the control
 * socket) and take the children with us.
 */
#include "internal.h"
#include "sandbox.h"
#include "spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
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

struct map_range spawner_ranges[MAX_MAP_RANGES];
int spawner_nranges;
char *spawner_argv_area;
size_t spawner_argv_len;
pid_t spawner_pid;
struct rlimit spawner_orig_nofile;

#define MAX_KIDS 1024
#define NO_SLOT UINT32_MAX

static struct kid {
    pid_t pid;
    uint32_t slot; /* NO_SLOT: the standby, not yet a child */
    uint32_t gen;  /* of the start it took (proto.h) */
} kids[MAX_KIDS];
static int nkids;

/* Per slot: the gen of the last start a process took for it, and of a kill
 * that came before its start was taken. A slot's starts reach us in gen
 * order: the parent reuses a slot only after our EXIT for the last one. */
static uint32_t slot_taken[OHNCP_MAX_CHILDREN_HARD];
static uint32_t slot_kill[OHNCP_MAX_CHILDREN_HARD];

static int find_kid(pid_t pid) {
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid == pid)
            return i;
    return -1;
}

/* ---- 2. exit events, kills ----------------------------------------------------- */

/* The parent may be busy in a callback that itself starts a child; never
 * block on it. The queue holds at most one event per child. */
static struct proto_exit outq[MAX_KIDS];
static int outq_head, outq_len;

static void queue_exit(uint32_t slot, uint32_t gen, pid_t pid, int wstatus) {
    int tail = (outq_head + outq_len) % MAX_KIDS;
    outq[tail] = (struct proto_exit){PROTO_EXIT, slot, gen, pid, wstatus};
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

/* Kid k took start (slot, gen); a kill that came first lands now. */
static void took_start(int k, uint32_t slot, uint32_t gen) {
    if (slot >= OHNCP_MAX_CHILDREN_HARD)
        return; /* request.c refuses such slots */
    kids[k].slot = slot;
    kids[k].gen = gen;
    slot_taken[slot] = gen;
    if (slot_kill[slot] == gen)
        (void)kill(kids[k].pid, SIGKILL);
}

static void collect_notes(void);

/* The race this exists for: a KILL may come before we know which process
 * took its start (the request still in the start socket when the start
 * timed out; a note not yet read). Such a kill waits in slot_kill. */
static void do_kill(const struct proto_kill *k) {
    if (k->slot >= OHNCP_MAX_CHILDREN_HARD)
        return;
    collect_notes(); /* a note written before the KILL was sent is read first */
    for (int i = 0; i < nkids; i++) {
        if (kids[i].slot == k->slot && kids[i].gen == k->gen) {
            if (k->pid == 0 || kids[i].pid == k->pid)
                (void)kill(kids[i].pid, SIGKILL);
            return;
        }
    }
    if (slot_taken[k->slot] == k->gen)
        return; /* reaped already, its EXIT sent */
    if (k->flags & PROTO_KILL_F_TAKEN) {
        /* Its standby died before its note (we reaped it as a standby): no
         * EXIT would ever free the slot. How it died is not known here;
         * killed, as a standby does not die by itself. */
        slot_taken[k->slot] = k->gen;
        queue_exit(k->slot, k->gen, 0, SIGKILL);
        return;
    }
    slot_kill[k->slot] = k->gen; /* not taken yet */
}

/* ---- 3. the standby children ------------------------------------------------------ */

/* Two standbys wait at once, so back-to-back starts find one ready while
 * the replacement for the previous one is still being forked. */
#define STANDBY_POOL 2

static struct standby {
    pid_t pid;   /* 0: free place */
    int note_fd; /* read end of its note pipe */
    bool taken;  /* it took a request and is starting; its place frees at EOF */
} standbys[STANDBY_POOL] = {{0, -1, false}, {0, -1, false}};
static int nready;                 /* standbys waiting for a request */
static int standby_failures;       /* died in a row without taking a request */
static long long standby_retry_ns; /* after failures, no new standby before this */

static int standby_pool = STANDBY_POOL; /* OHNCP_STANDBY may lower it */

static void make_standbys(void) {
    for (int i = 0; i < standby_pool; i++) {
        if (standbys[i].pid != 0)
            continue;
        if (nkids == MAX_KIDS || sys_now_ns() < standby_retry_ns)
            return;
        int note[2];
        if (pipe2(note, O_CLOEXEC | O_NONBLOCK) < 0)
            return;
        pid_t pid = fork();
        if (pid == 0) {
            sys_close(note[0]);
            standby_run(note[1]);
        }
        sys_close(note[1]);
        if (pid < 0) {
            sys_close(note[0]);
            standby_retry_ns = sys_now_ns() + 100000000LL; /* meanwhile: fork per request */
            return;
        }
        standbys[i] = (struct standby){pid, note[0], false};
        nready++;
        kids[nkids++] = (struct kid){pid, NO_SLOT, 0};
    }
}

/* Standby i's note pipe: first its slot when it takes a request, then EOF
 * once it has reported to the caller (or died). Its place is refilled only
 * at EOF, so the fork of a replacement does not compete for a CPU with the
 * start in progress; the other standby serves back-to-back starts. */
static void collect_note(int i) {
    struct standby *sb = &standbys[i];
    struct standby_note note;
    ssize_t n = sys_read(sb->note_fd, &note, sizeof note);
    if (n == (ssize_t)sizeof note && !sb->taken) {
        int k = find_kid(sb->pid);
        if (k >= 0)
            took_start(k, note.slot, note.gen);
        if (note.isolated) /* the standbys forked from now on join it */
            sandbox_share_net();
        sb->taken = true;
        nready--;
        standby_failures = 0;
        n = sys_read(sb->note_fd, &note, sizeof note); /* EOF already? */
    }
    if (n == -EAGAIN)
        return;
    if (!sb->taken) {
        nready--;
        if (++standby_failures >= 3) /* they keep dying: back off */
            standby_retry_ns = sys_now_ns() + 100000000LL;
    }
    sys_closep(&sb->note_fd);
    *sb = (struct standby){0, -1, false};
}

/* Every standby's note, readable at poll time or not. */
static void collect_notes(void) {
    for (int i = 0; i < STANDBY_POOL; i++)
        if (standbys[i].pid != 0)
            collect_note(i);
}

static int find_standby(pid_t pid) {
    for (int i = 0; i < STANDBY_POOL; i++)
        if (standbys[i].pid == pid)
            return i;
    return -1;
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
        int sb = find_standby(pid);
        if (sb >= 0)
            collect_note(sb); /* it may have taken a request and exited already */
        int i = find_kid(pid);
        if (i < 0)
            continue;
        if (kids[i].slot != NO_SLOT)
            queue_exit(kids[i].slot, kids[i].gen, pid, st);
        kids[i] = kids[--nkids];
    }
}

/* ---- 4. requests ------------------------------------------------------------- */

/* No standby: take one request and fork for it here. */
static void serve_start(void) {
    struct child_req r;
    if (request_receive(START_FD, MSG_DONTWAIT, &r) < 0)
        return;
    if (r.isolated)
        sandbox_share_net();
    if (nkids == MAX_KIDS) {
        request_report(r.report_fd, NCP_ERR_MAX_CHILD_PROCESSES_REACHED, "spawner: child table full");
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            watch_spawner();
            child_run(&r, -1); /* closes every fd it does not need */
        }
        if (pid < 0) {
            request_report(r.report_fd, NCP_ERR_INTERNAL, strerror(errno));
        } else {
            kids[nkids] = (struct kid){pid, NO_SLOT, 0};
            took_start(nkids++, r.slot, r.gen);
        }
    }
    request_close_fds(&r);
    request_free(&r);
}

/* Control messages (KILL); returns false once the parent is gone. */
static bool serve_control(void) {
    struct proto_kill k;
    struct iovec iov = {.iov_base = &k, .iov_len = sizeof k};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    for (;;) {
        ssize_t n = sys_recvmsg(CTL_FD, &msg, MSG_DONTWAIT);
        if (n == -EAGAIN)
            return true;
        if (n <= 0)
            return false;
        if (n == (ssize_t)sizeof k && k.type == PROTO_KILL)
            do_kill(&k);
    }
}

/* Note the writable private mappings (at most 1 MiB each) for prefault(),
 * except our own data and bss: the tables there are the spawner's alone. */
static void map_ranges(void) {
    extern char __executable_start[], _end[];
    char buf[16384];
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : sys_read(fd, buf, sizeof buf - 1);
    sys_close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *line = strtok(buf, "\n"); line != NULL && spawner_nranges < MAX_MAP_RANGES;
         line = strtok(NULL, "\n")) {
        unsigned long lo, hi;
        char perms[5];
        if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) != 3 || strcmp(perms, "rw-p") != 0 ||
            hi - lo > (1UL << 20) || strstr(line, "[stack]") != NULL ||
            (lo < (uintptr_t)_end && hi > (uintptr_t)__executable_start))
            continue;
        spawner_ranges[spawner_nranges++] =
            (struct map_range){lo, hi, strstr(line, "[heap]") != NULL};
    }
}

/* ---- 5. shutdown and main loop ---------------------------------------------------- */

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
    if (sys_close_range(START_FD + 1, ~0U) < 0)
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
    if (sys_set_cloexec(CTL_FD, 1) < 0 || sys_set_cloexec(START_FD, 1) < 0)
        return -1;
    getrlimit(RLIMIT_NOFILE, &spawner_orig_nofile);
    struct rlimit raised = spawner_orig_nofile;
    raised.rlim_cur = raised.rlim_max;
    (void)setrlimit(RLIMIT_NOFILE, &raised);
    const char *pool = getenv("OHNCP_STANDBY"); /* 0 forks per request */
    if (pool != NULL && *pool >= '0' && *pool < '0' + STANDBY_POOL && pool[1] == '\0')
        standby_pool = *pool - '0';
    sandbox_init();
    free(malloc(1)); /* the heap exists before its range is noted */
    map_ranges();
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
        make_standbys();
        struct pollfd p[3 + STANDBY_POOL] = {
            {.fd = CTL_FD, .events = (short)(POLLIN | (outq_len ? POLLOUT : 0))},
            {.fd = sigfd, .events = POLLIN},
            {.fd = nready == 0 ? START_FD : -1, .events = POLLIN},
        };
        for (int i = 0; i < STANDBY_POOL; i++)
            p[3 + i] = (struct pollfd){.fd = standbys[i].note_fd, .events = POLLIN};
        int timeout = standby_retry_ns > sys_now_ns() ? 100 : -1;
        if (poll(p, 3 + STANDBY_POOL, timeout) < 0) {
            if (errno == EINTR)
                continue;
            shutdown_all();
        }
        collect_notes(); /* first: a KILL may name the start a standby took just now */
        if (p[1].revents)
            reap(sigfd);
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !serve_control())
            shutdown_all();
        if (p[2].revents & POLLIN)
            serve_start();
        if (!flush_exits())
            shutdown_all();
    }
}
