"""Python functions in native child processes: ProcessPoolExecutor and Process.

A worker is an args-mode child running ``libohncp_pychild.so`` (built from
``_pychild.c``), which starts this very interpreter from its libpython and
runs ``_worker.py``. The parent talks to it over a socketpair, framed as
``multiprocessing.connection.Connection`` frames, pickled with ``pickle``;
in a pool the worker's fds 1 and 2 are a pipe whose lines the parent
forwards. Nothing here forks: on a device where an app may not fork, the
native child process API is the only way to a second process.

The pool's one manager thread owns every worker, its socket and its pipe,
and is the only thread that starts, feeds, kills or reaps workers; other
threads only queue tasks and wake it (so no lock is held around any
system call but the wake-up write).
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import logging
import multiprocessing.process as mp_process
import os
import pickle
import selectors
import signal
import socket
import sys
import sysconfig
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar, cast

from . import ChildProcess, TimeoutExpired, _worker, start
from ._constants import ErrorCode
from ._convert import Isolation, isolation_mode
from ._errors import NotSupportedError

_T = TypeVar("_T")

_LIB_DIR = Path(__file__).resolve().parent / "_lib"
_WORKER_PY = Path(_worker.__file__).resolve()
_ENTRY_FUNCTION = "OhncpPythonMain"
# A stopped worker that has not exited after this long (an atexit handler
# or a non-daemon thread of its own that never ends) is killed.
_STOP_GRACE_S = 5.0
# A worker that dies before it is ready this many times in a row means
# every worker will: the pool is broken (loky's lesson).
_MAX_START_FAILURES = 3
_TAIL_LINES = 5
_MAX_WORKERS = 512  # the runtime's limit of live children (README, limits)

__all__ = ["Process", "ProcessPoolExecutor", "TaskTimeoutError", "WorkerDiedError"]


# ---- errors --------------------------------------------------------------------------


def _describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "vanished"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name} (signal {-returncode})"
    return f"exited with code {returncode}"


class WorkerDiedError(BrokenProcessPool):
    """The worker running a task died; only that task fails, the pool goes on.

    Attributes:
        pid: the worker's pid.
        returncode: its exit code, or minus the signal that killed it.
        exit_code: the exit code, or ``None`` if a signal killed it.
        signal: the number of the signal that killed it, or ``None``.
    """

    def __init__(self, pid: int, returncode: int | None, detail: str = "") -> None:
        self.pid = pid
        self.returncode = returncode
        self.exit_code = returncode if returncode is not None and returncode >= 0 else None
        self.signal = -returncode if returncode is not None and returncode < 0 else None
        super().__init__(
            f"worker {pid} {_describe_exit(returncode)} while running the task{detail}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.pid, self.returncode))


if sys.version_info >= (3, 11):
    _TimeoutBase: tuple[type[Exception], ...] = (TimeoutError,)
else:  # concurrent.futures.TimeoutError is a class of its own before 3.11
    from concurrent.futures import TimeoutError as _FuturesTimeoutError

    _TimeoutBase = (_FuturesTimeoutError, TimeoutError)


class TaskTimeoutError(*_TimeoutBase):  # type: ignore[misc]
    """A task ran longer than its ``task_timeout``; its worker was killed and replaced.

    Attributes:
        pid: the pid of the worker that was killed.
        timeout: the timeout that passed, in seconds.
    """

    def __init__(self, pid: int, timeout: float) -> None:
        self.pid = pid
        self.timeout = timeout
        super().__init__(f"task ran longer than {timeout} s; its worker {pid} was killed")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.pid, self.timeout))


class _RemoteTraceback(Exception):
    """The worker's traceback of an exception, set as its ``__cause__``."""

    def __init__(self, tb: str) -> None:
        super().__init__(tb)
        self.tb = tb

    def __str__(self) -> str:
        return f'\n"""\n{self.tb}"""'


class _RemoteException(Exception):
    """Stands for an exception raised in a worker that could not be pickled."""


# ---- finding the interpreter -----------------------------------------------------------


def _mapped_libpython(version: str) -> str | None:
    """The libpython mapped into this process, if the interpreter has one."""
    prefix = f"libpython{version}"
    with contextlib.suppress(OSError), open("/proc/self/maps", encoding="utf-8") as f:
        for line in f:
            path = line.rstrip("\n").partition("/")[2]
            if path and os.path.basename("/" + path).startswith(prefix) and ".so" in path:
                return "/" + path
    return None


def find_libpython(config: dict[str, Any] | None = None, maps: bool = True) -> str:
    """Return the path of the shared libpython of the running interpreter.

    The one mapped into this process first (``--enable-shared``); then, for
    an interpreter linked statically, a libpython of its version in its
    LIBDIR (or the multiarch directory), as distributions ship beside it.
    ``OHNCP_LIBPYTHON`` overrides both.

    Raises:
        NotSupportedError: there is none.
    """
    override = os.environ.get("OHNCP_LIBPYTHON")
    if override:
        if not os.path.isfile(override):
            raise NotSupportedError(
                ErrorCode.NCP_ERR_NOT_SUPPORTED,
                f"OHNCP_LIBPYTHON={override!r} is not a file",
            )
        return override
    var = config or sysconfig.get_config_vars()
    version = str(var.get("LDVERSION") or var.get("VERSION") or "")
    found = _mapped_libpython(version) if maps else None
    if found is not None:
        return found
    libdir = str(var.get("LIBDIR") or "")
    dirs = [libdir, os.path.join(libdir, str(var.get("MULTIARCH") or ""))]
    names = [str(var.get(key) or "") for key in ("INSTSONAME", "LDLIBRARY")]
    names += [f"libpython{version}.so.1.0", f"libpython{version}.so"]
    for directory in dirs:
        for name in names:
            candidate = os.path.join(directory, name)
            if directory and name.endswith((".so", ".so.1.0")) and os.path.isfile(candidate):
                return candidate
    shared = "was" if var.get("Py_ENABLE_SHARED") else "was not"
    raise NotSupportedError(
        ErrorCode.NCP_ERR_NOT_SUPPORTED,
        f"Python in a native child needs a shared libpython{version}, and this interpreter "
        f"({sys.executable}) has none: it {shared} built with --enable-shared and no "
        f"libpython{version}.so is in {libdir!r}. Use a Python built with --enable-shared "
        "(or set OHNCP_LIBPYTHON to a libpython of this exact version)",
    )


def preparation_data(name: str) -> dict[str, Any]:
    """What a worker needs to look like this process, as spawn's ``get_preparation_data``.

    Unlike that, it does not fix multiprocessing's default start method.
    """
    orig_dir = getattr(mp_process, "ORIGINAL_DIR", None) or os.getcwd()
    sys_path = [orig_dir if entry == "" else entry for entry in sys.path]
    data: dict[str, Any] = {
        "name": name,
        "sys_path": sys_path,
        "sys_argv": list(sys.argv),
        "dir": os.getcwd(),
    }
    main = sys.modules.get("__main__")
    spec_name = getattr(getattr(main, "__spec__", None), "name", None)
    if spec_name is not None:
        data["init_main_from_name"] = spec_name
    else:
        path = getattr(main, "__file__", None)
        if path is not None:
            path = os.path.normpath(path)
            data["init_main_from_path"] = os.path.join(orig_dir, path)
    return data


def _pychild_entry() -> str:
    path = _LIB_DIR / "libohncp_pychild.so"
    if not path.is_file():
        raise NotSupportedError(
            ErrorCode.NCP_ERR_NOT_SUPPORTED,
            f"{path} is missing: this ohncp was installed without its Python child library",
        )
    return f"{path}:{_ENTRY_FUNCTION}"


def _dumps(obj: object, what: str) -> bytes:
    """``pickle.dumps``, any failure a PicklingError naming ``what``."""
    try:
        return pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise pickle.PicklingError(f"cannot pickle {what}: {exc}") from exc


def _start_child(
    mode: str,
    *,
    chan: int,
    out: int | None,
    isolation: Isolation,
    isolation_uid: bool,
    process_name: str | None,
) -> ChildProcess:
    version = "{}.{}.".format(*sys.version_info[:2])
    params = "\n".join([find_libpython(), sys.executable, str(_WORKER_PY), mode, version])
    fds = {"chan": chan} if out is None else {"chan": chan, "out": out}
    return start(
        _pychild_entry(),
        params,
        fds,
        isolation=isolation,
        isolation_uid=isolation_uid,
        process_name=process_name,
    )


# ---- Process -------------------------------------------------------------------------

_process_counter = itertools.count(1)


class Process:
    """One Python function in a native child process, shaped like ``multiprocessing.Process``.

    The child runs ``target(*args, **kwargs)`` in a fresh interpreter of
    this Python (the ``spawn`` rules: the target and its arguments are
    pickled, the main module is imported as ``__mp_main__``), shares this
    process's stdout and stderr, and exits 0, or 1 with the traceback on
    stderr if the target raised (``SystemExit`` gives its code). Methods may
    be called from any thread; :meth:`start` once.
    """

    def __init__(
        self,
        target: Callable[..., object] | None = None,
        name: str | None = None,
        args: Iterable[Any] = (),
        kwargs: dict[str, Any] | None = None,
        *,
        isolation: Isolation = "normal",
        isolation_uid: bool = False,
        process_name: str | None = None,
    ) -> None:
        isolation_mode(isolation)  # a bad value fails here, not at start()
        self._target = target
        self._args = tuple(args)
        self._kwargs = dict(kwargs or {})
        self.name = name or f"ohncp.Process-{next(_process_counter)}"
        self._isolation: Isolation = isolation
        self._isolation_uid = isolation_uid
        self._process_name = process_name
        self._child: ChildProcess | None = None

    def start(self) -> None:
        """Start the child; returns once it runs (its interpreter still starting).

        Raises:
            pickle.PicklingError: the target or an argument does not pickle.
            NotSupportedError: this interpreter has no shared libpython.
            NativeChildProcessError: the start failed (see ``ohncp.start``).
        """
        if self._child is not None:
            raise RuntimeError(f"{self.name} was started already")
        payload = _dumps((self._target, self._args, self._kwargs), f"the target of {self.name}")
        prep = pickle.dumps(preparation_data(self.name))
        mine, theirs = socket.socketpair()
        try:
            self._child = _start_child(
                "process",
                chan=theirs.fileno(),
                out=None,
                isolation=self._isolation,
                isolation_uid=self._isolation_uid,
                process_name=self._process_name,
            )
        finally:
            theirs.close()
        conn = Connection(mine.detach())
        try:
            conn.send_bytes(prep)
            conn.send_bytes(payload)
        except OSError:
            pass  # it died already; its exit code tells
        finally:
            conn.close()

    def _started(self) -> ChildProcess:
        if self._child is None:
            raise ValueError(f"{self.name} was not started")
        return self._child

    @property
    def pid(self) -> int | None:
        """The child's pid; ``None`` before :meth:`start`."""
        return None if self._child is None else self._child.pid

    @property
    def exitcode(self) -> int | None:
        """``None`` while it runs; then its exit code, or minus the signal that killed it."""
        return None if self._child is None else self._child.poll()

    def is_alive(self) -> bool:
        """Whether the child was started and has not exited."""
        return self._child is not None and self._child.poll() is None

    def join(self, timeout: float | None = None) -> None:
        """Wait until the child exits, or ``timeout`` seconds pass (then it still runs)."""
        with contextlib.suppress(TimeoutExpired):
            self._started().wait(timeout)

    def kill(self) -> None:
        """Kill the child with SIGKILL (nothing if it has exited)."""
        self._started().kill()

    terminate = kill

    def __enter__(self) -> Process:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._child is not None:
            self._child.kill()
            self._child.wait()

    def __repr__(self) -> str:
        state = "initial" if self._child is None else f"pid={self.pid} exitcode={self.exitcode}"
        return f"<ohncp.Process name={self.name!r} {state}>"


# ---- the pool ------------------------------------------------------------------------


class _Task:
    __slots__ = ("future", "payload", "running", "timeout")

    def __init__(self, future: Future[Any], payload: bytes, timeout: float | None) -> None:
        self.future = future
        self.payload = payload
        self.timeout = timeout
        self.running = False


class _Worker:
    """One child of the pool; touched by the manager thread only."""

    def __init__(self, child: ChildProcess, conn: Connection, out: int | None) -> None:
        self.child = child
        self.pid = child.pid
        self.conn = conn
        self.out = out
        self.partial = b""
        self.tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
        self.task: _Task | None = None
        self.deadline: float | None = None
        self.ready = False
        self.done = 0
        self.stopping: float | None = None  # when it was told to stop
        self.timed_out = False


class _Chunk:
    """Marks a map chunk: ``fn`` called on each argument tuple in the worker."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn


_cores: weakref.WeakSet[_Core] = weakref.WeakSet()
_exiting = False


def _python_exit() -> None:
    """At interpreter exit: finish every pool's queued tasks, then its workers."""
    global _exiting  # noqa: PLW0603
    _exiting = True
    cores = list(_cores)
    for core in cores:
        core.begin_shutdown(cancel_futures=False)
    for core in cores:
        core.join()


_register = getattr(threading, "_register_atexit", None)
if _register is not None:  # runs before non-daemon threads are joined, like concurrent.futures
    _register(_python_exit)
else:  # pragma: no cover
    import atexit

    atexit.register(_python_exit)


class _Core:
    """A pool's state and its manager thread.

    Thread-safety: ``submit``/``begin_shutdown`` may be called from any
    thread (they take ``lock`` for the queue and flags, then write one
    byte to wake the manager); everything else runs on the manager thread.
    """

    def __init__(
        self,
        *,
        max_workers: int,
        init_frame: bytes,
        max_tasks_per_child: int | None,
        isolation: Isolation,
        isolation_uid: bool,
        process_name: str | None,
        output: logging.Logger | IO[str] | None,
    ) -> None:
        self.max_workers = max_workers
        self.init_frame = init_frame
        self.prep_frame = pickle.dumps(preparation_data("ohncp-pool-worker"))
        self.max_tasks = max_tasks_per_child
        self.isolation: Isolation = isolation
        self.isolation_uid = isolation_uid
        self.process_name = process_name
        self.output = output
        self.lock = threading.Lock()
        self.pending: collections.deque[_Task] = collections.deque()
        self.shutdown = False
        self.closed = False  # the manager is gone and its wake-up pipe closed
        self.broken: str | None = None
        self.workers: dict[int, _Worker] = {}
        self.idle: list[_Worker] = []
        self.start_failures = 0
        self.selector = selectors.DefaultSelector()
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.selector.register(self.wake_r, selectors.EVENT_READ, None)
        self.thread = threading.Thread(target=self._run, name="ohncp-pool-manager", daemon=True)
        self.thread.start()
        _cores.add(self)

    # -- any thread --

    def _wake_locked(self) -> None:
        # Under the lock: once the manager has closed the pipe (closed is
        # set under the lock first) its fd number may belong to another file.
        if not self.closed:
            with contextlib.suppress(BlockingIOError):  # a wake-up is pending already
                os.write(self.wake_w, b"\0")

    def _check_open_locked(self) -> None:
        if self.broken is not None:
            raise BrokenProcessPool(self.broken)
        if self.shutdown:
            raise RuntimeError("cannot schedule new futures after shutdown")
        if _exiting:
            raise RuntimeError("cannot schedule new futures after interpreter shutdown")

    def check_open(self) -> None:
        """Raise as submit() does if the pool takes no more tasks."""
        with self.lock:
            self._check_open_locked()

    def submit(self, task: _Task) -> None:
        with self.lock:
            self._check_open_locked()
            self.pending.append(task)
            self._wake_locked()

    def begin_shutdown(self, cancel_futures: bool) -> None:
        with self.lock:
            self.shutdown = True
            cancelled = list(self.pending) if cancel_futures else []
            if cancel_futures:
                self.pending.clear()
            self._wake_locked()
        for task in cancelled:
            task.future.cancel()

    def join(self) -> None:
        if self.thread is not threading.current_thread():
            self.thread.join()

    # -- the manager thread --

    def _run(self) -> None:
        try:
            while self._step():
                pass
        except BaseException as exc:
            # A bug of ours must not leave futures waiting forever.
            self._break(f"the pool's manager thread failed: {exc!r}", exc)
            for worker in self.workers.values():
                if worker.task is not None and not worker.task.future.done():
                    _fail_broken(worker.task, f"the pool's manager thread failed: {exc!r}", exc)
            raise
        finally:
            self._close()

    def _step(self) -> bool:
        """One round: feed workers, wait for something, handle it. False: all done."""
        self._dispatch()
        with self.lock:
            finished = self.shutdown and not self.pending
        if finished:
            self._stop_idle()
            if not self.workers:
                return False
        for key, _ in self.selector.select(self._next_timeout()):
            if key.data is None:
                with contextlib.suppress(BlockingIOError):
                    os.read(self.wake_r, 4096)
            else:
                worker, what = key.data
                if worker.pid not in self.workers:
                    continue  # gone in this same round
                if what == "out":
                    self._forward(worker)
                else:
                    self._receive(worker)
        self._check_deadlines()
        return True

    def _next_timeout(self) -> float | None:
        deadlines = [w.deadline for w in self.workers.values() if w.deadline is not None]
        deadlines += [w.stopping + _STOP_GRACE_S for w in self.workers.values() if w.stopping]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic())

    def _next_task(self) -> _Task | None:
        with self.lock:
            while self.pending:
                task = self.pending.popleft()
                if task.running or task.future.set_running_or_notify_cancel():
                    task.running = True
                    return task
        return None

    def _dispatch(self) -> None:
        while True:
            with self.lock:
                if not self.pending or self.broken is not None:
                    return
            worker = self.idle.pop() if self.idle else self._spawn()
            if worker is None:
                return
            task = self._next_task()
            if task is None:
                self.idle.append(worker)
                return
            self._assign(worker, task)

    def _assign(self, worker: _Worker, task: _Task) -> None:
        worker.task = task
        if worker.ready and task.timeout is not None:
            worker.deadline = time.monotonic() + task.timeout
        try:
            worker.conn.send_bytes(task.payload)
        except OSError:
            if worker.ready:
                # It died while idle: the task never reached it; give it to another.
                worker.task = None
                with self.lock:
                    self.pending.appendleft(task)
            # else it died starting: the task fails with it, as it would have
            # had the send gone through first (whichever way the race went).
            self._bury(worker)

    def _spawn(self) -> _Worker | None:
        if len(self.workers) >= self.max_workers:
            return None
        mine, theirs = socket.socketpair()
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        try:
            child = _start_child(
                "pool",
                chan=theirs.fileno(),
                out=out_w,
                isolation=self.isolation,
                isolation_uid=self.isolation_uid,
                process_name=self.process_name,
            )
        except Exception as exc:  # any start error: reported through futures
            mine.close()
            os.close(out_r)
            if not self.workers:
                self._break(f"cannot start a worker: {exc}", exc)
            return None
        finally:
            theirs.close()
            os.close(out_w)
        os.set_blocking(out_r, False)
        worker = _Worker(child, Connection(mine.detach()), out_r)
        self.workers[worker.pid] = worker
        self.selector.register(worker.conn.fileno(), selectors.EVENT_READ, (worker, "chan"))
        self.selector.register(out_r, selectors.EVENT_READ, (worker, "out"))
        # A worker that died at once is buried at its EOF, or when its task
        # does not go through (_assign): either way with its task, so that
        # the task learns why.
        with contextlib.suppress(OSError):
            worker.conn.send_bytes(self.prep_frame)
            worker.conn.send_bytes(self.init_frame)
        return worker

    def _break(self, message: str, cause: BaseException | None = None) -> None:
        with self.lock:
            self.broken = message
            failed = list(self.pending)
            self.pending.clear()
        for task in failed:
            if task.running or task.future.set_running_or_notify_cancel():
                _fail_broken(task, message, cause)

    def _receive(self, worker: _Worker) -> None:
        if worker.out is not None:
            self._forward(worker)  # what it printed before it replied, first
        try:
            frame = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._bury(worker)
            return
        try:
            reply = pickle.loads(frame)
        except Exception as exc:  # a result class the parent cannot load
            reply = None
            error: BaseException | None = exc
        else:
            error = None
        if reply is not None and reply[0] == _worker.READY:
            self._ready(worker)
        elif reply is not None and reply[0] == _worker.INIT_FAILED:
            cause = _RemoteTraceback(reply[1])
            self._break(f"the initializer failed in worker {worker.pid}", cause)
            task, worker.task, worker.deadline = worker.task, None, None
            if task is not None and not task.future.done():
                _fail_broken(task, f"the initializer failed in worker {worker.pid}", cause)
            self._stop(worker)
        else:
            self._finish(worker, reply, error)

    def _ready(self, worker: _Worker) -> None:
        worker.ready = True
        self.start_failures = 0
        task = worker.task
        if task is not None and task.timeout is not None:
            worker.deadline = time.monotonic() + task.timeout

    def _finish(self, worker: _Worker, reply: Any, error: BaseException | None) -> None:  # noqa: ANN401
        task, worker.task, worker.deadline = worker.task, None, None
        worker.done += 1
        if task is not None and not task.future.done():
            _settle(task.future, reply, error)
        if self.max_tasks is not None and worker.done >= self.max_tasks:
            self._stop(worker)
        else:
            self.idle.append(worker)

    def _stop(self, worker: _Worker) -> None:
        """Tell a worker to exit (an empty frame); it is reaped at its EOF."""
        if worker in self.idle:
            self.idle.remove(worker)
        worker.stopping = time.monotonic()
        with contextlib.suppress(OSError):
            worker.conn.send_bytes(b"")

    def _stop_idle(self) -> None:
        for worker in list(self.idle):
            self._stop(worker)

    def _check_deadlines(self) -> None:
        now = time.monotonic()
        for worker in list(self.workers.values()):
            if worker.deadline is not None and now >= worker.deadline and worker.task:
                task, worker.task, worker.deadline = worker.task, None, None
                worker.timed_out = True
                worker.child.kill()
                if not task.future.done():
                    task.future.set_exception(TaskTimeoutError(worker.pid, task.timeout or 0.0))
            elif worker.stopping is not None and now >= worker.stopping + _STOP_GRACE_S:
                worker.child.kill()
                worker.stopping = None

    def _forward(self, worker: _Worker, final: bool = False) -> None:
        """Pass on the complete lines of a worker's output (all of it if ``final``)."""
        assert worker.out is not None
        while True:
            try:
                chunk = os.read(worker.out, 65536)
            except BlockingIOError:
                chunk = None
            except OSError:
                chunk = b""
            if not chunk:
                break
            worker.partial += chunk
            *lines, worker.partial = worker.partial.split(b"\n")
            for line in lines:
                self._emit(worker, line.decode("utf-8", "replace"))
        if chunk == b"" or final:
            if worker.partial:
                self._emit(worker, worker.partial.decode("utf-8", "replace"))
                worker.partial = b""
            if chunk == b"":
                self.selector.unregister(worker.out)
                os.close(worker.out)
                worker.out = None

    def _emit(self, worker: _Worker, line: str) -> None:
        worker.tail.append(line)
        output = self.output
        try:
            if isinstance(output, logging.Logger):
                output.info("worker %d: %s", worker.pid, line)
            else:
                stream = sys.stderr if output is None else output
                stream.write(f"[ohncp worker {worker.pid}] {line}\n")
                stream.flush()
        except Exception:  # a broken stream must not stop the pool
            pass

    def _reap(self, worker: _Worker) -> int:
        try:
            return worker.child.wait(timeout=_STOP_GRACE_S)
        except TimeoutExpired:  # it closed its socket but lives on
            worker.child.kill()
            return worker.child.wait()

    def _bury(self, worker: _Worker) -> None:
        """A worker's socket ended: reap it, fail its task, forget it."""
        returncode = self._reap(worker)
        if worker.out is not None:
            self._forward(worker, final=True)
            if worker.out is not None:  # a grandchild holds the pipe: stop reading
                self.selector.unregister(worker.out)
                os.close(worker.out)
                worker.out = None
        self.selector.unregister(worker.conn.fileno())
        worker.conn.close()
        del self.workers[worker.pid]
        if worker in self.idle:
            self.idle.remove(worker)
        task = worker.task
        if task is not None and not task.future.done():
            detail = "" if worker.ready else " (before its interpreter was ready)"
            if worker.tail:
                detail += "; its last output: " + " | ".join(worker.tail)
            task.future.set_exception(WorkerDiedError(worker.pid, returncode, detail))
        if not worker.ready and worker.stopping is None and not worker.timed_out:
            self.start_failures += 1
            if self.start_failures >= _MAX_START_FAILURES:
                tail = " | ".join(worker.tail) or "no output"
                self._break(
                    f"{self.start_failures} workers in a row died before their interpreter "
                    f"was ready; the last {_describe_exit(returncode)}: {tail}"
                )

    def _close(self) -> None:
        for worker in list(self.workers.values()):
            with contextlib.suppress(Exception):
                worker.child.kill()
                self._bury(worker)
        self.selector.close()
        with self.lock:
            self.closed = True
            os.close(self.wake_r)
            os.close(self.wake_w)


def _fail_broken(task: _Task, message: str, cause: BaseException | None) -> None:
    error = BrokenProcessPool(message)
    error.__cause__ = cause
    task.future.set_exception(error)


def _settle(future: Future[Any], reply: Any, error: BaseException | None) -> None:  # noqa: ANN401
    if error is not None:
        future.set_exception(error)
        return
    status = reply[0]
    if status == _worker.OK:
        future.set_result(reply[1])
        return
    cause = _RemoteTraceback(reply[2])
    if status == _worker.UNPICKLABLE:
        exc: BaseException = pickle.PicklingError(reply[1])
    elif reply[1] is None:
        last = reply[2].rstrip().rpartition("\n")[2]
        exc = _RemoteException(f"the task raised an exception that does not pickle: {last}")
    else:
        exc = reply[1]
    exc.__cause__ = cause
    future.set_exception(exc)


def _chunks(iterables: tuple[Iterable[Any], ...], chunksize: int) -> Iterator[list[Any]]:
    it = zip(*iterables)  # noqa: B905 - map() stops at the shortest, as the builtin
    while chunk := list(itertools.islice(it, chunksize)):
        yield chunk


class ProcessPoolExecutor(Executor):
    """``concurrent.futures.ProcessPoolExecutor`` whose workers are native child processes.

    Each worker is a fresh interpreter of this Python, started from its
    shared libpython through ``ohncp.start`` (so it needs no ``fork`` or
    ``exec`` in this process); functions and values travel with ``pickle``
    under the ``spawn`` rules. Unlike the standard pool, a worker that dies
    fails only the task it ran (:class:`WorkerDiedError`), ``task_timeout``
    kills an overrunning task's worker (:class:`TaskTimeoutError`), an
    unpicklable value fails only its future, and workers' output is
    forwarded line by line. All methods may be called from any thread.

    Args:
        max_workers: at most this many workers (default: the number of CPUs).
        mp_context: must be ``None`` (accepted for the standard signature).
        initializer: called as ``initializer(*initargs)`` in each worker
            before its first task; if it raises, the pool is broken.
        initargs: its arguments.
        max_tasks_per_child: a worker exits after this many tasks and a new
            one takes its place.
        isolation: ``"isolated"`` runs every worker in the runtime's sandbox
            (no network, read-only files but its data directory).
        isolation_uid: isolated workers also get a uid of their own.
        process_name: the workers' process name (see ``ohncp.start``).
        task_timeout: seconds a task may run (from when its worker is
            ready); ``None``: no limit. Per task: :meth:`submit_with`.
        output: where workers' stdout/stderr lines go: ``None`` for
            ``sys.stderr`` (each line prefixed ``[ohncp worker PID]``), a
            text stream, or a :class:`logging.Logger` (level INFO).
    """

    def __init__(
        self,
        max_workers: int | None = None,
        mp_context: None = None,
        initializer: Callable[..., object] | None = None,
        initargs: tuple[Any, ...] = (),
        *,
        max_tasks_per_child: int | None = None,
        isolation: Isolation = "normal",
        isolation_uid: bool = False,
        process_name: str | None = None,
        task_timeout: float | None = None,
        output: logging.Logger | IO[str] | None = None,
    ) -> None:
        if max_workers is None:
            max_workers = min(os.cpu_count() or 1, _MAX_WORKERS)
        if not isinstance(max_workers, int) or not 0 < max_workers <= _MAX_WORKERS:
            raise ValueError(f"max_workers must be 1..{_MAX_WORKERS}, not {max_workers!r}")
        if mp_context is not None:
            raise ValueError(
                f"mp_context must be None, not {mp_context!r}: ohncp workers are native "
                "child processes, not multiprocessing ones"
            )
        if initializer is not None and not callable(initializer):
            raise TypeError(f"initializer must be callable, not {initializer!r}")
        if max_tasks_per_child is not None and (
            not isinstance(max_tasks_per_child, int) or max_tasks_per_child < 1
        ):
            raise ValueError(
                f"max_tasks_per_child must be a positive int, not {max_tasks_per_child!r}"
            )
        self._task_timeout = _check_timeout(task_timeout)
        isolation_mode(isolation)
        find_libpython()  # NotSupportedError now rather than from every future
        _pychild_entry()
        init = _dumps((initializer, tuple(initargs)), "the initializer or its arguments")
        self._core = _Core(
            max_workers=max_workers,
            init_frame=init,
            max_tasks_per_child=max_tasks_per_child,
            isolation=isolation,
            isolation_uid=isolation_uid,
            process_name=process_name,
            output=output,
        )
        self._finalizer = weakref.finalize(self, self._core.begin_shutdown, False)

    @property
    def max_workers(self) -> int:
        """The most workers this pool runs at once."""
        return self._core.max_workers

    def submit(self, fn: Callable[..., _T], /, *args: object, **kwargs: object) -> Future[_T]:
        """Schedule ``fn(*args, **kwargs)`` in a worker; return its future.

        An argument that does not pickle fails the future with
        ``pickle.PicklingError`` (the pool is unaffected).
        """
        return self._submit(fn, args, kwargs, self._task_timeout)

    def submit_with(
        self, fn: Callable[..., _T], /, *args: object, timeout: float | None, **kwargs: object
    ) -> Future[_T]:
        """:meth:`submit` with a ``task_timeout`` of its own (``None``: no limit).

        ``fn`` itself cannot be given a keyword argument named ``timeout``
        this way; wrap it with :func:`functools.partial`.
        """
        return self._submit(fn, args, kwargs, _check_timeout(timeout))

    def _submit(
        self,
        fn: Callable[..., Any],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        timeout: float | None,
    ) -> Future[Any]:
        future: Future[Any] = Future()
        chunked = isinstance(fn, _Chunk)
        call = (fn.fn, args[0], {}, True) if isinstance(fn, _Chunk) else (fn, args, kwargs, False)
        what = "a chunk of map()" if chunked else f"the call of {getattr(fn, '__name__', fn)!r}"
        try:
            payload = _dumps(call, what)
        except pickle.PicklingError as exc:
            self._core.check_open()
            future.set_running_or_notify_cancel()
            future.set_exception(exc)
            return future
        self._core.submit(_Task(future, payload, timeout))
        return future

    def map(
        self,
        fn: Callable[..., _T],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[_T]:
        """``map(fn, *iterables)`` in the workers, ``chunksize`` calls per task.

        As the standard one: results in order, ``timeout`` for the whole
        iteration (``TimeoutError``), the first exception raised from the
        iterator, and the calls not yet started cancelled if it is closed.
        """
        if chunksize < 1:
            raise ValueError("chunksize must be >= 1.")
        chunk = cast("Callable[..., list[_T]]", _Chunk(fn))
        results = super().map(chunk, _chunks(iterables, chunksize), timeout=timeout)
        return itertools.chain.from_iterable(results)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking tasks; finish the queued ones (unless ``cancel_futures``), stop workers.

        With ``wait``, return once every worker has exited and been reaped.
        """
        self._core.begin_shutdown(cancel_futures)
        if wait:
            self._core.join()


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"a task timeout must be a positive number of seconds, not {timeout!r}")
    return float(timeout)
