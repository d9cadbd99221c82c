"""Command line: build flags for child libraries, and a demo.

Examples::

    python -m ohncp --cflags --libs
    cc -shared -fPIC $(python -m ohncp --cflags) child.c $(python -m ohncp --libs) -o libchild.so
    python -m ohncp demo --params "hi there"
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
import time
from collections.abc import Sequence

from . import NativeChildProcessError, __version__, get_include, get_library_dir
from . import start as start_child
from ._backend import BUNDLE_DIR

DEMO_LIBRARY = "libohncp_demo.so"


def cflags() -> str:
    """Return the compiler flags for code that includes the ohncp headers."""
    return f"-I{get_include()}"


def libs() -> str:
    """Return the linker flags for a child library or program using the runtime."""
    libdir = get_library_dir()
    return f"-L{libdir} -Wl,-rpath,{libdir} -lchild_process -lipc_capi"


def _read_until_eof(fd: int, timeout: float) -> bytes:
    """Read ``fd`` until EOF; stop early (without EOF) after ``timeout`` seconds."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no end of file on the child's pipe")
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _describe(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return f"killed by {name}"


def demo(params: str, timeout: float) -> int:
    """Start the bundled demo child with ``params`` and a pipe as fd "out".

    Prints what the child wrote, its pid and how it exited. Returns 0 only
    if the child started, wrote a line naming its pid and ``params``, and
    exited with status 0.
    """
    entry = f"{BUNDLE_DIR / DEMO_LIBRARY}:DemoMain"
    read_end, write_end = os.pipe()
    try:
        try:
            child = start_child(entry, params, {"out": write_end})
        finally:
            os.close(write_end)  # the child has its own copy
        with child:
            output = _read_until_eof(read_end, timeout)
            returncode = child.wait(timeout)
    except (NativeChildProcessError, TimeoutError) as exc:
        print(f"ohncp demo: {exc}", file=sys.stderr)
        return 1
    finally:
        os.close(read_end)

    text = output.decode("utf-8", "replace")
    print(f"started {entry}")
    print(f"child pid: {child.pid}")
    print(f"child wrote: {text.rstrip()}")
    print(f"child {_describe(returncode)}")
    ok = returncode == 0 and str(child.pid) in text and params in text
    if not ok:
        print("ohncp demo: FAILED (unexpected output or exit status)", file=sys.stderr)
    return 0 if ok else 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ohncp",
        description="Flags for building native child libraries against ohncp, and a demo.",
    )
    parser.add_argument("--cflags", action="store_true", help="print the compiler flags (-I...)")
    parser.add_argument(
        "--libs", action="store_true", help="print the linker flags (-L... -lchild_process ...)"
    )
    parser.add_argument("--version", action="version", version=f"ohncp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo_parser = commands.add_parser(
        "demo", help="start the bundled demo child library and show what it did"
    )
    demo_parser.add_argument(
        "--params", default="hello from Python", help="the child's entry params"
    )
    demo_parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the child"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.params, args.timeout)
    wanted = [make for asked, make in ((args.cflags, cflags), (args.libs, libs)) if asked]
    if not wanted:
        parser.print_help(sys.stderr)
        return 2
    print(" ".join(make() for make in wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
