"""OpenHarmony native child processes from Python.

Start a native child process that runs a function of a shared library (the
SDK's "args mode", ``OH_Ability_StartNativeChildProcess``), hand it
parameters and file descriptors, and see it exit::

    import os, ohncp

    r, w = os.pipe()
    with ohncp.start("libmychild.so:Main", "hello", {"out": w}) as child:
        os.close(w)
        print(os.read(r, 100), child.wait())

:class:`ChildProcess` behaves like :class:`subprocess.Popen`: ``returncode``
is ``None`` until the child has been reaped, then its exit code, or minus
the signal number that killed it. Failures raise a subclass of
:class:`NativeChildProcessError` that carries the SDK's error code.

In IPC mode (``OH_Ability_CreateNativeChildProcess``), :func:`connect` starts
a child library that exports ``NativeChildProcess_OnConnect`` and
``NativeChildProcess_MainProc``, and returns a :class:`RemoteProxy` to the
stub it handed over; requests and replies are :class:`Parcel` objects::

    with ohncp.connect("libmyipcchild.so") as proxy:
        reply = proxy.send_request(1, ohncp.Parcel().write_int32(2).write_int32(3))
        print(reply.read_int32())

IPC failures raise a subclass of :class:`IPCError`.

Child libraries are built against this package's headers and runtime:
``python -m ohncp --cflags`` and ``python -m ohncp --libs`` give the flags.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import NamedTuple, TypeVar

from ._backend import library_dir
from ._children import ChildInfo, Priority, children, reset_priority, set_priority
from ._constants import ErrorCode, IPCErrorCode, IsolationMode, RequestMode
from ._convert import FileDescriptorLike, Isolation, fileno, fs_bytes, isolation_mode
from ._errors import (
    AlreadyInChildError,
    BusyError,
    CallbackNotExistError,
    CheckParamError,
    CodeOutOfRangeError,
    ConnectionFailedError,
    DeadRemoteObjectError,
    InternalError,
    InvalidParamError,
    InvalidPidError,
    InvalidUserErrorCodeError,
    IPCError,
    IPCInnerError,
    LibLoadingFailedError,
    MaxChildProcessesReachedError,
    MemAllocatorError,
    MultiProcessDisabledError,
    NativeChildProcessError,
    NotSupportedError,
    ParcelReadError,
    ParcelWriteError,
    RemoteError,
    ServiceError,
    StartTimeoutError,
    check,
)
from ._events import ExitCallback, on_child_exit
from ._ipc import Parcel, RemoteProxy, RemoteStub, connect, connect_async
from ._ohncp import ffi, lib

__version__ = "0.1.0"

__all__ = [
    "AlreadyInChildError",
    "BusyError",
    "CallbackNotExistError",
    "CheckParamError",
    "ChildArgs",
    "ChildInfo",
    "ChildProcess",
    "CodeOutOfRangeError",
    "ConnectionFailedError",
    "DeadRemoteObjectError",
    "ErrorCode",
    "ExitCallback",
    "IPCError",
    "IPCErrorCode",
    "IPCInnerError",
    "InternalError",
    "InvalidParamError",
    "InvalidPidError",
    "InvalidUserErrorCodeError",
    "IsolationMode",
    "LibLoadingFailedError",
    "MaxChildProcessesReachedError",
    "MemAllocatorError",
    "MultiProcessDisabledError",
    "NativeChildProcessError",
    "NotSupportedError",
    "Parcel",
    "ParcelReadError",
    "ParcelWriteError",
    "Priority",
    "RemoteError",
    "RemoteProxy",
    "RemoteStub",
    "RequestMode",
    "ServiceError",
    "StartTimeoutError",
    "TimeoutExpired",
    "__version__",
    "aio",
    "children",
    "connect",
    "connect_async",
    "current_args",
    "get_include",
    "get_library_dir",
    "is_supported",
    "kill_child_process",
    "on_child_exit",
    "reset_priority",
    "set_priority",
    "start",
]

_PACKAGE_DIR = Path(__file__).resolve().parent
_ERRBUF_LEN = 512
# Blocking waits return to Python this often, so that signal handlers (and
# KeyboardInterrupt) run while a thread waits for a child without a timeout.
_WAIT_SLICE_S = 0.25

_Self = TypeVar("_Self", bound="ChildProcess")


class TimeoutExpired(TimeoutError):
    """:meth:`ChildProcess.wait` timed out; the child is still running.

    Attributes:
        pid: the child's pid.
        timeout: the timeout that passed, in seconds.
    """

    def __init__(self, pid: int, timeout: float) -> None:
        self.pid = pid
        self.timeout = timeout
        super().__init__(f"native child process {pid} still running after {timeout} seconds")

    def __reduce__(self) -> tuple[type[TimeoutExpired], tuple[int, float]]:
        return (type(self), (self.pid, self.timeout))


class ChildProcess:
    """A native child process started by :func:`start`.

    Not created directly. Methods may be called from any thread. Wait for
    every child (or use it as a context manager, which kills and waits);
    a handle dropped before its child was reaped warns with
    :class:`ResourceWarning`.

    Attributes:
        entry: the ``"library:function"`` the child runs.
    """

    def __init__(self, pid: int, handle: int, entry: str) -> None:
        self._pid = pid
        self._handle = handle
        self._returncode: int | None = None
        self._lock = threading.Lock()
        self.entry = entry

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self._pid

    @property
    def returncode(self) -> int | None:
        """``None`` until reaped; then the exit code, or ``-signal`` if killed."""
        return self._returncode

    @property
    def exit_code(self) -> int | None:
        """The exit code if the child exited by itself; ``None`` if killed or running."""
        code = self._returncode
        return code if code is not None and code >= 0 else None

    @property
    def exit_signal(self) -> int | None:
        """The number of the signal that killed the child; ``None`` if it exited or runs."""
        code = self._returncode
        return -code if code is not None and code < 0 else None

    def __repr__(self) -> str:
        return f"<ChildProcess pid={self._pid} entry={self.entry!r} returncode={self._returncode}>"

    def _collect(self, result: int, status: int) -> int | None:
        """Turn a shim_wait/shim_poll result into the return code, if any."""
        if result == lib.SHIM_EXITED:
            with self._lock:
                if self._returncode is None:
                    self._returncode = os.waitstatus_to_exitcode(status)
                    lib.shim_forget(self._handle)
        elif result == lib.SHIM_UNKNOWN and self._returncode is None:
            raise ChildProcessError(
                f"native child process {self._pid} is not tracked by this process "
                "(was it started before a fork?)"
            )
        return self._returncode

    def poll(self) -> int | None:
        """Return the return code if the child has exited, else ``None``; never blocks."""
        if self._returncode is not None:
            return self._returncode
        status = ffi.new("int *")
        return self._collect(lib.shim_poll(self._handle, status), status[0])

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its return code.

        Args:
            timeout: seconds to wait at most; ``None`` waits for as long as
                it takes.

        Returns:
            The exit code, or ``-signal`` if a signal killed the child.

        Raises:
            TimeoutExpired: the child was still running after ``timeout``.
        """
        if self._returncode is not None:
            return self._returncode
        deadline = None if timeout is None else time.monotonic() + timeout
        status = ffi.new("int *")
        while True:
            step = _WAIT_SLICE_S
            if deadline is not None:
                step = min(step, max(0.0, deadline - time.monotonic()))
            result = lib.shim_wait(self._handle, math.ceil(step * 1000), status)
            code = self._collect(result, status[0])
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutExpired(self._pid, timeout if timeout is not None else 0.0)

    def kill(self) -> None:
        """Kill the child with SIGKILL; does nothing if it has already exited."""
        if self.poll() is not None:
            return
        rc = lib.ohncp_api_KillChildProcess(self._pid)
        if rc == lib.NCP_ERR_INVALID_PID:
            # Exited already; the runtime has reaped it and its exit report
            # is on the way to poll()/wait().
            return
        check(rc)

    def set_priority(self, priority: Priority) -> None:
        """Hold the child back: ``"background"`` or ``"inactive"`` (see :func:`set_priority`)."""
        set_priority(self._pid, priority)

    def reset_priority(self) -> None:
        """Let the child run as this process does again (see :func:`reset_priority`)."""
        reset_priority(self._pid)

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._returncode is None:
            self.kill()
            self.wait()

    def __del__(self) -> None:
        if getattr(self, "_returncode", 0) is not None:
            return
        # Release the table entry first: the warning may be turned into an
        # exception. A running child goes on; its entry goes when it exits.
        with contextlib.suppress(Exception):  # late in interpreter shutdown
            lib.shim_forget(self._handle)
        warnings.warn(
            f"native child process {self._pid} was never waited for",
            ResourceWarning,
            source=self,
            stacklevel=2,
        )


def start(
    entry: str,
    params: str | bytes = "",
    fds: Mapping[str, FileDescriptorLike] | None = None,
    *,
    isolation: Isolation = "normal",
    isolation_uid: bool = False,
    process_name: str | None = None,
) -> ChildProcess:
    """Start a native child process that runs ``entry`` (args mode).

    Returns once the child has loaded the library and found the function.

    Args:
        entry: ``"library:function"``; the library is a path (with a ``/``)
            or a file name searched in ``OHNCP_LIBRARY_PATH`` and then by the
            dynamic linker. The function takes a ``NativeChildProcess_Args``.
        params: the child's ``args.entryParams`` (text, at most 150 KiB).
        fds: name -> file descriptor (an int or an object with ``fileno()``).
            The child gets duplicates; the caller keeps its own.
        isolation: ``"isolated"`` runs the child in a sandbox: no network,
            a read-only file system but for its own data directory, no
            signals or ptrace to other processes (README, "Security model").
            Where the kernel refuses it: NotSupportedError, never a start
            without it.
        isolation_uid: also run an isolated child under a uid of its own
            (1000000000 + its pid).
        process_name: names the child (1..64 of ``[A-Za-z0-9_]``).

    Returns:
        The handle of the running child.

    Raises:
        NativeChildProcessError: a subclass for the runtime's error code, e.g.
            InvalidParamError, LibLoadingFailedError, NotSupportedError.
        ValueError: an unknown ``isolation``, or a NUL byte in a string.
    """
    mode = isolation_mode(isolation)
    names = []
    numbers = []
    for name, fd in (fds or {}).items():
        names.append(ffi.new("char[]", fs_bytes(name.encode("utf-8"), "fd name")))
        numbers.append(fileno(fd))
    c_names = ffi.new("char *[]", names)
    c_fds = ffi.new("int32_t[]", numbers)
    c_name = ffi.NULL if process_name is None else fs_bytes(process_name, "process_name")
    pid = ffi.new("int32_t *")
    handle = ffi.new("uint64_t *")
    errbuf = ffi.new("char[]", _ERRBUF_LEN)
    rc = lib.shim_start(
        fs_bytes(entry, "entry"),
        fs_bytes(params.encode("utf-8") if isinstance(params, str) else params, "params"),
        len(names),
        c_names,
        c_fds,
        mode,
        int(isolation_uid),
        c_name,
        pid,
        handle,
        errbuf,
        _ERRBUF_LEN,
    )
    check(rc, ffi.string(errbuf).decode("utf-8", "replace"))
    return ChildProcess(pid[0], handle[0], entry)


class ChildArgs(NamedTuple):
    """What an args-mode child was started with (see :func:`current_args`)."""

    params: str
    """The ``entryParams`` string (bytes that are not UTF-8 as surrogate escapes)."""
    fds: dict[str, int]
    """Name -> fd number in this process, in the runtime's order."""


def current_args() -> ChildArgs | None:
    """In an args-mode child that runs Python: the params and fds it was started with.

    Wraps ``OH_Ability_GetCurrentChildProcessArgs``. Returns ``None`` in
    any other process (a parent, an IPC-mode child, a plain program).

    Raises:
        NotSupportedError: the runtime lacks the function (a device before
            API level 17).
    """
    args = lib.ohncp_api_GetCurrentChildProcessArgs()
    if args == ffi.NULL:
        if not lib.ohncp_api_has(b"OH_Ability_GetCurrentChildProcessArgs"):
            check(lib.OHNCP_API_MISSING)
        return None
    params = b"" if args.entryParams == ffi.NULL else ffi.string(args.entryParams)
    fds: dict[str, int] = {}
    node = args.fdList.head
    while node != ffi.NULL:
        fds[ffi.string(node.fdName).decode("utf-8", "surrogateescape")] = int(node.fd)
        node = node.next
    return ChildArgs(params.decode("utf-8", "surrogateescape"), fds)


def kill_child_process(pid: int) -> None:
    """Kill (SIGKILL) a live child of this process by pid.

    Prefer :meth:`ChildProcess.kill`, which knows whether its child is
    still alive.

    Raises:
        InvalidPidError: ``pid`` is not a live child of this process.
    """
    check(lib.ohncp_api_KillChildProcess(pid))


def is_supported() -> bool:
    """Return whether this process may start native child processes.

    False when ``OHNCP_MULTI_PROCESS=0`` is set in the environment. On a
    device before API level 26 (no ``OH_Ability_IsNativeChildProcessSupported``):
    whether the functions this package starts children with are present.
    """
    return bool(lib.ohncp_api_IsNativeChildProcessSupported())


def get_include() -> str:
    """Return the directory of the C headers (``native_child_process.h`` ...)."""
    return str(_PACKAGE_DIR / "include")


def get_library_dir() -> str:
    """Return the directory of ``libchild_process.so`` and ``libipc_capi.so``."""
    return library_dir(str(_PACKAGE_DIR / "_lib"))


check(lib.shim_init())


# Last: ohncp.aio builds on the names above.
from . import aio  # noqa: E402
