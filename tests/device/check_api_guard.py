"""API-level guards: ohncp against a runtime that lacks newer functions.

Run by scripts/test-targets.sh with the python of a venv in which ohncp was
installed with ``OHNCP_BACKEND=system`` against a copy of the runtime built
with one of the version scripts next to this file::

    python check_api_guard.py api19 CHILDREN   # exports_api19.map
    python check_api_guard.py api22 CHILDREN   # exports_api22.map

CHILDREN is a directory holding libbasic.so and libipc_child.so, built
from tests/children/basic.c and ipc_child.c. Prints one
line per check and exits non-zero on the first failure.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import ohncp
from ohncp._ohncp import lib


def expect_not_supported(call: Callable[[], object], level: str) -> None:
    try:
        call()
    except ohncp.NotSupportedError as exc:
        if f"API level {level}" not in str(exc) or exc.code != lib.NCP_ERR_NOT_SUPPORTED:
            raise AssertionError(f"wrong error: {exc!r}") from exc
        print(f"ok   NotSupportedError: {exc}")
        return
    raise AssertionError(f"no NotSupportedError naming API level {level}")


def check_api19(basic: str) -> None:
    # The import above worked; the newer calls say which level they need.
    assert not lib.ohncp_api_exact_exit_status()
    assert not lib.ohncp_api_has(b"OH_Ability_KillChildProcess")
    assert not lib.ohncp_api_has(b"OH_Ohncp_GetLastErrorMessage")
    expect_not_supported(lambda: ohncp.kill_child_process(1), "22")
    expect_not_supported(lambda: ohncp.on_child_exit(print), "20")
    expect_not_supported(lambda: ohncp.start(f"{basic}:ExitCode", "0"), "20")
    assert ohncp.is_supported() is False
    print("ok   is_supported() is False without the API 20 functions")
    expect_not_supported(ohncp.children, "26.1")


def check_api22(basic: str) -> None:
    # No exact wait status: exits come through the SDK callback.
    assert not lib.ohncp_api_exact_exit_status()
    assert lib.ohncp_api_has(b"OH_Ability_KillChildProcess")
    assert not lib.ohncp_api_has(b"OH_Ability_IsNativeChildProcessSupported")
    assert ohncp.is_supported() is True
    print("ok   is_supported() is True without API 26 (the API 20 set is there)")
    for code in (0, 3, 200):
        with ohncp.start(f"{basic}:ExitCode", str(code)) as child:
            assert child.wait(timeout=10) == code, child.returncode
    print("ok   exit codes 0, 3, 200 through the SDK exit callback")
    child = ohncp.start(f"{basic}:SleepForever")
    child.kill()
    assert child.wait(timeout=10) == -9, child.returncode
    print("ok   kill() reads as -9")
    try:
        ohncp.start(f"{basic}:NoSuchFunction")
    except ohncp.LibLoadingFailedError as exc:
        print(f"ok   LibLoadingFailedError without the message extension: {exc}")
    else:
        raise AssertionError("a missing entry function started")
    with ohncp.connect(Path(basic).with_name("libipc_child.so")) as proxy:
        assert proxy is not None
        try:
            print(proxy.pid)
        except ohncp.NotSupportedError as exc:
            if "OH_Ohncp_RemoteProxyGetPid" not in str(exc):
                raise AssertionError(f"wrong error: {exc!r}") from exc
            print(f"ok   RemoteProxy.pid without the host extension: {exc}")
        else:
            raise AssertionError("RemoteProxy.pid without the extension")
    print("ok   IPC mode connects")
    assert ohncp.current_args() is None  # API 17 is there; not in a child
    expect_not_supported(ohncp.children, "26.1")
    try:
        ohncp.connect(Path(basic).with_name("libnot_there.so"))
    except ohncp.LibLoadingFailedError as exc:
        if "cannot load" in str(exc):  # the reason comes through an extension
            raise AssertionError(f"a reason without the extension: {exc!r}") from exc
        print(f"ok   a failed connect without the reason extension: {exc}")
    else:
        raise AssertionError("a missing library connected")


def main() -> None:
    mode, basic = sys.argv[1], str(Path(sys.argv[2]) / "libbasic.so")
    print(f"runtime in use: {ohncp.get_library_dir()}")
    {"api19": check_api19, "api22": check_api22}[mode](basic)
    print(f"check_api_guard {mode}: all passed")


if __name__ == "__main__":
    main()
