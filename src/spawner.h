/* spawner.h - what spawner.c and child.c (both in ohncp-spawner) share. */
#ifndef OHNCP_SPAWNER_H
#define OHNCP_SPAWNER_H

#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "proto.h"

/* A parsed, validated PROTO_START; every pointer points into `payload`. */
struct child_req {
    uint32_t slot;
    const char *lib, *sym, *params, *pname;
    const char *names[PROTO_MAX_FDS];
    int nfds;
    char **envp;   /* NULL-terminated, malloc'd */
    char *payload; /* malloc'd copy of the payload */
    int report_fd, cwd_fd;
    int std_fds[3]; /* -1 where the caller had that fd closed */
    int fds[PROTO_MAX_FDS];
};

/* Set by main(): where the process name is written, and our own facts. */
extern char *spawner_argv_area;
extern size_t spawner_argv_len;
extern pid_t spawner_pid;
extern struct rlimit spawner_orig_nofile;

/* Runs in the freshly forked child; never returns. */
__attribute__((noreturn)) void child_run(const struct child_req *req);

#endif /* OHNCP_SPAWNER_H */
