/*
 * bench_ipc_child.c - the IPC-mode child the round-trip benchmark talks to
 * (bench_ipc.c in C, run_ipc.py from Python).
 *
 * Its one stub answers two codes:
 *   1  echo: the reply gets a copy of the whole request parcel, so whatever
 *      the caller wrote comes back byte for byte
 *   2  stop: NativeChildProcess_MainProc returns and the child exits
 *
 * With BENCH_IPC_CPUS=split in its environment, every thread of the child
 * is kept on the last CPU (the benchmark keeps the parent on the first),
 * so each message crosses CPUs; threads started later inherit it.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

enum { BENCH_ECHO = 1, BENCH_STOP = 2 };

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t stop_cond = PTHREAD_COND_INITIALIZER;
static int stop_requested;

static int pinned;

/* Put every thread of this process on the last CPU (BENCH_IPC_CPUS=split). */
static void pin_threads(void) {
    const char *mode = getenv("BENCH_IPC_CPUS");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (mode == NULL || strcmp(mode, "split") != 0 || ncpu < 2)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)ncpu - 1, &set);
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            (void)sched_setaffinity(atoi(e->d_name), sizeof set, &set);
    if (d != NULL)
        closedir(d);
}

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)user;
    if (!__atomic_exchange_n(&pinned, 1, __ATOMIC_RELAXED))
        pin_threads(); /* again: the runtime's threads exist by now */
    switch (code) {
    case BENCH_ECHO:
        return OH_IPCParcel_Append(reply, data);
    case BENCH_STOP:
        pthread_mutex_lock(&stop_lock);
        stop_requested = 1;
        pthread_cond_signal(&stop_cond);
        pthread_mutex_unlock(&stop_lock);
        return 0;
    default:
        return OH_IPC_CODE_OUT_OF_RANGE;
    }
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    pin_threads();
    return OH_IPCRemoteStub_Create("ohncp.bench.Echo", on_request, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    pthread_mutex_lock(&stop_lock);
    while (!stop_requested)
        pthread_cond_wait(&stop_cond, &stop_lock);
    pthread_mutex_unlock(&stop_lock);
}
