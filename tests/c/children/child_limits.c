/* child_limits.c - reports the resource limits the child runs with, so the
 * parent can check they are its own at the start call. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "native_child_process.h"

static int fd_named(NativeChildProcess_Args args, const char *name) {
    for (NativeChildProcess_Fd *n = args.fdList.head; n != NULL; n = n->next)
        if (strcmp(n->fdName, name) == 0)
            return n->fd;
    return -1;
}

/* "<cur> <max>" of each limit 0..15 in order, space-separated (-1: unlimited). */
void Entry_Limits(NativeChildProcess_Args args) {
    char buf[1024];
    size_t len = 0;
    for (int i = 0; i < 16; i++) {
        struct rlimit rl;
        long long cur = -2, max = -2;
        if (getrlimit(i, &rl) == 0) {
            cur = rl.rlim_cur == RLIM_INFINITY ? -1 : (long long)rl.rlim_cur;
            max = rl.rlim_max == RLIM_INFINITY ? -1 : (long long)rl.rlim_max;
        }
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%lld %lld ", cur, max);
    }
    int fd = fd_named(args, "out");
    if (fd >= 0 && write(fd, buf, len) < 0)
        return;
}
