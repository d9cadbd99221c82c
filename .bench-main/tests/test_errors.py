"""Every NCP error reachable in args mode raises its class with its code (behaviour.md §3, §5).

NCP_ERR_BUSY (never returned), NCP_ERR_TIMEOUT and NCP_ERR_CONNECTION_FAILED
(IPC mode), NCP_ERR_SERVICE_ERROR and NCP_ERR_INTERNAL (runtime failures)
and NCP_ERR_CALLBACK_NOT_EXIST (callback registration, which the Python API
does not expose) cannot be provoked from here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import ohncp
from ohncp._ohncp import lib

from helpers import read_until_eof, run_python

Entry = Callable[[str], str]
Pipe = Callable[[], tuple[int, int]]


def start_error(entry: str, *args: object, **kwargs: object) -> ohncp.NativeChildProcessError:
    """Start, expecting a failure; return the exception."""
    try:
        child = ohncp.start(entry, *args, **kwargs)  # type: ignore[arg-type]
    except ohncp.NativeChildProcessError as exc:
        return exc
    child.kill()
    child.wait(timeout=10)
    pytest.fail(f"start({entry!r}) succeeded")


@pytest.mark.parametrize(
    "entry",
    ["", "no_colon_here", ":DemoMain", "libohncp_demo.so:", "../evil/libx.so:Main"],
)
def test_invalid_entry(entry: str) -> None:
    exc = start_error(entry)
    assert type(exc) is ohncp.InvalidParamError
    assert isinstance(exc, ValueError)
    assert exc.code == lib.NCP_ERR_INVALID_PARAM == 401
    assert exc.name == "NCP_ERR_INVALID_PARAM"


def test_invalid_param_has_message() -> None:
    exc = start_error("no_colon_here")
    assert exc.detail != ""
    assert str(exc).startswith("NCP_ERR_INVALID_PARAM (401): ")


def test_params_too_long(basic: Entry) -> None:
    exc = start_error(basic("WriteParams"), "p" * 153601)
    assert type(exc) is ohncp.InvalidParamError


@pytest.mark.parametrize("fd_name", ["", "n" * 21])
def test_bad_fd_name(basic: Entry, pipe: Pipe, fd_name: str) -> None:
    _, w = pipe()
    exc = start_error(basic("WriteByte"), "", {fd_name: w})
    assert type(exc) is ohncp.InvalidParamError


def test_longest_fd_name_is_fine(basic: Entry, pipe: Pipe) -> None:
    r, w = pipe()
    child = ohncp.start(basic("EchoAll"), "p", {"n" * 20: w})
    os.close(w)
    assert read_until_eof(r) == b"n" * 20 + b":p"
    assert child.wait(timeout=10) == 0


def test_bad_fd_number(basic: Entry, pipe: Pipe) -> None:
    _, w = pipe()
    os.close(w)  # closed: not open in the caller
    assert type(start_error(basic("WriteByte"), "", {"out": w})) is ohncp.InvalidParamError
    assert type(start_error(basic("WriteByte"), "", {"out": -1})) is ohncp.InvalidParamError


def test_too_many_fds(basic: Entry, pipe: Pipe) -> None:
    _, w = pipe()
    exc = start_error(basic("WriteByte"), "", {f"fd{i}": w for i in range(17)})
    assert type(exc) is ohncp.InvalidParamError


def test_missing_library(tmp_path: Path) -> None:
    exc = start_error(f"{tmp_path}/libdoes_not_exist.so:Main")
    assert type(exc) is ohncp.LibLoadingFailedError
    assert exc.code == lib.NCP_ERR_LIB_LOADING_FAILED == 16010007
    assert exc.detail != ""  # the runtime says why (dlopen's error)


def test_missing_symbol(basic: Entry) -> None:
    exc = start_error(basic("NoSuchFunction"))
    assert type(exc) is ohncp.LibLoadingFailedError
    assert exc.code == 16010007


def test_not_a_library(tmp_path: Path) -> None:
    junk = tmp_path / "libjunk.so"
    junk.write_bytes(b"not an ELF file")
    assert type(start_error(f"{junk}:Main")) is ohncp.LibLoadingFailedError


def test_isolated_mode(basic: Entry, pipe: Pipe) -> None:
    # behaviour.md §5: isolated children run in their own namespaces, or the
    # start fails with NOT_SUPPORTED; never silently unisolated.
    r, w = pipe()
    error: ohncp.NativeChildProcessError | None = None
    try:
        child = ohncp.start(basic("NetNs"), "", {"out": w}, isolation="isolated")
    except ohncp.NativeChildProcessError as exc:
        error = exc
    if error is not None:
        assert type(error) is ohncp.NotSupportedError
        assert error.code == lib.NCP_ERR_NOT_SUPPORTED == 801
        return
    os.close(w)
    child_ns = read_until_eof(r).decode()
    assert child.wait(timeout=10) == 0
    assert child_ns != os.readlink("/proc/self/ns/net")


def test_unknown_isolation_is_rejected(basic: Entry) -> None:
    with pytest.raises(ValueError, match="isolation"):
        ohncp.start(basic("WriteByte"), isolation="sandboxed")  # type: ignore[arg-type]


def test_start_inside_a_child(basic: Entry, pipe: Pipe) -> None:
    r, w = pipe()
    child = ohncp.start(basic("StartFromChild"), basic("WriteByte"), {"out": w})
    os.close(w)
    assert read_until_eof(r) == str(lib.NCP_ERR_ALREADY_IN_CHILD).encode() == b"16010005"
    assert child.wait(timeout=10) == 0


def test_kill_a_process_that_is_not_a_child() -> None:
    # A real process, so a runtime that kill()ed any pid would be caught.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(ohncp.InvalidPidError) as info:
            ohncp.kill_child_process(stranger.pid)
        assert info.value.code == lib.NCP_ERR_INVALID_PID == 16010010
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()
    with pytest.raises(ohncp.InvalidPidError):
        ohncp.kill_child_process(os.getpid())


def test_kill_child_process_by_pid(basic: Entry) -> None:
    child = ohncp.start(basic("SleepForever"))
    try:
        ohncp.kill_child_process(child.pid)
    finally:
        child.kill()
        assert child.wait(timeout=10) == -9
    with pytest.raises(ohncp.InvalidPidError):
        ohncp.kill_child_process(child.pid)


MULTI_PROCESS_OFF = """
import json, ohncp
result = {"supported": ohncp.is_supported()}
try:
    ohncp.start(ENTRY).wait(timeout=10)
    result["error"] = None
except ohncp.NativeChildProcessError as exc:
    result["error"] = [type(exc).__name__, exc.code]
print(json.dumps(result))
"""


def test_multi_process_disabled(basic: Entry, tmp_path: Path) -> None:
    code = MULTI_PROCESS_OFF.replace("ENTRY", repr(basic("ExitCode")))
    done = run_python(code, tmp_path, {"OHNCP_MULTI_PROCESS": "0"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "supported": False,
        "error": ["MultiProcessDisabledError", 16010004],
    }


MAX_CHILDREN = """
import json, ohncp
entry = ENTRY
children = [ohncp.start(entry) for _ in range(4)]
result = {}
try:
    ohncp.start(entry)
    result["fifth"] = None
except ohncp.NativeChildProcessError as exc:
    result["fifth"] = [type(exc).__name__, exc.code]
# A slot is free again once a child has exited and been reaped.
children[0].kill()
children[0].wait(timeout=10)
children[0] = ohncp.start(entry)
for child in children:
    child.kill()
    child.wait(timeout=10)
result["codes"] = [child.returncode for child in children]
print(json.dumps(result))
"""


def test_max_children(basic: Entry, tmp_path: Path) -> None:
    code = MAX_CHILDREN.replace("ENTRY", repr(basic("SleepForever")))
    done = run_python(code, tmp_path, {"OHNCP_MAX_CHILDREN": "4"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "fifth": ["MaxChildProcessesReachedError", 16010006],
        "codes": [-9, -9, -9, -9],
    }


LIBRARY_PATH = """
import ohncp
print(ohncp.start("LIBNAME:ExitCode", "5").wait(timeout=10))
"""


def test_library_found_through_ohncp_library_path(
    child_libs: dict[str, Path], tmp_path: Path
) -> None:
    path = child_libs["basic"]
    code = LIBRARY_PATH.replace("LIBNAME", path.name)
    done = run_python(code, tmp_path, {"OHNCP_LIBRARY_PATH": f"/nonexistent:{path.parent}"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "5"


AFTER_FORK = """
import os, ohncp
entry = ENTRY
before = ohncp.start(entry, "4")
pid = os.fork()
if pid == 0:
    # The forked process has a runtime of its own: the parent's child is
    # not its child, and it can start and reap children of its own.
    try:
        before.poll()
        status = 10
    except ChildProcessError:
        status = 20
    del before
    status += ohncp.start(entry, "2").wait(timeout=10)
    os._exit(status)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status), before.wait(timeout=10))
"""


def test_fork_of_the_parent(basic: Entry, tmp_path: Path) -> None:
    code = AFTER_FORK.replace("ENTRY", repr(basic("ExitCode")))
    done = run_python(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["22", "4"]


# ---- messages that name the value ----


@pytest.mark.parametrize(
    ("name", "needle"),
    [("", 'fd name "" of fd 1 is empty'), ("n" * 21, 'fd name "nnnnnnnnnnnnnnnnnnnn..." of')],
)
def test_bad_fd_name_is_named(name: str, needle: str) -> None:
    with pytest.raises(ohncp.InvalidParamError) as info:
        ohncp.start("libno_such_child.so:Main", fds={name: 1})
    assert needle in str(info.value)
    assert "must be 1..20 bytes" in str(info.value)


def test_parcel_over_its_limit_says_the_limit() -> None:
    with ohncp.Parcel() as parcel:
        with pytest.raises(ohncp.ParcelWriteError, match="300000 bytes: the parcel holds 0 bytes"):
            parcel.write_bytes(b"x" * 300_000)
        parcel.write_bytes(b"x" * 204_800)
        with pytest.raises(ohncp.ParcelWriteError, match=r"limit of 204800 bytes \(200 KiB\)"):
            parcel.write_int32(1)


def test_parcel_write_of_a_closed_fd_says_so() -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with ohncp.Parcel() as parcel, pytest.raises(ohncp.CheckParamError) as info:
        parcel.write_fd(r)
    assert f"fd {r} is not an open file descriptor" in str(info.value)
