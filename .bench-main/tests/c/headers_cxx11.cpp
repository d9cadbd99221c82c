/*
 * headers_cxx11.cpp - the public headers under the SDK spellings must build
 * as strict C++11 (behaviour.md §2). Compiled, never run, with -std=c++11
 * -pedantic -Wall -Wextra -Werror (CMakeLists.txt).
 */
#include <cstddef>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>
#include "ipc_kit.h"
#include "native_child_process.h"

static_assert(sizeof(OH_IPC_MessageOption) == (sizeof(void *) == 8 ? 16 : 12),
              "OH_IPC_MessageOption keeps the SDK layout in C++");
static_assert(OH_IPC_USER_ERROR_CODE_MAX == 1909999, "IPC codes are the SDK's");
static_assert(NCP_ERR_INVALID_PID == 16010010, "NCP codes are the SDK's");

int ohncp_headers_cxx11_probe();

int ohncp_headers_cxx11_probe() {
    OH_IPC_MessageOption opt = {OH_IPC_REQUEST_MODE_ASYNC, 0, nullptr};
    NativeChildProcess_Options options = {NCP_ISOLATION_MODE_ISOLATED, 0};
    NativeChildProcess_Args args = {nullptr, {nullptr}};
    return static_cast<int>(opt.mode) + static_cast<int>(options.isolationMode) +
           (args.fdList.head == nullptr);
}
