/* bench_launcher.c - argv: LIB SYMBOL FD. Loads LIB, calls SYMBOL with one
 * fd named "out": what a posix_spawn-based runtime would do per child. */
#include <dlfcn.h>
#include <stdlib.h>

#include "native_child_process.h"

int main(int argc, char **argv) {
    if (argc != 4)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    void *sym = h != NULL ? dlsym(h, argv[2]) : NULL;
    if (sym == NULL)
        return 127;
    NativeChildProcess_Fd out = {.fdName = (char *)"out", .fd = atoi(argv[3])};
    NativeChildProcess_Args args = {.entryParams = (char *)"", .fdList = {.head = &out}};
    void (*entry)(NativeChildProcess_Args);
    *(void **)&entry = sym;
    entry(args);
    return 0;
}
