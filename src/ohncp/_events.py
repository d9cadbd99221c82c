"""ohncp's event thread: where the runtime's reports become Python calls.

The runtime reports exits, deaths and finished connects on its own threads,
which must never wait for the GIL. The C shim (``_shim.c``, section 1)
queues those reports in one ring and makes one eventfd readable; a single
Python thread owned by this module sleeps in ``poll()`` on that fd, takes
the reports and resolves what Python registered for them, in the order they
came. This is the only way a report reaches Python:

- exit callbacks (:func:`on_child_exit`), every one for every exit;
- the :class:`ExitWaiter` of each started child (what
  ``ChildProcess.wait``/``poll`` and ``ohncp.aio`` look at), keyed by the
  runtime's start id, which is never reused (a pid is);
- the :class:`ConnectWaiter` of each IPC-mode start, keyed by a token chosen
  before the start began;
- death callbacks of a :class:`~ohncp.RemoteProxy`;
- the release of a Python stub's handler once C has let go of it;
- deadlines (:meth:`_Loop.call_later`).

The race the waiters are keyed for: a child's exit may reach this thread
before its start call has returned to Python. While any start is in flight,
an exit nobody waits for is kept ("early"), and the start takes it when it
returns; an early exit is dropped once every start that was in flight when
it came has returned (it was then some other child's, e.g. a C caller's).

If the shim's ring ever lost a report (no room), every waiter still open
fails with :class:`~ohncp.InternalError` saying so, and the loss goes to
:data:`sys.unraisablehook`: a wait never blocks for ever on a lost exit.

The thread starts on first use and is a daemon thread. An exception in a
callback goes to :data:`sys.unraisablehook` and does not stop the others.
After ``os.fork()`` the child starts afresh: a new thread on first use, and
nothing registered by the parent.
"""

from __future__ import annotations

import collections
import contextlib
import heapq
import itertools
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ._errors import InternalError, NotSupportedError, check
from ._ohncp import ffi, lib

if TYPE_CHECKING:
    from ._ohncp import CData

__all__ = ["ConnectWaiter", "ExitCallback", "ExitWaiter", "on_child_exit", "report_unraisable"]

_BATCH = 64


def _unraisable_type() -> Callable[[tuple[object, ...]], object] | None:
    """Return the type the interpreter gives :data:`sys.unraisablehook`, if we can get it."""
    seen: list[object] = []

    class _Probe:
        def __del__(self) -> None:
            raise RuntimeError("probe")

    hook = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        _Probe()
    finally:
        sys.unraisablehook = hook
    return type(seen[0]) if seen else None


_UNRAISABLE_ARGS = _unraisable_type()


def report_unraisable(exc: BaseException, what: str, obj: object) -> None:
    """Hand ``exc``, raised by ``obj`` (a callback), to :data:`sys.unraisablehook`."""
    if _UNRAISABLE_ARGS is not None:
        args = _UNRAISABLE_ARGS((type(exc), exc, exc.__traceback__, what, obj))
    else:  # pragma: no cover - interpreters without the probe's type
        args = type(
            "UnraisableHookArgs",
            (),
            {
                "exc_type": type(exc),
                "exc_value": exc,
                "exc_traceback": exc.__traceback__,
                "err_msg": what,
                "object": obj,
            },
        )()
    with contextlib.suppress(Exception):  # a broken hook must not stop the thread
        sys.unraisablehook(args)  # type: ignore[arg-type]


def call_reporting(fn: Callable[..., object], what: str, *args: object) -> None:
    """Call ``fn(*args)``; an exception goes to :func:`report_unraisable` as ``what``."""
    try:
        fn(*args)
    except BaseException as exc:
        report_unraisable(exc, what, fn)


def exit_signal_or_code(status: int) -> int:
    """The SDK's ``signal`` argument for a raw wait status: the signal, else the exit code."""
    if os.WIFSIGNALED(status):
        return os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _lost_error(lost: int) -> InternalError:
    return InternalError(
        lib.NCP_ERR_INTERNAL,
        f"ohncp's event queue lost {lost} report(s) (no room): "
        "this child's exit or start result may be among them",
    )


class ExitWaiter:
    """The exit of one started child, resolved once on the event thread.

    Thread-safety: :attr:`done` is set last, after :attr:`status` or
    :attr:`error`; read those only once it is set.
    """

    __slots__ = ("_callbacks", "_lock", "done", "error", "status")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.status = 0
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._callbacks: list[Callable[[], None]] | None = []

    def _settle(self, status: int, error: BaseException | None) -> None:
        with self._lock:
            if self._callbacks is None:
                return
            self.status = status
            self.error = error
            callbacks, self._callbacks = self._callbacks, None
            self.done.set()
        for fn in callbacks:
            call_reporting(fn, "Exception ignored in ohncp exit watcher")

    def add_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once the exit is known: on the event thread, or now if it is."""
        with self._lock:
            if self._callbacks is not None:
                self._callbacks.append(fn)
                return
        fn()


class ConnectWaiter:
    """The start result of one IPC-mode child, resolved once on the event thread.

    Either the taker gets the result (:meth:`take` after :attr:`done`), or it
    gives up first (:meth:`abandon`) and the proxy, when it comes, is destroyed.

    Thread-safety: any method from any thread; the state (pending, done,
    taken, abandoned) only moves forward, under the waiter's lock.
    """

    def __init__(self, token: int) -> None:
        self.token = token
        self.done = threading.Event()
        self.code = 0
        self.error: BaseException | None = None
        self._proxy: CData | None = None
        self._lock = threading.Lock()
        self._state = "pending"  # -> "done" -> "taken", or -> "abandoned"
        self._callbacks: list[Callable[[], None]] = []

    def _settle(self, code: int, proxy: CData | None, error: BaseException | None) -> None:
        with self._lock:
            keep = self._state == "pending"
            if keep:
                self._state = "done"
                self.code, self._proxy, self.error = code, proxy, error
                callbacks, self._callbacks = self._callbacks, []
                self.done.set()
        if not keep:
            if proxy is not None:
                lib.OH_IPCRemoteProxy_Destroy(proxy)
            return
        for fn in callbacks:
            call_reporting(fn, "Exception ignored in ohncp connect watcher")

    def add_callback(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` once the result came: on the event thread, or now if it did."""
        with self._lock:
            if self._state == "pending":
                self._callbacks.append(fn)
                return
        fn()

    def take(self) -> tuple[int, CData | None] | None:
        """The (code, proxy) once, to the first caller after :attr:`done`; else None.

        Raises:
            InternalError: the result was lost (see the module's text).
        """
        with self._lock:
            if self._state != "done":
                return None
            self._state = "taken"
            if self.error is not None:
                raise self.error
            proxy, self._proxy = self._proxy, None
        return self.code, proxy

    def abandon(self) -> bool:
        """Give up: True if the result had not come (it will be destroyed), else False.

        After False, :meth:`take` (or a taker that already took it) holds the result.
        """
        with self._lock:
            if self._state != "pending":
                return False
            self._state = "abandoned"
        return True


class _Loop:
    """The event thread and everything registered with it (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.fd = -1
        self.exit_callbacks: list[ExitCallback] = []
        # key -> waiters, oldest first: key is the start id, or -pid where
        # the runtime reports no ids (then a reused pid may queue two).
        self.exit_waiters: dict[int, collections.deque[ExitWaiter]] = {}
        self.connect_waiters: dict[int, ConnectWaiter] = {}
        # Exits nobody waited for while starts were in flight: key -> status,
        # and (newest start begun then, key) in arrival order.
        self.early: dict[int, int] = {}
        self.early_marks: collections.deque[tuple[int, int]] = collections.deque()
        self.starts_in_flight: set[int] = set()
        self.last_start = 0
        self.lost = 0
        # (kind, token) -> fn, for SHIM_EV_DEATH, SHIM_EV_STUB_GONE
        self.tokens: dict[tuple[int, int], Callable[[], None]] = {}
        self.soon: list[Callable[[], None]] = []
        self.timers: list[tuple[float, int, Callable[[], None]]] = []
        self.cancelled_timers: set[int] = set()
        self.ids = itertools.count(1)

    # ---- registration (any thread) ----

    def ensure_running(self) -> None:
        with self.lock:
            if self.thread is not None:
                return
            fd = lib.shim_events_open()
            if fd < 0:
                raise OSError(-fd, f"ohncp event thread: {os.strerror(-fd)}")
            self.fd = fd
            self.thread = threading.Thread(target=self._run, name="ohncp-events", daemon=True)
            self.thread.start()

    def new_id(self) -> int:
        return next(self.ids)

    # ---- starts and their exits (any thread) ----

    def begin_start(self) -> int:
        """Note a start about to be made; returns its mark for :meth:`end_start`."""
        self.ensure_running()
        with self.lock:
            self.last_start += 1
            mark = self.last_start
            self.starts_in_flight.add(mark)
        return mark

    def end_start(self, mark: int, key: int | None) -> ExitWaiter | None:
        """The start ``mark`` returned: its child's exit waiter (``key``), or None if it failed."""
        waiter = None
        status = None
        with self.lock:
            self.starts_in_flight.discard(mark)
            if key is not None:
                waiter = ExitWaiter()
                status = self.early.pop(key, None)
                if status is None:
                    self.exit_waiters.setdefault(key, collections.deque()).append(waiter)
            oldest = min(self.starts_in_flight, default=None)
            while self.early_marks and (oldest is None or self.early_marks[0][0] < oldest):
                self.early.pop(self.early_marks.popleft()[1], None)
        if waiter is not None and status is not None:
            waiter._settle(status, None)
        return waiter

    def tracked(self) -> int:
        """How many children are started and not yet known to have exited."""
        with self.lock:
            return sum(len(waiters) for waiters in self.exit_waiters.values())

    def new_connect(self) -> ConnectWaiter:
        """A waiter for an IPC-mode start about to begin, under a fresh token."""
        self.ensure_running()
        waiter = ConnectWaiter(self.new_id())
        with self.lock:
            self.connect_waiters[waiter.token] = waiter
        return waiter

    def drop_connect(self, waiter: ConnectWaiter) -> None:
        """Forget a waiter whose start was refused (no result will come)."""
        with self.lock:
            self.connect_waiters.pop(waiter.token, None)

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.ensure_running()
        with self.lock:
            self.soon.append(fn)
        lib.shim_events_wake()

    def call_later(self, delay: float, fn: Callable[[], None]) -> int:
        self.ensure_running()
        timer = self.new_id()
        with self.lock:
            heapq.heappush(self.timers, (time.monotonic() + delay, timer, fn))
        lib.shim_events_wake()
        return timer

    def cancel_timer(self, timer: int) -> None:
        with self.lock:
            self.cancelled_timers.add(timer)

    # ---- the thread ----

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        events = ffi.new("struct shim_event[]", _BATCH)
        while True:
            with self.lock:
                wait_ms = -1
                if self.timers:
                    wait_ms = max(0, int((self.timers[0][0] - time.monotonic()) * 1000) + 1)
            poller.poll(wait_ms)
            self._drain(events)
            self._check_lost(events)
            self._run_soon()
            self._run_timers()

    def _dispatch(self, kind: int, pid: int, status: int, token: int, proxy: CData) -> None:
        if kind == lib.SHIM_EV_EXIT:
            self._dispatch_exit(token if token else -pid, pid, status)
        elif kind == lib.SHIM_EV_CONNECT:
            with self.lock:
                waiter = self.connect_waiters.pop(token, None)
            got = None if proxy == ffi.NULL else proxy
            if waiter is not None:
                waiter._settle(status, got, None)
            elif got is not None:  # cannot happen: every connect has a waiter
                lib.OH_IPCRemoteProxy_Destroy(got)
        else:
            with self.lock:
                if kind == lib.SHIM_EV_DEATH:
                    fn = self.tokens.get((kind, token))
                else:
                    fn = self.tokens.pop((kind, token), None)
            if fn is not None:
                call_reporting(fn, "Exception ignored in ohncp event callback")

    def _dispatch_exit(self, key: int, pid: int, status: int) -> None:
        waiter = None
        with self.lock:
            callbacks = list(self.exit_callbacks)
            waiters = self.exit_waiters.get(key)
            if waiters:
                waiter = waiters.popleft()
                if not waiters:
                    del self.exit_waiters[key]
            elif self.starts_in_flight:
                self.early[key] = status
                self.early_marks.append((self.last_start, key))
        signal = exit_signal_or_code(status)
        for cb in callbacks:
            if cb.active:
                call_reporting(cb.fn, "Exception ignored in ohncp exit callback", pid, signal)
        # After the callbacks: when wait() returns, on_child_exit has run for it.
        if waiter is not None:
            waiter._settle(status, None)

    def _drain(self, events: CData) -> None:
        while True:
            n = lib.shim_events_take(events, _BATCH)
            for i in range(n):
                event = events[i]
                self._dispatch(event.kind, event.pid, event.status, event.token, event.proxy)
            if n < _BATCH:
                return

    def _check_lost(self, events: CData) -> None:
        lost = int(lib.shim_events_lost())
        if lost == self.lost:
            return
        # What is queued was not lost: dispatched first, so that only the
        # waiters whose report may be among the lost ones fail.
        self._drain(events)
        error = _lost_error(lost - self.lost)
        self.lost = lost
        with self.lock:
            exits = [w for waiters in self.exit_waiters.values() for w in waiters]
            self.exit_waiters.clear()
            connects = list(self.connect_waiters.values())
            self.connect_waiters.clear()
        report_unraisable(error, "ohncp event thread", self)
        for waiter in exits:
            waiter._settle(0, error)
        for connect in connects:
            connect._settle(lib.NCP_ERR_INTERNAL, None, error)

    def _run_soon(self) -> None:
        with self.lock:
            soon, self.soon = self.soon, []
        for fn in soon:
            call_reporting(fn, "Exception ignored in ohncp callback")

    def _run_timers(self) -> None:
        now = time.monotonic()
        due = []
        with self.lock:
            while self.timers and self.timers[0][0] <= now:
                _, timer, fn = heapq.heappop(self.timers)
                if timer in self.cancelled_timers:
                    self.cancelled_timers.discard(timer)
                else:
                    due.append(fn)
        for fn in due:
            call_reporting(fn, "Exception ignored in ohncp timer")


class _Current:
    """Holds this process's event loop object; a forked child gets a new one."""

    loop = _Loop()


def _after_fork_in_child() -> None:
    _Current.loop = _Loop()


os.register_at_fork(after_in_child=_after_fork_in_child)


def loop() -> _Loop:
    """The event thread of this process (started on first registration)."""
    return _Current.loop


def watch_token(kind: int, token: int, fn: Callable[[], None]) -> None:
    """Call ``fn()`` on the event thread for the shim event (``kind``, ``token``).

    Death events may repeat for a token (one per registration); a stub-gone
    event comes once and drops the registration.
    """
    current = _Current.loop
    current.ensure_running()
    with current.lock:
        current.tokens[(kind, token)] = fn


def unwatch_token(kind: int, token: int) -> None:
    """Forget a :func:`watch_token` registration."""
    current = _Current.loop
    with current.lock:
        current.tokens.pop((kind, token), None)


def new_token() -> int:
    """A fresh number for :func:`watch_token` (unique in this process)."""
    return _Current.loop.new_id()


class ExitCallback:
    """What :func:`on_child_exit` returns: call :meth:`remove` to unregister.

    Attributes:
        fn: the registered function.
    """

    def __init__(self, fn: Callable[[int, int], object]) -> None:
        self.fn = fn
        self.active = True

    def remove(self) -> None:
        """Stop calling the function; removing twice does nothing.

        An exit being dispatched right now may still reach it once.
        """
        current = _Current.loop
        with current.lock:
            self.active = False
            if self in current.exit_callbacks:
                current.exit_callbacks.remove(self)

    def __enter__(self) -> ExitCallback:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"<ExitCallback {self.fn!r} {state}>"


def on_child_exit(fn: Callable[[int, int], object]) -> ExitCallback:
    """Call ``fn(pid, signal)`` for every child of this process that exits.

    Like ``OH_Ability_RegisterNativeChildProcessExitCallback``: children of
    both modes, ``signal`` the number of the signal that killed the child,
    else its exit code. Callbacks run on ohncp's event thread, one at a
    time, in registration order and in exit order; an exception in one is
    reported through :data:`sys.unraisablehook` and the others still run.
    Exits are seen from the moment of registration on, and a child's
    callbacks have run by the time its :meth:`~ohncp.ChildProcess.wait`
    returns. The same function may be registered twice (it is then called
    twice).

    Returns:
        A handle whose :meth:`~ExitCallback.remove` unregisters (it is also
        a context manager).

    Raises:
        NotSupportedError: the runtime cannot report exits (a device before
            API level 20).
    """
    if not callable(fn):
        raise TypeError(f"on_child_exit needs a callable, not {type(fn).__name__}")
    if not (
        lib.ohncp_api_exact_exit_status()
        or lib.ohncp_api_has(b"OH_Ability_RegisterNativeChildProcessExitCallback")
    ):
        raise NotSupportedError(
            lib.NCP_ERR_NOT_SUPPORTED,
            "OH_Ability_RegisterNativeChildProcessExitCallback needs API level 20; "
            "this device's libchild_process.so lacks it",
        )
    current = _Current.loop
    current.ensure_running()
    handle = ExitCallback(fn)
    with current.lock:
        current.exit_callbacks.append(handle)
    # Make sure the runtime reports exits to the shim at all.
    check(lib.shim_init())
    return handle
