/* test_native_child_process.c - args-mode API behaviour (spec §3, §5). */
#include "helpers.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* ---- validation: every 401 is synchronous and starts nothing ---- */

TEST(invalid_entries) {
    NativeChildProcess_Args args = {0};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    const char *bad[] = {NULL, "", "no_colon", ":Entry_Echo", CHILD_LIB ":", "../x.so:Entry",
                         "dir/../x.so:Entry"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(OH_Ability_StartNativeChildProcess(bad[i], args, opts, &pid),
                 NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, NULL),
             NCP_ERR_INVALID_PARAM);
    opts.isolationMode = (NativeChildProcess_IsolationMode)2;
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    CHECK(strstr(OH_Ohncp_GetLastErrorMessage(), "isolation") != NULL);
    CHECK_EQ(pid, 0);
}

TEST(invalid_fds) {
    NativeChildProcess_Fd n1 = {.fdName = NULL, .fd = 1};
    NativeChildProcess_Args args = {.fdList = {.head = &n1}};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    n1.fdName = (char *)"";
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    n1.fdName = (char *)"abcdefghijklmnopqrstu"; /* 21 bytes */
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    n1.fdName = (char *)"abcdefghijklmnopqrst"; /* 20 bytes: fine, but fd -1 */
    n1.fd = -1;
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    n1.fd = 900; /* not open */
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    CHECK(strstr(OH_Ohncp_GetLastErrorMessage(), "not open") != NULL);
    NativeChildProcess_Fd many[17];
    char names[17][8];
    for (int i = 0; i < 17; i++) {
        snprintf(names[i], sizeof names[i], "f%d", i);
        many[i] = (NativeChildProcess_Fd){.fdName = names[i], .fd = 2,
                                          .next = i < 16 ? &many[i + 1] : NULL};
    }
    args.fdList.head = many;
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    many[0].next = &many[0]; /* a cycle must not hang the check */
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_Echo"), args, opts, &pid),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(pid, 0);
}

TEST(params_limit) {
    size_t max = 153600;
    char *big = malloc(max + 2);
    memset(big, 'p', max + 1);
    big[max + 1] = '\0';
    int32_t pid = 0;
    CHECK_EQ(start_child("Entry_Echo", big, -1, &pid), NCP_ERR_INVALID_PARAM);
    /* exactly the limit travels whole (through a memfd) */
    big[max] = '\0';
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(start_child("Entry_Echo", big, p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char *got = malloc(max + 16);
    CHECK_EQ(read_all(p[0], got, max + 16), (ssize_t)max);
    CHECK(memcmp(got, big, max) == 0);
    free(big);
    free(got);
}

TEST(configs_validation) {
    CHECK_EQ(OH_Ability_DestroyChildProcessConfigs(NULL), NCP_ERR_INVALID_PARAM);
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK(c != NULL);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationMode(NULL, NCP_ISOLATION_MODE_NORMAL),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationMode(c, (NativeChildProcess_IsolationMode)2),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationMode(c, NCP_ISOLATION_MODE_ISOLATED),
             NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationUid(NULL, true), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetIsolationUid(c, true), NCP_NO_ERROR);
    char n64[65], n65[66];
    memset(n64, 'n', 64);
    n64[64] = '\0';
    memset(n65, 'n', 65);
    n65[65] = '\0';
    const char *bad_names[] = {NULL, "", "has space", "dash-x", "dot.x", "\xc3\xbc", n65};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, bad_names[i]),
                 NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(NULL, "ok"), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, n64), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "Az_09"), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "a"), NCP_NO_ERROR); /* 1 byte */
    int32_t pid = 0;
    NativeChildProcess_Args args = {0};
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_Echo"), args, NULL, &pid),
             NCP_ERR_INVALID_PARAM);
    /* isolated mode and isolationUid start here (test_isolation.c checks
     * the sandbox, and the refusal where the kernel says no) */
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_Echo"), args, c, &pid),
             landlock_available() ? NCP_NO_ERROR : NCP_ERR_NOT_SUPPORTED);
    CHECK_EQ(OH_Ability_DestroyChildProcessConfigs(c), NCP_NO_ERROR);
}

/* ---- starting and seeing the child ---- */

TEST(start_runs_entry_and_reports_exit) {
    register_recorder();
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid = 0;
    CHECK_EQ(start_child("Entry_WriteByte", NULL, p[1], &pid), NCP_NO_ERROR);
    CHECK(pid > 0);
    close(p[1]);
    char buf[8];
    CHECK_EQ(read_all(p[0], buf, sizeof buf), 1);
    CHECK_EQ(buf[0], 'x');
    CHECK_EQ(wait_exit(pid, 5000), 0);
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_ERR_INVALID_PID); /* gone now */
}

TEST(params_reach_child) {
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "hello, child", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[64];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "hello, child");
    close(p[0]);
    CHECK(pipe(p) == 0);
    CHECK_EQ(start_child("Entry_Echo", NULL, p[1], &pid), NCP_NO_ERROR); /* NULL is "" */
    close(p[1]);
    CHECK_EQ(read_all(p[0], buf, sizeof buf), 0);
}

TEST(exit_signal_values) {
    register_recorder();
    struct {
        const char *sym;
        int want;
    } cases[] = {{"Entry_Echo", 0}, {"Entry_Exit3", 3}, {"Entry_Abort", SIGABRT},
                 {"Entry_Segv", SIGSEGV}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int32_t pid;
        CHECK_EQ(start_child(cases[i].sym, "", -1, &pid), NCP_NO_ERROR);
        CHECK_EQ(wait_exit(pid, 5000), cases[i].want);
    }
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Block", "", p[1], &pid), NCP_NO_ERROR);
    char c;
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), SIGKILL);
    pthread_mutex_lock(&exits_lock);
    CHECK_EQ(count_exits(pid), 1);
    pthread_mutex_unlock(&exits_lock);
}

static void raw_exit(int32_t pid, int32_t wstatus, void *user) {
    (void)user;
    record_exit(-pid, wstatus); /* negative pid: kept apart from SDK records */
}

TEST(raw_status_distinguishes_exit_9_from_sigkill) {
    CHECK_EQ(OH_Ohncp_RegisterExitStatusCallback(NULL, NULL), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ohncp_RegisterExitStatusCallback(raw_exit, NULL), NCP_NO_ERROR);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
    int st = wait_exit(-pid, 5000);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    CHECK_EQ(start_child("Entry_Abort", "", -1, &pid), NCP_NO_ERROR);
    st = wait_exit(-pid, 5000);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    CHECK_EQ(OH_Ohncp_UnregisterExitStatusCallback(raw_exit, NULL), NCP_NO_ERROR);
    CHECK_EQ(OH_Ohncp_UnregisterExitStatusCallback(raw_exit, NULL), NCP_ERR_CALLBACK_NOT_EXIST);
}

TEST(library_loading_failures) {
    register_recorder();
    NativeChildProcess_Args args = {0};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    CHECK_EQ(OH_Ability_StartNativeChildProcess("/nonexistent/libnope.so:Main", args, opts, &pid),
             NCP_ERR_LIB_LOADING_FAILED);
    CHECK(strstr(OH_Ohncp_GetLastErrorMessage(), "libnope.so") != NULL);
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("No_Such_Symbol"), args, opts, &pid),
             NCP_ERR_LIB_LOADING_FAILED);
    CHECK(strstr(OH_Ohncp_GetLastErrorMessage(), "No_Such_Symbol") != NULL);
    CHECK_EQ(OH_Ability_StartNativeChildProcess(OHNCP_TEST_CHILD_DIR "/libchild_crashctor.so:Entry_Never",
                                                args, opts, &pid),
             NCP_ERR_LIB_LOADING_FAILED);
    CHECK_EQ(pid, 0);
    /* A failed start is not a started child: no exit callback for it. The
     * next good child's callback arrives; no other came before it. */
    int32_t good;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &good), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(good, 5000), 0);
    pthread_mutex_lock(&exits_lock);
    CHECK_EQ(nexits, 1);
    pthread_mutex_unlock(&exits_lock);
}

TEST(start_timeout_kills_child) {
    setenv("OHNCP_START_TIMEOUT_MS", "300", 1);
    NativeChildProcess_Args args = {0};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    CHECK_EQ(OH_Ability_StartNativeChildProcess(OHNCP_TEST_CHILD_DIR "/libchild_slowctor.so:Entry_Never",
                                                args, opts, &pid),
             NCP_ERR_TIMEOUT);
    unsetenv("OHNCP_START_TIMEOUT_MS");
    /* its slot comes back once the spawner reaped it */
    setenv("OHNCP_MAX_CHILDREN", "1", 1);
    int rc = NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
    for (int i = 0; i < 200 && rc == NCP_ERR_MAX_CHILD_PROCESSES_REACHED; i++) {
        rc = start_child("Entry_Echo", "", -1, &pid);
        if (rc != NCP_NO_ERROR)
            usleep(10000);
    }
    CHECK_EQ(rc, NCP_NO_ERROR);
}

TEST(spawner_missing_is_service_error) {
    setenv("OHNCP_SPAWNER", "/nonexistent/ohncp-spawner", 1);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_ERR_SERVICE_ERROR);
    CHECK(strstr(OH_Ohncp_GetLastErrorMessage(), "/nonexistent/ohncp-spawner") != NULL);
    unsetenv("OHNCP_SPAWNER"); /* and the next start recovers */
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
}

TEST(kill_invalid_pids) {
    CHECK_EQ(OH_Ability_KillChildProcess(0), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ability_KillChildProcess(-1), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ability_KillChildProcess(getpid()), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ability_KillChildProcess(1), NCP_ERR_INVALID_PID);
}

static void cb_a(int32_t pid, int32_t sig) { record_exit(pid, 1000 + sig); }
static void cb_b(int32_t pid, int32_t sig) { record_exit(pid, 2000 + sig); }

TEST(exit_callback_registration) {
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(NULL), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(NULL), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(cb_a), NCP_ERR_CALLBACK_NOT_EXIST);
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(cb_a), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(cb_a), NCP_NO_ERROR); /* kept once */
    CHECK_EQ(OH_Ability_RegisterNativeChildProcessExitCallback(cb_b), NCP_NO_ERROR);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
    CHECK(wait_exit(pid, 5000) >= 0);
    usleep(50000);
    pthread_mutex_lock(&exits_lock);
    CHECK_EQ(nexits, 2); /* a once, b once, in registration order */
    CHECK_EQ(exits[0].signal, 1003);
    CHECK_EQ(exits[1].signal, 2003);
    pthread_mutex_unlock(&exits_lock);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(cb_a), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_UnregisterNativeChildProcessExitCallback(cb_a), NCP_ERR_CALLBACK_NOT_EXIST);
    CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 2003);
}

TEST(child_sees_exactly_its_fds) {
    int out[2], a[2];
    CHECK(pipe(out) == 0 && pipe(a) == 0);
    int devnull = open("/dev/null", O_RDONLY); /* not passed: must not leak */
    int listener = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(devnull >= 0 && listener >= 0);
    NativeChildProcess_Fd nz = {.fdName = (char *)"zeta", .fd = a[0]};
    NativeChildProcess_Fd nout = {.fdName = (char *)"out", .fd = out[1], .next = &nz};
    NativeChildProcess_Fd na = {.fdName = (char *)"alpha", .fd = a[1], .next = &nout};
    NativeChildProcess_Fd dup = {.fdName = (char *)"zeta", .fd = devnull, .next = &na};
    nz.next = NULL;
    NativeChildProcess_Fd first = {.fdName = (char *)"mid", .fd = a[0], .next = &dup};
    NativeChildProcess_Args args = {.fdList = {.head = &first}};
    NativeChildProcess_Options opts = {0};
    int32_t pid;
    /* duplicate "zeta": the first (devnull) wins, a[0] under that name is dropped */
    CHECK_EQ(OH_Ability_StartNativeChildProcess(entry_of("Entry_ListFds"), args, opts, &pid),
             NCP_NO_ERROR);
    struct stat s_a1, s_a0, s_out, s_null;
    fstat(a[1], &s_a1);
    fstat(a[0], &s_a0);
    fstat(out[1], &s_out);
    fstat(devnull, &s_null);
    close(out[1]);
    char buf[4096];
    read_all(out[0], buf, sizeof buf);
    /* the parent keeps its own fds */
    CHECK(fcntl(a[0], F_GETFD) >= 0 && fcntl(devnull, F_GETFD) >= 0);
    char *names = strstr(buf, ";names:");
    CHECK(names != NULL);
    *names = '\0';
    names += 7;
    int n = 0, fds[64];
    for (char *t = strtok(buf + 4, ","); t != NULL; t = strtok(NULL, ","))
        fds[n++] = atoi(t);
    CHECK_EQ(n, 7); /* 0,1,2 + alpha, mid, out, zeta */
    for (int i = 0; i < 3; i++) {
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen |= fds[j] == i;
        CHECK(seen);
    }
    char want[512];
    snprintf(want, sizeof want, "alpha=%lu:%lu,mid=%lu:%lu,out=%lu:%lu,zeta=%lu:%lu,",
             (unsigned long)s_a1.st_dev, (unsigned long)s_a1.st_ino, (unsigned long)s_a0.st_dev,
             (unsigned long)s_a0.st_ino, (unsigned long)s_out.st_dev, (unsigned long)s_out.st_ino,
             (unsigned long)s_null.st_dev, (unsigned long)s_null.st_ino);
    CHECK_STREQ(names, want);
}

TEST(nested_start_is_already_in_child) {
    CHECK(OH_Ability_GetCurrentChildProcessArgs() == NULL);
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_NestedStart", "", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[32];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "16010005 16010005"); /* args mode and IPC mode */
}

TEST(current_args_from_any_thread) {
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_CurrentArgs", "xyz", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[32];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "same");
}

TEST(multi_process_switch) {
    CHECK(OH_Ability_IsNativeChildProcessSupported());
    setenv("OHNCP_MULTI_PROCESS", "0", 1);
    CHECK(!OH_Ability_IsNativeChildProcessSupported());
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_ERR_MULTI_PROCESS_DISABLED);
    unsetenv("OHNCP_MULTI_PROCESS");
    CHECK(OH_Ability_IsNativeChildProcessSupported());
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
}

TEST(ipc_mode_not_yet) {
    CHECK_EQ(OH_Ability_CreateNativeChildProcess(NULL, NULL), NCP_ERR_INVALID_PARAM);
}

TEST(environment_and_cwd_of_the_caller) {
    int32_t pid;
    int p[2];
    CHECK(pipe(p) == 0);
    CHECK_EQ(start_child("Entry_Echo", "warm-up", p[1], &pid), NCP_NO_ERROR);
    close(p[0]);
    close(p[1]);
    /* changed after the spawner started: the child must still see them */
    setenv("OHNCP_TEST_VAR", "changed-later", 1);
    CHECK(chdir("/tmp") == 0);
    CHECK(pipe(p) == 0);
    CHECK_EQ(start_child("Entry_EnvCwd", "", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[2048];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "env=changed-later;cwd=/tmp");
}

/* Exits by start id: kept apart from the SDK records by an offset. */
#define BY_ID_BASE 1000000
static uint64_t by_id_last;
static void exit_by_id(uint64_t start_id, int32_t pid, int32_t wstatus, void *user) {
    (void)user;
    (void)pid;
    pthread_mutex_lock(&exits_lock);
    by_id_last = start_id;
    pthread_mutex_unlock(&exits_lock);
    record_exit(BY_ID_BASE + (int32_t)start_id, wstatus);
}

TEST(start_with_env_reports_exit_by_start_id) {
    CHECK_EQ(OH_Ohncp_RegisterExitByIdCallback(NULL, NULL), NCP_ERR_INVALID_PARAM);
    CHECK_EQ(OH_Ohncp_RegisterExitByIdCallback(exit_by_id, NULL), NCP_NO_ERROR);
    Ability_ChildProcessConfigs *configs = OH_Ability_CreateChildProcessConfigs();
    CHECK(configs != NULL);
    int p[2];
    CHECK(pipe(p) == 0);
    NativeChildProcess_Fd node = {.fdName = (char *)"out", .fd = p[1], .next = NULL};
    NativeChildProcess_Args args = {.entryParams = (char *)"", .fdList = {.head = &node}};
    /* The child gets envp, not the caller's environ. */
    setenv("OHNCP_TEST_VAR", "from-environ", 1);
    char *const envp[] = {(char *)"OHNCP_TEST_VAR=from-envp", NULL};
    int32_t pid = 0;
    uint64_t first = 0, second = 0;
    CHECK_EQ(OH_Ohncp_StartChildProcessWithEnv(entry_of("Entry_EnvCwd"), args, configs, envp, &pid,
                                               &first),
             NCP_NO_ERROR);
    close(p[1]);
    char buf[2048];
    read_all(p[0], buf, sizeof buf);
    close(p[0]);
    CHECK(strncmp(buf, "env=from-envp;", 14) == 0);
    CHECK(first > 0);
    int st = wait_exit(BY_ID_BASE + (int32_t)first, 5000);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* Ids are never reused: the next start has a greater one. */
    args.fdList.head = NULL;
    args.entryParams = (char *)"";
    CHECK_EQ(OH_Ohncp_StartChildProcessWithEnv(entry_of("Entry_Exit3"), args, configs, NULL, &pid,
                                               &second),
             NCP_NO_ERROR);
    CHECK(second > first);
    st = wait_exit(BY_ID_BASE + (int32_t)second, 5000);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 3);
    CHECK_EQ(OH_Ohncp_StartChildProcessWithEnv(entry_of("Entry_Exit3"), args, configs, NULL, &pid,
                                               NULL),
             NCP_ERR_INVALID_PARAM);
    /* Kill by start id: the live child only, never a reaped one's. */
    CHECK_EQ(OH_Ohncp_KillChildProcessById(second), NCP_ERR_INVALID_PID);
    CHECK_EQ(OH_Ohncp_KillChildProcessById(0), NCP_ERR_INVALID_PID);
    uint64_t third = 0;
    CHECK(pipe(p) == 0);
    node.fd = p[1];
    args.fdList.head = &node;
    CHECK_EQ(OH_Ohncp_StartChildProcessWithEnv(entry_of("Entry_Block"), args, configs, NULL, &pid,
                                               &third),
             NCP_NO_ERROR);
    close(p[1]);
    CHECK_EQ(read(p[0], buf, 1), 1);
    close(p[0]);
    CHECK_EQ(OH_Ohncp_KillChildProcessById(third), NCP_NO_ERROR);
    st = wait_exit(BY_ID_BASE + (int32_t)third, 5000);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CHECK_EQ(OH_Ohncp_UnregisterExitByIdCallback(exit_by_id, NULL), NCP_NO_ERROR);
    CHECK_EQ(OH_Ohncp_UnregisterExitByIdCallback(exit_by_id, NULL), NCP_ERR_CALLBACK_NOT_EXIST);
    CHECK_EQ(OH_Ability_DestroyChildProcessConfigs(configs), NCP_NO_ERROR);
    unsetenv("OHNCP_TEST_VAR");
}

TEST(signal_state_is_default) {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, NULL);
    signal(SIGPIPE, SIG_IGN);
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Signals", "", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[64];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "mask=0;pipe=0");
}

TEST(entry_return_ends_process_with_threads) {
    register_recorder();
    int32_t pid;
    CHECK_EQ(start_child("Entry_ThreadAndReturn", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 0);
}

TEST(process_names) {
    if (under_qemu_user())
        SKIP("qemu-user serves /proc/self/cmdline from its own copy of argv");
    setenv("OHNCP_BUNDLE_NAME", "com.example.app", 1);
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Names", "", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[1200];
    read_all(p[0], buf, sizeof buf);
    CHECK(strncmp(buf, "com.example.app:Native_child_basic", 34) == 0);
    CHECK(strstr(buf, "|com.example.app") != NULL); /* comm: first 15 bytes */
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, "worker_7"), NCP_NO_ERROR);
    CHECK(pipe(p) == 0);
    NativeChildProcess_Fd out = {.fdName = (char *)"out", .fd = p[1]};
    NativeChildProcess_Args args = {.fdList = {.head = &out}};
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_Names"), args, c, &pid),
             NCP_NO_ERROR);
    close(p[1]);
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "com.example.app:worker_7|com.example.app");
    OH_Ability_DestroyChildProcessConfigs(c);
}

TEST(library_path_lookup) {
    setenv("OHNCP_LIBRARY_PATH", "/nonexistent:" OHNCP_TEST_CHILD_DIR, 1);
    int p[2];
    CHECK(pipe(p) == 0);
    NativeChildProcess_Fd out = {.fdName = (char *)"out", .fd = p[1]};
    NativeChildProcess_Args args = {.entryParams = (char *)"bare", .fdList = {.head = &out}};
    NativeChildProcess_Options opts = {0};
    int32_t pid;
    CHECK_EQ(OH_Ability_StartNativeChildProcess("libchild_basic.so:Entry_Echo", args, opts, &pid),
             NCP_NO_ERROR);
    close(p[1]);
    char buf[32];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "bare");
    /* a relative path is taken from the caller's working directory */
    CHECK(chdir(OHNCP_TEST_CHILD_DIR) == 0);
    CHECK(pipe(p) == 0);
    out.fd = p[1];
    args.entryParams = (char *)"relative";
    CHECK_EQ(OH_Ability_StartNativeChildProcess("./libchild_basic.so:Entry_Echo", args, opts, &pid),
             NCP_NO_ERROR);
    close(p[1]);
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "relative");
}

TEST(internal_error_when_out_of_fds) {
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR); /* runtime up */
    struct rlimit old, tight;
    getrlimit(RLIMIT_NOFILE, &old);
    int highest = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            highest = fd;
    tight = old;
    tight.rlim_cur = (rlim_t)highest + 1; /* no new fd fits */
    int before = count_fds();
    CHECK(setrlimit(RLIMIT_NOFILE, &tight) == 0);
    int fillers[1024], nfill = 0; /* take every free number below the limit */
    while (nfill < 1024 && (fillers[nfill] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        nfill++;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_ERR_INTERNAL);
    CHECK(strlen(OH_Ohncp_GetLastErrorMessage()) > 0);
    for (int i = 0; i < nfill; i++)
        close(fillers[i]);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);
    CHECK_EQ(count_fds(), before); /* nothing half-made stays open */
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
}

/* What others see (spec §5): the full "{bundle}:{name}" in
 * /proc/<pid>/cmdline, its first 15 bytes in comm; the default name counts
 * up per parent; the bundle defaults to the program's name. */
static void names_of(int32_t pid, char *cmdline, size_t cmd_size, char *comm, size_t comm_size) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    size_t n = fread(cmdline, 1, cmd_size - 1, f);
    cmdline[n] = '\0';
    fclose(f);
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    f = fopen(path, "r");
    CHECK(f != NULL && fgets(comm, (int)comm_size, f) != NULL);
    comm[strcspn(comm, "\n")] = '\0';
    fclose(f);
}

TEST(process_names_seen_from_outside) {
    if (under_qemu_user())
        SKIP("qemu-user serves /proc/<pid>/cmdline from its own copy of argv");
    unsetenv("OHNCP_BUNDLE_NAME");
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pids[2];
    char cmd[2][512], comm[64], want[512];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(start_child("Entry_Block", "", p[1], &pids[i]), NCP_NO_ERROR);
        char c;
        CHECK_EQ(read(p[0], &c, 1), 1);
        names_of(pids[i], cmd[i], sizeof cmd[i], comm, sizeof comm);
        snprintf(want, sizeof want, "%s:Native_child_basic", program_invocation_short_name);
        CHECK(strncmp(cmd[i], want, strlen(want)) == 0);
        CHECK_EQ(strlen(comm), 15);
        CHECK(strncmp(comm, cmd[i], 15) == 0);
    }
    /* the counter: N, then N + 1 */
    size_t prefix = strlen(want);
    CHECK_EQ(strtoul(cmd[1] + prefix, NULL, 10), strtoul(cmd[0] + prefix, NULL, 10) + 1);
    /* a configured name, 64 bytes, in full */
    setenv("OHNCP_BUNDLE_NAME", "b", 1);
    char name[65];
    memset(name, 'Z', 64);
    name[64] = '\0';
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    CHECK_EQ(OH_Ability_ChildProcessConfigs_SetProcessName(c, name), NCP_NO_ERROR);
    NativeChildProcess_Fd out = {.fdName = (char *)"out", .fd = p[1]};
    NativeChildProcess_Args args = {.fdList = {.head = &out}};
    int32_t pid;
    CHECK_EQ(OH_Ability_StartNativeChildProcessWithConfigs(entry_of("Entry_Block"), args, c, &pid),
             NCP_NO_ERROR);
    OH_Ability_DestroyChildProcessConfigs(c);
    char ch;
    CHECK_EQ(read(p[0], &ch, 1), 1);
    names_of(pid, cmd[0], sizeof cmd[0], comm, sizeof comm);
    snprintf(want, sizeof want, "b:%s", name);
    CHECK_STREQ(cmd[0], want);
    CHECK_STREQ(comm, "b:ZZZZZZZZZZZZZ");
    for (int i = 0; i < 2; i++)
        CHECK_EQ(OH_Ability_KillChildProcess(pids[i]), NCP_NO_ERROR);
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_NO_ERROR);
}
