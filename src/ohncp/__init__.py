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

Python functions run in native children through :class:`ProcessPoolExecutor`
(a ``concurrent.futures.Executor``) and :class:`Process` (shaped like
``multiprocessing.Process``): each worker is an interpreter of this very
Python, started from its shared libpython, with no ``fork`` in this process::

    with ohncp.ProcessPoolExecutor(max_workers=2, task_timeout=60) as pool:
        print(list(pool.map(abs, [-1, -2, -3])))

Child libraries are built against this package's headers and runtime:
``python -m ohncp --cflags`` and ``python -m ohncp --libs`` give the flags.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from . import _events
from ._backend import library_dir
from ._children import ChildInfo, Priority, children, reset_priority, set_priority
from ._constants import ErrorCode, IPCErrorCode, IsolationMode, RequestMode
from ._convert import (
    FileDescriptorLike,
    Isolation,
    environment,
    fd_table,
    flag,
    fs_bytes,
    int_arg,
    isolation_mode,
    optional_name,
    timeout_seconds,
    utf8_bytes,
)
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
from ._events import ExitCallback, ExitWaiter, on_child_exit
from ._ipc import Parcel, RemoteProxy, RemoteStub, connect, connect_async
from ._ohncp import ffi, lib
from ._version import __version__

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
    "Process",
    "ProcessPoolExecutor",
    "RemoteError",
    "RemoteProxy",
    "RemoteStub",
    "RequestMode",
    "ServiceError",
    "StartTimeoutError",
    "TaskTimeoutError",
    "TimeoutExpired",
    "WorkerDiedError",
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

    def __init__(self, pid: int, start_id: int, waiter: ExitWaiter, entry: str) -> None:
        self._pid = pid
        self._start_id = start_id  # 0 where the runtime gives none (a device)
        # Resolved by ohncp's event thread with this child's own exit: the
        # runtime reports it under the start's id, never reused.
        self._waiter = waiter
        self._loop = _events.loop()
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

    def _collect(self) -> int | None:
        """The return code if the waiter is resolved, else ``None``."""
        waiter = self._waiter
        if not waiter.done.is_set():
            if _events.loop() is not self._loop:
                raise ChildProcessError(
                    f"native child process {self._pid} is not tracked by this process "
                    "(was it started before a fork?)"
                )
            return None
        if waiter.error is not None:
            raise waiter.error
        with self._lock:
            if self._returncode is None:
                self._returncode = os.waitstatus_to_exitcode(waiter.status)
        return self._returncode

    def poll(self) -> int | None:
        """Return the return code if the child has exited, else ``None``; never blocks."""
        if self._returncode is not None:
            return self._returncode
        return self._collect()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child to exit and return its return code.

        Args:
            timeout: seconds to wait at most; ``None`` waits for as long as
                it takes.

        Returns:
            The exit code, or ``-signal`` if a signal killed the child.

        Raises:
            TimeoutExpired: the child was still running after ``timeout``.
            TypeError, ValueError: ``timeout`` is not a number >= 0 or None.
            InternalError: ohncp's event queue lost reports, maybe this
                child's exit (never expected; the message says so).
        """
        timeout = timeout_seconds(timeout)
        if self._returncode is not None:
            return self._returncode
        code = self._collect()  # also refuses a handle from before a fork
        if code is not None:
            return code
        # Event.wait sleeps in a lock acquire, which signal handlers (and
        # KeyboardInterrupt) interrupt: no polling.
        if not self._waiter.done.wait(timeout):
            raise TimeoutExpired(self._pid, timeout if timeout is not None else 0.0)
        code = self._collect()
        assert code is not None  # done is set: _collect returns or raises
        return code

    def kill(self) -> None:
        """Kill the child with SIGKILL; does nothing if it has already exited."""
        if self.poll() is not None:
            return
        # By start id: the pid may be a newer child's by now if this one
        # exited and its exit is still on the way to the event thread.
        rc = lib.ohncp_api_KillChildProcessById(self._start_id, self._pid)
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
        # A running child goes on; its waiter goes when it exits.
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
        TypeError: an argument of the wrong type (named in the message).
        ValueError: an unknown ``isolation``, or a NUL byte in a string.
    """
    c_entry = fs_bytes(entry, "entry")
    c_params = utf8_bytes(params, "params")
    table = fd_table(fds)
    mode = isolation_mode(isolation)
    uid = flag(isolation_uid, "isolation_uid")
    name_bytes = optional_name(process_name, "process_name")
    names = [ffi.new("char[]", name) for name, _ in table]
    c_names = ffi.new("char *[]", names)
    c_fds = ffi.new("int32_t[]", [fd for _, fd in table])
    c_name = ffi.NULL if name_bytes is None else name_bytes
    pid = ffi.new("int32_t *")
    start_id = ffi.new("uint64_t *")
    errbuf = ffi.new("char[]", _ERRBUF_LEN)
    envp, _keep = environment()  # taken under the GIL
    events = _events.loop()
    mark = events.begin_start()
    rc = lib.NCP_ERR_INTERNAL
    waiter = None
    try:
        rc = lib.shim_start(
            c_entry,
            c_params,
            len(names),
            c_names,
            c_fds,
            mode,
            int(uid),
            c_name,
            envp,
            pid,
            start_id,
            errbuf,
            _ERRBUF_LEN,
        )
    finally:
        # Exits are keyed by start id; -pid where the runtime gives none.
        key = (int(start_id[0]) or -int(pid[0])) if rc == lib.NCP_NO_ERROR else None
        waiter = events.end_start(mark, key)
    check(rc, ffi.string(errbuf).decode("utf-8", "replace"))
    assert waiter is not None
    return ChildProcess(pid[0], int(start_id[0]), waiter, entry)


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
        TypeError: ``pid`` is not an int.
    """
    check(lib.ohncp_api_KillChildProcess(int_arg(pid, "pid")))


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


# The pool builds on the names above.
from ._pool import (  # noqa: E402
    Process,
    ProcessPoolExecutor,
    TaskTimeoutError,
    WorkerDiedError,
)

# ohncp.aio is imported on first use, so that `import ohncp` does not import
# asyncio. (Hidden from type checkers, which would otherwise accept any name
# as an attribute of this module; they see the submodule itself.)
if TYPE_CHECKING:
    from . import aio
else:

    def __getattr__(name: str) -> object:
        if name == "aio":
            return importlib.import_module(".aio", __name__)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
