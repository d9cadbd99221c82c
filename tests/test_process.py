"""ChildProcess: start, wait, poll, kill, exit statuses, params and fds (behaviour.md §3, §5)."""

from __future__ import annotations

import gc
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ohncp
from ohncp import _events

from helpers import read_until_eof

Spawn = Callable[..., ohncp.ChildProcess]
Entry = Callable[[str], str]
Pipe = Callable[[], tuple[int, int]]


def start_with_out(
    spawn: Spawn, pipe: Pipe, entry: str, params: str | bytes = ""
) -> tuple[ohncp.ChildProcess, int]:
    """Start a child with a pipe as "out"; return it and the read end."""
    r, w = pipe()
    child = spawn(entry, params, {"out": w})
    os.close(w)
    return child, r


def test_start_and_wait_returns_zero(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    child, r = start_with_out(spawn, pipe, basic("WriteByte"))
    assert child.pid > 0
    assert child.pid != os.getpid()
    assert child.returncode is None
    assert read_until_eof(r) == b"x"
    assert child.wait(timeout=10) == 0
    assert child.returncode == 0
    assert child.poll() == 0
    # Reaped by the runtime: nothing (no zombie) is left under that pid.
    with pytest.raises(ProcessLookupError):
        os.kill(child.pid, 0)


def test_params_and_fds_reach_the_child(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    params = "héllo wörld; with spaces"
    (ra, wa), (rb, wb), (ro, wo) = pipe(), pipe(), pipe()
    with open(os.dup(wb), "wb", buffering=0) as b_file:  # an object with fileno()
        child = spawn(basic("EchoAll"), params, {"b": b_file, "a": wa, "order": wo})
        # The caller keeps its own fds.
        os.fstat(wa)
        os.fstat(b_file.fileno())
    for fd in (wa, wb, wo):
        os.close(fd)
    assert read_until_eof(ra).decode() == f"a:{params}"
    assert read_until_eof(rb).decode() == f"b:{params}"
    # The child sees the list sorted by name.
    assert read_until_eof(ro) == b"a,b,order"
    assert child.wait(timeout=10) == 0


def test_params_as_bytes_and_empty(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    child, r = start_with_out(spawn, pipe, basic("WriteParams"), b"raw bytes")
    assert read_until_eof(r) == b"raw bytes"
    assert child.wait(timeout=10) == 0
    child, r = start_with_out(spawn, pipe, basic("WriteParams"))
    assert read_until_eof(r) == b""
    assert child.wait(timeout=10) == 0


def test_largest_params(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    params = "p" * 153600
    child, r = start_with_out(spawn, pipe, basic("WriteParams"), params)
    assert read_until_eof(r).decode() == params
    assert child.wait(timeout=10) == 0


def test_params_with_nul_byte_rejected(basic: Entry) -> None:
    with pytest.raises(ValueError, match="NUL"):
        ohncp.start(basic("WriteParams"), "a\0b")


@pytest.mark.parametrize(
    ("function", "params", "expected"),
    [
        ("ExitCode", "3", 3),
        ("ExitCode", "0", 0),
        ("Abort", "", -signal.SIGABRT),
        ("Segv", "", -signal.SIGSEGV),
    ],
)
def test_exit_status(spawn: Spawn, basic: Entry, function: str, params: str, expected: int) -> None:
    child = spawn(basic(function), params)
    assert child.wait(timeout=10) == expected
    assert child.returncode == expected


def test_kill_gives_minus_nine(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    child, r = start_with_out(spawn, pipe, basic("SleepForever"))
    assert os.read(r, 1) == b"r"
    child.kill()
    assert child.wait(timeout=10) == -signal.SIGKILL
    child.kill()  # already reaped: nothing happens
    assert child.returncode == -9


def test_poll(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    child, r = start_with_out(spawn, pipe, basic("SleepForever"))
    assert os.read(r, 1) == b"r"
    assert child.poll() is None
    assert child.returncode is None
    child.kill()
    deadline = time.monotonic() + 10
    while child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert child.poll() == -9
    assert child.returncode == -9


def test_wait_timeout_raises(spawn: Spawn, basic: Entry) -> None:
    child = spawn(basic("SleepForever"))
    before = time.monotonic()
    with pytest.raises(ohncp.TimeoutExpired) as info:
        child.wait(timeout=0.3)
    assert time.monotonic() - before >= 0.3
    assert isinstance(info.value, TimeoutError)
    assert (info.value.pid, info.value.timeout) == (child.pid, 0.3)
    with pytest.raises(ohncp.TimeoutExpired):
        child.wait(timeout=0)
    assert child.returncode is None
    child.kill()
    assert child.wait(timeout=10) == -9


def test_context_manager_kills_and_waits(basic: Entry) -> None:
    with ohncp.start(basic("SleepForever")) as child:
        assert child.poll() is None
    assert child.returncode == -9


def test_context_manager_keeps_exit_code(basic: Entry) -> None:
    with ohncp.start(basic("ExitCode"), "7") as child:
        assert child.wait(timeout=10) == 7
    assert child.returncode == 7


def test_wait_from_several_threads(spawn: Spawn, basic: Entry) -> None:
    child = spawn(basic("SleepForever"))
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(child.wait(timeout=20))) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    time.sleep(0.1)
    child.kill()
    for thread in threads:
        thread.join(timeout=30)
    assert results == [-9] * 4


def test_children_exiting_at_once(basic: Entry) -> None:
    # Children that exit right away race their exit report against the
    # bookkeeping of their own start (the shim's in-flight path).
    errors: list[BaseException] = []
    codes: list[int] = []

    def run(n: int) -> None:
        try:
            for i in range(n):
                child = ohncp.start(basic("ExitCode"), str(i % 5))
                codes.append(child.wait(timeout=20) - i % 5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(40,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert codes == [0] * 120


def test_many_children_alive_at_once(spawn: Spawn, basic: Entry) -> None:
    children = [spawn(basic("SleepForever")) for _ in range(50)]
    assert len({child.pid for child in children}) == 50
    for child in children:
        child.kill()
    assert [child.wait(timeout=20) for child in children] == [-9] * 50


def test_child_fds(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    # behaviour.md §3: 0-2, the passed fds, at most the runtime's own
    # channel (close-on-exec); nothing else leaks, e.g. the read end of the
    # pipe or the fds of another child.
    _, w_other = pipe()
    other = spawn(basic("SleepForever"), "", {"keep": w_other})
    r, w = pipe()
    child = spawn(basic("ListFds"), "", {"out": w})
    os.close(w)
    lines = read_until_eof(r).decode().splitlines()
    assert child.wait(timeout=10) == 0
    open_fds = {}
    passed = {}
    for line in lines:
        parts = line.split(" ", 2)
        if parts[0] == "arg":
            passed[parts[1]] = int(parts[2])
        else:
            open_fds[int(parts[0])] = (parts[1] == "1", parts[2])
    assert set(passed) == {"out"}
    assert passed["out"] in open_fds
    assert {0, 1, 2} <= set(open_fds)
    extra = set(open_fds) - {0, 1, 2, passed["out"]}
    assert len(extra) <= 1, open_fds
    for fd in extra:
        assert open_fds[fd][0], f"runtime fd {fd} is not close-on-exec: {open_fds[fd]}"
    other.kill()


def test_dropped_handle_warns(basic: Entry) -> None:
    child = ohncp.start(basic("ExitCode"), "0")
    pid = child.pid
    with pytest.warns(ResourceWarning, match=str(pid)):
        del child


def test_dropped_handle_after_wait_is_silent(basic: Entry) -> None:
    child = ohncp.start(basic("ExitCode"), "0")
    child.wait(timeout=10)
    del child
    gc.collect()


def test_process_name(spawn: Spawn, basic: Entry, pipe: Pipe) -> None:
    r, w = pipe()
    child = spawn(basic("SleepForever"), "", {"out": w}, process_name="pytest_child")
    os.close(w)
    assert os.read(r, 1) == b"r"
    # behaviour.md §5: "{bundle}:{name}" in full in /proc/<pid>/cmdline.
    cmdline = Path(f"/proc/{child.pid}/cmdline").read_bytes()
    assert b":pytest_child" in cmdline
    child.kill()


@pytest.mark.parametrize("name", ["", "has space", "x" * 65, "dash-ed"])
def test_bad_process_name(basic: Entry, name: str) -> None:
    with pytest.raises(ohncp.InvalidParamError):
        ohncp.start(basic("ExitCode"), "0", process_name=name)


def test_start_is_fast_enough_to_use(basic: Entry) -> None:
    # Not a benchmark: a sanity bound that catches e.g. a spawner started
    # anew for every child.
    before = time.monotonic()
    for _ in range(20):
        ohncp.start(basic("ExitCode"), "0").wait(timeout=10)
    assert time.monotonic() - before < 10


def test_table_is_empty_after_waits(basic: Entry) -> None:
    ohncp.start(basic("ExitCode"), "0").wait(timeout=10)
    assert _events.loop().tracked() == 0


def test_signal_handler_interrupts_a_wait_without_timeout(basic: Entry) -> None:
    # wait() sleeps on its child's waiter, no polling slices: a signal
    # handler still runs, and its exception ends the wait.
    class Alarm(Exception):
        pass

    def raise_alarm(signum: int, frame: object) -> None:
        raise Alarm

    child = ohncp.start(basic("SleepForever"))
    old = signal.signal(signal.SIGALRM, raise_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(Alarm):
            child.wait()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        child.kill()
    assert child.wait(timeout=30) == -signal.SIGKILL
