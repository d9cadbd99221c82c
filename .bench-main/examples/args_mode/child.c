/* An args-mode child library as it would be written for a device: the
 * entry gets a string and named fds, does its work, and returns. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>

/* Counts the bytes of its params and writes a line to the fd "result". */
void ChildMain(NativeChildProcess_Args args) {
    int out = -1;
    for (NativeChildProcess_Fd *fd = args.fdList.head; fd != NULL; fd = fd->next)
        if (strcmp(fd->fdName, "result") == 0)
            out = fd->fd;
    char line[128];
    int n = snprintf(line, sizeof line, "child %d got %zu bytes of params\n", (int)getpid(),
                     strlen(args.entryParams));
    if (out >= 0 && n > 0)
        (void)!write(out, line, (size_t)n);
}
