"""Which runtime the extension uses, and what it lacks.

The extension reaches the runtime's functions above API level 13 through
``ohncp/_api.c``, which looks them up at run time in the
``libchild_process.so`` that is loaded: the one bundled in ``ohncp/_lib``
(host backend) or the system's (system backend, on a device). This module
turns what that lookup found into text and paths for the rest of the package.
"""

from __future__ import annotations

import os
from pathlib import Path

from ._ohncp import ffi, lib

BUNDLE_DIR = Path(__file__).resolve().parent / "_lib"
"""Files shipped inside the package: the runtime (host backend), the demo."""


def library_dir(default: str) -> str:
    """Return the directory of the ``libchild_process.so`` in use, or ``default``."""
    buf = ffi.new("char[]", 4096)
    if lib.ohncp_api_library_dir(buf, len(buf)) != 0:
        return default
    return os.fsdecode(ffi.string(buf))


def missing_api_message() -> str:
    """Explain this thread's latest ``OHNCP_API_MISSING``: which function, which level."""
    symbol = ffi.string(lib.ohncp_api_missing_symbol()).decode("ascii", "replace")
    level = lib.ohncp_api_missing_level()
    if not symbol:
        return "a runtime function is missing from libchild_process.so"
    library = ffi.string(lib.ohncp_api_missing_library()).decode("ascii", "replace")
    if level == lib.OHNCP_API_LEVEL_HOST_ONLY:
        return f"{symbol} is an ohncp host runtime extension; this {library} lacks it"
    # major * 100 + minor above 100: 2601 is 26.1
    shown = f"{level // 100}.{level % 100}" if level >= 100 else str(level)
    return f"{symbol} needs API level {shown}; this device's {library} lacks it"
