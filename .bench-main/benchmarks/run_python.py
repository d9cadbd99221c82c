"""Python-level benchmark: ohncp beside subprocess and multiprocessing, side by side.

    .venv/bin/python benchmarks/run_python.py [--quick] [--placements free,one]

Start: from the start call until the child has signalled that it runs (one
byte on a pipe; the clock stops when the parent has read it), and until the
start call returned. Ways: ``ohncp.start`` of a library entry (it returns
once the child has loaded the library and found the entry),
``subprocess.Popen`` of ``/bin/echo`` and of ``python -c``, and
``multiprocessing.Process`` under the fork, forkserver and spawn contexts.
Every child is reaped outside the timed part.

Round trip: a payload to a child process and back (16 B and 200 KiB):
``RemoteProxy.send_request`` to an IPC-mode child whose stub echoes the
parcel, ``multiprocessing.Pipe`` send_bytes/recv_bytes with an echoing
child, and a raw ``socket.socketpair`` SOCK_SEQPACKET ping-pong with a
forked echo process (the floor for Python code).

Each placement (``free``: the scheduler decides; ``one``: everything on the
first CPU, children inherit it) runs in a fresh interpreter. Within one, the
ways take turns sample by sample, so a noisy neighbour costs them alike.
Prints Markdown tables of medians and p90, with each median as a multiple of
ohncp's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
SIZES = (16, 200 * 1024)
CODE_ECHO, CODE_STOP = 1, 2  # bench_ipc_child.c
WARMUP = 3  # samples of each way dropped at the start

Row = dict[str, Any]


# ---- child libraries ----


def build_children(out_dir: Path) -> dict[str, Path]:
    """Build bench_child.c and bench_ipc_child.c as a user would, with the CLI's flags."""
    flags = subprocess.run(
        [sys.executable, "-m", "ohncp", "--cflags", "--libs"],
        cwd=out_dir,  # not the source tree, whose ohncp has no compiled part
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    built = {}
    for stem in ("bench_child", "bench_ipc_child"):
        target = out_dir / f"lib{stem}.so"
        cmd = ["cc", "-O2", "-D_GNU_SOURCE", "-shared", "-fPIC", "-o", str(target)]
        cmd += [str(ROOT / f"{stem}.c"), *shlex.split(flags), "-lpthread"]
        subprocess.run(cmd, check=True)
        built[stem] = target
    return built


# ---- statistics ----


def summary(samples_us: list[float]) -> Row:
    """Median and p90 (nearest rank) of the samples, warm-up dropped."""
    kept = sorted(samples_us[WARMUP:])
    return {
        "n": len(kept),
        "median_us": statistics.median(kept),
        "p90_us": kept[min(len(kept) - 1, (len(kept) * 9) // 10)],
    }


def take_turns(ways: dict[str, tuple[int, Callable[[], float]]]) -> dict[str, Row]:
    """Run the ways' one-sample functions in turns until each has its n (plus warm-up).

    A way with fewer samples takes its turn in every k-th round only, so
    that its samples too are spread over the whole run.
    """
    rounds = max(n for n, _ in ways.values()) + WARMUP
    samples: dict[str, list[float]] = {name: [] for name in ways}
    for i in range(rounds):
        for name, (n, sample) in ways.items():
            stride = max(1, rounds // (n + WARMUP))
            if i % stride == 0 and len(samples[name]) < n + WARMUP:
                samples[name].append(sample())
    return {name: summary(values) for name, values in samples.items()}


# ---- start ----

# Imported by main() and the measuring functions only: "spawn" children
# import this module again, and must not pay for ohncp there.
ohncp: Any = None


def _ready(conn: Connection) -> None:
    conn.send_bytes(b"x")


def ohncp_start(entry: str) -> Callable[[], tuple[float, float]]:
    """One ohncp.start; (start returned, child ready) in microseconds."""
    r, w = os.pipe()

    def sample() -> tuple[float, float]:
        t0 = time.perf_counter()
        child = ohncp.start(entry, fds={"out": w})
        t1 = time.perf_counter()
        os.read(r, 1)
        t2 = time.perf_counter()
        child.wait()
        return (t1 - t0) * 1e6, (t2 - t0) * 1e6

    return sample


def popen_start(argv: list[str]) -> Callable[[], tuple[float, float]]:
    """One subprocess.Popen of a program that writes a byte to its stdout."""

    def sample() -> tuple[float, float]:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        t1 = time.perf_counter()
        assert proc.stdout is not None
        proc.stdout.read(1)
        t2 = time.perf_counter()
        proc.stdout.close()
        proc.wait()
        return (t1 - t0) * 1e6, (t2 - t0) * 1e6

    return sample


def mp_start(method: str) -> Callable[[], tuple[float, float]]:
    """One multiprocessing.Process under ``method``, ready when it has sent a byte."""
    ctx = mp.get_context(method)

    def sample() -> tuple[float, float]:
        r, w = ctx.Pipe(duplex=False)
        t0 = time.perf_counter()
        proc = ctx.Process(target=_ready, args=(w,))
        proc.start()
        t1 = time.perf_counter()
        r.recv_bytes()
        t2 = time.perf_counter()
        proc.join()
        r.close()
        w.close()
        return (t1 - t0) * 1e6, (t2 - t0) * 1e6

    return sample


def bench_start(libs: dict[str, Path], n: int, n_slow: int) -> list[Row]:
    """Start latencies of every way, taking turns."""
    ways = {
        "ohncp.start (library entry)": (n, ohncp_start(f"{libs['bench_child']}:Bench_WriteByte")),
        "subprocess.Popen /bin/echo": (n, popen_start(["/bin/echo", "x"])),
        "subprocess.Popen python -c": (
            n_slow,
            popen_start([sys.executable, "-c", "import os; os.write(1, b'x')"]),
        ),
        "multiprocessing fork": (n, mp_start("fork")),
        "multiprocessing forkserver": (n, mp_start("forkserver")),
        "multiprocessing spawn": (n_slow, mp_start("spawn")),
    }
    # Split each (returned, ready) sample into two series.
    returned: dict[str, list[float]] = {name: [] for name in ways}
    split: dict[str, tuple[int, Callable[[], float]]] = {}
    for name, (count, sample) in ways.items():

        def ready(name: str = name, sample: Callable[[], tuple[float, float]] = sample) -> float:
            t_returned, t_ready = sample()
            returned[name].append(t_returned)
            return t_ready

        split[name] = (count, ready)
    ready_rows = take_turns(split)  # the first forkserver sample starts the server
    return [
        {"way": name, "ready": ready_rows[name], "returned": summary(returned[name])}
        for name in ways
    ]


# ---- round trip ----


def _pipe_echo(conn: Connection) -> None:
    while True:
        data = conn.recv_bytes()
        if not data:
            return
        conn.send_bytes(data)


def _seqpacket_echo(sock: socket.socket) -> None:
    buffer = bytearray(2 * SIZES[-1])
    view = memoryview(buffer)
    while True:
        size = sock.recv_into(buffer)
        if not size:
            return
        sock.sendall(view[:size])


def bench_round_trip(libs: dict[str, Path], n: int, n_big: int) -> list[Row]:
    """Round trips of each payload size through every way, taking turns."""
    rows = []
    proxy = ohncp.connect(str(libs["bench_ipc_child"]), timeout=30)
    ctx = mp.get_context("forkserver")
    here, there = ctx.Pipe()
    pipe_child = ctx.Process(target=_pipe_echo, args=(there,))
    pipe_child.start()
    there.close()
    near, far = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (near, far):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * SIZES[-1])
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * SIZES[-1])
    sock_pid = os.fork()
    if sock_pid == 0:  # the echo process: nothing of the parent's but the socket
        try:
            near.close()
            _seqpacket_echo(far)
        finally:
            os._exit(0)
    far.close()
    try:
        for size in SIZES:
            payload = bytes((i * 131 + 7) & 0xFF for i in range(size))

            def via_ohncp(payload: bytes = payload) -> bytes:
                with ohncp.Parcel() as data:
                    data.write_bytes(payload)
                    with proxy.send_request(CODE_ECHO, data) as reply:
                        return bytes(reply.read_bytes(len(payload)))

            def via_pipe(payload: bytes = payload) -> bytes:
                here.send_bytes(payload)
                return bytes(here.recv_bytes())

            def via_socket(payload: bytes = payload) -> bytes:
                near.sendall(payload)
                return near.recv(len(payload))  # one message each way

            ways = {
                "ohncp RemoteProxy.send_request": via_ohncp,
                "multiprocessing.Pipe": via_pipe,
                "socketpair SEQPACKET (raw floor)": via_socket,
            }
            for name, way in ways.items():
                if way(payload) != payload:
                    raise RuntimeError(f"{name}: the echo of {size} bytes differs")
            count = n_big if size == SIZES[-1] else n
            timed = {name: (count, _timer(way)) for name, way in ways.items()}
            for name, row in take_turns(timed).items():
                rows.append({"way": name, "size": size, **row})
    finally:
        proxy.send_request(CODE_STOP).close()
        proxy.close()
        here.send_bytes(b"")
        pipe_child.join(10)
        here.close()
        near.close()
        os.waitpid(sock_pid, 0)
    return rows


def _timer(way: Callable[[], bytes]) -> Callable[[], float]:
    perf = time.perf_counter

    def sample() -> float:
        t0 = perf()
        way()
        return (perf() - t0) * 1e6

    return sample


# ---- the report ----


def fmt(us: float) -> str:
    """Microseconds, or milliseconds from 10 ms on."""
    if us >= 10_000:
        return f"{us / 1000:.1f} ms"
    if us >= 100:
        return f"{us:.0f} us"
    return f"{us:.1f} us"


def size_label(size: int) -> str:
    """16 B, 200 KiB."""
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def report(result: dict[str, Any]) -> str:
    """The two Markdown tables of one placement."""
    starts, trips = result["start"], result["round_trip"]
    base = next(r for r in starts if r["way"].startswith("ohncp"))
    out = [
        f"#### CPU placement: {result['placement']}",
        "",
        "Start: median / p90 from the start call until the child is ready, and until "
        "the start call returned; ready median as a multiple of ohncp's.",
        "",
        "| way | ready: median / p90 | vs ohncp | call returned: median / p90 | n |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in starts:
        ready, ret = r["ready"], r["returned"]
        ratio = ready["median_us"] / base["ready"]["median_us"]
        out.append(
            f"| {r['way']} | {fmt(ready['median_us'])} / {fmt(ready['p90_us'])} | "
            f"{ratio:.1f}x | {fmt(ret['median_us'])} / {fmt(ret['p90_us'])} | {ready['n']} |"
        )
    by = {(r["way"], r["size"]): r for r in trips}
    ways = list(dict.fromkeys(r["way"] for r in trips))
    out += [
        "",
        "Round trip (the payload goes there and back): median / p90; median as a multiple "
        "of ohncp's.",
        "",
        "| way | " + " | ".join(f"{size_label(s)}: median / p90 | vs ohncp" for s in SIZES) + " |",
        "|---|" + "---:|---:|" * len(SIZES),
    ]
    for way in ways:
        cells = []
        for size in SIZES:
            r, b = by[(way, size)], by[(ways[0], size)]
            cells.append(
                f"{fmt(r['median_us'])} / {fmt(r['p90_us'])} | "
                f"{r['median_us'] / b['median_us']:.2f}x"
            )
        out.append(f"| {way} | " + " | ".join(cells) + " |")
    return "\n".join(out)


# ---- main ----


def measure(args: argparse.Namespace, placement: str) -> dict[str, Any]:
    """Everything for one placement, in this (fresh) process."""
    global ohncp  # noqa: PLW0603 - see its definition
    if placement == "one":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # before any child exists
    import ohncp as imported  # noqa: PLC0415 - see the definition of ohncp

    ohncp = imported
    with tempfile.TemporaryDirectory(prefix="ohncp-bench-py-") as tmp:
        libs = build_children(Path(tmp))
        start = bench_start(libs, args.n, args.n_slow)
        trips = bench_round_trip(libs, args.n_trip, args.n_big)
    return {"placement": placement, "start": start, "round_trip": trips}


def machine() -> str:
    """One line on where this ran."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), Linux {platform.release()}, "
        f"Python {platform.python_version()}, load average {load} at the start"
    )


def main() -> int:
    """Measure each placement in a fresh interpreter and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=400, help="starts of the fast ways (default 400)")
    ap.add_argument(
        "--n-slow", type=int, default=40, help="starts of python -c and spawn (default 40)"
    )
    ap.add_argument("--n-trip", type=int, default=5000, help="16 B round trips (default 5000)")
    ap.add_argument("--n-big", type=int, default=500, help="200 KiB round trips (default 500)")
    ap.add_argument("--placements", default="free,one", help="free, one, or both (default)")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few samples of each")
    ap.add_argument("--measure-json", metavar="PLACEMENT", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.quick:
        args.n, args.n_slow, args.n_trip, args.n_big = 10, 3, 50, 10
    if args.measure_json:
        print(json.dumps(measure(args, args.measure_json)))
        return 0
    placements = [p.strip() for p in args.placements.split(",") if p.strip()]
    if not placements or any(p not in ("free", "one") for p in placements):
        ap.error("--placements takes free, one or free,one")
    print(f"Machine: {machine()}")
    began = time.monotonic()
    for placement in placements:
        cmd = [sys.executable, __file__, "--measure-json", placement]
        cmd += ["-n", str(args.n), "--n-slow", str(args.n_slow)]
        cmd += ["--n-trip", str(args.n_trip), "--n-big", str(args.n_big)]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
        print()
        print(report(json.loads(out.strip().splitlines()[-1])))
    print(f"\n({time.monotonic() - began:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
