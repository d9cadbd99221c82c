"""Exceptions for the ``NCP_ERR_*`` codes of the native child process API.

Every exception carries the numeric ``code`` and its ``name``; each class
also inherits the builtin exception that matches its meaning, so callers may
catch either. The code -> class map is built from the values the compiler
took from ``native_child_process.h``: no code is typed here.
"""

from __future__ import annotations

from ._ohncp import ffi, lib

__all__ = [
    "AlreadyInChildError",
    "BusyError",
    "CallbackNotExistError",
    "ConnectionFailedError",
    "InternalError",
    "InvalidParamError",
    "InvalidPidError",
    "LibLoadingFailedError",
    "MaxChildProcessesReachedError",
    "MultiProcessDisabledError",
    "NativeChildProcessError",
    "NotSupportedError",
    "ServiceError",
    "StartTimeoutError",
    "check",
    "error_for_code",
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
    """The child did not start or connect in time (16010002)."""


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
    message = lib.OH_Ohncp_GetLastErrorMessage()
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
    if detail is None:
        detail = last_error_message()
    raise error_for_code(code, detail)
