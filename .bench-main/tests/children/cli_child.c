/*
 * cli_child.c - args-mode entries for the tests of `python -m ohncp run`.
 *
 * conftest.py builds it into libohncp_test_cli_child.so.
 *
 *   Say         write "said: <entryParams>\n" to fd 1, inherited from the
 *               command, and "err: <entryParams>\n" to fd 2
 *   Copy        copy fd "in" to fd "out" until end of file
 *   RaiseSignal raise the signal numbered entryParams (exit 99 if it
 *               did not kill)
 */
#include <signal.h>
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
    _exit(101);
}

static void put(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0)
            _exit(100);
        data += n;
        len -= (size_t)n;
    }
}

static void say(int fd, const char *prefix, const char *text)
{
    put(fd, prefix, strlen(prefix));
    put(fd, text, strlen(text));
    put(fd, "\n", 1);
}

void Say(NativeChildProcess_Args args)
{
    say(1, "said: ", args.entryParams);
    say(2, "err: ", args.entryParams);
}

void Copy(NativeChildProcess_Args args)
{
    int in = find_fd(&args, "in");
    int out = find_fd(&args, "out");
    char buf[4096];
    ssize_t n;

    while ((n = read(in, buf, sizeof(buf))) > 0)
        put(out, buf, (size_t)n);
    if (n < 0)
        _exit(102);
}

void RaiseSignal(NativeChildProcess_Args args)
{
    raise(atoi(args.entryParams));
    _exit(99);
}
