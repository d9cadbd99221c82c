"""Type stub for the cffi extension built from build_ffi.py and _cdef.h."""

from typing import Any

class CData:
    """A cffi C object (pointer, array or struct)."""

    def __getitem__(self, index: int) -> Any: ...
    def __setitem__(self, index: int, value: Any) -> None: ...
    def __len__(self) -> int: ...

class _FFI:
    NULL: CData
    def new(self, cdecl: str, init: object = ...) -> CData: ...
    def string(self, cdata: CData, maxlen: int = ...) -> bytes: ...

class _Lib:
    NCP_NO_ERROR: int
    NCP_ERR_INVALID_PARAM: int
    NCP_ERR_NOT_SUPPORTED: int
    NCP_ERR_INTERNAL: int
    NCP_ERR_BUSY: int
    NCP_ERR_TIMEOUT: int
    NCP_ERR_SERVICE_ERROR: int
    NCP_ERR_MULTI_PROCESS_DISABLED: int
    NCP_ERR_ALREADY_IN_CHILD: int
    NCP_ERR_MAX_CHILD_PROCESSES_REACHED: int
    NCP_ERR_LIB_LOADING_FAILED: int
    NCP_ERR_CONNECTION_FAILED: int
    NCP_ERR_CALLBACK_NOT_EXIST: int
    NCP_ERR_INVALID_PID: int
    NCP_ISOLATION_MODE_NORMAL: int
    NCP_ISOLATION_MODE_ISOLATED: int
    SHIM_EXITED: int
    SHIM_RUNNING: int
    SHIM_UNKNOWN: int

    def OH_Ability_KillChildProcess(self, pid: int) -> int: ...
    def OH_Ability_IsNativeChildProcessSupported(self) -> bool: ...
    def OH_Ohncp_GetLastErrorMessage(self) -> CData: ...
    def shim_init(self) -> int: ...
    def shim_start(
        self,
        entry: bytes,
        params: bytes,
        nfds: int,
        fd_names: CData,
        fds: CData,
        isolation: int,
        isolation_uid: int,
        process_name: bytes | CData,
        pid: CData,
        handle: CData,
        errbuf: CData,
        errbuf_len: int,
        /,
    ) -> int: ...
    def shim_wait(self, handle: int, timeout_ms: int, status: CData, /) -> int: ...
    def shim_poll(self, handle: int, status: CData, /) -> int: ...
    def shim_forget(self, handle: int, /) -> None: ...
    def shim_tracked(self) -> int: ...

ffi: _FFI
lib: _Lib
