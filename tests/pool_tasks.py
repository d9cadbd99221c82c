"""Task functions for tests/test_pool.py, run inside pool workers.

Only the standard library here: every worker that unpickles one of these
imports this module (and a test module would drag pytest in).
"""

from __future__ import annotations

import ctypes
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

state: dict[str, Any] = {}


def square(x: int) -> int:
    return x * x


def add(x: int, y: int = 0) -> int:
    return x + y


def pid() -> int:
    return os.getpid()


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def interpreter() -> dict[str, Any]:
    return {
        "version": sys.version,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "executable": sys.executable,
        "path": sys.path,
        "cwd": os.getcwd(),
        "argv": sys.argv,
        "env": os.environ.get("OHNCP_POOL_TEST"),
    }


def exit_now(code: int) -> None:
    os._exit(code)


def segfault() -> None:
    ctypes.string_at(0)


def sleep(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def write_pid_and_sleep(path: str, seconds: float) -> None:
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def fail(message: str) -> None:
    raise ValueError(message)


class Unpicklable(Exception):
    def __init__(self) -> None:
        super().__init__("cannot travel")
        self.lock = threading.Lock()


def fail_unpicklable() -> None:
    raise Unpicklable


def make_lock() -> object:
    return threading.Lock()


def chatter(text: str) -> int:
    print(text)
    print(f"{text} on stderr", file=sys.stderr)
    sys.stdout.write("no newline")
    return 7


def set_state(value: str) -> None:
    state["value"] = value


def get_state(_: object = None) -> Any:
    return state.get("value")


def bad_initializer() -> None:
    raise RuntimeError("initializer says no")


def big(data: bytes) -> bytes:
    return data[::-1]


def probe_sandbox(port: int, parent_dir: str) -> dict[str, str]:
    """What an isolated task may do: connect to the parent's listener, write files."""
    out: dict[str, str] = {}
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        out["tcp_local"] = "ok"
    except OSError as exc:
        out["tcp_local"] = repr(exc)
    try:
        Path(parent_dir, "from_worker").write_text("x")
        out["write_dir"] = "ok"
    except OSError as exc:
        out["write_dir"] = repr(exc)
    data = os.environ.get("OHNCP_DATA_DIR")
    try:
        Path(str(data), "mine").write_text("x")
        out["write_data"] = "ok"
    except (OSError, TypeError) as exc:
        out["write_data"] = repr(exc)
    return out


def start_lingering_thread() -> int:
    """A non-daemon thread that keeps the worker's interpreter from finishing."""
    threading.Thread(target=time.sleep, args=(600,)).start()
    return os.getpid()
