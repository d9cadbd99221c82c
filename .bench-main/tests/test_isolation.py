"""Isolated mode and isolation_uid from Python (behaviour.md §5).

The child library (tests/children/sandbox.c) tries, from inside its
sandbox, what an isolated child must not do, and reports each result. The C
tests (tests/c/test_isolation.c) cover the rest, the refusal included.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import ohncp

from helpers import read_until_eof

Entry = Callable[[str], str]
IpcLib = Callable[[str], str]
Pipe = Callable[[], tuple[int, int]]

UID_BASE = 1_000_000_000  # src/sandbox.h
UID_SPAN = 1 << 22


@pytest.fixture
def params(tmp_path: Path) -> Iterator[str]:
    """ "ppid;port;dir;secret" for the probe: a loopback listener, a
    directory anyone may write, and a file only our uid may read."""
    tmp_path.chmod(0o777)
    secret = tmp_path / "secret"
    secret.write_text("s")
    secret.chmod(stat.S_IRUSR | stat.S_IWUSR)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        yield f"{os.getpid()};{port};{tmp_path};{secret}"


def parse(answer: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in answer.split(";") if item)


def probe(entry: str, params: str, pipe: Pipe, **kwargs: Any) -> dict[str, str]:
    r, w = pipe()
    child = ohncp.start(entry, params, {"out": w}, **kwargs)
    os.close(w)
    answer = parse(read_until_eof(r).decode())
    assert child.wait(timeout=10) == 0
    return answer


@pytest.fixture(scope="session")
def sandbox_entry(child_libs: dict[str, Path]) -> str:
    return f"{child_libs['sandbox']}:Probe"


def assert_isolated(answer: dict[str, str]) -> None:
    assert answer["netns"] != os.readlink("/proc/self/ns/net")
    assert answer["nnp"] == "1"
    for denied in ("tcp_local", "write_dir", "write_tmp", "kill_parent", "ptrace_parent"):
        assert answer[denied] != "ok", (denied, answer)
    assert answer["write_data"] == "ok"


def test_normal_mode_can_do_it_all(sandbox_entry: str, params: str, pipe: Pipe) -> None:
    answer = probe(sandbox_entry, params, pipe)
    assert answer["netns"] == os.readlink("/proc/self/ns/net")
    for allowed in ("tcp_local", "write_dir", "write_tmp", "kill_parent", "read_secret"):
        assert answer[allowed] == "ok", (allowed, answer)
    assert answer["write_data"] != "ok"  # no data directory outside isolated mode


def test_isolated(sandbox_entry: str, params: str, pipe: Pipe) -> None:
    answer = probe(sandbox_entry, params, pipe, isolation="isolated")
    assert_isolated(answer)
    assert int(answer["uid"]) == os.getuid()


def test_isolated_with_own_uid(sandbox_entry: str, params: str, pipe: Pipe) -> None:
    answer = probe(sandbox_entry, params, pipe, isolation="isolated", isolation_uid=True)
    assert_isolated(answer)
    uid = int(answer["uid"])
    assert uid != os.getuid()
    assert UID_BASE <= uid < UID_BASE + UID_SPAN
    assert answer["read_secret"] != "ok"


def test_isolated_process_name(
    child_libs: dict[str, Path], pipe: Pipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OHNCP_BUNDLE_NAME", "py.bundle")
    (r, w), (r_in, w_in) = pipe(), pipe()
    entry = f"{child_libs['sandbox']}:Hold"
    fds = {"out": w, "in": r_in}
    with ohncp.start(entry, "", fds, isolation="isolated", process_name="iso_child") as child:
        assert os.read(r, 1) == b"r"
        with open(f"/proc/{child.pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{child.pid}/comm", "rb") as f:
            comm = f.read()
        os.close(w_in)
    assert cmdline.rstrip(b"\0") == b"py.bundle:iso_child"
    assert comm == b"py.bundle:iso_c\n"


def test_isolated_ipc(ipc_lib: IpcLib, params: str) -> None:
    with ohncp.connect(ipc_lib("sandbox"), isolation="isolated", isolation_uid=True) as proxy:
        for _ in range(3):
            answer = parse(proxy.send_request(1, ohncp.Parcel().write_string(params)).read_string())
            assert_isolated(answer)
            assert answer["read_secret"] != "ok"
        proxy.send_request(2)
