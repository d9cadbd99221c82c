"""asyncio flavour of ohncp: start, wait, connect and send requests in a coroutine.

::

    import asyncio, ohncp.aio

    async def main():
        child = await ohncp.aio.start("libmychild.so:Main", "hello")
        print(await child.wait())

        async with await ohncp.aio.connect("libmyipcchild.so") as proxy:
            reply = await proxy.send_request(1, ohncp.Parcel().write_int32(2).write_int32(3))
            print(reply.read_int32())

    asyncio.run(main())

Nothing here blocks the event loop or polls:

- a child's exit and a connect's result reach the loop from ohncp's event
  thread (``loop.call_soon_threadsafe``), which the C runtime wakes through
  an fd;
- :func:`start` and :meth:`RemoteProxy.send_request` are blocking C calls
  (the child loads its library; the stub answers) that release the GIL:
  they run on a small thread pool of this module's own, so they never take
  the loop's default executor.

Cancelling is safe everywhere: a cancelled :func:`start` kills and reaps the
child it started anyway, a cancelled :func:`connect` gives the child up, and
a cancelled :meth:`RemoteProxy.send_request` lets the request finish in the
background and drops the reply.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from functools import partial
from types import TracebackType
from typing import TypeVar

from . import ChildProcess as _SyncChild
from . import start as _sync_start
from ._convert import FileDescriptorLike, Isolation, timeout_seconds
from ._ipc import Parcel, begin_connect, connect_timeout, give_up_connect, start_error
from ._ipc import RemoteProxy as _SyncProxy
from ._ohncp import lib as _c

__all__ = ["ChildProcess", "RemoteProxy", "connect", "start"]

_T = TypeVar("_T")


class _Pool:
    """The thread pool of this module, made on first use; a forked child makes its own."""

    executor: concurrent.futures.ThreadPoolExecutor | None = None
    lock = threading.Lock()


def _executor() -> concurrent.futures.ThreadPoolExecutor:
    with _Pool.lock:
        if _Pool.executor is None:
            # As many as the IPC Kit's default worker threads: requests that
            # wait on each other (a callback into this process) still finish.
            _Pool.executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=16, thread_name_prefix="ohncp-aio"
            )
        return _Pool.executor


def _after_fork_in_child() -> None:
    _Pool.executor = None
    _Pool.lock = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


async def _in_thread(
    fn: Callable[[], _T], on_late_result: Callable[[_T], object] | None = None
) -> _T:
    """Run the blocking ``fn`` on the pool; if cancelled, pass its late result on.

    A result that comes after the caller was cancelled goes to
    ``on_late_result`` (to release it).
    It is handled on the pool's thread, so it is handled even
    if the loop is closed by then (``asyncio.run`` ending with the cancel).
    """
    job = _executor().submit(fn)
    try:
        return await asyncio.shield(asyncio.wrap_future(job))
    except asyncio.CancelledError:
        if on_late_result is not None:

            def late(done: concurrent.futures.Future[_T]) -> None:
                if not done.cancelled() and done.exception() is None:
                    on_late_result(done.result())

            job.add_done_callback(late)
        raise


class ChildProcess:
    """An args-mode child for coroutines, from :func:`start`.

    The same handle as :class:`ohncp.ChildProcess` (available as
    :attr:`sync`), with :meth:`wait` a coroutine. ``async with`` kills and
    reaps the child on exit if it still runs.
    """

    def __init__(self, child: _SyncChild) -> None:
        self.sync = child

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.sync.pid

    @property
    def returncode(self) -> int | None:
        """``None`` until reaped; then the exit code, or ``-signal`` if killed."""
        return self.sync.returncode

    @property
    def exit_code(self) -> int | None:
        """The exit code if the child exited by itself, else ``None``."""
        return self.sync.exit_code

    @property
    def exit_signal(self) -> int | None:
        """The signal that killed the child, else ``None``."""
        return self.sync.exit_signal

    def poll(self) -> int | None:
        """The return code if the child has exited, else ``None``; never blocks."""
        return self.sync.poll()

    def kill(self) -> None:
        """Kill the child with SIGKILL; nothing if it has exited."""
        self.sync.kill()

    async def wait(self) -> int:
        """Wait for the child to exit and return its return code.

        Cancelling the wait (or ``asyncio.wait_for`` timing out) leaves the
        child running.
        """
        code = self.sync.poll()
        if code is not None:
            return code
        await _woken_by(self.sync._waiter.add_callback)
        code = self.sync.poll()
        assert code is not None  # the waiter is resolved: poll returns or raises
        return code

    async def __aenter__(self) -> ChildProcess:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.sync.poll() is None:
            self.sync.kill()
            await self.wait()

    def __repr__(self) -> str:
        return f"<aio.ChildProcess pid={self.pid} returncode={self.returncode}>"


async def _woken_by(add_callback: Callable[[Callable[[], None]], None]) -> None:
    """Return once ``add_callback``'s callback ran (on ohncp's event thread, or at once)."""
    loop = asyncio.get_running_loop()
    woken: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not woken.done():
            woken.set_result(None)

    def wake() -> None:
        # A closed loop (RuntimeError) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle)

    add_callback(wake)
    await woken


def _reap(child: _SyncChild) -> None:
    child.kill()
    child.wait()


async def start(
    entry: str,
    params: str | bytes = "",
    fds: Mapping[str, FileDescriptorLike] | None = None,
    *,
    isolation: Isolation = "normal",
    isolation_uid: bool = False,
    process_name: str | None = None,
) -> ChildProcess:
    """Start an args-mode child, like :func:`ohncp.start`, without blocking the loop.

    If the coroutine is cancelled while the child is starting, the child is
    killed and reaped as soon as the start returns.
    """
    call = partial(
        _sync_start,
        entry,
        params,
        fds,
        isolation=isolation,
        isolation_uid=isolation_uid,
        process_name=process_name,
    )
    return ChildProcess(await _in_thread(call, _reap))


class RemoteProxy:
    """A proxy for coroutines, from :func:`connect`.

    The same object as :class:`ohncp.RemoteProxy` (available as
    :attr:`sync`) with :meth:`send_request` a coroutine. ``async with``
    closes it.
    """

    def __init__(self, proxy: _SyncProxy) -> None:
        self.sync = proxy

    @property
    def pid(self) -> int:
        """The pid of the process behind the proxy."""
        return self.sync.pid

    @property
    def descriptor(self) -> str:
        """The stub's interface descriptor (asks the child; blocks briefly)."""
        return self.sync.descriptor

    @property
    def is_dead(self) -> bool:
        """Whether the process behind the proxy has died."""
        return self.sync.is_dead

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.sync.closed

    def add_death_callback(self, fn: Callable[[_SyncProxy], object]) -> None:
        """See :meth:`ohncp.RemoteProxy.add_death_callback` (runs on ohncp's thread)."""
        self.sync.add_death_callback(fn)

    async def send_request(
        self, code: int, data: Parcel | None = None, *, oneway: bool = False
    ) -> Parcel:
        """Send a request and return the reply, like :meth:`ohncp.RemoteProxy.send_request`.

        The request runs on this module's thread pool. If the coroutine is
        cancelled, the request still completes in the background and its
        reply is closed; the caller must not reuse ``data`` until then.
        """
        call = partial(self.sync.send_request, code, data, oneway=oneway)
        return await _in_thread(call, Parcel.close)

    def close(self) -> None:
        """Release the proxy."""
        self.sync.close()

    async def __aenter__(self) -> RemoteProxy:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<aio.RemoteProxy {'closed' if self.closed else 'open'}>"


async def connect(
    lib: str | os.PathLike[str],
    *,
    timeout: float | None = 10.0,
    isolation: Isolation = "normal",
    isolation_uid: bool = False,
    process_name: str | None = None,
) -> RemoteProxy:
    """Start an IPC-mode child, like :func:`ohncp.connect`, and await its proxy.

    The start callback wakes the loop from ohncp's event thread: no thread
    waits, no polling. Cancelling gives the child up.

    Raises:
        StartTimeoutError: no proxy within ``timeout`` seconds.
        NativeChildProcessError: as :func:`ohncp.connect`.
        TypeError, ValueError: as :func:`ohncp.connect`.
    """
    timeout = timeout_seconds(timeout)
    name, waiter = begin_connect(lib, isolation, isolation_uid, process_name)
    taken = None
    try:
        try:
            await asyncio.wait_for(_woken_by(waiter.add_callback), timeout)
        except asyncio.TimeoutError:
            raise connect_timeout(timeout) from None
        taken = waiter.take()
    finally:
        if taken is None:
            give_up_connect(waiter)
    if taken is None:  # cannot happen: only this coroutine takes it
        raise connect_timeout(timeout)
    code, proxy = taken
    if code != _c.NCP_NO_ERROR or proxy is None:
        raise start_error(waiter.token, name, code)
    return RemoteProxy(_SyncProxy(proxy))
