/* child_basic.c - args-mode entries the C tests start. Each writes what it
 * observed to the fd named "out" (when given) so the parent can check it. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "native_child_process.h"

static int fd_named(NativeChildProcess_Args args, const char *name) {
    for (NativeChildProcess_Fd *n = args.fdList.head; n != NULL; n = n->next)
        if (strcmp(n->fdName, name) == 0)
            return n->fd;
    return -1;
}

static void put(NativeChildProcess_Args args, const char *s) {
    int fd = fd_named(args, "out");
    size_t len = strlen(s);
    while (fd >= 0 && len > 0) {
        ssize_t n = write(fd, s, len);
        if (n <= 0)
            return;
        s += n;
        len -= (size_t)n;
    }
}

void Entry_WriteByte(NativeChildProcess_Args args) { put(args, "x"); }

void Entry_Echo(NativeChildProcess_Args args) { put(args, args.entryParams); }

void Entry_Exit3(NativeChildProcess_Args args) {
    (void)args;
    exit(3);
}

void Entry_Abort(NativeChildProcess_Args args) {
    (void)args;
    abort();
}

void Entry_Segv(NativeChildProcess_Args args) {
    (void)args;
    raise(SIGSEGV);
}

/* Stays alive until killed. */
void Entry_Block(NativeChildProcess_Args args) {
    put(args, "r");
    for (;;)
        pause();
}

/* Returns when the fd named "in" reaches EOF. */
void Entry_WaitEof(NativeChildProcess_Args args) {
    char c;
    int fd = fd_named(args, "in");
    while (fd >= 0 && read(fd, &c, 1) > 0)
        ;
}

/* "fds:0,1,2,...;names:a=dev:ino,b=dev:ino" */
void Entry_ListFds(NativeChildProcess_Args args) {
    char buf[4096];
    size_t len = (size_t)snprintf(buf, sizeof buf, "fds:");
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s,", e->d_name);
    }
    if (d != NULL)
        closedir(d);
    len += (size_t)snprintf(buf + len, sizeof buf - len, ";names:");
    for (NativeChildProcess_Fd *n = args.fdList.head; n != NULL; n = n->next) {
        struct stat st;
        fstat(n->fd, &st);
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s=%lu:%lu,", n->fdName,
                                (unsigned long)st.st_dev, (unsigned long)st.st_ino);
    }
    put(args, buf);
}

/* Starting a child from a child must fail with ALREADY_IN_CHILD. */
void Entry_NestedStart(NativeChildProcess_Args args) {
    NativeChildProcess_Args none = {0};
    NativeChildProcess_Options opts = {0};
    int32_t pid = 0;
    char buf[64];
    int rc = OH_Ability_StartNativeChildProcess("libc.so.6:abort", none, opts, &pid);
    int rc2 = OH_Ability_CreateNativeChildProcess("libc.so.6", (OH_Ability_OnNativeChildProcessStarted)abort);
    snprintf(buf, sizeof buf, "%d %d", rc, rc2);
    put(args, buf);
}

static void *args_from_thread(void *p) {
    *(NativeChildProcess_Args **)p = OH_Ability_GetCurrentChildProcessArgs();
    return NULL;
}

/* The global args are the entry's args, from any thread. */
void Entry_CurrentArgs(NativeChildProcess_Args args) {
    NativeChildProcess_Args *here = OH_Ability_GetCurrentChildProcessArgs(), *there = NULL;
    pthread_t t;
    pthread_create(&t, NULL, args_from_thread, &there);
    pthread_join(t, NULL);
    int same = here != NULL && here == there && here->entryParams == args.entryParams &&
               here->fdList.head == args.fdList.head;
    put(args, same ? "same" : "different");
}

/* "env=<OHNCP_TEST_VAR>;cwd=<cwd>" */
void Entry_EnvCwd(NativeChildProcess_Args args) {
    char cwd[1024], buf[2048];
    const char *v = getenv("OHNCP_TEST_VAR");
    snprintf(buf, sizeof buf, "env=%s;cwd=%s", v ? v : "(unset)",
             getcwd(cwd, sizeof cwd) ? cwd : "?");
    put(args, buf);
}

/* "mask=<n blocked>;pipe=<0 default,1 other>" */
void Entry_Signals(NativeChildProcess_Args args) {
    sigset_t cur;
    sigprocmask(SIG_SETMASK, NULL, &cur);
    int blocked = 0;
    for (int s = 1; s < 32; s++)
        blocked += sigismember(&cur, s) == 1;
    struct sigaction sa;
    sigaction(SIGPIPE, NULL, &sa);
    char buf[64];
    snprintf(buf, sizeof buf, "mask=%d;pipe=%d", blocked, sa.sa_handler != SIG_DFL);
    put(args, buf);
}

static void *sleeper(void *p) {
    (void)p;
    for (;;)
        pause();
    return NULL;
}

/* Returning ends the process even with another thread running. */
void Entry_ThreadAndReturn(NativeChildProcess_Args args) {
    pthread_t t;
    pthread_create(&t, NULL, sleeper, NULL);
    put(args, "t");
}

/* "<cmdline first field>|<comm>" */
void Entry_Names(NativeChildProcess_Args args) {
    char cmd[1024] = {0}, comm[64] = {0}, buf[1200];
    FILE *f = fopen("/proc/self/cmdline", "r");
    if (f) {
        fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
    }
    f = fopen("/proc/self/comm", "r");
    if (f) {
        if (fgets(comm, sizeof comm, f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    snprintf(buf, sizeof buf, "%s|%s", cmd, comm);
    put(args, buf);
}
