/*
 * test_shim.c - the Python binding's C half (src/ohncp/_shim.c, _api.c),
 * driven from C, so that it is built with -Werror and runs under the
 * sanitizer builds like the runtime: starts, exits through the event ring,
 * kills by start id, connects, the lost-event count, threads starting while
 * the ring is drained.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "testlib.h"
#include "helpers.h"
#include "ipc_kit.h"
#include "_shim.h"
#include "_api.h"
#include "children/child_ipc_codes.h"

#define IPC_CHILD OHNCP_TEST_CHILD_DIR "/libchild_ipc.so"

/* In the extension this is Python's (extern "Python+C"); no stub made here
 * receives requests. */
int _ohncp_stub_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply,
                        uint64_t token) {
    (void)code, (void)data, (void)reply, (void)token;
    return OH_IPC_INNER_ERROR;
}

/* Start `sym` of child_basic through the shim, with envp. */
static int shim_start_basic(const char *sym, char *const *envp, int out, int32_t *pid,
                            uint64_t *id) {
    char name[] = "out";
    char *names[] = {name};
    int32_t fds[] = {out};
    char err[256];
    int rc = shim_start(entry_of(sym), "", out >= 0 ? 1 : 0, names, fds,
                        NCP_ISOLATION_MODE_NORMAL, 0, NULL, envp, pid, id, err, sizeof err);
    if (rc != NCP_NO_ERROR)
        fprintf(stderr, "shim_start %s: %d %s\n", sym, rc, err);
    return rc;
}

/* Take events until one of `kind` with `token` came (10 s at most); the
 * others are dropped, any proxy in them destroyed. */
static struct shim_event take_until(int fd, int kind, uint64_t token) {
    struct shim_event ev[16];
    for (int rounds = 0; rounds < 1000; rounds++) {
        int n = shim_events_take(ev, 16);
        struct shim_event found = {0};
        for (int i = 0; i < n; i++) {
            if (ev[i].kind == kind && ev[i].token == token && found.kind == 0)
                found = ev[i];
            else if (ev[i].proxy != NULL)
                OH_IPCRemoteProxy_Destroy(ev[i].proxy);
        }
        if (found.kind != 0)
            return found;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (n == 0)
            (void)poll(&p, 1, 10);
    }
    return (struct shim_event){0};
}

TEST(exit_comes_with_its_start_id) {
    CHECK_EQ(shim_init(), NCP_NO_ERROR);
    CHECK_EQ(shim_exit_by_id(), 1);
    int fd = shim_events_open();
    CHECK(fd >= 0);
    int32_t pid = 0;
    uint64_t id = 0;
    CHECK_EQ(shim_start_basic("Entry_Exit3", NULL, -1, &pid, &id), NCP_NO_ERROR);
    CHECK(id > 0);
    struct shim_event ev = take_until(fd, SHIM_EV_EXIT, id);
    CHECK_EQ(ev.kind, SHIM_EV_EXIT);
    CHECK_EQ(ev.pid, pid);
    CHECK(WIFEXITED(ev.status) && WEXITSTATUS(ev.status) == 3);
    CHECK_EQ(shim_events_lost(), 0);
}

TEST(kill_and_envp) {
    int fd = shim_events_open();
    CHECK(fd >= 0);
    int p[2];
    CHECK(pipe(p) == 0);
    char var[] = "OHNCP_TEST_VAR=given";
    char *envp[] = {var, NULL};
    int32_t pid = 0;
    uint64_t id = 0;
    CHECK_EQ(shim_start_basic("Entry_EnvCwd", envp, p[1], &pid, &id), NCP_NO_ERROR);
    close(p[1]);
    char buf[2048];
    read_all(p[0], buf, sizeof buf);
    close(p[0]);
    CHECK(strncmp(buf, "env=given;", 10) == 0);
    CHECK(pipe(p) == 0);
    CHECK_EQ(shim_start_basic("Entry_Block", NULL, p[1], &pid, &id), NCP_NO_ERROR);
    close(p[1]);
    CHECK_EQ(read(p[0], buf, 1), 1);
    close(p[0]);
    CHECK_EQ(ohncp_api_KillChildProcessById(id, pid), NCP_NO_ERROR);
    struct shim_event ev = take_until(fd, SHIM_EV_EXIT, id);
    CHECK_EQ(ev.pid, pid);
    CHECK(WIFSIGNALED(ev.status) && WTERMSIG(ev.status) == SIGKILL);
}

TEST(connect_result_comes_with_its_token) {
    int fd = shim_events_open();
    CHECK(fd >= 0);
    char err[256];
    CHECK_EQ(shim_connect_begin(IPC_CHILD, NCP_ISOLATION_MODE_NORMAL, 0, NULL, NULL, 77, err,
                                sizeof err),
             NCP_NO_ERROR);
    CHECK_EQ(shim_connect_busy(), 1);
    struct shim_event ev = take_until(fd, SHIM_EV_CONNECT, 77);
    CHECK_EQ(ev.kind, SHIM_EV_CONNECT);
    CHECK_EQ(ev.status, NCP_NO_ERROR);
    CHECK(ev.proxy != NULL);
    CHECK_EQ(shim_connect_busy(), 0); /* freed by the callback */
    OHIPCParcel *data = OH_IPCParcel_Create(), *reply = OH_IPCParcel_Create();
    OH_IPC_MessageOption opt = {.mode = OH_IPC_REQUEST_MODE_SYNC};
    CHECK_EQ(OH_IPCRemoteProxy_SendRequest(ev.proxy, CHILD_EXIT, data, reply, &opt), 0);
    OH_IPCParcel_Destroy(data);
    OH_IPCParcel_Destroy(reply);
    OH_IPCRemoteProxy_Destroy(ev.proxy);
    /* A refused connect frees its slot and queues nothing. */
    CHECK_EQ(shim_connect_begin("", NCP_ISOLATION_MODE_NORMAL, 0, NULL, NULL, 78, err,
                                sizeof err),
             NCP_ERR_INVALID_PARAM);
    CHECK_EQ(shim_connect_busy(), 0);
}

TEST(full_ring_counts_what_it_lost) {
    int fd = shim_events_open();
    CHECK(fd >= 0);
    /* Nobody takes: 64 exits fill the ring at its first size, the limit. */
    CHECK_EQ(shim_events_set_limit(64), (long long)((size_t)1 << 20));
    uint64_t last = 0;
    for (int i = 0; i < 70; i++) {
        int32_t pid;
        CHECK_EQ(shim_start_basic("Entry_Exit3", NULL, -1, &pid, &last), NCP_NO_ERROR);
    }
    for (int i = 0; i < 1000 && shim_events_lost() < 6; i++)
        usleep(10000);
    CHECK_EQ(shim_events_lost(), 6);
    struct shim_event ev[128];
    CHECK_EQ(shim_events_take(ev, 128), 64);
    CHECK_EQ(shim_events_take(ev, 128), 0);
}

/* Several threads start and the main thread drains: each exit exactly once,
 * under its own start id (what ThreadSanitizer checks the locks of). */
#define STARTERS 4
#define STARTS_EACH 20
static uint64_t started_ids[STARTERS][STARTS_EACH];

static void *starter(void *arg) {
    int k = (int)(intptr_t)arg;
    for (int i = 0; i < STARTS_EACH; i++) {
        int32_t pid;
        if (shim_start_basic("Entry_Exit3", NULL, -1, &pid, &started_ids[k][i]) != NCP_NO_ERROR)
            started_ids[k][i] = 0;
    }
    return NULL;
}

TEST_TIMEOUT(threads_start_while_the_ring_drains, 120) {
    int fd = shim_events_open();
    CHECK(fd >= 0);
    pthread_t threads[STARTERS];
    for (int k = 0; k < STARTERS; k++)
        CHECK_EQ(pthread_create(&threads[k], NULL, starter, (void *)(intptr_t)k), 0);
    uint64_t seen[STARTERS * STARTS_EACH];
    int nseen = 0;
    for (int rounds = 0; rounds < 6000 && nseen < STARTERS * STARTS_EACH; rounds++) {
        struct shim_event ev[16];
        int n = shim_events_take(ev, 16);
        for (int i = 0; i < n; i++) {
            CHECK_EQ(ev[i].kind, SHIM_EV_EXIT);
            CHECK(WIFEXITED(ev[i].status) && WEXITSTATUS(ev[i].status) == 3);
            seen[nseen++] = ev[i].token;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (n == 0)
            (void)poll(&p, 1, 10);
    }
    for (int k = 0; k < STARTERS; k++)
        CHECK_EQ(pthread_join(threads[k], NULL), 0);
    CHECK_EQ(nseen, STARTERS * STARTS_EACH);
    for (int k = 0; k < STARTERS; k++) {
        for (int i = 0; i < STARTS_EACH; i++) {
            int times = 0;
            for (int j = 0; j < nseen; j++)
                times += seen[j] == started_ids[k][i];
            CHECK(started_ids[k][i] != 0);
            CHECK_EQ(times, 1);
        }
    }
    CHECK_EQ(shim_events_lost(), 0);
}
