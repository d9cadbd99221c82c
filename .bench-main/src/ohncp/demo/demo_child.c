/*
 * demo_child.c - a child library for `python -m ohncp demo`.
 *
 * Built into ohncp/_lib/libohncp_demo.so and linked against the bundled
 * libchild_process.so, the way an app's own child library is built:
 *
 *     cc -shared -fPIC $(python -m ohncp --cflags) demo_child.c \
 *        $(python -m ohncp --libs) -o libmychild.so
 *
 * Entries (args mode, "libohncp_demo.so:<name>"):
 *   DemoMain  writes one line naming its pid and its params to the fd named
 *             "out", then returns (the child exits with status 0).
 *   DemoExit  exits with the status given as its params ("3" -> 3).
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "native_child_process.h"

/* The fd passed under `name`, or -1. */
static int find_fd(const NativeChildProcess_Args *args, const char *name)
{
    for (const NativeChildProcess_Fd *node = args->fdList.head; node != NULL;
         node = node->next)
        if (strcmp(node->fdName, name) == 0)
            return node->fd;
    return -1;
}

/* Write all of buf, or give up on the first error. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void DemoMain(NativeChildProcess_Args args)
{
    int out = find_fd(&args, "out");
    char *line = NULL;
    int len;

    if (out < 0)
        exit(2);
    len = asprintf(&line, "hello from native child %ld, params: %s\n",
                   (long)getpid(), args.entryParams);
    if (len < 0)
        exit(3);
    write_all(out, line, (size_t)len);
    free(line);
}

void DemoExit(NativeChildProcess_Args args)
{
    exit(atoi(args.entryParams));
}
