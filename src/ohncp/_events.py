"""ohncp's event thread: where the runtime's reports become Python calls.

The runtime reports exits, deaths and finished connects on its own threads,
which must never wait for the GIL. The C shim (``_shim.c``, section 6)
queues those reports and makes one eventfd readable; a single Python thread
owned by this module sleeps in ``poll()`` on that fd, takes the reports and
runs what Python registered for them, in the order they came:

- exit callbacks (:func:`on_child_exit`), every one for every exit;
- watchers of one pid (how ``ohncp.aio`` learns that a child exited);
- death callbacks of a :class:`~ohncp.RemoteProxy`;
- futures of :func:`~ohncp.connect_async`, and their deadlines;
- the release of a Python stub's handler once C has let go of it.

The thread starts on first use and is a daemon thread. An exception in a
callback goes to :data:`sys.unraisablehook` and does not stop the others.
After ``os.fork()`` the child starts afresh: a new thread on first use, and
nothing registered by the parent.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import select
import sys
import threading
import time
from collections.abc import Callable

from ._errors import NotSupportedError, check
from ._ohncp import ffi, lib

__all__ = ["ExitCallback", "on_child_exit", "report_unraisable"]

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


class _Loop:
    """The event thread and everything registered with it (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.fd = -1
        self.exit_callbacks: list[ExitCallback] = []
        self.pid_watchers: dict[int, dict[int, Callable[[int], None]]] = {}
        # (kind, token) -> fn, for SHIM_EV_DEATH, SHIM_EV_CONNECT, SHIM_EV_STUB_GONE
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
            while True:
                n = lib.shim_events_take(events, _BATCH)
                for i in range(n):
                    event = events[i]
                    self._dispatch(event.kind, event.pid, event.status, event.token)
                if n < _BATCH:
                    break
            self._run_soon()
            self._run_timers()

    def _dispatch(self, kind: int, pid: int, status: int, token: int) -> None:
        if kind == lib.SHIM_EV_EXIT:
            with self.lock:
                callbacks = list(self.exit_callbacks)
                watchers = list(self.pid_watchers.pop(pid, {}).values())
            signal = exit_signal_or_code(status)
            for cb in callbacks:
                if cb.active:
                    call_reporting(cb.fn, "Exception ignored in ohncp exit callback", pid, signal)
            for watcher in watchers:
                call_reporting(watcher, "Exception ignored in ohncp exit watcher", status)
        else:
            with self.lock:
                if kind == lib.SHIM_EV_DEATH:
                    fn = self.tokens.get((kind, token))
                else:
                    fn = self.tokens.pop((kind, token), None)
            if fn is not None:
                call_reporting(fn, "Exception ignored in ohncp event callback")

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


def watch_pid(pid: int, fn: Callable[[int], None]) -> int:
    """Call ``fn(raw_status)`` on the event thread when child ``pid`` exits; returns a key.

    Register before checking whether the child already exited: an exit
    reported before registration is not repeated.
    """
    current = _Current.loop
    current.ensure_running()
    key = current.new_id()
    with current.lock:
        current.pid_watchers.setdefault(pid, {})[key] = fn
    return key


def unwatch_pid(pid: int, key: int) -> None:
    """Forget a :func:`watch_pid` registration; nothing happens if it already ran."""
    current = _Current.loop
    with current.lock:
        watchers = current.pid_watchers.get(pid)
        if watchers is not None:
            watchers.pop(key, None)
            if not watchers:
                del current.pid_watchers[pid]


def watch_token(kind: int, token: int, fn: Callable[[], None]) -> None:
    """Call ``fn()`` on the event thread for the shim event (``kind``, ``token``).

    Death events may repeat for a token (one per registration); the others
    (connect, stub gone) come once and drop the registration.
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
    Exits are seen from the moment of registration on. The same function
    may be registered twice (it is then called twice).

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
