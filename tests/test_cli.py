"""``python -m ohncp``: build flags, version, demo, run, call."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import ohncp

from helpers import eventually


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
        "-lhilog_ndk.z",
        "-lability_runtime",
        "-lbackground_process_manager.z",
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
        "#include <hilog/log.h>\n"
        "#include <stdio.h>\n"
        "int main(void) {\n"
        '    OH_LOG_Print(LOG_APP, LOG_WARN, 1, "probe", "from %{public}s", "hilog");\n'
        '    printf("%d\\n", (int)OH_Ability_IsNativeChildProcessSupported());\n'
        "    return 0;\n"
        "}\n"
    )
    flags = shlex.split(run_cli(tmp_path, "--cflags", "--libs").stdout)
    program = tmp_path / "probe"
    subprocess.run(["cc", "-Wall", "-Werror", "-o", str(program), str(source), *flags], check=True)
    done = subprocess.run([str(program)], capture_output=True, text=True, check=True, timeout=30)
    assert done.stdout.strip() == "1"
    assert " W A00001/probe: from hilog" in done.stderr


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


def test_demo_ipc(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "demo", "--ipc")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "add(19, 23) = 42" in lines
    assert any(line.startswith("child pid: ") for line in lines)
    assert "child exited, exit callback: code/signal 0" in lines


# ---- run ----


@pytest.fixture(scope="session")
def cli_child(child_libs: dict[str, Path]) -> Callable[[str], str]:
    """Entry string for a function of tests/children/cli_child.c."""
    return lambda function: f"{child_libs['cli_child']}:{function}"


def assert_clean_failure(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit status 1, one 'ohncp: ...' line on stderr naming every needle, no traceback."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("ohncp: "), done.stderr
    for needle in needles:
        assert needle in done.stderr


def test_run_params_reach_the_child_through_inherited_stdout(
    tmp_path: Path, cli_child: Callable[[str], str]
) -> None:
    done = run_cli(tmp_path, "run", cli_child("Say"), "--param", "hello there")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "said: hello there\n"
    assert done.stderr == "err: hello there\n"


def test_run_flushes_python_output_first(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    # The CLI prints nothing itself on success, so drive main() from a script
    # that has buffered output pending when the child starts.
    code = (
        "import sys; from ohncp.__main__ import main\n"
        "print('before')\n"
        f"rc = main(['run', {cli_child('Say')!r}, '--param', 'child'])\n"
        "print('after'); sys.exit(rc)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout: buffered
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "before\nsaid: child\nafter\n"


def test_run_fd_modes(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    source = tmp_path / "in.txt"
    source.write_text("file contents\n")
    target = tmp_path / "out.txt"
    target.write_text("old text that is longer than the new\n")
    done = run_cli(
        tmp_path, "run", cli_child("Copy"), "--fd", f"in=r:{source}", "--fd", f"out=w:{target}"
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "file contents\n"  # w: truncates
    done = run_cli(
        tmp_path, "run", cli_child("Copy"), "--fd", f"in={source}", "--fd", f"out=a:{target}"
    )
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "file contents\n" * 2


def test_run_fd_dash_is_stdout_and_stdin(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ohncp",
            "run",
            cli_child("Copy"),
            "--fd",
            "in=r:-",
            "--fd",
            "out=-",
        ],
        cwd=tmp_path,
        input="through stdin and stdout",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "through stdin and stdout"


def test_run_fd_default_mode_creates_the_file(tmp_path: Path, basic: Callable[[str], str]) -> None:
    target = tmp_path / "new.txt"
    done = run_cli(tmp_path, "run", basic("WriteParams"), "--param", "new", "--fd", "out=new.txt")
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "new"


def test_run_fd_path_with_a_colon(tmp_path: Path, basic: Callable[[str], str]) -> None:
    done = run_cli(tmp_path, "run", basic("WriteParams"), "--param", "c", "--fd", "out=./x:y")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x:y").read_text() == "c"


def test_run_fd_open_failure(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    missing = tmp_path / "no" / "such.txt"
    done = run_cli(tmp_path, "run", cli_child("Copy"), "--fd", f"in=r:{missing}", "--fd", "out=-")
    assert_clean_failure(done, "--fd in", str(missing))


@pytest.mark.parametrize("spec", ["out", "=x", "out=", "out=&x", "out=w:", "out=x:foo"])
def test_run_bad_fd_spec_is_a_usage_error(
    tmp_path: Path, cli_child: Callable[[str], str], spec: str
) -> None:
    done = run_cli(tmp_path, "run", cli_child("Copy"), "--fd", spec)
    assert done.returncode == 2, done.stderr
    assert "--fd" in done.stderr


@pytest.mark.parametrize("status", [0, 3, 42, 255])
def test_run_exits_with_the_child_status(
    tmp_path: Path, basic: Callable[[str], str], status: int
) -> None:
    done = run_cli(tmp_path, "run", basic("ExitCode"), "--param", str(status))
    assert done.returncode == status, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize("signo", [signal.SIGSEGV, signal.SIGTERM, signal.SIGKILL])
def test_run_signal_death_is_128_plus_signal(
    tmp_path: Path, cli_child: Callable[[str], str], signo: signal.Signals
) -> None:
    done = run_cli(tmp_path, "run", cli_child("RaiseSignal"), "--param", str(int(signo)))
    assert done.returncode == 128 + signo, done.stderr
    assert f"killed by {signo.name}" in done.stderr


def test_run_missing_library(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "run", "./libohncp_no_such_lib.so:Main")
    assert_clean_failure(done, "libohncp_no_such_lib.so", "NCP_ERR_LIB_LOADING_FAILED")


def test_run_missing_function(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    done = run_cli(tmp_path, "run", cli_child("NoSuchFunction"))
    assert_clean_failure(done, "NoSuchFunction")


def test_run_entry_without_function_is_a_usage_error(
    tmp_path: Path, child_libs: dict[str, Path]
) -> None:
    done = run_cli(tmp_path, "run", str(child_libs["cli_child"]))
    assert done.returncode == 2
    assert "LIBRARY:FUNCTION" in done.stderr


def test_run_bad_process_name(tmp_path: Path, cli_child: Callable[[str], str]) -> None:
    done = run_cli(tmp_path, "run", cli_child("Say"), "--name", "no spaces")
    assert_clean_failure(done, "NCP_ERR_INVALID_PARAM")


def test_run_process_name(tmp_path: Path, basic: Callable[[str], str]) -> None:
    done = run_cli(tmp_path, "run", basic("ExitCode"), "--param", "7", "--name", "cli_named")
    assert done.returncode == 7, done.stderr


def test_run_isolated_works_or_fails_cleanly(
    tmp_path: Path, cli_child: Callable[[str], str]
) -> None:
    done = run_cli(tmp_path, "run", cli_child("Say"), "--param", "iso", "--isolated")
    if done.returncode == 0:
        assert done.stdout == "said: iso\n"
    else:
        assert_clean_failure(done, "NCP_ERR_NOT_SUPPORTED")


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_run_signal_to_the_command_kills_the_child(
    tmp_path: Path, basic: Callable[[str], str], signo: signal.Signals
) -> None:
    cli = subprocess.Popen(
        [sys.executable, "-m", "ohncp", "run", basic("SleepForever"), "--fd", "out=-"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # a signal to our group must not reach it
    )
    try:
        assert cli.stdout is not None
        assert cli.stdout.read(1) == b"r"  # the child is running
        cli.send_signal(signo)
        # EOF on stdout and stderr: every holder is gone, the child too.
        out, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 128 + signo, err
    assert f"{signo.name}: killed child" in err.decode()
    assert out == b""


# ---- call ----


@pytest.fixture(scope="session")
def ipc_child(child_libs: dict[str, Path]) -> str:
    return str(child_libs["ipc_child"])


# Request codes of tests/children/ipc_child.c.
ADD, ECHO, EXIT, RETURN, ABORT, WRITE_HI, PID = range(1, 8)


def test_call_with_int32_args_and_reply(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(
        tmp_path, "call", ipc_child, str(ADD), "--int32", "19", "--int32", "23", "--reply", "int32"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "42\n"


def test_call_values_keep_their_order_and_types(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(
        tmp_path,
        "call",
        ipc_child,
        str(ECHO),
        "--int8", "-5",
        "--uint64", "0xffffffffffffffff",
        "--string", "two words",
        "--double", "2.5",
        "--int16", "-300",
        "--token", "ohncp.test.Token",
        "--float", "0.25",
        "--bytes", "de:ad:be",
        "--uint8", "255",
        "--reply", "int8,uint64,string,double,int16,token,float,bytes:3,uint8",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "-5",
        str(2**64 - 1),
        "two words",
        "2.5",
        "-300",
        "ohncp.test.Token",
        "0.25",
        "de ad be",
        "255",
    ]


def test_call_without_reply_types_dumps_the_bytes(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(
        tmp_path, "call", ipc_child, str(ECHO), "--int32", "0x01020304", "--string", "hi"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "reply: 8 bytes"
    assert lines[1].split()[:9] == ["00000000", "04", "03", "02", "01", "68", "69", "00", "00"]
    assert len(lines) == 2


def test_call_empty_reply(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(ECHO))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "reply: 0 bytes\n"


def test_call_passes_an_fd(tmp_path: Path, ipc_child: str) -> None:
    target = tmp_path / "hi.txt"
    done = run_cli(tmp_path, "call", ipc_child, str(WRITE_HI), "--fd", f"w:{target}")
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "hi"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("out=-", "not NAME=SPEC"),
        ("x:foo", "unknown mode 'x'"),
        ("w:", "no path after w:"),
        ("&x", "&N takes a file descriptor number"),
    ],
)
def test_call_bad_fd_spec_is_a_usage_error(
    tmp_path: Path, ipc_child: str, spec: str, needle: str
) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(WRITE_HI), "--fd", spec)
    assert done.returncode == 2, done.stderr
    assert needle in done.stderr
    assert list(tmp_path.iterdir()) == []  # no file named after the spec


def test_call_fd_path_with_an_equals_sign(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(WRITE_HI), "--fd", "./out=-")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out=-").read_text() == "hi"


@pytest.mark.parametrize("code", ["0", "0x1000000", "0xFFFFFFFF", "-1"])
def test_call_code_outside_its_help_is_a_usage_error(
    tmp_path: Path, ipc_child: str, code: str
) -> None:
    done = run_cli(tmp_path, "call", ipc_child, code)
    assert done.returncode == 2, done.stderr
    assert "1..0xFFFFFF" in done.stderr


def test_call_user_error_code(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(RETURN), "--int32", "1909123")
    assert_clean_failure(done, "1909123", f"request {RETURN}")


def test_call_unknown_code(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, "4242")
    assert_clean_failure(done, "OH_IPC_CODE_OUT_OF_RANGE")


def test_call_child_dies_during_the_request(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(ABORT))
    assert_clean_failure(done, "OH_IPC_DEAD_REMOTE_OBJECT")


def test_call_reply_shorter_than_asked(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(PID), "--reply", "int32,int32")
    assert_clean_failure(done, "reply value 2", "OH_IPC_PARCEL_READ_ERROR")
    assert int(done.stdout) > 0  # the first value was printed


def test_call_oneway(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(EXIT), "--oneway")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""


def test_call_leaves_no_child_behind(tmp_path: Path, ipc_child: str) -> None:
    done = run_cli(tmp_path, "call", ipc_child, str(PID), "--reply", "int32")
    assert done.returncode == 0, done.stderr
    pid = int(done.stdout)

    def gone() -> bool:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except FileNotFoundError:
            return True

    assert eventually(gone)


def test_call_missing_library(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "call", "./libohncp_no_such_ipc.so", "1")
    assert_clean_failure(done, "libohncp_no_such_ipc.so", "NCP_ERR_LIB_LOADING_FAILED")


def test_call_connect_timeout(tmp_path: Path, child_libs: dict[str, Path]) -> None:
    done = run_cli(tmp_path, "call", str(child_libs["ipc_hang"]), "1", "--timeout", "0.5")
    assert_clean_failure(done, "NCP_ERR_TIMEOUT")


@pytest.mark.parametrize(
    "args",
    [
        ["--int8", "128"],
        ["--uint8", "-1"],
        ["--int32", "x"],
        ["--bytes", "xyz"],
        ["--reply", "int33"],
        ["--reply", "bytes"],
        ["--oneway", "--reply", "int32"],
    ],
)
def test_call_bad_arguments_are_usage_errors(
    tmp_path: Path, ipc_child: str, args: list[str]
) -> None:
    done = run_cli(tmp_path, "call", ipc_child, "1", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "error:" in done.stderr


# ---- help ----


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        ("run", ["ENTRY", "--param", "--fd NAME=SPEC", "--isolated", "--name", "example"]),
        (
            "call",
            ["LIB CODE", "--int32", "--uint64", "--reply", "--oneway", "--timeout", "example"],
        ),
        ("demo", ["--params", "example"]),
    ],
)
def test_help_of_each_command(tmp_path: Path, command: str, needles: list[str]) -> None:
    done = run_cli(tmp_path, command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m ohncp {command}")
    for needle in needles:
        assert needle in done.stdout


def test_top_level_help_lists_the_commands(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "--help")
    assert done.returncode == 0
    for command in ("run", "call", "demo"):
        assert command in done.stdout


# ---- call: a request that takes long ----

SLEEP = 1  # tests/children/cli_ipc_child.c


def test_call_waits_for_a_slow_reply(tmp_path: Path, child_libs: dict[str, Path]) -> None:
    lib = str(child_libs["cli_ipc_child"])
    done = run_cli(tmp_path, "call", lib, str(SLEEP), "--int32", "300", "--reply", "int32")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "300\n"


def test_call_reply_timeout(tmp_path: Path, child_libs: dict[str, Path]) -> None:
    lib = str(child_libs["cli_ipc_child"])
    done = run_cli(tmp_path, "call", lib, str(SLEEP), "--int32", "60000", "--timeout", "1")
    assert_clean_failure(done, f"request {SLEEP}: no reply within 1.0 s")


def test_call_signal_abandons_the_request(tmp_path: Path, child_libs: dict[str, Path]) -> None:
    lib = str(child_libs["cli_ipc_child"])
    cli = subprocess.Popen(
        [sys.executable, "-m", "ohncp", "call", lib, str(SLEEP), "--int32", "60000"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(1)  # connected and waiting, most likely; either way it must end
        cli.send_signal(signal.SIGTERM)
        out, err = cli.communicate(timeout=30)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM" in err
    assert "Traceback" not in err
    assert out == ""
