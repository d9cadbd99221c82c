/* child_hilog.c - an args-mode child that logs the way device code does,
 * with <hilog/log.h> and its macros (linked with libhilog_ndk.z.so). */
#include <AbilityKit/native_child_process.h>

#define LOG_DOMAIN 0x3200
#define LOG_TAG "childTag"
#include <hilog/log.h>

void Entry_Log(NativeChildProcess_Args args) {
    OH_LOG_INFO(LOG_APP, "params %{public}s, secret %{private}s, bare %d", args.entryParams,
                "hidden", 42);
    OH_LOG_DEBUG(LOG_APP, "below the default level");
}
