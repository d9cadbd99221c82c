/*
 * slow_ctor.c - a child library whose constructor takes 300 ms, so that a
 * start is still in progress when a test cancels it. Main sleeps forever.
 */
#include <unistd.h>

#include "native_child_process.h"

__attribute__((constructor)) static void slow(void)
{
    usleep(300 * 1000);
}

void Main(NativeChildProcess_Args args)
{
    (void)args;
    for (;;)
        pause();
}
