"""Soak and fault tests: churn, thread storms, killed and stopped helpers, fd exhaustion.

Each test runs for ``OHNCP_STRESS_SECONDS`` (default 2: the short form that
``pytest tests`` runs in CI); ``scripts/soak.sh`` runs them for minutes.
With ``OHNCP_STRESS_REPORT=FILE`` each test appends one JSON line of
figures (counts, worst latencies) to FILE, which the soak script prints.

What every test holds to, whatever the load: a call that returned success
did what it said (a kill kills, a wait gets that child's own status), a
failure is one of the documented errors, and nothing is left behind (no
child, no slot, no orphan).
"""

from __future__ import annotations

import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp
from ohncp.demo import CALC_ADD, CALC_EXIT, CALC_LIBRARY

from helpers import eventually, is_running, native_children, run_python, spawner_processes

Entry = Callable[[str], str]

SECONDS = float(os.environ.get("OHNCP_STRESS_SECONDS", "2"))
MAX_CHILDREN = 512


def report(test: str, **figures: Any) -> None:
    """Append this test's figures to OHNCP_STRESS_REPORT, if set."""
    path = os.environ.get("OHNCP_STRESS_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"test": test, "seconds": SECONDS, **figures}) + "\n")


def spawner_and_standbys() -> tuple[int | None, list[int]]:
    """The spawner of this process and its standby children."""
    spawner, standbys, _ = spawner_processes()
    return spawner, standbys


class ExitCounter:
    """Counts on_child_exit calls per pid."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: collections.Counter[int] = collections.Counter()

    def __call__(self, pid: int, signal_or_code: int) -> None:
        with self.lock:
            self.counts[pid] += 1

    def snapshot(self) -> collections.Counter[int]:
        with self.lock:
            return collections.Counter(self.counts)


@pytest.fixture
def exit_counter() -> Iterator[ExitCounter]:
    counter = ExitCounter()
    with ohncp.on_child_exit(counter):
        yield counter


def kill_all(children: list[ohncp.ChildProcess]) -> None:
    for child in children:
        child.kill()
    for child in children:
        child.wait(timeout=30)


def test_churn_of_512_children_with_random_kills(basic: Entry, exit_counter: ExitCounter) -> None:
    rng = random.Random(1)
    live: list[ohncp.ChildProcess] = []
    started: list[int] = []
    kills = refused = 0
    worst_kill = 0.0
    end = time.monotonic() + SECONDS
    try:
        while True:
            while len(live) < MAX_CHILDREN:
                child = ohncp.start(basic("SleepForever"))
                live.append(child)
                started.append(child.pid)
            with pytest.raises(ohncp.MaxChildProcessesReachedError):
                ohncp.start(basic("SleepForever")).kill()  # the 513th
            refused += 1
            if time.monotonic() >= end:
                break
            victims = rng.sample(live, rng.randint(1, 96))
            for victim in victims:
                killed_at = time.monotonic()
                victim.kill()
                assert victim.wait(timeout=10) == -signal.SIGKILL
                worst_kill = max(worst_kill, time.monotonic() - killed_at)
                live.remove(victim)
            kills += len(victims)
    finally:
        kill_all(live)
    # Exactly one exit callback per child, none lost, none doubled. (Over a
    # long run pids are reused: a pid started n times has n exits.)
    starts = collections.Counter(started)
    assert eventually(lambda: exit_counter.snapshot() == starts, 30), (
        sum(starts.values()) - sum(exit_counter.snapshot().values())
    )
    time.sleep(0.2)
    assert exit_counter.snapshot() == starts
    assert native_children() == set()
    report(
        "churn_512",
        children=len(started),
        kills=kills,
        refused_513th=refused,
        worst_kill_to_exit_ms=round(worst_kill * 1000, 1),
    )


def test_thread_storm(basic: Entry) -> None:
    """32 threads mixing args starts, waits, kills and IPC children."""
    end = time.monotonic() + SECONDS
    ops: collections.Counter[str] = collections.Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            while time.monotonic() < end:
                op = rng.choice(("exit", "exit", "kill", "ipc"))
                if op == "exit":
                    code = rng.randint(0, 120)
                    with ohncp.start(basic("ExitCode"), str(code)) as child:
                        assert child.wait(timeout=30) == code
                elif op == "kill":
                    with ohncp.start(basic("SleepForever")) as child:
                        child.kill()
                        assert child.wait(timeout=30) == -signal.SIGKILL
                else:
                    a, b = rng.randint(0, 1000), rng.randint(0, 1000)
                    try:
                        calc = ohncp.connect(CALC_LIBRARY, timeout=30)
                    except ohncp.MaxChildProcessesReachedError:
                        op = "ipc_refused"  # 50 IPC children at once: the limit
                    else:
                        with calc:
                            reply = calc.send_request(
                                CALC_ADD, ohncp.Parcel().write_int32(a).write_int32(b)
                            )
                            assert reply.read_int32() == a + b
                            calc.send_request(CALC_EXIT, ohncp.Parcel())
                with lock:
                    ops[op] += 1
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=SECONDS + 120)
        assert not thread.is_alive(), "a storm thread hangs"
    assert errors == []
    assert eventually(lambda: native_children() == set(), 30)
    report("thread_storm", threads=32, **ops)


def _starts_under_fault(
    basic: Entry, fault: Callable[[], None], every: float
) -> collections.Counter[str]:
    """Start-and-wait in 4 threads while ``fault`` runs every ``every`` s; count outcomes."""
    end = time.monotonic() + SECONDS
    outcomes: collections.Counter[str] = collections.Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def starter(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < end:
            code = rng.randint(1, 100)
            try:
                with ohncp.start(basic("ExitCode"), str(code)) as child:
                    status = child.wait(timeout=30)
                outcome = "ok" if status == code else f"killed:{status}"
            except ohncp.ServiceError:
                outcome = "ServiceError"
            except BaseException as exc:
                with lock:
                    errors.append(exc)
                return
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=starter, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads) and time.monotonic() < end:
        fault()
        time.sleep(every)
    for thread in threads:
        thread.join(timeout=120)
        assert not thread.is_alive(), "a start hangs"
    assert errors == []
    return outcomes


def _all_slots_usable(basic: Entry) -> None:
    children = [ohncp.start(basic("SleepForever")) for _ in range(MAX_CHILDREN)]
    kill_all(children)


def test_standbys_killed_while_starts_run(basic: Entry) -> None:
    killed = 0

    def kill_a_standby() -> None:
        nonlocal killed
        _, standbys = spawner_and_standbys()
        if standbys:
            try:
                os.kill(random.choice(standbys), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass

    outcomes = _starts_under_fault(basic, kill_a_standby, 0.02)
    # A child killed in its standby days may also be one that had just
    # taken a start: then its start or its wait says so (SIGKILL).
    assert set(outcomes) <= {"ok", "ServiceError", f"killed:{-signal.SIGKILL}"}, outcomes
    assert outcomes["ok"] > 0
    _all_slots_usable(basic)  # no slot leaked
    report("standby_kills", standbys_killed=killed, **outcomes)


def test_spawner_killed_while_starts_run(basic: Entry) -> None:
    killed = 0

    def kill_the_spawner() -> None:
        nonlocal killed
        spawner, _ = spawner_and_standbys()
        if spawner is not None:
            try:
                os.kill(spawner, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass

    outcomes = _starts_under_fault(basic, kill_the_spawner, max(0.2, SECONDS / 10))
    # The children of a killed spawner die with it (SIGKILL).
    assert set(outcomes) <= {"ok", "ServiceError", f"killed:{-signal.SIGKILL}"}, outcomes
    assert killed > 0
    _all_slots_usable(basic)
    assert eventually(lambda: native_children() == set(), 30)
    report("spawner_kills", spawners_killed=killed, **outcomes)


def test_spawner_stopped_then_continued(basic: Entry) -> None:
    ohncp.start(basic("ExitCode"), "0").wait(timeout=30)  # a spawner is up
    spawner, _ = spawner_and_standbys()
    assert spawner is not None
    codes = list(range(1, 9))
    children: list[ohncp.ChildProcess] = []
    os.kill(spawner, signal.SIGSTOP)
    try:
        for code in codes[:2]:  # the standbys take starts without the spawner
            children.append(ohncp.start(basic("ExitCode"), str(code)))
        time.sleep(min(SECONDS, 1.0))
    finally:
        os.kill(spawner, signal.SIGCONT)
    for code in codes[2:]:
        children.append(ohncp.start(basic("ExitCode"), str(code)))
    assert [child.wait(timeout=30) for child in children] == codes
    report("spawner_stopped", starts=len(children))


FD_EXHAUSTION = """
import os, resource, ohncp
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
ohncp.start(ENTRY, "0").wait(timeout=30)  # the runtime is up
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
held = []
try:
    while True:
        held.append(os.open("/dev/null", os.O_RDONLY))
except OSError:
    pass
failures = set()
for _ in range(20):
    try:
        ohncp.start(ENTRY, "3").wait(timeout=30)
    except ohncp.NativeChildProcessError as exc:
        failures.add(type(exc).__name__)
for fd in held:
    os.close(fd)
codes = [ohncp.start(ENTRY, str(i)).wait(timeout=30) for i in range(5)]
print(sorted(failures), codes)
"""


def test_fd_exhaustion_fails_starts_cleanly_then_recovers(basic: Entry, tmp_path: Path) -> None:
    code = FD_EXHAUSTION.replace("ENTRY", repr(basic("ExitCode")))
    done = run_python(code, tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    failures, codes = done.stdout.rsplit("] ", 1)
    assert codes.strip() == "[0, 1, 2, 3, 4]"
    report("fd_exhaustion", failures=failures + "]")


PARENT = """
import os, sys, ohncp
from ohncp.demo import CALC_LIBRARY
out = open(sys.argv[1], "a", buffering=1)
proxies = []
while True:
    child = ohncp.start(ENTRY)
    out.write(f"{child.pid}\\n")
    if len(proxies) < 8:
        proxies.append(ohncp.connect(CALC_LIBRARY))
        out.write(f"{proxies[-1].pid}\\n")
"""


def test_parent_killed_at_random_moments_leaves_no_orphan(
    basic: Entry, tmp_path: Path
) -> None:
    rng = random.Random(3)
    rounds = max(3, int(SECONDS * 2))
    script = tmp_path / "parent.py"
    script.write_text(PARENT.replace("ENTRY", repr(basic("SleepForever"))), encoding="utf-8")
    orphans: list[int] = []
    total = 0
    for i in range(rounds):
        pids_file = tmp_path / f"pids{i}"
        parent = subprocess.Popen([sys.executable, str(script), str(pids_file)], cwd=tmp_path)
        time.sleep(rng.uniform(0.3, 1.5))
        parent.kill()
        parent.wait(timeout=30)
        pids = [int(line) for line in pids_file.read_text().split()] if pids_file.exists() else []
        total += len(pids)

        def gone(pids: list[int] = pids) -> bool:
            return not any(is_running(pid) for pid in pids)

        if not eventually(gone, 10):
            orphans.extend(pid for pid in pids if is_running(pid))
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    assert orphans == []
    report("parent_sigkill", rounds=rounds, children=total, orphans=len(orphans))

