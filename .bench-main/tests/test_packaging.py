"""How the package is built and what a source build needs (setup.py, pyproject.toml)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bin_with(tmp_path: Path, names: list[str]) -> Path:
    """Return a directory holding only the named tools."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in names:
        found = shutil.which(name)
        if found is None:
            pytest.skip(f"{name} is not installed here")
        (bin_dir / name).symlink_to(found)
    return bin_dir


def _build_ext(tmp_path: Path, bin_dir: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("setuptools")
    env = {k: v for k, v in os.environ.items() if k not in ("CC", "CMAKE_GENERATOR")}
    env["PATH"] = str(bin_dir)
    return subprocess.run(
        [
            sys.executable,  # by its own path: the venv's, with its setuptools
            "setup.py",
            "build_ext",
            "--build-temp",
            str(tmp_path / "temp"),
            "--build-lib",
            str(tmp_path / "lib"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_missing_c_compiler_is_one_sentence(tmp_path: Path) -> None:
    result = _build_ext(tmp_path, _bin_with(tmp_path, ["cmake", "make"]))
    assert result.returncode != 0
    assert "ohncp: building from source needs a C compiler" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "temp" / "ohncp-runtime").exists()  # stopped before CMake


def test_missing_make_and_ninja_is_one_sentence(tmp_path: Path) -> None:
    result = _build_ext(tmp_path, _bin_with(tmp_path, ["cmake", "cc"]))
    assert result.returncode != 0
    assert "needs make or ninja, and neither is on PATH" in result.stderr
    assert "CMake Error" not in result.stdout + result.stderr
