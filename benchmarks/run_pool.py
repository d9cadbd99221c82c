"""Process pools side by side: ohncp's, the standard one's start methods, loky.

ohncp.ProcessPoolExecutor, concurrent.futures.ProcessPoolExecutor with
fork, forkserver and spawn, and loky (if installed), 2 workers each.

    .venv/bin/python benchmarks/run_pool.py [--quick]

- cold: from creating the pool in a fresh interpreter (its imports done)
  until 2 different workers have each returned a trivial task (tasks are
  submitted two at a time until two pids have answered); one fresh
  interpreter per sample, so forkserver pays for its server as a first
  pool does. The task is a function of this script (so workers import it
  as ``__mp_main__``), or ``os.getpid`` ("task from a module": spawn and
  forkserver workers import this script all the same, ohncp's do not);
- warm round trip: ``submit(f).result()`` of a trivial task on a pool whose
  workers run, one at a time;
- throughput: 10,000 trivial tasks submitted at once, until all are done;
- 1 MB: a 1 MiB ``bytes`` argument returned as the result, one at a time.

Ways take turns within each measurement, so a noisy neighbour costs them
alike. Prints a Markdown table of medians, each also as a multiple of the
``fork`` pool's. Not a test: the targets (warm and throughput within 1.2x
of fork, cold faster than forkserver and 2x faster than spawn) are read
off the table.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

WORKERS = 2


def trivial() -> int:
    """The trivial task: its worker's pid."""
    return os.getpid()


def echo(data: bytes) -> bytes:
    """The 1 MiB task."""
    return data


def memory() -> tuple[int, int]:
    """The worker's (Rss, Pss) in KiB, after its first tasks."""
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if parts[0] in ("Rss:", "Pss:"):
                fields[parts[0]] = int(parts[1])
    return fields["Rss:"], fields["Pss:"]


def make_pool(way: str) -> concurrent.futures.Executor:
    """A pool of WORKERS workers of ``way``."""
    if way == "ohncp":
        import ohncp  # noqa: PLC0415 - each way imports only its own pool

        return ohncp.ProcessPoolExecutor(WORKERS)
    if way == "loky":
        import loky  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: PLC0415

        pool: concurrent.futures.Executor = loky.ProcessPoolExecutor(WORKERS)
        return pool
    return concurrent.futures.ProcessPoolExecutor(WORKERS, mp_context=mp.get_context(way))


def ways() -> list[str]:
    """The ways to compare (loky if it imports)."""
    found = ["ohncp", "fork", "forkserver", "spawn"]
    try:
        import loky  # type: ignore[import-not-found, import-untyped, unused-ignore]  # noqa: F401, PLC0415
    except ImportError:
        pass
    else:
        found.append("loky")
    return found


def cold_once(way: str, task: Callable[[], int]) -> float:
    """Seconds until two workers of a new pool have each answered ``task``."""
    make_pool(way).shutdown()  # imports done; then a fresh pool is timed below
    start = time.perf_counter()
    pool = make_pool(way)
    pids: set[int] = set()
    while len(pids) < WORKERS:
        pids.update(f.result() for f in [pool.submit(task) for _ in range(WORKERS)])
    elapsed = time.perf_counter() - start
    pool.shutdown()
    return elapsed


def cold(way: str, task: str = "main") -> float:
    """cold_once in a fresh interpreter; ``task`` "main" (trivial) or "module" (os.getpid)."""
    out = subprocess.run(
        [sys.executable, __file__, "--cold-one", f"{way},{task}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return float(out.split()[-1])


def warm_trip(pool: concurrent.futures.Executor) -> float:
    """Seconds of one trivial round trip."""
    start = time.perf_counter()
    pool.submit(trivial).result()
    return time.perf_counter() - start


def throughput(pool: concurrent.futures.Executor, n: int) -> float:
    """Seconds for ``n`` trivial tasks submitted at once."""
    start = time.perf_counter()
    for future in [pool.submit(trivial) for _ in range(n)]:
        future.result()
    return time.perf_counter() - start


def big_trip(pool: concurrent.futures.Executor, data: bytes) -> float:
    """Seconds of one round trip of ``data``."""
    start = time.perf_counter()
    assert len(pool.submit(echo, data).result()) == len(data)
    return time.perf_counter() - start


def turns(names: list[str], samples: int, one: Callable[[str], float]) -> dict[str, float]:
    """Median of ``samples`` of ``one(name)``, the names taking turns."""
    got: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(samples):
        for name in names:
            got[name].append(one(name))
    return {name: statistics.median(values) for name, values in got.items()}


def fmt(seconds: float) -> str:
    """Seconds in a readable unit."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} us"


def main() -> int:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few samples of each")
    ap.add_argument("--cold-one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cold_one:
        way, task = args.cold_one.split(",")
        print(cold_once(way, trivial if task == "main" else os.getpid))
        return 0
    names = ways()
    n_cold, n_warm, n_tasks, n_big = (3, 200, 2000, 10) if args.quick else (10, 2000, 10000, 50)
    results: dict[str, dict[str, float]] = {}
    results["cold: 2 workers answered"] = turns(names, n_cold, cold)
    results["cold, task from a module"] = turns(names, n_cold, lambda n: cold(n, "module"))
    pools = {name: make_pool(name) for name in names}
    try:
        for pool in pools.values():
            throughput(pool, 200)  # workers up, caches warm
        results["warm round trip"] = turns(names, n_warm, lambda n: warm_trip(pools[n]))
        results[f"{n_tasks:,} tasks"] = turns(names, 3, lambda n: throughput(pools[n], n_tasks))
        data = os.urandom(1 << 20)
        results["1 MiB arg + result"] = turns(names, n_big, lambda n: big_trip(pools[n], data))
        memories = {name: pools[name].submit(memory).result() for name in names}
    finally:
        for pool in pools.values():
            pool.shutdown()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {WORKERS} workers; medians\n")
    print("| | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for what, row in results.items():
        base = row["fork"]
        cells = [f"{fmt(row[n])} ({row[n] / base:.2f}x)" for n in names]
        print(f"| {what} | " + " | ".join(cells) + " |")
    tasks = results[f"{n_tasks:,} tasks"]
    print("\ntasks/s: " + ", ".join(f"{n} {n_tasks / tasks[n]:,.0f}" for n in names))
    print(
        "worker memory (Rss/Pss): "
        + ", ".join(f"{n} {r / 1024:.1f}/{p / 1024:.1f} MiB" for n, (r, p) in memories.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
