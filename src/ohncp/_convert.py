"""Python values to C values, for both modes (args mode and IPC mode).

Only conversions live here: whatever the runtime checks itself (lengths,
name rules, fd validity) is left to it.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from ._ohncp import ffi, lib

if TYPE_CHECKING:
    from ._ohncp import CData

__all__ = [
    "FileDescriptorLike",
    "Isolation",
    "environment",
    "fileno",
    "fs_bytes",
    "isolation_mode",
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


def fs_bytes(text: str | bytes, what: str) -> bytes:
    """Encode a name the way the OS does (``os.fsencode``) for a C string."""
    return _no_nul(os.fsencode(text) if isinstance(text, str) else bytes(text), what)


def utf8_bytes(text: str | bytes, what: str) -> bytes:
    """Encode text as UTF-8 for a C string; lone surrogates map back to bytes."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    return _no_nul(data, what)


def fileno(fd: FileDescriptorLike) -> int:
    """Return the fd number of an int or of an object with ``fileno()``."""
    return fd if isinstance(fd, int) else fd.fileno()


def isolation_mode(isolation: str | int) -> int:
    """Return the ``NCP_ISOLATION_MODE_*`` value for ``isolation``.

    ``isolation`` is ``"normal"``, ``"isolated"`` or an
    :class:`~ohncp.IsolationMode` (any other int is left to the runtime,
    which refuses it with ``NCP_ERR_INVALID_PARAM``).

    Raises:
        ValueError: a string other than ``"normal"`` or ``"isolated"``.
    """
    if isinstance(isolation, int):
        return isolation
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
