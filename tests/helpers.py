"""Helpers for the tests (imported by the test modules and conftest.py)."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
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
