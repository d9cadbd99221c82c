"""Python values to C values, for both modes (args mode and IPC mode).

Only conversions and type checks live here: a value of the wrong Python type
is a TypeError naming the argument before anything reaches C; whatever the
runtime checks itself (lengths, name rules, fd validity) is left to it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from ._ohncp import ffi, lib

if TYPE_CHECKING:
    from ._ohncp import CData

__all__ = [
    "FileDescriptorLike",
    "Isolation",
    "buffer_arg",
    "environment",
    "fd_table",
    "fileno",
    "flag",
    "fs_bytes",
    "int_arg",
    "isolation_mode",
    "optional_name",
    "timeout_seconds",
    "utf8_bytes",
]


class _HasFileno(Protocol):
    def fileno(self) -> int: ...


FileDescriptorLike: TypeAlias = int | _HasFileno
"""An fd number, or an object with a ``fileno()`` method (file, socket)."""

Isolation: TypeAlias = "Literal['normal', 'isolated'] | int"
"""How a child is isolated: ``"normal"``, or ``"isolated"`` in its own namespaces."""

_ISOLATION = {
    "normal": lib.NCP_ISOLATION_MODE_NORMAL,
    "isolated": lib.NCP_ISOLATION_MODE_ISOLATED,
}


def _no_nul(data: bytes, what: str) -> bytes:
    # C would silently cut the string at the first NUL.
    if b"\0" in data:
        raise ValueError(f"{what} contains a NUL byte")
    return data


def _type_error(what: str, wanted: str, value: object) -> TypeError:
    return TypeError(f"{what} must be {wanted}, not {type(value).__name__}")


def _text_or_bytes(value: object, what: str) -> bytes | None:
    """The bytes of ``value`` if it is bytes or bytearray; None for a str; else TypeError.

    Only these count as text: ``bytes()`` also takes ints and lists of ints
    (``bytes(0) == b""``), which are never meant as a string.
    """
    if isinstance(value, str):
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    raise _type_error(what, "str or bytes", value)


def fs_bytes(text: str | bytes, what: str) -> bytes:
    """Encode a name the way the OS does (``os.fsencode``) for a C string."""
    data = _text_or_bytes(text, what)
    return _no_nul(os.fsencode(text) if data is None else data, what)


def utf8_bytes(text: str | bytes, what: str) -> bytes:
    """Encode text as UTF-8 for a C string; lone surrogates map back to bytes."""
    data = _text_or_bytes(text, what)
    if data is None:
        assert isinstance(text, str)
        data = text.encode("utf-8", "surrogateescape")
    return _no_nul(data, what)


def optional_name(name: str | None, what: str) -> bytes | None:
    """Encode an optional ``str`` name (``process_name``); None stays None."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise _type_error(what, "str or None", name)
    return fs_bytes(name, what)


def fileno(fd: FileDescriptorLike, what: str = "fd") -> int:
    """Return the fd number of an int or of an object with ``fileno()``."""
    if isinstance(fd, bool) or not (isinstance(fd, int) or callable(getattr(fd, "fileno", None))):
        raise _type_error(what, "an int fd or an object with fileno()", fd)
    number = fd if isinstance(fd, int) else fd.fileno()
    if isinstance(number, bool) or not isinstance(number, int):
        raise _type_error(f"{what}.fileno()", "an int", number)
    return number


def fd_table(fds: Mapping[str, FileDescriptorLike] | None) -> list[tuple[bytes, int]]:
    """Return ``fds`` (name -> fd) as (name bytes, fd number) pairs, in order."""
    if fds is None:
        return []
    if not isinstance(fds, Mapping):
        raise _type_error("fds", "a mapping of name -> fd (e.g. a dict)", fds)
    table = []
    for name, fd in fds.items():
        if not isinstance(name, str):
            raise _type_error(f"fd name {name!r}", "str", name)
        table.append((fs_bytes(name.encode("utf-8"), "fd name"), fileno(fd, f"fds[{name!r}]")))
    return table


def int_arg(value: object, what: str) -> int:
    """Check that ``value`` is an int (not a bool, not a float) and return it."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(what, "an int", value)
    return value


def buffer_arg(value: object, what: str) -> bytes | bytearray | memoryview:
    """Check that ``value`` is bytes, bytearray or memoryview and return it."""
    if not isinstance(value, bytes | bytearray | memoryview):
        raise _type_error(what, "bytes, bytearray or memoryview", value)
    return value


def timeout_seconds(timeout: float | None, what: str = "timeout") -> float | None:
    """Check a timeout in seconds: None (no limit) or a number >= 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float):
        raise _type_error(what, "a number of seconds or None", timeout)
    if math.isnan(timeout) or timeout < 0:
        raise ValueError(f"{what} must be >= 0 seconds, not {timeout!r}")
    return float(timeout)


def flag(value: object, what: str) -> bool:
    """Check a yes/no option (``isolation_uid``): a bool, or 0 or 1."""
    if isinstance(value, int) and value in (0, 1):  # bool is an int
        return bool(value)
    raise _type_error(what, "a bool", value)


def isolation_mode(isolation: str | int) -> int:
    """Return the ``NCP_ISOLATION_MODE_*`` value for ``isolation``.

    ``isolation`` is ``"normal"``, ``"isolated"`` or an
    :class:`~ohncp.IsolationMode` (any other int is left to the runtime,
    which refuses it with ``NCP_ERR_INVALID_PARAM``).

    Raises:
        ValueError: a string other than ``"normal"`` or ``"isolated"``.
    """
    if isinstance(isolation, int) and not isinstance(isolation, bool):
        return isolation
    if not isinstance(isolation, str):
        raise _type_error("isolation", "'normal', 'isolated' or an IsolationMode", isolation)
    try:
        return _ISOLATION[isolation]
    except KeyError:
        raise ValueError(f"isolation must be 'normal' or 'isolated', not {isolation!r}") from None


def _environb_copy() -> dict[bytes, bytes]:
    """``os.environb`` as it is now, copied in one step under the GIL."""
    data = getattr(os.environb, "_data", None)
    if isinstance(data, dict):
        # CPython's os.environ and os.environb share this dict; dict.copy
        # runs in C without letting another thread in, so no change made by
        # a thread meanwhile is seen half-way.
        return data.copy()
    while True:  # pragma: no cover - interpreters without that dict
        try:
            return dict(os.environb)
        except RuntimeError:  # changed during the iteration: again
            continue


class _LastEnvironment:
    """The latest snapshot and its C array; environment() builds anew only on a change."""

    snapshot: tuple[dict[bytes, bytes], CData, list[CData]] | None = None


def environment() -> tuple[CData, list[CData]]:
    """The child's environment as a NULL-terminated ``char *[]``, and what keeps it alive.

    A snapshot of ``os.environb`` for the start call, which runs without the
    GIL: the runtime reads this copy, never ``environ``, which another
    Python thread's ``os.environ[...] = ...`` (``setenv``) may rewrite while
    the start runs.
    """
    env = _environb_copy()
    last = _LastEnvironment.snapshot
    if last is not None and last[0] == env:
        # Unchanged since the last start: the C side only reads the array,
        # so starts on several threads may share it.
        return last[1], last[2]
    strings = [ffi.new("char[]", key + b"=" + value) for key, value in env.items()]
    envp = ffi.new("char *[]", [*strings, ffi.NULL])
    _LastEnvironment.snapshot = (env, envp, strings)  # one assignment: atomic under the GIL
    return envp, strings
