"""IPC mode: connect to a native child process, then talk to it with parcels.

:func:`connect` wraps ``OH_Ability_CreateNativeChildProcessWithConfigs``.
The start result comes through a callback on a runtime thread; the C shim
queues it for ohncp's event thread (``_shim.c``, section 4), which resolves
the connect's :class:`~ohncp._events.ConnectWaiter`, and :func:`connect`
waits on that with the GIL released. :class:`RemoteProxy` wraps ``OHIPCRemoteProxy`` and
:class:`Parcel` wraps ``OHIPCParcel``. Every check (codes, lengths, sizes) is
the C library's; this module converts values and raises its codes.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from types import TracebackType
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from . import _events
from ._convert import (
    FileDescriptorLike,
    Isolation,
    buffer_arg,
    environment,
    fileno,
    flag,
    fs_bytes,
    int_arg,
    isolation_mode,
    optional_name,
    timeout_seconds,
    utf8_bytes,
)
from ._errors import (
    IPCError,
    NativeChildProcessError,
    StartTimeoutError,
    check,
    check_ipc,
    error_for_code,
    ipc_error_for_code,
)
from ._ohncp import ffi
from ._ohncp import lib as _c

if TYPE_CHECKING:
    from ._ohncp import CData

if TYPE_CHECKING:
    from . import ChildProcess

__all__ = ["Parcel", "RemoteProxy", "RemoteStub", "connect", "connect_async"]

_ERRBUF_LEN = 512
# The most data one parcel holds (and one message carries), in bytes.
PARCEL_MAX_BYTES = 200 * 1024

# The allocator the IPC API gets for the strings it hands back; they are
# released with shim_ipc_free.
_ALLOCATOR = ffi.addressof(_c, "shim_ipc_alloc")
# Read only by the C side, so one object serves every thread.
_ONEWAY = ffi.new("OH_IPC_MessageOption *", {"mode": _c.OH_IPC_REQUEST_MODE_ASYNC})

_P = TypeVar("_P", bound="Parcel")

# Guards every Parcel's _users and _doomed (held only to count, never across C).
_parcel_lock = threading.Lock()
_C = TypeVar("_C", bound="_Closing")


class _Closing:
    """``with`` support for objects that :meth:`close` releases."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self: _C) -> _C:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _weak_call(method: Callable[[], None]) -> Callable[[], None]:
    """A callable that runs the bound ``method`` while its object lives, else nothing."""
    ref = weakref.WeakMethod(method)

    def call() -> None:
        target = ref()
        if target is not None:
            target()

    return call


def _take_string(text: CData, length: int) -> str:
    """Decode a string the IPC API allocated (``length`` counts the NUL) and free it."""
    try:
        return ffi.string(text, max(length - 1, 0)).decode("utf-8", "surrogateescape")
    finally:
        _c.shim_ipc_free(text)


class Parcel(_Closing):
    """An IPC parcel: typed values written in order and read back in order.

    Writers return the parcel, so calls chain::

        data = Parcel().write_int32(2).write_string("two")

    Readers read from the read position, which starts at 0 and moves past
    each value read; reading past the data raises :class:`ParcelReadError`.
    ``len(parcel)`` is the size of the data in bytes, padding included (8-
    and 16-bit values take 4 bytes, everything is 4-byte aligned).

    A parcel is plain memory, freed when it is garbage collected; ``close()``
    (or ``with``) frees it at once, closing the file descriptors it holds. A
    parcel is not thread-safe: use it from one thread at a time. One thing
    is safe: ``close()`` while another thread sends the parcel (or appends
    it) frees it only once that call is done.

    Raises:
        ValueError: any method of a closed parcel.
        IPCError: a subclass for the code a C call returned.
    """

    def __init__(self, data: bytes | bytearray | memoryview | None = None) -> None:
        """Make an empty parcel, or one holding a copy of ``data`` (see :meth:`__bytes__`)."""
        self._users = 0  # calls into C using _cdata from other objects (_enter)
        self._doomed: CData | None = None  # closed while in use: freed by the last _leave
        created = _c.OH_IPCParcel_Create()
        if created == ffi.NULL:
            raise MemoryError("OH_IPCParcel_Create failed")
        self._cdata: CData | None = ffi.gc(created, _c.OH_IPCParcel_Destroy)
        self._owned = True
        self._readonly = False
        if data is not None:
            self.write_bytes(data)

    @classmethod
    def _borrow(cls: type[_P], cdata: CData, *, readonly: bool) -> _P:
        """Wrap a parcel owned by C (a stub's request or reply), valid until :meth:`close`."""
        parcel = cls.__new__(cls)
        parcel._users = 0
        parcel._doomed = None
        parcel._cdata = cdata
        parcel._owned = False
        parcel._readonly = readonly
        return parcel

    def _ptr(self) -> CData:
        if self._cdata is None:
            raise ValueError("operation on a closed Parcel")
        return self._cdata

    def _wptr(self) -> CData:
        if self._readonly:
            raise ValueError("the request parcel of a stub is read-only")
        return self._ptr()

    # close() from one thread must not free the C parcel under a send or an
    # append that another thread is making with it (a use after free in C):
    # such a call holds it between _enter and _leave, and the last one out
    # frees it.
    def _enter(self) -> CData:
        with _parcel_lock:
            ptr = self._ptr()
            self._users += 1
            return ptr

    def _leave(self) -> None:
        with _parcel_lock:
            self._users -= 1
            doomed = self._doomed if self._users == 0 else None
            if doomed is not None:
                self._doomed = None
        if doomed is not None:
            ffi.release(doomed)  # runs OH_IPCParcel_Destroy

    def close(self) -> None:
        """Free the parcel now and close the fds it holds; closing again does nothing.

        If another thread is sending it, that send finishes first, then it is freed.
        """
        with _parcel_lock:
            cdata, self._cdata = self._cdata, None
            if cdata is None or not self._owned:
                return
            if self._users > 0:
                self._doomed = cdata
                return
        ffi.release(cdata)  # runs OH_IPCParcel_Destroy

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._cdata is None

    def __len__(self) -> int:
        return int(_c.OH_IPCParcel_GetDataSize(self._ptr()))

    def __bytes__(self) -> bytes:
        """The parcel's data as it goes on the wire (the read position stays put).

        File descriptors and remote objects in it are only slots in these
        bytes: ``Parcel(bytes(p))`` copies plain values, not those.
        """
        ptr = self._ptr()
        size = int(_c.OH_IPCParcel_GetDataSize(ptr))
        here = int(_c.OH_IPCParcel_GetReadPosition(ptr))
        check_ipc(_c.OH_IPCParcel_RewindReadPosition(ptr, 0))
        try:
            data = _c.OH_IPCParcel_ReadBuffer(ptr, size)
            return b"" if size == 0 or data == ffi.NULL else bytes(ffi.buffer(data, size))
        finally:
            _c.OH_IPCParcel_RewindReadPosition(ptr, here)

    @property
    def read_position(self) -> int:
        """Where the next read starts, in bytes from the beginning."""
        return int(_c.OH_IPCParcel_GetReadPosition(self._ptr()))

    @property
    def readable(self) -> int:
        """How many bytes are left to read."""
        return int(_c.OH_IPCParcel_GetReadableBytes(self._ptr()))

    def rewind(self: _P, position: int = 0) -> _P:
        """Move the read position to ``position`` (0: read everything again).

        Raises:
            CheckParamError: ``position`` is past the data.
        """
        if position < 0:
            raise ipc_error_for_code(_c.OH_IPC_CHECK_PARAM_ERROR, f"position {position} < 0")
        check_ipc(_c.OH_IPCParcel_RewindReadPosition(self._ptr(), position), "rewind")
        return self

    def append(self: _P, other: Parcel) -> _P:
        """Append all of ``other``'s data (its fds and objects included), whatever was read."""
        _check_parcel(other, "other")
        mine = self._wptr()
        theirs = other._enter()
        try:
            check_ipc(_c.OH_IPCParcel_Append(mine, theirs))
        finally:
            other._leave()
        return self

    def __repr__(self) -> str:
        if self._cdata is None:
            return "<Parcel closed>"
        return f"<Parcel {len(self)} bytes>"

    # ---- numbers ----

    def _write(self: _P, write: Callable[[CData, Any], int], value: object) -> _P:
        rc = write(self._wptr(), value)
        if rc != _c.OH_IPC_SUCCESS:
            check_ipc(rc, self._write_failure(rc))
        return self

    def _write_failure(self, rc: int) -> str:
        """Say why a write into this parcel failed (the C code alone does not)."""
        if rc == _c.OH_IPC_PARCEL_WRITE_ERROR:
            writable = int(_c.OH_IPCParcel_GetWritableBytes(self._ptr()))
            return (
                f"the parcel holds {len(self)} bytes; {writable} more fit in its limit of "
                f"{PARCEL_MAX_BYTES} bytes (200 KiB)"
            )
        return ""

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

        The length is not written: the reader must know it. Empty ``data``
        writes nothing (the C call refuses a length of 0, as on a device).
        """
        buffer_arg(data, "data")
        if len(data) == 0:
            self._wptr()  # a closed or read-only parcel still raises
            return self
        buffer = ffi.from_buffer("uint8_t[]", data)
        rc = _c.OH_IPCParcel_WriteBuffer(self._wptr(), buffer, len(buffer))
        if rc != _c.OH_IPC_SUCCESS:
            check_ipc(rc, f"{len(buffer)} bytes: {self._write_failure(rc)}")
        return self

    def read_bytes(self, size: int) -> bytes:
        """Read ``size`` raw bytes written by :meth:`write_bytes` (and skip the padding).

        Raises:
            ParcelReadError: fewer than ``size`` bytes left, or ``size`` negative.
        """
        if size == 0:
            self._ptr()  # a closed parcel still raises
            return b""
        data = _c.OH_IPCParcel_ReadBuffer(self._ptr(), size)
        if data == ffi.NULL:
            raise ipc_error_for_code(_c.OH_IPC_PARCEL_READ_ERROR, f"no {size} bytes to read")
        return bytes(ffi.buffer(data, size))

    def write_fd(self: _P, fd: FileDescriptorLike) -> _P:
        """Write a file descriptor; the parcel holds a duplicate, the caller keeps ``fd``."""
        number = fileno(fd, "fd")
        rc = _c.OH_IPCParcel_WriteFileDescriptor(self._wptr(), number)
        if rc != _c.OH_IPC_SUCCESS:
            try:
                os.fstat(number)
            except OSError as exc:
                check_ipc(rc, f"fd {number} is not an open file descriptor ({exc.strerror})")
            check_ipc(rc, f"fd {number}: {self._write_failure(rc)}")
        return self

    def read_fd(self) -> int:
        """Read a file descriptor: a new close-on-exec fd that the caller owns and closes."""
        return int(self._read(_c.OH_IPCParcel_ReadFileDescriptor, "int32_t *")[0])

    def write_interface_token(self: _P, token: str) -> _P:
        """Write the interface name a stub may check before it trusts a request."""
        return self._write(
            _c.OH_IPCParcel_WriteInterfaceToken, utf8_bytes(token, "interface token")
        )

    def write_remote_object(self: _P, obj: RemoteStub | RemoteProxy) -> _P:
        """Write a stub of this process, or a proxy, for the receiver to call.

        The receiver reads it with :meth:`read_remote_object` and gets a
        proxy that reaches ``obj``'s stub: a child can call back into its
        parent through a :class:`RemoteStub` written here.
        """
        if isinstance(obj, RemoteStub):
            check_ipc(_c.OH_IPCParcel_WriteRemoteStub(self._wptr(), obj._ptr()))
        elif isinstance(obj, RemoteProxy):
            proxy = obj._enter()
            try:
                check_ipc(_c.OH_IPCParcel_WriteRemoteProxy(self._wptr(), proxy))
            finally:
                obj._leave()
        else:
            raise TypeError(f"a RemoteStub or RemoteProxy, not {type(obj).__name__}")
        return self

    def read_remote_object(self) -> RemoteProxy:
        """Read a remote object as a proxy (close it when done).

        Raises:
            ParcelReadError: no remote object at the read position.
        """
        proxy = _c.OH_IPCParcel_ReadRemoteProxy(self._ptr())
        if proxy == ffi.NULL:
            raise ipc_error_for_code(_c.OH_IPC_PARCEL_READ_ERROR, "no remote object to read")
        return RemoteProxy(proxy)

    def read_interface_token(self) -> str:
        """Read an interface token written by :meth:`write_interface_token`."""
        token = ffi.new("char **")
        length = ffi.new("int32_t *")
        check_ipc(_c.OH_IPCParcel_ReadInterfaceToken(self._ptr(), token, length, _ALLOCATOR))
        return _take_string(token[0], length[0])


class RemoteProxy(_Closing):
    """A proxy for the IPC stub of a native child process, from :func:`connect`.

    Not created directly. Methods may be called from any thread, also at
    once. Close every proxy (or use it as a context manager); one that is
    garbage collected open is released with a :class:`ResourceWarning`.

    A proxy from :func:`connect` also holds its child process: :attr:`child`,
    and :meth:`kill`, :meth:`wait` and :attr:`returncode` on it. Leaving
    ``with connect(...)`` releases the proxy and then ends the child as
    leaving ``with ohncp.start(...)`` does: SIGKILL if it still runs, and a
    wait for its exit (``subprocess.Popen`` only waits; an IPC-mode child's
    ``MainProc`` usually waits for its parent for ever, and would hold one of
    the 50 IPC-mode places). A child that should end on its own is told so
    by a request and waited for (:meth:`wait`) before the block ends.
    :meth:`close` alone only
    releases the proxy: the child then runs until its
    ``NativeChildProcess_MainProc`` returns.
    """

    def __init__(self, cdata: CData) -> None:
        self._child: ChildProcess | None = None  # set by connect (_adopt_child)
        self._cdata: CData | None = cdata
        self._lock = threading.Lock()
        self._users = 0  # calls into C using _cdata right now
        self._closed = False
        # Death callbacks: one C recipient per proxy, made on first use.
        self._recipient: CData | None = None
        self._token = 0
        self._death_callbacks: list[Callable[[RemoteProxy], object]] = []
        self._died = False  # the recipient fired

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
            self._destroy(doomed)

    def _take_if_done(self) -> CData | None:
        # self._lock held.
        if not self._closed or self._users > 0:
            return None
        cdata, self._cdata = self._cdata, None
        return cdata

    def _destroy(self, cdata: CData) -> None:
        """Release the C proxy, and the death recipient first."""
        recipient, self._recipient = self._recipient, None
        if recipient is not None:
            _c.OH_IPCRemoteProxy_RemoveDeathRecipient(cdata, recipient)
            _c.OH_IPCDeathRecipient_Destroy(recipient)
            _events.unwatch_token(_c.SHIM_EV_DEATH, self._token)
        _c.OH_IPCRemoteProxy_Destroy(cdata)

    @property
    def pid(self) -> int:
        """The pid of the process whose stub this proxy reaches (a child, or this process).

        Raises:
            NotSupportedError: the runtime cannot tell (not the host runtime).
        """
        proxy = self._enter()
        try:
            pid = int(_c.shim_proxy_pid(proxy))
        finally:
            self._leave()
        if pid == _c.OHNCP_API_MISSING:
            check(pid)  # NotSupportedError naming the missing extension
        if pid <= 0:
            raise error_for_code(_c.NCP_ERR_NOT_SUPPORTED, "the runtime does not know the pid")
        return pid

    def add_death_callback(self, fn: Callable[[RemoteProxy], object]) -> None:
        """Call ``fn(proxy)`` once when the process behind the proxy dies.

        Death means any end: a crash, a kill, or ``MainProc`` returning. The
        call comes on ohncp's event thread (see :func:`ohncp.on_child_exit`);
        if the process is dead already, it comes at once. An exception in
        ``fn`` goes to :data:`sys.unraisablehook`.
        """
        if not callable(fn):
            raise TypeError(f"add_death_callback needs a callable, not {type(fn).__name__}")
        proxy = self._enter()
        try:
            with self._lock:
                self._death_callbacks.append(fn)
                fire_now = self._died
                need_recipient = self._recipient is None and not self._died
                if need_recipient:
                    self._token = _events.new_token()
                    _events.watch_token(_c.SHIM_EV_DEATH, self._token, _weak_call(self._on_death))
                    recipient = _c.shim_death_recipient(self._token)
                    if recipient == ffi.NULL:
                        self._death_callbacks.remove(fn)
                        raise MemoryError("OH_IPCDeathRecipient_Create failed")
                    self._recipient = recipient
            if need_recipient:
                # Outside the lock: a dead proxy fires at once, on a runtime thread.
                check_ipc(_c.OH_IPCRemoteProxy_AddDeathRecipient(proxy, recipient))
            if fire_now:
                _events.loop().call_soon(lambda: self._run_death_callback(fn))
        finally:
            self._leave()

    def remove_death_callback(self, fn: Callable[[RemoteProxy], object]) -> None:
        """Unregister ``fn`` (the first registration of it).

        Raises:
            ValueError: ``fn`` is not registered.
        """
        with self._lock:
            self._death_callbacks.remove(fn)

    def _on_death(self) -> None:
        # On the event thread.
        with self._lock:
            if self._died:
                return
            self._died = True
            callbacks = list(self._death_callbacks)
        for fn in callbacks:
            self._run_death_callback(fn)

    def _run_death_callback(self, fn: Callable[[RemoteProxy], object]) -> None:
        with self._lock:
            if fn not in self._death_callbacks:
                return
        try:
            fn(self)
        except BaseException as exc:
            _events.report_unraisable(exc, "Exception ignored in ohncp death callback", fn)

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
            CodeOutOfRangeError: ``code`` is above 0xFFFFFF, or the stub says so.
            IPCError: another subclass for any other code.
            TypeError: ``code`` is not an int, or ``data`` not a Parcel or None.
            ValueError: the proxy or ``data`` is closed, or ``code`` is negative.
        """
        check_request_code(code)
        request = Parcel() if data is None else _check_parcel(data, "data")
        reply = Parcel()
        try:
            proxy = self._enter()
            try:
                sent = request._enter()
                try:
                    rc = _c.OH_IPCRemoteProxy_SendRequest(
                        proxy,
                        code,
                        sent,
                        ffi.NULL if oneway else reply._ptr(),
                        _ONEWAY if oneway else ffi.NULL,
                    )
                finally:
                    request._leave()
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
            self._destroy(doomed)

    def __repr__(self) -> str:
        return f"<RemoteProxy {'closed' if self._closed else 'open'}>"

    # ---- the child process behind a proxy from connect() ----

    @property
    def child(self) -> ChildProcess | None:
        """The child process of a proxy from :func:`connect`; None for other proxies.

        None also on a device runtime without the host extensions (no start
        ids): there, :attr:`pid` and :func:`ohncp.kill_child_process` remain.
        """
        return self._child

    def _own_child(self) -> ChildProcess:
        if self._child is None:
            raise ValueError("this proxy has no child process of its own (not from connect())")
        return self._child

    def kill(self) -> None:
        """Kill the child process with SIGKILL; nothing if it has exited (see :attr:`child`)."""
        self._own_child().kill()

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the child process to exit; its return code (``-signal`` if killed)."""
        return self._own_child().wait(timeout)

    @property
    def returncode(self) -> int | None:
        """The child's return code once it has exited, else None."""
        return self._own_child().returncode

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        child = self._child
        if child is not None and child.returncode is None:
            child.kill()
            child.wait()

    def __del__(self) -> None:
        if getattr(self, "_closed", True):
            return
        self._closed = True
        cdata, self._cdata = self._cdata, None
        # Release first: the warning may be turned into an exception.
        with contextlib.suppress(Exception):  # late in interpreter shutdown
            if cdata is not None:
                self._destroy(cdata)
        warnings.warn("RemoteProxy was never closed", ResourceWarning, source=self, stacklevel=2)


def _check_parcel(parcel: object, what: str) -> Parcel:
    """Return ``parcel`` if it is a :class:`Parcel`; else TypeError naming ``what``."""
    if not isinstance(parcel, Parcel):
        raise TypeError(f"{what} must be a Parcel, not {type(parcel).__name__}")
    return parcel


def check_request_code(code: object) -> int:
    """Check a request code's type and sign (the runtime checks its upper bound)."""
    code = int_arg(code, "code")
    if code < 0:
        raise ValueError(f"code must be 1..0xFFFFFF, not {code}")
    return code


def connect_timeout(timeout: float | None, waiter: _events.ConnectWaiter) -> StartTimeoutError:
    """The error for the child of ``waiter`` that did not connect within ``timeout`` seconds.

    Its ``pid`` attribute is the child's pid where it had one (it took its
    start but did not connect), else None; the caller kills it.
    """
    with _starts_lock:
        start = _starts.get(waiter.token, _Start(0, None))
    pid = int(_c.ohncp_api_GetStartPid(start.start_id)) if start.start_id else 0
    who = f"the child (pid {pid})" if pid > 0 else "the child"
    error = StartTimeoutError(
        _c.NCP_ERR_TIMEOUT, f"{who} did not connect within {timeout} s; it is killed"
    )
    error.pid = pid if pid > 0 else None
    return error


def _await_connect(waiter: _events.ConnectWaiter, timeout: float | None) -> tuple[int, CData]:
    """Wait for the start result of the connect ``waiter``; return its (code, proxy).

    Event.wait sleeps in a lock acquire, which signal handlers (and
    KeyboardInterrupt) interrupt: no polling.

    Raises:
        StartTimeoutError: ``timeout`` passed first (the connect is given up).
        InternalError: ohncp's event queue lost reports, maybe this one.
    """
    if waiter.done.wait(timeout):
        result = waiter.take()
        if result is not None:
            return result[0], ffi.NULL if result[1] is None else result[1]
    raise connect_timeout(timeout, waiter)  # the caller gives the connect up


def give_up_connect(waiter: _events.ConnectWaiter) -> None:
    """Abandon a connect and kill its child; a result that came meanwhile is released here.

    The child must not run on (and hold one of the 50 IPC-mode places)
    when nobody holds its proxy: it is killed, connected yet or not.
    """
    start = _take_start(waiter.token)
    if start.start_id:
        _c.ohncp_api_KillChildProcessById(start.start_id, 0)

    def settled(code: int) -> None:
        if code != _c.NCP_NO_ERROR:  # a failed start has no exit to wait for
            _forget_exit(start)

    waiter.on_abandoned_result = settled
    if waiter.abandon():
        return
    with contextlib.suppress(Exception):  # a lost result has nothing to release
        result = waiter.take()
        if result is not None:
            settled(result[0])
            if result[1] is not None:
                _c.OH_IPCRemoteProxy_Destroy(result[1])


def begin_connect(
    lib: str | os.PathLike[str],
    isolation: Isolation,
    isolation_uid: bool,
    process_name: str | None,
) -> tuple[str, _events.ConnectWaiter]:
    """Ask the runtime for an IPC-mode child; return the library name and its waiter.

    Raises:
        NativeChildProcessError: the runtime refused the start at once.
        ValueError: an unknown ``isolation``, or a NUL byte in a string.
    """
    if not isinstance(lib, str | os.PathLike):
        raise TypeError(f"lib must be a str or a path, not {type(lib).__name__}")
    name = os.fspath(lib)
    c_lib = fs_bytes(name, "lib")
    mode = isolation_mode(isolation)
    uid = flag(isolation_uid, "isolation_uid")
    name_bytes = optional_name(process_name, "process_name")
    c_name = ffi.NULL if name_bytes is None else name_bytes
    errbuf = ffi.new("char[]", _ERRBUF_LEN)
    envp, _keep = environment()  # taken under the GIL
    events = _events.loop()
    # Registered before the start, so its result has a waiter whenever it comes.
    waiter = events.new_connect()
    # The child's exit, too, may come before the call returns.
    mark = events.begin_start()
    rc = _c.NCP_ERR_INTERNAL
    try:
        rc = _c.shim_connect_begin(
            c_lib, mode, int(uid), c_name, envp, waiter.token, errbuf, _ERRBUF_LEN
        )
    finally:
        start_id = int(_c.ohncp_api_GetLastStartId()) if rc == _c.NCP_NO_ERROR else 0
        exits = events.end_start(mark, start_id or None)
    if rc != _c.NCP_NO_ERROR:
        events.drop_connect(waiter)
    check(rc, ffi.string(errbuf).decode("utf-8", "replace"))
    _remember_start(waiter.token, _Start(start_id, exits))
    return name, waiter


class _Start(NamedTuple):
    """What the runtime says of a connect's start: its id and its child's exit."""

    start_id: int  # OH_Ohncp_GetLastStartId, read on the starting thread; 0 on a device
    exits: _events.ExitWaiter | None  # None where there is no start id


# The start of each connect under way, by its waiter's token, newest last: a
# failure's reason, a given-up child's kill and a proxy's child handle go by
# it. Only the last _STARTS_KEPT stay (each connect takes its own out).
_STARTS_KEPT = 256
_starts: dict[int, _Start] = {}
_starts_lock = threading.Lock()


def _remember_start(token: int, start: _Start) -> None:
    with _starts_lock:
        _starts[token] = start
        while len(_starts) > _STARTS_KEPT:
            del _starts[next(iter(_starts))]


def _take_start(token: int) -> _Start:
    with _starts_lock:
        return _starts.pop(token, _Start(0, None))


def _adopt_child(proxy: RemoteProxy, token: int, name: str) -> RemoteProxy:
    """Give the proxy of a finished connect its child's handle."""
    start = _take_start(token)
    proxy._child = _ipc_child(proxy.pid, start, name)
    return proxy


def _ipc_child(pid: int, start: _Start, name: str) -> ChildProcess | None:
    # ChildProcess is defined in the package's __init__, which imports this
    # module before it: look it up at the call.
    from . import ChildProcess  # noqa: PLC0415

    if start.exits is None:
        return None
    child = ChildProcess(pid, start.start_id, start.exits, name)
    child._quiet = True  # its proxy decides its lifetime: no warning if never waited
    return child


def _forget_exit(start: _Start) -> None:
    if start.exits is not None:
        _events.loop().drop_exit(start.start_id, start.exits)


def start_error(token: int, name: str, code: int) -> NativeChildProcessError:
    """The exception for the failed start of connect ``token``, with the runtime's reason."""
    start = _take_start(token)
    _forget_exit(start)
    start_id = start.start_id
    detail = f"IPC-mode start of {name!r}"
    buf = ffi.new("char[]", 256)
    if start_id and _c.ohncp_api_GetStartErrorMessage(start_id, buf, len(buf)) == 0:
        detail += ": " + ffi.string(buf).decode("utf-8", "replace")
    return error_for_code(code, detail)


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
        TypeError: an argument of the wrong type (named in the message).
        ValueError: an unknown ``isolation``, a NUL byte in a string, or a
            negative ``timeout``.
    """
    timeout = timeout_seconds(timeout)
    name, waiter = begin_connect(lib, isolation, isolation_uid, process_name)
    try:
        code, proxy = _await_connect(waiter, timeout)
    except BaseException:
        # A proxy that still comes is destroyed by the event thread.
        give_up_connect(waiter)
        raise
    if code != _c.NCP_NO_ERROR:
        raise start_error(waiter.token, name, code)
    return _adopt_child(RemoteProxy(proxy), waiter.token, name)


# ---- Python stubs -----------------------------------------------------------

StubHandler = Callable[[int, "Parcel", "Parcel"], "int | None"]
"""``handler(code, data, reply)``: read ``data``, write ``reply``, return 0/None or a code."""

# token -> handler, for as long as C holds the stub (until SHIM_EV_STUB_GONE).
_stub_handlers: dict[int, StubHandler] = {}
_stub_lock = threading.Lock()


_C_INT_MIN, _C_INT_MAX = -(2**31), 2**31 - 1


def _stub_status(value: object, handler: StubHandler) -> int:
    """The C int a handler's result (or its IPCError's code) becomes.

    A value that is no int or does not fit a C int is no code at all:
    OH_IPC_INVALID_USER_ERROR_CODE, never a truncation (cffi would turn
    2**32 into 0, success). An ``__int__`` that raises something else is
    reported as the handler's other exceptions are.
    """
    try:
        status: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return int(_c.OH_IPC_INVALID_USER_ERROR_CODE)
    except Exception as exc:
        _events.report_unraisable(exc, "Exception ignored in ohncp stub handler", handler)
        return int(_c.OH_IPC_INVALID_USER_ERROR_CODE)
    if not _C_INT_MIN <= status <= _C_INT_MAX:
        return int(_c.OH_IPC_INVALID_USER_ERROR_CODE)
    return status


# error=: should anything escape below, cffi returns this, not 0 (success).
@ffi.def_extern(error=int(_c.OH_IPC_INNER_ERROR))
def _ohncp_stub_request(code: int, data: CData, reply: CData, token: int) -> int:
    """A request for a Python stub, on one of the runtime's IPC threads."""
    with _stub_lock:
        handler = _stub_handlers.get(token)
    if handler is None:
        return int(_c.OH_IPC_INNER_ERROR)
    request = Parcel._borrow(data, readonly=True)
    answer = Parcel._borrow(reply, readonly=False)
    try:
        result = handler(code, request, answer)
    except IPCError as exc:
        return _stub_status(exc.code, handler)
    except BaseException as exc:
        _events.report_unraisable(exc, "Exception ignored in ohncp stub handler", handler)
        return int(_c.OH_IPC_INNER_ERROR)
    finally:
        request.close()
        answer.close()
    if result is None:
        return 0
    return _stub_status(result, handler)


class RemoteStub(_Closing):
    """An IPC stub served by Python, so a child can call back into this process.

    Write it into a parcel (:meth:`Parcel.write_remote_object`) that goes to
    a child; the child reads a proxy and sends requests to it. Each request
    runs ``handler(code, data, reply)`` on one of the runtime's IPC threads
    (several may run at once): read the request from ``data``, write the
    answer into ``reply`` (both valid only during the call), and return 0
    or ``None`` for success, or an error code: ``OH_IPC_*`` codes and user
    codes 1909000-1909999 reach the caller as they are; any other value,
    one that does not fit a C int (``2**31``) included, reaches it as
    ``OH_IPC_INVALID_USER_ERROR_CODE``. Raising :class:`IPCError` returns
    its code (checked the same way); any other exception is reported
    through :data:`sys.unraisablehook` and the caller gets
    ``OH_IPC_INNER_ERROR``.

    :meth:`close` drops this process's reference; the stub lives on while a
    child holds a proxy to it.

    Args:
        descriptor: the interface name proxies report.
        handler: the function that serves requests.
    """

    def __init__(self, descriptor: str, handler: StubHandler) -> None:
        if not isinstance(descriptor, str):
            raise TypeError(f"descriptor must be str, not {type(descriptor).__name__}")
        if not callable(handler):
            raise TypeError(f"handler must be callable, not {type(handler).__name__}")
        self.descriptor = descriptor
        self.handler = handler
        self._token = _events.new_token()
        with _stub_lock:
            _stub_handlers[self._token] = handler
        _events.watch_token(_c.SHIM_EV_STUB_GONE, self._token, _forget_handler(self._token))
        stub = _c.shim_stub_create(utf8_bytes(descriptor, "descriptor"), self._token)
        if stub == ffi.NULL:
            with _stub_lock:
                _stub_handlers.pop(self._token, None)
            _events.unwatch_token(_c.SHIM_EV_STUB_GONE, self._token)
            raise ipc_error_for_code(_c.OH_IPC_CHECK_PARAM_ERROR, "OH_IPCRemoteStub_Create failed")
        self._cdata: CData | None = stub

    def _ptr(self) -> CData:
        if self._cdata is None:
            raise ValueError("operation on a closed RemoteStub")
        return self._cdata

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._cdata is None

    def close(self) -> None:
        """Drop this process's reference (``OH_IPCRemoteStub_Destroy``); again: nothing."""
        cdata, self._cdata = self._cdata, None
        if cdata is not None:
            _c.OH_IPCRemoteStub_Destroy(cdata)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # late in interpreter shutdown
            self.close()

    def __repr__(self) -> str:
        state = "closed" if self._cdata is None else "open"
        return f"<RemoteStub {self.descriptor!r} {state}>"


def _forget_handler(token: int) -> Callable[[], None]:
    def forget() -> None:
        with _stub_lock:
            _stub_handlers.pop(token, None)

    return forget


def stub_handler_held(token: int) -> bool:
    """Whether C still holds the Python stub with ``token`` (for leak tests)."""
    with _stub_lock:
        return token in _stub_handlers


# ---- connect without waiting ------------------------------------------------


def connect_async(
    lib: str | os.PathLike[str],
    *,
    timeout: float | None = 10.0,
    isolation: Isolation = "normal",
    isolation_uid: bool = False,
    process_name: str | None = None,
) -> Future[RemoteProxy]:
    """Start an IPC-mode child like :func:`connect`, without waiting for it.

    Returns a :class:`concurrent.futures.Future` that gets the proxy, or
    the exception :func:`connect` would raise (also for arguments the
    runtime refuses at once). No thread waits for it: the start callback
    wakes ohncp's event thread, which completes the future. Cancelling the
    future before it completes gives up on the child (its proxy, if it
    still comes, is released, and the child ends when it sees that).
    """
    future: Future[RemoteProxy] = Future()
    try:
        name, waiter = begin_connect(lib, isolation, isolation_uid, process_name)
    except Exception as exc:
        future.set_exception(exc)
        return future
    _PendingConnect(waiter, name, timeout, future).arm()
    return future


class _PendingConnect:
    """One connect_async: completes its future from the waiter, on the event thread."""

    def __init__(
        self,
        waiter: _events.ConnectWaiter,
        name: str,
        timeout: float | None,
        future: Future[RemoteProxy],
    ) -> None:
        self.waiter = waiter
        self.name = name
        self.timeout = timeout
        self.future = future
        self.timer = 0

    def arm(self) -> None:
        if self.timeout is not None:
            self.timer = _events.loop().call_later(self.timeout, self.expire)
        self.future.add_done_callback(self.on_done)
        self.waiter.add_callback(self.collect)  # at once if it came already

    def collect(self) -> None:
        try:
            result = self.waiter.take()
        except Exception as exc:  # the result was lost
            self._complete(None, exc)
            return
        if result is None:  # given up (timed out, cancelled)
            return
        if self.timer:
            _events.loop().cancel_timer(self.timer)
        code, proxy = result
        if code != _c.NCP_NO_ERROR or proxy is None:
            self._complete(None, start_error(self.waiter.token, self.name, code))
            return
        connected = _adopt_child(RemoteProxy(proxy), self.waiter.token, self.name)
        if not self._complete(connected, None):
            connected.close()  # cancelled meanwhile

    def expire(self) -> None:
        error = connect_timeout(self.timeout, self.waiter)
        give_up_connect(self.waiter)  # on the event thread, as collect: one of them runs
        self._complete(None, error)

    def on_done(self, future: Future[RemoteProxy]) -> None:
        if future.cancelled():
            give_up_connect(self.waiter)

    def _complete(self, result: RemoteProxy | None, exc: BaseException | None) -> bool:
        if not self.future.set_running_or_notify_cancel():
            return False
        if exc is not None:
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)  # type: ignore[arg-type]
        return True
