/*
 * basic.c - args-mode entries the Python tests start.
 *
 * conftest.py builds this into libohncp_test_basic.so with the flags from
 * `python -m ohncp --cflags --libs`. Every entry takes the SDK's
 * NativeChildProcess_Args by value; "out" is the fd the test reads.
 *
 *   WriteParams     write entryParams to "out"
 *   WriteByte       write "x" to "out"
 *   WriteEnv        write the value of the variable named by entryParams
 *                   (or "(unset)") to "out"
 *   EchoAll         write "<name>:<params>" to every fd passed; and the
 *                   names in list order, comma-separated, to "order" if any
 *   ExitCode        exit with the status given in entryParams
 *   Abort           abort()
 *   Segv            store through a NULL pointer
 *   SleepForever    write "r" to "out" if passed (ready), then sleep
 *   ListFds         write "<fd> <cloexec> <target>\n" for each open fd, then
 *                   "arg <name> <fd>\n" for each passed fd, to "out"
 *   NetNs           write the target of /proc/self/ns/net to "out"
 *   StartFromChild  call OH_Ability_StartNativeChildProcess(entryParams, ...)
 *                   and write its return code in decimal to "out"
 */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "native_child_process.h"

static int find_fd(const NativeChildProcess_Args *args, const char *name)
{
    for (const NativeChildProcess_Fd *node = args->fdList.head; node != NULL;
         node = node->next)
        if (strcmp(node->fdName, name) == 0)
            return node->fd;
    return -1;
}

static void put(int fd, const char *text)
{
    size_t len = strlen(text);

    while (len > 0) {
        ssize_t n = write(fd, text, len);
        if (n <= 0)
            _exit(100);
        text += n;
        len -= (size_t)n;
    }
}

static int out_fd(const NativeChildProcess_Args *args)
{
    int fd = find_fd(args, "out");

    if (fd < 0)
        _exit(101);
    return fd;
}

void WriteParams(NativeChildProcess_Args args)
{
    put(out_fd(&args), args.entryParams);
}

void WriteByte(NativeChildProcess_Args args)
{
    put(out_fd(&args), "x");
}

void EchoAll(NativeChildProcess_Args args)
{
    int order = find_fd(&args, "order");

    for (const NativeChildProcess_Fd *node = args.fdList.head; node != NULL;
         node = node->next) {
        if (order >= 0) {
            put(order, node->fdName);
            put(order, node->next != NULL ? "," : "");
        }
        if (node->fd == order)
            continue;
        put(node->fd, node->fdName);
        put(node->fd, ":");
        put(node->fd, args.entryParams);
    }
}

void ExitCode(NativeChildProcess_Args args)
{
    exit(atoi(args.entryParams));
}

void Abort(NativeChildProcess_Args args)
{
    (void)args;
    abort();
}

void Segv(NativeChildProcess_Args args)
{
    volatile int *volatile nowhere = NULL;

    (void)args;
    *nowhere = 1;
}

void WriteEnv(NativeChildProcess_Args args)
{
    const char *value = getenv(args.entryParams);

    put(out_fd(&args), value != NULL ? value : "(unset)");
}

void SleepForever(NativeChildProcess_Args args)
{
    int out = find_fd(&args, "out");

    if (out >= 0)
        put(out, "r");
    for (;;)
        pause();
}

void ListFds(NativeChildProcess_Args args)
{
    int out = out_fd(&args);
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *ent;
    char line[4200];

    if (dir == NULL)
        _exit(102);
    while ((ent = readdir(dir)) != NULL) {
        char path[64], target[4096];
        int fd, flags;
        ssize_t n;

        if (ent->d_name[0] == '.')
            continue;
        fd = atoi(ent->d_name);
        if (fd == dirfd(dir))
            continue;
        flags = fcntl(fd, F_GETFD);
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        target[n < 0 ? 0 : n] = '\0';
        snprintf(line, sizeof(line), "%d %d %s\n", fd,
                 flags >= 0 && (flags & FD_CLOEXEC) ? 1 : 0, target);
        put(out, line);
    }
    closedir(dir);
    for (const NativeChildProcess_Fd *node = args.fdList.head; node != NULL;
         node = node->next) {
        snprintf(line, sizeof(line), "arg %s %d\n", node->fdName, (int)node->fd);
        put(out, line);
    }
}

void NetNs(NativeChildProcess_Args args)
{
    char target[256];
    ssize_t n = readlink("/proc/self/ns/net", target, sizeof(target) - 1);

    target[n < 0 ? 0 : n] = '\0';
    put(out_fd(&args), target);
}

void StartFromChild(NativeChildProcess_Args args)
{
    NativeChildProcess_Args inner = {.entryParams = (char *)"", .fdList = {NULL}};
    NativeChildProcess_Options options = {.isolationMode = NCP_ISOLATION_MODE_NORMAL,
                                          .reserved = 0};
    int32_t pid = 0;
    char text[32];
    int rc = OH_Ability_StartNativeChildProcess(args.entryParams, inner, options, &pid);

    snprintf(text, sizeof(text), "%d", rc);
    put(out_fd(&args), text);
}
