"""Command line: start a child, call an IPC child, build flags, a demo.

Examples::

    python -m ohncp --cflags --libs
    cc -shared -fPIC $(python -m ohncp --cflags) child.c $(python -m ohncp --libs) -o libchild.so
    python -m ohncp run ./libchild.so:ChildMain --param hello --fd out=-
    python -m ohncp call ./libcalc_child.so 1 --int32 19 --int32 23 --reply int32
    python -m ohncp demo --params "hi there"

Exit statuses: what the child returned (``run``), 128 + the signal that
killed it or interrupted the command, 1 for a failure reported by the
runtime or the child's stub, 2 for a usage error.

Sections: build flags; demo; file descriptor specs; run; call (values,
request, reply); the parser; main.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import re
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import Any, Literal, NoReturn

from . import (
    IPCError,
    NativeChildProcessError,
    Parcel,
    RemoteProxy,
    __version__,
    connect,
    get_include,
    get_library_dir,
    on_child_exit,
)
from . import start as start_child
from .demo import CALC_ADD, CALC_EXIT, CALC_LIBRARY, DEMO_LIBRARY

EXIT_FAILURE = 1  # the runtime, the child's stub or the system said no
EXIT_USAGE = 2  # argparse's status for a bad command line


class CliError(Exception):
    """A failure to report as ``ohncp: <message>`` with exit status 1."""


# ---- build flags ----


def cflags() -> str:
    """Return the compiler flags for code that includes the ohncp headers."""
    return f"-I{get_include()}"


def libs() -> str:
    """Return the linker flags for a child library or program using the runtime."""
    libdir = get_library_dir()
    return (
        f"-L{libdir} -Wl,-rpath,{libdir} -lchild_process -lipc_capi -lhilog_ndk.z"
        " -lability_runtime -lbackground_process_manager.z"
    )


# ---- demo ----


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


def _signal_name(signo: int) -> str:
    try:
        return signal.Signals(signo).name
    except ValueError:
        return f"signal {signo}"


def _describe(returncode: int) -> str:
    if returncode >= 0:
        return f"exited with status {returncode}"
    return f"killed by {_signal_name(-returncode)}"


def demo(params: str, timeout: float) -> int:
    """Start the bundled demo child with ``params`` and a pipe as fd "out".

    Prints what the child wrote, its pid and how it exited. Returns 0 only
    if the child started, wrote a line naming its pid and ``params``, and
    exited with status 0.
    """
    entry = f"{DEMO_LIBRARY}:DemoMain"
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


def demo_ipc(timeout: float) -> int:
    """Start the bundled calculator child, add 19 and 23 through it, end it.

    Prints the sum, the child's pid and how it exited. Returns 0 only if
    the sum is 42 and the child exited with status 0.
    """
    exits: list[int] = []
    exited = threading.Event()

    def on_exit(pid: int, status: int) -> None:
        if pid == child_pid:
            exits.append(status)
            exited.set()

    child_pid = 0
    total = 0
    try:
        with on_child_exit(on_exit), connect(CALC_LIBRARY, timeout=timeout) as calc:
            child_pid = calc.pid
            reply = calc.send_request(CALC_ADD, Parcel().write_int32(19).write_int32(23))
            total = reply.read_int32()
            print(f"started {CALC_LIBRARY}")
            print(f"child pid: {child_pid}")
            print(f"add(19, 23) = {total}")
            calc.send_request(CALC_EXIT, Parcel())
            if not exited.wait(timeout):
                raise TimeoutError(f"the calculator (pid {child_pid}) did not exit")
    except (NativeChildProcessError, IPCError, TimeoutError) as exc:
        print(f"ohncp demo --ipc: {exc}", file=sys.stderr)
        return 1
    print(f"child exited, exit callback: code/signal {exits[0]}")
    ok = total == 42 and exits[0] == 0
    if not ok:
        print("ohncp demo --ipc: FAILED (unexpected sum or exit status)", file=sys.stderr)
    return 0 if ok else 1


# ---- file descriptor specs: [MODE:]PATH, -, &N ----

# Like the shell's <, >, >> and <>. Files are opened close-on-exec (Python's
# default): the runtime hands the child duplicates of its own.
_OPEN_FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "rw": os.O_RDWR | os.O_CREAT,
}

FD_SPEC_HELP = """\
A file descriptor SPEC is one of (the same for run's --fd NAME=SPEC and
call's --fd SPEC):
  MODE:PATH    open PATH; MODE is r (read), w (write, create, truncate),
               a (append, create) or rw (read and write, create, keep the
               contents)
  PATH         open PATH read and write (read only if it may only be read);
               a PATH that starts with WORD: or, for call, has an = before
               any /, is written ./PATH
  -            this command's stdout (its stdin with r:-)
  &N           this command's open file descriptor N, as it is (quote the &
               in a shell: --fd 'log=&3')
"""

# WORD: at the start of a spec is a mode, known or not: "x:foo" is an error,
# not a file named "x:foo".
_MODE_PREFIX = re.compile(r"([A-Za-z]+):")


def _check_fd_spec(spec: str) -> str:
    """Check a fd SPEC for argparse, before anything starts."""
    if not spec:
        raise argparse.ArgumentTypeError("empty file descriptor spec")
    if spec.startswith("&") and not spec[1:].isdigit():
        raise argparse.ArgumentTypeError(f"{spec!r}: &N takes a file descriptor number")
    prefix = _MODE_PREFIX.match(spec)
    if prefix is not None:
        mode = prefix.group(1)
        if mode not in _OPEN_FLAGS:
            raise argparse.ArgumentTypeError(
                f"{spec!r}: unknown mode {mode!r} (r, w, a or rw; a file name with a "
                f"colon is written ./{spec})"
            )
        if prefix.end() == len(spec):
            raise argparse.ArgumentTypeError(f"{spec!r}: no path after {mode}:")
    return spec


def _named_fd_spec(text: str) -> tuple[str, str]:
    """Split run's ``NAME=SPEC`` for argparse."""
    name, sep, spec = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=SPEC (e.g. out=result.txt)")
    return name, _check_fd_spec(spec)


def _unnamed_fd_spec(text: str) -> str:
    """Check call's ``SPEC`` for argparse: request fds have no names."""
    name, sep, _ = text.partition("=")
    if sep and "/" not in name:
        raise argparse.ArgumentTypeError(
            f"{text!r}: call --fd takes a SPEC, not NAME=SPEC (a request's fds have no "
            f"names; a file name with an = is written ./{text})"
        )
    return _check_fd_spec(text)


def _open_fd_spec(spec: str, stack: contextlib.ExitStack) -> int:
    """Return the fd ``spec`` names; fds it opens are closed when ``stack`` closes."""
    prefix = _MODE_PREFIX.match(spec)  # a known mode: _check_fd_spec saw to it
    mode, path = (prefix.group(1), spec[prefix.end() :]) if prefix else ("", spec)
    if path == "-":
        return 0 if mode == "r" else 1
    if path.startswith("&") and path[1:].isdigit():
        fd = int(path[1:])
        try:
            os.fstat(fd)
        except OSError as exc:
            raise CliError(f"{spec}: file descriptor {fd} is not open ({exc.strerror})") from None
        return fd
    try:
        fd = os.open(path, _OPEN_FLAGS[mode or "rw"], 0o666)
    except OSError as exc:
        if mode or exc.errno not in (errno.EACCES, errno.EROFS, errno.EISDIR):
            raise CliError(f"cannot open {path}: {exc.strerror}") from None
        try:  # no mode given, and the file may only be read
            fd = os.open(path, os.O_RDONLY)
        except OSError as again:
            raise CliError(f"cannot open {path}: {again.strerror}") from None
    stack.callback(os.close, fd)
    return fd


# ---- signals: kill the child, exit 128 + signo ----

_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """A signal asked this command to stop (a BaseException, like KeyboardInterrupt)."""

    def __init__(self, signo: int) -> None:
        super().__init__(signo)
        self.signo = signo


class _SignalGuard:
    """Turns SIGINT, SIGTERM and SIGHUP into :class:`Interrupted`, once armed.

    A signal that comes before :meth:`arm` (while a start call is under
    way, before anything owns the child) is held and raised by ``arm``, so
    the handle is never lost between the start call and the ``with``.
    """

    def __init__(self) -> None:
        self._armed = False
        self._pending: int | None = None
        self._saved: dict[int, Any] = {}

    def _handle(self, signo: int, frame: FrameType | None) -> None:
        if not self._armed:
            self._pending = self._pending or signo
            return
        self._armed = False  # a second signal must not interrupt the cleanup
        raise Interrupted(signo)

    def arm(self) -> None:
        """Raise a held signal now, and any later one when it comes."""
        if self._pending is not None:
            raise Interrupted(self._pending)
        self._armed = True

    def disarm(self) -> None:
        """Hold signals again (from here on, they are raised by the next :meth:`arm`)."""
        self._armed = False

    def __enter__(self) -> _SignalGuard:
        for signo in _FORWARDED:
            if signal.getsignal(signo) != signal.SIG_IGN:  # nohup etc. stay ignored
                self._saved[signo] = signal.signal(signo, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._armed = False
        for signo, handler in self._saved.items():
            signal.signal(signo, handler)


def _interrupted(exc: Interrupted, what: str) -> int:
    print(f"ohncp: {_signal_name(exc.signo)}: {what}", file=sys.stderr)
    return 128 + exc.signo


# ---- run ----


def _isolation(args: argparse.Namespace) -> Literal["normal", "isolated"]:
    return "isolated" if args.isolated or args.isolated_uid else "normal"


def run(args: argparse.Namespace) -> int:
    """Start ``args.entry`` with the fds 0-2 of this command; return its exit status."""
    with _SignalGuard() as guard, contextlib.ExitStack() as stack:
        fds = {}
        for name, spec in args.fds:
            try:
                fds[name] = _open_fd_spec(spec, stack)
            except CliError as exc:
                raise CliError(f"--fd {name}: {exc}") from None
        # The child writes to our fds 0-2 directly: put out what Python holds first.
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            child = start_child(
                args.entry,
                args.param,
                fds,
                isolation=_isolation(args),
                isolation_uid=args.isolated_uid,
                process_name=args.name,
            )
        except NativeChildProcessError as exc:
            raise CliError(f"cannot start {args.entry}: {exc}") from None
        stack.close()  # the child has its own copies
        try:
            with child:  # kills and reaps the child whatever happens below
                guard.arm()
                returncode = child.wait()
                guard.disarm()
        except Interrupted as exc:
            return _interrupted(exc, f"killed child {child.pid}")
    if returncode < 0:
        print(f"ohncp: child {child.pid} {_describe(returncode)}", file=sys.stderr)
        return 128 - returncode
    return returncode


# ---- call: values ----

_INT_BITS = {"int8": 8, "int16": 16, "int32": 32, "int64": 64}
_INT_TYPES = [*_INT_BITS, *(f"u{name}" for name in _INT_BITS)]
# What --reply can read; "bytes" needs a size, "bytes:N".
REPLY_TYPES = (*_INT_TYPES, "float", "double", "string", "bytes:N", "fd", "token")


def _int_of(kind: str) -> Callable[[str], int]:
    """Return the argparse type of an integer (decimal, 0x.., 0o.., 0b..) of ``kind``."""
    bits = _INT_BITS[kind.removeprefix("u")]
    if kind.startswith("u"):
        low, high = 0, 2**bits - 1
    else:
        low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def convert(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is out of range for {kind}")
        return value

    convert.__name__ = kind  # argparse names the type in its messages
    return convert


def _request_code(text: str) -> int:
    """Convert CODE for argparse: a user request code, 1..0xFFFFFF as the help says."""
    try:
        code = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 1 <= code <= _MAX_REQUEST_CODE:
        raise argparse.ArgumentTypeError(f"{text!r} is not a request code (1..0xFFFFFF)")
    return code


_request_code.__name__ = "request code"
_MAX_REQUEST_CODE = 0xFFFFFF


def _hex_bytes(text: str) -> bytes:
    """Convert hex to bytes for argparse; spaces and colons allowed (``de ad``, ``de:ad``)."""
    try:
        return bytes.fromhex(text.replace(":", " "))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not hex bytes (e.g. 0a1b2c)") from None


def _reply_types(text: str) -> list[tuple[str, int]]:
    """Split --reply for argparse: ``int32,string,bytes:16`` -> [(kind, size), ...]."""
    out = []
    for item in text.split(","):
        kind, _, size = item.strip().partition(":")
        if kind == "bytes" and size.isdigit():
            out.append((kind, int(size)))
        elif kind in REPLY_TYPES and not size:
            out.append((kind, 0))
        else:
            raise argparse.ArgumentTypeError(
                f"{item!r} is not a reply type; one of: {', '.join(REPLY_TYPES)}"
            )
    return out


class _AppendTyped(argparse.Action):
    """Append (type, value) to a list shared by every typed option, in command-line order."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        items = list(getattr(namespace, self.dest, None) or [])
        items.append((self.const, values))
        setattr(namespace, self.dest, items)


def _write_value(data: Parcel, kind: str, value: object, stack: contextlib.ExitStack) -> None:
    if kind == "fd":
        data.write_fd(_open_fd_spec(str(value), stack))
    elif kind == "token":
        data.write_interface_token(str(value))
    else:
        getattr(data, f"write_{kind}")(value)


def _read_value(reply: Parcel, kind: str, size: int) -> str:
    """Read one value of ``kind`` and format it for a line of output."""
    if kind == "bytes":
        return reply.read_bytes(size).hex(" ")
    if kind == "token":
        return reply.read_interface_token()
    if kind == "fd":
        fd = reply.read_fd()
        try:
            return f"fd {os.readlink(f'/proc/self/fd/{fd}')}"
        finally:
            os.close(fd)
    value = getattr(reply, f"read_{kind}")()
    return repr(value) if isinstance(value, float) else str(value)


def hexdump(data: bytes) -> Iterator[str]:
    """Lines of offset, 16 bytes in hex, and those bytes as ASCII."""
    for at in range(0, len(data), 16):
        row = data[at : at + 16]
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        yield f"{at:08x}  {row.hex(' '):<47}  {text}"


# ---- call: request and reply ----


def _abandon(message: str, status: int) -> NoReturn:
    """Exit now, leaving a request under way: its parcels must not be freed under it.

    The child dies with this process, which ends the request too.
    """
    print(f"ohncp: {message}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _send(
    proxy: RemoteProxy, code: int, data: Parcel, oneway: bool, timeout: float | None
) -> Parcel:
    """send_request on a helper thread, so that a timeout and signals can end the wait."""
    result: dict[str, Any] = {}

    def work() -> None:
        try:
            result["reply"] = proxy.send_request(code, data, oneway=oneway)
        except BaseException as exc:  # handed to the waiting thread
            result["error"] = exc

    worker = threading.Thread(target=work, name="ohncp-call", daemon=True)
    worker.start()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while worker.is_alive():
            step = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if step <= 0:
                _abandon(f"request {code}: no reply within {timeout} s", EXIT_FAILURE)
            worker.join(step)
    except Interrupted as exc:
        _abandon(f"{_signal_name(exc.signo)}: request {code} abandoned", 128 + exc.signo)
    if "error" in result:
        raise result["error"]
    reply: Parcel = result["reply"]
    return reply


def _print_reply(reply: Parcel, kinds: list[tuple[str, int]] | None) -> None:
    if kinds is None:
        size = len(reply)
        print(f"reply: {size} bytes")
        for line in hexdump(reply.read_bytes(size) if size else b""):
            print(line)
        return
    for index, (kind, size) in enumerate(kinds, 1):
        try:
            print(_read_value(reply, kind, size))
        except IPCError as exc:
            raise CliError(f"reply value {index} ({kind}): {exc}") from None


def call(args: argparse.Namespace) -> int:
    """Connect to ``args.lib``, send one request, print the reply."""
    timeout = args.timeout if args.timeout > 0 else None
    with _SignalGuard() as guard, contextlib.ExitStack() as stack:
        guard.arm()  # connect and the request wait in slices: an interrupt ends them
        try:
            data = stack.enter_context(Parcel())
            for kind, value in args.values or []:
                _write_value(data, kind, value, stack)
            try:
                proxy = connect(
                    args.lib,
                    timeout=timeout,
                    isolation=_isolation(args),
                    isolation_uid=args.isolated_uid,
                    process_name=args.name,
                )
            except NativeChildProcessError as exc:
                raise CliError(f"cannot start {args.lib}: {exc}") from None
            # Releasing the proxy ends a child whose MainProc waits for that;
            # any other child dies with this command (children die with
            # their parent).
            stack.enter_context(proxy)
            try:
                reply = stack.enter_context(_send(proxy, args.code, data, args.oneway, timeout))
            except IPCError as exc:
                raise CliError(
                    f"request {args.code} to {args.lib}: {exc.name} ({exc.code})"
                ) from None
            if not args.oneway:
                _print_reply(reply, args.reply)
        except Interrupted as exc:
            return _interrupted(exc, "request abandoned")
        except IPCError as exc:
            raise CliError(str(exc)) from None
    return 0


# ---- the parser ----

_RUN_EXAMPLES = """\
examples:
  python -m ohncp run ./libchild.so:ChildMain --param hello --fd out=-
  python -m ohncp run libchild.so:Main --fd in=r:input.txt --fd out=w:result.txt

The child inherits this command's stdin, stdout and stderr, so what it
prints appears as it prints it. The exit status is the child's, or 128 +
the signal that killed it. SIGINT, SIGTERM or SIGHUP to this command kill
the child; the status is then 128 + that signal.
"""

_CALL_EXAMPLES = """\
examples:
  python -m ohncp call ./libcalc_child.so 1 --int32 19 --int32 23 --reply int32
  python -m ohncp call libsvc.so 7 --token my.Service --string hi --bytes 0a0b
  python -m ohncp call libsvc.so 3 --oneway

Values are written to the request in the order given. Without --reply the
reply's size and bytes are printed (a parcel pads every value to 4 bytes).
A stub that returns an error code makes the command print it and exit 1.
The child is not told to stop: it ends when its MainProc returns (if that
waits for the proxy to go) or when this command exits, since children die
with their parent.
"""

_DEMO_EXAMPLES = """\
examples:
  python -m ohncp demo --params "hi there"   # args mode
  python -m ohncp demo --ipc                 # IPC mode: the calculator child
"""


def _entry(text: str) -> str:
    """Check the form of ENTRY for argparse (the runtime checks the rest)."""
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not LIBRARY:FUNCTION")
    return text


def _add_start_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--isolated", action="store_true", help='isolation mode "isolated" (own namespaces)'
    )
    parser.add_argument(
        "--isolated-uid",
        action="store_true",
        help="also give the isolated child a uid of its own (implies --isolated)",
    )
    parser.add_argument("--name", help="the child's process name (1..64 of [A-Za-z0-9_])")


def _add_run(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run_parser = commands.add_parser(
        "run",
        help="start an args-mode child, pass its output through, exit with its status",
        description="Start a child that runs FUNCTION of LIBRARY, wait for it, exit with "
        "its status.",
        epilog=_RUN_EXAMPLES + "\n" + FD_SPEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run_parser.add_argument(
        "entry",
        metavar="ENTRY",
        type=_entry,
        help="LIBRARY:FUNCTION; a LIBRARY with a / is a path, a bare name is searched in "
        "OHNCP_LIBRARY_PATH and then by the dynamic linker",
    )
    run_parser.add_argument(
        "--param",
        "--params",
        default="",
        metavar="S",
        help="the child's entry params (default: empty)",
    )
    run_parser.add_argument(
        "--fd",
        dest="fds",
        action="append",
        default=[],
        type=_named_fd_spec,
        metavar="NAME=SPEC",
        help="pass a file descriptor under NAME (repeatable; SPEC below)",
    )
    _add_start_options(run_parser)


def _add_call(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    call_parser = commands.add_parser(
        "call",
        help="start an IPC-mode child, send it one request, print the reply",
        description="Start the IPC-mode child library LIB, send request CODE with the "
        "values given, print the reply.",
        epilog=_CALL_EXAMPLES + "\n" + FD_SPEC_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    call_parser.add_argument(
        "lib", metavar="LIB", help="the child library (a path, or a name searched as for run)"
    )
    call_parser.add_argument(
        "code", metavar="CODE", type=_request_code, help="the request code, 1..0xFFFFFF"
    )
    values = call_parser.add_argument_group(
        "request values",
        "written in the order given, each option repeatable; integers in decimal or 0x...",
    )
    for kind in _INT_TYPES:
        values.add_argument(
            f"--{kind}",
            dest="values",
            action=_AppendTyped,
            const=kind,
            type=_int_of(kind),
            metavar="N",
        )
    values.add_argument(
        "--float", dest="values", action=_AppendTyped, const="float", type=float, metavar="X"
    )
    values.add_argument(
        "--double", dest="values", action=_AppendTyped, const="double", type=float, metavar="X"
    )
    values.add_argument("--string", dest="values", action=_AppendTyped, const="string", metavar="S")
    values.add_argument(
        "--bytes",
        dest="values",
        action=_AppendTyped,
        const="bytes",
        type=_hex_bytes,
        metavar="HEX",
        help="raw bytes in hex (no length is written)",
    )
    values.add_argument(
        "--fd",
        dest="values",
        action=_AppendTyped,
        const="fd",
        type=_unnamed_fd_spec,
        metavar="SPEC",
        help="a file descriptor (SPEC below)",
    )
    values.add_argument(
        "--token",
        dest="values",
        action=_AppendTyped,
        const="token",
        metavar="S",
        help="an interface token",
    )
    call_parser.set_defaults(values=[])
    call_parser.add_argument(
        "--reply",
        type=_reply_types,
        metavar="TYPES",
        help="read the reply as TYPES, comma-separated, and print one value per line: "
        + ", ".join(REPLY_TYPES),
    )
    call_parser.add_argument(
        "--oneway", action="store_true", help="do not wait for the stub to handle the request"
    )
    call_parser.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="wait this long for the child to connect, and again for the reply; "
        "0 waits without limit (default 10)",
    )
    _add_start_options(call_parser)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ohncp",
        description="Start native child processes and call them; flags for building "
        "child libraries against ohncp; a demo.",
        epilog="'python -m ohncp COMMAND --help' shows a command's options and examples.",
    )
    parser.add_argument("--cflags", action="store_true", help="print the compiler flags (-I...)")
    parser.add_argument(
        "--libs", action="store_true", help="print the linker flags (-L... -lchild_process ...)"
    )
    parser.add_argument("--version", action="version", version=f"ohncp {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_run(commands)
    _add_call(commands)
    demo_parser = commands.add_parser(
        "demo",
        help="start the bundled demo child library and show what it did",
        description="Start the bundled demo child library and show what it did.",
        epilog=_DEMO_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo_parser.add_argument(
        "--params", default="hello from Python", help="the child's entry params"
    )
    demo_parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds to wait for the child"
    )
    demo_parser.add_argument(
        "--ipc",
        action="store_true",
        help="start the bundled IPC-mode calculator instead, call it, and end it",
    )
    return parser


# ---- main ----


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "call" and args.oneway and args.reply:
        parser.error("call: --reply and --oneway exclude each other (a one-way call has no reply)")
    try:
        if args.command in ("run", "call"):
            return int(run(args) if args.command == "run" else call(args))
    except CliError as exc:
        print(f"ohncp: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Interrupted as exc:  # a signal between the command's own handling points
        return 128 + exc.signo
    if args.command == "demo":
        return demo_ipc(args.timeout) if args.ipc else demo(args.params, args.timeout)
    wanted = [make for asked, make in ((args.cflags, cflags), (args.libs, libs)) if asked]
    if not wanted:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    print(" ".join(make() for make in wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
