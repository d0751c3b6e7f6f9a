"""What every benchmark shares: the databases it runs on, timing, figures, the machine, and
the results file (JSON lines under benchmarks/results/)."""

from __future__ import annotations

import json
import os
import platform
import socket
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from institutions.seeds import SEEDS_DIR, load_seed
from institutions.store import SqlDirectory
from protocols.loader import LoadedProtocol
from protocols.registry import Registry
from ruta.db import make_engine
from workflows.domain.clocks import SimulatedClock
from workflows.domain.ports import Clock, Services
from workflows.store.protocols import SqlProtocolStore
from workflows.store.uow import SqlUnitOfWork
from workflows.store.vault import Vault, new_key

RESULTS_DIR = Path(__file__).parent / "results"
RESULTS_FILE = RESULTS_DIR / "runs.jsonl"
PG_ENV = "RUTA_BENCH_POSTGRES_URL"
NOW = datetime(2026, 3, 2, 14, tzinfo=UTC)  # the simulated instant every dataset is built for


def load() -> float:
    """The 1-minute load average (the machine is shared: every figure carries it)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


@dataclass(frozen=True, slots=True)
class Backend:
    """A database kind to run on: a SQLite file in a scratch directory, or a PostgreSQL
    database in which each dataset gets a schema of its own."""

    name: str  # "sqlite" or "postgresql"
    server_url: str | None = None  # PostgreSQL only

    def engine(self, place: str, scratch: Path) -> Engine:
        """An engine on `place`: a file name under `scratch`, or a schema (created here)."""
        if self.server_url is None:
            return make_engine(f"sqlite:///{scratch / place}.sqlite3")
        schema = place.replace("-", "_").lower()
        admin = make_engine(self.server_url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        admin.dispose()
        return make_engine(schema_url(self.server_url, schema))

    def drop(self, place: str) -> None:
        if self.server_url is None:
            return
        admin = make_engine(self.server_url)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{place.lower()}" CASCADE'))
        admin.dispose()


def schema_url(server_url: str, schema: str) -> str:
    """The URL of a PostgreSQL database with `schema` first on the search path."""
    url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def backends(postgres: bool = True) -> list[Backend]:
    """SQLite always; PostgreSQL when RUTA_BENCH_POSTGRES_URL is set (and not turned off)."""
    out = [Backend("sqlite")]
    url = os.environ.get(PG_ENV)
    if postgres and url:
        if not url.startswith("postgresql"):
            raise SystemExit(
                f"{PG_ENV} must be a PostgreSQL URL such as "
                f"postgresql+psycopg://postgres@127.0.0.1:5432/bench, not {url.split(':')[0]}:..."
            )
        out.append(Backend("postgresql", url))
    return out


# --- timing ----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (95th: `share=0.95`)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * share + 0.5) - 1))]


def timed_ms(fn: Callable[[], object]) -> tuple[float, float]:
    """Wall time and CPU time of this process for one call, in ms."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - start) * 1000, (time.process_time() - start_cpu) * 1000


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process, in ms. SQLite runs in this
    process, so on a busy machine its CPU time is the steadier figure."""
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


# --- figures and the results file --------------------------------------------------------


@dataclass(slots=True)
class Figure:
    """One measured number, with its floor and target when it has them."""

    benchmark: str  # fire, sweep, dispatch, console, memory
    backend: str
    name: str
    value: float
    unit: str
    size: int | None = None  # open tasks, cases or messages the run had
    cpu_ms: float | None = None  # CPU time of this process for the same run (SQLite runs
    # in it; on a shared machine this is the steadier figure)
    floor: float | None = None
    ratio: float | None = None  # value / floor
    target: str | None = None  # as written in the issue
    met: bool | None = None
    load: float = field(default_factory=load)
    extra: dict[str, Any] = field(default_factory=dict)


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_mb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_mb = int(line.split()[1]) // 1024
    except OSError:
        pass
    return {
        "host": socket.gethostname(),
        "os": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_mb": memory_mb,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
    }


def postgres_version(server_url: str) -> str:
    engine = make_engine(server_url)
    with engine.connect() as conn:
        version = str(conn.execute(text("SHOW server_version")).scalar())
    engine.dispose()
    return version


class Recorder:
    """Collects the figures of one `python -m benchmarks` run, prints them as tables and
    appends them as JSON lines (one per figure, each with the run id and the machine)."""

    def __init__(self, out: Any = None, results: Path | None = RESULTS_FILE) -> None:
        self.out = out or sys.stdout
        self.results = results
        self.run_id = uuid.uuid4().hex[:12]
        self.started = datetime.now(UTC)
        self.machine = machine()
        self.figures: list[Figure] = []

    def add(self, figures: list[Figure]) -> None:
        self.figures += figures
        self.table(figures)
        if self.results is not None:
            self.results.parent.mkdir(parents=True, exist_ok=True)
            with self.results.open("a", encoding="utf-8") as f:
                for fig in figures:
                    row: dict[str, Any] = {
                        "run": self.run_id,
                        "at": self.started.isoformat(timespec="seconds"),
                    }
                    row |= {k: v for k, v in asdict(fig).items() if v not in (None, {})}
                    row["machine"] = self.machine
                    f.write(json.dumps(row, sort_keys=False) + "\n")

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def table(self, figures: list[Figure]) -> None:
        if not figures:
            return
        rows = [
            (
                f.backend,
                f.name,
                f"{f.size:,}" if f.size is not None else "",
                _num(f.value, f.unit),
                _num(f.cpu_ms, "ms") if f.cpu_ms is not None else "",
                _num(f.floor, f.unit) if f.floor is not None else "",
                f"{f.ratio:.2f}x" if f.ratio is not None else "",
                (f.target or "") + ("" if f.met is None else ("  ok" if f.met else "  MISSED")),
                f"{f.load:.1f}",
            )
            for f in figures
        ]
        head = (
            "db",
            figures[0].benchmark,
            "size",
            "value",
            "cpu",
            "floor",
            "ratio",
            "target",
            "load",
        )
        widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
        for r in [head, *rows]:
            cells = [
                str(c).rjust(w) if i in (2, 3, 4, 5, 6, 8) else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            self.say("  " + "  ".join(cells).rstrip())
        self.say("")


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.1f} {unit}"


@contextmanager
def scratch_dir(base: Path | None = None) -> Iterator[Path]:
    """A scratch directory for SQLite files (removed afterwards)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ruta-bench-", dir=base) as tmp:
        yield Path(tmp)


COUNTRIES = ("CO", "PE", "EC")  # the protocols and directories the benchmarks draw from
SHARE = {"CO": 0.5, "PE": 0.3, "EC": 0.2}  # each country's share of the synthetic cases


def seed(engine: Engine) -> int:
    """Load the seed directory of the benchmark countries (institutions/seeds/<cc>.yaml)."""
    with engine.begin() as conn:
        found = [load_seed(SEEDS_DIR / f"{c.lower()}.yaml") for c in COUNTRIES]
        return SqlDirectory(conn).upsert([i for chunk in found for i in chunk])


# synthetic data only: the benchmarks seal nothing real, so a throwaway key does
VAULT = Vault.from_text([new_key()], "benchmark key")


def services(engine: Engine, registry: Registry, clock: Clock | None = None) -> Services:
    """The real services on `engine`, at the simulated instant NOW unless told otherwise."""
    return Services(lambda: SqlUnitOfWork(engine, VAULT), clock or SimulatedClock(NOW), registry)


def pin_and_index(
    engine: Engine, protocols: Iterable[LoadedProtocol]
) -> tuple[dict[tuple[str, str], list[str]], dict[str, list[str]]]:
    """Pin the protocols, then index the directory: (country, role) -> institution ids and
    country -> the jurisdictions institutions sit in (where synthetic cases are placed)."""
    by_role: dict[tuple[str, str], list[str]] = {}
    places: dict[str, list[str]] = {}
    with engine.begin() as conn:
        store = SqlProtocolStore(conn)
        for loaded in protocols:
            store.pin(loaded, NOW - timedelta(days=400))
        directory = SqlDirectory(conn)
        for country in SHARE:
            for inst in directory.institutions(country):
                places.setdefault(country, []).append(inst.jurisdiction)
                for role in inst.roles:
                    by_role.setdefault((country, role), []).append(inst.id)
    return by_role, places
