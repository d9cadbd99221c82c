"""Exceptions for the error codes of the native child process API and IPC Kit.

:class:`NativeChildProcessError` and its subclasses stand for the
``NCP_ERR_*`` codes, :class:`IPCError` and its subclasses for the
``OH_IPC_*`` codes and the user codes a remote stub may return. Every
exception carries the numeric ``code`` and its ``name``; a class whose
meaning matches a builtin exception also inherits it, so callers may catch
either. The code -> class maps are built from the values the compiler took
from the C headers: no code is typed here.
"""

from __future__ import annotations

from ._backend import missing_api_message
from ._ohncp import ffi, lib

__all__ = [
    "AlreadyInChildError",
    "BusyError",
    "CallbackNotExistError",
    "CheckParamError",
    "CodeOutOfRangeError",
    "ConnectionFailedError",
    "DeadRemoteObjectError",
    "IPCError",
    "IPCInnerError",
    "InternalError",
    "InvalidParamError",
    "InvalidPidError",
    "InvalidUserErrorCodeError",
    "LibLoadingFailedError",
    "MaxChildProcessesReachedError",
    "MemAllocatorError",
    "MultiProcessDisabledError",
    "NativeChildProcessError",
    "NotSupportedError",
    "ParcelReadError",
    "ParcelWriteError",
    "RemoteError",
    "ServiceError",
    "StartTimeoutError",
    "check",
    "check_ipc",
    "error_for_code",
    "ipc_error_for_code",
    "last_error_message",
]


class NativeChildProcessError(Exception):
    """A native child process call failed.

    Attributes:
        code: the ``NCP_ERR_*`` value the runtime returned.
        name: the name of that value, e.g. ``"NCP_ERR_INVALID_PARAM"``.
        detail: the runtime's explanation, or ``""``.
    """

    code: int
    name: str
    detail: str

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.name = _NAMES.get(code, "NCP_ERR_UNKNOWN")
        self.detail = detail
        text = f"{self.name} ({code})"
        super().__init__(f"{text}: {detail}" if detail else text)

    def __reduce__(self) -> tuple[type[NativeChildProcessError], tuple[int, str]]:
        # args holds the formatted message; rebuild from code and detail.
        return (type(self), (self.code, self.detail))


class InvalidParamError(NativeChildProcessError, ValueError):
    """An argument was missing, empty, too long or malformed (401)."""


class NotSupportedError(NativeChildProcessError):
    """The requested feature is not available on this machine (801)."""


class InternalError(NativeChildProcessError):
    """An unexpected failure inside the runtime (16000050)."""


class BusyError(NativeChildProcessError):
    """The service is busy (16010001; deprecated, never raised by the host runtime)."""


class StartTimeoutError(NativeChildProcessError, TimeoutError):
    """The child did not start or connect in time (16010002).

    A timed-out :func:`ohncp.connect` kills its child; :attr:`pid` is that
    child's pid if it had taken its start, else None.
    """

    pid: int | None = None


class ServiceError(NativeChildProcessError):
    """The spawner service could not be started or reached (16010003)."""


class MultiProcessDisabledError(NativeChildProcessError):
    """Multi-process is switched off, e.g. by ``OHNCP_MULTI_PROCESS=0`` (16010004)."""


class AlreadyInChildError(NativeChildProcessError):
    """Called from inside a child process (16010005)."""


class MaxChildProcessesReachedError(NativeChildProcessError):
    """This process has too many live children (16010006)."""


class LibLoadingFailedError(NativeChildProcessError):
    """The library could not be loaded or the entry symbol is missing (16010007)."""


class ConnectionFailedError(NativeChildProcessError):
    """The child could not hand over its IPC object (16010008)."""


class CallbackNotExistError(NativeChildProcessError):
    """The callback to unregister was never registered (16010009)."""


class InvalidPidError(NativeChildProcessError):
    """The pid is not a live child of this process (16010010)."""


_CLASSES: dict[str, type[NativeChildProcessError]] = {
    "NCP_ERR_INVALID_PARAM": InvalidParamError,
    "NCP_ERR_NOT_SUPPORTED": NotSupportedError,
    "NCP_ERR_INTERNAL": InternalError,
    "NCP_ERR_BUSY": BusyError,
    "NCP_ERR_TIMEOUT": StartTimeoutError,
    "NCP_ERR_SERVICE_ERROR": ServiceError,
    "NCP_ERR_MULTI_PROCESS_DISABLED": MultiProcessDisabledError,
    "NCP_ERR_ALREADY_IN_CHILD": AlreadyInChildError,
    "NCP_ERR_MAX_CHILD_PROCESSES_REACHED": MaxChildProcessesReachedError,
    "NCP_ERR_LIB_LOADING_FAILED": LibLoadingFailedError,
    "NCP_ERR_CONNECTION_FAILED": ConnectionFailedError,
    "NCP_ERR_CALLBACK_NOT_EXIST": CallbackNotExistError,
    "NCP_ERR_INVALID_PID": InvalidPidError,
}

_NAMES: dict[int, str] = {getattr(lib, name): name for name in _CLASSES}
_BY_CODE: dict[int, type[NativeChildProcessError]] = {
    getattr(lib, name): cls for name, cls in _CLASSES.items()
}


def last_error_message() -> str:
    """Return the runtime's explanation of this thread's last failed call, or ``""``."""
    message = lib.ohncp_api_GetLastErrorMessage()
    if message == ffi.NULL:
        return ""
    return ffi.string(message).decode("utf-8", "replace")


def error_for_code(code: int, detail: str = "") -> NativeChildProcessError:
    """Return the exception for ``code``: its own class, or the base class if unknown."""
    return _BY_CODE.get(code, NativeChildProcessError)(code, detail)


def check(code: int, detail: str | None = None) -> None:
    """Raise the exception for ``code`` unless it is ``NCP_NO_ERROR``.

    Args:
        code: a value returned by the runtime.
        detail: the explanation to attach; by default the runtime's message
            for this thread's last failed call, read now (so call this right
            after the failing call).

    Raises:
        NativeChildProcessError: or the subclass for ``code``.
    """
    if code == lib.NCP_NO_ERROR:
        return
    if code == lib.OHNCP_API_MISSING:
        raise NotSupportedError(lib.NCP_ERR_NOT_SUPPORTED, missing_api_message())
    if detail is None:
        detail = last_error_message()
    raise error_for_code(code, detail)


# ---- IPC Kit -----------------------------------------------------------------


class IPCError(Exception):
    """An IPC Kit call failed, or the remote stub answered with an error.

    Attributes:
        code: the ``OH_IPC_*`` value (or the stub's user code) returned.
        name: the name of that value, e.g. ``"OH_IPC_PARCEL_READ_ERROR"``.
        detail: what was being done, or ``""``.
    """

    code: int
    name: str
    detail: str

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        self.name = _ipc_name(code)
        self.detail = detail
        text = f"{self.name} ({code})"
        super().__init__(f"{text}: {detail}" if detail else text)

    def __reduce__(self) -> tuple[type[IPCError], tuple[int, str]]:
        return (type(self), (self.code, self.detail))


class CheckParamError(IPCError, ValueError):
    """An argument was NULL, negative or out of range (1901000)."""


class ParcelWriteError(IPCError):
    """The parcel cannot take the data: it would pass its size limit (1901001)."""


class ParcelReadError(IPCError):
    """The parcel has no more data of the kind asked for (1901002)."""


class MemAllocatorError(IPCError):
    """The allocator for a returned string failed (1901003)."""


class CodeOutOfRangeError(IPCError, ValueError):
    """A request code outside [1, 0xFFFFFF], or one the stub does not know (1901004)."""


class DeadRemoteObjectError(IPCError):
    """The process behind the proxy has died (1901005)."""


class InvalidUserErrorCodeError(IPCError):
    """The stub returned a value that is neither 0, an IPC code nor a user code (1901006)."""


class IPCInnerError(IPCError):
    """Any other failure inside the IPC runtime (1901007)."""


class RemoteError(IPCError):
    """The stub returned a user error code, 1909000..1909999; ``code`` is that code."""


_IPC_CLASSES: dict[str, type[IPCError]] = {
    "OH_IPC_CHECK_PARAM_ERROR": CheckParamError,
    "OH_IPC_PARCEL_WRITE_ERROR": ParcelWriteError,
    "OH_IPC_PARCEL_READ_ERROR": ParcelReadError,
    "OH_IPC_MEM_ALLOCATOR_ERROR": MemAllocatorError,
    "OH_IPC_CODE_OUT_OF_RANGE": CodeOutOfRangeError,
    "OH_IPC_DEAD_REMOTE_OBJECT": DeadRemoteObjectError,
    "OH_IPC_INVALID_USER_ERROR_CODE": InvalidUserErrorCodeError,
    "OH_IPC_INNER_ERROR": IPCInnerError,
}

_IPC_NAMES: dict[int, str] = {getattr(lib, name): name for name in _IPC_CLASSES}
_IPC_BY_CODE: dict[int, type[IPCError]] = {
    getattr(lib, name): cls for name, cls in _IPC_CLASSES.items()
}


def _is_user_code(code: int) -> bool:
    return lib.OH_IPC_USER_ERROR_CODE_MIN <= code <= lib.OH_IPC_USER_ERROR_CODE_MAX


def _ipc_name(code: int) -> str:
    if _is_user_code(code):
        return "OH_IPC_USER_ERROR_CODE"
    return _IPC_NAMES.get(code, "OH_IPC_UNKNOWN_ERROR")


def ipc_error_for_code(code: int, detail: str = "") -> IPCError:
    """Return the exception for an IPC ``code``: its class, RemoteError, or IPCError."""
    if _is_user_code(code):
        return RemoteError(code, detail)
    return _IPC_BY_CODE.get(code, IPCError)(code, detail)


def check_ipc(code: int, detail: str = "") -> None:
    """Raise the exception for ``code`` unless it is ``OH_IPC_SUCCESS``.

    Raises:
        IPCError: the subclass for ``code``; RemoteError for a user code.
    """
    if code != lib.OH_IPC_SUCCESS:
        raise ipc_error_for_code(code, detail)
