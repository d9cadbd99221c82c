/* sys.c - EINTR-safe syscall wrappers; see sys.h for the contract. */
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
