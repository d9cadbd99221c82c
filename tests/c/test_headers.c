/*
 * test_headers.c - pins the public headers to the SDK ABI (behaviour.md §2):
 * every enum value, struct size and field offset, and every function's type.
 * All checks are compile-time; the one runtime case only proves the file
 * built. Strict C99/C++11 compiles of the headers are separate targets
 * (headers_c99.c, headers_cxx11.cpp, see CMakeLists.txt).
 *
 * Map:
 *   1. native_child_process.h: values, layouts, signatures
 *   2. ipc_error_code.h and ipc_cremote_object.h: values, layouts
 *   3. IPC signatures
 *   4. child_process_info.h, ability_runtime_common.h (API 26.1)
 *   5. background_process_manager.h (API 17), hilog/log.h
 */
#include <stddef.h>
#include <stdint.h>

#include <AbilityKit/native_child_process.h>
#if defined(__clang__) /* it warns that the header changes the packing: it does */
#pragma clang diagnostic ignored "-Wpragma-pack"
#endif
#pragma pack(1) /* an includer's own packing: see after_ipc_kit below */
#include <IPCKit/ipc_kit.h>
/* As with the SDK's pack(4)/pack() pair, what follows the include has the
 * default packing again, whatever the includer had set before. */
struct after_ipc_kit {
    char c;
    int32_t i;
};
#pragma pack()
#include <background_process_manager/background_process_manager.h>
#include <hilog/log.h>

#include "testlib.h"

#define SA(cond) _Static_assert(cond, #cond)

/* `fn` has exactly the function type `type` (a pointer-to-function type).
 * _Generic does not evaluate its operand, so nothing needs to link. */
#define SIG(fn, type) _Static_assert(_Generic(&(fn), type: 1, default: 0), #fn " has the SDK type")

#define PTR (sizeof(void *))

/* ---- 1. native_child_process.h: values, layouts, signatures --------------- */

SA(NCP_NO_ERROR == 0);
SA(NCP_ERR_INVALID_PARAM == 401);
SA(NCP_ERR_NOT_SUPPORTED == 801);
SA(NCP_ERR_INTERNAL == 16000050);
SA(NCP_ERR_BUSY == 16010001);
SA(NCP_ERR_TIMEOUT == 16010002);
SA(NCP_ERR_SERVICE_ERROR == 16010003);
SA(NCP_ERR_MULTI_PROCESS_DISABLED == 16010004);
SA(NCP_ERR_ALREADY_IN_CHILD == 16010005);
SA(NCP_ERR_MAX_CHILD_PROCESSES_REACHED == 16010006);
SA(NCP_ERR_LIB_LOADING_FAILED == 16010007);
SA(NCP_ERR_CONNECTION_FAILED == 16010008);
SA(NCP_ERR_CALLBACK_NOT_EXIST == 16010009);
SA(NCP_ERR_INVALID_PID == 16010010);
SA(NCP_ISOLATION_MODE_NORMAL == 0);
SA(NCP_ISOLATION_MODE_ISOLATED == 1);
SA(sizeof(Ability_NativeChildProcess_ErrCode) == sizeof(int));
SA(sizeof(NativeChildProcess_IsolationMode) == sizeof(int));

/* The typedef names are the struct tags. */
SA(_Generic((struct NativeChildProcess_Fd *)0, NativeChildProcess_Fd *: 1, default: 0));
SA(_Generic((struct NativeChildProcess_FdList *)0, NativeChildProcess_FdList *: 1, default: 0));
SA(_Generic((struct NativeChildProcess_Options *)0, NativeChildProcess_Options *: 1, default: 0));
SA(_Generic((struct NativeChildProcess_Args *)0, NativeChildProcess_Args *: 1, default: 0));

SA(offsetof(NativeChildProcess_Fd, fdName) == 0);
SA(offsetof(NativeChildProcess_Fd, fd) == PTR);
SA(offsetof(NativeChildProcess_Fd, next) == 2 * PTR);
SA(sizeof(NativeChildProcess_Fd) == 3 * PTR);
SA(offsetof(NativeChildProcess_FdList, head) == 0);
SA(sizeof(NativeChildProcess_FdList) == PTR);
SA(offsetof(NativeChildProcess_Options, isolationMode) == 0);
SA(offsetof(NativeChildProcess_Options, reserved) == _Alignof(int64_t));
SA(sizeof(NativeChildProcess_Options) == _Alignof(int64_t) + 8);
SA(offsetof(NativeChildProcess_Args, entryParams) == 0);
SA(offsetof(NativeChildProcess_Args, fdList) == PTR);
SA(sizeof(NativeChildProcess_Args) == 2 * PTR);
#if defined(__LP64__)
SA(offsetof(NativeChildProcess_Fd, next) == 16);
SA(offsetof(NativeChildProcess_Options, reserved) == 8);
SA(sizeof(NativeChildProcess_Options) == 16);
SA(offsetof(NativeChildProcess_Args, fdList) == 8);
#endif

SIG(OH_Ability_CreateNativeChildProcess, int (*)(const char *, OH_Ability_OnNativeChildProcessStarted));
SIG(OH_Ability_StartNativeChildProcess,
    Ability_NativeChildProcess_ErrCode (*)(const char *, NativeChildProcess_Args,
                                           NativeChildProcess_Options, int32_t *));
SIG(OH_Ability_GetCurrentChildProcessArgs, NativeChildProcess_Args *(*)(void));
SIG(OH_Ability_CreateChildProcessConfigs, Ability_ChildProcessConfigs *(*)(void));
SIG(OH_Ability_DestroyChildProcessConfigs,
    Ability_NativeChildProcess_ErrCode (*)(Ability_ChildProcessConfigs *));
SIG(OH_Ability_ChildProcessConfigs_SetIsolationMode,
    Ability_NativeChildProcess_ErrCode (*)(Ability_ChildProcessConfigs *,
                                           NativeChildProcess_IsolationMode));
SIG(OH_Ability_ChildProcessConfigs_SetIsolationUid,
    Ability_NativeChildProcess_ErrCode (*)(Ability_ChildProcessConfigs *, bool));
SIG(OH_Ability_ChildProcessConfigs_SetProcessName,
    Ability_NativeChildProcess_ErrCode (*)(Ability_ChildProcessConfigs *, const char *));
SIG(OH_Ability_CreateNativeChildProcessWithConfigs,
    Ability_NativeChildProcess_ErrCode (*)(const char *, Ability_ChildProcessConfigs *,
                                           OH_Ability_OnNativeChildProcessStarted));
SIG(OH_Ability_StartNativeChildProcessWithConfigs,
    Ability_NativeChildProcess_ErrCode (*)(const char *, NativeChildProcess_Args,
                                           Ability_ChildProcessConfigs *, int32_t *));
SIG(OH_Ability_RegisterNativeChildProcessExitCallback,
    Ability_NativeChildProcess_ErrCode (*)(OH_Ability_OnNativeChildProcessExit));
SIG(OH_Ability_UnregisterNativeChildProcessExitCallback,
    Ability_NativeChildProcess_ErrCode (*)(OH_Ability_OnNativeChildProcessExit));
SIG(OH_Ability_KillChildProcess, Ability_NativeChildProcess_ErrCode (*)(int32_t));
SIG(OH_Ability_IsNativeChildProcessSupported, bool (*)(void));
SA(_Generic((OH_Ability_OnNativeChildProcessStarted)0,
            void (*)(int, OHIPCRemoteProxy *): 1, default: 0));
SA(_Generic((OH_Ability_OnNativeChildProcessExit)0, void (*)(int32_t, int32_t): 1, default: 0));

/* ---- 2. ipc_error_code.h and ipc_cremote_object.h: values, layouts -------- */

SA(offsetof(struct after_ipc_kit, i) == _Alignof(int32_t));
SA(OH_IPC_SUCCESS == 0);
SA(OH_IPC_ERROR_CODE_BASE == 1901000);
SA(OH_IPC_CHECK_PARAM_ERROR == 1901000);
SA(OH_IPC_PARCEL_WRITE_ERROR == 1901001);
SA(OH_IPC_PARCEL_READ_ERROR == 1901002);
SA(OH_IPC_MEM_ALLOCATOR_ERROR == 1901003);
SA(OH_IPC_CODE_OUT_OF_RANGE == 1901004);
SA(OH_IPC_DEAD_REMOTE_OBJECT == 1901005);
SA(OH_IPC_INVALID_USER_ERROR_CODE == 1901006);
SA(OH_IPC_INNER_ERROR == 1901007);
SA(OH_IPC_ERROR_CODE_MAX == 1902000);
SA(OH_IPC_USER_ERROR_CODE_MIN == 1909000);
SA(OH_IPC_USER_ERROR_CODE_MAX == 1909999);
SA(sizeof(OH_IPC_ErrorCode) == sizeof(int));

SA(OH_IPC_REQUEST_MODE_SYNC == 0);
SA(OH_IPC_REQUEST_MODE_ASYNC == 1);
SA(sizeof(OH_IPC_RequestMode) == sizeof(int));

SA(offsetof(OH_IPC_MessageOption, mode) == 0);
SA(offsetof(OH_IPC_MessageOption, timeout) == 4);
SA(offsetof(OH_IPC_MessageOption, reserved) == 8);
SA(sizeof(OH_IPC_MessageOption) == (PTR == 8 ? 16 : 12));
SA(_Alignof(OH_IPC_MessageOption) == 4);

/* ---- 3. IPC signatures ------------------------------------------------------ */

SA(_Generic((OH_IPC_MemAllocator)0, void *(*)(int32_t): 1, default: 0));
SA(_Generic((OH_OnRemoteRequestCallback)0,
            int (*)(uint32_t, const OHIPCParcel *, OHIPCParcel *, void *): 1, default: 0));
SA(_Generic((OH_OnRemoteDestroyCallback)0, void (*)(void *): 1, default: 0));
SA(_Generic((OH_OnDeathRecipientCallback)0, void (*)(void *): 1, default: 0));
SA(_Generic((OH_OnDeathRecipientDestroyCallback)0, void (*)(void *): 1, default: 0));

SIG(OH_IPCParcel_Create, OHIPCParcel *(*)(void));
SIG(OH_IPCParcel_Destroy, void (*)(OHIPCParcel *));
SIG(OH_IPCParcel_GetDataSize, int (*)(const OHIPCParcel *));
SIG(OH_IPCParcel_GetWritableBytes, int (*)(const OHIPCParcel *));
SIG(OH_IPCParcel_GetReadableBytes, int (*)(const OHIPCParcel *));
SIG(OH_IPCParcel_GetReadPosition, int (*)(const OHIPCParcel *));
SIG(OH_IPCParcel_GetWritePosition, int (*)(const OHIPCParcel *));
SIG(OH_IPCParcel_RewindReadPosition, int (*)(OHIPCParcel *, uint32_t));
SIG(OH_IPCParcel_RewindWritePosition, int (*)(OHIPCParcel *, uint32_t));
SIG(OH_IPCParcel_WriteInt8, int (*)(OHIPCParcel *, int8_t));
SIG(OH_IPCParcel_ReadInt8, int (*)(const OHIPCParcel *, int8_t *));
SIG(OH_IPCParcel_WriteInt16, int (*)(OHIPCParcel *, int16_t));
SIG(OH_IPCParcel_ReadInt16, int (*)(const OHIPCParcel *, int16_t *));
SIG(OH_IPCParcel_WriteInt32, int (*)(OHIPCParcel *, int32_t));
SIG(OH_IPCParcel_ReadInt32, int (*)(const OHIPCParcel *, int32_t *));
SIG(OH_IPCParcel_WriteInt64, int (*)(OHIPCParcel *, int64_t));
SIG(OH_IPCParcel_ReadInt64, int (*)(const OHIPCParcel *, int64_t *));
SIG(OH_IPCParcel_WriteUint8, int (*)(OHIPCParcel *, uint8_t));
SIG(OH_IPCParcel_ReadUint8, int (*)(const OHIPCParcel *, uint8_t *));
SIG(OH_IPCParcel_WriteUint16, int (*)(OHIPCParcel *, uint16_t));
SIG(OH_IPCParcel_ReadUint16, int (*)(const OHIPCParcel *, uint16_t *));
SIG(OH_IPCParcel_WriteUint32, int (*)(OHIPCParcel *, uint32_t));
SIG(OH_IPCParcel_ReadUint32, int (*)(const OHIPCParcel *, uint32_t *));
SIG(OH_IPCParcel_WriteUint64, int (*)(OHIPCParcel *, uint64_t));
SIG(OH_IPCParcel_ReadUint64, int (*)(const OHIPCParcel *, uint64_t *));
SIG(OH_IPCParcel_WriteFloat, int (*)(OHIPCParcel *, float));
SIG(OH_IPCParcel_ReadFloat, int (*)(const OHIPCParcel *, float *));
SIG(OH_IPCParcel_WriteDouble, int (*)(OHIPCParcel *, double));
SIG(OH_IPCParcel_ReadDouble, int (*)(const OHIPCParcel *, double *));
SIG(OH_IPCParcel_WriteString, int (*)(OHIPCParcel *, const char *));
SIG(OH_IPCParcel_ReadString, const char *(*)(const OHIPCParcel *));
SIG(OH_IPCParcel_WriteBuffer, int (*)(OHIPCParcel *, const uint8_t *, int32_t));
SIG(OH_IPCParcel_ReadBuffer, const uint8_t *(*)(const OHIPCParcel *, int32_t));
SIG(OH_IPCParcel_WriteRemoteStub, int (*)(OHIPCParcel *, const OHIPCRemoteStub *));
SIG(OH_IPCParcel_ReadRemoteStub, OHIPCRemoteStub *(*)(const OHIPCParcel *));
SIG(OH_IPCParcel_WriteRemoteProxy, int (*)(OHIPCParcel *, const OHIPCRemoteProxy *));
SIG(OH_IPCParcel_ReadRemoteProxy, OHIPCRemoteProxy *(*)(const OHIPCParcel *));
SIG(OH_IPCParcel_WriteFileDescriptor, int (*)(OHIPCParcel *, int32_t));
SIG(OH_IPCParcel_ReadFileDescriptor, int (*)(const OHIPCParcel *, int32_t *));
SIG(OH_IPCParcel_Append, int (*)(OHIPCParcel *, const OHIPCParcel *));
SIG(OH_IPCParcel_WriteInterfaceToken, int (*)(OHIPCParcel *, const char *));
SIG(OH_IPCParcel_ReadInterfaceToken,
    int (*)(const OHIPCParcel *, char **, int32_t *, OH_IPC_MemAllocator));

SIG(OH_IPCRemoteStub_Create,
    OHIPCRemoteStub *(*)(const char *, OH_OnRemoteRequestCallback, OH_OnRemoteDestroyCallback,
                         void *));
SIG(OH_IPCRemoteStub_Destroy, void (*)(OHIPCRemoteStub *));
SIG(OH_IPCRemoteProxy_Destroy, void (*)(OHIPCRemoteProxy *));
SIG(OH_IPCRemoteProxy_SendRequest,
    int (*)(const OHIPCRemoteProxy *, uint32_t, const OHIPCParcel *, OHIPCParcel *,
            const OH_IPC_MessageOption *));
SIG(OH_IPCRemoteProxy_GetInterfaceDescriptor,
    int (*)(OHIPCRemoteProxy *, char **, int32_t *, OH_IPC_MemAllocator));
SIG(OH_IPCDeathRecipient_Create,
    OHIPCDeathRecipient *(*)(OH_OnDeathRecipientCallback, OH_OnDeathRecipientDestroyCallback,
                             void *));
SIG(OH_IPCDeathRecipient_Destroy, void (*)(OHIPCDeathRecipient *));
SIG(OH_IPCRemoteProxy_AddDeathRecipient, int (*)(OHIPCRemoteProxy *, OHIPCDeathRecipient *));
SIG(OH_IPCRemoteProxy_RemoveDeathRecipient, int (*)(OHIPCRemoteProxy *, OHIPCDeathRecipient *));
SIG(OH_IPCRemoteProxy_IsRemoteDead, int (*)(const OHIPCRemoteProxy *));

SIG(OH_IPCSkeleton_JoinWorkThread, void (*)(void));
SIG(OH_IPCSkeleton_StopWorkThread, void (*)(void));
SIG(OH_IPCSkeleton_GetCallingTokenId, uint64_t (*)(void));
SIG(OH_IPCSkeleton_GetFirstTokenId, uint64_t (*)(void));
SIG(OH_IPCSkeleton_GetSelfTokenId, uint64_t (*)(void));
SIG(OH_IPCSkeleton_GetCallingPid, uint64_t (*)(void));
SIG(OH_IPCSkeleton_GetCallingUid, uint64_t (*)(void));
SIG(OH_IPCSkeleton_IsLocalCalling, int (*)(void));
SIG(OH_IPCSkeleton_SetMaxWorkThreadNum, int (*)(const int));
SIG(OH_IPCSkeleton_ResetCallingIdentity, int (*)(char **, int32_t *, OH_IPC_MemAllocator));
SIG(OH_IPCSkeleton_SetCallingIdentity, int (*)(const char *));
SIG(OH_IPCSkeleton_IsHandlingTransaction, int (*)(void));

/* ---- 4. child_process_info.h, ability_runtime_common.h (API 26.1) --------- */

SA(ABILITY_RUNTIME_ERROR_CODE_NO_ERROR == 0);
SA(ABILITY_RUNTIME_ERROR_CODE_PERMISSION_DENIED == 201);
SA(ABILITY_RUNTIME_ERROR_CODE_PARAM_INVALID == 401);
SA(ABILITY_RUNTIME_ERROR_CODE_NOT_SUPPORTED == 801);
SA(ABILITY_RUNTIME_ERROR_CODE_CONTEXT_NOT_EXIST == 16000011);
SA(ABILITY_RUNTIME_ERROR_CODE_INTERNAL == 16000050);
SA(ABILITY_RUNTIME_ERROR_CODE_METADATA_INVALID == 16000178);
SA(sizeof(AbilityRuntime_ErrorCode) == sizeof(int));
SA(_Generic((OH_AbilityRuntime_ChildProcessInfosHandle)0,
            struct OH_AbilityRuntime_ChildProcessInfos *: 1, default: 0));
SA(_Generic((OH_AbilityRuntime_ChildProcessInfoHandle)0,
            struct OH_AbilityRuntime_ChildProcessInfo *: 1, default: 0));
SIG(OH_Ability_AcquireChildProcessInfos,
    Ability_NativeChildProcess_ErrCode (*)(OH_AbilityRuntime_ChildProcessInfosHandle *, uint32_t *));
SIG(OH_AbilityRuntime_GetChildProcessInfoByIndex,
    AbilityRuntime_ErrorCode (*)(OH_AbilityRuntime_ChildProcessInfosHandle, uint32_t,
                                 OH_AbilityRuntime_ChildProcessInfoHandle *));
SIG(OH_AbilityRuntime_ChildProcessInfo_GetPid,
    AbilityRuntime_ErrorCode (*)(OH_AbilityRuntime_ChildProcessInfoHandle, int32_t *));
SIG(OH_AbilityRuntime_ChildProcessInfo_GetParentPid,
    AbilityRuntime_ErrorCode (*)(OH_AbilityRuntime_ChildProcessInfoHandle, int32_t *));
SIG(OH_AbilityRuntime_ChildProcessInfo_GetProcessName,
    AbilityRuntime_ErrorCode (*)(OH_AbilityRuntime_ChildProcessInfoHandle, char *, uint32_t,
                                 uint32_t *));
SIG(OH_AbilityRuntime_ReleaseChildProcessInfos,
    void (*)(OH_AbilityRuntime_ChildProcessInfosHandle *));

/* ---- 5. background_process_manager.h (API 17), hilog/log.h ---------------- */

SA(PROCESS_BACKGROUND == 1);
SA(PROCESS_INACTIVE == 2);
SA(ERR_BACKGROUND_PROCESS_MANAGER_SUCCESS == 0);
SA(ERR_BACKGROUND_PROCESS_MANAGER_INVALID_PARAM == 401);
SA(ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR == 31800001);
SIG(OH_BackgroundProcessManager_SetProcessPriority,
    int (*)(int, BackgroundProcessManager_ProcessPriority));
SIG(OH_BackgroundProcessManager_ResetProcessPriority, int (*)(int));

SA(LOG_APP == 0);
SA(LOG_DEBUG == 3 && LOG_INFO == 4 && LOG_WARN == 5 && LOG_ERROR == 6 && LOG_FATAL == 7);
SA(UNSET_LOGLEVEL == 0 && PREFER_CLOSE_LOG == 1 && PREFER_OPEN_LOG == 2);
SIG(OH_LOG_Print, int (*)(LogType, LogLevel, unsigned int, const char *, const char *, ...));
SIG(OH_LOG_PrintMsg, int (*)(LogType, LogLevel, unsigned int, const char *, const char *));
SIG(OH_LOG_PrintMsgByLen,
    int (*)(LogType, LogLevel, unsigned int, const char *, size_t, const char *, size_t));
SIG(OH_LOG_VPrint, int (*)(LogType, LogLevel, unsigned int, const char *, const char *, va_list));
SIG(OH_LOG_IsLoggable, bool (*)(unsigned int, const char *, LogLevel));
SIG(OH_LOG_SetCallback, void (*)(LogCallback));
SIG(OH_LOG_SetMinLogLevel, void (*)(LogLevel));
SIG(OH_LOG_SetLogLevel, void (*)(LogLevel, PreferStrategy));
SA(_Generic((LogCallback)0, void (*)(const LogType, const LogLevel, const unsigned int,
                                     const char *, const char *): 1, default: 0));

/* The static assertions above are the test; this case records that the
 * file compiled, and checks a layout at run time for good measure. */
TEST(headers_match_the_sdk_abi) {
    OH_IPC_MessageOption opt = {OH_IPC_REQUEST_MODE_ASYNC, 5, NULL};
    CHECK_EQ(opt.mode, 1);
    CHECK_EQ((char *)&opt.reserved - (char *)&opt, 8);
    NativeChildProcess_Args args = {NULL, {NULL}};
    CHECK(args.fdList.head == NULL);
}
