"""The Pythonic layer over both modes: exit events, futures, stubs, constants."""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp
from ohncp import _events, _ipc
from ohncp._ohncp import lib

from helpers import read_until_eof, run_python

ADD, ECHO, EXIT, RETURN, ABORT, FD, PID, CALLBACK = range(1, 9)


@pytest.fixture
def unraisable(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Collect what reaches sys.unraisablehook during the test."""
    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


@pytest.fixture
def proxies() -> Iterator[list[ohncp.RemoteProxy]]:
    """Proxies to close (and children to end) at the end of the test."""
    held: list[ohncp.RemoteProxy] = []
    yield held
    for proxy in held:
        if not proxy.closed:
            with contextlib.suppress(ohncp.IPCError, ValueError):
                proxy.send_request(EXIT)
            proxy.close()


# ---- constants ----------------------------------------------------------------


def test_enums_carry_the_sdk_values() -> None:
    assert ohncp.ErrorCode.NCP_ERR_INVALID_PARAM == 401
    assert ohncp.ErrorCode.NCP_ERR_INVALID_PID == 16010010
    assert ohncp.IsolationMode.NCP_ISOLATION_MODE_ISOLATED == 1
    assert ohncp.IPCErrorCode.OH_IPC_DEAD_REMOTE_OBJECT == 1901005
    assert ohncp.RequestMode.OH_IPC_REQUEST_MODE_ASYNC == 1
    # Every exception class's code is a member.
    for code in ohncp.ErrorCode:
        if code != ohncp.ErrorCode.NCP_NO_ERROR:
            err = ohncp.NativeChildProcessError(code)
            assert err.name == code.name


def test_isolation_accepts_the_enum(basic: Callable[[str], str], pipe: Any) -> None:
    _, w = pipe()
    with ohncp.start(
        basic("WriteByte"), fds={"out": w}, isolation=ohncp.IsolationMode.NCP_ISOLATION_MODE_NORMAL
    ) as child:
        assert child.wait(timeout=30) == 0
    with pytest.raises(ohncp.InvalidParamError):
        ohncp.start(basic("WriteByte"), isolation=7)


# ---- exit code and signal -------------------------------------------------------


def test_exit_code_and_signal(spawn: Any, basic: Callable[[str], str]) -> None:
    exited = spawn(basic("ExitCode"), "3")
    killed = spawn(basic("Abort"))
    assert exited.exit_code is None or exited.exit_code == 3
    assert exited.wait(timeout=30) == 3
    assert (exited.exit_code, exited.exit_signal) == (3, None)
    assert killed.wait(timeout=30) == -signal.SIGABRT
    assert (killed.exit_code, killed.exit_signal) == (None, signal.SIGABRT)


def test_running_child_has_neither(spawn: Any, basic: Callable[[str], str]) -> None:
    child = spawn(basic("SleepForever"))
    assert (child.exit_code, child.exit_signal, child.returncode) == (None, None, None)


def test_context_manager_when_child_already_gone(basic: Callable[[str], str]) -> None:
    with ohncp.start(basic("ExitCode"), "5") as child:
        # Gone, and reaped by the runtime, before the block ends.
        assert eventually(lambda: child.poll() is not None)
    assert child.returncode == 5
    # Gone but not yet polled when the block ends: no error either.
    with ohncp.start(basic("ExitCode"), "6") as child:
        time.sleep(0.3)
    assert child.returncode == 6


# ---- on_child_exit ------------------------------------------------------------


def test_on_child_exit_in_order_on_one_thread(spawn: Any, basic: Callable[[str], str]) -> None:
    seen: list[tuple[str, int, int, str]] = []
    done = threading.Event()
    children = []

    def first(pid: int, sig: int) -> None:
        seen.append(("first", pid, sig, threading.current_thread().name))

    def second(pid: int, sig: int) -> None:
        seen.append(("second", pid, sig, threading.current_thread().name))
        if sum(1 for s in seen if s[0] == "second") == 3:
            done.set()

    h1 = ohncp.on_child_exit(first)
    h2 = ohncp.on_child_exit(second)
    try:
        children.append(spawn(basic("ExitCode"), "0"))
        children.append(spawn(basic("ExitCode"), "7"))
        children.append(spawn(basic("Segv")))
        assert done.wait(30)
    finally:
        h1.remove()
        h2.remove()
    pids = {c.pid: c for c in children}
    mine = [s for s in seen if s[1] in pids]
    # Each exit: first then second, never interleaved with another exit.
    for i in range(0, len(mine), 2):
        assert (mine[i][0], mine[i + 1][0]) == ("first", "second")
        assert mine[i][1] == mine[i + 1][1]
    by_pid = {s[1]: s[2] for s in mine}
    assert by_pid[children[0].pid] == 0
    assert by_pid[children[1].pid] == 7
    assert by_pid[children[2].pid] == signal.SIGSEGV
    assert {s[3] for s in mine} == {"ohncp-events"}


def test_on_child_exit_raising_callback_is_reported(
    spawn: Any, basic: Callable[[str], str], unraisable: list[Any]
) -> None:
    after = threading.Event()

    def bad(pid: int, sig: int) -> None:
        raise RuntimeError(f"boom {pid}")

    with ohncp.on_child_exit(bad), ohncp.on_child_exit(lambda pid, sig: after.set()):
        child = spawn(basic("ExitCode"), "1")
        assert after.wait(30), "the callback after the raising one did not run"
        child.wait(timeout=30)
    assert any(
        isinstance(u.exc_value, RuntimeError) and f"boom {child.pid}" in str(u.exc_value)
        for u in unraisable
    )
    assert all(u.object is bad for u in unraisable)


def test_on_child_exit_remove(spawn: Any, basic: Callable[[str], str]) -> None:
    calls: list[int] = []
    handle = ohncp.on_child_exit(lambda pid, sig: calls.append(pid))
    handle.remove()
    handle.remove()  # twice: nothing
    done = threading.Event()
    with ohncp.on_child_exit(lambda pid, sig: done.set()):
        spawn(basic("ExitCode"), "0").wait(timeout=30)
        assert done.wait(30)
    assert calls == []
    with pytest.raises(TypeError):
        ohncp.on_child_exit(42)  # type: ignore[arg-type]


def test_on_child_exit_sees_ipc_children(ipc_lib: Callable[[str], str]) -> None:
    seen: dict[int, int] = {}
    done = threading.Event()

    def record(pid: int, sig: int) -> None:
        seen[pid] = sig
        done.set()

    with ohncp.on_child_exit(record):
        with ohncp.connect(ipc_lib("ipc_child")) as proxy:
            pid = proxy.pid
            proxy.send_request(EXIT)
            # Leaving the block kills a child still running: let it end first.
            assert proxy.wait(timeout=30) == 0
        assert eventually(lambda: pid in seen, 30)
    assert seen[pid] == 0


# ---- IPC extras ---------------------------------------------------------------


def test_proxy_pid_is_the_child(ipc_lib: Callable[[str], str], proxies: list[Any]) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    assert proxy.pid == proxy.send_request(PID).read_int32()
    assert proxy.pid != os.getpid()


def test_death_callback_on_crash(ipc_lib: Callable[[str], str], proxies: list[Any]) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    died = threading.Event()
    calls: list[Any] = []

    def on_death(p: ohncp.RemoteProxy) -> None:
        calls.append((p, threading.current_thread().name))
        died.set()

    proxy.add_death_callback(on_death)
    with pytest.raises(ohncp.DeadRemoteObjectError):
        proxy.send_request(ABORT)
    assert died.wait(30)
    assert calls == [(proxy, "ohncp-events")]
    # Added after death: told at once (on the event thread too).
    late = threading.Event()
    proxy.add_death_callback(lambda p: late.set())
    assert late.wait(30)
    time.sleep(0.1)
    assert len(calls) == 1  # once


def test_death_callback_removed_and_raising(
    ipc_lib: Callable[[str], str], proxies: list[Any], unraisable: list[Any]
) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    removed: list[Any] = []
    good = threading.Event()

    def bad(p: Any) -> None:
        raise ValueError("bad death callback")

    proxy.add_death_callback(removed.append)
    proxy.add_death_callback(bad)
    proxy.add_death_callback(lambda p: good.set())
    proxy.remove_death_callback(removed.append)
    with pytest.raises(ValueError, match="x not in list"):
        proxy.remove_death_callback(removed.append)
    proxy.send_request(EXIT)
    assert good.wait(30)
    assert removed == []
    assert any(isinstance(u.exc_value, ValueError) for u in unraisable)


def test_closing_a_proxy_with_death_callbacks(ipc_lib: Callable[[str], str]) -> None:
    calls: list[Any] = []
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxy.add_death_callback(calls.append)
    proxy.close()  # the child ends (its stub is gone); nobody is told
    time.sleep(0.3)
    assert calls == []
    with pytest.raises(ValueError, match="closed RemoteProxy"):
        proxy.add_death_callback(calls.append)


def test_python_stub_called_back_by_child(
    ipc_lib: Callable[[str], str], proxies: list[Any]
) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    seen: list[tuple[int, int, str]] = []

    def handler(code: int, data: ohncp.Parcel, reply: ohncp.Parcel) -> int | None:
        value = data.read_int32()
        seen.append((code, value, threading.current_thread().name))
        if value < 0:
            return 1909042  # a user code, returned to the child as is
        reply.write_int32(value * 10)
        return None

    with ohncp.RemoteStub("py.callback", handler) as stub:
        request = ohncp.Parcel().write_remote_object(stub).write_int32(4)
        assert proxy.send_request(CALLBACK, request).read_int32() == 41
        assert seen[0][:2] == (42, 4)
        assert seen[0][2] != threading.current_thread().name
        bad = ohncp.Parcel().write_remote_object(stub).write_int32(-1)
        with pytest.raises(ohncp.RemoteError) as err:
            proxy.send_request(CALLBACK, bad)
        assert err.value.code == 1909042


def test_python_stub_exceptions(
    ipc_lib: Callable[[str], str], proxies: list[Any], unraisable: list[Any]
) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)

    def handler(code: int, data: ohncp.Parcel, reply: ohncp.Parcel) -> int:
        value = data.read_int32()
        if value == 1:
            raise ohncp.ParcelReadError(lib.OH_IPC_PARCEL_READ_ERROR, "as an IPC code")
        if value == 2:
            data.write_int32(5)  # the request is read-only: ValueError
        raise KeyError("not an IPC error")

    with ohncp.RemoteStub("py.raising", handler) as stub:
        with pytest.raises(ohncp.ParcelReadError):
            proxy.send_request(CALLBACK, ohncp.Parcel().write_remote_object(stub).write_int32(1))
        with pytest.raises(ohncp.IPCInnerError):
            proxy.send_request(CALLBACK, ohncp.Parcel().write_remote_object(stub).write_int32(2))
        with pytest.raises(ohncp.IPCInnerError):
            proxy.send_request(CALLBACK, ohncp.Parcel().write_remote_object(stub).write_int32(3))
    kinds = [type(u.exc_value) for u in unraisable]
    assert kinds == [ValueError, KeyError]


def test_python_stub_handler_released_when_child_lets_go(
    ipc_lib: Callable[[str], str], proxies: list[Any]
) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    stub = ohncp.RemoteStub("py.gone", lambda code, data, reply: reply.write_int32(1) and None)
    token = stub._token
    assert _ipc.stub_handler_held(token)
    request = ohncp.Parcel().write_remote_object(stub).write_int32(0)
    assert proxy.send_request(CALLBACK, request).read_int32() == 2
    request.close()  # the parcel held a reference too
    stub.close()
    stub.close()
    # The child released its proxy after the call: the handler goes too.
    assert eventually(lambda: not _ipc.stub_handler_held(token))
    with pytest.raises(ValueError, match="closed RemoteStub"):
        ohncp.Parcel().write_remote_object(stub)
    with pytest.raises(TypeError):
        ohncp.RemoteStub("x", None)  # type: ignore[arg-type]


def test_proxy_travels_in_a_parcel(ipc_lib: Callable[[str], str], proxies: list[Any]) -> None:
    proxy = ohncp.connect(ipc_lib("ipc_child"))
    proxies.append(proxy)
    echoed = proxy.send_request(ECHO, ohncp.Parcel().write_remote_object(proxy))
    with echoed.read_remote_object() as again:
        reply = again.send_request(ADD, ohncp.Parcel().write_int32(1).write_int32(2))
        assert reply.read_int32() == 3
        assert again.pid == proxy.pid
    with pytest.raises(ohncp.ParcelReadError):
        ohncp.Parcel().read_remote_object()
    with pytest.raises(TypeError):
        ohncp.Parcel().write_remote_object("nope")  # type: ignore[arg-type]


def test_parcel_bytes_view_and_positions() -> None:
    p = ohncp.Parcel().write_int32(7).write_string("ab").write_int8(-1)
    raw = bytes(p)
    assert len(raw) == len(p) == 4 + 4 + 4
    assert raw[:4] == (7).to_bytes(4, sys.byteorder)
    assert p.read_int32() == 7
    assert (p.read_position, p.readable) == (4, 8)
    assert bytes(p) == raw
    assert p.read_position == 4  # the view does not move it
    q = ohncp.Parcel(raw)
    assert (q.read_int32(), q.read_string(), q.read_int8()) == (7, "ab", -1)
    assert p.rewind().read_int32() == 7
    with pytest.raises(ohncp.CheckParamError):
        p.rewind(1000)
    with pytest.raises(ohncp.CheckParamError):
        p.rewind(-1)
    joined = ohncp.Parcel().write_int32(1).append(p)
    assert len(joined) == 16
    assert [joined.rewind().read_int32(), joined.read_int32(), joined.read_string()] == [1, 7, "ab"]
    assert bytes(ohncp.Parcel()) == b""


# ---- connect_async ----------------------------------------------------------------


def test_connect_async(ipc_lib: Callable[[str], str], proxies: list[Any]) -> None:
    futures = [ohncp.connect_async(ipc_lib("ipc_child")) for _ in range(3)]
    done, _ = concurrent.futures.wait(futures, timeout=30)
    assert len(done) == 3
    for future in futures:
        proxy = future.result()
        proxies.append(proxy)
        reply = proxy.send_request(ADD, ohncp.Parcel().write_int32(2).write_int32(2))
        assert reply.read_int32() == 4
    assert len({p.pid for p in proxies}) == 3


def test_connect_async_failures(ipc_lib: Callable[[str], str], tmp_path: Path) -> None:
    refused = ohncp.connect_async("")
    with pytest.raises(ohncp.InvalidParamError):
        refused.result(timeout=1)
    missing = ohncp.connect_async(str(tmp_path / "libnothere.so"))
    with pytest.raises(ohncp.LibLoadingFailedError):
        missing.result(timeout=30)
    no_stub = ohncp.connect_async(ipc_lib("ipc_no_stub"))
    with pytest.raises(ohncp.ConnectionFailedError):
        no_stub.result(timeout=30)
    assert eventually(lambda: lib.shim_connect_busy() == 0)


def test_connect_async_timeout_and_cancel(
    ipc_lib: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hang = ohncp.connect_async(ipc_lib("ipc_hang"), timeout=0.3)
    with pytest.raises(ohncp.StartTimeoutError) as err:
        hang.result(timeout=30)
    assert isinstance(err.value, TimeoutError)
    slow = ohncp.connect_async(ipc_lib("ipc_hang"))
    assert slow.cancel()
    assert slow.cancelled()
    # Both children are given up: their slots come back when the runtime's
    # start timeout ends them.
    assert lib.shim_connect_busy() <= 2


# ---- current_args ------------------------------------------------------------------


def test_current_args_outside_a_child() -> None:
    assert ohncp.current_args() is None


def test_current_args_in_a_python_child(embed_python_lib: Path, pipe: Any) -> None:
    r, w = pipe()
    extra_r, _ = pipe()
    code = (
        "import os, ohncp\n"
        "a = ohncp.current_args()\n"
        "os.write(a.fds['out'], repr((a.params.split(chr(10))[1][:6], sorted(a.fds))).encode())\n"
    )
    params = f"{sys.executable}\n{code}"
    with ohncp.start(
        f"{embed_python_lib}:RunPython", params, {"out": w, "extra": extra_r}
    ) as child:
        os.close(w)
        out = read_until_eof(r, 60)
        assert child.wait(timeout=60) == 0, out
    assert out == repr(("import", ["extra", "out"])).encode()


# ---- the event thread -----------------------------------------------------------------


def test_event_thread_survives_fork(spawn: Any, basic: Callable[[str], str]) -> None:
    done = threading.Event()
    with ohncp.on_child_exit(lambda pid, sig: done.set()):
        pid = os.fork()
        if pid == 0:  # the child: a fresh event thread on first use
            code = 1
            try:
                got = threading.Event()
                with ohncp.on_child_exit(lambda p, s: got.set()):
                    c = ohncp.start(basic("ExitCode"), "0")
                    c.wait(timeout=30)
                    code = 0 if got.wait(30) else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        spawn(basic("ExitCode"), "0").wait(timeout=30)
        assert done.wait(30)


def test_exit_signal_or_code() -> None:
    assert _events.exit_signal_or_code(3 << 8) == 3
    assert _events.exit_signal_or_code(signal.SIGKILL) == signal.SIGKILL


# ---- exceptions provoked for real --------------------------------------------------


PROVOKE = """
import json, os, resource, sys, ohncp
entry, mode = sys.argv[1], sys.argv[2]
out = {}
if mode == "fds":
    ohncp.start(entry, "0").wait(timeout=30)  # the runtime is up
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    held = []
    try:
        while True:
            held.append(os.open("/dev/null", os.O_RDONLY))
    except OSError:
        pass
try:
    ohncp.start(entry, "0").wait(timeout=30)
except ohncp.NativeChildProcessError as exc:
    out["error"] = [type(exc).__name__, exc.code, str(exc)]
if mode == "fds":
    for fd in held:
        os.close(fd)
    out["after"] = ohncp.start(entry, "0").wait(timeout=30)
print(json.dumps(out))
"""


def _provoke(entry: str, mode: str, tmp_path: Path, env: dict[str, str]) -> dict[str, Any]:
    import json
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", PROVOKE, entry, mode],
        cwd=tmp_path,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_internal_error_on_fd_exhaustion(basic: Callable[[str], str], tmp_path: Path) -> None:
    out = _provoke(basic("ExitCode"), "fds", tmp_path, {})
    name, code, message = out["error"]
    assert (name, code) == ("InternalError", ohncp.ErrorCode.NCP_ERR_INTERNAL)
    assert "Too many open files" in message
    assert out["after"] == 0  # nothing leaked: starts work again


def test_service_error_without_a_spawner(basic: Callable[[str], str], tmp_path: Path) -> None:
    out = _provoke(basic("ExitCode"), "plain", tmp_path, {"OHNCP_SPAWNER": "/nonexistent"})
    name, code, message = out["error"]
    assert (name, code) == ("ServiceError", ohncp.ErrorCode.NCP_ERR_SERVICE_ERROR)
    assert "/nonexistent" in message


def test_already_in_child_from_python(
    embed_python_lib: Path, basic: Callable[[str], str], ipc_lib: Callable[[str], str], pipe: Any
) -> None:
    r, w = pipe()
    code = (
        "import os, ohncp\n"
        "out = ohncp.current_args().fds['out']\n"
        f"for call in (lambda: ohncp.start({basic('WriteByte')!r}),\n"
        f"             lambda: ohncp.connect({ipc_lib('ipc_child')!r})):\n"
        "    try:\n"
        "        call()\n"
        "    except ohncp.AlreadyInChildError as exc:\n"
        "        os.write(out, f'{exc.code};'.encode())\n"
    )
    params = f"{sys.executable}\n{code}"
    with ohncp.start(f"{embed_python_lib}:RunPython", params, {"out": w}) as child:
        os.close(w)
        out = read_until_eof(r, 60)
        assert child.wait(timeout=60) == 0
    assert out == b"16010005;16010005;"


FORK_UNDER_LOAD = """
import os, signal, sys, threading, time, ohncp
from ohncp._ohncp import lib

entry, ipc_lib = sys.argv[1], sys.argv[2]
stop = time.monotonic() + 3

def churn():  # exits: the event ring's lock, from the runtime's thread
    while time.monotonic() < stop:
        ohncp.start(entry, "0").wait(timeout=60)

def connects():  # the connect slots' lock, from this thread and the runtime's
    while time.monotonic() < stop:
        with ohncp.connect(ipc_lib, timeout=60) as proxy:
            proxy.send_request(3)

threads = [threading.Thread(target=churn) for _ in range(3)]
threads.append(threading.Thread(target=connects))
for t in threads:
    t.start()
forks = bad = 0
while time.monotonic() < stop and forks < 30:
    pid = os.fork()
    if pid == 0:
        signal.alarm(30)  # a lock left held would hang: die by SIGALRM instead
        ok = lib.shim_init() == 0 and lib.shim_connect_busy() == 0
        ok = ok and lib.shim_events_lost() == 0
        ok = ok and ohncp.start(entry, "5").wait(timeout=30) == 5
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    forks += 1
    bad += os.waitstatus_to_exitcode(status) != 0
for t in threads:
    t.join()
print(forks, bad)
"""


def test_fork_while_other_threads_use_the_shim(
    basic: Callable[[str], str], child_libs: dict[str, Path], tmp_path: Path
) -> None:
    # The shim's fork handler takes its locks before fork() and lets them go
    # in both processes: a child forked while a runtime thread queues an exit
    # or finishes a connect finds every lock free and no parent's state.
    args = [basic("ExitCode"), str(child_libs["ipc_child"])]
    done = run_python(f"import sys; sys.argv[1:] = {args!r}\n" + FORK_UNDER_LOAD, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    forks, bad = map(int, done.stdout.split())
    assert forks > 0
    assert bad == 0
