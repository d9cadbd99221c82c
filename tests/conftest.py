"""Shared fixtures: child libraries built once per session, and children that never leak.

The child libraries are compiled from tests/children/*.c with ``cc`` and the
flags that ``python -m ohncp --cflags --libs`` prints, exactly as a user
would build one. Subprocesses run with the temporary directory as working
directory, so ``python -m ohncp`` imports the installed package and not the
source tree (which has no compiled extension).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp
from ohncp import _events

from helpers import close_quietly

CHILDREN_SOURCES = Path(__file__).resolve().parent / "children"


def build_flags(cwd: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "ohncp", "--cflags", "--libs"],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return shlex.split(out)


@pytest.fixture(scope="session")
def child_libs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Map stem -> path of each library built from tests/children/<stem>.c."""
    out_dir = tmp_path_factory.mktemp("children")
    flags = build_flags(out_dir)
    built = {}
    for source in sorted(CHILDREN_SOURCES.glob("*.c")):
        target = out_dir / f"libohncp_test_{source.stem}.so"
        subprocess.run(
            [
                "cc",
                "-shared",
                "-fPIC",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-o",
                str(target),
                str(source),
                *flags,
            ],
            check=True,
        )
        built[source.stem] = target
    return built


EMBED_SOURCE = Path(__file__).resolve().parent / "children_embed" / "embed_python.c"


@pytest.fixture(scope="session")
def embed_python_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A child library with an entry ``RunPython`` that runs Python code (see its source)."""
    import sysconfig

    if not sysconfig.get_config_var("Py_ENABLE_SHARED"):
        pytest.skip("this Python has no shared libpython to embed")
    out_dir = tmp_path_factory.mktemp("embed")
    libdir = str(sysconfig.get_config_var("LIBDIR"))
    version = str(sysconfig.get_config_var("LDVERSION") or sysconfig.get_config_var("VERSION"))
    target = out_dir / "libohncp_test_embed_python.so"
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            "-Wall",
            "-Wextra",
            "-o",
            str(target),
            str(EMBED_SOURCE),
            f"-I{sysconfig.get_paths()['include']}",
            f"-L{libdir}",
            f"-Wl,-rpath,{libdir}",
            f"-lpython{version}",
            f'-DOHNCP_TEST_LIBPYTHON="{sysconfig.get_config_var("LDLIBRARY")}"',
            "-ldl",
            *build_flags(out_dir),
        ],
        check=True,
    )
    return target


@pytest.fixture(scope="session")
def basic(child_libs: dict[str, Path]) -> Callable[[str], str]:
    """Return a function giving the entry string for a function of basic.c."""
    path = child_libs["basic"]
    return lambda function: f"{path}:{function}"


@pytest.fixture(scope="session")
def ipc_lib(child_libs: dict[str, Path]) -> Callable[[str], str]:
    """Return a function giving the path of the IPC-mode library built from <stem>.c."""
    return lambda stem: str(child_libs[stem])


@pytest.fixture
def spawn() -> Iterator[Callable[..., ohncp.ChildProcess]]:
    """ohncp.start, with every child started through it killed and reaped at the end."""
    started: list[ohncp.ChildProcess] = []

    def start(*args: Any, **kwargs: Any) -> ohncp.ChildProcess:
        child = ohncp.start(*args, **kwargs)
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            child.kill()
            child.wait(timeout=30)


@pytest.fixture(autouse=True)
def _no_tracked_children() -> Iterator[None]:
    """Fail a test that leaves a child handle behind in the shim's table."""
    yield
    deadline = time.monotonic() + 10
    while _events.loop().tracked() != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _events.loop().tracked() == 0, "a test left a child un-reaped"


@pytest.fixture
def pipe() -> Iterator[Callable[[], tuple[int, int]]]:
    """Return a function making pipes; every end still open is closed at the end."""
    ends: list[int] = []

    def make() -> tuple[int, int]:
        r, w = os.pipe()
        ends.extend((r, w))
        return r, w

    try:
        yield make
    finally:
        for fd in ends:
            close_quietly(fd)
