"""The binding itself: constants from the headers, the exception map, the bundled files."""

from __future__ import annotations

import importlib.metadata
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ohncp
from ohncp import _errors
from ohncp._ohncp import lib

# The SDK's values (behaviour.md §2.1), pinned once here: the binding takes
# them from the compiler, this checks the headers carry the SDK's numbers.
SDK_CODES = {
    "NCP_NO_ERROR": 0,
    "NCP_ERR_INVALID_PARAM": 401,
    "NCP_ERR_NOT_SUPPORTED": 801,
    "NCP_ERR_INTERNAL": 16000050,
    "NCP_ERR_BUSY": 16010001,
    "NCP_ERR_TIMEOUT": 16010002,
    "NCP_ERR_SERVICE_ERROR": 16010003,
    "NCP_ERR_MULTI_PROCESS_DISABLED": 16010004,
    "NCP_ERR_ALREADY_IN_CHILD": 16010005,
    "NCP_ERR_MAX_CHILD_PROCESSES_REACHED": 16010006,
    "NCP_ERR_LIB_LOADING_FAILED": 16010007,
    "NCP_ERR_CONNECTION_FAILED": 16010008,
    "NCP_ERR_CALLBACK_NOT_EXIST": 16010009,
    "NCP_ERR_INVALID_PID": 16010010,
    "NCP_ISOLATION_MODE_NORMAL": 0,
    "NCP_ISOLATION_MODE_ISOLATED": 1,
}

EXCEPTIONS = [
    ("NCP_ERR_INVALID_PARAM", ohncp.InvalidParamError, ValueError),
    ("NCP_ERR_NOT_SUPPORTED", ohncp.NotSupportedError, None),
    ("NCP_ERR_INTERNAL", ohncp.InternalError, None),
    ("NCP_ERR_BUSY", ohncp.BusyError, None),
    ("NCP_ERR_TIMEOUT", ohncp.StartTimeoutError, TimeoutError),
    ("NCP_ERR_SERVICE_ERROR", ohncp.ServiceError, None),
    ("NCP_ERR_MULTI_PROCESS_DISABLED", ohncp.MultiProcessDisabledError, None),
    ("NCP_ERR_ALREADY_IN_CHILD", ohncp.AlreadyInChildError, None),
    ("NCP_ERR_MAX_CHILD_PROCESSES_REACHED", ohncp.MaxChildProcessesReachedError, None),
    ("NCP_ERR_LIB_LOADING_FAILED", ohncp.LibLoadingFailedError, None),
    ("NCP_ERR_CONNECTION_FAILED", ohncp.ConnectionFailedError, None),
    ("NCP_ERR_CALLBACK_NOT_EXIST", ohncp.CallbackNotExistError, None),
    ("NCP_ERR_INVALID_PID", ohncp.InvalidPidError, None),
]


@pytest.mark.parametrize(("name", "value"), sorted(SDK_CODES.items()))
def test_constant_matches_sdk(name: str, value: int) -> None:
    assert getattr(lib, name) == value


def test_invalid_param_is_401() -> None:
    assert lib.NCP_ERR_INVALID_PARAM == 401


@pytest.mark.parametrize(("name", "cls", "builtin"), EXCEPTIONS)
def test_exception_for_code(name: str, cls: type, builtin: type | None) -> None:
    code = getattr(lib, name)
    exc = _errors.error_for_code(code, "why it failed")
    assert type(exc) is cls
    assert isinstance(exc, ohncp.NativeChildProcessError)
    if builtin is not None:
        assert isinstance(exc, builtin)
    assert exc.code == code
    assert exc.name == name
    assert exc.detail == "why it failed"
    assert str(exc) == f"{name} ({code}): why it failed"
    again = pickle.loads(pickle.dumps(exc))
    assert (type(again), again.code, again.detail) == (cls, code, "why it failed")


def test_every_error_code_has_a_class() -> None:
    error_names = {n for n in SDK_CODES if n.startswith("NCP_ERR_")}
    assert error_names == {name for name, _, _ in EXCEPTIONS}


def test_unknown_code_gives_base_class() -> None:
    exc = _errors.error_for_code(12345)
    assert type(exc) is ohncp.NativeChildProcessError
    assert (exc.code, exc.name, str(exc)) == (12345, "NCP_ERR_UNKNOWN", "NCP_ERR_UNKNOWN (12345)")


def test_check_passes_on_no_error() -> None:
    _errors.check(lib.NCP_NO_ERROR)


def test_version_matches_metadata() -> None:
    assert ohncp.__version__ == importlib.metadata.version("ohncp")


def test_version_is_written_once() -> None:
    root = Path(__file__).resolve().parent.parent
    written = [
        p.relative_to(root).as_posix()
        for p in (root / "pyproject.toml", root / "CMakeLists.txt", root / "src/ohncp/__init__.py")
        if ohncp.__version__ in p.read_text(encoding="utf-8")
    ]
    assert written == []  # they read src/ohncp/_version.py


def test_wheel_is_stable_abi_for_310_and_later() -> None:
    wheel = importlib.metadata.distribution("ohncp").read_text("WHEEL") or ""
    tags = [line.split(": ", 1)[1] for line in wheel.splitlines() if line.startswith("Tag: ")]
    assert tags
    assert all(tag.startswith("cp310-abi3-") for tag in tags), tags


def test_license_metadata() -> None:
    meta = importlib.metadata.metadata("ohncp")
    assert meta["License-Expression"] == "Apache-2.0"
    files = importlib.metadata.files("ohncp") or []
    assert any(f.name == "LICENSE" for f in files)


def test_import_does_not_import_asyncio(tmp_path: Path) -> None:
    code = (
        "import sys, ohncp; print('asyncio' in sys.modules); "
        "ohncp.aio; print('asyncio' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]


def test_all_names_exist() -> None:
    for name in ohncp.__all__:
        assert hasattr(ohncp, name), name


def test_headers_are_bundled() -> None:
    include = Path(ohncp.get_include())
    for header in (
        "native_child_process.h",
        "ohncp_ext.h",
        "ipc_kit.h",
        "AbilityKit/native_child_process.h",
        "IPCKit/ipc_kit.h",
    ):
        assert (include / header).is_file(), header


def test_runtime_is_bundled() -> None:
    libdir = Path(ohncp.get_library_dir())
    for name in ("libchild_process.so", "libipc_capi.so", "libohncp_demo.so", "libohncp_calc.so"):
        assert (libdir / name).is_file(), name
    assert os.access(libdir / "ohncp-spawner", os.X_OK)


def _dynamic_section(path: Path) -> str:
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf not installed")
    return subprocess.run(
        [readelf, "-d", str(path)], capture_output=True, text=True, check=True
    ).stdout


def test_no_build_paths_in_rpaths() -> None:
    # The bundled files find each other through $ORIGIN only: an absolute
    # rpath into a (deleted, temporary) build directory is a hijack risk.
    package = Path(ohncp.__file__).parent
    files = [Path(lib_file) for lib_file in package.glob("_ohncp*.so")]
    files += sorted((package / "_lib").iterdir())
    for path in files:
        for line in _dynamic_section(path).splitlines():
            if "RPATH" in line or "RUNPATH" in line:
                value = line.split("[", 1)[1].rstrip("]")
                for entry in value.split(":"):
                    assert entry.startswith("$ORIGIN"), f"{path.name}: {line.strip()}"


def test_is_supported() -> None:
    assert ohncp.is_supported() is True
