"""The benchmark scripts keep running as the code changes (no timing is asserted here)."""

from __future__ import annotations

from benchmarks import console, fire


def test_fire_benchmark_runs(capsys):
    fire.main(runs=3)
    assert "fire admit_immediate" in capsys.readouterr().out


def test_console_benchmark_runs(capsys):
    console.main(cases=200, runs=1, pages=False)
    assert "compliance report" in capsys.readouterr().out
