"""IPC round-trip benchmark: every way to a child process and back, side by side.

    .venv/bin/python benchmarks/run_ipc.py [-n 2000] [--n-big 300] [--cpus free,one,split]

For 16 B, 4 KiB and 200 KiB payloads it measures, as medians and p99:
OH_IPCRemoteProxy_SendRequest from C to an IPC-mode child whose stub echoes
the parcel; a raw AF_UNIX SOCK_SEQPACKET ping-pong with a forked echo
process (the baseline); the raw ping-pong again with the transport's thread
hand-offs imitated (to show where the time goes); the same echo through the
ohncp Python API (``ohncp.connect`` ... ``send_request``) when the installed
package has it; and a ``multiprocessing.Pipe`` send_bytes/recv_bytes echo.
For 200 KiB it also gives the payload bandwidth per direction.

CPU placement decides most of the result on a small VM, so every
measurement is made under each placement named by ``--cpus`` (default: all
three, each in a fresh process), followed by a summary of the targets:
  free   the scheduler places every thread (what an application gets)
  one    everything on the first CPU
  split  this side on the first CPU, every child on the last: each message
         crosses CPUs
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import ohncp

ROOT = Path(__file__).resolve().parent.parent
SIZES = (16, 4096, 200 * 1024)
CODE_ECHO = 1
CODE_STOP = 2

Row = dict[str, Any]

PLACEMENTS = {
    "free": "The scheduler places every thread, as for an application.",
    "one": "Every process and thread on the first CPU: wake-ups are plain context switches.",
    "split": "This side on the first CPU, every child on the last: each message crosses CPUs.",
}


def build(build_dir: Path) -> Path:
    """Configure and build the C benchmark and its child (Release) if needed."""
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["cmake", "--build", str(build_dir), "-j2", "--target", "bench_ipc"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return build_dir / "bench" / "bench_ipc"


def size_label(size: int) -> str:
    """16 B, 4 KiB, 200 KiB."""
    if size >= 1024 and size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


def summary(way: str, size: int, samples_us: list[float], faults: int) -> Row:
    """One result row, in the shape bench_ipc prints."""
    samples_us.sort()
    median = statistics.median(samples_us)
    return {
        "way": way,
        "size": size,
        "n": len(samples_us),
        "median_us": median,
        "p99_us": samples_us[(len(samples_us) * 99) // 100],
        "mb_s": size / median,  # per direction; bytes per us = MB/s
        "faults": faults / len(samples_us),
    }


def measure(way: str, size: int, n: int, round_trip: Callable[[bytes], bytes]) -> Row:
    """Time n round trips of a size-byte payload after a checked warm-up."""
    payload = bytes((i * 131 + 7) & 0xFF for i in range(size))
    for _ in range(50):
        if round_trip(payload) != payload:
            raise RuntimeError(f"{way}: the echo of {size} bytes differs")
    samples = []
    perf = time.perf_counter
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        t0 = perf()
        round_trip(payload)
        samples.append((perf() - t0) * 1e6)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return summary(way, size, samples, faults)


def last_cpu() -> int:
    """The CPU children go to under ``split``."""
    return (os.cpu_count() or 1) - 1


def pin(cpu: int) -> None:
    """Keep the calling thread (and what it starts later) on ``cpu``."""
    os.sched_setaffinity(0, {cpu})


# ---- multiprocessing.Pipe ----


def _pipe_echo(conn: Connection, split: bool) -> None:
    if split:
        pin(last_cpu())
    try:
        while True:
            data = conn.recv_bytes()
            if not data:
                break
            conn.send_bytes(data)
    except EOFError:
        pass


def bench_pipe(counts: dict[int, int], split: bool) -> list[Row]:
    """Round trips through a duplex multiprocessing.Pipe to an echoing child."""
    ctx = mp.get_context("forkserver")
    here, there = ctx.Pipe()
    child = ctx.Process(target=_pipe_echo, args=(there, split))
    child.start()
    there.close()

    def round_trip(payload: bytes) -> bytes:
        here.send_bytes(payload)
        return here.recv_bytes()

    try:
        return [measure("pipe", size, counts[size], round_trip) for size in SIZES]
    finally:
        here.send_bytes(b"")
        child.join(10)
        here.close()


# ---- the ohncp Python API (ohncp.connect), when the package has it ----


def bench_ohncp_python(lib: Path, counts: dict[int, int]) -> list[Row]:
    """Round trips through ohncp.connect / send_request to the echoing stub."""
    with ohncp.connect(str(lib), timeout=10) as proxy:

        def round_trip(payload: bytes) -> bytes:
            with ohncp.Parcel() as data:
                data.write_bytes(payload)
                with proxy.send_request(CODE_ECHO, data) as reply:
                    return reply.read_bytes(len(payload))

        try:
            return [measure("ohncp_python", size, counts[size], round_trip) for size in SIZES]
        finally:
            proxy.send_request(CODE_STOP).close()


# ---- the report ----


def cell(row: Row | None) -> str:
    """Median / p99 of a row for the table."""
    if row is None:
        return "n/a"
    return f"{row['median_us']:.1f} / {row['p99_us']:.0f}"


def report(rows: list[Row], setup: Row, cpus: str, python_note: str | None) -> str:
    """The Markdown tables and target lines for one placement."""
    by = {(r["way"], r["size"]): r for r in rows}
    out = [
        f"### CPU placement: {cpus} ({setup.get('ncpu', '?')} CPUs; raw baseline on "
        f"{setup.get('socket', '?')})",
        "",
        PLACEMENTS.get(cpus, ""),
        "",
        "Round trip, median / p99 in microseconds (the payload travels both ways).",
        "",
        "| payload | C SendRequest | raw ping-pong | C / raw | Python ohncp | "
        "multiprocessing.Pipe | Pipe / Python ohncp |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for size in SIZES:
        c, raw = by.get(("sendrequest", size)), by.get(("raw", size))
        py, pipe = by.get(("ohncp_python", size)), by.get(("pipe", size))
        ratio = f"{c['median_us'] / raw['median_us']:.2f}x" if c and raw else "n/a"
        speed = f"{pipe['median_us'] / py['median_us']:.2f}x" if py and pipe else "n/a"
        out.append(
            f"| {size_label(size)} | {cell(c)} | {cell(raw)} | {ratio} | {cell(py)} | "
            f"{cell(pipe)} | {speed} |"
        )
    big = SIZES[-1]
    out += [
        "",
        f"{size_label(big)} bandwidth, MB/s of payload per direction (size / median round "
        "trip); minor page faults per round trip in the calling process:",
        "",
        "| way | MB/s | vs raw | page faults |",
        "|---|---:|---:|---:|",
    ]
    raw_bw = by.get(("raw", big), {}).get("mb_s")
    for way, name in (
        ("sendrequest", "C SendRequest"),
        ("raw", "raw ping-pong"),
        ("ohncp_python", "Python ohncp"),
        ("pipe", "multiprocessing.Pipe"),
    ):
        r = by.get((way, big))
        if r is None:
            out.append(f"| {name} | n/a | | |")
            continue
        vs = f"{100 * r['mb_s'] / raw_bw:.0f}%" if raw_bw else "n/a"
        out.append(f"| {name} | {r['mb_s']:.0f} | {vs} | {r.get('faults', 0):.1f} |")
    shapes = [
        ("raw", "raw: each side one thread, blocking send/recv"),
        ("raw_child_handoff", "raw + child side: epoll I/O thread hands to a worker"),
        ("raw_parent_handoff", "raw + parent side: epoll I/O thread wakes the caller"),
        ("raw_both_handoff", "raw + both (the transport's thread shape)"),
        ("sendrequest", "C SendRequest"),
    ]
    if any(("raw_both_handoff", s) in by for s in SIZES):
        out += [
            "",
            "Where the time goes: the raw ping-pong with the transport's thread hand-offs "
            "imitated (medians, microseconds):",
            "",
            "| way | " + " | ".join(size_label(s) for s in SIZES) + " |",
            "|---|" + "---:|" * len(SIZES),
        ]
        for way, name in shapes:
            vals = [by.get((way, s)) for s in SIZES]
            out.append(
                f"| {name} | "
                + " | ".join(f"{v['median_us']:.1f}" if v else "n/a" for v in vals)
                + " |"
            )
    c16, raw16 = by.get(("sendrequest", SIZES[0])), by.get(("raw", SIZES[0]))
    py16, pipe16 = by.get(("ohncp_python", SIZES[0])), by.get(("pipe", SIZES[0]))
    c_big, raw_big = by.get(("sendrequest", big)), by.get(("raw", big))
    out.append("")
    if c16 and raw16:
        r = c16["median_us"] / raw16["median_us"]
        out.append(
            f"- C SendRequest / raw at 16 B: {r:.2f}x (target <= 1.3x): "
            f"{'met' if r <= 1.3 else 'missed'}"
        )
    if c_big and raw_big:
        r = c_big["mb_s"] / raw_big["mb_s"]
        out.append(
            f"- {size_label(big)} bandwidth, C SendRequest vs raw: {100 * r:.0f}% "
            f"(target >= 50%): {'met' if r >= 0.5 else 'missed'}"
        )
    if py16 and pipe16:
        ok = py16["median_us"] < pipe16["median_us"]
        out.append(
            f"- Python ohncp vs multiprocessing.Pipe at 16 B: {py16['median_us']:.1f} us vs "
            f"{pipe16['median_us']:.1f} us (target: faster): {'met' if ok else 'missed'}"
        )
    faulty = [
        name
        for way, name in (("ohncp_python", "Python ohncp"), ("pipe", "multiprocessing.Pipe"))
        if by.get((way, big), {}).get("faults", 0) >= 10
    ]
    if faulty:
        out.append(
            f"- {' and '.join(faulty)} at {size_label(big)}: the page faults are glibc handing "
            "each freed 200 KiB buffer back to the kernel and faulting a new one in (with "
            "MALLOC_MMAP_THRESHOLD_=1048576 MALLOC_TRIM_THRESHOLD_=8388608 in the environment "
            "they go away)"
        )
    if python_note:
        out.append(f"- {python_note}")
    return "\n".join(out)


def measure_all(args: argparse.Namespace, exe: Path, cpus: str) -> dict[str, Any]:
    """Every measurement for one CPU placement, in this process."""
    if cpus in ("one", "split"):
        pin(0)  # before any child or runtime thread exists: they inherit it
    os.environ["BENCH_IPC_CPUS"] = cpus  # bench_ipc and the ohncp child read it
    out = subprocess.run(
        [str(exe), str(args.n), str(args.n_big)], check=True, capture_output=True, text=True
    )
    rows: list[Row] = []
    setup: Row = {}
    for line in out.stdout.splitlines():
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "way" in r:
            rows.append(r)
        elif r.get("name") == "setup":
            setup = r
    counts = {s: (args.n_big if s == SIZES[-1] else args.n) for s in SIZES}
    rows += bench_pipe(counts, cpus == "split")
    note = None
    lib = args.build_dir / "bench" / "libbench_ipc_child.so"
    if hasattr(ohncp, "connect"):
        rows += bench_ohncp_python(lib, counts)
    else:
        note = (
            "Python ohncp: skipped, the installed ohncp has no connect() yet "
            "(reinstall with `.venv/bin/pip install .` once it does)"
        )
    return {"cpus": cpus, "rows": rows, "setup": setup, "note": note}


def summary_table(results: list[dict[str, Any]]) -> str:
    """The targets, one line per placement."""
    small, big = SIZES[0], SIZES[-1]
    out = [
        "### Summary: the targets under each placement (medians)",
        "",
        f"| placement | C SendRequest {size_label(small)} | raw {size_label(small)} | C / raw "
        f"(<= 1.3x) | {size_label(big)} C vs raw bandwidth (>= 50%) | Python ohncp "
        f"{size_label(small)} | Pipe {size_label(small)} | Python faster than Pipe |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for res in results:
        med = {(r["way"], r["size"]): float(r["median_us"]) for r in res["rows"]}
        c, raw, py, pipe = (
            med.get((w, small)) for w in ("sendrequest", "raw", "ohncp_python", "pipe")
        )
        c_big, raw_big = med.get(("sendrequest", big)), med.get(("raw", big))
        ratio = f"{c / raw:.2f}x" if c and raw else "n/a"
        bw = f"{100 * raw_big / c_big:.0f}%" if c_big and raw_big else "n/a"
        faster = ("yes" if py < pipe else "no") if py and pipe else "n/a"
        out.append(
            f"| {res['cpus']} | {c or 0:.1f} us | {raw or 0:.1f} us | {ratio} | {bw} | "
            + (f"{py:.1f} us" if py else "n/a")
            + f" | {pipe or 0:.1f} us | {faster} |"
        )
    return "\n".join(out)


def main() -> int:
    """Build, measure under each placement, print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=2000, help="round trips for 16 B and 4 KiB")
    ap.add_argument("--n-big", type=int, default=300, help="round trips for 200 KiB")
    ap.add_argument(
        "--cpus",
        default="free,one,split",
        help="CPU placements to run, comma-separated: free, one, split (default: all three)",
    )
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench-release")
    ap.add_argument("--measure-json", metavar="CPUS", help=argparse.SUPPRESS)
    args = ap.parse_args()
    exe = args.build_dir / "bench" / "bench_ipc"
    if args.measure_json:  # one placement, in a fresh process (pinning is inherited)
        print(json.dumps(measure_all(args, exe, args.measure_json)))
        return 0
    modes = [m.strip() for m in args.cpus.split(",") if m.strip()]
    if not modes or any(m not in ("free", "one", "split") for m in modes):
        ap.error("--cpus takes free, one, split or a comma-separated list of them")
    build(args.build_dir)
    results = []
    for i, mode in enumerate(modes):
        cmd = [
            sys.executable,
            __file__,
            "-n",
            str(args.n),
            "--n-big",
            str(args.n_big),
            "--build-dir",
            str(args.build_dir),
            "--measure-json",
            mode,
        ]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        res = json.loads(out.strip().splitlines()[-1])
        results.append(res)
        if i:
            print()
        print(report(res["rows"], res["setup"], mode, res["note"]))
    if len(results) > 1:
        print()
        print(summary_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
