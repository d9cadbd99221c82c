/* test_process_model.c - the process model of design.md: limits, lifetime,
 * concurrency, fork safety and leaks. */
#include "helpers.h"

#include <fcntl.h>
#include <stdlib.h>

/* Start `n` children that live until `in_w` is closed. */
static int start_waiters(int n, int in_r, int32_t *pids) {
    NativeChildProcess_Fd in = {.fdName = (char *)"in", .fd = in_r};
    NativeChildProcess_Args args = {.fdList = {.head = &in}};
    NativeChildProcess_Options opts = {0};
    for (int i = 0; i < n; i++) {
        int rc = OH_Ability_StartNativeChildProcess(entry_of("Entry_WaitEof"), args, opts, &pids[i]);
        if (rc != NCP_NO_ERROR)
            return rc;
    }
    return NCP_NO_ERROR;
}

TEST_TIMEOUT(limit_512_children, 120) {
    register_recorder();
    int in[2];
    CHECK(pipe2(in, O_CLOEXEC) == 0);
    static int32_t pids[512];
    int threads_before = count_threads();
    CHECK_EQ(start_waiters(1, in[0], pids), NCP_NO_ERROR); /* runtime up */
    int threads_one = count_threads();
    CHECK_EQ(start_waiters(511, in[0], pids + 1), NCP_NO_ERROR);
    CHECK_EQ(count_threads(), threads_one); /* O(1) threads, not one per child */
#if defined(__SANITIZE_THREAD__)
    CHECK(threads_one <= threads_before + 2); /* TSan adds a thread of its own */
#else
    CHECK(threads_one <= threads_before + 1);
#endif
    for (int i = 0; i < 512; i++)
        for (int j = i + 1; j < 512; j++)
            CHECK(pids[i] != pids[j]);
    int32_t extra;
    CHECK_EQ(start_waiters(1, in[0], &extra), NCP_ERR_MAX_CHILD_PROCESSES_REACHED);
    close(in[1]); /* all 512 see EOF and return */
    for (int i = 0; i < 512; i++)
        CHECK_EQ(wait_exit(pids[i], 10000), 0);
    CHECK(pipe2(in, O_CLOEXEC) == 0);
    CHECK_EQ(start_waiters(4, in[0], pids), NCP_NO_ERROR); /* works again */
    close(in[1]);
}

TEST(env_lowers_the_limit) {
    setenv("OHNCP_MAX_CHILDREN", "3", 1);
    int in[2];
    CHECK(pipe2(in, O_CLOEXEC) == 0);
    int32_t pids[4];
    CHECK_EQ(start_waiters(3, in[0], pids), NCP_NO_ERROR);
    CHECK_EQ(start_waiters(1, in[0], pids + 3), NCP_ERR_MAX_CHILD_PROCESSES_REACHED);
    close(in[1]);
}

/* A parent process that starts children, reports their pids, then waits. */
static void parent_of_children(int report_fd, int n) {
    int in[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        _exit(2);
    int32_t pids[16];
    if (start_waiters(n, in[0], pids) != NCP_NO_ERROR)
        _exit(3);
    if (write(report_fd, pids, sizeof(int32_t) * (size_t)n) < 0)
        _exit(4);
    for (;;)
        pause();
}

TEST(children_die_with_sigkilled_parent) {
    int rep[2];
    CHECK(pipe(rep) == 0);
    pid_t parent = fork();
    CHECK(parent >= 0);
    if (parent == 0)
        parent_of_children(rep[1], 5);
    close(rep[1]);
    int32_t pids[5];
    CHECK_EQ(read(rep[0], pids, sizeof pids), (ssize_t)sizeof pids);
    for (int i = 0; i < 5; i++)
        CHECK(!wait_gone(pids[i], 0)); /* alive */
    kill(parent, SIGKILL);
    waitpid(parent, NULL, 0);
    for (int i = 0; i < 5; i++)
        CHECK(wait_gone(pids[i], 5000));
}

static void *start_and_leave(void *p) {
    int in_r = *(int *)p;
    int32_t pid = 0;
    if (start_waiters(1, in_r, &pid) != NCP_NO_ERROR)
        pid = -1;
    return (void *)(intptr_t)pid;
}

TEST(children_survive_their_starting_thread) {
    register_recorder();
    int in[2];
    CHECK(pipe2(in, O_CLOEXEC) == 0);
    pthread_t t;
    void *ret;
    /* the very first start (which launches the spawner) comes from a thread
     * that then exits */
    pthread_create(&t, NULL, start_and_leave, &in[0]);
    pthread_join(t, &ret);
    int32_t pid = (int32_t)(intptr_t)ret;
    CHECK(pid > 0);
    usleep(300000);
    CHECK(!wait_gone(pid, 0));
    CHECK_EQ(OH_Ability_KillChildProcess(pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), SIGKILL);
}

static pthread_barrier_t barrier;

static void *concurrent_start(void *p) {
    int32_t *pid = p;
    pthread_barrier_wait(&barrier);
    if (start_child("Entry_Echo", "", -1, pid) != NCP_NO_ERROR)
        *pid = -1;
    return NULL;
}

TEST(concurrent_starts_from_8_threads) {
    for (int round = 0; round < 20; round++) {
        pthread_t t[8];
        int32_t pids[8];
        pthread_barrier_init(&barrier, NULL, 8);
        for (int i = 0; i < 8; i++)
            pthread_create(&t[i], NULL, concurrent_start, &pids[i]);
        for (int i = 0; i < 8; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&barrier);
        for (int i = 0; i < 8; i++) {
            CHECK(pids[i] > 0);
            for (int j = i + 1; j < 8; j++)
                CHECK(pids[i] != pids[j]);
        }
    }
}

TEST(fork_after_children_started) {
    if (under_qemu_user())
        SKIP("qemu-user 7.2 aborts in fork() of a process with running threads");
    register_recorder();
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 0);
    pid_t forked = fork();
    CHECK(forked >= 0);
    if (forked == 0) {
        /* a fresh runtime: start, see the exit, and the parent's pids are
         * not ours */
        nexits = 0;
        int32_t mine;
        if (OH_Ability_KillChildProcess(pid) != NCP_ERR_INVALID_PID)
            _exit(10);
        if (start_child("Entry_Exit3", "", -1, &mine) != NCP_NO_ERROR)
            _exit(11);
        _exit(wait_exit(mine, 5000) == 3 ? 0 : 12);
    }
    CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 3);
    int st;
    CHECK_EQ(waitpid(forked, &st, 0), forked);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

TEST_TIMEOUT(no_leaks_after_2000_cycles, 240) {
    register_recorder();
    int32_t pid;
    for (int i = 0; i < 50; i++) { /* warm up: runtime thread, spawner, allocator */
        CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
        CHECK_EQ(wait_exit(pid, 5000), 0);
    }
    nexits = 0;
    int fds = count_fds(), threads = count_threads();
    long rss = rss_kb();
    for (int i = 0; i < 2000; i++) {
        CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
        CHECK_EQ(wait_exit(pid, 5000), 0);
        if (i % 256 == 255) {
            pthread_mutex_lock(&exits_lock);
            nexits = 0;
            pthread_mutex_unlock(&exits_lock);
        }
    }
    CHECK_EQ(count_fds(), fds);
    CHECK_EQ(count_threads(), threads);
    long grown = rss_kb() - rss;
    fprintf(stderr, "rss before %ld kB, growth %ld kB\n", rss, grown);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    CHECK(grown < 32 * 1024); /* the sanitizers keep freed memory resident */
#else
    CHECK(grown < 1024);
#endif
    /* no zombies: our only direct child is the spawner, still running */
    CHECK_EQ(waitpid(-1, NULL, WNOHANG), 0);
}

/* OHNCP_STANDBY=0: no standby children, the spawner forks per request (its
 * fallback when fork fails): the same behaviour, by the other path. */
TEST(direct_fork_path) {
    setenv("OHNCP_STANDBY", "0", 1);
    register_recorder();
    int p[2];
    CHECK(pipe(p) == 0);
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "direct", p[1], &pid), NCP_NO_ERROR);
    close(p[1]);
    char buf[32];
    read_all(p[0], buf, sizeof buf);
    CHECK_STREQ(buf, "direct");
    CHECK_EQ(wait_exit(pid, 5000), 0);
    CHECK_EQ(start_child("No_Such_Symbol", "", -1, &pid), NCP_ERR_LIB_LOADING_FAILED);
    CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 3);
    CHECK(pipe(p) == 0);
    CHECK_EQ(start_child("Entry_ListFds", "", p[1], &pid), NCP_NO_ERROR);
    CHECK_EQ(child_fd_count(p[0], p[1]), 4); /* 0, 1, 2 and "out": nothing of the spawner's */
}

/* Standbys that die before taking a request are replaced; starts go on. */
TEST(standby_killed_is_replaced) {
    register_recorder();
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 0);
    usleep(100000);
    pid_t spawner[4], standby[8];
    CHECK_EQ(children_of(getpid(), spawner, 4), 1);
    int n = children_of(spawner[0], standby, 8);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK(kill(standby[i], SIGKILL) == 0);
    /* Only once they are dead: a standby killed while it is dequeuing a
     * request takes that request with it (an outside kill; not avoidable) */
    for (int i = 0; i < n; i++)
        CHECK(wait_gone(standby[i], 5000));
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(start_child("Entry_Exit3", "", -1, &pid), NCP_NO_ERROR);
        CHECK_EQ(wait_exit(pid, 5000), 3);
    }
}
