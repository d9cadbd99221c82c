/*
 * sys.h - syscall wrappers shared by the runtime libraries and the spawner.
 *
 * Every wrapper retries on EINTR where retrying is safe (never close), and
 * returns a non-negative result or -errno. Every fd they create is
 * close-on-exec from birth.
 */
#ifndef OHNCP_SYS_H
#define OHNCP_SYS_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#define OHNCP_HIDDEN __attribute__((visibility("hidden")))

OHNCP_HIDDEN ssize_t sys_read(int fd, void *buf, size_t len);
OHNCP_HIDDEN ssize_t sys_write_all(int fd, const void *buf, size_t len);
OHNCP_HIDDEN ssize_t sys_sendmsg(int fd, const struct msghdr *msg, int flags);
/* recvmsg with MSG_CMSG_CLOEXEC always added. */
OHNCP_HIDDEN ssize_t sys_recvmsg(int fd, struct msghdr *msg, int flags);
/* poll() on one fd; timeout_ms < 0 waits forever. The remaining time is
 * recomputed after EINTR. Returns revents, 0 on timeout, or -errno. */
OHNCP_HIDDEN int sys_poll1(int fd, short events, int timeout_ms);
/* close() that never retries: after EINTR the fd is gone anyway. */
OHNCP_HIDDEN void sys_close(int fd);
/* Close `*fd` if open and set it to -1. */
OHNCP_HIDDEN void sys_closep(int *fd);
/* Monotonic clock in nanoseconds. */
OHNCP_HIDDEN long long sys_now_ns(void);
/* Clear or set FD_CLOEXEC. */
OHNCP_HIDDEN int sys_set_cloexec(int fd, int on);

/* Close every fd in [lo, hi]. close_range(2) where the kernel has it; where
 * it does not (kernels before 5.9, qemu-user, seccomp filters: ENOSYS), the
 * fds listed in /proc/self/fd, or failing that each fd below RLIMIT_NOFILE.
 * Async-signal-safe: for the child path after fork. Returns 0 or -errno. */
OHNCP_HIDDEN int sys_close_range(unsigned int lo, unsigned int hi);

/* An anonymous, close-on-exec, read-write file: memfd_create(2), else (ENOSYS,
 * as under some emulators and sandboxes) an unlinked temporary file in
 * /dev/shm or $TMPDIR or /tmp. Returns the fd or -errno. */
OHNCP_HIDDEN int sys_memfd(const char *name);

#endif /* OHNCP_SYS_H */
