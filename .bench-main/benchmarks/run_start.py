"""Start-latency benchmark: every way to start a child running a library entry.

All are measured side by side in one run, on this machine.

    .venv/bin/python benchmarks/run_start.py [-n 1000]

Measures, from the start call to the entry running (the entry writes a
byte that the parent reads): the runtime through its C API, through
``ohncp.start``, a bare fork-from-template baseline (library preloaded, and
with dlopen in the child), posix_spawn of a dynamically linked launcher,
and multiprocessing (forkserver) start-until-ready. Prints a Markdown table
(the README's) with each median as a multiple of the C API's.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import ohncp

ROOT = Path(__file__).resolve().parent.parent


def build(build_dir: Path) -> Path:
    """Configure and build the C benchmarks (Release) if needed."""
    exe = build_dir / "bench" / "bench_start"
    subprocess.run(
        ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DCMAKE_BUILD_TYPE=Release"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        ["cmake", "--build", str(build_dir), "-j2", "--target", "bench_start"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return exe


def summary(name: str, samples_us: list[float]) -> dict[str, float | str | int]:
    """Median and p99 of the samples, as a row like bench_start's."""
    samples_us.sort()
    return {
        "name": name,
        "n": len(samples_us),
        "median_us": statistics.median(samples_us),
        "p99_us": samples_us[(len(samples_us) * 99) // 100],
    }


def bench_ohncp_python(lib: Path, n: int) -> dict[str, float | str | int]:
    """Start latency through ohncp.start, until the entry's byte arrives."""
    r, w = os.pipe()
    samples = []
    try:
        for i in range(-50, n):
            t0 = time.perf_counter()
            child = ohncp.start(f"{lib}:Bench_WriteByte", fds={"out": w})
            os.read(r, 1)
            t1 = time.perf_counter()
            child.wait()
            if i >= 0:
                samples.append((t1 - t0) * 1e6)
    finally:
        os.close(r)
        os.close(w)
    return summary("ohncp.start (Python)", samples)


def _write_byte(conn: Connection) -> None:
    conn.send_bytes(b"x")


def bench_forkserver(n: int) -> dict[str, float | str | int]:
    """Start latency of a multiprocessing forkserver process, until it is ready."""
    ctx = mp.get_context("forkserver")
    samples = []
    for i in range(-5, n):
        r, w = ctx.Pipe(duplex=False)
        t0 = time.perf_counter()
        p = ctx.Process(target=_write_byte, args=(w,))
        p.start()
        r.recv_bytes()
        t1 = time.perf_counter()
        p.join()
        r.close()
        w.close()
        if i >= 0:
            samples.append((t1 - t0) * 1e6)
    return summary("multiprocessing forkserver, start until ready", samples)


def table(rows: list[dict[str, float | str | int]], base: float) -> str:
    """A Markdown table, each median also as a multiple of `base`."""
    out = [
        "| way to start a child running a library entry | median | p99 | vs ohncp C |",
        "|---|---:|---:|---:|",
    ]
    for row in rows:
        med = float(row["median_us"])
        out.append(
            f"| {row['name']} | {med:.0f} us | {float(row['p99_us']):.0f} us | {med / base:.2f}x |"
        )
    return "\n".join(out)


def main() -> int:
    """Build, run everything, print the table and the targets."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=1000, help="starts per way (default 1000)")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench-release")
    args = ap.parse_args()
    exe = build(args.build_dir)
    out = subprocess.run([str(exe), str(args.n)], check=True, capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    c_rows = {str(r["name"]): r for r in rows}
    lib = args.build_dir / "bench" / "libbench_child.so"
    py_row = bench_ohncp_python(lib, args.n)
    fs_row = bench_forkserver(max(20, args.n // 10))
    c_api = float(c_rows["ohncp C API"]["median_us"])
    starts = [r for r in rows if "median_us" in r and "Kill" not in str(r["name"])]
    print(table([*starts, py_row, fs_row], c_api))
    print()
    for r in rows:
        if "total_ms" in r:
            print(f"- {r['name']}: {float(r['total_ms']):.0f} ms")
        elif "Kill" in str(r["name"]):
            med, p99 = float(r["median_us"]), float(r["p99_us"])
            print(f"- {r['name']}: median {med:.0f} us, p99 {p99:.0f} us")
    tmpl = float(c_rows["fork from template, library preloaded (bare baseline)"]["median_us"])
    tmpl_gap = float(c_rows["fork from template, library preloaded, 2 ms apart"]["median_us"])
    c_gap = float(c_rows["ohncp C API, 2 ms apart"]["median_us"])
    spawn = float(c_rows["posix_spawn dynamic launcher"]["median_us"])
    py = float(py_row["median_us"])
    fs = float(fs_row["median_us"])
    print(
        f"- C start / bare template baseline: {c_api / tmpl:.2f}x back to back, "
        f"{c_gap / tmpl_gap:.2f}x 2 ms apart (target <= 1.2x)"
    )
    print(f"- posix_spawn launcher / C start: {spawn / c_api:.1f}x faster (target >= 4x)")
    print(f"- ohncp.start / C start: {py / c_api:.2f}x (target <= 1.5x)")
    print(f"- forkserver / ohncp.start: {fs / py:.0f}x faster (target >= 50x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
