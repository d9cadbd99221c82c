/* child_crashctor.c - a library whose constructor crashes while loading:
 * the start call must report NCP_ERR_LIB_LOADING_FAILED. */
#include <signal.h>

#include "native_child_process.h"

__attribute__((constructor)) static void crash(void) { raise(SIGSEGV); }

void Entry_Never(NativeChildProcess_Args args) { (void)args; }
