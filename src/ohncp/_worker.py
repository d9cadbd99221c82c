"""The Python side of a worker: runs inside a native child started by ohncp._pool.

The child library (``_pychild.c``) starts the parent's interpreter and loads
this file by path as ``_ohncp_worker``: it must import nothing but the
standard library, and as little of it as it can, since every import here is
paid by every worker start (``multiprocessing.connection`` alone would
double it). So the framing of ``multiprocessing.connection.Connection``,
which the parent uses on its end, is re-read here: a 4-byte big-endian
signed length (-1: an 8-byte length follows), then the payload.

Messages, parent to worker: a frame of preparation data (a plain dict, see
``_pool.preparation_data``), then in mode ``"pool"`` a pickled
``(initializer, initargs)`` and then tasks, each a pickled
``(fn, args, kwargs, chunked)``, until an empty frame (stop); in mode
``"process"`` one pickled ``(target, args, kwargs)``. Worker to parent, in
mode ``"pool"``: ``(READY,)`` once the initializer has run (or
``(INIT_FAILED, traceback)``), then one reply per task: ``(OK, result)``,
``(RAISED, exception_or_None, traceback)`` or ``(UNPICKLABLE, message,
traceback)``. One task runs at a time, so a reply needs no task id.
"""

from __future__ import annotations

import os
import struct
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs every start ~3 ms

# The C half of pickle: the same pickles, without the Python module's
# imports (re, for one); a few milliseconds of every start.
try:
    import _pickle as pickle
except ImportError:  # pragma: no cover - not CPython
    import pickle  # type: ignore[no-redef]

if TYPE_CHECKING:
    from typing import Any

READY, INIT_FAILED, OK, RAISED, UNPICKLABLE = range(5)
_PROTOCOL = 5  # pickle.HIGHEST_PROTOCOL of every Python this package supports

_main_prepared = False
_prep: dict[str, Any] = {}


def _recv_exact(fd: int, size: int) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            raise EOFError
        got += n
    return buf


def recv(fd: int) -> bytearray:
    """Read one frame (see the module's docstring)."""
    (size,) = struct.unpack("!i", _recv_exact(fd, 4))
    if size == -1:
        (size,) = struct.unpack("!Q", _recv_exact(fd, 8))
    return _recv_exact(fd, size)


def send(fd: int, data: bytes) -> None:
    """Write one frame."""
    n = len(data)
    header = struct.pack("!i", n) if n <= 0x7FFFFFFF else struct.pack("!iQ", -1, n)
    for part in (header + data,) if n <= 16384 else (header, data):
        view = memoryview(part)
        while view:
            view = view[os.write(fd, view) :]


def _prepare_main() -> None:
    """Import the parent's main module as ``__mp_main__``, as spawn does.

    Done the first time a pickle names ``__main__``: a worker whose tasks
    never come from the main module does not pay for importing it.
    """
    global _main_prepared  # noqa: PLW0603
    _main_prepared = True
    import runpy  # noqa: PLC0415 - only when needed: each import slows every start
    import types  # noqa: PLC0415 - only when needed: each import slows every start

    name = _prep.get("init_main_from_name")
    path = _prep.get("init_main_from_path")
    if name is not None:
        if name == "__main__" or name.endswith(".__main__"):
            return
        content = runpy.run_module(name, run_name="__mp_main__", alter_sys=True)
    elif path is not None:
        if os.path.splitext(os.path.basename(path))[0] == "ipython":
            return
        content = runpy.run_path(path, run_name="__mp_main__")
    else:
        return
    module = types.ModuleType("__mp_main__")
    module.__dict__.update(content)
    sys.modules["__main__"] = sys.modules["__mp_main__"] = module


def loads(data: bytes | bytearray) -> Any:  # noqa: ANN401
    """``pickle.loads``, importing the parent's main module first when a pickle names it.

    A byte search rather than an Unpickler with its own ``find_class``:
    that one reads through a file object, two more copies of a large
    argument. A false match only imports the main module early, as spawn
    always does.
    """
    if not _main_prepared and (b"__main__" in data or b"__mp_main__" in data):
        _prepare_main()
    return pickle.loads(data)


def _format(exc: BaseException) -> str:
    import traceback  # noqa: PLC0415 - only when needed: each import slows every start

    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _prepare(data: dict[str, Any]) -> None:
    """Apply what the parent had at the start call (as spawn's ``prepare``)."""
    _prep.update(data)
    sys.path[:] = data["sys_path"]
    sys.argv[:] = data["sys_argv"]
    os.chdir(data["dir"])


def _reply(exc: BaseException) -> bytes:
    tb = _format(exc)
    try:
        return pickle.dumps((RAISED, exc, tb), _PROTOCOL)
    except Exception:  # the exception itself does not pickle
        return pickle.dumps((RAISED, None, tb), _PROTOCOL)


def _run(frame: bytearray) -> bytes:
    try:
        fn, args, kwargs, chunked = loads(frame)
        del frame
        result = [fn(*a) for a in args] if chunked else fn(*args, **kwargs)
    except BaseException as exc:  # a task's SystemExit fails the task only
        return _reply(exc)
    try:
        return pickle.dumps((OK, result), _PROTOCOL)
    except Exception as exc:  # any error of pickling
        message = f"cannot pickle the result, a {type(result).__name__}: {exc}"
        return pickle.dumps((UNPICKLABLE, message, _format(exc)), _PROTOCOL)


def _serve(fd: int) -> int:
    try:
        initializer, initargs = loads(recv(fd))
        if initializer is not None:
            initializer(*initargs)
    except BaseException as exc:  # reported to the parent, which breaks the pool
        send(fd, pickle.dumps((INIT_FAILED, _format(exc))))
        return 1
    send(fd, pickle.dumps((READY,)))
    while True:
        try:
            frame = recv(fd)
        except EOFError:
            return 0
        if not frame:
            return 0
        send(fd, _run(frame))


def _run_process() -> int:
    """Run one target the way ``multiprocessing.Process`` does; return the exit code."""
    target, args, kwargs = loads(recv(_fd))
    try:
        if target is not None:
            target(*args, **kwargs)
    except SystemExit as exc:
        if exc.code is None:
            return 0
        if isinstance(exc.code, int):
            return exc.code
        sys.stderr.write(str(exc.code) + "\n")
        return 1
    except BaseException as exc:  # printed, as multiprocessing does
        sys.stderr.write(f"Process {_prep.get('name', '')}:\n{_format(exc)}")
        return 1
    return 0


_fd = -1


def main(fd: int, mode: str) -> None:
    """Serve the parent on socket ``fd``; ``mode`` is "pool" or "process"."""
    global _fd  # noqa: PLW0603
    _fd = fd
    os.set_inheritable(fd, False)  # a task's subprocesses must not hold it
    _prepare(pickle.loads(recv(fd)))
    # In a pool, SIGINT is ignored (_pychild.c): the parent handles Ctrl-C.
    code = _serve(fd) if mode == "pool" else _run_process()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)
