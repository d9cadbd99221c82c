"""Helpers for the tests (imported by the test modules and conftest.py)."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest


def close_quietly(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def read_until_eof(fd: int, timeout: float = 10.0) -> bytes:
    """Read until EOF; fail (instead of hanging) if it does not come in time."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no EOF on fd {fd} within {timeout} s (someone holds the write end)")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


def run_python(
    code: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter (cwd: a temporary directory)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    return int(stat[stat.rindex(b")") + 2 :].split()[1])


def is_running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie awaiting its reaper does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 :].split()[0] != b"Z"


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def native_children() -> set[int]:
    """Pids of this process's native children that are not yet reaped.

    They are the children of the spawner (a child of this process), except
    the spawner's pre-forked standbys, which still carry its command line.
    A zombie (empty command line) counts: it holds its slot until reaped.
    """
    return spawner_processes()[2]


def _by_parent() -> dict[int, list[int]]:
    by_parent: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            by_parent.setdefault(_parent_of(int(entry)), []).append(int(entry))
    return by_parent


def _is_spawner(pid: int) -> bool:
    try:
        return b"ohncp-spawner" in _cmdline(pid)
    except OSError:
        return False


def spawner_processes() -> tuple[int | None, list[int], set[int]]:
    """This process's spawner, its standbys and its native children (unreaped ones too)."""
    by_parent = _by_parent()
    spawner = next((pid for pid in by_parent.get(os.getpid(), []) if _is_spawner(pid)), None)
    below = by_parent.get(spawner, []) if spawner is not None else []
    standbys = [pid for pid in below if _is_spawner(pid)]
    return spawner, standbys, set(below) - set(standbys)


def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        time.sleep(0.01)
    return True
