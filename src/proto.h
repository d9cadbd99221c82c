/*
 * proto.h - the private wire format between libchild_process.so (the parent
 * runtime) and ohncp-spawner, over one AF_UNIX SOCK_SEQPACKET socketpair.
 *
 * Parent -> spawner: PROTO_START (header + payload + fds), PROTO_KILL.
 * Spawner -> parent: PROTO_EXIT, one per reaped child (and one for a start
 * whose standby died before it could say which slot it took).
 * Child (or spawner, if fork fails) -> the starting thread: one
 * struct proto_report written to the report pipe that came with START.
 *
 * A start is named by (slot, gen): `gen` counts the starts of one slot, so
 * a KILL can name a start the spawner has not seen yet (its request still
 * waits in the start socket, or the standby's note is still in its pipe)
 * without ever hitting a later start of the same slot.
 *
 * Both ends are the same build of this project, so the layout is native;
 * the spawner still checks every length it is given.
 */
#ifndef OHNCP_PROTO_H
#define OHNCP_PROTO_H

#include <stdint.h>

#define PROTO_MAX_FDS 16           /* named fds per child (spec §3) */
#define PROTO_FIXED_FDS 7          /* report, cwd, fds 0-2, memfd, channel */
#define PROTO_INLINE_MAX (48 * 1024) /* larger payloads travel in a memfd */
#define PROTO_PAYLOAD_MAX (16 * 1024 * 1024)
#define PROTO_NAME_MAX 512         /* "{bundle}:{name}" incl. NUL */
#define PROTO_NRLIMITS 16          /* RLIMIT_CPU (0) .. RLIMIT_RTTIME (15) */

enum proto_type {
    PROTO_START = 1,
    PROTO_KILL = 2,
    PROTO_EXIT = 3,
};

#define PROTO_F_MEMFD 1u /* payload is in a memfd, not inline */
#define PROTO_F_IPC 2u   /* IPC mode: `sym` is empty, a channel fd comes along */
#define PROTO_F_ISOLATED 4u /* isolated mode (sandbox.c) */
#define PROTO_F_OWN_UID 8u  /* isolated, under a uid of its own (isolationUid) */
/* Bits 16-31 of flags: 1 + the CPU the caller ran on as it sent the
 * request (0: unknown); see reported() in child.c. */
#define PROTO_CPU_SHIFT 16

/* SCM_RIGHTS order: report pipe (write end), cwd (O_PATH), the caller's
 * fds 0, 1, 2 that are open (bits 0-2 of std_mask), [memfd], [IPC channel],
 * then the passed fds in the order of their names. Payload, each part counted
 * with its NULs: lib\0 sym\0 params\0 name\0... env\0... procname\0 */
struct proto_start {
    uint32_t type;
    uint32_t slot;
    uint32_t gen;
    uint32_t flags;
    uint32_t std_mask;
    uint32_t nfds;  /* passed fds */
    uint32_t nenv;  /* environment strings */
    uint32_t lib_len, sym_len, params_len, names_len, env_len, pname_len;
    uint32_t payload_len;
    /* The caller's resource limits at the start call (the spawner's own are
     * those of the parent when it was launched): bit r of rlim_mask says
     * rlim[r] holds limit r as getrlimit(2) gave it. */
    uint32_t rlim_mask;
    struct { uint64_t cur, max; } rlim[PROTO_NRLIMITS];
};

/* The start's report pipe reached EOF without a report: whoever took the
 * request is dead. If its standby died before its note, the spawner
 * answers with the PROTO_EXIT nobody else will send. */
#define PROTO_KILL_F_TAKEN 1u

struct proto_kill {
    uint32_t type;
    uint32_t slot;
    uint32_t gen;
    uint32_t flags;
    int32_t pid; /* 0: whatever process took the start */
};

struct proto_exit {
    uint32_t type;
    uint32_t slot;
    uint32_t gen;
    int32_t pid; /* 0: its standby died before it became the child */
    int32_t wstatus; /* as waitpid(2) reports it */
};

/* Written atomically (< PIPE_BUF) to the report pipe: once in args mode;
 * in IPC mode first when the library is loaded, then once connected (or a
 * failure instead of either). */
struct proto_report {
    int32_t code; /* NCP_NO_ERROR or an NCP_ERR_* value */
    int32_t pid;
    char msg[248];
};

#endif /* OHNCP_PROTO_H */
