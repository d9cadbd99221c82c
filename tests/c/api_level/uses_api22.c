/* uses_api22.c - code meant for an API 22 device: it calls
 * OH_Ability_KillChildProcess (API 22) and uses NCP_ERR_INVALID_PID (22).
 * check.sh compiles it at OHNCP_API_LEVEL 20 (must fail, naming level 22)
 * and at 22 (must build). */
#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>
#include <hilog/log.h>

int kill_it(int32_t pid) {
    return OH_Ability_KillChildProcess(pid) == NCP_ERR_INVALID_PID;
}
