"""`python -m benchmarks [fire sweep dispatch console memory peer] [options]` (and `make bench`).

Runs each benchmark on SQLite, and on PostgreSQL when RUTA_BENCH_POSTGRES_URL is set; prints
each as a table, with its floor, ratio and target; appends every figure as a JSON line, with
the machine's description and the load average, to benchmarks/results/runs.jsonl.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from benchmarks import console, dispatch, fire, memory, peer, sweep, sweep_data
from benchmarks.common import (
    PG_ENV,
    RESULTS_FILE,
    Recorder,
    backends,
    load,
    postgres_version,
    scratch_dir,
)
from benchmarks.datasets import CACHE_ENV, cache_dir
from protocols.registry import Registry

ALL = ("fire", "sweep", "dispatch", "console", "memory", "peer")


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s.replace("_", "").replace("k", "000").replace("M", "000000"))
                      for s in text.split(","))  # fmt: skip
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a list of sizes; write e.g. 10000,100000,1000000 or 10k,100k,1M"
        ) from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive numbers, got {text!r}")
    return sizes


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure Ruta against its floors (see benchmarks/README.md).",
    )
    p.add_argument(
        "only", nargs="*", metavar="BENCHMARK", help=f"any of {', '.join(ALL)} (default: all)"
    )
    p.add_argument(
        "--sweep-sizes",
        type=_sizes,
        default=sweep.SIZES,
        metavar="N,N,...",
        help="open tasks per sweep dataset (default 10k,100k,1M)",
    )
    p.add_argument(
        "--console-sizes",
        type=_sizes,
        default=console.SIZES,
        metavar="N,N,...",
        help="cases per console dataset (default 10k,100k)",
    )
    p.add_argument("--fire-runs", type=int, default=200, help="cases fired (default 200)")
    p.add_argument(
        "--peer-runs",
        type=int,
        default=200,
        help="Spiff advances, each against a Ruta fire (default 200)",
    )
    p.add_argument("--sweep-runs", type=int, default=3, help="timed passes per size (default 3)")
    p.add_argument("--messages", type=int, default=1000, help="messages dispatched (default 1000)")
    p.add_argument("--console-runs", type=int, default=5, help="runs per query (default 5)")
    p.add_argument("--no-pages", action="store_true", help="skip the Streamlit page timings")
    p.add_argument(
        "--quick",
        action="store_true",
        help="small sizes, to check the suite runs (figures are not comparable)",
    )
    p.add_argument(
        "--db",
        choices=("sqlite", "postgresql"),
        action="append",
        help=f"run on this database only (default: SQLite, and PostgreSQL when {PG_ENV} is set)",
    )
    p.add_argument("--no-save", action="store_true", help=f"do not append to {RESULTS_FILE}")
    args = p.parse_args(argv)  # fmt: skip
    unknown = sorted(set(args.only) - set(ALL))
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")
    least = sweep_data.DUE * sweep_data.TASKS_PER_CASE
    if min(args.sweep_sizes) < least:
        p.error(
            f"--sweep-sizes: each dataset needs at least {least:,} open tasks "
            f"({sweep_data.DUE:,} due, in distinct cases of {sweep_data.TASKS_PER_CASE})"
        )
    if args.quick:
        args.sweep_sizes, args.console_sizes = (5_000, 10_000), (1_000,)
        args.fire_runs, args.sweep_runs, args.messages, args.console_runs = 30, 1, 100, 1
        args.peer_runs = 30
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    chosen = args.only or list(ALL)
    dbs = [b for b in backends() if args.db is None or b.name in args.db]
    if args.db and "postgresql" in args.db and not any(b.server_url for b in dbs):
        raise SystemExit(
            f"--db postgresql needs {PG_ENV}, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/bench"
        )
    registry = Registry.scan()
    rec = Recorder(results=None if args.no_save else RESULTS_FILE)
    m = rec.machine
    rec.say(
        f"Ruta benchmarks, run {rec.run_id}: {m['cpus']} x {m['cpu']}, {m['memory_mb']:,} MB, "
        f"Python {m['python']}, SQLite {m['sqlite']}; load average {load():.1f}"
    )
    for b in dbs:
        if b.server_url is not None:
            m["postgresql"] = postgres_version(b.server_url)
            rec.say(f"PostgreSQL {m['postgresql']} ({PG_ENV})")
    if os.environ.get(PG_ENV) is None:
        rec.say(f"PostgreSQL: skipped ({PG_ENV} is not set)")
    rec.say(f"Datasets cached in {cache_dir()} ({CACHE_ENV}); results: "
            f"{'not saved' if args.no_save else RESULTS_FILE}\n")  # fmt: skip
    started = time.perf_counter()
    with scratch_dir() as scratch:
        for b in dbs:
            if "fire" in chosen:
                rec.say(f"[fire on {b.name}] one step on one case vs. the same rows by plain Core")
                rec.add(fire.run(b, registry, scratch, args.fire_runs))
            if "peer" in chosen:
                rec.say(f"[peer on {b.name}] the same step in SpiffWorkflow, alternating with fire")
                rec.add(peer.run(b, registry, scratch, args.peer_runs))
            if "sweep" in chosen:
                rec.say(f"[sweep on {b.name}] one pass, the same 1,000 due, more and more open")
                rec.add(
                    sweep.run(b, registry, args.sweep_sizes, args.sweep_runs,
                              worker_memory="memory" in chosen, say=rec.say)
                )  # fmt: skip
            elif "memory" in chosen:
                rec.say(f"[memory on {b.name}] a worker sweeping the largest dataset")
                size = max(args.sweep_sizes)
                ds = sweep.dataset(b, registry, size, sweep_data.DUE, rec.say)
                rec.say(f"  sweep data, {size:,} open tasks: {ds.describe()}")
                rec.add([memory.measure(ds, rec.say)])
                ds.engine.dispose()
            if "dispatch" in chosen:
                rec.say(f"[dispatch on {b.name}] through the SendGrid sender to a local fake")
                rec.add(dispatch.run(b, registry, scratch, args.messages))
            if "console" in chosen:
                rec.say(f"[console on {b.name}] case list and compliance reads")
                rec.add(
                    console.run(b, registry, args.console_sizes, args.console_runs,
                                pages=not args.no_pages, say=rec.say)
                )  # fmt: skip
    missed = [f for f in rec.figures if f.met is False]
    rec.say(f"{len(rec.figures)} figures in {time.perf_counter() - started:.0f} s; "
            f"load average now {load():.1f}; targets missed: {len(missed)}")  # fmt: skip
    for f in missed:
        rec.say(f"  MISSED {f.backend} {f.benchmark}: {f.name} = {f.value:,.2f} {f.unit} "
                f"(target {f.target})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
