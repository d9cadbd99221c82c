/*
 * headers_c99.c - device code includes the SDK spellings of the public
 * headers; they must build as strict C99 (behaviour.md §2). Compiled, never
 * run, with -std=c99 -pedantic -Wall -Wextra -Werror (CMakeLists.txt).
 */
#include <stddef.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>
/* The plain spellings name the same files: the include guards must hold. */
#include "ipc_kit.h"
#include "native_child_process.h"

int ohncp_headers_c99_probe(void);

int ohncp_headers_c99_probe(void) {
    OH_IPC_MessageOption opt = {OH_IPC_REQUEST_MODE_SYNC, 0, NULL};
    NativeChildProcess_Options options = {NCP_ISOLATION_MODE_NORMAL, 0};
    NativeChildProcess_Fd fd = {NULL, -1, NULL};
    NativeChildProcess_Args args = {NULL, {&fd}};
    return (int)opt.mode + (int)options.isolationMode + (args.fdList.head == &fd) +
           OH_IPC_SUCCESS + NCP_NO_ERROR;
}
