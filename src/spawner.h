/* spawner.h - what spawner.c and child.c (both in ohncp-spawner) share. */
#ifndef OHNCP_SPAWNER_H
#define OHNCP_SPAWNER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "proto.h"

/* A parsed, validated PROTO_START; every pointer points into `payload`. */
struct child_req {
    uint32_t slot, gen;
    const char *lib, *sym, *params, *pname;
    const char *names[PROTO_MAX_FDS];
    int nfds;
    char **envp;   /* NULL-terminated, malloc'd */
    char *payload; /* malloc'd copy of the payload */
    int report_fd, cwd_fd;
    int std_fds[3]; /* -1 where the caller had that fd closed */
    int fds[PROTO_MAX_FDS];
    bool ipc;       /* IPC mode: OnConnect/MainProc instead of `sym` */
    int channel_fd; /* IPC mode: our end of the channel to the parent */
    bool isolated;  /* isolated mode: sandbox_enter before loading */
    bool own_uid;   /* ... with isolationUid */
    int caller_cpu; /* where the caller waits for the report; -1 unknown */
    uint32_t rlim_mask; /* the caller's resource limits (proto.h) */
    struct rlimit rlim[PROTO_NRLIMITS];
};

/* ---- request.c ---- */

/* Receive one PROTO_START from `sock` (recvmsg flags `flags`) into `r`.
 * Returns 0; -EAGAIN; -EPIPE at EOF; -EINVAL for a malformed message (its
 * fds are closed and its sender, if reachable, told). */
int request_receive(int sock, int flags, struct child_req *r);
/* The same for a message already received: `buf[0..n)` with its fds
 * `fds[0..nfds)` (`truncated`: the kernel cut it short). On failure the
 * fds are closed. */
int request_take(const char *buf, size_t n, const int *fds, int nfds, bool truncated,
                 struct child_req *r);
void request_init(struct child_req *r);
/* Write a failure report to a start's report pipe. */
void request_report(int fd, int code, const char *msg);
void request_close_fds(struct child_req *r);
void request_free(struct child_req *r);

/* ---- spawner.c / child.c ---- */

#define CTL_FD 3   /* control socket: KILL in, EXIT out */
#define START_FD 4 /* start socket: START in, read by the standby child */

/* The note a standby writes to the spawner when it takes a request. */
struct standby_note {
    uint32_t slot, gen;
    uint32_t isolated; /* an isolated start: the spawner shares a network namespace */
};

/* The spawner's writable private mappings, which standbys prefault. */
struct map_range {
    uintptr_t lo, hi;
    bool is_heap;
};
#define MAX_MAP_RANGES 64
extern struct map_range spawner_ranges[MAX_MAP_RANGES];
extern int spawner_nranges;

/* Set by main(): where the process name is written, and our own facts. */
extern char *spawner_argv_area;
extern size_t spawner_argv_len;
extern pid_t spawner_pid;
extern struct rlimit spawner_orig_nofile;

/* In a freshly forked child: die with the spawner (PR_SET_PDEATHSIG, and
 * exit at once if it is already gone). */
void watch_spawner(void);

/* Runs in a forked child that called watch_spawner; never returns. `note_fd` (or -1) is
 * closed once the caller has its report. */
__attribute__((noreturn)) void child_run(const struct child_req *req, int note_fd);

/* The standby child: waits for one request on START_FD, tells the spawner
 * on `note_fd` which slot it took, and becomes that child. */
__attribute__((noreturn)) void standby_run(int note_fd);

#endif /* OHNCP_SPAWNER_H */
