/*
 * test_sys_fallback.c - the runtime without close_range, memfd_create,
 * clone3 and the pidfd calls, as under qemu-user or on an old kernel.
 *
 * Each case installs a seccomp filter that makes those syscalls fail with
 * ENOSYS in this process and (inherited) in the spawner and the children,
 * then checks the fallbacks in src/sys.c do the same job: no fd leaks into
 * a child, large parameters still arrive. Where seccomp itself is missing
 * (qemu-user refuses it), the case is skipped.
 *
 * The BPF program is spelled out here instead of taken from
 * <linux/seccomp.h> and <linux/filter.h>: musl-gcc has no kernel headers.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"
#include "native_child_process.h"
#include "sys.h"

/* ---- the filter --------------------------------------------------------- */

struct bpf_insn {
    uint16_t code;
    uint8_t jt;
    uint8_t jf;
    uint32_t k;
};

struct bpf_prog {
    unsigned short len;
    struct bpf_insn *filter;
};

#define BPF_LD_W_ABS 0x20   /* BPF_LD | BPF_W | BPF_ABS */
#define BPF_JEQ_K 0x15      /* BPF_JMP | BPF_JEQ | BPF_K */
#define BPF_RET_K 0x06      /* BPF_RET | BPF_K */
#define RET_ALLOW 0x7fff0000u
#define RET_ERRNO 0x00050000u
#define DATA_NR 0           /* offsetof(struct seccomp_data, nr) */
#define DATA_ARCH 4         /* offsetof(struct seccomp_data, arch) */
#define SET_MODE_FILTER 2   /* PR_SET_SECCOMP mode */

#if defined(__x86_64__)
#define AUDIT_ARCH_SELF 0xc000003eu
#elif defined(__aarch64__)
#define AUDIT_ARCH_SELF 0xc00000b7u
#endif

/* Same numbers on every architecture (unified table since Linux 5.1). */
enum { NR_PIDFD_SEND_SIGNAL = 424, NR_PIDFD_OPEN = 434, NR_CLONE3 = 435, NR_CLOSE_RANGE = 436 };

/* Make the syscalls above, and memfd_create, fail with ENOSYS; skip the
 * case where seccomp is unavailable. */
static void deny_new_syscalls(void) {
#ifndef AUDIT_ARCH_SELF
    SKIP("no seccomp architecture code for this target");
#else
    const uint32_t denied[] = {NR_PIDFD_SEND_SIGNAL, NR_PIDFD_OPEN, NR_CLONE3, NR_CLOSE_RANGE,
                               SYS_memfd_create};
    enum { N = sizeof denied / sizeof denied[0] };
    struct bpf_insn code[4 + 2 * N + 1];
    size_t i = 0;
    code[i++] = (struct bpf_insn){BPF_LD_W_ABS, 0, 0, DATA_ARCH};
    code[i++] = (struct bpf_insn){BPF_JEQ_K, 1, 0, AUDIT_ARCH_SELF};
    code[i++] = (struct bpf_insn){BPF_RET_K, 0, 0, RET_ALLOW};
    code[i++] = (struct bpf_insn){BPF_LD_W_ABS, 0, 0, DATA_NR};
    for (size_t k = 0; k < N; k++) {
        code[i++] = (struct bpf_insn){BPF_JEQ_K, 0, 1, denied[k]};
        code[i++] = (struct bpf_insn){BPF_RET_K, 0, 0, RET_ERRNO | ENOSYS};
    }
    code[i++] = (struct bpf_insn){BPF_RET_K, 0, 0, RET_ALLOW};
    struct bpf_prog prog = {.len = (unsigned short)i, .filter = code};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        SKIP("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    if (prctl(PR_SET_SECCOMP, SET_MODE_FILTER, &prog, 0, 0) < 0)
        SKIP("seccomp filter: %s", strerror(errno));
    errno = 0;
    CHECK(syscall(NR_CLOSE_RANGE, 1000u, 1001u, 0u) < 0 && errno == ENOSYS);
#endif
}

/* ---- cases ---------------------------------------------------------------- */

/* The fallback closes exactly [lo, hi], wherever /proc/self/fd lands. */
TEST(close_range_fallback_closes_the_range) {
    deny_new_syscalls();
    int fds[8];
    for (int i = 0; i < 8; i++) {
        fds[i] = open("/dev/null", O_RDONLY);
        CHECK(fds[i] >= 0);
    }
    CHECK_EQ(sys_close_range((unsigned)fds[2], (unsigned)fds[5]), 0);
    for (int i = 0; i < 8; i++)
        CHECK_EQ(fcntl(fds[i], F_GETFD) >= 0, i < 2 || i > 5);
    CHECK_EQ(sys_close_range((unsigned)fds[6], ~0U), 0);
    CHECK(fcntl(fds[0], F_GETFD) >= 0 && fcntl(fds[7], F_GETFD) < 0);
}

/* Without memfd_create the payload file is an unlinked temporary file. */
TEST(memfd_fallback_is_an_anonymous_file) {
    deny_new_syscalls();
    int fd = sys_memfd("ohncp-test");
    CHECK(fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(write(fd, "abc", 3), 3);
    char buf[4] = {0};
    CHECK_EQ(pread(fd, buf, 3, 0), 3);
    CHECK_STREQ(buf, "abc");
    struct stat st;
    CHECK(fstat(fd, &st) == 0 && st.st_nlink == 0);
    close(fd);
}

/* A child still sees only 0-2 and its own fd, though the parent leaves a
 * stray inheritable fd open and close_range is missing everywhere. */
TEST(child_fds_without_close_range) {
    deny_new_syscalls();
    int stray = open("/dev/null", O_RDONLY); /* not close-on-exec on purpose */
    CHECK(stray >= 0);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_ListFds", "", p[1], &pid), NCP_NO_ERROR);
    CHECK_EQ(child_fd_count(p[0], p[1]), 4); /* 0, 1, 2 and "out" */
}

/* Parameters above the inline limit travel in the fallback file. */
TEST(large_params_without_memfd) {
    deny_new_syscalls();
    size_t len = 100 * 1024;
    char *params = malloc(len + 1);
    CHECK(params != NULL);
    for (size_t i = 0; i < len; i++)
        params[i] = (char)('a' + i % 26);
    params[len] = '\0';
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", params, p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char *got = malloc(len + 2);
    CHECK(got != NULL);
    CHECK_EQ(read_all(p[0], got, len + 2), (ssize_t)len);
    CHECK(memcmp(got, params, len) == 0);
    free(got);
    free(params);
}
