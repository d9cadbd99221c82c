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

Ability_NativeChildProcess_ErrCode OH_Ability_KillChildProcess(int32_t pid);
bool OH_Ability_IsNativeChildProcessSupported(void);

/* ohncp_ext.h */
const char *OH_Ohncp_GetLastErrorMessage(void);

/* _shim.h */
#define SHIM_EXITED ...
#define SHIM_RUNNING ...
#define SHIM_UNKNOWN ...

int shim_init(void);
int shim_start(const char *entry, const char *params, int nfds,
               char *const *fd_names, const int32_t *fds, int isolation,
               int isolation_uid, const char *process_name, int32_t *pid,
               uint64_t *handle, char *errbuf, size_t errbuf_len);
int shim_wait(uint64_t handle, int timeout_ms, int *status);
int shim_poll(uint64_t handle, int *status);
void shim_forget(uint64_t handle);
int shim_tracked(void);
