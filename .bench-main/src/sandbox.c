/*
 * sandbox.c - isolated mode (behaviour.md §5): what a child does, after its
 * fds are in place and before the user's library is loaded, to leave the
 * app's network, files, IPC objects, host name and privileges behind.
 *
 * Map:
 *   1. the data directory: a tmpfs of the child's own, on one mount point
 *   2. namespaces and maps: as root without a user namespace, otherwise in
 *      one; the network namespace shared by one spawner's isolated children
 *   3. the read-only view of the file system
 *   4. privileges: the uid, capabilities, no_new_privs
 *   5. Landlock: signals, ptrace, and with isolationUid what may be read
 *   6. seccomp: no new Unix sockets
 *   7. sandbox_enter: the steps in order
 *
 * Any step the kernel refuses ends the start with NCP_ERR_NOT_SUPPORTED and
 * a sentence naming that step and its errno (child.c reports it): an
 * isolated child never runs less isolated than documented.
 *
 * Runs in a single-threaded child of the spawner: plain libc is fine.
 */
#include "sandbox.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>

static char data_dir[PATH_MAX / 2]; /* "<tmp>/ohncp-data-<euid>/data", sandbox_init */

/* Print the failed step and errno into msg; always returns -1. */
static int refused(char *msg, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refused(char *msg, size_t size, const char *fmt, ...) {
    int err = errno;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < size)
        snprintf(msg + n, size - (size_t)n, ": %s", strerror(err));
    return -1;
}

static int write_text(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n;
    do
        n = write(fd, text, len);
    while (n < 0 && errno == EINTR);
    int err = errno;
    close(fd);
    errno = err;
    return n == (ssize_t)len ? 0 : -1;
}

/* ---- 1. the data directory ------------------------------------------------ */

void sandbox_init(void) {
    const char *tmp = getenv("TMPDIR");
    if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > sizeof data_dir / 2)
        tmp = "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/ohncp-data-%u/data", tmp, (unsigned)geteuid());
}

/* `dir` exists (made with `mode` if missing), is a directory of ours, not
 * a symbolic link, and nobody else may write to it. */
static int own_dir(const char *dir, mode_t mode, char *msg, size_t size) {
    struct stat st;
    if (mkdir(dir, mode) < 0 && errno != EEXIST)
        return refused(msg, size, "isolated mode: cannot create %s", dir);
    if (lstat(dir, &st) < 0)
        return refused(msg, size, "isolated mode: cannot inspect %s", dir);
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
        errno = EPERM;
        return refused(msg, size, "isolated mode: %s is not a directory of ours", dir);
    }
    if ((st.st_mode & 0777) != mode && chmod(dir, mode) < 0) /* a umask took bits */
        return refused(msg, size, "isolated mode: cannot chmod %s", dir);
    return 0;
}

/* The mount point of every isolated child's data directory; each child
 * mounts a tmpfs of its own there, in its own mount namespace. Mode 0711:
 * a child under another uid can pass through, nobody can list. */
static int make_mount_point(char *msg, size_t size) {
    char parent[sizeof data_dir];
    snprintf(parent, sizeof parent, "%s", data_dir);
    *strrchr(parent, '/') = '\0';
    if (own_dir(parent, 0711, msg, size) < 0)
        return -1;
    return own_dir(data_dir, 0711, msg, size);
}

/* ---- 2. namespaces ---------------------------------------------------------- */

/* Unprivileged: a user namespace in which the one uid we have appears as
 * `inner` (our own uid, or the isolated one), and the same for the gid. */
static int enter_user_ns(uid_t inner_uid, gid_t inner_gid, char *msg, size_t size) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char map[64];
    if (unshare(CLONE_NEWUSER) < 0)
        return refused(msg, size, "isolated mode: unshare(CLONE_NEWUSER) refused");
    if (write_text("/proc/self/setgroups", "deny") < 0)
        return refused(msg, size, "isolated mode: writing /proc/self/setgroups refused");
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)inner_uid, (unsigned)uid);
    if (write_text("/proc/self/uid_map", map) < 0)
        return refused(msg, size, "isolated mode: writing uid_map \"%u %u 1\" refused",
                       (unsigned)inner_uid, (unsigned)uid);
    snprintf(map, sizeof map, "%u %u 1\n", (unsigned)inner_gid, (unsigned)gid);
    if (write_text("/proc/self/gid_map", map) < 0)
        return refused(msg, size, "isolated mode: writing gid_map refused");
    return 0;
}

/* `net`: a network namespace of our own too (none was shared). */
static int enter_namespaces(bool net, char *msg, size_t size) {
    static const struct {
        int flag;
        const char *name;
    } ns[] = {{CLONE_NEWNET, "CLONE_NEWNET"}, {CLONE_NEWNS, "CLONE_NEWNS"},
              {CLONE_NEWIPC, "CLONE_NEWIPC"}, {CLONE_NEWUTS, "CLONE_NEWUTS"}};
    /* One at a time, so a refusal names the namespace refused. */
    for (size_t i = net ? 0 : 1; i < sizeof ns / sizeof ns[0]; i++)
        if (unshare(ns[i].flag) < 0)
            return refused(msg, size, "isolated mode: unshare(%s) refused", ns[i].name);
    return 0;
}

/* ---- the shared network namespace ---- */

int sandbox_net_fd = -1, sandbox_user_fd = -1;

/* Its maker: a child of the spawner that creates the namespaces (as
 * anyone but root, inside a user namespace where our uid is itself),
 * says 'y' or 'n' on `fd`, and waits to be killed. */
static __attribute__((noreturn)) void share_helper(int fd) {
    uid_t uid = geteuid();
    gid_t gid = getegid();
    char ok = 'n', map[64];
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == 0) {
        if (uid == 0) {
            ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
        } else if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0 &&
                   write_text("/proc/self/setgroups", "deny") == 0) {
            snprintf(map, sizeof map, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
            if (write_text("/proc/self/uid_map", map) == 0) {
                snprintf(map, sizeof map, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
                ok = write_text("/proc/self/gid_map", map) == 0 ? 'y' : 'n';
            }
        }
    }
    (void)!write(fd, &ok, 1);
    for (;;)
        pause();
}

static int open_ns(pid_t pid, const char *name) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, name);
    return open(path, O_RDONLY | O_CLOEXEC);
}

void sandbox_share_net(void) {
    static int attempts; /* a failure may be passing (memory, limits): 3 tries */
    int p[2];
    if (sandbox_net_fd >= 0 || attempts >= 3 || pipe2(p, O_CLOEXEC) < 0)
        return;
    attempts++;
    pid_t pid = fork();
    if (pid == 0) {
        close(p[0]);
        share_helper(p[1]);
    }
    close(p[1]);
    char ok = 'n';
    ssize_t n = 0;
    while (pid > 0 && (n = read(p[0], &ok, 1)) < 0 && errno == EINTR)
        ;
    close(p[0]);
    if (pid < 0)
        return;
    if (n == 1 && ok == 'y') {
        sandbox_net_fd = open_ns(pid, "net");
        sandbox_user_fd = geteuid() == 0 ? -1 : open_ns(pid, "user");
        if (sandbox_net_fd < 0 || (geteuid() != 0 && sandbox_user_fd < 0)) {
            if (sandbox_net_fd >= 0)
                close(sandbox_net_fd);
            if (sandbox_user_fd >= 0)
                close(sandbox_user_fd);
            sandbox_net_fd = sandbox_user_fd = -1;
        }
    }
    (void)kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* Join the shared network namespace (and, unprivileged, its user
 * namespace: ours is then made inside it). False if there is none or the
 * kernel says no: the caller makes a namespace of its own instead. */
static bool join_shared_net(bool privileged) {
    bool ok = sandbox_net_fd >= 0 &&
              (privileged || setns(sandbox_user_fd, CLONE_NEWUSER) == 0) &&
              setns(sandbox_net_fd, CLONE_NEWNET) == 0;
    if (sandbox_net_fd >= 0)
        close(sandbox_net_fd);
    if (sandbox_user_fd >= 0)
        close(sandbox_user_fd);
    sandbox_net_fd = sandbox_user_fd = -1;
    return ok;
}

/* ---- 3. the file system ------------------------------------------------------ */

/* The kernel's struct mount_attr (Linux 5.12), spelled here with the
 * syscall: older C libraries (musl 1.2.3, glibc before 2.36) have neither
 * the wrapper nor the type. */
struct sandbox_mount_attr {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442 /* the same on every architecture */
#endif

/* Everything read-only and nosuid; then a new tmpfs, ours alone and gone
 * with us, as the data directory. Our changes stay in our mount namespace
 * (private propagation). */
static int read_only_view(uid_t uid, gid_t gid, char *msg, size_t size) {
    struct sandbox_mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID};
    char opts[80];
    snprintf(opts, sizeof opts, "mode=0700,uid=%u,gid=%u", (unsigned)uid, (unsigned)gid);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return refused(msg, size, "isolated mode: making / private refused");
    if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro) < 0)
        return refused(msg, size, "isolated mode: read-only remount of / refused");
    if (mount("tmpfs", data_dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
        return refused(msg, size, "isolated mode: mounting a tmpfs on %s refused", data_dir);
    return 0;
}

/* ---- 4. privileges ---------------------------------------------------------- */

/* Securebits first (that needs CAP_SETPCAP, which we still have): uid 0
 * gains nothing at exec and ambient capabilities cannot come back, locked.
 * Then the uid (as root: a real one of its own), then every capability,
 * then no_new_privs, under which exec never raises what we hold (empty).
 * The bounding set is left alone: with all that it grants nothing, and
 * emptying it costs ~55 us (one credential commit per capability). */
static int drop_privileges(bool set_uid, uid_t uid, char *msg, size_t size) {
    const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED |
                               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) < 0)
        return refused(msg, size, "isolated mode: PR_SET_SECUREBITS refused");
    (void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (set_uid && (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
                    setresuid(uid, uid, uid) < 0))
        return refused(msg, size, "isolated mode: switching to uid %u refused", (unsigned)uid);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct none[2];
    memset(none, 0, sizeof none);
    if (syscall(SYS_capset, &hdr, none) < 0)
        return refused(msg, size, "isolated mode: capset refused");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return refused(msg, size, "isolated mode: PR_SET_NO_NEW_PRIVS refused");
    return 0;
}

/* ---- 5. Landlock -------------------------------------------------------------- */

/* The kernel's struct, declared here: the system headers may predate
 * `scoped` (ABI 6, Linux 6.12). */
struct sb_ruleset_attr {
    uint64_t handled_access_fs;
    uint64_t handled_access_net;
    uint64_t scoped;
};
#define SB_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define SB_SCOPE_SIGNAL (1ULL << 1)
#define SB_FS_READ ((1ULL << 0) | (1ULL << 2) | (1ULL << 3)) /* execute, read file, read dir */
#define SB_FS_WRITE_FILE (1ULL << 1)
#define SB_FS_IOCTL_DEV (1ULL << 15)

/* Every file-system right the running kernel's ABI knows. */
static uint64_t all_fs_rights(long abi) {
    uint64_t all = (1ULL << 13) - 1; /* ABI 1 */
    if (abi >= 2)
        all |= 1ULL << 13; /* refer */
    if (abi >= 3)
        all |= 1ULL << 14; /* truncate */
    if (abi >= 5)
        all |= SB_FS_IOCTL_DEV;
    return all;
}

/* Allow `rights` beneath `path`; a path that does not exist is skipped. */
static int allow_path(int ruleset, const char *path, uint64_t rights) {
    int fd = open(path, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ENOTDIR || errno == EACCES ? 0 : -1;
    struct stat st;
    if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
        rights &= SB_FS_READ & ~(1ULL << 3); /* a file: no directory rights */
    struct landlock_path_beneath_attr pb = {.allowed_access = rights, .parent_fd = fd};
    long rc = syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
    int err = errno;
    close(fd);
    errno = err;
    return rc < 0 ? -1 : 0;
}

/* Each directory of a colon-separated list. */
static void allow_list(int ruleset, const char *list, uint64_t rights) {
    char dir[PATH_MAX];
    while (list != NULL && *list != '\0') {
        const char *colon = strchr(list, ':');
        size_t len = colon != NULL ? (size_t)(colon - list) : strlen(list);
        if (len > 0 && len < sizeof dir) {
            memcpy(dir, list, len);
            dir[len] = '\0';
            (void)allow_path(ruleset, dir, rights);
        }
        list += len + (colon != NULL);
    }
}

/* With isolationUid: reading is limited to the system, the library's
 * directory and the library search path (and the data directory, whose
 * rule comes once its tmpfs is mounted). */
static int allow_reads(int ruleset, long abi, const char *lib) {
    static const char *const system_dirs[] = {"/usr", "/lib", "/lib64", "/lib32", "/bin",
                                              "/sbin", "/etc", "/opt", "/proc", "/sys"};
    for (size_t i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++)
        if (allow_path(ruleset, system_dirs[i], SB_FS_READ) < 0)
            return -1;
    uint64_t dev = SB_FS_READ | SB_FS_WRITE_FILE | (abi >= 5 ? SB_FS_IOCTL_DEV : 0);
    if (allow_path(ruleset, "/dev", dev) < 0)
        return -1;
    char real[PATH_MAX];
    if (strchr(lib, '/') != NULL && realpath(lib, real) != NULL) {
        *strrchr(real, '/') = '\0';
        (void)allow_path(ruleset, real[0] != '\0' ? real : "/", SB_FS_READ);
    }
    allow_list(ruleset, getenv("OHNCP_LIBRARY_PATH"), SB_FS_READ);
    allow_list(ruleset, getenv("LD_LIBRARY_PATH"), SB_FS_READ);
    return 0;
}

/* The ruleset, made while we may still open every path (before the uid
 * changes); rules hold the directories themselves, so they survive the
 * mount namespace. Signals and ptrace (and so /proc/<pid>/mem) will reach
 * no process outside this child's Landlock domain; abstract sockets neither. */
static long landlock_abi;

static int make_ruleset(bool reads, const char *lib, char *msg, size_t size) {
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    landlock_abi = abi;
    if (abi < 0)
        return refused(msg, size, "isolated mode: Landlock is not available");
    if (abi < 6) {
        errno = ENOSYS;
        return refused(msg, size, "isolated mode: Landlock ABI %ld has no signal scoping (6 needed)",
                       abi);
    }
    struct sb_ruleset_attr attr = {
        .handled_access_fs = reads ? all_fs_rights(abi) : 0,
        .scoped = SB_SCOPE_SIGNAL | SB_SCOPE_ABSTRACT_UNIX_SOCKET,
    };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return refused(msg, size, "isolated mode: landlock_create_ruleset refused");
    if (reads && allow_reads(ruleset, abi, lib) < 0) {
        refused(msg, size, "isolated mode: landlock_add_rule refused");
        close(ruleset);
        return -1;
    }
    return ruleset;
}

static int restrict_self(int ruleset, char *msg, size_t size) {
    if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
        return refused(msg, size, "isolated mode: landlock_restrict_self refused");
    return 0;
}

/* ---- 6. seccomp ------------------------------------------------------------------ */

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#define SB_NR_LIMIT 0x40000000u /* x32 calls have this bit: refused */
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define SB_NR_LIMIT 0xffffffffu
#endif

/* A read-only mount does not stop connect() to a Unix socket that has a
 * path (the app's own services, a session bus): an isolated child makes no
 * Unix socket with socket(). socketpair() and inherited sockets (the IPC
 * channel) still work. Calls of another ABI (i386, x32) are refused whole,
 * so they cannot go around the check. */
static int forbid_unix_sockets(char *msg, size_t size) {
#ifdef SB_AUDIT_ARCH
    const unsigned arg0 = offsetof(struct seccomp_data, args) +
                          (__BYTE_ORDER == __BIG_ENDIAN ? sizeof(uint32_t) : 0);
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, SB_NR_LIMIT, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, arg0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_UNIX, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EACCES),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
        return refused(msg, size, "isolated mode: seccomp filter refused");
    return 0;
#else
    errno = ENOSYS;
    return refused(msg, size, "isolated mode: no seccomp filter for this architecture");
#endif
}

/* ---- 7. in order --------------------------------------------------------------- */

/* Steps 2-6; `ruleset` is the Landlock ruleset of step 1. */
static int enter(bool own_uid, int ruleset, char *msg, size_t size) {
    /* 2. Root keeps its capabilities for the mounts and then takes a real
     * uid of its own; anyone else works inside a user namespace, where the
     * isolated uid is a name for our own (Landlock does the rest). */
    bool privileged = geteuid() == 0;
    uid_t uid = own_uid ? SANDBOX_UID_BASE + (uid_t)getpid() : geteuid();
    gid_t gid = own_uid ? (gid_t)uid : getegid();
    bool shared_net = join_shared_net(privileged);
    if (!privileged && enter_user_ns(uid, gid, msg, size) < 0)
        return -1;
    if (enter_namespaces(!shared_net, msg, size) < 0)
        return -1;
    /* 3. Read-only everywhere; the data directory is a tmpfs of ours. */
    if (read_only_view(uid, gid, msg, size) < 0)
        return -1;
    if (own_uid && allow_path(ruleset, data_dir, all_fs_rights(landlock_abi)) < 0)
        return refused(msg, size, "isolated mode: landlock_add_rule for %s refused", data_dir);
    /* 4. No capability, no way back (no_new_privs). A new uid made us
     * undumpable; we are our own only user, so dumpable again (core dumps,
     * our own /proc entries). */
    if (drop_privileges(privileged && own_uid, uid, msg, size) < 0)
        return -1;
    if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
        return refused(msg, size, "isolated mode: PR_SET_DUMPABLE");
    /* 5, 6. Landlock and seccomp: both need no_new_privs, set just above. */
    if (restrict_self(ruleset, msg, size) < 0)
        return -1;
    return forbid_unix_sockets(msg, size);
}

int sandbox_enter(bool own_uid, const char *lib, char *msg, size_t size) {
    /* 1. The data directory's mount point and the Landlock rules, while
     * every path can still be created and opened. */
    if (make_mount_point(msg, size) < 0)
        return -1;
    int ruleset = make_ruleset(own_uid, lib, msg, size);
    if (ruleset < 0)
        return -1;
    int rc = enter(own_uid, ruleset, msg, size);
    close(ruleset);
    if (rc == 0 && setenv("OHNCP_DATA_DIR", data_dir, 1) < 0)
        rc = refused(msg, size, "isolated mode: setenv");
    return rc;
}
