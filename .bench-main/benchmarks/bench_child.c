/* bench_child.c - the entry every start benchmark runs: write one byte to
 * the first fd (the parent's clock stops when it reads it). */
#include <unistd.h>

#include "native_child_process.h"

void Bench_WriteByte(NativeChildProcess_Args args) {
    if (args.fdList.head != NULL)
        (void)!write(args.fdList.head->fd, "x", 1);
}

/* Stays until killed (exit-callback latency). */
void Bench_Block(NativeChildProcess_Args args) {
    Bench_WriteByte(args);
    for (;;)
        pause();
}

/* Stays until its fd "in" (the first) reaches EOF. */
void Bench_WaitEof(NativeChildProcess_Args args) {
    char c;
    while (args.fdList.head != NULL && read(args.fdList.head->fd, &c, 1) > 0)
        ;
}
