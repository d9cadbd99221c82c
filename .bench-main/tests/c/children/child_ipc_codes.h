/* Request codes understood by child_ipc.c. */
#ifndef CHILD_IPC_CODES_H
#define CHILD_IPC_CODES_H
enum {
    CHILD_ADD = 1,       /* int32 a, b -> int32 a+b */
    CHILD_ECHO = 2,      /* reply = a copy of the request */
    CHILD_EXIT = 3,      /* MainProc returns */
    CHILD_CALLER = 4,    /* -> int64 calling pid, int64 uid, int32 handling, int32 local */
    CHILD_CALLBACK = 5,  /* proxy p, int32 v -> p.SendRequest(42, v) + 1 */
    CHILD_FDS = 6,       /* fd -> writes "hello-fd"; replies an fd with "from-child" */
    CHILD_RETURN = 7,    /* int32 rc -> the callback returns rc */
    CHILD_SLEEP_MS = 8,  /* int32 ms -> sleeps, replies ms */
    CHILD_CRASH = 9,     /* abort() */
    CHILD_NEW_STUB = 10, /* -> a new stub of the child */
    CHILD_DESTROYED = 11, /* -> int32 destroy callbacks of those stubs so far */
    CHILD_BIG = 12,      /* int32 n -> a buffer of n bytes */
    CHILD_CALLBACK_LATER = 13, /* proxy p, int32 v, int32 ms -> replies at once; ms later
                                * a thread sends p request 42 with v, then lets p go */
};
#endif
