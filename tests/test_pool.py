"""ohncp.ProcessPoolExecutor and ohncp.Process, with real Python workers.

Every worker is a native child running this interpreter from its libpython;
the task functions live in tests/pool_tasks.py (standard library only).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import ohncp
import pool_tasks as tasks
from ohncp import _pool

from helpers import eventually, native_children

RESULT_TIMEOUT = 60  # generous: a loaded 2-core machine


@pytest.fixture
def pool() -> Iterator[ohncp.ProcessPoolExecutor]:
    with ohncp.ProcessPoolExecutor(2) as executor:
        yield executor


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live (not zombie) process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] not in (b"Z", b"X")


def fd_count() -> int:
    return len(os.listdir("/proc/self/fd"))


def rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)


# ---- the interpreter in the worker ------------------------------------------------------


def test_worker_runs_the_same_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OHNCP_POOL_TEST", "from the parent")
    with ohncp.ProcessPoolExecutor(1) as executor:
        got = executor.submit(tasks.interpreter).result(RESULT_TIMEOUT)
    assert got["version"] == sys.version
    assert got["prefix"] == sys.prefix
    assert got["base_prefix"] == sys.base_prefix
    assert got["executable"] == sys.executable
    assert got["path"] == [p or os.getcwd() for p in sys.path]
    assert got["cwd"] == os.getcwd()
    assert got["argv"] == sys.argv
    assert got["env"] == "from the parent"


def test_submit_map_and_chunks(pool: ohncp.ProcessPoolExecutor) -> None:
    assert pool.submit(tasks.add, 2, y=3).result(RESULT_TIMEOUT) == 5
    assert list(pool.map(tasks.square, range(20))) == [x * x for x in range(20)]
    assert list(pool.map(tasks.add, range(10), range(5), chunksize=3)) == [0, 2, 4, 6, 8]
    assert list(pool.map(tasks.square, [], chunksize=4)) == []
    with pytest.raises(ValueError, match="chunksize"):
        pool.map(tasks.square, [1], chunksize=0)


def test_map_timeout_and_exception(pool: ohncp.ProcessPoolExecutor) -> None:
    results = pool.map(tasks.sleep, [0, 5], timeout=0.5)
    assert next(results) == "slept"
    with pytest.raises(concurrent.futures.TimeoutError):  # TimeoutError from 3.11 on
        next(results)
    results = pool.map(tasks.fail, ["a", "b"])
    with pytest.raises(ValueError, match="a"):
        next(results)


def test_big_argument_and_result(pool: ohncp.ProcessPoolExecutor) -> None:
    data = os.urandom(1 << 20)
    assert pool.submit(tasks.big, data).result(RESULT_TIMEOUT) == data[::-1]


def test_initializer(tmp_path: Path) -> None:
    with ohncp.ProcessPoolExecutor(2, initializer=tasks.set_state, initargs=("set",)) as ex:
        assert set(ex.map(tasks.get_state, range(4))) == {"set"}


def test_initializer_failure_breaks_the_pool() -> None:
    with ohncp.ProcessPoolExecutor(1, initializer=tasks.bad_initializer) as executor:
        future = executor.submit(tasks.square, 2)
        with pytest.raises(concurrent.futures.process.BrokenProcessPool) as info:
            future.result(RESULT_TIMEOUT)
        assert "initializer" in str(info.value)
        assert "initializer says no" in str(info.value.__cause__)
        with pytest.raises(concurrent.futures.process.BrokenProcessPool):
            executor.submit(tasks.square, 2)


# ---- when things go wrong ------------------------------------------------------------------


def test_crashes_fail_only_their_task(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    with ohncp.ProcessPoolExecutor(3) as executor:
        slow = executor.submit(tasks.pid_after, 1.5)
        exited = executor.submit(tasks.exit_now, 3)
        with pytest.raises(ohncp.WorkerDiedError) as info:
            exited.result(RESULT_TIMEOUT)
        assert (info.value.exit_code, info.value.signal, info.value.returncode) == (3, None, 3)
        assert isinstance(info.value, concurrent.futures.process.BrokenProcessPool)
        assert "exited with code 3" in str(info.value)

        crashed = executor.submit(tasks.segfault)
        with pytest.raises(ohncp.WorkerDiedError) as info:
            crashed.result(RESULT_TIMEOUT)
        assert info.value.signal == signal.SIGSEGV
        assert "SIGSEGV" in str(info.value)

        killed = executor.submit(tasks.write_pid_and_sleep, str(pid_file), 60)
        assert eventually(lambda: pid_file.exists() and pid_file.read_text() != "", 30)
        victim = int(pid_file.read_text())
        os.kill(victim, signal.SIGKILL)
        with pytest.raises(ohncp.WorkerDiedError) as info:
            killed.result(RESULT_TIMEOUT)
        assert (info.value.pid, info.value.signal) == (victim, signal.SIGKILL)

        # The task that ran beside them all is unharmed, and the pool goes on.
        assert isinstance(slow.result(RESULT_TIMEOUT), int)
        assert list(executor.map(tasks.square, range(6))) == [x * x for x in range(6)]


def test_worker_killed_while_idle_is_replaced(pool: ohncp.ProcessPoolExecutor) -> None:
    victim = pool.submit(tasks.pid).result(RESULT_TIMEOUT)
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: not alive(victim))
    assert [pool.submit(tasks.square, 3).result(RESULT_TIMEOUT) for _ in range(4)] == [9] * 4


def test_task_timeout_kills_and_replaces_the_worker() -> None:
    with ohncp.ProcessPoolExecutor(1, task_timeout=1.0) as executor:
        overrun = executor.submit(tasks.sleep, 60)
        with pytest.raises(ohncp.TaskTimeoutError) as info:
            overrun.result(RESULT_TIMEOUT)
        assert isinstance(info.value, TimeoutError)
        assert isinstance(info.value, concurrent.futures.TimeoutError)
        assert info.value.timeout == 1.0
        assert eventually(lambda: not alive(info.value.pid))
        # A new worker takes the next task; a task under its timeout is fine.
        assert executor.submit(tasks.sleep, 0.1).result(RESULT_TIMEOUT) == "slept"
        assert executor.submit(tasks.pid).result(RESULT_TIMEOUT) != info.value.pid
        # Per task: no limit for this one, a tighter one for that one.
        assert executor.submit_with(tasks.sleep, 1.5, timeout=None).result(60) == "slept"


def test_submit_with_timeout() -> None:
    with ohncp.ProcessPoolExecutor(1) as executor:
        with pytest.raises(ohncp.TaskTimeoutError):
            executor.submit_with(tasks.sleep, 60, timeout=0.5).result(RESULT_TIMEOUT)
        assert executor.submit(tasks.square, 4).result(RESULT_TIMEOUT) == 16
        with pytest.raises(ValueError, match="positive"):
            executor.submit_with(tasks.sleep, 1, timeout=-1)


def test_exception_carries_the_remote_traceback(pool: ohncp.ProcessPoolExecutor) -> None:
    with pytest.raises(ValueError, match="from the task") as info:
        pool.submit(tasks.fail, "from the task").result(RESULT_TIMEOUT)
    cause = str(info.value.__cause__)
    assert "Traceback (most recent call last)" in cause
    assert "pool_tasks.py" in cause
    assert "in fail" in cause
    # An exception that does not pickle still arrives, as text.
    with pytest.raises(Exception, match="Unpicklable: cannot travel") as info:
        pool.submit(tasks.fail_unpicklable).result(RESULT_TIMEOUT)
    assert "fail_unpicklable" in str(info.value.__cause__)


def test_unpicklable_values_fail_only_their_future(pool: ohncp.ProcessPoolExecutor) -> None:
    bad_arg = pool.submit(tasks.square, threading.Lock())
    with pytest.raises(pickle.PicklingError, match="cannot pickle the call of 'square'"):
        bad_arg.result(RESULT_TIMEOUT)
    bad_fn = pool.submit(lambda: 1)
    with pytest.raises(pickle.PicklingError):
        bad_fn.result(RESULT_TIMEOUT)
    bad_result = pool.submit(tasks.make_lock)
    with pytest.raises(pickle.PicklingError, match="cannot pickle the result") as info:
        bad_result.result(RESULT_TIMEOUT)
    assert "Traceback" in str(info.value.__cause__)
    assert pool.submit(tasks.square, 5).result(RESULT_TIMEOUT) == 25


def test_output_is_forwarded_with_the_pid(capsys: pytest.CaptureFixture[str]) -> None:
    with ohncp.ProcessPoolExecutor(1) as executor:
        worker = executor.submit(tasks.pid).result(RESULT_TIMEOUT)
        assert executor.submit(tasks.chatter, "hello").result(RESULT_TIMEOUT) == 7
    err = capsys.readouterr().err
    assert f"[ohncp worker {worker}] hello\n" in err
    assert f"[ohncp worker {worker}] hello on stderr\n" in err
    assert f"[ohncp worker {worker}] no newline\n" in err  # flushed at the worker's exit


def test_output_to_a_logger() -> None:
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    logger = logging.getLogger("ohncp.test_pool")
    logger.addHandler(Collect())
    logger.setLevel(logging.INFO)
    with ohncp.ProcessPoolExecutor(1, output=logger) as executor:
        executor.submit(tasks.chatter, "logged").result(RESULT_TIMEOUT)
    assert any(r.endswith(": logged") and r.startswith("worker ") for r in records), records


PARENT = """
import os, sys, time, ohncp
sys.path.insert(0, {tests!r})
import pool_tasks
pool = ohncp.ProcessPoolExecutor(2)
futures = [pool.submit(pool_tasks.pid_after, 0.2), pool.submit(pool_tasks.pid_after, 0.2)]
pids = {{f.result(60) for f in futures}}
pool.submit(pool_tasks.sleep, 600)
pool.submit(pool_tasks.sleep, 600)
print(" ".join(map(str, sorted(pids))), flush=True)
time.sleep(600)
"""


def test_parent_sigkill_leaves_no_worker(tmp_path: Path) -> None:
    code = PARENT.format(tests=str(Path(__file__).parent))
    with subprocess.Popen(
        [sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.PIPE, text=True
    ) as parent:
        assert parent.stdout is not None
        line = parent.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 2, line
        assert all(alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
    assert eventually(lambda: not any(alive(p) for p in pids), 30), pids


def test_max_tasks_per_child_recycles_workers() -> None:
    with ohncp.ProcessPoolExecutor(1, max_tasks_per_child=2) as executor:
        pids = [executor.submit(tasks.pid).result(RESULT_TIMEOUT) for _ in range(6)]
    assert len(set(pids)) == 3
    assert all(pids.count(p) == 2 for p in pids)
    assert not any(alive(p) for p in pids)


def test_200_submits_from_8_threads() -> None:
    with ohncp.ProcessPoolExecutor(4) as executor:
        results: dict[int, int] = {}

        def submitter(base: int) -> None:
            futures = {base + i: executor.submit(tasks.square, base + i) for i in range(25)}
            for x, future in futures.items():
                results[x] = future.result(RESULT_TIMEOUT)

        threads = [threading.Thread(target=submitter, args=(100 * t,)) for t in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(results) == 200
    assert all(value == key * key for key, value in results.items())


def test_asyncio_run_in_executor(pool: ohncp.ProcessPoolExecutor) -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        return await asyncio.gather(
            *(loop.run_in_executor(pool, tasks.square, i) for i in range(10))
        )

    assert asyncio.run(main()) == [i * i for i in range(10)]


# ---- shutdown and leaks -------------------------------------------------------------------------


def test_shutdown_cancel_futures_and_after() -> None:
    executor = ohncp.ProcessPoolExecutor(1)
    running = executor.submit(tasks.sleep, 1)
    queued = [executor.submit(tasks.square, i) for i in range(5)]
    assert eventually(running.running)
    executor.shutdown(wait=True, cancel_futures=True)
    assert running.result(0) == "slept"
    assert all(f.cancelled() or f.done() for f in queued)
    assert any(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(tasks.square, 1)
    assert not native_children()


def test_shutdown_without_wait_still_runs_the_queue() -> None:
    executor = ohncp.ProcessPoolExecutor(2)
    futures = [executor.submit(tasks.square, i) for i in range(6)]
    executor.shutdown(wait=False)
    assert [f.result(RESULT_TIMEOUT) for f in futures] == [i * i for i in range(6)]
    assert eventually(lambda: not native_children(), 30)
    assert eventually(lambda: "ohncp-pool-manager" not in {t.name for t in threading.enumerate()})


def test_a_dropped_pool_shuts_down() -> None:
    executor = ohncp.ProcessPoolExecutor(2)
    futures = [executor.submit(tasks.square, i) for i in range(4)]
    del executor  # no shutdown(): the queued tasks still run, then the workers stop
    gc.collect()
    assert [f.result(RESULT_TIMEOUT) for f in futures] == [0, 1, 4, 9]
    assert eventually(lambda: not native_children(), 30)
    assert eventually(lambda: "ohncp-pool-manager" not in {t.name for t in threading.enumerate()})


def test_shutdown_kills_a_worker_that_does_not_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pool, "_STOP_GRACE_S", 0.5)
    executor = ohncp.ProcessPoolExecutor(1)
    worker = executor.submit(tasks.start_lingering_thread).result(RESULT_TIMEOUT)
    executor.shutdown(wait=True)  # Python in the worker waits for its thread: killed
    assert not alive(worker)
    assert not native_children()


def test_soak_keeps_fds_threads_and_rss_flat() -> None:
    with ohncp.ProcessPoolExecutor(2, max_tasks_per_child=250) as executor:
        list(executor.map(tasks.square, range(300)))  # warm: workers, caches, allocator
        fds, threads, rss = fd_count(), threading.active_count(), rss_kib()
        for _ in range(4):
            futures = [executor.submit(tasks.square, i) for i in range(500)]
            assert [f.result(RESULT_TIMEOUT) for f in futures] == [i * i for i in range(500)]
        # Recycled workers (8 so far) leave nothing behind.
        assert eventually(lambda: fd_count() <= fds, 10), (fd_count(), fds)
        assert threading.active_count() <= threads
        assert rss_kib() - rss < 8 * 1024, (rss, rss_kib())
    assert threading.active_count() < threads


EXITING = """
import sys, ohncp
sys.path.insert(0, {tests!r})
import pool_tasks
pool = ohncp.ProcessPoolExecutor(2)
future = pool.submit(pool_tasks.sleep, 0.5)
pool.submit(pool_tasks.chatter, "at exit")
print("submitted", flush=True)
"""


def test_interpreter_exit_finishes_the_queue_without_shutdown(tmp_path: Path) -> None:
    code = EXITING.format(tests=str(Path(__file__).parent))
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "submitted\n"
    assert "] at exit\n" in done.stderr


MAIN_SCRIPT = """
import ohncp

def triple(x):
    return 3 * x

if __name__ == "__main__":
    with ohncp.ProcessPoolExecutor(1) as pool:
        print(pool.submit(triple, 5).result(60))
        p = ohncp.Process(target=triple, args=(1,))
        p.start()
        p.join()
        print(p.exitcode)
"""


def test_functions_of_main_follow_the_spawn_rules(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(MAIN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "15\n0\n"


def test_a_function_of_python_c_does_not_reach_the_worker(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import ohncp
        def f():
            return 1
        with ohncp.ProcessPoolExecutor(1) as pool:
            try:
                pool.submit(f).result(60)
            except AttributeError as exc:
                print("AttributeError", "f" in str(exc))
    """)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout == "AttributeError True\n", done.stderr


# ---- constructor checks, NotSupportedError ------------------------------------------------


def test_bad_arguments() -> None:
    for bad in (0, -1, 513, 1.5):
        with pytest.raises(ValueError, match="max_workers"):
            ohncp.ProcessPoolExecutor(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="mp_context"):
        ohncp.ProcessPoolExecutor(1, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tasks_per_child"):
        ohncp.ProcessPoolExecutor(1, max_tasks_per_child=0)
    with pytest.raises(ValueError, match="isolation"):
        ohncp.ProcessPoolExecutor(1, isolation="sealed")  # type: ignore[arg-type]
    with pytest.raises(pickle.PicklingError, match="initializer"):
        ohncp.ProcessPoolExecutor(1, initializer=lambda: None)


def test_no_shared_libpython_is_not_supported(tmp_path: Path) -> None:
    static = {"VERSION": "3.99", "LIBDIR": str(tmp_path), "Py_ENABLE_SHARED": 0}
    with pytest.raises(ohncp.NotSupportedError, match=r"shared libpython3\.99") as info:
        _pool.find_libpython(static, maps=False)
    assert info.value.code == ohncp.ErrorCode.NCP_ERR_NOT_SUPPORTED
    assert "--enable-shared" in str(info.value)
    (tmp_path / "libpython3.99.so.1.0").write_bytes(b"")  # a distribution's beside it
    assert _pool.find_libpython(static, maps=False) == str(tmp_path / "libpython3.99.so.1.0")


def test_libpython_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OHNCP_LIBPYTHON", str(tmp_path / "nothing.so"))
    with pytest.raises(ohncp.NotSupportedError, match=r"nothing\.so"):
        ohncp.ProcessPoolExecutor(1)


def test_a_broken_environment_breaks_the_pool(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "libpython-not.so"
    fake.write_bytes(b"not ELF")
    monkeypatch.setenv("OHNCP_LIBPYTHON", str(fake))
    with ohncp.ProcessPoolExecutor(1) as executor:
        for _ in range(3):
            with pytest.raises(ohncp.WorkerDiedError) as info:
                executor.submit(tasks.square, 2).result(RESULT_TIMEOUT)
            assert info.value.exit_code == 121  # _pychild.c: no libpython
            assert "cannot load libpython" in str(info.value)
            assert "before its interpreter was ready" in str(info.value)
        with pytest.raises(
            concurrent.futures.process.BrokenProcessPool, match="3 workers in a row"
        ):
            executor.submit(tasks.square, 2)


def _other_libpython() -> str | None:
    """A libpython of another minor version beside this one (pyenv's layout), if any."""
    mine = f"libpython{sys.version_info[0]}.{sys.version_info[1]}."
    versions = Path(sys.base_prefix).parent
    for candidate in sorted(versions.glob("*/lib/libpython3.*.so.1.0")):
        if not candidate.name.startswith(mine):
            return str(candidate)
    return None


def test_a_libpython_of_another_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    other = _other_libpython()
    if other is None:
        pytest.skip("no libpython of another version here")
    monkeypatch.setenv("OHNCP_LIBPYTHON", other)
    with ohncp.ProcessPoolExecutor(1) as executor, pytest.raises(ohncp.WorkerDiedError) as info:
        executor.submit(tasks.square, 2).result(RESULT_TIMEOUT)
    assert info.value.exit_code == 122
    assert "the parent runs" in str(info.value)


def test_the_child_library_does_not_link_libpython() -> None:
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf not installed")
    library = Path(ohncp.__file__).parent / "_lib" / "libohncp_pychild.so"
    dynamic = subprocess.run(
        [readelf, "-d", str(library)], capture_output=True, text=True, check=True
    ).stdout
    needed = [line for line in dynamic.splitlines() if "(NEEDED)" in line]
    assert needed, dynamic
    assert not any("libpython" in line or "child_process" in line for line in needed), needed


def test_the_mapped_libpython_is_found() -> None:
    path = _pool.find_libpython()
    assert os.path.basename(path).startswith("libpython")
    assert os.path.samefile(
        path, Path(str(sys.modules["sysconfig"].get_config_var("LIBDIR")), os.path.basename(path))
    )


# ---- isolation ------------------------------------------------------------------------------


def test_isolated_workers_have_no_network_and_no_writes(tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with ohncp.ProcessPoolExecutor(1, isolation="isolated") as executor:
            probe = executor.submit(tasks.probe_sandbox, port, str(tmp_path))
            try:
                got = probe.result(RESULT_TIMEOUT)
            except concurrent.futures.process.BrokenProcessPool as exc:
                if isinstance(exc.__cause__, ohncp.NotSupportedError):
                    pytest.skip(f"isolation refused here: {exc.__cause__}")
                raise
        with ohncp.ProcessPoolExecutor(1) as executor:
            normal = executor.submit(tasks.probe_sandbox, port, str(tmp_path)).result(60)
    assert normal["tcp_local"] == "ok"
    assert normal["write_dir"] == "ok"
    assert got["tcp_local"] != "ok", got
    assert got["write_dir"] != "ok", got
    assert got["write_data"] == "ok", got
    assert not (tmp_path / "from_worker").exists() or normal["write_dir"] == "ok"


# ---- Process ------------------------------------------------------------------------------


def test_process_like_multiprocessing(tmp_path: Path) -> None:
    out = tmp_path / "pid"
    p = ohncp.Process(target=tasks.write_pid_and_sleep, args=(str(out), 0))
    assert p.pid is None
    assert p.exitcode is None
    assert not p.is_alive()
    p.start()
    assert p.pid is not None
    p.join(RESULT_TIMEOUT)
    assert p.exitcode == 0
    assert int(out.read_text()) == p.pid
    with pytest.raises(RuntimeError, match="started already"):
        p.start()


def test_process_exit_codes(capfd: pytest.CaptureFixture[str]) -> None:
    raised = ohncp.Process(target=tasks.fail, args=("boom",), name="raiser")
    exited = ohncp.Process(target=tasks.exit_now, args=(7,))
    for p in (raised, exited):
        p.start()
    for p in (raised, exited):
        p.join(RESULT_TIMEOUT)
    assert (raised.exitcode, exited.exitcode) == (1, 7)
    err = capfd.readouterr().err
    assert "Process raiser:" in err
    assert "ValueError: boom" in err


def test_process_kill_and_join_timeout() -> None:
    p = ohncp.Process(target=tasks.sleep, kwargs={"seconds": 60})
    p.start()
    t = time.monotonic()
    p.join(0.2)
    assert time.monotonic() - t < 30
    assert p.is_alive()
    p.kill()
    p.join(RESULT_TIMEOUT)
    assert p.exitcode == -signal.SIGKILL
    with pytest.raises(pickle.PicklingError):
        ohncp.Process(target=tasks.square, args=(threading.Lock(),)).start()
