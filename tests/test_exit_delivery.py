"""Every wait sees its own child's exit: under a thread storm, after pid reuse, on a full queue.

The storm runs OHNCP_TEST_STORM_S seconds (6 by default, for CI; the issue's
long form is OHNCP_TEST_STORM_S=30).
"""

from __future__ import annotations

import collections
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ohncp
from ohncp import _events

from helpers import native_children, run_python

Entry = Callable[[str], str]
IpcLib = Callable[[str], str]

STORM_THREADS = 32
STORM_SECONDS = float(os.environ.get("OHNCP_TEST_STORM_S", "6"))
# Far above any real wait here; a wait that takes this long is one that
# would have blocked for ever.
WAIT_BOUND_S = 60.0
EXIT_REQUEST = 3  # ipc_child.c: MainProc returns


class _ExitLog:
    """What on_child_exit reported, as a multiset of (pid, signal-or-code)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: collections.Counter[tuple[int, int]] = collections.Counter()

    def record(self, pid: int, value: int) -> None:
        with self.lock:
            self.seen[(pid, value)] += 1

    def take(self, pid: int, value: int) -> bool:
        with self.lock:
            if self.seen[(pid, value)] == 0:
                return False
            self.seen[(pid, value)] -= 1
            return True


@pytest.fixture
def exit_log() -> Iterator[_ExitLog]:
    log = _ExitLog()
    with ohncp.on_child_exit(log.record):
        yield log


def _kill_landing(child: ohncp.ChildProcess, counts: collections.Counter[str]) -> None:
    """Kill ``child`` until the kill lands.

    A kill right after the start can still be dropped by the spawner (issue
    10, item 1, tested on its own elsewhere); here only the exit's way to
    the right wait is under test, so a dropped kill is repeated and counted.
    """
    child.kill()
    for _ in range(20):
        try:
            child.wait(timeout=2)
            return
        except ohncp.TimeoutExpired:
            counts["kills repeated"] += 1
            child.kill()


class _Storm:
    """What the storm threads share: where to start children, what they found."""

    def __init__(self, basic: Entry, ipc_path: str, log: _ExitLog) -> None:
        self.basic = basic
        self.ipc_path = ipc_path
        self.log = log
        self.stop_at = time.monotonic() + STORM_SECONDS
        self.errors: list[str] = []
        self.counts: collections.Counter[str] = collections.Counter()


def _storm_worker(index: int, storm: _Storm) -> None:
    basic, ipc_path, log, errors, counts = (
        storm.basic,
        storm.ipc_path,
        storm.log,
        storm.errors,
        storm.counts,
    )
    rng = random.Random(index)
    held: list[tuple[ohncp.ChildProcess, int]] = []
    n = 0

    def check(child: ohncp.ChildProcess, expected: int) -> None:
        try:
            code = child.wait(timeout=WAIT_BOUND_S)
        except ohncp.TimeoutExpired:
            errors.append(f"wait for {child!r} blocked for {WAIT_BOUND_S} s")
            child.kill()
            return
        if code != expected:
            errors.append(f"{child!r}: got {code}, its own status is {expected}")
        value = -code if code < 0 else code
        if not log.take(child.pid, value):
            errors.append(f"{child!r}: wait gave {code}, on_child_exit never said so")
        counts["waited"] += 1

    try:
        while time.monotonic() < storm.stop_at:
            n += 1
            # A code of its own for each child: thread and sequence number.
            code = 1 + (index * 37 + n) % 200
            action = rng.random()
            try:
                if action < 0.4:
                    check(ohncp.start(basic("ExitCode"), str(code)), code)
                elif action < 0.6:
                    child = ohncp.start(basic("SleepForever"))
                    _kill_landing(child, counts)
                    check(child, -9)
                elif action < 0.8:
                    # Collected later, after other starts of this thread.
                    held.append((ohncp.start(basic("ExitCode"), str(code)), code))
                    if len(held) > 3:
                        check(*held.pop(0))
                else:
                    with ohncp.connect(ipc_path, timeout=WAIT_BOUND_S) as proxy:
                        proxy.send_request(EXIT_REQUEST)
                    counts["connects"] += 1
            except ohncp.MaxChildProcessesReachedError:
                time.sleep(0.01)  # the runtime's limit, under 32 threads: fine
    except Exception as exc:
        errors.append(f"thread {index}: {exc!r}")
    finally:
        for child, expected in held:
            check(child, expected)


def test_thread_storm_every_wait_gets_its_own_status(
    basic: Entry, ipc_lib: IpcLib, exit_log: _ExitLog
) -> None:
    storm = _Storm(basic, ipc_lib("ipc_child"), exit_log)
    threads = [
        threading.Thread(target=_storm_worker, args=(i, storm)) for i in range(STORM_THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(STORM_SECONDS + 10 * WAIT_BOUND_S)
    assert not any(thread.is_alive() for thread in threads), "a storm thread hangs"
    print(f"storm of {STORM_SECONDS} s: {dict(storm.counts)}")  # figures, with pytest -s
    assert storm.errors == []
    assert storm.counts["waited"] > STORM_THREADS
    assert storm.counts["connects"] > 0
    deadline = time.monotonic() + 10
    while native_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not native_children()


def test_exit_before_the_start_returns_reaches_the_wait(basic: Entry) -> None:
    # Children that exit at once: their exit often reaches the event thread
    # before the start call has returned to Python (the race the early
    # exits are kept for). 8 threads so that starts overlap.
    results: list[tuple[int, int]] = []
    lock = threading.Lock()

    def run(base: int) -> None:
        for i in range(40):
            code = base + i
            child = ohncp.start(basic("ExitCode"), str(code))
            got = child.wait(timeout=WAIT_BOUND_S)
            with lock:
                results.append((code, got))

    threads = [threading.Thread(target=run, args=(k * 40,)) for k in range(1, 6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 200
    assert all(code % 256 == got for code, got in results)
    assert _events.loop().tracked() == 0


LAST_PID = Path("/proc/sys/kernel/ns_last_pid")


def _pid_can_be_steered() -> bool:
    return os.geteuid() == 0 and os.access(LAST_PID, os.W_OK)


@pytest.mark.skipif(not _pid_can_be_steered(), reason="needs a writable ns_last_pid (root)")
def test_reused_pid_does_not_change_an_old_handle(basic: Entry, exit_log: _ExitLog) -> None:
    old = ohncp.start(basic("ExitCode"), "3")
    old_pid = old.pid
    # Not collected yet: the exit sits with the old handle's waiter.
    assert exit_log_eventually(exit_log, old_pid, 3)
    reused = None
    others: list[ohncp.ChildProcess] = []
    for _ in range(50):
        # The next pid the kernel gives is old_pid (if nothing else forks
        # first); the spawner's standby child may take it, so start a few.
        LAST_PID.write_text(str(old_pid - 1))
        for _ in range(3):
            child = ohncp.start(basic("SleepForever"))
            if child.pid == old_pid:
                reused = child
                break
            others.append(child)
        if reused is not None:
            break
    for child in others:
        child.kill()
        child.wait(timeout=WAIT_BOUND_S)
    if reused is None:
        pytest.skip(f"pid {old_pid} was not reused (other processes fork meanwhile)")
    reused.kill()
    assert reused.wait(timeout=WAIT_BOUND_S) == -9
    assert old.wait(timeout=WAIT_BOUND_S) == 3
    assert old.poll() == 3


def exit_log_eventually(log: _ExitLog, pid: int, value: int) -> bool:
    deadline = time.monotonic() + WAIT_BOUND_S
    while time.monotonic() < deadline:
        with log.lock:
            if log.seen[(pid, value)]:
                return True
        time.sleep(0.01)
    return False


LOST = """
import sys, threading, time, ohncp
from ohncp._ohncp import lib

entry = sys.argv[1]
reported = []
sys.unraisablehook = lambda args: reported.append(args.exc_value)
gate, blocked = threading.Event(), threading.Event()

def stall(pid, sig):
    blocked.set()
    gate.wait()

stalling = ohncp.on_child_exit(stall)
lib.shim_events_set_limit(64)
first = ohncp.start(entry, "1")
assert blocked.wait(30)  # the event thread is stuck in stall()
children = [ohncp.start(entry, "2") for _ in range(300)]
deadline = time.monotonic() + 30
while lib.shim_events_lost() == 0 and time.monotonic() < deadline:
    time.sleep(0.01)
stalling.remove()
gate.set()
ok = lost = 0
for child in children:
    try:
        assert child.wait(timeout=30) == 2
        ok += 1
    except ohncp.InternalError as exc:
        assert exc.code == lib.NCP_ERR_INTERNAL and "lost" in str(exc), exc
        lost += 1
print(first.wait(timeout=30), ok, lost, lib.shim_events_lost(),
      [type(e).__name__ for e in reported])
"""


def test_full_event_queue_fails_the_waits_it_cannot_vouch_for(basic: Entry, tmp_path: Path) -> None:
    # The ring is limited to 64 entries and the event thread held up, so
    # exits find no room: the count becomes an error every open wait sees,
    # never a wait that blocks for ever.
    code = f"import sys; sys.argv[1:] = [{basic('ExitCode')!r}]\n" + LOST
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    first, ok, lost, counted, reported = done.stdout.split(maxsplit=4)
    assert first == "1"
    # Those queued before the loss was seen got their status; the others failed.
    assert int(ok) >= 64
    assert int(lost) > 0
    assert int(ok) + int(lost) == 300
    assert int(counted) > 0
    assert reported.strip() == "['InternalError']"
