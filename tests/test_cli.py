"""``python -m ohncp``: build flags, version, demo."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import ohncp


def run_cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Run from a temporary directory: from the source tree, -m would import
    # the uncompiled package there.
    return subprocess.run(
        [sys.executable, "-m", "ohncp", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cflags(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--cflags")
    assert done.returncode == 0, done.stderr
    (flag,) = shlex.split(done.stdout)
    assert flag == f"-I{ohncp.get_include()}"
    assert (Path(flag[2:]) / "native_child_process.h").is_file()


def test_libs(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--libs")
    assert done.returncode == 0, done.stderr
    libdir = ohncp.get_library_dir()
    assert shlex.split(done.stdout) == [
        f"-L{libdir}",
        f"-Wl,-rpath,{libdir}",
        "-lchild_process",
        "-lipc_capi",
    ]


def test_cflags_and_libs_together(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--cflags", "--libs")
    assert done.returncode == 0, done.stderr
    flags = shlex.split(done.stdout)
    assert flags[0].startswith("-I")
    assert "-lchild_process" in flags


def test_flags_build_a_program(tmp_path: Path) -> None:
    source = tmp_path / "probe.c"
    source.write_text(
        "#include <AbilityKit/native_child_process.h>\n"
        "#include <IPCKit/ipc_kit.h>\n"
        "#include <stdio.h>\n"
        "int main(void) {\n"
        '    printf("%d\\n", (int)OH_Ability_IsNativeChildProcessSupported());\n'
        "    return 0;\n"
        "}\n"
    )
    flags = shlex.split(run_cli(tmp_path, "--cflags", "--libs").stdout)
    program = tmp_path / "probe"
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(program), str(source), *flags], check=True)
    done = subprocess.run([str(program)], capture_output=True, text=True, check=True, timeout=30)
    assert done.stdout.strip() == "1"


def test_version(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"ohncp {ohncp.__version__}"


def test_help(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--help")
    assert done.returncode == 0
    assert "--cflags" in done.stdout
    assert "demo" in done.stdout


def test_nothing_asked_is_a_usage_error(tmp_path: Path) -> None:
    assert run_cli(tmp_path).returncode == 2


def test_demo(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "demo", "--params", "greetings from pytest")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    pid_line = next(line for line in lines if line.startswith("child pid: "))
    pid = int(pid_line.split(": ")[1])
    assert any(f"native child {pid}" in line and "greetings from pytest" in line for line in lines)
    assert "child exited with status 0" in lines
