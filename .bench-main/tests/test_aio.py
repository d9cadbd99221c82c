"""ohncp.aio: the asyncio flavour, with cancellation and timeouts."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

import ohncp
import ohncp.aio

ADD, ECHO, EXIT, RETURN, ABORT, FD, PID, CALLBACK = range(1, 9)
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 60))


async def ticking(until: asyncio.Event) -> int:
    """Count loop turns until ``until`` is set: proof that the loop was free."""
    ticks = 0
    while not until.is_set():
        ticks += 1
        await asyncio.sleep(0.005)
    return ticks


def test_start_and_wait(basic: Callable[[str], str]) -> None:
    async def main() -> tuple[int, int | None, int]:
        child = await ohncp.aio.start(basic("ExitCode"), "4")
        assert child.pid > 0
        code = await child.wait()
        return code, child.exit_code, await child.wait()

    assert run(main()) == (4, 4, 4)


def test_wait_leaves_the_loop_free(basic: Callable[[str], str]) -> None:
    async def main() -> tuple[int, int]:
        async with await ohncp.aio.start(basic("SleepForever")) as child:
            stop = asyncio.Event()
            ticker = asyncio.create_task(ticking(stop))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(child.wait(), 0.3)
            assert child.returncode is None  # a cancelled wait leaves it running
            child.kill()
            code = await child.wait()
            stop.set()
            return code, await ticker

    code, ticks = run(main())
    assert code == -signal.SIGKILL
    assert ticks >= 10


def test_async_with_kills_and_reaps(basic: Callable[[str], str]) -> None:
    async def main() -> ohncp.aio.ChildProcess:
        async with await ohncp.aio.start(basic("SleepForever")) as child:
            pass
        return child

    child = run(main())
    assert child.returncode == -signal.SIGKILL
    assert child.exit_signal == signal.SIGKILL


def test_async_with_child_already_gone(basic: Callable[[str], str]) -> None:
    async def main() -> int | None:
        async with await ohncp.aio.start(basic("ExitCode"), "2") as child:
            await child.wait()
        return child.returncode

    assert run(main()) == 2


def test_start_failure_raises(tmp_path: Path) -> None:
    async def main() -> None:
        await ohncp.aio.start(f"{tmp_path}/libnothere.so:Main")

    with pytest.raises(ohncp.LibLoadingFailedError):
        run(main())


def test_cancelled_start_kills_the_child(child_libs: dict[str, Path]) -> None:
    # slow_ctor sleeps 300 ms in its constructor, so the start is still
    # running when the task is cancelled.
    async def main() -> None:
        task = asyncio.create_task(ohncp.aio.start(f"{child_libs['slow_ctor']}:Main"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(main())
    # conftest's autouse check waits until no handle is left un-reaped.


def test_many_waits_at_once(basic: Callable[[str], str]) -> None:
    async def main() -> list[int]:
        children = [await ohncp.aio.start(basic("ExitCode"), str(i)) for i in range(8)]
        return list(await asyncio.gather(*(c.wait() for c in children)))

    assert run(main()) == list(range(8))


def test_connect_and_requests(ipc_lib: Callable[[str], str]) -> None:
    async def main() -> tuple[list[int], int, int]:
        async with await ohncp.aio.connect(ipc_lib("ipc_child")) as proxy:
            stop = asyncio.Event()
            ticker = asyncio.create_task(ticking(stop))
            replies = await asyncio.gather(
                *(
                    proxy.send_request(ADD, ohncp.Parcel().write_int32(i).write_int32(i))
                    for i in range(20)
                )
            )
            sums = [r.read_int32() for r in replies]
            pid = (await proxy.send_request(PID)).read_int32()
            assert proxy.pid == pid
            assert not proxy.is_dead
            assert proxy.descriptor == "ohncp.test.PyChild"
            await proxy.send_request(EXIT)
            stop.set()
            return sums, pid, await ticker

    sums, pid, _ = run(main())
    assert sums == [2 * i for i in range(20)]
    assert pid > 0


def test_connect_errors(ipc_lib: Callable[[str], str], tmp_path: Path) -> None:
    async def missing() -> None:
        await ohncp.aio.connect(str(tmp_path / "libnothere.so"))

    async def refused() -> None:
        await ohncp.aio.connect("")

    async def no_stub() -> None:
        await ohncp.aio.connect(ipc_lib("ipc_no_stub"))

    with pytest.raises(ohncp.LibLoadingFailedError):
        run(missing())
    with pytest.raises(ohncp.InvalidParamError):
        run(refused())
    with pytest.raises(ohncp.ConnectionFailedError):
        run(no_stub())


def test_connect_timeout_and_cancel(ipc_lib: Callable[[str], str]) -> None:
    async def timeout() -> None:
        await ohncp.aio.connect(ipc_lib("ipc_hang"), timeout=0.3)

    async def cancel() -> None:
        task = asyncio.create_task(ohncp.aio.connect(ipc_lib("ipc_hang"), timeout=None))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    started = time.monotonic()
    with pytest.raises(ohncp.StartTimeoutError):
        run(timeout())
    assert time.monotonic() - started < 5
    run(cancel())


def test_cancelled_request_leaves_the_proxy_usable(ipc_lib: Callable[[str], str]) -> None:
    async def main() -> int:
        async with await ohncp.aio.connect(ipc_lib("ipc_child")) as proxy:
            task = asyncio.create_task(
                proxy.send_request(ADD, ohncp.Parcel().write_int32(1).write_int32(1))
            )
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            reply = await proxy.send_request(ADD, ohncp.Parcel().write_int32(2).write_int32(3))
            await proxy.send_request(EXIT)
            return reply.read_int32()

    assert run(main()) == 5


def test_dead_child_request_raises(ipc_lib: Callable[[str], str]) -> None:
    async def main() -> None:
        async with await ohncp.aio.connect(ipc_lib("ipc_child")) as proxy:
            with pytest.raises(ohncp.DeadRemoteObjectError):
                await proxy.send_request(ABORT)
            assert proxy.is_dead

    run(main())


def test_aio_after_fork(basic: Callable[[str], str]) -> None:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:

            async def main() -> int:
                child = await ohncp.aio.start(basic("ExitCode"), "9")
                return await child.wait()

            code = 0 if asyncio.run(asyncio.wait_for(main(), 30)) == 9 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
