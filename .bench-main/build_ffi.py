"""Build description of ``ohncp._ohncp``, the cffi (API mode) extension.

setup.py hooks this in with ``cffi_modules=["build_ffi.py:ffibuilder"]``.
The declarations cffi sees live in ``src/ohncp/_cdef.h``; the generated C source
includes the real public headers and ``src/ohncp/_shim.h``, so the compiler checks
every declaration and supplies every constant. The shim itself is compiled
from ``src/ohncp/_shim.c``, and ``src/ohncp/_api.c`` looks up the runtime's functions
newer than API level 13 at run time (so the extension links only what every
device has, and imports on an older one).

setup.py adds the directory holding the freshly built ``libchild_process.so``
and ``libipc_capi.so`` to the extension's ``library_dirs``; at run time the
extension finds them through its rpath, ``$ORIGIN/_lib``.

For a quick build outside setup.py::

    python build_ffi.py DIR_WITH_RUNTIME_LIBRARIES
"""

from __future__ import annotations

import os
import sys

from cffi import FFI

ROOT = os.path.dirname(os.path.abspath(__file__))
PACKAGE_DIR = os.path.join(ROOT, "src", "ohncp")
INCLUDE_DIR = os.path.join(ROOT, "include")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _relative(path: str) -> str:
    # setuptools wants source paths relative to the directory of setup.py,
    # which is the working directory of every build.
    return os.path.relpath(path).replace(os.sep, "/")


def make_ffibuilder(library_dirs: list[str]) -> FFI:
    """Return the FFI builder, linking against the runtime in ``library_dirs``."""
    builder = FFI()
    builder.cdef(_read(os.path.join(PACKAGE_DIR, "_cdef.h")))
    builder.set_source(
        "ohncp._ohncp",
        '#include "native_child_process.h"\n#include "ipc_kit.h"\n#include "ohncp_ext.h"\n'
        '#include "_shim.h"\n#include "_api.h"\n',
        sources=[_relative(os.path.join(PACKAGE_DIR, name)) for name in ("_shim.c", "_api.c")],
        include_dirs=[INCLUDE_DIR, PACKAGE_DIR],
        library_dirs=list(library_dirs),
        libraries=["child_process", "ipc_capi"],
        extra_compile_args=["-std=gnu11", "-Wall", "-Wextra"],
        # No LD_LIBRARY_PATH at run time: the libraries sit in ohncp/_lib.
        extra_link_args=["-Wl,-rpath,$ORIGIN/_lib", "-pthread"],
    )
    return builder


ffibuilder = make_ffibuilder([])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python build_ffi.py DIR_WITH_RUNTIME_LIBRARIES")
    lib_dir = os.path.abspath(sys.argv[1])
    os.chdir(ROOT)
    make_ffibuilder([lib_dir]).compile(verbose=True)
