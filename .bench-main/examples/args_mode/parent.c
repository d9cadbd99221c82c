/* The parent side, unchanged from device code: start the child with a
 * string and a pipe, read its answer, see its exit through the callback. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>

#include "../ncp_error.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exited = PTHREAD_COND_INITIALIZER;
static int exit_seen = -1;
static int32_t exit_pid;

/* Runs on a runtime thread, possibly before main has printed its line: it
 * only records, and main reports. */
static void on_exit_cb(int32_t pid, int32_t signal) {
    pthread_mutex_lock(&lock);
    exit_pid = pid;
    exit_seen = signal;
    pthread_cond_signal(&exited);
    pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv) {
    const char *entry = argc > 1 ? argv[1] : "libargs_child.so:ChildMain";
    int p[2];
    if (pipe(p) != 0)
        return 1;
    OH_Ability_RegisterNativeChildProcessExitCallback(on_exit_cb);
    NativeChildProcess_Fd fd = {.fdName = (char *)"result", .fd = p[1], .next = NULL};
    NativeChildProcess_Args args = {.entryParams = (char *)"hello, child", .fdList = {.head = &fd}};
    NativeChildProcess_Options options = {.isolationMode = NCP_ISOLATION_MODE_NORMAL};
    int32_t pid = 0;
    Ability_NativeChildProcess_ErrCode rc = OH_Ability_StartNativeChildProcess(entry, args, options, &pid);
    if (rc != NCP_NO_ERROR) {
        char what[512];
        snprintf(what, sizeof what, "start of '%s'", entry);
        ncp_print_error(what, rc);
        return 1;
    }
    close(p[1]);
    char buf[128];
    ssize_t n = read(p[0], buf, sizeof buf - 1);
    if (n > 0) {
        buf[n] = '\0';
        printf("started pid %d, it says: %s", (int)pid, buf);
    }
    pthread_mutex_lock(&lock);
    while (exit_seen < 0)
        pthread_cond_wait(&exited, &lock);
    printf("exit callback: pid %d, signal/code %d\n", (int)exit_pid, (int)exit_seen);
    pthread_mutex_unlock(&lock);
    return exit_seen == 0 && n > 0 ? 0 : 1;
}
