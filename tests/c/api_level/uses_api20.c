/* uses_api20.c - code for an API 20 device: every header included, only
 * functions of level 20 and below used. Builds at OHNCP_API_LEVEL 20. */
#include <AbilityKit/ability_runtime/child_process_info.h>
#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>
#include <background_process_manager/background_process_manager.h>
#include <hilog/log.h>

static void on_exit_cb(int32_t pid, int32_t signal) {
    (void)OH_LOG_Print(LOG_APP, LOG_INFO, 0, "t", "%{public}d %{public}d", pid, signal);
}

int use(void) {
    Ability_ChildProcessConfigs *c = OH_Ability_CreateChildProcessConfigs();
    OHIPCParcel *p = OH_IPCParcel_Create();
    (void)OH_IPCParcel_WriteInt32(p, 1);
    OH_IPCParcel_Destroy(p);
    (void)OH_BackgroundProcessManager_SetProcessPriority(1, PROCESS_INACTIVE);
    (void)OH_Ability_RegisterNativeChildProcessExitCallback(on_exit_cb);
    return OH_Ability_DestroyChildProcessConfigs(c) == NCP_NO_ERROR;
}
