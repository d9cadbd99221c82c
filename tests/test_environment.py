"""The child's environment is a snapshot of os.environ, safe against threads changing it.

The race runs OHNCP_TEST_ENV_RACE_S seconds (4 by default, for CI; the
issue's long form is OHNCP_TEST_ENV_RACE_S=15). It runs in a fresh
interpreter, so that a crash shows as that process's death.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import ohncp

from helpers import read_until_eof, run_python

Entry = Callable[[str], str]
IpcLib = Callable[[str], str]

RACE_SECONDS = float(os.environ.get("OHNCP_TEST_ENV_RACE_S", "4"))

RACE = """
import os, sys, threading, time, ohncp

entry, ipc_lib, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
stop = time.monotonic() + seconds
errors = []

def writer():
    # Keys come and go, values change length: setenv reallocates environ
    # and the strings in it while starts run without the GIL.
    i = 0
    while time.monotonic() < stop:
        os.environ[f"OHNCP_RACE_{i % 97}"] = "v" * (i % 500)
        os.environ.pop(f"OHNCP_RACE_{(i + 48) % 97}", None)
        i += 1

def starter(k):
    n = 0
    try:
        while time.monotonic() < stop:
            n += 1
            if n % 10 == 0:
                with ohncp.connect(ipc_lib, timeout=60) as proxy:
                    proxy.send_request(3)
                continue
            code = (k * 31 + n) % 200
            got = ohncp.start(entry, str(code)).wait(timeout=60)
            if got != code:
                errors.append(f"exit {got}, expected {code}")
    except Exception as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=writer)] + [
    threading.Thread(target=starter, args=(k,)) for k in range(3)
]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(len(errors), errors[:3])
"""


def test_environment_changing_during_starts(basic: Entry, ipc_lib: IpcLib, tmp_path: Path) -> None:
    done = run_python(
        "import sys; sys.argv[1:] = "
        + repr([basic("ExitCode"), ipc_lib("ipc_child"), str(RACE_SECONDS)])
        + "\n"
        + RACE,
        tmp_path,
        timeout=RACE_SECONDS + 120,
    )
    # Without the snapshot: SIGSEGV, "double free or corruption" (SIGABRT),
    # or "malformed start request" errors.
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split(maxsplit=1)[0] == "0", done.stdout


def test_child_gets_os_environ_at_the_start(
    basic: Entry, pipe: Callable[[], tuple[int, int]]
) -> None:
    os.environ["OHNCP_TEST_SNAPSHOT"] = "first"
    try:
        r, w = pipe()
        child = ohncp.start(basic("WriteEnv"), "OHNCP_TEST_SNAPSHOT", {"out": w})
        os.close(w)
        assert read_until_eof(r) == b"first"
        assert child.wait(timeout=30) == 0
        del os.environ["OHNCP_TEST_SNAPSHOT"]
        r, w = pipe()
        child = ohncp.start(basic("WriteEnv"), "OHNCP_TEST_SNAPSHOT", {"out": w})
        os.close(w)
        assert read_until_eof(r) == b"(unset)"
        assert child.wait(timeout=30) == 0
    finally:
        os.environ.pop("OHNCP_TEST_SNAPSHOT", None)
