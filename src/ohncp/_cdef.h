/*
 * _cdef.h - what ohncp._ohncp exposes to Python (read by build_ffi.py).
 *
 * cffi parses this file, it is never compiled as such. Enum values are
 * written "..." so the C compiler takes them from the real headers; nobody
 * types an error code twice.
 */

/* native_child_process.h */
typedef enum Ability_NativeChildProcess_ErrCode {
    NCP_NO_ERROR,
    NCP_ERR_INVALID_PARAM,
    NCP_ERR_NOT_SUPPORTED,
    NCP_ERR_INTERNAL,
    NCP_ERR_BUSY,
    NCP_ERR_TIMEOUT,
    NCP_ERR_SERVICE_ERROR,
    NCP_ERR_MULTI_PROCESS_DISABLED,
    NCP_ERR_ALREADY_IN_CHILD,
    NCP_ERR_MAX_CHILD_PROCESSES_REACHED,
    NCP_ERR_LIB_LOADING_FAILED,
    NCP_ERR_CONNECTION_FAILED,
    NCP_ERR_CALLBACK_NOT_EXIST,
    NCP_ERR_INVALID_PID,
    ...
} Ability_NativeChildProcess_ErrCode;

typedef enum NativeChildProcess_IsolationMode {
    NCP_ISOLATION_MODE_NORMAL,
    NCP_ISOLATION_MODE_ISOLATED,
    ...
} NativeChildProcess_IsolationMode;

typedef struct Ability_ChildProcessConfigs Ability_ChildProcessConfigs;
typedef struct OHIPCRemoteProxy OHIPCRemoteProxy;
typedef void (*OH_Ability_OnNativeChildProcessStarted)(int errCode,
                                                       OHIPCRemoteProxy *remoteProxy);

/* The runtime's functions above API level 13 are reached through _api.h
 * (looked up at run time, so an older device still imports); see there. */
#define OHNCP_API_MISSING ...
#define OHNCP_API_LEVEL_HOST_ONLY ...
const char *ohncp_api_missing_symbol(void);
int ohncp_api_missing_level(void);
bool ohncp_api_has(const char *symbol);
int ohncp_api_library_dir(char *buf, size_t len);
int ohncp_api_KillChildProcess(int32_t pid);
int ohncp_api_KillChildProcessById(uint64_t start_id, int32_t pid);
int ohncp_api_IsNativeChildProcessSupported(void);
bool ohncp_api_exact_exit_status(void);
const char *ohncp_api_GetLastErrorMessage(void);
const char *ohncp_api_missing_library(void);
uint64_t ohncp_api_GetLastStartId(void);
int ohncp_api_GetStartErrorMessage(uint64_t id, char *buf, size_t size);
int ohncp_api_child_infos(int32_t *pids, int32_t *ppids, char *names, size_t name_size, int max,
                          int *count);
int ohncp_api_SetProcessPriority(int pid, int priority);
int ohncp_api_ResetProcessPriority(int pid);

/* background_process_manager.h */
typedef enum BackgroundProcessManager_ProcessPriority {
    PROCESS_BACKGROUND,
    PROCESS_INACTIVE,
    ...
} BackgroundProcessManager_ProcessPriority;
#define ERR_BACKGROUND_PROCESS_MANAGER_REMOTE_ERROR ...

/* ipc_error_code.h */
typedef enum {
    OH_IPC_SUCCESS,
    OH_IPC_ERROR_CODE_BASE,
    OH_IPC_CHECK_PARAM_ERROR,
    OH_IPC_PARCEL_WRITE_ERROR,
    OH_IPC_PARCEL_READ_ERROR,
    OH_IPC_MEM_ALLOCATOR_ERROR,
    OH_IPC_CODE_OUT_OF_RANGE,
    OH_IPC_DEAD_REMOTE_OBJECT,
    OH_IPC_INVALID_USER_ERROR_CODE,
    OH_IPC_INNER_ERROR,
    OH_IPC_ERROR_CODE_MAX,
    OH_IPC_USER_ERROR_CODE_MIN,
    OH_IPC_USER_ERROR_CODE_MAX,
    ...
} OH_IPC_ErrorCode;

/* ipc_cparcel.h */
typedef struct OHIPCParcel OHIPCParcel;
typedef void *(*OH_IPC_MemAllocator)(int32_t len);

OHIPCParcel *OH_IPCParcel_Create(void);
void OH_IPCParcel_Destroy(OHIPCParcel *parcel);
int OH_IPCParcel_GetDataSize(const OHIPCParcel *parcel);
int OH_IPCParcel_GetWritableBytes(const OHIPCParcel *parcel);
int OH_IPCParcel_WriteInt8(OHIPCParcel *parcel, int8_t value);
int OH_IPCParcel_ReadInt8(const OHIPCParcel *parcel, int8_t *value);
int OH_IPCParcel_WriteInt16(OHIPCParcel *parcel, int16_t value);
int OH_IPCParcel_ReadInt16(const OHIPCParcel *parcel, int16_t *value);
int OH_IPCParcel_WriteInt32(OHIPCParcel *parcel, int32_t value);
int OH_IPCParcel_ReadInt32(const OHIPCParcel *parcel, int32_t *value);
int OH_IPCParcel_WriteInt64(OHIPCParcel *parcel, int64_t value);
int OH_IPCParcel_ReadInt64(const OHIPCParcel *parcel, int64_t *value);
int OH_IPCParcel_WriteUint8(OHIPCParcel *parcel, uint8_t value);
int OH_IPCParcel_ReadUint8(const OHIPCParcel *parcel, uint8_t *value);
int OH_IPCParcel_WriteUint16(OHIPCParcel *parcel, uint16_t value);
int OH_IPCParcel_ReadUint16(const OHIPCParcel *parcel, uint16_t *value);
int OH_IPCParcel_WriteUint32(OHIPCParcel *parcel, uint32_t value);
int OH_IPCParcel_ReadUint32(const OHIPCParcel *parcel, uint32_t *value);
int OH_IPCParcel_WriteUint64(OHIPCParcel *parcel, uint64_t value);
int OH_IPCParcel_ReadUint64(const OHIPCParcel *parcel, uint64_t *value);
int OH_IPCParcel_WriteFloat(OHIPCParcel *parcel, float value);
int OH_IPCParcel_ReadFloat(const OHIPCParcel *parcel, float *value);
int OH_IPCParcel_WriteDouble(OHIPCParcel *parcel, double value);
int OH_IPCParcel_ReadDouble(const OHIPCParcel *parcel, double *value);
int OH_IPCParcel_WriteString(OHIPCParcel *parcel, const char *str);
const char *OH_IPCParcel_ReadString(const OHIPCParcel *parcel);
int OH_IPCParcel_WriteBuffer(OHIPCParcel *parcel, const uint8_t *buffer, int32_t len);
const uint8_t *OH_IPCParcel_ReadBuffer(const OHIPCParcel *parcel, int32_t len);
int OH_IPCParcel_WriteFileDescriptor(OHIPCParcel *parcel, int32_t fd);
int OH_IPCParcel_ReadFileDescriptor(const OHIPCParcel *parcel, int32_t *fd);
int OH_IPCParcel_WriteInterfaceToken(OHIPCParcel *parcel, const char *token);
int OH_IPCParcel_GetReadPosition(const OHIPCParcel *parcel);
int OH_IPCParcel_GetWritePosition(const OHIPCParcel *parcel);
int OH_IPCParcel_GetReadableBytes(const OHIPCParcel *parcel);
int OH_IPCParcel_RewindReadPosition(OHIPCParcel *parcel, uint32_t newReadPos);
int OH_IPCParcel_Append(OHIPCParcel *parcel, const OHIPCParcel *data);
typedef struct OHIPCRemoteStub OHIPCRemoteStub;
int OH_IPCParcel_WriteRemoteStub(OHIPCParcel *parcel, const OHIPCRemoteStub *stub);
int OH_IPCParcel_WriteRemoteProxy(OHIPCParcel *parcel, const OHIPCRemoteProxy *proxy);
OHIPCRemoteProxy *OH_IPCParcel_ReadRemoteProxy(const OHIPCParcel *parcel);
int OH_IPCParcel_ReadInterfaceToken(const OHIPCParcel *parcel, char **token, int32_t *len,
                                    OH_IPC_MemAllocator allocator);

/* ipc_cremote_object.h */
typedef enum {
    OH_IPC_REQUEST_MODE_SYNC,
    OH_IPC_REQUEST_MODE_ASYNC,
    ...
} OH_IPC_RequestMode;

typedef struct {
    OH_IPC_RequestMode mode;
    uint32_t timeout;
    void *reserved;
    ...;
} OH_IPC_MessageOption;

void OH_IPCRemoteProxy_Destroy(OHIPCRemoteProxy *proxy);
int OH_IPCRemoteProxy_SendRequest(const OHIPCRemoteProxy *proxy, uint32_t code,
                                  const OHIPCParcel *data, OHIPCParcel *reply,
                                  const OH_IPC_MessageOption *option);
int OH_IPCRemoteProxy_GetInterfaceDescriptor(OHIPCRemoteProxy *proxy, char **descriptor,
                                             int32_t *len, OH_IPC_MemAllocator allocator);
int OH_IPCRemoteProxy_IsRemoteDead(const OHIPCRemoteProxy *proxy);
typedef struct OHIPCDeathRecipient OHIPCDeathRecipient;
void OH_IPCDeathRecipient_Destroy(OHIPCDeathRecipient *recipient);
int OH_IPCRemoteProxy_AddDeathRecipient(OHIPCRemoteProxy *proxy,
                                        OHIPCDeathRecipient *recipient);
int OH_IPCRemoteProxy_RemoveDeathRecipient(OHIPCRemoteProxy *proxy,
                                           OHIPCDeathRecipient *recipient);
void OH_IPCRemoteStub_Destroy(OHIPCRemoteStub *stub);

/* native_child_process.h, in a child */
typedef struct NativeChildProcess_Fd {
    char *fdName;
    int32_t fd;
    struct NativeChildProcess_Fd *next;
} NativeChildProcess_Fd;
typedef struct NativeChildProcess_FdList {
    struct NativeChildProcess_Fd *head;
} NativeChildProcess_FdList;
typedef struct NativeChildProcess_Args {
    char *entryParams;
    struct NativeChildProcess_FdList fdList;
} NativeChildProcess_Args;
NativeChildProcess_Args *ohncp_api_GetCurrentChildProcessArgs(void);

/* _shim.h */
#define SHIM_CONNECT_SLOTS ...

int shim_init(void);
int shim_exit_by_id(void);
int shim_start(const char *entry, const char *params, int nfds,
               char *const *fd_names, const int32_t *fds, int isolation,
               int isolation_uid, const char *process_name, char *const *envp,
               int32_t *pid, uint64_t *start_id, char *errbuf, size_t errbuf_len);
int shim_connect_begin(const char *lib_name, int isolation, int isolation_uid,
                       const char *process_name, char *const *envp, uint64_t token,
                       char *errbuf, size_t errbuf_len);
int shim_connect_busy(void);
void *shim_ipc_alloc(int32_t len);
void shim_ipc_free(void *ptr);

#define SHIM_EV_EXIT ...
#define SHIM_EV_DEATH ...
#define SHIM_EV_CONNECT ...
#define SHIM_EV_STUB_GONE ...

struct shim_event {
    int kind;
    int32_t pid;
    int32_t status;
    uint64_t token;
    OHIPCRemoteProxy *proxy;
};

int shim_events_open(void);
int shim_events_take(struct shim_event *out, int max);
void shim_events_wake(void);
uint64_t shim_events_lost(void);
size_t shim_events_set_limit(size_t limit);
OHIPCDeathRecipient *shim_death_recipient(uint64_t token);
OHIPCRemoteStub *shim_stub_create(const char *descriptor, uint64_t token);
int32_t shim_proxy_pid(const OHIPCRemoteProxy *proxy);

extern "Python+C" int _ohncp_stub_request(uint32_t code, const OHIPCParcel *data,
                                          OHIPCParcel *reply, uint64_t token);
