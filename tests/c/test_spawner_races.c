/* test_spawner_races.c - the spawner under churn and faults: every kill
 * lands, every slot comes back, whatever the standbys were doing. */
#include "helpers.h"

#include <fcntl.h>
#include <stdlib.h>

/* The pids of the children of `parent`. */
static int children_of(pid_t parent, pid_t *out, int max) {
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;
    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        char path[300], buf[512];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        char *close_paren = fgets(buf, sizeof buf, f) ? strrchr(buf, ')') : NULL;
        int ppid = 0;
        if (close_paren != NULL && sscanf(close_paren + 2, "%*c %d", &ppid) == 1 && ppid == parent)
            out[n++] = atoi(e->d_name);
        fclose(f);
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* Our one child, the spawner (the runtime must be up). */
static pid_t the_spawner(void) {
    pid_t spawner[4];
    CHECK_EQ(children_of(getpid(), spawner, 4), 1);
    return spawner[0];
}

/* Whether `pid` is a standby (it still has the spawner's name) and alive. */
static bool is_standby(pid_t pid) {
    char path[64], comm[64] = "";
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    bool ok = fgets(comm, sizeof comm, f) != NULL && strcmp(comm, "ohncp-spawner\n") == 0;
    fclose(f);
    return ok;
}

/* The spawner's children that are not standbys (zombies included). */
static int started_children(pid_t spawner) {
    pid_t kids[1024];
    int n = children_of(spawner, kids, 1024), started = 0;
    for (int i = 0; i < n; i++)
        started += !is_standby(kids[i]);
    return started;
}

/* Start with the runtime warm: spawner up, standbys forked. */
static void warm_up(void) {
    register_recorder();
    int32_t pid;
    CHECK_EQ(start_child("Entry_Echo", "", -1, &pid), NCP_NO_ERROR);
    CHECK_EQ(wait_exit(pid, 5000), 0);
}

/* 2,000 kills, each sent right after its start call returned, in batches
 * within the 512-child limit: none may be dropped. (Each kill lands within
 * milliseconds; the 2 s bound is for a loaded machine, the point is that
 * no child is still running at all.) */
TEST_TIMEOUT(kill_right_after_start_lands, 300) {
    warm_up();
    static int32_t pids[250];
    int survivors = 0;
    for (int batch = 0; batch < 8; batch++) {
        for (int i = 0; i < 250; i++) {
            CHECK_EQ(start_child("Entry_Block", "", -1, &pids[i]), NCP_NO_ERROR);
            CHECK_EQ(OH_Ability_KillChildProcess(pids[i]), NCP_NO_ERROR);
        }
        for (int i = 0; i < 250; i++) {
            if (!wait_gone(pids[i], 2000)) {
                survivors++;
                kill(pids[i], SIGKILL); /* so the next batch has its slots */
            }
        }
        for (int i = 0; i < 250; i++)
            CHECK_EQ(wait_exit(pids[i], 10000), SIGKILL);
        pthread_mutex_lock(&exits_lock);
        nexits = 0;
        pthread_mutex_unlock(&exits_lock);
    }
    fprintf(stderr, "children still running 2 s after their kill: %d of 2000\n", survivors);
    CHECK_EQ(survivors, 0);
}

/* The start times out while no standby can take its request (they are
 * stopped); the kill the runtime then sends must still reach the child
 * that takes the request later, and its slot must come back. */
TEST_TIMEOUT(timeout_before_a_standby_took_the_start, 60) {
    warm_up();
    pid_t spawner = the_spawner();
    pid_t standby[8];
    int n = 0;
    for (int tries = 0; tries < 100 && n < 2; tries++) { /* both standbys forked */
        usleep(20000);
        n = children_of(spawner, standby, 8);
    }
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK(kill(standby[i], SIGSTOP) == 0);
    setenv("OHNCP_START_TIMEOUT_MS", "300", 1);
    NativeChildProcess_Args args = {0};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    /* child_slowctor never reports: only the kill ends it */
    CHECK_EQ(OH_Ability_StartNativeChildProcess(OHNCP_TEST_CHILD_DIR "/libchild_slowctor.so:Entry_Never",
                                                args, opts, &pid),
             NCP_ERR_TIMEOUT);
    unsetenv("OHNCP_START_TIMEOUT_MS");
    for (int i = 0; i < n; i++)
        CHECK(kill(standby[i], SIGCONT) == 0);
    /* The slot comes back (the only one: OHNCP_MAX_CHILDREN=1) ... */
    setenv("OHNCP_MAX_CHILDREN", "1", 1);
    int rc = NCP_ERR_MAX_CHILD_PROCESSES_REACHED;
    for (int i = 0; i < 500 && rc == NCP_ERR_MAX_CHILD_PROCESSES_REACHED; i++) {
        rc = start_child("Entry_Echo", "", -1, &pid);
        if (rc != NCP_NO_ERROR)
            usleep(10000);
    }
    CHECK_EQ(rc, NCP_NO_ERROR);
    /* ... and no child of that start runs on. */
    int left = 1;
    for (int i = 0; i < 200 && (left = started_children(spawner)) > 0; i++)
        usleep(10000);
    CHECK_EQ(left, 0);
}
