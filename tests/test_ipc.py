"""IPC mode from Python: connect, parcels, requests, reply codes (behaviour.md §4, §6).

The child is tests/children/ipc_child.c; its request codes are below. Every
test ends with no connect slot in use and no native child left alive: each
proxy is closed, and a child exits when told to (EXIT) or when its proxy
is released.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import pickle
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp
import ohncp.aio
from ohncp import _errors, _ipc
from ohncp._ohncp import ffi, lib
from ohncp.demo import CALC_EXIT, CALC_LIBRARY

from helpers import eventually, is_running, native_children, read_until_eof, run_python

# Request codes of ipc_child.c.
ADD, ECHO, EXIT, RETURN, ABORT, FD, PID = range(1, 8)

IpcLib = Callable[[str], str]
Pipe = Callable[[], tuple[int, int]]

# The SDK's values (behaviour.md §2.2), pinned here; the binding itself
# takes them from the compiler.
SDK_IPC_CODES = {
    "OH_IPC_SUCCESS": 0,
    "OH_IPC_ERROR_CODE_BASE": 1901000,
    "OH_IPC_CHECK_PARAM_ERROR": 1901000,
    "OH_IPC_PARCEL_WRITE_ERROR": 1901001,
    "OH_IPC_PARCEL_READ_ERROR": 1901002,
    "OH_IPC_MEM_ALLOCATOR_ERROR": 1901003,
    "OH_IPC_CODE_OUT_OF_RANGE": 1901004,
    "OH_IPC_DEAD_REMOTE_OBJECT": 1901005,
    "OH_IPC_INVALID_USER_ERROR_CODE": 1901006,
    "OH_IPC_INNER_ERROR": 1901007,
    "OH_IPC_ERROR_CODE_MAX": 1902000,
    "OH_IPC_USER_ERROR_CODE_MIN": 1909000,
    "OH_IPC_USER_ERROR_CODE_MAX": 1909999,
    "OH_IPC_REQUEST_MODE_SYNC": 0,
    "OH_IPC_REQUEST_MODE_ASYNC": 1,
}

IPC_EXCEPTIONS = [
    ("OH_IPC_CHECK_PARAM_ERROR", ohncp.CheckParamError, ValueError),
    ("OH_IPC_PARCEL_WRITE_ERROR", ohncp.ParcelWriteError, None),
    ("OH_IPC_PARCEL_READ_ERROR", ohncp.ParcelReadError, None),
    ("OH_IPC_MEM_ALLOCATOR_ERROR", ohncp.MemAllocatorError, None),
    ("OH_IPC_CODE_OUT_OF_RANGE", ohncp.CodeOutOfRangeError, ValueError),
    ("OH_IPC_DEAD_REMOTE_OBJECT", ohncp.DeadRemoteObjectError, None),
    ("OH_IPC_INVALID_USER_ERROR_CODE", ohncp.InvalidUserErrorCodeError, None),
    ("OH_IPC_INNER_ERROR", ohncp.IPCInnerError, None),
]


@pytest.fixture(autouse=True)
def _nothing_left_behind() -> Iterator[None]:
    """Fail a test that leaves a connect slot in use or a native child alive."""
    yield
    assert eventually(lambda: lib.shim_connect_busy() == 0), "a connect slot is still in use"
    assert eventually(lambda: not native_children()), f"children left: {native_children()}"


def finish(proxy: ohncp.RemoteProxy) -> None:
    """Tell the child to exit (if it still can) and close the proxy."""
    try:
        if not proxy.closed and not proxy.is_dead:
            proxy.send_request(EXIT)
    except ohncp.DeadRemoteObjectError:
        pass
    finally:
        proxy.close()


@pytest.fixture
def proxy(ipc_lib: IpcLib) -> Iterator[ohncp.RemoteProxy]:
    """A proxy to a fresh ipc_child, told to exit and closed at the end."""
    connected = ohncp.connect(ipc_lib("ipc_child"))
    try:
        yield connected
    finally:
        finish(connected)


def add(proxy: ohncp.RemoteProxy, a: int, b: int) -> int:
    with proxy.send_request(ADD, ohncp.Parcel().write_int32(a).write_int32(b)) as reply:
        return reply.read_int32()


def returned(proxy: ohncp.RemoteProxy, rc: int) -> ohncp.IPCError | None:
    """Have the stub return ``rc``; return the exception raised, if any."""
    try:
        proxy.send_request(RETURN, ohncp.Parcel().write_int32(rc)).close()
    except ohncp.IPCError as exc:
        return exc
    return None


def connect_error(path: str, **kwargs: object) -> ohncp.NativeChildProcessError:
    """Connect, expecting a failure; return the exception."""
    try:
        proxy = ohncp.connect(path, **kwargs)  # type: ignore[arg-type]
    except ohncp.NativeChildProcessError as exc:
        return exc
    finish(proxy)
    pytest.fail(f"connect({path!r}) succeeded")


# ---- constants and exceptions ------------------------------------------------


@pytest.mark.parametrize(("name", "value"), sorted(SDK_IPC_CODES.items()))
def test_constant_matches_sdk(name: str, value: int) -> None:
    assert getattr(lib, name) == value


def test_message_option_layout() -> None:
    # #pragma pack(4): 16 bytes on LP64, 12 on ILP32 (behaviour.md §2.2).
    assert ffi.sizeof("OH_IPC_MessageOption") == (16 if ffi.sizeof("void *") == 8 else 12)


@pytest.mark.parametrize(("name", "cls", "builtin"), IPC_EXCEPTIONS)
def test_ipc_exception_for_code(name: str, cls: type, builtin: type | None) -> None:
    code = getattr(lib, name)
    exc = _errors.ipc_error_for_code(code, "doing something")
    assert type(exc) is cls
    assert isinstance(exc, ohncp.IPCError)
    assert not isinstance(exc, ohncp.NativeChildProcessError)
    if builtin is not None:
        assert isinstance(exc, builtin)
    assert (exc.code, exc.name, exc.detail) == (code, name, "doing something")
    assert str(exc) == f"{name} ({code}): doing something"
    again = pickle.loads(pickle.dumps(exc))
    assert (type(again), again.code, again.detail) == (cls, code, "doing something")


@pytest.mark.parametrize(
    "code", [lib.OH_IPC_USER_ERROR_CODE_MIN, 1909005, lib.OH_IPC_USER_ERROR_CODE_MAX]
)
def test_user_codes_are_remote_errors(code: int) -> None:
    exc = _errors.ipc_error_for_code(code)
    assert type(exc) is ohncp.RemoteError
    assert exc.code == code
    assert exc.name == "OH_IPC_USER_ERROR_CODE"


def test_unknown_ipc_code_is_the_base_class() -> None:
    exc = _errors.ipc_error_for_code(12345)
    assert type(exc) is ohncp.IPCError
    assert exc.code == 12345


def test_check_ipc() -> None:
    _errors.check_ipc(lib.OH_IPC_SUCCESS)
    with pytest.raises(ohncp.ParcelReadError):
        _errors.check_ipc(lib.OH_IPC_PARCEL_READ_ERROR)


# ---- parcels, locally ------------------------------------------------------------


def test_writers_chain_and_len_counts_padding() -> None:
    with ohncp.Parcel() as parcel:
        assert len(parcel) == 0
        assert parcel.write_int8(1) is parcel
        assert len(parcel) == 4  # 8- and 16-bit values take 4 bytes
        parcel.write_int16(2).write_int32(3)
        assert len(parcel) == 12
        parcel.write_int64(4).write_double(0.5)
        assert len(parcel) == 28
        parcel.write_string("abc")  # "abc\0"
        assert len(parcel) == 32
        parcel.write_bytes(b"12345")  # padded to 8
        assert len(parcel) == 40
        assert repr(parcel) == "<Parcel 40 bytes>"


def test_local_round_trip_and_reading_past_the_end() -> None:
    with ohncp.Parcel() as parcel:
        parcel.write_int32(-7).write_string("ünï").write_bytes(b"\x00\xff")
        assert parcel.read_int32() == -7
        assert parcel.read_string() == "ünï"
        assert parcel.read_bytes(2) == b"\x00\xff"
        with pytest.raises(ohncp.ParcelReadError) as info:
            parcel.read_int32()
        assert info.value.code == lib.OH_IPC_PARCEL_READ_ERROR
        with pytest.raises(ohncp.ParcelReadError):
            parcel.read_string()
        with pytest.raises(ohncp.ParcelReadError):
            parcel.read_bytes(1)
        with pytest.raises(ohncp.ParcelReadError):
            parcel.read_interface_token()


def test_values_that_do_not_fit_are_refused_by_the_conversion() -> None:
    with ohncp.Parcel() as parcel:
        with pytest.raises(OverflowError):
            parcel.write_int8(128)
        with pytest.raises(OverflowError):
            parcel.write_uint32(-1)
        with pytest.raises(ValueError, match="NUL"):
            parcel.write_string("a\0b")
        assert len(parcel) == 0


def test_parcel_size_limit() -> None:
    with ohncp.Parcel() as parcel:
        parcel.write_bytes(bytes(204800))
        with pytest.raises(ohncp.ParcelWriteError) as info:
            parcel.write_int8(1)
        assert info.value.code == lib.OH_IPC_PARCEL_WRITE_ERROR


def test_negative_read_size() -> None:
    with ohncp.Parcel() as parcel, pytest.raises(ohncp.ParcelReadError):
        parcel.write_int32(1).read_bytes(-1)


def test_closed_parcel() -> None:
    parcel = ohncp.Parcel().write_int32(1)
    parcel.close()
    parcel.close()  # again: nothing happens
    assert parcel.closed
    assert repr(parcel) == "<Parcel closed>"
    with pytest.raises(ValueError, match="closed"):
        parcel.write_int32(1)
    with pytest.raises(ValueError, match="closed"):
        len(parcel)


def test_closing_a_parcel_closes_its_fds(pipe: Pipe) -> None:
    r, w = pipe()
    parcel = ohncp.Parcel().write_fd(w)
    os.close(w)  # the parcel holds the only other write end
    parcel.close()
    assert read_until_eof(r) == b""


# ---- connect ---------------------------------------------------------------------


def test_connect_add_descriptor(proxy: ohncp.RemoteProxy) -> None:
    assert add(proxy, 2, 3) == 5
    assert add(proxy, -(2**31), -1) == 2**31 - 1  # wraps in the child
    assert proxy.descriptor == "ohncp.test.PyChild"
    assert not proxy.is_dead
    assert not proxy.closed
    assert repr(proxy) == "<RemoteProxy open>"


def test_connect_accepts_a_path(ipc_lib: IpcLib) -> None:
    with ohncp.connect(Path(ipc_lib("ipc_child")), process_name="py_ipc_child") as proxy:
        try:
            pid = proxy.send_request(PID).read_int32()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                assert f.read().rstrip(b"\0").endswith(b":py_ipc_child")
        finally:
            proxy.send_request(EXIT)


def test_echo_every_type(proxy: ohncp.RemoteProxy, pipe: Pipe) -> None:
    r, w = pipe()
    data = (
        ohncp.Parcel()
        .write_int8(-128)
        .write_int16(-32768)
        .write_int32(-(2**31))
        .write_int64(-(2**63))
        .write_uint8(255)
        .write_uint16(65535)
        .write_uint32(2**32 - 1)
        .write_uint64(2**64 - 1)
        .write_float(1.5)
        .write_double(-2.25e300)
        .write_string("wire ✓")
        .write_string(b"\xff raw")
        .write_string("")
        .write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
        .write_bytes(bytearray(b"ab"))
        .write_bytes(b"")
        .write_interface_token("ohncp.test.Token")
        .write_fd(w)
        .write_float(math.inf)
        .write_double(math.nan)
    )
    os.close(w)
    with data, proxy.send_request(ECHO, data) as reply:
        assert len(reply) == len(data)
        assert reply.read_int8() == -128
        assert reply.read_int16() == -32768
        assert reply.read_int32() == -(2**31)
        assert reply.read_int64() == -(2**63)
        assert reply.read_uint8() == 255
        assert reply.read_uint16() == 65535
        assert reply.read_uint32() == 2**32 - 1
        assert reply.read_uint64() == 2**64 - 1
        assert reply.read_float() == 1.5
        assert reply.read_double() == -2.25e300
        assert reply.read_string() == "wire ✓"
        assert reply.read_string().encode("utf-8", "surrogateescape") == b"\xff raw"
        assert reply.read_string() == ""
        assert reply.read_bytes(7) == b"\x01\x02\x03\x04\x05\x06\x07"
        assert reply.read_bytes(2) == b"ab"
        assert reply.read_bytes(0) == b""
        assert reply.read_interface_token() == "ohncp.test.Token"
        fd = reply.read_fd()
        assert reply.read_float() == math.inf
        assert math.isnan(reply.read_double())
        with pytest.raises(ohncp.ParcelReadError):
            reply.read_int8()
    # The fd that came back is a new one for the same pipe, and ours.
    try:
        assert fd not in (r, w)
        os.write(fd, b"back")
    finally:
        os.close(fd)
    assert read_until_eof(r) == b"back"


def test_fd_passing(proxy: ohncp.RemoteProxy, pipe: Pipe) -> None:
    r, w = pipe()
    with open(os.dup(w), "wb", buffering=0) as w_file:  # an object with fileno()
        with ohncp.Parcel().write_fd(w_file) as data:
            proxy.send_request(FD, data).close()
        os.fstat(w_file.fileno())  # the writer keeps its fd
    os.close(w)
    assert read_until_eof(r) == b"hi"


def test_empty_request(proxy: ohncp.RemoteProxy) -> None:
    with proxy.send_request(ECHO) as reply:
        assert len(reply) == 0


def test_reply_outlives_the_proxy(ipc_lib: IpcLib) -> None:
    connected = ohncp.connect(ipc_lib("ipc_child"))
    try:
        reply = connected.send_request(ECHO, ohncp.Parcel().write_string("kept"))
    finally:
        finish(connected)
    assert reply.read_string() == "kept"
    reply.close()


# ---- reply codes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "code", [lib.OH_IPC_USER_ERROR_CODE_MIN, 1909005, lib.OH_IPC_USER_ERROR_CODE_MAX]
)
def test_remote_error_keeps_the_exact_code(proxy: ohncp.RemoteProxy, code: int) -> None:
    exc = returned(proxy, code)
    assert type(exc) is ohncp.RemoteError
    assert exc.code == code


@pytest.mark.parametrize(("name", "cls", "builtin"), IPC_EXCEPTIONS)
def test_ipc_code_from_the_stub(
    proxy: ohncp.RemoteProxy, name: str, cls: type, builtin: type | None
) -> None:
    exc = returned(proxy, getattr(lib, name))
    assert type(exc) is cls
    assert exc.code == getattr(lib, name)


@pytest.mark.parametrize("rc", [12345, -1, 1908999, 1910000])
def test_invalid_user_error_code(proxy: ohncp.RemoteProxy, rc: int) -> None:
    exc = returned(proxy, rc)
    assert type(exc) is ohncp.InvalidUserErrorCodeError
    assert exc.code == lib.OH_IPC_INVALID_USER_ERROR_CODE == 1901006


def test_zero_is_success(proxy: ohncp.RemoteProxy) -> None:
    assert returned(proxy, 0) is None


@pytest.mark.parametrize("code", [0, 0x1000000])
def test_code_out_of_range(proxy: ohncp.RemoteProxy, code: int) -> None:
    with pytest.raises(ohncp.CodeOutOfRangeError) as info:
        proxy.send_request(code)
    assert info.value.code == lib.OH_IPC_CODE_OUT_OF_RANGE == 1901004
    assert isinstance(info.value, ValueError)


def test_highest_code_reaches_the_stub(proxy: ohncp.RemoteProxy) -> None:
    # ipc_child answers codes it does not know with CODE_OUT_OF_RANGE itself.
    with pytest.raises(ohncp.CodeOutOfRangeError):
        proxy.send_request(0xFFFFFF)
    assert add(proxy, 1, 1) == 2


CALLBACK = 8  # ipc_child: calls the proxy it is given with request 42 and an int32


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class _BadInt:
    def __int__(self) -> int:
        raise RuntimeError("no int here")


def test_stub_results_that_fit_no_c_int_are_errors(
    proxy: ohncp.RemoteProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # cffi turned a result that fits no C int into 0: the caller saw success.
    reported: list[object] = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    results: list[object] = [2**31, 2**40, -(2**31) - 1, 2**32, _BadInt()]

    def handler(code: int, data: ohncp.Parcel, reply: ohncp.Parcel) -> Any:
        index = data.read_int32()
        if index == len(results):
            raise ohncp.IPCError(2**40, "a code no C int holds")
        if index == len(results) + 1:
            return 2**31 - 1  # fits: passes as any value that is no code does
        return results[index]

    with ohncp.RemoteStub("py.big", handler) as stub:
        for index in range(len(results) + 2):
            request = ohncp.Parcel().write_remote_object(stub).write_int32(index)
            with pytest.raises(ohncp.InvalidUserErrorCodeError):
                proxy.send_request(CALLBACK, request)
            request.close()
    assert len(reported) == 1  # the RuntimeError of _BadInt.__int__
    assert add(proxy, 2, 3) == 5


def test_closing_a_parcel_while_another_thread_sends_it() -> None:
    # The request goes to a stub of this process (a local proxy), whose
    # handler runs inside send_request: it has another thread close the
    # parcel being sent, then looks at the fd the parcel holds. Freed under
    # the send, the parcel would have closed it (and the C side read freed
    # memory); it must stay until send_request returns.
    def open_fds() -> set[int]:
        return {fd for fd in range(1024) if _is_open(fd)}

    r, w = os.pipe()
    fds_before = open_fds()
    data = ohncp.Parcel().write_fd(r).write_int32(7)
    held = open_fds() - fds_before
    assert len(held) == 1  # the parcel's own copy of r
    parcel_fd = held.pop()
    seen: list[object] = []

    def handler(code: int, request: ohncp.Parcel, reply: ohncp.Parcel) -> None:
        closer = threading.Thread(target=data.close)
        closer.start()
        closer.join()
        seen.append(data.closed)
        os.fstat(parcel_fd)  # still open: OSError(EBADF) once freed
        seen.append(request.read_fd() >= 0)
        seen.append(request.read_int32())

    try:
        with ohncp.RemoteStub("py.local", handler) as stub:
            carrier = ohncp.Parcel().write_remote_object(stub)
            with carrier.read_remote_object() as local:
                local.send_request(5, data).close()
            carrier.close()
        assert seen == [True, True, 7]
        with pytest.raises(OSError, match="Bad file descriptor"):
            os.fstat(parcel_fd)  # freed once the send was done
        with pytest.raises(ValueError, match="closed Parcel"):
            data.read_int32()
    finally:
        os.close(r)
        os.close(w)


def test_dead_child(proxy: ohncp.RemoteProxy) -> None:
    outcome: list[BaseException | None] = []

    def crash() -> None:
        try:
            proxy.send_request(ABORT)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)
        else:
            outcome.append(None)

    worker = threading.Thread(target=crash)
    worker.start()
    worker.join(timeout=15)
    assert not worker.is_alive(), "a request to a crashing child hangs"
    assert type(outcome[0]) is ohncp.DeadRemoteObjectError
    assert outcome[0].code == lib.OH_IPC_DEAD_REMOTE_OBJECT
    assert eventually(lambda: proxy.is_dead)
    with pytest.raises(ohncp.DeadRemoteObjectError):
        add(proxy, 1, 2)
    with pytest.raises(ohncp.DeadRemoteObjectError):
        _ = proxy.descriptor


def test_oneway(proxy: ohncp.RemoteProxy) -> None:
    with proxy.send_request(ADD, ohncp.Parcel().write_int32(1).write_int32(2), oneway=True) as r:
        assert len(r) == 0
    # A oneway EXIT still arrives: the child goes.
    proxy.send_request(EXIT, oneway=True).close()
    assert eventually(lambda: proxy.is_dead)


def test_eight_threads_share_a_proxy(proxy: ohncp.RemoteProxy) -> None:
    errors: list[str] = []

    def hammer(worker: int) -> None:
        for i in range(300):
            got = add(proxy, worker * 100000, i)
            if got != worker * 100000 + i:
                errors.append(f"worker {worker}, request {i}: got {got}")

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_parallel_connects_get_their_own_children(ipc_lib: IpcLib) -> None:
    # Each connect waits on its own trampoline and slot in the shim; 50 is
    # the runtime's limit of live IPC-mode children (behaviour.md §4).
    proxies: list[ohncp.RemoteProxy | None] = [None] * 50
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            proxies[n] = ohncp.connect(ipc_lib("ipc_child"))
        except BaseException as exc:  # handed to the test thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(50)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert failures == []
        live = [p for p in proxies if p is not None]
        pids = {p.send_request(PID).read_int32() for p in live}
        assert len(pids) == 50
        assert pids <= native_children()
        with pytest.raises(ohncp.MaxChildProcessesReachedError) as info:
            ohncp.connect(ipc_lib("ipc_child"))
        assert info.value.code == lib.NCP_ERR_MAX_CHILD_PROCESSES_REACHED
        assert [add(p, n, 1) for n, p in enumerate(live)] == list(range(1, 51))
    finally:
        for thread in threads:
            thread.join(timeout=60)
        for p in proxies:
            if p is not None:
                finish(p)


# ---- the proxy handle ----------------------------------------------------------------


def test_close_is_idempotent_and_final(ipc_lib: IpcLib) -> None:
    connected = ohncp.connect(ipc_lib("ipc_child"))
    connected.send_request(EXIT)
    connected.close()
    connected.close()
    assert connected.closed
    assert repr(connected) == "<RemoteProxy closed>"
    with pytest.raises(ValueError, match="closed"):
        connected.send_request(ADD)
    with pytest.raises(ValueError, match="closed"):
        _ = connected.is_dead
    with pytest.raises(ValueError, match="closed"):
        _ = connected.descriptor


def test_close_while_other_threads_send(ipc_lib: IpcLib) -> None:
    connected = ohncp.connect(ipc_lib("ipc_child"))
    pid = connected.send_request(PID).read_int32()
    sent = [0] * 4
    ended: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            while True:
                assert add(connected, worker, 1) == worker + 1
                sent[worker] += 1
        except BaseException as exc:  # handed to the test thread
            ended.append(exc)

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    assert eventually(lambda: min(sent) > 10)
    connected.close()  # the requests in flight finish; the last one out destroys it
    for thread in threads:
        thread.join(timeout=30)
    assert len(ended) == 4
    assert all(type(exc) is ValueError and "closed" in str(exc) for exc in ended), ended
    assert eventually(lambda: pid not in native_children())


def test_releasing_the_proxy_ends_this_child(ipc_lib: IpcLib) -> None:
    # ipc_child's MainProc also returns when its stub is released.
    with ohncp.connect(ipc_lib("ipc_child")) as connected:
        pid = connected.send_request(PID).read_int32()
    assert eventually(lambda: pid not in native_children())


def test_connect_cycles_leak_no_fds(ipc_lib: IpcLib) -> None:
    def cycle() -> None:
        with ohncp.connect(ipc_lib("ipc_child")) as connected:
            assert add(connected, 1, 2) == 3
            connected.send_request(EXIT)

    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    cycle()  # the first use of a slot makes its eventfd, kept for later uses
    before = open_fds()
    for _ in range(30):
        cycle()
    # At most: the runtime may still be closing the last cycles' channels,
    # or have been closing earlier ones when `before` was counted.
    assert eventually(lambda: open_fds() <= before), (before, open_fds())


def test_dropped_proxy_warns(ipc_lib: IpcLib) -> None:
    connected = ohncp.connect(ipc_lib("ipc_child"))
    pid = connected.send_request(PID).read_int32()
    with pytest.warns(ResourceWarning, match="never closed"):
        del connected
    # Released all the same: the child, told so, exits.
    assert eventually(lambda: pid not in native_children())


def test_closed_proxy_is_dropped_silently(ipc_lib: IpcLib) -> None:
    connected = ohncp.connect(ipc_lib("ipc_child"))
    finish(connected)
    del connected
    gc.collect()


def test_closed_data_parcel(proxy: ohncp.RemoteProxy) -> None:
    data = ohncp.Parcel()
    data.close()
    with pytest.raises(ValueError, match="closed"):
        proxy.send_request(ECHO, data)


# ---- connect failures --------------------------------------------------------------


def test_missing_library(tmp_path: Path) -> None:
    path = str(tmp_path / "libnot_there.so")
    exc = connect_error(path)
    assert type(exc) is ohncp.LibLoadingFailedError
    assert exc.code == lib.NCP_ERR_LIB_LOADING_FAILED
    # the dlopen error travels from the child to the exception
    assert f"cannot load {path}" in str(exc)
    assert "No such file or directory" in str(exc)


def test_missing_main_proc(ipc_lib: IpcLib) -> None:
    exc = connect_error(ipc_lib("ipc_no_main"))
    assert type(exc) is ohncp.LibLoadingFailedError
    assert exc.code == lib.NCP_ERR_LIB_LOADING_FAILED
    assert "no symbol NativeChildProcess_MainProc" in str(exc)


def test_args_mode_library_has_no_on_connect(ipc_lib: IpcLib) -> None:
    exc = connect_error(ipc_lib("basic"))
    assert type(exc) is ohncp.LibLoadingFailedError
    assert "no symbol NativeChildProcess_OnConnect" in str(exc)


def test_on_connect_returns_null(ipc_lib: IpcLib) -> None:
    exc = connect_error(ipc_lib("ipc_no_stub"))
    assert type(exc) is ohncp.ConnectionFailedError
    assert exc.code == lib.NCP_ERR_CONNECTION_FAILED
    assert "NativeChildProcess_OnConnect of" in str(exc)
    assert "returned NULL" in str(exc)


def test_on_connect_crashes(ipc_lib: IpcLib) -> None:
    exc = connect_error(ipc_lib("ipc_crash"))
    assert type(exc) is ohncp.ConnectionFailedError
    assert "NativeChildProcess_OnConnect of" in str(exc)
    assert "crashed: SIGSEGV" in str(exc)


def test_connect_async_failure_says_why(ipc_lib: IpcLib) -> None:
    future = ohncp.connect_async(ipc_lib("ipc_no_stub"))
    exc = future.exception(timeout=30)
    assert type(exc) is ohncp.ConnectionFailedError
    assert "returned NULL" in str(exc)


def test_runtime_start_timeout(ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHNCP_START_TIMEOUT_MS", "300")
    started = time.monotonic()
    exc = connect_error(ipc_lib("ipc_hang"))
    assert type(exc) is ohncp.StartTimeoutError
    assert isinstance(exc, TimeoutError)
    assert exc.code == lib.NCP_ERR_TIMEOUT
    assert time.monotonic() - started < 5


def test_python_timeout_abandons_the_connect(
    ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OHNCP_START_TIMEOUT_MS", "1000")
    started = time.monotonic()
    exc = connect_error(ipc_lib("ipc_hang"), timeout=0.1)
    assert type(exc) is ohncp.StartTimeoutError
    assert exc.code == lib.NCP_ERR_TIMEOUT
    assert time.monotonic() - started < 0.9
    assert lib.shim_connect_busy() == 1  # until the runtime's callback comes
    # The autouse fixture then sees the slot free and the child killed.


def test_proxy_arriving_after_a_python_timeout_is_released(
    ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OHNCP_TEST_CONNECT_DELAY_MS", "300")
    exc = connect_error(ipc_lib("ipc_child"), timeout=0.05)
    assert type(exc) is ohncp.StartTimeoutError
    # The shim destroys the late proxy; the child, released, exits. The
    # autouse fixture checks both.
    assert eventually(lambda: lib.shim_connect_busy() == 0)


@pytest.mark.parametrize("name", ["", "../libx.so"])
def test_invalid_library_name(name: str) -> None:
    exc = connect_error(name)
    assert type(exc) is ohncp.InvalidParamError
    assert exc.code == lib.NCP_ERR_INVALID_PARAM == 401
    assert exc.detail != ""  # the runtime's reason


def test_invalid_process_name(ipc_lib: IpcLib) -> None:
    exc = connect_error(ipc_lib("ipc_child"), process_name="no spaces")
    assert type(exc) is ohncp.InvalidParamError


def test_unknown_isolation(ipc_lib: IpcLib) -> None:
    with pytest.raises(ValueError, match="isolation"):
        ohncp.connect(ipc_lib("ipc_child"), isolation="sandboxed")  # type: ignore[arg-type]


def test_isolated(ipc_lib: IpcLib) -> None:
    # Isolated, or refused with NOT_SUPPORTED; never silently unisolated (§5).
    error: ohncp.NativeChildProcessError | None = None
    try:
        proxy = ohncp.connect(ipc_lib("ipc_child"), isolation="isolated")
    except ohncp.NativeChildProcessError as exc:
        error = exc
    if error is not None:
        assert type(error) is ohncp.NotSupportedError
        assert error.code == lib.NCP_ERR_NOT_SUPPORTED == 801
        return
    try:
        pid = proxy.send_request(PID).read_int32()
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net")
    finally:
        finish(proxy)


def test_multi_process_disabled(ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHNCP_MULTI_PROCESS", "0")
    exc = connect_error(ipc_lib("ipc_child"))
    assert type(exc) is ohncp.MultiProcessDisabledError
    assert exc.code == lib.NCP_ERR_MULTI_PROCESS_DISABLED


def test_child_limit(ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHNCP_MAX_CHILDREN", "0")
    exc = connect_error(ipc_lib("ipc_child"))
    assert type(exc) is ohncp.MaxChildProcessesReachedError
    assert exc.code == lib.NCP_ERR_MAX_CHILD_PROCESSES_REACHED
    assert "the limit is 0 (at most 50 in IPC mode)" in str(exc)


# ---- the shim's connect slots and the event ring, directly -------------------------


def test_connect_result_comes_through_the_event_ring(ipc_lib: IpcLib) -> None:
    _, waiter = _ipc.begin_connect(ipc_lib("ipc_child"), "normal", False, None)
    assert waiter.done.wait(10)
    result = waiter.take()
    assert result is not None
    code, proxy = result
    assert code == lib.NCP_NO_ERROR
    assert proxy is not None
    connected = ohncp.RemoteProxy(proxy)
    try:
        # Spent: given once, and the slot is free for the next connect.
        assert waiter.take() is None
        assert not waiter.abandon()
        assert lib.shim_connect_busy() == 0
    finally:
        finish(connected)


def test_refused_connect_frees_its_slot() -> None:
    exc = connect_error("")
    assert type(exc) is ohncp.InvalidParamError
    assert lib.shim_connect_busy() == 0


AFTER_FORK = """
import os, ohncp
from ohncp import _ipc
from ohncp._ohncp import lib
path = PATH
os.environ["OHNCP_TEST_CONNECT_DELAY_MS"] = "300"
_, waiter = _ipc.begin_connect(path, "normal", False, None)
del os.environ["OHNCP_TEST_CONNECT_DELAY_MS"]
assert lib.shim_connect_busy() == 1
pid = os.fork()
if pid == 0:
    # No callback comes here for the parent's connect: its slot is free,
    # and this process connects to children of its own.
    status = 10 * lib.shim_connect_busy()
    with ohncp.connect(path) as proxy:
        data = ohncp.Parcel().write_int32(20).write_int32(3)
        status += proxy.send_request(1, data).read_int32()
        proxy.send_request(3)
    os._exit(status)
_, status = os.waitpid(pid, 0)
# The parent's event thread still resolves its own connect.
assert waiter.done.wait(10)
code, proxy = waiter.take()
with ohncp.RemoteProxy(proxy) as parents:
    parents.send_request(3)
print(os.waitstatus_to_exitcode(status), code)
"""


def test_fork_with_a_connect_pending(ipc_lib: IpcLib, tmp_path: Path) -> None:
    done = run_python(AFTER_FORK.replace("PATH", repr(ipc_lib("ipc_child"))), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["23", "0"]


# ---- the child behind a proxy from connect(): pid, kill, wait, with ----


def test_leaving_with_ends_the_child() -> None:
    pids = []
    for _ in range(52):  # more than the 50 IPC-mode places: each block gives its own back
        with ohncp.connect(CALC_LIBRARY) as calc:
            assert calc.child is not None
            assert calc.child.pid == calc.pid
            assert calc.returncode is None
            pids.append(calc.pid)
        assert calc.returncode == -signal.SIGKILL
    assert not any(is_running(pid) for pid in pids)


def test_a_proxy_waits_for_and_kills_its_child() -> None:
    with ohncp.connect(CALC_LIBRARY) as calc:
        calc.send_request(CALC_EXIT, ohncp.Parcel())
        assert calc.wait(timeout=30) == 0  # it ended on its own: nothing to kill
        assert calc.returncode == 0
    assert calc.returncode == 0
    calc = ohncp.connect(CALC_LIBRARY)
    calc.kill()
    assert calc.wait(timeout=30) == -signal.SIGKILL
    calc.close()


def test_a_proxy_read_from_a_parcel_has_no_child(ipc_lib: IpcLib) -> None:
    with ohncp.Parcel() as parcel, ohncp.RemoteStub("x", lambda c, d, r: 0) as stub:
        parcel.write_remote_object(stub)
        with parcel.rewind().read_remote_object() as proxy:
            assert proxy.child is None
            with pytest.raises(ValueError, match="no child process of its own"):
                proxy.kill()


@pytest.mark.parametrize("flavour", ["sync", "aio"])
def test_a_timed_out_connect_kills_its_child(
    ipc_lib: IpcLib, monkeypatch: pytest.MonkeyPatch, flavour: str
) -> None:
    monkeypatch.setenv("OHNCP_TEST_CONNECT_DELAY_MS", "5000")
    def connect() -> object:
        if flavour == "sync":
            return ohncp.connect(ipc_lib("ipc_child"), timeout=0.15)
        return asyncio.run(ohncp.aio.connect(ipc_lib("ipc_child"), timeout=0.15))

    errors = []
    for _ in range(52):  # more than 50: timed-out children must give their places back
        with pytest.raises(ohncp.StartTimeoutError) as info:
            connect()
        errors.append(info.value)
    with_pid = [e for e in errors if e.pid is not None]
    assert with_pid, "no timed-out connect named its child"
    for error in with_pid:
        assert f"pid {error.pid}" in str(error)
    assert eventually(lambda: not any(is_running(e.pid) for e in with_pid if e.pid), 10)

