"""The benchmark code keeps running as the code changes (tiny sizes; no timing is asserted)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from benchmarks import console, dispatch, fire, memory, peer, sweep
from benchmarks.__main__ import parse
from benchmarks.common import NOW, Backend, Figure, Recorder
from protocols.loader import load_file
from protocols.registry import COUNTRIES_DIR, Registry
from workflows.store import tables


@pytest.fixture(scope="module")
def registry() -> Registry:
    """The three protocols the benchmarks draw from (scanning every file takes seconds)."""
    return Registry([load_file(COUNTRIES_DIR / f"{c}-trata.yaml") for c in ("co", "pe", "ec")])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, monkeypatch, tmp_path) -> Backend:
    monkeypatch.setenv("RUTA_BENCH_CACHE", str(tmp_path / "cache"))
    if request.param == "sqlite":
        return Backend("sqlite")
    return Backend("postgresql", request.getfixturevalue("pg_server_url"))


def _counts(engine) -> dict[str, object]:
    with engine.connect() as conn:
        due = select(func.count()).where(tables.tasks.c.next_action_at <= NOW)
        return {
            "events": conn.execute(select(func.count()).select_from(tables.events)).scalar(),
            "outbox": conn.execute(select(func.count()).select_from(tables.outbox)).scalar(),
            "due": conn.execute(due).scalar(),
            "head": conn.execute(select(tables.audit_head.c.hash)).scalar(),
        }


def test_sweep_benchmark_runs_and_puts_the_data_back(backend, registry, tmp_path):
    figures = sweep.run(
        backend, registry, sizes=(100, 200), runs=1, floor_runs=1, due=10, worker_memory=False
    )
    passes = [f for f in figures if f.name.startswith("sweep pass")]
    assert [f.size for f in passes] == [100, 200]
    assert all(f.extra["runs"] and f.floor for f in passes)
    assert "10 rungs due in 10 cases" in passes[0].name
    assert figures[-1].name.startswith("flatness")
    assert figures[-1].target == "<= 1.5x"
    again = sweep.dataset(backend, registry, 200, 10, lambda _: None)  # from the cache
    assert again.built_s is None
    counts = _counts(again.engine)
    assert counts["due"] == 10
    assert counts["outbox"] == 0
    again.engine.dispose()


def test_memory_worker_reports_its_peak(registry, tmp_path, monkeypatch):
    """In this process, without Prefect (the benchmark starts a fresh process that imports
    it, as `ruta worker` does: seconds)."""
    monkeypatch.setenv("RUTA_BENCH_CACHE", str(tmp_path))
    ds = sweep.dataset(Backend("sqlite"), registry, 100, 10, lambda _: None)
    got = memory.worker(ds.engine.url.render_as_string(), registry, prefect=False)
    assert got["handled"] == 10
    assert got["peak_mb"] >= got["before_mb"] > 0
    ds.engine.dispose()


def test_fire_benchmark_measures_against_its_floor(registry, tmp_path):
    figures = fire.run(Backend("sqlite"), registry, tmp_path, runs=3)
    median = figures[0]
    assert median.floor
    assert median.ratio
    assert median.target == "<= 3x floor"
    written = median.extra["rows_written"]
    assert written["events inserted"] > 0
    assert written["cases updated"] == 1


def test_peer_benchmark_times_spiff_against_the_fire(backend, registry, tmp_path):
    figures = peer.run(backend, registry, tmp_path, runs=3)
    spiff, ratio, stored = figures[0], figures[2], figures[4]
    assert spiff.extra["ready"] == ["immediate_assistance_plan", "legal_orientation"]
    assert len(spiff.extra["timers"]) == 3  # two due times and the state's deadline
    assert ratio.floor == spiff.value
    assert ratio.target == "<= 1.0x peer"
    assert 0 < stored.extra["spec_bytes"] < stored.extra["bytes"]
    assert parse(["peer", "--quick"]).peer_runs == 30


def test_dispatch_benchmark_sends_through_the_fake_sendgrid(registry, tmp_path):
    figures = dispatch.run(Backend("sqlite"), registry, tmp_path, messages=5)
    whole = figures[0]
    assert whole.extra["dead"] == 0
    assert whole.extra["sent"] == whole.size
    assert all(f.value > 0 and f.unit == "msg/s" for f in figures)


def test_console_benchmark_runs(backend, registry):
    figures = console.run(backend, registry, sizes=(30,), runs=1, pages=False)
    names = [f.name for f in figures]
    assert "case list, page 1 (CO)" in names
    assert "compliance report, all figures" in names


def test_console_main_prints_a_table(registry, capsys):
    console.main(cases=40, runs=1, pages=False, registry=registry)
    assert "compliance report" in capsys.readouterr().out


def test_figures_are_printed_and_appended_with_the_machine(tmp_path, capsys):
    results = tmp_path / "runs.jsonl"
    rec = Recorder(results=results)
    rec.add([Figure("fire", "sqlite", "fire", 6.0, "ms", floor=3.0, ratio=2.0, met=True)])
    rec.add([Figure("memory", "sqlite", "peak", 120.0, "MB", target="< 300 MB", met=True)])
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert [row["benchmark"] for row in lines] == ["fire", "memory"]
    assert {"cpu", "cpus", "python", "sqlite"} <= set(lines[0]["machine"])
    assert "load" in lines[0]
    assert lines[0]["run"] == lines[1]["run"]
    assert "< 300 MB  ok" in capsys.readouterr().out


def test_bad_arguments_name_what_is_allowed(capsys):
    with pytest.raises(SystemExit):
        parse(["sweeps"])
    assert "choose from fire, sweep, dispatch, console, memory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--sweep-sizes", "ten"])
    assert "write e.g. 10000,100000,1000000" in capsys.readouterr().err
    assert parse(["sweep", "--sweep-sizes", "10k,1M"]).sweep_sizes == (10_000, 1_000_000)
