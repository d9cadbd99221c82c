/* sys.c - EINTR-safe syscall wrappers; see sys.h for the contract. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

ssize_t sys_read(int fd, void *buf, size_t len) {
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t sys_write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, p + done, len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t sys_sendmsg(int fd, const struct msghdr *msg, int flags) {
    ssize_t n;
    do
        n = sendmsg(fd, msg, flags | MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t sys_recvmsg(int fd, struct msghdr *msg, int flags) {
    ssize_t n;
    do
        n = recvmsg(fd, msg, flags | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

long long sys_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int sys_poll1(int fd, short events, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = events};
    long long deadline = timeout_ms < 0 ? 0 : sys_now_ns() + timeout_ms * 1000000LL;
    for (;;) {
        int wait_ms = -1;
        if (timeout_ms >= 0) {
            long long left = deadline - sys_now_ns();
            wait_ms = left <= 0 ? 0 : (int)((left + 999999) / 1000000);
        }
        int r = poll(&p, 1, wait_ms);
        if (r > 0)
            return p.revents;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

void sys_close(int fd) {
    int saved = errno;
    if (fd >= 0)
        (void)close(fd);
    errno = saved;
}

void sys_closep(int *fd) {
    sys_close(*fd);
    *fd = -1;
}

int sys_set_cloexec(int fd, int on) {
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0)
        return -errno;
    int want = on ? (flags | FD_CLOEXEC) : (flags & ~FD_CLOEXEC);
    if (want != flags && fcntl(fd, F_SETFD, want) < 0)
        return -errno;
    return 0;
}

/* ---- fallbacks for syscalls a kernel or an emulator may lack ----------- */

/* close_range is 436 on every architecture (the unified syscall table);
 * older C libraries (musl 1.2.3, glibc before 2.34) have no wrapper. */
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* Set once close_range has answered ENOSYS; later calls go straight to the
 * fallback. A plain int: a stale 0 only costs one more ENOSYS. */
static volatile int close_range_missing;

struct sys_dirent64 {
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

static int parse_fd(const char *s) {
    int fd = 0;
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9' || fd > (INT_MAX - 9) / 10)
            return -1;
        fd = fd * 10 + (*s - '0');
    }
    return fd;
}

/* Close the listed fds in [lo, hi]; -errno if /proc/self/fd is unreadable.
 * Closing while reading is fine: the directory is read by fd number. */
static int close_listed(unsigned int lo, unsigned int hi) {
    union {
        char bytes[4096];
        struct sys_dirent64 align;
    } buf;
    int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return -errno;
    for (;;) {
        long n = syscall(SYS_getdents64, dir, buf.bytes, sizeof buf.bytes);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? -errno : 0;
            sys_close(dir);
            return err;
        }
        for (long at = 0; at < n;) {
            struct sys_dirent64 *e = (struct sys_dirent64 *)(buf.bytes + at);
            int fd = parse_fd(e->name);
            if (fd >= 0 && fd != dir && (unsigned int)fd >= lo && (unsigned int)fd <= hi)
                sys_close(fd);
            at += e->reclen;
        }
    }
}

/* No /proc: every possible fd, up to the soft limit. */
static void close_each(unsigned int lo, unsigned int hi) {
    struct rlimit rl;
    unsigned int top = 65536;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur < (rlim_t)top)
        top = (unsigned int)rl.rlim_cur;
    if (hi >= top)
        hi = top - 1;
    for (unsigned int fd = lo; fd <= hi && fd >= lo; fd++)
        sys_close((int)fd);
}

int sys_close_range(unsigned int lo, unsigned int hi) {
    if (lo > hi)
        return 0;
    if (!close_range_missing) {
        if (syscall(SYS_close_range, lo, hi, 0) == 0)
            return 0;
        if (errno != ENOSYS)
            return -errno;
        close_range_missing = 1;
    }
    if (close_listed(lo, hi) < 0)
        close_each(lo, hi);
    return 0;
}

/* An unlinked file in `dir`: O_TMPFILE, else a named file removed at once. */
static int tmpfile_in(const char *dir, const char *name) {
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd >= 0 ? fd : -errno;
    char path[PATH_MAX];
    int len = snprintf(path, sizeof path, "%s/%s.XXXXXX", dir, name);
    if (len < 0 || (size_t)len >= sizeof path)
        return -ENAMETOOLONG;
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (unlink(path) < 0) {
        int err = -errno;
        sys_close(fd);
        return err;
    }
    return fd;
}

int sys_memfd(const char *name) {
    int fd = memfd_create(name, MFD_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (errno != ENOSYS)
        return -errno;
    const char *tmp = getenv("TMPDIR");
    const char *dirs[] = {"/dev/shm", tmp != NULL && *tmp != '\0' ? tmp : "/tmp", "/tmp"};
    int err = -ENOSYS;
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        fd = tmpfile_in(dirs[i], name);
        if (fd >= 0)
            return fd;
        err = fd;
    }
    return err;
}
