"""IPC mode: connect to a native child process, then talk to it with parcels.

:func:`connect` wraps ``OH_Ability_CreateNativeChildProcessWithConfigs``.
The start result comes through a callback on a runtime thread; the C shim
stores it and :func:`connect` waits for it with the GIL released (see
``_shim.c``, section 4). :class:`RemoteProxy` wraps ``OHIPCRemoteProxy`` and
:class:`Parcel` wraps ``OHIPCParcel``. Every check (codes, lengths, sizes) is
the C library's; this module converts values and raises its codes.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
import time
import warnings
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ._convert import FileDescriptorLike, Isolation, fileno, fs_bytes, isolation_mode, utf8_bytes
from ._errors import StartTimeoutError, check, check_ipc, error_for_code, ipc_error_for_code
from ._ohncp import ffi
from ._ohncp import lib as _c

if TYPE_CHECKING:
    from ._ohncp import CData

__all__ = ["Parcel", "RemoteProxy", "connect"]

_ERRBUF_LEN = 512
# Blocking waits return to Python this often, so that signal handlers (and
# KeyboardInterrupt) run while a thread waits for a child to connect.
_WAIT_SLICE_S = 0.25

# The allocator the IPC API gets for the strings it hands back; they are
# released with shim_ipc_free.
_ALLOCATOR = ffi.addressof(_c, "shim_ipc_alloc")
# Read only by the C side, so one object serves every thread.
_ONEWAY = ffi.new("OH_IPC_MessageOption *", {"mode": _c.OH_IPC_REQUEST_MODE_ASYNC})

_P = TypeVar("_P", bound="Parcel")
_R = TypeVar("_R", bound="RemoteProxy")


def _take_string(text: CData, length: int) -> str:
    """Decode a string the IPC API allocated (``length`` counts the NUL) and free it."""
    try:
        return ffi.string(text, max(length - 1, 0)).decode("utf-8", "surrogateescape")
    finally:
        _c.shim_ipc_free(text)


class Parcel:
    """An IPC parcel: typed values written in order and read back in order.

    Writers return the parcel, so calls chain::

        data = Parcel().write_int32(2).write_string("two")

    Readers read from the read position, which starts at 0 and moves past
    each value read; reading past the data raises :class:`ParcelReadError`.
    ``len(parcel)`` is the size of the data in bytes, padding included (8-
    and 16-bit values take 4 bytes, everything is 4-byte aligned).

    A parcel is plain memory, freed when it is garbage collected; ``close()``
    (or ``with``) frees it at once, closing the file descriptors it holds. A
    parcel is not thread-safe: use it from one thread at a time.

    Raises:
        ValueError: any method of a closed parcel.
        IPCError: a subclass for the code a C call returned.
    """

    def __init__(self) -> None:
        created = _c.OH_IPCParcel_Create()
        if created == ffi.NULL:
            raise MemoryError("OH_IPCParcel_Create failed")
        self._cdata: CData | None = ffi.gc(created, _c.OH_IPCParcel_Destroy)

    def _ptr(self) -> CData:
        if self._cdata is None:
            raise ValueError("operation on a closed Parcel")
        return self._cdata

    def close(self) -> None:
        """Free the parcel now and close the fds it holds; closing again does nothing."""
        cdata, self._cdata = self._cdata, None
        if cdata is not None:
            ffi.release(cdata)  # runs OH_IPCParcel_Destroy

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._cdata is None

    def __enter__(self: _P) -> _P:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __len__(self) -> int:
        return int(_c.OH_IPCParcel_GetDataSize(self._ptr()))

    def __repr__(self) -> str:
        if self._cdata is None:
            return "<Parcel closed>"
        return f"<Parcel {len(self)} bytes>"

    # ---- numbers ----

    def _write(self: _P, write: Callable[[CData, Any], int], value: object) -> _P:
        check_ipc(write(self._ptr(), value))
        return self

    def _read(self, read: Callable[[CData, CData], int], ctype: str) -> CData:
        """Call ``read`` with a new ``ctype`` box; return the box, filled."""
        box = ffi.new(ctype)
        check_ipc(read(self._ptr(), box))
        return box

    def write_int8(self: _P, value: int) -> _P:
        """Write a signed 8-bit integer (4 bytes on the wire)."""
        return self._write(_c.OH_IPCParcel_WriteInt8, value)

    def write_int16(self: _P, value: int) -> _P:
        """Write a signed 16-bit integer (4 bytes on the wire)."""
        return self._write(_c.OH_IPCParcel_WriteInt16, value)

    def write_int32(self: _P, value: int) -> _P:
        """Write a signed 32-bit integer."""
        return self._write(_c.OH_IPCParcel_WriteInt32, value)

    def write_int64(self: _P, value: int) -> _P:
        """Write a signed 64-bit integer."""
        return self._write(_c.OH_IPCParcel_WriteInt64, value)

    def write_uint8(self: _P, value: int) -> _P:
        """Write an unsigned 8-bit integer (4 bytes on the wire)."""
        return self._write(_c.OH_IPCParcel_WriteUint8, value)

    def write_uint16(self: _P, value: int) -> _P:
        """Write an unsigned 16-bit integer (4 bytes on the wire)."""
        return self._write(_c.OH_IPCParcel_WriteUint16, value)

    def write_uint32(self: _P, value: int) -> _P:
        """Write an unsigned 32-bit integer."""
        return self._write(_c.OH_IPCParcel_WriteUint32, value)

    def write_uint64(self: _P, value: int) -> _P:
        """Write an unsigned 64-bit integer."""
        return self._write(_c.OH_IPCParcel_WriteUint64, value)

    def write_float(self: _P, value: float) -> _P:
        """Write a 32-bit float (rounded from the Python float)."""
        return self._write(_c.OH_IPCParcel_WriteFloat, value)

    def write_double(self: _P, value: float) -> _P:
        """Write a 64-bit float."""
        return self._write(_c.OH_IPCParcel_WriteDouble, value)

    def read_int8(self) -> int:
        """Read a signed 8-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadInt8, "int8_t *")[0])

    def read_int16(self) -> int:
        """Read a signed 16-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadInt16, "int16_t *")[0])

    def read_int32(self) -> int:
        """Read a signed 32-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadInt32, "int32_t *")[0])

    def read_int64(self) -> int:
        """Read a signed 64-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadInt64, "int64_t *")[0])

    def read_uint8(self) -> int:
        """Read an unsigned 8-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadUint8, "uint8_t *")[0])

    def read_uint16(self) -> int:
        """Read an unsigned 16-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadUint16, "uint16_t *")[0])

    def read_uint32(self) -> int:
        """Read an unsigned 32-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadUint32, "uint32_t *")[0])

    def read_uint64(self) -> int:
        """Read an unsigned 64-bit integer."""
        return int(self._read(_c.OH_IPCParcel_ReadUint64, "uint64_t *")[0])

    def read_float(self) -> float:
        """Read a 32-bit float."""
        return float(self._read(_c.OH_IPCParcel_ReadFloat, "float *")[0])

    def read_double(self) -> float:
        """Read a 64-bit float."""
        return float(self._read(_c.OH_IPCParcel_ReadDouble, "double *")[0])

    # ---- strings, bytes, fds, tokens ----

    def write_string(self: _P, text: str | bytes) -> _P:
        """Write a string (UTF-8; bytes as they are) with its NUL.

        Raises:
            ValueError: ``text`` contains a NUL.
        """
        return self._write(_c.OH_IPCParcel_WriteString, utf8_bytes(text, "string"))

    def read_string(self) -> str:
        """Read a string; bytes that are not UTF-8 come back as surrogate escapes.

        Raises:
            ParcelReadError: no NUL-terminated string at the read position.
        """
        text = _c.OH_IPCParcel_ReadString(self._ptr())
        if text == ffi.NULL:
            raise ipc_error_for_code(_c.OH_IPC_PARCEL_READ_ERROR, "no string to read")
        return ffi.string(text).decode("utf-8", "surrogateescape")

    def write_bytes(self: _P, data: bytes | bytearray | memoryview) -> _P:
        """Write raw bytes (``OH_IPCParcel_WriteBuffer``), padded to 4.

        The length is not written: the reader must know it.
        """
        buffer = ffi.from_buffer("uint8_t[]", data)
        check_ipc(_c.OH_IPCParcel_WriteBuffer(self._ptr(), buffer, len(buffer)))
        return self

    def read_bytes(self, size: int) -> bytes:
        """Read ``size`` raw bytes written by :meth:`write_bytes` (and skip the padding).

        Raises:
            ParcelReadError: fewer than ``size`` bytes left, or ``size`` negative.
        """
        data = _c.OH_IPCParcel_ReadBuffer(self._ptr(), size)
        if data == ffi.NULL:
            raise ipc_error_for_code(_c.OH_IPC_PARCEL_READ_ERROR, f"no {size} bytes to read")
        return bytes(ffi.buffer(data, size))

    def write_fd(self: _P, fd: FileDescriptorLike) -> _P:
        """Write a file descriptor; the parcel holds a duplicate, the caller keeps ``fd``."""
        return self._write(_c.OH_IPCParcel_WriteFileDescriptor, fileno(fd))

    def read_fd(self) -> int:
        """Read a file descriptor: a new close-on-exec fd that the caller owns and closes."""
        return int(self._read(_c.OH_IPCParcel_ReadFileDescriptor, "int32_t *")[0])

    def write_interface_token(self: _P, token: str) -> _P:
        """Write the interface name a stub may check before it trusts a request."""
        return self._write(
            _c.OH_IPCParcel_WriteInterfaceToken, utf8_bytes(token, "interface token")
        )

    def read_interface_token(self) -> str:
        """Read an interface token written by :meth:`write_interface_token`."""
        token = ffi.new("char **")
        length = ffi.new("int32_t *")
        check_ipc(_c.OH_IPCParcel_ReadInterfaceToken(self._ptr(), token, length, _ALLOCATOR))
        return _take_string(token[0], length[0])


class RemoteProxy:
    """A proxy for the IPC stub of a native child process, from :func:`connect`.

    Not created directly. Methods may be called from any thread, also at
    once. Close every proxy (or use it as a context manager); one that is
    garbage collected open is released with a :class:`ResourceWarning`.
    Releasing the proxy does not stop the child: it runs until its
    ``NativeChildProcess_MainProc`` returns, which is up to the child's code
    (a request that tells it to, say).
    """

    def __init__(self, cdata: CData) -> None:
        self._cdata: CData | None = cdata
        self._lock = threading.Lock()
        self._users = 0  # calls into C using _cdata right now
        self._closed = False

    # close() from one thread must not free the proxy under a request that
    # another thread is sending: the last call out destroys it.
    def _enter(self) -> CData:
        with self._lock:
            if self._closed or self._cdata is None:
                raise ValueError("operation on a closed RemoteProxy")
            self._users += 1
            return self._cdata

    def _leave(self) -> None:
        with self._lock:
            self._users -= 1
            doomed = self._take_if_done()
        if doomed is not None:
            _c.OH_IPCRemoteProxy_Destroy(doomed)

    def _take_if_done(self) -> CData | None:
        # self._lock held.
        if not self._closed or self._users > 0:
            return None
        cdata, self._cdata = self._cdata, None
        return cdata

    def send_request(
        self, code: int, data: Parcel | None = None, *, oneway: bool = False
    ) -> Parcel:
        """Send request ``code`` with ``data`` to the stub and return its reply.

        Args:
            code: the request code, 1..0xFFFFFF.
            data: the request; ``None`` sends an empty one.
            oneway: return as soon as the request is queued; the stub's
                reply is dropped and an empty parcel returned.

        Returns:
            The reply, read position at its start.

        Raises:
            RemoteError: the stub returned a user error code (``.code``).
            DeadRemoteObjectError: the child has died.
            CodeOutOfRangeError: ``code`` is out of range, or the stub says so.
            IPCError: another subclass for any other code.
            ValueError: the proxy or ``data`` is closed.
        """
        request = Parcel() if data is None else data
        reply = Parcel()
        try:
            proxy = self._enter()
            try:
                rc = _c.OH_IPCRemoteProxy_SendRequest(
                    proxy,
                    code,
                    request._ptr(),
                    ffi.NULL if oneway else reply._ptr(),
                    _ONEWAY if oneway else ffi.NULL,
                )
            finally:
                self._leave()
            check_ipc(rc, f"request {code}")
        except BaseException:
            reply.close()
            raise
        finally:
            if data is None:
                request.close()
        return reply

    @property
    def descriptor(self) -> str:
        """The descriptor (interface name) the child gave its stub; asks the child."""
        text = ffi.new("char **")
        length = ffi.new("int32_t *")
        proxy = self._enter()
        try:
            rc = _c.OH_IPCRemoteProxy_GetInterfaceDescriptor(proxy, text, length, _ALLOCATOR)
        finally:
            self._leave()
        check_ipc(rc)
        return _take_string(text[0], length[0])

    @property
    def is_dead(self) -> bool:
        """Whether the child process behind the proxy has died."""
        proxy = self._enter()
        try:
            return _c.OH_IPCRemoteProxy_IsRemoteDead(proxy) == 1
        finally:
            self._leave()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Release the proxy (``OH_IPCRemoteProxy_Destroy``); closing again does nothing.

        Requests other threads are sending finish first.
        """
        with self._lock:
            self._closed = True
            doomed = self._take_if_done()
        if doomed is not None:
            _c.OH_IPCRemoteProxy_Destroy(doomed)

    def __enter__(self: _R) -> _R:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RemoteProxy {'closed' if self._closed else 'open'}>"

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        cdata, self._cdata = self._cdata, None
        # Release first: the warning may be turned into an exception.
        with contextlib.suppress(Exception):  # late in interpreter shutdown
            _c.OH_IPCRemoteProxy_Destroy(cdata if cdata is not None else ffi.NULL)
        warnings.warn("RemoteProxy was never closed", ResourceWarning, source=self, stacklevel=2)


def _await_connect(handle: int, timeout: float | None) -> tuple[int, CData]:
    """Wait for the start callback of connect ``handle``; return its (code, proxy).

    Raises:
        StartTimeoutError: ``timeout`` passed first.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    code = ffi.new("int *")
    proxy = ffi.new("OHIPCRemoteProxy **")
    while True:
        step = _WAIT_SLICE_S
        if deadline is not None:
            step = min(step, max(0.0, deadline - time.monotonic()))
        result = _c.shim_connect_wait(handle, math.ceil(step * 1000), code, proxy)
        if result == _c.SHIM_DONE:
            return code[0], proxy[0]
        if result == _c.SHIM_UNKNOWN:
            raise RuntimeError("connect handle unknown to the shim (was there a fork?)")
        if deadline is not None and time.monotonic() >= deadline:
            raise StartTimeoutError(
                _c.NCP_ERR_TIMEOUT, f"the child did not connect within {timeout} s"
            )


def connect(
    lib: str | os.PathLike[str],
    *,
    timeout: float | None = 10.0,
    isolation: Isolation = "normal",
    isolation_uid: bool = False,
    process_name: str | None = None,
) -> RemoteProxy:
    """Start a native child process in IPC mode and return a proxy to its stub.

    The child loads ``lib``, calls its ``NativeChildProcess_OnConnect`` for
    the stub it hands over, then runs ``NativeChildProcess_MainProc``;
    requests are served on the child's IPC threads meanwhile. Returns once
    the stub has arrived.

    Args:
        lib: the child library: a path (with a ``/``) or a file name searched
            in ``OHNCP_LIBRARY_PATH`` and then by the dynamic linker.
        timeout: seconds to wait for the child to connect; ``None`` leaves
            it to the runtime's own start timeout (``OHNCP_START_TIMEOUT_MS``,
            10 s by default), which always ends the wait.
        isolation: ``"isolated"`` runs the child in a sandbox: no network,
            a read-only file system but for its own data directory, no
            signals or ptrace to other processes (README, "Security model").
            Where the kernel refuses it: NotSupportedError, never a start
            without it.
        isolation_uid: also run an isolated child under a uid of its own
            (1000000000 + its pid).
        process_name: names the child (1..64 of ``[A-Za-z0-9_]``).

    Returns:
        The proxy; close it when done.

    Raises:
        NativeChildProcessError: a subclass for the runtime's code:
            InvalidParamError, NotSupportedError,
            MaxChildProcessesReachedError, MultiProcessDisabledError ...
            at once; LibLoadingFailedError (library, OnConnect or MainProc
            missing), ConnectionFailedError (OnConnect returned NULL or
            crashed) or StartTimeoutError when the child fails to connect.
        ValueError: an unknown ``isolation``, or a NUL byte in a string.
    """
    name = os.fspath(lib)
    handle = ffi.new("uint64_t *")
    errbuf = ffi.new("char[]", _ERRBUF_LEN)
    rc = _c.shim_connect_begin(
        fs_bytes(name, "lib"),
        isolation_mode(isolation),
        int(isolation_uid),
        ffi.NULL if process_name is None else fs_bytes(process_name, "process_name"),
        handle,
        errbuf,
        _ERRBUF_LEN,
    )
    check(rc, ffi.string(errbuf).decode("utf-8", "replace"))
    try:
        code, proxy = _await_connect(handle[0], timeout)
    except BaseException:
        # A proxy that still comes is destroyed by the shim.
        _c.shim_connect_abandon(handle[0])
        raise
    if code != _c.NCP_NO_ERROR:
        raise error_for_code(code, f"IPC-mode start of {name!r}")
    return RemoteProxy(proxy)
