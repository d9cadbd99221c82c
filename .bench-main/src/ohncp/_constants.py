"""The SDK's enumerations as :class:`enum.IntEnum` classes.

Member names are the SDK's own, so they can be searched for in device code;
values come from the compiled headers.
"""

from __future__ import annotations

import enum

from ._ohncp import lib

__all__ = ["ErrorCode", "IPCErrorCode", "IsolationMode", "RequestMode"]


class ErrorCode(enum.IntEnum):
    """``Ability_NativeChildProcess_ErrCode``: what the native child process calls return."""

    NCP_NO_ERROR = lib.NCP_NO_ERROR
    NCP_ERR_INVALID_PARAM = lib.NCP_ERR_INVALID_PARAM
    NCP_ERR_NOT_SUPPORTED = lib.NCP_ERR_NOT_SUPPORTED
    NCP_ERR_INTERNAL = lib.NCP_ERR_INTERNAL
    NCP_ERR_BUSY = lib.NCP_ERR_BUSY
    NCP_ERR_TIMEOUT = lib.NCP_ERR_TIMEOUT
    NCP_ERR_SERVICE_ERROR = lib.NCP_ERR_SERVICE_ERROR
    NCP_ERR_MULTI_PROCESS_DISABLED = lib.NCP_ERR_MULTI_PROCESS_DISABLED
    NCP_ERR_ALREADY_IN_CHILD = lib.NCP_ERR_ALREADY_IN_CHILD
    NCP_ERR_MAX_CHILD_PROCESSES_REACHED = lib.NCP_ERR_MAX_CHILD_PROCESSES_REACHED
    NCP_ERR_LIB_LOADING_FAILED = lib.NCP_ERR_LIB_LOADING_FAILED
    NCP_ERR_CONNECTION_FAILED = lib.NCP_ERR_CONNECTION_FAILED
    NCP_ERR_CALLBACK_NOT_EXIST = lib.NCP_ERR_CALLBACK_NOT_EXIST
    NCP_ERR_INVALID_PID = lib.NCP_ERR_INVALID_PID


class IsolationMode(enum.IntEnum):
    """``NativeChildProcess_IsolationMode``: whether a child runs in a sandbox."""

    NCP_ISOLATION_MODE_NORMAL = lib.NCP_ISOLATION_MODE_NORMAL
    NCP_ISOLATION_MODE_ISOLATED = lib.NCP_ISOLATION_MODE_ISOLATED


class IPCErrorCode(enum.IntEnum):
    """``OH_IPC_ErrorCode``: what the IPC Kit calls return (user codes are a range)."""

    OH_IPC_SUCCESS = lib.OH_IPC_SUCCESS
    OH_IPC_CHECK_PARAM_ERROR = lib.OH_IPC_CHECK_PARAM_ERROR
    OH_IPC_PARCEL_WRITE_ERROR = lib.OH_IPC_PARCEL_WRITE_ERROR
    OH_IPC_PARCEL_READ_ERROR = lib.OH_IPC_PARCEL_READ_ERROR
    OH_IPC_MEM_ALLOCATOR_ERROR = lib.OH_IPC_MEM_ALLOCATOR_ERROR
    OH_IPC_CODE_OUT_OF_RANGE = lib.OH_IPC_CODE_OUT_OF_RANGE
    OH_IPC_DEAD_REMOTE_OBJECT = lib.OH_IPC_DEAD_REMOTE_OBJECT
    OH_IPC_INVALID_USER_ERROR_CODE = lib.OH_IPC_INVALID_USER_ERROR_CODE
    OH_IPC_INNER_ERROR = lib.OH_IPC_INNER_ERROR
    OH_IPC_ERROR_CODE_MAX = lib.OH_IPC_ERROR_CODE_MAX
    OH_IPC_USER_ERROR_CODE_MIN = lib.OH_IPC_USER_ERROR_CODE_MIN
    OH_IPC_USER_ERROR_CODE_MAX = lib.OH_IPC_USER_ERROR_CODE_MAX


class RequestMode(enum.IntEnum):
    """``OH_IPC_RequestMode``: wait for the reply (sync) or not (async, "oneway")."""

    OH_IPC_REQUEST_MODE_SYNC = lib.OH_IPC_REQUEST_MODE_SYNC
    OH_IPC_REQUEST_MODE_ASYNC = lib.OH_IPC_REQUEST_MODE_ASYNC
