"""Generated datasets, built once and reused while their parameters match.

A SQLite dataset is a file in the cache directory (`RUTA_BENCH_CACHE`, default
`~/.cache/ruta-bench`); a PostgreSQL dataset is a schema `bench_<kind>_<size>` in the
database of `RUTA_BENCH_POSTGRES_URL`, with a `bench_meta` row naming its parameters. The key
covers the generator's version, the parameters, the newest migration and the protocol
files, so a changed schema or protocol builds the data again. A benchmark that changes the
data puts it back before it finishes; a run that dies in between leaves the dataset marked
dirty, and the next run builds it again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Table, text

from benchmarks.common import COUNTRIES, Backend, schema_url
from institutions.seeds import SEEDS_DIR
from protocols.registry import Registry
from ruta.db import MIGRATIONS, make_engine, upgrade

CACHE_ENV = "RUTA_BENCH_CACHE"
Build = Callable[[Engine], dict[str, int]]


def cache_dir() -> Path:
    path = Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ruta-bench")
    path.mkdir(parents=True, exist_ok=True)
    return path


def dataset_key(kind: str, size: int, params: dict[str, Any], registry: Registry) -> str:
    """What the data depends on: the parameters (with the protocol ids it draws from), the
    newest migration, those protocols' content and the seed directories loaded."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    ids = params.get("protocols") or registry.ids()
    protocols = [registry.latest_published(i).content_hash for i in ids]
    seeds = [_digest(SEEDS_DIR / f"{c.lower()}.yaml") for c in COUNTRIES]
    blob = json.dumps([kind, size, params, head, protocols, seeds], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(slots=True)
class Dataset:
    engine: Engine
    counts: dict[str, int]
    built_s: float | None  # seconds to build it, None when it came from the cache
    backend: Backend
    place: str  # file path or schema

    def describe(self) -> str:
        made = "cached" if self.built_s is None else f"built in {self.built_s:.0f} s"
        rows = ", ".join(f"{n:,} {t}" for t, n in self.counts.items())
        return f"{rows} ({made})"


def prepare(
    backend: Backend,
    kind: str,
    size: int,
    params: dict[str, Any],
    registry: Registry,
    build: Build,
    say: Callable[[str], None] = lambda _: None,
) -> Dataset:
    """The dataset `kind` of `size` on `backend`, from the cache or built now by `build`
    (which fills a freshly migrated database and returns its row counts)."""
    key = dataset_key(kind, size, params, registry)
    if backend.server_url is None:
        return _sqlite(backend, kind, size, key, build, say)
    return _postgres(backend, kind, size, key, build, say)


def _sqlite(
    backend: Backend, kind: str, size: int, key: str, build: Build, say: Callable[[str], None]
) -> Dataset:
    directory = cache_dir()
    path = directory / f"{kind}-{size}-{key}.sqlite3"
    meta, dirty = path.with_suffix(".json"), path.with_suffix(".dirty")
    if path.exists() and meta.exists() and not dirty.exists():
        counts = json.loads(meta.read_text())
        return Dataset(make_engine(f"sqlite:///{path}"), counts, None, backend, str(path))
    for old in directory.glob(f"{kind}-{size}-*"):  # an older key, or a dirty copy
        old.unlink()
    say(f"  building {kind} data, size {size:,}, on SQLite ({path.name}) ...")
    building = path.with_suffix(".building")
    engine = make_engine(f"sqlite:///{building}")
    start = time.perf_counter()
    try:
        upgrade(engine)
        counts = build(engine)
    except BaseException:
        building.unlink(missing_ok=True)  # no half-built file left behind
        raise
    finally:
        engine.dispose()
    built = time.perf_counter() - start
    building.rename(path)
    meta.write_text(json.dumps(counts))
    return Dataset(make_engine(f"sqlite:///{path}"), counts, built, backend, str(path))


def _postgres(
    backend: Backend, kind: str, size: int, key: str, build: Build, say: Callable[[str], None]
) -> Dataset:
    assert backend.server_url is not None
    schema = f"bench_{kind}_{size}"
    engine = make_engine(schema_url(backend.server_url, schema))
    with engine.connect() as conn:
        row = None
        if _has_meta(conn, schema):
            row = conn.execute(text("SELECT key, state, counts FROM bench_meta")).first()
    if row is not None and row[0] == key and row[1] == "ready":
        return Dataset(engine, json.loads(row[2]), None, backend, schema)
    engine.dispose()
    say(f"  building {kind} data, size {size:,}, on PostgreSQL (schema {schema}) ...")
    backend.drop(schema)
    engine = backend.engine(schema, Path())
    start = time.perf_counter()
    upgrade(engine)
    counts = build(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_meta (key text, state text, counts text)"))
        conn.execute(
            text("INSERT INTO bench_meta VALUES (:k, 'ready', :c)"),
            {"k": key, "c": json.dumps(counts)},
        )
    # what autovacuum does in production after a while: statistics, and the visibility map
    # that lets index-only scans skip the table
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return Dataset(engine, counts, time.perf_counter() - start, backend, schema)


def _has_meta(conn: Any, schema: str) -> bool:
    found = conn.execute(
        text(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = :s AND table_name = 'bench_meta'"
        ),
        {"s": schema},
    ).first()
    return found is not None


@contextmanager
def changing(ds: Dataset) -> Iterator[None]:
    """Mark the dataset dirty while a benchmark changes it; clean again once it has put
    everything back (an exception leaves it dirty, so the next run builds it anew)."""
    _mark(ds, "dirty")
    yield
    _mark(ds, "ready")


def _mark(ds: Dataset, state: str) -> None:
    if ds.backend.server_url is None:
        dirty = Path(ds.place).with_suffix(".dirty")
        if state == "dirty":
            dirty.touch()
        else:
            dirty.unlink(missing_ok=True)
        return
    with ds.engine.begin() as conn:
        conn.execute(text("UPDATE bench_meta SET state = :s"), {"s": state})


@contextmanager
def indexes_after(engine: Engine, tables: Iterable[Table]) -> Iterator[None]:
    """Drop the tables' secondary indexes for a bulk load and build them again after it
    (a sorted build is faster than a million random inserts into seven indexes); the schema
    ends exactly as the migrations made it."""
    dropped = [i for t in tables for i in sorted(t.indexes, key=lambda i: str(i.name))]
    with engine.begin() as conn:
        for index in dropped:
            index.drop(conn)
    yield
    with engine.begin() as conn:
        for index in dropped:
            index.create(conn)


def fresh(backend: Backend, place: str, scratch: Path) -> Engine:
    """An empty, migrated database for a benchmark that builds its own small data."""
    backend.drop(place)
    engine = backend.engine(place, scratch)
    upgrade(engine)
    return engine
