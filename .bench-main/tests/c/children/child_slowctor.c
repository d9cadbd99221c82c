/* child_slowctor.c - a library whose constructor never finishes: the start
 * call must time out (NCP_ERR_TIMEOUT) and the child be killed. */
#include <unistd.h>

#include "native_child_process.h"

__attribute__((constructor)) static void hang(void) {
    for (;;)
        pause();
}

void Entry_Never(NativeChildProcess_Args args) { (void)args; }
