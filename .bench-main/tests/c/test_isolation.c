/* test_isolation.c - isolated mode and isolationUid (behaviour.md §5),
 * proved from inside the child: child_sandbox.c tries what an isolated
 * child must not be able to do and reports each result.
 *
 * Runs as root and, from scripts/run-tests.sh, again as nobody: every case
 * must hold both ways. */
#include "helpers.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <IPCKit/ipc_kit.h>

#define SANDBOX_LIB OHNCP_TEST_CHILD_DIR "/libchild_sandbox.so"
#define UID_BASE 1000000000u /* src/sandbox.h */
#define UID_SPAN 4194304u

/* ---- the parent's side of the probes ---- */

static char workdir[256]; /* writable by anyone, the child's cwd */
static char secret[300];  /* 0600, ours */
static int listener = -1, port;
static char unix_path[300]; /* a Unix socket of ours, listening */

/* A listener on 127.0.0.1, a world-writable working directory and a file
 * that only our uid can read. */
static void setup(void) {
    snprintf(workdir, sizeof workdir, "%s/iso", testlib_case_dir());
    CHECK(mkdir(workdir, 0777) == 0);
    CHECK(chmod(workdir, 0777) == 0);
    CHECK(chdir(workdir) == 0);
    snprintf(secret, sizeof secret, "%s/secret", workdir);
    int fd = open(secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    CHECK(fd >= 0 && write(fd, "s", 1) == 1);
    close(fd);
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(listener, (struct sockaddr *)&a, sizeof a) == 0 && listen(listener, 8) == 0);
    CHECK(getsockname(listener, (struct sockaddr *)&a, &len) == 0);
    port = ntohs(a.sin_port);
    snprintf(unix_path, sizeof unix_path, "%s/sock", workdir);
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    CHECK(strlen(unix_path) < sizeof u.sun_path);
    memcpy(u.sun_path, unix_path, strlen(unix_path) + 1);
    int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(bind(us, (struct sockaddr *)&u, sizeof u) == 0 && listen(us, 8) == 0);
    CHECK(chmod(unix_path, 0777) == 0); /* anyone may connect: only the sandbox stops it */
}

static void params_for(char *buf, size_t size, pid_t other) {
    snprintf(buf, size, "ppid=%d;other=%d;port=%d;cwd=%s;secret=%s;unix=%s", (int)getpid(),
             (int)other, port, workdir, secret, unix_path);
}

/* The value of `key` in the child's "k=v;..." answer. */
static const char *value(const char *answer, const char *key) {
    static __thread char val[512];
    char pat[64];
    snprintf(pat, sizeof pat, "%s=", key);
    const char *p = answer;
    while ((p = strstr(p, pat)) != NULL && p != answer && p[-1] != ';')
        p++;
    CHECK(p != NULL);
    p += strlen(pat);
    size_t len = strcspn(p, ";");
    snprintf(val, sizeof val, "%.*s", (int)len, p);
    return val;
}

static const char *own_ns(const char *name) {
    static __thread char link[64];
    char path[64];
    snprintf(path, sizeof path, "/proc/self/ns/%s", name);
    ssize_t n = readlink(path, link, sizeof link - 1);
    CHECK(n > 0);
    link[n] = '\0';
    return link;
}

static Ability_ChildProcessConfigs *configs(bool isolated, bool own_uid) {
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK(c != NULL);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationMode(
                 c, isolated ? NCP_ISOLATION_MODE_ISOLATED : NCP_ISOLATION_MODE_NORMAL),
             NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationUid(c, own_uid), NCP_NO_ERROR);
    return c;
}

static char start_msg[512]; /* why the last start_sandbox failed */

/* Isolated starts need Landlock; where it is missing (qemu-user, kernels
 * before 6.12 or with it off) they are refused, which
 * isolated_refused_without_landlock checks instead. */
#define NEED_SANDBOX()                                                                 \
    do {                                                                               \
        if (!landlock_available())                                                     \
            SKIP("no Landlock here: isolated starts are refused (see "                 \
                 "isolated_refused_without_landlock)");                                \
    } while (0)

/* Start `sym` of child_sandbox with "out" (and "in" if >= 0). */
static int start_sandbox(const char *sym, const char *params, bool isolated, bool own_uid,
                         int out, int in, int32_t *pid) {
    NativeChildProcess_Fd nin = {.fdName = (char *)"in", .fd = in};
    NativeChildProcess_Fd nout = {.fdName = (char *)"out", .fd = out, .next = in >= 0 ? &nin : NULL};
    NativeChildProcess_Args args = {.entryParams = (char *)params, .fdList = {.head = &nout}};
    char entry[512];
    snprintf(entry, sizeof entry, "%s:%s", SANDBOX_LIB, sym);
    Ability_ChildProcessConfigs *c = configs(isolated, own_uid);
    int rc = OH_Ability_StartNativeChildProcessWithConfigs(entry, args, c, pid);
    snprintf(start_msg, sizeof start_msg, "%s", OH_Ohncp_GetLastErrorMessage());
    OH_Ability_DestroyChildProcessConfigs(c); /* clears the message */
    return rc;
}

/* Run the probe in an args-mode child; its answer (malloc'd). */
static char *probe_args(bool isolated, bool own_uid, pid_t other, int32_t *pid) {
    char params[1024];
    params_for(params, sizeof params, other);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int rc = start_sandbox("Sandbox_Probe", params, isolated, own_uid, p[1], -1, pid);
    if (rc != NCP_NO_ERROR)
        fprintf(stderr, "start: %d %s\n", rc, start_msg);
    CHECK_EQ(rc, NCP_NO_ERROR);
    close(p[1]);
    char *buf = malloc(8192);
    CHECK(read_all(p[0], buf, 8192) > 0);
    close(p[0]);
    return buf;
}

/* A live, unsandboxed child of ours: the one the probe must not reach. */
static pid_t other_child(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Block", "", p[1], &pid), NCP_NO_ERROR);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    close(p[0]);
    close(p[1]);
    return pid;
}

#define CHECK_DENIED(answer, key)                                                    \
    do {                                                                             \
        const char *v_ = value(answer, key);                                         \
        if (strcmp(v_, "ok") == 0)                                                   \
            fprintf(stderr, "the isolated child could do %s: %s\n", key, answer);     \
        CHECK(strcmp(v_, "ok") != 0);                                                \
    } while (0)

/* Everything every isolated child must show (spec §5, issue items 1, 2). */
static void check_isolated(const char *a) {
    static const char *const ns[] = {"net", "mnt", "ipc", "uts"};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "ns_%s", ns[i]);
        CHECK(strcmp(value(a, key), own_ns(ns[i])) != 0);
    }
    const char *ifaces = value(a, "ifaces");
    CHECK(ifaces[0] == '\0' || strcmp(ifaces, "lo") == 0);
    CHECK_DENIED(a, "tcp_local");
    CHECK_DENIED(a, "tcp_outside");
    CHECK_DENIED(a, "tcp_self"); /* loopback is down: nothing to share */
    CHECK_DENIED(a, "unix_parent");
    CHECK_STREQ(value(a, "socketpair"), "ok");
    CHECK_DENIED(a, "write_cwd");
    CHECK_DENIED(a, "write_tmp");
    CHECK_STREQ(value(a, "write_data"), "ok");
    CHECK_STREQ(value(a, "nnp"), "1");
    CHECK_STREQ(value(a, "caps"), /* inheritable, permitted, effective, ambient */
                "0000000000000000,0000000000000000,0000000000000000,0000000000000000");
    CHECK_EQ(atoi(value(a, "securebits")) & 0x3, 0x3); /* NOROOT, locked */
    CHECK_DENIED(a, "kill_parent");
    CHECK_DENIED(a, "kill_other");
    CHECK_STREQ(value(a, "kill_self"), "ok");
    CHECK_DENIED(a, "ptrace_parent");
    CHECK_DENIED(a, "ptrace_other");
    CHECK_DENIED(a, "mem_parent");
    /* the parent can still write where the child could not */
    CHECK(access(workdir, W_OK) == 0);
}

static void check_own_uid(const char *a, int32_t pid) {
    unsigned uid = (unsigned)strtoul(value(a, "uid"), NULL, 10);
    unsigned gid = (unsigned)strtoul(value(a, "gid"), NULL, 10);
    CHECK(uid != (unsigned)getuid() && gid != (unsigned)getgid());
    CHECK(uid >= UID_BASE && uid < UID_BASE + UID_SPAN);
    CHECK_EQ(uid, UID_BASE + (unsigned)pid);
    CHECK_DENIED(a, "read_secret");
}

/* ---- tests ---- */

/* The probes can fail: in normal mode the same child can do all of it.
 * isolationUid alone changes nothing (as on the device, it counts only
 * with isolated mode). */
TEST(normal_mode_is_not_sandboxed) {
    setup();
    pid_t other = other_child();
    int32_t pid;
    char *a = probe_args(false, true, other, &pid);
    CHECK_STREQ(value(a, "ns_net"), own_ns("net"));
    CHECK_STREQ(value(a, "ns_mnt"), own_ns("mnt"));
    CHECK_STREQ(value(a, "tcp_local"), "ok");
    CHECK_STREQ(value(a, "tcp_self"), "ok");
    CHECK_STREQ(value(a, "unix_parent"), "ok");
    CHECK_STREQ(value(a, "write_cwd"), "ok");
    CHECK_STREQ(value(a, "write_tmp"), "ok");
    CHECK_STREQ(value(a, "kill_parent"), "ok");
    CHECK_STREQ(value(a, "kill_other"), "ok");
    CHECK_STREQ(value(a, "read_secret"), "ok");
    CHECK_STREQ(value(a, "nnp"), "0");
    CHECK_STREQ(value(a, "data_dir"), "");
    CHECK_EQ(strtoul(value(a, "uid"), NULL, 10), getuid());
    free(a);
}

TEST(isolated_args_mode) {
    NEED_SANDBOX();
    setup();
    register_recorder();
    pid_t other = other_child();
    int32_t pid;
    char *a = probe_args(true, false, other, &pid);
    check_isolated(a);
    CHECK_EQ(strtoul(value(a, "uid"), NULL, 10), getuid()); /* no isolationUid: the app's */
    /* the data directory is the child's own: what it left there is not
     * under that path for anyone else, and goes with the child */
    char want[512], left[600];
    const char *tmp = getenv("TMPDIR");
    snprintf(want, sizeof want, "%s/ohncp-data-%u/data", tmp != NULL ? tmp : "/tmp",
             (unsigned)geteuid());
    CHECK_STREQ(value(a, "data_dir"), want);
    snprintf(left, sizeof left, "%s/left-behind", want);
    CHECK(access(left, F_OK) < 0 && errno == ENOENT);
    CHECK_EQ(wait_exit(pid, 5000), 0);
    free(a);
    /* a second child starts with an empty one */
    a = probe_args(true, false, other, &pid);
    CHECK_STREQ(value(a, "data_entries"), "0");
    free(a);
}

TEST(isolated_with_own_uid) {
    NEED_SANDBOX();
    setup();
    register_recorder();
    int32_t pid;
    char *a = probe_args(true, true, other_child(), &pid);
    check_isolated(a);
    check_own_uid(a, pid);
    CHECK_EQ(wait_exit(pid, 5000), 0);
    free(a);
}

/* isolationUid: each live child has a uid of its own. */
TEST(own_uids_are_distinct) {
    NEED_SANDBOX();
    setup();
    register_recorder();
    int in[2];
    CHECK(pipe2(in, O_CLOEXEC) == 0);
    unsigned uids[3];
    int32_t pids[3];
    for (int i = 0; i < 3; i++) {
        int p[2];
        CHECK(pipe2(p, O_CLOEXEC) == 0);
        CHECK_EQ(start_sandbox("Sandbox_Hold", "", true, true, p[1], in[0], &pids[i]), NCP_NO_ERROR);
        close(p[1]);
        char buf[32] = "";
        CHECK(read(p[0], buf, sizeof buf - 1) > 0); /* it holds "out" open */
        close(p[0]);
        uids[i] = (unsigned)strtoul(buf, NULL, 10);
        CHECK_EQ(uids[i], UID_BASE + (unsigned)pids[i]);
        for (int j = 0; j < i; j++)
            CHECK(uids[i] != uids[j]);
    }
    /* one isolated child cannot reach another either */
    char params[1024];
    params_for(params, sizeof params, pids[0]);
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int32_t pid;
    CHECK_EQ(start_sandbox("Sandbox_Probe", params, true, true, p[1], -1, &pid), NCP_NO_ERROR);
    close(p[1]);
    char a[8192];
    CHECK(read_all(p[0], a, sizeof a) > 0);
    CHECK_DENIED(a, "kill_other");
    CHECK_DENIED(a, "ptrace_other");
    /* the parent can still kill them, whatever their uid */
    CHECK_EQ(OH_Ability_KillChildProcess(pids[0]), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pids[0], 5000), SIGKILL);
    close(in[1]);
    for (int i = 1; i < 3; i++)
        CHECK_EQ(wait_exit(pids[i], 5000), 0);
}

/* The isolated children of one parent share one network namespace (once
 * the spawner has made it; before that each makes its own). It holds
 * nothing to share: loopback is down and Unix sockets cannot be made. Both
 * ways of starting: standby children, and a fork per start. */
static void shared_network(void) {
    NEED_SANDBOX();
    setup();
    char ns[8][64];
    for (int i = 0; i < 8; i++) {
        int32_t pid;
        char *a = probe_args(true, i % 2 == 1, 0, &pid);
        check_isolated(a);
        snprintf(ns[i], sizeof ns[i], "%s", value(a, "ns_net"));
        free(a);
    }
    /* the standbys forked after the first isolated start have it */
    int same = 0;
    for (int i = 5; i < 8; i++)
        same += strcmp(ns[i], ns[4]) == 0;
    if (same != 3)
        for (int i = 0; i < 8; i++)
            fprintf(stderr, "child %d: %s\n", i, ns[i]);
    CHECK_EQ(same, 3);
}

TEST(isolated_children_share_an_empty_network) { shared_network(); }

TEST(isolated_children_share_an_empty_network_without_standbys) {
    setenv("OHNCP_STANDBY", "0", 1);
    shared_network();
}

/* ---- IPC mode ---- */

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static int cb_code = -1;
static OHIPCRemoteProxy *cb_proxy;

static void on_started(int code, OHIPCRemoteProxy *proxy) {
    pthread_mutex_lock(&cb_lock);
    cb_code = code;
    cb_proxy = proxy;
    pthread_cond_broadcast(&cb_cond);
    pthread_mutex_unlock(&cb_lock);
}

static int wait_started(OHIPCRemoteProxy **proxy) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += 15;
    pthread_mutex_lock(&cb_lock);
    while (cb_code < 0 && pthread_cond_timedwait(&cb_cond, &cb_lock, &dl) != ETIMEDOUT)
        ;
    int code = cb_code;
    *proxy = cb_proxy;
    cb_code = -1;
    pthread_mutex_unlock(&cb_lock);
    return code;
}

static int create_isolated_ipc(bool own_uid, OHIPCRemoteProxy **proxy) {
    Ability_ChildProcessConfigs *c = configs(true, own_uid);
    int rc = OH_Ability_CreateNativeChildProcessWithConfigs(SANDBOX_LIB, c, on_started);
    OH_Ability_DestroyChildProcessConfigs(c);
    if (rc != NCP_NO_ERROR)
        return rc;
    return wait_started(proxy);
}

static char *probe_ipc(OHIPCRemoteProxy *proxy, pid_t other) {
    char params[1024];
    params_for(params, sizeof params, other);
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    CHECK_EQ(OH_IPCParcel_WriteString(data, params), OH_IPC_SUCCESS);
    CHECK_EQ(OH_IPCRemoteProxy_SendRequest(proxy, 1, data, reply, NULL), OH_IPC_SUCCESS);
    const char *s = OH_IPCParcel_ReadString(reply);
    CHECK(s != NULL);
    char *copy = strdup(s);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    return copy;
}

static void end_ipc(OHIPCRemoteProxy *proxy) {
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    CHECK_EQ(OH_IPCRemoteProxy_SendRequest(proxy, 3, data, reply, NULL), OH_IPC_SUCCESS);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    OH_IPCRemoteProxy_Destroy(proxy);
}

/* The channel is set up before the sandbox closes: requests work as in
 * normal mode, and the child answers from inside its sandbox. */
TEST(isolated_ipc_mode) {
    NEED_SANDBOX();
    setup();
    pid_t other = other_child();
    for (int own_uid = 0; own_uid < 2; own_uid++) {
        OHIPCRemoteProxy *proxy = NULL;
        CHECK_EQ(create_isolated_ipc(own_uid, &proxy), NCP_NO_ERROR);
        CHECK(proxy != NULL);
        for (int round = 0; round < 3; round++) { /* several round trips */
            char *a = probe_ipc(proxy, other);
            check_isolated(a);
            if (own_uid)
                CHECK_DENIED(a, "read_secret");
            free(a);
        }
        end_ipc(proxy);
    }
}

/* ---- refusal (issue item 4) ---- */

/* A seccomp filter that makes unshare() fail with EPERM, as a container
 * that forbids namespaces does. It is inherited by the spawner this
 * process starts, and by every child. */
static void forbid_unshare(void) {
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    const unsigned arch = 0;
    SKIP("no seccomp arch constant for this machine in the test");
#endif
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_unshare, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
    CHECK(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0);
}

TEST(refused_namespaces_are_not_supported) {
    NEED_SANDBOX(); /* else the refusal is Landlock's, tested below */
    if (under_qemu_user())
        SKIP("qemu-user cannot install seccomp filters");
    setup();
    register_recorder();
    forbid_unshare();
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int32_t pid = 0;
    for (int own_uid = 0; own_uid < 2; own_uid++) {
        CHECK_EQ(start_sandbox("Sandbox_Probe", "", true, own_uid, p[1], -1, &pid),
                 NCP_ERR_NOT_SUPPORTED);
        CHECK_EQ(pid, 0);
        const char *msg = start_msg;
        CHECK(strstr(msg, "unshare(CLONE_NEW") != NULL);
        CHECK(strstr(msg, "refused") != NULL);
        CHECK(strstr(msg, strerror(EPERM)) != NULL);
    }
    OHIPCRemoteProxy *proxy = NULL;
    CHECK_EQ(create_isolated_ipc(false, &proxy), NCP_ERR_NOT_SUPPORTED);
    CHECK(proxy == NULL);
    /* the failed children never ran an entry and wrote nothing */
    close(p[1]);
    char buf[16];
    CHECK_EQ(read_all(p[0], buf, sizeof buf), 0);
    /* normal mode still works, in the one slot: nothing leaked */
    setenv("OHNCP_MAX_CHILDREN", "1", 1);
    int32_t good = 0;
    int rc = NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
    for (int i = 0; i < 200 && rc == NCP_ERR_MAX_CHILD_PROCESSES_REACHED; i++)
        if ((rc = start_child("Entry_Echo", "", -1, &good)) != NCP_NO_ERROR)
            usleep(10000);
    CHECK_EQ(rc, NCP_NO_ERROR);
    CHECK_EQ(wait_exit(good, 5000), 0);
    pthread_mutex_lock(&exits_lock);
    CHECK_EQ(nexits, 1); /* no exit callback for a refused start */
    pthread_mutex_unlock(&exits_lock);
}

/* Without Landlock the sandbox cannot close: the start is refused with
 * NCP_ERR_NOT_SUPPORTED and a reason, in both modes, and nothing runs. */
TEST(isolated_refused_without_landlock) {
    if (landlock_available())
        SKIP("Landlock is available here: isolated starts work");
    setup();
    register_recorder();
    int p[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0);
    int32_t pid = 0;
    for (int own_uid = 0; own_uid < 2; own_uid++) {
        CHECK_EQ(start_sandbox("Sandbox_Probe", "", true, own_uid, p[1], -1, &pid),
                 NCP_ERR_NOT_SUPPORTED);
        CHECK_EQ(pid, 0);
        CHECK(strstr(start_msg, "Landlock") != NULL);
    }
    OHIPCRemoteProxy *proxy = NULL;
    CHECK_EQ(create_isolated_ipc(false, &proxy), NCP_ERR_NOT_SUPPORTED);
    CHECK(proxy == NULL);
    close(p[1]);
    char buf[16];
    CHECK_EQ(read_all(p[0], buf, sizeof buf), 0);
    /* normal mode is unaffected */
    int32_t good = 0;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &good), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(good, 5000), 0);
}

/* Process names hold in isolated mode too (spec §5). */
TEST(isolated_process_name) {
    NEED_SANDBOX();
    setup();
    setenv("OHNCP_BUNDLE_NAME", "com.example.iso", 1);
    Ability_ChildProcessConfigs *c = configs(true, true);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "sandboxed_1"), NCP_NO_ERROR);
    int p[2], in[2];
    CHECK(pipe2(p, O_CLOEXEC) == 0 && pipe2(in, O_CLOEXEC) == 0);
    NativeChildProcess_Fd nin = {.fdName = (char *)"in", .fd = in[0]};
    NativeChildProcess_Fd nout = {.fdName = (char *)"out", .fd = p[1], .next = &nin};
    NativeChildProcess_Args args = {.fdList = {.head = &nout}};
    int32_t pid;
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(SANDBOX_LIB ":Sandbox_Hold", args, c, &pid),
             NCP_NO_ERROR);
    OH_Ability_DestroyChildProcessConfigs(c);
    char buf[256], path[64];
    CHECK(read(p[0], buf, sizeof buf) > 0);
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    CHECK_STREQ(buf, "com.example.iso:sandboxed_1");
    close(in[1]);
}

/* The sandbox's own fds (shared namespaces, the library's fd) are gone
 * before the entry runs (spec §3): 0-2 and the passed fd, nothing else. */
TEST(isolated_child_sees_exactly_its_fds) {
    NEED_SANDBOX();
    setup();
    for (int own_uid = 0; own_uid < 2; own_uid++) {
        for (int round = 0; round < 4; round++) { /* before and after the shared namespace */
            int p[2];
            CHECK(pipe2(p, O_CLOEXEC) == 0);
            NativeChildProcess_Fd out = {.fdName = (char *)"out", .fd = p[1]};
            NativeChildProcess_Args args = {.fdList = {.head = &out}};
            Ability_ChildProcessConfigs *c = configs(true, own_uid);
            int32_t pid;
            CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_ListFds"), args,
                                                                   c, &pid),
                     NCP_NO_ERROR);
            OH_Ability_DestroyChildProcessConfigs(c);
            close(p[1]);
            char buf[512];
            CHECK(read_all(p[0], buf, sizeof buf) > 0);
            close(p[0]);
            *strstr(buf, ";names:") = '\0';
            int n = 0;
            for (char *t = strtok(buf + 4, ","); t != NULL; t = strtok(NULL, ","))
                n++;
            CHECK_EQ(n, 4);
        }
    }
}
